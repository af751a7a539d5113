import { describe, expect, it } from '@jest/globals';
import { createDirectoryAttachment, type DirectoryAttachment } from '../../../src/inventory/directory-attachment.js';
import type { DirectoryWatch } from '../../../src/inventory/directory-watcher.js';

const FIRST = { dev: 8, ino: 100 };
const RECREATED = { dev: 8, ino: 200 };

function attachmentWithWatches(): { attachment: DirectoryAttachment; closed: DirectoryWatch[]; watch(): DirectoryWatch } {
  const closed: DirectoryWatch[] = [];
  const attachment = createDirectoryAttachment((watch) => closed.push(watch));
  return { attachment, closed, watch: () => ({ close: async () => undefined }) };
}

describe('createDirectoryAttachment', () => {
  it('walks stopped → waiting → watching → waiting → watching → stopped', () => {
    const { attachment } = attachmentWithWatches();
    const phases = [attachment.phase()];
    attachment.start();
    phases.push(attachment.phase());
    attachment.attach(FIRST);
    phases.push(attachment.phase());
    expect(attachment.detach()).toBe(true);
    phases.push(attachment.phase());
    attachment.attach(RECREATED);
    phases.push(attachment.phase());
    expect(attachment.stop()).toBe(true);
    phases.push(attachment.phase());
    expect(phases).toEqual(['stopped', 'waiting', 'watching', 'waiting', 'watching', 'stopped']);
  });

  it.each<[string, (a: DirectoryAttachment) => void, string]>([
    ['start twice', (a) => (a.start(), a.start()), 'inventory already started'],
    ['attach before start', (a) => a.attach(FIRST), 'cannot attach while stopped'],
    ['attach while watching', (a) => (a.start(), a.attach(FIRST), a.attach(RECREATED)), 'cannot attach while watching'],
  ])('refuses to %s', (_case, act, wantErr) => {
    expect(() => act(attachmentWithWatches().attachment)).toThrow(wantErr);
  });

  it('detaches only while watching, and stops only once', () => {
    const { attachment } = attachmentWithWatches();
    expect(attachment.detach()).toBe(false);
    expect(attachment.stop()).toBe(false);
    attachment.start();
    expect(attachment.detach()).toBe(false);
    expect(attachment.phase()).toBe('waiting');
    expect(attachment.stop()).toBe(true);
    expect(attachment.stop()).toBe(false);
  });

  it('hands out a token that is current while its attachment lasts, and never again after a detach and reattach', () => {
    const { attachment } = attachmentWithWatches();
    attachment.start();
    const waiting = attachment.token();
    expect(waiting.current()).toBe(false);
    const first = attachment.attach(FIRST);
    expect(first.current()).toBe(true);
    expect(attachment.token()).toBe(first);
    attachment.detach();
    expect(first.current()).toBe(false);
    const second = attachment.attach(RECREATED);
    expect(second.current()).toBe(true);
    expect(first.current()).toBe(false);
    expect(waiting.current()).toBe(false);
    attachment.stop();
    expect(second.current()).toBe(false);
  });

  it('knows the directory attached to by device and inode, and keeps it after a detach', () => {
    const { attachment } = attachmentWithWatches();
    attachment.start();
    expect(attachment.identity()).toBeUndefined();
    attachment.attach(FIRST);
    expect(attachment.isAttachedTo({ dev: 8, ino: 100 })).toBe(true);
    expect(attachment.isAttachedTo(RECREATED)).toBe(false);
    expect(Object.isFrozen(attachment.identity())).toBe(true);
    attachment.detach();
    expect(attachment.identity()).toEqual(FIRST);
  });

  it('keeps a watch made under the current token and closes it when the attachment ends; a stale token keeps nothing', () => {
    const { attachment, closed, watch } = attachmentWithWatches();
    attachment.start();
    const first = attachment.attach(FIRST);
    const firstWatch = watch();
    expect(attachment.adopt(first, firstWatch)).toBe(true);
    attachment.detach();
    expect(closed).toEqual([firstWatch]);
    const second = attachment.attach(RECREATED);
    // A watch for the first directory that arrives late is refused: the caller closes it.
    expect(attachment.adopt(first, watch())).toBe(false);
    const secondWatch = watch();
    expect(attachment.adopt(second, secondWatch)).toBe(true);
    attachment.stop();
    expect(closed).toEqual([firstWatch, secondWatch]);
  });
});
