import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { containerKeyOf, createArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { CONTAINER_FAMILIES, createContainerMetrics } from '../../../src/metrics/container-metrics.js';
import { createExporterRegistry, registerExporterCollectors } from '../../../src/metrics/registry.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import type { OwnerLookup } from '../../../src/retention/types.js';
import { findBinary } from '../../support/binaries.js';
import { archiveRecord, inventoryStatus } from '../../support/snapshots.js';

const cart = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const web = { namespace: 'web', pod: 'front-7d9f', container: 'nginx' };
const db = { namespace: 'data', pod: 'db-0', container: 'postgres' };
/** Not a valid Kubernetes name, but identities come from untrusted spec.dump: the text must stay well-formed whatever they hold. */
const odd = { namespace: 'q"uote', pod: 'back\\slash', container: 'new\nline' };

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A strict reader of the text format's sample lines, undoing label value escapes. */
function parseExposition(text: string): { samples: Sample[]; families: string[] } {
  const samples: Sample[] = [];
  const families: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.push(type[1]!);
    if (line.startsWith('#')) continue;
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!head) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    let at = head[0].length;
    const labels: Record<string, string> = {};
    if (line[at] === '{') {
      at += 1;
      while (line[at] !== '}') {
        const name = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
        if (!name) throw new Error(`bad label in ${JSON.stringify(line)}`);
        at += name[0].length;
        let value = '';
        for (;;) {
          const c = line[at];
          if (c === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
          at += 1;
          if (c === '"') break;
          if (c !== '\\') {
            value += c;
            continue;
          }
          const escaped = line[at];
          at += 1;
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`bad escape in ${JSON.stringify(line)}`);
        }
        labels[name[1]!] = value;
        if (line[at] === ',') at += 1;
      }
      at += 1;
    }
    if (line[at] !== ' ') throw new Error(`no value in ${JSON.stringify(line)}`);
    samples.push({ name: head[1]!, labels, value: Number(line.slice(at + 1)) });
  }
  return { samples, families };
}

const labelsOf = (id: ArchiveIdentity): Record<string, string> => ({ namespace: id.namespace, pod: id.pod, container: id.container });

function valueOf(text: string, name: string, id: ArchiveIdentity): number | undefined {
  const wanted = JSON.stringify(labelsOf(id));
  return parseExposition(text).samples.find((s) => s.name === name && JSON.stringify(s.labels) === wanted)?.value;
}

/** The per-container families whose values these tests compute from the records. */
const COMPUTED_FAMILIES = [
  'checkpoint_archives',
  'checkpoint_archive_bytes',
  'checkpoint_archive_oldest_timestamp_seconds',
  'checkpoint_archive_newest_timestamp_seconds',
  'checkpoint_archives_pinned',
] as const;

/** The series one container must have, computed from its records. */
function expectedSeries(records: readonly ArchiveRecord[]): Record<string, number | undefined> {
  const stamps = records.map((r) => r.name.timestampMs);
  const pinned = records.filter((r) => r.pinned).length;
  return {
    checkpoint_archives: records.length,
    checkpoint_archive_bytes: records.reduce((sum, r) => sum + r.fingerprint.size, 0),
    checkpoint_archive_oldest_timestamp_seconds: Math.min(...stamps) / 1000,
    checkpoint_archive_newest_timestamp_seconds: Math.max(...stamps) / 1000,
    checkpoint_archives_pinned: pinned === 0 ? undefined : pinned,
  };
}

/** The values of the families expectedSeries describes, for one container. */
function seriesOf(text: string, id: ArchiveIdentity): Record<string, number | undefined> {
  return Object.fromEntries(COMPUTED_FAMILIES.map((name) => [name, valueOf(text, name, id)]));
}

function setUp() {
  const index = createArchiveIndex();
  const records = {
    cart: [
      archiveRecord(cart, { timestamp: '2026-01-01T11:00:00Z', size: 200, pinned: true }),
      archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 100 }),
      archiveRecord(cart, { timestamp: '2026-01-01T12:00:00+05:30', size: 5, pinned: true }),
    ],
    web: [archiveRecord(web, { timestamp: '2026-01-02T00:00:00+05:30', size: 50 })],
    db: [archiveRecord(db, { timestamp: '2026-01-03T00:00:00Z', size: 70 }), archiveRecord(db, { timestamp: '2026-01-04T00:00:00Z', size: 30 })],
  };
  for (const list of Object.values(records)) for (const r of list) index.add(r);
  // An unidentified archive belongs to no container.
  index.add(archiveRecord(undefined, { timestamp: '2026-01-03T00:00:00Z', size: 999 }));
  const metrics = createContainerMetrics(() => index);
  metrics.rebuild();
  return { index, records, metrics };
}

describe('per-container metrics', () => {
  it('renders each container’s families from its archives, leaving pinned out where nothing is pinned', () => {
    const { records, metrics } = setUp();
    const text = metrics.text(undefined);
    expect(seriesOf(text, cart)).toEqual(expectedSeries(records.cart));
    expect(seriesOf(text, web)).toEqual(expectedSeries(records.web));
    expect(seriesOf(text, db)).toEqual(expectedSeries(records.db));
    expect(seriesOf(text, web)['checkpoint_archives_pinned']).toBeUndefined();
    // Exactly these containers, nothing for the unidentified archive.
    const containers = new Set(parseExposition(text).samples.map((s) => JSON.stringify(s.labels)));
    expect([...containers].sort()).toEqual([cart, web, db].map((id) => JSON.stringify(labelsOf(id))).sort());
  });

  it('writes every family once, with its HELP and TYPE, its series together', () => {
    const { metrics } = setUp();
    const orphans: OwnerLookup = (id) => (id.namespace === 'web' ? { state: 'orphan', sinceMs: 0 } : { state: 'alive' });
    const text = metrics.text(orphans);
    const { samples, families } = parseExposition(text);
    expect(families).toEqual([...CONTAINER_FAMILIES.map((f) => f.name), 'checkpoint_archives_orphaned']);
    for (const family of families) {
      expect(text).toContain(`# HELP ${family} `);
      expect(text.split('\n').filter((line) => line === `# TYPE ${family} gauge`)).toHaveLength(1);
    }
    // Series of one family are contiguous, in the order of the headers (a family may have no series at all).
    const order = samples.map((s) => s.name).filter((name, i, all) => i === 0 || all[i - 1] !== name);
    expect(order).toEqual(families.filter((family) => samples.some((s) => s.name === family)));
    expect(order).toEqual(expect.arrayContaining(['checkpoint_archives', 'checkpoint_archives_pinned', 'checkpoint_archives_orphaned']));
  });

  it('exports orphaned only for containers whose owner is known gone, counting their archives', () => {
    const { records, metrics } = setUp();
    const owners: OwnerLookup = (id) =>
      id.namespace === cart.namespace ? { state: 'orphan', sinceMs: 0 } : id.namespace === web.namespace ? { state: 'unknown', reason: 'api down' } : { state: 'alive' };
    const text = metrics.text(owners);
    expect(valueOf(text, 'checkpoint_archives_orphaned', cart)).toBe(records.cart.length);
    expect(valueOf(text, 'checkpoint_archives_orphaned', web)).toBeUndefined();
    expect(valueOf(text, 'checkpoint_archives_orphaned', db)).toBeUndefined();
    // Before any owner lookup there is nothing to say.
    expect(parseExposition(metrics.text(undefined)).samples.filter((s) => s.name === 'checkpoint_archives_orphaned')).toEqual([]);
  });

  it('renders again only the block of a container given to update(); a scrape without changes renders nothing', () => {
    const index = createArchiveIndex();
    const owners = Array.from({ length: 600 }, (_, i) => ({ namespace: `ns-${i % 7}`, pod: `pod-${i}`, container: 'app' }));
    for (const owner of owners) index.add(archiveRecord(owner, { timestamp: '2026-01-01T00:00:00Z', size: 10 }));
    const metrics = createContainerMetrics(() => index);
    metrics.rebuild();
    const first = metrics.text(undefined);
    expect(metrics.renders()).toBe(600);
    expect(metrics.text(undefined)).toBe(first);
    expect(metrics.renders()).toBe(600);

    const changed = owners[0]!;
    index.add(archiveRecord(changed, { timestamp: '2026-01-02T00:00:00Z', size: 5 }));
    metrics.update([containerKeyOf(changed)]);
    const text = metrics.text(undefined);
    expect(valueOf(text, 'checkpoint_archives', changed)).toBe(2);
    expect(valueOf(text, 'checkpoint_archive_bytes', changed)).toBe(15);
    // One block of at most 256 containers rendered again, not all 600.
    expect(metrics.renders() - 600).toBeGreaterThan(0);
    expect(metrics.renders() - 600).toBeLessThanOrEqual(256);
    for (const owner of owners) expect(valueOf(text, 'checkpoint_archives', owner)).toBe(owner === changed ? 2 : 1);
  });

  it('a container not named to update() keeps the text it had; named, it is current', () => {
    const { index, records, metrics } = setUp();
    const before = metrics.text(undefined);
    const removed = records.db[0]!;
    index.remove(removed);
    expect(metrics.text(undefined)).toBe(before);
    metrics.update([containerKeyOf(db)]);
    expect(seriesOf(metrics.text(undefined), db)).toEqual(expectedSeries(records.db.slice(1)));
  });

  it('drops the series of a container whose archives are all gone', () => {
    const { index, records, metrics } = setUp();
    for (const r of records.web) index.remove(r);
    metrics.update([containerKeyOf(web)]);
    const text = metrics.text(undefined);
    for (const family of CONTAINER_FAMILIES) expect(valueOf(text, family.name, web)).toBeUndefined();
    expect(seriesOf(text, cart)).toEqual(expectedSeries(records.cart));
  });

  it('renders every container again after rebuild, and a new container once named', () => {
    const { index, metrics } = setUp();
    metrics.text(undefined);
    const rendered = metrics.renders();
    const fresh = archiveRecord(odd, { timestamp: '2026-02-01T00:00:00Z', size: 3 });
    index.add(fresh);
    expect(valueOf(metrics.text(undefined), 'checkpoint_archives', odd)).toBeUndefined();
    metrics.update([containerKeyOf(odd)]);
    expect(valueOf(metrics.text(undefined), 'checkpoint_archives', odd)).toBe(1);
    metrics.rebuild();
    metrics.text(undefined);
    expect(metrics.renders()).toBeGreaterThanOrEqual(rendered + 4);
  });

  it('escapes label values', () => {
    const index = createArchiveIndex();
    index.add(archiveRecord(odd, { timestamp: '2026-02-01T00:00:00Z', size: 3 }));
    const metrics = createContainerMetrics(() => index);
    metrics.rebuild();
    const text = metrics.text(() => ({ state: 'orphan', sinceMs: 0 }));
    expect(text).toContain('checkpoint_archives{namespace="q\\"uote",pod="back\\\\slash",container="new\\nline"} 1\n');
    // Every line is one sample or one comment (the newline in the name did not split a line), and every
    // sample reads back as exactly the labels written.
    const { samples } = parseExposition(text);
    for (const sample of samples) expect(sample.labels).toEqual(labelsOf(odd));
    expect(samples.map((s) => s.name)).toEqual(expect.arrayContaining([...COMPUTED_FAMILIES.filter((name) => name !== 'checkpoint_archives_pinned'), 'checkpoint_archives_orphaned']));
  });

  it('renders nothing at all when per-container families are off', () => {
    const index = createArchiveIndex();
    index.add(archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 1 }));
    const metrics = createContainerMetrics(() => index, false);
    metrics.rebuild();
    metrics.update([containerKeyOf(cart)]);
    expect(metrics.text(() => ({ state: 'orphan', sinceMs: 0 }))).toBe('');
    expect(metrics.renders()).toBe(0);
  });
});

describe('full scrape', () => {
  const promtool = findBinary('promtool', 'prometheus');

  function exporterText(): Promise<string> {
    const { index } = setUp();
    index.add(archiveRecord(odd, { timestamp: '2026-02-01T00:00:00Z', size: 3 }));
    const { registry } = createExporterRegistry();
    const metrics = registerExporterCollectors(
      registry,
      {
        index: () => index,
        status: () => inventoryStatus(index),
        owners: () => (id) => (id.namespace === web.namespace ? { state: 'orphan', sinceMs: 0 } : { state: 'alive' }),
        lastPlan: () => undefined,
        lastRetentionRunMs: () => 5000,
        policy: () => mergePolicies([]),
        kubernetesApiUp: () => true,
        configStatus: () => ({ lastReloadSuccessful: true, lastSuccessMs: 1000 }),
        diskStats: async () => ({ sizeBytes: 1000, freeBytes: 400, availBytes: 300 }),
        work: () => ({ snapshotBuilds: 0, fullRuns: 1, scopedRuns: 0, archivesPlanned: 0 }),
        dryRun: false,
        version: '9.9.9',
      },
      pino({ level: 'silent' }),
    );
    metrics.containers.rebuild();
    return metrics.scrape();
  }

  it('holds every per-container family once beside the registry’s families', async () => {
    const text = await exporterText();
    const { families } = parseExposition(text);
    expect(new Set(families).size).toBe(families.length);
    for (const family of [...CONTAINER_FAMILIES.map((f) => f.name), 'checkpoint_archives_orphaned', 'checkpoint_unidentified_archives']) expect(families).toContain(family);
    expect(valueOf(text, 'checkpoint_archives_orphaned', web)).toBe(1);
  });

  (promtool ? it : it.skip)('passes promtool check metrics', async () => {
    const output = execFileSync(promtool!, ['check', 'metrics'], { input: await exporterText(), encoding: 'utf8' });
    expect(output).toBe('');
  });
});
