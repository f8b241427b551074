/** CloudWatch's constraints and validation code (the gateway's validator and the PutMetricData worker read it). */
import type { ModelPatch } from '../../model/patch.js';

const ALARM_NAME = { min: 1, max: 255 };

/** The model id the gateway and the PutMetricData worker both load. */
export const cloudwatchModelId = 'cloudwatch-2010-08-01';

export const cloudwatchPatch: ModelPatch = {
  validationErrorCode: 'ValidationError',
  // CloudWatch words most limits itself (InvalidParameterValue "The collection MetricData must not have a size greater than 1000."): only the constraints below are checked generically
  modelConstraints: false,
  constraints: {
    Namespace: { min: 1, max: 255, pattern: '[^:].*' },
    MetricName: { min: 1, max: 255 },
    AlarmName: ALARM_NAME,
    AlarmNamePrefix: ALARM_NAME,
    AlarmNames: { max: 100 },
    AlarmDescription: { max: 1024 },
    AlarmRule: { min: 1, max: 10240 },
    EvaluationPeriods: { min: 1 },
    DatapointsToAlarm: { min: 1 },
    'PutMetricAlarm.Period': { min: 1 },
    'GetMetricStatistics.Period': { min: 1 },
    ComparisonOperator: {
      enum: [
        'GreaterThanOrEqualToThreshold',
        'GreaterThanThreshold',
        'LessThanThreshold',
        'LessThanOrEqualToThreshold',
        'LessThanLowerOrGreaterThanUpperThreshold',
        'LessThanLowerThreshold',
        'GreaterThanUpperThreshold',
      ],
    },
    TreatMissingData: { enum: ['breaching', 'notBreaching', 'ignore', 'missing'] },
    EvaluateLowSampleCountPercentile: { enum: ['evaluate', 'ignore'] },
    StateValue: { enum: ['OK', 'ALARM', 'INSUFFICIENT_DATA'] },
    StateReason: { max: 1023 },
    StateReasonData: { max: 4000 },
    HistoryItemType: { enum: ['ConfigurationUpdate', 'StateUpdate', 'Action', 'AlarmContributorStateUpdate', 'AlarmContributorAction'] },
    ScanBy: { enum: ['TimestampDescending', 'TimestampAscending'] },
    'DescribeAlarms.MaxRecords': { min: 1, max: 100 },
    'DescribeAlarmHistory.MaxRecords': { min: 1, max: 100 },
    DashboardBody: { min: 1 },
    DashboardNames: { min: 1 },
  },
};
