/**
 * Lambda layers: PublishLayerVersion (a zip given inline or as an S3 object), Get/List/Delete,
 * and the layer version permissions (a resource policy kept per version). Versions are numbered
 * 1, 2, … per layer and numbers are never reused, even after every version was deleted.
 *
 * Functions name up to five layer versions (`Layers`); their configuration keeps, per layer, the
 * package's blob and hash, so a function keeps running with a layer version deleted after it was
 * attached (as on AWS). A deleted version's package is freed once no function version uses it.
 *
 * At run time the layers stand in for Lambda's /opt: each layer package is unpacked once by its
 * SHA-256 (code.ts's CodeCache) and the layers of a function are merged, in the order listed
 * (later layers win), into one folder, <dataDir>/lambda/code/opt/<hash of the ordered layer
 * hashes>/ — shared by every function version with the same layers. The runtime finds what
 * Lambda's finds under /opt:
 *   - Node: NODE_PATH holds <opt>/nodejs/node<major>/node_modules and <opt>/nodejs/node_modules
 *     (CommonJS `require`); ES module imports ignore NODE_PATH, so the Node runtime client
 *     (runtime/nodeClient.ts) registers a resolve hook that retries a bare specifier that failed
 *     from the NODE_PATH folders, as `require` does.
 *   - Python: PYTHONPATH holds <opt>/python/lib/python3.x/site-packages and <opt>/python.
 *   - every runtime: <opt>/bin at the end of PATH, <opt>/lib on LD_LIBRARY_PATH; a provided.*
 *     function without a bootstrap of its own runs <opt>/bootstrap (a runtime shipped as a layer).
 * opsbox cannot mount /opt per process without containers: code that reads /opt paths literally
 * (e.g. '/opt/config.json') must resolve them against OPSBOX_LAYER_ROOT, the merged folder (set
 * whenever the function has layers: `process.env.OPSBOX_LAYER_ROOT ?? '/opt'`). Module resolution
 * needs no change. The folder sits under lambda/code/ so that layer modules importing
 * '@aws-sdk/…' find the SDK opsbox links into lambda/code/node_modules, as function code does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { arn, parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, encodeToken, offsetPage } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { GetLayerVersionOutput, LambdaHandlers, LayerVersionsListItem } from './api.generated.js';
import { storePackage, type CodeCache } from './code.js';
import { invalidParameter, type FunctionDoc, type LayerRef } from './store.js';

const MAX_LAYERS = 5;

interface LayerRow {
  id: number;
  account: string;
  region: string;
  name: string;
  next_version: number;
}

interface LayerVersionRow {
  layer_id: number;
  version: number;
  doc: string;
  blob: string;
  created: number;
  policy: string | null;
  policy_revision: string | null;
}

interface LayerVersionDoc {
  Description: string;
  CompatibleRuntimes?: string[];
  CompatibleArchitectures?: string[];
  LicenseInfo?: string;
  CodeSha256: string;
  CodeSize: number;
}

interface Statement {
  Sid: string;
  Effect: 'Allow';
  Principal: '*' | { AWS: string };
  Action: string;
  Resource: string;
  Condition?: { StringEquals: { 'aws:PrincipalOrgID': string } };
}

const notFound = () => new AwsError('ResourceNotFoundException', 'The resource you requested does not exist.', 404, { Type: 'User' });
const doesNotExist = (versionArn: string) => invalidParameter(`Layer version ${versionArn} does not exist.`);
const accessDenied = (ctx: RequestContext, action: string, resource: string) =>
  new AwsError(
    'AccessDeniedException',
    `User: ${ctx.caller.arn} is not authorized to perform: lambda:${action} on resource: ${resource} because no resource-based policy allows the lambda:${action} action`,
    403,
    { Type: 'User' },
  );

const layerArn = (scope: Scope, name: string) => arn('lambda', scope, `layer:${name}`);
const createdDate = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');

/** The layer tables' statements (migration 2 in store.ts made the tables), prepared once per database. */
const prepared = new WeakMap<object, ReturnType<typeof prepare>>();
function queries(env: ServiceEnv) {
  let q = prepared.get(env.store.db);
  if (!q) prepared.set(env.store.db, (q = prepare(env)));
  return q;
}

function prepare(env: ServiceEnv) {
  const db = env.store.db;
  return {
    layer: db.prepare<[string, string, string], LayerRow>('SELECT * FROM lambda_layers WHERE account = ? AND region = ? AND name = ?'),
    layers: db.prepare<[string, string], LayerRow>('SELECT * FROM lambda_layers WHERE account = ? AND region = ? ORDER BY name'),
    insertLayer: db.prepare('INSERT INTO lambda_layers (account, region, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    bump: db.prepare('UPDATE lambda_layers SET next_version = next_version + 1 WHERE id = ?'),
    version: db.prepare<[number, number], LayerVersionRow>('SELECT * FROM lambda_layer_versions WHERE layer_id = ? AND version = ?'),
    versions: db.prepare<[number], LayerVersionRow>('SELECT * FROM lambda_layer_versions WHERE layer_id = ? ORDER BY version DESC'),
    insertVersion: db.prepare('INSERT INTO lambda_layer_versions (layer_id, version, doc, blob, created) VALUES (?, ?, ?, ?, ?)'),
    deleteVersion: db.prepare('DELETE FROM lambda_layer_versions WHERE layer_id = ? AND version = ?'),
    setPolicy: db.prepare('UPDATE lambda_layer_versions SET policy = ?, policy_revision = ? WHERE layer_id = ? AND version = ?'),
    // a function version's configuration names the blobs of its layers (FunctionDoc.Layers)
    blobInUse: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM lambda_versions WHERE instr(doc, ?) > 0'),
    retire: db.prepare('INSERT INTO lambda_layer_retired (blob) VALUES (?) ON CONFLICT DO NOTHING'),
    retired: db.prepare<[], { blob: string }>('SELECT blob FROM lambda_layer_retired'),
    unretire: db.prepare('DELETE FROM lambda_layer_retired WHERE blob = ?'),
  };
}

const statementsOf = (v: LayerVersionRow): Statement[] => (v.policy ? (JSON.parse(v.policy) as Statement[]) : []);

/** Whether `account` may use (GetLayerVersion) a layer version of another account. */
function granted(v: LayerVersionRow, account: string) {
  return statementsOf(v).some(
    (s) => s.Principal === '*' || (typeof s.Principal === 'object' && parseArn(s.Principal.AWS)?.account === account),
  );
}

/**
 * The layer a LayerName (a name or a layer ARN) designates: its scope and name. Another account's
 * layer is readable with `read` when a version's policy grants the caller (checked by the caller).
 */
function targetOf(ctx: RequestContext, layerName: string) {
  const p = layerName.startsWith('arn:') ? parseArn(layerName) : undefined;
  if (!p) return { scope: { account: ctx.account, region: ctx.region }, name: layerName, foreign: false };
  const name = p.resource.replace(/^layer:/, '');
  return { scope: { account: p.account, region: p.region }, name, foreign: p.account !== ctx.account || p.region !== ctx.region };
}

/**
 * The layers a CreateFunction / UpdateFunctionConfiguration names, checked as Lambda checks them
 * (at most five, each an existing version, one version per layer, another account's only when its
 * policy grants the caller), as the function's configuration keeps them.
 */
export function layerRefs(env: ServiceEnv, ctx: RequestContext, arns: string[] | undefined): LayerRef[] | undefined {
  if (arns === undefined) return undefined;
  if (arns.length > MAX_LAYERS) throw invalidParameter(`Cannot reference more than ${MAX_LAYERS} layers.`);
  const q = queries(env);
  const seen = new Map<string, string>();
  return arns.map((versionArn) => {
    const m = /^arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)$/.exec(versionArn);
    if (!m) throw doesNotExist(versionArn);
    const [, region, account, name, version] = m;
    const other = seen.get(`${account}:${name}`);
    if (other !== undefined)
      throw invalidParameter(
        `Two different versions of the same layer are not allowed to be referenced in the same function. ${other} and ${versionArn}`,
      );
    seen.set(`${account}:${name}`, versionArn);
    // layers are regional: a function uses the layers of its own region
    const layer = region === ctx.region ? q.layer.get(account, region, name) : undefined;
    const v = layer && q.version.get(layer.id, Number(version));
    if (!v) throw doesNotExist(versionArn);
    if (account !== ctx.account && !granted(v, ctx.account)) throw accessDenied(ctx, 'GetLayerVersion', versionArn);
    const d = JSON.parse(v.doc) as LayerVersionDoc;
    return { Arn: layerArn({ account, region }, `${name}:${v.version}`), CodeSize: d.CodeSize, CodeSha256: d.CodeSha256, Blob: v.blob };
  });
}

/** Folders being merged now, by path: concurrent cold starts of the same layers wait for one merge. */
const merging = new Map<string, Promise<string>>();

/**
 * The folder standing in for /opt for a function's layers (undefined without layers): each layer
 * unpacked by the code cache, then overlaid in order into a temporary folder renamed into place.
 * Files are hard links into the unpacked layers (copies where linking fails): nothing is written
 * twice, and a function must not write there (Lambda's /opt is read-only too).
 */
export function optFolder(env: ServiceEnv, code: CodeCache, layers: LayerRef[] | undefined): Promise<string | undefined> {
  if (!layers?.length) return Promise.resolve(undefined);
  const hashes = layers.map((l) => Buffer.from(l.CodeSha256, 'base64').toString('hex'));
  const key = createHash('sha256').update(hashes.join('\n')).digest('hex');
  const dir = join(env.config.dataDir, 'lambda', 'code', 'opt', key);
  if (existsSync(dir)) return Promise.resolve(dir);
  let p = merging.get(dir);
  if (!p) {
    p = (async () => {
      const sources = await Promise.all(layers.map((l, i) => code.unpack(l.Blob, hashes[i])));
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      try {
        mkdirSync(tmp, { recursive: true });
        for (const src of sources) overlay(src, tmp);
        renameSync(tmp, dir);
        return dir;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    })().finally(() => merging.delete(dir));
    merging.set(dir, p);
  }
  return p;
}

function overlay(src: string, dest: string) {
  for (const entry of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, entry.name);
    const to = join(dest, entry.name);
    if (entry.isDirectory()) {
      if (existsSync(to) && !lstatSync(to).isDirectory()) rmSync(to, { force: true });
      mkdirSync(to, { recursive: true });
      overlay(from, to);
    } else {
      rmSync(to, { recursive: true, force: true });
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
      }
    }
  }
}

/**
 * The variables that show a function its layers the way Lambda's /opt is seen (see the top of this
 * file); empty without layers. `path` is the PATH the function gets otherwise.
 */
export async function layerVariables(env: ServiceEnv, code: CodeCache, doc: FunctionDoc, path: string): Promise<Record<string, string>> {
  const opt = await optFolder(env, code, doc.Layers);
  if (!opt) return {};
  const runtime = doc.Runtime ?? '';
  const vars: Record<string, string> = {
    OPSBOX_LAYER_ROOT: opt,
    PATH: `${path}:${opt}/bin`,
    LD_LIBRARY_PATH: [process.env.LD_LIBRARY_PATH, `${opt}/lib`].filter(Boolean).join(':'),
  };
  const node = /^nodejs(\d+)/.exec(runtime);
  if (node) vars.NODE_PATH = `${opt}/nodejs/node${node[1]}/node_modules:${opt}/nodejs/node_modules`;
  const python = /^python(\d+\.\d+)/.exec(runtime);
  if (python) vars.PYTHONPATH = `${opt}/python/lib/python${python[1]}/site-packages:${opt}/python`;
  return vars;
}

export function layerHandlers(env: ServiceEnv, code: CodeCache): LambdaHandlers {
  const q = queries(env);

  /** Frees the packages of deleted layer versions that no function version uses any more. */
  function sweep() {
    for (const { blob } of q.retired.all()) {
      if (q.blobInUse.get(blob)!.n > 0) continue;
      q.unretire.run(blob);
      env.blobs.delete(blob);
    }
  }
  sweep();

  const location = (d: LayerVersionDoc) =>
    `http://localhost:${env.config.port}/_opsbox/lambda/layers/${Buffer.from(d.CodeSha256, 'base64').toString('hex')}`;

  function listItem(layer: LayerRow, v: LayerVersionRow): LayerVersionsListItem {
    const d = JSON.parse(v.doc) as LayerVersionDoc;
    return {
      LayerVersionArn: layerArn(layer, `${layer.name}:${v.version}`),
      Version: v.version,
      Description: d.Description,
      CreatedDate: createdDate(v.created),
      CompatibleRuntimes: d.CompatibleRuntimes,
      LicenseInfo: d.LicenseInfo,
      CompatibleArchitectures: d.CompatibleArchitectures,
    };
  }

  function output(layer: LayerRow, v: LayerVersionRow): GetLayerVersionOutput {
    const d = JSON.parse(v.doc) as LayerVersionDoc;
    return {
      ...listItem(layer, v),
      LayerArn: layerArn(layer, layer.name),
      Content: { Location: location(d), CodeSha256: d.CodeSha256, CodeSize: d.CodeSize },
    };
  }

  /** The layer version a request names; another account's only if its policy grants the caller (`read`). */
  function requireVersion(ctx: RequestContext, layerName: string, version: number, action: string, read: boolean) {
    const t = targetOf(ctx, layerName);
    const layer = q.layer.get(t.scope.account, t.scope.region, t.name);
    const v = layer && q.version.get(layer.id, version);
    if (t.foreign) {
      const resource = layerArn(t.scope, `${t.name}:${version}`);
      if (!read || !v || !granted(v, ctx.account)) throw accessDenied(ctx, action, resource);
    }
    if (!layer || !v) throw notFound();
    return { layer, v };
  }

  const matches = (d: LayerVersionDoc, runtime: string | undefined, architecture: string | undefined) =>
    (runtime === undefined || (d.CompatibleRuntimes ?? []).includes(runtime)) &&
    (architecture === undefined || (d.CompatibleArchitectures ?? []).includes(architecture));

  const invalidMarker = () => invalidParameter('Invalid marker.');

  return {
    async PublishLayerVersion(input, ctx) {
      const t = targetOf(ctx, input.LayerName);
      if (t.foreign) throw accessDenied(ctx, 'PublishLayerVersion', layerArn(t.scope, t.name));
      const pkg = await storePackage(env, code, ctx, input.Content, 'layer');
      const doc: LayerVersionDoc = {
        Description: input.Description ?? '',
        CompatibleRuntimes: input.CompatibleRuntimes?.length ? input.CompatibleRuntimes : undefined,
        CompatibleArchitectures: input.CompatibleArchitectures?.length ? input.CompatibleArchitectures : undefined,
        LicenseInfo: input.LicenseInfo,
        CodeSha256: pkg.sha256,
        CodeSize: pkg.size,
      };
      const now = ctx.clock.now();
      const { layer, v } = env.store.db.transaction(() => {
        q.insertLayer.run(ctx.account, ctx.region, t.name);
        const row = q.layer.get(ctx.account, ctx.region, t.name)!;
        q.insertVersion.run(row.id, row.next_version, JSON.stringify(doc), pkg.blobId, now);
        q.bump.run(row.id);
        return { layer: row, v: q.version.get(row.id, row.next_version)! };
      })();
      return output(layer, v);
    },

    GetLayerVersion(input, ctx) {
      const { layer, v } = requireVersion(ctx, input.LayerName, input.VersionNumber, 'GetLayerVersion', true);
      return output(layer, v);
    },

    GetLayerVersionByArn(input, ctx) {
      const m = /^(.*):(\d+)$/.exec(input.Arn)!;
      const { layer, v } = requireVersion(ctx, m[1], Number(m[2]), 'GetLayerVersion', true);
      return output(layer, v);
    },

    ListLayerVersions(input, ctx) {
      const t = targetOf(ctx, input.LayerName);
      const layer = q.layer.get(t.scope.account, t.scope.region, t.name);
      const versions = layer
        ? q.versions
            .all(layer.id)
            .filter((v) => matches(JSON.parse(v.doc) as LayerVersionDoc, input.CompatibleRuntime, input.CompatibleArchitecture))
            .filter((v) => !t.foreign || granted(v, ctx.account))
        : [];
      const start = input.Marker !== undefined ? Number(decodeToken(input.Marker, invalidMarker)) : 0;
      if (!Number.isInteger(start) || start < 0) throw invalidMarker();
      const page = offsetPage(versions, start, input.MaxItems ?? 50);
      return { LayerVersions: page.items.map((v) => listItem(layer!, v)), NextMarker: page.next };
    },

    ListLayers(input, ctx) {
      const limit = input.MaxItems ?? 50;
      const after = input.Marker !== undefined ? decodeToken(input.Marker, invalidMarker) : '';
      const items: { name: string; item: ReturnType<typeof listItem>; layer: LayerRow }[] = [];
      for (const layer of q.layers.all(ctx.account, ctx.region)) {
        if (layer.name <= after) continue;
        const latest = q.versions
          .all(layer.id)
          .find((v) => matches(JSON.parse(v.doc) as LayerVersionDoc, input.CompatibleRuntime, input.CompatibleArchitecture));
        if (latest) items.push({ name: layer.name, item: listItem(layer, latest), layer });
        if (items.length > limit) break;
      }
      const page = items.slice(0, limit);
      return {
        Layers: page.map((l) => ({ LayerName: l.name, LayerArn: layerArn(l.layer, l.name), LatestMatchingVersion: l.item })),
        NextMarker: items.length > limit ? encodeToken(page[page.length - 1].name) : undefined,
      };
    },

    DeleteLayerVersion(input, ctx) {
      const t = targetOf(ctx, input.LayerName);
      if (t.foreign) throw accessDenied(ctx, 'DeleteLayerVersion', layerArn(t.scope, `${t.name}:${input.VersionNumber}`));
      // deleting a version that does not exist succeeds, as on AWS
      const layer = q.layer.get(ctx.account, ctx.region, t.name);
      const v = layer && q.version.get(layer.id, input.VersionNumber);
      if (!layer || !v) return;
      env.store.db.transaction(() => {
        q.deleteVersion.run(layer.id, v.version);
        q.retire.run(v.blob);
      })();
      sweep();
    },

    AddLayerVersionPermission(input, ctx) {
      const { layer, v } = requireVersion(ctx, input.LayerName, input.VersionNumber, 'AddLayerVersionPermission', false);
      if (input.RevisionId !== undefined && input.RevisionId !== v.policy_revision) throw preconditionFailed();
      const statements = statementsOf(v);
      if (statements.some((s) => s.Sid === input.StatementId))
        throw new AwsError(
          'ResourceConflictException',
          `The statement id (${input.StatementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
          409,
          { Type: 'User' },
        );
      const statement: Statement = {
        Sid: input.StatementId,
        Effect: 'Allow',
        Principal:
          input.Principal === '*'
            ? '*'
            : { AWS: /^\d{12}$/.test(input.Principal) ? `arn:aws:iam::${input.Principal}:root` : input.Principal },
        Action: input.Action,
        Resource: layerArn(layer, `${layer.name}:${v.version}`),
        ...(input.OrganizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': input.OrganizationId } } } : {}),
      };
      const revision = randomUUID();
      q.setPolicy.run(JSON.stringify([...statements, statement]), revision, layer.id, v.version);
      return { Statement: JSON.stringify(statement), RevisionId: revision };
    },

    GetLayerVersionPolicy(input, ctx) {
      const { v } = requireVersion(ctx, input.LayerName, input.VersionNumber, 'GetLayerVersionPolicy', false);
      const statements = statementsOf(v);
      if (!statements.length)
        throw new AwsError('ResourceNotFoundException', 'No policy is associated with the given resource.', 404, { Type: 'User' });
      return {
        Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }),
        RevisionId: v.policy_revision ?? undefined,
      };
    },

    RemoveLayerVersionPermission(input, ctx) {
      const { layer, v } = requireVersion(ctx, input.LayerName, input.VersionNumber, 'RemoveLayerVersionPermission', false);
      if (input.RevisionId !== undefined && input.RevisionId !== v.policy_revision) throw preconditionFailed();
      const statements = statementsOf(v);
      if (!statements.some((s) => s.Sid === input.StatementId))
        throw new AwsError('ResourceNotFoundException', `Statement ${input.StatementId} is not found in resource policy.`, 404, {
          Type: 'User',
        });
      const rest = statements.filter((s) => s.Sid !== input.StatementId);
      q.setPolicy.run(rest.length ? JSON.stringify(rest) : null, rest.length ? randomUUID() : null, layer.id, v.version);
    },
  };
}

const preconditionFailed = () =>
  new AwsError(
    'PreconditionFailedException',
    'The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id',
    412,
    { Type: 'User' },
  );
