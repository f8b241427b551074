/** CloudWatch's units, and the (bucket, unit) key the ingest and the stored rows share. */
export const UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
];

const UNIT_NO = new Map(UNITS.map((u, i) => [u, i]));

/** (bucket start, unit) as one Map key: a number for CloudWatch's units (start × 32 + the unit's index), else a string. */
export function bucketKey(ts: number, unit: string): number | string {
  const no = UNIT_NO.get(unit);
  return no === undefined ? `${ts}|${unit}` : ts * 32 + no;
}
