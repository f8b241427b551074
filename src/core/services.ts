/**
 * How one service calls another's API in-process, as AWS services call each other (CodePipeline
 * starts a CodeBuild build, CodeBuild writes CloudWatch Logs and S3 objects): through the same
 * validation and handler as a request on the wire, with the calling account's root as caller.
 * The gateway registers every served service; a call to one that is not there rejects.
 */
export interface CallScope {
  account: string;
  region: string;
  /** Facts only an in-process caller can pass (the pipeline artifacts of a CodePipeline build action). */
  internal?: Record<string, unknown>;
}

export type Dispatch = (operation: string, input: object, scope: CallScope) => Promise<unknown>;

export class ServiceCalls {
  private dispatchers = new Map<string, Dispatch>();

  register(service: string, dispatch: Dispatch) {
    this.dispatchers.set(service, dispatch);
  }

  has(service: string) {
    return this.dispatchers.has(service);
  }

  /**
   * Calls `service`'s `operation`; rejects with the AwsError the handler or validation throws.
   * A stream in the input (an S3 PutObject Body) belongs to the call: if the call fails before
   * reading it, it is destroyed here, and its errors (a file gone before it was opened) reach
   * the caller as the rejection instead of an unhandled 'error' event.
   */
  async call<O = any>(service: string, operation: string, input: object, scope: CallScope): Promise<O> {
    const streams = Object.values(input).filter(isStream);
    let streamError: Error | undefined;
    for (const s of streams) s.on('error', (err: Error) => (streamError ??= err));
    try {
      const dispatch = this.dispatchers.get(service);
      if (!dispatch) throw new Error(`opsbox service ${service} is not running`);
      const out = (await dispatch(operation, input, scope)) as O;
      if (streamError) throw streamError;
      return out;
    } catch (err) {
      for (const s of streams) s.destroy();
      throw err;
    }
  }
}

const isStream = (v: unknown): v is NodeJS.ReadableStream & { destroy(): void } =>
  typeof v === 'object' && v !== null && typeof (v as any).pipe === 'function' && typeof (v as any).destroy === 'function';
