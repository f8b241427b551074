/**
 * Dynamic references in resolved property values: {{resolve:ssm:name[:version]}},
 * {{resolve:ssm-secure:name[:version]}} and
 * {{resolve:secretsmanager:secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]}},
 * each read through the lookup the caller passes (in-process ssm GetParameter / secretsmanager
 * GetSecretValue).
 */
import { AwsError } from '../../../core/errors.js';

export interface DynamicLookups {
  ssm(name: string, version: string | undefined, secure: boolean): Promise<string>;
  secret(secretId: string, versionStage?: string, versionId?: string): Promise<string>;
}

const REF = /\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}/g;

export function hasDynamicRefs(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes('{{resolve:');
}

async function resolveString(s: string, look: DynamicLookups): Promise<string> {
  const parts: (string | Promise<string>)[] = [];
  let last = 0;
  for (const m of s.matchAll(REF)) {
    parts.push(s.slice(last, m.index));
    last = m.index! + m[0].length;
    const [, kind, rest] = m;
    if (kind === 'secretsmanager') {
      const arn = /^(arn:aws[\w-]*:secretsmanager:[^:]+:\d{12}:secret:[^:]+)(.*)$/.exec(rest);
      const [id, tail] = arn ? [arn[1], arn[2].replace(/^:/, '')] : [rest.split(':')[0], rest.split(':').slice(1).join(':')];
      const [field, jsonKey, stage, versionId] = tail ? tail.split(':') : [];
      if (field && field !== 'SecretString')
        throw new AwsError('ValidationError', `Dynamic reference field ${field} is not supported; only SecretString is`, 400);
      parts.push(
        look.secret(id, stage || undefined, versionId || undefined).then((v) => {
          if (!jsonKey) return v;
          let doc: any;
          try {
            doc = JSON.parse(v);
          } catch {
            throw new AwsError('ValidationError', `Could not parse SecretString JSON for secret ${id}`, 400);
          }
          if (!(jsonKey in doc)) throw new AwsError('ValidationError', `Could not find SecretString key ${jsonKey} in secret ${id}`, 400);
          return typeof doc[jsonKey] === 'string' ? doc[jsonKey] : JSON.stringify(doc[jsonKey]);
        }),
      );
    } else {
      const i = rest.lastIndexOf(':');
      const [name, version] = i > 0 && /^\d+$/.test(rest.slice(i + 1)) ? [rest.slice(0, i), rest.slice(i + 1)] : [rest, undefined];
      parts.push(look.ssm(name, version, kind === 'ssm-secure'));
    }
  }
  parts.push(s.slice(last));
  return (await Promise.all(parts)).join('');
}

/** `value` with every dynamic reference replaced by what it reads. */
export async function resolveDynamicRefs(value: unknown, look: DynamicLookups): Promise<any> {
  if (typeof value === 'string') return value.includes('{{resolve:') ? resolveString(value, look) : value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveDynamicRefs(v, look)));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await resolveDynamicRefs(v, look);
    return out;
  }
  return value;
}
