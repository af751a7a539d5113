import type { ArchiveIdentity } from '../../../src/archive/types.js';
import type { ArchiveRecord, InventorySnapshot } from '../../../src/inventory/types.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument } from '../../../src/retention/policy-document.js';
import { formatQuantity } from '../../../src/retention/quantity.js';
import type { OwnerLookup, OwnerState, RetentionPolicy } from '../../../src/retention/types.js';
import { inventorySnapshot } from '../../support/snapshots.js';

/** A fixed instant the synthetic archives are dated against. */
export const T0 = Date.UTC(2024, 0, 28, 0, 0, 0);
export const MINUTE = 60_000;
export const MiB = 1024 * 1024;

export interface ArchiveSpec {
  readonly namespace?: string;
  readonly pod?: string;
  readonly container?: string;
  /** Minutes after T0 written in the file name. */
  readonly minute: number;
  readonly size?: number;
  readonly pinned?: boolean;
  readonly identified?: boolean;
  readonly mtimeMs?: number;
  readonly ino?: number;
  /** Hard links to the inode (default 1: deleting the archive frees its bytes). */
  readonly nlink?: number;
}

/** A stable inode per name, so records built twice for one file agree. */
function inodeOf(fileName: string): number {
  let hash = 2166136261;
  for (const char of fileName) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash;
}

/** An ArchiveRecord named as the kubelet names it. */
export function archive(spec: ArchiveSpec): ArchiveRecord {
  const identity: ArchiveIdentity = { namespace: spec.namespace ?? 'shop', pod: spec.pod ?? 'cart-0', container: spec.container ?? 'api' };
  const timestampMs = T0 + spec.minute * MINUTE;
  const timestampText = new Date(timestampMs).toISOString().replace('.000Z', 'Z');
  const fileName = `checkpoint-${identity.pod}_${identity.namespace}-${identity.container}-${timestampText}.tar`;
  return {
    fileName,
    name: { fileName, pod: identity.pod, namespaceContainer: `${identity.namespace}-${identity.container}`, timestampText, timestampMs },
    fingerprint: { dev: 1, ino: spec.ino ?? inodeOf(fileName), size: spec.size ?? MiB, mtimeMs: spec.mtimeMs ?? timestampMs + 1000, nlink: spec.nlink ?? 1 },
    identity: spec.identified === false ? undefined : identity,
    identitySources: spec.identified === false ? [] : ['cri-o'],
    unidentifiedReason: spec.identified === false ? 'no spec.dump' : undefined,
    pinned: spec.pinned ?? false,
  };
}

/** `count` archives of one container, one minute apart from `fromMinute`. */
export function series(count: number, spec: Omit<ArchiveSpec, 'minute'> & { fromMinute?: number }): ArchiveRecord[] {
  return Array.from({ length: count }, (_, i) => archive({ ...spec, minute: (spec.fromMinute ?? 0) + i }));
}

export function snapshotOf(archives: readonly ArchiveRecord[]): InventorySnapshot {
  return inventorySnapshot(archives);
}

export const SOURCE = 'CheckpointRestoreOperator ops/default';

const SIZE_FIELDS = new Set(['maxCheckpointSize', 'maxTotalSize', 'maxTotalSizePerNamespace', 'maxTotalSizePerPod', 'maxTotalSizePerContainer']);

/** Sizes given as byte counts, written as the exact quantity with a unit that a policy must use (`6291456` → `6Mi`). */
function withSizeUnits(value: unknown, key = ''): unknown {
  if (typeof value === 'number' && SIZE_FIELDS.has(key)) return formatQuantity(value);
  if (Array.isArray(value)) return value.map((item) => withSizeUnits(item));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withSizeUnits(v, k)]));
  return value;
}

/** A policy built the way production builds it: a CR spec, validated, then merged. Byte counts are allowed for sizes. */
export function policyOf(spec: Record<string, unknown>): RetentionPolicy {
  const parsed = parsePolicyDocument(
    { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace: 'ops', name: 'default' }, spec: withSizeUnits(spec) },
    SOURCE,
  );
  if (!parsed.ok) throw new Error(parsed.reason);
  return mergePolicies([parsed.value]);
}

export const allAlive: OwnerLookup = () => ({ state: 'alive' });

export function ownersByPod(states: Readonly<Record<string, OwnerState>>): OwnerLookup {
  return (identity) => states[`${identity.namespace}/${identity.pod}`] ?? { state: 'alive' };
}
