/**
 * The execution's state changes on the internal bus, shaped as AWS's EventBridge events:
 * "CodePipeline Pipeline Execution State Change", "… Stage Execution …" and "… Action Execution …"
 * (source aws.codepipeline, the pipeline ARN as resource).
 */
import type { ServiceEnv } from '../../gateway/service.js';
import type { ActionRecord, Live } from './engine.js';
import type { ActionDeclaration } from './providers/registry.js';
import type { Scope } from './store.js';

const eventTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ExecutionEvents {
  constructor(
    private env: ServiceEnv,
    private pipelineArn: (s: Scope, name: string) => string,
  ) {}

  private emit(live: Live, detailType: string, detail: Record<string, unknown>) {
    const r = live.row;
    this.env.bus.publish({
      source: 'aws.codepipeline',
      'detail-type': detailType,
      account: r.account,
      region: r.region,
      time: eventTime(this.env.clock.now()),
      resources: [this.pipelineArn(r, r.pipeline)],
      detail: { pipeline: r.pipeline, 'execution-id': r.id, ...detail, version: r.version },
    });
  }

  pipeline(live: Live, state: string) {
    const t = live.state.trigger;
    this.emit(live, 'CodePipeline Pipeline Execution State Change', {
      'start-time': eventTime(live.row.started),
      'execution-trigger': { 'trigger-type': t.triggerType, ...(t.triggerDetail ? { 'trigger-detail': t.triggerDetail } : {}) },
      state,
      ...(live.state.stop?.reason && (state === 'STOPPING' || state === 'STOPPED') ? { 'stop-reason': live.state.stop.reason } : {}),
    });
  }

  stage(live: Live, stage: string, state: string) {
    this.emit(live, 'CodePipeline Stage Execution State Change', { 'start-time': eventTime(live.row.started), stage, state });
  }

  action(live: Live, stage: string, decl: ActionDeclaration, id: string, state: string, record: ActionRecord) {
    const t = decl.actionTypeId;
    const r = record.result;
    this.emit(live, 'CodePipeline Action Execution State Change', {
      'execution-result': r
        ? {
            'external-execution-state': state === 'SUCCEEDED' ? 'Succeeded' : state === 'FAILED' ? 'Failed' : 'Abandoned',
            ...(r.externalExecutionId ? { 'external-execution-id': r.externalExecutionId } : {}),
            ...(r.externalExecutionUrl ? { 'external-execution-url': r.externalExecutionUrl } : {}),
            ...(r.summary ? { 'external-execution-summary': r.summary } : {}),
            ...(r.errorCode ? { 'error-code': r.errorCode } : {}),
          }
        : undefined,
      'start-time': eventTime(live.row.started),
      stage,
      'action-execution-id': id,
      action: decl.name,
      state,
      region: record.input.region,
      type: { owner: t.owner, provider: t.provider, category: t.category, version: t.version },
      'input-artifacts': record.input.inputArtifacts.map((a) => ({ name: a.name, s3location: { bucket: a.bucket, key: a.key } })),
      ...(state === 'SUCCEEDED'
        ? { 'output-artifacts': record.outputs.map((a) => ({ name: a.name, s3location: { bucket: a.bucket, key: a.key } })) }
        : {}),
    });
  }
}
