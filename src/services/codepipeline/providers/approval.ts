/**
 * Manual approval: the action waits for PutApprovalResult with its token, notifies the
 * NotificationArn (an SNS topic) with AWS's approval message, and fails after 7 days without an
 * answer. Pending approvals live here; after a restart the action re-waits with the saved token.
 */
import { randomUUID } from 'node:crypto';
import { log } from '../../../core/log.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult } from './registry.js';

export const APPROVAL_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

export interface ApprovalAnswer {
  status: 'Approved' | 'Rejected';
  summary?: string;
  by: string;
}

interface Pending {
  token: string;
  answer(a: ApprovalAnswer): void;
}

/** By action execution id. */
const pending = new Map<string, Pending>();

export function pendingApproval(actionExecutionId: string) {
  return pending.get(actionExecutionId);
}

function waitForAnswer(ctx: ActionContext, token: string, expiresAt: number): Promise<ActionResult> {
  return new Promise((resolve) => {
    const finish = (r: ActionResult) => {
      pending.delete(ctx.actionExecutionId);
      timer.cancel();
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const timer = ctx.env.clock.setTimeout(
      () => finish(failed('The approval request has expired. Approval actions time out after 7 days.', 'JobFailed')),
      Math.max(0, expiresAt - ctx.env.clock.now()),
    );
    const onAbort = () => finish(failed('Stopped', 'JobFailed'));
    ctx.signal.addEventListener('abort', onAbort);
    pending.set(ctx.actionExecutionId, {
      token,
      answer: (a) =>
        finish(
          a.status === 'Approved'
            ? { status: 'Succeeded', summary: a.summary, outputVariables: {} }
            : {
                status: 'Failed',
                summary: a.summary,
                errorCode: 'JobFailed',
                errorMessage: `Rejected by ${a.by}${a.summary ? `: ${a.summary}` : ''}`,
              },
        ),
    });
  });
}

async function requestApproval(ctx: ActionContext): Promise<ActionResult> {
  const token = randomUUID();
  const expiresAt = ctx.env.clock.now() + APPROVAL_TIMEOUT_MS;
  ctx.save({ token, expiresAt });
  const c = ctx.configuration;
  if (c.NotificationArn) {
    const consoleLink = `https://console.aws.amazon.com/codesuite/codepipeline/pipelines/${ctx.pipelineName}/view?region=${ctx.region}`;
    const message = {
      region: ctx.region,
      consoleLink,
      approval: {
        pipelineName: ctx.pipelineName,
        stageName: ctx.stageName,
        actionName: ctx.action.name,
        token,
        expires: new Date(expiresAt).toISOString().replace(/:\d{2}\.\d{3}Z$/, 'Z'),
        externalEntityLink: c.ExternalEntityLink ?? null,
        approvalReviewLink: `${consoleLink}#/${ctx.stageName}/${ctx.action.name}/approve/${token}`,
        customData: c.CustomData ?? null,
      },
    };
    ctx.env.targets
      .invoke({
        arn: c.NotificationArn,
        account: ctx.account,
        region: ctx.region,
        payload: JSON.stringify(message),
        subject: `APPROVAL NEEDED: AWS CodePipeline ${ctx.pipelineName} for action ${ctx.action.name}`.slice(0, 100),
        source: 'codepipeline',
      })
      .catch((err) => log.warn('codepipeline: approval notification failed', { arn: c.NotificationArn, err: String(err) }));
  }
  return waitForAnswer(ctx, token, expiresAt);
}

async function resumeApproval(ctx: ActionContext): Promise<ActionResult> {
  const token = ctx.saved.token as string | undefined;
  if (!token) return requestApproval(ctx);
  return waitForAnswer(ctx, token, Number(ctx.saved.expiresAt ?? ctx.env.clock.now() + APPROVAL_TIMEOUT_MS));
}

export function registerApprovalProvider() {
  registerActionProvider('Approval', 'AWS', 'Manual', {
    inputs: [0, 0],
    outputs: [0, 0],
    required: [],
    optional: ['NotificationArn', 'CustomData', 'ExternalEntityLink'],
    run: requestApproval,
    resume: resumeApproval,
  });
}
