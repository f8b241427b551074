/**
 * The job worker's side of an action: GetJobDetails, PutJobSuccessResult and PutJobFailureResult
 * for the jobs the Lambda Invoke action gives its function (providers/lambda.ts). A job answers
 * once; a job of another account is not found.
 */
import { AwsError } from '../../core/errors.js';
import type { CodepipelineHandlers } from './api.generated.js';
import { findJob, type Job } from './providers/lambda.js';

const notFound = (id: string) => new AwsError('JobNotFoundException', `The job ${id} was not found.`);

function pending(id: string, account: string): Job & { answer: NonNullable<Job['answer']> } {
  const job = findJob(id, account);
  if (!job) throw notFound(id);
  if (!job.answer) throw new AwsError('InvalidJobStateException', `The job ${id} has already been completed, timed out or been stopped.`);
  return job as Job & { answer: NonNullable<Job['answer']> };
}

export function jobHandlers(): CodepipelineHandlers {
  return {
    GetJobDetails(input, ctx) {
      const job = findJob(input.jobId, ctx.account);
      if (!job) throw notFound(input.jobId);
      return { jobDetails: structuredClone(job.details) };
    },

    PutJobSuccessResult(input, ctx) {
      if (input.continuationToken !== undefined && input.outputVariables !== undefined)
        throw new AwsError(
          'ValidationException',
          'outputVariables can be included only when there is no continuation token on the request.',
        );
      pending(input.jobId, ctx.account).answer({
        kind: 'success',
        continuationToken: input.continuationToken,
        outputVariables: input.outputVariables,
        summary: input.executionDetails?.summary,
        externalExecutionId: input.executionDetails?.externalExecutionId,
      });
    },

    PutJobFailureResult(input, ctx) {
      pending(input.jobId, ctx.account).answer({
        kind: 'failure',
        type: input.failureDetails.type,
        message: input.failureDetails.message,
        externalExecutionId: input.failureDetails.externalExecutionId,
      });
    },
  };
}
