import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../src/core/clock.js';
import type { AwsError } from '../../src/core/errors.js';
import { ecr } from '../../src/services/ecr/index.js';
import type { EcrInstance } from '../../src/services/ecr/index.js';
import {
  evaluateLifecycle,
  LifecyclePolicyError,
  parseLifecyclePolicy,
  selects,
  type LifecycleImage,
  type LifecycleRule,
} from '../../src/services/ecr/lifecycle.js';
import { PREVIEW_MS } from '../../src/services/ecr/lifecyclePolicies.js';
import { InProcessOpsbox } from '../helpers/inProcess.js';

const DAY = 86_400_000;
const NOW = Date.parse('2024-06-01T00:00:00Z');

type Sel = LifecycleRule['selection'];
const rule = (rulePriority: number, selection: Partial<Sel> & Pick<Sel, 'tagStatus'>) => ({
  rulePriority,
  selection: { countType: 'imageCountMoreThan', countNumber: 1, ...selection },
  action: { type: 'expire' },
});
const policyText = (...rules: unknown[]) => JSON.stringify({ rules });
const image = (digest: string, tags: string[], daysAgo: number): LifecycleImage => ({ digest, tags, pushedAt: NOW - daysAgo * DAY });
/** The digests `rules` expire, with the rule expiring each: "A@1". */
const expire = (images: LifecycleImage[], ...rules: unknown[]) =>
  evaluateLifecycle(parseLifecyclePolicy(policyText(...rules)), images, NOW).map((e) => `${e.image.digest}@${e.rulePriority}`);

describe('parseLifecyclePolicy: what PutLifecyclePolicy refuses', () => {
  const refuses = (text: string, message: string | RegExp) =>
    assert.throws(
      () => parseLifecyclePolicy(text),
      (err: unknown) => {
        assert.ok(err instanceof LifecyclePolicyError);
        if (typeof message === 'string') assert.equal(err.message, message);
        else assert.match(err.message, message);
        return true;
      },
    );

  test('a valid policy with every kind of rule parses', () => {
    const p = parseLifecyclePolicy(
      policyText(
        { ...rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 5 }), description: 'releases' },
        rule(2, { tagStatus: 'tagged', tagPatternList: ['prod-*'] }),
        rule(3, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }),
        rule(10, { tagStatus: 'any', countNumber: 100 }),
      ),
    );
    assert.equal(p.rules.length, 4);
    assert.equal(p.rules[0].description, 'releases');
    assert.deepEqual(p.rules[2].selection, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 });
  });

  test('not JSON, not an object, no rules', () => {
    refuses('{"rules": [', 'Could not map policyString into LifecyclePolicy.');
    refuses('[1, 2]', 'Could not map policyString into LifecyclePolicy.');
    refuses('{"rulez": []}', 'object has missing required properties (["rules"])');
    refuses('{"rules": {}}', 'instance type (object) does not match any allowed primitive type (allowed: ["array"])');
    refuses('{"rules": []}', /array is too short/);
    refuses('{"rules": ["x"]}', 'instance type (string) does not match any allowed primitive type (allowed: ["object"])');
  });

  test('rule, selection and action properties are checked against the schema', () => {
    refuses(policyText({ rulePriority: 1, action: { type: 'expire' } }), 'object has missing required properties (["selection"])');
    refuses(
      policyText({ ...rule(1, { tagStatus: 'any' }), extra: 1 }),
      'object instance has properties which are not allowed by the schema: (["extra"])',
    );
    refuses(
      policyText({ ...rule(1, { tagStatus: 'any' }), action: { type: 'archive' } }),
      /instance value \("archive"\) not found in enum/,
    );
    refuses(
      policyText(rule(1, { tagStatus: 'some' as 'any' })),
      'instance value ("some") not found in enum (possible values: ["any","tagged","untagged"])',
    );
    refuses(policyText(rule(0, { tagStatus: 'any' })), 'numeric instance is lower than the required minimum (minimum: 1, found: 0)');
    refuses(
      policyText(rule(1, { tagStatus: 'any', countNumber: 0 })),
      'numeric instance is lower than the required minimum (minimum: 1, found: 0)',
    );
    refuses(policyText(rule(1, { tagStatus: 'any', countNumber: 1.5 })), /instance type \(number\) does not match/);
  });

  test('countUnit: days is required for sinceImagePushed and forbidden for imageCountMoreThan', () => {
    const oneOf = 'instance failed to match exactly one schema (matched 0 out of 2)';
    refuses(policyText(rule(1, { tagStatus: 'any', countType: 'sinceImagePushed' })), oneOf);
    refuses(policyText(rule(1, { tagStatus: 'any', countUnit: 'days' })), oneOf);
    refuses(policyText(rule(1, { tagStatus: 'any', countType: 'sinceImagePulled' as 'sinceImagePushed', countUnit: 'days' })), oneOf);
    refuses(
      policyText(rule(1, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'hours' as 'days' })),
      /instance value \("hours"\)/,
    );
  });

  test('tag lists: required for tagged (one of them), forbidden otherwise, at most four wildcards', () => {
    refuses(policyText(rule(1, { tagStatus: 'tagged' })), /must specify tagPrefixList or tagPatternList/);
    refuses(policyText(rule(1, { tagStatus: 'tagged', tagPrefixList: ['a'], tagPatternList: ['b*'] })), /not specify both/);
    refuses(policyText(rule(1, { tagStatus: 'untagged', tagPrefixList: ['a'] })), /tagStatus 'untagged' and must not specify/);
    refuses(policyText(rule(1, { tagStatus: 'any', tagPatternList: ['a*'] })), /tagStatus 'any' and must not specify/);
    refuses(policyText(rule(1, { tagStatus: 'tagged', tagPrefixList: [] })), /array is too short/);
    refuses(policyText(rule(1, { tagStatus: 'tagged', tagPatternList: ['test*1*2*3*4*5*6'] })), /more than 4 wildcards/);
    parseLifecyclePolicy(policyText(rule(1, { tagStatus: 'tagged', tagPatternList: ['*test*1*2*3', 'test*1*2*3*'] })));
  });

  test('priorities are unique, and a rule for any image comes last; one rule for untagged images', () => {
    refuses(
      policyText(rule(1, { tagStatus: 'untagged' }), rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'] })),
      /priority 1 is used by more than one rule/,
    );
    refuses(
      policyText(rule(1, { tagStatus: 'any' }), rule(2, { tagStatus: 'untagged' })),
      /tagStatus 'any' and must have the highest rulePriority/,
    );
    refuses(
      policyText(rule(1, { tagStatus: 'untagged' }), rule(2, { tagStatus: 'untagged', countNumber: 3 })),
      /Only one rule may select untagged/,
    );
    parseLifecyclePolicy(policyText(rule(20, { tagStatus: 'any' }), rule(5, { tagStatus: 'untagged' })));
  });
});

describe('selects: which images a rule identifies', () => {
  const tagged = (s: Partial<Sel>) => ({ tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1, ...s }) as Sel;
  test('tagStatus any, untagged, tagged', () => {
    assert.equal(selects({ ...tagged({}), tagStatus: 'any' }, []), true);
    assert.equal(selects({ ...tagged({}), tagStatus: 'untagged' }, []), true);
    assert.equal(selects({ ...tagged({}), tagStatus: 'untagged' }, ['v1']), false);
    assert.equal(selects(tagged({ tagPrefixList: ['v'] }), []), false);
  });
  test('tagPrefixList: every prefix must start one of the tags', () => {
    assert.equal(selects(tagged({ tagPrefixList: ['v'] }), ['latest', 'v1.2']), true);
    assert.equal(selects(tagged({ tagPrefixList: ['alpha', 'beta'] }), ['alpha-1']), false);
    assert.equal(selects(tagged({ tagPrefixList: ['alpha', 'beta'] }), ['alpha-1', 'beta-1']), true);
    assert.equal(selects(tagged({ tagPrefixList: ['V'] }), ['v1']), false);
  });
  test('tagPatternList: * is any run of characters, the rest is literal, the whole tag must match', () => {
    assert.equal(selects(tagged({ tagPatternList: ['prod*'] }), ['prod']), true);
    assert.equal(selects(tagged({ tagPatternList: ['prod*'] }), ['prod2']), true);
    assert.equal(selects(tagged({ tagPatternList: ['prod*'] }), ['preprod']), false);
    assert.equal(selects(tagged({ tagPatternList: ['*-rc*'] }), ['1.0-rc2']), true);
    assert.equal(selects(tagged({ tagPatternList: ['latest'] }), ['latest-1']), false);
    assert.equal(selects(tagged({ tagPatternList: ['v1.*'] }), ['v1x2']), false, '. is literal');
    assert.equal(selects(tagged({ tagPatternList: ['prod*', '*-arm64'] }), ['prod-1', 'x-arm64']), true);
    assert.equal(selects(tagged({ tagPatternList: ['prod*', '*-arm64'] }), ['prod-1']), false);
  });
});

describe('evaluateLifecycle', () => {
  test('imageCountMoreThan keeps the newest N matching images and expires the rest, oldest first', () => {
    const images = [image('A', ['v1'], 5), image('B', ['v2'], 4), image('C', ['v3'], 3), image('D', ['v4'], 2), image('E', ['latest'], 1)];
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 2 })), ['A@1', 'B@1']);
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 10 })), []);
  });

  test('sinceImagePushed expires matching images pushed more than N days ago', () => {
    const images = [image('A', [], 30), image('B', [], 8), image('C', [], 6), image('D', ['v1'], 30)];
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 })), [
      'A@1',
      'B@1',
    ]);
  });

  test('an image identified by a higher priority rule is never expired by a later one (AWS: any after tagged)', () => {
    // AWS's example: rule 1 keeps one alpha image, rule 2 keeps one image of all
    const images = [image('A', ['alpha-1'], 4), image('B', [], 3), image('C', ['alpha-2'], 2), image('D', ['git-abc'], 1)];
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha'] }), rule(2, { tagStatus: 'any' })), [
      'A@1',
      'B@2',
    ]);
  });

  test('a rule still counts images a higher rule identified, as if they were there', () => {
    // A and B carry both prefixes: rule 1 keeps B and expires A; rule 2 sees A, B, C and keeps C only, but B is rule 1's
    const images = [image('A', ['alpha-1', 'beta-1'], 3), image('B', ['alpha-2', 'beta-2'], 2), image('C', ['beta-3'], 1)];
    assert.deepEqual(
      expire(images, rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha'] }), rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'] })),
      ['A@1'],
    );
    const more = [...images, image('D', ['beta-4'], 0.5)];
    assert.deepEqual(
      expire(more, rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha'] }), rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'] })),
      ['A@1', 'C@2'],
    );
  });

  test('rules apply in rulePriority order, not document order', () => {
    const images = [image('A', ['v1'], 3), image('B', ['v2'], 2), image('C', ['v3'], 1)];
    assert.deepEqual(
      expire(images, rule(9, { tagStatus: 'any', countNumber: 1 }), rule(3, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 2 })),
      ['A@3'],
    );
  });

  test('a protective rule with a high count keeps what it identifies from later rules', () => {
    const images = [image('A', ['16.1'], 40), image('B', ['16_1'], 30), image('C', ['16_2'], 20), image('D', [], 10)];
    assert.deepEqual(
      expire(
        images,
        rule(1, { tagStatus: 'tagged', tagPrefixList: ['16.'], countNumber: 9999 }),
        rule(2, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 15 }),
      ),
      ['B@2', 'C@2'],
    );
  });

  test('untagged and tagged rules side by side; pattern wildcards', () => {
    const images = [
      image('A', [], 6),
      image('B', [], 5),
      image('C', ['prod-1'], 4),
      image('D', ['prod-2'], 3),
      image('E', ['dev-1'], 2),
      image('F', [], 1),
    ];
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'untagged' }), rule(2, { tagStatus: 'tagged', tagPatternList: ['prod-*'] })), [
      'A@1',
      'B@1',
      'C@2',
    ]);
  });

  test('equal push times are ordered by digest, whatever the input order', () => {
    const images = [image('B', [], 1), image('A', [], 1), image('C', [], 1)];
    assert.deepEqual(expire(images, rule(1, { tagStatus: 'untagged' })), ['C@1', 'B@1']);
    assert.deepEqual(expire([...images].reverse(), rule(1, { tagStatus: 'untagged' })), ['C@1', 'B@1']);
  });
});

describe('the lifecycle engine in-process (ManualClock)', () => {
  const clock = new ManualClock(NOW);
  const box = new InProcessOpsbox([ecr], clock);
  after(() => box.close());
  const scope = { account: '000000000000', region: 'us-east-1' };
  const call = <O = any>(op: string, input: object) => box.env.services.call<O>('ecr', op, input, scope);
  const auth = `Basic ${Buffer.from('AWS:anything').toString('base64')}`;
  const route = box.gateway.routes.find((r) => r.prefix === '/v2/')!;
  async function registry(method: string, url: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}) {
    const { Readable } = await import('node:stream');
    const { CapturedResponse } = await import('../helpers/inProcess.js');
    const req = Object.assign(Readable.from(body.length ? [body] : []), {
      method,
      url,
      headers: { authorization: auth, 'content-length': String(body.length), ...headers },
    });
    const res = new CapturedResponse();
    await route.handle(req as any, res as any);
    await res.done;
    return res;
  }
  const instance = () => box.gateway.served.find((s) => s.spec.name === 'ecr')!.instance as EcrInstance;
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  async function push(repo: string, tag: string, n: number) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n }));
    const layer = Buffer.from(`layer ${n}`);
    for (const b of [config, layer])
      assert.equal((await registry('POST', `/v2/${repo}/blobs/uploads/?digest=${sha(b)}`, b)).statusCode, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
      }),
    );
    const res = await registry('PUT', `/v2/${repo}/manifests/${tag}`, manifest, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(res.statusCode, 201, res.body().toString());
    return res.headers['docker-content-digest'];
  }

  test('policies are validated, previewed, and applied by the timer with DELETE events', async () => {
    const engine = instance().lifecycle;
    const events: any[] = [];
    box.env.bus.subscribe((e) => void events.push(e));
    await call('CreateRepository', { repositoryName: 'app' });
    const digests: string[] = [];
    for (let i = 1; i <= 4; i++) {
      digests.push(await push('app', `v${i}`, i));
      clock.advance(1000);
    }
    digests.push(await push('app', 'latest', 5));

    const notFound = await call('GetLifecyclePolicy', { repositoryName: 'app' }).catch((e: AwsError) => e);
    assert.equal((notFound as AwsError).code, 'LifecyclePolicyNotFoundException');
    const bad = await call('PutLifecyclePolicy', {
      repositoryName: 'app',
      lifecyclePolicyText: policyText(
        rule(1, { tagStatus: 'untagged', tagPrefixList: ['v'] }),
        rule(2, { tagStatus: 'any', countNumber: 10 }),
      ),
    }).catch((e: AwsError) => e);
    assert.equal((bad as AwsError).code, 'InvalidParameterException');
    assert.match(
      (bad as AwsError).message,
      /^Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: .*untagged.*'$/,
    );

    const text = policyText({
      ...rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countNumber: 2 }),
      description: 'keep the last two releases',
    });
    await call('PutLifecyclePolicy', { repositoryName: 'app', lifecyclePolicyText: text });
    assert.equal((await call('GetLifecyclePolicy', { repositoryName: 'app' })).lifecyclePolicyText, text);

    const noPreview = await call('GetLifecyclePolicyPreview', { repositoryName: 'app' }).catch((e: AwsError) => e);
    assert.equal((noPreview as AwsError).code, 'LifecyclePolicyPreviewNotFoundException');
    assert.equal((await call('StartLifecyclePolicyPreview', { repositoryName: 'app' })).status, 'IN_PROGRESS');
    const busy = await call('StartLifecyclePolicyPreview', { repositoryName: 'app' }).catch((e: AwsError) => e);
    assert.equal((busy as AwsError).code, 'LifecyclePolicyPreviewInProgressException');
    assert.equal((await call('GetLifecyclePolicyPreview', { repositoryName: 'app' })).status, 'IN_PROGRESS');
    clock.advance(PREVIEW_MS);
    const preview = await call('GetLifecyclePolicyPreview', { repositoryName: 'app' });
    assert.equal(preview.status, 'COMPLETE');
    assert.deepEqual(
      preview.previewResults.map((r: any) => [r.imageDigest, r.imageTags, r.appliedRulePriority, r.action.type]),
      [
        [digests[0], ['v1'], 1, 'EXPIRE'],
        [digests[1], ['v2'], 1, 'EXPIRE'],
      ],
    );
    assert.deepEqual(preview.summary, { expiringImageTotalCount: 2 });
    const paged = await call('GetLifecyclePolicyPreview', { repositoryName: 'app', maxResults: 1 });
    assert.equal(paged.previewResults.length, 1);
    const rest = await call('GetLifecyclePolicyPreview', { repositoryName: 'app', maxResults: 1, nextToken: paged.nextToken });
    assert.equal(rest.previewResults[0].imageDigest, digests[1]);
    assert.equal(rest.nextToken, undefined);
    const untagged = await call('GetLifecyclePolicyPreview', { repositoryName: 'app', filter: { tagStatus: 'UNTAGGED' } });
    assert.equal(untagged.previewResults.length, 0);

    // a preview of another policy text leaves the stored one alone
    const other = policyText(rule(1, { tagStatus: 'any', countNumber: 1 }));
    await call('StartLifecyclePolicyPreview', { repositoryName: 'app', lifecyclePolicyText: other });
    clock.advance(PREVIEW_MS);
    const otherPreview = await call('GetLifecyclePolicyPreview', { repositoryName: 'app' });
    assert.equal(otherPreview.lifecyclePolicyText, other);
    assert.equal(otherPreview.summary.expiringImageTotalCount, 4);
    assert.equal((await call('GetLifecyclePolicy', { repositoryName: 'app' })).lifecyclePolicyText, text);

    // nothing expires before the interval; then v1 and v2 go, their manifests 404, one DELETE event each
    assert.equal((await registry('GET', '/v2/app/manifests/v1')).statusCode, 200);
    clock.advance(engine.intervalMs);
    assert.equal((await registry('GET', '/v2/app/manifests/v1')).statusCode, 404);
    assert.equal((await registry('GET', `/v2/app/manifests/${digests[1]}`)).statusCode, 404);
    for (const tag of ['v3', 'v4', 'latest']) assert.equal((await registry('GET', `/v2/app/manifests/${tag}`)).statusCode, 200, tag);
    const deletes = events.filter((e) => e['detail-type'] === 'ECR Image Action' && e.detail['action-type'] === 'DELETE');
    assert.deepEqual(
      deletes.map((e) => [e.detail['image-digest'], e.detail['image-tag'], e.detail['repository-name']]),
      [
        [digests[0], 'v1', 'app'],
        [digests[1], 'v2', 'app'],
      ],
    );
    const got = await call('GetLifecyclePolicy', { repositoryName: 'app' });
    assert.equal(new Date(got.lastEvaluatedAt).getTime(), NOW + engine.intervalMs, 'the run the timer armed at start made');

    // the next run finds nothing more; after DeleteLifecyclePolicy nothing runs at all
    clock.advance(engine.intervalMs);
    assert.equal(events.filter((e) => e.detail?.['action-type'] === 'DELETE').length, 2);
    await call('DeleteLifecyclePolicy', { repositoryName: 'app' });
    assert.equal(
      ((await call('GetLifecyclePolicy', { repositoryName: 'app' }).catch((e: AwsError) => e)) as AwsError).code,
      'LifecyclePolicyNotFoundException',
    );
    await call('PutLifecyclePolicy', { repositoryName: 'app', lifecyclePolicyText: other });
    await call('DeleteLifecyclePolicy', { repositoryName: 'app' });
    clock.advance(engine.intervalMs);
    assert.equal((await registry('GET', '/v2/app/manifests/v3')).statusCode, 200);
  });

  test('blobs of expired images are collected an hour after they were stored', async () => {
    await call('CreateRepository', { repositoryName: 'gc' });
    await push('gc', 'old', 100);
    clock.advance(2 * 3_600_000);
    await push('gc', 'new', 101);
    await call('PutLifecyclePolicy', {
      repositoryName: 'gc',
      lifecyclePolicyText: policyText(rule(1, { tagStatus: 'any', countNumber: 1 })),
    });
    const layer = sha(Buffer.from('layer 100'));
    assert.equal((await registry('GET', `/v2/gc/blobs/${layer}`)).statusCode, 200);
    const expired = instance().lifecycle.run();
    assert.deepEqual(
      expired.map((e) => e.image.tags),
      [['old']],
    );
    assert.equal((await registry('GET', `/v2/gc/blobs/${layer}`)).statusCode, 404);
    assert.equal((await registry('GET', `/v2/gc/blobs/${sha(Buffer.from('layer 101'))}`)).statusCode, 200);
  });
});
