/**
 * Sampling rules as the SDKs poll them (directly, or through the daemon's proxy in daemon.ts):
 * Create/Update/Delete/GetSamplingRules with the built-in "Default" rule (1 request a second, then
 * 5%), GetSamplingTargets sharing each rule's reservoir between the clients that reported in the
 * last interval (the SDK then samples its quota per second and FixedRate of the rest), and
 * GetSamplingStatisticSummaries adding up what the clients reported.
 */
import type { Scope } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Tags } from '../../core/tags.js';
import type { SamplingRule, XrayHandlers } from './api.generated.js';
import { invalidRequest, tagRules } from './groups.js';
import type { XrayStore } from './store.js';

const MAX_RULES = 25;
/** Seconds between a client's GetSamplingTargets calls, and how long a quota holds. */
const INTERVAL = 10;

interface RuleRow {
  name: string;
  rule: string;
  created: number;
  modified: number;
}

const ruleArn = (scope: Scope, name: string) => `arn:aws:xray:${scope.region}:${scope.account}:sampling-rule/${name}`;

const defaultRule = (scope: Scope): SamplingRule => ({
  RuleName: 'Default',
  RuleARN: ruleArn(scope, 'Default'),
  ResourceARN: '*',
  Priority: 10000,
  FixedRate: 0.05,
  ReservoirSize: 1,
  ServiceName: '*',
  ServiceType: '*',
  Host: '*',
  HTTPMethod: '*',
  URLPath: '*',
  Version: 1,
  Attributes: {},
});

export function samplingHandlers(
  store: XrayStore,
  tags: Tags,
  clock: Clock,
): XrayHandlers & { ruleExists(scope: Scope, arn: string): boolean } {
  const db = store.db;
  const q = {
    get: db.prepare('SELECT * FROM xray_sampling_rules WHERE account = ? AND region = ? AND name = ?'),
    list: db.prepare('SELECT * FROM xray_sampling_rules WHERE account = ? AND region = ? ORDER BY name'),
    count: db.prepare("SELECT COUNT(*) AS n FROM xray_sampling_rules WHERE account = ? AND region = ? AND name != 'Default'"),
    put: db.prepare(
      'INSERT OR REPLACE INTO xray_sampling_rules (account, region, name, rule, created, modified) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    remove: db.prepare('DELETE FROM xray_sampling_rules WHERE account = ? AND region = ? AND name = ?'),
    report: db.prepare(
      'INSERT OR REPLACE INTO xray_sampling_stats (account, region, rule, client, at, requests, sampled, borrowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    clients: db.prepare('SELECT client FROM xray_sampling_stats WHERE account = ? AND region = ? AND rule = ? AND at >= ? ORDER BY client'),
    stats: db.prepare(
      'SELECT rule, MAX(at) AS at, SUM(requests) AS requests, SUM(sampled) AS sampled, SUM(borrowed) AS borrowed FROM xray_sampling_stats WHERE account = ? AND region = ? GROUP BY rule ORDER BY rule',
    ),
  };
  const now = () => clock.now() / 1000;
  const nameOf = (name?: string, arn?: string) => name ?? (arn !== undefined ? arn.slice(arn.lastIndexOf('/') + 1) : undefined);

  function find(scope: Scope, name: string): { rule: SamplingRule; created: number; modified: number } | undefined {
    const row = q.get.get(scope.account, scope.region, name) as RuleRow | undefined;
    if (row) return { rule: JSON.parse(row.rule), created: row.created, modified: row.modified };
    if (name === 'Default') return { rule: defaultRule(scope), created: 0, modified: 0 };
    return undefined;
  }
  const all = (scope: Scope) => {
    const rows = (q.list.all(scope.account, scope.region) as RuleRow[]).map((r) => ({
      rule: JSON.parse(r.rule) as SamplingRule,
      created: r.created,
      modified: r.modified,
    }));
    if (!rows.some((r) => r.rule.RuleName === 'Default')) rows.push(find(scope, 'Default')!);
    return rows.sort((a, b) => a.rule.Priority - b.rule.Priority || a.rule.RuleName!.localeCompare(b.rule.RuleName!));
  };
  const record = (r: { rule: SamplingRule; created: number; modified: number }) => ({
    SamplingRule: r.rule,
    CreatedAt: new Date(r.created * 1000),
    ModifiedAt: new Date(r.modified * 1000),
  });
  const requireRule = (scope: Scope, name?: string, arn?: string) => {
    const n = nameOf(name, arn);
    const r = n !== undefined ? find(scope, n) : undefined;
    if (!r) throw invalidRequest('Sampling rule does not exist');
    return r;
  };

  return {
    ruleExists: (scope, arn) => arn.startsWith(ruleArn(scope, '')) && find(scope, nameOf(undefined, arn)!) !== undefined,

    CreateSamplingRule(input, ctx) {
      const rule = { ...input.SamplingRule, Attributes: input.SamplingRule.Attributes ?? {} };
      const name = rule.RuleName;
      if (!name) throw invalidRequest('RuleName is required');
      if (rule.Version !== 1) throw invalidRequest('Version must be 1');
      if (rule.FixedRate < 0 || rule.FixedRate > 1) throw invalidRequest('FixedRate must be between 0 and 1');
      if (find(ctx, name)) throw invalidRequest('A sampling rule with the same name already exists');
      if ((q.count.get(ctx.account, ctx.region) as { n: number }).n >= MAX_RULES)
        throw new AwsError('RuleLimitExceededException', 'You have reached the maximum number of sampling rules.', 400);
      rule.RuleARN = ruleArn(ctx, name);
      const t = now();
      store.transaction(() => {
        q.put.run(ctx.account, ctx.region, name, JSON.stringify(rule), t, t);
        if (input.Tags?.length) tags.add(rule.RuleARN!, Object.fromEntries(input.Tags.map((x) => [x.Key, x.Value])), tagRules);
      });
      return { SamplingRuleRecord: record({ rule, created: t, modified: t }) };
    },

    UpdateSamplingRule(input, ctx) {
      const u = input.SamplingRuleUpdate;
      const r = requireRule(ctx, u.RuleName, u.RuleARN);
      const { RuleName: _n, RuleARN: _a, ...changes } = u;
      if (changes.FixedRate !== undefined && (changes.FixedRate < 0 || changes.FixedRate > 1))
        throw invalidRequest('FixedRate must be between 0 and 1');
      const rule = { ...r.rule, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) } as SamplingRule;
      const t = now();
      q.put.run(ctx.account, ctx.region, rule.RuleName, JSON.stringify(rule), r.created, t);
      return { SamplingRuleRecord: record({ rule, created: r.created, modified: t }) };
    },

    DeleteSamplingRule(input, ctx) {
      const r = requireRule(ctx, input.RuleName, input.RuleARN);
      if (r.rule.RuleName === 'Default') throw invalidRequest('The Default sampling rule cannot be deleted');
      store.transaction(() => {
        q.remove.run(ctx.account, ctx.region, r.rule.RuleName);
        tags.delete(r.rule.RuleARN!);
      });
      return { SamplingRuleRecord: record(r) };
    },

    GetSamplingRules(input, ctx) {
      const page = pageByOffset(all(ctx), input.NextToken, 100, () => invalidRequest('Invalid NextToken'));
      return { SamplingRuleRecords: page.items.map(record), NextToken: page.nextToken };
    },

    GetSamplingTargets(input, ctx) {
      const t = now();
      const targets = [];
      const unprocessed: { RuleName: string; ErrorCode: string; Message: string }[] = [];
      let last = 0;
      for (const r of all(ctx)) last = Math.max(last, r.modified);
      const known = input.SamplingStatisticsDocuments.filter((d) => {
        if (find(ctx, d.RuleName)) return true;
        unprocessed.push({ RuleName: d.RuleName, ErrorCode: '400', Message: 'Unknown rule' });
        return false;
      });
      // every report first: clients reporting together share the reservoir from this call on
      store.transaction(() => {
        for (const d of known)
          q.report.run(ctx.account, ctx.region, d.RuleName, d.ClientID, t, d.RequestCount, d.SampledCount, d.BorrowCount ?? 0);
      });
      for (const d of known) {
        const r = find(ctx, d.RuleName)!;
        // the reservoir is shared by the clients active in the last two intervals; the remainder goes to the first ones
        const clients = (q.clients.all(ctx.account, ctx.region, d.RuleName, t - 2 * INTERVAL) as { client: string }[]).map((c) => c.client);
        const n = Math.max(clients.length, 1);
        const i = Math.max(clients.indexOf(d.ClientID), 0);
        const quota = Math.floor(r.rule.ReservoirSize / n) + (i < r.rule.ReservoirSize % n ? 1 : 0);
        targets.push({
          RuleName: d.RuleName,
          FixedRate: r.rule.FixedRate,
          ReservoirQuota: quota,
          ReservoirQuotaTTL: new Date((t + INTERVAL) * 1000),
          Interval: INTERVAL,
        });
      }
      return { SamplingTargetDocuments: targets, LastRuleModification: new Date(last * 1000), UnprocessedStatistics: unprocessed };
    },

    GetSamplingStatisticSummaries(_input, ctx) {
      const rows = q.stats.all(ctx.account, ctx.region) as {
        rule: string;
        at: number;
        requests: number;
        sampled: number;
        borrowed: number;
      }[];
      return {
        SamplingStatisticSummaries: rows.map((r) => ({
          RuleName: r.rule,
          Timestamp: new Date(r.at * 1000),
          RequestCount: r.requests,
          SampledCount: r.sampled,
          BorrowCount: r.borrowed,
        })),
      };
    },
  };
}
