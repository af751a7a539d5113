import type { Result } from '../archive/types.js';

/**
 * Kubernetes resource quantities (`4Mi`, `1.5Gi`, `500M`, `1e3`, `10`) converted to whole bytes.
 *
 * Written here because @kubernetes/client-node does not export its parser. Exact arithmetic in
 * BigInt, so `1.1Gi` is never off by a float rounding. Unlike Kubernetes' `Value()`, which rounds a
 * fractional result up, a quantity that is not a whole number of bytes (`1.5`, `500m`) is rejected:
 * a size limit is a promise about deletions, and a silently rounded one is a different promise.
 */

/** Longer text is not a plausible size and is refused before any work is done on it. */
const MAX_QUANTITY_TEXT_LENGTH = 64;
/** 10^40 bytes is far past any disk; the cap keeps BigInt powers small on hostile input. */
const MAX_DECIMAL_EXPONENT = 40;

const QUANTITY_PATTERN = /^([+-]?)(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$/;

const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { m: -1, k: 1, M: 2, G: 3, T: 4, P: 5, E: 6 };

const notAQuantity = (text: string): string => `${JSON.stringify(text)} is not a Kubernetes quantity`;

/** Parses a quantity written as text. */
export function parseQuantity(text: string): Result<number> {
  if (text.length > MAX_QUANTITY_TEXT_LENGTH) return { ok: false, reason: `quantity is longer than ${MAX_QUANTITY_TEXT_LENGTH} characters` };
  const match = QUANTITY_PATTERN.exec(text);
  if (!match) return { ok: false, reason: notAQuantity(text) };
  const [, sign = '', number = '', suffix = ''] = match;
  if (sign === '-') return { ok: false, reason: `${JSON.stringify(text)} is negative` };

  const [whole = '', fraction = ''] = number.split('.');
  let numerator = BigInt(`${whole}${fraction}` || '0');
  let denominator = 10n ** BigInt(fraction.length);

  const binaryPower = BINARY_SUFFIXES[suffix];
  const decimalPower = DECIMAL_SUFFIXES[suffix];
  if (binaryPower !== undefined) {
    numerator *= 1024n ** BigInt(binaryPower);
  } else if (decimalPower !== undefined) {
    if (decimalPower < 0) denominator *= 1000n;
    else numerator *= 1000n ** BigInt(decimalPower);
  } else if (suffix !== '') {
    const exponent = Number(suffix.slice(1));
    if (Math.abs(exponent) > MAX_DECIMAL_EXPONENT) return { ok: false, reason: `${JSON.stringify(text)} is out of range` };
    if (exponent < 0) denominator *= 10n ** BigInt(-exponent);
    else numerator *= 10n ** BigInt(exponent);
  }

  if (numerator % denominator !== 0n) return { ok: false, reason: `${JSON.stringify(text)} is not a whole number of bytes` };
  const bytes = numerator / denominator;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `${JSON.stringify(text)} is out of range` };
  return { ok: true, value: Number(bytes) };
}

/** Accepts what YAML may hand over for a size: a quantity string or a plain number of bytes. */
export function parseQuantityValue(value: unknown): Result<number> {
  if (typeof value === 'string') return parseQuantity(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, reason: `${value} is not a Kubernetes quantity` };
    if (value < 0) return { ok: false, reason: `${value} is negative` };
    if (!Number.isInteger(value)) return { ok: false, reason: `${value} is not a whole number of bytes` };
    if (value > Number.MAX_SAFE_INTEGER) return { ok: false, reason: `${value} is out of range` };
    return { ok: true, value };
  }
  return { ok: false, reason: `expected a Kubernetes quantity (e.g. 4Mi), got ${describeValue(value)}` };
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** Human form for log lines and details: `10 B`, `4 MiB`, `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${text} ${BYTE_UNITS[unit]}`;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}
