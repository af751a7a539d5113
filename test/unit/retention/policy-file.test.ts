import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { PolicyDocument } from '../../../src/retention/policy-document.js';
import { loadPolicyFile, watchPolicyFile, type PolicyFileWatch } from '../../../src/retention/policy-file.js';
import { waitUntil } from '../../support/wait.js';

const policy = (maxCheckpointsPerContainer: number): string =>
  `apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: ${maxCheckpointsPerContainer}\n`;

let dir: string;
let watch: PolicyFileWatch | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'retention-policy-file-'));
});
afterEach(async () => {
  watch?.close();
  watch = undefined;
  await rm(dir, { recursive: true, force: true });
});

type Event = { kind: 'load'; docs: PolicyDocument[] } | { kind: 'error'; reason: string };

/**
 * Watch events as a queue the test awaits one by one: no sleeping, no timing guesses. The stability
 * wait between the two reads of a new text runs `duringStabilityWait` first (a writer still busy),
 * and counts as a 'wait' in `log`.
 */
function watchEvents(
  file: string,
  duringStabilityWait: (() => Promise<void>)[] = [],
  extra: { readonly logger?: pino.Logger; readonly pollIntervalMs?: number } = {},
): { next(): Promise<Event>; log: string[] } {
  const log: string[] = [];
  const queued: Event[] = [];
  const waiting: ((event: Event) => void)[] = [];
  const push = (event: Event): void => {
    log.push(event.kind);
    const waiter = waiting.shift();
    if (waiter) waiter(event);
    else queued.push(event);
  };
  watch = watchPolicyFile(file, {
    logger: extra.logger ?? pino({ level: 'silent' }),
    ...(extra.pollIntervalMs === undefined ? {} : { pollIntervalMs: extra.pollIntervalMs }),
    debounceMs: 5,
    stabilityMs: 1,
    delay: async () => {
      log.push('wait');
      await duringStabilityWait.shift()?.();
    },
    onLoad: (docs) => push({ kind: 'load', docs }),
    onError: (reason) => push({ kind: 'error', reason }),
  });
  return {
    log,
    next: () => {
      const event = queued.shift();
      return event ? Promise.resolve(event) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** Replaces the file in one step, so the watch never reads a text this test did not mean. */
async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

const limitOf = (event: Event): number | undefined => (event.kind === 'load' ? event.docs[0]?.globalPolicy?.maxCheckpointsPerContainer : undefined);

describe('loadPolicyFile', () => {
  it.each([
    ['a valid file', policy(4), true, 'file'],
    ['an invalid file', policy(-4), false, 'spec.globalPolicy.maxCheckpointsPerContainer: -4 is negative'],
  ])('reads %s', async (_name, text, ok, expected) => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, text);
    const loaded = await loadPolicyFile(file);
    expect(loaded.ok).toBe(ok);
    if (loaded.ok) expect(loaded.value[0]).toMatchObject({ source: `file ${file}`, origin: expected });
    else expect(loaded.reason).toContain(expected);
  });

  it.each([
    ['an empty file', ''],
    ['a file of comments only', '# policy for this node\n---\n# nothing yet\n'],
  ])('refuses %s: no CheckpointRestoreOperator document', async (_name, text) => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, text);
    expect(await loadPolicyFile(file)).toEqual({ ok: false, reason: `file ${file}: no CheckpointRestoreOperator document` });
  });

  it('reports a missing file', async () => {
    expect(await loadPolicyFile(path.join(dir, 'absent.yaml'))).toEqual({ ok: false, reason: 'cannot read policy file: ENOENT' });
  });
});

describe('watchPolicyFile', () => {
  it('loads at start, reloads on an in-place write, keeps quiet about unrelated files', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(3));
    const events = watchEvents(file);
    expect(limitOf(await events.next())).toBe(3);
    await writeFile(path.join(dir, 'unrelated.txt'), 'noise');
    await writeFile(file, policy(4));
    expect(limitOf(await events.next())).toBe(4);
  });

  it('follows an editor rename-replace', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(3));
    const events = watchEvents(file);
    expect(limitOf(await events.next())).toBe(3);
    await writeFile(path.join(dir, '.policy.yaml.swp'), policy(5));
    await rename(path.join(dir, '.policy.yaml.swp'), file);
    expect(limitOf(await events.next())).toBe(5);
  });

  it('follows a ConfigMap volume ..data symlink swap', async () => {
    await mkdir(path.join(dir, '..2024_01_01'));
    await writeFile(path.join(dir, '..2024_01_01', 'policy.yaml'), policy(3));
    await symlink('..2024_01_01', path.join(dir, '..data'));
    await symlink('..data/policy.yaml', path.join(dir, 'policy.yaml'));
    const events = watchEvents(path.join(dir, 'policy.yaml'));
    expect(limitOf(await events.next())).toBe(3);

    await mkdir(path.join(dir, '..2024_01_02'));
    await writeFile(path.join(dir, '..2024_01_02', 'policy.yaml'), policy(7));
    await symlink('..2024_01_02', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    expect(limitOf(await events.next())).toBe(7);
  });

  it('reports an invalid or missing file and recovers when it is fixed', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(3));
    const events = watchEvents(file);
    expect(limitOf(await events.next())).toBe(3);

    await writeFile(file, policy(3).replace('3', '"three"'));
    expect(await events.next()).toEqual({ kind: 'error', reason: expect.stringContaining('maxCheckpointsPerContainer: expected a whole number, got "three"') });

    await rm(file);
    expect(await events.next()).toEqual({ kind: 'error', reason: 'cannot read policy file: ENOENT' });

    await writeFile(file, policy(3));
    expect(limitOf(await events.next())).toBe(3);
  });

  it.each([
    ['truncated to nothing', (file: string) => truncate(file, 0)],
    ['rewritten with comments only', (file: string) => writeFile(file, '# being rewritten\n')],
  ])('keeps the last good policy when the file is %s, and loads it again once complete', async (_name, empty) => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(50));
    const events = watchEvents(file);
    expect(limitOf(await events.next())).toBe(50);

    await empty(file);
    expect(await events.next()).toEqual({ kind: 'error', reason: `file ${file}: no CheckpointRestoreOperator document` });

    await writeFile(file, policy(50));
    expect(limitOf(await events.next())).toBe(50);
  });

  it('does not apply a text the writer is still changing, and applies it once read twice alike', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(3));
    const events = watchEvents(file, [
      async () => undefined,
      // The writer has written `maxCheckpointsPerContainer: 4` so far and finishes while the watch waits.
      () => appendFile(file, '5\n'),
    ]);
    expect(limitOf(await events.next())).toBe(3);

    await replaceFile(file, policy(4).replace(/\n$/, ''));
    expect(limitOf(await events.next())).toBe(45);
    expect(events.log).toEqual(['wait', 'load', 'wait', 'wait', 'load']);
  });

  it('reads again when only the modification time changed during the wait', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(3));
    const events = watchEvents(file, [async () => undefined, () => utimes(file, new Date(1_000_000), new Date(1_000_000))]);
    expect(limitOf(await events.next())).toBe(3);

    await replaceFile(file, policy(8));
    expect(limitOf(await events.next())).toBe(8);
    expect(events.log).toEqual(['wait', 'load', 'wait', 'wait', 'load']);
  });
});

/** A ConfigMap volume as the kubelet lays it out: a timestamped directory, `..data` pointing at it, the file through `..data`. */
async function configMapVolume(volume: string, text: string): Promise<void> {
  await mkdir(path.join(volume, '..2024_01_01'), { recursive: true });
  await writeFile(path.join(volume, '..2024_01_01', 'policy.yaml'), text);
  await symlink('..2024_01_01', path.join(volume, '..data'));
  await symlink('..data/policy.yaml', path.join(volume, 'policy.yaml'));
}

/** The log lines' messages, as the exporter writes them. */
function recordingLogger(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

describe('watchPolicyFile when its directory goes away', () => {
  it('keeps the last good policy while the volume is gone and loads the new one when it comes back, logging each once', async () => {
    const volume = path.join(dir, 'policy');
    const file = path.join(volume, 'policy.yaml');
    await configMapVolume(volume, policy(3));
    const { logger, messages } = recordingLogger();
    const events = watchEvents(file, [], { logger, pollIntervalMs: 20 });
    expect(limitOf(await events.next())).toBe(3);

    await rm(volume, { recursive: true });
    expect(await events.next()).toEqual({ kind: 'error', reason: 'cannot read policy file: ENOENT' });
    await waitUntil(() => messages.includes('policy directory is gone; keeping the last good policy until it comes back'), 'the gone log line');

    await configMapVolume(volume, policy(7));
    expect(limitOf(await events.next())).toBe(7);
    expect(messages.filter((m) => m.startsWith('policy directory is gone')).length).toBe(1);
    expect(messages.filter((m) => m === 'policy directory is back; watching it again').length).toBe(1);

    // The watch is on the new directory: the kubelet's next update there is seen.
    await mkdir(path.join(volume, '..2024_01_02'));
    await writeFile(path.join(volume, '..2024_01_02', 'policy.yaml'), policy(9));
    await symlink('..2024_01_02', path.join(volume, '..data_tmp'));
    await rename(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
    expect(limitOf(await events.next())).toBe(9);
  });

  it('moves its watch to a directory swapped in under the same path', async () => {
    const volume = path.join(dir, 'policy');
    const file = path.join(volume, 'policy.yaml');
    await mkdir(volume);
    await writeFile(file, policy(3));
    const events = watchEvents(file, [], { pollIntervalMs: 20 });
    expect(limitOf(await events.next())).toBe(3);

    const staged = path.join(dir, 'staged');
    await mkdir(staged);
    await writeFile(path.join(staged, 'policy.yaml'), policy(5));
    await rename(volume, path.join(dir, 'old'));
    await rename(staged, volume);
    expect(limitOf(await events.next())).toBe(5);

    // The old directory's watch would see nothing of this; only a watch on the new one does.
    await replaceFile(file, policy(6));
    expect(limitOf(await events.next())).toBe(6);
  });
});

describe('watchPolicyFile when a callback throws', () => {
  it('reports the failure through onError instead of an unhandled rejection', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, policy(7));
    const reasons: string[] = [];
    const reported = new Promise<void>((resolve) => {
      watch = watchPolicyFile(file, {
        logger: pino({ level: 'silent' }),
        debounceMs: 5,
        stabilityMs: 1,
        delay: async () => undefined,
        onLoad: () => {
          throw new Error('consumer broke');
        },
        onError: (reason) => {
          reasons.push(reason);
          resolve();
        },
      });
    });
    await reported;
    expect(reasons).toEqual([expect.stringContaining('consumer broke')]);
  });
});
