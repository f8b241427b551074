/**
 * Aliases: CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases, and the qualifier
 * resolution every invocation goes through (resolveQualifier): a version number, $LATEST or an
 * alias name; an alias with RoutingConfig splits invocations between its two versions at random,
 * by weight, per invocation, as Lambda does. An alias's ARN is function:<name>:<alias>; deleting the
 * alias deletes its resource policy and function URL, deleting the function deletes its aliases.
 */
import { randomUUID } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, keysetPage } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { AliasConfiguration, AliasRoutingConfiguration, LambdaHandlers } from './api.generated.js';
import { invalidParameter, nameOf, preconditionFailed } from './functions.js';
import { functionArn, notFound, type AliasRow, type FunctionRow, type LambdaStore, type VersionRow } from './store.js';

const VERSION = /^(\$LATEST|\d+)$/;

export const isVersion = (qualifier: string) => VERSION.test(qualifier);

/** The qualifier a function name or ARN carries (`name:live`, `arn:…:function:name:3`), if any. */
export function qualifierOf(name: string): string | undefined {
  return /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?[a-zA-Z0-9-_.]+:([a-zA-Z0-9-_$]+)$/.exec(name)?.[1];
}

export interface Resolved {
  v: VersionRow;
  /** The alias invoked, when the qualifier named one. */
  alias?: string;
}

/**
 * The version `qualifier` runs: none is $LATEST, a version is itself, an alias its FunctionVersion, or
 * (with AdditionalVersionWeights) its additional version for that share of invocations, drawn per call.
 */
export function resolveQualifier(
  store: LambdaStore,
  scope: Scope,
  fn: FunctionRow,
  qualifier: string | undefined,
  random = Math.random,
): Resolved {
  const q = qualifier || '$LATEST';
  if (isVersion(q)) {
    const v = store.version(fn, q);
    if (!v) throw notFound(scope, fn.name, q);
    return { v };
  }
  const a = store.alias(fn, q);
  if (!a) throw notFound(scope, fn.name, q);
  let version = a.function_version;
  const [extra] = Object.entries(routingOf(a) ?? {});
  if (extra && random() < extra[1]) version = extra[0];
  const v = store.version(fn, version);
  if (!v) throw notFound(scope, fn.name, version);
  return { v, alias: a.name };
}

const routingOf = (a: AliasRow): Record<string, number> | undefined => (a.routing ? JSON.parse(a.routing) : undefined);

export function aliasOut(scope: Scope, fn: FunctionRow, a: AliasRow): AliasConfiguration {
  const weights = routingOf(a);
  return {
    AliasArn: functionArn(scope, fn.name, a.name),
    Name: a.name,
    FunctionVersion: a.function_version,
    Description: a.description,
    RoutingConfig: weights ? { AdditionalVersionWeights: weights } : undefined,
    RevisionId: a.revision_id,
  };
}

export function aliasHandlers(store: LambdaStore): LambdaHandlers {
  function requireFunction(ctx: RequestContext, name: string): FunctionRow {
    const fn = store.findFunction(ctx, nameOf(name));
    if (!fn) throw notFound(ctx, nameOf(name));
    return fn;
  }

  function requireVersion(ctx: RequestContext, fn: FunctionRow, version: string) {
    if (!store.version(fn, version)) throw notFound(ctx, fn.name, version);
  }

  /** AdditionalVersionWeights checked as Lambda checks them: one extra published version, not the alias's own; JSON or null. */
  function routing(ctx: RequestContext, fn: FunctionRow, primary: string, config: AliasRoutingConfiguration | undefined): string | null {
    const weights = config?.AdditionalVersionWeights ?? {};
    const entries = Object.entries(weights);
    if (entries.length === 0) return null;
    // the model's map constraints, which the generic validation does not check inside maps
    const shown = `{${entries.map(([k, w]) => `${k}=${w}`).join(', ')}}`;
    const invalid = (what: string) =>
      new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${shown}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: ${what}`,
        400,
      );
    if (entries.some(([k]) => !/^[0-9]{1,1024}$/.test(k)))
      throw invalid(
        'Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]',
      );
    if (entries.some(([, w]) => typeof w !== 'number' || !(w >= 0 && w <= 1)))
      throw invalid(
        'Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]',
      );
    if (entries.length > 1) throw invalidParameter('Number of items in AdditionalVersionWeights cannot be greater than 1');
    const [version] = entries[0];
    if (version === primary)
      throw invalidParameter(
        `Invalid function version ${primary}. Function version ${primary} is already included in routing configuration.`,
      );
    if (primary === '$LATEST') throw invalidParameter('$LATEST is not supported for an alias pointing to more than 1 version');
    requireVersion(ctx, fn, version);
    return JSON.stringify(weights);
  }

  return {
    CreateAlias(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      requireVersion(ctx, fn, input.FunctionVersion);
      if (store.alias(fn, input.Name))
        throw new AwsError('ResourceConflictException', `Alias already exists: ${functionArn(ctx, fn.name, input.Name)}`, 409, {
          Type: 'User',
        });
      const row: AliasRow = {
        function_id: fn.id,
        name: input.Name,
        function_version: input.FunctionVersion,
        description: input.Description ?? '',
        routing: routing(ctx, fn, input.FunctionVersion, input.RoutingConfig),
        revision_id: randomUUID(),
      };
      store.putAlias(row);
      return aliasOut(ctx, fn, row);
    },

    GetAlias(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const a = store.alias(fn, input.Name);
      if (!a)
        throw new AwsError('ResourceNotFoundException', `Cannot find alias arn: ${functionArn(ctx, fn.name, input.Name)}`, 404, {
          Type: 'User',
        });
      return aliasOut(ctx, fn, a);
    },

    UpdateAlias(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const a = store.alias(fn, input.Name);
      if (!a)
        throw new AwsError('ResourceNotFoundException', `Alias not found: ${functionArn(ctx, fn.name, input.Name)}`, 404, { Type: 'User' });
      if (input.RevisionId !== undefined && input.RevisionId !== a.revision_id) throw preconditionFailed();
      const primary = input.FunctionVersion ?? a.function_version;
      requireVersion(ctx, fn, primary);
      // the routing kept from before must still fit a new FunctionVersion
      const config = input.RoutingConfig ?? { AdditionalVersionWeights: routingOf(a) };
      const row: AliasRow = {
        ...a,
        function_version: primary,
        description: input.Description ?? a.description,
        routing: routing(ctx, fn, primary, config),
        revision_id: randomUUID(),
      };
      store.putAlias(row);
      return aliasOut(ctx, fn, row);
    },

    DeleteAlias(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      // deleting an alias that is not there succeeds, as on Lambda
      store.deleteAlias(fn, input.Name);
    },

    ListAliases(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const limit = input.MaxItems ?? 50;
      const after = input.Marker !== undefined ? decodeToken(input.Marker, () => invalidParameter('Invalid marker.')) : '';
      const page = keysetPage(store.aliases(fn, after, limit + 1, input.FunctionVersion), limit, (a) => a.name);
      return { Aliases: page.items.map((a) => aliasOut(ctx, fn, a)), NextMarker: page.next };
    },
  };
}
