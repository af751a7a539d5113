import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { formatAge, formatShortDuration } from '../../../src/cli/format.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const UNIT_MS: Readonly<Record<string, number>> = { s: SECOND, m: MINUTE, h: HOUR, d: DAY, y: YEAR };
/** The next unit's size: a number in a unit stays below it (years have no ceiling). */
const CEILING: Readonly<Record<string, number>> = { s: 60, m: 60, h: 24, d: 365, y: Infinity };

function parse(text: string): { sign: number; value: number; unit: string } {
  const match = /^(-?)(\d+)([smhdy])$/.exec(text);
  if (!match) throw new Error(`not an age: ${text}`);
  return { sign: match[1] === '-' ? -1 : 1, value: Number(match[2]), unit: match[3] ?? '' };
}

describe('AGE in kubectl style', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [45 * SECOND, '45s'],
    [59 * SECOND + 999, '59s'],
    [MINUTE, '1m'],
    [5 * MINUTE + 59 * SECOND, '5m'],
    [59 * MINUTE, '59m'],
    [HOUR, '1h'],
    [3 * HOUR + 59 * MINUTE, '3h'],
    [23 * HOUR, '23h'],
    [DAY, '1d'],
    [2 * DAY + 23 * HOUR, '2d'],
    [364 * DAY, '364d'],
    [YEAR, '1y'],
    [3 * YEAR + 100 * DAY, '3y'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatShortDuration(ms)).toBe(text);
  });

  it('is one unit, rounded down, the largest that keeps the number at least 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 * YEAR }), (ms) => {
        const { sign, value, unit } = parse(formatShortDuration(ms));
        const size = UNIT_MS[unit] ?? NaN;
        expect(sign).toBe(1);
        expect(value).toBe(Math.floor(ms / size));
        expect(value).toBeLessThan(CEILING[unit] ?? 0);
        if (unit !== 's') expect(value).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('never decreases as time passes', () => {
    const magnitude = (text: string): number => {
      const { sign, value, unit } = parse(text);
      return sign * value * (UNIT_MS[unit] ?? NaN);
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 * YEAR }), fc.integer({ min: 0, max: 5 * YEAR }), (a, delta) => {
        expect(magnitude(formatShortDuration(a + delta))).toBeGreaterThanOrEqual(magnitude(formatShortDuration(a)));
      }),
      { numRuns: 500 },
    );
  });

  it('an age is the time since the name’s time; ahead of the clock by more than a second it is negative', () => {
    const now = Date.parse('2026-03-10T12:00:00Z');
    expect(formatAge(now - 3 * HOUR, now)).toBe('3h');
    expect(formatAge(now, now)).toBe('0s');
    expect(formatAge(now + 500, now)).toBe('0s');
    expect(formatAge(now + 3 * HOUR, now)).toBe('-3h');
    fc.assert(
      fc.property(fc.integer({ min: -10 * YEAR, max: 10 * YEAR }), (offset) => {
        const text = formatAge(now - offset, now);
        const { sign } = parse(text);
        expect(sign === -1).toBe(offset < -SECOND);
        expect(text.replace(/^-/, '')).toBe(formatShortDuration(Math.abs(offset < -SECOND ? offset : Math.max(0, offset))));
      }),
      { numRuns: 500 },
    );
  });
});
