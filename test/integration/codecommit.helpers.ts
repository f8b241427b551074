/**
 * Helpers for the CodeCommit integration tests: raw awsJson1.1 calls (no @aws-sdk/client-codecommit
 * is installed), the real git client in an isolated HOME, and an event sink that receives the
 * internal bus's events the way a user would: EventBridge rule → SNS topic → HTTP subscription.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsCli } from '../helpers/opsbox.js';

export interface ApiResult {
  status: number;
  body: any;
}

/** One CodeCommit API call as the SDK would send it (awsJson1.1); the signature is not verified in default mode. */
export async function api(
  url: string,
  op: string,
  input: Record<string, unknown>,
  accessKeyId = 'test',
  region = 'us-east-1',
): Promise<ApiResult> {
  const date = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const res = await fetch(url + '/', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `CodeCommit_20150413.${op}`,
      'X-Amz-Date': date,
      Authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${date.slice(0, 8)}/${region}/codecommit/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    },
    body: JSON.stringify(input),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** Like api() but throws unless 200. */
export async function ok(url: string, op: string, input: Record<string, unknown>, accessKeyId?: string, region?: string) {
  const r = await api(url, op, input, accessKeyId, region);
  if (r.status !== 200) throw new Error(`${op} failed ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The error type of a failed call ("RepositoryDoesNotExistException"). */
export const errorCode = (r: ApiResult) =>
  String(r.body.__type ?? '')
    .split('#')
    .pop();

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The credential helper a user of the default account would configure: the root key test/test
 * unless the URL names a user (then only its password). opsbox asks git for credentials (401) before
 * it picks a repository, and they name the account.
 */
export const DEFAULT_CREDENTIAL_HELPER = `!f() { test "$1" = get || exit 0; grep '^username=' >/dev/null || echo username=test; echo password=test; }; f`;

/** A git client with its own HOME (user.name/email set, the default account's credential helper). */
export class GitClient {
  readonly home: string;
  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'opsbox-git-home-'));
    const helper = DEFAULT_CREDENTIAL_HELPER.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    writeFileSync(
      join(this.home, '.gitconfig'),
      `[user]\n\tname = Tester\n\temail = tester@example.com\n[init]\n\tdefaultBranch = main\n[credential]\n\thelper =\n\thelper = "${helper}"\n`,
    );
  }

  run(cwd: string, args: string[], env: Record<string, string> = {}): Promise<GitResult> {
    return new Promise((resolve) => {
      execFile(
        'git',
        args,
        {
          cwd,
          maxBuffer: 64 * 1024 * 1024,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', ...env },
        },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  async must(cwd: string, args: string[], env: Record<string, string> = {}) {
    const r = await this.run(cwd, args, env);
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout.trim();
  }

  dispose() {
    rmSync(this.home, { recursive: true, force: true });
  }

  /** A fresh empty directory for a working tree. */
  dir(name: string) {
    const d = join(this.home, name);
    mkdirSync(d, { recursive: true });
    return d;
  }
}

export interface Sink {
  events: any[];
  waitFor(pred: (events: any[]) => boolean, ms?: number): Promise<void>;
  close(): void;
}

/** Receives every aws.codecommit event through a real EventBridge rule → SNS → HTTP chain. */
export async function eventSink(url: string): Promise<Sink> {
  const events: any[] = [];
  let confirm: ((u: string) => void) | undefined;
  const confirmed = new Promise<string>((r) => (confirm = r));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.end('ok');
      if (req.headers['x-amz-sns-message-type'] === 'SubscriptionConfirmation') return confirm!(JSON.parse(body).SubscribeURL);
      try {
        const doc = JSON.parse(body);
        events.push(doc.Type === 'Notification' ? JSON.parse(doc.Message) : doc);
      } catch {
        /* not an event */
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as any).port;
  const topic = JSON.parse((await awsCli(url, ['sns', 'create-topic', '--name', `cc-events-${port}`])).stdout).TopicArn;
  const sub = await awsCli(url, [
    'sns',
    'subscribe',
    '--topic-arn',
    topic,
    '--protocol',
    'http',
    '--notification-endpoint',
    `http://127.0.0.1:${port}/`,
    '--attributes',
    'RawMessageDelivery=true',
  ]);
  if (sub.code !== 0) throw new Error(sub.stderr);
  await fetch(await confirmed);
  const rule = `cc-events-${port}`;
  const put = await awsCli(url, ['events', 'put-rule', '--name', rule, '--event-pattern', JSON.stringify({ source: ['aws.codecommit'] })]);
  if (put.code !== 0) throw new Error(put.stderr);
  const t = await awsCli(url, ['events', 'put-targets', '--rule', rule, '--targets', JSON.stringify([{ Id: '1', Arn: topic }])]);
  if (t.code !== 0) throw new Error(t.stderr);
  return {
    events,
    async waitFor(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (!pred(events)) {
        if (Date.now() > end) throw new Error(`timed out waiting for events; have ${JSON.stringify(events.map((e) => e.detail))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => server.close(),
  };
}
