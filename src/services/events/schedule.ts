/**
 * Schedule expressions as EventBridge accepts them: rate(N minute|minutes|hour|hours|day|days) and
 * AWS's six-field cron(minutes hours day-of-month month day-of-week year), evaluated in UTC, with
 * `?`, `L`, `W`, `#`, ranges, lists and steps. parseSchedule() validates; nextFire() answers the
 * first firing strictly after a given instant.
 */

export class ScheduleError extends Error {
  constructor() {
    super('Parameter ScheduleExpression is not valid.');
  }
}

export type Schedule = { kind: 'rate'; periodMs: number } | { kind: 'cron'; cron: Cron };

interface Cron {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number>;
  /** Day-of-month terms; undefined when the field is "?". */
  dom?: { any: boolean; days: Set<number>; last: boolean; lastWeekday: boolean; nearestWeekday: number[] };
  /** Day-of-week terms (1 = SUN … 7 = SAT); undefined when the field is "?". */
  dow?: { any: boolean; days: Set<number>; last: number[]; nth: [number, number][] };
}

const UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export function parseSchedule(expr: string): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2];
    const plural = unit.endsWith('s');
    // AWS: a value of 1 takes the singular unit, anything larger the plural
    if (n < 1 || plural !== n > 1) throw new ScheduleError();
    return { kind: 'rate', periodMs: n * UNITS[plural ? unit.slice(0, -1) : unit] };
  }
  const cron = /^cron\((.*)\)$/.exec(expr);
  if (!cron) throw new ScheduleError();
  return { kind: 'cron', cron: parseCron(cron[1]) };
}

function parseCron(body: string): Cron {
  const f = body.trim().split(/\s+/);
  if (f.length !== 6) throw new ScheduleError();
  const [mi, h, dom, mo, dow, y] = f;
  // exactly one of day-of-month and day-of-week is "?"
  if ((dom === '?') === (dow === '?')) throw new ScheduleError();
  return {
    minutes: numbers(mi, 0, 59),
    hours: numbers(h, 0, 23),
    months: numbers(mo, 1, 12, MONTHS),
    years: numbers(y, 1970, 2199),
    dom: dom === '?' ? undefined : parseDom(dom),
    dow: dow === '?' ? undefined : parseDow(dow),
  };
}

function value(s: string, min: number, max: number, names?: string[]): number {
  const named = names?.indexOf(s.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + min : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= max)) throw new ScheduleError();
  return n;
}

/** A list of "*", "a", "a-b", with an optional "/step"; ranges may wrap (FRI-MON). */
function numbers(field: string, min: number, max: number, names?: string[]): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new ScheduleError();
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) && Number(stepText) > 0 ? Number(stepText) : NaN;
    if (Number.isNaN(step)) throw new ScheduleError();
    let from: number, to: number;
    if (range === '*') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [from, to] = [value(a, min, max, names), value(b, min, max, names)];
    } else {
      from = value(range, min, max, names);
      to = stepText === undefined ? from : max;
    }
    const span = to >= from ? to - from : to + (max - min + 1) - from;
    for (let i = 0; i <= span; i += step) out.add(((from - min + i) % (max - min + 1)) + min);
  }
  return out;
}

function parseDom(field: string): NonNullable<Cron['dom']> {
  const dom = { any: field === '*', days: new Set<number>(), last: false, lastWeekday: false, nearestWeekday: [] as number[] };
  if (dom.any) return dom;
  const plain: string[] = [];
  for (const part of field.split(',')) {
    if (part === 'L') dom.last = true;
    else if (part === 'LW') dom.lastWeekday = true;
    else if (/^\d+W$/.test(part)) dom.nearestWeekday.push(value(part.slice(0, -1), 1, 31));
    else plain.push(part);
  }
  if (plain.length) for (const d of numbers(plain.join(','), 1, 31)) dom.days.add(d);
  return dom;
}

function parseDow(field: string): NonNullable<Cron['dow']> {
  const dow = { any: field === '*', days: new Set<number>(), last: [] as number[], nth: [] as [number, number][] };
  if (dow.any) return dow;
  const plain: string[] = [];
  for (const part of field.split(',')) {
    if (part === 'L') dow.days.add(7);
    else if (/^\w+L$/.test(part)) dow.last.push(value(part.slice(0, -1), 1, 7, DAYS));
    else if (part.includes('#')) {
      const [d, n] = part.split('#');
      dow.nth.push([value(d, 1, 7, DAYS), value(n, 1, 5)]);
    } else plain.push(part);
  }
  if (plain.length) for (const d of numbers(plain.join(','), 1, 7, DAYS)) dow.days.add(d);
  return dow;
}

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const weekday = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;

function dayMatches(c: Cron, y: number, m: number, d: number): boolean {
  const last = daysIn(y, m);
  if (c.dom) {
    const dom = c.dom;
    if (dom.any || dom.days.has(d) || (dom.last && d === last)) return true;
    const wd = weekday(y, m, d);
    if (dom.lastWeekday && d === nearestWeekday(y, m, last, last)) return true;
    if (wd !== 1 && wd !== 7) for (const n of dom.nearestWeekday) if (nearestWeekday(y, m, Math.min(n, last), last) === d) return true;
    return false;
  }
  const dow = c.dow!;
  const wd = weekday(y, m, d);
  if (dow.any || dow.days.has(wd)) return true;
  if (dow.last.includes(wd) && d + 7 > last) return true;
  for (const [day, n] of dow.nth) if (day === wd && Math.ceil(d / 7) === n) return true;
  return false;
}

/** The weekday closest to day n of the month, never leaving the month. */
function nearestWeekday(y: number, m: number, n: number, last: number): number {
  const wd = weekday(y, m, n);
  if (wd === 7) return n === 1 ? 3 : n - 1; // Saturday → Friday, or Monday the 3rd
  if (wd === 1) return n === last ? n - 2 : n + 1; // Sunday → Monday, or Friday before
  return n;
}

const minOf = (s: Set<number>, from: number) => {
  let best = Infinity;
  for (const v of s) if (v >= from && v < best) best = v;
  return best;
};

/** The first firing strictly after `after` (ms since epoch), or undefined when there is none. */
export function nextFire(s: Schedule, after: number, created: number): number | undefined {
  if (s.kind === 'rate') {
    const k = Math.floor((after - created) / s.periodMs) + 1;
    return created + Math.max(1, k) * s.periodMs;
  }
  const c = s.cron;
  let t = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  for (let guard = 0; guard < 100_000; guard++) {
    const y = t.getUTCFullYear();
    const m = t.getUTCMonth() + 1;
    const d = t.getUTCDate();
    if (y > 2199) return undefined;
    if (!c.years.has(y)) {
      t = new Date(Date.UTC(y + 1, 0, 1));
      continue;
    }
    if (!c.months.has(m)) {
      t = new Date(Date.UTC(y, m, 1));
      continue;
    }
    if (dayMatches(c, y, m, d)) {
      const h0 = t.getUTCHours();
      const mi0 = t.getUTCMinutes();
      const h = minOf(c.hours, h0);
      if (h !== Infinity) {
        const mi = minOf(c.minutes, h === h0 ? mi0 : 0);
        if (mi !== Infinity) return Date.UTC(y, m - 1, d, h, mi);
        const h2 = minOf(c.hours, h0 + 1);
        if (h2 !== Infinity) return Date.UTC(y, m - 1, d, h2, minOf(c.minutes, 0));
      }
    }
    t = new Date(Date.UTC(y, m - 1, d + 1));
  }
  return undefined;
}
