/**
 * Reading image manifests as the registry stores them: Docker v2 schema 2 manifests and manifest
 * lists, OCI image manifests and indexes (with OCI artifacts' artifactType and subject). Pure: no
 * store, unit-tested alone. Also the OCI grammar for digests, repository names and tags.
 */
export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

const INDEX_TYPES: string[] = [MEDIA.dockerList, MEDIA.ociIndex];
const IMAGE_TYPES: string[] = [MEDIA.dockerManifest, MEDIA.ociManifest];

/** `sha256:<64 hex>` or `sha512:<128 hex>`, the digests the OCI spec requires registries to support. */
export const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** The OCI distribution spec's repository name grammar. */
export const REPOSITORY_NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
export const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  /** The manifest's artifactType, else its config's media type (as the referrers API reports it). */
  artifactType?: string;
  /** The digest of the manifest this one refers to (OCI 1.1 subject). */
  subject?: string;
  annotations?: Record<string, string>;
  /** Blobs (config and layers) and child manifests (an index's) it references; foreign layers (with urls) are left out. */
  refs: { digest: string; kind: 'blob' | 'manifest' }[];
  /** Bytes of what it references: the image's size for an image manifest. */
  size: number;
}

export class ManifestError extends Error {}

const isDescriptor = (d: unknown): d is Descriptor =>
  typeof d === 'object' &&
  d !== null &&
  typeof (d as Descriptor).digest === 'string' &&
  DIGEST.test((d as Descriptor).digest) &&
  typeof (d as Descriptor).size === 'number';

/** Parses a manifest body; `contentType` is the Content-Type it was pushed with. Throws ManifestError for anything the registry must refuse. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    doc = parsed as Record<string, unknown>;
  } catch {
    throw new ManifestError('manifest is not valid JSON');
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0].trim();
  if (doc.schemaVersion === 1 || header === MEDIA.dockerSchema1 || header === MEDIA.dockerSchema1Signed)
    throw new ManifestError('Docker image manifest schema 1 is not supported: push with a current client (schema 2 or OCI)');
  if (doc.schemaVersion !== 2) throw new ManifestError('schemaVersion must be 2');
  const mediaType =
    declared ??
    (header && (INDEX_TYPES.includes(header) || IMAGE_TYPES.includes(header))
      ? header
      : Array.isArray(doc.manifests)
        ? MEDIA.ociIndex
        : MEDIA.ociManifest);
  if (
    declared &&
    header &&
    header !== 'application/json' &&
    header !== declared &&
    (INDEX_TYPES.includes(header) || IMAGE_TYPES.includes(header))
  )
    throw new ManifestError(`mediaType in manifest (${declared}) does not match the Content-Type (${header})`);
  const subject = doc.subject === undefined ? undefined : isDescriptor(doc.subject) ? doc.subject.digest : badDescriptor('subject');
  const annotations = isStringMap(doc.annotations) ? doc.annotations : undefined;
  const artifactTypeField = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;

  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ManifestError('an index must list manifests');
    const children = doc.manifests.map((m, i) => (isDescriptor(m) ? m : badDescriptor(`manifests[${i}]`)));
    return {
      mediaType,
      artifactType: artifactTypeField,
      subject,
      annotations,
      refs: children.map((c) => ({ digest: c.digest, kind: 'manifest' as const })),
      size: children.reduce((n, c) => n + c.size, 0),
    };
  }
  if (!IMAGE_TYPES.includes(mediaType)) throw new ManifestError(`unsupported manifest media type ${mediaType}`);
  const config = isDescriptor(doc.config) ? doc.config : badDescriptor('config');
  if (!Array.isArray(doc.layers)) throw new ManifestError('an image manifest must list layers');
  const layers = doc.layers.map((l, i) => (isDescriptor(l) ? l : badDescriptor(`layers[${i}]`)));
  const local = layers.filter((l) => !Array.isArray((l as { urls?: unknown }).urls));
  return {
    mediaType,
    artifactType: artifactTypeField ?? (typeof config.mediaType === 'string' ? config.mediaType : undefined),
    subject,
    annotations,
    refs: [config, ...local].map((d) => ({ digest: d.digest, kind: 'blob' as const })),
    size: config.size + layers.reduce((n, l) => n + l.size, 0),
  };
}

function badDescriptor(where: string): never {
  throw new ManifestError(`${where} is not a valid descriptor (digest and size required)`);
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
