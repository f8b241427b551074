/**
 * PutEvents: up to 10 entries (256 KB in all), each checked on its own (AWS answers per-entry
 * ErrorCode/ErrorMessage and counts FailedEntryCount), then queued on its bus for routing.
 */
import { randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { EventsHandlers, PutEventsInput } from './api.generated.js';
import { eventTime, type EventDoc, type EventsEngine } from './engine.js';
import { busName, type EventsStore } from './store.js';

const MAX_REQUEST_BYTES = 256 * 1024;

/** AWS's documented entry size: Time 14 bytes, plus the UTF-8 bytes of Source, DetailType, Detail and Resources. */
function entrySize(e: PutEventsInput['Entries'][number]) {
  let n = e.Time ? 14 : 0;
  for (const s of [e.Source, e.DetailType, e.Detail, ...(e.Resources ?? [])]) if (s) n += Buffer.byteLength(s);
  return n;
}

const entryError = (ErrorCode: string, ErrorMessage: string) => ({ ErrorCode, ErrorMessage });
const required = (field: string) =>
  entryError('InvalidArgument', `Parameter ${field} is not valid. Reason: ${field} is a required argument.`);

export function putEventsHandlers(store: EventsStore, engine: EventsEngine): EventsHandlers {
  return {
    PutEvents(input, ctx) {
      if (input.Entries.reduce((n, e) => n + entrySize(e), 0) > MAX_REQUEST_BYTES)
        throw new AwsError('ValidationException', 'Total size of the entries in the request is over the limit.', 400);
      const now = ctx.clock.now();
      let failed = 0;
      const Entries = input.Entries.map((e) => {
        const result = check(e);
        if ('ErrorCode' in result) {
          failed++;
          return result;
        }
        const id = randomUUID();
        const event: EventDoc = {
          version: '0',
          id,
          'detail-type': e.DetailType!,
          source: e.Source!,
          account: ctx.account,
          time: eventTime(e.Time ? e.Time.getTime() : now),
          region: ctx.region,
          resources: e.Resources ?? [],
          detail: result.detail,
        };
        engine.put(result.scope.account, result.scope.region, result.bus, event);
        return { EventId: id };
      });
      return { FailedEntryCount: failed, Entries };

      function check(e: PutEventsInput['Entries'][number]) {
        if (!e.Source) return required('Source');
        if (!e.DetailType) return required('DetailType');
        if (!e.Detail) return required('Detail');
        let detail: unknown;
        try {
          detail = JSON.parse(e.Detail);
        } catch {
          detail = undefined;
        }
        if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
          return entryError('MalformedDetail', 'Detail is malformed.');
        // sources starting with "aws." belong to AWS services
        if (e.Source.startsWith('aws.')) return entryError('NotAuthorizedForSourceException', 'Not authorized for the source.');
        // an event bus ARN may name another account's or region's bus
        // an event bus ARN of another account or region: opsbox keeps no bus policies, so none grants it
        const scope = { account: ctx.account, region: ctx.region };
        let bus: string;
        try {
          bus = busName(e.EventBusName, scope);
        } catch (err) {
          if (err instanceof AwsError) return entryError(err.code, err.message);
          throw err;
        }
        if (bus !== 'default' && !store.findBus(scope, bus))
          return entryError('ResourceNotFoundException', `Event bus ${bus} does not exist.`);
        return { bus, scope, detail: detail as Record<string, unknown> };
      }
    },
  };
}
