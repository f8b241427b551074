/**
 * Dashboards: PutDashboard (the body is checked as AWS does: a JSON object with a "widgets" array
 * of {type, x, y, width, height, properties}; errors fail with InvalidParameterInput and AWS's
 * "The dashboard body is invalid, there are N validation errors" listing, warnings come back as
 * DashboardValidationMessages), GetDashboard, ListDashboards, DeleteDashboards. Dashboards are
 * global: scoped by account only, their ARN has no region.
 */
import { arn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { CloudwatchHandlers } from './api.generated.js';
import type { CloudwatchStore } from './store.js';
import { keysetPage, readToken } from '../../core/pagination.js';

const TYPES = ['metric', 'text', 'log', 'alarm', 'explorer', 'custom'];
const NAME = /^[A-Za-z0-9_-]+$/;

interface Message {
  DataPath: string;
  Message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** [errors, warnings] of a dashboard body. */
export function checkDashboardBody(body: string): [Message[], Message[]] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new AwsError('InvalidParameterInput', 'The field DashboardBody must be a valid JSON object', 400);
  }
  if (!isObject(doc)) throw new AwsError('InvalidParameterInput', 'The field DashboardBody must be a valid JSON object', 400);
  const errors: Message[] = [];
  const warnings: Message[] = [];
  const err = (DataPath: string, Message: string) => errors.push({ DataPath, Message });
  if (doc.widgets === undefined) err('', "Should have required property 'widgets'");
  else if (!Array.isArray(doc.widgets)) err('/widgets', 'Should be array');
  else
    doc.widgets.forEach((w: unknown, i: number) => {
      const at = `/widgets/${i}`;
      if (!isObject(w)) return err(at, 'Should be object');
      if (w.type === undefined) err(at, "Should have required property 'type'");
      else if (typeof w.type !== 'string' || !TYPES.includes(w.type))
        err(`${at}/type`, `Should be equal to one of the allowed values: ${TYPES.join(', ')}`);
      for (const [k, min, max] of [
        ['x', 0, 23],
        ['y', 0, Infinity],
        ['width', 1, 24],
        ['height', 1, 1000],
      ] as const) {
        const v = w[k];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !Number.isInteger(v)) err(`${at}/${k}`, 'Should be integer');
        else if (v < min) err(`${at}/${k}`, `Should be >= ${min}`);
        else if (v > max) err(`${at}/${k}`, `Should be <= ${max}`);
      }
      if (w.properties === undefined) {
        if (w.type !== undefined) err(at, "Should have required property 'properties'");
        return;
      }
      if (!isObject(w.properties)) return err(`${at}/properties`, 'Should be object');
      const p = w.properties;
      if (w.type === 'metric') {
        if (p.metrics === undefined && p.query === undefined) err(`${at}/properties`, "Should have required property 'metrics'");
        else if (p.metrics !== undefined && !Array.isArray(p.metrics)) err(`${at}/properties/metrics`, 'Should be array');
        else
          ((p.metrics ?? []) as unknown[]).forEach((m, j) => Array.isArray(m) || err(`${at}/properties/metrics/${j}`, 'Should be array'));
      } else if (w.type === 'text') {
        if (typeof p.markdown !== 'string') err(`${at}/properties`, "Should have required property 'markdown'");
      } else if (w.type === 'alarm') {
        if (!Array.isArray(p.alarms)) err(`${at}/properties`, "Should have required property 'alarms'");
      } else if (w.type === 'log') {
        if (typeof p.query !== 'string') err(`${at}/properties`, "Should have required property 'query'");
      }
      if (
        typeof w.x === 'number' &&
        typeof w.width === 'number' &&
        Number.isInteger(w.x) &&
        Number.isInteger(w.width) &&
        w.x + w.width > 24
      )
        warnings.push({ DataPath: at, Message: 'The widget extends beyond the 24 columns of the dashboard grid' });
    });
  return [errors, warnings];
}

export function dashboardHandlers(store: CloudwatchStore): CloudwatchHandlers {
  const dashboardArn = (account: string, name: string) => arn('cloudwatch', { account, region: '' }, `dashboard/${name}`, true);
  return {
    PutDashboard(input, ctx) {
      if (!NAME.test(input.DashboardName) || input.DashboardName.length > 255)
        throw new AwsError(
          'InvalidParameterInput',
          'The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).',
          400,
        );
      const [errors, warnings] = checkDashboardBody(input.DashboardBody);
      if (errors.length) {
        const list = errors
          .map((e) => `  {\n    "dataPath" : ${JSON.stringify(e.DataPath)},\n    "message" : ${JSON.stringify(e.Message)}\n  }`)
          .join(',\n');
        throw new AwsError(
          'InvalidParameterInput',
          `The dashboard body is invalid, there are ${errors.length} validation errors:\n[\n${list}\n]`,
          400,
        );
      }
      store.q.putDashboard.run(ctx.account, input.DashboardName, input.DashboardBody, ctx.clock.now());
      return { DashboardValidationMessages: warnings };
    },

    GetDashboard(input, ctx) {
      const row = store.requireDashboard(ctx.account, input.DashboardName);
      return { DashboardArn: dashboardArn(ctx.account, row.name), DashboardBody: row.body, DashboardName: row.name };
    },

    ListDashboards(input, ctx) {
      const prefix = input.DashboardNamePrefix ?? '';
      const after = readToken(input.NextToken) ?? '';
      const rows = (store.q.listDashboards.all(ctx.account, prefix) as { name: string; size: number; modified: number }[]).filter(
        (r) => r.name.startsWith(prefix) && r.name > after,
      );
      const page = keysetPage(rows, 1000, (r) => r.name);
      return {
        DashboardEntries: page.items.map((r) => ({
          DashboardName: r.name,
          DashboardArn: dashboardArn(ctx.account, r.name),
          LastModified: new Date(r.modified),
          Size: r.size,
        })),
        NextToken: page.next,
      };
    },

    DeleteDashboards(input, ctx) {
      const missing = input.DashboardNames.filter((n) => !store.q.getDashboard.get(ctx.account, n));
      if (missing.length) throw new AwsError('ResourceNotFound', `Dashboard ${missing.join(', ')} does not exist`, 404);
      store.transaction(() => input.DashboardNames.forEach((n) => store.q.deleteDashboard.run(ctx.account, n)));
      return {};
    },
  };
}
