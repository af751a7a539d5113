import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { formatBytes, formatQuantity, parseQuantity, parseQuantityValue, parseSizeValue } from '../../../src/retention/quantity.js';
import { formatDuration, MAX_TIMER_MS, parseDuration, parseDurationValue, parseIntervalMs } from '../../../src/retention/duration.js';
import { numRuns } from '../../support/properties.js';

describe('parseQuantity', () => {
  it.each([
    ['10', 10],
    ['+10', 10],
    ['0', 0],
    ['4Ki', 4096],
    ['4Mi', 4 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['2Ti', 2 * 1024 ** 4],
    ['1Pi', 1024 ** 5],
    ['500M', 500_000_000],
    ['1k', 1000],
    ['2G', 2e9],
    ['3T', 3e12],
    ['1P', 1e15],
    ['1e3', 1000],
    ['1E3', 1000],
    ['12e+2', 1200],
    ['2000e-3', 2],
    ['3000m', 3],
    ['0.5Ki', 512],
    ['.5Ki', 512],
    ['1.', 1],
    ['007', 7],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseQuantity(text)).toEqual({ ok: true, value: bytes });
  });

  it.each([
    ['12Qi', 'is not a Kubernetes quantity'],
    ['', 'is not a Kubernetes quantity'],
    ['Mi', 'is not a Kubernetes quantity'],
    ['4 Mi', 'is not a Kubernetes quantity'],
    ['4mi', 'is not a Kubernetes quantity'],
    ['4MiB', 'is not a Kubernetes quantity'],
    ['1e', 'is not a Kubernetes quantity'],
    ['0x10', 'is not a Kubernetes quantity'],
    ['-1', 'is negative'],
    ['-4Mi', 'is negative'],
    ['1.5', 'is not a whole number of bytes'],
    ['500m', 'is not a whole number of bytes'],
    ['1e-3', 'is not a whole number of bytes'],
    ['10E', 'is out of range'],
    ['1e99', 'is out of range'],
    ['9007199254740992', 'is out of range'],
    ['1'.repeat(65), 'longer than 64'],
  ])('%j is refused: %s', (text, message) => {
    const parsed = parseQuantity(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(message);
  });

  it.each([
    [1024, { ok: true, value: 1024 }],
    [0, { ok: true, value: 0 }],
    [-1, { ok: false, reason: '-1 is negative' }],
    [1.5, { ok: false, reason: '1.5 is not a whole number of bytes' }],
    [Infinity, { ok: false, reason: 'Infinity is not a Kubernetes quantity' }],
    [true, { ok: false, reason: 'expected a Kubernetes quantity (e.g. 4Mi), got boolean true' }],
    [null, { ok: false, reason: 'expected a Kubernetes quantity (e.g. 4Mi), got null' }],
  ])('YAML value %p', (value, expected) => {
    expect(parseQuantityValue(value)).toEqual(expected);
  });

  const suffixes: [string, bigint][] = [
    ['', 1n],
    ['k', 1000n],
    ['M', 1000n ** 2n],
    ['G', 1000n ** 3n],
    ['Ki', 1024n],
    ['Mi', 1024n ** 2n],
    ['Gi', 1024n ** 3n],
    ['Ti', 1024n ** 4n],
  ];

  it('agrees with exact integer arithmetic for every integer and suffix', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 7n }), fc.constantFrom(...suffixes), (n, [suffix, multiplier]) => {
        const exact = n * multiplier;
        const parsed = parseQuantity(`${n}${suffix}`);
        if (exact > BigInt(Number.MAX_SAFE_INTEGER)) expect(parsed.ok).toBe(false);
        else expect(parsed).toEqual({ ok: true, value: Number(exact) });
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('reads a decimal exponent as the same number written out', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 9 }), (n, e) => {
        expect(parseQuantity(`${n}e${e}`)).toEqual(parseQuantity(`${n}${'0'.repeat(e)}`));
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('never throws and only ever yields safe non-negative integers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[+-]?\d{0,20}\.?\d{0,20}([eE][+-]?\d{1,3}|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/)), (text) => {
        const parsed = parseQuantity(text);
        if (parsed.ok) {
          expect(Number.isSafeInteger(parsed.value)).toBe(true);
          expect(parsed.value).toBeGreaterThanOrEqual(0);
        } else {
          expect(parsed.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: numRuns(2000) },
    );
  });

  it.each([
    [10, '10 B'],
    [4096, '4 KiB'],
    [4 * 1024 ** 2, '4 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [1023, '1023 B'],
  ])('formatBytes(%d) is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90m', 5400],
    ['72h', 259_200],
    ['7d', 604_800],
    ['1h30m', 5400],
    ['1d2h3m4s', 93_784],
    ['0s', 0],
    ['0', 0],
    ['45s', 45],
  ])('%s is %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: seconds });
  });

  it.each(['', '10', '1.5h', '30m1h', '1h1h', '1w', '-5m', '5 m', 'm', '1H', '9'.repeat(40) + 's'])('%j is refused', (text) => {
    const parsed = parseDuration(text);
    expect(parsed.ok).toBe(false);
  });

  it('refuses a bare YAML number, whose unit would be a guess', () => {
    expect(parseDurationValue(600)).toEqual({ ok: false, reason: 'expected a duration string such as 90m or 7d, got number 600' });
  });

  it('round-trips through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toEqual({ ok: true, value: seconds });
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('accepts any combination of units in order as their sum', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }), { minLength: 4, maxLength: 4 }), (parts) => {
        const units = ['d', 'h', 'm', 's'];
        const text = parts.map((p, i) => (p === undefined ? '' : `${p}${units[i]}`)).join('');
        fc.pre(text !== '');
        const seconds = (parts[0] ?? 0) * 86_400 + (parts[1] ?? 0) * 3600 + (parts[2] ?? 0) * 60 + (parts[3] ?? 0);
        expect(parseDuration(text)).toEqual({ ok: true, value: seconds });
      }),
      { numRuns: numRuns(100) },
    );
  });
});

describe('parseSizeValue: a size carries a unit or is 0', () => {
  it.each([
    ['10Mi', 10 * 1024 ** 2],
    ['10M', 10_000_000],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['+4k', 4000],
    ['2T', 2e12],
    [0, 0],
    ['0', 0],
  ])('%p is %d bytes', (value, bytes) => {
    expect(parseSizeValue(value)).toEqual({ ok: true, value: bytes });
  });

  it.each([
    [10, '10 has no unit'],
    [1048576, 'write 1048576Mi or 1048576M if megabytes were meant, or 1Mi for 1048576 bytes'],
    ['10', '"10" has no unit'],
    ['1e3', '"1e3" has no unit'],
    ['1E3', '"1E3" has no unit'],
    ['0.5', '"0.5" has no unit'],
    ['00', '"00" has no unit'],
    ['-4Mi', '"-4Mi" is negative'],
    ['-10', '"-10" is negative'],
    [-1, '-1 is negative'],
    [1.5, '1.5 is not a whole number of bytes'],
    ['3000m', 'm is milli'],
    ['10MB', 'write M (10^6) or Mi (2^20) instead of MB'],
    ['10 Gi', 'is not a Kubernetes quantity'],
    [true, 'expected a Kubernetes quantity (e.g. 4Mi), got boolean true'],
  ])('%p is refused: %s', (value, message) => {
    const parsed = parseSizeValue(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(message);
  });

  it('refuses every bare number, however YAML hands it over, except zero', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: 1, max: 10 ** 9 }).map(String),
          fc.tuple(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 0, max: 12 })).map(([n, e]) => `${n}e${e}`),
        ),
        (value) => {
          const parsed = parseSizeValue(value);
          expect(parsed.ok).toBe(false);
          if (!parsed.ok) expect(parsed.reason).toContain('upstream operator documents sizes in megabytes');
        },
      ),
      { numRuns: numRuns(100) },
    );
  });
});

describe('formatQuantity', () => {
  it.each([
    [0, '0'],
    [1000, '1k'],
    [1024, '1Ki'],
    [4 * 1024 ** 2, '4Mi'],
    [1234, '1.234k'],
    [1500, '1.5k'],
    [10, '0.01k'],
    [6_291_456, '6Mi'],
    [2e9, '2G'],
  ])('%d is %s', (bytes, text) => {
    expect(formatQuantity(bytes)).toBe(text);
  });

  it('is exact: every byte count reads back as itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
        expect(parseSizeValue(formatQuantity(bytes))).toEqual({ ok: true, value: bytes });
      }),
      { numRuns: numRuns(100) },
    );
  });
});

describe('parseIntervalMs: intervals that feed a timer', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1000],
    ['5m', 300_000],
    ['24d20h31m23s', 2_147_483_000],
    [`${MAX_TIMER_MS}ms`, MAX_TIMER_MS],
  ])('%s is %d ms', (text, ms) => {
    expect(parseIntervalMs(text)).toEqual({ ok: true, value: ms });
  });

  it.each([
    ['0', 'is zero'],
    ['0s', 'is zero'],
    ['0ms', 'is zero'],
    ['1000d', 'is longer than the longest timer Node.js supports (24d20h31m23s)'],
    ['24d20h31m24s', 'is longer than the longest timer'],
    [`${MAX_TIMER_MS + 1}ms`, 'is longer than the longest timer'],
    ['soon', 'is not a duration'],
    ['1.5s', 'is not a duration'],
    ['-1s', 'is not a duration'],
    ['9'.repeat(40) + 'd', 'is not a duration'],
  ])('%s is refused: %s', (text, message) => {
    const parsed = parseIntervalMs(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(message);
  });

  it('accepts exactly the intervals a timer can hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 * MAX_TIMER_MS }), (ms) => {
        const parsed = parseIntervalMs(`${ms}ms`);
        expect(parsed.ok).toBe(ms > 0 && ms <= MAX_TIMER_MS);
      }),
      { numRuns: numRuns(100) },
    );
  });
});
