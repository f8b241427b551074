/** SNS over the in-process gateway (awsQuery, as the aws CLI sends it) and a local http endpoint that records what SNS POSTs. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import type { InProcessOpsbox } from './inProcess.js';
import { until } from './wait.js';

const xml = new XMLParser({ parseTagValue: false });

/** One SNS query action; throws `Code: Message` on an error response. */
export async function snsQuery(gw: InProcessOpsbox, action: string, params: Record<string, string>, account = 'test') {
  const res = await gw.send({
    method: 'POST',
    url: '/',
    headers: {
      host: 'localhost:4566',
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=${account}/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00`,
    },
    body: Buffer.from(new URLSearchParams({ Action: action, Version: '2010-03-31', ...params }).toString()),
  });
  const doc = xml.parse(res.body().toString());
  if (doc.ErrorResponse) throw new Error(`${doc.ErrorResponse.Error.Code}: ${doc.ErrorResponse.Error.Message}`);
  return { status: res.statusCode, result: doc[`${action}Response`]?.[`${action}Result`] ?? {} };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

export type Endpoint = Awaited<ReturnType<typeof httpEndpoint>>;

/** An http endpoint on a free port; the n-th Notification is answered statuses[n - 1] (then 200). */
export async function httpEndpoint(statuses: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const notifications = received.filter((r) => r.headers['x-amz-sns-message-type'] === 'Notification').length;
      const failing = req.headers['x-amz-sns-message-type'] === 'Notification' && notifications <= statuses.length;
      res.writeHead(failing ? statuses[notifications - 1] : 200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const of = (type: string) => received.filter((r) => r.headers['x-amz-sns-message-type'] === type);
  return { url, received, of, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export { until };

/** Long enough for a POST that would go out to have gone out. */
export const settle = () => new Promise((r) => setTimeout(r, 80));

/** A new topic with `ep` (an endpoint not subscribed to anything yet) subscribed over http and confirmed. */
export async function confirmedTopic(gw: InProcessOpsbox, ep: Endpoint, name: string, account = 'test') {
  const topicArn = (await snsQuery(gw, 'CreateTopic', { Name: name }, account)).result.TopicArn as string;
  const subscriptionArn = (
    await snsQuery(gw, 'Subscribe', { TopicArn: topicArn, Protocol: 'http', Endpoint: ep.url, ReturnSubscriptionArn: 'true' }, account)
  ).result.SubscriptionArn as string;
  await until(() => ep.of('SubscriptionConfirmation').length === 1);
  const token = JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token;
  await snsQuery(gw, 'ConfirmSubscription', { TopicArn: topicArn, Token: token }, account);
  return { topicArn, subscriptionArn };
}
