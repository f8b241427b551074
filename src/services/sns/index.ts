/**
 * SNS: topics, subscriptions with real HTTP delivery, Publish. topics.ts / subscriptions.ts /
 * publish.ts hold the handlers, store.ts the tables, delivery.ts the HTTP sender with retries and
 * the delivery log (outgoing.ts the message it sends, retryPolicy.ts the delivery policies),
 * signing.ts the message signatures, filterPolicy.ts filter policies (SNS's dialect of
 * core/eventPattern.ts, with cidr). Accepted messages
 * and pending http(s) deliveries are kept in the store and resumed when the engine starts.
 * Also: the env.targets invoker for arn:aws:sns:… (alarm actions, EventBridge targets) and the
 * non-AWS routes under /_aws/sns/ (the signing certificate, the recent deliveries as JSON).
 */
import { randomUUID } from 'node:crypto';
import { parseArn } from '../../core/arn.js';
import type { HttpRoute, ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import { authorize } from './access.js';
import type { SnsHandlers } from './api.generated.js';
import { Deliverer } from './delivery.js';
import { Publisher, publishHandlers } from './publish.js';
import { CERT_PATH, CERT_PREFIX, Signer } from './signing.js';
import { createSnsStore, type SnsStore } from './store.js';
import { subscriptionHandlers } from './subscriptions.js';
import { topicHandlers } from './topics.js';

interface Engine {
  store: SnsStore;
  signer: Signer;
  deliverer: Deliverer;
  publisher: Publisher;
}

function snsEngine(env: ServiceEnv): Engine {
  const store = createSnsStore(env.store);
  const signer = new Signer(env.config.dataDir);
  const deliverer = new Deliverer(store, signer, env.clock, env.targets, env.metrics);
  return { store, signer, deliverer, publisher: new Publisher(store, deliverer, env.clock) };
}

export function createSns(env: ServiceEnv): ServiceInstance<SnsHandlers> {
  const engine = snsEngine(env);
  const { store, deliverer, publisher } = engine;
  env.targets.register(
    'sns',
    (inv) => {
      const p = parseArn(inv.arn)!;
      const topic = store.topicByArn(inv.arn);
      if (!topic || p.resource.includes(':')) throw new Error(`SNS topic ${inv.arn} does not exist`);
      // another account's alarm or rule publishes only where the topic's policy lets that account
      authorize(
        topic,
        {
          account: inv.account,
          caller: { account: inv.account, arn: `arn:aws:iam::${inv.account}:root`, userId: inv.account, accessKeyId: '' },
        },
        'Publish',
      );
      // AWS cuts alarm subjects to SNS's 100 printable characters rather than failing the action
      const subject = inv.subject?.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100) || undefined;
      // FIFO topics need a group; a target that names none publishes in one group per source, never deduplicated
      const fifo = topic.arn.endsWith('.fifo');
      const opt = (k: string) => (typeof inv.options?.[k] === 'string' ? (inv.options[k] as string) : undefined);
      publisher.publish(topic, {
        message: inv.payload,
        subject,
        groupId: fifo ? (opt('MessageGroupId') ?? inv.source) : undefined,
        dedupId: fifo ? (opt('MessageDeduplicationId') ?? randomUUID()) : undefined,
      });
    },
    { crossAccount: true },
  );
  return {
    handlers: { ...topicHandlers(store, env.tags), ...subscriptionHandlers(store, deliverer), ...publishHandlers(store, publisher) },
    routes: snsRoutes(engine),
    start() {
      // deliveries survive restarts: pick up what the previous run left (pending deliveries first,
      // so the ones the resumed fan-outs record are not picked up twice)
      deliverer.resume();
      publisher.resume();
    },
    close: () => deliverer.close(),
  };
}

function snsRoutes({ signer, deliverer }: Engine): HttpRoute[] {
  return [
    {
      prefix: CERT_PREFIX,
      async handle(req, res) {
        const url = new URL(req.url ?? '/', 'http://opsbox');
        if (req.method === 'GET' && url.pathname === CERT_PATH) {
          const { cert } = await signer.keys();
          res.writeHead(200, { 'Content-Type': 'application/x-pem-file', 'Content-Length': Buffer.byteLength(cert) });
          return void res.end(cert);
        }
        if (req.method === 'GET' && url.pathname === `${CERT_PREFIX}deliveries`) {
          const body = JSON.stringify({
            deliveries: deliverer.deliveries({
              topicArn: url.searchParams.get('topicArn') ?? undefined,
              subscriptionArn: url.searchParams.get('subscriptionArn') ?? undefined,
              endpoint: url.searchParams.get('endpoint') ?? undefined,
            }),
          });
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
          return void res.end(body);
        }
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('Not Found');
      },
    },
  ];
}

export const sns: ServiceSpec<SnsHandlers> = {
  name: 'sns',
  model: 'sns-2010-03-31',
  signingName: 'sns',
  protocols: ['query'],
  // SNS checks values itself (InvalidParameter naming the parameter), not with the model's constraint messages
  patch: { validationErrorCode: 'ValidationError', modelConstraints: false },
  // the SubscribeURL in a SubscriptionConfirmation is opened unsigned, by a browser or curl
  anonymousOperations: ['ConfirmSubscription'],
  create: createSns,
};
