/**
 * Subscription filters: PutSubscriptionFilter / DescribeSubscriptionFilters / DeleteSubscriptionFilter,
 * and their delivery: the events of each accepted PutLogEvents batch that match a filter are sent to
 * its destination as AWS sends them to Lambda, `{"awslogs":{"data": base64(gzip(DATA_MESSAGE))}}`,
 * invoked asynchronously through env.targets. Lambda is the destination opsbox has (Kinesis and
 * Firehose are not served); a delivery that fails is logged, as AWS retries and then drops it.
 */
import { gzipSync } from 'node:zlib';
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import type { ServiceCalls } from '../../core/services.js';
import type { Targets } from '../../core/targets.js';
import type { LogsHandlers } from './api.generated.js';
import type { FilterStore, SubscriptionFilterRow } from './filterStore.js';
import { compilePattern, type PatternCache } from './metricFilters.js';
import type { GroupRow, LogsStore, StreamRow } from './store.js';

/** AWS's quota: two subscription filters per log group. */
const MAX_FILTERS_PER_GROUP = 2;

const invalid = (message: string) => new AwsError('InvalidParameterException', message, 400);

const view = (f: SubscriptionFilterRow, groupName: string) => ({
  filterName: f.name,
  logGroupName: groupName,
  filterPattern: f.pattern,
  destinationArn: f.destination,
  roleArn: f.role ?? undefined,
  distribution: f.distribution,
  creationTime: f.created,
});

export function subscriptionEngine(filters: FilterStore, targets: Targets, patterns: PatternCache) {
  return {
    /** Sends the batch's matching events to each subscription filter of the group; `seq` is the batch's sequence number in its stream. */
    ingest(group: GroupRow, stream: StreamRow, seq: number, events: readonly { timestamp: number; message: string }[]) {
      const rows = filters.subscriptionFilters(group.id);
      if (!rows.length || !events.length) return;
      for (const f of rows) {
        const match = patterns.get(f.pattern);
        const logEvents = events.flatMap((e, i) =>
          match(e.message) ? [{ id: eventId(e.timestamp, stream.id, seq, i), timestamp: e.timestamp, message: e.message }] : [],
        );
        if (!logEvents.length) continue;
        const message = {
          messageType: 'DATA_MESSAGE',
          owner: group.account,
          logGroup: group.name,
          logStream: stream.name,
          subscriptionFilters: [f.name],
          logEvents,
        };
        const data = gzipSync(JSON.stringify(message)).toString('base64');
        targets
          .invoke({
            arn: f.destination,
            account: group.account,
            region: group.region,
            payload: JSON.stringify({ awslogs: { data } }),
            source: 'logs',
          })
          .catch((err: Error) =>
            log.warn(`logs: subscription filter ${f.name} of ${group.name} could not deliver to ${f.destination}: ${err.message}`),
          );
      }
    },
  };
}

/** AWS's event ids are 56-digit decimal strings; opsbox's are the timestamp, the stream, the batch and the event's place in it. */
const eventId = (ts: number, stream: number, seq: number, i: number) =>
  `${String(ts).padStart(20, '0')}${String(stream).padStart(12, '0')}${String(seq).padStart(16, '0')}${String(i).padStart(8, '0')}`;

export function subscriptionHandlers(store: LogsStore, filters: FilterStore, services: ServiceCalls): LogsHandlers {
  /** AWS checks that it can deliver before it saves the filter. */
  async function checkDestination(arn: string, scope: { account: string; region: string }) {
    const p = parseArn(arn);
    if (p?.service !== 'lambda')
      throw invalid(`The destination ${arn} is not supported by opsbox: subscription filters deliver to Lambda functions.`);
    try {
      await services.call(
        'lambda',
        'GetFunction',
        { FunctionName: arn },
        { account: p.account || scope.account, region: p.region || scope.region },
      );
    } catch {
      throw invalid('Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.');
    }
  }

  return {
    async PutSubscriptionFilter(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      compilePattern(input.filterPattern);
      const existing = filters.subscriptionFilters(group.id);
      const same = existing.find((f) => f.name === input.filterName);
      if (!same && existing.length >= MAX_FILTERS_PER_GROUP) throw new AwsError('LimitExceededException', 'Resource limit exceeded.', 400);
      await checkDestination(input.destinationArn, ctx);
      filters.putSubscriptionFilter({
        group_id: group.id,
        name: input.filterName,
        pattern: input.filterPattern,
        destination: input.destinationArn,
        role: input.roleArn ?? null,
        distribution: input.distribution ?? 'ByLogStream',
        created: same?.created ?? ctx.clock.now(),
      });
    },

    DeleteSubscriptionFilter(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      if (!filters.deleteSubscriptionFilter(group.id, input.filterName))
        throw new AwsError('ResourceNotFoundException', 'The specified subscription filter does not exist.', 400);
    },

    DescribeSubscriptionFilters(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      const all = filters
        .subscriptionFilters(group.id)
        .filter((f) => input.filterNamePrefix === undefined || f.name.startsWith(input.filterNamePrefix));
      const start =
        input.nextToken === undefined ? 0 : Number(decodeToken(input.nextToken, () => invalid('The specified nextToken is invalid.')));
      const limit = input.limit ?? 50;
      return {
        subscriptionFilters: all.slice(start, start + limit).map((f) => view(f, group.name)),
        nextToken: start + limit < all.length ? encodeToken(start + limit) : undefined,
      };
    },
  };
}
