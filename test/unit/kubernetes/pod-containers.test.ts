import { describe, expect, it } from '@jest/globals';
import { containerNamesOf, identityKey, podKeyOf } from '../../../src/kubernetes/pod-containers.js';

describe('containerNamesOf', () => {
  it.each<[string, unknown, string[]]>([
    ['regular containers', { spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, ['a', 'b']],
    [
      'init and ephemeral containers count too',
      { spec: { containers: [{ name: 'a' }], initContainers: [{ name: 'init' }], ephemeralContainers: [{ name: 'dbg' }] } },
      ['a', 'init', 'dbg'],
    ],
    ['entries without a name are ignored', { spec: { containers: [{}, { name: '' }, { name: 7 }, { name: 'ok' }] } }, ['ok']],
    ['no spec', { metadata: {} }, []],
    ['not an object', 'pod', []],
  ])('%s', (_name, pod, expected) => {
    expect([...containerNamesOf(pod)]).toEqual(expected);
  });
});

describe('podKeyOf', () => {
  it.each<[string, unknown, string | undefined]>([
    ['namespaced pod', { metadata: { namespace: 'shop', name: 'web-0' } }, 'shop/web-0'],
    ['missing namespace', { metadata: { name: 'web-0' } }, undefined],
    ['empty name', { metadata: { namespace: 'shop', name: '' } }, undefined],
    ['no metadata', {}, undefined],
  ])('%s', (_name, pod, expected) => {
    expect(podKeyOf(pod)).toBe(expected);
  });
});

describe('identityKey', () => {
  it('separates the parts with a character Kubernetes names cannot contain', () => {
    expect(identityKey({ namespace: 'a-b', pod: 'c', container: 'd' })).not.toBe(identityKey({ namespace: 'a', pod: 'b-c', container: 'd' }));
  });
});
