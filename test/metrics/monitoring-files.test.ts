// Goal: the monitoring files in deploy/ stay in step with what a node exports. The Grafana
// dashboard parses, every query it runs names only series a live node exports (the list is
// scraped from one), and together its panels cover the contract's series and event-loop lag; the
// Prometheus scrape config scrapes every node of the compose cluster and loads the alert rules;
// the alert rules are the ones the docs promise, over exported series (or Prometheus' own `up`).
// Where promtool is installed, it checks the config and the rules too.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { startCluster } from '../support/cluster.js';
import { contractSeries } from '../support/metrics-contract.js';
import { exportedNames, parseExposition } from '../support/prometheus-text.js';

const root = new URL('../../../', import.meta.url);
const fileOf = (name: string): string => fileURLToPath(new URL(name, root));
const read = (name: string): string => readFileSync(fileOf(name), 'utf8');

/** Words of PromQL that look like metric names but are not. */
const promqlWords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or']);
for (const w of ['unless', 'bool', 'offset', 'inf', 'nan']) promqlWords.add(w);

/** The metric names a PromQL expression selects (not functions, labels, strings, Grafana variables). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = bare[m.index - 1] ?? ' ';
    if (/[0-9.]/.test(before)) continue; // the exponent of a number such as 1e9
    if (
      bare
        .slice(m.index + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue; // a function
    if (!promqlWords.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

function balanced(expr: string): boolean {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '')) {
    if ('([{'.includes(ch)) open.push(ch);
    else if (ch in pairs && open.pop() !== pairs[ch]) return false;
  }
  return open.length === 0;
}

interface Panel {
  readonly type: string;
  readonly title?: string;
  readonly panels?: readonly Panel[];
  readonly targets?: readonly { readonly expr?: string }[];
}

/** Every panel, those inside collapsed rows too. */
function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

let exported: Set<string> | null = null;

/** The names a live node exports (scraped once). */
async function exportedByNode(t: { after: (fn: () => Promise<void>) => void }): Promise<Set<string>> {
  if (exported === null) {
    const c = await startCluster(t, { size: 1 });
    await c.waitForLeader();
    exported = exportedNames(parseExposition(await c.client(c.ids[0]!).metrics()));
  }
  return exported;
}

test('test support: metric names in PromQL', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{instance=~"$instance"}[$__rate_interval]))) > 1e9',
    ),
    ['a_bucket'],
  );
  assert.deepEqual(metricNames('b{x="or"} - on (i) group_left c and d offset 5m'), ['b', 'c', 'd']);
});

test('the Grafana dashboard: valid JSON, every query over exported series, the contract covered', async (t) => {
  const names = await exportedByNode(t);
  const dashboard = JSON.parse(read('deploy/grafana/raftkv.json')) as {
    title: string;
    uid: string;
    panels: Panel[];
    templating: { list: { name: string; definition?: string }[] };
  };
  assert.equal(dashboard.uid, 'raftkv');
  const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 10, `${panels.length} panels`);
  const used = new Set<string>();
  for (const p of panels) {
    assert.ok(p.targets !== undefined && p.targets.length > 0, `panel "${p.title}" queries something`);
    for (const { expr } of p.targets) {
      assert.ok(typeof expr === 'string' && balanced(expr), `panel "${p.title}": ${expr}`);
      const inExpr = metricNames(expr);
      assert.ok(inExpr.length > 0, `panel "${p.title}" names a metric: ${expr}`);
      for (const n of inExpr) {
        assert.ok(names.has(n), `panel "${p.title}" uses ${n}, which a node does not export`);
        used.add(n.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  }
  // Grafana's label_values(METRIC, LABEL) lists a label's values on a metric.
  for (const v of dashboard.templating.list) {
    const metric = /^label_values\((\w+),/.exec(v.definition ?? '')?.[1];
    if (metric !== undefined) assert.ok(names.has(metric), `variable ${v.name} uses ${metric}`);
  }
  for (const n of [...Object.keys(contractSeries), 'nodejs_eventloop_lag_p99_seconds']) {
    assert.ok(used.has(n), `the dashboard shows ${n}`);
  }
});

test('Prometheus: the scrape config covers every compose node; the alert rules use exported series', async (t) => {
  const names = await exportedByNode(t);
  const config = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[];
  };
  const [job] = config.scrape_configs;
  assert.equal(job?.job_name, 'raftkv');
  assert.equal(job.metrics_path, '/metrics');
  const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, unknown> };
  assert.deepEqual(
    job.static_configs.flatMap((s) => s.targets),
    Object.keys(compose.services).map((s) => `${s}:7001`),
  );
  assert.deepEqual(config.rule_files, ['alerts.yml']);

  const rules = (
    parseYaml(read('deploy/prometheus/alerts.yml')) as {
      groups: { rules: { alert: string; expr: string; for?: string; labels: { severity: string } }[] }[];
    }
  ).groups.flatMap((g) => g.rules);
  for (const r of rules) {
    assert.ok(['critical', 'warning'].includes(r.labels.severity), `${r.alert} has a severity`);
    assert.ok(balanced(r.expr), r.alert);
    for (const n of metricNames(r.expr)) {
      assert.ok(names.has(n) || n === 'up', `${r.alert} uses ${n}, which a node does not export`);
    }
  }
  const rule = (name: string) => rules.find((r) => r.alert === name);
  assert.equal(rule('RaftkvNoLeader')?.for, '1m');
  assert.match(rule('RaftkvNoLeader')!.expr, /raftkv_has_leader == 0/);
  assert.match(rule('RaftkvFrequentLeaderChanges')!.expr, /raftkv_leader_changes_seen_total/);
  assert.match(
    rule('RaftkvWalFsyncSlow')!.expr,
    /histogram_quantile\(0\.99,[\s\S]*raftkv_wal_fsync_duration_seconds_bucket/,
  );
  assert.match(rule('RaftkvProposalsFailing')!.expr, /raftkv_proposals_failed_total/);
});

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
test('promtool accepts the scrape config and the alert rules', {
  skip: !promtool && 'promtool is not installed (Debian: apt-get install prometheus)',
}, () => {
  assert.ok(existsSync(fileOf('deploy/prometheus/alerts.yml')));
  for (const args of [
    ['check', 'config', fileOf('deploy/prometheus/prometheus.yml')],
    ['check', 'rules', fileOf('deploy/prometheus/alerts.yml')],
  ]) {
    const r = spawnSync('promtool', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
});
