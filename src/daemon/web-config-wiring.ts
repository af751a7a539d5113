import type { Middleware } from 'koa';
import type https from 'node:https';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigurationError } from '../errors.js';
import { createWebConfigMetrics } from '../metrics/web-config-metrics.js';
import { createBasicAuth, createPasswordVerifier, createThreadedCompare } from '../server/basic-auth.js';
import type { WebServer } from '../server/listen.js';
import { updateTlsServer, type TlsServing } from '../server/tls-server.js';
import { loadWebConfig, type LoadedWebConfig } from '../server/web-config.js';
import { watchWebConfig, type WebConfigWatchOptions } from '../server/web-config-watch.js';

/** Paths served without credentials: the kubelet's liveness and readiness probes carry none. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/**
 * Reads and validates `--web-config-file` before anything starts: there is no last good version yet,
 * so a refused file is a configuration error (exit 2), one line per problem, each naming the file.
 */
export async function loadWebConfigAtStart(file: string, options: { readonly basicAuthAllowed: boolean }): Promise<LoadedWebConfig> {
  const loaded = await loadWebConfig(file);
  if (!loaded.ok) throw new ConfigurationError(loaded.reason.split('\n').map((problem) => `web config ${file}: ${problem}`));
  if (!options.basicAuthAllowed && loaded.value.config.basicAuthUsers.size > 0) throw new ConfigurationError(`web config ${file}: ${BASIC_AUTH_CONFLICT}`);
  return loaded.value;
}

/** Basic auth and `--auth kubernetes` both read the Authorization header: a client could never satisfy both. */
const BASIC_AUTH_CONFLICT = 'basic_auth_users: cannot be used with --auth kubernetes (both need the Authorization header)';

const tlsOf = (loaded: LoadedWebConfig): TlsServing | undefined =>
  loaded.config.tls !== undefined && loaded.material !== undefined ? { config: loaded.config.tls, material: loaded.material } : undefined;

/**
 * What a reload cannot change: whether the server speaks TLS at all, and the client auth type (Node
 * takes `requestCert` and `rejectUnauthorized` only when the server is made). Such a version is
 * refused like an invalid one, and the metric says so, until the exporter is restarted.
 */
export function refuseRestartOnly(current: LoadedWebConfig, next: LoadedWebConfig, basicAuthAllowed: boolean): string | undefined {
  if (!basicAuthAllowed && next.config.basicAuthUsers.size > 0) return BASIC_AUTH_CONFLICT;
  const [was, now] = [current.config.tls, next.config.tls];
  if ((was === undefined) !== (now === undefined)) return `tls_server_config: ${now === undefined ? 'removing' : 'adding'} TLS needs a restart`;
  if (was !== undefined && now !== undefined && was.clientAuthType !== now.clientAuthType) {
    return `tls_server_config.client_auth_type: changing ${was.clientAuthType} to ${now.clientAuthType} needs a restart`;
  }
  return undefined;
}

export interface WebConfigRuntime {
  /** The TLS to serve with from the start; undefined: plain HTTP. */
  readonly tls: TlsServing | undefined;
  /** The security headers and basic auth of the configuration in force, read per request. */
  readonly guard: Middleware;
  /** Starts following the files; TLS reloads go to `server`. */
  watch(server: WebServer): void;
  close(): void;
}

export interface WebConfigRuntimeOptions {
  readonly initial: LoadedWebConfig;
  readonly registry: Registry;
  readonly logger: Logger;
  now(): number;
  /** False with `--auth kubernetes`: a reload that adds basic_auth_users is refused. */
  readonly basicAuthAllowed: boolean;
  /** For tests: how the watch waits and polls. */
  readonly watchOptions?: Pick<WebConfigWatchOptions, 'debounceMs' | 'stabilityMs' | 'pollMs'>;
}

export function createWebConfigRuntime(options: WebConfigRuntimeOptions): WebConfigRuntime {
  const { logger, initial } = options;
  const metrics = createWebConfigMetrics(options.registry, options.now());
  let current = initial;
  const threaded = createThreadedCompare(logger);
  const basicAuth = createBasicAuth({
    users: () => current.config.basicAuthUsers,
    verifier: createPasswordVerifier({ compare: (password, hash) => threaded.compare(password, hash) }),
    openPaths: PROBE_PATHS,
    onResult: (result) => metrics.basicAuth(result),
  });
  const guard: Middleware = async (ctx, next) => {
    ctx.set(current.config.headers);
    await basicAuth(ctx, next);
  };
  let watch: { close(): void } | undefined;
  const tls = tlsOf(initial);
  logger.info(
    { path: initial.file, tls: tls !== undefined, clientAuthType: tls?.config.clientAuthType, basicAuthUsers: initial.config.basicAuthUsers.size },
    'web config loaded',
  );
  return {
    tls,
    guard,
    watch(server) {
      watch ??= watchWebConfig({
        initial,
        logger,
        ...options.watchOptions,
        refuse: (next) => refuseRestartOnly(current, next, options.basicAuthAllowed),
        onLoad: (next) => {
          const nextTls = tlsOf(next);
          if (nextTls !== undefined) {
            try {
              updateTlsServer(server as https.Server, nextTls);
            } catch (error) {
              // Validated by the same OpenSSL moments ago; should it still refuse, the old context stays.
              const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
              metrics.reloaded('failure', options.now());
              logger.error({ path: initial.file, problems: [`tls_server_config: refused by OpenSSL: ${reason}`] }, 'web config refused; keeping the last good one');
              return;
            }
          }
          current = next;
          metrics.reloaded('success', options.now());
          logger.info({ path: initial.file, tls: nextTls !== undefined, basicAuthUsers: next.config.basicAuthUsers.size }, 'web config reloaded');
        },
        onError: (reason) => {
          metrics.reloaded('failure', options.now());
          logger.error({ path: initial.file, problems: reason.split('\n') }, 'web config refused; keeping the last good one');
        },
      });
    },
    close() {
      watch?.close();
      void threaded.close();
    },
  };
}
