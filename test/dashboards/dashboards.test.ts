import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Dashboard } from '@grafana/schema';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { buildDashboards } from '../../dashboards/index.js';
import { renderObservabilityFiles } from '../../scripts/generate-observability.js';
import { findBinary } from '../support/binaries.js';
import { interpolate, listAnnotationQueries, listLabelVariables, listPanelQueries, listPanels, listRows, listVariables } from './queries.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const dashboards = buildDashboards();
const entries = Object.entries(dashboards);
const promtool = findBinary('promtool', 'prometheus');

const EXPECTED_UIDS: Record<string, string> = {
  'checkpoint-archives-overview.json': 'checkpoint-archives-overview',
  'checkpoint-archives-container.json': 'checkpoint-archives-container',
};
const PANEL_TYPES = ['timeseries', 'stat', 'table', 'bargauge'];
const UNITS = ['bytes', 'Bps', 'short', 'ops', 'dateTimeFromNow', 'percentunit', 's'];
/** Each dashboard's variables after the data source, in order: each one's choices follow from those before it. */
const CHAINS: Record<string, readonly string[]> = {
  'checkpoint-archives-overview.json': ['cluster', 'node', 'namespace'],
  // Users know the pod, not the node: node comes last, a filter over the nodes holding the container's archives.
  'checkpoint-archives-container.json': ['cluster', 'namespace', 'pod', 'container', 'node'],
};
/** Variables that take several values and All (sent as `.*`). */
const MULTI: Record<string, readonly string[]> = {
  'checkpoint-archives-overview.json': ['cluster', 'node', 'namespace'],
  'checkpoint-archives-container.json': ['cluster', 'node'],
};
const CLUSTER_MATCHER = 'cluster=~"$cluster"';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Values to try the queries with: the shape matters here, not the data. */
const SAMPLE_VALUES = { cluster: '.*', node: 'node-a', namespace: 'shop', pod: 'web-0', container: 'nginx', __rate_interval: '1m', datasource: 'prometheus' };
/** The overview's tables whose rows open the container dashboard. */
const DRILL_DOWN_TABLES = ['Top containers by bytes', 'Unsatisfiable limits by scope'];
/** Families exported per container, absent with --no-container-metrics. */
const PER_CONTAINER_FAMILY = /\bcheckpoint_(archives|archive_bytes|archive_content_bytes|archive_(oldest|newest)_timestamp_seconds|archives_(pinned|orphaned|unrestorable))\b/;

/** Every series selector in a PromQL expression: `name{...}` and bare `{...}`, with what the braces hold. */
function selectors(expr: string): Array<{ name: string; matchers: string }> {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}/g)].map((m) => ({ name: m[1] ?? '', matchers: m[2] ?? '' }));
}

/** Metric names used without a selector: a bare `checkpoint_…` or `up` not followed by `{`. */
function bareMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(checkpoint_[a-z0-9_]+|up)\b(?!\s*\{)(?!\s*\()/g)].map((m) => m[1] ?? '');
}

function dashboard(fileName: string): Dashboard {
  const found = dashboards[fileName];
  if (!found) throw new Error(`no dashboard ${fileName}`);
  return found;
}

const panelCases = entries.flatMap(([fileName, d]) => listPanels(d).map((panel) => [`${fileName}: ${panel.title ?? '?'}`, panel] as const));
const queryCases = entries.flatMap(([fileName, d]) => listPanelQueries(d).map((query) => [`${fileName}: ${query.panel} ${query.refId}`, query] as const));

describe('dashboards', () => {
  it('are exactly the two expected files with stable uids', () => {
    expect(Object.fromEntries(entries.map(([fileName, d]) => [fileName, d.uid]))).toEqual(EXPECTED_UIDS);
  });

  it.each(entries)('%s matches the committed JSON', async (fileName) => {
    const committed = await readFile(path.join(root, 'dashboards', fileName), 'utf8');
    expect(committed).toBe(renderObservabilityFiles()[`dashboards/${fileName}`]);
  });

  it.each(entries)('%s is importable anywhere: datasource variable, no __inputs', (_fileName, d) => {
    const json = JSON.stringify(d);
    expect(json).not.toContain('__inputs');
    expect(json).not.toContain('DS_PROMETHEUS');
    expect(json).not.toMatch(/\$\{DS_/);
    expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(d.uid?.length).toBeLessThanOrEqual(40);
    expect(d.title).toMatch(/^Checkpoint archives \/ /);
    const [first] = listVariables(d);
    expect(first).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
  });

  it.each(entries)('%s chains its label_values variables in the promised order', (fileName, d) => {
    const chain = CHAINS[fileName] ?? [];
    const variables = listLabelVariables(d);
    expect(listVariables(d).map((v) => v.name)).toEqual(['datasource', ...chain]);
    variables.forEach((variable, index) => {
      for (const earlier of chain.slice(0, index)) expect({ variable: variable.name, match: variable.match }).toEqual({ variable: variable.name, match: expect.stringContaining(`$${earlier}`) });
      const multi = (MULTI[fileName] ?? []).includes(variable.name);
      expect({ variable: variable.name, multi: variable.multi, allValue: variable.allValue }).toEqual({ variable: variable.name, multi, allValue: multi ? '.*' : undefined });
    });
    for (const variable of listVariables(d).filter((v) => v.type === 'query')) {
      expect(variable.refresh).toBe(2);
      expect(variable.datasource).toEqual(DATASOURCE);
    }
  });

  it('chains the container dashboard namespace → pod → container, with node a multi-select filter over the nodes holding that container', () => {
    const byName = Object.fromEntries(listLabelVariables(dashboard('checkpoint-archives-container.json')).map((v) => [v.name, v]));
    expect(byName['namespace']?.match).toBe('checkpoint_archives{cluster=~"$cluster"}');
    expect(byName['pod']?.match).toBe('checkpoint_archives{cluster=~"$cluster", namespace="$namespace"}');
    expect(byName['container']?.match).toBe('checkpoint_archives{cluster=~"$cluster", namespace="$namespace", pod="$pod"}');
    expect(byName['node']?.match).toBe('checkpoint_archives{cluster=~"$cluster", namespace="$namespace", pod="$pod", container="$container"}');
    expect(byName['node']).toMatchObject({ multi: true, allValue: '.*', hide: 0 });
    for (const query of listPanelQueries(dashboard('checkpoint-archives-container.json'))) {
      for (const selector of selectors(query.expr)) expect({ query: query.expr, node: selector.matchers }).toEqual({ query: query.expr, node: expect.stringContaining('node=~"$node"') });
    }
  });

  it.each(entries)('%s has a cluster variable, first after the data source, hidden by default and shown for several clusters', (fileName, d) => {
    const [, cluster] = listVariables(d);
    expect(cluster).toMatchObject({ name: 'cluster', type: 'query', query: 'label_values(checkpoint_exporter_build_info, cluster)', includeAll: true, multi: true, allValue: '.*', hide: 2 });
    const multiCluster = buildDashboards({ multiCluster: true })[fileName];
    expect(multiCluster === undefined ? undefined : listVariables(multiCluster).find((v) => v.name === 'cluster')?.hide).toBe(0);
    // The only hidden variable: the rendered JSON can be switched to several clusters by one replacement.
    expect(listVariables(d).filter((v) => v.hide === 2).map((v) => v.name)).toEqual(['cluster']);
    expect(renderObservabilityFiles()[`dashboards/${fileName}`]?.match(/"hide": 2\b/g)).toHaveLength(1);
  });

  it('matches series without a cluster label when the cluster is All (.*), as Prometheus anchors the regular expression', () => {
    expect(new RegExp(`^(?:${SAMPLE_VALUES.cluster})$`).test('')).toBe(true);
  });

  it.each(entries)('%s filters every selector of every query, variable and annotation by cluster', (_fileName, d) => {
    const exprs = [
      ...listPanelQueries(d).map((q) => q.expr),
      ...listAnnotationQueries(d).map((a) => a.expr),
      ...listLabelVariables(d)
        .filter((v) => v.name !== 'cluster')
        .map((v) => v.match),
    ];
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      expect({ expr, bare: bareMetrics(expr) }).toEqual({ expr, bare: [] });
      for (const selector of selectors(expr)) expect({ expr, selector: selector.matchers }).toEqual({ expr, selector: expect.stringContaining(CLUSTER_MATCHER) });
    }
  });

  it.each(entries)('%s has unique panel ids and non-overlapping panels inside the grid', (_fileName, d) => {
    const all = [...listRows(d), ...listPanels(d)];
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const panel of all) {
      const pos = panel.gridPos;
      expect(pos).toBeDefined();
      if (!pos) continue;
      expect(pos.x + pos.w).toBeLessThanOrEqual(24);
      for (let x = pos.x; x < pos.x + pos.w; x += 1) {
        for (let y = pos.y; y < pos.y + pos.h; y += 1) {
          const cell = `${x},${y}`;
          expect({ panel: panel.title, cell, free: !cells.has(cell) }).toEqual({ panel: panel.title, cell, free: true });
          cells.add(cell);
        }
      }
    }
  });

  it.each(panelCases)('%s: allowed type, description, unit, dashboard datasource', (_name, panel) => {
    expect(PANEL_TYPES).toContain(panel.type);
    expect(panel.description?.length ?? 0).toBeGreaterThan(10);
    expect(UNITS).toContain(panel.fieldConfig?.defaults.unit);
    for (const override of panel.fieldConfig?.overrides ?? []) {
      for (const property of override.properties.filter((p) => p.id === 'unit')) expect(UNITS).toContain(property.value);
    }
    expect(panel.datasource).toEqual(DATASOURCE);
    expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
    for (const target of panel.targets ?? []) expect(target['datasource']).toEqual(DATASOURCE);
    const refIds = (panel.targets ?? []).map((t) => t['refId']);
    expect(new Set(refIds).size).toBe(refIds.length);
    expect((panel.targets ?? []).every((t) => t['instant'] === (panel.type !== 'timeseries'))).toBe(true);
  });

  it.each(queryCases)('%s reads counters only through rate/increase over $__rate_interval', (_name, query) => {
    for (const match of query.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*_total)\b(\{[^}]*\})?(\[[^\]]*\])?/g)) {
      const before = query.expr.slice(0, match.index);
      expect({ counter: match[1], wrapped: /\b(rate|increase)\($/.test(before) }).toEqual({ counter: match[1], wrapped: true });
      expect(match[3]).toBe('[$__rate_interval]');
    }
    if (query.expr.includes('$__rate_interval')) expect(query.expr).toMatch(/\b(rate|increase)\(/);
  });

  it.each([
    [
      'checkpoint-archives-overview.json',
      [
        ['timeseries', 'Archives', 'checkpoint_archives'],
        ['timeseries', 'Archive bytes', 'checkpoint_archive_bytes'],
        ['timeseries', 'Checkpoint filesystem usage', 'checkpoint_filesystem_avail_bytes'],
        ['timeseries', "Checkpoints' share of the disk", 'checkpoint_filesystem_size_bytes'],
        ['table', 'Top containers by bytes', 'topk('],
        ['timeseries', 'Deletions by reason', 'checkpoint_retention_deletions_total'],
        ['timeseries', 'Orphaned, pinned, unidentified and unrecognized', 'checkpoint_archives_orphaned'],
        ['stat', 'Unsatisfiable limits', 'checkpoint_retention_limit_unsatisfiable'],
        ['stat', 'Exporters up', 'up{'],
        ['stat', 'Failed config reloads', 'checkpoint_config_last_reload_successful'],
        ['stat', 'Kubernetes API unavailable', 'checkpoint_kubernetes_api_up'],
        ['stat', 'Oldest retention run', 'checkpoint_retention_last_run_timestamp_seconds'],
        ['timeseries', 'Archive bytes by part', 'sum by (part) (checkpoint_archive_content_bytes'],
        ['bargauge', 'Archive bytes by node and part', 'checkpoint_archive_content_bytes'],
        ['stat', 'Archives that cannot be restored', 'checkpoint_archives_unrestorable'],
      ],
    ],
    [
      'checkpoint-archives-container.json',
      [
        ['timeseries', 'Archives against the count limit', 'checkpoint_retention_limit'],
        ['timeseries', 'Bytes against the size limits', 'checkpoint_retention_limit'],
        ['stat', 'Oldest archive', 'checkpoint_archive_oldest_timestamp_seconds'],
        ['stat', 'Newest archive', 'checkpoint_archive_newest_timestamp_seconds'],
        ['timeseries', 'Deletions in the namespace by reason', 'checkpoint_retention_deletions_total'],
        ['timeseries', 'Archive bytes by part', 'sum by (part) (checkpoint_archive_content_bytes'],
        ['stat', 'Archives that cannot be restored', 'checkpoint_archives_unrestorable'],
        ['table', 'Limits in effect', 'checkpoint_retention_limit_(archives|bytes|age_seconds)'],
        ['table', 'Global limits', 'checkpoint_retention_global_limit_(archives|bytes|age_seconds)'],
      ],
    ],
  ] as const)('%s has the panels it promises', (fileName, expected) => {
    const panels = listPanels(dashboard(fileName));
    for (const [type, title, fragment] of expected) {
      const panel = panels.find((p) => p.title === title);
      expect({ title, type: panel?.type }).toEqual({ title, type });
      expect((panel?.targets ?? []).some((t) => String(t['expr']).includes(fragment))).toBe(true);
    }
  });

  it.each(['checkpoint-archives-overview.json', 'checkpoint-archives-container.json'])('%s stacks the parts of the archives, so their sum is the top line', (fileName) => {
    const panel = listPanels(dashboard(fileName)).find((p) => p.title === 'Archive bytes by part');
    expect(panel?.fieldConfig?.defaults.custom?.['stacking']).toEqual({ mode: 'normal', group: 'A' });
    expect(panel?.targets?.map((t) => t['legendFormat'])).toEqual(['{{part}}']);
  });

  it('draws the disk-pressure marks from the marks metrics as dashed lines on the usage panel, nothing hard-coded', () => {
    const usage = listPanels(dashboard('checkpoint-archives-overview.json')).find((p) => p.title === 'Checkpoint filesystem usage');
    expect(usage?.fieldConfig?.defaults.unit).toBe('percentunit');
    expect(usage?.fieldConfig?.defaults.thresholds?.steps.map((s) => s.value)).toEqual([null]);
    expect(usage?.fieldConfig?.defaults.custom?.['thresholdsStyle']).toEqual({ mode: 'off' });
    const targets = usage?.targets ?? [];
    // The usage itself does not depend on the marks: without a diskPressure policy the panel still draws it.
    expect(String(targets[0]?.['expr'])).not.toMatch(/disk_pressure/);
    for (const mark of ['checkpoint_retention_disk_pressure_high_ratio', 'checkpoint_retention_disk_pressure_low_ratio']) {
      const target = targets.find((t) => String(t['expr']).includes(mark));
      expect({ mark, found: target !== undefined }).toEqual({ mark, found: true });
      const override = usage?.fieldConfig?.overrides.find((o) => o.matcher.id === 'byFrameRefID' && o.matcher.options === target?.['refId']);
      expect(override?.properties).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'custom.lineStyle', value: expect.objectContaining({ fill: 'dash' }) })]));
    }
    expect(JSON.stringify(dashboard('checkpoint-archives-overview.json'))).not.toMatch(/\b0\.85?\b/);
  });

  it("has a panel for the checkpoints' share of the disk from the node-level totals, there with --no-container-metrics", () => {
    const share = listPanels(dashboard('checkpoint-archives-overview.json')).find((p) => p.title === "Checkpoints' share of the disk");
    expect(share?.type).toBe('timeseries');
    expect(share?.fieldConfig?.defaults.unit).toBe('percentunit');
    const exprs = (share?.targets ?? []).map((t) => String(t['expr']));
    expect(exprs).toEqual([
      '(checkpoint_identified_archive_bytes{cluster=~"$cluster", node=~"$node"} + checkpoint_unidentified_archive_bytes{cluster=~"$cluster", node=~"$node"} + (checkpoint_pod_archives_total_bytes{cluster=~"$cluster", node=~"$node"} or checkpoint_identified_archive_bytes{cluster=~"$cluster", node=~"$node"} * 0)) / checkpoint_filesystem_size_bytes{cluster=~"$cluster", node=~"$node"}',
    ]);
    for (const expr of exprs) expect(expr).not.toMatch(PER_CONTAINER_FAMILY);
    expect(share?.targets?.map((t) => t['legendFormat'])).toEqual(['{{node}}']);
  });

  it.each(DRILL_DOWN_TABLES)('links each row of the overview table %s to the container dashboard, carrying every variable and the time range', (title) => {
    const table = listPanels(dashboard('checkpoint-archives-overview.json')).find((p) => p.title === title);
    expect(table?.type).toBe('table');
    const links = (table?.fieldConfig?.defaults.links ?? []) as Array<{ url: string; title: string }>;
    expect(links).toHaveLength(1);
    const url = links[0]?.url ?? '';
    const container = dashboard('checkpoint-archives-container.json');
    expect(url.startsWith(`/d/${container.uid ?? '?'}/`)).toBe(true);
    const params = (url.split('?')[1] ?? '').split('&');
    expect(params).toContain('${__url_time_range}');
    // The data source and cluster of the overview, the container's labels from the row.
    expect(params).toEqual(expect.arrayContaining(['${datasource:queryparam}', '${cluster:queryparam}']));
    const fromRow = params.filter((p) => p.startsWith('var-'));
    expect(fromRow.sort()).toEqual(['container', 'namespace', 'node', 'pod'].map((name) => `var-${name}=\${__data.fields.${name}}`));
    // Every variable of the container dashboard is carried; the row has each column the link reads.
    const carried = params.map((p) => /^var-(\w+)=|^\$\{(\w+):queryparam\}$/.exec(p)).flatMap((m) => (m ? [m[1] ?? m[2]] : []));
    expect(carried.sort()).toEqual(listVariables(container).map((v) => v.name).sort());
    const grouping = /\bby \(([^)]*)\)/.exec(String(table?.targets?.[0]?.['expr']))?.[1]?.split(/,\s*/) ?? [];
    expect(grouping).toEqual(expect.arrayContaining(['cluster', 'node', 'namespace', 'pod', 'container']));
  });

  it.each(entries)('%s marks retention deletions per namespace and reason as annotations, from increases of the counter', (fileName, d) => {
    const [annotation, ...others] = listAnnotationQueries(d);
    expect(others).toEqual([]);
    expect(annotation?.name).toBe('Deletions');
    const expr = annotation?.expr ?? '';
    expect(expr).toMatch(/^sum by \(namespace, reason\) \(/);
    expect(expr).toMatch(/\(increase\(checkpoint_retention_deletions_total\{[^}]*\}\[\$__rate_interval\]\) > 0\)/);
    // A series born with its first deletion has no increase yet: it is marked while it is new.
    expect(expr).toMatch(/\(checkpoint_retention_deletions_total\{([^}]*)\} unless checkpoint_retention_deletions_total\{\1\} offset \$__rate_interval\)/);
    const scope = fileName === 'checkpoint-archives-container.json' ? 'namespace="$namespace"' : 'namespace=~"$namespace"';
    for (const selector of selectors(expr)) expect(selector.matchers).toContain(scope);
    const raw = (d.annotations?.list ?? []).find((a) => a.name === 'Deletions') as unknown as Record<string, unknown>;
    expect(raw).toMatchObject({ enable: true, datasource: DATASOURCE, tagKeys: 'namespace,reason', useValueForTime: false, titleFormat: expect.stringContaining('{{reason}}') });
  });

  it.each([
    ['a bare variable', 'up{node=~"$node"}', 'up{node=~"node-a"}'],
    ['a braced variable', 'up{node=~"${node}"}', 'up{node=~"node-a"}'],
    ['the rate interval', 'rate(x_total[$__rate_interval])', 'rate(x_total[1m])'],
  ])('interpolates %s', (_name, expr, expected) => {
    expect(interpolate(expr, SAMPLE_VALUES)).toBe(expected);
  });

  it('refuses to interpolate an unknown variable', () => {
    expect(() => interpolate('up{x="$unknown"}', SAMPLE_VALUES)).toThrow('$unknown');
  });

  (promtool === undefined ? it.skip : it)('has only queries Prometheus parses, variables substituted', async () => {
    // promtool has no query linter, but it parses every recording rule expression.
    const rules = entries.flatMap(([fileName, d]) => [
      ...listPanelQueries(d).map((query, index) => ({ record: `dashboard:${fileName.replace(/\W/g, '_')}:${index}`, expr: interpolate(query.expr, SAMPLE_VALUES) })),
      ...listLabelVariables(d).map((variable) => ({ record: `variable:${variable.name}`, expr: interpolate(variable.match, SAMPLE_VALUES) })),
      ...listAnnotationQueries(d).map((annotation) => ({ record: `annotation:${annotation.name}`, expr: interpolate(annotation.expr, SAMPLE_VALUES) })),
    ]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-queries-'));
    try {
      const file = path.join(dir, 'queries.yaml');
      await writeFile(file, yaml.dump({ groups: [{ name: 'dashboard-queries', rules }] }));
      const { stdout } = await run(promtool ?? 'promtool', ['check', 'rules', '--lint=none', file]);
      expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
