import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  MAX_ARCHIVE_NAME_LENGTH,
  formatArchiveName,
  formatArchiveTimestamp,
  parseArchiveName,
  pinFileNameOf,
  pinFileNamesOf,
  pinTargetOf,
} from '../../../src/archive/archive-name.js';
import { numRuns } from '../../support/properties.js';

const valid = (stamp: string, pod = 'web-0', rest = 'shop-api-nginx'): string => `checkpoint-${pod}_${rest}-${stamp}.tar`;

describe('parseArchiveName: accepted names', () => {
  it.each([
    ['kubelet UTC', valid('2024-01-28T00:10:45Z'), Date.UTC(2024, 0, 28, 0, 10, 45)],
    ['positive offset', valid('2024-01-28T00:10:45+05:30'), Date.UTC(2024, 0, 27, 18, 40, 45)],
    ['negative offset', valid('2024-01-28T00:10:45-08:00'), Date.UTC(2024, 0, 28, 8, 10, 45)],
    ['minus zero offset means UTC', valid('2024-01-28T00:10:45-00:00'), Date.UTC(2024, 0, 28, 0, 10, 45)],
    ['no zone is read as UTC', valid('2024-01-28T00:10:45'), Date.UTC(2024, 0, 28, 0, 10, 45)],
    ['fractional seconds with zone', valid('2024-01-28T00:10:45.5Z'), Date.UTC(2024, 0, 28, 0, 10, 45, 500)],
    ['nanoseconds are truncated to ms', valid('2024-01-28T00:10:45.123999999Z'), Date.UTC(2024, 0, 28, 0, 10, 45, 123)],
    ['fraction without zone', valid('2024-01-28T00:10:45.25'), Date.UTC(2024, 0, 28, 0, 10, 45, 250)],
    ['fraction with offset', valid('2024-01-28T00:10:45.1+01:00'), Date.UTC(2024, 0, 27, 23, 10, 45, 100)],
    ['leap day', valid('2024-02-29T12:00:00Z'), Date.UTC(2024, 1, 29, 12)],
    ['year 2000 is a leap year', valid('2000-02-29T00:00:00Z'), Date.UTC(2000, 1, 29)],
    ['far future is fine', valid('2999-12-31T23:59:59Z'), Date.UTC(2999, 11, 31, 23, 59, 59)],
    ['two-digit year is not shifted to 19xx', valid('0024-03-01T00:00:00Z'), Date.parse('0024-03-01T00:00:00.000Z')],
  ])('%s', (_label, fileName, expectedMs) => {
    const parsed = parseArchiveName(fileName);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.timestampMs).toBe(expectedMs);
      expect(parsed.value.fileName).toBe(fileName);
      expect(parsed.value.timestampText).toBe(fileName.slice(fileName.length - 4 - parsed.value.timestampText.length, -4));
    }
  });

  it.each([
    ['dashes everywhere', 'checkpoint-web-7d9f-abc_shop-prod-cart-api-2024-01-28T00:10:45Z.tar', 'web-7d9f-abc', 'shop-prod-cart-api'],
    ['dotted pod name', 'checkpoint-db.primary-0_data-pg-2024-01-28T00:10:45Z.tar', 'db.primary-0', 'data-pg'],
    ['single-letter names', 'checkpoint-a_b-c-2024-01-28T00:10:45Z.tar', 'a', 'b-c'],
    ['digits in names', 'checkpoint-0_1-2-2024-01-28T00:10:45Z.tar', '0', '1-2'],
  ])('splits %s into pod and remainder', (_label, fileName, pod, remainder) => {
    const parsed = parseArchiveName(fileName);
    expect(parsed).toEqual({
      ok: true,
      value: expect.objectContaining({ pod, namespaceContainer: remainder, timestampText: '2024-01-28T00:10:45Z' }),
    });
  });
});

describe('parseArchiveName: rejected names', () => {
  it.each([
    ['wrong prefix', 'snapshot-web-0_shop-api-2024-01-28T00:10:45Z.tar', 'does not start with'],
    ['no .tar suffix', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z', 'does not end with ".tar"'],
    ['compressed suffix', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.gz', 'does not end with ".tar"'],
    ['pin file', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep', 'does not end with ".tar"'],
    ['partial download', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.tmp', 'does not end with ".tar"'],
    ['no timestamp', 'checkpoint-web-0_shop-api.tar', 'no RFC 3339 timestamp'],
    ['minutes only', 'checkpoint-web-0_shop-api-2024-01-28T00:10Z.tar', 'no RFC 3339 timestamp'],
    ['space instead of T', 'checkpoint-web-0_shop-api-2024-01-28 00:10:45Z.tar', 'no RFC 3339 timestamp'],
    ['ten fraction digits', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45.1234567890Z.tar', 'no RFC 3339 timestamp'],
    ['offset without colon', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45+0530.tar', 'no RFC 3339 timestamp'],
    ['month 13', 'checkpoint-web-0_shop-api-2024-13-01T00:10:45Z.tar', 'month 13 is out of range'],
    ['month 00', 'checkpoint-web-0_shop-api-2024-00-01T00:10:45Z.tar', 'month 00 is out of range'],
    ['Feb 30', 'checkpoint-web-0_shop-api-2024-02-30T00:10:45Z.tar', 'day 30 does not exist'],
    ['Feb 29 in a common year', 'checkpoint-web-0_shop-api-2023-02-29T00:10:45Z.tar', 'day 29 does not exist'],
    ['Feb 29 in 1900', 'checkpoint-web-0_shop-api-1900-02-29T00:10:45Z.tar', 'day 29 does not exist'],
    ['April 31', 'checkpoint-web-0_shop-api-2024-04-31T00:10:45Z.tar', 'day 31 does not exist'],
    ['day 00', 'checkpoint-web-0_shop-api-2024-04-00T00:10:45Z.tar', 'day 00 does not exist'],
    ['hour 25', 'checkpoint-web-0_shop-api-2024-01-28T25:10:45Z.tar', 'hour 25 is out of range'],
    ['hour 24', 'checkpoint-web-0_shop-api-2024-01-28T24:00:00Z.tar', 'hour 24 is out of range'],
    ['minute 60', 'checkpoint-web-0_shop-api-2024-01-28T00:60:45Z.tar', 'minute 60 is out of range'],
    ['leap second', 'checkpoint-web-0_shop-api-2016-12-31T23:59:60Z.tar', 'second 60 is out of range'],
    ['offset hour 24', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45+24:00.tar', 'zone offset +24:00'],
    ['offset minute 60', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45+05:60.tar', 'zone offset +05:60'],
    ['no underscore', 'checkpoint-web-0-shop-api-2024-01-28T00:10:45Z.tar', 'no "_"'],
    ['two underscores', 'checkpoint-web_0_shop-api-2024-01-28T00:10:45Z.tar', 'more than one "_"'],
    ['underscore in container', 'checkpoint-web-0_shop-api_x-2024-01-28T00:10:45Z.tar', 'more than one "_"'],
    ['empty pod', 'checkpoint-_shop-api-2024-01-28T00:10:45Z.tar', 'empty pod name'],
    ['empty remainder', 'checkpoint-web-0_-2024-01-28T00:10:45Z.tar', 'empty <namespace>-<container>'],
    ['remainder without dash', 'checkpoint-web-0_shopapi-2024-01-28T00:10:45Z.tar', 'no "-" between namespace and container'],
    ['empty namespace', 'checkpoint-web-0_-api-2024-01-28T00:10:45Z.tar', 'namespace or container name is empty'],
    ['empty container', 'checkpoint-web-0_shop--2024-01-28T00:10:45Z.tar', 'namespace or container name is empty'],
    ['upper-case pod', 'checkpoint-Web-0_shop-api-2024-01-28T00:10:45Z.tar', 'pod name has characters'],
    ['slash in pod', 'checkpoint-../x_shop-api-2024-01-28T00:10:45Z.tar', 'pod name has characters'],
    ['dot in remainder', 'checkpoint-web-0_shop.x-api-2024-01-28T00:10:45Z.tar', 'part has characters'],
    ['space in remainder', 'checkpoint-web-0_shop- api-2024-01-28T00:10:45Z.tar', 'part has characters'],
    ['empty string', '', 'does not start with'],
    ['only prefix and suffix', 'checkpoint-.tar', 'no RFC 3339 timestamp'],
  ])('%s', (_label, fileName, reasonPart) => {
    const parsed = parseArchiveName(fileName);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reasonPart);
  });

  it('refuses over-long names before matching them', () => {
    const long = valid('2024-01-28T00:10:45Z', 'p'.repeat(MAX_ARCHIVE_NAME_LENGTH));
    const parsed = parseArchiveName(long);
    expect(parsed).toEqual({ ok: false, reason: expect.stringContaining(`longer than ${MAX_ARCHIVE_NAME_LENGTH}`) });
  });
});

describe('pinTargetOf', () => {
  it.each([
    ['pin of an archive', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar'],
    ['archive itself', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar', undefined],
    ['pin of a non-archive', 'notes.txt.keep', undefined],
    ['pin of an invalid date', 'checkpoint-web-0_shop-api-2024-02-30T00:10:45Z.tar.keep', undefined],
    ['double pin', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep.keep', undefined],
    ['bare .keep', '.keep', undefined],
    ['pin being written', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep.tmp', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar'],
    ['pin being written of a non-archive', 'notes.txt.keep.tmp', undefined],
    ['pin being written of a pin', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep.keep.tmp', undefined],
    ['other temporary name of a pin', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.keep.tmp2', undefined],
    ['archive being written', 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar.tmp', undefined],
    ['bare .keep.tmp', '.keep.tmp', undefined],
  ])('%s', (_label, fileName, expected) => {
    expect(pinTargetOf(fileName)).toBe(expected);
  });

  it('is the inverse of pinFileNameOf for archive names', () => {
    const archive = 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar';
    expect(pinTargetOf(pinFileNameOf(archive))).toBe(archive);
  });

  it('is the inverse of both names pinFileNamesOf gives, the finished pin first', () => {
    const archive = 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar';
    expect(pinFileNamesOf(archive)).toEqual([`${archive}.keep`, `${archive}.keep.tmp`]);
    for (const pin of pinFileNamesOf(archive)) expect(pinTargetOf(pin)).toBe(archive);
  });
});

const label = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), maxLength: 20 }),
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
  )
  .map(([first, middle, last]) => `${first}${middle}${last}`);
const subdomain = fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
const instant = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true });

describe('archive name properties', () => {
  it('round-trips any valid pod, namespace, container and instant through the kubelet name', () => {
    fc.assert(
      fc.property(subdomain, label, label, instant, (pod, namespace, container, at) => {
        const fileName = formatArchiveName(pod, namespace, container, formatArchiveTimestamp(at));
        const parsed = parseArchiveName(fileName);
        expect(parsed).toEqual({
          ok: true,
          value: {
            fileName,
            pod,
            namespaceContainer: `${namespace}-${container}`,
            timestampText: formatArchiveTimestamp(at),
            timestampMs: Math.floor(at.getTime() / 1000) * 1000,
          },
        });
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('reads the same instant whatever zone offset the writer used', () => {
    const offset = fc.record({ sign: fc.constantFrom(1, -1), hours: fc.integer({ min: 0, max: 14 }), minutes: fc.constantFrom(0, 15, 30, 45) });
    fc.assert(
      fc.property(instant, offset, (at, { sign, hours, minutes }) => {
        const wholeSeconds = Math.floor(at.getTime() / 1000) * 1000;
        const offsetMs = sign * (hours * 60 + minutes) * 60_000;
        const local = new Date(wholeSeconds + offsetMs).toISOString().slice(0, 19);
        const zone = `${sign < 0 ? '-' : '+'}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
        const parsed = parseArchiveName(valid(`${local}${zone}`));
        expect(parsed.ok && parsed.value.timestampMs).toBe(wholeSeconds);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('never throws and always answers with a result on arbitrary strings', () => {
    const near = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom(...'checkpoint-_.tar0123456789:TZ+'), maxLength: 80 }),
      fc.string().map((middle) => `checkpoint-${middle}.tar`),
    );
    fc.assert(
      fc.property(near, (text) => {
        const parsed = parseArchiveName(text);
        expect(typeof parsed.ok).toBe('boolean');
        if (parsed.ok) {
          expect(Number.isFinite(parsed.value.timestampMs)).toBe(true);
          expect(parsed.value.pod).not.toContain('_');
          expect(parsed.value.namespaceContainer).toContain('-');
        } else {
          expect(parsed.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: numRuns(100) },
    );
  });
});
