import { CliError, ConfigurationError, errnoCodeOf, EXIT_RUNTIME, messageOf, UsageError } from '../errors.js';

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

interface SystemErrorLike {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly path?: unknown;
  readonly hostname?: unknown;
}

/** `permission denied`, `no such file or directory`, …; the code itself for anything unlisted. */
export function describeErrno(error: unknown): string {
  const code = errnoCodeOf(error);
  if (code !== undefined) return ERRNO_TEXT[code] ?? code;
  return messageOf(error);
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
