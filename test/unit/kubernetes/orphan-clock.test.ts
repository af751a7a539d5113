import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { advanceOrphanClock, EMPTY_ORPHAN_CLOCK, type OrphanClock, type OwnerVerdict } from '../../../src/kubernetes/orphan-clock.js';

describe('advanceOrphanClock', () => {
  it.each<[string, ReadonlyArray<OwnerVerdict>, number | undefined]>([
    ['first orphan sighting starts the clock now', ['alive', 'unknown', 'orphan'], 3],
    ['continuous orphan keeps the first sighting', ['orphan', 'orphan', 'orphan'], 1],
    ['alive in between restarts the clock', ['orphan', 'alive', 'orphan'], 3],
    ['unknown in between restarts the clock', ['orphan', 'unknown', 'orphan', 'orphan'], 3],
    ['ending alive clears it', ['orphan', 'orphan', 'alive'], undefined],
    ['ending unknown clears it', ['orphan', 'unknown'], undefined],
  ])('%s', (_name, rounds, expectedSince) => {
    let clock: OrphanClock = EMPTY_ORPHAN_CLOCK;
    rounds.forEach((verdict, round) => {
      clock = advanceOrphanClock(clock, [['a', verdict]], round + 1);
    });
    expect(clock.get('a')).toBe(expectedSince);
  });

  it('forgets an owner that is not observed in a round', () => {
    const first = advanceOrphanClock(EMPTY_ORPHAN_CLOCK, [['a', 'orphan'], ['b', 'orphan']], 10);
    const second = advanceOrphanClock(first, [['b', 'orphan']], 20);
    const third = advanceOrphanClock(second, [['a', 'orphan'], ['b', 'orphan']], 30);
    expect(third.get('a')).toBe(30);
    expect(third.get('b')).toBe(10);
  });

  it('does not mutate its input', () => {
    const first = advanceOrphanClock(EMPTY_ORPHAN_CLOCK, [['a', 'orphan']], 10);
    advanceOrphanClock(first, [['a', 'alive']], 20);
    expect(first.get('a')).toBe(10);
  });

  const verdict = fc.constantFrom<OwnerVerdict>('alive', 'orphan', 'unknown');

  it('since is always the start of the trailing run of orphan rounds (property)', () => {
    fc.assert(
      fc.property(fc.array(verdict, { maxLength: 40 }), (rounds) => {
        let clock: OrphanClock = EMPTY_ORPHAN_CLOCK;
        rounds.forEach((v, i) => {
          clock = advanceOrphanClock(clock, [['k', v]], 1000 + i);
        });
        let start = rounds.length;
        while (start > 0 && rounds[start - 1] === 'orphan') start -= 1;
        const expected = start === rounds.length ? undefined : 1000 + start;
        expect(clock.get('k')).toBe(expected);
      }),
    );
  });

  it('only ever holds orphans of the latest round, never later than now (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.tuple(fc.constantFrom<string>('a', 'b', 'c', 'd'), verdict), { maxLength: 6 }), { maxLength: 20 }),
        (rounds) => {
          let clock: OrphanClock = EMPTY_ORPHAN_CLOCK;
          rounds.forEach((observations, i) => {
            clock = advanceOrphanClock(clock, observations, i * 10);
            const orphans = new Set(observations.filter(([, v]) => v === 'orphan').map(([k]) => k));
            for (const [key, since] of clock) {
              expect(orphans.has(key)).toBe(true);
              expect(since).toBeLessThanOrEqual(i * 10);
            }
          });
        },
      ),
    );
  });
});
