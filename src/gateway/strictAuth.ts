/**
 * OPSBOX_AUTH=strict: the signature must verify against a key opsbox knows (root key, IAM access
 * keys, STS credentials), presigned URLs must not be expired. Errors are AWS's:
 * InvalidClientTokenId / InvalidAccessKeyId (S3) for unknown keys, SignatureDoesNotMatch, AccessDenied.
 */
import type { Clock } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';
import { AwsError } from '../core/errors.js';
import type { WireRequest } from '../protocol/types.js';
import { contentSha256Mismatch } from '../protocol/rest.js';
import { ChunkSignatures, parseAmzDate, sha256Hex, signaturesEqual, signRequest, type SigV4Auth } from './sigv4.js';

export function verifyRequest(req: WireRequest, auth: SigV4Auth | undefined, credentials: Credentials, clock: Clock) {
  // S3's SigV4 dialect (x-amz-content-sha256, its own error codes) is the signing name's, as in the SDKs' signers
  const s3 = auth?.service === 's3';
  if (!auth || !auth.signature) {
    throw s3
      ? new AwsError('AccessDenied', 'Access Denied', 403)
      : new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  }
  const record = credentials.find(auth.accessKeyId);
  const now = clock.now();
  if (!record || record.status !== 'Active' || (record.expiresAt && record.expiresAt < now)) {
    if (record?.expiresAt && record.expiresAt < now)
      throw new AwsError('ExpiredToken', 'The security token included in the request is expired', 403);
    throw s3
      ? new AwsError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403, {
          AWSAccessKeyId: auth.accessKeyId,
        })
      : new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  }
  if (record.sessionToken) {
    const token = auth.presigned ? req.query.get('X-Amz-Security-Token') : req.headers['x-amz-security-token'];
    if (token !== record.sessionToken)
      throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  }
  if (auth.presigned) checkPresignedTimes(auth, now, s3);
  else checkRequestTime(req, auth, now, s3);
  const payloadHash = signedPayloadHash(req, auth, s3);
  const expected = signRequest(
    { method: req.method, path: req.path, query: req.query, headers: req.headers, payloadHash },
    auth,
    record.secretAccessKey,
  );
  if (!signaturesEqual(expected.signature, auth.signature)) throw signatureMismatch(expected, auth, s3);
  // the signature covers the declared hash: now the body must be what was declared
  if (/^[0-9a-f]{64}$/.test(payloadHash)) {
    if (req.body) {
      const computed = sha256Hex(req.body);
      if (computed !== payloadHash) throw contentSha256Mismatch(payloadHash, computed);
    } else req.payloadCheck = { sha256: payloadHash };
  } else if (payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'))
    req.payloadCheck = { chunks: new ChunkSignatures(auth, record.secretAccessKey), signedTrailer: payloadHash.endsWith('-TRAILER') };
}

const hexBytes = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/**
 * SignatureDoesNotMatch as AWS words it, with what opsbox computed so a client's signing can be
 * compared line by line: S3 adds StringToSign, CanonicalRequest (and their bytes) as elements, the
 * other services put the canonical string and the string to sign in the message.
 */
function signatureMismatch(expected: ReturnType<typeof signRequest>, auth: SigV4Auth, s3: boolean) {
  if (s3)
    return new AwsError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      403,
      {
        AWSAccessKeyId: auth.accessKeyId,
        StringToSign: expected.stringToSign,
        SignatureProvided: auth.signature,
        StringToSignBytes: hexBytes(expected.stringToSign),
        CanonicalRequest: expected.canonical,
        CanonicalRequestBytes: hexBytes(expected.canonical),
      },
    );
  return new AwsError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' +
      `\n\nThe Canonical String for this request should have been\n'${expected.canonical}'\n\nThe String-to-Sign should have been\n'${expected.stringToSign}'\n`,
    403,
  );
}

const STREAMING = [
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
];

/**
 * The payload hash the signature must cover. S3 takes the client's x-amz-content-sha256 (a hash that
 * is then checked against the body, or one of S3's special values); every other service hashes the
 * body it received, whatever header came with it. Presigned S3 URLs sign UNSIGNED-PAYLOAD, presigned
 * requests to other services the (empty) body's hash, as botocore and the SDKs sign them.
 */
function signedPayloadHash(req: WireRequest, auth: SigV4Auth, s3: boolean): string {
  if (!s3) return sha256Hex(req.body ?? Buffer.alloc(0));
  if (auth.presigned) return req.query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
  const declared = req.headers['x-amz-content-sha256'];
  if (typeof declared !== 'string')
    throw new AwsError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 400);
  if (declared === 'UNSIGNED-PAYLOAD' || STREAMING.includes(declared) || /^[0-9a-f]{64}$/.test(declared)) return declared;
  throw new AwsError(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    400,
    {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: declared,
    },
  );
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_EXPIRES = 604_800;

const amzDateOf = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');

/** A header-signed request is valid for 15 minutes either side of its X-Amz-Date, so it cannot be replayed later. */
function checkRequestTime(req: WireRequest, auth: SigV4Auth, now: number, s3: boolean) {
  const dateHeader = req.headers.date;
  const signedAt = parseAmzDate(auth.amzDate) ?? (dateHeader ? Date.parse(dateHeader) : undefined);
  if (signedAt === undefined || Number.isNaN(signedAt)) {
    throw s3
      ? new AwsError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header', 403)
      : new AwsError('IncompleteSignature', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", 400);
  }
  if (Math.abs(now - signedAt) <= MAX_SKEW_MS) return;
  if (s3)
    throw new AwsError('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403, {
      RequestTime: auth.amzDate ?? String(dateHeader),
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  const [at, server] = [amzDateOf(signedAt), amzDateOf(now)];
  throw new AwsError(
    'SignatureDoesNotMatch',
    signedAt < now
      ? `Signature expired: ${at} is now earlier than ${amzDateOf(now - MAX_SKEW_MS)} (${server} - 15 min.)`
      : `Signature not yet current: ${at} is still later than ${amzDateOf(now + MAX_SKEW_MS)} (${server} + 15 min.)`,
    403,
  );
}

/** A presigned URL lives at most a week, from its X-Amz-Date on. */
function checkPresignedTimes(auth: SigV4Auth, now: number, s3: boolean) {
  const queryError = (message: string) => new AwsError(s3 ? 'AuthorizationQueryParametersError' : 'IncompleteSignature', message, 400);
  const expires = auth.expires;
  if (expires === undefined)
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  if (!Number.isInteger(expires) || expires < 0) throw queryError('X-Amz-Expires should be a number');
  if (expires > MAX_PRESIGNED_EXPIRES)
    throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES}`);
  const signedAt = parseAmzDate(auth.amzDate);
  if (signedAt === undefined) throw queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (signedAt > now + MAX_SKEW_MS) throw new AwsError('AccessDenied', 'Request is not valid yet', 403);
  if (signedAt + expires * 1000 < now) throw new AwsError('AccessDenied', 'Request has expired', 403, { 'X-Amz-Expires': String(expires) });
}
