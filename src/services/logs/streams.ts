/** Log streams: create, describe (by name or by last event time, both directions, paged), delete. */
import { AwsError } from '../../core/errors.js';
import { keysetPage } from '../../core/pagination.js';
import type { LogsHandlers } from './api.generated.js';
import { decodeToken, resolveGroup, streamArn } from './groups.js';
import type { LogsStore, StreamRow } from './store.js';

/** AWS's sequence tokens are long decimal strings; ours count the stream's accepted batches. */
export const sequenceToken = (seq: number) => String(seq).padStart(56, '0');

export function streamHandlers(store: LogsStore): LogsHandlers {
  return {
    CreateLogStream(input, ctx) {
      const g = store.requireGroup(ctx, input.logGroupName);
      if (store.findStream(g, input.logStreamName))
        throw new AwsError('ResourceAlreadyExistsException', 'The specified log stream already exists', 400);
      store.createStream(g, input.logStreamName, ctx.clock.now());
    },

    DescribeLogStreams(input, ctx) {
      const g = resolveGroup(store, ctx, input);
      const by = input.orderBy === 'LastEventTime' ? 'last' : 'name';
      if (by === 'last' && input.logStreamNamePrefix !== undefined)
        throw new AwsError('InvalidParameterException', 'Cannot order by LastEventTime with a logStreamNamePrefix.', 400);
      const limit = input.limit ?? 50;
      let after: [number, string] | string | undefined;
      if (input.nextToken !== undefined) {
        try {
          after = JSON.parse(decodeToken(input.nextToken));
        } catch {
          throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.', 400);
        }
        if (by === 'name' ? typeof after !== 'string' : !Array.isArray(after))
          throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.', 400);
      }
      const rows = store.listStreams(g, { by, desc: !!input.descending, prefix: input.logStreamNamePrefix, after, limit });
      const key = (s: StreamRow) => (by === 'name' ? s.name : [s.last_ts ?? 0, s.name]);
      const { items, next } = keysetPage(rows, limit, (s) => JSON.stringify(key(s)));
      return {
        logStreams: items.map((s) => ({
          logStreamName: s.name,
          creationTime: s.created,
          firstEventTimestamp: s.first_ts ?? undefined,
          lastEventTimestamp: s.last_ts ?? undefined,
          lastIngestionTime: s.last_ingest ?? undefined,
          uploadSequenceToken: s.seq ? sequenceToken(s.seq) : undefined,
          arn: streamArn(ctx, g.name, s.name),
          storedBytes: s.stored_bytes,
        })),
        nextToken: next,
      };
    },

    DeleteLogStream(input, ctx) {
      const g = store.requireGroup(ctx, input.logGroupName);
      store.deleteStream(store.requireStream(g, input.logStreamName).id);
    },
  };
}
