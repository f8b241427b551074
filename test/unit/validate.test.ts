/** The gateway's validator against botocore's full models: constraints anywhere in the input, in AWS's message form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateInput } from '../../src/gateway/validate.js';
import { loadModel } from '../../src/model/model.js';

function problems(modelId: string, operation: string, input: Record<string, unknown>, patch = {}) {
  const model = loadModel(modelId);
  try {
    validateInput(model, operation, model.operation(operation)!.input, input, patch, 'ValidationException');
    return undefined;
  } catch (e: any) {
    return `${e.code}: ${e.message}`;
  }
}

test('nested members: list items of structures and their nested structures are checked, paths as AWS prints them', () => {
  const longId = 'x'.repeat(65);
  assert.equal(
    problems('events-2015-10-07', 'PutTargets', {
      Rule: 'r',
      Targets: [
        { Id: 'ok', Arn: 'arn:aws:sns:us-east-1:000000000000:t' },
        { Id: longId, Arn: 'arn:aws:sns:us-east-1:000000000000:t', RetryPolicy: { MaximumRetryAttempts: 200 } },
      ],
    }),
    `ValidationException: 2 validation errors detected: Value '${longId}' at 'targets.2.member.id' failed to satisfy constraint: Member must have length less than or equal to 64; ` +
      `Value '200' at 'targets.2.member.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185`,
  );
  assert.equal(
    problems('events-2015-10-07', 'PutTargets', { Rule: 'r', Targets: [{ Id: 'a b', Arn: 'arn:x' }] }),
    "ValidationException: 1 validation error detected: Value 'a b' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
  );
});

test('list items of scalars, top-level constraints from the model, and the patch overriding the model', () => {
  assert.match(
    problems('iam-2010-05-08', 'UntagRole', { RoleName: 'r', TagKeys: ['ok', ''] })!,
    /Value '' at 'tagKeys\.2\.member' failed to satisfy constraint: Member must have length greater than or equal to 1/,
  );
  assert.match(
    problems('iam-2010-05-08', 'TagRole', {
      RoleName: 'r',
      Tags: [
        { Key: 'k', Value: 'v' },
        { Key: 'bad<key>', Value: 'v' },
      ],
    })!,
    /at 'tags\.2\.member\.key' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  );
  assert.match(
    problems('iam-2010-05-08', 'CreateRole', { RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: '{}' })!,
    /at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64/,
  );
  assert.equal(
    problems(
      'iam-2010-05-08',
      'CreateRole',
      { RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: '{}' },
      { constraints: { RoleName: { max: 100 } } },
    ),
    undefined,
  );
  assert.equal(
    problems('iam-2010-05-08', 'CreateRole', { RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: '{}' }, { modelConstraints: false }),
    undefined,
  );
});

test('valid input passes; enums are checked; recursive shapes do not loop', () => {
  assert.equal(
    problems('events-2015-10-07', 'PutTargets', { Rule: 'r', Targets: [{ Id: 'ok', Arn: 'arn:aws:sns:us-east-1:000000000000:t' }] }),
    undefined,
  );
  assert.match(
    problems('logs-2014-03-28', 'DescribeLogStreams', { logGroupName: 'g', orderBy: 'Nope' })!,
    /Value 'Nope' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: \[LogStreamName, LastEventTime\]/,
  );
  assert.equal(
    problems('codepipeline-2015-07-09', 'CreatePipeline', {
      pipeline: { name: 'p', roleArn: 'arn:aws:iam::000000000000:role/r', stages: [] },
    }),
    undefined,
  );
});
