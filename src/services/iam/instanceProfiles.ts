/** Instance profiles: a container for at most one role, returned with that role's details. */
import type { ServiceEnv } from '../../gateway/service.js';
import { iamId } from '../../core/ids.js';
import type { IamStore } from './store.js';
import type { IamHandlers } from './api.generated.js';
import { alreadyExists, decodeMarker, deleteConflict, entityTags, limitExceeded, noSuchEntity, pageOf, paginate } from './common.js';
import { roleOut } from './roles.js';
import type { ProfileRow } from './store.js';

export function instanceProfileHandlers(env: ServiceEnv, store: IamStore): IamHandlers {
  const tags = entityTags(env.tags, 'InstanceProfile');
  const profileOut = (p: ProfileRow, withTags = true) => ({
    Path: p.path,
    InstanceProfileName: p.name,
    InstanceProfileId: p.profile_id,
    Arn: p.arn,
    CreateDate: new Date(p.created_at),
    Roles: store.profileRoles(p).map((r) => roleOut(r)),
    Tags: withTags ? tags.out(p.arn) : undefined,
  });

  return {
    CreateInstanceProfile(input, ctx) {
      const path = input.Path ?? '/';
      if (store.getProfile(ctx.account, input.InstanceProfileName))
        throw alreadyExists(`Instance Profile ${input.InstanceProfileName} already exists.`);
      const row: ProfileRow = {
        account: ctx.account,
        name: input.InstanceProfileName,
        name_lc: input.InstanceProfileName.toLowerCase(),
        profile_id: iamId('AIPA'),
        path,
        arn: `arn:aws:iam::${ctx.account}:instance-profile${path}${input.InstanceProfileName}`,
        created_at: ctx.clock.now(),
      };
      store.transaction(() => {
        store.insertProfile(row);
        tags.add(row.arn, input.Tags);
      });
      return { InstanceProfile: profileOut(row) };
    },

    GetInstanceProfile(input, ctx) {
      return { InstanceProfile: profileOut(store.requireProfile(ctx.account, input.InstanceProfileName)) };
    },

    ListInstanceProfiles(input, ctx) {
      const max = input.MaxItems ?? 100;
      const rows = store.listProfiles(ctx.account, input.PathPrefix ?? '/', decodeMarker(input.Marker), max + 1);
      const page = pageOf(rows, (p) => p.name_lc, max);
      return { InstanceProfiles: page.items.map((p) => profileOut(p, false)), IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    ListInstanceProfilesForRole(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      const page = paginate(store.profilesOfRole(r), input.Marker, input.MaxItems);
      return { InstanceProfiles: page.items.map((p) => profileOut(p, false)), IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    /** DeleteConflict 409 while it still holds a role. */
    DeleteInstanceProfile(input, ctx) {
      const p = store.requireProfile(ctx.account, input.InstanceProfileName);
      if (store.profileRoles(p).length) throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
      store.transaction(() => {
        store.deleteProfile(ctx.account, p);
        env.tags.delete(p.arn);
      });
    },

    /** LimitExceeded 409 "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1" when it already holds a role. */
    AddRoleToInstanceProfile(input, ctx) {
      const p = store.requireProfile(ctx.account, input.InstanceProfileName);
      const r = store.requireRole(ctx.account, input.RoleName);
      if (store.profileRoles(p).length) throw limitExceeded('Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1');
      store.addProfileRole(p, r);
    },

    RemoveRoleFromInstanceProfile(input, ctx) {
      const p = store.requireProfile(ctx.account, input.InstanceProfileName);
      const r = store.requireRole(ctx.account, input.RoleName);
      if (!store.removeProfileRole(p, r)) throw noSuchEntity(`The role with name ${input.RoleName} cannot be found.`);
    },

    TagInstanceProfile(input, ctx) {
      tags.add(store.requireProfile(ctx.account, input.InstanceProfileName).arn, input.Tags);
    },

    UntagInstanceProfile(input, ctx) {
      tags.remove(store.requireProfile(ctx.account, input.InstanceProfileName).arn, input.TagKeys);
    },

    ListInstanceProfileTags(input, ctx) {
      return tags.page(store.requireProfile(ctx.account, input.InstanceProfileName).arn, input.Marker, input.MaxItems);
    },
  };
}
