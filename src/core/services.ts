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

  /** Calls `service`'s `operation`; rejects with the AwsError the handler or validation throws. */
  async call<O = any>(service: string, operation: string, input: object, scope: CallScope): Promise<O> {
    const dispatch = this.dispatchers.get(service);
    if (!dispatch) throw new Error(`opsbox service ${service} is not running`);
    return (await dispatch(operation, input, scope)) as O;
  }
}
