import { Gauge, type Registry } from 'prom-client';

/** What the policy collector reads: the policy sources of the running exporter (src/daemon/policy-sources.ts). */
export interface PolicyValidityView {
  objectValidity(): ReadonlyArray<{ readonly namespace: string; readonly name: string; readonly valid: boolean }>;
  retentionAllowed(): { readonly ok: boolean };
  /** Fields several policy sources set differently (the setting that deletes least applies). */
  conflicts(): readonly unknown[];
}

/**
 * `checkpoint_policy_object_valid{namespace,name}`: 1 while a CheckpointRestoreOperator object's current
 * version is valid, 0 while it is refused (its last valid version, if any, stays in force); series of
 * deleted objects disappear. `checkpoint_retention_blocked_by_policy`: 1 while an invalid object with no
 * valid version in force stops retention altogether. `checkpoint_policy_conflicts`: how many fields
 * several sources set differently, each settled by the setting that deletes least; no labels (a
 * label per scope or source would be a series per mistake), the policy API lists them.
 */
export function registerPolicyCollector(registry: Registry, view: PolicyValidityView): void {
  const objectValid: Gauge<'namespace' | 'name'> = new Gauge({
    name: 'checkpoint_policy_object_valid',
    help: '1 while the current version of a CheckpointRestoreOperator object is valid; 0 while it is refused (its last valid version, if any, stays in force).',
    labelNames: ['namespace', 'name'],
    registers: [registry],
    collect: () => {
      objectValid.reset();
      for (const object of view.objectValidity()) objectValid.set({ namespace: object.namespace, name: object.name }, object.valid ? 1 : 0);
    },
  });
  const blocked: Gauge = new Gauge({
    name: 'checkpoint_retention_blocked_by_policy',
    help: '1 while retention does not run because a CheckpointRestoreOperator object is invalid and has no valid version in force.',
    registers: [registry],
    collect: () => {
      blocked.set(view.retentionAllowed().ok ? 0 : 1);
    },
  });
  const conflicts: Gauge = new Gauge({
    name: 'checkpoint_policy_conflicts',
    help: 'Fields of the policy in force that several sources (policy file documents, CheckpointRestoreOperator objects) set differently; the setting that deletes least applies. GET /api/v1/policy lists them.',
    registers: [registry],
    collect: () => {
      conflicts.set(view.conflicts().length);
    },
  });
}
