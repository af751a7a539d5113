import { InvalidArgumentError, Option } from 'commander';
import { isDns1123Label } from '../archive/kubernetes-names.js';
import {
  DEFAULT_CHECKPOINT_DIRECTORY,
  DEFAULT_POD_CHECKPOINT_DIRECTORY,
  DEFAULT_EXPORTER_NAMESPACE,
  DEFAULT_FUTURE_TOLERANCE_MS,
  DEFAULT_LISTEN_ADDRESS,
  DEFAULT_RESYNC_INTERVAL_MS,
  DEFAULT_SETTLE_TIME_MS,
} from '../defaults.js';
import { CONTAINER_METRICS_LEVELS } from '../metrics/container-metrics.js';
import { formatDuration, parseIntervalMs } from '../retention/duration.js';
import { parseListenAddress, type ListenAddress } from '../server/listen.js';
import { OUTPUT_FORMATS } from './output-formats.js';

export const AUTH_MODES = ['none', 'kubernetes'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Flag durations in milliseconds: the policy's duration syntax, plus `ms` for sub-second settle times.
 * Both feed timers, so zero (a busy loop) and anything past Node's longest timer (which would fire
 * after 1 ms, again a busy loop) are refused, naming the flag.
 */
function durationFlag(flag: string): (value: string) => number {
  return (value) => {
    const parsed = parseIntervalMs(value);
    if (!parsed.ok) throw new InvalidArgumentError(`${flag}: ${parsed.reason}`);
    return parsed.value;
  };
}

function namespaceFlag(value: string): string {
  if (!isDns1123Label(value)) throw new InvalidArgumentError(`--exporter-namespace: ${JSON.stringify(value)} is not a namespace name (a DNS-1123 label)`);
  return value;
}

function listenFlag(value: string): ListenAddress {
  const parsed = parseListenAddress(value);
  if (!parsed) throw new InvalidArgumentError(`expected host:port, [ipv6]:port or :port, got "${value}"`);
  return parsed;
}

/** Every flag with its default and help, in one place; the README flag table mirrors this list. */
export const flags = {
  checkpointDir: () =>
    new Option('--checkpoint-dir <dir>', `directory the kubelet writes checkpoint archives to (overrides spec.checkpointDirectory; default ${DEFAULT_CHECKPOINT_DIRECTORY})`),
  podCheckpointDir: () =>
    new Option('--pod-checkpoint-dir <dir>', 'directory the kubelet writes pod-level checkpoint archives to (KEP-5823); a missing one is normal, an empty value turns it off').default(DEFAULT_POD_CHECKPOINT_DIRECTORY),
  config: (how = 'hot-reloaded') =>
    new Option('--config <file>', `policy YAML: one or more criu.org/v1 CheckpointRestoreOperator documents; ${how}`),
  logLevel: () => new Option('--log-level <level>', 'log level of the JSON log lines on stderr').choices(LOG_LEVELS).default('info'),
  kubeconfig: () =>
    new Option('--kubeconfig <file>', 'kubeconfig to reach the API server (in a pod the service account is used without it)'),
  nodeName: () => new Option('--node-name <name>', 'name of this node; only its pods are watched').env('NODE_NAME'),
  listenAddress: () =>
    new Option('--listen-address <host:port>', 'address of the metrics and API server').default(listenFlag(DEFAULT_LISTEN_ADDRESS), DEFAULT_LISTEN_ADDRESS).argParser(listenFlag),
  dryRun: () => new Option('--dry-run', 'plan and report retention deletions but delete nothing').default(false),
  auth: () =>
    new Option('--auth <mode>', 'who may read the server: none, or kubernetes (a bearer token checked with TokenReview and SubjectAccessReview; /healthz and /readyz stay open)')
      .choices(AUTH_MODES)
      .default('none'),
  webConfigFile: () =>
    new Option(
      '--web.config.file, --web-config-file <file>',
      'web configuration YAML in the Prometheus exporter-toolkit format: TLS (tls_server_config), basic auth (basic_auth_users), headers; reloaded when it or its certificates change; /healthz and /readyz stay open',
    ),
  resyncInterval: () =>
    new Option('--resync-interval <duration>', 'full rescan of the directory that heals missed events; retention runs after each')
      .default(DEFAULT_RESYNC_INTERVAL_MS, formatDuration(DEFAULT_RESYNC_INTERVAL_MS / 1000))
      .argParser(durationFlag('--resync-interval')),
  settleTime: () =>
    new Option('--settle-time <duration>', 'an archive counts once its size and mtime are unchanged this long')
      .default(DEFAULT_SETTLE_TIME_MS, formatDuration(DEFAULT_SETTLE_TIME_MS / 1000))
      .argParser(durationFlag('--settle-time')),
  futureTolerance: () =>
    new Option('--future-tolerance <duration>', 'an archive whose name lies further ahead of the clock is future-dated: neither counted toward limits nor deleted')
      .default(DEFAULT_FUTURE_TOLERANCE_MS, formatDuration(DEFAULT_FUTURE_TOLERANCE_MS / 1000))
      .argParser(durationFlag('--future-tolerance')),
  containerMetrics: () =>
    new Option(
      '--container-metrics <level>',
      'per-container series: all; counts (count, bytes, oldest and newest per container, the composition by part per namespace: 4 series per container fewer); none (node-level totals only)',
    )
      .choices(CONTAINER_METRICS_LEVELS)
      .default('all'),
  json: () => new Option('--json', 'the same as -o json (kept for compatibility; wins over another -o)').default(false),
  output: (wide: string) =>
    new Option('-o, --output <format>', `output format: wide (${wide}), json or yaml; default: a table that fits 160 columns`).choices(OUTPUT_FORMATS),
  exporterNamespace: () =>
    new Option(
      '--exporter-namespace <namespace>',
      'namespace the exporter runs in: CheckpointRestoreOperator objects there may set every policy, objects elsewhere only their own namespace\'s',
    )
      .env('POD_NAMESPACE')
      .default(DEFAULT_EXPORTER_NAMESPACE)
      .argParser(namespaceFlag),
};
