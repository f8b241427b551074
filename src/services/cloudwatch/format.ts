/**
 * How CloudWatch writes numbers, dates and names in alarm reasons, history and notifications
 * (its Java heritage shows: 5.0, 1.0E7, 2026-11-26T01:02:00.000+0000, dd/MM/yy HH:mm:ss).
 */

/** A number as Java's Double.toString writes it: 10.0, 0.5, 1.0E7, 1.5E-4. */
export function javaDouble(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e7) {
    const s = String(v);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [m, e] = v.toExponential().split('e');
  return `${m.includes('.') ? m : `${m}.0`}E${Number(e)}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 26/11/26 01:02:00 — the datapoint timestamps inside a StateReason. */
export function reasonDate(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCFullYear() % 100)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** 2026-11-26T01:02:00.000+0000 — timestamps inside StateReasonData, history data and notifications. */
export function awsDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const REGION_NAMES: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'af-south-1': 'Africa (Cape Town)',
  'ap-east-1': 'Asia Pacific (Hong Kong)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-northeast-2': 'Asia Pacific (Seoul)',
  'ap-northeast-3': 'Asia Pacific (Osaka)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
  'ca-central-1': 'Canada (Central)',
  'eu-central-1': 'EU (Frankfurt)',
  'eu-west-1': 'EU (Ireland)',
  'eu-west-2': 'EU (London)',
  'eu-west-3': 'EU (Paris)',
  'eu-north-1': 'EU (Stockholm)',
  'eu-south-1': 'EU (Milan)',
  'me-south-1': 'Middle East (Bahrain)',
  'sa-east-1': 'South America (Sao Paulo)',
};

export const regionName = (region: string) => REGION_NAMES[region] ?? region;

export interface Dimension {
  Name: string;
  Value: string;
}

/** The canonical key of a dimension set: JSON of [[Name, Value], …] sorted by Name. */
export function dimsKey(dims: readonly { Name: string; Value?: string }[] | undefined): string {
  if (!dims || dims.length === 0) return '[]';
  if (dims.length === 1) return JSON.stringify([[dims[0].Name, dims[0].Value ?? '']]);
  return JSON.stringify(dims.map((d) => [d.Name, d.Value ?? '']).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

export function dimsFromKey(key: string): Dimension[] {
  return (JSON.parse(key) as [string, string][]).map(([Name, Value]) => ({ Name, Value }));
}
