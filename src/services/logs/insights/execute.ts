/**
 * Running a parsed Logs Insights query over a stream of records, one at a time, in bounded memory:
 * the commands before stats run per record (fields, parse, filter); stats keeps one set of
 * aggregators per group; the commands after stats run over the aggregated rows. A query without
 * stats keeps only its best `limit` rows under its sort (newest first by default) as it goes.
 */
import type { ResultField } from '../api.generated.js';
import { aggregator, checkFunctions, compareValues, evaluate, LogRecord, show, truthy, type Aggregator, type Value } from './evaluate.js';
import { parseQuery, QuerySyntaxError, type Command, type Expr } from './parse.js';

export interface Plan {
  commands: Command[];
  statsAt: number;
}

const DEFAULT_COLUMNS = ['@timestamp', '@message', '@logStream', '@log'];

/** Parses and checks a query; throws QuerySyntaxError for what AWS refuses as MalformedQueryException. */
export function compileQuery(src: string): Plan {
  const commands = parseQuery(src);
  const statsAt = commands.findIndex((c) => c.c === 'stats');
  if (commands.filter((c) => c.c === 'stats').length > 1)
    throw new QuerySyntaxError('a query has at most one stats command', 0, src.length - 1);
  commands.forEach((c, i) => {
    const exprs: Expr[] =
      c.c === 'fields' || c.c === 'display'
        ? c.items.map((x) => x.e)
        : c.c === 'filter'
          ? [c.e]
          : c.c === 'sort'
            ? c.keys.map((k) => k.e)
            : c.c === 'stats'
              ? [...c.aggs.map((a) => a.e), ...c.by.map((b) => b.e)]
              : c.c === 'parse'
                ? [c.field]
                : [];
    for (const e of exprs) checkFunctions(e, c.c === 'stats', src);
    if (c.c === 'stats') for (const a of c.aggs) aggregator(a.e);
    if (c.c === 'parse' && statsAt >= 0 && i > statsAt) throw new QuerySyntaxError('parse must come before stats', 0, src.length - 1);
  });
  return { commands, statsAt };
}

/** Applies a per-record command; false when the record is filtered out. */
function applyRecord(c: Command, rec: LogRecord): boolean {
  switch (c.c) {
    case 'fields':
      for (const it of c.items) if (it.e.k !== 'field' || it.e.name !== it.as) rec.set(it.as, evaluate(it.e, rec));
      return true;
    case 'filter':
      return truthy(evaluate(c.e, rec));
    case 'parse': {
      const text = evaluate(c.field, rec);
      if (text === undefined) return true;
      const s = show(text)!;
      if (c.regex) {
        const m = c.regex.exec(s);
        for (const n of c.names) rec.set(n, m?.groups?.[n]);
        return true;
      }
      const captures = globMatch(c.glob!, s);
      c.names.forEach((n, i) => rec.set(n, captures?.[i]));
      return true;
    }
    default:
      return true;
  }
}

/** The captures of a glob ("a * b *") in `s`: literal parts in order, each * the shortest text between them. */
export function globMatch(parts: string[], s: string): string[] | undefined {
  let at = s.indexOf(parts[0]);
  if (at < 0) return undefined;
  at += parts[0].length;
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const next = parts[i] === '' ? (last ? s.length : at) : s.indexOf(parts[i], at);
    if (next < 0) return undefined;
    out.push(s.slice(at, next));
    at = next + parts[i].length;
  }
  return out;
}

interface Row {
  values: Record<string, Value>;
  sortKeys: Value[];
}

export class Execution {
  matched = 0;
  private groups = new Map<string, { keys: Value[]; aggs: Aggregator[] }>();
  private rows: Row[] = [];
  private readonly sort: { e: Expr; desc: boolean }[];
  private readonly limit: number;
  private readonly columns: string[];
  private readonly dedup?: string[];
  private readonly pre: Command[];
  private readonly stats?: Extract<Command, { c: 'stats' }>;

  constructor(
    private plan: Plan,
    limit?: number,
  ) {
    const cmds = plan.commands;
    this.pre = plan.statsAt >= 0 ? cmds.slice(0, plan.statsAt) : cmds;
    this.stats = plan.statsAt >= 0 ? (cmds[plan.statsAt] as Extract<Command, { c: 'stats' }>) : undefined;
    const sortCmd = this.pre.filter((c) => c.c === 'sort').pop() as Extract<Command, { c: 'sort' }> | undefined;
    this.sort = sortCmd ? sortCmd.keys : [{ e: { k: 'field', name: '@timestamp' }, desc: true }];
    const limits = this.pre.filter((c) => c.c === 'limit') as Extract<Command, { c: 'limit' }>[];
    this.limit = Math.min(limit ?? 10000, ...limits.map((l) => l.n));
    const display = this.pre.filter((c) => c.c === 'display').pop() as Extract<Command, { c: 'fields' | 'display' }> | undefined;
    const fields = this.pre.flatMap((c) => (c.c === 'fields' ? c.items.map((i) => i.as) : []));
    this.columns = display ? display.items.map((i) => i.as) : fields.length ? [...new Set(fields)] : DEFAULT_COLUMNS;
    const dedup = this.pre.filter((c) => c.c === 'dedup') as Extract<Command, { c: 'dedup' }>[];
    this.dedup = dedup.length ? dedup.flatMap((d) => d.fields) : undefined;
  }

  push(rec: LogRecord) {
    for (const c of this.pre) if (!applyRecord(c, rec)) return;
    this.matched++;
    if (this.stats) {
      const keys = this.stats.by.map((b) => evaluate(b.e, rec));
      const id = keys.map((k) => show(k) ?? '\u0000').join('\u0001');
      let g = this.groups.get(id);
      if (!g) this.groups.set(id, (g = { keys, aggs: this.stats.aggs.map((a) => aggregator(a.e)) }));
      for (const a of g.aggs) a.add(rec);
      return;
    }
    const values: Record<string, Value> = {};
    for (const col of this.columns) values[col] = display(col, rec);
    for (const f of this.dedup ?? []) values[f] ??= rec.get(f);
    this.rows.push({ values, sortKeys: this.sort.map((s) => evaluate(s.e, rec)) });
    // keep the best `limit` rows (all of them when dedup has yet to thin them out)
    if (!this.dedup && this.rows.length >= 2 * this.limit + 1024) this.trim();
  }

  private order = (a: Row, b: Row) => {
    for (let i = 0; i < this.sort.length; i++) {
      const c = compareValues(a.sortKeys[i], b.sortKeys[i]);
      const d = c === undefined ? (a.sortKeys[i] === undefined ? (b.sortKeys[i] === undefined ? 0 : 1) : -1) : this.sort[i].desc ? -c : c;
      if (d !== 0) return d;
    }
    return 0;
  };

  private trim() {
    this.rows.sort(this.order);
    this.rows.length = Math.min(this.rows.length, this.limit);
  }

  /** The results, as GetQueryResults rows of {field, value} (fields without a value left out). */
  finish(): ResultField[][] {
    let rows: Record<string, Value>[];
    let columns: string[];
    if (this.stats) {
      const st = this.stats;
      columns = [...st.by.map((b) => b.as), ...st.aggs.map((a) => a.as)];
      rows = [...this.groups.values()].map((g) => {
        const r: Record<string, Value> = {};
        st.by.forEach((b, i) => (r[b.as] = g.keys[i]));
        st.aggs.forEach((a, i) => (r[a.as] = g.aggs[i].result()));
        return r;
      });
      ({ rows, columns } = this.post(rows, columns));
    } else {
      this.rows.sort(this.order);
      let list = this.rows;
      if (this.dedup) {
        const seen = new Set<string>();
        list = list.filter((r) => {
          const k = this.dedup!.map((f) => show(r.values[f]) ?? '\u0000').join('\u0001');
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
      }
      rows = list.slice(0, this.limit).map((r) => r.values);
      columns = this.columns;
    }
    return rows.map((r) => columns.filter((c) => r[c] !== undefined).map((c) => ({ field: c, value: show(r[c]) })));
  }

  /** The commands after stats, over the aggregated rows. */
  private post(rows: Record<string, Value>[], columns: string[]) {
    let limit = 10000;
    for (const c of this.plan.commands.slice(this.plan.statsAt + 1)) {
      if (c.c === 'filter') rows = rows.filter((r) => truthy(evaluate(c.e, new LogRecord(r, ''))));
      else if (c.c === 'fields' || c.c === 'display') {
        for (const r of rows) {
          const rec = new LogRecord(r, '');
          for (const it of c.items) r[it.as] = evaluate(it.e, rec);
        }
        columns = c.c === 'display' ? c.items.map((i) => i.as) : [...new Set([...columns, ...c.items.map((i) => i.as)])];
      } else if (c.c === 'sort') {
        const keyed = rows.map((r) => ({ r, k: c.keys.map((key) => evaluate(key.e, new LogRecord(r, ''))) }));
        keyed.sort((a, b) => {
          for (let i = 0; i < c.keys.length; i++) {
            const d = compareValues(a.k[i], b.k[i]) ?? (a.k[i] === undefined ? 1 : -1);
            if (d !== 0) return c.keys[i].desc ? -d : d;
          }
          return 0;
        });
        rows = keyed.map((x) => x.r);
      } else if (c.c === 'limit') limit = Math.min(limit, c.n);
      else if (c.c === 'dedup') {
        const seen = new Set<string>();
        rows = rows.filter((r) => {
          const k = c.fields.map((f) => show(r[f]) ?? '\u0000').join('\u0001');
          return seen.has(k) ? false : (seen.add(k), true);
        });
      }
    }
    return { rows: rows.slice(0, Math.min(limit, this.limit)), columns };
  }
}

const display = (col: string, rec: LogRecord) => rec.get(col);
