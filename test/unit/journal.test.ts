/** core/journal.ts: records come back in order after a restart, a torn tail is dropped, applied records are skipped. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Journal } from '../../src/core/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'opsbox-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `j${++n}`);
const text = (records: Iterable<[number, Buffer]>) => [...records].map(([seq, b]) => `${seq}:${b.toString()}`);

test('records are replayed in order by a new instance, and sequence numbers continue after them', () => {
  const f = file();
  const a = new Journal(f);
  assert.deepEqual([a.append(Buffer.from('one')), a.append(Buffer.from('two')), a.append(Buffer.alloc(0))], [1, 2, 3]);
  a.close();
  const b = new Journal(f);
  assert.deepEqual(text(b.replay(0)), ['1:one', '2:two', '3:']);
  assert.equal(b.append(Buffer.from('four')), 4);
  b.close();
});

test('records applied through a sequence are skipped, and numbering continues past it even when the file was cleared', () => {
  const f = file();
  const a = new Journal(f);
  for (const s of ['a', 'b', 'c']) a.append(Buffer.from(s));
  a.close();
  const b = new Journal(f);
  assert.deepEqual(text(b.replay(2)), ['3:c']);
  b.clear();
  b.close();
  const c = new Journal(f);
  assert.deepEqual(text(c.replay(3)), []);
  assert.equal(c.append(Buffer.from('d')), 4);
  c.close();
});

test('a record cut short or damaged ends the replay and is dropped from the file', () => {
  const f = file();
  const a = new Journal(f);
  a.append(Buffer.from('kept'));
  a.append(Buffer.from('also kept'));
  a.close();
  const whole = statSync(f).size;
  // the process was killed halfway through the next append
  appendFileSync(f, readFileSync(f).subarray(0, 10));
  const b = new Journal(f);
  assert.deepEqual(text(b.replay(0)), ['1:kept', '2:also kept']);
  assert.equal(statSync(f).size, whole);
  b.append(Buffer.from('after'));
  b.close();
  // a flipped payload byte fails the CRC: that record and all after it are dropped
  const bytes = readFileSync(f);
  bytes[16 + 4 + 16 + 2] ^= 0xff;
  writeFileSync(f, bytes);
  const c = new Journal(f);
  assert.deepEqual(text(c.replay(0)), ['1:kept']);
  c.close();
});
