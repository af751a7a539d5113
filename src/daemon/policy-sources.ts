import type { Logger } from 'pino';
import { describePolicy, mergePolicies } from '../retention/merge-policies.js';
import { DEFAULT_EXPORTER_NAMESPACE } from '../defaults.js';
import { parsePolicyDocument, splitProblems, type PolicyDocument } from '../retention/policy-document.js';
import type { PolicyConflict, RetentionPolicy } from '../retention/types.js';
import type { ConfigStatus } from '../metrics/exporter-view.js';
import type { PolicyObject } from '../kubernetes/policy-watch.js';

interface RejectedObject {
  readonly source: string;
  readonly namespace: string;
  readonly name: string;
  /** One line per problem, each starting with the source. */
  readonly problems: readonly string[];
  /** The object's previous, valid version is still applied. */
  readonly keptLastValid: boolean;
}

/** Which object a policy problem is about, for a Warning Event on it. */
export interface PolicyObjectRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** One cluster object and whether its current version is valid (checkpoint_policy_object_valid). */
export interface PolicyObjectValidity {
  readonly namespace: string;
  readonly name: string;
  readonly valid: boolean;
}

export type RetentionAllowed = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Holds the documents of every policy source (the file, CheckpointRestoreOperator objects) and the
 * policy merged from them; merging is deterministic and lives in mergePolicies.
 *
 * Each source is all or nothing. An invalid file reload or an invalid edit of an object keeps the last
 * valid version in force. An object that is invalid with no valid version seen (a restart, a new
 * node, a new object) stops retention altogether, since any policy computed without it could delete
 * what it was written to keep: retentionAllowed() says so until the object is fixed or deleted.
 */
export interface PolicySources {
  policy(): RetentionPolicy;
  setFileDocuments(docs: readonly PolicyDocument[]): void;
  fileLoadFailed(reason: string): void;
  setClusterObjects(objects: readonly PolicyObject[]): void;
  configStatus(): ConfigStatus;
  /** False while some source is invalid and has no valid version in force: retention must not run at all. */
  retentionAllowed(): RetentionAllowed;
  /** Every known CheckpointRestoreOperator object and whether its current version is valid. */
  objectValidity(): readonly PolicyObjectValidity[];
  /** The problem lines of every invalid cluster object, for `plan` and the log. */
  problems(): readonly string[];
  /** Warnings of every document in force (none are produced today: every doubt is an error). */
  warnings(): readonly PolicyWarning[];
  readonly exporterNamespace: string;
  /** The documents in force, file first then cluster objects (the merge ranks them itself); none: the defaults. */
  sources(): readonly string[];
  /** Fields several sources set differently, with the setting that applies (the one that deletes least). */
  conflicts(): readonly PolicyConflict[];
  describe(): unknown;
}

export interface PolicyWarning {
  readonly source: string;
  readonly warning: string;
}

export interface PolicySourcesDeps {
  readonly configPath: string | undefined;
  readonly logger: Logger;
  now(): number;
  /** Objects here may set every policy; objects elsewhere only their own namespace's. Default checkpoint-exporter. */
  readonly exporterNamespace?: string;
  /**
   * Called once per new invalid version of an object (after it was logged), e.g. to write a Warning
   * Event on it. Must not throw; a throw is logged and ignored.
   */
  onInvalidObject?(object: PolicyObjectRef, problems: readonly string[]): void;
}

const sourceOf = (o: { namespace: string; name: string }): string => `CheckpointRestoreOperator ${o.namespace}/${o.name}`;

export function createPolicySources(deps: PolicySourcesDeps): PolicySources {
  const exporterNamespace = deps.exporterNamespace ?? DEFAULT_EXPORTER_NAMESPACE;
  let fileDocs: readonly PolicyDocument[] = [];
  let clusterDocs: readonly PolicyDocument[] = [];
  let rejected: readonly RejectedObject[] = [];
  let validity: readonly PolicyObjectValidity[] = [];
  /** What was last reported per object source, so an unchanged invalid object is logged and reported once. */
  let reported = new Map<string, string>();
  let blockedReason: string | undefined;
  // Without a file there is nothing to reload: report success as of start, like Prometheus does for its own config.
  let status: { lastReloadSuccessful: boolean; lastSuccessMs: number | undefined; lastError: string | undefined } = {
    lastReloadSuccessful: true,
    lastSuccessMs: deps.configPath === undefined ? deps.now() : undefined,
    lastError: undefined,
  };
  let merged = mergePolicies([]);
  const warnings = (): PolicyWarning[] => [...fileDocs, ...clusterDocs].flatMap((d) => d.warnings.map((warning) => ({ source: d.source, warning })));
  /** Conflicts already logged: each is logged once when it appears, not at every merge. */
  let loggedConflicts = new Set<string>();
  const remerge = (): void => {
    merged = mergePolicies([...fileDocs, ...clusterDocs]);
    const now = new Set<string>();
    for (const conflict of merged.conflicts ?? []) {
      now.add(conflict.message);
      if (loggedConflicts.has(conflict.message)) continue;
      deps.logger.warn(
        { field: conflict.field, scope: conflict.scope, settings: conflict.settings, applied: conflict.applied },
        `policy conflict: ${conflict.message}`,
      );
    }
    for (const gone of loggedConflicts) if (!now.has(gone)) deps.logger.info({ conflict: gone }, 'policy conflict resolved');
    loggedConflicts = now;
  };

  const retentionAllowed = (): RetentionAllowed => (blockedReason === undefined ? { ok: true } : { ok: false, reason: blockedReason });

  const updateBlocked = (): void => {
    const blocking = rejected.filter((r) => !r.keptLastValid);
    const next =
      blocking.length === 0
        ? undefined
        : `retention is stopped: ${blocking.map((r) => r.source).join(', ')} ${blocking.length === 1 ? 'is' : 'are'} invalid with no valid version in force; fix or delete ${blocking.length === 1 ? 'it' : 'them'} (first problem: ${blocking[0]?.problems[0] ?? 'unknown'})`;
    if (next !== undefined && blockedReason === undefined) deps.logger.error({ objects: blocking.map((r) => r.source) }, next);
    if (next === undefined && blockedReason !== undefined) deps.logger.info('every CheckpointRestoreOperator object is valid or has a valid version in force: retention resumes');
    blockedReason = next;
  };

  const notifyInvalid = (object: PolicyObject, problems: readonly string[]): void => {
    if (!deps.onInvalidObject) return;
    try {
      deps.onInvalidObject(
        {
          namespace: object.namespace,
          name: object.name,
          ...(object.uid !== undefined ? { uid: object.uid } : {}),
          ...(object.resourceVersion !== undefined ? { resourceVersion: object.resourceVersion } : {}),
        },
        problems,
      );
    } catch (error) {
      deps.logger.error({ err: error, source: sourceOf(object) }, 'reporting an invalid CheckpointRestoreOperator failed');
    }
  };

  return {
    exporterNamespace,
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
      const seen: PolicyObjectValidity[] = [];
      const nextReported = new Map<string, string>();
      for (const o of objects) {
        const source = sourceOf(o);
        const parsed = parsePolicyDocument(o.object, source, { origin: 'cluster', authority: { exporterNamespace } });
        seen.push({ namespace: o.namespace, name: o.name, valid: parsed.ok });
        if (parsed.ok) {
          docs.push(parsed.value);
          if (reported.has(source)) deps.logger.info({ source }, 'CheckpointRestoreOperator is valid again');
          continue;
        }
        // An invalid edit must not drop the object's policies (and let the defaults delete): its last
        // valid version stays in force until the object is fixed or deleted.
        const lastValid = clusterDocs.find((d) => d.source === source);
        if (lastValid) docs.push(lastValid);
        const problems = splitProblems(parsed.reason);
        bad.push({ source, namespace: o.namespace, name: o.name, problems, keptLastValid: lastValid !== undefined });
        const key = `${o.uid ?? ''}\u0000${o.resourceVersion ?? ''}\u0000${parsed.reason}`;
        nextReported.set(source, key);
        if (reported.get(source) === key) continue;
        deps.logger.error(
          { source, problems, keptLastValid: lastValid !== undefined },
          lastValid
            ? `invalid CheckpointRestoreOperator ${o.namespace}/${o.name}: keeping its last valid version`
            : `invalid CheckpointRestoreOperator ${o.namespace}/${o.name} with no valid version: retention is stopped until it is fixed or deleted`,
        );
        notifyInvalid(o, problems);
      }
      clusterDocs = docs;
      rejected = bad;
      validity = seen;
      reported = nextReported;
      remerge();
      updateBlocked();
    },
    retentionAllowed,
    sources: () => [...fileDocs, ...clusterDocs].map((d) => d.source),
    conflicts: () => merged.conflicts ?? [],
    objectValidity: () => validity,
    problems: () => rejected.flatMap((r) => r.problems),
    warnings,
    configStatus: () => ({ lastReloadSuccessful: status.lastReloadSuccessful, lastSuccessMs: status.lastSuccessMs }),
    describe: () => ({
      effective: describePolicy(merged),
      conflicts: merged.conflicts ?? [],
      retention: retentionAllowed(),
      sources: {
        file: deps.configPath === undefined ? null : { path: deps.configPath, documents: fileDocs.length, ...status },
        cluster: { exporterNamespace, objects: clusterDocs.map((d) => d.source), rejected },
        warnings: warnings(),
      },
    }),
  };
}
