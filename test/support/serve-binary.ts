import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { StagedUser } from './stage-for-user.js';

const runFile = promisify(execFile);

/** The built command line, as a user runs it. */
export const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServedBinary {
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stderr so far (pino JSON lines). */
  log(): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** How a run is started: by this user from the checkout, or as another user from what stageForUser copied for it. */
function launch(as: StagedUser | undefined): { node: string; main: string; options: { uid?: number; gid?: number; cwd?: string } } {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
  if (as === undefined) return { node: process.execPath, main: MAIN, options: {} };
  return { node: as.node, main: as.main, options: { uid: as.uid, gid: as.gid, cwd: as.dir } };
}

/**
 * Starts `serve` on an ephemeral loopback port and resolves once it listens. With `as`, it runs as that
 * user, from the copies stageForUser made (test/support/stage-for-user.ts).
 */
export async function serveBinary(args: readonly string[], options: { readonly as?: StagedUser; readonly env?: Readonly<Record<string, string>> } = {}): Promise<ServedBinary> {
  const { node, main, options: user } = launch(options.as);
  const child = spawn(node, [main, 'serve', '--listen-address', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    ...user,
  });
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /"url":"(https?:[^"]+)"/.exec(text);
      if (match?.[1] !== undefined) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 20);
    // Never what keeps the test process alive, whatever happens to the child.
    timer.unref();
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`exporter exited with ${code} before listening: ${text}`));
    });
    child.once('error', (error) => {
      clearInterval(timer);
      reject(new Error(`cannot start the exporter (${node}): ${error.message}`));
    });
  });
  return {
    url,
    child,
    pid: child.pid as number,
    log: () => text,
    metrics: async () => (await fetch(`${url}metrics`)).text(),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built command line once, as a user would (PATH only in the environment), and returns its
 * exit code and output. A run that outlives `timeoutMs` is an error, not an exit code. With `as`, it
 * runs as that user, from the copies stageForUser made.
 */
export async function runCli(args: readonly string[], options: { readonly timeoutMs?: number; readonly as?: StagedUser; readonly env?: Readonly<Record<string, string>> } = {}): Promise<CliRun> {
  const { node, main, options: user } = launch(options.as);
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const { stdout, stderr } = await runFile(node, [main, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...options.env },
      timeout: timeoutMs,
      ...user,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string; killed?: boolean };
    if (e.killed) throw new Error(`${args.join(' ')} did not exit within ${timeoutMs} ms: ${e.stderr}`);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
