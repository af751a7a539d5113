/**
 * The defaults the command line shows and the daemon falls back to, in one place below both, so the
 * daemon never reaches up into the command line (and its flag parser) for a value.
 */

/** Where the kubelet writes checkpoint archives (`/var/lib/kubelet/checkpoints`), unless a flag or the policy says otherwise. */
export const DEFAULT_CHECKPOINT_DIRECTORY = '/var/lib/kubelet/checkpoints';

/** Where the kubelet writes pod-level checkpoint archives (KEP-5823, behind its PodLevelCheckpointRestore gate). */
export const DEFAULT_POD_CHECKPOINT_DIRECTORY = '/var/lib/kubelet/pod-checkpoints';

/** Every interface, the exporter's port. */
export const DEFAULT_LISTEN_ADDRESS = ':9873';

/**
 * The namespace the exporter runs in unless POD_NAMESPACE or --exporter-namespace says otherwise:
 * CheckpointRestoreOperator objects there may set every policy.
 */
export const DEFAULT_EXPORTER_NAMESPACE = 'checkpoint-exporter';

/** An archive counts once its size and mtime are unchanged this long (the kubelet writes it in pieces). */
export const DEFAULT_SETTLE_TIME_MS = 2_000;

/** A full rescan that heals missed events; retention runs after each. */
export const DEFAULT_RESYNC_INTERVAL_MS = 5 * 60_000;

/**
 * One stat of the directory per interval: it notices a directory replaced or gone, a missing one that
 * appeared, and events the watch lost (the directory's mtime/ctime moved while no event came), so the
 * inventory heals within seconds rather than at the next periodic resync. The policy file's watch
 * polls for its directory at the same cadence.
 */
export const DEFAULT_DIRECTORY_POLL_INTERVAL_MS = 2_000;

/** Clocks disagree by seconds, not by ten minutes: beyond this, a name's time is not to be trusted. */
export const DEFAULT_FUTURE_TOLERANCE_MS = 10 * 60_000;
