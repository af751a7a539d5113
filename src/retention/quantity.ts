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

/** A size as the policy accepts it; each refusal says what to write instead. */
const UPSTREAM_HINT = 'the upstream operator documents sizes in megabytes but reads a bare number as bytes';
/** Unit spellings people write that Kubernetes does not know, with the ones it does. */
const MISTAKEN_UNITS: Readonly<Record<string, string>> = {
  K: 'k (1000) or Ki (1024)',
  KB: 'k (1000) or Ki (1024)',
  kB: 'k (1000) or Ki (1024)',
  KiB: 'Ki',
  MB: 'M (10^6) or Mi (2^20)',
  MiB: 'Mi',
  mb: 'M (10^6) or Mi (2^20)',
  GB: 'G (10^9) or Gi (2^30)',
  GiB: 'Gi',
  gb: 'G (10^9) or Gi (2^30)',
  TB: 'T (10^12) or Ti (2^40)',
  TiB: 'Ti',
  B: 'a unit such as Ki, Mi or Gi',
};
const BARE_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Sizes carry a unit (`10Mi`, `10M`, `1Gi`, `1.5Gi`) or are `0`. A bare number (`10`, `"1e3"`) is
 * refused: upstream documents these fields in megabytes and parses bytes, so the same YAML means a
 * million times less here or there, and a limit a million times too small deletes every archive.
 * `m` (milli) is refused too: it is a thousandth, and looks like megabytes.
 */
export function parseSizeValue(value: unknown): Result<number> {
  if (value === 0 || value === '0') return { ok: true, value: 0 };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return parseQuantityValue(value);
    return { ok: false, reason: bareNumberReason(String(value), String(value), value) };
  }
  if (typeof value !== 'string') return parseQuantityValue(value);
  const text = value;
  if (text.length <= MAX_QUANTITY_TEXT_LENGTH && BARE_NUMBER.test(text)) {
    const parsed = parseQuantity(text);
    if (!parsed.ok && !text.startsWith('-')) return { ok: false, reason: `${JSON.stringify(text)} has no unit (${UPSTREAM_HINT}): write a unit, e.g. 10Mi or 10M` };
    if (!parsed.ok) return parsed;
    return { ok: false, reason: bareNumberReason(JSON.stringify(text), text, parsed.value) };
  }
  const mistaken = /^([+-]?(?:\d+\.?\d*|\.\d+))\s*([A-Za-z]+)$/.exec(text);
  if (mistaken && MISTAKEN_UNITS[mistaken[2] ?? ''] !== undefined) {
    return { ok: false, reason: `${JSON.stringify(text)} is not a Kubernetes quantity: write ${MISTAKEN_UNITS[mistaken[2] ?? '']} instead of ${mistaken[2]}` };
  }
  if (/^[+]?(\d+\.?\d*|\.\d+)m$/.test(text)) {
    return { ok: false, reason: `${JSON.stringify(text)} is in thousandths of a byte (m is milli): write M for megabytes or Mi for mebibytes` };
  }
  return parseQuantity(text);
}

function bareNumberReason(shown: string, text: string, bytes: number): string {
  const digits = /^\d+$/.test(text) ? text : undefined;
  const suggestion = digits !== undefined ? `write ${digits}Mi or ${digits}M if megabytes were meant` : `write it with a unit, e.g. 10Mi or 10M`;
  // Below a kilobyte the exact form is a fraction of k, which nobody means; above it, it helps.
  const exact = bytes >= 1000 ? `, or ${formatQuantity(bytes)} for ${bytes} bytes` : '';
  return `${shown} has no unit (${UPSTREAM_HINT}): ${suggestion}${exact}`;
}

const QUANTITY_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['Ei', 1024n ** 6n],
  ['E', 1000n ** 6n],
  ['Pi', 1024n ** 5n],
  ['P', 1000n ** 5n],
  ['Ti', 1024n ** 4n],
  ['T', 1000n ** 4n],
  ['Gi', 1024n ** 3n],
  ['G', 1000n ** 3n],
  ['Mi', 1024n ** 2n],
  ['M', 1000n ** 2n],
  ['Ki', 1024n],
  ['k', 1000n],
];

/**
 * The exact quantity with a unit for a byte count, the inverse of parseSizeValue: 4194304 → `4Mi`,
 * 1000 → `1k`, 1234 → `1.234k`, 0 → `0`. The largest unit that divides exactly wins; a count no unit
 * divides is written in k with its three decimals, which is still exact.
 */
export function formatQuantity(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a byte count: ${bytes}`);
  if (bytes === 0) return '0';
  const exact = BigInt(bytes);
  for (const [suffix, factor] of QUANTITY_UNITS) {
    if (exact >= factor && exact % factor === 0n) return `${exact / factor}${suffix}`;
  }
  const fraction = String(exact % 1000n).padStart(3, '0').replace(/0+$/, '');
  return `${exact / 1000n}.${fraction}k`;
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
