import type { ByteSource } from '../../src/archive/byte-source.js';
import type { Result } from '../../src/archive/types.js';
import { requestEntries, walkTar, type RequestedEntry, type TarEntry, type TarWalkLimits } from '../../src/archive/tar-reader.js';

// The tar reader's walk collected whole, for tests that check what it sees in an archive.

/** Headers only: every entry with its size and body offset. */
export async function listTarEntries(source: ByteSource, limits: TarWalkLimits = {}): Promise<Result<TarEntry[]>> {
  const entries: TarEntry[] = [];
  const walked = await walkTar(
    source,
    (entry) => {
      entries.push(entry);
    },
    limits,
  );
  return walked.ok ? { ok: true, value: entries } : walked;
}

/**
 * Reads the bodies of the named regular-file entries (each at most `maxBytes`) and nothing else.
 * Every header is walked, so a duplicate of a requested name is noticed.
 */
export async function readTarEntries(
  source: ByteSource,
  names: readonly string[],
  maxBytes: number,
  limits: TarWalkLimits = {},
): Promise<Result<ReadonlyMap<string, RequestedEntry>>> {
  const requested = requestEntries(names, maxBytes);
  let failure: string | undefined;
  const walked = await walkTar(
    source,
    async (entry, readBody) => {
      failure = await requested.offer(entry, readBody);
      return failure === undefined;
    },
    limits,
  );
  if (!walked.ok) return walked;
  if (failure !== undefined) return { ok: false, reason: failure };
  return { ok: true, value: requested.outcomes };
}
