/**
 * `npm run bench`: every benchmark, each against its baseline in the same run, printed as markdown.
 * `npm run bench -- --write` also replaces docs/benchmarks.md with the results. BENCH_SMOKE=1 runs a
 * small version of the process benchmark (2,000 archives, one run) and skips the rest.
 * BENCH_ONLY=identity (or process) runs that section alone.
 */
import { writeFile } from 'node:fs/promises';
import { arch, cpus, totalmem } from 'node:os';
import { runIdentityBenchmark } from './identity.js';
import { runProcessBenchmark } from './process.js';

const sections: string[] = [];
const smoke = process.env['BENCH_SMOKE'] === '1';
const only = process.env['BENCH_ONLY'];
for (const [name, run] of [
  ['process', runProcessBenchmark],
  ['identity', runIdentityBenchmark],
] as const) {
  if (smoke && name !== 'process') continue;
  if (only !== undefined && only !== '' && only !== name) continue;
  process.stderr.write(`running ${name} benchmark...\n`);
  sections.push(await run());
}

const header = [
  '# Benchmarks',
  '',
  'Produced by `npm run bench -- --write`. Each figure is measured against a baseline in the same run;',
  'absolute times depend on the machine, the ratios much less.',
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (${arch()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}.`,
  '',
].join('\n');
const report = `${header}\n${sections.join('\n\n')}\n`;
process.stdout.write(report);
if (process.argv.includes('--write')) await writeFile(new URL('../docs/benchmarks.md', import.meta.url), report);
