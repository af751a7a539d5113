import type { OffloadRecord } from './types.js';

/** Records are a few hundred bytes; anything far larger is not one of ours. */
export const MAX_RECORD_BYTES = 64 * 1024;

const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Validates a record read back from a target; a record that does not parse whole is refused (fetch verifies against it). */
export function parseOffloadRecord(text: string): OffloadRecord {
  if (text.length > MAX_RECORD_BYTES) throw new Error(`the offload record is larger than ${MAX_RECORD_BYTES} bytes`);
  const value = JSON.parse(text) as Record<string, unknown>;
  const identity = value['identity'] as Record<string, unknown> | null | undefined;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    value['version'] === 1 &&
    isString(value['node']) &&
    isString(value['fileName']) &&
    Number.isSafeInteger(value['size']) &&
    (value['size'] as number) >= 0 &&
    typeof value['sha256'] === 'string' &&
    /^[0-9a-f]{64}$/.test(value['sha256']) &&
    (identity === null || (typeof identity === 'object' && isString(identity?.['namespace']) && isString(identity['pod']) && isString(identity['container'])));
  if (!ok) throw new Error('the offload record is not a version 1 record with node, fileName, identity, size and sha256');
  return value as unknown as OffloadRecord;
}
