/**
 * Bucket handlers: create/head/list/delete, location, versioning, and the configurations S3 stores
 * and returns as given (tagging, policy, CORS, lifecycle). Bucket names are global: one owner
 * account per name, whatever the region.
 */
import { AwsError } from '../../core/errors.js';
import { checkTags, tagMapOf, type TagRules } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { HTTP_STATUS } from '../../protocol/rest.js';
import type { PutBucketLifecycleConfigurationInput, S3Handlers } from './api.generated.js';
import { malformedXml } from './common.js';
import { bucketArn, ownerOf, type S3Store } from './store.js';

/** AWS's general purpose bucket naming rules. */
export function validBucketName(name: string) {
  return (
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.startsWith('sthree-') &&
    !name.endsWith('-s3alias') &&
    !name.endsWith('--ol-s3')
  );
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** S3's wording for bucket tags the shared rules refuse (object tags have their own, common.ts). */
const tagRules: TagRules = {
  errors: (p) =>
    new AwsError(
      'InvalidTag',
      p.kind === 'tooMany'
        ? `Bucket tag count cannot be greater than ${p.limit}`
        : p.kind === 'duplicateKey'
          ? 'Cannot provide multiple Tags with the same key'
          : p.kind === 'valueLength'
            ? 'The TagValue you have provided is invalid'
            : p.kind === 'reservedKey'
              ? 'Your TagKey cannot be prefixed with aws:'
              : 'The TagKey you have provided is invalid',
      400,
    ),
};

/**
 * PutBucketTagging and PutBucketPolicy answer 204 No Content. Their model has no output shape (the
 * generated output type is void), so the status rides on an otherwise empty output, typed void.
 */
const noContent = (): void => ({ [HTTP_STATUS]: 204 }) as unknown as void;

export function bucketHandlers(env: ServiceEnv, store: S3Store): S3Handlers {
  const config = (field: 'policy' | 'cors' | 'lifecycle', code: string, message: string) => (bucketName: string, ctx: RequestContext) => {
    const b = store.requireBucket(bucketName, ctx);
    const v = b[field];
    if (v === null) throw new AwsError(code, message, 404, { BucketName: bucketName });
    return v;
  };
  const policy = config('policy', 'NoSuchBucketPolicy', 'The bucket policy does not exist');
  const cors = config('cors', 'NoSuchCORSConfiguration', 'The CORS configuration does not exist');
  const lifecycle = config('lifecycle', 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist');

  const set =
    (field: 'policy' | 'cors' | 'lifecycle' | 'versioning', value: string | null) => (bucketName: string, ctx: RequestContext) => {
      store.requireBucket(bucketName, ctx);
      store.setBucketField(bucketName, field, value);
    };

  return {
    CreateBucket(input, ctx) {
      const name = input.Bucket;
      if (!validBucketName(name)) throw new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
      const constraint = input.CreateBucketConfiguration?.LocationConstraint;
      if (constraint !== undefined && (constraint === 'us-east-1' || !REGION.test(constraint)) && constraint !== 'EU')
        throw new AwsError('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, {
          LocationConstraint: constraint,
        });
      const region = constraint === 'EU' ? 'eu-west-1' : (constraint ?? 'us-east-1');
      if (ctx.region !== 'us-east-1' && region !== ctx.region)
        throw new AwsError(
          'IllegalLocationConstraintException',
          `The ${constraint ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`,
          400,
        );
      const existing = store.bucket(name);
      if (existing) {
        if (existing.account !== ctx.account)
          throw new AwsError(
            'BucketAlreadyExists',
            'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
            409,
            { BucketName: name },
          );
        // AWS keeps a legacy 200 for re-creating your own bucket in us-east-1 only
        if (!(existing.region === 'us-east-1' && region === 'us-east-1'))
          throw new AwsError(
            'BucketAlreadyOwnedByYou',
            'Your previous request to create the named bucket succeeded and you already own it.',
            409,
            { BucketName: name },
          );
        return { Location: `/${name}` };
      }
      store.insertBucket(name, ctx.account, region, env.clock.now());
      return { Location: region === 'us-east-1' ? `/${name}` : `http://${name}.s3.${ctx.host}/` };
    },

    HeadBucket(input, ctx) {
      const b = store.bucket(input.Bucket);
      // HEAD errors have no body; the status says it all
      if (!b) throw new AwsError('NotFound', 'Not Found', 404);
      if (b.account !== ctx.account) throw new AwsError('Forbidden', 'Forbidden', 403);
      return { BucketRegion: b.region, AccessPointAlias: false };
    },

    ListBuckets(input, ctx) {
      const prefix = input.Prefix ?? '';
      let rows = store.listBuckets(ctx.account).filter((b) => b.name.startsWith(prefix));
      if (input.BucketRegion) rows = rows.filter((b) => b.region === input.BucketRegion);
      if (input.ContinuationToken) rows = rows.filter((b) => b.name > input.ContinuationToken!);
      const max = input.MaxBuckets ?? 10000;
      const page = rows.slice(0, max);
      return {
        Buckets: page.map((b) => ({ Name: b.name, CreationDate: new Date(b.created_at), BucketRegion: b.region })),
        Owner: ownerOf(ctx.account),
        Prefix: input.Prefix,
        ContinuationToken: rows.length > max ? page[page.length - 1].name : undefined,
      };
    },

    DeleteBucket(input, ctx) {
      store.requireBucket(input.Bucket, ctx);
      const blobs = env.store.db.transaction(() => {
        const ids = store.deleteBucket(input.Bucket);
        env.tags.delete(bucketArn(input.Bucket));
        return ids;
      })();
      for (const id of blobs) env.blobs.delete(id);
    },

    GetBucketLocation(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      return { LocationConstraint: b.region === 'us-east-1' ? undefined : b.region };
    },

    GetBucketAcl(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      const owner = ownerOf(b.account);
      return { Owner: owner, Grants: [{ Grantee: { ...owner, Type: 'CanonicalUser' }, Permission: 'FULL_CONTROL' }] };
    },

    PutBucketVersioning(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      const status = input.VersioningConfiguration.Status;
      if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
      store.setBucketField(b.name, 'versioning', status);
    },

    GetBucketVersioning(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      return { Status: b.versioning ?? undefined };
    },

    PutBucketTagging(input, ctx) {
      const tags = tagMapOf(input.Tagging.TagSet ?? [], tagRules.errors);
      checkTags(tags, tagRules);
      const b = store.requireBucket(input.Bucket, ctx);
      env.store.db.transaction(() => {
        env.tags.replace(bucketArn(b.name), tags, tagRules);
        store.setTagSet(b.name, true);
      })();
      return noContent();
    },
    GetBucketTagging(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      if (!b.tag_set) throw new AwsError('NoSuchTagSet', 'The TagSet does not exist', 404, { BucketName: input.Bucket });
      return { TagSet: env.tags.list(bucketArn(b.name)) };
    },
    DeleteBucketTagging(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      env.store.db.transaction(() => {
        env.tags.delete(bucketArn(b.name));
        store.setTagSet(b.name, false);
      })();
    },

    PutBucketPolicy(input, ctx) {
      let doc: unknown;
      try {
        doc = JSON.parse(input.Policy);
      } catch {
        doc = undefined;
      }
      if (!doc || typeof doc !== 'object' || Array.isArray(doc) || !input.Policy.trim().startsWith('{'))
        throw new AwsError('MalformedPolicy', "Policies must be valid JSON and the first byte must be '{'", 400, {
          BucketName: input.Bucket,
        });
      set('policy', input.Policy)(input.Bucket, ctx);
      return noContent();
    },
    GetBucketPolicy: (input, ctx) => ({ Policy: policy(input.Bucket, ctx) }),
    DeleteBucketPolicy: (input, ctx) => set('policy', null)(input.Bucket, ctx),

    PutBucketCors(input, ctx) {
      const rules = input.CORSConfiguration.CORSRules ?? [];
      for (const r of rules)
        for (const m of r.AllowedMethods ?? [])
          if (!['GET', 'PUT', 'POST', 'DELETE', 'HEAD'].includes(m))
            throw new AwsError('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`, 400);
      return set('cors', JSON.stringify(rules))(input.Bucket, ctx);
    },
    GetBucketCors: (input, ctx) => ({ CORSRules: JSON.parse(cors(input.Bucket, ctx)) }),
    DeleteBucketCors: (input, ctx) => set('cors', null)(input.Bucket, ctx),

    PutBucketLifecycleConfiguration(input, ctx) {
      const rules = input.LifecycleConfiguration?.Rules ?? [];
      for (const r of rules) {
        if (r.Status !== 'Enabled' && r.Status !== 'Disabled') throw malformedXml();
        checkLifecycleDays(r);
      }
      set('lifecycle', JSON.stringify(rules))(input.Bucket, ctx);
      return {};
    },
    GetBucketLifecycleConfiguration: (input, ctx) => ({ Rules: JSON.parse(lifecycle(input.Bucket, ctx)) }),
    DeleteBucketLifecycle: (input, ctx) => set('lifecycle', null)(input.Bucket, ctx),
  };
}

type LifecycleRule = NonNullable<PutBucketLifecycleConfigurationInput['LifecycleConfiguration']>['Rules'][number];

/** The day counts S3 checks, with its messages: expirations at least 1, transitions at least 0. */
function checkLifecycleDays(r: LifecycleRule) {
  const positive = (n: number | undefined, what: string) => {
    if (n !== undefined && n !== null && !(n > 0)) throw new AwsError('InvalidArgument', `${what} must be a positive integer`, 400);
  };
  positive(r.Expiration?.Days, "'Days' for Expiration action");
  positive(r.NoncurrentVersionExpiration?.NoncurrentDays, "'NoncurrentDays' for NoncurrentVersionExpiration action");
  positive(r.AbortIncompleteMultipartUpload?.DaysAfterInitiation, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action");
  for (const t of r.Transitions ?? [])
    if (t.Days !== undefined && t.Days !== null && t.Days < 0)
      throw new AwsError('InvalidArgument', "'Days' in Transition action must be nonnegative", 400);
  for (const t of r.NoncurrentVersionTransitions ?? [])
    if (t.NoncurrentDays !== undefined && t.NoncurrentDays !== null && t.NoncurrentDays < 0)
      throw new AwsError('InvalidArgument', "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative", 400);
}
