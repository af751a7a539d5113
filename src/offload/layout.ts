import type { ArchiveIdentity } from '../archive/types.js';

/** Archives without an identity go here, beside the namespaces (a DNS-1123 name cannot start with `_`). */
export const UNIDENTIFIED = '_unidentified';

/** A path segment that stays one segment: anything else is a sign of a forged identity, and is refused. */
function isPlainSegment(value: string): boolean {
  return value !== '' && value !== '.' && value !== '..' && !value.includes('/') && !value.includes('\\') && !value.includes('\0');
}

/**
 * `<node>/<namespace>/<pod>/<container>/<archive file name>`, relative to the target's prefix, so a
 * person can browse it; `<node>/_unidentified/<file>` for an archive without identity. Undefined when a
 * part would not be a single plain segment.
 */
export function offloadKeyOf(node: string, identity: ArchiveIdentity | undefined | null, fileName: string): string | undefined {
  const parts = identity ? [node, identity.namespace, identity.pod, identity.container, fileName] : [node, UNIDENTIFIED, fileName];
  return parts.every(isPlainSegment) ? parts.join('/') : undefined;
}

/** The key a `fetch` argument names: a relative key as printed by `plan` and the logs, without leading slashes. */
export function normalizeKey(key: string): string | undefined {
  const parts = key.replace(/^\/+/, '').split('/');
  return parts.length >= 3 && parts.every(isPlainSegment) ? parts.join('/') : undefined;
}
