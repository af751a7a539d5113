import { Readable } from 'node:stream';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { createJsonViews, type JsonViewOptions, type ViewSource } from './json-views.js';
import { renderStatusPage, type ExporterStatus } from './status-page.js';

/** Read-only views the HTTP server publishes; all computed per request. */
export interface ServerDeps {
  /** The whole metrics exposition, in chunks, and its content type. */
  metrics(): Promise<string | readonly (string | Buffer)[]>;
  readonly metricsContentType: string;
  readonly version: string;
  readonly logger: Logger;
  /** True once every archive present at start has been identified or found unidentified. */
  ready(): boolean;
  /** The JSON views, serialized once per version and streamed under a cap (json-views.ts). */
  readonly archives: ViewSource;
  policy(): unknown;
  readonly plan: ViewSource;
  /** The state at a glance: `/api/v1/status` as JSON, `/` as HTML. */
  status(): Promise<ExporterStatus>;
  /** The cap on JSON views streaming at once (default MAX_VIEW_STREAMS) and what they report. */
  readonly views?: JsonViewOptions;
  /** Runs before every route (e.g. the `--auth kubernetes` guard); the probes' openness is its own business. */
  readonly guard?: Koa.Middleware;
}

export function createServerApp(deps: ServerDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const views = createJsonViews({ archives: deps.archives, plan: deps.plan }, deps.views);

  router.get('/', async (ctx) => {
    ctx.type = 'html';
    ctx.body = renderStatusPage(await deps.status());
  });
  router.get('/api/v1/status', async (ctx) => {
    ctx.body = await deps.status();
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metricsContentType;
    const body = await deps.metrics();
    // Chunks are written as they are: no join of megabytes of text on the event loop per scrape.
    ctx.body = typeof body === 'string' ? body : Readable.from(body, { objectMode: false });
  });
  router.get('/healthz', (ctx) => {
    ctx.body = 'ok\n';
  });
  router.get('/readyz', (ctx) => {
    const ready = deps.ready();
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? 'ok\n' : 'initial scan of the checkpoint directory not complete\n';
  });
  router.get('/api/v1/archives', views.serve('archives'));
  router.get('/api/v1/policy', (ctx) => {
    ctx.body = deps.policy();
  });
  router.get('/api/v1/plan', views.serve('plan'));

  app.on('error', (error: unknown) => deps.logger.error({ err: error }, 'http request failed'));
  if (deps.guard) app.use(deps.guard);
  const knownPaths = new Set(router.stack.map((layer) => layer.path));
  // Read-only server: known paths answer 405 to every method but GET and HEAD (OPTIONS included).
  app.use(async (ctx, next) => {
    if (knownPaths.has(ctx.path) && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    await next();
  });
  app.use(router.routes());
  return app;
}
