/**
 * Metric filters: PutMetricFilter / DescribeMetricFilters / DeleteMetricFilter / TestMetricFilter,
 * and what makes them real: every event PutLogEvents accepts is run through its group's filters
 * and becomes a CloudWatch datapoint at the event's timestamp (the metricValue, a number or a
 * `$.field` / `$field` the pattern matched; dimensions from fields; the defaultValue for an event
 * that does not match), so an alarm on a log-derived metric fires from real log lines.
 */
import { AwsError } from '../../core/errors.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import type { Metrics, MetricDatum } from '../../core/metrics.js';
import type { LogsHandlers, MetricTransformation } from './api.generated.js';
import { compileFieldMatcher, FilterPatternError, type MatchedFields } from './filterPattern.js';
import type { FilterStore, MetricFilterRow } from './filterStore.js';
import type { GroupRow, LogsStore } from './store.js';

/** AWS's quotas: 100 metric filters per log group, 3 dimensions per transformation. */
const MAX_FILTERS_PER_GROUP = 100;
const MAX_DIMENSIONS = 3;
const COMPILED_CACHE = 1000;

const invalid = (message: string) => new AwsError('InvalidParameterException', message, 400);
const notFound = () => new AwsError('ResourceNotFoundException', 'The specified resource does not exist.', 400);

type FieldMatcher = (message: string) => MatchedFields | undefined;

/** Patterns compiled once, keyed by their text (the filters of a busy group are matched on every batch). */
export class PatternCache {
  private compiled = new Map<string, FieldMatcher>();

  get(pattern: string): FieldMatcher {
    let m = this.compiled.get(pattern);
    if (m) return m;
    m = compilePattern(pattern);
    if (this.compiled.size >= COMPILED_CACHE) this.compiled.delete(this.compiled.keys().next().value!);
    this.compiled.set(pattern, m);
    return m;
  }
}

/** A filter pattern compiled, or AWS's InvalidParameterException naming the problem. */
export function compilePattern(pattern: string): FieldMatcher {
  try {
    return compileFieldMatcher(pattern);
  } catch (e) {
    if (e instanceof FilterPatternError) throw invalid(e.message);
    throw e;
  }
}

/** `$.a.b` or `$field`: a selector metricValue and dimension values may name. */
const isSelector = (s: string) => s.startsWith('$');

function checkTransformation(t: MetricTransformation) {
  if (!isSelector(t.metricValue) && !Number.isFinite(Number(t.metricValue)))
    throw invalid(`Invalid metric value: ${t.metricValue}. The metric value must be a number or a $-prefixed field selector.`);
  const dims = Object.entries(t.dimensions ?? {});
  if (dims.length > MAX_DIMENSIONS) throw invalid(`A metric filter can have at most ${MAX_DIMENSIONS} dimensions.`);
  for (const [key, selector] of dims)
    if (!isSelector(selector))
      throw invalid(`Invalid dimension value for ${key}: ${selector}. Dimension values must be $-prefixed field selectors.`);
  if (dims.length && t.defaultValue !== undefined) throw invalid('A metric filter with dimensions cannot have a default value.');
}

const view = (f: MetricFilterRow, groupName: string) => ({
  filterName: f.name,
  filterPattern: f.pattern,
  metricTransformations: JSON.parse(f.transformations) as MetricTransformation[],
  creationTime: f.created,
  logGroupName: groupName,
});

/** The datapoints one event gives one transformation: none when its value or a dimension is missing. */
function datumOf(t: MetricTransformation, fields: MatchedFields | undefined, timestamp: number): MetricDatum | undefined {
  const base = { namespace: t.metricNamespace, metricName: t.metricName, unit: t.unit, timestamp };
  if (!fields) return t.defaultValue === undefined ? undefined : { ...base, value: t.defaultValue };
  const raw = isSelector(t.metricValue) ? fields.lookup(t.metricValue) : t.metricValue;
  const value = raw === undefined ? NaN : Number(raw);
  if (!Number.isFinite(value)) return undefined;
  const dimensions: { Name: string; Value: string }[] = [];
  for (const [name, selector] of Object.entries(t.dimensions ?? {})) {
    const v = fields.lookup(selector);
    if (v === undefined || v === '') return undefined;
    dimensions.push({ Name: name, Value: v });
  }
  return { ...base, value, dimensions: dimensions.length ? dimensions : undefined };
}

export function metricFilterEngine(filters: FilterStore, metrics: Metrics, patterns: PatternCache) {
  return {
    /** Runs accepted events through the group's metric filters and reports the datapoints. */
    ingest(group: GroupRow, events: readonly { timestamp: number; message: string }[]) {
      const rows = filters.metricFilters(group.id);
      if (!rows.length || !events.length) return;
      const data: MetricDatum[] = [];
      for (const f of rows) {
        const match = patterns.get(f.pattern);
        const transformations = JSON.parse(f.transformations) as MetricTransformation[];
        for (const e of events) {
          const fields = match(e.message);
          for (const t of transformations) {
            const d = datumOf(t, fields, e.timestamp);
            if (d) data.push(d);
          }
        }
      }
      if (data.length) metrics.put(group.account, group.region, data);
    },
  };
}

export function metricFilterHandlers(store: LogsStore, filters: FilterStore): LogsHandlers {
  return {
    PutMetricFilter(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      compilePattern(input.filterPattern);
      if (input.metricTransformations.length !== 1) throw invalid('Exactly one metric transformation must be provided.');
      input.metricTransformations.forEach(checkTransformation);
      const existing = filters.metricFilters(group.id);
      if (!existing.some((f) => f.name === input.filterName) && existing.length >= MAX_FILTERS_PER_GROUP)
        throw new AwsError('LimitExceededException', 'Resource limit exceeded.', 400);
      filters.putMetricFilter({
        group_id: group.id,
        name: input.filterName,
        pattern: input.filterPattern,
        transformations: JSON.stringify(input.metricTransformations),
        created: existing.find((f) => f.name === input.filterName)?.created ?? ctx.clock.now(),
      });
    },

    DeleteMetricFilter(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      if (!filters.deleteMetricFilter(group.id, input.filterName)) throw notFound();
    },

    DescribeMetricFilters(input, ctx) {
      if ((input.metricName === undefined) !== (input.metricNamespace === undefined))
        throw invalid('metricName and metricNamespace must be specified together.');
      if (input.logGroupName === undefined && input.filterNamePrefix !== undefined)
        throw invalid('logGroupName is required when filterNamePrefix is specified.');
      const all =
        input.logGroupName !== undefined
          ? ((g) => filters.metricFilters(g.id).map((f) => ({ ...f, group_name: g.name })))(store.requireGroup(ctx, input.logGroupName))
          : filters.scopeMetricFilters(ctx);
      const matching = all.filter(
        (f) =>
          (input.filterNamePrefix === undefined || f.name.startsWith(input.filterNamePrefix)) &&
          (input.metricName === undefined ||
            (JSON.parse(f.transformations) as MetricTransformation[]).some(
              (t) => t.metricName === input.metricName && t.metricNamespace === input.metricNamespace,
            )),
      );
      const start =
        input.nextToken === undefined ? 0 : Number(decodeToken(input.nextToken, () => invalid('The specified nextToken is invalid.')));
      const limit = input.limit ?? 50;
      const page = matching.slice(start, start + limit);
      return {
        metricFilters: page.map((f) => view(f, f.group_name)),
        nextToken: start + limit < matching.length ? encodeToken(start + limit) : undefined,
      };
    },

    TestMetricFilter(input) {
      const match = compilePattern(input.filterPattern);
      const matches = input.logEventMessages.flatMap((message, i) => {
        const fields = match(message);
        return fields ? [{ eventNumber: i + 1, eventMessage: message, extractedValues: fields.extracted() }] : [];
      });
      return { matches };
    },
  };
}
