/**
 * Shape-driven conversion between JSON-like documents and handler values, shared by awsJson,
 * restJson and rpcv2Cbor. Going in, members are type-checked (a string where a number belongs is a
 * SerializationException naming the field); timestamps and blobs become Date and Buffer. Going out,
 * `blobAsBytes` and `timestampAsDate` let CBOR keep native byte strings and tag-1 dates.
 */
import type { ServiceModel, Shape } from '../model/model.js';
import { formatTimestamp, parseTimestamp, serializationError, type TimestampFormat } from './values.js';

const typeName = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

export function fromJson(model: ServiceModel, shape: Shape, value: unknown, path: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (shape.type) {
    case 'structure': {
      if (shape.document) return value;
      if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array)
        throw serializationError(`Unexpected ${typeName(value)} at '${path}': expected a structure`);
      const out: Record<string, unknown> = {};
      const obj = value as Record<string, unknown>;
      for (const name in shape.members) {
        const member = model.member(shape, name);
        if (member.location) continue;
        const v = obj[member.locationName ?? name];
        if (v !== undefined && v !== null) out[name] = fromJson(model, member, v, path ? `${path}.${name}` : name);
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(value)) throw serializationError(`Unexpected ${typeName(value)} at '${path}': expected a list`);
      const item = model.resolve(shape.member!);
      return value.map((v, i) => fromJson(model, item, v, `${path}.${i + 1}`));
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) throw serializationError(`Unexpected ${typeName(value)} at '${path}': expected a map`);
      const v = model.resolve(shape.value!);
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(value as object)) out[k] = fromJson(model, v, item, `${path}.${k}`);
      return out;
    }
    case 'string':
    case 'character':
      if (typeof value !== 'string') throw serializationError(`${typeName(value).toUpperCase()}_VALUE can not be converted to a String at '${path}'`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw serializationError(`${typeName(value).toUpperCase()}_VALUE can not be converted to a Boolean at '${path}'`);
      return value;
    case 'integer':
    case 'long':
      if (typeof value === 'bigint') return Number(value);
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw serializationError(`${typeName(value).toUpperCase()}_VALUE can not be converted to an ${shape.type === 'long' ? 'Long' : 'Integer'} at '${path}'`);
      return value;
    case 'float':
    case 'double':
      if (typeof value === 'number') return value;
      if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
      throw serializationError(`${typeName(value).toUpperCase()}_VALUE can not be converted to a Double at '${path}'`);
    case 'timestamp':
      return parseTimestamp(value, path);
    case 'blob':
      if (value instanceof Uint8Array) return Buffer.from(value);
      if (typeof value !== 'string') throw serializationError(`${typeName(value).toUpperCase()}_VALUE can not be converted to a Blob at '${path}'`);
      return Buffer.from(value, 'base64');
    default:
      return value;
  }
}

export interface ToJsonOptions {
  blobAsBytes?: boolean;
  timestampAsDate?: boolean;
}

export function toJson(model: ServiceModel, shape: Shape, value: unknown, opts: ToJsonOptions = {}): unknown {
  if (value === null || value === undefined) return undefined;
  switch (shape.type) {
    case 'structure': {
      if (shape.document) return value;
      const out: Record<string, unknown> = {};
      const obj = value as Record<string, unknown>;
      for (const name in shape.members) {
        const v = obj[name];
        if (v === undefined || v === null) continue;
        const member = model.member(shape, name);
        if (member.location) continue;
        out[member.locationName ?? name] = toJson(model, member, v, opts);
      }
      return out;
    }
    case 'list': {
      const item = model.resolve(shape.member!);
      return (value as unknown[]).map((v) => toJson(model, item, v, opts));
    }
    case 'map': {
      const v = model.resolve(shape.value!);
      const out: Record<string, unknown> = {};
      const entries = value instanceof Map ? value.entries() : Object.entries(value as object);
      for (const [k, item] of entries) out[k] = toJson(model, v, item, opts);
      return out;
    }
    case 'timestamp': {
      if (opts.timestampAsDate) return value instanceof Date ? value : new Date(value as number);
      const f = (shape.timestampFormat as TimestampFormat) ?? 'unixTimestamp';
      return formatTimestamp(value as Date, f);
    }
    case 'blob':
      if (opts.blobAsBytes) {
        // a plain Uint8Array view: CBOR encoders treat Buffer as an object with toJSON
        const buf = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      }
      return Buffer.isBuffer(value) ? value.toString('base64') : Buffer.from(String(value)).toString('base64');
    default:
      return value;
  }
}
