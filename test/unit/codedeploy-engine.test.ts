/** CodeDeploy's pure parts: traffic steps per config, batches per minimum healthy hosts, AppSpec parsing. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppSpecError, parseLambdaAppSpec, parseServerAppSpec } from '../../src/services/codedeploy/engine/appspec.js';
import { batchPlan } from '../../src/services/codedeploy/engine/server.js';
import { trafficSteps } from '../../src/services/codedeploy/engine/traffic.js';

describe('trafficSteps', () => {
  test('all at once, canary, linear', () => {
    assert.deepEqual(trafficSteps({ type: 'AllAtOnce' }), [{ weight: 100, waitMinutes: 0 }]);
    assert.deepEqual(trafficSteps({ type: 'TimeBasedCanary', timeBasedCanary: { canaryPercentage: 10, canaryInterval: 5 } }), [
      { weight: 10, waitMinutes: 5 },
      { weight: 100, waitMinutes: 0 },
    ]);
    assert.deepEqual(
      trafficSteps({ type: 'TimeBasedLinear', timeBasedLinear: { linearPercentage: 30, linearInterval: 2 } }).map((s) => [
        s.weight,
        s.waitMinutes,
      ]),
      [
        [30, 2],
        [60, 2],
        [90, 2],
        [100, 0],
      ],
    );
  });
});

describe('batchPlan', () => {
  test('OneAtATime goes one by one; HalfAtATime half; AllAtOnce all; HOST_COUNT keeps that many healthy', () => {
    assert.deepEqual(batchPlan(3, { type: 'FLEET_PERCENT', value: 100 }, true), { batch: 1, maxFailures: 0, lastMayFail: true });
    assert.deepEqual(batchPlan(4, { type: 'FLEET_PERCENT', value: 50 }, false), { batch: 2, maxFailures: 2, lastMayFail: false });
    assert.deepEqual(batchPlan(5, { type: 'FLEET_PERCENT', value: 50 }, false), { batch: 2, maxFailures: 2, lastMayFail: false });
    assert.deepEqual(batchPlan(3, { type: 'HOST_COUNT', value: 0 }, false), { batch: 3, maxFailures: 3, lastMayFail: false });
    assert.deepEqual(batchPlan(3, { type: 'HOST_COUNT', value: 3 }, false), { batch: 1, maxFailures: 0, lastMayFail: false });
  });
});

describe('AppSpec', () => {
  test('Lambda: resource, versions and hooks in list or map form', () => {
    const spec = parseLambdaAppSpec(`version: 0.0
Resources:
  - fn:
      Type: AWS::Lambda::Function
      Properties: { Name: greet, Alias: live, CurrentVersion: 1, TargetVersion: 2 }
Hooks:
  - BeforeAllowTraffic: check
`);
    assert.deepEqual(spec, {
      name: 'greet',
      alias: 'live',
      currentVersion: '1',
      targetVersion: '2',
      hooks: { BeforeAllowTraffic: 'check' },
    });
    assert.throws(() => parseLambdaAppSpec('Resources: []'), AppSpecError);
    assert.throws(
      () =>
        parseLambdaAppSpec(
          'Resources: [{fn: {Type: AWS::Lambda::Function, Properties: {Name: a, Alias: b, CurrentVersion: 1, TargetVersion: 2}}}]\nHooks: [{ApplicationStart: x}]',
        ),
      /ApplicationStart is not a lifecycle event of Lambda deployments/,
    );
  });

  test('Server: files, permissions, hooks with timeouts; a bad version or hook name is refused', () => {
    const spec = parseServerAppSpec(`version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
hooks:
  ApplicationStart:
    - location: start.sh
      timeout: 60
file_exists_behavior: OVERWRITE
`);
    assert.deepEqual(spec.files, [{ source: '/', destination: '/srv/app' }]);
    assert.deepEqual(spec.hooks.ApplicationStart, [{ location: 'start.sh', timeout: 60, runas: undefined }]);
    assert.equal(spec.fileExistsBehavior, 'OVERWRITE');
    assert.throws(() => parseServerAppSpec('version: 1.0'), /version: 0.0/);
    assert.throws(() => parseServerAppSpec('version: 0.0\nhooks:\n  Deploy: [{location: x}]'), /Deploy is not a lifecycle event/);
    assert.throws(() => parseServerAppSpec('version: 0.0\nhooks:\n  AfterInstall: [{location: x, timeout: 7200}]'), /timeout/);
  });
});
