#!/usr/bin/env node
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { loadConfiguration, UsageError } from './configuration.js';
import { flags } from './options.js';
import { readPackageVersion } from './version.js';

// Each command loads its own modules when it runs: the Kubernetes client alone takes a second and
// tens of megabytes to load, and `serve` without an API server, `ls` and `inspect` never need it.

const version = readPackageVersion();

const program = new Command('checkpoint-exporter')
  .description('Prometheus exporter and retention enforcer for Kubernetes container checkpoint archives')
  .version(version)
  .showHelpAfterError();

program
  .command('serve', { isDefault: true })
  .description('watch the checkpoint directory, serve metrics and enforce retention (default)')
  .addOption(flags.checkpointDir())
  .addOption(flags.config())
  .addOption(flags.listenAddress())
  .addOption(flags.dryRun())
  .addOption(flags.resyncInterval())
  .addOption(flags.settleTime())
  .addOption(flags.futureTolerance())
  .addOption(flags.kubeconfig())
  .addOption(flags.nodeName())
  .addOption(flags.logLevel())
  .addOption(flags.exporterNamespace())
  .option('--no-container-metrics', 'leave out the per-container metric families (node-level totals stay); for nodes with very many containers')
  .action(async (opts) => {
    // Logs go to stderr, synchronously, so the last lines before an exit are not lost.
    const logger = pino({ level: opts.logLevel, base: { nodeName: opts.nodeName } }, pino.destination({ dest: 2, sync: true }));
    const config = await loadConfiguration(opts);
    const { startExporter } = await import('../daemon/exporter.js');
    const exporter = await startExporter({
      checkpointDirectory: config.checkpointDirectory,
      listenAddress: opts.listenAddress,
      configPath: opts.config,
      initialPolicy: config.documents,
      dryRun: opts.dryRun,
      resyncIntervalMs: opts.resyncInterval,
      settleTimeMs: opts.settleTime,
      kubeconfigPath: opts.kubeconfig,
      nodeName: opts.nodeName,
      env: process.env,
      version,
      logger,
      containerMetrics: opts.containerMetrics !== false,
      futureToleranceMs: opts.futureTolerance,
      exporterNamespace: opts.exporterNamespace,
    });
    const shutdown = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      exporter.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('ls')
  .description('list archives per container with sizes, plus unidentified and unrecognized files')
  .addOption(flags.checkpointDir())
  .addOption(flags.config('read once, for spec.checkpointDirectory'))
  .addOption(flags.json())
  .addOption(new Option('-o, --output <format>', 'wide: also each container\'s composition (memory, checkpoint_other, rootfs_diff, other) and unrestorable archives').choices(['wide']))
  .action(async (opts) => {
    const config = await loadConfiguration(opts);
    const { runLs } = await import('./ls.js');
    process.stdout.write(await runLs({ directory: config.checkpointDirectory, json: opts.json, output: opts.output }));
  });

program
  .command('inspect')
  .description('show the identity of one archive, which sources gave it, its config.dump fields and entries')
  .argument('<archive>', 'path of a checkpoint archive')
  .addOption(flags.json())
  .action(async (archive: string, opts) => {
    const { runInspect } = await import('./inspect.js');
    const result = await runInspect({ path: archive, json: opts.json });
    process.stdout.write(result.output);
    if (!result.ok) process.exitCode = 1;
  });

program
  .command('plan')
  .description('show what retention would delete right now and why, and which limits are unsatisfiable; deletes nothing')
  .addOption(flags.checkpointDir())
  .addOption(flags.config('read once; merged with the cluster policy objects when an API server is configured'))
  .addOption(flags.kubeconfig())
  .addOption(flags.nodeName())
  .addOption(flags.exporterNamespace())
  .addOption(flags.json())
  .action(async (opts) => {
    const config = await loadConfiguration(opts);
    const { runPlan } = await import('./plan.js');
    process.stdout.write(
      await runPlan({
        directory: config.checkpointDirectory,
        documents: config.documents,
        kubeconfigPath: opts.kubeconfig,
        nodeName: opts.nodeName,
        exporterNamespace: opts.exporterNamespace,
        env: process.env,
        json: opts.json,
      }),
    );
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof UsageError) {
    // One line per problem, each prefixed, so every line stands alone in a terminal or a log collector.
    for (const line of error.message.split('\n')) process.stderr.write(`checkpoint-exporter: ${line}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`checkpoint-exporter: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
