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

/**
 * The daemon's wiring reports a `--kubeconfig` it cannot load as a UsageError (its message names the
 * file; a parser's excerpt follows on
 * further lines, left out); for the command line that is a configuration the exporter refuses, exit 2,
 * like a policy file.
 */
export function asConfigurationError(error: unknown): never {
  if (error instanceof UsageError && !(error instanceof ConfigurationError)) throw new ConfigurationError(error.message.split('\n')[0] ?? '');
  throw error;
}

/** Words for the errno codes a command meets, as `ls` and `strerror` print them. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ENAMETOOLONG: 'file name too long',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed, try again',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out',
};

export interface SystemErrorLike {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly path?: unknown;
  readonly hostname?: unknown;
}

export function errnoCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as SystemErrorLike).code;
  return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? code : undefined;
}

/** `permission denied`, `no such file or directory`, …; the code itself for anything unlisted. */
export function describeErrno(error: unknown): string {
  const code = errnoCodeOf(error);
  if (code !== undefined) return ERRNO_TEXT[code] ?? code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * One line for any error that reaches the top: the message of a CliError, a system error in words
 * (`cannot listen on 127.0.0.1:9873: address already in use`), or the error's own first line. Never
 * a stack trace.
 */
export function describeFailure(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const code = errnoCodeOf(error);
  if (code !== undefined) {
    const e = error as SystemErrorLike;
    const what = ERRNO_TEXT[code] ?? code;
    if (e.syscall === 'listen' || e.syscall === 'bind') {
      const host = typeof e.address === 'string' ? (e.address.includes(':') ? `[${e.address}]` : e.address) : '';
      const port = typeof e.port === 'number' ? `:${e.port}` : '';
      return `cannot listen on ${host}${port}: ${what}`;
    }
    if (e.syscall === 'getaddrinfo' && typeof e.hostname === 'string') return `cannot resolve ${e.hostname}: ${what}`;
    if (typeof e.path === 'string') return `cannot ${typeof e.syscall === 'string' ? `${e.syscall} ` : 'read '}${e.path}: ${what}`;
    if (typeof e.syscall === 'string') return `${e.syscall}: ${what}`;
    return what;
  }
  if (error instanceof Error) {
    const first = error.message.split('\n')[0] ?? '';
    // A plain Error says nothing about its kind; TypeError and its kin do, and help a bug report.
    return error.name === 'Error' || first.startsWith(error.name) ? first : `${error.name}: ${first}`;
  }
  return String(error);
}

/** The exit code of any error that reaches the top: a CliError's own, else a runtime failure. */
export function exitCodeOf(error: unknown): number {
  return error instanceof CliError ? error.exitCode : EXIT_RUNTIME;
}

/** Commander's wording, made to name the flag first: `--settle-time: "soon" is not a duration`. */
export function usageMessage(message: string): string {
  const text = message.replace(/^error: /, '').trim();
  const invalid = /^option '([^']+)' argument '(.*)' is invalid\. (.*)$/s.exec(text);
  if (invalid) {
    const [, flagsText = '', value = '', inner = ''] = invalid;
    const long = /--[\w-]+/.exec(flagsText)?.[0] ?? flagsText;
    const choices = /^Allowed choices are (.*)\.$/.exec(inner);
    if (choices) return `${flagsText.replace(/ <.*>$/, '')}: '${value}' is not one of ${choices[1] ?? ''}`;
    return inner.startsWith(`${long}:`) ? inner : `${long}: ${inner}`;
  }
  return text;
}
