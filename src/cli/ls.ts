import { summarizeInventory } from '../metrics/container-summary.js';
import { formatBytes, formatTable } from './format.js';
import { scanCheckpointDirectory } from './scan-once.js';
import { describeArchives } from '../server/views.js';

export async function runLs(opts: { directory: string; json: boolean }): Promise<string> {
  const snapshot = await scanCheckpointDirectory(opts.directory);
  if (opts.json) return `${JSON.stringify(describeArchives(snapshot), null, 2)}\n`;
  if (!snapshot.directoryPresent) return `${opts.directory}: directory does not exist\n`;

  const summary = summarizeInventory(snapshot);
  const rows = summary.containers.map((c) => [
    c.namespace,
    c.pod,
    c.container,
    String(c.archives),
    String(c.pinned),
    formatBytes(c.bytes),
    new Date(c.oldestTimestampMs).toISOString(),
    new Date(c.newestTimestampMs).toISOString(),
  ]);
  const lines = [
    formatTable(['NAMESPACE', 'POD', 'CONTAINER', 'ARCHIVES', 'PINNED', 'SIZE', 'OLDEST', 'NEWEST'], rows),
    '',
    `unidentified archives: ${summary.unidentifiedArchives} (${formatBytes(summary.unidentifiedBytes)})`,
  ];
  for (const a of snapshot.archives) {
    if (!a.identity) lines.push(`  ${a.fileName}  ${formatBytes(a.fingerprint.size)}  ${a.unidentifiedReason ?? ''}`);
  }
  lines.push(`unrecognized files: ${summary.unrecognizedFiles} (${formatBytes(summary.unrecognizedBytes)})`);
  for (const f of snapshot.unrecognized) lines.push(`  ${f.fileName}  ${formatBytes(f.size)}`);
  if (snapshot.pendingArchives > 0) lines.push(`archives still being written: ${snapshot.pendingArchives}`);
  return `${lines.join('\n')}\n`;
}
