import { summarizeInventory } from '../metrics/container-summary.js';
import type { ArchiveRecord, InventorySnapshot } from '../inventory/types.js';
import { formatAge, formatBytes, formatTable } from './format.js';
import { scanCheckpointDirectory } from './scan-once.js';
import { describePodArchives, formatPodArchives } from './pod-archives-listing.js';
import { describeArchives } from '../server/views.js';
import { assertReadableDirectory } from './directory.js';
import { RuntimeFailure } from '../errors.js';
import { isStructured, renderData, renderingOf, type OutputFormat } from './output.js';
import { checkReadable, findUnreadable, unreadableFields, warnOnStderr } from './unreadable.js';

/** `-o` formats of `ls`: `wide` adds each container's composition, unrestorable archives and raw times; `json` and `yaml` the archives API view. */
export type LsOutput = OutputFormat;

export interface LsOptions {
  readonly directory: string;
  /** The pod checkpoint directory (KEP-5823): its archives are listed after the containers'; a missing one is left out. */
  readonly podDirectory?: string;
  /** Kept for compatibility: the same as `output: 'json'`. */
  readonly json?: boolean;
  readonly output?: LsOutput;
  readonly nowMs?: number;
  /** Where the one-line warning about archives that could not be read goes (default stderr). */
  readonly warn?: (line: string) => void;
}

/**
 * `ls`: a missing or unreadable directory is an error (exit 3) naming the path, never an empty list;
 * so are archives none of which can be read. Some unreadable among readable ones: the list, and one
 * warning line.
 */
export async function runLs(opts: LsOptions): Promise<string> {
  await assertReadableDirectory(opts.directory);
  const snapshot = await scanCheckpointDirectory(opts.directory);
  if (!snapshot.directoryPresent) throw new RuntimeFailure(`cannot read checkpoint directory ${opts.directory}: no such file or directory`);
  const unreadable = findUnreadable(snapshot);
  checkReadable(unreadable, opts.directory, opts.warn ?? warnOnStderr);
  const rendering = renderingOf(opts);
  const pods = opts.podDirectory === undefined || opts.podDirectory === '' ? undefined : await scanCheckpointDirectory(opts.podDirectory, 'pod');
  const podsPresent = pods?.directoryPresent === true ? pods : undefined;
  if (isStructured(rendering)) {
    return renderData(rendering, { ...(describeArchives(snapshot, { sorted: true }) as object), ...unreadableFields(unreadable), ...(podsPresent ? { podArchives: describePodArchives(podsPresent) } : {}) });
  }
  const nowMs = opts.nowMs ?? Date.now();
  const text = formatLs(snapshot, opts.directory, rendering === 'wide' ? 'wide' : undefined, nowMs);
  return podsPresent ? `${text}\n${formatPodArchives(podsPresent, opts.podDirectory ?? '', nowMs)}` : text;
}

interface Composition {
  memory: number;
  checkpointOther: number;
  rootfsDiff: number;
  other: number;
  /** Archives whose composition is known. */
  known: number;
  unrestorable: number;
  compressed: number;
}

const emptyComposition = (): Composition => ({ memory: 0, checkpointOther: 0, rootfsDiff: 0, other: 0, known: 0, unrestorable: 0, compressed: 0 });

function addRecord(total: Composition, record: ArchiveRecord): void {
  if (record.restorable === false) total.unrestorable += 1;
  if (record.compression !== undefined) total.compressed += 1;
  if (record.memoryBytes === undefined) return;
  total.known += 1;
  total.memory += record.memoryBytes;
  total.checkpointOther += record.checkpointOtherBytes ?? 0;
  total.rootfsDiff += record.rootfsDiffBytes ?? 0;
  total.other += record.otherBytes ?? 0;
}

const containerKey = (namespace: string, pod: string, container: string): string => `${namespace}\u0000${pod}\u0000${container}`;

/** What a composition column shows: a size, or `-` where no archive's composition is known. */
const part = (total: Composition, bytes: number): string => (total.known === 0 ? '-' : formatBytes(bytes));

/**
 * The `ls` table from a snapshot. By default OLDEST and NEWEST are ages (`3h`, `2d`) and the table
 * fits 160 columns; `wide` adds each container's composition and unrestorable archives, and gives
 * OLDEST and NEWEST as the times in the archive names.
 */
export function formatLs(snapshot: InventorySnapshot, directory: string, output?: 'wide', nowMs: number = Date.now()): string {
  if (!snapshot.directoryPresent) return `${directory}: directory does not exist\n`;
  const wide = output === 'wide';
  const summary = summarizeInventory(snapshot);
  const compositions = new Map<string, Composition>();
  const node = emptyComposition();
  if (wide) {
    for (const record of snapshot.archives) {
      addRecord(node, record);
      if (record.identity === undefined) continue;
      const key = containerKey(record.identity.namespace, record.identity.pod, record.identity.container);
      let total = compositions.get(key);
      if (total === undefined) compositions.set(key, (total = emptyComposition()));
      addRecord(total, record);
    }
  }
  const rows = summary.containers.map((c) => {
    const row = [c.namespace, c.pod, c.container, String(c.archives), String(c.pinned), formatBytes(c.bytes)];
    if (wide) {
      const total = compositions.get(containerKey(c.namespace, c.pod, c.container)) ?? emptyComposition();
      row.push(part(total, total.memory), part(total, total.checkpointOther), part(total, total.rootfsDiff), part(total, total.other), String(total.unrestorable));
    }
    if (wide) row.push(new Date(c.oldestTimestampMs).toISOString(), new Date(c.newestTimestampMs).toISOString());
    else row.push(formatAge(c.oldestTimestampMs, nowMs), formatAge(c.newestTimestampMs, nowMs));
    return row;
  });
  const header = ['NAMESPACE', 'POD', 'CONTAINER', 'ARCHIVES', 'PINNED', 'SIZE'];
  if (wide) header.push('MEMORY', 'CHECKPOINT-OTHER', 'ROOTFS-DIFF', 'OTHER', 'UNRESTORABLE');
  header.push('OLDEST', 'NEWEST');
  const lines = [formatTable(header, rows), ''];
  if (wide) {
    lines.push(
      `all archives: memory ${formatBytes(node.memory)}, checkpoint_other ${formatBytes(node.checkpointOther)}, rootfs_diff ${formatBytes(node.rootfsDiff)}, other ${formatBytes(node.other)}; ` +
        `${node.unrestorable} not restorable, ${node.compressed} compressed (their parts are decompressed sizes)`,
    );
    const unrestorable = snapshot.archives.filter((a) => a.identity !== undefined && a.restorable === false);
    lines.push(`identified archives that cannot be restored: ${unrestorable.length}`);
    for (const a of unrestorable) lines.push(`  ${a.fileName}  ${(a.missingEntries ?? []).join(', ')} missing`);
  }
  lines.push(`unidentified archives: ${summary.unidentifiedArchives} (${formatBytes(summary.unidentifiedBytes)})`);
  for (const a of snapshot.archives) {
    if (a.identity) continue;
    const notes = wide ? [a.compression, a.restorable === false ? `not restorable: ${(a.missingEntries ?? []).join(', ')} missing` : undefined].filter((n) => n !== undefined) : [];
    if (wide) {
      lines.push(`  ${a.fileName}  ${formatBytes(a.fingerprint.size)}  ${new Date(a.name.timestampMs).toISOString()}  ${a.unidentifiedReason ?? ''}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`);
    } else {
      // The reason on a line of its own keeps the default output within 160 columns.
      lines.push(`  ${a.fileName}  ${formatBytes(a.fingerprint.size)}  ${formatAge(a.name.timestampMs, nowMs)}`, `    ${a.unidentifiedReason ?? ''}`);
    }
  }
  lines.push(`unrecognized files: ${summary.unrecognizedFiles} (${formatBytes(summary.unrecognizedBytes)})`);
  for (const f of snapshot.unrecognized) lines.push(`  ${f.fileName}  ${formatBytes(f.size)}`);
  if (snapshot.pendingArchives > 0) lines.push(`archives still being written: ${snapshot.pendingArchives}`);
  return `${lines.join('\n')}\n`;
}
