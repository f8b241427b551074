/**
 * putDecoder.ts against the generic path it stands in for: for thousands of generated PutMetricData
 * bodies (valid and not, in every layout JSON allows), the single-pass decoder either declines
 * (undefined) or returns exactly what JSON.parse + the model walk + checkPut + foldBuckets return,
 * and it declines everything the generic path rejects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareGeneric } from '../../src/services/cloudwatch/ingest/prepare.js';
import { decodePutMetricData } from '../../src/services/cloudwatch/ingest/putDecoder.js';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

/** A seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number) {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

function generator(seed: number, messy: boolean) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const chance = (p: number) => r() < p;
  const ws = () => (messy && chance(0.2) ? pick([' ', '\n', '\t', '\r\n  ', '  ']) : '');
  const str = (s: string) => `${ws()}${JSON.stringify(s)}${ws()}`;
  const num = (): string => {
    if (!messy || chance(0.85)) return String(pick([0, 1, 2, 5, 42, 100, 499, 0.5, 12.25, -3, 1e3]));
    return pick([
      () => (r() * 1000).toFixed(Math.floor(r() * 6)),
      () => String(-r() * 1e6),
      () => String(r()),
      () => `${Math.floor(r() * 10)}e${Math.floor(r() * 5)}`,
      () => `${Math.floor(r() * 10)}.${Math.floor(r() * 100)}E-${Math.floor(r() * 3)}`,
      () => '12345678901234567',
      () => '0.1234567890123456789',
      () => '-0',
      () => '-0.0',
      () => '1e400',
      () => '01',
      () => '1.',
      () => '"5"',
      () => 'null',
      () => 'true',
    ])();
  };
  const obj = (members: [string, string][]) => {
    const ms = [...members];
    if (messy && chance(0.3)) ms.sort(() => r() - 0.5);
    if (messy && chance(0.03) && ms.length) ms.push(ms[0]); // a duplicate key
    if (messy && chance(0.03)) ms.push(['Extra', '1']);
    return `${ws()}{${ms.map(([k, v]) => `${str(k)}:${v}`).join(',')}}${ws()}`;
  };
  const list = (items: string[]) => `${ws()}[${items.join(',')}]${ws()}`;
  const name = () =>
    messy && chance(0.1)
      ? pick(['', 'a"b', 'tab\there', 'é', 'x'.repeat(256), 'back\\slash', '\u2028', 'ok'])
      : pick(['Latency', 'Errors', 'Requests', 'CPUUtilization']);
  const unit = () =>
    messy && chance(0.1) ? pick(['Furlongs', 'count', '']) : pick(['Milliseconds', 'Count', 'None', 'Percent', 'Bytes/Second']);
  const timestamp = () => {
    const offsets = messy && chance(0.1) ? [-15 * 86_400_000, 3 * 3_600_000] : [0, -60_000, -3_600_000, -13 * 86_400_000, 3_600_000];
    const ms = NOW + pick(offsets) + Math.floor(r() * 60_000);
    return chance(0.5) ? String(ms / 1000) : String(Math.floor(ms / 1000));
  };
  const datum = () => {
    const m: [string, string][] = [];
    if (!messy || chance(0.97)) m.push(['MetricName', str(name())]);
    if (chance(0.8)) {
      const n = messy && chance(0.05) ? pick([0, 31]) : 1 + Math.floor(r() * 3);
      const dims = Array.from({ length: n }, (_, i) => {
        const d: [string, string][] = [];
        if (!messy || chance(0.97)) d.push(['Name', str(pick(['Host', 'Service', 'AZ', `D${i}`]))]);
        if (!messy || chance(0.97))
          d.push(['Value', str(messy && chance(0.05) ? pick(['', 'v'.repeat(1025), 'ü']) : `h${Math.floor(r() * 5)}`)]);
        return obj(d);
      });
      m.push(['Dimensions', list(dims)]);
    }
    if (chance(0.7)) m.push(['Timestamp', timestamp()]);
    if (chance(0.7)) m.push(['Unit', str(unit())]);
    if (chance(0.2)) m.push(['StorageResolution', messy && chance(0.3) ? pick(['60.0', '30', '1.5']) : pick(['1', '60'])]);
    const kind = messy && chance(0.05) ? pick(['none', 'both']) : pick(['value', 'values', 'stats']);
    if (kind === 'value' || kind === 'both') m.push(['Value', num()]);
    if (kind === 'values' || kind === 'both') {
      const n = messy && chance(0.05) ? pick([0, 151]) : 1 + Math.floor(r() * 20);
      m.push(['Values', list(Array.from({ length: n }, num))]);
      if (chance(0.5))
        m.push([
          'Counts',
          list(
            Array.from({ length: messy && chance(0.05) ? n + 1 : n }, () =>
              messy && chance(0.02) ? '-1' : String(1 + Math.floor(r() * 5)),
            ),
          ),
        ]);
    }
    if (kind === 'stats') {
      const min = Math.floor(r() * 10);
      const max = chance(0.3) ? min : min + Math.floor(r() * 10);
      const s: [string, string][] = [
        ['SampleCount', messy && chance(0.05) ? '0' : String(1 + Math.floor(r() * 10))],
        ['Sum', String(min + max)],
        ['Minimum', String(min)],
        ['Maximum', messy && chance(0.05) ? String(min - 1) : String(max)],
      ];
      m.push(['StatisticValues', obj(messy && chance(0.05) ? s.slice(1) : s)]);
    }
    if (messy && chance(0.02)) m.push(['Value', 'null']);
    return obj(m);
  };
  return () => {
    const n = messy ? (chance(0.02) ? pick([0, 1001]) : 1 + Math.floor(r() * 3)) : 1 + Math.floor(r() * 40);
    const top: [string, string][] = [
      ['Namespace', str(messy && chance(0.05) ? pick(['AWS/EC2', ':x', '', 'n'.repeat(256)]) : pick(['Shop', 'App/Api']))],
      ['MetricData', list(Array.from({ length: n }, datum))],
    ];
    if (messy && chance(0.3)) top.reverse();
    if (messy && chance(0.02)) top.push(['StrictEntityValidation', 'true']);
    let body = obj(top);
    if (messy && chance(0.02)) body = body.slice(0, Math.floor(r() * body.length));
    if (messy && chance(0.01)) body += 'x';
    return body;
  };
}

function generic(body: Buffer) {
  try {
    return { ok: prepareGeneric({ body, now: NOW }) };
  } catch (err) {
    return { err };
  }
}

function compare(body: string) {
  const buf = Buffer.from(body);
  const fast = decodePutMetricData(buf, NOW);
  const slow = generic(buf);
  if (fast === undefined) return 'declined';
  assert.ok(
    'ok' in slow,
    `the decoder accepted a body the generic path rejects (${String((slow as { err: unknown }).err)}): ${body.slice(0, 500)}`,
  );
  assert.deepStrictEqual(fast, slow.ok, body.slice(0, 500));
  return 'accepted';
}

test('clean bodies: the decoder reads them all, to the same buckets as the generic path', () => {
  const next = generator(7, false);
  for (let i = 0; i < 500; i++) assert.equal(compare(next()), 'accepted');
});

test('messy bodies: the decoder returns the generic result or declines, never a different answer', () => {
  const next = generator(11, true);
  const seen = { accepted: 0, declined: 0 };
  for (let i = 0; i < 3000; i++) seen[compare(next())]++;
  // both sides exercised
  assert.ok(seen.accepted > 400, JSON.stringify(seen));
  assert.ok(seen.declined > 300, JSON.stringify(seen));
});

test('numbers read exactly as JSON.parse reads them', () => {
  const r = rng(3);
  for (let i = 0; i < 20_000; i++) {
    const digits = 1 + Math.floor(r() * 17);
    let s = String(Math.floor(r() * 10 ** Math.min(digits, 15)));
    if (r() < 0.7) {
      const at = Math.floor(r() * s.length);
      s = `${s.slice(0, at) || '0'}.${s.slice(at) || '0'}`;
    }
    if (r() < 0.3) s = `-${s}`;
    if (r() < 0.1) s += `e${Math.floor(r() * 40) - 20}`;
    const body = `{"Namespace":"N","MetricData":[{"MetricName":"M","Value":${s}}]}`;
    const fast = decodePutMetricData(Buffer.from(body), NOW);
    if (!fast) continue; // "0.", leading zeros and the like: the generic path's to answer
    assert.equal(fast.buckets[0].min, JSON.parse(s), s);
  }
});

test('declined: escapes, non-ASCII, unknown members, nulls, and bodies that are not JSON', () => {
  const base = (datum: string) => `{"Namespace":"N","MetricData":[${datum}]}`;
  for (const body of [
    base('{"MetricName":"a\\u0062","Value":1}'),
    base('{"MetricName":"é","Value":1}'),
    base('{"MetricName":"M","Value":1,"Other":2}'),
    base('{"MetricName":"M","Value":null}'),
    base('{"MetricName":"M","Values":[]}'),
    base('{"MetricName":"M","Value":1,"Dimensions":[]}'),
    '{"Namespace":"N","MetricData":[{"MetricName":"M","Value":1}]',
    '{"Namespace":"N","MetricData":[{"MetricName":"M","Value":1}]}}',
    '\ufeff{"Namespace":"N","MetricData":[{"MetricName":"M","Value":1}]}',
    '',
    'null',
  ])
    assert.equal(decodePutMetricData(Buffer.from(body), NOW), undefined, body);
});

test('a body cut anywhere is declined, never thrown on', () => {
  const body = `{"Namespace":"N","MetricData":[{"MetricName":"M","Dimensions":[{"Name":"H","Value":"h1"}],"Values":[1,2.5,3],"Counts":[1,2,3],"Unit":"Count","Timestamp":${NOW / 1000}},{"MetricName":"M","StatisticValues":{"SampleCount":2,"Sum":3,"Minimum":1,"Maximum":2}}]}`;
  assert.ok(decodePutMetricData(Buffer.from(body), NOW));
  for (let i = 0; i < body.length; i++) assert.equal(decodePutMetricData(Buffer.from(body.slice(0, i)), NOW), undefined);
});
