import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Middleware } from 'koa';

/**
 * Basic auth against the bcrypt hashes of a web configuration (`basic_auth_users`).
 *
 * bcrypt is slow on purpose (about 150 ms of CPU per check at cost 10, in JavaScript), which is
 * the exporter's whole CPU for a scraper that sends its credentials every 15 s, and a lever for
 * anyone who can reach the port. So, as exporter-toolkit does, outcomes are cached under a digest of
 * user, hash and password (never the password itself), and checks that do run are bounded: one at a
 * time, a few waiting, the rest answered 429 at once; the compare yields to the event loop between
 * rounds, so probes and scrapes are served meanwhile.
 */

/** How long a checked (user, password, hash) is trusted without bcrypt: covers scrapes every few minutes. */
export const VERIFY_CACHE_TTL_MS = 5 * 60_000;
/** Distinct credentials remembered; beyond, the oldest go. A few scrapers need a few entries. */
export const VERIFY_CACHE_ENTRIES = 256;
/** bcrypt checks run at once: one keeps a flood of wrong passwords to a bounded share of one core. */
export const MAX_CONCURRENT_CHECKS = 1;
/** Checks that may wait for their turn; beyond, 429 without hashing anything. */
export const MAX_WAITING_CHECKS = 8;
/** Longer Authorization headers are nobody's credentials; refused before decoding. */
const MAX_CREDENTIALS_LENGTH = 4096;

/**
 * Checked against when the user is unknown, so an unknown user costs what a wrong password does and
 * the timing does not tell which users exist. A cost-10 hash of a random string nobody knows.
 */
const UNKNOWN_USER_HASH = '$2b$10$u0hV3/B8VgOlugDdeOPabeZ1DQNUfiy7z05TtfbcfBk0/rBKu7TNG';

export type BasicAuthResult = 'allowed' | 'unauthenticated' | 'throttled';
export const BASIC_AUTH_RESULTS: readonly BasicAuthResult[] = ['allowed', 'unauthenticated', 'throttled'];

export interface PasswordVerifierOptions {
  /** The bcrypt compare; tests count calls through it. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
  readonly now?: () => number;
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly maxConcurrent?: number;
  readonly maxWaiting?: number;
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
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running -= 1;
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
      try {
        checks += 1;
        const matches = await compare(password, against).catch(() => false);
        const allowed = matches && hash !== undefined;
        remember(key, allowed);
        return allowed ? 'allowed' : 'unauthenticated';
      } finally {
        release();
      }
    },
    checks: () => checks,
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
