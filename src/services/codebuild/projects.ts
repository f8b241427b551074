/**
 * Project handlers: CreateProject, UpdateProject, BatchGetProjects, ListProjects, DeleteProject,
 * and the checks AWS applies to sources, artifacts and environments (shared with StartBuild's
 * overrides through checkSource/checkArtifacts/checkEnvironment).
 */
import { arn, isForeignArn, parseArn, type Scope } from '../../core/arn.js';
import { batchGet } from '../../core/batchGet.js';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type {
  CodebuildHandlers,
  CreateProjectInput,
  EnvironmentVariableOut,
  ProjectArtifactsOut,
  ProjectEnvironmentOut,
  ProjectSourceOut,
  UpdateProjectInput,
} from './api.generated.js';
import { CURATED_IMAGES, resolveImage } from './build/backends/images.js';
import type { CodebuildStore, ProjectDoc } from './store.js';

export const invalidInput = (message: string) => new AwsError('InvalidInputException', message, 400);
export const badToken = () => invalidInput('Invalid pagination token');

/**
 * A project's name from its name or ARN (AWS accepts either where a project is named); undefined
 * for the ARN of another account's or region's project, which this caller cannot see.
 */
export const projectName = (nameOrArn: string, scope: Scope) => {
  const arn = nameOrArn.startsWith('arn:') ? parseArn(nameOrArn) : undefined;
  if (isForeignArn(nameOrArn, scope)) return undefined;
  return arn?.resource.startsWith('project/') ? arn.resource.slice('project/'.length) : nameOrArn;
};

const SOURCE_TYPES = [
  'CODECOMMIT',
  'CODEPIPELINE',
  'GITHUB',
  'GITLAB',
  'GITLAB_SELF_MANAGED',
  'S3',
  'BITBUCKET',
  'GITHUB_ENTERPRISE',
  'NO_SOURCE',
];
/** Source types whose code opsbox can fetch; the rest live outside this machine. */
export const RUNNABLE_SOURCES = new Set(['CODECOMMIT', 'CODEPIPELINE', 'S3', 'NO_SOURCE']);
const ARTIFACT_TYPES = ['CODEPIPELINE', 'S3', 'NO_ARTIFACTS'];
const ENV_TYPES = [
  'WINDOWS_CONTAINER',
  'LINUX_CONTAINER',
  'LINUX_GPU_CONTAINER',
  'ARM_CONTAINER',
  'WINDOWS_SERVER_2019_CONTAINER',
  'WINDOWS_SERVER_2022_CONTAINER',
  'LINUX_LAMBDA_CONTAINER',
  'ARM_LAMBDA_CONTAINER',
  'LINUX_EC2',
  'ARM_EC2',
  'WINDOWS_EC2',
  'MAC_ARM',
];
const COMPUTE_TYPES = [
  'BUILD_GENERAL1_SMALL',
  'BUILD_GENERAL1_MEDIUM',
  'BUILD_GENERAL1_LARGE',
  'BUILD_GENERAL1_XLARGE',
  'BUILD_GENERAL1_2XLARGE',
  'BUILD_LAMBDA_1GB',
  'BUILD_LAMBDA_2GB',
  'BUILD_LAMBDA_4GB',
  'BUILD_LAMBDA_8GB',
  'BUILD_LAMBDA_10GB',
  'ATTRIBUTE_BASED_COMPUTE',
  'CUSTOM_INSTANCE_TYPE',
];
const VAR_TYPES = ['PLAINTEXT', 'PARAMETER_STORE', 'SECRETS_MANAGER'];
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$/;

function oneOf(value: unknown, allowed: string[], field: string): asserts value is string {
  if (typeof value !== 'string' || !allowed.includes(value))
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`,
      400,
    );
}

export function checkSource(source: ProjectSourceOut | undefined, field: string, secondary = false) {
  oneOf(source?.type, SOURCE_TYPES, `${field}.type`);
  if (secondary && !source.sourceIdentifier) throw invalidInput('Secondary source identifier must be specified');
  if (source.sourceIdentifier !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,127}$/.test(source.sourceIdentifier))
    throw invalidInput(
      `Invalid source identifier: ${source.sourceIdentifier}. It must start with a letter and contain only letters, numbers and underscores`,
    );
  if (source.type === 'NO_SOURCE' && !source.buildspec)
    throw invalidInput('Project source buildspec cannot be empty when source type is NO_SOURCE');
  if (
    ['CODECOMMIT', 'S3', 'GITHUB', 'BITBUCKET', 'GITHUB_ENTERPRISE', 'GITLAB', 'GITLAB_SELF_MANAGED'].includes(source.type) &&
    !source.location
  )
    throw invalidInput(`Source location must be specified for source type ${source.type}`);
  if (source.type === 'S3' && !/^[^/]+\/.+/.test(String(source.location).replace(/^arn:aws:s3:::/, '')))
    throw invalidInput(`Invalid source location: ${source.location}. Source location for S3 must be bucket/key or arn:aws:s3:::bucket/key`);
  if (source.gitCloneDepth !== undefined && source.gitCloneDepth < 0) throw invalidInput('Git clone depth must be a non-negative number');
}

export function checkArtifacts(artifacts: ProjectArtifactsOut | undefined, field: string, secondary = false) {
  oneOf(artifacts?.type, ARTIFACT_TYPES, `${field}.type`);
  if (secondary && !artifacts.artifactIdentifier) throw invalidInput('Secondary artifact identifier must be specified');
  if (artifacts.type === 'S3' && !artifacts.location) throw invalidInput('Artifact location must be specified for artifact type S3');
  if (artifacts.packaging !== undefined) oneOf(artifacts.packaging, ['NONE', 'ZIP'], `${field}.packaging`);
  if (artifacts.namespaceType !== undefined) oneOf(artifacts.namespaceType, ['NONE', 'BUILD_ID'], `${field}.namespaceType`);
}

export function checkEnvironment(env: ProjectEnvironmentOut | undefined, field: string) {
  oneOf(env?.type, ENV_TYPES, `${field}.type`);
  oneOf(env.computeType, COMPUTE_TYPES, `${field}.computeType`);
  if (!env.image) throw invalidInput('Environment image must be specified');
  checkVariables(env.environmentVariables ?? [], `${field}.environmentVariables`);
}

export function checkVariables(vars: EnvironmentVariableOut[], field: string) {
  vars.forEach((v, i) => {
    if (!v.name) throw invalidInput('Environment variable name must be specified');
    if (v.type !== undefined) oneOf(v.type, VAR_TYPES, `${field}.${i + 1}.member.type`);
    if (v.name.startsWith('CODEBUILD_'))
      throw invalidInput(`Invalid environment variable name: ${v.name}. Environment variable names cannot start with CODEBUILD_`);
  });
}

function checkProjectShape(p: ProjectDoc) {
  checkSource(p.source, 'source');
  (p.secondarySources ?? []).forEach((s, i) => checkSource(s, `secondarySources.${i + 1}.member`, true));
  checkArtifacts(p.artifacts, 'artifacts');
  (p.secondaryArtifacts ?? []).forEach((a, i) => checkArtifacts(a, `secondaryArtifacts.${i + 1}.member`, true));
  checkEnvironment(p.environment, 'environment');
  if ((p.source.type === 'CODEPIPELINE') !== (p.artifacts.type === 'CODEPIPELINE'))
    throw invalidInput('Both source and artifacts types must be set to CODEPIPELINE');
  if (p.timeoutInMinutes !== undefined && (p.timeoutInMinutes < 5 || p.timeoutInMinutes > 2160))
    throw invalidInput('Build timeout must be between 5 and 2160 minutes');
  if (p.queuedTimeoutInMinutes !== undefined && (p.queuedTimeoutInMinutes < 5 || p.queuedTimeoutInMinutes > 480))
    throw invalidInput('Queued timeout must be between 5 and 480 minutes');
  if (p.concurrentBuildLimit !== undefined && p.concurrentBuildLimit < 1)
    throw invalidInput('Project concurrent build limit must be at least 1');
}

/**
 * A project's settings: the previous project's (UpdateProject), overlaid with each member the input
 * sets. Every member CreateProject requires is there: CreateProject's input has it, and so does the
 * previous project an UpdateProject changes.
 */
type Settings = CreateProjectInput & Partial<ProjectDoc>;

/** The project as AWS stores and returns it: the user's settings plus the defaults it fills in. */
function projectDoc(scope: Scope, input: CreateProjectInput | UpdateProjectInput, now: number, previous?: ProjectDoc): ProjectDoc {
  const base: Partial<ProjectDoc> = previous ?? {};
  const members: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(input)) if (v !== undefined && k !== 'badgeEnabled') members[k] = v;
  const merged = members as Settings;
  const environment = { privilegedMode: false, imagePullCredentialsType: 'CODEBUILD', environmentVariables: [], ...merged.environment };
  environment.environmentVariables = environment.environmentVariables.map((v) => ({ type: 'PLAINTEXT', ...v }));
  return {
    name: merged.name,
    arn: arn('codebuild', scope, `project/${merged.name}`),
    ...(merged.description !== undefined && { description: merged.description }),
    source: { insecureSsl: false, ...merged.source },
    secondarySources: merged.secondarySources ?? [],
    ...(merged.sourceVersion !== undefined && { sourceVersion: merged.sourceVersion }),
    secondarySourceVersions: merged.secondarySourceVersions ?? [],
    artifacts: merged.artifacts,
    secondaryArtifacts: merged.secondaryArtifacts ?? [],
    cache: merged.cache ?? { type: 'NO_CACHE' },
    environment,
    serviceRole: merged.serviceRole,
    timeoutInMinutes: merged.timeoutInMinutes ?? 60,
    queuedTimeoutInMinutes: merged.queuedTimeoutInMinutes ?? 480,
    encryptionKey: merged.encryptionKey ?? `arn:aws:kms:${scope.region}:${scope.account}:alias/aws/s3`,
    tags: merged.tags ?? [],
    created: previous?.created ?? now,
    lastModified: now,
    badge: { badgeEnabled: input.badgeEnabled ?? base.badge?.badgeEnabled ?? false },
    logsConfig: {
      cloudWatchLogs: { status: 'ENABLED', ...merged.logsConfig?.cloudWatchLogs },
      s3Logs: { status: 'DISABLED', encryptionDisabled: false, ...merged.logsConfig?.s3Logs },
    },
    ...(merged.concurrentBuildLimit !== undefined && { concurrentBuildLimit: merged.concurrentBuildLimit }),
    projectVisibility: 'PRIVATE',
  };
}

export function projectHandlers(store: CodebuildStore): CodebuildHandlers {
  return {
    CreateProject(input, ctx) {
      if (!PROJECT_NAME.test(input.name)) throw invalidInput(`Invalid project name: ${input.name}`);
      const doc = projectDoc(ctx, input, ctx.clock.now());
      checkProjectShape(doc);
      if (store.project(ctx, input.name)) throw new AwsError('ResourceAlreadyExistsException', `Project already exists: ${doc.arn}`, 400);
      store.insertProject(ctx, doc, doc.created);
      return { project: doc };
    },

    UpdateProject(input, ctx) {
      const previous = store.requireProject(ctx, input.name);
      const doc = projectDoc(ctx, input, ctx.clock.now(), previous);
      checkProjectShape(doc);
      store.updateProject(ctx, doc);
      return { project: doc };
    },

    BatchGetProjects(input, ctx) {
      if (input.names.length === 0 || input.names.length > 100) throw invalidInput('Number of project names must be between 1 and 100');
      const { found, notFound } = batchGet(new Set(input.names), (n) => {
        const name = projectName(n, ctx);
        return name === undefined ? undefined : store.project(ctx, name);
      });
      return { projects: found, projectsNotFound: notFound };
    },

    ListProjects(input, ctx) {
      const by = input.sortBy ?? 'NAME';
      const order = input.sortOrder ?? (by === 'NAME' ? 'ASCENDING' : 'DESCENDING');
      const rows = store.projects(ctx);
      rows.sort((a, b) => {
        const c =
          by === 'NAME'
            ? a.name < b.name
              ? -1
              : a.name > b.name
                ? 1
                : 0
            : by === 'CREATED_TIME'
              ? a.created - b.created
              : a.doc.lastModified - b.doc.lastModified;
        return order === 'ASCENDING' ? c : -c;
      });
      const page = pageByOffset(
        rows.map((r) => r.name),
        input.nextToken,
        100,
        badToken,
      );
      return { projects: page.items, nextToken: page.nextToken };
    },

    ListCuratedEnvironmentImages() {
      // AWS's curated images, each with the local image a build of it runs in here
      const platforms = new Map<string, { name: string; description: string; versions: string[] }[]>();
      for (const name of CURATED_IMAGES) {
        const platform = name.includes('amazonlinux2') ? 'AMAZON_LINUX_2' : name.includes('amazonlinux') ? 'AMAZON_LINUX' : 'UBUNTU';
        const local = resolveImage(name);
        const description =
          local === name
            ? `${name}: opsbox runs it as a local image of that name (tag one, or map it)`
            : `${name}: opsbox runs it as ${local}`;
        (platforms.get(platform) ?? platforms.set(platform, []).get(platform)!).push({ name, description, versions: [name] });
      }
      return { platforms: [...platforms].map(([platform, images]) => ({ platform, languages: [{ language: 'STANDARD', images }] })) };
    },

    DeleteProject(input, ctx) {
      // AWS answers success for a project that does not exist
      const name = projectName(input.name, ctx);
      if (name !== undefined) store.deleteProject(ctx, name);
      return {};
    },
  };
}
