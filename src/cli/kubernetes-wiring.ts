import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { createDeletionEventRecorder, type DeletionEventRecorder } from '../kubernetes/events.js';
import { loadKubeConfig } from '../kubernetes/kube-config.js';
import { createPodView, type PodView } from '../kubernetes/pod-view.js';
import { watchPolicyObjects, type PolicyObject, type PolicyWatch } from '../kubernetes/policy-watch.js';
import type { OwnerLookup, PlannedDeletion } from '../retention/types.js';

export interface KubernetesConnection {
  start(): void;
  stop(): Promise<void>;
  /** The pod view is healthy, so orphan decisions can be trusted (checkpoint_kubernetes_api_up). */
  healthy(): boolean;
  resolveOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  recordDeletion(deletion: PlannedDeletion, bytes: number): void;
}

export interface KubernetesWiringOptions {
  readonly kubeconfigPath: string | undefined;
  readonly nodeName: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  now(): number;
  onPolicyObjects(objects: readonly PolicyObject[]): void;
}

const unknownOwners =
  (reason: string): OwnerLookup =>
  () => ({ state: 'unknown', reason });

/**
 * Connects the pod view, the policy watch and the Event recorder when an API server is configured.
 * Without one, or without a node name, orphan cleanup is off; that is said once, at start.
 */
export function connectKubernetes(options: KubernetesWiringOptions): KubernetesConnection | undefined {
  const { logger } = options;
  const loaded = loadKubeConfig({ kubeconfigPath: options.kubeconfigPath, env: options.env });
  if (!loaded.ok) {
    if (options.kubeconfigPath !== undefined) throw new Error(loaded.reason);
    logger.info({ reason: loaded.reason }, 'Kubernetes API not configured: orphan cleanup, cluster policies and Events are off');
    return undefined;
  }
  const { kubeConfig, source } = loaded.value;
  logger.info({ source }, 'using the Kubernetes API');

  const policyWatch: PolicyWatch = watchPolicyObjects({ kubeConfig, logger, onChange: options.onPolicyObjects });
  let podView: PodView | undefined;
  let events: DeletionEventRecorder | undefined;
  if (options.nodeName === undefined || options.nodeName === '') {
    logger.warn('no node name (NODE_NAME or --node-name): orphan cleanup and Events are off');
  } else {
    podView = createPodView({ kubeConfig, nodeName: options.nodeName, logger, now: options.now });
    events = createDeletionEventRecorder({ kubeConfig, nodeName: options.nodeName, logger, now: options.now });
  }
  const noPodView = unknownOwners('no node name configured');

  return {
    start() {
      policyWatch.start();
      podView?.start();
    },
    async stop() {
      await Promise.all([policyWatch.stop(), podView?.stop(), events?.stop()]);
    },
    healthy: () => podView?.healthy() ?? false,
    resolveOwners: (identities) => (podView ? podView.resolveOwners(identities) : Promise.resolve(noPodView)),
    recordDeletion(deletion, bytes) {
      events?.record(deletion, bytes);
    },
  };
}

/** Waits this long for the pod view to sync before `plan` reports owners as unknown. */
const PLAN_SYNC_TIMEOUT_MS = 10_000;

/** Owners for a one-shot `plan`: starts a pod view, waits for it to sync, resolves, stops. */
export async function resolveOwnersOnce(options: {
  snapshot: InventorySnapshot;
  kubeconfigPath: string | undefined;
  nodeName: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<OwnerLookup> {
  const connection = connectKubernetes({ ...options, now: Date.now, onPolicyObjects: () => undefined });
  if (!connection) return unknownOwners('no Kubernetes API configured');
  connection.start();
  try {
    const deadline = Date.now() + PLAN_SYNC_TIMEOUT_MS;
    while (!connection.healthy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const identities = options.snapshot.archives.flatMap((a) => (a.identity ? [a.identity] : []));
    return await connection.resolveOwners(identities);
  } finally {
    await connection.stop();
  }
}
