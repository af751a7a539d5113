import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { createDeletionEventRecorder, createPolicyProblemEventWriter, type DeletionEventRecorder, type PolicyEventTarget } from '../kubernetes/events.js';
import { loadKubeConfig } from '../kubernetes/kube-config.js';
import { createPodView, type PodView } from '../kubernetes/pod-view.js';
import { watchPolicyObjects, type PolicyObject, type PolicyWatch } from '../kubernetes/policy-watch.js';
import { watchPodCheckpoints, type PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import type { OwnerLookup, PlannedDeletion } from '../retention/types.js';
import { ConfigurationError } from '../errors.js';

export interface KubernetesConnection {
  start(): void;
  /** Ends the watches and aborts owner lookups in flight, so a retention run waiting on them finishes at once. */
  stopWatching(): Promise<void>;
  /** Stops watching and sends the pending Events, waiting for them at most a few seconds. */
  stop(): Promise<void>;
  /** The pod view is healthy, so orphan decisions can be trusted (checkpoint_kubernetes_api_up). */
  healthy(): boolean;
  /** Policy objects have been listed once (or the CRD is known to be absent). */
  policiesSynced(): boolean;
  /** False without a node name: there is no pod view to wait for. */
  readonly watchesPods: boolean;
  resolveOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  /** The pods of pod-level archives (container ''): alive while the pod exists; unknown without a node name. */
  resolvePodOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  recordDeletion(deletion: PlannedDeletion, bytes: number): void;
  /** A Warning Event on a CheckpointRestoreOperator the exporter refuses; never throws, never waits. */
  recordPolicyProblem(object: PolicyEventTarget, problems: readonly string[]): void;
  /** KEP-5823's PodCheckpoint objects, which keep the pod-level archives they reference. */
  readonly podCheckpoints: PodCheckpointView;
}

export interface KubernetesWiringOptions {
  readonly kubeconfigPath: string | undefined;
  readonly nodeName: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  now(): number;
  onPolicyObjects(objects: readonly PolicyObject[]): void;
}

/** How long shutdown waits for the last deletion Events to reach the API server. */
const EVENT_FLUSH_DEADLINE_MS = 5_000;

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
    // The loader's reason may quote the file over several lines (a YAML error): the first names the problem.
    if (options.kubeconfigPath !== undefined) throw new ConfigurationError(loaded.reason.split('\n')[0] ?? loaded.reason);
    logger.info({ reason: loaded.reason }, 'Kubernetes API not configured: orphan cleanup, cluster policies and Events are off');
    return undefined;
  }
  const { kubeConfig, source } = loaded.value;
  logger.info({ source }, 'using the Kubernetes API');

  const policyWatch: PolicyWatch = watchPolicyObjects({ kubeConfig, logger, onChange: options.onPolicyObjects });
  const podCheckpoints = watchPodCheckpoints({ kubeConfig, logger });
  // Policy objects are cluster-wide, so their problems are reported with or without a node name.
  const policyEvents = createPolicyProblemEventWriter({ kubeConfig, logger, now: options.now, ...(options.nodeName ? { nodeName: options.nodeName } : {}) });
  let podView: PodView | undefined;
  let events: DeletionEventRecorder | undefined;
  if (options.nodeName === undefined || options.nodeName === '') {
    logger.warn('no node name (NODE_NAME or --node-name): orphan cleanup and Events are off');
  } else {
    podView = createPodView({ kubeConfig, nodeName: options.nodeName, logger, now: options.now });
    const pods = podView;
    events = createDeletionEventRecorder({ kubeConfig, nodeName: options.nodeName, logger, now: options.now, podUid: (namespace, name) => pods.uidOf(namespace, name) });
  }
  const noPodView = unknownOwners('no node name configured');

  return {
    start() {
      policyWatch.start();
      podView?.start();
      podCheckpoints.start();
    },
    async stopWatching() {
      await Promise.all([policyWatch.stop(), podView?.stop(), podCheckpoints.stop()]);
    },
    async stop() {
      await Promise.all([policyWatch.stop(), podView?.stop(), podCheckpoints.stop()]);
      // The pod's termination grace period is short: never let a slow API server hold up the exit.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, EVENT_FLUSH_DEADLINE_MS);
      });
      await Promise.race([Promise.all([events?.stop(), policyEvents.stop()]), deadline]);
      clearTimeout(timer);
    },
    healthy: () => podView?.healthy() ?? false,
    policiesSynced: () => policyWatch.synced(),
    watchesPods: podView !== undefined,
    resolveOwners: (identities) => (podView ? podView.resolveOwners(identities) : Promise.resolve(noPodView)),
    resolvePodOwners: (identities) => (podView ? podView.resolvePodOwners(identities) : Promise.resolve(noPodView)),
    recordDeletion(deletion, bytes) {
      events?.record(deletion, bytes);
    },
    recordPolicyProblem(object, problems) {
      policyEvents.report(object, problems);
    },
    podCheckpoints,
  };
}

/** How long `plan` waits for the API before it reports owners as unknown and gives up on cluster policies. */
const PLAN_SYNC_TIMEOUT_MS = 10_000;

export interface ClusterView {
  readonly owners: OwnerLookup;
  /** Undefined when the policy objects could not be listed in time. */
  readonly policyObjects: readonly PolicyObject[] | undefined;
  /** With a pod snapshot: the PodCheckpoint objects (`unknown` when not listed in time, `absent` without an API server or the group). */
  readonly podCheckpoints?: ReturnType<PodCheckpointView['state']>;
  /** With a pod snapshot and the objects known: the pods of its unpinned identified archives (container ''). */
  readonly podOwners?: OwnerLookup;
}

/** For a one-shot `plan`: starts the watches, waits for them to sync, resolves the owners, stops. */
export async function readClusterOnce(options: {
  snapshot: InventorySnapshot;
  /** The pod checkpoint directory's archives: their PodCheckpoint objects and pods are read too. */
  podSnapshot?: InventorySnapshot | undefined;
  kubeconfigPath: string | undefined;
  nodeName: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<ClusterView> {
  let policyObjects: readonly PolicyObject[] | undefined;
  const connection = connectKubernetes({
    ...options,
    now: Date.now,
    onPolicyObjects: (objects) => {
      policyObjects = objects;
    },
  });
  const { podSnapshot } = options;
  if (!connection) return { owners: unknownOwners('no Kubernetes API configured'), policyObjects: [], ...(podSnapshot ? { podCheckpoints: { kind: 'absent' } } : {}) };
  connection.start();
  try {
    const deadline = Date.now() + PLAN_SYNC_TIMEOUT_MS;
    const podCheckpointsRead = (): boolean => podSnapshot === undefined || connection.podCheckpoints.state().kind !== 'unknown';
    while (!((connection.healthy() || !connection.watchesPods) && connection.policiesSynced() && podCheckpointsRead()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const identities = options.snapshot.archives.flatMap((a) => (a.identity ? [a.identity] : []));
    const owners = await connection.resolveOwners(identities);
    const view = { owners, policyObjects: connection.policiesSynced() ? (policyObjects ?? []) : undefined };
    if (podSnapshot === undefined) return view;
    const podCheckpoints = connection.podCheckpoints.state();
    if (podCheckpoints.kind !== 'known') return { ...view, podCheckpoints };
    const pods = new Map<string, ArchiveIdentity>();
    for (const archive of podSnapshot.archives) if (archive.identity && !archive.pinned) pods.set(`${archive.identity.namespace}/${archive.identity.pod}`, { ...archive.identity, container: '' });
    return { ...view, podCheckpoints, podOwners: await connection.resolvePodOwners([...pods.values()]) };
  } finally {
    await connection.stop();
  }
}
