/**
 * S3: buckets and objects, versioning, multipart uploads, presigned URLs, static website hosting
 * (website.ts: the configuration and the website endpoint), event notifications (notifications.ts).
 * Bodies stream to core/blobs.
 */
import { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { S3Handlers } from './api.generated.js';
import { bucketHandlers } from './buckets.js';
import { listingHandlers } from './listing.js';
import { multipartHandlers } from './multipart.js';
import { objectHandlers, resolveVersion } from './objects.js';
import { Notifier } from './notifications.js';
import { createS3Store, type S3Store } from './store.js';
import { websiteHandlers, websiteRoutes } from './website.js';
import { MALFORMED_XML } from './common.js';

export function createS3(env: ServiceEnv): ServiceInstance<S3Handlers> {
  const store = createS3Store(env.store);
  installObjectReader(env, store);
  const notifier = new Notifier(env, store);
  return {
    handlers: {
      ...bucketHandlers(env, store),
      ...objectHandlers(env, store, notifier),
      ...listingHandlers(store),
      ...multipartHandlers(env, store, notifier),
      ...websiteHandlers(store),
      ...notifier.handlers(),
    },
    routes: websiteRoutes(env, store),
  };
}

/** Lets other services read an object the account owns (CodeCommit's zip import), as a GET would. */
function installObjectReader(env: ServiceEnv, store: S3Store) {
  env.objects.install(async (account, bucketName, key, versionId) => {
    const bucket = store.bucket(bucketName);
    if (!bucket || bucket.account !== account) return undefined;
    try {
      const row = resolveVersion(store, bucket, key, versionId, 'GET');
      return { body: row.size === 0 ? Readable.from([]) : env.blobs.read(row.blob_id!), size: row.size };
    } catch (err) {
      if (err instanceof AwsError) return undefined;
      throw err;
    }
  });
}

export const s3: ServiceSpec<S3Handlers> = {
  name: 's3',
  model: 's3-2006-03-01',
  signingName: 's3',
  protocols: ['rest-xml'],
  front: {
    fallback: true,
    // bucket.localhost, bucket.s3.localhost, bucket.s3.<region>.amazonaws.com; not s3.localhost itself
    virtualHost: /^(?!s3[.-]|s3$)(.+?)\.(?:s3\.)?(?:localhost(?:\.localstack\.cloud)?|s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com)$/,
    unmatchedRoute: () => new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405),
    bareErrors: true,
    xmlNamespace: 'http://s3.amazonaws.com/doc/2006-03-01/',
  },
  patch: {
    // S3 answers bad values with its own codes (InvalidArgument, InvalidStorageClass …), never the model's constraint messages
    modelConstraints: false,
    // a required member missing from a body is a schema failure (a Tag without Value, an Object without Key)
    validationErrorCode: 'MalformedXML',
    validationMessage: MALFORMED_XML,
    xmlRootNames: {
      ListObjectsV2: 'ListBucketResult',
      ListObjects: 'ListBucketResult',
      ListBuckets: 'ListAllMyBucketsResult',
      ListObjectVersions: 'ListVersionsResult',
      CreateMultipartUpload: 'InitiateMultipartUploadResult',
      CompleteMultipartUpload: 'CompleteMultipartUploadResult',
      ListParts: 'ListPartsResult',
      ListMultipartUploads: 'ListMultipartUploadsResult',
      DeleteObjects: 'DeleteResult',
      GetBucketVersioning: 'VersioningConfiguration',
      GetBucketTagging: 'Tagging',
      GetObjectTagging: 'Tagging',
      GetBucketCors: 'CORSConfiguration',
      GetBucketLifecycleConfiguration: 'LifecycleConfiguration',
      GetBucketLocation: 'LocationConstraint',
      GetBucketAcl: 'AccessControlPolicy',
      GetBucketWebsite: 'WebsiteConfiguration',
      GetBucketNotificationConfiguration: 'NotificationConfiguration',
    },
  },
  create: createS3,
};
