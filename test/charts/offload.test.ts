import { describe, expect, it } from '@jest/globals';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { findObject, type KubeObject } from '../manifests/support/kube-object.js';
import { validateWithModel } from '../manifests/support/models.js';
import { helmUnavailableReason, renderChart } from './support/helm.js';

/** The chart's `offload` values, rendered by the real helm: arguments, the credentials Secret as env, the PVC mount, the schema. */
const withHelm = helmUnavailableReason() === undefined ? describe : describe.skip;
if (helmUnavailableReason() !== undefined) process.stderr.write(`\n*** SKIPPING the offload chart tests: ${helmUnavailableReason()} ***\n\n`);

const podOf = (objects: readonly KubeObject[]) => {
  const spec = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec;
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
};
const containerOf = (objects: readonly KubeObject[]) => {
  const container = podOf(objects).containers[0];
  if (container === undefined) throw new Error('no container');
  return container;
};
const offloadArgs = (args: readonly string[] | undefined): string[] => {
  const list = args ?? [];
  const first = list.indexOf('--offload-to');
  return first === -1 ? [] : list.slice(first).filter((arg, index, all) => arg.startsWith('--offload') || all[index - 1]?.startsWith('--offload') === true);
};

withHelm('chart: offload values', () => {
  it('off by default: no --offload flag, no envFrom, no offload volume', async () => {
    const objects = await renderChart();
    const container = containerOf(objects);
    expect((container.args ?? []).filter((arg) => arg.startsWith('--offload'))).toEqual([]);
    expect(container.envFrom).toBeUndefined();
    expect(podOf(objects).volumes?.map((volume) => volume.name)).not.toContain('offload');
  });

  it('an S3 target: its flags, and the credentials Secret as the environment the SDK reads', async () => {
    const objects = await renderChart({
      offload: { to: 's3://forensics/checkpoints', s3Endpoint: 'https://minio.storage.svc:9000', s3Region: 'eu-west-1', concurrency: 4, bandwidth: '50Mi', diskPressureDeletesUnoffloaded: true, credentialsSecret: 'offload-credentials' },
    });
    const container = containerOf(objects);
    expect(offloadArgs(container.args)).toEqual([
      '--offload-to', 's3://forensics/checkpoints',
      '--offload-s3-endpoint', 'https://minio.storage.svc:9000',
      '--offload-s3-region', 'eu-west-1',
      '--offload-concurrency', '4',
      '--offload-bandwidth', '50Mi',
      '--offload-disk-pressure-delete',
    ]);
    expect(container.envFrom).toEqual([{ secretRef: { name: 'offload-credentials' } }]);
    // Nothing secret in the arguments.
    expect(JSON.stringify(container.args)).not.toContain('offload-credentials');
    for (const object of objects) validateWithModel(object);
  });

  it('a directory target on a PersistentVolumeClaim: mounted read-write where --offload-to points', async () => {
    const objects = await renderChart({ offload: { to: '/var/lib/checkpoint-offload', persistentVolumeClaim: 'checkpoint-archive' } });
    expect(offloadArgs(containerOf(objects).args)).toEqual(['--offload-to', '/var/lib/checkpoint-offload', '--offload-concurrency', '2', '--offload-bandwidth', '0']);
    expect(containerOf(objects).volumeMounts).toContainEqual({ name: 'offload', mountPath: '/var/lib/checkpoint-offload' });
    expect(podOf(objects).volumes).toContainEqual({ name: 'offload', persistentVolumeClaim: { claimName: 'checkpoint-archive' } });
  });

  it.each([
    ['a relative directory', { to: 'relative/dir' }, 'offload.to'],
    ['an unknown key', { target: '/x' }, 'target'],
    ['a concurrency of 0', { to: '/x', concurrency: 0 }, 'concurrency'],
    ['a bandwidth without a number', { to: '/x', bandwidth: 'fast' }, 'bandwidth'],
    ['an endpoint that is not a URL', { to: 's3://bucket', s3Endpoint: 'minio:9000' }, 's3Endpoint'],
  ])('the schema refuses %s', async (_name, offload, wantErr) => {
    await expect(renderChart({ offload })).rejects.toThrow(wantErr);
  });

  it('refuses a PVC without a directory to mount it at', async () => {
    await expect(renderChart({ offload: { to: 's3://bucket/x', persistentVolumeClaim: 'claim' } })).rejects.toThrow('offload.persistentVolumeClaim needs offload.to');
  });
});
