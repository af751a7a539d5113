import { describe, expect, it } from '@jest/globals';
import { archiveFileNameOf, projectPodCheckpoint } from '../../../src/kubernetes/pod-checkpoint-watch.js';
import { referencedArchives } from '../../../src/daemon/pod-retention.js';

const ARCHIVE = 'checkpoint-web-0_default-2026-03-01T00:00:00Z.tar';
const located = (type: unknown, path: unknown): unknown => ({ status: { checkpointLocation: { type, path } } });

describe('archiveFileNameOf: the archive a PodCheckpoint object points at', () => {
  it.each([
    ['relative to the pod checkpoint directory', located('NodeLocal', ARCHIVE), ARCHIVE],
    ['relative to the kubelet root', located('NodeLocal', `pod-checkpoints/${ARCHIVE}`), ARCHIVE],
    ['with ./ and doubled slashes', located('NodeLocal', `./pod-checkpoints//${ARCHIVE}`), ARCHIVE],
    ['another location type', located('ObjectStore', ARCHIVE), undefined],
    ['an absolute path', located('NodeLocal', `/var/lib/kubelet/pod-checkpoints/${ARCHIVE}`), undefined],
    ['a path that climbs', located('NodeLocal', `../elsewhere/${ARCHIVE}`), undefined],
    ['an empty path', located('NodeLocal', ''), undefined],
    ['a path that is not a string', located('NodeLocal', 42), undefined],
    ['no status', {}, undefined],
  ])('%s', (_label, object, expected) => {
    expect(archiveFileNameOf(object)).toBe(expected);
  });

  it('projects namespace, name, source pod, phase and archive; an object without a name is dropped', () => {
    const object = { metadata: { namespace: 'default', name: 'warm' }, spec: { sourcePodName: 'web-0' }, status: { phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: ARCHIVE } } };
    expect(projectPodCheckpoint(object)).toEqual({ namespace: 'default', name: 'warm', sourcePodName: 'web-0', phase: 'Ready', archiveFileName: ARCHIVE });
    expect(projectPodCheckpoint({ metadata: { namespace: 'default' } })).toBeUndefined();
  });
});

describe('referencedArchives', () => {
  it('is unknown while the objects are, empty where the group is not served, and the named archives otherwise', () => {
    expect(referencedArchives({ kind: 'unknown' })).toBeUndefined();
    expect(referencedArchives({ kind: 'absent' })).toEqual(new Set());
    const objects = [
      { namespace: 'default', name: 'a', sourcePodName: 'web-0', phase: 'Ready', archiveFileName: ARCHIVE },
      { namespace: 'default', name: 'b', sourcePodName: 'web-0', phase: 'Failed', archiveFileName: undefined },
    ];
    expect(referencedArchives({ kind: 'known', objects })).toEqual(new Set([ARCHIVE]));
  });
});
