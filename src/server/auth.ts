import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { messageOf } from '../errors.js';

/**
 * What the authorizer said about one request. `unavailable` means it could not ask (the API server
 * is down, slow or answering errors): the request is refused, never let through.
 */
export type AccessDecision =
  | { readonly kind: 'allowed'; readonly user: string }
  | { readonly kind: 'unauthenticated'; readonly reason: string }
  | { readonly kind: 'forbidden'; readonly user: string; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly review: string; readonly reason: string }
  | { readonly kind: 'throttled'; readonly reason: string };

/** Decides whether the bearer of `token` may GET `path`; never throws (a throw is treated as unavailable). */
export type Authorize = (token: string, path: string) => Promise<AccessDecision>;

/** The outcome of one request through the guard, the `result` label of checkpoint_auth_requests_total. */
export type AuthResult = 'allowed' | 'no_token' | 'unauthenticated' | 'forbidden' | 'error' | 'throttled';

export interface AuthGuardOptions {
  readonly authorize: Authorize;
  readonly logger: Logger;
  /** Paths answered without a token: the kubelet's probes carry none. */
  readonly openPaths: ReadonlySet<string>;
  /** Called once per guarded request, with the decision when one was asked for. */
  onResult?(result: AuthResult, decision: AccessDecision | undefined): void;
  /** For the log's rate limit; Date.now by default. */
  now?(): number;
}

/** The probes stay open: the kubelet has no token, and a probe that got 401 would restart the pod. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Longer headers are not tokens anyone issued; refusing them keeps hashing and the API request bounded. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const token = match?.[1];
  if (token === undefined || token.length > MAX_TOKEN_LENGTH) return undefined;
  return token;
}

const CHALLENGE = 'Bearer realm="checkpoint-exporter"';

/**
 * While the API server cannot be asked, every request fails the same way: one log line per this
 * interval, the next one saying how many were left out, so an outage cannot flood the log (the
 * metric counts every one).
 */
export const UNAVAILABLE_LOG_INTERVAL_MS = 10_000;

/**
 * Koa middleware for `--auth kubernetes`: every path but the open ones needs a bearer token the
 * injected authorizer accepts for that path. 401 without a token or with one it does not know, 403 when
 * the user may not read the path, 503 when it cannot tell. The token itself is never logged.
 */
export function createAuthGuard(options: AuthGuardOptions): Middleware {
  const report = (result: AuthResult, decision?: AccessDecision): void => options.onResult?.(result, decision);
  const now = options.now ?? Date.now;
  let lastLoggedMs: number | undefined;
  let notLogged = 0;
  const logUnavailable = (decision: { review: string; reason: string }, path: string): void => {
    const at = now();
    if (lastLoggedMs !== undefined && at - lastLoggedMs < UNAVAILABLE_LOG_INTERVAL_MS) {
      notLogged += 1;
      return;
    }
    options.logger.warn({ review: decision.review, reason: decision.reason, path, notLoggedSinceLast: notLogged }, 'cannot check access with the Kubernetes API; request refused');
    lastLoggedMs = at;
    notLogged = 0;
  };
  return async (ctx, next) => {
    if (options.openPaths.has(ctx.path)) {
      await next();
      return;
    }
    const token = bearerToken(ctx.get('Authorization') || undefined);
    if (token === undefined) {
      report('no_token');
      ctx.status = 401;
      ctx.set('WWW-Authenticate', CHALLENGE);
      ctx.body = 'Unauthorized: a bearer token is required\n';
      return;
    }
    let decision: AccessDecision;
    try {
      decision = await options.authorize(token, ctx.path);
    } catch (error) {
      decision = { kind: 'unavailable', review: 'unknown', reason: messageOf(error) };
    }
    switch (decision.kind) {
      case 'allowed':
        report('allowed', decision);
        await next();
        return;
      case 'unauthenticated':
        report('unauthenticated', decision);
        ctx.status = 401;
        ctx.set('WWW-Authenticate', CHALLENGE);
        ctx.body = 'Unauthorized\n';
        return;
      case 'forbidden':
        report('forbidden', decision);
        ctx.status = 403;
        ctx.body = `Forbidden (user=${decision.user}, verb=get, path=${ctx.path})\n`;
        return;
      case 'unavailable':
        report('error', decision);
        logUnavailable(decision, ctx.path);
        ctx.status = 503;
        ctx.body = 'Service Unavailable: access cannot be checked\n';
        return;
      case 'throttled':
        report('throttled', decision);
        ctx.status = 429;
        ctx.set('Retry-After', '1');
        ctx.body = 'Too Many Requests: too many access reviews waiting\n';
        return;
    }
  };
}
