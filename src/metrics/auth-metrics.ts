import { Counter, type Registry } from 'prom-client';

/** The results of requests through the `--auth kubernetes` guard, as the server names them. */
export const AUTH_REQUEST_RESULTS = ['allowed', 'no_token', 'unauthenticated', 'forbidden', 'error', 'throttled'] as const;
export const ACCESS_REVIEWS = ['TokenReview', 'SubjectAccessReview'] as const;

export interface AuthMetrics {
  request(result: string): void;
  reviewFailed(review: string): void;
}

/**
 * Counters of `--auth kubernetes`, registered only when it is on. Every label value starts at 0, so a
 * rate over the first refusal or the first failed review is not lost to a series that did not exist.
 */
export function createAuthMetrics(registry: Registry): AuthMetrics {
  const requests = new Counter({
    name: 'checkpoint_auth_requests_total',
    help: 'Requests checked by Kubernetes authentication and authorization, by result: allowed, no_token (401), unauthenticated (401), forbidden (403), error (503, the API server could not be asked), throttled (429, too many reviews waiting).',
    labelNames: ['result'],
    registers: [registry],
  });
  const reviewErrors = new Counter({
    name: 'checkpoint_auth_review_errors_total',
    help: 'TokenReviews and SubjectAccessReviews that failed (API server unreachable, timed out or answering an error); the request is refused.',
    labelNames: ['review'],
    registers: [registry],
  });
  for (const result of AUTH_REQUEST_RESULTS) requests.inc({ result }, 0);
  for (const review of ACCESS_REVIEWS) reviewErrors.inc({ review }, 0);
  return {
    request: (result) => requests.inc({ result }),
    reviewFailed: (review) => reviewErrors.inc({ review }),
  };
}
