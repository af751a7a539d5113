import { parsePodArchiveName, podPinTargetOf } from '../archive/pod-archive-name.js';
import { identifyPodArchive } from '../archive/pod-archive-contents.js';
import type { IdentifyArchive } from './archive-identifier.js';
import type { ArchiveNaming } from './classify-entry.js';

/**
 * The pod checkpoint directory's names (KEP-5823), for a second inventory with the same watch, settle,
 * fingerprint and pin rules as the container directory's. A pod archive's record carries its namespace
 * where a container archive's name carries `<namespace>-<container>`, and its identity has an empty
 * container: its scope is the pod.
 */
export const POD_ARCHIVE_NAMING: ArchiveNaming = {
  parse(fileName) {
    const parsed = parsePodArchiveName(fileName);
    if (!parsed.ok) return parsed;
    const { pod, namespace, timestampText, timestampMs } = parsed.value;
    return { ok: true, value: { fileName, pod, namespaceContainer: namespace, timestampText, timestampMs } };
  },
  pinTargetOf: podPinTargetOf,
};

/** Identity from the name, composition from the headers (never needed for the identity). */
export const identifyPodArchiveEntry: IdentifyArchive = (path, name, fingerprint) => identifyPodArchive(path, name.namespaceContainer, name.pod, fingerprint);
