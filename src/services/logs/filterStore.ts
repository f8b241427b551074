/**
 * The rows behind metric filters, subscription filters and export tasks (tables in store.ts,
 * migration 3). Filters hang off their group's id and go when it is deleted; an export task keeps
 * the group's name, since it outlives the group as AWS's does.
 */
import type { Scope } from '../../core/arn.js';
import type { Store } from '../../core/store.js';

export interface MetricFilterRow {
  group_id: number;
  name: string;
  pattern: string;
  /** JSON of the MetricTransformation list, as PutMetricFilter gave it. */
  transformations: string;
  created: number;
}

export interface SubscriptionFilterRow {
  group_id: number;
  name: string;
  pattern: string;
  destination: string;
  role: string | null;
  distribution: string;
  created: number;
}

export type ExportStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'PENDING_CANCEL';

export interface ExportTaskRow {
  task_id: string;
  account: string;
  region: string;
  name: string | null;
  group_name: string;
  stream_prefix: string | null;
  from_ts: number;
  to_ts: number;
  bucket: string;
  prefix: string;
  status: ExportStatus;
  message: string | null;
  created: number;
  completed: number | null;
}

export type FilterStore = ReturnType<typeof createFilterStore>;

export function createFilterStore(store: Store) {
  const db = store.db;
  const q = {
    metricFilters: db.prepare<[number], MetricFilterRow>('SELECT * FROM logs_metric_filters WHERE group_id = ? ORDER BY name'),
    putMetricFilter: db.prepare(
      `INSERT INTO logs_metric_filters (group_id, name, pattern, transformations, created) VALUES (@group_id, @name, @pattern, @transformations, @created)
       ON CONFLICT (group_id, name) DO UPDATE SET pattern = excluded.pattern, transformations = excluded.transformations`,
    ),
    deleteMetricFilter: db.prepare('DELETE FROM logs_metric_filters WHERE group_id = ? AND name = ?'),
    // every metric filter of a scope with its group's name, for DescribeMetricFilters without a group
    scopeMetricFilters: db.prepare<[string, string], MetricFilterRow & { group_name: string }>(
      `SELECT f.*, g.name AS group_name FROM logs_metric_filters f JOIN logs_groups g ON g.id = f.group_id
       WHERE g.account = ? AND g.region = ? ORDER BY f.name, g.name`,
    ),
    subscriptionFilters: db.prepare<[number], SubscriptionFilterRow>(
      'SELECT * FROM logs_subscription_filters WHERE group_id = ? ORDER BY name',
    ),
    putSubscriptionFilter: db.prepare(
      `INSERT INTO logs_subscription_filters (group_id, name, pattern, destination, role, distribution, created)
       VALUES (@group_id, @name, @pattern, @destination, @role, @distribution, @created)
       ON CONFLICT (group_id, name) DO UPDATE SET pattern = excluded.pattern, destination = excluded.destination,
         role = excluded.role, distribution = excluded.distribution`,
    ),
    deleteSubscriptionFilter: db.prepare('DELETE FROM logs_subscription_filters WHERE group_id = ? AND name = ?'),
    insertTask: db.prepare(
      `INSERT INTO logs_export_tasks (task_id, account, region, name, group_name, stream_prefix, from_ts, to_ts, bucket, prefix, status, message, created, completed)
       VALUES (@task_id, @account, @region, @name, @group_name, @stream_prefix, @from_ts, @to_ts, @bucket, @prefix, @status, @message, @created, @completed)`,
    ),
    task: db.prepare<[string, string, string], ExportTaskRow>(
      'SELECT * FROM logs_export_tasks WHERE account = ? AND region = ? AND task_id = ?',
    ),
    tasks: db.prepare<[string, string], ExportTaskRow>(
      'SELECT * FROM logs_export_tasks WHERE account = ? AND region = ? ORDER BY created DESC, task_id',
    ),
    active: db.prepare<[string], ExportTaskRow>(
      "SELECT * FROM logs_export_tasks WHERE account = ? AND status IN ('PENDING', 'RUNNING', 'PENDING_CANCEL')",
    ),
    unfinished: db.prepare<[], ExportTaskRow>("SELECT * FROM logs_export_tasks WHERE status IN ('PENDING', 'RUNNING', 'PENDING_CANCEL')"),
    setStatus: db.prepare('UPDATE logs_export_tasks SET status = ?, message = ?, completed = ? WHERE task_id = ?'),
  };
  return {
    metricFilters: (groupId: number) => q.metricFilters.all(groupId),
    scopeMetricFilters: (scope: Scope) => q.scopeMetricFilters.all(scope.account, scope.region),
    putMetricFilter: (row: MetricFilterRow) => q.putMetricFilter.run(row),
    /** Whether there was one to delete. */
    deleteMetricFilter: (groupId: number, name: string) => q.deleteMetricFilter.run(groupId, name).changes > 0,

    subscriptionFilters: (groupId: number) => q.subscriptionFilters.all(groupId),
    putSubscriptionFilter: (row: SubscriptionFilterRow) => q.putSubscriptionFilter.run(row),
    deleteSubscriptionFilter: (groupId: number, name: string) => q.deleteSubscriptionFilter.run(groupId, name).changes > 0,

    insertTask: (row: ExportTaskRow) => q.insertTask.run(row),
    task: (scope: Scope, id: string) => q.task.get(scope.account, scope.region, id),
    tasks: (scope: Scope) => q.tasks.all(scope.account, scope.region),
    /** The account's PENDING or RUNNING task, if any: AWS allows one at a time. */
    activeTask: (account: string) => q.active.get(account),
    unfinishedTasks: () => q.unfinished.all(),
    setStatus(row: ExportTaskRow, status: ExportStatus, message: string | null, completed: number | null) {
      q.setStatus.run(status, message, completed, row.task_id);
      Object.assign(row, { status, message, completed });
    },
  };
}
