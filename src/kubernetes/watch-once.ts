import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from './api-error.js';

export type WatchOutcome =
  | { readonly kind: 'stopped' }
  /** The server ended the watch; `proven` when it lived long enough or carried events. */
  | { readonly kind: 'closed'; readonly resourceVersion: string; readonly proven: boolean }
  | { readonly kind: 'expired' }
  | { readonly kind: 'failed'; readonly reason: string };

export interface WatchRequest {
  readonly kubeConfig: KubeConfig;
  /** The collection path the watch streams from, e.g. `/api/v1/pods`. */
  readonly watchPath: string;
  readonly fieldSelector?: string | undefined;
  /** Sent as the watch's timeoutSeconds: the server ends a healthy watch after this long. */
  readonly watchTimeoutSeconds: number;
  /** How long past timeoutSeconds a watch may stay open before it is declared dead. */
  readonly watchGraceMs: number;
}

/** Every event but ERROR, in order: ADDED, MODIFIED, DELETED and BOOKMARK. */
export type WatchEventHandler = (type: string, object: unknown) => void;

interface Destroyable {
  destroy(): void;
}

function isDestroyable(value: unknown): value is Destroyable {
  return value !== null && typeof value === 'object' && typeof (value as { destroy?: unknown }).destroy === 'function';
}

/**
 * The client's Watch keeps its AbortController to itself until the response headers arrive, so a server
 * that never answers would hold the watch forever. Each watch gets a fresh agent from the config; capturing
 * it lets the deadline destroy exactly that watch's socket, whatever stage the request is in.
 */
function withAgentCapture(kubeConfig: KubeConfig, capture: (agent: Destroyable) => void): KubeConfig {
  const wrapper = Object.create(kubeConfig) as KubeConfig;
  wrapper.applyToFetchOptions = async (opts) => {
    const init = await kubeConfig.applyToFetchOptions(opts);
    const agent = (init as { agent?: unknown }).agent;
    if (isDestroyable(agent)) capture(agent);
    return init;
  };
  return wrapper;
}

function resourceVersionOf(object: unknown): string | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (metadata === null || typeof metadata !== 'object') return undefined;
  const rv = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/**
 * One watch from `resourceVersion` until the server ends it, it fails, it outlives its timeout by the
 * grace (a dead connection), or `signal` aborts. Silence is not failure: a quiet watch is healthy until
 * its timeoutSeconds, when the server closes it.
 */
export function watchOnce(request: WatchRequest, resourceVersion: string, signal: AbortSignal, onEvent: WatchEventHandler): Promise<WatchOutcome> {
  const { watchTimeoutSeconds, watchGraceMs } = request;
  return new Promise<WatchOutcome>((resolve) => {
    let settled = false;
    let lastVersion = resourceVersion;
    let delivered = 0;
    let matured = false;
    let agent: Destroyable | undefined;
    let watchController: AbortController | undefined;
    const timers: NodeJS.Timeout[] = [];

    const settle = (outcome: WatchOutcome): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      watchController?.abort();
      agent?.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => settle({ kind: 'stopped' });
    signal.addEventListener('abort', onAbort, { once: true });

    // A watch the server ends well before its timeout, with nothing in it, proves little about the server.
    timers.push(setTimeout(() => (matured = true), (watchTimeoutSeconds * 1000) / 2));
    timers.push(
      setTimeout(
        () => settle({ kind: 'failed', reason: `watch still open ${watchGraceMs} ms past its ${watchTimeoutSeconds} s timeout; connection presumed dead` }),
        watchTimeoutSeconds * 1000 + watchGraceMs,
      ),
    );

    const config = withAgentCapture(request.kubeConfig, (captured) => {
      if (settled) captured.destroy();
      else agent = captured;
    });
    const query: Record<string, string | number | boolean> = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: watchTimeoutSeconds,
    };
    if (request.fieldSelector !== undefined) query['fieldSelector'] = request.fieldSelector;

    const handleEvent = (type: string, object: unknown): void => {
      if (settled) return;
      if (type === 'ERROR') {
        if (statusCodeOf(object) === 410) settle({ kind: 'expired' });
        else settle({ kind: 'failed', reason: `watch ERROR event: ${describeApiError(object)}` });
        return;
      }
      delivered += 1;
      lastVersion = resourceVersionOf(object) ?? lastVersion;
      onEvent(type, object);
    };
    const onDone = (error: unknown): void => {
      if (settled) return;
      if (error === null || error === undefined) {
        settle({ kind: 'closed', resourceVersion: lastVersion, proven: matured || delivered > 0 });
      } else if (statusCodeOf(error) === 410) {
        settle({ kind: 'expired' });
      } else {
        settle({ kind: 'failed', reason: `watch failed: ${describeApiError(error)}` });
      }
    };

    new Watch(config).watch(request.watchPath, query, handleEvent, onDone).then(
      (started) => {
        if (settled) started.abort();
        else watchController = started;
      },
      (error: unknown) => settle({ kind: 'failed', reason: `watch failed: ${describeApiError(error)}` }),
    );
  });
}
