import { statfs } from 'node:fs/promises';
import type { DiskStats } from '../retention/types.js';

export async function readDiskStats(directory: string): Promise<DiskStats> {
  const s = await statfs(directory);
  return { sizeBytes: s.blocks * s.bsize, freeBytes: s.bfree * s.bsize, availBytes: s.bavail * s.bsize };
}
