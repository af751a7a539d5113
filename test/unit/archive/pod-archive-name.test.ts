import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_ARCHIVE_NAME_LENGTH, formatArchiveTimestamp, parseArchiveName, pinFileNamesOf } from '../../../src/archive/archive-name.js';
import { formatPodArchiveName, parsePodArchiveName, podPinTargetOf } from '../../../src/archive/pod-archive-name.js';
import { numRuns } from '../../support/properties.js';

const STAMP = '2026-03-01T10:20:30Z';

describe('parsePodArchiveName: accepted names', () => {
  it.each([
    ['kubelet name', `checkpoint-web-0_shop-${STAMP}.tar`, 'web-0', 'shop', Date.UTC(2026, 2, 1, 10, 20, 30)],
    ['namespace with dashes', `checkpoint-web-7d9f-abc_shop-prod-${STAMP}.tar`, 'web-7d9f-abc', 'shop-prod', Date.UTC(2026, 2, 1, 10, 20, 30)],
    ['dotted pod', `checkpoint-db.primary-0_default-${STAMP}.tar`, 'db.primary-0', 'default', Date.UTC(2026, 2, 1, 10, 20, 30)],
    ['offset and fraction', 'checkpoint-a_b-2026-03-01T10:20:30.5+01:00.tar', 'a', 'b', Date.UTC(2026, 2, 1, 9, 20, 30, 500)],
  ])('%s', (_label, fileName, pod, namespace, timestampMs) => {
    expect(parsePodArchiveName(fileName)).toEqual({ ok: true, value: expect.objectContaining({ fileName, pod, namespace, timestampMs }) });
  });
});

describe('parsePodArchiveName: rejected names', () => {
  it.each([
    ['wrong prefix', `snapshot-web-0_shop-${STAMP}.tar`, 'does not start with'],
    ['compressed suffix', `checkpoint-web-0_shop-${STAMP}.tar.gz`, 'does not end with ".tar"'],
    ['pin', `checkpoint-web-0_shop-${STAMP}.tar.keep`, 'does not end with ".tar"'],
    ['no timestamp', 'checkpoint-web-0_shop.tar', 'no RFC 3339 timestamp'],
    ['impossible date', 'checkpoint-web-0_shop-2026-02-30T00:00:00Z.tar', 'day 30 does not exist'],
    ['no underscore', `checkpoint-web-0-shop-${STAMP}.tar`, 'no "_"'],
    ['two underscores', `checkpoint-web_0_shop-${STAMP}.tar`, 'more than one "_"'],
    ['empty pod', `checkpoint-_shop-${STAMP}.tar`, 'empty pod name'],
    ['empty namespace', `checkpoint-web-0_-${STAMP}.tar`, 'empty namespace'],
    ['upper-case pod', `checkpoint-Web-0_shop-${STAMP}.tar`, 'not a DNS-1123 subdomain'],
    ['traversal in pod', `checkpoint-../x_shop-${STAMP}.tar`, 'not a DNS-1123 subdomain'],
    ['pod ending in a dash', `checkpoint-web-_shop-${STAMP}.tar`, 'not a DNS-1123 subdomain'],
    ['dot in namespace', `checkpoint-web-0_shop.x-${STAMP}.tar`, 'not a DNS-1123 label'],
    ['namespace ending in a dash', `checkpoint-web-0_shop--${STAMP}.tar`, 'not a DNS-1123 label'],
    ['namespace over 63 characters', `checkpoint-web-0_${'n'.repeat(64)}-${STAMP}.tar`, 'not a DNS-1123 label'],
    ['empty string', '', 'does not start with'],
  ])('%s', (_label, fileName, reasonPart) => {
    const parsed = parsePodArchiveName(fileName);
    expect(parsed).toEqual({ ok: false, reason: expect.stringContaining(reasonPart) });
  });

  it('refuses over-long names before matching them', () => {
    const parsed = parsePodArchiveName(formatPodArchiveName('p'.repeat(MAX_ARCHIVE_NAME_LENGTH), 'shop', STAMP));
    expect(parsed).toEqual({ ok: false, reason: expect.stringContaining(`longer than ${MAX_ARCHIVE_NAME_LENGTH}`) });
  });
});

describe('podPinTargetOf', () => {
  const archive = formatPodArchiveName('web-0', 'default', STAMP);
  it.each([
    ['finished pin', `${archive}.keep`, archive],
    ['pin being written', `${archive}.keep.tmp`, archive],
    ['archive itself', archive, undefined],
    ['pin of a non-archive', 'notes.txt.keep', undefined],
    ['double pin', `${archive}.keep.keep`, undefined],
    ['other temporary name', `${archive}.keep.tmp2`, undefined],
  ])('%s', (_label, fileName, expected) => {
    expect(podPinTargetOf(fileName)).toBe(expected);
  });

  it('knows both names pinFileNamesOf gives', () => {
    for (const pin of pinFileNamesOf(archive)) expect(podPinTargetOf(pin)).toBe(archive);
  });
});

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789');
const label = fc
  .tuple(alnum, fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), maxLength: 20 }), alnum)
  .map(([first, middle, last]) => `${first}${middle}${last}`);
const subdomain = fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
const instant = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true });

describe('pod archive name properties', () => {
  it('round-trips any valid pod, namespace and instant through the kubelet name', () => {
    fc.assert(
      fc.property(subdomain, label, instant, (pod, namespace, at) => {
        const timestampText = formatArchiveTimestamp(at);
        const fileName = formatPodArchiveName(pod, namespace, timestampText);
        expect(parsePodArchiveName(fileName)).toEqual({
          ok: true,
          value: { fileName, pod, namespace, timestampText, timestampMs: Math.floor(at.getTime() / 1000) * 1000 },
        });
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('never throws, and what it accepts is a valid pod and namespace whose name it formats back', () => {
    const near = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom(...'checkpoint-_.tar0123456789:TZ+/A'), maxLength: 80 }),
      fc.string().map((middle) => `checkpoint-${middle}.tar`),
    );
    fc.assert(
      fc.property(near, (text) => {
        const parsed = parsePodArchiveName(text);
        if (!parsed.ok) {
          expect(parsed.reason.length).toBeGreaterThan(0);
          return;
        }
        expect(Number.isFinite(parsed.value.timestampMs)).toBe(true);
        expect(parsed.value.pod).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
        expect(parsed.value.namespace).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
        expect(formatPodArchiveName(parsed.value.pod, parsed.value.namespace, parsed.value.timestampText)).toBe(text);
      }),
      { numRuns: numRuns(300) },
    );
  });

  it('a pod name with a one-label namespace is never a container archive name, so the directories cannot be mixed up', () => {
    fc.assert(
      fc.property(subdomain, label.filter((namespace) => !namespace.includes('-')), instant, (pod, namespace, at) => {
        expect(parseArchiveName(formatPodArchiveName(pod, namespace, formatArchiveTimestamp(at))).ok).toBe(false);
      }),
      { numRuns: numRuns(100) },
    );
  });
});
