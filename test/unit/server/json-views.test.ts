import { afterEach, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleStatus } from '../../support/exporter-status.js';
import { createServerApp } from '../../../src/server/app.js';
import { createSharedView, MAX_VIEW_STREAMS, VIEW_RETRY_AFTER_SECONDS, type ViewSource } from '../../../src/server/json-views.js';
import { closeServer, listen } from '../../../src/server/listen.js';
import { createCapturingLogger } from '../inventory/fixtures.js';
import { waitUntil } from '../../support/wait.js';

/** A promise and the function that settles it: what holds a serialization, or a client, in place. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const turn = (): Promise<void> => new Promise((wake) => setImmediate(wake));

/**
 * A view of `items` archives whose serialization sends its first chunk, then waits for `held` before
 * the rest: a client has its headers and first bytes while the view is provably still streaming.
 * `failAfter` makes it throw after that many item chunks, once a complete-looking document was sent.
 */
function heldView(options: { held?: Promise<void>; items?: number; failAfter?: number } = {}) {
  const counts = { serializations: 0, finished: 0 };
  const items = options.items ?? 3;
  async function* serialize(): AsyncGenerator<string> {
    counts.serializations += 1;
    try {
      yield '{"archives":[';
      await options.held;
      for (let i = 0; i < items; i += 1) {
        if (options.failAfter !== undefined && i === options.failAfter) throw new Error('describing an archive exploded');
        yield `${i === 0 ? '' : ','}{"file":"a-${i}.tar"}`;
        await turn();
      }
      yield ']}\n';
    } finally {
      counts.finished += 1;
    }
  }
  return { counts, serialize, body: `${JSON.stringify({ archives: Array.from({ length: items }, (_, i) => ({ file: `a-${i}.tar` })) })}\n` };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  readonly base: string;
  readonly observed: { serialized: string[]; rejected: string[] };
  readonly logged: ReturnType<typeof createCapturingLogger>;
}

/** What these tests never ask for: the landing page's status. */
const notAsked = {
  status: async (): Promise<never> => {
    throw new Error('the status is not asked in these tests');
  },
};

/** The real server app on a loopback port, with the given archives source and a counting observer. */
async function serve(archives: ViewSource): Promise<Served> {
  const observed = { serialized: [] as string[], rejected: [] as string[] };
  const logged = createCapturingLogger();
  const app = createServerApp({
    ...notAsked,
    metrics: async () => 'probe_value 1\n',
    metricsContentType: 'text/plain; version=0.0.4; charset=utf-8',
    version: 'test',
    logger: logged.logger,
    ready: () => true,
    archives,
    policy: () => ({}),
    status: async () => sampleStatus(),
    plan: { current: () => ({ key: [], serialize: async function* () { yield '{"deletions":[],"unsatisfiable":[]}\n'; } }) },
    views: { observer: { serialized: (view) => observed.serialized.push(view), rejected: (view) => observed.rejected.push(view) } },
  });
  const server: Server = await listen(app, { host: '127.0.0.1', port: 0 });
  // Connections still held by a test would keep close() waiting.
  cleanups.push(() => {
    server.closeAllConnections();
    return closeServer(server);
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, observed, logged };
}

/** A client that has the headers and the first bytes of a view, and reads no further until asked. */
async function holdView(url: string): Promise<{ status: number; rest(): Promise<string>; abort(): void }> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const first = await reader.read();
  let text = first.done ? '' : decoder.decode(first.value, { stream: true });
  return {
    status: res.status,
    async rest() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text + decoder.decode();
        text += decoder.decode(value, { stream: true });
      }
    },
    abort: () => controller.abort(),
  };
}

const fixedVersion = (serialize: () => AsyncIterable<string>): ViewSource => ({ current: () => ({ key: ['v1'], serialize }) });

describe('JSON views over real HTTP', () => {
  it('serializes once for concurrent requests of one version, which all get the same bytes', async () => {
    const held = gate();
    const view = heldView({ held: held.opened, items: 1_000 });
    const { base, observed } = await serve(fixedVersion(view.serialize));
    // Every client joins while the one serialization is held after its first chunk.
    const clients = await Promise.all(Array.from({ length: MAX_VIEW_STREAMS }, () => holdView(`${base}/api/v1/archives`)));
    held.open();
    const bodies = await Promise.all(clients.map((client) => client.rest()));
    for (const body of bodies) expect(body).toBe(view.body);
    // The bytes are kept: a later request of the same version is not serialized again.
    expect(await (await fetch(`${base}/api/v1/archives`)).text()).toBe(view.body);
    expect(view.counts.serializations).toBe(1);
    expect(observed.serialized).toEqual(['archives']);
  });

  it(`answers 503 with Retry-After beyond ${MAX_VIEW_STREAMS} views streaming, keeps the probes and metrics answering, and serves again once they end`, async () => {
    const held = gate();
    const view = heldView({ held: held.opened });
    const { base, observed } = await serve(fixedVersion(view.serialize));
    const clients = await Promise.all(Array.from({ length: MAX_VIEW_STREAMS }, () => holdView(`${base}/api/v1/archives`)));
    expect(clients.map((client) => client.status)).toEqual(Array.from({ length: MAX_VIEW_STREAMS }, () => 200));

    for (const path of ['/api/v1/archives', '/api/v1/plan']) {
      const refused = await fetch(`${base}${path}`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe(String(VIEW_RETRY_AFTER_SECONDS));
      expect(await refused.text()).toMatch(/^[^\n]*retry after[^\n]*\n$/);
    }
    expect(observed.rejected).toEqual(['archives', 'plan']);
    // The views are still held mid-stream, and the rest of the server answers.
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('probe_value 1');
    expect((await fetch(`${base}/api/v1/policy`)).status).toBe(200);

    held.open();
    for (const client of clients) expect(await client.rest()).toBe(view.body);
    // Slots are given back when a response ends (the 'close' that follows may come a turn later).
    await waitUntil(async () => (await fetch(`${base}/api/v1/plan`)).status === 200, 'a view served again');
    expect(await (await fetch(`${base}/api/v1/archives`)).text()).toBe(view.body);
  });

  it('gives the slot of a client that goes away mid-stream back', async () => {
    const held = gate();
    cleanups.push(() => held.open());
    const view = heldView({ held: held.opened });
    const { base } = await serve(fixedVersion(view.serialize));
    const clients = await Promise.all(Array.from({ length: MAX_VIEW_STREAMS }, () => holdView(`${base}/api/v1/archives`)));
    expect((await fetch(`${base}/api/v1/plan`)).status).toBe(503);
    for (const client of clients) client.abort();
    await waitUntil(async () => (await fetch(`${base}/api/v1/plan`)).status === 200, 'the slots of the clients gone');
  });

  it('closes a response whose client stops reading, gives its slot back and counts it; a slow serialization is not a stalled client', async () => {
    // About 32 MB: far more than the socket buffers of a client that reads nothing hold.
    const chunk = `,${JSON.stringify({ file: 'x'.repeat(1_000) })}`.repeat(512);
    let slow = true;
    async function* serialize(): AsyncGenerator<string> {
      yield '{"archives":[{}';
      // Slower than the stall timeout before the bytes flow: the server's time, not the client's.
      if (slow) await new Promise((wake) => setTimeout(wake, 3_000));
      for (let i = 0; i < 64; i += 1) yield chunk;
      yield ']}\n';
    }
    const stalled: string[] = [];
    const app = createServerApp({
      ...notAsked,
      metrics: async () => '',
      metricsContentType: 'text/plain',
      version: 'test',
      logger: createCapturingLogger().logger,
      ready: () => true,
      archives: fixedVersion(serialize),
      policy: () => ({}),
      status: async () => sampleStatus(),
      plan: { current: () => ({ key: [], serialize: async function* () { yield '{}\n'; } }) },
      views: { maxStreams: 1, stallTimeoutMs: 2_000, observer: { stalled: (view) => stalled.push(view) } },
    });
    const server: Server = await listen(app, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => {
      server.closeAllConnections();
      return closeServer(server);
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A reader that keeps reading gets the whole body although the first bytes waited 3 s on the server.
    const whole = await (await fetch(`${base}/api/v1/archives`)).text();
    expect(whole.length).toBeGreaterThan(32_000_000);
    expect(stalled).toEqual([]);
    slow = false;
    const idle = await holdView(`${base}/api/v1/archives`);
    expect(idle.status).toBe(200);
    // It reads nothing more: the server closes it and the one slot serves again.
    await waitUntil(() => stalled.length === 1, 'the idle client is closed');
    await expect(idle.rest()).rejects.toThrow();
    await waitUntil(async () => (await fetch(`${base}/api/v1/plan`)).status === 200, 'the slot is given back');
  });

  it('breaks a response whose serialization fails halfway, for every client reading it, and serializes afresh next time', async () => {
    const held = gate();
    let current = heldView({ held: held.opened, items: 3, failAfter: 2 });
    const { base, observed, logged } = await serve(fixedVersion(() => current.serialize()));
    const clients = await Promise.all([holdView(`${base}/api/v1/archives`), holdView(`${base}/api/v1/archives`)]);
    held.open();
    for (const client of clients) {
      expect(client.status).toBe(200);
      // Not a shorter document ending as if complete: the transfer breaks.
      await expect(client.rest()).rejects.toThrow();
    }
    expect(logged.lines.some((line) => line.msg === 'http request failed')).toBe(true);
    expect(current.counts.serializations).toBe(1);

    // Same version, but the failed bytes are not kept: the next request serializes again.
    current = heldView({ items: 3 });
    const res = await fetch(`${base}/api/v1/archives`);
    expect(await res.text()).toBe(current.body);
    expect(observed.serialized).toEqual(['archives', 'archives']);
  });

  it('breaks the response even when what was sent before the failure is a complete JSON document', async () => {
    async function* serialize(): AsyncGenerator<string> {
      yield '{"archives":[]}';
      await turn();
      throw new Error('the rest could not be described');
    }
    const { base } = await serve(fixedVersion(serialize));
    const res = await fetch(`${base}/api/v1/archives`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('serializes nothing for HEAD', async () => {
    const view = heldView();
    const { base, observed } = await serve(fixedVersion(view.serialize));
    const res = await fetch(`${base}/api/v1/archives`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(observed.serialized).toEqual([]);
  });
});

describe('shared view versions', () => {
  /** A source whose version is a number the test changes, calling the subscribers as the inventory would. */
  function versionedSource(serializeOf: (version: number) => AsyncIterable<string>, withSubscribe = true) {
    const state = { version: 1, listeners: [] as (() => void)[] };
    const source: ViewSource = {
      current: () => {
        const version = state.version;
        return { key: [version], serialize: () => serializeOf(version) };
      },
      ...(withSubscribe ? { subscribe: (listener: () => void) => state.listeners.push(listener) } : {}),
    };
    const change = (): void => {
      state.version += 1;
      for (const listener of state.listeners) listener();
    };
    return { source, change };
  }

  async function drain(reader: AsyncGenerator<Buffer>): Promise<string> {
    let text = '';
    for await (const chunk of reader) text += chunk.toString('utf8');
    return text;
  }

  it('serves a new version after a change and drops the stale one once nobody streams it', async () => {
    const held = gate();
    const views = { 1: heldView({ held: held.opened }), 2: heldView({ items: 5 }) };
    const { source, change } = versionedSource((version) => views[version as 1 | 2].serialize());
    const view = createSharedView('archives', source);

    const first = view.read();
    expect((await first.next()).value?.toString()).toBe('{"archives":[');
    change();
    // Version 1 is stale but still streamed: kept until its reader is done.
    expect(view.held().versions).toBe(1);
    expect(await drain(view.read())).toBe(views[2].body);
    expect(view.held()).toEqual({ versions: 2, bytes: Buffer.byteLength(views[2].body) + Buffer.byteLength('{"archives":[') });

    held.open();
    expect(`{"archives":[${await drain(first)}`).toBe(views[1].body);
    expect(view.held()).toEqual({ versions: 1, bytes: Buffer.byteLength(views[2].body) });
    expect([views[1].counts.serializations, views[2].counts.serializations]).toEqual([1, 1]);
  });

  it('without a change feed, replaces the held version at the next request of another version', async () => {
    const views = { 1: heldView({ items: 2 }), 2: heldView({ items: 4 }) };
    const { source, change } = versionedSource((version) => views[version as 1 | 2].serialize(), false);
    const view = createSharedView('plan', source);
    expect(await drain(view.read())).toBe(views[1].body);
    change();
    expect(view.held().versions).toBe(1);
    expect(await drain(view.read())).toBe(views[2].body);
    expect(view.held()).toEqual({ versions: 1, bytes: Buffer.byteLength(views[2].body) });
  });

  it('stops serializing a version that went stale with nobody reading it', async () => {
    const held = gate();
    const stale = heldView({ held: held.opened, items: 1_000 });
    const { source, change } = versionedSource((version) => (version === 1 ? stale.serialize() : heldView().serialize()));
    const view = createSharedView('archives', source);
    const reader = view.read();
    await reader.next();
    await reader.return(undefined);
    change();
    expect(view.held().versions).toBe(0);
    held.open();
    await waitUntil(() => stale.counts.finished === 1, 'the stale serialization stopped');
    expect(view.held().versions).toBe(0);
  });
});
