import { chmod, copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The unprivileged user the tests run the exporter and the command line as. */
export const NOBODY = 65_534;

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What another user needs to run the built command line, in a place it can reach: a checkout inside a
 * 0700 directory (root's home, a default `mktemp -d`) hides dist/, node_modules and a Node.js installed
 * under that home from everyone else.
 */
export interface StagedUser {
  readonly uid: number;
  readonly gid: number;
  /** The world-readable directory holding the copies; also the working directory of the runs. */
  readonly dir: string;
  /** A copy of the Node.js running the tests. */
  readonly node: string;
  /** The copy of dist/cli/main.js. */
  readonly main: string;
  /** Deletes the copies; call it once the processes run from them have exited. */
  remove(): Promise<void>;
}

// Not needed to run: type declarations, source maps and documentation (a third of the bytes).
const SKIPPED = /\.(d\.[cm]?ts|map|md)$/;

/**
 * Copies the built files (dist/, package.json and the runtime dependencies the binary imports, no dev
 * dependency) and the running Node.js into a fresh 0755 directory under the temporary directory,
 * every file readable by all, with no symlink leading back into the checkout. Pass the result as
 * `as` to serveBinary or runCli (test/support/serve-binary.ts).
 */
export async function stageForUser(uid = NOBODY, gid = uid): Promise<StagedUser> {
  const dir = await mkdtemp(join(tmpdir(), 'staged-for-user-'));
  try {
    await chmod(dir, 0o755);
    await copyTree(join(REPO, 'dist'), join(dir, 'dist'));
    await copyReadable(join(REPO, 'package.json'), join(dir, 'package.json'), 0o644);
    await Promise.all((await runtimePackages()).map((packageDir) => copyTree(packageDir, join(dir, relative(REPO, packageDir)), (name) => name !== 'node_modules')));
    const node = join(dir, 'node');
    await copyReadable(process.execPath, node, 0o755);
    return { uid, gid, dir, node, main: join(dir, 'dist', 'cli', 'main.js'), remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The package directories of the production dependency closure, resolved as Node.js does (the nearest
 * node_modules up from the package that depends on it). Optional and peer dependencies that are not
 * installed are skipped; so they would be at run time.
 */
async function runtimePackages(): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (from: string, name: string, required: boolean): Promise<void> => {
    const packageDir = await resolvePackage(from, name);
    if (packageDir === undefined) {
      if (required) throw new Error(`runtime dependency ${name} (of ${relative(REPO, from) || 'the project'}) is not installed: run npm ci`);
      return;
    }
    if (found.has(packageDir)) return;
    found.add(packageDir);
    await visitDependencies(packageDir);
  };
  const visitDependencies = async (packageDir: string): Promise<void> => {
    const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const name of Object.keys(manifest['dependencies'] ?? {})) await visit(packageDir, name, true);
    for (const name of Object.keys({ ...manifest['optionalDependencies'], ...manifest['peerDependencies'] })) await visit(packageDir, name, false);
  };
  await visitDependencies(REPO);
  return [...found];
}

async function resolvePackage(from: string, name: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (await isDirectory(candidate)) return candidate;
    if (dir === REPO || dirname(dir) === dir) return undefined;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Copies a directory, following symlinks, with 0755 directories and 0644 files whatever the umask of the checkout. */
async function copyTree(from: string, to: string, keep: (name: string) => boolean = () => true): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  await chmod(to, 0o755);
  // All entries at once: thousands of small files, copied one by one, took seconds.
  const entries = (await readdir(from, { withFileTypes: true })).filter((entry) => keep(entry.name) && entry.name !== '.bin' && !SKIPPED.test(entry.name));
  await Promise.all(
    entries.map(async (entry) => {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      // A symlink is followed: what it points to may lie where the other user cannot go.
      const isDirectory = entry.isSymbolicLink() ? (await stat(source)).isDirectory() : entry.isDirectory();
      if (isDirectory) await copyTree(source, target);
      else await copyReadable(source, target, 0o644);
    }),
  );
}

/**
 * A hard link where the file is already readable (and executable, if needed) by all and on the same
 * filesystem: a link writes no data, and the files stay unwritable by the other user. Otherwise a copy
 * given `mode` (a link cannot be given one without changing the checkout's file).
 */
async function copyReadable(from: string, to: string, mode: number): Promise<void> {
  const { mode: has } = await stat(from);
  const everyone = mode & 0o005;
  if ((has & everyone) === everyone) {
    try {
      await link(from, to);
      return;
    } catch {
      // Another filesystem (EXDEV) or links refused: copy instead.
    }
  }
  await copyFile(from, to);
  await chmod(to, mode);
}
