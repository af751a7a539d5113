import Koa from 'koa';
import Router from '@koa/router';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

/** Read-only views the HTTP server publishes; all computed per request. */
export interface ServerDeps {
  readonly registry: Registry;
  readonly version: string;
  readonly logger: Logger;
  /** True once every archive present at start has been identified or found unidentified. */
  ready(): boolean;
  archives(): unknown;
  policy(): unknown;
  plan(): unknown;
}

const LINKS: ReadonlyArray<readonly [string, string]> = [
  ['/metrics', 'Metrics'],
  ['/api/v1/archives', 'Archives (JSON)'],
  ['/api/v1/policy', 'Effective retention policy (JSON)'],
  ['/api/v1/plan', 'Last retention plan (JSON)'],
  ['/healthz', 'Liveness'],
  ['/readyz', 'Readiness'],
];

export function createServerApp(deps: ServerDeps): Koa {
  const app = new Koa();
  const router = new Router();

  router.get('/', (ctx) => {
    ctx.type = 'html';
    const items = LINKS.map(([href, label]) => `<li><a href="${href}">${label}</a></li>`).join('');
    ctx.body = `<!doctype html><html><head><title>checkpoint-exporter</title></head><body><h1>checkpoint-exporter</h1><p>Version ${escapeHtml(deps.version)}</p><ul>${items}</ul></body></html>`;
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.registry.contentType;
    ctx.body = await deps.registry.metrics();
  });
  router.get('/healthz', (ctx) => {
    ctx.body = 'ok\n';
  });
  router.get('/readyz', (ctx) => {
    const ready = deps.ready();
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? 'ok\n' : 'initial scan of the checkpoint directory not complete\n';
  });
  router.get('/api/v1/archives', (ctx) => {
    ctx.body = deps.archives();
  });
  router.get('/api/v1/policy', (ctx) => {
    ctx.body = deps.policy();
  });
  router.get('/api/v1/plan', (ctx) => {
    ctx.body = deps.plan();
  });

  app.on('error', (error: unknown) => deps.logger.error({ err: error }, 'http request failed'));
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
