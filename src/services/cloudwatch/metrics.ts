/** PutMetricData, ListMetrics and GetMetricStatistics; the write path is ingest/fold.ts. */
import { AwsError } from '../../core/errors.js';
import { keysetPage, readToken } from '../../core/pagination.js';
import type { CloudwatchHandlers } from './api.generated.js';
import { dimsFromKey, dimsKey } from './format.js';
import { checkPut, ingest, ingestPrepared, isPrepared } from './ingest/fold.js';
import { alignStart, BASIC, checkPeriod, fold, percentileOf, statistic } from './stats.js';
import type { CloudwatchStore } from './store.js';
import { UNITS } from './units.js';

const UNIT_SET = new Set(UNITS);
const invalid = (msg: string) => new AwsError('InvalidParameterValue', msg, 400);
const combination = (msg: string) => new AwsError('InvalidParameterCombination', msg, 400);

const LIST_PAGE = 500;

export function metricHandlers(store: CloudwatchStore): CloudwatchHandlers {
  return {
    PutMetricData(input, ctx) {
      const now = ctx.clock.now();
      if (isPrepared(input)) return void ingestPrepared(store, ctx, input, now);
      checkPut(input, now);
      ingest(store, ctx, input.Namespace, input.MetricData, now);
    },

    ListMetrics(input, ctx) {
      const where = ['account = ?', 'region = ?', 'id > ?'];
      const args: unknown[] = [ctx.account, ctx.region, Number(readToken(input.NextToken)) || 0];
      if (input.Namespace !== undefined) {
        where.push('namespace = ?');
        args.push(input.Namespace);
      }
      if (input.MetricName !== undefined) {
        where.push('name = ?');
        args.push(input.MetricName);
      }
      if (input.RecentlyActive !== undefined) {
        if (input.RecentlyActive !== 'PT3H') throw invalid(`The value ${input.RecentlyActive} for parameter RecentlyActive is invalid.`);
        where.push('last_put >= ?');
        args.push(ctx.clock.now() - 3 * 3_600_000);
      }
      const stmt = store.prep(`SELECT id, namespace, name, dims FROM cloudwatch_metrics WHERE ${where.join(' AND ')} ORDER BY id`);
      const wanted = input.Dimensions ?? [];
      // the dimension filter runs while rows stream in id order, so only a page and one more are ever read past it
      const matches: { id: number; metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] } }[] =
        [];
      for (const row of stmt.iterate(...args) as Iterable<{ id: number; namespace: string; name: string; dims: string }>) {
        const dims = dimsFromKey(row.dims);
        if (!wanted.every((w) => dims.some((d) => d.Name === w.Name && (w.Value === undefined || d.Value === w.Value)))) continue;
        matches.push({ id: row.id, metric: { Namespace: row.namespace, MetricName: row.name, Dimensions: dims } });
        if (matches.length > LIST_PAGE) break;
      }
      const page = keysetPage(matches, LIST_PAGE, (m) => m.id);
      return { Metrics: page.items.map((m) => m.metric), NextToken: page.next };
    },

    GetMetricStatistics(input, ctx) {
      const stats = input.Statistics ?? [];
      const ext = input.ExtendedStatistics ?? [];
      if ((stats.length === 0) === (ext.length === 0))
        throw combination('Must specify either Statistics or ExtendedStatistics, but not both.');
      for (const s of stats) if (!BASIC.includes(s)) throw invalid(`The value ${s} for parameter Statistics is not supported.`);
      for (const s of ext)
        if (percentileOf(s) === undefined) throw invalid(`The value ${s} for parameter ExtendedStatistics is not supported.`);
      if (stats.length > 5 || ext.length > 10) throw invalid('The collection Statistics must not have a size greater than 5.');
      if (input.Unit !== undefined && !UNIT_SET.has(input.Unit)) throw invalid(`The value ${input.Unit} for parameter Unit is invalid.`);
      checkPeriod(input.Period);
      const periodMs = input.Period * 1000;
      const start = alignStart(input.StartTime.getTime(), input.Period);
      const end = input.EndTime.getTime();
      if (end <= start) throw invalid('The parameter StartTime must be less than the parameter EndTime.');
      const count = Math.ceil((end - start) / periodMs);
      if (count > 1440)
        throw combination(
          `You have requested up to ${count} datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
        );
      const id = store.findMetricId(ctx.account, ctx.region, input.Namespace, input.MetricName, dimsKey(input.Dimensions));
      if (id === undefined) return { Label: input.MetricName, Datapoints: [] };
      let rows = store.points(id, start, end, ext.length > 0);
      if (input.Unit !== undefined) rows = rows.filter((r) => r[1] === input.Unit);
      const Datapoints = fold(rows, start, periodMs, true).map((p) => {
        const dp: Record<string, unknown> = { Timestamp: new Date(p.ts), Unit: p.unit };
        for (const s of stats) dp[s] = statistic(p, s);
        if (ext.length) {
          const values: Record<string, number> = {};
          for (const s of ext) {
            const v = statistic(p, s);
            if (v !== undefined) values[s] = v;
          }
          dp.ExtendedStatistics = values;
        }
        return dp;
      });
      return { Label: input.MetricName, Datapoints };
    },
  };
}
