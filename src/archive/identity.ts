import { walkArchive, type CompressedDeferral } from './archive-walk.js';
import { openFileByteSourceSync, withFileByteSource, type ByteSource } from './byte-source.js';
import { DEFAULT_DECOMPRESSION_LIMITS, type DecompressionLimits } from './compressed.js';
import { isDns1123Label, isDns1123Subdomain } from './kubernetes-names.js';
import type { RequestedEntry } from './tar-reader.js';
import type { ArchiveContents, ArchiveIdentity, FileFingerprint, IdentifiedArchive, IdentitySource, ParsedArchiveName, ReadFailure, Result } from './types.js';
import { messageOf } from '../errors.js';

/**
 * An archive without an identity: why, with a hint when reading again may help, and its composition
 * when its headers could still be walked (an archive without Kubernetes annotations still fills the disk).
 */
export interface UnidentifiedRead extends ReadFailure {
  readonly contents?: ArchiveContents;
}

/** An identity, or why there is none (with a hint when reading again may help). */
export type IdentityReadResult = { readonly ok: true; readonly value: IdentifiedArchive } | UnidentifiedRead;

/** What a read that may leave compressed archives for later returns. */
export type DeferringIdentityRead = IdentityReadResult | CompressedDeferral;

export interface IdentityReadOptions {
  /** Limits of a compressed read, or `defer` to leave compressed archives unread (see CompressedDeferral). */
  readonly compressed?: DecompressionLimits | 'defer';
}

export const SPEC_DUMP = 'spec.dump';
export const CONFIG_DUMP = 'config.dump';

/**
 * spec.dump is the container's OCI runtime spec: tens of kilobytes even with many mounts and a long
 * environment. A megabyte is far beyond any real one, so anything bigger is refused instead of parsed.
 */
export const MAX_DUMP_BYTES = 1024 * 1024;

const CRIO_LABELS = 'io.kubernetes.cri-o.Labels';
const CRIO_LABEL_KEYS = {
  namespace: 'io.kubernetes.pod.namespace',
  pod: 'io.kubernetes.pod.name',
  container: 'io.kubernetes.container.name',
} as const;
const CONTAINERD_KEYS = {
  namespace: 'io.kubernetes.cri.sandbox-namespace',
  pod: 'io.kubernetes.cri.sandbox-name',
  container: 'io.kubernetes.cri.container-name',
} as const;
const CRIU_KEYS = {
  namespace: 'org.criu.checkpoint.pod.namespace',
  pod: 'org.criu.checkpoint.pod.name',
  container: 'org.criu.checkpoint.container.name',
} as const;

type KeySet = { readonly namespace: string; readonly pod: string; readonly container: string };
type SourceReading =
  | { readonly present: false }
  | { readonly present: true; readonly identity: Result<ArchiveIdentity> };

const decoder = new TextDecoder('utf-8', { fatal: true });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): Result<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
}

/** A source counts as present when any of its keys is; then all three must be non-empty strings. */
function readKeySet(values: Record<string, unknown>, keys: KeySet, where: string): SourceReading {
  const fields = [keys.namespace, keys.pod, keys.container];
  if (!fields.some((key) => Object.hasOwn(values, key))) return { present: false };
  const missing = fields.filter((key) => !Object.hasOwn(values, key) || typeof values[key] !== 'string' || values[key] === '');
  if (missing.length > 0) {
    return { present: true, identity: { ok: false, reason: `${where} is incomplete: ${missing.join(', ')} missing, empty or not a string` } };
  }
  return {
    present: true,
    identity: {
      ok: true,
      value: { namespace: values[keys.namespace] as string, pod: values[keys.pod] as string, container: values[keys.container] as string },
    },
  };
}

/** CRI-O keeps the pod labels as a JSON object serialized into one annotation string. */
function readCrioLabels(annotations: Record<string, unknown>): SourceReading {
  if (!Object.hasOwn(annotations, CRIO_LABELS)) return { present: false };
  const raw = annotations[CRIO_LABELS];
  if (typeof raw !== 'string') return { present: true, identity: { ok: false, reason: `${CRIO_LABELS} is not a string` } };
  const parsed = parseJson(raw);
  if (!parsed.ok) return { present: true, identity: { ok: false, reason: `${CRIO_LABELS} is not valid JSON: ${parsed.reason}` } };
  if (!isRecord(parsed.value)) return { present: true, identity: { ok: false, reason: `${CRIO_LABELS} is not a JSON object` } };
  const reading = readKeySet(parsed.value, CRIO_LABEL_KEYS, CRIO_LABELS);
  return reading.present ? reading : { present: true, identity: { ok: false, reason: `${CRIO_LABELS} names no pod, namespace or container` } };
}

function describe(identity: ArchiveIdentity): string {
  return `namespace=${identity.namespace} pod=${identity.pod} container=${identity.container}`;
}

/**
 * Derives the identity from spec.dump annotations. Every source present must be complete and all must
 * agree with each other and with the file name; any doubt leaves the archive unidentified.
 */
export function identifyFromAnnotations(annotations: Record<string, unknown>, name: ParsedArchiveName): Result<IdentifiedArchive> {
  const readings: Array<[IdentitySource, SourceReading]> = [
    ['cri-o', readCrioLabels(annotations)],
    ['containerd', readKeySet(annotations, CONTAINERD_KEYS, 'containerd annotations')],
    ['criu', readKeySet(annotations, CRIU_KEYS, 'org.criu.checkpoint annotations')],
  ];
  const sources: IdentitySource[] = [];
  let agreed: ArchiveIdentity | undefined;
  for (const [source, reading] of readings) {
    if (!reading.present) continue;
    if (!reading.identity.ok) return { ok: false, reason: `${source}: ${reading.identity.reason}` };
    const identity = reading.identity.value;
    if (agreed === undefined) agreed = identity;
    else if (agreed.namespace !== identity.namespace || agreed.pod !== identity.pod || agreed.container !== identity.container) {
      return { ok: false, reason: `sources disagree: ${sources[0]} says ${describe(agreed)}, ${source} says ${describe(identity)}` };
    }
    sources.push(source);
  }
  if (agreed === undefined) return { ok: false, reason: 'spec.dump has no Kubernetes identity annotations (cri-o, containerd or org.criu.checkpoint)' };

  if (!isDns1123Label(agreed.namespace)) return { ok: false, reason: `namespace ${JSON.stringify(agreed.namespace)} is not a valid Kubernetes name` };
  if (!isDns1123Subdomain(agreed.pod)) return { ok: false, reason: `pod ${JSON.stringify(agreed.pod)} is not a valid Kubernetes name` };
  if (!isDns1123Label(agreed.container)) return { ok: false, reason: `container ${JSON.stringify(agreed.container)} is not a valid Kubernetes name` };

  if (agreed.pod !== name.pod) return { ok: false, reason: `spec.dump names pod ${agreed.pod} but the file name says ${name.pod}` };
  const remainder = `${agreed.namespace}-${agreed.container}`;
  if (remainder !== name.namespaceContainer) {
    return { ok: false, reason: `spec.dump names ${remainder} (namespace-container) but the file name says ${name.namespaceContainer}` };
  }
  return { ok: true, value: { identity: agreed, sources } };
}

/** Decodes the spec.dump bytes and derives the identity from its annotations. */
export function identifyFromSpecDump(bytes: Uint8Array, name: ParsedArchiveName): Result<IdentifiedArchive> {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, reason: 'spec.dump is not valid UTF-8' };
  }
  const parsed = parseJson(text);
  if (!parsed.ok) return { ok: false, reason: `spec.dump is not valid JSON: ${parsed.reason}` };
  if (!isRecord(parsed.value)) return { ok: false, reason: 'spec.dump is not a JSON object' };
  const annotations = parsed.value['annotations'];
  if (annotations === undefined || annotations === null) return { ok: false, reason: 'spec.dump has no annotations' };
  if (!isRecord(annotations)) return { ok: false, reason: 'spec.dump annotations is not an object' };
  return identifyFromAnnotations(annotations, name);
}

/** Explains a requested dump file that could not be read, or hands over its bytes. */
export function dumpBytesOf(fileName: string, entry: RequestedEntry | undefined): Result<Uint8Array> {
  switch (entry?.status) {
    case 'read':
      return { ok: true, value: entry.bytes };
    case 'not-regular':
      if (entry.type === 'sparse') return { ok: false, reason: `${fileName} is stored as a GNU sparse file, whose body is not read` };
      return { ok: false, reason: `${fileName} is not a regular file (tar type ${entry.type}, typeflag ${JSON.stringify(entry.typeflag)})` };
    case 'too-large':
      return { ok: false, reason: `${fileName} is ${entry.size} bytes, over the ${entry.limit}-byte limit` };
    case 'duplicate':
      return { ok: false, reason: `${fileName} appears more than once in the archive` };
    default:
      return { ok: false, reason: `${fileName} is missing from the archive` };
  }
}

/**
 * Identity of an already-open archive, with its composition and restorability from the same walk:
 * reads only tar headers and the spec.dump body (a compressed archive is decompressed front to back).
 */
export async function readIdentityFrom(source: ByteSource, name: ParsedArchiveName, options: IdentityReadOptions = {}): Promise<DeferringIdentityRead> {
  const walked = await walkArchive(source, { bodies: [SPEC_DUMP], maxBodyBytes: MAX_DUMP_BYTES, compressed: options.compressed ?? DEFAULT_DECOMPRESSION_LIMITS });
  if (!walked.ok) return walked;
  const { contents } = walked.value;
  const bytes = dumpBytesOf(SPEC_DUMP, walked.value.bodies.get(SPEC_DUMP));
  const identified = bytes.ok ? identifyFromSpecDump(bytes.value, name) : bytes;
  return identified.ok ? { ok: true, value: { ...identified.value, contents } } : { ok: false, reason: identified.reason, contents };
}

/**
 * Identity of the archive at `path`; every failure, including I/O, is an unidentified reason. With
 * `expect`, the file opened must be the one listed (same device, inode, size and mtime), so the
 * identity read belongs to exactly those bytes. Compressed archives are read within the default
 * limits; callers that read many archives run such reads one at a time (see identity-reader).
 */
export async function readArchiveIdentity(path: string, name: ParsedArchiveName, expect?: FileFingerprint, options: { readonly compressed?: DecompressionLimits } = {}): Promise<IdentityReadResult> {
  const read = await withFileByteSource(path, (source) => readIdentityFrom(source, name, options), expect);
  return withoutDeferral(read);
}

/** Like readArchiveIdentity, leaving a compressed archive unread: the caller queues it for a bounded read. */
export async function readArchiveIdentityDeferring(path: string, name: ParsedArchiveName, expect?: FileFingerprint): Promise<DeferringIdentityRead> {
  return withFileByteSource(path, (source) => readIdentityFrom(source, name, { compressed: 'defer' }), expect);
}

/**
 * readArchiveIdentityDeferring with blocking reads: for the identity worker thread only, never the
 * main thread. A compressed archive comes back deferred, so a batch of plain archives is never held
 * up behind a long decompression.
 */
export async function readArchiveIdentityBlocking(path: string, name: ParsedArchiveName, expect?: FileFingerprint): Promise<DeferringIdentityRead> {
  return withFileByteSource(path, (source) => readIdentityFrom(source, name, { compressed: 'defer' }), expect, openFileByteSourceSync);
}

/** A deferral cannot come out of a read with limits; typed away here. */
function withoutDeferral(read: DeferringIdentityRead): IdentityReadResult {
  if (!read.ok && 'deferred' in read) return { ok: false, reason: read.reason };
  return read;
}
