import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createInFlight, type WorkQueue } from '../../../src/concurrency.js';
import { createDirectoryAttachment } from '../../../src/inventory/directory-attachment.js';
import { createEntryObserver } from '../../../src/inventory/entry-observer.js';
import { createInterner } from '../../../src/inventory/interner.js';
import { createInventoryModel } from '../../../src/inventory/inventory-model.js';
import { systemTimers } from '../../../src/inventory/timers.js';
import { SCAN_OPERATIONS, type ScanOperation } from '../../../src/inventory/types.js';

let dir = '';
afterEach(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
  dir = '';
});

/** An lstat queue whose first task waits for `release`: an lstat still running when the directory is reattached. */
function heldFirstLstat(): { queue: WorkQueue; release(): void; started: Promise<void> } {
  let release = (): void => undefined;
  let markStarted = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let first = true;
  return {
    queue: {
      async run(task) {
        if (first) {
          first = false;
          markStarted();
          await gate;
        }
        return task();
      },
    },
    release: () => release(),
    started,
  };
}

describe('entry observer', () => {
  it('an lstat started before a reattach does not swallow the one the new attachment asked for', async () => {
    dir = await mkdtemp(join(tmpdir(), 'entry-observer-'));
    await writeFile(join(dir, 'notes.txt'), 'not an archive');
    const attachment = createDirectoryAttachment(() => undefined);
    attachment.start();
    attachment.attach({ dev: 1, ino: 1 });
    const model = createInventoryModel();
    const held = heldFirstLstat();
    const observer = createEntryObserver({
      directory: dir,
      identify: async () => ({ ok: false, reason: 'not read in this test' }),
      identifyConcurrency: 1,
      settleTimeMs: 1_000,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      timers: systemTimers,
      attachment,
      model,
      interner: createInterner(),
      lstatQueue: held.queue,
      inFlight: createInFlight(() => undefined),
      scanErrors: Object.fromEntries(SCAN_OPERATIONS.map((operation) => [operation, 0])) as Record<ScanOperation, number>,
      commit: (fileName, next) => model.set(fileName, next),
      onArchiveSettled: undefined,
    });
    // Under the first attachment, an event's lstat is held...
    const old = observer.observe('notes.txt');
    await held.started;
    // ...while the directory is detached and attached again, and the new attachment's scan asks for the entry.
    attachment.detach();
    attachment.attach({ dev: 1, ino: 2 });
    const fresh = observer.observe('notes.txt');
    held.release();
    await Promise.all([old, fresh]);
    expect(model.get('notes.txt')?.kind).toBe('unrecognized');
  });
});
