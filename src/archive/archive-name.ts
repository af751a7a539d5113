import type { ParsedArchiveName, Result } from './types.js';

const PREFIX = 'checkpoint-';
const SUFFIX = '.tar';
const PIN_SUFFIX = '.keep';
/**
 * The checkpoint-restore-operator writes a pin atomically: the JSON goes to `<archive>.keep.tmp`,
 * which is then renamed to `<archive>.keep`. While the first exists the archive is being pinned, so
 * it pins too; otherwise retention could delete the archive in the window in which it is pinned.
 */
const PIN_WRITING_SUFFIX = '.keep.tmp';

/**
 * File names longer than this are never written by the kubelet (pod 253 + namespace 63 + container 63
 * + a timestamp is well under it) and most filesystems cap a name at 255 bytes anyway; refusing early
 * keeps hostile directory entries from costing regex work.
 */
export const MAX_ARCHIVE_NAME_LENGTH = 512;

/**
 * The timestamp contains `-` itself, so it is matched anchored at the end of the stem. Seconds are required (RFC 3339 has no minute-only form); the fraction and
 * the zone are optional because tools other than the kubelet write them that way.
 */
const TIMESTAMP_AT_END =
  /-(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

/** Pod names are DNS-1123 subdomains: lower-case alphanumerics, `-` and `.`. */
const POD_CHARACTERS = /^[a-z0-9.-]+$/;
/** Namespace and container names are DNS-1123 labels: lower-case alphanumerics and `-`. */
const NAMESPACE_CONTAINER_CHARACTERS = /^[a-z0-9-]+$/;

function fail(fileName: string, why: string): Result<never> {
  return { ok: false, reason: `not a checkpoint archive name (${JSON.stringify(fileName.slice(0, 80))}): ${why}` };
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return days[month - 1] ?? 0;
}

/**
 * Converts RFC 3339 parts into epoch milliseconds, refusing impossible calendar values instead of
 * letting Date roll them over (Feb 30 would silently become Mar 1).
 */
function toEpochMs(match: RegExpExecArray): Result<number> {
  const [, yearText, monthText, dayText, hourText, minuteText, secondText, fractionText, zoneText] = match;
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  if (month < 1 || month > 12) return { ok: false, reason: `month ${monthText} is out of range` };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, reason: `day ${dayText} does not exist in ${yearText}-${monthText}` };
  if (hour > 23) return { ok: false, reason: `hour ${hourText} is out of range` };
  if (minute > 59) return { ok: false, reason: `minute ${minuteText} is out of range` };
  // RFC 3339 allows a leap second (60), but epoch milliseconds cannot represent one and no runtime writes it.
  if (second > 59) return { ok: false, reason: `second ${secondText} is out of range` };

  let offsetMinutes = 0;
  if (zoneText !== undefined && zoneText !== 'Z') {
    const sign = zoneText.startsWith('-') ? -1 : 1;
    const offsetHours = Number(zoneText.slice(1, 3));
    const offsetMins = Number(zoneText.slice(4, 6));
    if (offsetHours > 23 || offsetMins > 59) return { ok: false, reason: `zone offset ${zoneText} is out of range` };
    offsetMinutes = sign * (offsetHours * 60 + offsetMins);
  }

  // Sub-millisecond digits are dropped (truncated), matching how the instant is stored.
  const millis = fractionText === undefined ? 0 : Number(fractionText.padEnd(3, '0').slice(0, 3));
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return { ok: true, value: date.getTime() - offsetMinutes * 60_000 };
}

/** The RFC 3339 stamp that ends a name's stem (after a `-`): where it starts, its text and its instant. */
export function readTimestampAtEnd(stem: string): Result<{ readonly index: number; readonly timestampText: string; readonly timestampMs: number }> {
  const stamp = TIMESTAMP_AT_END.exec(stem);
  if (stamp === null) return { ok: false, reason: 'no RFC 3339 timestamp (YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm]) before ".tar"' };
  const timestampText = stamp[0].slice(1);
  const instant = toEpochMs(stamp);
  if (!instant.ok) return { ok: false, reason: `invalid timestamp ${timestampText}: ${instant.reason}` };
  return { ok: true, value: { index: stamp.index, timestampText, timestampMs: instant.value } };
}

/**
 * Parses `checkpoint-<pod>_<namespace>-<container>-<timestamp>.tar`. Namespace and container may both
 * contain `-`, so only the pod, the instant and the `<namespace>-<container>` remainder come out; the
 * split is settled later against spec.dump.
 */
export function parseArchiveName(fileName: string): Result<ParsedArchiveName> {
  if (fileName.length > MAX_ARCHIVE_NAME_LENGTH) return fail(fileName, `longer than ${MAX_ARCHIVE_NAME_LENGTH} characters`);
  if (!fileName.startsWith(PREFIX)) return fail(fileName, `does not start with "${PREFIX}"`);
  if (!fileName.endsWith(SUFFIX)) return fail(fileName, `does not end with "${SUFFIX}"`);
  const stem = fileName.slice(PREFIX.length, fileName.length - SUFFIX.length);

  const stamp = TIMESTAMP_AT_END.exec(stem);
  if (stamp === null) return fail(fileName, 'no RFC 3339 timestamp (YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm]) before ".tar"');
  const timestampText = stamp[0].slice(1);
  const instant = toEpochMs(stamp);
  if (!instant.ok) return fail(fileName, `invalid timestamp ${timestampText}: ${instant.reason}`);

  const head = stem.slice(0, stamp.index);
  const underscore = head.indexOf('_');
  if (underscore === -1) return fail(fileName, 'no "_" between pod and namespace');
  if (head.indexOf('_', underscore + 1) !== -1) return fail(fileName, 'more than one "_" (pod, namespace and container names never contain it)');
  const pod = head.slice(0, underscore);
  const namespaceContainer = head.slice(underscore + 1);

  if (pod.length === 0) return fail(fileName, 'empty pod name');
  if (!POD_CHARACTERS.test(pod)) return fail(fileName, 'pod name has characters outside [a-z0-9.-]');
  if (namespaceContainer.length === 0) return fail(fileName, 'empty <namespace>-<container> part');
  if (!NAMESPACE_CONTAINER_CHARACTERS.test(namespaceContainer)) {
    return fail(fileName, '<namespace>-<container> part has characters outside [a-z0-9-]');
  }
  if (!namespaceContainer.includes('-')) return fail(fileName, 'no "-" between namespace and container');
  if (namespaceContainer.startsWith('-') || namespaceContainer.endsWith('-')) {
    return fail(fileName, 'namespace or container name is empty');
  }

  return { ok: true, value: { fileName, pod, namespaceContainer, timestampText, timestampMs: instant.value } };
}

/**
 * For `<archive>.keep` and `<archive>.keep.tmp` (a pin being written) returns `<archive>` when that is
 * an archive name; anything else is not a pin.
 */
export function pinTargetOf(fileName: string): string | undefined {
  const suffix = fileName.endsWith(PIN_WRITING_SUFFIX) ? PIN_WRITING_SUFFIX : fileName.endsWith(PIN_SUFFIX) ? PIN_SUFFIX : undefined;
  if (suffix === undefined) return undefined;
  const target = fileName.slice(0, fileName.length - suffix.length);
  return parseArchiveName(target).ok ? target : undefined;
}

/** The name of a finished pin, the one to write to protect an archive from deletion. */
export function pinFileNameOf(archiveFileName: string): string {
  return `${archiveFileName}${PIN_SUFFIX}`;
}

/** The name of a pin being written (renamed to the finished pin once complete); it pins as well. */
export function pinWritingFileNameOf(archiveFileName: string): string {
  return `${archiveFileName}${PIN_WRITING_SUFFIX}`;
}

/** Every entry name that pins an archive while any entry of that name exists: the finished pin first. */
export function pinFileNamesOf(archiveFileName: string): readonly [string, string] {
  return [pinFileNameOf(archiveFileName), pinWritingFileNameOf(archiveFileName)];
}

/** RFC 3339 with whole seconds in UTC, as the kubelet's Go `time.RFC3339` layout prints a UTC time. */
export function formatArchiveTimestamp(instant: Date): string {
  return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The file name the kubelet gives a checkpoint of one container. */
export function formatArchiveName(pod: string, namespace: string, container: string, timestampText: string): string {
  return `${PREFIX}${pod}_${namespace}-${container}-${timestampText}${SUFFIX}`;
}
