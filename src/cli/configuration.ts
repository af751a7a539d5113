import { loadPolicyFile } from '../retention/policy-file.js';
import { mergePolicies } from '../retention/merge-policies.js';
import { splitProblems, type PolicyDocument } from '../retention/policy-document.js';
import { DEFAULT_CHECKPOINT_DIRECTORY } from './options.js';

export interface LoadedConfiguration {
  readonly checkpointDirectory: string;
  readonly documents: readonly PolicyDocument[];
}

/** Flags override the file, the file overrides defaults. A bad file at start is fatal: there is no last good policy yet. */
export async function loadConfiguration(opts: { checkpointDir?: string; config?: string }): Promise<LoadedConfiguration> {
  let documents: readonly PolicyDocument[] = [];
  if (opts.config !== undefined) {
    const loaded = await loadPolicyFile(opts.config);
    // The reason already names the file and the document, one line per problem.
    if (!loaded.ok) throw new ConfigurationError(splitProblems(loaded.reason));
    documents = loaded.value;
  }
  const fromFile = mergePolicies(documents).checkpointDirectory;
  return { checkpointDirectory: opts.checkpointDir ?? fromFile ?? DEFAULT_CHECKPOINT_DIRECTORY, documents };
}

/** An error the user can fix; printed without a stack trace, one line per line of its message. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
  /** The process exit code: 2, a configuration the exporter refuses (issue 12 will split usage errors off as 1). */
  readonly exitCode: number = 2;
}

/**
 * A policy (file or cluster object) the exporter refuses: `serve` and `plan` stop before anything is
 * read or deleted, printing one line per problem, and exit with 2.
 */
export class ConfigurationError extends UsageError {
  override readonly name = 'ConfigurationError';
  override readonly exitCode = 2;
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}
