/**
 * AWS service models, read as data from models/<service>-<version>.json: botocore's full models,
 * vendored by scripts/vendor-models.mjs (documentation stripped). Members reference shapes by name
 * ({ "shape": "RepositoryName", "locationName": "…" }); resolve() merges a reference with its
 * member-level traits (location, locationName, …) so protocol code sees one plain Shape.
 */
import { readFileSync } from 'node:fs';

export type ShapeType =
  'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'float' | 'double' | 'boolean' | 'timestamp' | 'blob' | 'character';

export interface Shape {
  type: ShapeType;
  shape?: string;
  members?: Record<string, Shape>;
  member?: Shape;
  key?: Shape;
  value?: Shape;
  required?: string[];
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
  queryName?: string;
  flattened?: boolean;
  payload?: string;
  streaming?: boolean;
  timestampFormat?: 'iso8601' | 'rfc822' | 'unixTimestamp';
  xmlAttribute?: boolean;
  xmlNamespace?: { prefix?: string; uri: string };
  jsonvalue?: boolean;
  idempotencyToken?: boolean;
  resultWrapper?: string;
  exception?: boolean;
  document?: boolean;
  /** Value constraints: length (strings, lists, maps, blobs) or range (numbers). */
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
}

export interface Operation {
  name: string;
  http: { method?: string; requestUri?: string; responseCode?: number };
  input?: Shape;
  output?: Shape;
  /** Superseded by an operation on the same route (S3 GetBucketLifecycle → GetBucketLifecycleConfiguration). */
  deprecated?: boolean;
}

interface RawModel {
  metadata: Record<string, any> & { protocol: string; apiVersion: string; endpointPrefix: string };
  operations: Record<string, { name?: string; http?: Operation['http']; input?: Shape; output?: Shape; deprecated?: boolean }>;
  shapes: Record<string, Shape>;
}

export class ServiceModel {
  readonly metadata: RawModel['metadata'];
  readonly operations = new Map<string, Operation>();
  private readonly shapes: Record<string, Shape>;
  private readonly resolved = new WeakMap<object, Shape>();

  constructor(raw: RawModel) {
    this.metadata = raw.metadata;
    this.shapes = raw.shapes;
    for (const [name, op] of Object.entries(raw.operations)) {
      this.operations.set(name, {
        name,
        http: op.http ?? {},
        input: op.input && this.resolve(op.input),
        output: op.output && this.resolve(op.output),
        deprecated: op.deprecated || undefined,
      });
    }
  }

  /** The shape a member or reference denotes, with the reference's own traits on top. Cached per reference. */
  resolve(ref: Shape): Shape {
    let out = this.resolved.get(ref);
    if (out) return out;
    if (ref.shape) {
      const target = this.resolve(this.shapes[ref.shape]);
      const { shape: _drop, ...traits } = ref;
      out = { ...target, ...traits };
      // a referenced structure's own locationName is its XML root name; a member's overrides it
    } else {
      out = ref.type ? ref : { ...ref, type: 'string' };
    }
    this.resolved.set(ref, out);
    return out;
  }

  member(shape: Shape, name: string): Shape {
    return this.resolve(shape.members![name]);
  }

  operation(name: string) {
    return this.operations.get(name);
  }
}

const cache = new Map<string, ServiceModel>();

/** The repository's models/ folder, from src/model (tsc's dist/src/model alike). */
const MODELS = new URL('../../../models/', import.meta.url);

/** Loads models/<id>.json (e.g. "sts-2011-06-15"). */
export function loadModel(id: string): ServiceModel {
  let model = cache.get(id);
  if (!model) {
    const raw: RawModel = JSON.parse(readFileSync(new URL(`${id}.json`, MODELS), 'utf8'));
    applyOverrides(raw, overrides()[id]);
    model = new ServiceModel(raw);
    cache.set(id, model);
  }
  return model;
}

interface Overrides {
  required?: Record<string, { members: string[]; reason: string }>;
}

let loadedOverrides: Record<string, Overrides> | undefined;
const overrides = () => (loadedOverrides ??= JSON.parse(readFileSync(new URL('overrides.json', MODELS), 'utf8')));

/** models/overrides.json: where opsbox departs from botocore's model on purpose (each entry says why). */
export function applyOverrides(raw: { shapes: Record<string, Shape> }, o: Overrides | undefined) {
  for (const [shape, { members }] of Object.entries(o?.required ?? {})) raw.shapes[shape] = { ...raw.shapes[shape], required: members };
}
