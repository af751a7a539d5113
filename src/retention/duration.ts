import type { Result } from '../archive/types.js';

/**
 * Durations such as `90m`, `72h`, `7d`, `1h30m`, `0s`, in whole seconds.
 *
 * Strict on purpose: units appear at most once, largest first (d, h, m, s), with whole numbers.
 * `1m30h` or `1.5h` are refused rather than guessed at, and a bare number is refused because its
 * unit would be a guess. `0` alone is accepted as zero.
 */

/** Longer text is not a plausible duration and is refused before matching. */
const MAX_DURATION_TEXT_LENGTH = 32;

const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const UNIT_SECONDS = [86_400, 3_600, 60, 1] as const;

export function parseDuration(text: string): Result<number> {
  const invalid = { ok: false, reason: `${JSON.stringify(text)} is not a duration (use d, h, m, s, e.g. 90m, 7d, 1h30m)` } as const;
  if (text.length > MAX_DURATION_TEXT_LENGTH) return invalid;
  if (text === '0') return { ok: true, value: 0 };
  const match = DURATION_PATTERN.exec(text);
  if (!match || text === '') return invalid;
  let seconds = 0;
  UNIT_SECONDS.forEach((unit, index) => {
    const part = match[index + 1];
    if (part !== undefined) seconds += Number(part) * unit;
  });
  if (!Number.isSafeInteger(seconds)) return { ok: false, reason: `${JSON.stringify(text)} is out of range` };
  return { ok: true, value: seconds };
}

export function parseDurationValue(value: unknown): Result<number> {
  if (typeof value === 'string') return parseDuration(value);
  return { ok: false, reason: `expected a duration string such as 90m or 7d, got ${typeof value === 'number' ? `number ${value}` : typeof value}` };
}

/** Canonical form, the inverse of parseDuration: 5400 → `1h30m`, 0 → `0s`. */
export function formatDuration(totalSeconds: number): string {
  if (totalSeconds === 0) return '0s';
  let rest = Math.floor(totalSeconds);
  let text = '';
  for (const [unit, letter] of [[86_400, 'd'], [3_600, 'h'], [60, 'm'], [1, 's']] as const) {
    const count = Math.floor(rest / unit);
    if (count > 0) text += `${count}${letter}`;
    rest -= count * unit;
  }
  return text;
}

/**
 * Node's timers hold a signed 32-bit count of milliseconds: a longer delay fires after 1 ms instead,
 * so an interval past this would turn into a busy loop. Every duration that feeds a timer is bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The longest whole-second duration a timer supports: 24d20h31m23s. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * An interval for a timer, in milliseconds: the duration syntax plus `ms` (`500ms`), greater than zero
 * (zero would rerun at once, forever) and no longer than a timer supports.
 */
export function parseIntervalMs(text: string): Result<number> {
  let ms: number;
  const millis = /^(\d{1,12})ms$/.exec(text);
  if (millis) ms = Number(millis[1]);
  else {
    const parsed = parseDuration(text);
    if (!parsed.ok) return { ok: false, reason: `${JSON.stringify(text)} is not a duration (use ms, s, m, h, d, e.g. 500ms, 90s, 5m, 1h30m)` };
    ms = parsed.value * 1000;
  }
  if (ms <= 0) return { ok: false, reason: `${JSON.stringify(text)} is zero; an interval must be longer than zero` };
  if (ms > MAX_TIMER_MS) return { ok: false, reason: `${JSON.stringify(text)} is longer than the longest timer Node.js supports (${formatDuration(MAX_TIMER_SECONDS)})` };
  return { ok: true, value: ms };
}
