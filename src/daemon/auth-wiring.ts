import type { Logger } from 'pino';
import { createKubernetesAccessReviewer } from '../kubernetes/access-review.js';
import { loadKubeConfig } from '../kubernetes/kube-config.js';
import type { Authorize } from '../server/auth.js';
import { ConfigurationError } from '../errors.js';

export interface AccessReviewWiringOptions {
  readonly kubeconfigPath: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  now(): number;
}

/**
 * The authorizer of `--auth kubernetes`. Without an API server to ask, nobody could ever be let in:
 * that is a configuration error at start, not a server that answers 503 to every scrape.
 */
export function connectAccessReviews(options: AccessReviewWiringOptions): Authorize {
  const loaded = loadKubeConfig({ kubeconfigPath: options.kubeconfigPath, env: options.env });
  if (!loaded.ok) throw new ConfigurationError(`--auth kubernetes needs the Kubernetes API: ${loaded.reason.split('\n')[0] ?? loaded.reason}`);
  options.logger.info({ source: loaded.value.source }, 'requests are checked with TokenReview and SubjectAccessReview');
  const reviewer = createKubernetesAccessReviewer(loaded.value.kubeConfig, options.now);
  return (token, path) => reviewer.authorize(token, path);
}
