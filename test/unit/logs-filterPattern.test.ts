import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilterPattern, FilterPatternError } from '../../src/services/logs/filterPattern.js';

const matches = (pattern: string | undefined, message: string) => compileFilterPattern(pattern)(message);
const yes = (pattern: string, ...messages: string[]) => {
  for (const m of messages) assert.equal(matches(pattern, m), true, `${pattern} should match ${m}`);
};
const no = (pattern: string, ...messages: string[]) => {
  for (const m of messages) assert.equal(matches(pattern, m), false, `${pattern} should not match ${m}`);
};
const invalid = (pattern: string, messagePart?: RegExp) => {
  assert.throws(
    () => compileFilterPattern(pattern),
    (e: unknown) => {
      assert.ok(e instanceof FilterPatternError, `expected FilterPatternError for ${pattern}`);
      assert.ok(e instanceof Error);
      if (messagePart) assert.match(e.message, messagePart);
      return true;
    },
  );
};

const JSON_EVENT = JSON.stringify({
  eventType: 'UpdateTrail',
  sourceIPAddress: '111.111.111.111',
  arrayKey: ['value', 'another value'],
  objectList: [
    { name: 'a', id: 1 },
    { name: 'b', id: 2 },
  ],
  SomeObject: null,
  ThisFlag: true,
  OtherFlag: false,
  latency: 250,
  level: 'error',
  user: { id: 1, email: 'John.Stiles@example.com' },
  coordinates: [
    [0, 1, 2],
    [4, 5, 6],
  ],
  code: '404',
});

const APACHE = [
  '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
  '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /index.html HTTP/1.0" 404 5324',
  '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 403 4355',
];

describe('empty patterns', () => {
  test('undefined, empty and whitespace-only patterns match every message', () => {
    for (const p of [undefined, '', '   ', '\t\n']) {
      assert.equal(matches(p, 'anything at all'), true);
      assert.equal(matches(p, ''), true);
    }
  });

  test('a quoted blank pattern ("" or " ") matches everything', () => {
    yes('""', 'x', '');
    yes('" "', 'no-spaces-here');
  });
});

describe('unstructured terms', () => {
  test('a single term matches messages containing it as a substring', () => {
    yes('ERROR', '[ERROR] A fatal exception has occurred', 'Exiting with ERRORCODE: -1');
    no('ERROR', 'all good');
  });

  test('terms are case-sensitive', () => {
    no('ERROR', 'error: lowercase', 'Error: mixed');
  });

  test('several terms must all appear, in any order', () => {
    yes('ERROR Exception', '[ERROR] Caught IllegalArgumentException', 'Exception then ERROR');
    no('ERROR Exception', '[ERROR] only this');
  });

  test('an unquoted multi-word pattern is an AND of words, not a phrase', () => {
    yes('Failed to process', 'process Failed: unable to continue');
  });

  test('a quoted phrase matches only the exact substring', () => {
    yes('"Failed to process the request"', '[WARN] Failed to process the request now');
    no('"Failed to process the request"', 'Failed to process: the request');
  });

  test('quoted terms may contain special characters and escaped quotes', () => {
    yes('"[ERROR]"', '[ERROR] boom');
    no('"[ERROR]"', 'ERROR boom');
    yes('"user@example.com"', 'login by user@example.com');
    yes('"say \\"hi\\""', 'they say "hi" loudly');
  });

  test('-term excludes messages containing the term', () => {
    yes('ERROR -Exiting', '[ERROR] A fatal exception has occurred');
    no('ERROR -Exiting', 'Exiting with ERRORCODE: -1');
  });

  test('a lone exclusion matches everything without the term', () => {
    yes('-DEBUG', 'INFO started');
    no('-DEBUG', 'DEBUG noise');
  });

  test('exclusion works on quoted phrases and with a space after the minus', () => {
    no('ERROR -"Exiting with"', 'ERROR Exiting with code 1');
    yes('ERROR -"Exiting with"', 'ERROR Exiting now with code 1');
    no('"ERROR" - "Exiting"', 'Exiting with ERRORCODE: -1');
  });

  test('?term alternatives match when at least one appears', () => {
    yes('?ERROR ?WARN', 'ERROR WARN message', 'ERROR message', 'WARN message');
    no('?ERROR ?WARN', 'INFO message');
  });

  test('terms after a ?term join that alternative (CDK anyTermGroup convention)', () => {
    const p = '?"ERROR" "MainThread" ?"WARN" "Deadlock"';
    yes(p, 'ERROR in MainThread', 'WARN Deadlock detected');
    no(p, 'ERROR in worker', 'WARN in MainThread');
  });

  test('terms before the first ?term are required by every alternative', () => {
    yes('api ?ERROR ?WARN', 'api ERROR', 'api WARN');
    no('api ?ERROR ?WARN', 'db ERROR', 'api INFO');
  });

  test('%regex% matches anywhere in the message (unanchored)', () => {
    yes('%AUTHORIZED%', '[ERROR 401] UNAUTHORIZED REQUEST', '[SUCCESS 200] AUTHORIZED REQUEST');
    no('%AUTHORIZED%', 'nothing');
  });

  test('%regex% supports anchors, classes and quantifiers', () => {
    yes('%^[hc]at%', 'hat trick', 'cat nap');
    no('%^[hc]at%', 'a hat');
    yes('%colou?r$%', 'nice color', 'nice colour');
    yes('%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%', 'from 10.0.12.7 port 22');
    yes('%[Ee]rror|[Ff]ail%', 'it did fail', 'an error');
    no('%a{3,5}%', 'aa only');
  });

  test('numeric terms are plain substrings', () => {
    yes('404', 'GET /x 404 12');
  });
});

describe('JSON patterns', () => {
  test('string equality on a top-level property, quoted or unquoted', () => {
    yes('{ $.eventType = "UpdateTrail" }', JSON_EVENT);
    yes('{$.eventType=UpdateTrail}', JSON_EVENT);
    no('{ $.eventType = "DeleteTrail" }', JSON_EVENT);
  });

  test('string comparison is exact and case-sensitive', () => {
    no('{ $.eventType = "updatetrail" }', JSON_EVENT);
    no('{ $.eventType = "Update" }', JSON_EVENT);
  });

  test('!= matches a present value that differs, with wildcard prefixes', () => {
    yes('{ $.sourceIPAddress != 123.123.* }', JSON_EVENT);
    no('{ $.sourceIPAddress != 111.111.* }', JSON_EVENT);
  });

  test('* is a wildcard only at the start or end of a value', () => {
    yes('{ $.eventType = "*Trail" }', JSON_EVENT);
    yes('{ $.eventType = Update* }', JSON_EVENT);
    yes('{ $.eventType = *dateTr* }', JSON_EVENT);
    no('{ $.eventType = "Up*Trail" }', JSON_EVENT);
    yes('{ $.v = "Ev*ent" }', '{"v":"Ev*ent"}');
  });

  test('= * matches any present value node', () => {
    yes('{ $.latency = * }', JSON_EVENT);
    no('{ $.missing = * }', JSON_EVENT);
  });

  test('numeric comparisons with all operators', () => {
    yes('{ $.latency > 100 }', JSON_EVENT);
    yes('{ $.latency >= 250 }', JSON_EVENT);
    yes('{ $.latency <= 250 }', JSON_EVENT);
    yes('{ $.latency < 251 }', JSON_EVENT);
    yes('{ $.latency = 250 }', JSON_EVENT);
    yes('{ $.latency != 500 }', JSON_EVENT);
    no('{ $.latency > 250 }', JSON_EVENT);
    no('{ $.latency < 250 }', JSON_EVENT);
    no('{ $.latency != 250 }', JSON_EVENT);
  });

  test('numbers accept signs, decimals and scientific notation', () => {
    yes('{ $.latency > +100 }', JSON_EVENT);
    yes('{ $.latency < 10e3 }', JSON_EVENT);
    yes('{ $.latency > -1.5 }', JSON_EVENT);
    yes('{ $.latency = 250.0 }', JSON_EVENT);
    no('{ $.latency < 10e-3 }', JSON_EVENT);
  });

  test('numeric comparison against a numeric string value', () => {
    yes('{ $.code = 404 }', JSON_EVENT);
    yes('{ $.code >= 400 }', JSON_EVENT);
    no('{ $.eventType > 1 }', JSON_EVENT);
  });

  test('nested selectors and array indexes', () => {
    yes('{ $.user.email = "John.Stiles@example.com" }', JSON_EVENT);
    yes('{ $.arrayKey[0] = "value" }', JSON_EVENT);
    yes('{ $.arrayKey[1] = "another value" }', JSON_EVENT);
    yes('{ $.objectList[1].id = 2 }', JSON_EVENT);
    yes('{ $.coordinates[1][2] = 6 }', JSON_EVENT);
    no('{ $.objectList[5].id = 2 }', JSON_EVENT);
    no('{ $.eventType[0] = "U" }', JSON_EVENT);
  });

  test('selectors pointing at objects or arrays never match, even with !=', () => {
    no('{ $.users = 1 }', '{"users":[1,2,3]}');
    no('{ $.users != 1 }', '{"users":[1,2,3]}');
    no('{ $.user != "x" }', JSON_EVENT);
  });

  test('comparisons on missing properties do not match', () => {
    no('{ $.nope = "x" }', JSON_EVENT);
    no('{ $.nope != "x" }', JSON_EVENT);
  });

  test('IS NULL matches only an explicit null', () => {
    yes('{ $.SomeObject IS NULL }', JSON_EVENT);
    no('{ $.eventType IS NULL }', JSON_EVENT);
    no('{ $.SomeOtherObject IS NULL }', JSON_EVENT);
  });

  test('NOT EXISTS matches only absent properties', () => {
    yes('{ $.SomeOtherObject NOT EXISTS }', JSON_EVENT);
    yes('{ $.user.phone NOT EXISTS }', JSON_EVENT);
    no('{ $.SomeObject NOT EXISTS }', JSON_EVENT);
  });

  test('IS TRUE and IS FALSE match booleans only', () => {
    yes('{ $.ThisFlag IS TRUE }', JSON_EVENT);
    yes('{ $.OtherFlag IS FALSE }', JSON_EVENT);
    no('{ $.ThisFlag IS FALSE }', JSON_EVENT);
    no('{ $.flag IS TRUE }', '{"flag":"true"}');
  });

  test('&& and || combine conditions', () => {
    yes('{ $.level = "error" && $.latency > 100 }', JSON_EVENT);
    no('{ $.level = "error" && $.latency > 1000 }', JSON_EVENT);
    yes('{ $.foo = bar || $.foo = baz }', '{"foo":"bar"}', '{"foo":"baz"}');
    no('{ $.foo = bar || $.foo = baz }', '{"foo":"qux"}');
  });

  test('&& binds tighter than || and parentheses override it', () => {
    yes('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.arrayKey[0] = nomatch }', JSON_EVENT);
    no('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.arrayKey[0] = nomatch }', JSON_EVENT);
    yes('{ ($.user.id = 1) && ($.objectList[0].name = "a") }', JSON_EVENT);
    no('{ ($.user.id = 2 && $.level = "nonmatch") || $.arrayKey[1] = "value" }', JSON_EVENT);
  });

  test('%regex% values match with = and negate with !=', () => {
    yes('{ $.eventType = %Trail$% }', JSON_EVENT);
    no('{ $.eventType != %Trail$% }', JSON_EVENT);
    yes('{ $.sourceIPAddress = %^111\\.% }', JSON_EVENT);
  });

  test('non-JSON messages never match a JSON pattern, not even NOT EXISTS', () => {
    no('{ $.level = "error" }', 'level=error plain text');
    no('{ $.x NOT EXISTS }', 'plain text', '', '123', '"str"', '{broken json');
  });

  test('selectors start from the root object of the event', () => {
    no('{ $.id = 1 }', '[{"id":1}]');
    yes('{ $.a-b_c = 1 }', '{"a-b_c":1}');
  });
});

describe('space-delimited patterns', () => {
  test('named fields match messages with exactly that many fields', () => {
    yes('[w1=ERROR, w2]', 'ERROR message');
    no('[w1=ERROR, w2]', 'ERROR WARN message', 'ERROR');
  });

  test('quoted and bracketed groups in the message count as one field', () => {
    yes('[ip, user, username, timestamp, request, status_code, bytes]', ...APACHE);
    yes(
      '[ip, user, username, timestamp = "10/Oct/2000:13:25:15 -0700", request = "GET /apache_pb.gif HTTP/1.0", status, bytes]',
      APACHE[0],
    );
  });

  test('numeric conditions on fields', () => {
    yes('[ip, user, username, timestamp, request, status_code, bytes > 5000]', APACHE[1]);
    no('[ip, user, username, timestamp, request, status_code, bytes > 5000]', APACHE[0], APACHE[2]);
    yes('[ip, user, username, timestamp, request, status_code = 200, bytes]', APACHE[0]);
    no('[ip, user, username, timestamp, request, status_code = 200, bytes]', APACHE[1]);
  });

  test('string wildcards on fields', () => {
    yes('[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]', APACHE[1]);
    no('[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]', APACHE[0], APACHE[2]);
  });

  test('&& and || inside one field', () => {
    const and = '[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]';
    yes(and, APACHE[1]);
    no(and, APACHE[0], APACHE[2]);
    const or = '[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]';
    yes(or, APACHE[1], APACHE[2]);
    no(or, APACHE[0]);
    yes('[w1=ERROR || w1=WARN, w2]', 'ERROR message', 'WARN message');
    no('[w1!=ERROR&&w1!=WARN, w2]', 'ERROR message', 'WARN message');
    yes('[w1!=ERROR&&w1!=WARN, w2]', 'INFO message');
  });

  test('ellipsis skips any number of fields at the start, middle or end', () => {
    yes('[..., status_code, bytes]', ...APACHE);
    yes('[..., status_code = 404, bytes]', APACHE[1]);
    no('[..., status_code = 404, bytes]', APACHE[0]);
    yes('[ip, user, ..., status_code, bytes]', ...APACHE);
    yes('[ip = 127.0.0.1, user, ...]', ...APACHE);
    yes('[a, ..., b]', 'x y');
    no('[a, ..., b]', 'x');
  });

  test('a trailing comma is tolerated', () => {
    yes('[..., request=*.html*, status_code=4*,]', '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404');
  });

  test('%regex% conditions on fields', () => {
    yes('[ip, user, username, timestamp, request = %^GET%, status_code, bytes]', ...APACHE);
    no('[ip, user, username, timestamp, request = %^POST%, status_code, bytes]', ...APACHE);
  });

  test('runs of whitespace separate single fields', () => {
    yes('[a, b = 2, c]', '1   2\t3');
  });
});

describe('invalid patterns throw FilterPatternError', () => {
  test('FilterPatternError is an Error with a readable message', () => {
    const e = new FilterPatternError('boom');
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'boom');
  });

  test('unbalanced braces and brackets', () => {
    invalid('{ $.a = 1', /must end with '}'/);
    invalid('[a, b', /must end with '\]'/);
    invalid('{ $.a = 1 } }', /unexpected '}'/);
    invalid('{ ($.a = 1 }', /expected '\)'/);
    invalid('{ $.a = 1) }', /unexpected '\)'/);
  });

  test('empty JSON or space-delimited bodies', () => {
    invalid('{ }', /empty/);
    invalid('[ ]', /empty/);
  });

  test('bad operators', () => {
    invalid('{ $.a == 1 }', /invalid operator '=='/);
    invalid('{ $.a => 1 }', /invalid operator/);
    invalid('{ $.a = 1 & $.b = 2 }', /'&&'/);
    invalid('{ $.a = 1 | $.b = 2 }', /'\|\|'/);
    invalid('[a == 1, b]', /invalid operator/);
  });

  test('relational operators need numbers', () => {
    invalid('{ $.a > abc }', /numeric/);
    invalid('{ $.a < "5" }', /numeric/);
    invalid('[a > x, b]', /numeric/);
  });

  test('malformed JSON expressions', () => {
    invalid('{ level = "error" }', /selector/);
    invalid('{ $ = 1 }', /selector/);
    invalid('{ $.a }', /comparison operator/);
    invalid('{ $.a = }', /expected a value/);
    invalid('{ $.a = 1 && }', /selector/);
    invalid('{ $.a = 1 $.b = 2 }', /unexpected/);
    invalid('{ $.a IS MAYBE }', /IS NULL/);
    invalid('{ $.a, $.b }', /comparison operator|unexpected/);
  });

  test('malformed space-delimited fields', () => {
    invalid('[a b, c]', /comparison operator/);
    invalid('[a = 1 && b = 2, c]', /same field name/);
    invalid('[... = 1]', /cannot have conditions/);
    invalid('[a, $.b]', /field name/);
    invalid('[a, b IS NULL]', /only valid in JSON/);
    invalid('[a,, b]', /field name|found ','/);
  });

  test('unterminated quotes and regexes', () => {
    invalid('"unterminated', /unterminated quoted string/);
    invalid('{ $.a = "x }', /unterminated quoted string/);
    invalid('%abc', /unterminated regular expression/);
  });

  test('regexes with unsupported characters or bad syntax', () => {
    invalid('%something!%', /unsupported character/);
    invalid('%(a|b)%', /unsupported character/);
    invalid('%a b%', /unsupported character/);
    invalid('%[a%', /bad regular expression/);
    invalid('%%', /empty regular expression/);
  });

  test('more than two regexes in a JSON pattern', () => {
    invalid('{ $.a = %x% || $.b = %y% || $.c = %z% }', /at most 2/);
  });

  test('unquoted terms with special characters and dangling prefixes', () => {
    invalid('user@example.com', /double quotes/);
    invalid('ERROR [x]', /double quotes/);
    invalid('ERROR -', /not followed by a term/);
    invalid('?', /not followed by a term/);
    invalid('"a"b', /space after/);
  });
});

describe('compiled matchers', () => {
  test('a compiled matcher is reusable across many messages', () => {
    const m = compileFilterPattern('{ $.n > 2 }');
    const results = [1, 2, 3, 4].map((n) => m(JSON.stringify({ n })));
    assert.deepEqual(results, [false, false, true, true]);
  });

  test('regex matchers do not keep state between calls', () => {
    const m = compileFilterPattern('%abc%');
    assert.equal(m('xabcx'), true);
    assert.equal(m('xabcx'), true);
  });
});
