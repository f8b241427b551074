/**
 * The Invoke action run by Lambda (category Invoke, owner AWS, provider Lambda): each attempt is a
 * job. The function is invoked asynchronously, as AWS does, with {"CodePipeline.job": {id,
 * accountId, data}} — the configuration, the artifacts' S3 locations, credentials to read and
 * write them, the continuation token of the job before — and the action waits until the function
 * answers with PutJobSuccessResult or PutJobFailureResult (jobs.ts). A success carrying a
 * continuationToken keeps the action InProgress: a new job is made and the function invoked again.
 * A job not answered within 1 hour, as in AWS (the OPSBOX_CODEPIPELINE_JOB_TIMEOUT_MS variable
 * shortens it), fails the action. Pending jobs live here, in memory: after a restart the action
 * makes a new job (keeping its continuation token) and invokes the function again, since an
 * invocation queued before the restart is gone.
 */
import { randomUUID } from 'node:crypto';
import { AwsError } from '../../../core/errors.js';
import type { JobDetailsOut } from '../api.generated.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult, type ArtifactLocation } from './registry.js';

export const JOB_TIMEOUT_MS = Number(process.env.OPSBOX_CODEPIPELINE_JOB_TIMEOUT_MS) || 3600_000;
const FINISHED_KEPT = 1000;

export type JobAnswer =
  | {
      kind: 'success';
      continuationToken?: string;
      outputVariables?: Record<string, string>;
      summary?: string;
      externalExecutionId?: string;
    }
  | { kind: 'failure'; type: string; message: string; externalExecutionId?: string };

export interface Job {
  id: string;
  account: string;
  details: JobDetailsOut;
  /** Set while the job waits for its answer; gone once it has one (or timed out, or was stopped). */
  answer?: (a: JobAnswer) => void;
}

/** Jobs by id: the pending ones, and the last FINISHED_KEPT finished ones (GetJobDetails, InvalidJobStateException). */
const jobs = new Map<string, Job>();

export function findJob(id: string, account: string): Job | undefined {
  const j = jobs.get(id);
  return j && j.account === account ? j : undefined;
}

function keep(job: Job) {
  jobs.set(job.id, job);
  if (jobs.size > FINISHED_KEPT * 2)
    for (const [id, j] of jobs) {
      if (jobs.size <= FINISHED_KEPT) break;
      if (!j.answer) jobs.delete(id);
    }
}

const location = (a: ArtifactLocation) => ({
  name: a.name,
  revision: a.revision,
  location: { type: 'S3', s3Location: { bucketName: a.bucket, objectKey: a.key } },
});

/** Temporary credentials for the artifact store: the action's role or the pipeline's; the account's own when neither can be assumed. */
async function artifactCredentials(ctx: ActionContext) {
  const role = ctx.action.roleArn ?? ctx.pipelineRoleArn;
  if (role)
    try {
      const r = await ctx.env.services.call(
        'sts',
        'AssumeRole',
        { RoleArn: role, RoleSessionName: ctx.actionExecutionId.slice(0, 64), DurationSeconds: 3600 },
        { account: ctx.account, region: ctx.region, internal: { servicePrincipal: 'codepipeline.amazonaws.com' } },
      );
      return {
        accessKeyId: r.Credentials.AccessKeyId,
        secretAccessKey: r.Credentials.SecretAccessKey,
        sessionToken: r.Credentials.SessionToken,
        expirationTime: new Date(r.Credentials.Expiration).getTime(),
      };
    } catch {
      // fall through to the account's credentials
    }
  return { accessKeyId: ctx.account, secretAccessKey: 'opsbox', sessionToken: '', expirationTime: ctx.env.clock.now() + 3600_000 };
}

async function jobDetails(ctx: ActionContext, id: string, continuationToken: string | undefined): Promise<JobDetailsOut> {
  return {
    id,
    accountId: ctx.account,
    data: {
      actionTypeId: { ...ctx.action.actionTypeId },
      actionConfiguration: { configuration: { ...ctx.configuration } },
      pipelineContext: {
        pipelineName: ctx.pipelineName,
        stage: { name: ctx.stageName },
        action: { name: ctx.action.name, actionExecutionId: ctx.actionExecutionId },
        pipelineArn: ctx.pipelineArn,
        pipelineExecutionId: ctx.executionId,
      },
      inputArtifacts: ctx.inputArtifacts.map(location),
      outputArtifacts: ctx.outputArtifacts.map(location),
      artifactCredentials: await artifactCredentials(ctx),
      ...(continuationToken !== undefined ? { continuationToken } : {}),
      ...(ctx.encryptionKey ? { encryptionKey: { ...ctx.encryptionKey } } : {}),
    },
  };
}

/** The event the function gets: the job, with the parts of its data AWS sends Lambda. */
function jobEvent(d: JobDetailsOut) {
  const { actionTypeId: _type, pipelineContext: _context, ...data } = d.data!;
  // an artifact without a revision (every output) says so with null
  const artifacts = (list: typeof data.inputArtifacts) => (list ?? []).map((a) => ({ ...a, revision: a.revision ?? null }));
  return {
    'CodePipeline.job': {
      id: d.id,
      accountId: d.accountId,
      data: { ...data, inputArtifacts: artifacts(data.inputArtifacts), outputArtifacts: artifacts(data.outputArtifacts) },
    },
  };
}

const duration = (ms: number) =>
  ms % 60_000 === 0 ? `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}` : `${Math.round(ms / 1000)} seconds`;

type Outcome = JobAnswer | { kind: 'timeout' } | { kind: 'stopped' };

function waitForAnswer(ctx: ActionContext, job: Job, deadline: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const finish = (o: Outcome) => {
      if (!job.answer) return;
      job.answer = undefined;
      timer.cancel();
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const timer = ctx.env.clock.setTimeout(() => finish({ kind: 'timeout' }), Math.max(0, deadline - ctx.env.clock.now()));
    const onAbort = () => finish({ kind: 'stopped' });
    ctx.signal.addEventListener('abort', onAbort);
    job.answer = finish;
  });
}

async function runJobs(ctx: ActionContext, continuationToken: string | undefined): Promise<ActionResult> {
  const functionName = ctx.configuration.FunctionName;
  for (;;) {
    if (ctx.signal.aborted) return failed('Stopped', 'JobFailed');
    const id = randomUUID();
    const deadline = ctx.env.clock.now() + JOB_TIMEOUT_MS;
    ctx.save({ jobId: id, continuationToken });
    const job: Job = { id, account: ctx.account, details: await jobDetails(ctx, id, continuationToken) };
    keep(job);
    // the job waits before the function runs: it may answer before Invoke returns
    const answered = waitForAnswer(ctx, job, deadline);
    if (!ctx.env.services.has('lambda'))
      job.answer!({ kind: 'failure', type: 'JobFailed', message: 'opsbox service lambda is not running' });
    else
      try {
        await ctx.env.services.call(
          'lambda',
          'Invoke',
          { FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(jobEvent(job.details))) },
          { account: ctx.account, region: ctx.region },
        );
      } catch (err) {
        const message = err instanceof AwsError ? `${err.code}: ${err.message}` : String((err as Error).message ?? err);
        job.answer?.({ kind: 'failure', type: 'JobFailed', message });
      }
    const o = await answered;
    if (o.kind === 'stopped') return failed('Stopped', 'JobFailed');
    if (o.kind === 'timeout')
      return failed(
        `The job timed out: function ${functionName} did not call PutJobSuccessResult or PutJobFailureResult within ${duration(JOB_TIMEOUT_MS)}`,
        'JobFailed',
      );
    if (o.kind === 'failure')
      return {
        status: 'Failed',
        errorCode: o.type,
        errorMessage: o.message,
        summary: o.message,
        externalExecutionId: o.externalExecutionId,
      };
    if (o.continuationToken === undefined)
      return {
        status: 'Succeeded',
        summary: o.summary,
        externalExecutionId: o.externalExecutionId,
        outputVariables: o.outputVariables ?? {},
      };
    continuationToken = o.continuationToken;
  }
}

export function registerLambdaProvider() {
  registerActionProvider('Invoke', 'AWS', 'Lambda', {
    inputs: [0, 5],
    outputs: [0, 5],
    required: ['FunctionName'],
    optional: ['UserParameters'],
    run: (ctx) => runJobs(ctx, undefined),
    resume: (ctx) => runJobs(ctx, ctx.saved.continuationToken as string | undefined),
  });
}
