import type { ArchiveRecord } from '../inventory/types.js';

/** What identity resolution needs of a PodCheckpoint object (see kubernetes/pod-checkpoint-watch.ts). */
export interface PodCheckpointReference {
  readonly namespace: string;
  readonly name: string;
  readonly sourcePodName: string | undefined;
  /** The base name of its NodeLocal status.checkpointLocation; undefined: it points at no archive here. */
  readonly archiveFileName: string | undefined;
}

/** An archive whose name and a PodCheckpoint object pointing at it name different pods. */
export interface PodIdentityConflict {
  readonly fileName: string;
  /** namespace/pod from the archive's name. */
  readonly fromName: string;
  /** namespace/pod from the object (metadata.namespace, spec.sourcePodName). */
  readonly fromObject: string;
  /** namespace/name of the object. */
  readonly object: string;
  /** One line for the log. */
  readonly message: string;
}

export interface ResolvedPodArchives {
  /** File names live objects reference. */
  readonly referenced: ReadonlySet<string>;
  /** Archives whose name and an object disagree: kept, and left out of the plan (see below). */
  readonly conflicts: readonly PodIdentityConflict[];
  /** Archives confirmed by an object whose namespace and pod agree with their name. */
  readonly confirmed: ReadonlySet<string>;
}

/**
 * The identity of pod-level archives with the PodCheckpoint objects known. An archive an object points
 * at takes its namespace and pod from the object (metadata.namespace, spec.sourcePodName); an archive no
 * object points at, or whose object has no spec.sourcePodName, keeps the identity its name gives.
 *
 * When the object and the name disagree (or two objects pointing at one archive name different pods),
 * neither is trusted to delete by: the fail-safe reading. The archive is kept whatever the policy says
 * (also with deleteReferencedPodCheckpoints), is left out of the pod limits of both pods (counting it
 * under either could make the other archives of that pod go), keeps its name's identity in the
 * metrics, and the disagreement is reported. Since the pod archive name is unambiguous, an agreeing
 * object changes nothing but confirms it.
 */
export function resolvePodArchiveIdentities(archives: readonly ArchiveRecord[], objects: readonly PodCheckpointReference[]): ResolvedPodArchives {
  const byFile = new Map<string, PodCheckpointReference[]>();
  for (const object of objects) {
    if (object.archiveFileName === undefined) continue;
    const list = byFile.get(object.archiveFileName);
    if (list === undefined) byFile.set(object.archiveFileName, [object]);
    else list.push(object);
  }
  const conflicts: PodIdentityConflict[] = [];
  const confirmed = new Set<string>();
  for (const record of archives) {
    const pointing = byFile.get(record.fileName);
    if (pointing === undefined || record.identity === undefined) continue;
    const fromName = `${record.identity.namespace}/${record.identity.pod}`;
    let agreed = false;
    let disagreed: PodCheckpointReference | undefined;
    for (const object of pointing) {
      if (object.sourcePodName === undefined) continue;
      if (object.namespace === record.identity.namespace && object.sourcePodName === record.identity.pod) agreed = true;
      else disagreed ??= object;
    }
    if (disagreed !== undefined) {
      const fromObject = `${disagreed.namespace}/${disagreed.sourcePodName ?? ''}`;
      const object = `${disagreed.namespace}/${disagreed.name}`;
      conflicts.push({
        fileName: record.fileName,
        fromName,
        fromObject,
        object,
        message: `pod archive ${record.fileName} is named for pod ${fromName} but PodCheckpoint ${object} points at it for pod ${fromObject}: kept and left out of both pods' limits until they agree`,
      });
    } else if (agreed) {
      confirmed.add(record.fileName);
    }
  }
  return { referenced: new Set(byFile.keys()), conflicts, confirmed };
}
