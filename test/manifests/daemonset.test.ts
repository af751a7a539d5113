import { beforeAll, describe, expect, it } from '@jest/globals';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IIoK8sApiCoreV1Container } from 'kubernetes-models/v1/Container';
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1/PodSpec';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { findObject, type KubeObject } from './support/kube-object.js';
import { loadTarget, ROOT } from './support/targets.js';

const CHECKPOINT_DIR = '/var/lib/kubelet/checkpoints';
const POD_CHECKPOINT_DIR = '/var/lib/kubelet/pod-checkpoints';
const STATE_DIR = '/var/lib/checkpoint-exporter';
const METRICS_PORT = 9873;

function daemonSetOf(objects: readonly KubeObject[]): IDaemonSet {
  return findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
}

function podSpecOf(daemonSet: IDaemonSet): IIoK8sApiCoreV1PodSpec {
  const spec = daemonSet.spec?.template.spec;
  if (spec === undefined) throw new Error('DaemonSet has no pod spec');
  return spec;
}

function exporterOf(daemonSet: IDaemonSet): IIoK8sApiCoreV1Container {
  const containers = podSpecOf(daemonSet).containers;
  expect(containers.map((container) => container.name)).toEqual(['exporter']);
  return containers[0] as IIoK8sApiCoreV1Container;
}

let installed: IDaemonSet;
let dryRun: IDaemonSet;

beforeAll(async () => {
  installed = daemonSetOf(await loadTarget('install'));
  dryRun = daemonSetOf(await loadTarget('dryRun'));
});

describe('exporter DaemonSet', () => {
  it('runs the image of this version with serve, the kubelet checkpoint directory and the metrics port', async () => {
    const exporter = exporterOf(installed);
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(exporter.image).toBe(`ghcr.io/checkpoint-exporter/checkpoint-exporter:${version}`);
    expect(exporter.command).toBeUndefined();
    expect(exporter.args).toEqual([
      'serve',
      '--checkpoint-dir',
      CHECKPOINT_DIR,
      '--pod-checkpoint-dir',
      POD_CHECKPOINT_DIR,
      '--listen-address',
      `0.0.0.0:${METRICS_PORT}`,
      '--container-metrics',
      'all',
      '--state-dir',
      STATE_DIR,
    ]);
    expect(exporter.ports).toEqual([{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }]);
  });

  it('mounts the host checkpoint directory read-write at the same path, created if missing', () => {
    const spec = podSpecOf(installed);
    expect(spec.volumes).toEqual([
      { name: 'checkpoints', hostPath: { path: CHECKPOINT_DIR, type: 'DirectoryOrCreate' } },
      { name: 'pod-checkpoints', hostPath: { path: POD_CHECKPOINT_DIR, type: 'DirectoryOrCreate' } },
      { name: 'state', hostPath: { path: STATE_DIR, type: 'DirectoryOrCreate' } },
    ]);
    const mounts = exporterOf(installed).volumeMounts ?? [];
    expect(mounts).toEqual([
      { name: 'checkpoints', mountPath: CHECKPOINT_DIR },
      { name: 'pod-checkpoints', mountPath: POD_CHECKPOINT_DIR },
      { name: 'state', mountPath: STATE_DIR },
    ]);
    expect(mounts[0]?.readOnly).toBeUndefined();
  });

  it('passes the node name and its own namespace from the downward API', () => {
    expect(exporterOf(installed).env).toEqual([
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
  });

  it('probes liveness on /healthz and readiness on /readyz through the metrics port', () => {
    const exporter = exporterOf(installed);
    expect(exporter.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(exporter.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
  });

  it('gives the first full scan five minutes through a startup probe on /readyz before liveness counts', () => {
    const startup = exporterOf(installed).startupProbe;
    expect(startup?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(startup?.periodSeconds).toBe(5);
    expect(startup?.failureThreshold).toBe(60);
    expect((startup?.periodSeconds ?? 0) * (startup?.failureThreshold ?? 0)).toBe(300);
  });

  it('runs as uid 0 with every capability dropped, no escalation, a read-only root and the runtime seccomp profile', () => {
    const spec = podSpecOf(installed);
    expect(spec.securityContext).toEqual({ runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.hostPID).toBeUndefined();
    expect(exporterOf(installed).securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('schedules on every node at node-critical priority, under its own service account', () => {
    const spec = podSpecOf(installed);
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.serviceAccountName).toBe('checkpoint-exporter');
  });

  it('requests and limits CPU and memory', () => {
    expect(exporterOf(installed).resources).toEqual({ requests: { cpu: '50m', memory: '192Mi' }, limits: { cpu: '1', memory: '512Mi' } });
  });

  it('rolls out 10 % of the nodes at a time, never two pods on a node, selecting its pods by a label the template carries', () => {
    expect(installed.spec?.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    const selector = installed.spec?.selector.matchLabels ?? {};
    expect(selector).toEqual({ 'app.kubernetes.io/name': 'checkpoint-exporter' });
    expect(installed.spec?.template.metadata?.labels).toMatchObject(selector);
  });

  it('announces the metrics endpoint to annotation-based Prometheus discovery', () => {
    expect(installed.spec?.template.metadata?.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(METRICS_PORT),
      'prometheus.io/path': '/metrics',
    });
  });

  it('differs in the dry-run overlay only by --dry-run appended to the arguments and a read-only mount', () => {
    expect(exporterOf(dryRun).args).toEqual([...(exporterOf(installed).args ?? []), '--dry-run']);
    expect(exporterOf(dryRun).volumeMounts).toEqual([
      { name: 'checkpoints', mountPath: CHECKPOINT_DIR, readOnly: true },
      { name: 'pod-checkpoints', mountPath: POD_CHECKPOINT_DIR, readOnly: true },
      // The persisted index is the exporter's own state, written in a dry run too.
      { name: 'state', mountPath: STATE_DIR },
    ]);
    const withoutDifferences = (daemonSet: IDaemonSet): unknown => {
      const copy = structuredClone(daemonSet);
      const container = copy.spec?.template.spec?.containers[0] as { args?: string[]; volumeMounts?: unknown };
      delete container.args;
      delete container.volumeMounts;
      return copy;
    };
    expect(withoutDifferences(dryRun)).toEqual(withoutDifferences(installed));
  });
});
