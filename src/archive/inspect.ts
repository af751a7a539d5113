import { basename } from 'node:path';
import { parseArchiveName } from './archive-name.js';
import { withFileByteSource } from './byte-source.js';
import { CONFIG_DUMP, MAX_DUMP_BYTES, SPEC_DUMP, dumpBytesOf, identifyFromSpecDump } from './identity.js';
import { listTarEntries, readTarEntries, type TarEntry } from './tar-reader.js';
import type { IdentifiedArchive, ParsedArchiveName, Result } from './types.js';

/** The config.dump fields worth showing; each is present only when the runtime wrote it as a string. */
export interface CheckpointConfig {
  readonly id?: string;
  readonly name?: string;
  readonly rootfsImageName?: string;
  readonly rootfsImage?: string;
  readonly runtime?: string;
  readonly createdTime?: string;
  readonly checkpointedTime?: string;
}

export interface ArchiveInspection {
  readonly path: string;
  readonly sizeBytes: number;
  readonly name: ParsedArchiveName;
  /** The identity, or why the archive is unidentified (and so exempt from per-scope limits). */
  readonly identity: Result<IdentifiedArchive>;
  /** config.dump fields, or why they could not be read; `{}` is a valid, empty config. */
  readonly config: Result<CheckpointConfig>;
  /** Every entry, from headers only. */
  readonly entries: readonly TarEntry[];
}

const CONFIG_FIELDS = ['id', 'name', 'rootfsImageName', 'rootfsImage', 'runtime', 'createdTime', 'checkpointedTime'] as const;

function parseConfigDump(bytes: Uint8Array): Result<CheckpointConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return { ok: false, reason: `config.dump is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'config.dump is not a JSON object' };
  const config: Record<string, string> = {};
  for (const field of CONFIG_FIELDS) {
    const value = (parsed as Record<string, unknown>)[field];
    if (typeof value === 'string' && Object.hasOwn(parsed, field)) config[field] = value;
  }
  return { ok: true, value: config };
}

/** Everything the `inspect` subcommand shows about one archive, reading headers and the two dump files only. */
export async function inspectArchive(path: string): Promise<Result<ArchiveInspection>> {
  const name = parseArchiveName(basename(path));
  if (!name.ok) return name;
  return withFileByteSource(path, async (source) => {
    const entries = await listTarEntries(source);
    if (!entries.ok) return { ok: false, reason: `unreadable tar: ${entries.reason}` };
    const dumps = await readTarEntries(source, [SPEC_DUMP, CONFIG_DUMP], MAX_DUMP_BYTES);
    if (!dumps.ok) return { ok: false, reason: `unreadable tar: ${dumps.reason}` };
    const spec = dumpBytesOf(SPEC_DUMP, dumps.value.get(SPEC_DUMP));
    const config = dumpBytesOf(CONFIG_DUMP, dumps.value.get(CONFIG_DUMP));
    return {
      ok: true,
      value: {
        path,
        sizeBytes: source.size,
        name: name.value,
        identity: spec.ok ? identifyFromSpecDump(spec.value, name.value) : spec,
        config: config.ok ? parseConfigDump(config.value) : config,
        entries: entries.value,
      },
    };
  });
}
