import type { Logger } from 'pino';
import { describePolicy, mergePolicies } from '../retention/merge-policies.js';
import { parsePolicyDocument, type PolicyDocument } from '../retention/policy-document.js';
import type { RetentionPolicy } from '../retention/types.js';
import type { ConfigStatus } from '../metrics/exporter-view.js';
import type { PolicyObject } from '../kubernetes/policy-watch.js';


interface RejectedObject {
  readonly source: string;
  readonly reason: string;
  /** The object's previous, valid version is still applied. */
  readonly keptLastValid: boolean;
}

/**
 * Holds the documents of every policy source (the file, CheckpointRestoreOperator objects) and the
 * policy merged from them; merging is deterministic and lives in mergePolicies.
 */
export interface PolicySources {
  policy(): RetentionPolicy;
  setFileDocuments(docs: readonly PolicyDocument[]): void;
  fileLoadFailed(reason: string): void;
  setClusterObjects(objects: readonly PolicyObject[]): void;
  configStatus(): ConfigStatus;
  /** Warnings of every document in force, e.g. unknown fields or upstream-style megabyte sizes. */
  warnings(): readonly PolicyWarning[];
  describe(): unknown;
}

export interface PolicyWarning {
  readonly source: string;
  readonly warning: string;
}

export function createPolicySources(deps: { configPath: string | undefined; logger: Logger; now(): number }): PolicySources {
  let fileDocs: readonly PolicyDocument[] = [];
  let clusterDocs: readonly PolicyDocument[] = [];
  let rejected: readonly RejectedObject[] = [];
  // Without a file there is nothing to reload: report success as of start, like Prometheus does for its own config.
  let status: { lastReloadSuccessful: boolean; lastSuccessMs: number | undefined; lastError: string | undefined } = {
    lastReloadSuccessful: true,
    lastSuccessMs: deps.configPath === undefined ? deps.now() : undefined,
    lastError: undefined,
  };
  let merged = mergePolicies([]);
  const warnings = (): PolicyWarning[] => [...fileDocs, ...clusterDocs].flatMap((d) => d.warnings.map((warning) => ({ source: d.source, warning })));
  const remerge = (): void => {
    merged = mergePolicies([...fileDocs, ...clusterDocs]);
  };

  return {
    policy: () => merged,
    setFileDocuments(docs) {
      fileDocs = docs;
      status = { lastReloadSuccessful: true, lastSuccessMs: deps.now(), lastError: undefined };
      remerge();
    },
    fileLoadFailed(reason) {
      // The last good policy stays in force; only the status changes.
      status = { ...status, lastReloadSuccessful: false, lastError: reason };
    },
    setClusterObjects(objects) {
      const docs: PolicyDocument[] = [];
      const bad: RejectedObject[] = [];
      for (const o of objects) {
        const source = `CheckpointRestoreOperator ${o.namespace}/${o.name}`;
        const parsed = parsePolicyDocument(o.object, source);
        if (parsed.ok) {
          docs.push(parsed.value);
          const known = clusterDocs.find((d) => d.source === source);
          if (!known || JSON.stringify(known.warnings) !== JSON.stringify(parsed.value.warnings)) {
            for (const warning of parsed.value.warnings) deps.logger.warn({ source, warning }, 'CheckpointRestoreOperator warning');
          }
        } else {
          // An invalid edit must not drop the object's policies (and let the defaults delete): its last
          // valid version stays in force until the object is fixed or deleted.
          const lastValid = clusterDocs.find((d) => d.source === source);
          if (lastValid) docs.push(lastValid);
          bad.push({ source, reason: parsed.reason, keptLastValid: lastValid !== undefined });
          if (!rejected.some((r) => r.source === source && r.reason === parsed.reason)) {
            deps.logger.warn(
              { source, reason: parsed.reason },
              lastValid ? 'invalid CheckpointRestoreOperator: keeping its last valid version' : 'ignoring invalid CheckpointRestoreOperator',
            );
          }
        }
      }
      clusterDocs = docs;
      rejected = bad;
      remerge();
    },
    warnings,
    configStatus: () => ({ lastReloadSuccessful: status.lastReloadSuccessful, lastSuccessMs: status.lastSuccessMs }),
    describe: () => ({
      effective: describePolicy(merged),
      sources: {
        file: deps.configPath === undefined ? null : { path: deps.configPath, documents: fileDocs.length, ...status },
        cluster: { objects: clusterDocs.map((d) => d.source), rejected },
        warnings: warnings(),
      },
    }),
  };
}
