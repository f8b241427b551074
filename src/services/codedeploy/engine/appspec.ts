/**
 * AppSpec files, YAML or JSON, as CodeDeploy reads them: for Lambda the function, alias and the two
 * versions plus the BeforeAllowTraffic/AfterAllowTraffic hook functions; for servers the files to
 * copy, their permissions and the scripts of each lifecycle event. A file that does not say what
 * its platform needs is an AppSpecError, which fails the deployment as AWS's INVALID_REVISION.
 */
import { parse } from 'yaml';

export class AppSpecError extends Error {}

export interface LambdaAppSpec {
  name: string;
  alias: string;
  currentVersion: string;
  targetVersion: string;
  hooks: { BeforeAllowTraffic?: string; AfterAllowTraffic?: string };
}

export interface ServerHook {
  location: string;
  timeout: number;
  runas?: string;
}

export const SERVER_HOOKS = ['ApplicationStop', 'BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService'] as const;
export type ServerHookName = (typeof SERVER_HOOKS)[number];

export interface ServerAppSpec {
  files: { source: string; destination: string }[];
  permissions: { object: string; pattern: string; except: string[]; mode?: string; type: ('file' | 'directory')[] }[];
  hooks: Partial<Record<ServerHookName, ServerHook[]>>;
  fileExistsBehavior?: string;
}

function document(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new AppSpecError(`The AppSpec file is not valid YAML or JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new AppSpecError('The AppSpec file must be a YAML or JSON object.');
  return doc as Record<string, unknown>;
}

/** The hooks list ([{BeforeAllowTraffic: fn}, …] or {BeforeAllowTraffic: fn}) as one map. */
function hookMap(hooks: unknown): Record<string, unknown> {
  if (hooks === undefined || hooks === null) return {};
  if (Array.isArray(hooks)) return Object.assign({}, ...hooks.filter((h) => typeof h === 'object' && h !== null));
  if (typeof hooks === 'object') return hooks as Record<string, unknown>;
  throw new AppSpecError('The Hooks section of the AppSpec file must be a list or a map.');
}

export function parseLambdaAppSpec(text: string): LambdaAppSpec {
  const doc = document(text);
  const resources = doc.Resources;
  if (!Array.isArray(resources) || resources.length !== 1)
    throw new AppSpecError('The AppSpec file for a Lambda deployment must name exactly one resource under Resources.');
  const entry = Object.values(resources[0] as Record<string, unknown>)[0] as
    { Type?: string; Properties?: Record<string, unknown> } | undefined;
  if (entry?.Type !== 'AWS::Lambda::Function')
    throw new AppSpecError('The resource of a Lambda AppSpec file must be of Type AWS::Lambda::Function.');
  const p = entry.Properties ?? {};
  for (const k of ['Name', 'Alias', 'CurrentVersion', 'TargetVersion'])
    if (p[k] === undefined || p[k] === null || String(p[k]) === '')
      throw new AppSpecError(`The AppSpec file's Lambda resource has no ${k}.`);
  const hooks = hookMap(doc.Hooks);
  for (const k of Object.keys(hooks))
    if (k !== 'BeforeAllowTraffic' && k !== 'AfterAllowTraffic')
      throw new AppSpecError(`${k} is not a lifecycle event of Lambda deployments.`);
  return {
    name: String(p.Name),
    alias: String(p.Alias),
    currentVersion: String(p.CurrentVersion),
    targetVersion: String(p.TargetVersion),
    hooks: hooks as LambdaAppSpec['hooks'],
  };
}

const list = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

export function parseServerAppSpec(text: string): ServerAppSpec {
  const doc = document(text);
  // YAML reads 0.0 as the number 0
  if (doc.version !== 0 && String(doc.version) !== '0.0') throw new AppSpecError('The AppSpec file must say version: 0.0.');
  const files = list(doc.files).map((f) => {
    const o = f as { source?: unknown; destination?: unknown };
    if (typeof o.source !== 'string' || typeof o.destination !== 'string')
      throw new AppSpecError('Each entry of files needs a source and a destination.');
    return { source: o.source, destination: o.destination };
  });
  const permissions = list(doc.permissions).map((p) => {
    const o = p as { object?: unknown; pattern?: unknown; except?: unknown; mode?: unknown; type?: unknown };
    if (typeof o.object !== 'string') throw new AppSpecError('Each entry of permissions needs an object.');
    return {
      object: o.object,
      pattern: typeof o.pattern === 'string' ? o.pattern : '**',
      except: list(o.except).map(String),
      mode: o.mode === undefined ? undefined : String(o.mode),
      type: (o.type === undefined ? ['file', 'directory'] : list(o.type).map(String)) as ('file' | 'directory')[],
    };
  });
  const hooks: ServerAppSpec['hooks'] = {};
  for (const [name, scripts] of Object.entries(hookMap(doc.hooks))) {
    if (!(SERVER_HOOKS as readonly string[]).includes(name))
      throw new AppSpecError(`${name} is not a lifecycle event scripts can be run for in an in-place deployment.`);
    hooks[name as ServerHookName] = list(scripts).map((s) => {
      const o = s as { location?: unknown; timeout?: unknown; runas?: unknown };
      if (typeof o.location !== 'string') throw new AppSpecError(`Each script of ${name} needs a location.`);
      const timeout = o.timeout === undefined ? 3600 : Number(o.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600)
        throw new AppSpecError(`The timeout of ${o.location} must be 1 to 3600 seconds.`);
      return { location: o.location, timeout, runas: o.runas === undefined ? undefined : String(o.runas) };
    });
  }
  return {
    files,
    permissions,
    hooks,
    fileExistsBehavior: doc.file_exists_behavior === undefined ? undefined : String(doc.file_exists_behavior),
  };
}
