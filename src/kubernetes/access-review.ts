import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig, type V1SubjectAccessReview, type V1TokenReview } from '@kubernetes/client-node';
import { describeApiError } from './api-error.js';
import { requestOptions } from './request-options.js';

/**
 * Who may read the exporter, asked of the API server the way kube-rbac-proxy and controller-runtime's
 * secure metrics filter do: a TokenReview says whose the bearer token is, a SubjectAccessReview says
 * whether that user may `get` the non-resource URL. Answers are cached briefly, keyed by a hash of the
 * token (the token itself is never stored as a key nor logged), so a scrape every few seconds costs
 * the API server a review every minute or two.
 */
export type ReviewDecision =
  | { readonly kind: 'allowed'; readonly user: string }
  | { readonly kind: 'unauthenticated'; readonly reason: string }
  | { readonly kind: 'forbidden'; readonly user: string; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly review: 'TokenReview' | 'SubjectAccessReview'; readonly reason: string }
  | { readonly kind: 'throttled'; readonly reason: string };

export interface ReviewedUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface ReviewApis {
  readonly authentication: Pick<AuthenticationV1Api, 'createTokenReview'>;
  readonly authorization: Pick<AuthorizationV1Api, 'createSubjectAccessReview'>;
}

export interface AccessReviewerOptions {
  readonly apis: ReviewApis;
  readonly now: () => number;
  /** How long a token the API server authenticated is trusted without asking again. */
  readonly authenticatedTtlMs?: number;
  /** How long a token it did not authenticate is refused without asking again, so a wrong token cannot make every request a review. */
  readonly unauthenticatedTtlMs?: number;
  /** How long an allow or a deny holds. */
  readonly decisionTtlMs?: number;
  readonly maxEntries?: number;
  /** Reviews waiting on the API server at once; a request needing one more is throttled. */
  readonly maxInFlight?: number;
  readonly requestTimeoutMs?: number;
}

export interface AccessReviewer {
  authorize(token: string, path: string): Promise<ReviewDecision>;
  /** Cached answers, for tests. */
  size(): number;
}

/** kube-rbac-proxy's and controller-runtime's defaults are of this order: a revoked token or role takes effect within minutes. */
export const AUTHENTICATED_TTL_MS = 120_000;
export const UNAUTHENTICATED_TTL_MS = 30_000;
export const DECISION_TTL_MS = 60_000;
/** Bounds memory whatever tokens and paths clients send; the oldest answers go first. */
export const MAX_CACHED_REVIEWS = 4_096;
/**
 * Every unknown token costs a TokenReview, so a client sending new tokens could make each exporter pod
 * a source of API load; beyond this many reviews waiting, requests that need one more are refused
 * (429) while cached answers keep being served.
 */
export const MAX_REVIEWS_IN_FLIGHT = 16;
/** The reviews are small; an API server that does not answer in this time is treated as unavailable. */
export const REVIEW_TIMEOUT_MS = 5_000;

type Authentication = { readonly ok: true; readonly user: ReviewedUser } | { readonly ok: false; readonly reason: string };

interface Cached<T> {
  readonly value: T;
  readonly expiresAtMs: number;
}

/** A size-bounded map whose entries expire; insertion order is age order, so eviction drops the oldest. */
function createExpiringCache<T>(now: () => number, maxEntries: number): { get(key: string): T | undefined; set(key: string, value: T, ttlMs: number): void; size(): number } {
  const entries = new Map<string, Cached<T>>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAtMs <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, ttlMs) {
      entries.delete(key);
      entries.set(key, { value, expiresAtMs: now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    size: () => entries.size,
  };
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export function createAccessReviewer(options: AccessReviewerOptions): AccessReviewer {
  const maxEntries = options.maxEntries ?? MAX_CACHED_REVIEWS;
  const timeoutMs = options.requestTimeoutMs ?? REVIEW_TIMEOUT_MS;
  const tokens = createExpiringCache<Authentication>(options.now, maxEntries);
  const decisions = createExpiringCache<ReviewDecision>(options.now, maxEntries);
  // Concurrent requests with the same token (and path) share one review instead of each asking.
  const pending = new Map<string, Promise<ReviewDecision>>();

  const authenticate = async (token: string, key: string): Promise<Authentication | ReviewDecision> => {
    const cached = tokens.get(key);
    if (cached !== undefined) return cached;
    let review: V1TokenReview;
    try {
      review = await options.apis.authentication.createTokenReview(
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } },
        requestOptions(timeoutMs),
      );
    } catch (error) {
      return { kind: 'unavailable', review: 'TokenReview', reason: describeApiError(error) };
    }
    const status = review.status;
    const user = status?.user;
    let answer: Authentication;
    if (status?.authenticated === true && user?.username !== undefined && user.username !== '') {
      answer = {
        ok: true,
        user: {
          username: user.username,
          ...(user.uid !== undefined ? { uid: user.uid } : {}),
          ...(user.groups !== undefined ? { groups: user.groups } : {}),
          ...(user.extra !== undefined ? { extra: user.extra } : {}),
        },
      };
    } else {
      answer = { ok: false, reason: status?.error ?? 'token not authenticated' };
    }
    tokens.set(key, answer, answer.ok ? (options.authenticatedTtlMs ?? AUTHENTICATED_TTL_MS) : (options.unauthenticatedTtlMs ?? UNAUTHENTICATED_TTL_MS));
    return answer;
  };

  const authorizeUser = async (user: ReviewedUser, path: string): Promise<ReviewDecision> => {
    let review: V1SubjectAccessReview;
    try {
      review = await options.apis.authorization.createSubjectAccessReview(
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: user.username,
              ...(user.uid !== undefined ? { uid: user.uid } : {}),
              ...(user.groups !== undefined ? { groups: [...user.groups] } : {}),
              ...(user.extra !== undefined ? { extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])) } : {}),
              nonResourceAttributes: { path, verb: 'get' },
            },
          },
        },
        requestOptions(timeoutMs),
      );
    } catch (error) {
      return { kind: 'unavailable', review: 'SubjectAccessReview', reason: describeApiError(error) };
    }
    // An evaluation error with allowed false is a deny, as the API server's own authorizer treats it.
    if (review.status?.allowed === true && review.status.denied !== true) return { kind: 'allowed', user: user.username };
    return { kind: 'forbidden', user: user.username, reason: review.status?.reason ?? review.status?.evaluationError ?? 'not allowed' };
  };

  const review = async (token: string, path: string, tokenKey: string, decisionKey: string): Promise<ReviewDecision> => {
    const authentication = await authenticate(token, tokenKey);
    if ('kind' in authentication) return authentication;
    if (!authentication.ok) return { kind: 'unauthenticated', reason: authentication.reason };
    const decision = await authorizeUser(authentication.user, path);
    // Failures are not cached: the next request asks again, and is refused until the API answers.
    if (decision.kind !== 'unavailable') decisions.set(decisionKey, decision, options.decisionTtlMs ?? DECISION_TTL_MS);
    return decision;
  };

  return {
    authorize(token, path) {
      const tokenKey = hashOf(token);
      const decisionKey = `${tokenKey} ${path}`;
      const cached = decisions.get(decisionKey);
      if (cached !== undefined) return Promise.resolve(cached);
      const inFlight = pending.get(decisionKey);
      if (inFlight !== undefined) return inFlight;
      if (pending.size >= (options.maxInFlight ?? MAX_REVIEWS_IN_FLIGHT)) {
        return Promise.resolve({ kind: 'throttled', reason: `${pending.size} reviews already waiting on the API server` });
      }
      const started = review(token, path, tokenKey, decisionKey).finally(() => pending.delete(decisionKey));
      pending.set(decisionKey, started);
      return started;
    },
    size: () => tokens.size() + decisions.size(),
  };
}

/** The reviewer against the API server `kubeConfig` points to. */
export function createKubernetesAccessReviewer(kubeConfig: KubeConfig, now: () => number): AccessReviewer {
  return createAccessReviewer({
    apis: { authentication: kubeConfig.makeApiClient(AuthenticationV1Api), authorization: kubeConfig.makeApiClient(AuthorizationV1Api) },
    now,
  });
}
