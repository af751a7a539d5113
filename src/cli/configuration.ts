import { loadPolicyFile } from '../retention/policy-file.js';
import { mergePolicies } from '../retention/merge-policies.js';
import { splitProblems, type PolicyDocument } from '../retention/policy-document.js';
import { DEFAULT_CHECKPOINT_DIRECTORY } from '../defaults.js';
import { ConfigurationError, fileErrnoWords } from '../errors.js';

export interface LoadedConfiguration {
  readonly checkpointDirectory: string;
  readonly documents: readonly PolicyDocument[];
}

/**
 * Every problem line names the file: the parser's lines already start with `file <path>`; a file that
 * cannot be read at all is said the same way, in words rather than an errno code.
 */
export function policyFileProblems(file: string, reason: string): string[] {
  return splitProblems(reason).map((line) => {
    if (line.startsWith(`file ${file}`)) return line;
    const worded = line.replace(/\b(E[A-Z]+)$/, fileErrnoWords);
    return `file ${file}: ${worded}`;
  });
}

/** Flags override the file, the file overrides defaults. A bad file at start is fatal: there is no last good policy yet. */
export async function loadConfiguration(opts: { checkpointDir?: string; config?: string }): Promise<LoadedConfiguration> {
  let documents: readonly PolicyDocument[] = [];
  if (opts.config !== undefined) {
    const loaded = await loadPolicyFile(opts.config);
    // One line per problem, each naming the file (and the document, when the parser found it).
    if (!loaded.ok) throw new ConfigurationError(policyFileProblems(opts.config, loaded.reason));
    documents = loaded.value;
  }
  const fromFile = mergePolicies(documents).checkpointDirectory;
  return { checkpointDirectory: opts.checkpointDir ?? fromFile ?? DEFAULT_CHECKPOINT_DIRECTORY, documents };
}
