/**
 * Resource-based policies: AddPermission, GetPolicy, RemovePermission. Each statement is kept as the
 * policy document holds it (Sid, Effect, Principal {Service|AWS} or "*", Action, Resource, Condition
 * with ArnLike AWS:SourceArn, StringEquals AWS:SourceAccount …), one policy per qualifier: the
 * unqualified function ($LATEST), a version or an alias.
 *
 * The policies are stored and returned, NOT enforced: opsbox lets every caller invoke every
 * function (and every function URL), whatever its policy says.
 *
 * RevisionId preconditions compare with the qualified resource's RevisionId (the version's, or the
 * alias's); unlike Lambda, changing the policy does not give the function a new RevisionId.
 */
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { AddPermissionInput, LambdaHandlers } from './api.generated.js';
import { isVersion, qualifierOf } from './aliases.js';
import { invalidParameter, nameOf, preconditionFailed } from './functions.js';
import { docOf, functionArn, notFound, type FunctionRow, type LambdaStore } from './store.js';

const resourceNotFound = (message: string) => new AwsError('ResourceNotFoundException', message, 404, { Type: 'User' });

/** A Principal as the policy document writes it: an account id becomes its root ARN, a service name a Service principal. */
export function principalOf(p: string): string | { Service: string } | { AWS: string } {
  if (p === '*') return '*';
  if (/^\d{12}$/.test(p)) return { AWS: `arn:aws:iam::${p}:root` };
  if (p.startsWith('arn:')) return { AWS: p };
  return { Service: p };
}

export function statementOf(resource: string, input: AddPermissionInput) {
  const condition: Record<string, Record<string, string>> = {};
  const add = (operator: string, key: string, value: string | undefined) => {
    if (value !== undefined) (condition[operator] ??= {})[key] = value;
  };
  add('StringEquals', 'AWS:SourceAccount', input.SourceAccount);
  add('StringEquals', 'aws:PrincipalOrgID', input.PrincipalOrgID);
  add('StringEquals', 'lambda:EventSourceToken', input.EventSourceToken);
  add('StringEquals', 'lambda:FunctionUrlAuthType', input.FunctionUrlAuthType);
  add('ArnLike', 'AWS:SourceArn', input.SourceArn);
  if (input.InvokedViaFunctionUrl) add('Bool', 'lambda:InvokedViaFunctionUrl', 'true');
  return {
    Sid: input.StatementId,
    Effect: 'Allow',
    Principal: principalOf(input.Principal),
    Action: input.Action,
    Resource: resource,
    ...(Object.keys(condition).length ? { Condition: condition } : {}),
  };
}

export function permissionHandlers(store: LambdaStore): LambdaHandlers {
  /** The policy's qualifier ('' for the unqualified function) and the RevisionId preconditions compare with. */
  function target(scope: Scope, fn: FunctionRow, qualifier: string | undefined) {
    if (!qualifier || qualifier === '$LATEST') return { qualifier: '', revision: docOf(store.version(fn, '$LATEST')!).RevisionId };
    if (isVersion(qualifier)) {
      const v = store.version(fn, qualifier);
      if (!v) throw notFound(scope, fn.name, qualifier);
      return { qualifier, revision: docOf(v).RevisionId };
    }
    const a = store.alias(fn, qualifier);
    if (!a) throw notFound(scope, fn.name, qualifier);
    return { qualifier, revision: a.revision_id };
  }

  const qualified = (name: string, qualifier: string | undefined) => qualifier ?? qualifierOf(name);

  return {
    AddPermission(input, ctx: RequestContext) {
      const name = nameOf(input.FunctionName);
      const qualifier = qualified(input.FunctionName, input.Qualifier);
      if (qualifier === '$LATEST') throw invalidParameter('We currently do not support adding policies for $LATEST.');
      const fn = store.findFunction(ctx, name);
      if (!fn) throw notFound(ctx, name);
      const t = target(ctx, fn, qualifier);
      if (input.RevisionId !== undefined && input.RevisionId !== t.revision) throw preconditionFailed();
      const statement = statementOf(functionArn(ctx, fn.name, t.qualifier || undefined), input);
      return store.transaction(() => {
        if (store.statements(fn, t.qualifier).some((s) => s.sid === input.StatementId))
          throw new AwsError(
            'ResourceConflictException',
            `The statement id (${input.StatementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
            409,
            { Type: 'User' },
          );
        store.addStatement(fn, t.qualifier, input.StatementId, statement);
        return { Statement: JSON.stringify(statement) };
      });
    },

    GetPolicy(input, ctx) {
      const name = nameOf(input.FunctionName);
      const fn = store.findFunction(ctx, name);
      if (!fn) throw notFound(ctx, name);
      const t = target(ctx, fn, qualified(input.FunctionName, input.Qualifier));
      const statements = store.statements(fn, t.qualifier);
      if (!statements.length) throw resourceNotFound('The resource you requested does not exist.');
      const policy = { Version: '2012-10-17', Id: 'default', Statement: statements.map((s) => JSON.parse(s.statement)) };
      return { Policy: JSON.stringify(policy), RevisionId: t.revision };
    },

    RemovePermission(input, ctx) {
      const name = nameOf(input.FunctionName);
      const fn = store.findFunction(ctx, name);
      if (!fn) throw resourceNotFound(`No policy found for: ${functionArn(ctx, name)}`);
      const t = target(ctx, fn, qualified(input.FunctionName, input.Qualifier));
      const statements = store.statements(fn, t.qualifier);
      if (!statements.length) throw resourceNotFound('No policy is associated with the given resource.');
      if (!statements.some((s) => s.sid === input.StatementId))
        throw resourceNotFound(`Statement ${input.StatementId} is not found in resource policy.`);
      if (input.RevisionId !== undefined && input.RevisionId !== t.revision) throw preconditionFailed();
      store.removeStatement(fn, t.qualifier, input.StatementId);
    },
  };
}
