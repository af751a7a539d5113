/**
 * Errno helpers and the error types every layer shares. Node's system errors carry a `code`
 * (`ENOENT`, `EACCES`); errors from another realm (a vm context, a worker's structured clone) are not
 * `instanceof Error`, so these read properties rather than classes.
 */

/** The error's `code` property as a string, whatever it holds; undefined when it has none. */
export function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** A string code shaped like an errno name (`E`, then capitals, digits, underscores); undefined otherwise. */
export function errnoCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? code : undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The bare code when there is one (`ENOENT`), else the message: for a reason that must stay one short line. */
export function codeOrMessageOf(error: unknown): string {
  return codeOf(error) ?? messageOf(error);
}

/** ENOTDIR: a path component was replaced by a file, which for us is the same as gone. */
export function isGone(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The message, prefixed with its code unless Node's system error already starts with it (`EACCES: permission denied, open …`). */
export function describeError(error: unknown): string {
  // Not `instanceof Error`: an error from another realm (a vm context, a worker's structured clone) is not one.
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    const { message, code } = error as { message: string; code?: unknown };
    return typeof code !== 'string' || message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
  }
  return String(error);
}

/** Words for the errno codes met reading a file an operator wrote (a policy, a web configuration), as its problem lines print them. */
const FILE_ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
};

/** `no such file`, `permission denied`, …; the code itself for anything unlisted. */
export function fileErrnoWords(code: string): string {
  return FILE_ERRNO_WORDS[code] ?? code;
}

/** A file that could not be read, in words when its code is known, else its message. */
export function describeFileError(error: unknown): string {
  const code = codeOf(error);
  return code !== undefined ? fileErrnoWords(code) : messageOf(error);
}

/**
 * Exit codes of every command, as the README documents them:
 * 0 done, 1 usage (bad flags or arguments), 2 configuration (a policy or kubeconfig the exporter
 * refuses), 3 runtime failure (a directory or archive that cannot be read, a port that cannot be bound).
 */
export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_CONFIGURATION = 2;
export const EXIT_RUNTIME = 3;

/** An error the user can act on: printed without a stack trace, one line per line of its message. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number = EXIT_RUNTIME;
  /** Printed after the message, e.g. `see 'checkpoint-exporter ls --help'`. */
  readonly hint: string | undefined;
  constructor(message: string, options: { hint?: string } = {}) {
    super(message);
    this.hint = options.hint;
  }
}

/** Bad flags or arguments: exit 1, with a hint to the command's help instead of the whole help. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';
  override readonly exitCode: number = EXIT_USAGE;
}

/**
 * A configuration the exporter refuses: an invalid or unreadable policy (file or cluster object), an
 * unusable kubeconfig. `serve` and `plan` stop before anything is read or deleted, printing one line
 * per problem, and exit with 2.
 */
export class ConfigurationError extends CliError {
  override readonly name: string = 'ConfigurationError';
  override readonly exitCode: number = EXIT_CONFIGURATION;
  readonly problems: readonly string[];
  constructor(problems: readonly string[] | string) {
    const lines = typeof problems === 'string' ? problems.split('\n').filter((line) => line !== '') : problems;
    super(lines.join('\n'));
    this.problems = lines;
  }
}

/** Something the command needs could not be done: a directory or archive unreadable, a port taken. Exit 3. */
export class RuntimeFailure extends CliError {
  override readonly name: string = 'RuntimeFailure';
  override readonly exitCode: number = EXIT_RUNTIME;
}
