import type Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Inventory } from '../inventory/inventory.js';
import { createAuthMetrics } from '../metrics/auth-metrics.js';
import { createHttpViewMetrics } from '../metrics/http-metrics.js';
import type { ExporterMetrics } from '../metrics/registry.js';
import { createServerApp } from '../server/app.js';
import { createAuthGuard, OPEN_PATHS, type Authorize } from '../server/auth.js';
import { streamArchives, streamPlan } from '../server/views.js';
import type { LoadedWebConfig } from '../server/web-config.js';
import { readDiskStats } from './disk-stats.js';
import { buildExporterStatus, isReady } from './exporter-status.js';
import type { KubernetesConnection } from './kubernetes-wiring.js';
import { describeInForce } from './policy-wiring.js';
import type { PolicySources } from './policy-sources.js';
import type { RetentionRunner } from './retention-runner.js';
import { createWebConfigRuntime, type WebConfigRuntime } from './web-config-wiring.js';

export interface ServerWiringDeps {
  readonly directory: string;
  readonly dryRun: boolean;
  readonly version: string;
  readonly nodeName: string | undefined;
  readonly startedMs: number;
  /** `--web-config-file`, loaded and validated at start. */
  readonly webConfig: LoadedWebConfig | undefined;
  /** Set with `--auth kubernetes`. */
  readonly authorize: Authorize | undefined;
  readonly registry: Registry;
  readonly metrics: ExporterMetrics;
  readonly inventory: Inventory;
  readonly runner: RetentionRunner;
  readonly policies: PolicySources;
  readonly kubernetes: KubernetesConnection | undefined;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface ServerWiring {
  readonly app: Koa;
  /** The web configuration's TLS, guard and reloads, when one is given. */
  readonly web: WebConfigRuntime | undefined;
}

/** The web configuration's headers and basic auth first, then Kubernetes authentication. */
function createGuard(deps: ServerWiringDeps): { guard: Koa.Middleware | undefined; web: WebConfigRuntime | undefined } {
  const { authorize, registry, logger } = deps;
  const authMetrics = authorize ? createAuthMetrics(registry) : undefined;
  const kubernetesGuard =
    authorize && authMetrics
      ? createAuthGuard({
          authorize,
          logger,
          openPaths: OPEN_PATHS,
          onResult: (result, decision) => {
            authMetrics.request(result);
            if (decision?.kind === 'unavailable') authMetrics.reviewFailed(decision.review);
          },
        })
      : undefined;
  const web = deps.webConfig === undefined ? undefined : createWebConfigRuntime({ initial: deps.webConfig, registry, logger, now: deps.now, basicAuthAllowed: authorize === undefined });
  const guard: Koa.Middleware | undefined =
    web && kubernetesGuard ? (ctx, next) => web.guard(ctx, () => kubernetesGuard(ctx, next)) : (web?.guard ?? kubernetesGuard);
  return { guard, web };
}

/** The HTTP app over the running exporter: metrics, probes, status, and the JSON views of archives, policy and plan. */
export function createServerWiring(deps: ServerWiringDeps): ServerWiring {
  const { inventory, runner, policies, kubernetes, metrics, directory } = deps;
  const { guard, web } = createGuard(deps);
  const app = createServerApp({
    ...(guard ? { guard } : {}),
    metrics: () => metrics.scrapeChunks(),
    metricsContentType: metrics.contentType,
    version: deps.version,
    logger: deps.logger,
    ready: () => isReady(inventory.status()),
    status: () =>
      buildExporterStatus({
        version: deps.version,
        nodeName: deps.nodeName,
        startedMs: deps.startedMs,
        dryRun: deps.dryRun,
        inventory: () => inventory.status(),
        history: () => runner.history(),
        lastPlan: () => runner.lastPlan(),
        policySources: () => policies.sources(),
        lastReloadSuccessful: () => policies.configStatus().lastReloadSuccessful,
        blockedReason: () => {
          const allowed = policies.retentionAllowed();
          return allowed.ok ? undefined : allowed.reason;
        },
        kubernetes: () => ({ configured: kubernetes !== undefined, apiUp: kubernetes?.healthy() ?? false }),
        diskStats: () => readDiskStats(directory),
      }),
    // Versions: the inventory's snapshot object stays the same until something changes; the plan in force with its run time.
    archives: {
      current: () => {
        const snapshot = inventory.snapshot();
        return { key: [snapshot], serialize: () => streamArchives(snapshot) };
      },
      subscribe: (listener) => inventory.subscribe(listener),
    },
    policy: () => describeInForce(policies.describe(), directory),
    plan: {
      current: () => {
        const [plan, lastRunMs] = [runner.lastPlan(), runner.lastRunMs()];
        return { key: [plan, lastRunMs], serialize: () => streamPlan(plan, lastRunMs, deps.dryRun) };
      },
    },
    views: { observer: createHttpViewMetrics(deps.registry) },
  });
  return { app, web };
}
