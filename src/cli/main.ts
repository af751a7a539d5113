#!/usr/bin/env node
import './heap-flags.js';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT_RUNTIME, UsageError } from '../errors.js';
import { asConfigurationError, describeFailure, exitCodeOf, usageMessage } from './errors.js';
import { flags } from './options.js';
import { addOffloadOptions, offloadOptionsOf } from './offload-options.js';
import { planOffloadOption } from './plan-offload.js';
import type { OutputFormat } from './output-formats.js';
import { readPackageVersion } from './version.js';

// Each command loads its own modules when it runs: the Kubernetes client alone takes a second and
// tens of megabytes to load, and `serve` without an API server, `ls` and `inspect` never need it.

const NAME = 'checkpoint-exporter';
const version = readPackageVersion();
const hintFor = (command: string | undefined): string => `see '${NAME}${command === undefined ? '' : ` ${command}`} --help'`;

// Indented deeper than the command list, so nothing reading the help takes a code for a command.
const EXIT_CODES_HELP = `
Exit codes:
    0  done
    1  usage: a bad flag, flag value or argument
    2  configuration: an invalid or unreadable policy (--config, CheckpointRestoreOperator objects) or kubeconfig
    3  runtime failure: a directory or archive that cannot be read, a port that cannot be bound`;

function configure(command: Command, name: string | undefined): Command {
  return command
    .exitOverride((error: CommanderError) => {
      // Help and version exit 0 (or 1 for help shown because of a usage mistake, which does not happen here).
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') throw error;
      // Commander's own usage errors: printed by fail() below as one line and a hint, never the whole help.
      throw new UsageError(usageMessage(error.message), { hint: hintFor(name) });
    })
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', EXIT_CODES_HELP);
}

const program = configure(
  new Command(NAME).description('Prometheus exporter and retention enforcer for Kubernetes container checkpoint archives').version(version),
  undefined,
);

configure(
  addOffloadOptions(program
    .command('serve', { isDefault: true })
    .description('watch the checkpoint directory, serve metrics and enforce retention (default)')
    .addOption(flags.checkpointDir())
    .addOption(flags.podCheckpointDir())
    .addOption(flags.config())
    .addOption(flags.listenAddress())
    .addOption(flags.dryRun())
    .addOption(flags.auth())
    .addOption(flags.webConfigFile())
    .addOption(flags.resyncInterval())
    .addOption(flags.settleTime())
    .addOption(flags.futureTolerance())
    .addOption(flags.kubeconfig())
    .addOption(flags.nodeName())
    .addOption(flags.logLevel())
    .addOption(flags.exporterNamespace())
    .addOption(flags.containerMetrics())
    .option('--no-container-metrics', 'the same as --container-metrics=none (kept for compatibility)')
    .option('--state-dir <dir>', 'keep an index of what each archive was found to be here, so a restart does not read the archives again (off when not given)'))
    .action(async (opts) => {
      const { pino } = await import('pino');
      const { loadConfiguration } = await import('./configuration.js');
      // Logs go to stderr, synchronously, so the last lines before an exit are not lost.
      const logger = pino({ level: opts.logLevel, base: { nodeName: opts.nodeName } }, pino.destination({ dest: 2, sync: true }));
      const config = await loadConfiguration(opts);
      const offload = offloadOptionsOf(opts);
      // Validated whole before anything starts: a refused web configuration is exit 2, like a policy.
      const webConfig = opts.webConfigFile === undefined ? undefined : await (await import('../daemon/web-config-wiring.js')).loadWebConfigAtStart(opts.webConfigFile, { basicAuthAllowed: opts.auth !== 'kubernetes' });
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
        containerMetrics: opts.containerMetrics === false ? 'none' : opts.containerMetrics,
        futureToleranceMs: opts.futureTolerance,
        exporterNamespace: opts.exporterNamespace,
        auth: opts.auth,
        ...(webConfig !== undefined ? { webConfig } : {}),
        ...(offload !== undefined ? { offload } : {}),
        // An empty value turns the pod checkpoint directory off.
        ...(opts.podCheckpointDir !== '' ? { podCheckpointDirectory: opts.podCheckpointDir } : {}),
        ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
      }).catch(asConfigurationError);
      // Once running, a failure nobody caught is logged in full (one JSON line, with its stack) and
      // said in one plain line, and the process exits 3 for the DaemonSet to restart it.
      const fatal = (error: unknown): void => {
        logger.fatal({ err: error }, 'stopping on an unexpected error');
        process.stderr.write(`${NAME}: ${describeFailure(error)}\n`);
        process.exit(EXIT_RUNTIME);
      };
      process.on('uncaughtException', fatal);
      process.on('unhandledRejection', fatal);
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'shutting down');
        exporter.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(EXIT_RUNTIME);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    }),
  'serve',
);

configure(
  program
    .command('ls')
    .description('list archives per container with sizes and ages, plus unidentified and unrecognized files')
    .addOption(flags.checkpointDir())
    .addOption(flags.config('read once, for spec.checkpointDirectory'))
    .addOption(flags.output('each container\'s composition, unrestorable archives and the times in the archive names'))
    .addOption(flags.json())
    .addOption(flags.podCheckpointDir())
    .action(async (opts: { checkpointDir?: string; config?: string; output?: OutputFormat; json: boolean; podCheckpointDir: string }) => {
      const { loadConfiguration } = await import('./configuration.js');
      const config = await loadConfiguration(opts);
      const { runLs } = await import('./ls.js');
      process.stdout.write(await runLs({ directory: config.checkpointDirectory, podDirectory: opts.podCheckpointDir, json: opts.json, ...(opts.output !== undefined ? { output: opts.output } : {}) }));
    }),
  'ls',
);

configure(
  program
    .command('inspect')
    .description('show one archive: identity and its sources, pin, future date, what retention would do with it and why, config.dump fields and entries')
    .argument('<archive>', 'path of a checkpoint archive')
    .addOption(flags.config('read once; the policy retention is judged by (default: the built-in defaults)'))
    .addOption(flags.futureTolerance())
    .addOption(flags.output('also the policy behind each limit'))
    .addOption(flags.json())
    .action(async (archive: string, opts: { config?: string; futureTolerance: number; output?: OutputFormat; json: boolean }) => {
      const { loadConfiguration } = await import('./configuration.js');
      const config = await loadConfiguration({ ...(opts.config !== undefined ? { config: opts.config } : {}) });
      const { runInspect } = await import('./inspect.js');
      const result = await runInspect({
        path: archive,
        json: opts.json,
        ...(opts.output !== undefined ? { output: opts.output } : {}),
        documents: config.documents,
        ...(opts.config !== undefined ? { policyOrigin: `file ${opts.config}` } : {}),
        futureToleranceMs: opts.futureTolerance,
      });
      process.stdout.write(result.output);
    }),
  'inspect',
);

configure(
  program
    .command('plan')
    .description('show what retention would delete right now and why, and which limits are unsatisfiable; deletes nothing')
    .addOption(flags.checkpointDir())
    .addOption(flags.config('read once; merged with the cluster policy objects when an API server is configured'))
    .addOption(flags.kubeconfig())
    .addOption(flags.nodeName())
    .addOption(flags.exporterNamespace())
    .addOption(flags.futureTolerance())
    .addOption(flags.output('the limit and the sentence saying which scope and policy chose each deletion'))
    .addOption(flags.json())
    .addOption(planOffloadOption())
    .addOption(flags.podCheckpointDir())
    .action(async (opts) => {
      const { loadConfiguration } = await import('./configuration.js');
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
          ...(opts.output !== undefined ? { output: opts.output as OutputFormat } : {}),
          futureToleranceMs: opts.futureTolerance,
          ...(opts.offloadTo !== undefined ? { offloadTo: opts.offloadTo } : {}),
          podDirectory: opts.podCheckpointDir,
        }),
      );
    }),
  'plan',
);

configure(
  program
    .command('fetch')
    .description('bring an offloaded archive back into a checkpoint directory, verified against the SHA-256 recorded when it was offloaded')
    .argument('<key>', 'the archive\'s key under the target: <node>/<namespace>/<pod>/<container>/<archive file name>')
    .requiredOption('--from <target>', 'the offload target: a directory or s3://bucket/prefix, as given to --offload-to')
    .addOption(flags.checkpointDir())
    .option('--offload-s3-endpoint <url>', 'S3-compatible endpoint, addressed path-style; default: AWS S3')
    .option('--offload-s3-region <region>', 'S3 region; default: the SDK\'s, else us-east-1')
    .action(async (key: string, opts: { from: string; checkpointDir?: string; offloadS3Endpoint?: string; offloadS3Region?: string }) => {
      const { loadConfiguration } = await import('./configuration.js');
      const config = await loadConfiguration(opts);
      const { runFetch } = await import('./fetch.js');
      process.stdout.write(
        await runFetch({ key, from: opts.from, directory: config.checkpointDirectory, s3Endpoint: opts.offloadS3Endpoint, s3Region: opts.offloadS3Region }),
      );
    }),
  'fetch',
);

/** The first word names a command, or is a flag of the default command `serve`; anything else is a typo. */
function unknownCommand(argv: readonly string[]): string | undefined {
  const first = argv[2];
  if (first === undefined || first.startsWith('-')) return undefined;
  const known = new Set(['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])]);
  return known.has(first) ? undefined : first;
}

function fail(error: unknown): never {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // One line per problem, each prefixed, so every line stands alone in a terminal or a log collector.
  for (const line of describeFailure(error).split('\n')) process.stderr.write(`${NAME}: ${line}\n`);
  if (error instanceof CliError && error.hint !== undefined) process.stderr.write(`${error.hint}\n`);
  process.exit(exitCodeOf(error));
}

const typo = unknownCommand(process.argv);
if (typo !== undefined) fail(new UsageError(`unknown command '${typo}'`, { hint: hintFor(undefined) }));
program.parseAsync(process.argv).catch(fail);
