/**
 * Application revisions: where a deployment's content is (an S3 bundle, or an AppSpec given inline
 * as appSpecContent / string for Lambda and ECS), registered explicitly or by their first deployment,
 * with the groups they went to and when.
 */
import { createHash } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { CodedeployHandlers, RevisionLocation } from './api.generated.js';
import { checkApplicationName, invalidNextToken } from './common.js';
import type { RevisionDoc } from './model.js';
import type { AppRow, CodedeployStore } from './store.js';

const BUNDLE_TYPES = ['tar', 'tgz', 'zip', 'YAML', 'JSON'];

/** Checks a revision location as CreateDeployment and RegisterApplicationRevision do, and fills the AppSpec's sha256. */
export function checkRevision(r: RevisionLocation | undefined): RevisionLocation {
  if (!r) throw new AwsError('RevisionRequiredException', 'Revision is required');
  const bad = (m: string) => new AwsError('InvalidRevisionException', m);
  switch (r.revisionType) {
    case 'S3': {
      const s3 = r.s3Location;
      if (!s3?.bucket || !s3.key) throw bad('The S3 location of the revision needs a bucket and a key.');
      if (s3.bundleType && !BUNDLE_TYPES.includes(s3.bundleType)) throw bad(`Bundle type ${s3.bundleType} is not supported.`);
      return { revisionType: 'S3', s3Location: s3 };
    }
    case 'AppSpecContent': {
      const content = r.appSpecContent?.content;
      if (!content) throw bad('The AppSpec content of the revision is empty.');
      return { revisionType: 'AppSpecContent', appSpecContent: { content, sha256: createHash('sha256').update(content).digest('hex') } };
    }
    case 'String': {
      const content = r.string?.content;
      if (!content) throw bad('The string revision is empty.');
      return { revisionType: 'String', string: { content, sha256: createHash('sha256').update(content).digest('hex') } };
    }
    case 'GitHub':
      throw bad('GitHub revisions are not supported by opsbox: put the bundle in S3 or give the AppSpec inline.');
    default:
      throw bad(`Revision type ${String(r.revisionType)} is not valid.`);
  }
}

/** The key a revision is registered under: its location. */
export function revisionKey(r: RevisionLocation): string {
  if (r.revisionType === 'S3')
    return `s3:${r.s3Location!.bucket}/${r.s3Location!.key}#${r.s3Location!.version ?? ''}:${r.s3Location!.eTag ?? ''}`;
  return `${r.revisionType}:${r.appSpecContent?.sha256 ?? r.string?.sha256}`;
}

/** Records that `r` went to `group` at `now` (registering it if it was not). */
export function recordRevisionUse(store: CodedeployStore, app: AppRow, r: RevisionLocation, group: string, now: number) {
  const key = revisionKey(r);
  const doc: RevisionDoc = store.revision(app, key) ?? { revisionLocation: r, deploymentGroups: [], registerTime: now };
  if (!doc.deploymentGroups.includes(group)) doc.deploymentGroups.push(group);
  doc.firstUsedTime ??= now;
  doc.lastUsedTime = now;
  store.putRevision(app, key, doc);
}

const info = (r: RevisionDoc) => ({
  description: r.description,
  deploymentGroups: r.deploymentGroups,
  firstUsedTime: r.firstUsedTime === undefined ? undefined : new Date(r.firstUsedTime),
  lastUsedTime: r.lastUsedTime === undefined ? undefined : new Date(r.lastUsedTime),
  registerTime: new Date(r.registerTime),
});

export function revisionHandlers(store: CodedeployStore): CodedeployHandlers {
  const app = (ctx: { account: string; region: string }, name: string) => store.requireApp(ctx, checkApplicationName(name));
  const noRevision = () => new AwsError('RevisionDoesNotExistException', 'The named revision does not exist with the user or AWS account.');
  return {
    RegisterApplicationRevision(input, ctx) {
      const a = app(ctx, input.applicationName);
      if ((input.description?.length ?? 0) > 100) throw new AwsError('DescriptionTooLongException', 'The description is too long.');
      const r = checkRevision(input.revision);
      const key = revisionKey(r);
      const existing = store.revision(a, key);
      store.putRevision(a, key, {
        ...(existing ?? { deploymentGroups: [], registerTime: ctx.clock.now() }),
        revisionLocation: r,
        description: input.description,
      });
    },

    GetApplicationRevision(input, ctx) {
      const a = app(ctx, input.applicationName);
      const r = store.revision(a, revisionKey(checkRevision(input.revision)));
      if (!r) throw noRevision();
      return { applicationName: a.name, revision: r.revisionLocation, revisionInfo: info(r) };
    },

    BatchGetApplicationRevisions(input, ctx) {
      const a = app(ctx, input.applicationName);
      const revisions = input.revisions.flatMap((loc) => {
        const r = store.revision(a, revisionKey(checkRevision(loc)));
        return r ? [{ revisionLocation: r.revisionLocation, genericRevisionInfo: info(r) }] : [];
      });
      return { applicationName: a.name, revisions };
    },

    ListApplicationRevisions(input, ctx) {
      const a = app(ctx, input.applicationName);
      let all = store.revisions(a).filter((r) => r.revisionLocation.revisionType === 'S3');
      if (input.s3Bucket) all = all.filter((r) => r.revisionLocation.s3Location?.bucket === input.s3Bucket);
      else if (input.s3KeyPrefix)
        throw new AwsError('BucketNameFilterRequiredException', 'A bucket name is required, but was not provided.');
      if (input.s3KeyPrefix) all = all.filter((r) => r.revisionLocation.s3Location?.key?.startsWith(input.s3KeyPrefix!));
      if (input.deployed === 'include') all = all.filter((r) => r.deploymentGroups.length);
      if (input.deployed === 'exclude') all = all.filter((r) => !r.deploymentGroups.length);
      const by = input.sortBy ?? 'registerTime';
      const val = (r: RevisionDoc) =>
        (by === 'firstUsedTime' ? r.firstUsedTime : by === 'lastUsedTime' ? r.lastUsedTime : r.registerTime) ?? 0;
      all.sort((x, y) => val(x) - val(y));
      if ((input.sortOrder ?? 'ascending') === 'descending') all.reverse();
      const page = pageByOffset(
        all.map((r) => r.revisionLocation),
        input.nextToken,
        100,
        invalidNextToken,
      );
      return { revisions: page.items, nextToken: page.nextToken };
    },
  };
}
