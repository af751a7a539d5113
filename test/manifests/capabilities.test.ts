import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { findObject } from './support/kube-object.js';
import { loadTarget } from './support/targets.js';

/**
 * The DaemonSet runs as uid 0 with every capability dropped. This checks, with real processes and
 * real permission bits, that such a process can still do what the exporter does in the kubelet's
 * root-owned 0700 checkpoint directory, and that the dropped capabilities are really missing.
 */

const run = promisify(execFile);

/** Another uid owns the directory in the negative control; any uid other than 0 would do. */
const OTHER_UID = 4242;

function locateSetpriv(): string | undefined {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  let setpriv: string | undefined;
  try {
    setpriv = execFileSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    setpriv = undefined;
  }
  const problem = !root ? 'not running as root: switching to uid 0 without capabilities needs root' : setpriv === undefined ? "setpriv not found (Debian package 'util-linux')" : undefined;
  if (problem === undefined) return setpriv;
  if (process.env['CI'] === 'true') throw new Error(`${problem}; CI must run the capability tests`);
  process.stderr.write(`\n*** SKIPPING capability tests: ${problem} ***\n\n`);
  return undefined;
}

const setpriv = locateSetpriv();
const describeWithSetpriv = setpriv === undefined ? describe.skip : describe;

/** What the exporter does to the directory: list, lstat a pin, read an archive, statfs, unlink. */
const EXPORTER_OPERATIONS = `
const fs = require('node:fs');
const [dir] = process.argv.slice(1);
const status = fs.readFileSync('/proc/self/status', 'utf8');
const caps = Object.fromEntries(status.split('\\n').filter((l) => l.startsWith('Cap')).map((l) => l.split(':\\t')));
const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
const result = {
  uid: process.getuid(),
  effective: caps.CapEff, permitted: caps.CapPrm, bounding: caps.CapBnd,
  noNewPrivs: /NoNewPrivs:\\s+1/.test(status),
  list: attempt(() => fs.readdirSync(dir)),
  lstatPin: attempt(() => fs.lstatSync(dir + '/a.tar.keep')),
  read: attempt(() => fs.readFileSync(dir + '/a.tar')),
  statfs: attempt(() => fs.statfsSync(dir)),
  unlink: attempt(() => fs.unlinkSync(dir + '/b.tar')),
};
process.stdout.write(JSON.stringify(result));
`;

interface Outcome {
  readonly uid: number;
  readonly effective: string;
  readonly permitted: string;
  readonly bounding: string;
  readonly noNewPrivs: boolean;
  readonly list: string;
  readonly lstatPin: string;
  readonly read: string;
  readonly statfs: string;
  readonly unlink: string;
}

let daemonSet: IDaemonSet;
let scratch: string | undefined;

beforeAll(async () => {
  daemonSet = findObject(await loadTarget('install'), 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
});

afterEach(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** Runs the exporter's operations as the DaemonSet's user, with its capability set and no_new_privs. */
async function runAsDaemonSet(dir: string): Promise<Outcome> {
  const pod = daemonSet.spec?.template.spec;
  const container = pod?.containers[0];
  const uid = container?.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser;
  const gid = container?.securityContext?.runAsGroup ?? pod?.securityContext?.runAsGroup;
  const capabilities = container?.securityContext?.capabilities;
  expect(capabilities?.drop).toEqual(['ALL']);
  const added = (capabilities?.add ?? []).map((capability) => `,+${capability.toLowerCase()}`).join('');
  const args = [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=-all${added}`];
  if (container?.securityContext?.allowPrivilegeEscalation === false) args.push('--no-new-privs');
  const { stdout } = await run(setpriv as string, [...args, '--', process.execPath, '-e', EXPORTER_OPERATIONS, dir]);
  return JSON.parse(stdout) as Outcome;
}

/** A kubelet-like checkpoint directory: root-owned 0700, root-owned 0600 archives, a pin. */
async function makeCheckpointDir(): Promise<string> {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-caps-'));
  const dir = path.join(scratch, 'checkpoints');
  await mkdir(dir, { mode: 0o700 });
  await chmod(dir, 0o700);
  for (const name of ['a.tar', 'b.tar']) await writeFile(path.join(dir, name), 'archive', { mode: 0o600 });
  await writeFile(path.join(dir, 'a.tar.keep'), '', { mode: 0o600 });
  return dir;
}

describeWithSetpriv('DaemonSet security context on a real checkpoint directory', () => {
  it('runs with no capability at all, and no way to regain one', async () => {
    const outcome = await runAsDaemonSet(await makeCheckpointDir());
    expect(outcome).toMatchObject({ uid: 0, effective: '0000000000000000', permitted: '0000000000000000', bounding: '0000000000000000', noNewPrivs: true });
  });

  it.each([
    { name: 'the kubelet owns the directory (root, 0700)', owner: 0, expected: { list: 'ok', lstatPin: 'ok', read: 'ok', statfs: 'ok', unlink: 'ok' } },
    // Negative control: what DAC_OVERRIDE would be needed for. Without it, uid 0 is just another user.
    { name: 'another uid owns the directory', owner: OTHER_UID, expected: { list: 'EACCES', lstatPin: 'EACCES', read: 'EACCES', statfs: 'ok', unlink: 'EACCES' } },
  ])('when $name, lists, reads, statfs and unlinks as expected', async ({ owner, expected }) => {
    const dir = await makeCheckpointDir();
    await chown(dir, owner, 0);
    expect(await runAsDaemonSet(dir)).toMatchObject(expected);
  });
});
