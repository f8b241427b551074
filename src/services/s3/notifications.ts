/**
 * Bucket event notifications: Put/GetBucketNotificationConfiguration with AWS's checks (event
 * names, prefix/suffix filter rules, overlapping configurations, destinations that must exist), and
 * the Notifier that, once a write or delete has committed, delivers S3's event message (version 2.1)
 * to SNS topics (as the message, Subject "Amazon S3 Notification") and Lambda functions, and with
 * EventBridgeConfiguration puts "Object Created"/"Object Deleted" events on the internal bus, where
 * EventBridge routes them through the default bus's rules. SQS is not part of opsbox: a queue
 * destination is refused as AWS refuses one it cannot validate. Delivery never fails the request
 * that caused it; a failed delivery is logged.
 */
import { randomUUID } from 'node:crypto';
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { NotificationConfiguration, NotificationConfigurationFilter, S3Handlers } from './api.generated.js';
import { bucketArn, canonicalId, type BucketRow, type S3Store } from './store.js';

const HOST_ID = Buffer.from('opsbox').toString('base64');

/** Every event type S3 accepts in a notification configuration (only ObjectCreated/ObjectRemoved fire in opsbox). */
export const EVENT_TYPES = new Set([
  's3:ReducedRedundancyLostObject',
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated',
  's3:ObjectRestore:*',
  's3:ObjectRestore:Post',
  's3:ObjectRestore:Completed',
  's3:ObjectRestore:Delete',
  's3:Replication:*',
  's3:Replication:OperationFailedReplication',
  's3:Replication:OperationNotTracked',
  's3:Replication:OperationMissedThreshold',
  's3:Replication:OperationReplicatedAfterThreshold',
  's3:LifecycleExpiration:*',
  's3:LifecycleExpiration:Delete',
  's3:LifecycleExpiration:DeleteMarkerCreated',
  's3:LifecycleTransition',
  's3:IntelligentTiering',
  's3:ObjectTagging:*',
  's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete',
  's3:ObjectAcl:Put',
]);

/** What fired: the event name without "s3:" (as records carry it) and EventBridge's reason. */
export type ObjectEvent =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete'
  | 'ObjectRemoved:DeleteMarkerCreated';

export interface ObjectChange {
  event: ObjectEvent;
  /** The API call, EventBridge's "reason": PutObject, CopyObject, CompleteMultipartUpload, DeleteObject, DeleteObjects. */
  reason: string;
  key: string;
  size?: number;
  /** Quoted or not; records carry it unquoted. */
  etag?: string;
  /** The version written or removed, as S3 reports it (undefined for buckets that never had versioning). */
  versionId?: string;
}

type Kind = 'Topic' | 'Queue' | 'Lambda';
const ARN_FIELD = { Topic: 'TopicArn', Queue: 'QueueArn', Lambda: 'LambdaFunctionArn' } as const;
const LIST_FIELD = { Topic: 'TopicConfigurations', Queue: 'QueueConfigurations', Lambda: 'LambdaFunctionConfigurations' } as const;
const ARN_SERVICE = { Topic: 'sns', Queue: 'sqs', Lambda: 'lambda' } as const;
const ARN_ARGUMENT = { Topic: 'Topic', Queue: 'Queue', Lambda: 'CloudFunction' } as const;

interface Destination {
  kind: Kind;
  id: string;
  arn: string;
  events: string[];
  prefix: string;
  suffix: string;
  filter?: NotificationConfigurationFilter;
}

const invalidArgument = (message: string, name?: string, value?: string) =>
  new AwsError('InvalidArgument', message, 400, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' });

/** The filter rules as S3 keeps them: Name "Prefix"/"Suffix", at most one of each. */
function normalizeFilter(filter: NotificationConfigurationFilter | undefined) {
  const rules = filter?.Key?.FilterRules ?? [];
  let prefix: string | undefined;
  let suffix: string | undefined;
  for (const r of rules) {
    const name = (r.Name ?? '').toLowerCase();
    if (name !== 'prefix' && name !== 'suffix')
      throw invalidArgument('filter rule name must be either prefix or suffix', 'FilterRule.Name', r.Name ?? '');
    if ((name === 'prefix' ? prefix : suffix) !== undefined)
      throw invalidArgument(`Cannot specify more than one ${name} rule in a filter.`, 'FilterRule.Name', name);
    if (name === 'prefix') prefix = r.Value ?? '';
    else suffix = r.Value ?? '';
  }
  const FilterRules = [
    ...(prefix !== undefined ? [{ Name: 'Prefix', Value: prefix }] : []),
    ...(suffix !== undefined ? [{ Name: 'Suffix', Value: suffix }] : []),
  ];
  return { prefix: prefix ?? '', suffix: suffix ?? '', filter: filter ? { Key: { FilterRules } } : undefined };
}

/** Two event types that can name the same event: equal, or a wildcard and one of its members. */
function eventsIntersect(a: string, b: string) {
  if (a === b) return true;
  const family = (e: string) => (e.endsWith(':*') ? e.slice(0, -1) : undefined);
  const fa = family(a);
  const fb = family(b);
  return (fa !== undefined && b.startsWith(fa)) || (fb !== undefined && a.startsWith(fb));
}

/** AWS refuses configurations that could both match one event for one key. */
function checkOverlaps(dests: Destination[]) {
  for (let i = 0; i < dests.length; i++)
    for (let j = i + 1; j < dests.length; j++) {
      const a = dests[i];
      const b = dests[j];
      const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
      const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
      if (!prefixes || !suffixes) continue;
      for (const ea of a.events)
        for (const eb of b.events) {
          if (!eventsIntersect(ea, eb)) continue;
          if (!a.prefix && !a.suffix && !b.prefix && !b.suffix)
            throw invalidArgument(
              'Configurations overlap. Configurations on the same bucket cannot share a common event type.',
              'Event',
              `${ea}, ${eb}`,
            );
          throw invalidArgument(
            'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.',
            'Event',
            `${ea}, ${eb}`,
          );
        }
    }
}

/** The configuration's destinations, checked and with ids (S3 makes one up for a configuration without). */
function destinationsOf(config: NotificationConfiguration): Destination[] {
  const dests: Destination[] = [];
  for (const kind of ['Topic', 'Queue', 'Lambda'] as const) {
    for (const c of (config[LIST_FIELD[kind]] ?? []) as Array<Record<string, any>>) {
      const arn = String(c[ARN_FIELD[kind]] ?? '');
      const events = (c.Events ?? []) as string[];
      if (!events.length)
        throw new AwsError(
          'MalformedXML',
          'The XML you provided was not well-formed or did not validate against our published schema',
          400,
        );
      for (const e of events) if (!EVENT_TYPES.has(e)) throw invalidArgument('The event is not supported for notifications', 'Event', e);
      const p = parseArn(arn);
      if (!p || p.service !== ARN_SERVICE[kind] || !p.account || !p.region || !p.resource)
        throw invalidArgument('The ARN is not well formed', ARN_ARGUMENT[kind], arn);
      const { prefix, suffix, filter } = normalizeFilter(c.Filter);
      dests.push({
        kind,
        id: c.Id || Buffer.from(randomUUID()).toString('base64').replace(/=+$/, ''),
        arn,
        events: [...new Set(events)],
        prefix,
        suffix,
        filter,
      });
    }
  }
  checkOverlaps(dests);
  return dests;
}

interface StoredConfig {
  destinations: Destination[];
  eventBridge: boolean;
}

const matches = (d: Destination, eventName: string, key: string) =>
  key.startsWith(d.prefix) &&
  key.endsWith(d.suffix) &&
  d.events.some((e) => e === eventName || (e.endsWith(':*') && eventName.startsWith(e.slice(0, -1))));

/** Object keys in event records are URL-encoded as S3 encodes them: spaces as "+", "/" kept. */
export function encodeEventKey(key: string) {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');
}

export class Notifier {
  private lastSequencer = 0n;

  constructor(
    private env: ServiceEnv,
    private store: S3Store,
  ) {}

  handlers(): S3Handlers {
    return {
      PutBucketNotificationConfiguration: async (input, ctx) => {
        const bucket = this.store.requireBucket(input.Bucket, ctx);
        const config = input.NotificationConfiguration ?? {};
        const destinations = destinationsOf(config);
        if (!input.SkipDestinationValidation) await this.validateDestinations(destinations);
        const stored: StoredConfig = { destinations, eventBridge: config.EventBridgeConfiguration !== undefined };
        const empty = !destinations.length && !stored.eventBridge;
        this.store.setBucketField(bucket.name, 'notification', empty ? null : JSON.stringify(stored));
        // S3 announces a new configuration to its topics (and queues) with a test event
        const topics = [...new Set(destinations.filter((d) => d.kind === 'Topic').map((d) => d.arn))];
        for (const arn of topics)
          this.deliver(bucket, { kind: 'Topic', arn } as Destination, {
            Service: 'Amazon S3',
            Event: 's3:TestEvent',
            Time: new Date(this.env.clock.now()).toISOString(),
            Bucket: bucket.name,
            RequestId: ctx.requestId,
            HostId: HOST_ID,
          });
      },
      GetBucketNotificationConfiguration: (input, ctx) => {
        const bucket = this.store.requireBucket(input.Bucket, ctx);
        const stored = parseStored(bucket);
        const list = (kind: Kind) => {
          const out = stored.destinations
            .filter((d) => d.kind === kind)
            .map((d) => ({ Id: d.id, [ARN_FIELD[kind]]: d.arn, Events: d.events, Filter: d.filter }));
          return out.length ? out : undefined;
        };
        return {
          TopicConfigurations: list('Topic'),
          QueueConfigurations: list('Queue'),
          LambdaFunctionConfigurations: list('Lambda'),
          EventBridgeConfiguration: stored.eventBridge ? {} : undefined,
        } as never;
      },
    };
  }

  /** S3 checks that it could deliver to every destination before it keeps the configuration. */
  private async validateDestinations(dests: Destination[]) {
    const failures: [string, string][] = [];
    for (const d of dests) {
      const p = parseArn(d.arn)!;
      const scope = { account: p.account, region: p.region };
      let ok = false;
      try {
        if (d.kind === 'Topic' && this.env.services.has('sns')) {
          await this.env.services.call('sns', 'GetTopicAttributes', { TopicArn: d.arn }, scope);
          ok = true;
        } else if (d.kind === 'Lambda' && this.env.services.has('lambda')) {
          await this.env.services.call('lambda', 'GetFunction', { FunctionName: d.arn }, scope);
          ok = true;
        }
      } catch {
        ok = false;
      }
      if (ok) continue;
      failures.push([
        d.arn,
        d.kind === 'Lambda'
          ? `Not authorized to invoke function [${d.arn}]`
          : `Permissions on the destination ${d.kind === 'Topic' ? 'topic' : 'queue'} do not allow S3 to publish notifications from this bucket`,
      ]);
    }
    if (!failures.length) return;
    const fields: Record<string, string> = {};
    failures.forEach(([arn, why], i) => {
      fields[`ArgumentName${i + 1}`] = arn;
      fields[`ArgumentValue${i + 1}`] = why;
    });
    throw new AwsError('InvalidArgument', 'Unable to validate the following destination configurations', 400, fields);
  }

  /** A hex string that grows with every event, as S3's sequencer does for one key. */
  private sequencer() {
    let next = BigInt(this.env.clock.now()) * 4096n;
    if (next <= this.lastSequencer) next = this.lastSequencer + 1n;
    this.lastSequencer = next;
    return next.toString(16).toUpperCase().padStart(18, '0');
  }

  /** Called once `change` has committed: delivers to every matching destination, in the background. */
  emit(bucket: BucketRow, change: ObjectChange, ctx: RequestContext) {
    if (!bucket.notification) return;
    try {
      this.send(bucket, change, ctx);
    } catch (err) {
      // the write has committed: a notification that cannot be built is logged, never the request's failure
      log.error('s3: event notification failed', { bucket: bucket.name, key: change.key, err: String(err) });
    }
  }

  private send(bucket: BucketRow, change: ObjectChange, ctx: RequestContext) {
    const stored = parseStored(bucket);
    const eventName = `s3:${change.event}`;
    const targets = stored.destinations.filter((d) => matches(d, eventName, change.key));
    if (!targets.length && !stored.eventBridge) return;
    const now = new Date(this.env.clock.now()).toISOString();
    const sequencer = this.sequencer();
    const etag = change.etag?.replace(/^"(.*)"$/, '$1');
    const created = change.event.startsWith('ObjectCreated');
    const sourceIp = String(ctx.headers['x-forwarded-for'] ?? '127.0.0.1')
      .split(',')[0]
      .trim();
    const principal = ctx.caller.userId && ctx.caller.userId !== ctx.account ? `AWS:${ctx.caller.userId}` : ctx.account;
    for (const d of targets) {
      const record = {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: bucket.region,
        eventTime: now,
        eventName: change.event,
        userIdentity: { principalId: principal },
        requestParameters: { sourceIPAddress: sourceIp },
        responseElements: { 'x-amz-request-id': ctx.requestId, 'x-amz-id-2': HOST_ID },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: d.id,
          bucket: { name: bucket.name, ownerIdentity: { principalId: canonicalId(bucket.account) }, arn: bucketArn(bucket.name) },
          object: {
            key: encodeEventKey(change.key),
            ...(created ? { size: change.size ?? 0, eTag: etag } : {}),
            ...(change.versionId !== undefined ? { versionId: change.versionId } : {}),
            sequencer,
          },
        },
      };
      this.deliver(bucket, d, { Records: [record] });
    }
    if (stored.eventBridge)
      this.env.bus.publish({
        'detail-type': created ? 'Object Created' : 'Object Deleted',
        source: 'aws.s3',
        account: bucket.account,
        region: bucket.region,
        time: now.replace(/\.\d{3}Z$/, 'Z'),
        resources: [bucketArn(bucket.name)],
        detail: {
          version: '0',
          bucket: { name: bucket.name },
          object: {
            key: change.key,
            ...(created ? { size: change.size ?? 0 } : {}),
            ...(etag !== undefined ? { etag } : {}),
            ...(change.versionId !== undefined ? { 'version-id': change.versionId } : {}),
            sequencer,
          },
          'request-id': ctx.requestId,
          requester: ctx.account,
          'source-ip-address': sourceIp,
          reason: change.reason,
          ...(created
            ? {}
            : { 'deletion-type': change.event === 'ObjectRemoved:DeleteMarkerCreated' ? 'Delete Marker Created' : 'Permanently Deleted' }),
        },
      });
  }

  /** Sends one message to one destination after the current request is answered; failures are logged, never thrown. */
  private deliver(bucket: BucketRow, d: Pick<Destination, 'kind' | 'arn'>, message: object) {
    const payload = JSON.stringify(message);
    const { targets, services } = this.env;
    setImmediate(() => {
      const p = parseArn(d.arn)!;
      const run = async () => {
        if (d.kind === 'Topic')
          return targets.invoke({
            arn: d.arn,
            account: bucket.account,
            region: bucket.region,
            payload,
            subject: 'Amazon S3 Notification',
            source: 's3',
          });
        if (d.kind === 'Lambda') {
          if (targets.supports(d.arn))
            return targets.invoke({ arn: d.arn, account: bucket.account, region: bucket.region, payload, source: 's3' });
          return void (await services.call(
            'lambda',
            'Invoke',
            { FunctionName: d.arn, InvocationType: 'Event', Payload: Buffer.from(payload) },
            { account: p.account, region: p.region },
          ));
        }
        throw new Error('opsbox has no SQS: the queue cannot be delivered to');
      };
      run().catch((err) => log.warn('s3: event notification not delivered', { bucket: bucket.name, destination: d.arn, err: String(err) }));
    });
  }
}

function parseStored(bucket: BucketRow): StoredConfig {
  return bucket.notification ? (JSON.parse(bucket.notification) as StoredConfig) : { destinations: [], eventBridge: false };
}
