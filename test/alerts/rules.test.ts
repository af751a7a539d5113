import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import yaml from 'js-yaml';
import {
  buildAlertRuleGroups,
  DEFAULT_ALERT_THRESHOLDS,
  DEFAULT_RUNBOOK_BASE_URL,
  formatDuration,
  KUBELET_NODEFS_HARD_EVICTION_PERCENT,
  listAlertNames,
  runbookAnchor,
  SCRAPE_JOB,
} from '../../alerts/rules.js';
import { renderObservabilityFiles, RULES_FILE } from '../../scripts/generate-observability.js';
import { findBinary } from '../support/binaries.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const groups = buildAlertRuleGroups();
const rules = groups.flatMap((group) => group.rules);
const alertNames = listAlertNames(groups);
/** The alerts on the filesystem's free space (CheckpointDirectoryUnreadable is about seeing the directory, not its disk). */
const FILESYSTEM_ALERTS = new Set(['CheckpointDirectoryFillingUp', 'CheckpointDirectoryAlmostFull']);
const promtool = findBinary('promtool', 'prometheus');
const withPromtool = promtool === undefined ? describe.skip : describe;

const REQUIRED_ALERTS = [
  'CheckpointDirectoryFillingUp',
  'CheckpointDirectoryAlmostFull',
  'CheckpointRetentionFailing',
  'CheckpointRetentionLimitUnsatisfiable',
  'CheckpointRetentionStalled',
  'CheckpointExporterDown',
  'CheckpointConfigReloadFailed',
  'CheckpointKubernetesAPIUnavailable',
  'CheckpointUnidentifiedArchives',
  'CheckpointPodArchiveIdentityConflicts',
];

/** Back from Prometheus duration text to seconds, for the round-trip property. */
function parseDuration(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === '') throw new Error(`not a duration: ${text}`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

interface PromtoolTestFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

async function readPromtoolTests(): Promise<Array<{ file: string; content: PromtoolTestFile }>> {
  const dir = path.join(root, 'alerts/tests');
  const files = (await readdir(dir)).filter((name) => name.endsWith('.yaml')).sort();
  return Promise.all(
    files.map(async (file) => ({ file: path.join(dir, file), content: yaml.load(await readFile(path.join(dir, file), 'utf8')) as PromtoolTestFile })),
  );
}

describe('alert rule source', () => {
  it('contains every required alert', () => {
    expect(alertNames).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
  });

  it('matches the committed rules file', async () => {
    const committed = await readFile(path.join(root, RULES_FILE), 'utf8');
    expect(committed).toBe(renderObservabilityFiles()[RULES_FILE]);
  });

  it('is deterministic', () => {
    expect(buildAlertRuleGroups({ forScale: 0.5 })).toEqual(buildAlertRuleGroups({ forScale: 0.5 }));
  });

  it.each(rules.map((rule) => [`${rule.alert} (${rule.labels.severity})`, rule] as const))('%s follows the conventions', (_name, rule) => {
    expect(rule.alert).toMatch(/^Checkpoint[A-Z][A-Za-z]*$/);
    expect(['warning', 'critical']).toContain(rule.labels.severity);
    expect(rule.annotations.summary.length).toBeGreaterThan(10);
    expect(rule.annotations.description).toContain('$labels.node');
    expect(rule.annotations.runbook_url).toBe(`${DEFAULT_RUNBOOK_BASE_URL}#${rule.alert.toLowerCase()}`);
    expect(new URL(rule.annotations.runbook_url).protocol).toBe('https:');
    if (/\bup\{/.test(rule.expr)) expect(rule.expr).not.toMatch(/\bup\{(?![^}]*job="checkpoint-exporter")/);
  });

  it.each([
    ['CheckpointRetentionLimitUnsatisfiable', ['$labels.namespace', '$labels.pod', '$labels.container', '$labels.limit']],
    ['CheckpointDirectoryFillingUp', ['$value']],
    ['CheckpointDirectoryAlmostFull', ['$value']],
    ['CheckpointRetentionFailing', ['$labels.operation', '$value']],
    ['CheckpointRetentionStalled', ['$value']],
    ['CheckpointConfigReloadFailed', ['$value']],
    ['CheckpointKubernetesAPIUnavailable', ['$value']],
    ['CheckpointUnidentifiedArchives', ['$value']],
    ['CheckpointPodArchiveIdentityConflicts', ['$value']],
    ['CheckpointExporterDown', ['$labels.instance']],
  ] as const)('%s describes %j', (alert, fragments) => {
    const matching = rules.filter((rule) => rule.alert === alert);
    expect(matching.length).toBeGreaterThan(0);
    for (const rule of matching) for (const fragment of fragments) expect(rule.annotations.description).toContain(fragment);
  });

  it('selects the scrape job on every metric of every rule', () => {
    for (const rule of rules) {
      const uses = [...rule.expr.matchAll(/\b(checkpoint_\w+|up|process_\w+)\b(\{[^}]*\})?/g)];
      expect(uses.length).toBeGreaterThan(0);
      for (const [, name, selector] of uses) expect({ alert: rule.alert, name, selector }).toEqual({ alert: rule.alert, name, selector: '{job="checkpoint-exporter"}' });
    }
  });

  it('selects another job everywhere when told to, and nothing else changes', () => {
    const other = buildAlertRuleGroups({ job: 'checkpoints' }).flatMap((group) => group.rules);
    other.forEach((rule, index) => {
      const original = rules[index];
      expect(rule.expr).not.toContain('job="checkpoint-exporter"');
      expect(rule.expr.replaceAll('job="checkpoints"', 'job="checkpoint-exporter"')).toBe(original?.expr);
    });
    expect(() => buildAlertRuleGroups({ job: 'a"b' })).toThrow(RangeError);
    expect(() => buildAlertRuleGroups({ job: '' })).toThrow(RangeError);
  });

  it('links every runbook under the configured base URL', () => {
    const base = 'https://runbooks.example.com/checkpoint-exporter';
    for (const rule of buildAlertRuleGroups({ runbookBaseUrl: base }).flatMap((group) => group.rules)) {
      expect(rule.annotations.runbook_url).toBe(`${base}#${runbookAnchor(rule.alert)}`);
    }
  });

  it('pages for an almost full filesystem before the kubelet starts evicting pods', () => {
    expect(DEFAULT_ALERT_THRESHOLDS.almostFullCriticalPercent).toBeGreaterThan(KUBELET_NODEFS_HARD_EVICTION_PERCENT);
    expect(DEFAULT_ALERT_THRESHOLDS.almostFullWarningPercent).toBeGreaterThan(DEFAULT_ALERT_THRESHOLDS.almostFullCriticalPercent);
    const almostFull = rules.filter((rule) => rule.alert === 'CheckpointDirectoryAlmostFull');
    expect(almostFull.map((rule) => [rule.labels.severity, /\* 100 < (\d+)/.exec(rule.expr)?.[1]])).toEqual([
      ['warning', String(DEFAULT_ALERT_THRESHOLDS.almostFullWarningPercent)],
      ['critical', String(DEFAULT_ALERT_THRESHOLDS.almostFullCriticalPercent)],
    ]);
  });

  it('fires the filesystem alerts only where archives hold a real share of the disk, and says so', () => {
    for (const rule of rules.filter((candidate) => FILESYSTEM_ALERTS.has(candidate.alert))) {
      // Node-level totals: the guard holds with --no-container-metrics too.
      expect(rule.expr).toContain('checkpoint_identified_archive_bytes{job="checkpoint-exporter"} + checkpoint_unidentified_archive_bytes{job="checkpoint-exporter"}');
      expect(rule.expr).toContain(`>= checkpoint_filesystem_size_bytes{job="checkpoint-exporter"} * ${DEFAULT_ALERT_THRESHOLDS.minArchiveSharePercent} / 100`);
      // Pod-level archives count too, as 0 where an exporter watches no pod checkpoint directory.
      expect(rule.expr).toContain('+ (checkpoint_pod_archives_total_bytes{job="checkpoint-exporter"} or checkpoint_identified_archive_bytes{job="checkpoint-exporter"} * 0)');
      expect(rule.annotations.description).toContain(`Checkpoint archives (pod-level ones included) take at least ${DEFAULT_ALERT_THRESHOLDS.minArchiveSharePercent}% of this filesystem`);
      expect(rule.annotations.description).toContain('node-exporter');
    }
  });

  it('takes every threshold from the options', () => {
    const thresholds = { fillingUpWarningPercent: 35, fillingUpCriticalPercent: 15, almostFullWarningPercent: 30, almostFullCriticalPercent: 22, minArchiveSharePercent: 25 };
    const custom = buildAlertRuleGroups({ thresholds }).flatMap((group) => group.rules);
    const below = (alert: string, severity: string): string | undefined =>
      /\* 100 < (\d+)/.exec(custom.find((rule) => rule.alert === alert && rule.labels.severity === severity)?.expr ?? '')?.[1];
    expect(below('CheckpointDirectoryFillingUp', 'warning')).toBe('35');
    expect(below('CheckpointDirectoryFillingUp', 'critical')).toBe('15');
    expect(below('CheckpointDirectoryAlmostFull', 'warning')).toBe('30');
    expect(below('CheckpointDirectoryAlmostFull', 'critical')).toBe('22');
    for (const rule of custom.filter((candidate) => FILESYSTEM_ALERTS.has(candidate.alert))) expect(rule.expr).toContain('* 25 / 100');
    expect(custom.find((rule) => rule.alert === 'CheckpointDirectoryAlmostFull' && rule.labels.severity === 'critical')?.annotations.summary).toBe(
      'The checkpoint filesystem has less than 22% space left.',
    );
  });

  it.each([
    ['a percentage of 0', { almostFullCriticalPercent: 0 }],
    ['a percentage of 100', { fillingUpWarningPercent: 100 }],
    ['not a number', { minArchiveSharePercent: Number.NaN }],
    ['a critical mark above the warning mark', { almostFullWarningPercent: 15, almostFullCriticalPercent: 20 }],
    ['a critical prediction mark above the warning mark', { fillingUpWarningPercent: 10, fillingUpCriticalPercent: 20 }],
  ])('rejects %s', (_name, thresholds) => {
    expect(() => buildAlertRuleGroups({ thresholds })).toThrow(RangeError);
  });

  it('selects the scrape job on every use of up', () => {
    const upRules = rules.filter((rule) => /\bup\{/.test(rule.expr));
    expect(upRules.map((rule) => rule.alert)).toContain('CheckpointExporterDown');
    for (const rule of upRules) for (const match of rule.expr.matchAll(/\bup\{([^}]*)\}/g)) expect(match[1]).toContain(`job="${SCRAPE_JOB}"`);
  });

  it.each([
    ['negative', -1],
    ['not a number', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
  ])('rejects a %s forScale', (_name, forScale) => {
    expect(() => buildAlertRuleGroups({ forScale })).toThrow(RangeError);
  });

  it('scales every for: duration and nothing else', () => {
    const base = rules.map((rule) => parseDuration(rule.for));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 4, noNaN: true }), (forScale) => {
        const scaled = buildAlertRuleGroups({ forScale }).flatMap((group) => group.rules);
        scaled.forEach((rule, index) => {
          expect(parseDuration(rule.for)).toBe(Math.round((base[index] ?? Number.NaN) * forScale));
          expect({ ...rule, for: '' }).toEqual({ ...rules[index], for: '' });
        });
      }),
    );
  });

  it('formats durations that read back to the same seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 24 * 3600 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
    );
  });

  it.each([
    ['zero', 0, '0s'],
    ['seconds', 45, '45s'],
    ['mixed', 5400, '1h30m'],
    ['all units', 3725, '1h2m5s'],
  ])('formats %s', (_name, seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('runbooks', () => {
  it('has a section with meaning, impact, diagnosis via the CLI and mitigation for every alert', async () => {
    const markdown = await readFile(path.join(root, 'docs/runbooks.md'), 'utf8');
    const sections = new Map<string, string>();
    for (const section of markdown.split(/^## /m).slice(1)) {
      const [heading = '', ...body] = section.split('\n');
      sections.set(headingAnchor(heading), body.join('\n'));
    }
    for (const alert of alertNames) {
      const body = sections.get(runbookAnchor(alert));
      expect({ alert, found: body !== undefined }).toEqual({ alert, found: true });
      for (const part of ['**Meaning.**', '**Impact.**', '**Diagnosis.**', '**Mitigation.**']) expect(body).toContain(part);
      expect(body).toMatch(/checkpoint-exporter (ls|plan|inspect)/);
    }
  });
});

withPromtool('promtool', () => {
  const binary = promtool ?? 'promtool';

  it('checks the committed rules file clean', async () => {
    const { stdout, stderr } = await run(binary, ['check', 'rules', RULES_FILE], { cwd: root });
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(stderr).toBe('');
  });

  it('passes every unit test in alerts/tests', async () => {
    const files = (await readPromtoolTests()).map((entry) => entry.file);
    expect(files.length).toBeGreaterThan(0);
    const { stdout, stderr } = await run(binary, ['test', 'rules', ...files], { cwd: root });
    expect(`${stdout}${stderr}`).not.toContain('FAILED');
    expect(stdout.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it('fails a unit test whose expected annotation is wrong', async () => {
    // Guards the suite above: if promtool stopped comparing annotations, it would pass anything.
    const original = await readFile(path.join(root, 'alerts/tests/filesystem.yaml'), 'utf8');
    const mutated = original.replace(/has only (\d+)\.00%/, 'has only 99.00%');
    expect(mutated).not.toBe(original);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'promtool-negative-'));
    try {
      await copyFile(path.join(root, RULES_FILE), path.join(dir, path.basename(RULES_FILE)));
      await mkdir(path.join(dir, 'tests'));
      await writeFile(path.join(dir, 'tests/filesystem.yaml'), mutated);
      const failure = await run(binary, ['test', 'rules', path.join(dir, 'tests/filesystem.yaml')]).then(
        () => undefined,
        (error: { code?: number; stdout?: string; stderr?: string }) => error,
      );
      expect(failure?.code).toBe(1);
      expect(`${failure?.stdout ?? ''}${failure?.stderr ?? ''}`).toContain('has only 99.00%');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has a firing and a not-firing unit test for every alert', async () => {
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const { content } of await readPromtoolTests()) {
      for (const group of content.tests) {
        for (const test of group.alert_rule_test ?? []) ((test.exp_alerts ?? []).length > 0 ? firing : quiet).add(test.alertname);
      }
    }
    expect([...alertNames].sort()).toEqual([...firing].sort());
    expect([...alertNames].sort()).toEqual([...quiet].sort());
  });
});
