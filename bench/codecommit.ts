/**
 * CodeCommit over git smart HTTP against the physical limit: the same repository (5,000 files,
 * 500 commits, generated with git fast-import) pushed to and cloned from opsbox, and pushed to and
 * cloned from a bare repository through git's own file:// transport (upload-pack/receive-pack
 * without HTTP). Then the time from `git push` returning to the push event arriving at a listener
 * (EventBridge rule → SNS → HTTP, the way a user would watch for it).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { na, val, type Row } from './report.js';
import type { Target, TargetName } from './targets.js';

export interface CodecommitPlan {
  files: number;
  commits: number;
  /** Clone/push rounds (median counts) and small pushes timed for the event latency. */
  rounds: number;
  eventPushes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];

/** The URL with HTTP basic credentials, which git sends after opsbox's 401 (the default account's test/test). */
const authed = (url: string) => url.replace(/^http:\/\//, 'http://test:test@');

export function git(home: string, cwd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      {
        cwd,
        maxBuffer: 256 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
      },
      (err, stdout, stderr) => (err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim())),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A repository with `commits` commits adding files until there are `files`, via fast-import. */
export async function generate(home: string, dir: string, plan: Pick<CodecommitPlan, 'files' | 'commits'>) {
  await git(home, dir, ['init', '-q', '--initial-branch=main']);
  const perCommit = Math.ceil(plan.files / plan.commits);
  const child = spawn('git', ['fast-import', '--quiet'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1' },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.on('error', () => {});
  const done = new Promise<void>((ok, fail) => child.on('close', (c) => (c === 0 ? ok() : fail(new Error(`fast-import exited ${c}`)))));
  let n = 0;
  const t0 = 1_700_000_000;
  for (let c = 0; c < plan.commits; c++) {
    let cmd = `commit refs/heads/main\ncommitter Bench <bench@example.com> ${t0 + c} +0000\ndata <<EOM\ncommit ${c}\nEOM\n`;
    for (let i = 0; i < perCommit && n < plan.files; i++, n++) {
      const body = `// file ${n}\n` + `export const value${n} = ${n};\n`.repeat(20 + (n % 40));
      cmd += `M 100644 inline src/m${n % 50}/file${n}.ts\ndata ${Buffer.byteLength(body)}\n${body}\n`;
    }
    // touch a shared file in every commit so history has modifications too
    const shared = `version ${c}\n`;
    cmd += `M 100644 inline CHANGELOG.md\ndata ${Buffer.byteLength(shared)}\n${shared}\n`;
    if (!child.stdin.write(cmd)) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  await done;
  await git(home, dir, ['reset', '-q', '--hard', 'main']);
}

async function timed(fn: () => Promise<unknown>) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function call(url: string, headers: Record<string, string>, body: string) {
  const date = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const service = headers['X-Amz-Target']?.startsWith('AWSEvents') ? 'events' : headers['X-Amz-Target'] ? 'codecommit' : 'sns';
  const res = await fetch(url + '/', {
    method: 'POST',
    headers: {
      ...headers,
      'X-Amz-Date': date,
      Authorization: `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
    },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${service} call failed ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

const json = (target: string) => ({ 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target });
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** Arrival times of aws.codecommit events, keyed by commit id. */
async function listen(url: string) {
  const arrivals = new Map<string, number>();
  let confirm!: (u: string) => void;
  const confirmed = new Promise<string>((r) => (confirm = r));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      res.end();
      const body = Buffer.concat(chunks).toString();
      if (req.headers['x-amz-sns-message-type'] === 'SubscriptionConfirmation') return confirm(JSON.parse(body).SubscribeURL);
      try {
        const e = JSON.parse(body);
        if (e.detail?.commitId) arrivals.set(e.detail.commitId, at);
      } catch {
        /* ignore */
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const topicXml = await call(url, form, `Action=CreateTopic&Version=2010-03-31&Name=bench-cc-${port}`);
  const topic = /<TopicArn>([^<]+)<\/TopicArn>/.exec(topicXml)![1];
  await call(
    url,
    form,
    `Action=Subscribe&Version=2010-03-31&TopicArn=${encodeURIComponent(topic)}&Protocol=http&Endpoint=${encodeURIComponent(`http://127.0.0.1:${port}/`)}&Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=true`,
  );
  await fetch(await confirmed);
  await call(
    url,
    json('AWSEvents.PutRule'),
    JSON.stringify({ Name: `bench-cc-${port}`, EventPattern: JSON.stringify({ source: ['aws.codecommit'] }) }),
  );
  await call(url, json('AWSEvents.PutTargets'), JSON.stringify({ Rule: `bench-cc-${port}`, Targets: [{ Id: '1', Arn: topic }] }));
  return { arrivals, close: () => server.close() };
}

export async function codecommitScenario(
  targets: Partial<Record<TargetName, Target | Error>>,
  plan: CodecommitPlan,
  log: (s: string) => void,
) {
  const section = `CodeCommit git smart HTTP (${plan.files.toLocaleString('en-US')} files, ${plan.commits} commits)`;
  const rows: Row[] = [
    { section, label: 'git clone over opsbox HTTP', unit: 'ms', better: 'lower', cells: {} },
    { section, label: 'git clone over file:// (physical limit)', unit: 'ms', better: 'lower', cells: {} },
    { section, label: 'clone: opsbox / file:// ratio', unit: 'x', better: 'lower', target: { op: '<=', value: 1.3 }, cells: {} },
    { section, label: 'git push (all history) to opsbox HTTP', unit: 'ms', better: 'lower', cells: {} },
    { section, label: 'git push (all history) over file:// (physical limit)', unit: 'ms', better: 'lower', cells: {} },
    { section, label: 'push: opsbox / file:// ratio', unit: 'x', better: 'lower', target: { op: '<=', value: 1.3 }, cells: {} },
    {
      section,
      label: 'event arrival after git push returns (p50)',
      unit: 'ms',
      better: 'lower',
      target: { op: '<=', value: 50 },
      cells: {},
    },
  ];
  const t = targets.opsbox;
  if (!t || t instanceof Error) {
    for (const r of rows) r.cells.opsbox = na(t ?? 'opsbox not started');
    return { rows, details: {} };
  }
  const url = `http://${t.host}:${t.port}`;
  const root = mkdtempSync(join(tmpdir(), 'bench-cc-'));
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Bench\n\temail = bench@example.com\n[credential]\n\thelper =\n');
  const details: Record<string, number[]> = { cloneHttp: [], cloneFile: [], pushHttp: [], pushFile: [], eventMs: [] };
  try {
    const src = join(root, 'src');
    mkdirSync(src);
    log(`codecommit: generating ${plan.files} files in ${plan.commits} commits`);
    await generate(home, src, plan);
    for (let n = 0; n < plan.rounds; n++) {
      const name = `bench-${Date.now().toString(36)}-${n}`;
      await call(url, json('CodeCommit_20150413.CreateRepository'), JSON.stringify({ repositoryName: name }));
      const remote = `${authed(url)}/v1/repos/${name}`;
      const bare = join(root, `bare-${n}.git`);
      await git(home, root, ['init', '-q', '--bare', bare]);
      log(`codecommit: round ${n + 1}/${plan.rounds}: push and clone, opsbox and file://`);
      details.pushFile.push(await timed(() => git(home, src, ['push', '-q', `file://${bare}`, 'main'])));
      details.pushHttp.push(await timed(() => git(home, src, ['push', '-q', remote, 'main'])));
      details.cloneFile.push(await timed(() => git(home, root, ['clone', '-q', '--bare', `file://${bare}`, join(root, `cf-${n}`)])));
      details.cloneHttp.push(await timed(() => git(home, root, ['clone', '-q', '--bare', remote, join(root, `ch-${n}`)])));
    }
    const sink = await listen(url);
    try {
      const name = `bench-ev-${Date.now().toString(36)}`;
      await call(url, json('CodeCommit_20150413.CreateRepository'), JSON.stringify({ repositoryName: name }));
      const work = join(root, 'ev');
      await git(home, root, ['clone', '-q', `${authed(url)}/v1/repos/${name}`, work]);
      for (let i = 0; i < plan.eventPushes; i++) {
        writeFileSync(join(work, 'n.txt'), `${i}\n`);
        await git(home, work, ['add', '.']);
        await git(home, work, ['commit', '-qm', `e${i}`]);
        const id = await git(home, work, ['rev-parse', 'HEAD']);
        await git(home, work, ['push', '-q', 'origin', 'HEAD:main']);
        const returned = performance.now();
        const deadline = returned + 5000;
        while (!sink.arrivals.has(id) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        const at = sink.arrivals.get(id);
        if (at === undefined) throw new Error('push event did not arrive within 5 s');
        details.eventMs.push(Math.max(0, at - returned));
      }
    } finally {
      sink.close();
    }
    const [ch, cf, ph, pf] = [median(details.cloneHttp), median(details.cloneFile), median(details.pushHttp), median(details.pushFile)];
    rows[0].cells.opsbox = val(ch);
    rows[1].cells.opsbox = val(cf);
    rows[2].cells.opsbox = val(ch / cf);
    rows[3].cells.opsbox = val(ph);
    rows[4].cells.opsbox = val(pf);
    rows[5].cells.opsbox = val(ph / pf);
    rows[6].cells.opsbox = val(median(details.eventMs));
  } catch (e) {
    for (const r of rows) if (!r.cells.opsbox) r.cells.opsbox = na(e);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { rows, details };
}
