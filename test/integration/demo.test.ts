import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `npm run demo` runs this built script: it must cope with its default port being taken. */
const DEMO = fileURLToPath(new URL('../../dist/cli/demo.js', import.meta.url));

let root: string;
let blocker: Server | undefined;

beforeAll(async () => {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run npm run build (npm test does)`);
  root = await mkdtemp(join(tmpdir(), 'demo-it-'));
  // Hold the demo's default port (if something else already holds it, the demo must fall back all the same).
  blocker = await new Promise<Server | undefined>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(9873, '127.0.0.1', () => resolve(server));
  });
});
afterAll(async () => {
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  await rm(root, { recursive: true, force: true });
});

function runDemo(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; running: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO, join(root, `dir-${Math.random().toString(36).slice(2)}`)], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let running = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (!running && stdout.includes('Press Ctrl-C to stop.')) {
        running = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, running });
    });
  });
}

describe('npm run demo (built script)', () => {
  it('says truly what the first retention run deleted, and no run plans a file another run already deleted', async () => {
    const result = await runDemo({ DEMO_LISTEN_ADDRESS: '127.0.0.1:0' });
    expect(result.running).toBe(true);
    // The demo's over-limit container holds 13 archives (one pinned) against the default limit of 10.
    const said = /the first retention run deleted (\d+):\n((?: {2}\S+\n {4}.*\n)*)/.exec(result.stdout);
    expect(said).not.toBeNull();
    const listed = [...(said?.[2] ?? '').matchAll(/^ {2}(\S+\.tar)$/gm)].map((m) => m[1]);
    const logLines = result.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; file?: string });
    const deleted = logLines.filter((line) => line.msg === 'retention: deleted archive').map((line) => line.file);
    expect(Number(said?.[1])).toBe(3);
    expect(listed.sort()).toEqual([...deleted].sort());
    expect(deleted).toHaveLength(3);
    expect(logLines.filter((line) => line.msg.includes('already gone'))).toEqual([]);
  });

  it('falls back to a free port when its default port is taken, and runs', async () => {
    const result = await runDemo({});
    expect(result.stdout).toContain('Port 9873 is in use; the demo listens on a free port instead.');
    expect(result.stdout).toMatch(/checkpoint-exporter is running on http:\/\/127\.0\.0\.1:(?!9873\/)\d+\//);
    expect(result.running).toBe(true);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 90_000);

  it('with an explicit address that is taken, says so in one line and exits 3', async () => {
    const result = await runDemo({ DEMO_LISTEN_ADDRESS: '127.0.0.1:9873' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('checkpoint-exporter demo: cannot listen on 127.0.0.1:9873');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 90_000);
});
