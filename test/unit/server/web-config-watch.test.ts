import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Result } from '../../../src/archive/types.js';
import type { LoadedWebConfig } from '../../../src/server/web-config.js';
import { watchWebConfig, type WebConfigWatch } from '../../../src/server/web-config-watch.js';
import { waitUntil } from '../../support/wait.js';
import { createCapturingLogger } from '../inventory/fixtures.js';

/** The watch with the disk replaced by a variable: every load returns what `disk` holds at that moment. */
function loaded(file: string, digest: string): LoadedWebConfig {
  return { file, config: { tls: undefined, basicAuthUsers: new Map(), headers: {} }, material: undefined, files: [file], digest };
}

let watch: WebConfigWatch | undefined;
let work: string | undefined;
afterEach(async () => {
  watch?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function setUp(options: { refuse?: (next: LoadedWebConfig) => string | undefined } = {}) {
  work = await mkdtemp(path.join(os.tmpdir(), 'web-config-watch-'));
  const file = path.join(work, 'web.yml');
  const state: { disk: Result<LoadedWebConfig>; between?: () => void; loads: number } = { disk: { ok: true, value: loaded(file, 'v1') }, loads: 0 };
  const applied: string[] = [];
  const refused: string[] = [];
  watch = watchWebConfig({
    initial: loaded(file, 'v1'),
    logger: createCapturingLogger().logger,
    debounceMs: 1,
    pollMs: 5,
    // Between the two reads of a version: the test may change the disk here.
    delay: async () => {
      state.between?.();
      state.between = undefined;
    },
    load: async () => {
      state.loads += 1;
      return state.disk;
    },
    onLoad: (next) => applied.push(next.digest),
    onError: (reason) => refused.push(reason),
    ...(options.refuse !== undefined ? { refuse: options.refuse } : {}),
  });
  return { file, state, applied, refused };
}

describe('watchWebConfig', () => {
  it('applies a version only once two reads agree, and only once', async () => {
    const { file, state, applied } = await setUp();
    // Mid-rotation: the second read already sees the next version; neither is applied yet.
    state.disk = { ok: true, value: loaded(file, 'v2') };
    state.between = () => (state.disk = { ok: true, value: loaded(file, 'v3') });
    await waitUntil(() => applied.length > 0, 'a version to be applied');
    expect(applied).toEqual(['v3']);
    const loads = state.loads;
    await waitUntil(() => state.loads > loads + 10, 'ten more polls');
    expect(applied).toEqual(['v3']);
  });

  it('reports a refused version once however often it is read, and the good one again as a success', async () => {
    const { file, state, applied, refused } = await setUp();
    state.disk = { ok: false, reason: 'tls_server_config.key_file: not the key' };
    await waitUntil(() => refused.length > 0, 'the refusal');
    const loads = state.loads;
    await waitUntil(() => state.loads > loads + 10, 'ten more polls');
    expect(refused).toEqual(['tls_server_config.key_file: not the key']);
    // The version in force back on disk: reported, so the reload metric returns to 1.
    state.disk = { ok: true, value: loaded(file, 'v1') };
    await waitUntil(() => applied.length > 0, 'the good version');
    expect(applied).toEqual(['v1']);
  });

  it('refuses a valid version the caller cannot apply without a restart', async () => {
    const { file, state, applied, refused } = await setUp({ refuse: (next) => (next.digest === 'v2' ? 'tls_server_config: adding TLS needs a restart' : undefined) });
    state.disk = { ok: true, value: loaded(file, 'v2') };
    await waitUntil(() => refused.length > 0, 'the refusal');
    expect(refused).toEqual(['tls_server_config: adding TLS needs a restart']);
    expect(applied).toEqual([]);
  });
});
