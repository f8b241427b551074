/**
 * IAM against a real opsbox: roles, managed policies and versions, attachments, inline policies,
 * users and access keys (used to sign STS calls), instance profiles, account isolation,
 * pagination, AWS-format validation errors and durability across kill -9.
 */
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteInstanceProfileCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListInstanceProfilesForRoleCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUsersCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  SetDefaultPolicyVersionCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  UpdateRoleDescriptionCommand,
  UpdateUserCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'codebuild.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const policyDoc = (action: string) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

/**
 * Wire codes IAM's model declares: SDK v3 names them after the modeled shape (NoSuchEntity →
 * NoSuchEntityException), which it only does when the wire <Code> is exactly the expected one.
 */
const MODELED = new Set([
  'NoSuchEntity',
  'EntityAlreadyExists',
  'DeleteConflict',
  'LimitExceeded',
  'MalformedPolicyDocument',
  'InvalidInput',
]);

/** Runs `fn`, expecting an AWS error with this wire code, HTTP status and (when given) exact message. */
async function rejects(fn: () => Promise<unknown>, code: string, status: number, message?: string) {
  const name = MODELED.has(code) ? `${code}Exception` : code;
  await assert.rejects(fn, (err: any) => {
    assert.equal(err.name, name, `expected ${code}, got ${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, status);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

describe('IAM', () => {
  let box: RunningOpsbox;
  let iam: IAMClient;
  const iamAs = (accessKeyId: string, secretAccessKey = 'test') => new IAMClient(clientConfig(box.url, { accessKeyId, secretAccessKey }));

  before(async () => {
    box = await startOpsbox();
    iam = iamAs('test');
  });

  after(async () => {
    await box?.dispose();
    rmSync(box.dataDir, { recursive: true, force: true });
  });

  test('CreateRole → GetRole → Update* → tags → DeleteRole: full lifecycle', async () => {
    const name = unique('role');
    const created = await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: '/ci/',
        AssumeRolePolicyDocument: TRUST,
        Description: 'build role',
        MaxSessionDuration: 7200,
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    const role = created.Role!;
    assert.match(role.RoleId!, /^AROA[A-Z0-9]{17}$/);
    assert.equal(role.Arn, `arn:aws:iam::000000000000:role/ci/${name}`);
    assert.ok(role.CreateDate instanceof Date);
    assert.equal(decodeURIComponent(role.AssumeRolePolicyDocument!), TRUST);

    // names are case-insensitive: lookups find it, the stored spelling is returned
    const got = (await iam.send(new GetRoleCommand({ RoleName: name.toUpperCase() }))).Role!;
    assert.equal(got.RoleName, name);
    assert.equal(got.Description, 'build role');
    assert.equal(got.MaxSessionDuration, 7200);
    assert.deepEqual(got.Tags, [{ Key: 'team', Value: 'a' }]);

    await iam.send(new UpdateRoleCommand({ RoleName: name, MaxSessionDuration: 43200 }));
    const described = await iam.send(new UpdateRoleDescriptionCommand({ RoleName: name, Description: 'new words' }));
    assert.equal(described.Role!.Description, 'new words');
    const trust2 = TRUST.replace('codebuild', 'codepipeline');
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: trust2 }));
    const after = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
    assert.equal(after.MaxSessionDuration, 43200);
    assert.equal(after.Description, 'new words');
    assert.equal(decodeURIComponent(after.AssumeRolePolicyDocument!), trust2);

    await iam.send(
      new TagRoleCommand({
        RoleName: name,
        Tags: [
          { Key: 'team', Value: 'b' },
          { Key: 'env', Value: 'dev' },
        ],
      }),
    );
    await iam.send(new UntagRoleCommand({ RoleName: name, TagKeys: ['env'] }));
    const tags = await iam.send(new ListRoleTagsCommand({ RoleName: name }));
    assert.deepEqual(tags.Tags, [{ Key: 'team', Value: 'b' }]);
    assert.equal(tags.IsTruncated, false);

    await iam.send(new DeleteRoleCommand({ RoleName: name }));
    await rejects(
      () => iam.send(new GetRoleCommand({ RoleName: name })),
      'NoSuchEntity',
      404,
      `The role with name ${name} cannot be found.`,
    );

    // a role created again under the same name starts with no tags (DeleteRole took them along)
    const again = (await iam.send(new CreateRoleCommand({ RoleName: name, Path: '/ci/', AssumeRolePolicyDocument: TRUST }))).Role!;
    assert.equal(again.Tags, undefined);
    assert.equal((await iam.send(new GetRoleCommand({ RoleName: name }))).Role!.Tags, undefined);
    assert.deepEqual((await iam.send(new ListRoleTagsCommand({ RoleName: name }))).Tags, []);
    await iam.send(new DeleteRoleCommand({ RoleName: name }));
  });

  test('CreateRole: same name in another case → EntityAlreadyExists 409', async () => {
    const name = unique('Dup');
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }));
    await rejects(
      () => iam.send(new CreateRoleCommand({ RoleName: name.toLowerCase(), AssumeRolePolicyDocument: TRUST })),
      'EntityAlreadyExists',
      409,
      `Role with name ${name.toLowerCase()} already exists.`,
    );
  });

  test('CreateRole: trust policy that is not JSON → MalformedPolicyDocument 400', async () => {
    await rejects(
      () => iam.send(new CreateRoleCommand({ RoleName: unique('bad'), AssumeRolePolicyDocument: '{"Version": ' })),
      'MalformedPolicyDocument',
      400,
      'This policy contains invalid Json',
    );
  });

  test('validation: bad names, paths and ranges → ValidationError 400 in AWS wording', async () => {
    await rejects(
      () => iam.send(new CreateRoleCommand({ RoleName: 'has space', AssumeRolePolicyDocument: TRUST })),
      'ValidationError',
      400,
      "1 validation error detected: Value 'has space' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
    );
    await rejects(
      () => iam.send(new CreateRoleCommand({ RoleName: unique('r'), AssumeRolePolicyDocument: TRUST, MaxSessionDuration: 60 })),
      'ValidationError',
      400,
      "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    );
    const long = 'x'.repeat(65);
    await rejects(
      () => iam.send(new CreateRoleCommand({ RoleName: long, Path: 'nope', AssumeRolePolicyDocument: TRUST })),
      'ValidationError',
      400,
      `2 validation errors detected: Value 'nope' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F); ` +
        `Value '${long}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64`,
    );
  });

  test('policy versions: up to 5, default switching, default cannot be deleted', async () => {
    const name = unique('pol');
    const { Policy } = await iam.send(
      new CreatePolicyCommand({ PolicyName: name, PolicyDocument: policyDoc('s3:GetObject'), Description: 'd' }),
    );
    const arn = Policy!.Arn!;
    assert.equal(arn, `arn:aws:iam::000000000000:policy/${name}`);
    assert.match(Policy!.PolicyId!, /^ANPA/);
    assert.equal(Policy!.DefaultVersionId, 'v1');
    assert.equal(Policy!.AttachmentCount, 0);

    for (const n of [2, 3, 4, 5]) {
      const v = await iam.send(
        new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: policyDoc(`s3:Op${n}`), SetAsDefault: n === 3 }),
      );
      assert.equal(v.PolicyVersion!.VersionId, `v${n}`);
      assert.equal(v.PolicyVersion!.IsDefaultVersion, n === 3);
    }
    await rejects(
      () => iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: policyDoc('s3:Op6') })),
      'LimitExceeded',
      409,
      'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
    );
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.DefaultVersionId, 'v3');

    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v5' }));
    await rejects(
      () => iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v5' })),
      'DeleteConflict',
      409,
      'Cannot delete the default version of a policy.',
    );
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    const v6 = await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: policyDoc('s3:Op6') }));
    assert.equal(v6.PolicyVersion!.VersionId, 'v6', 'version numbers are never reused');

    const listed = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    assert.deepEqual(
      listed.Versions!.map((v) => [v.VersionId, v.IsDefaultVersion]),
      [
        ['v6', false],
        ['v5', true],
        ['v4', false],
        ['v3', false],
        ['v1', false],
      ],
    );
    const v5 = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v5' }));
    assert.equal(decodeURIComponent(v5.PolicyVersion!.Document!), policyDoc('s3:Op5'));
    await rejects(
      () => iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' })),
      'NoSuchEntity',
      404,
      `Policy ${arn} version v2 does not exist or is not attachable.`,
    );

    await rejects(
      () => iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
      'DeleteConflict',
      409,
      "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
    );
    for (const v of ['v6', 'v4', 'v3', 'v1']) await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    await rejects(() => iam.send(new GetPolicyCommand({ PolicyArn: arn })), 'NoSuchEntity', 404, `Policy ${arn} was not found.`);
  });

  test('CreatePolicy: duplicate name → EntityAlreadyExists; bad document → MalformedPolicyDocument', async () => {
    const name = unique('pol');
    await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: policyDoc('s3:*') }));
    await rejects(
      () => iam.send(new CreatePolicyCommand({ PolicyName: name, Path: '/other/', PolicyDocument: policyDoc('s3:*') })),
      'EntityAlreadyExists',
      409,
      `A policy called ${name} already exists. Duplicate names are not allowed.`,
    );
    await rejects(
      () => iam.send(new CreatePolicyCommand({ PolicyName: unique('pol'), PolicyDocument: 'nope' })),
      'MalformedPolicyDocument',
      400,
      'Syntax errors in policy.',
    );
  });

  test('attach/detach: AttachmentCount, ListEntitiesForPolicy and DeleteConflict', async () => {
    const role = unique('role');
    const user = unique('user');
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST }));
    await iam.send(new CreateUserCommand({ UserName: user }));
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: unique('pol'), PolicyDocument: policyDoc('logs:*') }))).Policy!.Arn!;

    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: arn }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: arn })); // idempotent
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: 'arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: user, PolicyArn: arn }));
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.AttachmentCount, 2);

    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }));
    assert.deepEqual(
      new Set(attached.AttachedPolicies!.map((p) => p.PolicyName)),
      new Set([arn.split('/').pop(), 'AdministratorAccess', 'AWSCodeDeployRole']),
    );
    const entities = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn }));
    assert.deepEqual(
      entities.PolicyRoles!.map((r) => r.RoleName),
      [role],
    );
    assert.deepEqual(
      entities.PolicyUsers!.map((u) => u.UserName),
      [user],
    );

    await rejects(
      () => iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: 'arn:aws:iam::aws:policy/NoSuchManagedPolicy' })),
      'NoSuchEntity',
      404,
      'Policy arn:aws:iam::aws:policy/NoSuchManagedPolicy does not exist or is not attachable.',
    );
    await rejects(
      () => iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
      'DeleteConflict',
      409,
      'Cannot delete a policy attached to entities.',
    );
    await rejects(
      () => iam.send(new DeleteRoleCommand({ RoleName: role })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must detach all policies first.',
    );
    await rejects(
      () => iam.send(new DeleteUserCommand({ UserName: user })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must detach all policies first.',
    );

    await iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: arn }));
    await rejects(
      () => iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: arn })),
      'NoSuchEntity',
      404,
      `Policy ${arn} was not found.`,
    );
    await iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    for (const p of ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole'])
      await iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: p }));
    await iam.send(new DeleteRoleCommand({ RoleName: role }));
    await iam.send(new DeleteUserCommand({ UserName: user }));
  });

  test('ListPolicies: Scope AWS lists the managed catalog, Local only the account, OnlyAttached filters', async () => {
    const aws = await iam.send(new ListPoliciesCommand({ Scope: 'AWS', MaxItems: 1000 }));
    const names = aws.Policies!.map((p) => p.PolicyName);
    for (const n of [
      'AdministratorAccess',
      'ReadOnlyAccess',
      'AmazonS3FullAccess',
      'AWSCodeBuildAdminAccess',
      'AWSCodePipeline_FullAccess',
      'AWSCodeDeployRole',
      'CloudWatchLogsFullAccess',
    ])
      assert.ok(names.includes(n), n);
    const name = unique('local');
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: name, Path: '/scoped/', PolicyDocument: policyDoc('s3:*') }))).Policy!
      .Arn!;
    const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local', PathPrefix: '/scoped/' }));
    assert.deepEqual(
      local.Policies!.map((p) => p.Arn),
      [arn],
    );
    const role = unique('role');
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: arn }));
    const attached = await iam.send(new ListPoliciesCommand({ Scope: 'Local', OnlyAttached: true }));
    assert.ok(attached.Policies!.some((p) => p.Arn === arn && p.AttachmentCount === 1));
  });

  test('inline role and user policies: put, get (URL-encoded), list, delete', async () => {
    const role = unique('role');
    const user = unique('user');
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST }));
    await iam.send(new CreateUserCommand({ UserName: user }));
    const doc = policyDoc('codebuild:StartBuild');
    await iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'inline-b', PolicyDocument: doc }));
    await iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'inline-a', PolicyDocument: policyDoc('s3:*') }));
    await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: 'mine', PolicyDocument: doc }));

    const got = await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: 'inline-b' }));
    assert.equal(got.RoleName, role);
    assert.equal(got.PolicyDocument, encodeURIComponent(doc));
    assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames, ['inline-a', 'inline-b']);
    const userGot = await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: 'mine' }));
    assert.equal(decodeURIComponent(userGot.PolicyDocument!), doc);
    assert.deepEqual((await iam.send(new ListUserPoliciesCommand({ UserName: user }))).PolicyNames, ['mine']);

    await rejects(
      () => iam.send(new DeleteRoleCommand({ RoleName: role })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must delete policies first.',
    );
    await rejects(
      () => iam.send(new DeleteUserCommand({ UserName: user })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must delete policies first.',
    );
    await rejects(
      () => iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: 'nope' })),
      'NoSuchEntity',
      404,
      'The role policy with name nope cannot be found.',
    );
    await rejects(
      () => iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'x', PolicyDocument: '[' })),
      'MalformedPolicyDocument',
      400,
    );

    for (const p of ['inline-a', 'inline-b']) await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: p }));
    await iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: 'mine' }));
    await iam.send(new DeleteRoleCommand({ RoleName: role }));
    await iam.send(new DeleteUserCommand({ UserName: user }));
  });

  test('users and access keys: keys sign requests as the user (STS GetCallerIdentity, GetUser)', async () => {
    const user = unique('dev');
    const created = (await iam.send(new CreateUserCommand({ UserName: user, Path: '/team/', Tags: [{ Key: 'k', Value: 'v' }] }))).User!;
    assert.match(created.UserId!, /^AIDA[A-Z0-9]{17}$/);
    assert.equal(created.Arn, `arn:aws:iam::000000000000:user/team/${user}`);

    const k1 = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    assert.match(k1.AccessKeyId!, /^AKIA[A-Z0-9]{16}$/);
    assert.equal(k1.SecretAccessKey!.length, 40);
    assert.equal(k1.Status, 'Active');
    const k2 = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    await rejects(
      () => iam.send(new CreateAccessKeyCommand({ UserName: user })),
      'LimitExceeded',
      409,
      'Cannot exceed quota for AccessKeysPerUser: 2',
    );

    const sts = new STSClient(clientConfig(box.url, { accessKeyId: k1.AccessKeyId!, secretAccessKey: k1.SecretAccessKey! }));
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, created.Arn);
    assert.equal(me.Account, '000000000000');
    assert.equal(me.UserId, created.UserId);
    const self = await iamAs(k1.AccessKeyId!, k1.SecretAccessKey!).send(new GetUserCommand({}));
    assert.equal(self.User!.UserName, user);
    const root = await iam.send(new GetUserCommand({}));
    assert.equal(root.User!.Arn, 'arn:aws:iam::000000000000:root');

    const lastUsed = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: k1.AccessKeyId! }));
    assert.equal(lastUsed.UserName, user);
    assert.equal(lastUsed.AccessKeyLastUsed!.ServiceName, 'N/A');

    await iam.send(new UpdateAccessKeyCommand({ UserName: user, AccessKeyId: k2.AccessKeyId!, Status: 'Inactive' }));
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: user }));
    assert.deepEqual(
      keys.AccessKeyMetadata!.map((k) => [k.AccessKeyId, k.Status]).sort(),
      [
        [k1.AccessKeyId, 'Active'],
        [k2.AccessKeyId, 'Inactive'],
      ].sort(),
    );

    // renaming the user moves its keys along: they now sign as the new ARN
    const renamed = unique('dev2');
    await iam.send(new UpdateUserCommand({ UserName: user, NewUserName: renamed }));
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::000000000000:user/team/${renamed}`);
    assert.deepEqual((await iam.send(new GetUserCommand({ UserName: renamed }))).User!.Tags, [{ Key: 'k', Value: 'v' }]);

    await rejects(
      () => iam.send(new DeleteUserCommand({ UserName: renamed })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must delete access keys first.',
    );
    for (const k of [k1, k2]) await iam.send(new DeleteAccessKeyCommand({ UserName: renamed, AccessKeyId: k.AccessKeyId! }));
    await rejects(
      () => iam.send(new DeleteAccessKeyCommand({ UserName: renamed, AccessKeyId: k1.AccessKeyId! })),
      'NoSuchEntity',
      404,
      `The Access Key with id ${k1.AccessKeyId} cannot be found.`,
    );
    await iam.send(new DeleteUserCommand({ UserName: renamed }));
    await rejects(
      () => iam.send(new GetUserCommand({ UserName: renamed })),
      'NoSuchEntity',
      404,
      `The user with name ${renamed} cannot be found.`,
    );
  });

  test('instance profiles: one role max, DeleteRole conflict while the role is in one', async () => {
    const profile = unique('prof');
    const [r1, r2] = [unique('role'), unique('role')];
    for (const r of [r1, r2]) await iam.send(new CreateRoleCommand({ RoleName: r, AssumeRolePolicyDocument: TRUST }));
    const created = (await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: profile, Path: '/ec2/' }))).InstanceProfile!;
    assert.match(created.InstanceProfileId!, /^AIPA/);
    assert.equal(created.Arn, `arn:aws:iam::000000000000:instance-profile/ec2/${profile}`);
    assert.deepEqual(created.Roles, []);

    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: r1 }));
    await rejects(
      () => iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: r2 })),
      'LimitExceeded',
      409,
      'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1',
    );
    const got = (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile }))).InstanceProfile!;
    assert.deepEqual(
      got.Roles!.map((r) => r.RoleName),
      [r1],
    );
    assert.deepEqual(
      (await iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: r1 }))).InstanceProfiles!.map((p) => p.InstanceProfileName),
      [profile],
    );

    await rejects(
      () => iam.send(new DeleteRoleCommand({ RoleName: r1 })),
      'DeleteConflict',
      409,
      'Cannot delete entity, must remove roles from instance profile first.',
    );
    await rejects(() => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: profile })), 'DeleteConflict', 409);
    await iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: profile, RoleName: r1 }));
    await iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: profile }));
    await iam.send(new DeleteRoleCommand({ RoleName: r1 }));
    await rejects(
      () => iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile })),
      'NoSuchEntity',
      404,
      `Instance Profile ${profile} cannot be found.`,
    );
  });

  test('accounts are isolated: 111111111111 and 222222222222 do not see each other', async () => {
    const a = iamAs('111111111111');
    const b = iamAs('222222222222');
    const name = unique('shared');
    const created = (await a.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }))).Role!;
    assert.equal(created.Arn, `arn:aws:iam::111111111111:role/${name}`);
    await rejects(() => b.send(new GetRoleCommand({ RoleName: name })), 'NoSuchEntity', 404);
    assert.ok(!(await b.send(new ListRolesCommand({}))).Roles!.some((r) => r.RoleName === name));
    // the same name is free in the other account
    const other = (await b.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }))).Role!;
    assert.equal(other.Arn, `arn:aws:iam::222222222222:role/${name}`);
    assert.notEqual(other.RoleId, created.RoleId);
  });

  test('ListRoles/ListUsers: MaxItems pages with IsTruncated and Marker', async () => {
    const path = `/${unique('page')}/`;
    const names = Array.from({ length: 5 }, (_, i) => `${unique('p')}-${i}`);
    for (const n of names) await iam.send(new CreateRoleCommand({ RoleName: n, Path: path, AssumeRolePolicyDocument: TRUST }));
    for (const n of names.slice(0, 3)) await iam.send(new CreateUserCommand({ UserName: n, Path: path }));

    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await iam.send(new ListRolesCommand({ PathPrefix: path, MaxItems: 2, Marker: marker }));
      pages++;
      assert.ok(page.Roles!.length <= 2);
      seen.push(...page.Roles!.map((r) => r.RoleName!));
      assert.equal(page.IsTruncated, page.Marker !== undefined);
      marker = page.Marker;
    } while (marker);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      [...names].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase())),
    );

    const users = await iam.send(new ListUsersCommand({ PathPrefix: path, MaxItems: 2 }));
    assert.equal(users.Users!.length, 2);
    assert.equal(users.IsTruncated, true);
    const rest = await iam.send(new ListUsersCommand({ PathPrefix: path, MaxItems: 2, Marker: users.Marker }));
    assert.equal(rest.Users!.length, 1);
    assert.equal(rest.IsTruncated, false);
  });

  test('aws CLI: create-role, put/get-role-policy (document decoded), errors on stderr', async () => {
    const role = unique('cli');
    const created = await awsCli(box.url, ['iam', 'create-role', '--role-name', role, '--assume-role-policy-document', TRUST]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).Role.AssumeRolePolicyDocument, JSON.parse(TRUST));
    const doc = policyDoc('logs:PutLogEvents');
    const put = await awsCli(box.url, ['iam', 'put-role-policy', '--role-name', role, '--policy-name', 'logs', '--policy-document', doc]);
    assert.equal(put.code, 0, put.stderr);
    const got = await awsCli(box.url, ['iam', 'get-role-policy', '--role-name', role, '--policy-name', 'logs']);
    assert.deepEqual(JSON.parse(got.stdout).PolicyDocument, JSON.parse(doc));
    const attach = await awsCli(box.url, [
      'iam',
      'attach-role-policy',
      '--role-name',
      role,
      '--policy-arn',
      'arn:aws:iam::aws:policy/ReadOnlyAccess',
    ]);
    assert.equal(attach.code, 0, attach.stderr);
    const listed = await awsCli(box.url, ['iam', 'list-attached-role-policies', '--role-name', role]);
    assert.deepEqual(JSON.parse(listed.stdout).AttachedPolicies, [
      { PolicyName: 'ReadOnlyAccess', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    ]);
    const missing = await awsCli(box.url, ['iam', 'get-role', '--role-name', unique('missing')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /\(NoSuchEntity\) when calling the GetRole operation: The role with name .* cannot be found\./);
  });

  // Last: it restarts the shared opsbox in strict auth mode.
  test('durability: roles, policies, attachments and access keys survive kill -9; strict mode accepts the keys', async () => {
    const role = unique('durable');
    const user = unique('durable');
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'k', Value: 'v' }] }));
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: unique('durable'), PolicyDocument: policyDoc('s3:*') }))).Policy!
      .Arn!;
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: policyDoc('s3:Get*'), SetAsDefault: true }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: arn }));
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;

    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir, args: ['--auth', 'strict'] });
    iam = iamAs('test');

    const got = (await iam.send(new GetRoleCommand({ RoleName: role }))).Role!;
    assert.deepEqual(got.Tags, [{ Key: 'k', Value: 'v' }]);
    const policy = (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!;
    assert.equal(policy.DefaultVersionId, 'v2');
    assert.equal(policy.AttachmentCount, 1);
    const sts = new STSClient(clientConfig(box.url, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! }));
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::000000000000:user/${user}`);

    const forged = new STSClient(clientConfig(box.url, { accessKeyId: key.AccessKeyId!, secretAccessKey: 'x'.repeat(40) }));
    await assert.rejects(
      () => forged.send(new GetCallerIdentityCommand({})),
      (err: any) => err.name === 'SignatureDoesNotMatch',
    );
    await iam.send(new UpdateAccessKeyCommand({ UserName: user, AccessKeyId: key.AccessKeyId!, Status: 'Inactive' }));
    await assert.rejects(
      () => sts.send(new GetCallerIdentityCommand({})),
      (err: any) => err.name === 'InvalidClientTokenId',
    );
  });
});
