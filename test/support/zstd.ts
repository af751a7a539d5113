import { it } from '@jest/globals';
import { zstdSupported } from '../../src/archive/compressed.js';

/** Whether a Node.js version's zlib has zstd by its release notes: from 22.15 and 23.8 on, in every release from 24. */
export function zstdExpected(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major >= 24) return true;
  if (major === 23) return minor >= 8;
  if (major === 22) return minor >= 15;
  return false;
}

/**
 * `it` where this Node.js reads zstd; elsewhere a skip that says so on stderr, as the tests needing a
 * binary do. Under CI=true it skips only on a Node.js released without zstd (CI's Node.js 20): on one
 * that should have it (the image's 24), a zstd the exporter cannot find is a failure, not a skip.
 */
export function itWithZstd(): typeof it | typeof it.skip {
  if (zstdSupported()) return it;
  const message = `zstd tests: Node.js ${process.version} has no zstd in zlib (zlib.createZstdDecompress came in 22.15 and 23.8)`;
  if (process.env['CI'] === 'true' && zstdExpected(process.version)) throw new Error(`${message}, yet this release should have it; CI must run these tests`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
  return it.skip;
}
