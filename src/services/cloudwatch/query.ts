/**
 * GetMetricData: MetricStat queries read one metric's periods; Expression queries run metric math
 * (math.ts) over the other queries of the request, SEARCH() over the stored metrics. `runQueries`
 * is shared with math alarms. Results are paged across all series by MaxDatapoints with an
 * offset token; each result says Complete or PartialData.
 */
import { AwsError } from '../../core/errors.js';
import type { Scope } from '../../core/arn.js';
import type { CloudwatchHandlers, GetMetricDataInput } from './api.generated.js';
import { dimsFromKey, dimsKey } from './format.js';
import { evaluate, MathError, parse, type MathContext, type Series, type Value } from './math.js';
import { alignStart, fold, isStatistic, percentileOf, statistic } from './stats.js';
import type { CloudwatchStore, MetricRow } from './store.js';
import { encodeToken, readToken } from '../../core/pagination.js';

export type Query = GetMetricDataInput['MetricDataQueries'][number];

export interface QueryResult {
  id: string;
  label: string;
  series: Series;
  returnData: boolean;
}

const validation = (msg: string) => new AwsError('ValidationError', msg, 400);
const ID = /^[a-z][a-zA-Z0-9_]*$/;

/** One metric's statistic per period over [start, end). */
export function metricSeries(
  store: CloudwatchStore,
  metricId: number | undefined,
  stat: string,
  period: number,
  start: number,
  end: number,
  unit: string | undefined,
  label: string,
): Series {
  const s = alignStart(start, period);
  if (metricId === undefined) return { ts: [], v: [], period, label };
  let rows = store.points(metricId, s, end, percentileOf(stat) !== undefined);
  if (unit !== undefined) rows = rows.filter((r) => r[1] === unit);
  const ts: number[] = [];
  const v: number[] = [];
  for (const p of fold(rows, s, period * 1000, false)) {
    const x = statistic(p, stat);
    if (x !== undefined) {
      ts.push(p.ts);
      v.push(x);
    }
  }
  return { ts, v, period, label };
}

/** Checks the query list as AWS does before running anything. */
export function checkQueries(queries: Query[]) {
  if (queries.length > 500) throw validation('The collection MetricDataQueries must not have a size greater than 500.');
  const seen = new Set<string>();
  queries.forEach((q, i) => {
    const at = `MetricDataQueries.member.${i + 1}`;
    if (!ID.test(q.Id))
      throw validation(`The value ${q.Id} for parameter ${at}.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.`);
    if (seen.has(q.Id)) throw validation('The values for parameter id in MetricDataQueries are not unique.');
    seen.add(q.Id);
    if (q.Expression !== undefined && q.MetricStat)
      throw validation(`The parameters ${at}.Expression and ${at}.MetricStat are mutually exclusive and you have specified both.`);
    if (q.Expression === undefined && !q.MetricStat) throw validation(`The parameter ${at}.MetricStat is required.`);
    if (q.MetricStat) {
      const p = q.MetricStat.Period;
      if (!Number.isInteger(p) || p < 1 || (p < 60 ? ![1, 5, 10, 30].includes(p) : p % 60 !== 0))
        throw validation(`The value ${p} for parameter ${at}.MetricStat.Period is invalid.`);
      if (!isStatistic(q.MetricStat.Stat))
        throw validation(`The value ${q.MetricStat.Stat} for parameter ${at}.MetricStat.Stat is not supported.`);
    }
  });
}

/** Runs every query (expressions lazily, in dependency order); throws ValidationError on bad math. */
export function runQueries(store: CloudwatchStore, scope: Scope, queries: Query[], start: number, end: number): QueryResult[] {
  const byId = new Map(queries.map((q) => [q.Id, q]));
  const done = new Map<string, Series | Series[]>();
  const running = new Set<string>();

  const ctx: MathContext = {
    get(id) {
      const hit = done.get(id);
      if (hit) return hit;
      const q = byId.get(id);
      if (!q) throw new MathError(`Unrecognized identifier ${id}`);
      if (running.has(id)) throw new MathError(`Circular dependency on ${id}`);
      running.add(id);
      let out: Series | Series[];
      if (q.MetricStat) {
        const m = q.MetricStat.Metric;
        const metricId =
          m.Namespace && m.MetricName
            ? store.findMetricId(scope.account, scope.region, m.Namespace, m.MetricName, dimsKey(m.Dimensions))
            : undefined;
        out = metricSeries(
          store,
          metricId,
          q.MetricStat.Stat,
          q.MetricStat.Period,
          start,
          end,
          q.MetricStat.Unit,
          q.Label ?? m.MetricName ?? q.Id,
        );
      } else {
        let v: Value;
        try {
          v = evaluate(parse(q.Expression!), ctx);
        } catch (e) {
          // the innermost failing expression names itself; outer ones pass its AwsError through
          if (e instanceof MathError) throw validation(`Error in expression ${q.Id} [${e.message}]`);
          throw e;
        }
        if (typeof v === 'number' || typeof v === 'string')
          throw validation(`Error in expression ${q.Id} [Expression must return a time series or an array of time series]`);
        out = Array.isArray(v) ? v : { ...v, label: q.Label ?? q.Id, period: q.Period ?? v.period };
      }
      running.delete(id);
      done.set(id, out);
      return out;
    },
    metrics(prefix) {
      return queries.filter((q) => q.MetricStat && (!prefix || q.Id.startsWith(prefix))).map((q) => ctx.get(q.Id) as Series);
    },
    search(expression, stat, period) {
      if (!isStatistic(stat)) throw new MathError(`Unsupported statistic ${stat}`);
      return search(store, scope, expression).map((m) => {
        const dims = dimsFromKey(m.dims);
        const label = dims.length ? dims.map((d) => d.Value).join(' ') + ` ${m.name}` : m.name;
        return metricSeries(store, m.id, stat, period, start, end, undefined, label);
      });
    },
    grid(period) {
      const out: number[] = [];
      for (let t = alignStart(start, period); t < end; t += period * 1000) out.push(t);
      return out;
    },
  };

  const results: QueryResult[] = [];
  for (const q of queries) {
    const r = ctx.get(q.Id);
    const returnData = q.ReturnData !== false;
    if (Array.isArray(r)) r.forEach((s) => results.push({ id: q.Id, label: s.label, series: s, returnData }));
    else results.push({ id: q.Id, label: r.label, series: r, returnData });
  }
  return results;
}

/** SEARCH('{Namespace,Dim1,Dim2} MetricName="x" term', …): stored metrics that match. */
export function search(store: CloudwatchStore, scope: Scope, expression: string): MetricRow[] {
  let rest = expression.trim();
  let schema: string[] | undefined;
  const brace = /^\{([^}]*)\}/.exec(rest);
  if (brace) {
    schema = brace[1].split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    rest = rest.slice(brace[0].length);
  }
  const terms = [...rest.matchAll(/([A-Za-z0-9_.\-/:]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s()]+)|"((?:[^"\\]|\\.)*)"|([^\s()"]+)/g)]
    .map((m) => (m[1] ? { key: m[1], value: m[2].replace(/^"(.*)"$/, '$1') } : { word: (m[3] ?? m[4]).toLowerCase() }))
    .filter((t) => !('word' in t) || !['and', 'or'].includes(t.word!));
  const rows = (
    schema?.[0]
      ? store.q.metricsIn.all(scope.account, scope.region, schema[0])
      : store.prep('SELECT * FROM cloudwatch_metrics WHERE account = ? AND region = ?').all(scope.account, scope.region)
  ) as MetricRow[];
  return rows.filter((m) => {
    const dims = dimsFromKey(m.dims);
    if (schema) {
      const names = schema.slice(1);
      if (names.length !== dims.length || !names.every((n) => dims.some((d) => d.Name === n))) return false;
    }
    return terms.every((t) => {
      if ('key' in t) {
        if (t.key === 'MetricName') return m.name === t.value;
        if (t.key === 'Namespace') return m.namespace === t.value;
        return dims.some((d) => d.Name === t.key && d.Value === t.value);
      }
      const w = t.word!;
      return [m.name, m.namespace, ...dims.flatMap((d) => [d.Name, d.Value])].some((s) => s.toLowerCase().includes(w));
    });
  });
}

export function queryHandlers(store: CloudwatchStore): CloudwatchHandlers {
  return {
    GetMetricData(input, ctx) {
      const start = input.StartTime.getTime();
      const end = input.EndTime.getTime();
      if (end <= start) throw validation('The parameter StartTime must be less than the parameter EndTime.');
      if (input.ScanBy !== undefined && input.ScanBy !== 'TimestampDescending' && input.ScanBy !== 'TimestampAscending')
        throw validation(`The value ${input.ScanBy} for parameter ScanBy is invalid.`);
      checkQueries(input.MetricDataQueries);
      const descending = input.ScanBy !== 'TimestampAscending';
      const max = input.MaxDatapoints ?? 100_800;
      let skip = 0;
      if (input.NextToken) {
        skip = Number((readToken(input.NextToken) ?? '').replace(/^offset:/, '') || NaN);
        if (!Number.isInteger(skip) || skip < 0)
          throw new AwsError('InvalidNextToken', 'The service cannot complete the request because the NextToken is invalid.', 400);
      }
      const results = runQueries(store, ctx, input.MetricDataQueries, start, end).filter((r) => r.returnData);
      let offset = 0;
      let budget = max;
      let more = false;
      const MetricDataResults = results.map((r) => {
        const idx = r.series.ts
          .map((_, i) => i)
          .filter((i) => Number.isFinite(r.series.v[i]) && r.series.ts[i] >= start - r.series.period * 1000 && r.series.ts[i] < end);
        if (descending) idx.reverse();
        const from = Math.max(0, Math.min(idx.length, skip - offset));
        const take = Math.min(idx.length - from, budget);
        offset += idx.length;
        budget -= take;
        const complete = from + take === idx.length;
        if (!complete) more = true;
        const page = idx.slice(from, from + take);
        return {
          Id: r.id,
          Label: r.label,
          Timestamps: page.map((i) => new Date(r.series.ts[i])),
          Values: page.map((i) => r.series.v[i]),
          StatusCode: complete ? 'Complete' : 'PartialData',
          Messages: [],
        };
      });
      return {
        MetricDataResults,
        NextToken: more ? encodeToken(`offset:${skip + max}`) : undefined,
        Messages: [],
      };
    },
  };
}
