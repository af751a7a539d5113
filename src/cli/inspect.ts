import type { InspectOptions } from './inspect-options.js';
import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pinFileNamesOf, parseArchiveName } from '../archive/archive-name.js';
import { contentBytesOf } from '../archive/contents.js';
import { inspectArchive, type ArchiveInspection } from '../archive/inspect.js';
import { CONTENT_PARTS, type ArchiveContents } from '../archive/types.js';
import { readDiskStats } from '../daemon/disk-stats.js';
import { mergePolicies } from '../retention/merge-policies.js';
import { warnOnStderr } from './unreadable.js';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../defaults.js';
import { planRetention } from '../retention/plan.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { DiskStats } from '../retention/types.js';
import { assertReadableDirectory } from './directory.js';
import { codeOf, RuntimeFailure, UsageError } from '../errors.js';
import { describeErrno } from './errors.js';
import { formatAge, formatBytes, formatShortDuration, formatTable } from './format.js';
import { isStructured, renderData, renderingOf, type OutputFormat } from './output.js';
import { retentionOutlook, type RetentionOutlook } from './retention-outlook.js';
import { scanCheckpointDirectory } from './scan-once.js';

export const INSPECT_HINT = "see 'checkpoint-exporter inspect --help'";

/** Composition, restorability and compression, as `inspect` prints them. */
export function describeContents(contents: ArchiveContents, sizeBytes: number): string[] {
  const lines = [
    contents.compression === undefined
      ? 'compression: none'
      : `compression: ${contents.compression} (${formatBytes(contents.decompressedBytes ?? 0)} decompressed; parts below are decompressed sizes, other is what they leave of the file size)`,
    contents.missing.length === 0 ? 'restorable: yes' : `restorable: NO: ${contents.missing.join(', ')} missing from the archive`,
    'contents:',
  ];
  const rows = CONTENT_PARTS.map((part) => {
    const bytes = contentBytesOf(contents, part);
    const share = sizeBytes > 0 ? `${((bytes / sizeBytes) * 100).toFixed(1)} %` : '';
    return [`  ${part}`, formatBytes(bytes), String(bytes), contents.compression === undefined ? share : ''];
  });
  lines.push(formatTable(['  PART', 'SIZE', 'BYTES', 'OF FILE'], rows));
  return lines;
}

export type { InspectOptions } from './inspect-options.js';

/**
 * The pin: any entry `<archive>.keep` beside the archive, or `<archive>.keep.tmp` (a pin being
 * written), whatever its type, as the inventory and the executor see it. The finished pin is named
 * when both exist.
 */
interface PinState {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
}

async function pinOf(path: string): Promise<PinState | undefined> {
  for (const name of pinFileNamesOf(basename(path))) {
    try {
      const stats = await lstat(join(dirname(path), name));
      const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'symlink' : 'other';
      return { name, type };
    } catch (error) {
      if (codeOf(error) === 'ENOENT') continue;
      throw new RuntimeFailure(`cannot check the pin ${join(dirname(path), name)}: ${describeErrno(error)}`);
    }
  }
  return undefined;
}

/** What `inspect` could read of an archive whose headers cannot be walked: the inventory counts it unidentified for the same reason. */
function unreadableInspection(path: string, sizeBytes: number, name: ArchiveInspection['name'], reason: string): ArchiveInspection {
  return {
    path,
    sizeBytes,
    name,
    identity: { ok: false, reason },
    config: { ok: false, reason },
    entries: [],
    contents: { memoryBytes: 0, checkpointOtherBytes: 0, rootfsDiffBytes: 0, otherBytes: 0, missing: [] },
  };
}

/** Open, stat and read failures of the file itself: the archive is not at fault, the command cannot do its job. */
const isReadFailure = (reason: string): boolean => /^cannot (open|stat|read) /.test(reason);

/**
 * `inspect ARCHIVE`: identity and which sources gave it, config.dump fields, composition,
 * restorability, the entry list with sizes; whether it is pinned, future-dated or unidentified; and
 * what retention would do with it and why, from a plan of its whole directory (nothing is deleted).
 * A missing or unreadable archive or directory is an error (exit 3); a path that is not a checkpoint
 * archive name, or not a regular file, a usage error (exit 1).
 */
export async function runInspect(opts: InspectOptions): Promise<{ ok: boolean; output: string }> {
  const { path } = opts;
  const fileName = basename(path);
  const directory = dirname(path);
  const name = parseArchiveName(fileName);
  // A pod-level archive (KEP-5823) is read as one: its identity is its name, its content the runtime's.
  const pod = await import('./inspect-pod.js');
  if (pod.isPodArchivePath(path, name.ok)) return pod.runPodInspect(opts);
  if (!name.ok) throw new UsageError(`${path}: ${name.reason}`, { hint: INSPECT_HINT });
  await assertReadableDirectory(directory, 'directory');
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    throw new RuntimeFailure(`cannot read archive ${path}: ${describeErrno(error)}`);
  }
  if (stats.isSymbolicLink()) throw new UsageError(`${path} is a symbolic link: the exporter never follows one, give the archive itself`, { hint: INSPECT_HINT });
  if (!stats.isFile()) throw new UsageError(`${path} is not a regular file`, { hint: INSPECT_HINT });

  const read = await inspectArchive(path);
  if (!read.ok && isReadFailure(read.reason)) throw new RuntimeFailure(read.reason);
  const inspection = read.ok ? read.value : unreadableInspection(path, stats.size, name.value, read.reason);

  const nowMs = opts.nowMs ?? Date.now();
  const futureToleranceMs = opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS;
  const pin = await pinOf(path);
  const policy = mergePolicies(opts.documents ?? []);
  // Fields the documents of --config set differently: the setting that deletes less is the one judged by.
  for (const conflict of policy.conflicts ?? []) warnOnStderr(`policy conflict: ${conflict.message}`);
  const snapshot = await scanCheckpointDirectory(directory);
  let disk: DiskStats | undefined;
  try {
    disk = await readDiskStats(directory);
  } catch {
    disk = undefined;
  }
  // Pods are not looked up (that needs the API server: `plan` does it), so no archive is an orphan here.
  const plan = planRetention({
    snapshot,
    policy,
    owners: () => ({ state: 'unknown', reason: 'inspect does not ask the API server' }),
    disk,
    nowMs,
    futureToleranceMs,
  });
  const outlook = retentionOutlook({ snapshot, plan, policy, fileName, nowMs, futureToleranceMs, disk, pin: pin?.name });
  const policyOrigin = opts.policyOrigin ?? 'the defaults (no --config)';

  const rendering = renderingOf(opts);
  if (isStructured(rendering)) {
    const ageSeconds = Math.floor((nowMs - inspection.name.timestampMs) / 1000);
    const data = {
      ...inspection,
      ageSeconds,
      pinned: pin !== undefined,
      pin: pin ?? null,
      futureDated: inspection.name.timestampMs > nowMs + futureToleranceMs,
      retention: { policy: policyOrigin, ...outlook },
    };
    return { ok: true, output: renderData(rendering, data) };
  }
  return { ok: true, output: formatInspection(inspection, { pin, outlook, nowMs, futureToleranceMs, policyOrigin, wide: rendering === 'wide' }) };
}

interface InspectionExtras {
  readonly pin: PinState | undefined;
  readonly outlook: RetentionOutlook;
  readonly nowMs: number;
  readonly futureToleranceMs: number;
  readonly policyOrigin: string;
  readonly wide: boolean;
}

/** The `inspect` text: the archive, its state (pin, time, identity), retention's view of it, then what it holds. */
export function formatInspection(inspection: ArchiveInspection, extras: InspectionExtras): string {
  const { pin, outlook, nowMs, futureToleranceMs } = extras;
  const ahead = inspection.name.timestampMs - nowMs;
  const lines = [
    `archive:    ${inspection.path}`,
    `size:       ${formatBytes(inspection.sizeBytes)} (${inspection.sizeBytes} bytes)`,
    `time:       ${new Date(inspection.name.timestampMs).toISOString()} (written as ${inspection.name.timestampText}), age ${formatAge(inspection.name.timestampMs, nowMs)}`,
    `file name:  pod ${inspection.name.pod}, namespace-container ${inspection.name.namespaceContainer}`,
  ];
  if (inspection.identity.ok) {
    const { identity, sources } = inspection.identity.value;
    lines.push(`identity:   namespace ${identity.namespace}, pod ${identity.pod}, container ${identity.container}`);
    lines.push(`sources:    ${sources.join(', ')}`);
  } else {
    lines.push(`identity:   UNIDENTIFIED: ${inspection.identity.reason}`, '            (never deleted by policy limits, orphan cleanup or disk pressure)');
  }
  lines.push(pin === undefined ? 'pinned:     no' : `pinned:     YES, by ${pin.name} (${pin.type}): no retention rule deletes it`);
  lines.push(
    ahead > futureToleranceMs
      ? `future-dated: YES: its time is ${formatShortDuration(ahead)} ahead of the clock (tolerance ${formatShortDuration(futureToleranceMs)}): neither counted nor deleted until then`
      : 'future-dated: no',
  );
  lines.push(...describeOutlook(outlook, extras.policyOrigin, extras.wide));
  if (inspection.config.ok) {
    const entries = Object.entries(inspection.config.value);
    lines.push('config.dump:');
    if (entries.length === 0) lines.push('  (no fields)');
    for (const [key, value] of entries) lines.push(`  ${key}: ${value}`);
  } else {
    lines.push(`config.dump: ${inspection.config.reason}`);
  }
  if (inspection.entries.length > 0 || inspection.identity.ok) {
    lines.push(...describeContents(inspection.contents, inspection.sizeBytes));
    lines.push('', formatTable(['ENTRY', 'TYPE', 'SIZE'], inspection.entries.map((e) => [e.name, e.type, formatBytes(e.size)])));
  }
  return `${lines.join('\n')}\n`;
}

/** Retention's view of the archive: the deletion that concerns it, or why it stays and what would take it next. */
function describeOutlook(outlook: RetentionOutlook, policyOrigin: string, wide: boolean): string[] {
  const lines = [`retention:  by ${policyOrigin}; cluster policies and pod lookups are left to \`plan\`; nothing is deleted`];
  if (outlook.action === 'delete') lines.push(`  would DELETE it now: ${outlook.why}`);
  else if (outlook.action === 'unknown') lines.push(`  ${outlook.why}`);
  else lines.push(`  keeps it: ${outlook.why}`);
  if (outlook.next !== undefined) lines.push(`  next:      ${outlook.next.limit} limit of ${outlook.next.scope}, ${outlook.next.goes}`);
  if (outlook.limits.length > 0) {
    const header = ['  LIMIT', 'SCOPE', 'VALUE', 'NOW', 'GOES'];
    if (wide) header.push('POLICY');
    const rows = outlook.limits.map((l) => {
      const row = [`  ${l.limit}`, l.scope, l.value, l.now, l.goes];
      if (wide) row.push(l.policySource);
      return row;
    });
    lines.push(formatTable(header, rows));
  }
  for (const u of outlook.unsatisfiable) lines.push(`  unsatisfiable ${u.limit} limit: ${u.detail}`);
  return lines;
}
