/**
 * Parameters: PutParameter (versions, overwrite, tiers, allowed patterns, policies, SecureString
 * through KMS), GetParameter(s) with `name:version` / `name:label` selectors, GetParametersByPath,
 * DescribeParameters, GetParameterHistory and the deletes. Every change is published on the bus as
 * EventBridge's "Parameter Store Change" (source aws.ssm).
 */
import { AwsError } from '../../core/errors.js';
import { decodeToken, keysetPage } from '../../core/pagination.js';
import { checkTags, tagMapOf, type TagRules, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { ParameterHistoryOut, ParameterMetadataOut, ParameterOut, PutParameterInput, SsmHandlers } from './api.generated.js';
import { compileLegacyFilters, compileParameterFilters, type FilterSubject } from './filters.js';
import {
  canonical,
  checkName,
  isPublic,
  nameOf,
  parameterArn,
  parseSelector,
  pathPrefix,
  publicArn,
  underPath,
  type Selected,
} from './names.js';
import { parsePolicies, type StoredPolicy } from './policies.js';
import { findPublic, PUBLIC_MODIFIED, publicUnder, type PublicParameter } from './publicParameters.js';
import { publishChange } from './events.js';
import { DEFAULT_KEY, type Sealed, type SecureValues } from './secure.js';
import type { ParamRow, SsmStore, VersionFields, VersionRow } from './store.js';

const STANDARD_LIMIT = 4096;
const ADVANCED_LIMIT = 8192;
const DATA_TYPES = ['text', 'aws:ec2:image', 'aws:ssm:integration'];

const validation = (message: string) => new AwsError('ValidationException', message, 400);
/** AWS answers a missing parameter with an empty message (GetParameter, DeleteParameter). */
export const parameterNotFound = (message = '') => new AwsError('ParameterNotFound', message, 400);
const versionNotFound = (version: number | string, name: string) =>
  new AwsError(
    'ParameterVersionNotFound',
    `Systems Manager could not find version ${version} of ${name}. Verify the version and try again.`,
    400,
  );
export const invalidNextToken = () => new AwsError('InvalidNextToken', "The specified token isn't valid.", 400);

export const ssmTagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsError', '', 400)
      : p.kind === 'reservedKey'
        ? validation(`Tag keys can't start with "aws:": ${p.key}`)
        : p.kind === 'duplicateKey'
          ? validation(`Duplicate tag key: ${p.key}`)
          : validation('The tags are not valid.'),
};

export const policiesOf = (row: { policies: string | null }): StoredPolicy[] => (row.policies ? JSON.parse(row.policies) : []);

/** The parameter a name (or ARN) names in the caller's scope, if any. */
export function findParameter(store: SsmStore, ctx: RequestContext, raw: string): ParamRow | undefined {
  const { name, foreign } = nameOf(raw, ctx);
  return foreign ? undefined : store.find(ctx, canonical(name));
}

/** The parameter, or ParameterNotFound (with AWS's empty message unless the operation words one). */
export function requireParameter(store: SsmStore, ctx: RequestContext, raw: string, message?: string): ParamRow {
  const p = findParameter(store, ctx, raw);
  if (!p) throw parameterNotFound(message);
  return p;
}

/** A parameter and the version of it a request selected. */
interface Resolved {
  p: ParamRow;
  v: VersionRow;
  selector?: string;
}

/** What PutParameter will write, worked out from the request and the parameter as it is. */
interface Plan {
  fields: Omit<VersionFields, 'modified' | 'modified_user'>;
  advanced: boolean;
}

function planPut(input: PutParameterInput, value: string, existing: ParamRow | undefined): Plan {
  if (existing && !input.Overwrite)
    throw new AwsError(
      'ParameterAlreadyExists',
      'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      400,
    );
  const type = input.Type ?? existing?.type;
  if (!type) throw validation('A parameter type is required when you create a parameter.');
  if (input.KeyId !== undefined && type !== 'SecureString') throw validation('KeyId is required for SecureString type parameter only.');
  const keyId =
    type === 'SecureString' ? (input.KeyId ?? (existing?.type === 'SecureString' ? existing.key_id : null) ?? DEFAULT_KEY) : null;
  const dataType = input.DataType ?? existing?.data_type ?? 'text';
  if (!DATA_TYPES.includes(dataType))
    throw validation(`The following data type is not supported: ${dataType} (Data type names are all lowercase.)`);
  const policies = input.Policies !== undefined ? parsePolicies(input.Policies) : existing ? policiesOf(existing) : [];

  const bytes = Buffer.byteLength(value);
  const requested = input.Tier ?? existing?.tier ?? 'Standard';
  const tier =
    requested === 'Intelligent-Tiering'
      ? bytes > STANDARD_LIMIT || policies.length > 0 || existing?.tier === 'Advanced'
        ? 'Advanced'
        : 'Standard'
      : requested;
  if (existing?.tier === 'Advanced' && tier === 'Standard')
    throw validation(
      "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the " +
        'standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.',
    );
  if (tier === 'Standard' && bytes > STANDARD_LIMIT)
    throw validation(
      `Standard tier parameters support a maximum parameter value of ${STANDARD_LIMIT} characters. To create a larger parameter value, ` +
        'upgrade the parameter to use the advanced-parameter tier. For more information, see ' +
        'https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html',
    );
  if (bytes > ADVANCED_LIMIT)
    throw validation(`Advanced tier parameters support a maximum parameter value of ${ADVANCED_LIMIT} characters.`);
  if (tier === 'Standard' && policies.length > 0)
    throw validation(
      'Standard tier parameters do not support parameter policies. To use parameter policies, upgrade the parameter to use the ' +
        'advanced-parameter tier.',
    );

  const allowed = input.AllowedPattern ?? existing?.allowed_pattern ?? null;
  if (allowed) {
    let re: RegExp;
    try {
      re = new RegExp(allowed, 'u');
    } catch {
      throw new AwsError('InvalidAllowedPatternException', `The allowed pattern isn't a valid regular expression: ${allowed}`, 400);
    }
    if (!re.test(value))
      throw new AwsError(
        'ParameterPatternMismatchException',
        `Parameter value, cannot be validated against allowedPattern: ${allowed}`,
        400,
      );
  }

  return {
    fields: {
      type,
      key_id: keyId,
      description: input.Description ?? existing?.description ?? null,
      allowed_pattern: allowed || null,
      tier,
      policies: policies.length ? JSON.stringify(policies) : null,
      data_type: dataType,
    },
    advanced: tier === 'Advanced',
  };
}

const samePlan = (a: Plan, b: Plan) => a.fields.type === b.fields.type && a.fields.key_id === b.fields.key_id && a.advanced === b.advanced;

export function parameterHandlers(env: ServiceEnv, store: SsmStore, tags: Tags, secure: SecureValues): SsmHandlers {
  const arnOf = (ctx: RequestContext, p: { name: string }) => parameterArn(ctx, p.name);

  const findParam = (ctx: RequestContext, raw: string) => findParameter(store, ctx, raw);
  const requireParam = (ctx: RequestContext, raw: string, message?: string) => requireParameter(store, ctx, raw, message);

  /** The parameter and version `name[:selector]` names; ParameterNotFound / ParameterVersionNotFound as AWS. */
  function resolve(ctx: RequestContext, raw: string): Resolved {
    const { name, foreign } = nameOf(raw, ctx);
    const sel: Selected | undefined = parseSelector(name);
    if (!sel || foreign) throw parameterNotFound();
    const p = store.find(ctx, canonical(sel.name));
    if (!p) throw parameterNotFound();
    if (sel.version !== undefined) {
      const v = store.version(p, sel.version);
      if (!v) throw versionNotFound(sel.version, sel.name);
      return { p, v, selector: sel.selector };
    }
    if (sel.label !== undefined) {
      const version = store.labelVersion(p, sel.label);
      if (version === undefined) throw parameterNotFound(`Parameter ${name} not found.`);
      return { p, v: store.version(p, version)!, selector: sel.selector };
    }
    return { p, v: store.latest(p) };
  }

  async function valueOf(ctx: RequestContext, p: ParamRow, v: VersionRow, decrypt: boolean | undefined) {
    if (v.type !== 'SecureString' || !decrypt) return v.value;
    return secure.open(ctx, arnOf(ctx, p), v.value, v.encryption);
  }

  async function parameterOut(ctx: RequestContext, r: Resolved, decrypt: boolean | undefined): Promise<ParameterOut> {
    return {
      Name: r.p.name,
      Type: r.v.type,
      Value: await valueOf(ctx, r.p, r.v, decrypt),
      Version: r.v.version,
      Selector: r.selector,
      LastModifiedDate: new Date(r.v.modified),
      ARN: arnOf(ctx, r.p),
      DataType: r.v.data_type,
    };
  }

  function publicOut(ctx: RequestContext, pp: PublicParameter, selector?: string): ParameterOut {
    return {
      Name: pp.name,
      Type: 'String',
      Value: pp.value,
      Version: 1,
      Selector: selector,
      LastModifiedDate: new Date(PUBLIC_MODIFIED),
      ARN: publicArn(ctx.region, pp.name),
      DataType: 'text',
    };
  }

  /** A public parameter by `name[:1]`; only version 1 of each exists. */
  function resolvePublic(ctx: RequestContext, raw: string): ParameterOut {
    const sel = parseSelector(nameOf(raw, ctx).name);
    const pp = sel && findPublic(canonical(sel.name));
    if (!sel || !pp) throw parameterNotFound();
    if (sel.label !== undefined) throw parameterNotFound(`Parameter ${raw} not found.`);
    if (sel.version !== undefined && sel.version !== 1) throw versionNotFound(sel.version, sel.name);
    return publicOut(ctx, pp, sel.selector);
  }

  const isPublicName = (ctx: RequestContext, raw: string) => isPublic(nameOf(raw, ctx).name.split(':')[0]);

  function subject(ctx: RequestContext, p: ParamRow): FilterSubject {
    return {
      key: p.key,
      type: p.type,
      keyId: p.key_id,
      tier: p.tier,
      dataType: p.data_type,
      tags: () => tags.get(arnOf(ctx, p)),
      labels: () => store.labels(p).map((l) => l.label),
    };
  }

  function metadataOut(ctx: RequestContext, p: ParamRow): ParameterMetadataOut {
    return {
      Name: p.name,
      ARN: arnOf(ctx, p),
      Type: p.type,
      KeyId: p.key_id ?? undefined,
      LastModifiedDate: new Date(p.modified),
      LastModifiedUser: p.modified_user,
      Description: p.description ?? undefined,
      AllowedPattern: p.allowed_pattern ?? undefined,
      Version: p.version,
      Tier: p.tier,
      Policies: policiesOf(p),
      DataType: p.data_type,
    };
  }

  return {
    async PutParameter(input, ctx) {
      const { name, foreign } = nameOf(input.Name, ctx);
      if (foreign) throw validation('Parameter name must be a fully qualified name.');
      checkName(name);
      const key = canonical(name);
      const value = input.Value;
      if (value === '')
        throw validation(
          "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
        );
      if (input.Overwrite && input.Tags?.length)
        throw validation(
          "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. " +
            'To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.',
        );
      const tagMap = input.Tags ? tagMapOf(input.Tags, ssmTagRules.errors) : {};
      checkTags(tagMap, ssmTagRules);
      const before = store.find(ctx, key);
      const plan = planPut(input, value, before);
      const arn = parameterArn(ctx, name);

      let sealed: Sealed = { value, encryption: 'none' };
      if (plan.fields.type === 'SecureString') sealed = await secure.seal(ctx, arn, plan.fields.key_id!, plan.advanced, value);

      const written = store.transaction(() => {
        // the parameter may have changed while KMS encrypted the value: plan again on what is there now
        const existing = store.find(ctx, key);
        const now = existing?.version === before?.version ? plan : planPut(input, value, existing);
        if (!samePlan(now, plan))
          throw new AwsError('TooManyUpdates', 'There are concurrent updates for a resource that supports one update at a time.', 400);
        const fields: VersionFields = { ...now.fields, modified: ctx.clock.now(), modified_user: ctx.caller.arn };
        const row = store.writeVersion(ctx, existing, key, existing?.name ?? name, fields, sealed.value, sealed.encryption);
        if (!existing && Object.keys(tagMap).length) tags.add(arn, tagMap, ssmTagRules);
        return { row, created: !existing };
      });
      publishChange(env, ctx, written.row, written.created ? 'Create' : 'Update');
      return { Version: written.row.version, Tier: written.row.tier };
    },

    async GetParameter(input, ctx) {
      if (isPublicName(ctx, input.Name)) return { Parameter: resolvePublic(ctx, input.Name) };
      return { Parameter: await parameterOut(ctx, resolve(ctx, input.Name), input.WithDecryption) };
    },

    async GetParameters(input, ctx) {
      const Parameters: ParameterOut[] = [];
      const InvalidParameters: string[] = [];
      for (const raw of [...new Set(input.Names)]) {
        try {
          Parameters.push(
            isPublicName(ctx, raw) ? resolvePublic(ctx, raw) : await parameterOut(ctx, resolve(ctx, raw), input.WithDecryption),
          );
        } catch (err) {
          if (err instanceof AwsError && (err.code === 'ParameterNotFound' || err.code === 'ParameterVersionNotFound'))
            InvalidParameters.push(raw);
          else throw err;
        }
      }
      return { Parameters, InvalidParameters };
    },

    async GetParametersByPath(input, ctx) {
      const prefix = pathPrefix(input.Path);
      const matches = compileParameterFilters(input.ParameterFilters, 'path');
      const labels = input.ParameterFilters?.find((f) => f.Key === 'Label')?.Values;
      const limit = input.MaxResults ?? 10;
      const after = input.NextToken !== undefined ? decodeToken(input.NextToken, invalidNextToken) : '';
      const recursive = input.Recursive ?? false;

      if (isPublic(prefix)) {
        const rows = publicUnder(prefix, recursive, after).filter(
          (pp) =>
            !labels &&
            matches({ key: pp.name, type: 'String', keyId: null, tier: 'Standard', dataType: 'text', tags: () => ({}), labels: () => [] }),
        );
        const page = keysetPage(rows.slice(0, limit + 1), limit, (pp) => pp.name);
        return { Parameters: page.items.map((pp) => publicOut(ctx, pp)), NextToken: page.next };
      }

      const found: ParamRow[] = [];
      for (const p of store.scan(ctx, after, prefix)) {
        if (!underPath(p.key, prefix, recursive) || !matches(subject(ctx, p))) continue;
        found.push(p);
        if (found.length > limit) break;
      }
      const page = keysetPage(found, limit, (p) => p.key);
      const Parameters: ParameterOut[] = [];
      for (const p of page.items) {
        // with a Label filter, the version carrying the label is the one returned
        let v = store.latest(p);
        if (labels) {
          const versions = store
            .labels(p)
            .filter((l) => labels.includes(l.label))
            .map((l) => l.version);
          v = store.version(p, Math.max(...versions))!;
        }
        Parameters.push(await parameterOut(ctx, { p, v }, input.WithDecryption));
      }
      return { Parameters, NextToken: page.next };
    },

    DescribeParameters(input, ctx) {
      if (input.Filters?.length && input.ParameterFilters?.length)
        throw validation('You can use either Filters or ParameterFilters in a single request.');
      const matches = compileParameterFilters(input.ParameterFilters, 'describe');
      const legacy = compileLegacyFilters(input.Filters);
      const limit = input.MaxResults ?? 10;
      const after = input.NextToken !== undefined ? decodeToken(input.NextToken, invalidNextToken) : '';
      // parameters other accounts share with this one: none in opsbox
      if (input.Shared) return { Parameters: [] };
      const found: ParamRow[] = [];
      for (const p of store.scan(ctx, after, '/')) {
        const s = subject(ctx, p);
        if (!matches(s) || !legacy(s)) continue;
        found.push(p);
        if (found.length > limit) break;
      }
      const page = keysetPage(found, limit, (p) => p.key);
      return { Parameters: page.items.map((p) => metadataOut(ctx, p)), NextToken: page.next };
    },

    async GetParameterHistory(input, ctx) {
      const p = requireParam(ctx, input.Name, `Parameter ${input.Name} not found.`);
      const limit = input.MaxResults ?? 50;
      let after = 0;
      if (input.NextToken !== undefined) {
        after = Number(decodeToken(input.NextToken, invalidNextToken));
        if (!Number.isInteger(after) || after < 0) throw invalidNextToken();
      }
      const page = keysetPage(store.versions(p, after, limit + 1), limit, (v) => v.version);
      const labels = store.labels(p);
      const Parameters: ParameterHistoryOut[] = [];
      for (const v of page.items)
        Parameters.push({
          Name: p.name,
          Type: v.type,
          KeyId: v.key_id ?? undefined,
          LastModifiedDate: new Date(v.modified),
          LastModifiedUser: v.modified_user,
          Description: v.description ?? undefined,
          Value: await valueOf(ctx, p, v, input.WithDecryption),
          AllowedPattern: v.allowed_pattern ?? undefined,
          Version: v.version,
          Labels: labels.filter((l) => l.version === v.version).map((l) => l.label),
          Tier: v.tier,
          Policies: policiesOf(v),
          DataType: v.data_type,
        });
      return { Parameters, NextToken: page.next };
    },

    DeleteParameter(input, ctx) {
      const p = requireParam(ctx, input.Name);
      store.transaction(() => {
        store.deleteParam(p);
        tags.delete(arnOf(ctx, p));
      });
      publishChange(env, ctx, p, 'Delete');
      return {};
    },

    DeleteParameters(input, ctx) {
      const DeletedParameters: string[] = [];
      const InvalidParameters: string[] = [];
      for (const raw of [...new Set(input.Names)]) {
        const p = findParam(ctx, raw);
        if (!p) {
          InvalidParameters.push(raw);
          continue;
        }
        store.transaction(() => {
          store.deleteParam(p);
          tags.delete(arnOf(ctx, p));
        });
        publishChange(env, ctx, p, 'Delete');
        DeletedParameters.push(raw);
      }
      return { DeletedParameters, InvalidParameters };
    },
  };
}
