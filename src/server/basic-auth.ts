import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';

/**
 * Basic auth against the bcrypt hashes of a web configuration (`basic_auth_users`).
 *
 * bcrypt is slow on purpose (about 150 ms of CPU per check at cost 10, in JavaScript), which is
 * the exporter's whole CPU for a scraper that sends its credentials every 15 s, and a lever for
 * anyone who can reach the port. So, as exporter-toolkit does, outcomes are cached under a digest of
 * user, hash and password (never the password itself), and checks that do run are bounded: one at a
 * time, each followed by a rest as long as it took (so bcrypt holds at most half a core, and a pod with
 * a one-core limit is never throttled by it), a few waiting, the rest answered 429 at once. The
 * exporter runs the compare on a worker thread, so probes and scrapes never wait behind it.
 */

/** How long a checked (user, password, hash) is trusted without bcrypt: covers scrapes every few minutes. */
export const VERIFY_CACHE_TTL_MS = 5 * 60_000;
/** Distinct credentials remembered; beyond, the oldest go. A few scrapers need a few entries. */
export const VERIFY_CACHE_ENTRIES = 256;
/** bcrypt checks run at once: one keeps a flood of wrong passwords to a bounded share of one core. */
export const MAX_CONCURRENT_CHECKS = 1;
/** Checks that may wait for their turn; beyond, 429 without hashing anything. */
export const MAX_WAITING_CHECKS = 8;
/** After a check, the next waits this many times as long as the check took: 1 keeps bcrypt to half a core. */
export const REST_RATIO = 1;
/** Longer Authorization headers are nobody's credentials; refused before decoding. */
const MAX_CREDENTIALS_LENGTH = 4096;

/**
 * Checked against when the user is unknown, so an unknown user costs what a wrong password does and
 * the timing does not tell which users exist. A cost-10 hash of a random string nobody knows.
 */
const UNKNOWN_USER_HASH = '$2b$10$u0hV3/B8VgOlugDdeOPabeZ1DQNUfiy7z05TtfbcfBk0/rBKu7TNG';

export type BasicAuthResult = 'allowed' | 'unauthenticated' | 'throttled';

export interface PasswordVerifierOptions {
  /** The bcrypt compare; tests count calls through it. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
  readonly now?: () => number;
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly maxConcurrent?: number;
  readonly maxWaiting?: number;
  readonly restRatio?: number;
}

export interface PasswordVerifier {
  /** `hash` undefined: the user is unknown (still costs a check). */
  verify(user: string, password: string, hash: string | undefined): Promise<BasicAuthResult>;
  /** bcrypt checks run so far (cache misses that got their turn). */
  checks(): number;
}

export function createPasswordVerifier(options: PasswordVerifierOptions = {}): PasswordVerifier {
  const compare = options.compare ?? ((password: string, hash: string) => bcrypt.compare(password, hash));
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? VERIFY_CACHE_TTL_MS;
  const maxEntries = options.maxEntries ?? VERIFY_CACHE_ENTRIES;
  const maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_CHECKS;
  const maxWaiting = options.maxWaiting ?? MAX_WAITING_CHECKS;
  const restRatio = options.restRatio ?? REST_RATIO;
  // Insertion order is age order: a hit is re-inserted, the first key is the oldest.
  const cache = new Map<string, { readonly allowed: boolean; readonly expires: number }>();
  const waiting: Array<() => void> = [];
  let running = 0;
  let checks = 0;

  const remember = (key: string, allowed: boolean): void => {
    cache.delete(key);
    cache.set(key, { allowed, expires: now() + ttlMs });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  };
  const handOver = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running -= 1;
  };
  // The slot stays taken while resting, so a flood queues (or gets 429) instead of hashing meanwhile.
  const release = (tookMs: number): void => {
    const rest = Math.round(tookMs * restRatio);
    if (rest >= 1) setTimeout(handOver, rest).unref();
    else handOver();
  };

  return {
    async verify(user, password, hash) {
      const against = hash ?? UNKNOWN_USER_HASH;
      const key = createHash('sha256').update(user).update('\0').update(against).update('\0').update(password).digest('hex');
      const cached = cache.get(key);
      if (cached !== undefined && cached.expires > now()) {
        remember(key, cached.allowed);
        return cached.allowed && hash !== undefined ? 'allowed' : 'unauthenticated';
      }
      if (running >= maxConcurrent) {
        if (waiting.length >= maxWaiting) return 'throttled';
        // The slot is handed over by release(), so `running` stays counted for the waiter.
        await new Promise<void>((wake) => waiting.push(wake));
      } else {
        running += 1;
      }
      const started = performance.now();
      try {
        checks += 1;
        const matches = await compare(password, against).catch(() => false);
        const allowed = matches && hash !== undefined;
        remember(key, allowed);
        return allowed ? 'allowed' : 'unauthenticated';
      } finally {
        release(performance.now() - started);
      }
    },
    checks: () => checks,
  };
}

export interface BcryptRequest {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
}
export interface BcryptReply {
  readonly id: number;
  readonly matches: boolean;
}

export interface ThreadedCompare {
  compare(password: string, hash: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * bcrypt on a worker thread, started at the first check and unreferenced while idle. Should the thread
 * fail, checks fall back to bcryptjs's asynchronous compare on the main thread (slower to share, but
 * still bounded by the verifier), and that is logged once.
 */
export function createThreadedCompare(logger: Logger): ThreadedCompare {
  const script = new URL('./bcrypt-worker.js', import.meta.url);
  const pending = new Map<number, { readonly request: BcryptRequest; readonly resolve: (matches: boolean) => void }>();
  let worker: Worker | undefined;
  let failed = false;
  let nextId = 0;
  const fallBack = (error: unknown): void => {
    if (failed) return;
    failed = true;
    logger.warn({ err: error }, 'bcrypt worker thread failed; checking passwords on the main thread');
    void worker?.terminate();
    worker = undefined;
    const waiting = [...pending.values()];
    pending.clear();
    for (const { request, resolve } of waiting) bcrypt.compare(request.password, request.hash).then(resolve, () => resolve(false));
  };
  const start = (): Worker => {
    const started = new Worker(script);
    started.on('message', (reply: BcryptReply) => {
      const entry = pending.get(reply.id);
      pending.delete(reply.id);
      if (pending.size === 0) started.unref();
      entry?.resolve(reply.matches);
    });
    started.on('error', fallBack);
    started.on('exit', (code) => {
      if (pending.size > 0) fallBack(new Error(`bcrypt worker exited with ${code}`));
      worker = undefined;
    });
    return started;
  };
  return {
    compare(password, hash) {
      if (failed) return bcrypt.compare(password, hash);
      worker ??= start();
      const id = nextId++;
      const thread = worker;
      thread.ref();
      return new Promise<boolean>((resolve) => {
        const request: BcryptRequest = { id, password, hash };
        pending.set(id, { request, resolve });
        thread.postMessage(request);
      });
    },
    async close() {
      const stopping = worker;
      worker = undefined;
      await stopping?.terminate();
    },
  };
}

/** User and password of an `Authorization: Basic …` header, or undefined. */
export function basicCredentials(header: string | undefined): { readonly user: string; readonly password: string } | undefined {
  if (header === undefined || header.length > MAX_CREDENTIALS_LENGTH) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const BASIC_REALM = 'checkpoint-exporter';

export interface BasicAuthOptions {
  /** The users in force, read per request: a reloaded file applies to the next request. Empty: no basic auth. */
  users(): ReadonlyMap<string, string>;
  readonly verifier: PasswordVerifier;
  /** Paths answered without credentials: the kubelet's probes carry none. */
  readonly openPaths: ReadonlySet<string>;
  onResult?(result: BasicAuthResult): void;
}

/** Koa middleware: 401 with a Basic challenge without or with wrong credentials, 429 while checks are saturated. */
export function createBasicAuth(options: BasicAuthOptions): Middleware {
  return async (ctx, next) => {
    const users = options.users();
    if (users.size === 0 || options.openPaths.has(ctx.path)) {
      await next();
      return;
    }
    const credentials = basicCredentials(ctx.get('Authorization') || undefined);
    const result = credentials === undefined ? 'unauthenticated' : await options.verifier.verify(credentials.user, credentials.password, users.get(credentials.user));
    options.onResult?.(result);
    if (result === 'allowed') {
      await next();
      return;
    }
    if (result === 'throttled') {
      ctx.status = 429;
      ctx.set('Retry-After', '1');
      ctx.body = 'Too many credential checks at once; retry\n';
      return;
    }
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Basic realm="${BASIC_REALM}", charset="UTF-8"`);
    ctx.body = 'Unauthorized\n';
  };
}
