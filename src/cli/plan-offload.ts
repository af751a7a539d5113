import { InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { offloadKeyOf } from '../offload/layout.js';
import { locationIn, parseTargetSpec, type TargetSpec } from '../offload/target-spec.js';
import type { PlannedDeletion } from '../retention/types.js';

/** What retention does with a planned archive: `offload` (copied there first, then deleted) or `delete`. */
export interface PlannedAction {
  readonly action: 'offload' | 'delete';
  readonly offloadTo?: string;
}

export const planOffloadOption = (): Option =>
  new Option('--offload-to <target>', 'the exporter\'s --offload-to: each deletion is shown as offload (with where the copy goes) or delete').argParser((value: string): TargetSpec => {
    const parsed = parseTargetSpec(value);
    if (!parsed.ok) throw new InvalidArgumentError(`--offload-to: ${parsed.reason}`);
    return parsed.value;
  });

/** The action of each deletion, keyed as the exporter keys it (`--node-name`, else the host name). */
export function plannedActions(target: TargetSpec | undefined, nodeName: string | undefined): (deletion: PlannedDeletion) => PlannedAction {
  if (target === undefined) return () => ({ action: 'delete' });
  const node = nodeName ?? hostname();
  return (deletion) => {
    const key = offloadKeyOf(node, deletion.identity, deletion.fileName);
    // No key: the offload would fail and keep the archive; plan says so rather than "delete".
    return key === undefined ? { action: 'offload' } : { action: 'offload', offloadTo: locationIn(target, key) };
  };
}
