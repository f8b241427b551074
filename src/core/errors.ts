/**
 * AwsError: the one way a handler or the gateway says "this request fails the way AWS would fail it".
 * Handlers throw these anywhere; the protocol that served the request turns them into wire bytes once.
 * `fields` carries extra members AWS puts beside Code/Message (S3's BucketName, Key, …; numbers where
 * the model says a number, as ECR's lastValidByteReceived).
 */
export class AwsError extends Error {
  /** Extra response headers some errors carry (S3's x-amz-delete-marker on NoSuchKey, ETag on 304). */
  headers?: Record<string, string>;

  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly fields: Record<string, string | number> = {},
    readonly sender = status < 500,
  ) {
    super(message);
  }
}

export const internalFailure = (message = 'An internal error occurred.') => new AwsError('InternalFailure', message, 500, {}, false);

/** The uniform answer for an operation opsbox does not implement yet. */
export const notImplemented = (service: string, operation: string) =>
  new AwsError('NotImplemented', `The operation ${operation} of service ${service} is not implemented by opsbox yet.`, 501);
