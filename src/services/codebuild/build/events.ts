/**
 * The bus events of a build, shaped as AWS's "CodeBuild Build State Change" (when it starts and
 * ends) and "CodeBuild Build Phase Change" (each phase that ends), with the additional-information
 * block EventBridge rules and CodePipeline read.
 */
import type { Scope } from '../../../core/arn.js';
import type { EventBus } from '../../../core/events.js';
import type { BuildDoc } from '../store.js';

function additional(doc: BuildDoc) {
  return {
    'build-number': doc.buildNumber,
    initiator: doc.initiator,
    'build-start-time': new Date(doc.startTime).toISOString(),
    source: doc.source,
    'source-version': doc.sourceVersion,
    artifact: { location: doc.artifacts?.location ?? '' },
    environment: doc.environment,
    logs: { 'group-name': doc.logs.groupName, 'stream-name': doc.logs.streamName, 'deep-link': doc.logs.deepLink },
    phases: doc.phases,
    'queued-timeout-in-minutes': doc.queuedTimeoutInMinutes,
    'timeout-in-minutes': doc.timeoutInMinutes,
    'build-complete': !!doc.buildComplete,
  };
}

export function publishStateChange(bus: EventBus, scope: Scope, doc: BuildDoc) {
  bus.publish({
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    account: scope.account,
    region: scope.region,
    resources: [doc.arn],
    detail: {
      'build-status': doc.buildStatus,
      'project-name': doc.projectName,
      'build-id': doc.arn,
      'current-phase': doc.currentPhase,
      'current-phase-context': '[]',
      'additional-information': additional(doc),
      version: '1',
    },
  });
}

export function publishPhaseChange(
  bus: EventBus,
  scope: Scope,
  doc: BuildDoc,
  phase: { phaseType: string; phaseStatus: string; startTime: number; endTime: number },
  context: { statusCode: string; message: string },
) {
  bus.publish({
    'detail-type': 'CodeBuild Build Phase Change',
    source: 'aws.codebuild',
    account: scope.account,
    region: scope.region,
    resources: [doc.arn],
    detail: {
      'completed-phase': phase.phaseType,
      'completed-phase-status': phase.phaseStatus,
      'completed-phase-duration-seconds': (phase.endTime - phase.startTime) / 1000,
      'completed-phase-start': new Date(phase.startTime).toISOString(),
      'completed-phase-end': new Date(phase.endTime).toISOString(),
      'completed-phase-context': `[${context.statusCode ? `${context.statusCode}: ${context.message}` : ': '}]`,
      'project-name': doc.projectName,
      'build-id': doc.arn,
      'additional-information': additional(doc),
      version: '1',
    },
  });
}
