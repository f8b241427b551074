/**
 * Build handlers: StartBuild (the project with StartBuild's overrides becomes the build's
 * settings), StopBuild, RetryBuild, BatchGetBuilds, ListBuilds, ListBuildsForProject,
 * BatchDeleteBuilds. The run itself is runner.ts's.
 */
import { randomUUID } from 'node:crypto';
import { arn, isForeignArn, parseArn, type Scope } from '../../core/arn.js';
import { batchGet } from '../../core/batchGet.js';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Caller } from '../../gateway/context.js';
import type { BuildArtifacts, CodebuildHandlers, EnvironmentVariable, ProjectArtifacts, StartBuildInput } from './api.generated.js';
import { artifactLocation, artifactTarget } from './build/artifacts.js';
import { badToken, checkArtifacts, checkSource, checkVariables, invalidInput } from './projects.js';
import type { BuildPrivate, BuildRunner } from './build/runner.js';
import type { BuildDoc, CodebuildStore, ProjectDoc } from './store.js';

const buildNotFound = (id: string) => new AwsError('ResourceNotFoundException', `Build not found: ${id}`, 400);
/** "project:uuid" from an id or a build ARN; '' (no such build) for another account's or region's ARN. */
const buildId = (idOrArn: string, scope: Scope) => {
  if (isForeignArn(idOrArn, scope)) return '';
  const arn = idOrArn.startsWith('arn:') ? parseArn(idOrArn) : undefined;
  return arn?.resource.startsWith('build/') ? arn.resource.slice('build/'.length) : idOrArn;
};

/** What the caller is called in a build's `initiator`. */
function initiatorOf(caller: Caller, pipeline?: string) {
  if (pipeline) return `codepipeline/${pipeline}`;
  const resource = caller.arn.split(':').slice(5).join(':');
  if (resource === 'root') return 'root';
  return resource.replace(/^(user|assumed-role)\//, '');
}

export interface StartContext extends Scope {
  caller: Caller;
  now: number;
  pipeline?: BuildPrivate['pipeline'];
}

/** Makes the build document from the project and StartBuild's input, saves it and starts the run. */
export function startBuild(store: CodebuildStore, runner: BuildRunner, input: StartBuildInput, ctx: StartContext): BuildDoc {
  const project: ProjectDoc = store.requireProject(ctx, input.projectName);
  const source = { ...project.source };
  if (input.sourceTypeOverride) source.type = input.sourceTypeOverride;
  if (input.sourceLocationOverride !== undefined) source.location = input.sourceLocationOverride;
  if (input.buildspecOverride !== undefined) source.buildspec = input.buildspecOverride;
  if (input.gitCloneDepthOverride !== undefined) source.gitCloneDepth = input.gitCloneDepthOverride;
  if (input.insecureSslOverride !== undefined) source.insecureSsl = input.insecureSslOverride;
  checkSource(source, 'source');
  const secondarySources = input.secondarySourcesOverride ?? project.secondarySources ?? [];
  secondarySources.forEach((s, i) => checkSource(s, `secondarySourcesOverride.${i + 1}.member`, true));
  const artifacts = input.artifactsOverride ?? project.artifacts;
  checkArtifacts(artifacts, 'artifactsOverride');
  const secondaryArtifacts = input.secondaryArtifactsOverride ?? project.secondaryArtifacts ?? [];
  secondaryArtifacts.forEach((a, i) => checkArtifacts(a, `secondaryArtifactsOverride.${i + 1}.member`, true));
  if (source.type === 'CODEPIPELINE' && !ctx.pipeline)
    throw invalidInput(
      'Builds of a project whose source type is CODEPIPELINE can only be started by CodePipeline; override the source type to start one directly',
    );
  const overrides = input.environmentVariablesOverride ?? [];
  checkVariables(overrides, 'environmentVariablesOverride');
  const variables = new Map<string, EnvironmentVariable>((project.environment.environmentVariables ?? []).map((v) => [v.name, v]));
  for (const v of overrides) variables.set(v.name, { type: 'PLAINTEXT', ...v });
  const timeout = input.timeoutInMinutesOverride ?? project.timeoutInMinutes;
  if (timeout < 5 || timeout > 2160) throw invalidInput('Build timeout must be between 5 and 2160 minutes');
  const queued = input.queuedTimeoutInMinutesOverride ?? project.queuedTimeoutInMinutes;
  if (queued < 5 || queued > 480) throw invalidInput('Queued timeout must be between 5 and 480 minutes');

  const uuid = randomUUID();
  const id = `${project.name}:${uuid}`;
  const logsConfig = input.logsConfigOverride ?? project.logsConfig;
  const groupName = logsConfig?.cloudWatchLogs?.groupName ?? `/aws/codebuild/${project.name}`;
  const streamName = logsConfig?.cloudWatchLogs?.streamName ? `${logsConfig.cloudWatchLogs.streamName}/${uuid}` : uuid;
  const cwStatus = logsConfig?.cloudWatchLogs?.status ?? 'ENABLED';
  const buildArtifact = (a: ProjectArtifacts): BuildArtifacts =>
    a.type === 'S3'
      ? { location: artifactLocation(artifactTarget(a, uuid, project.name)) }
      : a.type === 'CODEPIPELINE' && ctx.pipeline?.outputArtifacts[0]
        ? { location: `arn:aws:s3:::${ctx.pipeline.outputArtifacts[0].bucket}/${ctx.pipeline.outputArtifacts[0].key}` }
        : { location: '' };
  const tags = project.tags ?? [];
  const backendTag = tags.find((t) => t.key === 'opsbox:backend')?.value;
  const priv: BuildPrivate = {
    input,
    concurrentBuildLimit: project.concurrentBuildLimit,
    artifacts,
    secondaryArtifacts,
    backend: backendTag === 'host' || backendTag === 'container' ? backendTag : undefined,
    pipeline: ctx.pipeline,
  };
  const doc: BuildDoc = {
    id,
    arn: arn('codebuild', ctx, `build/${id}`),
    buildNumber: store.nextBuildNumber(ctx, project.name),
    startTime: ctx.now,
    currentPhase: 'SUBMITTED',
    buildStatus: 'IN_PROGRESS',
    // a pipeline's build is of its primary input artifact, as AWS reports it
    ...(ctx.pipeline?.inputArtifacts[0]
      ? { sourceVersion: `arn:aws:s3:::${ctx.pipeline.inputArtifacts[0].bucket}/${ctx.pipeline.inputArtifacts[0].key}` }
      : (input.sourceVersion ?? project.sourceVersion) !== undefined && { sourceVersion: input.sourceVersion ?? project.sourceVersion }),
    projectName: project.name,
    phases: [{ phaseType: 'SUBMITTED', phaseStatus: 'SUCCEEDED', startTime: ctx.now, endTime: ctx.now, durationInSeconds: 0 }],
    source,
    secondarySources,
    secondarySourceVersions: input.secondarySourcesVersionOverride ?? project.secondarySourceVersions ?? [],
    artifacts: {
      ...buildArtifact(artifacts),
      ...(artifacts.overrideArtifactName !== undefined && { overrideArtifactName: artifacts.overrideArtifactName }),
    },
    secondaryArtifacts: secondaryArtifacts.map((a) => ({ ...buildArtifact(a), artifactIdentifier: a.artifactIdentifier })),
    cache: input.cacheOverride ?? project.cache,
    environment: {
      ...project.environment,
      ...(input.environmentTypeOverride && { type: input.environmentTypeOverride }),
      ...(input.imageOverride && { image: input.imageOverride }),
      ...(input.computeTypeOverride && { computeType: input.computeTypeOverride }),
      ...(input.privilegedModeOverride !== undefined && { privilegedMode: input.privilegedModeOverride }),
      environmentVariables: [...variables.values()],
    },
    serviceRole: input.serviceRoleOverride ?? project.serviceRole,
    logs: {
      groupName,
      streamName,
      deepLink: `https://console.aws.amazon.com/cloudwatch/home?region=${ctx.region}#logsV2:log-groups/log-group/${encodeURIComponent(groupName)}/log-events/${encodeURIComponent(streamName)}`,
      cloudWatchLogsArn: arn('logs', ctx, `log-group:${groupName}:log-stream:${streamName}`),
      cloudWatchLogs: {
        status: cwStatus,
        ...(logsConfig?.cloudWatchLogs?.groupName && { groupName }),
        ...(logsConfig?.cloudWatchLogs?.streamName && { streamName: logsConfig.cloudWatchLogs.streamName }),
      },
      s3Logs: logsConfig?.s3Logs ?? { status: 'DISABLED', encryptionDisabled: false },
    },
    timeoutInMinutes: timeout,
    queuedTimeoutInMinutes: queued,
    buildComplete: false,
    initiator: initiatorOf(ctx.caller, ctx.pipeline?.pipelineName),
    encryptionKey: input.encryptionKeyOverride ?? project.encryptionKey,
    opsbox: priv,
  };
  store.insertBuild(ctx, doc);
  runner.start(ctx, doc);
  return doc;
}

/** The build as the API returns it, without opsbox's private fields. */
export function publicBuild(doc: BuildDoc) {
  const { opsbox: _private, ...rest } = doc;
  return { ...rest, phases: doc.phases.map(({ pendingContext: _pending, ...p }) => p) };
}

const page = (ids: string[], token: string | undefined) => {
  const p = pageByOffset(ids, token, 100, badToken);
  return { ids: p.items, nextToken: p.nextToken };
};

/** StartBuild idempotency: AWS returns the same build for a repeated token within 5 minutes. */
const IDEMPOTENCY_MS = 5 * 60_000;

export function buildHandlers(store: CodebuildStore, runner: BuildRunner): CodebuildHandlers {
  const tokens = new Map<string, { id: string; at: number; input: string }>();
  const requireBuild = (scope: Scope, idOrArn: string) =>
    store.build(scope, buildId(idOrArn, scope)) ??
    (() => {
      throw buildNotFound(idOrArn);
    })();
  return {
    StartBuild(input, ctx) {
      const pipeline = ctx.internal?.codepipeline as StartContext['pipeline'];
      const now = ctx.clock.now();
      const tokenKey = input.idempotencyToken && `${ctx.account}/${ctx.region}/${input.idempotencyToken}`;
      if (tokenKey) {
        for (const [k, t] of tokens) if (now - t.at > IDEMPOTENCY_MS) tokens.delete(k);
        const seen = tokens.get(tokenKey);
        if (seen) {
          if (seen.input !== JSON.stringify(input))
            throw invalidInput('The idempotency token was used with a different request within the last 5 minutes');
          return { build: publicBuild(store.build(ctx, seen.id)!) };
        }
      }
      const doc = startBuild(store, runner, input, { account: ctx.account, region: ctx.region, caller: ctx.caller, now, pipeline });
      if (tokenKey) tokens.set(tokenKey, { id: doc.id, at: now, input: JSON.stringify(input) });
      return { build: publicBuild(doc) };
    },

    async StopBuild(input, ctx) {
      const doc = requireBuild(ctx, input.id);
      if (doc.buildStatus === 'IN_PROGRESS') await runner.stop(doc.id);
      return { build: publicBuild(store.build(ctx, doc.id)!) };
    },

    RetryBuild(input, ctx) {
      if (!input.id) throw invalidInput('Build id must be specified');
      const old = requireBuild(ctx, input.id);
      if (old.buildStatus === 'IN_PROGRESS') throw invalidInput(`Build ${old.id} is in progress; only completed builds can be retried`);
      const priv = old.opsbox;
      const doc = startBuild(
        store,
        runner,
        { ...priv.input, projectName: old.projectName },
        { account: ctx.account, region: ctx.region, caller: ctx.caller, now: ctx.clock.now(), pipeline: priv.pipeline },
      );
      return { build: publicBuild(doc) };
    },

    BatchGetBuilds(input, ctx) {
      if (input.ids.length === 0 || input.ids.length > 100) throw invalidInput('Number of build ids must be between 1 and 100');
      const { found, notFound } = batchGet(new Set(input.ids), (id) => {
        const doc = store.build(ctx, buildId(id, ctx));
        return doc && publicBuild(doc);
      });
      return { builds: found, buildsNotFound: notFound };
    },

    ListBuilds(input, ctx) {
      const p = page(store.buildIds(ctx, input.sortOrder === 'ASCENDING'), input.nextToken);
      return { ids: p.ids, nextToken: p.nextToken };
    },

    ListBuildsForProject(input, ctx) {
      store.requireProject(ctx, input.projectName);
      const p = page(store.buildIds(ctx, input.sortOrder === 'ASCENDING', input.projectName), input.nextToken);
      return { ids: p.ids, nextToken: p.nextToken };
    },

    BatchDeleteBuilds(input, ctx) {
      if (input.ids.length === 0 || input.ids.length > 100) throw invalidInput('Number of build ids must be between 1 and 100');
      const buildsDeleted: string[] = [];
      const buildsNotDeleted: { id: string; statusCode: string }[] = [];
      for (const id of input.ids) {
        const doc = store.build(ctx, buildId(id, ctx));
        if (!doc) buildsNotDeleted.push({ id, statusCode: 'BUILD_NOT_FOUND' });
        else if (doc.buildStatus === 'IN_PROGRESS') buildsNotDeleted.push({ id, statusCode: 'BUILD_IN_PROGRESS' });
        else {
          store.deleteBuild(ctx, doc.id);
          buildsDeleted.push(id);
        }
      }
      return { buildsDeleted, buildsNotDeleted };
    },
  };
}
