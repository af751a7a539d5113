/**
 * The one age order of archives. The inventory's index keeps each container's archives in it and the
 * retention planner deletes by it; were they two functions that drifted apart, the oldest archive the
 * index shows and the oldest one the planner deletes could differ.
 */

/** What the age order reads of an archive: its name's timestamp, its mtime and its file name. */
export interface AgeOrdered {
  readonly fileName: string;
  readonly name: { readonly timestampMs: number };
  readonly fingerprint: { readonly mtimeMs: number };
}

/** Oldest first by the name's timestamp; ties by mtime, then file name, so the order never depends on arrival or input order. */
export function compareArchiveAge(a: AgeOrdered, b: AgeOrdered): number {
  return (
    a.name.timestampMs - b.name.timestampMs ||
    a.fingerprint.mtimeMs - b.fingerprint.mtimeMs ||
    (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0)
  );
}
