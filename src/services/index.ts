/** Every service opsbox serves. Adding one: docs/adding-a-service.md. */
import type { ServiceSpec } from '../gateway/service.js';
import { cloudwatch } from './cloudwatch/index.js';
import { codebuild } from './codebuild/index.js';
import { codecommit } from './codecommit/index.js';
import { codedeploy } from './codedeploy/index.js';
import { codepipeline } from './codepipeline/index.js';
import { ecr } from './ecr/index.js';
import { events } from './events/index.js';
import { iam } from './iam/index.js';
import { kms } from './kms/index.js';
import { lambda } from './lambda/index.js';
import { logs } from './logs/index.js';
import { s3 } from './s3/index.js';
import { secretsmanager } from './secretsmanager/index.js';
import { sns } from './sns/index.js';
import { ssm } from './ssm/index.js';
import { sts } from './sts/index.js';
import { xray } from './xray/index.js';

export function allServices(): ServiceSpec[] {
  return [
    sts,
    iam,
    kms,
    ssm,
    secretsmanager,
    s3,
    logs,
    cloudwatch,
    events,
    sns,
    codecommit,
    codebuild,
    codepipeline,
    ecr,
    lambda,
    codedeploy,
    xray,
  ];
}
