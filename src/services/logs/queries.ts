/**
 * CloudWatch Logs Insights: StartQuery (checked and compiled at once, run in the background in
 * chunks of events read through the group's time index, yielding to other requests between
 * chunks), GetQueryResults (Scheduled → Running → Complete with recordsMatched, recordsScanned and
 * bytesScanned; partial statistics while it runs), StopQuery, DescribeQueries, and saved queries
 * (PutQueryDefinition, DescribeQueryDefinitions, DeleteQueryDefinition). Queries and their results
 * are rows, so a finished query's results outlive a restart and an interrupted one runs again.
 */
import { randomUUID } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { LogsHandlers, QueryStatistics } from './api.generated.js';
import { decodeToken, encodeToken, resolveGroup, retentionFloor } from './groups.js';
import { eventRecord } from './insights/evaluate.js';
import { compileQuery, Execution } from './insights/execute.js';
import { QuerySyntaxError } from './insights/parse.js';
import type { GroupRow, LogsStore } from './store.js';

/** Events read per chunk before the query yields the event loop. */
const CHUNK = 5000;
/** Results are kept this long after a query ends (AWS keeps them 7 days). */
const KEEP_MS = 7 * 24 * 3_600_000;
const MAX_GROUPS = 50;

interface QueryRow {
  id: string;
  account: string;
  region: string;
  groups: string;
  query: string;
  start_ms: number;
  end_ms: number;
  lim: number | null;
  status: string;
  created: number;
  finished: number | null;
  results: string | null;
  stats: string | null;
}

const invalid = (message: string) => new AwsError('InvalidParameterException', message, 400);

/** MalformedQueryException with the compile error's location, as AWS answers a query it cannot parse. */
function malformed(e: QuerySyntaxError) {
  return new AwsError('MalformedQueryException', e.message, 400, {
    queryCompileError: { location: { startCharOffset: e.start, endCharOffset: e.end }, message: e.message },
  } as unknown as Record<string, string>);
}

export function createQueries(store: LogsStore, clock: Clock) {
  const db = store.db;
  const q = {
    insert: db.prepare(
      'INSERT INTO logs_queries (id, account, region, groups, query, start_ms, end_ms, lim, status, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    get: db.prepare('SELECT * FROM logs_queries WHERE id = ? AND account = ? AND region = ?'),
    status: db.prepare('UPDATE logs_queries SET status = ? WHERE id = ?'),
    finish: db.prepare(
      "UPDATE logs_queries SET status = ?, finished = ?, results = ?, stats = ? WHERE id = ? AND status IN ('Scheduled', 'Running')",
    ),
    stop: db.prepare("UPDATE logs_queries SET status = 'Cancelled', finished = ? WHERE id = ? AND status IN ('Scheduled', 'Running')"),
    list: db.prepare('SELECT * FROM logs_queries WHERE account = ? AND region = ? ORDER BY created DESC, id'),
    unfinished: db.prepare("SELECT * FROM logs_queries WHERE status IN ('Scheduled', 'Running')"),
    expire: db.prepare('DELETE FROM logs_queries WHERE finished IS NOT NULL AND finished < ?'),
    putDef: db.prepare(
      'INSERT OR REPLACE INTO logs_query_definitions (id, account, region, name, query, groups, modified) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    getDef: db.prepare('SELECT * FROM logs_query_definitions WHERE id = ? AND account = ? AND region = ?'),
    listDefs: db.prepare('SELECT * FROM logs_query_definitions WHERE account = ? AND region = ? ORDER BY name, id'),
    deleteDef: db.prepare('DELETE FROM logs_query_definitions WHERE id = ? AND account = ? AND region = ?'),
  };
  /** Statistics of running queries, in memory while they run (stored when they end). */
  const live = new Map<string, QueryStatistics>();
  const stopped = new Set<string>();
  let closed = false;

  function run(row: QueryRow) {
    const scope: Scope = { account: row.account, region: row.region };
    const plan = compileQuery(row.query);
    const exec = new Execution(plan, row.lim ?? undefined);
    const groups = (JSON.parse(row.groups) as string[])
      .map((name) => store.findGroup(scope, name))
      .filter((g): g is GroupRow => g !== undefined);
    const stats = {
      recordsMatched: 0,
      recordsScanned: 0,
      bytesScanned: 0,
      estimatedRecordsSkipped: 0,
      estimatedBytesSkipped: 0,
      logGroupsScanned: groups.length,
    };
    live.set(row.id, stats);
    q.status.run('Running', row.id);
    let gi = 0;
    let pos = { ts: Number.MIN_SAFE_INTEGER, id: 0 };
    let names = groups[0] ? store.streamNames(groups[0]) : new Map<number, string>();
    const step = () => {
      if (closed) return;
      if (stopped.delete(row.id)) return void live.delete(row.id);
      try {
        const g = groups[gi];
        if (!g) {
          stats.recordsMatched = exec.matched;
          const results = exec.finish();
          q.finish.run('Complete', clock.now(), JSON.stringify(results), JSON.stringify(stats), row.id);
          live.delete(row.id);
          return;
        }
        const lo = Math.max(row.start_ms, retentionFloor(g, clock.now()));
        const events = store.groupChunk(g.id, pos, lo, row.end_ms, CHUNK);
        const logName = `${row.account}:${g.name}`;
        for (const e of events) {
          stats.recordsScanned++;
          stats.bytesScanned += Buffer.byteLength(e.message, 'utf8');
          exec.push(eventRecord(e.ts, e.message, names.get(e.stream_id), logName, e.ingested));
        }
        stats.recordsMatched = exec.matched;
        if (events.length < CHUNK) {
          gi++;
          pos = { ts: Number.MIN_SAFE_INTEGER, id: 0 };
          if (groups[gi]) names = store.streamNames(groups[gi]);
        } else pos = events[events.length - 1];
        setImmediate(step);
      } catch (err) {
        log.error('logs: query failed', { id: row.id, err: err instanceof Error ? err.stack : String(err) });
        q.finish.run('Failed', clock.now(), '[]', JSON.stringify(stats), row.id);
        live.delete(row.id);
      }
    };
    setImmediate(step);
  }

  const handlers: LogsHandlers = {
    StartQuery(input, ctx) {
      const given = [input.logGroupName, input.logGroupNames, input.logGroupIdentifiers].filter((x) => x !== undefined).length;
      if (given !== 1) throw invalid('Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be provided.');
      const ids = input.logGroupName !== undefined ? [input.logGroupName] : (input.logGroupNames ?? input.logGroupIdentifiers)!;
      if (ids.length === 0) throw invalid('At least one log group must be provided.');
      if (ids.length > MAX_GROUPS) throw invalid(`A query can name at most ${MAX_GROUPS} log groups.`);
      const groups = ids.map((id) => resolveGroup(store, ctx, { logGroupIdentifier: id }));
      if (input.endTime < input.startTime) throw invalid('End time must be greater than or equal to start time.');
      if (input.limit !== undefined && (input.limit < 1 || input.limit > 10000)) throw invalid('limit must be between 1 and 10000.');
      try {
        compileQuery(input.queryString);
      } catch (e) {
        if (e instanceof QuerySyntaxError) throw malformed(e);
        throw e;
      }
      const id = randomUUID();
      q.insert.run(
        id,
        ctx.account,
        ctx.region,
        JSON.stringify(groups.map((g) => g.name)),
        input.queryString,
        input.startTime * 1000,
        input.endTime * 1000 + 999,
        input.limit ?? null,
        'Scheduled',
        clock.now(),
      );
      run(q.get.get(id, ctx.account, ctx.region) as QueryRow);
      return { queryId: id };
    },

    GetQueryResults(input, ctx) {
      const row = q.get.get(input.queryId, ctx.account, ctx.region) as QueryRow | undefined;
      if (!row) throw new AwsError('ResourceNotFoundException', 'Query does not exist.', 400);
      const stats = row.stats
        ? (JSON.parse(row.stats) as QueryStatistics)
        : (live.get(row.id) ?? { recordsMatched: 0, recordsScanned: 0, bytesScanned: 0 });
      return {
        queryLanguage: 'CWLI',
        status: row.status,
        results: row.results ? JSON.parse(row.results) : [],
        statistics: { ...stats },
      };
    },

    StopQuery(input, ctx) {
      const row = q.get.get(input.queryId, ctx.account, ctx.region) as QueryRow | undefined;
      if (!row) throw new AwsError('ResourceNotFoundException', 'Query does not exist.', 400);
      if (row.status !== 'Running' && row.status !== 'Scheduled') throw invalid(`Query is not running: ${row.status}.`);
      q.stop.run(clock.now(), row.id);
      stopped.add(row.id);
      return { success: true };
    },

    DescribeQueries(input, ctx) {
      let rows = q.list.all(ctx.account, ctx.region) as QueryRow[];
      if (input.status !== undefined) rows = rows.filter((r) => r.status === input.status);
      if (input.logGroupName !== undefined) rows = rows.filter((r) => (JSON.parse(r.groups) as string[]).includes(input.logGroupName!));
      const start = input.nextToken !== undefined ? Number(decodeToken(input.nextToken)) : 0;
      if (!Number.isInteger(start) || start < 0) throw invalid('The specified nextToken is invalid.');
      const size = input.maxResults ?? 1000;
      const page = rows.slice(start, start + size);
      return {
        queries: page.map((r) => ({
          queryLanguage: 'CWLI',
          queryId: r.id,
          queryString: r.query,
          status: r.status,
          createTime: r.created,
          logGroupName: (JSON.parse(r.groups) as string[])[0],
          queryDuration: r.finished !== null ? r.finished - r.created : undefined,
          bytesScanned: r.stats ? (JSON.parse(r.stats) as QueryStatistics).bytesScanned : undefined,
        })),
        nextToken: start + size < rows.length ? encodeToken(String(start + size)) : undefined,
      };
    },

    PutQueryDefinition(input, ctx) {
      try {
        compileQuery(input.queryString);
      } catch (e) {
        if (e instanceof QuerySyntaxError) throw malformed(e);
        throw e;
      }
      let id = input.queryDefinitionId;
      if (id !== undefined && !q.getDef.get(id, ctx.account, ctx.region))
        throw new AwsError('ResourceNotFoundException', 'Query definition does not exist.', 400);
      id ??= randomUUID();
      q.putDef.run(id, ctx.account, ctx.region, input.name, input.queryString, JSON.stringify(input.logGroupNames ?? []), clock.now());
      return { queryDefinitionId: id };
    },

    DescribeQueryDefinitions(input, ctx) {
      let rows = q.listDefs.all(ctx.account, ctx.region) as { id: string; name: string; query: string; groups: string; modified: number }[];
      if (input.queryDefinitionNamePrefix !== undefined) rows = rows.filter((r) => r.name.startsWith(input.queryDefinitionNamePrefix!));
      const start = input.nextToken !== undefined ? Number(decodeToken(input.nextToken)) : 0;
      if (!Number.isInteger(start) || start < 0) throw invalid('The specified nextToken is invalid.');
      const size = input.maxResults ?? 1000;
      return {
        queryDefinitions: rows.slice(start, start + size).map((r) => ({
          queryLanguage: 'CWLI',
          queryDefinitionId: r.id,
          name: r.name,
          queryString: r.query,
          lastModified: r.modified,
          logGroupNames: JSON.parse(r.groups),
        })),
        nextToken: start + size < rows.length ? encodeToken(String(start + size)) : undefined,
      };
    },

    DeleteQueryDefinition(input, ctx) {
      const gone = q.deleteDef.run(input.queryDefinitionId, ctx.account, ctx.region).changes === 1;
      if (!gone) throw new AwsError('ResourceNotFoundException', 'Query definition does not exist.', 400);
      return { success: true };
    },
  };

  return {
    handlers,
    /** Runs again what a previous process left unfinished; forgets results older than AWS keeps them. */
    start() {
      q.expire.run(clock.now() - KEEP_MS);
      for (const row of q.unfinished.all() as QueryRow[]) run(row);
    },
    close() {
      closed = true;
    },
  };
}
