/**
 * Helpers for the cross-account tests: the two accounts' credentials in each auth mode, clients for
 * every service signed with them, an HTTP sink that receives SNS notifications, and assertions on
 * the AWS error a call fails with.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { clientConfig, unique } from '../helpers/opsbox.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One account as a caller: its id, its credentials, a client per service and its git user:password. */
export interface Account {
  id: string;
  creds: Creds;
  git: string;
  s3: S3Client;
  cc: CodeCommitClient;
  cb: CodeBuildClient;
  cp: CodePipelineClient;
  cw: CloudWatchClient;
  logs: CloudWatchLogsClient;
  events: EventBridgeClient;
  sns: SNSClient;
  iam: IAMClient;
  sts: STSClient;
}

export function account(url: string, id: string, creds: Creds): Account {
  const c = clientConfig(url, creds);
  return {
    id,
    creds,
    git: `${encodeURIComponent(creds.accessKeyId)}:${encodeURIComponent(creds.secretAccessKey)}`,
    s3: new S3Client({ ...c, forcePathStyle: true }),
    cc: new CodeCommitClient(c),
    cb: new CodeBuildClient(c),
    cp: new CodePipelineClient(c),
    cw: new CloudWatchClient(c),
    logs: new CloudWatchLogsClient(c),
    events: new EventBridgeClient(c),
    sns: new SNSClient(c),
    iam: new IAMClient(c),
    sts: new STSClient(c),
  };
}

/** An IAM user's access key in the account `as` signs for: keys made through IAM belong to their account. */
export async function iamUserKey(as: Account): Promise<Creds> {
  const user = unique('xacct-user');
  await as.iam.send(new CreateUserCommand({ UserName: user }));
  const { AccessKey } = await as.iam.send(new CreateAccessKeyCommand({ UserName: user }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

/**
 * The two accounts of a mode. Default mode: A is the 12-digit key 111111111111, B an IAM user key
 * made in 222222222222. Strict mode (only known keys verify): A is the root key (000000000000), B an
 * IAM user key made in 222222222222 by that account's root (its 12-digit id signed with the root secret).
 */
export async function twoAccounts(url: string, strict: boolean): Promise<{ a: Account; b: Account }> {
  const a = strict
    ? account(url, '000000000000', { accessKeyId: 'test', secretAccessKey: 'test' })
    : account(url, '111111111111', { accessKeyId: '111111111111', secretAccessKey: 'x' });
  const bootstrap = account(url, '222222222222', { accessKeyId: '222222222222', secretAccessKey: strict ? 'test' : 'x' });
  const b = account(url, '222222222222', await iamUserKey(bootstrap));
  for (const acct of [a, b]) assert.equal((await acct.sts.send(new GetCallerIdentityCommand({}))).Account, acct.id);
  return { a, b };
}

/** Asserts that `p` fails with the AWS error `code` (the SDK's error name). */
export async function failsWith(p: Promise<unknown>, code: string | RegExp, what = '') {
  await assert.rejects(p, (e: any) => {
    const ok = typeof code === 'string' ? e.name === code : code.test(e.name);
    if (!ok) assert.fail(`${what}: expected ${code}, got ${e.name}: ${e.message}`);
    return true;
  });
}

/** Receives SNS notifications over HTTP (confirming the subscription), keeping each Message. */
export class Sink {
  readonly messages: string[] = [];
  private server: Server;
  private confirmToken?: (token: string) => void;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        res.end('ok');
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (doc.Type === 'SubscriptionConfirmation') this.confirmToken?.(doc.SubscribeURL);
        else this.messages.push(doc.Message);
      });
    });
  }

  async listen() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as any).port}/`;
  }

  /** Subscribes the sink to a topic of `as` and confirms by opening the SubscribeURL it receives, unsigned, as a browser would (strict mode too). */
  async subscribe(as: Account, topicArn: string) {
    const subscribeUrl = new Promise<string>((r) => (this.confirmToken = r));
    await as.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: this.url }));
    const res = await fetch(await subscribeUrl);
    if (res.status !== 200) throw new Error(`SubscribeURL answered ${res.status}: ${await res.text()}`);
  }

  async waitFor(pred: (m: string[]) => boolean, ms = 5000) {
    const end = Date.now() + ms;
    while (!pred(this.messages)) {
      if (Date.now() > end) throw new Error(`timed out; sink has ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close() {
    this.server.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
