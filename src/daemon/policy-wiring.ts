import type { Logger } from 'pino';
import { DEFAULT_CHECKPOINT_DIRECTORY } from '../defaults.js';
import { watchPolicyFile, type PolicyFileWatch } from '../retention/policy-file.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import { createPolicySources, type PolicySources } from './policy-sources.js';
import type { RetentionRequests } from './retention-requests.js';

export interface PolicyWiringDeps {
  readonly configPath: string | undefined;
  /** Documents of the policy file as loaded at start (already validated). */
  readonly initialPolicy: readonly PolicyDocument[];
  readonly exporterNamespace: string | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  readonly requests: RetentionRequests;
}

/** The policy sources, with the file's documents as loaded at start; a refused cluster object asks for a Warning Event. */
export function createPolicyWiring(deps: PolicyWiringDeps): PolicySources {
  const policies = createPolicySources({
    configPath: deps.configPath,
    logger: deps.logger,
    now: deps.now,
    ...(deps.exporterNamespace !== undefined ? { exporterNamespace: deps.exporterNamespace } : {}),
    onInvalidObject: (object, problems) => deps.requests.emit('invalidObject', object, problems),
  });
  if (deps.configPath !== undefined) policies.setFileDocuments(deps.initialPolicy);
  return policies;
}

/** Each good load of the policy file replaces its documents and plans everything again; a failed one keeps the last good. */
export function watchPolicyFileInto(policies: PolicySources, deps: Pick<PolicyWiringDeps, 'configPath' | 'logger' | 'requests'>): PolicyFileWatch | undefined {
  const { configPath, logger } = deps;
  if (configPath === undefined) return undefined;
  return watchPolicyFile(configPath, {
    logger,
    onLoad: (docs) => {
      policies.setFileDocuments(docs);
      logger.info({ path: configPath, documents: docs.length }, 'policy file reloaded');
      deps.requests.emit('full');
    },
    onError: (reason) => {
      policies.fileLoadFailed(reason);
      logger.error({ path: configPath, reason }, 'policy file reload failed; keeping the last good policy');
    },
  });
}

/**
 * The policy as described, with the checkpoint directory actually in use: a `--checkpoint-dir` flag
 * overrides the policy's `checkpointDirectory`, and the view must say what is in force.
 */
export function describeInForce(described: unknown, directory: string): unknown {
  const view = described as { effective?: { checkpointDirectory?: { value: unknown; source: unknown } } };
  const setting = view.effective?.checkpointDirectory;
  if (view.effective === undefined || setting?.value === directory) return described;
  return {
    ...view,
    effective: { ...view.effective, checkpointDirectory: { value: directory, source: directory === DEFAULT_CHECKPOINT_DIRECTORY ? 'default' : 'flag --checkpoint-dir' } },
  };
}
