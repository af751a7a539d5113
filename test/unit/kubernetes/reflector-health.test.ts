import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { createReflectorHealth, type ReflectorHealth } from '../../../src/kubernetes/reflector-health.js';
import { createReflectorStore } from '../../../src/kubernetes/reflector-store.js';

function health(): { health: ReflectorHealth; changes: boolean[] } {
  const changes: boolean[] = [];
  return { health: createReflectorHealth({ name: 'pods', logger: pino({ level: 'silent' }), onHealthChange: (healthy) => changes.push(healthy) }), changes };
}

describe('reflector health', () => {
  it.each([
    ['a 410 is cleared by the relist', 'list' as const, ['list'] as const, true],
    ['a dead watch is not cleared by a list: the server may answer lists while watches hang', 'watch' as const, ['list'] as const, false],
    ['a dead watch is cleared by the watch delivering again', 'watch' as const, ['list', 'watch'] as const, true],
  ])('%s', (_name, proof, recoveries, healthyAfter) => {
    const { health: h, changes } = health();
    h.listed(() => undefined);
    h.fail('broken', proof);
    for (const by of recoveries) h.recover(by);
    expect(h.healthy()).toBe(healthyAfter);
    expect(changes).toEqual(healthyAfter ? [true, false, true] : [true, false]);
  });

  it('is not healthy before the first list, and says so', () => {
    expect(health().health.status()).toEqual({ healthy: false, synced: false, absent: false, reason: 'not synced yet' });
  });

  it('a failure after a watch failure still needs the watch', () => {
    const { health: h } = health();
    h.listed(() => undefined);
    h.fail('watch died', 'watch');
    h.fail('resourceVersion too old', 'list');
    h.recover('list');
    expect(h.status()).toMatchObject({ healthy: false, reason: 'resourceVersion too old' });
  });

  it('a type not served is healthy, reported once in a row, and a list ends it', () => {
    const { health: h, changes } = health();
    expect(h.markAbsent()).toBe(true);
    expect(h.markAbsent()).toBe(false);
    expect(h.status()).toEqual({ healthy: true, synced: false, absent: true, reason: undefined });
    h.listed(() => undefined);
    expect(h.status()).toEqual({ healthy: true, synced: true, absent: false, reason: undefined });
    expect(changes).toEqual([true]);
  });

  it('puts the listed items in place before telling anyone health changed', () => {
    const seen: number[] = [];
    const store = createReflectorStore<string>({ keyOf: (o) => (o as { k?: string }).k, project: (o) => (o as { v?: string }).v });
    const h = createReflectorHealth({ name: 'pods', logger: pino({ level: 'silent' }), onHealthChange: () => seen.push(store.current().size) });
    h.listed(() => store.replace([{ k: 'a', v: '1' }, { k: 'b' }, { v: 'no key' }]));
    expect(seen).toEqual([1]);
  });
});

describe('reflector store', () => {
  it('applies events, drops what projects to nothing, and tells the listener each time', () => {
    const told: string[][] = [];
    const store = createReflectorStore<string>({
      keyOf: (o) => (o as { k?: string }).k,
      project: (o) => (o as { v?: string }).v,
      onStoreChange: (s) => told.push([...s.keys()]),
    });
    store.replace([{ k: 'a', v: '1' }]);
    store.apply('ADDED', { k: 'b', v: '2' });
    store.apply('MODIFIED', { k: 'a' });
    store.apply('DELETED', { k: 'b', v: '2' });
    store.apply('ADDED', { v: 'no key' });
    expect(told).toEqual([['a', 'b'], ['b'], []]);
  });
});
