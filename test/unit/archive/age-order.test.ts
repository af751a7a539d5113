import { describe, expect, it } from '@jest/globals';
import { compareArchiveAge, type AgeOrdered } from '../../../src/archive/age-order.js';

const at = (fileName: string, timestampMs: number, mtimeMs: number): AgeOrdered => ({ fileName, name: { timestampMs }, fingerprint: { mtimeMs } });

describe('compareArchiveAge', () => {
  it.each([
    { name: 'the older name first, whatever the mtimes', older: at('b.tar', 1_000, 9_000), newer: at('a.tar', 2_000, 1_000) },
    { name: 'one name time: the older mtime first', older: at('b.tar', 1_000, 1_000), newer: at('a.tar', 1_000, 2_000) },
    { name: 'one name time and mtime: by file name', older: at('a.tar', 1_000, 1_000), newer: at('b.tar', 1_000, 1_000) },
  ])('$name', ({ older, newer }) => {
    expect(compareArchiveAge(older, newer)).toBeLessThan(0);
    expect(compareArchiveAge(newer, older)).toBeGreaterThan(0);
  });

  it('orders a list the same whatever order it comes in', () => {
    const list = [at('c.tar', 1, 1), at('a.tar', 1, 1), at('b.tar', 0, 5), at('d.tar', 1, 0)];
    const names = (items: AgeOrdered[]): string[] => [...items].sort(compareArchiveAge).map((a) => a.fileName);
    expect(names(list)).toEqual(['b.tar', 'd.tar', 'a.tar', 'c.tar']);
    expect(names([...list].reverse())).toEqual(names(list));
    expect(compareArchiveAge(list[0]!, list[0]!)).toBe(0);
  });
});
