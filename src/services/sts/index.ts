/**
 * STS: who am I, and temporary credentials that opsbox then accepts (they are written to
 * core/credentials, so strict mode verifies signatures made with them).
 */
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { accessKeyId, iamId, randomString, secretKey } from '../../core/ids.js';
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import { trustAllows, type Principal } from '../../core/trustPolicy.js';
import type { RequestContext } from '../../gateway/context.js';
import type { AssumeRoleInput, StsHandlers } from './api.generated.js';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

function sessionToken() {
  return 'FQoGZXIvYXdzE' + randomString(200, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
}

export function createStsHandlers({ credentials, clock, services, config }: ServiceEnv): StsHandlers {
  /**
   * AssumeRole is allowed when the role exists and its trust policy lets the caller in: an IAM
   * principal, or the service an in-process caller names (CodeBuild assumes its project's role as
   * codebuild.amazonaws.com). In default auth mode a role that was never created in the caller's
   * own account is taken as trusting it, so scripts can name roles without creating them first.
   */
  async function authorizeAssumeRole(input: AssumeRoleInput, ctx: RequestContext, account: string, roleName: string) {
    const denied = () =>
      new AwsError(
        'AccessDenied',
        `User: ${ctx.caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`,
        403,
      );
    let trust: string | undefined;
    try {
      const { Role } = await services.call('iam', 'GetRole', { RoleName: roleName }, { account, region: ctx.region });
      if (Role.Arn === input.RoleArn) trust = decodeURIComponent(Role.AssumeRolePolicyDocument);
    } catch (err) {
      if ((err as AwsError).code !== 'NoSuchEntity') throw err;
    }
    if (trust === undefined) {
      if (config.auth !== 'strict' && account === ctx.caller.account) return;
      throw denied();
    }
    const service = ctx.internal?.servicePrincipal;
    const principal: Principal =
      typeof service === 'string' ? { kind: 'Service', service } : { kind: 'AWS', arn: ctx.caller.arn, account: ctx.caller.account };
    const context = {
      'sts:externalid': input.ExternalId,
      'sts:rolesessionname': input.RoleSessionName,
      'sts:sourceidentity': input.SourceIdentity,
      'aws:principalaccount': principal.kind === 'AWS' ? principal.account : undefined,
      'aws:principalarn': principal.kind === 'AWS' ? principal.arn : undefined,
      'aws:sourceaccount': principal.kind === 'Service' ? ctx.account : undefined,
    };
    if (!trustAllows(trust, { principal, action: 'sts:AssumeRole', context })) throw denied();
  }

  function issue(account: string, arn: string, userId: string, durationSeconds: number) {
    const now = clock.now();
    const rec = {
      accessKeyId: accessKeyId('ASIA'),
      secretAccessKey: secretKey(),
      sessionToken: sessionToken(),
      account,
      arn,
      userId,
      status: 'Active' as const,
      createdAt: now,
      expiresAt: now + durationSeconds * 1000,
      source: 'sts' as const,
    };
    credentials.put(rec);
    return {
      AccessKeyId: rec.accessKeyId,
      SecretAccessKey: rec.secretAccessKey,
      SessionToken: rec.sessionToken,
      Expiration: new Date(rec.expiresAt),
    };
  }

  return {
    GetCallerIdentity(_input, ctx) {
      return { UserId: ctx.caller.userId, Account: ctx.caller.account, Arn: ctx.caller.arn };
    },

    async AssumeRole(input, ctx) {
      const m = ROLE_ARN.exec(input.RoleArn);
      if (!m || !parseArn(input.RoleArn)) throw new AwsError('ValidationError', `${input.RoleArn} is invalid`, 400);
      const [, account, roleName] = m;
      await authorizeAssumeRole(input, ctx, account, roleName);
      const roleId = iamId('AROA');
      const assumedRoleId = `${roleId}:${input.RoleSessionName}`;
      const arn = `arn:aws:sts::${account}:assumed-role/${roleName}/${input.RoleSessionName}`;
      return {
        Credentials: issue(account, arn, assumedRoleId, input.DurationSeconds ?? 3600),
        AssumedRoleUser: { AssumedRoleId: assumedRoleId, Arn: arn },
        PackedPolicySize: input.Policy ? Math.min(100, Math.ceil(input.Policy.length / 20)) : undefined,
        SourceIdentity: input.SourceIdentity,
      };
    },

    GetSessionToken(input, ctx) {
      if (ctx.caller.arn.includes(':assumed-role/'))
        throw new AwsError('AccessDenied', 'Cannot call GetSessionToken with session credentials', 403);
      return { Credentials: issue(ctx.caller.account, ctx.caller.arn, ctx.caller.userId, input.DurationSeconds ?? 43200) };
    },
  };
}

export const sts: ServiceSpec<StsHandlers> = {
  name: 'sts',
  model: 'sts-2011-06-15',
  signingName: 'sts',
  protocols: ['query', 'rpc-v2-cbor'],
  smithyName: 'AWSSecurityTokenServiceV20110615',
  global: true,
  patch: {
    validationErrorCode: 'ValidationError',
    constraints: {
      RoleArn: { min: 20, max: 2048 },
      Policy: { min: 1, max: 2048 },
      SerialNumber: { min: 9, max: 256 },
      ExternalId: { min: 2, max: 1224 },
    },
  },
  create: (env) => ({ handlers: createStsHandlers(env) }),
};
