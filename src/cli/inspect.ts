import { contentBytesOf } from '../archive/contents.js';
import { inspectArchive } from '../archive/inspect.js';
import { CONTENT_PARTS, type ArchiveContents } from '../archive/types.js';
import { formatBytes, formatTable } from './format.js';

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

/** `inspect ARCHIVE`: identity and which sources gave it, config.dump fields, composition, restorability, the entry list with sizes. */
export async function runInspect(opts: { path: string; json: boolean }): Promise<{ ok: boolean; output: string }> {
  const result = await inspectArchive(opts.path);
  if (!result.ok) return { ok: false, output: `${opts.path}: ${result.reason}\n` };
  const inspection = result.value;
  if (opts.json) return { ok: true, output: `${JSON.stringify(inspection, null, 2)}\n` };

  const lines = [
    `archive:    ${inspection.path}`,
    `size:       ${formatBytes(inspection.sizeBytes)} (${inspection.sizeBytes} bytes)`,
    `time:       ${new Date(inspection.name.timestampMs).toISOString()} (written as ${inspection.name.timestampText})`,
    `file name:  pod ${inspection.name.pod}, namespace-container ${inspection.name.namespaceContainer}`,
  ];
  if (inspection.identity.ok) {
    const { identity, sources } = inspection.identity.value;
    lines.push(`identity:   namespace ${identity.namespace}, pod ${identity.pod}, container ${identity.container}`);
    lines.push(`sources:    ${sources.join(', ')}`);
  } else {
    lines.push(`identity:   UNIDENTIFIED: ${inspection.identity.reason}`, '            (never deleted by policy limits)');
  }
  if (inspection.config.ok) {
    const entries = Object.entries(inspection.config.value);
    lines.push('config.dump:');
    if (entries.length === 0) lines.push('  (no fields)');
    for (const [key, value] of entries) lines.push(`  ${key}: ${value}`);
  } else {
    lines.push(`config.dump: ${inspection.config.reason}`);
  }
  lines.push(...describeContents(inspection.contents, inspection.sizeBytes));
  lines.push('', formatTable(['ENTRY', 'TYPE', 'SIZE'], inspection.entries.map((e) => [e.name, e.type, formatBytes(e.size)])));
  return { ok: true, output: `${lines.join('\n')}\n` };
}
