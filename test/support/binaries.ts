import { execFileSync } from 'node:child_process';

/**
 * Locates an external binary for tests that drive real Prometheus, Alertmanager or kubectl.
 * Absent locally: the suite is skipped with a loud message naming the Debian package.
 * Absent under CI=true: the suite fails, because .ci/run installs them and a silent skip would hide it.
 */
export function findBinary(name: string, debianPackage: string): string | undefined {
  let found: string | undefined;
  try {
    found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    found = undefined;
  }
  if (found) return found;
  const message = `${name} not found: install the Debian package '${debianPackage}' (apt-get install -y --no-install-recommends ${debianPackage})`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI must run these tests`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
  return undefined;
}

/** True when running as root, which real tmpfs mounts need. Under CI=true a non-root run is an error. */
export function canMountTmpfs(): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) return true;
  const message = 'not running as root: tmpfs-backed disk tests need root to mount a tmpfs';
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI runs as root`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
  return false;
}
