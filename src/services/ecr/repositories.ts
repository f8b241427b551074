/**
 * Repositories: create (tag mutability, scanning and encryption settings, tags), describe, delete
 * (with `force`), tags, tag mutability, scanning configuration, repository policies, and
 * GetAuthorizationToken / DescribeRegistry. Also the repository lookup and view the other handler
 * files share.
 */
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, keysetPage } from '../../core/pagination.js';
import { checkTags, type TagMap, type TagRules, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { EcrHandlers, RepositoryOut } from './api.generated.js';
import type { registryAuth } from './auth.js';
import { repoArn, type EcrStore, type RepoRow } from './store.js';

export const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message, 400);

export const repoNotFound = (name: string, account: string) =>
  new AwsError(
    'RepositoryNotFoundException',
    `The repository with name '${name}' does not exist in the registry with id '${account}'`,
    400,
  );

/** The registry host docker and podman push to: opsbox's own port on localhost (engines allow plain HTTP there). */
export const registryHost = (env: ServiceEnv) => `localhost:${env.config.port}`;

/** The registry a request names must be the caller's own: another account's registry is one this caller cannot see. */
export function requireRegistry(ctx: RequestContext, registryId: string | undefined, name: string) {
  if (registryId !== undefined && registryId !== ctx.account) throw repoNotFound(name, registryId);
}

export function repoLookup(store: EcrStore) {
  return function requireRepo(ctx: RequestContext, input: { registryId?: string; repositoryName: string }): RepoRow {
    requireRegistry(ctx, input.registryId, input.repositoryName);
    const repo = store.findRepo(ctx, input.repositoryName);
    if (!repo) throw repoNotFound(input.repositoryName, ctx.account);
    return repo;
  };
}

export type RequireRepo = ReturnType<typeof repoLookup>;

export function repoView(env: ServiceEnv, r: RepoRow): RepositoryOut {
  return {
    repositoryArn: repoArn(r, r.name),
    registryId: r.account,
    repositoryName: r.name,
    repositoryUri: `${registryHost(env)}/${r.name}`,
    createdAt: new Date(r.created),
    imageTagMutability: r.mutability,
    imageScanningConfiguration: { scanOnPush: r.scan_on_push === 1 },
    encryptionConfiguration: { encryptionType: r.encryption, kmsKey: r.kms_key ?? undefined },
  };
}

const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsException', `The repository can have at most ${p.limit} tags.`, 400)
      : new AwsError(
          'InvalidTagParameterException',
          p.kind === 'reservedKey' ? 'Tag keys starting with aws: are reserved.' : 'The tags are not valid.',
          400,
        ),
};

const tagMapOf = (tags: { Key: string; Value: string }[] | undefined): TagMap =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));

/** An ECR repository ARN in the caller's account and region, for the tag operations. */
function repoOfArn(store: EcrStore, ctx: RequestContext, resourceArn: string): RepoRow {
  const m = /^arn:aws:ecr:([^:]+):(\d{12}):repository\/(.+)$/.exec(resourceArn);
  if (!m) throw invalidParameter(`Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'`);
  const scope: Scope = { region: m[1], account: m[2] };
  const repo = scope.account === ctx.account && scope.region === ctx.region ? store.findRepo(ctx, m[3]) : undefined;
  if (!repo) throw repoNotFound(m[3], scope.account);
  return repo;
}

function requirePolicy(repo: RepoRow): string {
  if (repo.policy === null)
    throw new AwsError(
      'RepositoryPolicyNotFoundException',
      `Repository policy does not exist for the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
      400,
    );
  return repo.policy;
}

export function repositoryHandlers(
  env: ServiceEnv,
  store: EcrStore,
  tags: Tags,
  auth: ReturnType<typeof registryAuth>,
  requireRepo: RequireRepo,
): EcrHandlers {
  return {
    CreateRepository(input, ctx) {
      requireRegistry(ctx, input.registryId, input.repositoryName);
      if (store.findRepo(ctx, input.repositoryName))
        throw new AwsError(
          'RepositoryAlreadyExistsException',
          `The repository with name '${input.repositoryName}' already exists in the registry with id '${ctx.account}'`,
          400,
        );
      const tagMap = tagMapOf(input.tags);
      checkTags(tagMap, tagRules);
      const encryption = input.encryptionConfiguration?.encryptionType ?? 'AES256';
      if (encryption === 'AES256' && input.encryptionConfiguration?.kmsKey)
        throw invalidParameter('Invalid parameter at kmsKey: KMS key must not be set when the encryption type is AES256.');
      const repo = store.transaction(() => {
        const r = store.insertRepo({
          account: ctx.account,
          region: ctx.region,
          name: input.repositoryName,
          created: ctx.clock.now(),
          mutability: (input.imageTagMutability ?? 'MUTABLE') as RepoRow['mutability'],
          scan_on_push: input.imageScanningConfiguration?.scanOnPush ? 1 : 0,
          encryption,
          kms_key:
            encryption === 'KMS'
              ? (input.encryptionConfiguration?.kmsKey ?? `arn:aws:kms:${ctx.region}:${ctx.account}:alias/aws/ecr`)
              : null,
        });
        tags.add(repoArn(ctx, r.name), tagMap, tagRules);
        return r;
      });
      return { repository: repoView(env, repo) };
    },

    DescribeRepositories(input, ctx) {
      if (input.repositoryNames) {
        if (input.nextToken !== undefined || input.maxResults !== undefined)
          throw invalidParameter('Invalid parameter: maxResults and nextToken cannot be used with repositoryNames.');
        return {
          repositories: input.repositoryNames.map((name) =>
            repoView(env, requireRepo(ctx, { registryId: input.registryId, repositoryName: name })),
          ),
        };
      }
      requireRegistry(ctx, input.registryId, '');
      const limit = input.maxResults ?? 1000;
      const after =
        input.nextToken !== undefined
          ? decodeToken(input.nextToken, () => invalidParameter('Invalid parameter: the nextToken is not valid.'))
          : '';
      const page = keysetPage(store.listRepos(ctx, after, limit + 1), limit, (r) => r.name);
      return { repositories: page.items.map((r) => repoView(env, r)), nextToken: page.next };
    },

    DeleteRepository(input, ctx) {
      const repo = requireRepo(ctx, input);
      if (!input.force && store.images(repo).length > 0)
        throw new AwsError(
          'RepositoryNotEmptyException',
          `The repository with name '${repo.name}' in registry with id '${ctx.account}' cannot be deleted because it still contains images`,
          400,
        );
      const view = repoView(env, repo);
      store.deleteRepo(repo);
      store.collectGarbage(ctx.clock.now());
      return { repository: view };
    },

    PutImageTagMutability(input, ctx) {
      const repo = requireRepo(ctx, input);
      store.setRepo(repo, 'mutability', input.imageTagMutability);
      return { registryId: repo.account, repositoryName: repo.name, imageTagMutability: input.imageTagMutability };
    },

    PutImageScanningConfiguration(input, ctx) {
      const repo = requireRepo(ctx, input);
      store.setRepo(repo, 'scan_on_push', input.imageScanningConfiguration.scanOnPush ? 1 : 0);
      return {
        registryId: repo.account,
        repositoryName: repo.name,
        imageScanningConfiguration: { scanOnPush: !!input.imageScanningConfiguration.scanOnPush },
      };
    },

    SetRepositoryPolicy(input, ctx) {
      const repo = requireRepo(ctx, input);
      try {
        const doc: unknown = JSON.parse(input.policyText);
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
      } catch {
        throw invalidParameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'");
      }
      store.setRepo(repo, 'policy', input.policyText);
      return { registryId: repo.account, repositoryName: repo.name, policyText: input.policyText };
    },

    GetRepositoryPolicy(input, ctx) {
      const repo = requireRepo(ctx, input);
      return { registryId: repo.account, repositoryName: repo.name, policyText: requirePolicy(repo) };
    },

    DeleteRepositoryPolicy(input, ctx) {
      const repo = requireRepo(ctx, input);
      const policyText = requirePolicy(repo);
      store.setRepo(repo, 'policy', null);
      return { registryId: repo.account, repositoryName: repo.name, policyText };
    },

    TagResource(input, ctx) {
      const repo = repoOfArn(store, ctx, input.resourceArn);
      tags.add(repoArn(repo, repo.name), tagMapOf(input.tags), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      const repo = repoOfArn(store, ctx, input.resourceArn);
      tags.remove(repoArn(repo, repo.name), input.tagKeys, tagRules);
      return {};
    },

    ListTagsForResource(input, ctx) {
      const repo = repoOfArn(store, ctx, input.resourceArn);
      return { tags: tags.list(repoArn(repo, repo.name)) };
    },

    GetAuthorizationToken(input, ctx) {
      for (const id of input.registryIds ?? [])
        if (id !== ctx.account) throw invalidParameter(`Invalid parameter at 'registryIds': registry ${id} is not the caller's.`);
      const { token, expires } = auth.issue(ctx, ctx.clock.now());
      return {
        authorizationData: [{ authorizationToken: token, expiresAt: new Date(expires), proxyEndpoint: `http://${registryHost(env)}` }],
      };
    },

    DescribeRegistry(_input, ctx) {
      return { registryId: ctx.account, replicationConfiguration: { rules: [] } };
    },
  };
}
