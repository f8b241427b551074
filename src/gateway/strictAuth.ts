/**
 * OPSBOX_AUTH=strict: the signature must verify against a key opsbox knows (root key, IAM access
 * keys, STS credentials), presigned URLs must not be expired. Errors are AWS's:
 * InvalidClientTokenId / InvalidAccessKeyId (S3) for unknown keys, SignatureDoesNotMatch, AccessDenied.
 */
import type { Clock } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';
import { AwsError } from '../core/errors.js';
import type { WireRequest } from '../protocol/types.js';
import { computeSignature, parseAmzDate, sha256Hex, signaturesEqual, type SigV4Auth } from './sigv4.js';

export function verifyRequest(req: WireRequest, auth: SigV4Auth | undefined, credentials: Credentials, clock: Clock) {
  const s3 = auth?.service === 's3';
  if (!auth || !auth.signature) {
    throw s3
      ? new AwsError('AccessDenied', 'Access Denied', 403)
      : new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  }
  const record = credentials.find(auth.accessKeyId);
  const now = clock.now();
  if (!record || record.status !== 'Active' || (record.expiresAt && record.expiresAt < now)) {
    if (record?.expiresAt && record.expiresAt < now) throw new AwsError('ExpiredToken', 'The security token included in the request is expired', 403);
    throw s3
      ? new AwsError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403, { AWSAccessKeyId: auth.accessKeyId })
      : new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  }
  if (record.sessionToken) {
    const token = auth.presigned ? req.query.get('X-Amz-Security-Token') : req.headers['x-amz-security-token'];
    if (token !== record.sessionToken) throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  }
  let payloadHash: string;
  if (auth.presigned) payloadHash = 'UNSIGNED-PAYLOAD';
  else {
    const declared = req.headers['x-amz-content-sha256'];
    payloadHash = typeof declared === 'string' ? declared : sha256Hex(req.body ?? Buffer.alloc(0));
  }
  const expected = computeSignature({ method: req.method, path: req.path, query: req.query, headers: req.headers, payloadHash }, auth, record.secretAccessKey);
  if (!signaturesEqual(expected, auth.signature)) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      s3
        ? 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'
        : 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      403,
    );
  }
  if (auth.presigned) {
    const signedAt = parseAmzDate(auth.amzDate);
    if (signedAt === undefined || signedAt + (auth.expires ?? 0) * 1000 < now)
      throw new AwsError('AccessDenied', 'Request has expired', 403, { 'X-Amz-Expires': String(auth.expires ?? '') });
  }
}
