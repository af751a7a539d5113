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
import { interpolate, listLabelVariables, listPanelQueries, listPanels, listRows, listVariables } from './queries.js';

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
const CHAIN = ['node', 'namespace', 'pod', 'container'];
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Values to try the queries with: the shape matters here, not the data. */
const SAMPLE_VALUES = { node: 'node-a', namespace: 'shop', pod: 'web-0', container: 'nginx', __rate_interval: '1m', datasource: 'prometheus' };

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

  it.each(entries)('%s chains label_values variables node → namespace → pod → container', (_fileName, d) => {
    const variables = listLabelVariables(d);
    expect(variables.map((v) => v.name)).toEqual(CHAIN.slice(0, variables.length));
    expect(variables.length).toBeGreaterThanOrEqual(2);
    variables.forEach((variable, index) => {
      for (const earlier of CHAIN.slice(0, index)) expect(variable.match).toContain(`$${earlier}`);
    });
    for (const variable of listVariables(d).filter((v) => v.type === 'query')) {
      expect(variable.refresh).toBe(2);
      expect(variable.datasource).toEqual(DATASOURCE);
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

  it('draws the disk-pressure marks (80 % and 85 %) as threshold lines on the usage panel', () => {
    const usage = listPanels(dashboard('checkpoint-archives-overview.json')).find((p) => p.title === 'Checkpoint filesystem usage');
    expect(usage?.fieldConfig?.defaults.unit).toBe('percentunit');
    expect(usage?.fieldConfig?.defaults.thresholds?.steps.map((s) => s.value)).toEqual([null, 0.8, 0.85]);
    expect(usage?.fieldConfig?.defaults.custom?.['thresholdsStyle']).toEqual({ mode: 'line' });
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
