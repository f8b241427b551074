/** Scalar conversions shared by the protocols: timestamps in their three wire formats, numbers, booleans. */
import { AwsError } from '../core/errors.js';
import type { Shape } from '../model/model.js';

export type TimestampFormat = 'iso8601' | 'rfc822' | 'unixTimestamp';

export function formatTimestamp(value: Date | number | string, format: TimestampFormat): string | number {
  const d = toDate(value);
  switch (format) {
    case 'unixTimestamp':
      return d.getTime() / 1000;
    case 'rfc822':
      return d.toUTCString();
    default:
      return d.toISOString().replace(/\.000Z$/, 'Z');
  }
}

export function toDate(value: Date | number | string): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  return new Date(value);
}

/** Parses a timestamp in any of the wire formats; numbers are epoch seconds. */
export function parseTimestamp(value: unknown, field: string): Date {
  let d: Date;
  if (value instanceof Date) d = value;
  else if (typeof value === 'number') d = new Date(value * 1000);
  else if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) d = new Date(Number(value) * 1000);
  else if (typeof value === 'string') d = new Date(value);
  else d = new Date(NaN);
  if (Number.isNaN(d.getTime())) throw serializationError(`Value '${String(value)}' at '${field}' is not a valid timestamp`);
  return d;
}

export const serializationError = (message: string) => new AwsError('SerializationException', message, 400);

/** Converts a string off the wire (query string, form field, header, XML text) to the shape's type. */
export function scalarFromString(shape: Shape, raw: string, field: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long': {
      if (!/^-?\d+$/.test(raw.trim())) throw malformed(raw, field, 'integer');
      return Number(raw);
    }
    case 'float':
    case 'double': {
      const n = Number(raw);
      if (raw.trim() === '' || Number.isNaN(n)) {
        if (raw === 'NaN') return NaN;
        throw malformed(raw, field, 'number');
      }
      return n;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw malformed(raw, field, 'boolean');
      return raw === 'true';
    case 'timestamp':
      return parseTimestamp(raw, field);
    case 'blob':
      return Buffer.from(raw, 'base64');
    default:
      return raw;
  }
}

const malformed = (raw: string, field: string, kind: string) =>
  new AwsError('MalformedInput', `Value '${raw}' at '${field}' is not a valid ${kind}`, 400);
