/**
 * Shape-driven conversion between JSON-like documents and handler values, shared by awsJson,
 * restJson and rpcv2Cbor. Going in, members are type-checked (a string where a number belongs is a
 * SerializationException naming the field); timestamps and blobs become Date and Buffer. Going out,
 * `blobAsBytes` and `timestampAsDate` let CBOR keep native byte strings and tag-1 dates.
 */
import type { ServiceModel, Shape } from '../model/model.js';
import { formatTimestamp, parseTimestamp, serializationError, type TimestampFormat } from './values.js';

const typeName = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

// Input conversion runs over a plan compiled once per resolved shape (members pre-resolved, wire
// names and required members precomputed) instead of consulting the model per value. Field paths
// are only spelled out when an error needs one: the walk keeps a stack of path segments.
const STRUCT = 0,
  DOCUMENT = 1,
  LIST = 2,
  MAP = 3,
  STRING = 4,
  BOOLEAN = 5,
  INTEGER = 6,
  FLOAT = 7,
  TIMESTAMP = 8,
  BLOB = 9,
  OTHER = 10;
const MEMBER = 0,
  INDEX = 1;

interface Plan {
  kind: number;
  shape: Shape;
  /** structure: members read from the body, compiled on first use (shapes may be recursive) */
  members: MemberPlan[] | undefined;
  required: RequiredPlan[] | undefined;
  hasLocation: boolean;
  /** list item or map value */
  item: Plan | undefined;
}
interface MemberPlan {
  name: string;
  wire: string;
  plan: Plan;
}
/** wire undefined: never read from the body (bound elsewhere, or not a member), so always missing here */
interface RequiredPlan {
  path: string;
  wire: string | undefined;
}

const plans = new WeakMap<Shape, Plan>();

function kindOf(shape: Shape): number {
  switch (shape.type) {
    case 'structure':
      return shape.document ? DOCUMENT : STRUCT;
    case 'list':
      return LIST;
    case 'map':
      return MAP;
    case 'string':
    case 'character':
      return STRING;
    case 'boolean':
      return BOOLEAN;
    case 'integer':
    case 'long':
      return INTEGER;
    case 'float':
    case 'double':
      return FLOAT;
    case 'timestamp':
      return TIMESTAMP;
    case 'blob':
      return BLOB;
    default:
      return OTHER;
  }
}

function planOf(shape: Shape): Plan {
  let p = plans.get(shape);
  if (!p) {
    p = { kind: kindOf(shape), shape, members: undefined, required: undefined, hasLocation: false, item: undefined };
    plans.set(shape, p);
  }
  return p;
}

function compileStruct(model: ServiceModel, p: Plan): MemberPlan[] {
  const shape = p.shape;
  const members: MemberPlan[] = [];
  for (const name in shape.members) {
    const m = model.member(shape, name);
    if (m.location) p.hasLocation = true;
    else members.push({ name, wire: m.locationName ?? name, plan: planOf(m) });
  }
  p.required = (shape.required ?? []).map((name) => {
    const m = shape.members?.[name] && model.member(shape, name);
    return { path: lowerFirst(name), wire: m && !m.location ? (m.locationName ?? name) : undefined };
  });
  p.members = members;
  return members;
}

interface Walk {
  model: ServiceModel;
  base: string;
  segs: (string | number)[];
  kinds: number[];
  /** required members found missing, as validate.ts's paths ("logEvents.1.member.timestamp") */
  missing: string[];
}

const join = (path: string, seg: string | number, kind: number) => (kind === MEMBER && !path ? String(seg) : `${path}.${seg}`);

/** The fromJson path of the value being converted (plus `seg` below it). */
function here(w: Walk, seg?: string | number, kind = MEMBER): string {
  let s = w.base;
  for (let i = 0; i < w.segs.length; i++) s = join(s, w.segs[i], w.kinds[i]);
  return seg === undefined ? s : join(s, seg, kind);
}

/** The validation path of a member of the structure being converted (only members and list items on the stack). */
function requiredPath(w: Walk, member: string): string {
  let s = '';
  for (let i = 0; i < w.segs.length; i++) s += w.kinds[i] === MEMBER ? `${lowerFirst(String(w.segs[i]))}.` : `${w.segs[i]}.member.`;
  return s + member;
}

const cannot = (w: Walk, v: unknown, what: string, seg: string | number | undefined, kind: number) =>
  serializationError(`${typeName(v).toUpperCase()}_VALUE can not be converted to ${what} at '${here(w, seg, kind)}'`);

/** `v` is neither null nor undefined; `check`: collect missing required members below (as validate.ts's walk would). */
function convert(w: Walk, p: Plan, v: unknown, check: boolean, seg: string | number | undefined, kind: number): unknown {
  switch (p.kind) {
    case STRING:
      if (typeof v === 'string') return v;
      throw cannot(w, v, 'a String', seg, kind);
    case STRUCT:
    case LIST:
    case MAP: {
      w.segs.push(seg!);
      w.kinds.push(kind);
      const out = p.kind === STRUCT ? struct(w, p, v, check) : p.kind === LIST ? list(w, p, v, check) : map(w, p, v);
      w.segs.pop();
      w.kinds.pop();
      return out;
    }
    case DOCUMENT:
      return v;
    case BOOLEAN:
      if (typeof v === 'boolean') return v;
      throw cannot(w, v, 'a Boolean', seg, kind);
    case INTEGER:
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw cannot(w, v, p.shape.type === 'long' ? 'an Long' : 'an Integer', seg, kind);
    case FLOAT:
      if (typeof v === 'number') return v;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
      throw cannot(w, v, 'a Double', seg, kind);
    case TIMESTAMP: {
      if (typeof v === 'number') {
        const d = new Date(v * 1000);
        if (!Number.isNaN(d.getTime())) return d;
      } else if (v instanceof Date && !Number.isNaN(v.getTime())) return v;
      return parseTimestamp(v, here(w, seg, kind));
    }
    case BLOB:
      if (v instanceof Uint8Array) return Buffer.from(v);
      if (typeof v !== 'string') throw cannot(w, v, 'a Blob', seg, kind);
      return Buffer.from(v, 'base64');
    default:
      return v;
  }
}

function struct(w: Walk, p: Plan, value: unknown, check: boolean): Record<string, unknown> {
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array)
    throw serializationError(`Unexpected ${typeName(value)} at '${here(w)}': expected a structure`);
  const members = p.members ?? compileStruct(w.model, p);
  const obj = value as Record<string, unknown>;
  if (check) {
    const required = p.required!;
    for (let i = 0; i < required.length; i++) {
      const r = required[i];
      if (r.wire === undefined || obj[r.wire] === undefined || obj[r.wire] === null) w.missing.push(requiredPath(w, r.path));
    }
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    const v = obj[m.wire];
    if (v === undefined || v === null) continue;
    const kind = m.plan.kind;
    // plain strings and numbers are kept as they are, without a call
    out[m.name] =
      (kind === STRING && typeof v === 'string') || (kind === FLOAT && typeof v === 'number')
        ? v
        : convert(w, m.plan, v, check, m.name, MEMBER);
  }
  return out;
}

function list(w: Walk, p: Plan, value: unknown, check: boolean): unknown[] {
  if (!Array.isArray(value)) throw serializationError(`Unexpected ${typeName(value)} at '${here(w)}': expected a list`);
  const item = p.item ?? (p.item = planOf(w.model.resolve(p.shape.member!)));
  const checkItems = check && item.kind === STRUCT;
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (v === undefined || v === null) {
      // a list element must not be null (AWS: "Value null at 'names.1.member' failed to satisfy constraint")
      if (check) w.missing.push(requiredPath(w, `${i + 1}.member`));
      out.push(undefined);
    } else out.push(convert(w, item, v, checkItems, i + 1, INDEX));
  }
  return out;
}

function map(w: Walk, p: Plan, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || Array.isArray(value))
    throw serializationError(`Unexpected ${typeName(value)} at '${here(w)}': expected a map`);
  const item = p.item ?? (p.item = planOf(w.model.resolve(p.shape.value!)));
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    out[k] = v === undefined || v === null ? undefined : convert(w, item, v, false, k, INDEX);
  }
  return out;
}

const checkedInputs = new WeakMap<object, { shape: Shape; missing: string[] }>();

/**
 * Converts a JSON/CBOR document to handler values. A whole operation input (path '') also has its
 * required members checked on the way; validate.ts picks those up through requiredMissing().
 */
export function fromJson(model: ServiceModel, shape: Shape, value: unknown, path: string): unknown {
  const p = planOf(shape);
  // a body of JSON null (CBOR null or undefined) is an input with no members: its required ones are missing
  if ((value === null || value === undefined) && path === '' && p.kind === STRUCT) value = {};
  if (value === null || value === undefined) return undefined;
  const w: Walk = { model, base: path, segs: [], kinds: [], missing: [] };
  switch (p.kind) {
    case STRUCT: {
      const out = struct(w, p, value, path === '');
      if (path === '' && !p.hasLocation) checkedInputs.set(out, { shape, missing: w.missing });
      return out;
    }
    case LIST:
      return list(w, p, value, false);
    case MAP:
      return map(w, p, value);
    default:
      return convert(w, p, value, false, undefined, MEMBER); // a scalar at the root: errors name the base path
  }
}

/**
 * Paths of the required members (of `shape`, anywhere below) that were missing when fromJson built
 * `input` from a request body, or undefined when that was not checked.
 */
export function requiredMissing(input: unknown, shape: Shape): string[] | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const c = checkedInputs.get(input);
  return c && c.shape === shape ? c.missing : undefined;
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
