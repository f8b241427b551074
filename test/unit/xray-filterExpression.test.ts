/** X-Ray filter expressions: parsing (precedence, errors with positions) and evaluation over trace facts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilterExpression, FilterExpressionError, parseFilterExpression } from '../../src/services/xray/filterExpression.js';
import type { TraceFacts } from '../../src/services/xray/trace.js';

const trace = (over: Partial<TraceFacts> = {}): TraceFacts => ({
  id: '1-00000000-000000000000000000000000',
  start: 100,
  end: 101.5,
  duration: 1.5,
  rt: 1.2,
  error: false,
  fault: false,
  throttle: false,
  partial: false,
  http: { url: 'https://shop.example/api/cart', status: 200, method: 'GET' },
  users: ['alice'],
  ann: { customer: [['gold', ['web']]], tier: [[3, ['web']]] },
  calls: [
    { name: 'web', type: 'AWS::EC2::Instance', rt: 1.2, status: 200 },
    { name: 'db', type: 'remote', rt: 0.4, fault: true },
  ],
  edges: [{ from: 'web', fromType: 'AWS::EC2::Instance', name: 'db', type: 'remote', rt: 0.4, fault: true }],
  revision: 2,
  arns: [],
  ...over,
});

const matches = (expr: string, t = trace()) => compileFilterExpression(expr).test(t);

test('number keywords compare with every operator', () => {
  assert.equal(matches('responsetime > 1'), true);
  assert.equal(matches('responsetime >= 1.2 AND responsetime <= 1.2'), true);
  assert.equal(matches('duration < 1'), false);
  assert.equal(matches('http.status != 200'), false);
  assert.equal(matches('http.status = 200'), true);
});

test('string keywords: =, CONTAINS, BEGINSWITH, ENDSWITH', () => {
  assert.equal(matches('http.url CONTAINS "/api/"'), true);
  assert.equal(matches('http.url BEGINSWITH "https://shop"'), true);
  assert.equal(matches('http.url ENDSWITH "/cart"'), true);
  assert.equal(matches('http.method = "POST"'), false);
  assert.equal(matches('user = "alice"'), true);
});

test('boolean keywords bare, compared and negated', () => {
  assert.equal(matches('ok'), true);
  assert.equal(matches('fault'), false);
  assert.equal(matches('fault = false'), true);
  assert.equal(matches('!error'), true);
  assert.equal(matches('fault', trace({ fault: true })), true);
});

test('AND binds tighter than OR; parentheses and NOT', () => {
  assert.equal(matches('fault OR ok AND responsetime > 5'), false);
  assert.equal(matches('(fault OR ok) AND responsetime > 1'), true);
  assert.equal(matches('NOT (fault OR error)'), true);
  assert.equal(matches('fault || http.status = 200 && duration > 1'), true);
});

test('annotations by value, by presence and with brackets', () => {
  assert.equal(matches('annotation.customer = "gold"'), true);
  assert.equal(matches('annotation[customer] = "silver"'), false);
  assert.equal(matches('annotation.tier > 2'), true);
  assert.equal(matches('annotation.tier = "3"'), false);
  assert.equal(matches('annotation.missing'), false);
  assert.equal(matches('annotation.customer'), true);
});

test('service(), id() and edge() test the calls they name', () => {
  assert.equal(matches('service("db")'), true);
  assert.equal(matches('service("db") { fault }'), true);
  assert.equal(matches('service("web") { fault }'), false);
  assert.equal(matches('service() { responsetime < 0.5 }'), true);
  assert.equal(matches('id(name: "db", type: "remote")'), true);
  assert.equal(matches('service(id(name: "db", type: "AWS::EC2::Instance"))'), false);
  assert.equal(matches('edge("web", "db") { fault AND responsetime > 0.3 }'), true);
  assert.equal(matches('edge("db", "web")'), false);
  assert.equal(matches('!service("other")'), true);
});

test('group.name resolves through the lookup', () => {
  const c = compileFilterExpression('group.name = "slow"', (by, v) =>
    by === 'name' && v === 'slow' ? parseFilterExpression('responsetime > 1') : undefined,
  );
  assert.equal(c.test(trace()), true);
  assert.equal(c.test(trace({ rt: 0.1 })), false);
});

test('the service a matching trace must contain is found for the index', () => {
  assert.equal(compileFilterExpression('service("a") AND responsetime > 1').service, 'a');
  assert.equal(compileFilterExpression('responsetime > 1 AND edge("a", "b")').service, 'b');
  assert.equal(compileFilterExpression('service("a") OR fault').service, undefined);
  assert.equal(compileFilterExpression('NOT service("a")').service, undefined);
});

test('malformed expressions name the position', () => {
  const cases: [string, RegExp][] = [
    ['responsetime >', /position 14/],
    ['responsetime > "x"', /compares with a number/],
    ['http.url > "a"', /compares with a string/],
    ['bogus = 1', /Unknown keyword 'bogus' at position 0/],
    ['service("a"', /Expected '\)' at position 11/],
    ['fault AND', /position 9/],
    ['"unterminated', /Unterminated string at position 0/],
    ['fault ok', /Unexpected token at position 6/],
    ['', /Empty/],
  ];
  for (const [src, re] of cases)
    assert.throws(
      () => parseFilterExpression(src),
      (e: unknown) => e instanceof FilterExpressionError && re.test(e.message),
      src,
    );
});
