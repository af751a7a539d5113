import { Readable } from 'node:stream';
import type Koa from 'koa';

/**
 * The JSON views (`/api/v1/archives`, `/api/v1/plan`) under two bounds, so that clients cannot make the
 * exporter work hard. Each view is serialized once per version of its data and its bytes are shared by
 * every response of that version: sixteen clients pulling 100,000 archives cost one serialization and
 * one copy of the bytes, not sixteen. And at most MAX_VIEW_STREAMS responses stream at once; more are
 * answered 503 with Retry-After, so a crowd of clients cannot hold the event loop (one CPU in the
 * chart) long enough to push `/healthz` past the liveness probe.
 */

/**
 * Responses of the JSON views streaming at once, all views together. Each writes megabytes from the
 * event loop that also answers the probes and scrapes; four keep `/healthz` well under a second with
 * 100,000 archives (docs/benchmarks.md) and are more than a person or a script reading the views needs.
 */
export const MAX_VIEW_STREAMS = 4;

/** What a refused client is asked to wait, in seconds: about the time one 100,000-archive view takes to stream. */
export const VIEW_RETRY_AFTER_SECONDS = 2;

/**
 * A response whose client reads nothing for this long while bytes wait for it is closed, and its slot
 * given back: four clients that connect and stop reading would otherwise turn every other reader of the
 * views away for as long as they like. Time spent serializing does not count; only the client's.
 */
export const VIEW_STALL_TIMEOUT_MS = 30_000;

/** One version of a view's data. */
export interface ViewVersion {
  /** Identifies the version: equal element by element (Object.is) to another's key means the same bytes. */
  readonly key: readonly unknown[];
  /** The JSON text of this version in chunks; a large view yields to the event loop between chunks. */
  serialize(): AsyncIterable<string>;
}

export interface ViewSource {
  /** The version in force now; cheap when nothing changed. */
  current(): ViewVersion;
  /** Calls back when the data may have changed, so the bytes of a stale version go before the next request. */
  subscribe?(listener: () => void): unknown;
}

/** What the views report, for the metrics; `view` is one of the names the views were created with. */
export interface ViewObserver {
  /** A serialization of `view` began: one per version, plus one after each failed serialization. */
  serialized?(view: string): void;
  /** A request for `view` was refused with 503 because MAX_VIEW_STREAMS responses were streaming. */
  rejected?(view: string): void;
  /** A response of `view` was closed because its client read nothing for VIEW_STALL_TIMEOUT_MS. */
  stalled?(view: string): void;
}

/** A version being serialized or serialized: the bytes so far, shared by its readers. */
interface Serialization {
  readonly key: readonly unknown[];
  readonly chunks: Buffer[];
  bytes: number;
  done: boolean;
  failure: Error | undefined;
  /** Responses reading it now. */
  readers: number;
  /** Settles when a chunk is added or the serialization ends; replaced each time. */
  more: Promise<void>;
  wake: () => void;
}

export interface SharedView {
  /** The bytes of the version in force: serialized by the first reader, shared with every other. */
  read(): AsyncGenerator<Buffer>;
  /** Versions whose bytes are kept (the current one, and stale ones still being streamed) and their size. */
  held(): { readonly versions: number; readonly bytes: number };
}

const sameKey = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((value, i) => Object.is(value, b[i]));

function signal(s: Pick<Serialization, 'more' | 'wake'>): void {
  s.more = new Promise((resolve) => (s.wake = resolve));
}

export function createSharedView(name: string, source: ViewSource, observer: ViewObserver = {}): SharedView {
  let current: Serialization | undefined;
  const held = new Set<Serialization>();

  // A version nobody reads any more, and that is not the one in force, is dropped: its bytes are freed.
  const retire = (s: Serialization): void => {
    if (s !== current && s.readers === 0) held.delete(s);
  };
  const wake = (s: Serialization): void => {
    const woken = s.wake;
    signal(s);
    woken();
  };

  source.subscribe?.(() => {
    const stale = current;
    current = undefined;
    if (stale !== undefined) retire(stale);
  });

  async function pump(s: Serialization, version: ViewVersion): Promise<void> {
    try {
      for await (const text of version.serialize()) {
        const chunk = Buffer.from(text, 'utf8');
        s.chunks.push(chunk);
        s.bytes += chunk.length;
        wake(s);
        // Stale and unread: nobody will ever read the rest, so stop serializing it.
        if (!held.has(s)) return;
      }
      s.done = true;
    } catch (error) {
      s.failure = new Error(`serializing the ${name} view failed`, { cause: error });
      if (current === s) current = undefined;
      retire(s);
    } finally {
      wake(s);
    }
  }

  function acquire(): Serialization {
    const version = source.current();
    if (current === undefined || !sameKey(current.key, version.key)) {
      const stale = current;
      const s: Serialization = { key: version.key, chunks: [], bytes: 0, done: false, failure: undefined, readers: 0, more: Promise.resolve(), wake: () => undefined };
      signal(s);
      current = s;
      held.add(s);
      if (stale !== undefined) retire(stale);
      observer.serialized?.(name);
      void pump(s, version);
    }
    current.readers += 1;
    return current;
  }

  return {
    async *read() {
      const s = acquire();
      try {
        for (let next = 0; ; ) {
          while (next < s.chunks.length) yield s.chunks[next++] as Buffer;
          // Every chunk made before the failure was sent; the response must now break, not end as if complete.
          if (s.failure !== undefined) throw s.failure;
          if (s.done) return;
          await s.more;
        }
      } finally {
        s.readers -= 1;
        retire(s);
      }
    },
    held() {
      let bytes = 0;
      for (const s of held) bytes += s.bytes;
      return { versions: held.size, bytes };
    },
  };
}

export interface JsonViews {
  /** The Koa handler of one view: 503 beyond MAX_VIEW_STREAMS, else the shared bytes, streamed. */
  serve(view: string): Koa.Middleware;
  held(view: string): { readonly versions: number; readonly bytes: number };
  /** Responses streaming now. */
  streaming(): number;
}

export interface JsonViewOptions {
  readonly maxStreams?: number;
  readonly stallTimeoutMs?: number;
  readonly observer?: ViewObserver;
}

/**
 * Passes the chunks on, and calls `stalled` when the consumer has not asked for the next chunk within
 * `timeoutMs` of being offered one: the response stream stops pulling once the socket's buffers are full.
 */
async function* watchStalls(chunks: AsyncGenerator<Buffer>, timeoutMs: number, stalled: () => void): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  try {
    for await (const chunk of chunks) {
      timer = setTimeout(stalled, timeoutMs);
      timer.unref();
      yield chunk;
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
  }
}

export function createJsonViews(sources: Readonly<Record<string, ViewSource>>, options: JsonViewOptions = {}): JsonViews {
  const maxStreams = options.maxStreams ?? MAX_VIEW_STREAMS;
  const stallTimeoutMs = options.stallTimeoutMs ?? VIEW_STALL_TIMEOUT_MS;
  const observer = options.observer ?? {};
  const views = new Map(Object.entries(sources).map(([name, source]) => [name, createSharedView(name, source, observer)]));
  let streaming = 0;
  const viewOf = (name: string): SharedView => {
    const view = views.get(name);
    if (view === undefined) throw new Error(`no JSON view named ${name}`);
    return view;
  };

  return {
    serve(name) {
      const view = viewOf(name);
      return (ctx) => {
        if (streaming >= maxStreams) {
          observer.rejected?.(name);
          ctx.status = 503;
          ctx.set('Retry-After', String(VIEW_RETRY_AFTER_SECONDS));
          ctx.type = 'text';
          ctx.body = `${maxStreams} JSON views are streaming already; retry after ${VIEW_RETRY_AFTER_SECONDS} s\n`;
          return;
        }
        streaming += 1;
        let released = false;
        // 'close' comes once the response is complete or its connection gone, whatever happened in between.
        ctx.res.once('close', () => {
          if (!released) streaming -= 1;
          released = true;
        });
        ctx.type = 'json';
        // A body that fails midway makes Koa's pipeline destroy the response: the client sees a broken
        // transfer, never a shorter JSON document that parses.
        const res = ctx.res;
        ctx.body = Readable.from(
          watchStalls(view.read(), stallTimeoutMs, () => {
            observer.stalled?.(name);
            res.destroy();
          }),
          { objectMode: false },
        );
      };
    },
    held: (name) => viewOf(name).held(),
    streaming: () => streaming,
  };
}
