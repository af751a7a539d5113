import { inspectArchive } from '../archive/inspect.js';
import { formatBytes, formatTable } from './format.js';

/** `inspect ARCHIVE`: identity and which sources gave it, config.dump fields, the entry list with sizes. */
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
  lines.push('', formatTable(['ENTRY', 'TYPE', 'SIZE'], inspection.entries.map((e) => [e.name, e.type, formatBytes(e.size)])));
  return { ok: true, output: `${lines.join('\n')}\n` };
}
