#!/usr/bin/env node
/**
 * `npm run demo`: writes realistic sample archives into ./demo-checkpoints and runs the real exporter
 * on them with the default policy (at most 10 archives per container), so the over-limit container
 * is trimmed while its pinned archive stays.
 */
import { rm, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { writeDemoCheckpointDirectory } from '../demo/sample-archives.js';
import { startExporter } from '../daemon/exporter.js';
import { runLs } from './ls.js';
import { parseListenAddress, type ListenAddress } from '../server/listen.js';
import { readPackageVersion } from './version.js';
import type { ExporterStatus } from '../server/status-page.js';
import { codeOf, messageOf } from '../errors.js';

const directory = resolve(process.argv[2] ?? 'demo-checkpoints');
const chosenAddress = process.env['DEMO_LISTEN_ADDRESS'];
const listenAddress = parseListenAddress(chosenAddress ?? '127.0.0.1:9873');
if (!listenAddress) {
  process.stderr.write(`checkpoint-exporter demo: DEMO_LISTEN_ADDRESS must be host:port, got ${JSON.stringify(chosenAddress)}\n`);
  process.exit(1);
}

await rm(directory, { recursive: true, force: true });
await mkdir(directory, { recursive: true });
await writeDemoCheckpointDirectory(directory);
process.stdout.write(`Sample archives written to ${directory} (ls -o wide: what fills them, and which cannot be restored):\n\n${await runLs({ directory, json: false, output: 'wide' })}\n`);

const logger = pino({ level: 'info' }, pino.destination({ dest: 2, sync: true }));
const start = (address: ListenAddress): ReturnType<typeof startExporter> =>
  startExporter({
    checkpointDirectory: directory,
    listenAddress: address,
    configPath: undefined,
    initialPolicy: [],
    dryRun: false,
    resyncIntervalMs: 60_000,
    settleTimeMs: 500,
    kubeconfigPath: undefined,
    nodeName: 'demo-node',
    env: {},
    version: readPackageVersion(),
    logger,
  });

let exporter: Awaited<ReturnType<typeof startExporter>>;
try {
  exporter = await start(listenAddress);
} catch (error) {
  const inUse = codeOf(error) === 'EADDRINUSE';
  if (!inUse || chosenAddress !== undefined) {
    process.stderr.write(`checkpoint-exporter demo: cannot listen on ${listenAddress.host}:${listenAddress.port}: ${messageOf(error)}\n`);
    process.exit(3);
  }
  // The default port is taken (another demo, another exporter): any free port will do for a demo.
  process.stdout.write(`Port ${listenAddress.port} is in use; the demo listens on a free port instead.\n`);
  exporter = await start({ host: listenAddress.host, port: 0 });
}

process.stdout.write(
  [
    '',
    `checkpoint-exporter is running on ${exporter.url}`,
    `  metrics:  curl -s ${exporter.url}metrics | grep ^checkpoint_`,
    `  archives: curl -s ${exporter.url}api/v1/archives`,
    `  plan:     curl -s ${exporter.url}api/v1/plan`,
    '',
  ].join('\n'),
);

// Show what the first retention run did, once it has run: from the deletions it recorded, not from the
// plan in force (a later run that deletes nothing replaces that plan).
for (;;) {
  const status = (await (await fetch(`${exporter.url}api/v1/status`)).json()) as ExporterStatus;
  const first = status.retention.firstRun;
  if (first !== null) {
    const deletions = status.retention.firstRunDeletions;
    const lines = deletions.map((d) => `  ${d.file}\n    ${d.detail}`);
    process.stdout.write(
      `The default policy keeps at most 10 archives per container; the first retention run deleted ${deletions.length}:\n${lines.join('\n')}\n\n` +
        `The directory now (the pinned archive stays, the unidentified archive and notes.txt are never touched):\n\n${await runLs({ directory, json: false })}\n` +
        `The state at a glance: ${exporter.url}\nPress Ctrl-C to stop.\n`,
    );
    break;
  }
  await new Promise((wake) => setTimeout(wake, 200));
}

const stop = (): void => {
  exporter.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
