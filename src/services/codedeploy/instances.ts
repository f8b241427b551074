/**
 * On-premises instances: registered by name with an IAM user or session ARN, tagged, and picked by
 * deployment groups through tag filters. opsbox's agent (engine/server.ts) deploys to each one in
 * a directory of its own under the data dir, the instance's root file system.
 */
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Scope } from '../../core/arn.js';
import type { CodedeployHandlers, TagFilter } from './api.generated.js';
import { instanceArn, invalidNextToken } from './common.js';
import type { InstanceDoc } from './model.js';
import type { CodedeployStore } from './store.js';

const MAX_INSTANCES_PER_CALL = 100;

const view = (i: InstanceDoc) => ({
  instanceName: i.instanceName,
  iamUserArn: i.iamUserArn,
  iamSessionArn: i.iamSessionArn,
  instanceArn: i.instanceArn,
  registerTime: new Date(i.registerTime),
  deregisterTime: i.deregisterTime === undefined ? undefined : new Date(i.deregisterTime),
  tags: i.tags,
});

/** AWS's tag filter semantics: KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE. */
export function tagFilterMatches(f: TagFilter, tags: readonly { Key: string; Value: string }[]): boolean {
  const type = f.Type ?? 'KEY_AND_VALUE';
  return tags.some((t) => (type === 'VALUE_ONLY' || t.Key === f.Key) && (type === 'KEY_ONLY' || t.Value === f.Value));
}

/** The registered instances a group's tag filters (any of them) or tag set (every group of the set) select. */
export function selectInstances(store: CodedeployStore, scope: Scope, filters?: TagFilter[], set?: TagFilter[][]): InstanceDoc[] {
  return store
    .instances(scope)
    .filter((i) => i.deregisterTime === undefined)
    .filter((i) =>
      set?.length
        ? set.every((group) => group.some((f) => tagFilterMatches(f, i.tags)))
        : (filters ?? []).some((f) => tagFilterMatches(f, i.tags)),
    );
}

function checkName(name: string | undefined): string {
  if (!name) throw new AwsError('InstanceNameRequiredException', 'Instance name is required');
  if (name.length > 100 || !/^[\w.@-]+$/.test(name))
    throw new AwsError('InvalidInstanceNameException', 'The on-premises instance name was specified in an invalid format.');
  return name;
}

export function instanceHandlers(store: CodedeployStore): CodedeployHandlers {
  const registered = (scope: Scope, name: string) => {
    const i = store.instance(scope, checkName(name));
    if (!i || i.deregisterTime !== undefined)
      throw new AwsError('InstanceNotRegisteredException', `The on-premises instance ${name} is not registered.`);
    return i;
  };
  const checkCount = (names: string[]) => {
    if (names.length > MAX_INSTANCES_PER_CALL)
      throw new AwsError(
        'InstanceLimitExceededException',
        'The maximum number of allowed on-premises instances in a single call was exceeded.',
      );
  };
  return {
    RegisterOnPremisesInstance(input, ctx) {
      const name = checkName(input.instanceName);
      if (input.iamUserArn && input.iamSessionArn)
        throw new AwsError(
          'MultipleIamArnsProvidedException',
          'Both an user ARN and an IAM session ARN were included in the request. Use only one ARN type.',
        );
      if (!input.iamUserArn && !input.iamSessionArn)
        throw new AwsError('IamArnRequiredException', 'No IAM ARN was included in the request.');
      if (input.iamUserArn && !/^arn:aws:iam::\d{12}:user\/.+/.test(input.iamUserArn))
        throw new AwsError('InvalidIamUserArnException', 'The user ARN was specified in an invalid format.');
      if (input.iamSessionArn && !/^arn:aws:sts::\d{12}:assumed-role\/.+\/.+/.test(input.iamSessionArn))
        throw new AwsError('InvalidIamSessionArnException', 'The IAM session ARN was specified in an invalid format.');
      const existing = store.instance(ctx, name);
      if (existing && existing.deregisterTime === undefined)
        throw new AwsError('InstanceNameAlreadyRegisteredException', `The on-premises instance name ${name} is already registered.`);
      const others = store.instances(ctx).filter((i) => i.deregisterTime === undefined);
      if (input.iamUserArn && others.some((i) => i.iamUserArn === input.iamUserArn))
        throw new AwsError(
          'IamUserArnAlreadyRegisteredException',
          'The specified user ARN is already registered with an on-premises instance.',
        );
      if (input.iamSessionArn && others.some((i) => i.iamSessionArn === input.iamSessionArn))
        throw new AwsError(
          'IamSessionArnAlreadyRegisteredException',
          'The request included an IAM session ARN that has already been used to register a different instance.',
        );
      store.putInstance(ctx, {
        instanceName: name,
        instanceArn: instanceArn(ctx, name),
        iamUserArn: input.iamUserArn,
        iamSessionArn: input.iamSessionArn,
        registerTime: ctx.clock.now(),
        tags: [],
      });
    },

    DeregisterOnPremisesInstance(input, ctx) {
      const i = registered(ctx, input.instanceName);
      store.putInstance(ctx, { ...i, deregisterTime: ctx.clock.now() });
    },

    GetOnPremisesInstance(input, ctx) {
      const i = store.instance(ctx, checkName(input.instanceName));
      if (!i) throw new AwsError('InstanceNotRegisteredException', `The on-premises instance ${input.instanceName} is not registered.`);
      return { instanceInfo: view(i) };
    },

    BatchGetOnPremisesInstances(input, ctx) {
      checkCount(input.instanceNames);
      return { instanceInfos: input.instanceNames.flatMap((n) => ((i) => (i ? [view(i)] : []))(store.instance(ctx, n))) };
    },

    ListOnPremisesInstances(input, ctx) {
      const status = input.registrationStatus;
      if (status !== undefined && status !== 'Registered' && status !== 'Deregistered')
        throw new AwsError('InvalidRegistrationStatusException', 'The registration status was specified in an invalid format.');
      const names = store
        .instances(ctx)
        .filter((i) => status === undefined || (status === 'Registered') === (i.deregisterTime === undefined))
        .filter((i) => !input.tagFilters?.length || input.tagFilters.some((f) => tagFilterMatches(f, i.tags)))
        .map((i) => i.instanceName);
      const page = pageByOffset(names, input.nextToken, 100, invalidNextToken);
      return { instanceNames: page.items, nextToken: page.nextToken };
    },

    AddTagsToOnPremisesInstances(input, ctx) {
      checkCount(input.instanceNames);
      if (!input.tags.length) throw new AwsError('TagRequiredException', 'A tag was not specified.');
      const docs = input.instanceNames.map((n) => registered(ctx, n));
      store.transaction(() => {
        for (const i of docs) {
          const tags = i.tags.filter((t) => !input.tags.some((n) => n.Key === t.Key));
          tags.push(...input.tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })));
          if (tags.length > 10) throw new AwsError('TagLimitExceededException', 'The maximum allowed number of tags was exceeded.');
          store.putInstance(ctx, { ...i, tags });
        }
      });
    },

    RemoveTagsFromOnPremisesInstances(input, ctx) {
      checkCount(input.instanceNames);
      const docs = input.instanceNames.map((n) => registered(ctx, n));
      store.transaction(() => {
        for (const i of docs)
          store.putInstance(ctx, {
            ...i,
            tags: i.tags.filter((t) => !input.tags.some((r) => r.Key === t.Key && (r.Value === undefined || r.Value === t.Value))),
          });
      });
    },
  };
}
