/**
 * Building container images by hand in tests: tar layers (ustar, with pax headers for long names),
 * gzipped with node:zlib, and an OCI manifest, pushed to opsbox's registry over raw HTTP
 * (monolithic POST …/blobs/uploads/?digest=, then PUT …/manifests/<tag>).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface TarInput {
  path: string;
  /** File content; omit for a directory (type '5') or a link. */
  data?: string | Buffer;
  /** '0' file (default with data), '1' hard link, '2' symlink, '5' directory. */
  type?: string;
  linkname?: string;
}

function header(name: string, size: number, type: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s, at, Math.min(len, Buffer.byteLength(s)), 'utf8');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(size.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A tar archive of `entries`; names over 100 bytes get a pax 'x' header. */
export function tar(entries: TarInput[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? (e.data === undefined ? '5' : '0');
    let name = e.path;
    if (Buffer.byteLength(name) > 100) {
      const rec = (len: number) => `${len} path=${e.path}\n`;
      let len = Buffer.byteLength(rec(0));
      while (Buffer.byteLength(rec(len)) !== len) len = Buffer.byteLength(rec(len));
      const pax = Buffer.from(rec(len));
      out.push(header('PaxHeader', pax.length, 'x'), pad(pax));
      name = e.path.slice(0, 100);
    }
    out.push(header(name, data.length, type, e.linkname), pad(data));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface BuiltImage {
  blobs: Buffer[];
  manifest: Buffer;
  digest: string;
}

/** An OCI image of gzipped `layers` (each a list of tar entries) and a minimal config. */
export function ociImage(layers: TarInput[][], opts: { gzip?: boolean } = {}): BuiltImage {
  const gz = opts.gzip ?? true;
  const tars = layers.map((l) => tar(l));
  const blobs = tars.map((t) => (gz ? gzipSync(t) : t));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: blobs.map((b) => ({
        mediaType: gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
        digest: sha256(b),
        size: b.length,
      })),
    }),
  );
  return { blobs: [config, ...blobs], manifest, digest: sha256(manifest) };
}

const BASIC = `Basic ${Buffer.from('AWS:anything').toString('base64')}`;

/** Pushes an image's blobs and manifest to opsbox's registry as `repo:tag`. */
export async function pushImage(url: string, repo: string, tag: string, image: BuiltImage): Promise<void> {
  for (const blob of image.blobs) {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(sha256(blob))}`, {
      method: 'POST',
      headers: { Authorization: BASIC, 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.length) },
      body: new Uint8Array(blob),
    });
    if (res.status !== 201) throw new Error(`blob upload answered ${res.status}: ${await res.text()}`);
  }
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { Authorization: BASIC, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: new Uint8Array(image.manifest),
  });
  if (res.status !== 201) throw new Error(`manifest PUT answered ${res.status}: ${await res.text()}`);
}
