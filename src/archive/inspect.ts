import { basename } from 'node:path';
import { parseArchiveName } from './archive-name.js';
import { walkArchive } from './archive-walk.js';
import { withFileByteSource } from './byte-source.js';
import { DEFAULT_DECOMPRESSION_LIMITS } from './compressed.js';
import { CONFIG_DUMP, MAX_DUMP_BYTES, SPEC_DUMP, dumpBytesOf, identifyFromSpecDump } from './identity.js';
import type { TarEntry } from './tar-reader.js';
import type { ArchiveContents, IdentifiedArchive, ParsedArchiveName, Result } from './types.js';
import { messageOf } from '../errors.js';

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
  /** Composition by part, restorability (the restore entries missing) and compression. */
  readonly contents: ArchiveContents;
}

const CONFIG_FIELDS = ['id', 'name', 'rootfsImageName', 'rootfsImage', 'runtime', 'createdTime', 'checkpointedTime'] as const;

function parseConfigDump(bytes: Uint8Array): Result<CheckpointConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return { ok: false, reason: `config.dump is not valid JSON: ${messageOf(error)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'config.dump is not a JSON object' };
  const config: Record<string, string> = {};
  for (const field of CONFIG_FIELDS) {
    const value = (parsed as Record<string, unknown>)[field];
    if (typeof value === 'string' && Object.hasOwn(parsed, field)) config[field] = value;
  }
  return { ok: true, value: config };
}

/**
 * Everything the `inspect` subcommand shows about one archive, in one pass over its headers reading
 * the two dump files only; a compressed archive is decompressed within the usual limits.
 */
export async function inspectArchive(path: string): Promise<Result<ArchiveInspection>> {
  const name = parseArchiveName(basename(path));
  if (!name.ok) return name;
  return withFileByteSource(path, async (source): Promise<Result<ArchiveInspection>> => {
    const walked = await walkArchive(source, { bodies: [SPEC_DUMP, CONFIG_DUMP], maxBodyBytes: MAX_DUMP_BYTES, listEntries: true, compressed: DEFAULT_DECOMPRESSION_LIMITS });
    if (!walked.ok) return { ok: false, reason: walked.reason };
    const spec = dumpBytesOf(SPEC_DUMP, walked.value.bodies.get(SPEC_DUMP));
    const config = dumpBytesOf(CONFIG_DUMP, walked.value.bodies.get(CONFIG_DUMP));
    return {
      ok: true,
      value: {
        path,
        sizeBytes: source.size,
        name: name.value,
        identity: spec.ok ? identifyFromSpecDump(spec.value, name.value) : spec,
        config: config.ok ? parseConfigDump(config.value) : config,
        entries: walked.value.entries,
        contents: walked.value.contents,
      },
    };
  });
}
