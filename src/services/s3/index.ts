/** S3: buckets and objects, versioning, multipart uploads, presigned URLs. Bodies stream to core/blobs. */
import type { ServiceSpec } from '../../gateway/service.js';

export const s3: ServiceSpec = {
  name: 's3',
  model: 's3-2006-03-01',
  signingName: 's3',
  protocols: ['rest-xml'],
  create: () => ({}),
};
