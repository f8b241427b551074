/**
 * What starts a pipeline besides StartPipelineExecution:
 *  - a push to a CodeCommit source's branch ("CodeCommit Repository State Change" on the bus) when
 *    the action polls (PollForSourceChanges not "false"), or, on V2 pipelines with a trigger for
 *    that source action, any push passing the trigger's branch/tag/file-path filters;
 *  - an EventBridge rule whose target is the pipeline ARN (what CDK and the console set up): the
 *    'codepipeline' invoker in env.targets;
 *  - a push to an ECR source's repository and tag ("ECR Image Action" PUSH on the bus), as the
 *    EventBridge rule AWS sets up for an ECR source does;
 *  - a new version of an S3 source object, found by a HeadObject poll every S3_POLL_MS (S3 sources
 *    poll on AWS too unless CloudTrail events are set up, which opsbox does not have).
 * The pushed commit (or S3 version) becomes the execution's source revision for that action.
 */
import { parseArn } from '../../core/arn.js';
import type { BusEvent } from '../../core/events.js';
import { log } from '../../core/log.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { Engine } from './engine.js';
import { pushMatches } from './filters.js';
import { changedFiles } from '../../core/gitRead.js';
import type { CodepipelineStore, Scope } from './store.js';
import type { PipelineDoc } from './validate.js';

export const S3_POLL_MS = Number(process.env.OPSBOX_CODEPIPELINE_S3_POLL_MS ?? 5000);

interface Watched {
  scope: Scope;
  doc: PipelineDoc;
  /** Last seen S3 source object versions, by action name. */
  s3Seen: Map<string, string>;
}

const keyOf = (s: Scope, name: string) => `${s.account}|${s.region}|${name}`;

export class PipelineTriggers {
  private pipelines = new Map<string, Watched>();
  private unsubscribe: () => void;
  private timer?: { cancel(): void };
  private closed = false;

  constructor(
    private env: ServiceEnv,
    store: CodepipelineStore,
    private engine: Engine,
  ) {
    for (const row of store.allPipelines()) this.watch(row, JSON.parse(row.doc), false);
    this.unsubscribe = env.bus.subscribe((e) => this.onEvent(e));
    env.targets.register('codepipeline', async (inv) => {
      const arn = parseArn(inv.arn)!;
      const scope = { account: arn.account || inv.account, region: arn.region || inv.region };
      this.engine.start(scope, arn.resource, { triggerType: 'CloudWatchEvent', triggerDetail: String(inv.options?.RuleArn ?? inv.source) });
    });
    this.schedule();
  }

  pipelineChanged(scope: Scope, doc: PipelineDoc) {
    this.watch(scope, doc, true);
  }

  pipelineDeleted(scope: Scope, name: string) {
    this.pipelines.delete(keyOf(scope, name));
  }

  close() {
    this.closed = true;
    this.unsubscribe();
    this.timer?.cancel();
  }

  private watch(scope: Scope, doc: PipelineDoc, seedNow: boolean) {
    const key = keyOf(scope, doc.name);
    const w: Watched = {
      scope: { account: scope.account, region: scope.region },
      doc,
      s3Seen: this.pipelines.get(key)?.s3Seen ?? new Map(),
    };
    this.pipelines.set(key, w);
    if (seedNow) void this.pollS3(w, true);
  }

  private onEvent(e: BusEvent) {
    if (e['detail-type'] === 'CodeCommit Repository State Change' && e.source === 'aws.codecommit')
      void this.onPush(e).catch((err) => log.error('codepipeline: push trigger failed', { err: String(err) }));
    if (e['detail-type'] === 'ECR Image Action' && e.source === 'aws.ecr') this.onImagePush(e);
  }

  private onImagePush(e: BusEvent) {
    const d = e.detail as Record<string, string | undefined>;
    if (d['action-type'] !== 'PUSH' || d.result !== 'SUCCESS' || !d['image-digest']) return;
    for (const w of [...this.pipelines.values()]) {
      if (w.scope.account !== e.account || w.scope.region !== e.region) continue;
      const action = w.doc.stages[0].actions.find(
        (a) =>
          a.actionTypeId.provider === 'ECR' &&
          a.configuration?.RepositoryName === d['repository-name'] &&
          (a.configuration?.ImageTag || 'latest') === d['image-tag'],
      );
      if (!action) continue;
      this.engine.start(
        w.scope,
        w.doc.name,
        { triggerType: 'CloudWatchEvent', triggerDetail: `ECR push ${d['repository-name']}:${d['image-tag']}` },
        { overrides: { [action.name]: { revisionType: 'IMAGE_DIGEST', revisionValue: d['image-digest'] } } },
      );
    }
  }

  private async onPush(e: BusEvent) {
    const d = e.detail as Record<string, string | undefined>;
    if (d.event === 'referenceDeleted' || !d.commitId) return;
    const branch = d.referenceType === 'branch' ? d.referenceName : undefined;
    const tag = d.referenceType === 'tag' ? d.referenceName : undefined;
    let files: Promise<string[]> | undefined;
    const loadFiles = () => {
      const repo = this.env.repos.resolve(e.account, e.region, d.repositoryName!);
      files ??= repo ? changedFiles(repo.gitDir, d.oldCommitId, d.commitId!) : Promise.resolve([]);
      return files;
    };
    for (const w of [...this.pipelines.values()]) {
      if (w.scope.account !== e.account || w.scope.region !== e.region) continue;
      const overrides: Record<string, { revisionType: string; revisionValue: string }> = {};
      let trigger: { triggerType: string; triggerDetail?: string } | undefined;
      for (const a of w.doc.stages[0].actions) {
        if (a.actionTypeId.provider !== 'CodeCommit' || a.configuration?.RepositoryName !== d.repositoryName) continue;
        const t = w.doc.triggers?.find((x) => x.gitConfiguration.sourceActionName === a.name);
        let fire = false;
        if (t) fire = await pushMatches(t.gitConfiguration.push, { branch, tag, files: loadFiles });
        else fire = a.configuration?.PollForSourceChanges !== 'false' && branch !== undefined && branch === a.configuration?.BranchName;
        if (!fire) continue;
        overrides[a.name] = { revisionType: 'COMMIT_ID', revisionValue: d.commitId };
        trigger ??= t
          ? { triggerType: 'WebhookV2', triggerDetail: e.resources[0] }
          : { triggerType: 'PollForSourceChanges', triggerDetail: a.name };
      }
      if (trigger) this.engine.start(w.scope, w.doc.name, trigger, { overrides });
    }
  }

  private schedule() {
    if (this.closed) return;
    this.timer = this.env.clock.setTimeout(() => {
      void Promise.all([...this.pipelines.values()].map((w) => this.pollS3(w, false))).finally(() => this.schedule());
    }, S3_POLL_MS);
  }

  /** Starts the pipeline when a polled S3 source object has a new version; `seed` only records the current one. */
  private async pollS3(w: Watched, seed: boolean) {
    for (const a of w.doc.stages[0].actions) {
      if (a.actionTypeId.provider !== 'S3' || a.configuration?.PollForSourceChanges === 'false') continue;
      let version: string;
      try {
        const head = await this.env.services.call(
          's3',
          'HeadObject',
          { Bucket: a.configuration!.S3Bucket, Key: a.configuration!.S3ObjectKey },
          w.scope,
        );
        version = String(head.VersionId ?? head.ETag);
      } catch {
        continue;
      }
      const seen = w.s3Seen.get(a.name);
      w.s3Seen.set(a.name, version);
      if (seed || seen === undefined || seen === version) continue;
      if (this.pipelines.get(keyOf(w.scope, w.doc.name)) !== w) return;
      this.engine.start(
        w.scope,
        w.doc.name,
        { triggerType: 'PollForSourceChanges', triggerDetail: a.name },
        {
          overrides: { [a.name]: { revisionType: 'S3_OBJECT_VERSION_ID', revisionValue: version } },
        },
      );
    }
  }
}
