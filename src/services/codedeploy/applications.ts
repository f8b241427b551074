/** Applications (create, get, batch get, list, rename, delete) and the ARN-based tag operations. */
import { randomUUID } from 'node:crypto';
import { parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Tags } from '../../core/tags.js';
import type { CodedeployHandlers } from './api.generated.js';
import { applicationArn, checkApplicationName, groupArn, invalidNextToken, tagMap, tagRules } from './common.js';
import type { AppRow, CodedeployStore } from './store.js';

const view = (a: AppRow) => ({
  applicationId: a.id,
  applicationName: a.name,
  createTime: new Date(a.created),
  linkedToGitHub: false,
  computePlatform: a.platform,
});

/** The ARN a TagResource-family call names, if it is one of the caller's applications or deployment groups. */
function taggable(store: CodedeployStore, scope: Scope, resourceArn: string): string {
  const p = parseArn(resourceArn);
  if (!p || p.service !== 'codedeploy')
    throw new AwsError('InvalidArnException', `The specified ARN is not in a valid format: ${resourceArn}`);
  if (p.account !== scope.account || p.region !== scope.region)
    throw new AwsError('ResourceValidationException', `The specified resource could not be validated: ${resourceArn}`);
  const [kind, rest] = [p.resource.slice(0, p.resource.indexOf(':')), p.resource.slice(p.resource.indexOf(':') + 1)];
  if (kind === 'application') {
    store.requireApp(scope, rest);
    return resourceArn;
  }
  if (kind === 'deploymentgroup') {
    const [app, group] = [rest.slice(0, rest.indexOf('/')), rest.slice(rest.indexOf('/') + 1)];
    store.requireGroup(store.requireApp(scope, app), group);
    return resourceArn;
  }
  throw new AwsError('ArnNotSupportedException', `The specified ARN is not supported: ${resourceArn}`);
}

export function applicationHandlers(store: CodedeployStore, tags: Tags): CodedeployHandlers {
  return {
    CreateApplication(input, ctx) {
      const name = checkApplicationName(input.applicationName);
      const platform = input.computePlatform ?? 'Server';
      if (!['Server', 'Lambda', 'ECS'].includes(platform))
        throw new AwsError(
          'InvalidComputePlatformException',
          'The computePlatform is invalid. The computePlatform should be Lambda, Server, or ECS.',
        );
      if (store.app(ctx, name))
        throw new AwsError('ApplicationAlreadyExistsException', `The application ${name} already exists with the user or AWS account.`);
      const tagged = tagMap(input.tags);
      const row: AppRow = { id: randomUUID(), account: ctx.account, region: ctx.region, name, platform, created: ctx.clock.now() };
      store.transaction(() => {
        store.insertApp(row);
        if (Object.keys(tagged).length) tags.add(applicationArn(ctx, name), tagged, tagRules);
      });
      return { applicationId: row.id };
    },

    GetApplication(input, ctx) {
      return { application: view(store.requireApp(ctx, checkApplicationName(input.applicationName))) };
    },

    BatchGetApplications(input, ctx) {
      if (input.applicationNames.length > 100)
        throw new AwsError(
          'BatchLimitExceededException',
          'The maximum number of names or IDs allowed for this request (100) was exceeded.',
        );
      return { applicationsInfo: input.applicationNames.map((n) => view(store.requireApp(ctx, checkApplicationName(n)))) };
    },

    ListApplications(input, ctx) {
      const page = pageByOffset(
        store.apps(ctx).map((a) => a.name),
        input.nextToken,
        100,
        invalidNextToken,
      );
      return { applications: page.items, nextToken: page.nextToken };
    },

    UpdateApplication(input, ctx) {
      const app = store.requireApp(ctx, checkApplicationName(input.applicationName));
      const name = checkApplicationName(input.newApplicationName ?? app.name);
      if (name === app.name) return;
      if (store.app(ctx, name))
        throw new AwsError('ApplicationAlreadyExistsException', `The application ${name} already exists with the user or AWS account.`);
      store.transaction(() => {
        for (const g of store.groups(app)) {
          tags.move(groupArn(ctx, app.name, g.deploymentGroupName), groupArn(ctx, name, g.deploymentGroupName));
          store.putGroup(app, { ...g, applicationName: name });
        }
        tags.move(applicationArn(ctx, app.name), applicationArn(ctx, name));
        store.renameApp(app, name);
      });
    },

    DeleteApplication(input, ctx) {
      const app = store.app(ctx, checkApplicationName(input.applicationName));
      if (!app) return;
      store.transaction(() => {
        for (const g of store.groups(app)) tags.delete(groupArn(ctx, app.name, g.deploymentGroupName));
        tags.delete(applicationArn(ctx, app.name));
        store.deleteApp(app);
      });
    },

    TagResource(input, ctx) {
      tags.add(taggable(store, ctx, input.ResourceArn), tagMap(input.Tags), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      tags.remove(taggable(store, ctx, input.ResourceArn), input.TagKeys);
      return {};
    },

    ListTagsForResource(input, ctx) {
      return { Tags: tags.list(taggable(store, ctx, input.ResourceArn)) };
    },
  };
}
