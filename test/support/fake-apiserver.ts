/**
 * An in-process stand-in for the Kubernetes API server, driven by the real @kubernetes/client-node
 * over loopback HTTP. It speaks the real list/watch wire format (lists carry metadata.resourceVersion;
 * `?watch=true` streams newline-delimited `{"type":...,"object":...}` events, honours resourceVersion,
 * timeoutSeconds, allowWatchBookmarks and `spec.nodeName` field selectors; too-old versions get 410),
 * and lets a test inject the failures a real cluster produces: 403/500 answers, stalled and dropped
 * watches, expired resource versions, a missing CRD. It also answers TokenReview and
 * SubjectAccessReview POSTs from a token table and an allow table the test fills, as the API server
 * does for a client that checks access with it (kube-rbac-proxy, the exporter's `--auth kubernetes`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export type Route =
  | 'pods:list'
  | 'pods:watch'
  | 'pods:get'
  | 'policies:list'
  | 'policies:watch'
  | 'podcheckpoints:list'
  | 'podcheckpoints:watch'
  | 'events:create'
  | 'events:patch'
  | 'events:get'
  | 'tokenreviews:create'
  | 'subjectaccessreviews:create';

/** The user a TokenReview returns for a known token. */
export interface ReviewUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export type Fault =
  /** Answer with this HTTP status and a Status body. */
  | { readonly kind: 'status'; readonly code: number }
  /** Accept the connection and never answer, not even headers. */
  | { readonly kind: 'stall-before-headers' }
  /** Send 200 headers, then nothing, ignoring timeoutSeconds: a half-open watch. */
  | { readonly kind: 'stall-after-headers' }
  /** Destroy the socket as soon as the request arrives. */
  | { readonly kind: 'drop' };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly route: Route | undefined;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface PodSpecInput {
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly containers: readonly string[];
  readonly initContainers?: readonly string[];
  readonly ephemeralContainers?: readonly string[];
}

export interface FakeApiServer {
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  /** A kubeconfig document pointing the real client at this server. */
  kubeconfigYaml(): string;
  kubeConfig(): KubeConfig;
  upsertPod(input: PodSpecInput): KubeObject;
  deletePod(namespace: string, name: string): void;
  upsertPolicy(namespace: string, name: string, spec: unknown): KubeObject;
  deletePolicy(namespace: string, name: string): void;
  /** While false, every criu.org path answers 404 as for an uninstalled CRD. */
  setPolicyCrdInstalled(installed: boolean): void;
  /** KEP-5823's PodCheckpoint (checkpoint.k8s.io/v1alpha1); `status` as the kubelet would set it. */
  upsertPodCheckpoint(namespace: string, name: string, spec: unknown, status: unknown): KubeObject;
  deletePodCheckpoint(namespace: string, name: string): void;
  /** Until set true, every checkpoint.k8s.io path answers 404, as where the feature gate is off. */
  setPodCheckpointGroupServed(served: boolean): void;
  events(): readonly KubeObject[];
  deleteEvent(namespace: string, name: string): void;
  setFault(route: Route | '*', fault: Fault | undefined): void;
  /** A TokenReview of `token` authenticates it as `user`; unknown tokens are not authenticated. */
  addToken(token: string, user: ReviewUser): void;
  /**
   * A SubjectAccessReview allows `get` on `path` for this user name, or for any member of a group given
   * as `group:<name>`. A path ending in `*` matches by prefix, as RBAC's nonResourceURLs do.
   */
  allowNonResource(subject: string, path: string): void;
  /** When false, allowWatchBookmarks is ignored, as some servers and proxies do. */
  setBookmarksEnabled(enabled: boolean): void;
  /** Send a BOOKMARK at the current resourceVersion on every watch that asked for bookmarks. */
  sendBookmarks(): number;
  /**
   * Make every resourceVersion issued so far too old. Open watches get an ERROR event with a 410 Status
   * (or are simply closed when `via` is 'http'); re-watches from an old version get 410 the same way.
   */
  expireResourceVersions(via: 'error-event' | 'http'): void;
  /** Destroy the sockets of every open watch. */
  dropWatches(): void;
  openWatches(route?: Route): number;
  countRequests(route: Route, predicate?: (request: RecordedRequest) => boolean): number;
  close(): Promise<void>;
}

interface Collection {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly objects: Map<string, KubeObject>;
  /** Every change, oldest first, so a watch can resume from any unexpired resourceVersion. */
  readonly history: HistoryEntry[];
}

interface HistoryEntry {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

interface OpenWatch {
  readonly route: Route;
  readonly collection: Collection;
  readonly namespace: string | undefined;
  readonly selector: FieldSelector;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
  readonly socket: Socket;
  closed: boolean;
  timer: NodeJS.Timeout | undefined;
}

type FieldSelector = (object: KubeObject) => boolean;

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details: details ?? {}, code };
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'AlreadyExists',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function fieldValue(object: KubeObject, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return '';
    current = (current as Record<string, unknown>)[part];
  }
  return typeof current === 'string' ? current : '';
}

const SUPPORTED_FIELDS = new Set(['metadata.name', 'metadata.namespace', 'spec.nodeName']);

function parseFieldSelector(text: string | null): FieldSelector | { error: string } {
  if (!text) return () => true;
  const terms: Array<{ field: string; value: string; negate: boolean }> = [];
  for (const term of text.split(',')) {
    const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!match) return { error: `invalid field selector term "${term}"` };
    const [, field = '', op, value = ''] = match;
    if (!SUPPORTED_FIELDS.has(field)) return { error: `field label not supported: ${field}` };
    terms.push({ field, value, negate: op === '!=' });
  }
  return (object) => terms.every((t) => (fieldValue(object, t.field) === t.value) !== t.negate);
}

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(text);
      }
    });
    request.on('error', () => resolve(undefined));
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

export function buildPod(input: PodSpecInput, uid: string): KubeObject {
  const container = (name: string): Record<string, unknown> => ({ name, image: `registry.example/${name}:1` });
  const spec: Record<string, unknown> = { nodeName: input.nodeName, containers: input.containers.map(container) };
  if (input.initContainers) spec['initContainers'] = input.initContainers.map(container);
  if (input.ephemeralContainers) spec['ephemeralContainers'] = input.ephemeralContainers.map(container);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: input.name, namespace: input.namespace, uid },
    spec,
    status: { phase: 'Running' },
  };
}

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let resourceVersion = 100;
  /** Versions at or below this are too old to watch from. */
  let expiredThrough = 0;
  let uidCounter = 0;
  let bookmarksEnabled = true;
  let policyCrdInstalled = true;
  let podCheckpointGroupServed = false;
  let expiryVia: 'error-event' | 'http' = 'error-event';
  const requests: RecordedRequest[] = [];
  const faults = new Map<Route | '*', Fault>();
  const watches = new Set<OpenWatch>();
  const sockets = new Set<Socket>();
  const pods: Collection = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', objects: new Map(), history: [] };
  const policies: Collection = {
    group: 'criu.org',
    version: 'v1',
    plural: 'checkpointrestoreoperators',
    kind: 'CheckpointRestoreOperator',
    objects: new Map(),
    history: [],
  };
  const podCheckpoints: Collection = { group: 'checkpoint.k8s.io', version: 'v1alpha1', plural: 'podcheckpoints', kind: 'PodCheckpoint', objects: new Map(), history: [] };
  const events = new Map<string, KubeObject>();
  const tokens = new Map<string, ReviewUser>();
  const allowed: Array<{ readonly subject: string; readonly path: string }> = [];

  const sendJson = (response: ServerResponse, code: number, body: unknown): void => {
    const text = JSON.stringify(body);
    response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
  };
  const sendStatus = (response: ServerResponse, code: number, message: string, details?: Record<string, unknown>): void =>
    sendJson(response, code, statusBody(code, REASONS[code] ?? 'Unknown', message, details));

  const writeEvent = (watch: OpenWatch, type: string, object: unknown): void => {
    if (watch.closed) return;
    watch.response.write(`${JSON.stringify({ type, object })}\n`);
  };
  const endWatch = (watch: OpenWatch): void => {
    if (watch.closed) return;
    watch.closed = true;
    if (watch.timer) clearTimeout(watch.timer);
    watches.delete(watch);
    watch.response.end();
  };

  /** What a watcher with this selector sees of one change: the API server turns selector transitions into ADDED/DELETED. */
  const projectEvent = (watch: OpenWatch, entry: HistoryEntry): { type: string; object: KubeObject } | undefined => {
    const inScope = (o: KubeObject | undefined): boolean =>
      o !== undefined && (watch.namespace === undefined || o.metadata.namespace === watch.namespace) && watch.selector(o);
    const before = entry.type !== 'ADDED' && inScope(entry.previous);
    const after = inScope(entry.object);
    if (entry.type === 'DELETED') return before ? { type: 'DELETED', object: entry.object } : undefined;
    if (before && after) return { type: 'MODIFIED', object: entry.object };
    if (!before && after) return { type: 'ADDED', object: entry.object };
    if (before && !after) return { type: 'DELETED', object: entry.object };
    return undefined;
  };

  const commit = (collection: Collection, type: HistoryEntry['type'], object: KubeObject, previous: KubeObject | undefined): void => {
    resourceVersion += 1;
    const stamped: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(resourceVersion) } };
    if (type === 'DELETED') collection.objects.delete(keyOf(stamped.metadata.namespace, stamped.metadata.name));
    else collection.objects.set(keyOf(stamped.metadata.namespace, stamped.metadata.name), stamped);
    const entry: HistoryEntry = { rv: resourceVersion, type, object: stamped, previous };
    collection.history.push(entry);
    for (const watch of watches) {
      if (watch.collection !== collection) continue;
      const projected = projectEvent(watch, entry);
      if (projected) writeEvent(watch, projected.type, projected.object);
    }
  };

  const upsert = (collection: Collection, object: KubeObject): KubeObject => {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const previous = collection.objects.get(key);
    const uid = previous?.metadata.uid ?? object.metadata.uid ?? `uid-${++uidCounter}`;
    commit(collection, previous ? 'MODIFIED' : 'ADDED', { ...object, metadata: { ...object.metadata, uid } }, previous);
    return collection.objects.get(key) as KubeObject;
  };
  const remove = (collection: Collection, namespace: string, name: string): void => {
    const previous = collection.objects.get(keyOf(namespace, name));
    if (previous) commit(collection, 'DELETED', previous, previous);
  };

  const listOf = (collection: Collection, namespace: string | undefined, selector: FieldSelector): Record<string, unknown> => ({
    kind: `${collection.kind}List`,
    apiVersion: collection.group ? `${collection.group}/${collection.version}` : collection.version,
    metadata: { resourceVersion: String(resourceVersion) },
    items: [...collection.objects.values()].filter(
      (o) => (namespace === undefined || o.metadata.namespace === namespace) && selector(o),
    ),
  });

  const tooOld = (rv: number): Record<string, unknown> =>
    statusBody(410, 'Expired', `too old resource version: ${rv} (${expiredThrough + 1})`);

  const startWatch = (
    route: Route,
    collection: Collection,
    namespace: string | undefined,
    selector: FieldSelector,
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): void => {
    const rvText = query.get('resourceVersion') ?? '';
    const fromRv = rvText === '' ? undefined : Number(rvText);
    if (fromRv !== undefined && !Number.isFinite(fromRv)) {
      sendStatus(response, 400, `invalid resourceVersion "${rvText}"`);
      return;
    }
    if (fromRv !== undefined && fromRv !== 0 && fromRv <= expiredThrough && expiryVia === 'http') {
      sendJson(response, 410, tooOld(fromRv));
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const watch: OpenWatch = {
      route,
      collection,
      namespace,
      selector,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      response,
      socket: request.socket,
      closed: false,
      timer: undefined,
    };
    watches.add(watch);
    response.on('close', () => {
      watch.closed = true;
      if (watch.timer) clearTimeout(watch.timer);
      watches.delete(watch);
    });
    if (fromRv !== undefined && fromRv !== 0 && fromRv <= expiredThrough) {
      writeEvent(watch, 'ERROR', tooOld(fromRv));
      endWatch(watch);
      return;
    }
    if (fromRv === undefined || fromRv === 0) {
      // Without a version the server starts with a synthetic ADDED for everything that exists.
      for (const object of collection.objects.values()) {
        if ((namespace === undefined || object.metadata.namespace === namespace) && selector(object)) writeEvent(watch, 'ADDED', object);
      }
    } else {
      for (const entry of collection.history) {
        if (entry.rv <= fromRv) continue;
        const projected = projectEvent(watch, entry);
        if (projected) writeEvent(watch, projected.type, projected.object);
      }
    }
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '');
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
      watch.timer = setTimeout(() => endWatch(watch), timeoutSeconds * 1000);
    }
  };

  const applyFault = (route: Route | undefined, request: IncomingMessage, response: ServerResponse): boolean => {
    const fault = (route && faults.get(route)) ?? faults.get('*');
    if (!fault) return false;
    switch (fault.kind) {
      case 'status':
        sendStatus(response, fault.code, `injected failure ${fault.code}`);
        return true;
      case 'drop':
        request.socket.destroy();
        return true;
      case 'stall-before-headers':
        return true;
      case 'stall-after-headers':
        response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        response.flushHeaders();
        return true;
    }
  };

  const routeOf = (method: string, parts: readonly string[], watch: boolean): { route: Route; namespace?: string; name?: string } | undefined => {
    // /api/v1/pods, /api/v1/namespaces/{ns}/pods[/{name}], /api/v1/namespaces/{ns}/events[/{name}]
    if (parts[0] === 'api' && parts[1] === 'v1') {
      if (parts.length === 3 && parts[2] === 'pods' && method === 'GET') return { route: watch ? 'pods:watch' : 'pods:list' };
      if (parts[2] === 'namespaces' && parts.length >= 5) {
        const namespace = parts[3] as string;
        const resource = parts[4];
        const name = parts[5];
        if (resource === 'pods' && parts.length === 5 && method === 'GET') return { route: watch ? 'pods:watch' : 'pods:list', namespace };
        if (resource === 'pods' && parts.length === 6 && method === 'GET') return { route: 'pods:get', namespace, ...(name ? { name } : {}) };
        if (resource === 'events' && parts.length === 5 && method === 'POST') return { route: 'events:create', namespace };
        if (resource === 'events' && parts.length === 6 && name && method === 'PATCH') return { route: 'events:patch', namespace, name };
        if (resource === 'events' && parts.length === 6 && name && method === 'GET') return { route: 'events:get', namespace, name };
      }
      return undefined;
    }
    if (parts[0] === 'apis' && parts[2] === 'v1' && parts.length === 4 && method === 'POST') {
      if (parts[1] === 'authentication.k8s.io' && parts[3] === 'tokenreviews') return { route: 'tokenreviews:create' };
      if (parts[1] === 'authorization.k8s.io' && parts[3] === 'subjectaccessreviews') return { route: 'subjectaccessreviews:create' };
    }
    if (parts[0] === 'apis' && parts[1] === podCheckpoints.group && parts[2] === podCheckpoints.version && method === 'GET') {
      if (parts.length === 4 && parts[3] === podCheckpoints.plural) return { route: watch ? 'podcheckpoints:watch' : 'podcheckpoints:list' };
      if (parts.length === 6 && parts[3] === 'namespaces' && parts[5] === podCheckpoints.plural) {
        return { route: watch ? 'podcheckpoints:watch' : 'podcheckpoints:list', namespace: parts[4] as string };
      }
    }
    if (parts[0] === 'apis' && parts[1] === 'criu.org' && parts[2] === 'v1' && method === 'GET') {
      if (parts.length === 4 && parts[3] === policies.plural) return { route: watch ? 'policies:watch' : 'policies:list' };
      if (parts.length === 6 && parts[3] === 'namespaces' && parts[5] === policies.plural) {
        return { route: watch ? 'policies:watch' : 'policies:list', namespace: parts[4] as string };
      }
    }
    return undefined;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? 'GET';
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const matched = routeOf(method, parts, watch);
    const body = method === 'GET' ? undefined : await readBody(request);
    requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      route: matched?.route,
      contentType: request.headers['content-type'],
      body,
    });
    if (applyFault(matched?.route, request, response)) return;
    if (parts[0] === 'apis' && parts[1] === podCheckpoints.group && !podCheckpointGroupServed) {
      sendStatus(response, 404, 'the server could not find the requested resource');
      return;
    }
    if (parts[0] === 'apis' && parts[1] === 'criu.org' && !policyCrdInstalled) {
      sendStatus(response, 404, 'the server could not find the requested resource');
      return;
    }
    if (!matched) {
      sendStatus(response, 404, 'the server could not find the requested resource');
      return;
    }
    const selector = parseFieldSelector(url.searchParams.get('fieldSelector'));
    if (typeof selector !== 'function') {
      sendStatus(response, 400, selector.error);
      return;
    }
    const { route, namespace, name } = matched;
    switch (route) {
      case 'pods:list':
        return sendJson(response, 200, listOf(pods, namespace, selector));
      case 'policies:list':
        return sendJson(response, 200, listOf(policies, namespace, selector));
      case 'pods:watch':
        return startWatch(route, pods, namespace, selector, url.searchParams, request, response);
      case 'policies:watch':
        return startWatch(route, policies, namespace, selector, url.searchParams, request, response);
      case 'podcheckpoints:list':
        return sendJson(response, 200, listOf(podCheckpoints, namespace, selector));
      case 'podcheckpoints:watch':
        return startWatch(route, podCheckpoints, namespace, selector, url.searchParams, request, response);
      case 'pods:get': {
        const pod = pods.objects.get(keyOf(namespace, name ?? ''));
        if (pod) return sendJson(response, 200, pod);
        return sendStatus(response, 404, `pods "${name}" not found`, { name, kind: 'pods' });
      }
      case 'events:create': {
        const event = body as KubeObject | undefined;
        const eventName = event?.metadata?.name;
        if (!event || typeof eventName !== 'string' || eventName === '') return sendStatus(response, 400, 'event name is required');
        const key = keyOf(namespace, eventName);
        if (events.has(key)) return sendStatus(response, 409, `events "${eventName}" already exists`);
        resourceVersion += 1;
        const stored: KubeObject = {
          ...event,
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { ...event.metadata, name: eventName, namespace: namespace ?? '', resourceVersion: String(resourceVersion) },
        };
        events.set(key, stored);
        return sendJson(response, 201, stored);
      }
      case 'events:patch': {
        const key = keyOf(namespace, name ?? '');
        const existing = events.get(key);
        if (!existing) return sendStatus(response, 404, `events "${name}" not found`, { name, kind: 'events' });
        const type = request.headers['content-type'] ?? '';
        if (!type.startsWith('application/merge-patch+json') && !type.startsWith('application/strategic-merge-patch+json')) {
          return sendStatus(response, 415, `unsupported patch type ${type}`);
        }
        resourceVersion += 1;
        const patched = mergePatch(existing, body) as KubeObject;
        patched.metadata = { ...patched.metadata, resourceVersion: String(resourceVersion) };
        events.set(key, patched);
        return sendJson(response, 200, patched);
      }
      case 'tokenreviews:create': {
        const review = body as { spec?: { token?: unknown } } | undefined;
        const token = review?.spec?.token;
        if (typeof token !== 'string' || token === '') return sendStatus(response, 400, 'spec.token is required');
        const user = tokens.get(token);
        const status = user
          ? { authenticated: true, user: { ...user, groups: [...(user.groups ?? []), 'system:authenticated'] }, audiences: ['https://kubernetes.default.svc'] }
          : { user: {}, error: 'invalid bearer token' };
        return sendJson(response, 201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: review?.spec, status });
      }
      case 'subjectaccessreviews:create': {
        const review = body as { spec?: { user?: unknown; groups?: unknown; nonResourceAttributes?: { path?: unknown; verb?: unknown } } } | undefined;
        const spec = review?.spec;
        const path = spec?.nonResourceAttributes?.path;
        if (typeof spec?.user !== 'string' || typeof path !== 'string') return sendStatus(response, 400, 'spec.user and spec.nonResourceAttributes.path are required');
        const groups = Array.isArray(spec.groups) ? spec.groups.filter((g): g is string => typeof g === 'string') : [];
        const subjects = new Set([spec.user, ...groups.map((g) => `group:${g}`)]);
        const matches = (pattern: string): boolean => (pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern);
        const allow = spec.nonResourceAttributes?.verb === 'get' && allowed.some((rule) => subjects.has(rule.subject) && matches(rule.path));
        const status = allow ? { allowed: true, reason: 'allowed by the test\'s allow table' } : { allowed: false };
        return sendJson(response, 201, { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status });
      }
      case 'events:get': {
        const existing = events.get(keyOf(namespace, name ?? ''));
        if (existing) return sendJson(response, 200, existing);
        return sendStatus(response, 404, `events "${name}" not found`);
      }
    }
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendStatus(response, 500, String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake API server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;

  const kubeconfigYaml = (): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: tester',
      '  user:',
      '    token: fake-token',
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: tester',
      'current-context: fake',
      '',
    ].join('\n');

  return {
    url,
    requests,
    kubeconfigYaml,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigYaml());
      return kc;
    },
    upsertPod(input) {
      return upsert(pods, buildPod(input, `uid-${++uidCounter}`));
    },
    deletePod(namespace, name) {
      remove(pods, namespace, name);
    },
    upsertPolicy(namespace, name, spec) {
      return upsert(policies, { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { name, namespace }, spec });
    },
    deletePolicy(namespace, name) {
      remove(policies, namespace, name);
    },
    setPolicyCrdInstalled(installed) {
      policyCrdInstalled = installed;
    },
    upsertPodCheckpoint(namespace, name, spec, status) {
      return upsert(podCheckpoints, { apiVersion: 'checkpoint.k8s.io/v1alpha1', kind: 'PodCheckpoint', metadata: { name, namespace }, spec, status });
    },
    deletePodCheckpoint(namespace, name) {
      remove(podCheckpoints, namespace, name);
    },
    setPodCheckpointGroupServed(served) {
      podCheckpointGroupServed = served;
    },
    events: () => [...events.values()],
    deleteEvent(namespace, name) {
      events.delete(keyOf(namespace, name));
    },
    setFault(route, fault) {
      if (fault) faults.set(route, fault);
      else faults.delete(route);
    },
    addToken(token, user) {
      tokens.set(token, user);
    },
    allowNonResource(subject, path) {
      allowed.push({ subject, path });
    },
    setBookmarksEnabled(enabled) {
      bookmarksEnabled = enabled;
    },
    sendBookmarks() {
      if (!bookmarksEnabled) return 0;
      let sent = 0;
      for (const watch of watches) {
        if (!watch.bookmarks) continue;
        const { group, version, kind } = watch.collection;
        writeEvent(watch, 'BOOKMARK', {
          apiVersion: group ? `${group}/${version}` : version,
          kind,
          metadata: { resourceVersion: String(resourceVersion) },
        });
        sent += 1;
      }
      return sent;
    },
    expireResourceVersions(via) {
      expiryVia = via;
      expiredThrough = resourceVersion;
      // The next list must hand out a version that is not already expired.
      resourceVersion += 1;
      for (const watch of [...watches]) {
        if (via === 'error-event') writeEvent(watch, 'ERROR', tooOld(expiredThrough));
        endWatch(watch);
      }
    },
    dropWatches() {
      for (const watch of [...watches]) {
        watch.closed = true;
        watches.delete(watch);
        watch.socket.destroy();
      }
    },
    openWatches(route) {
      return [...watches].filter((w) => route === undefined || w.route === route).length;
    },
    countRequests(route, predicate) {
      return requests.filter((r) => r.route === route && (predicate === undefined || predicate(r))).length;
    },
    async close() {
      for (const watch of watches) endWatch(watch);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
