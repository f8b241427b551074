/** S3: buckets and objects, versioning, multipart uploads, presigned URLs. Bodies stream to core/blobs. */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { S3Handlers } from './api.generated.js';
import { bucketHandlers } from './buckets.js';
import { listingHandlers } from './listing.js';
import { multipartHandlers } from './multipart.js';
import { objectHandlers } from './objects.js';
import { S3Store } from './store.js';

export function createS3Handlers(env: ServiceEnv): S3Handlers {
  const store = new S3Store(env.store);
  return {
    ...bucketHandlers(env, store),
    ...objectHandlers(env, store),
    ...listingHandlers(store),
    ...multipartHandlers(env, store),
  };
}

export const s3: ServiceSpec<S3Handlers> = {
  name: 's3',
  model: 's3-2006-03-01',
  signingName: 's3',
  protocols: ['rest-xml'],
  patch: {
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
    },
  },
  create: createS3Handlers,
};
