import { loadPolicyFile } from '../retention/policy-file.js';
import { mergePolicies } from '../retention/merge-policies.js';
import type { PolicyDocument } from '../retention/policy-document.js';
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
    // The reason already names the file and the document.
    if (!loaded.ok) throw new UsageError(loaded.reason);
    documents = loaded.value;
  }
  const fromFile = mergePolicies(documents).checkpointDirectory;
  return { checkpointDirectory: opts.checkpointDir ?? fromFile ?? DEFAULT_CHECKPOINT_DIRECTORY, documents };
}

/** An error the user can fix; printed without a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
