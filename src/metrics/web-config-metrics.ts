import { Counter, Gauge, type Registry } from 'prom-client';

export const WEB_CONFIG_RELOAD_RESULTS = ['success', 'failure'] as const;
export type WebConfigReloadResult = (typeof WEB_CONFIG_RELOAD_RESULTS)[number];
export const BASIC_AUTH_REQUEST_RESULTS = ['allowed', 'unauthenticated', 'throttled'] as const;

export interface WebConfigMetrics {
  reloaded(result: WebConfigReloadResult, nowMs: number): void;
  basicAuth(result: (typeof BASIC_AUTH_REQUEST_RESULTS)[number]): void;
}

/**
 * The web configuration's families, registered only with `--web-config-file`. The start counts as
 * the first successful load (a refused file stops the process). Every label value starts at 0.
 */
export function createWebConfigMetrics(registry: Registry, startMs: number): WebConfigMetrics {
  const successful = new Gauge({
    name: 'checkpoint_web_config_last_reload_successful',
    help: '1 when the last load of the web configuration (the file and the certificates, key and CA it names) succeeded; 0 while a refused version is on disk and the last good one is served.',
    registers: [registry],
  });
  const successTime = new Gauge({
    name: 'checkpoint_web_config_last_reload_success_timestamp_seconds',
    help: 'Time of the last successful load of the web configuration, in seconds since the epoch.',
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'checkpoint_web_config_reloads_total',
    help: 'Loads of a changed web configuration after the start, by result: success (applied) or failure (refused; the last good one stays).',
    labelNames: ['result'],
    registers: [registry],
  });
  const basicAuth = new Counter({
    name: 'checkpoint_web_basic_auth_requests_total',
    help: 'Requests checked against basic_auth_users, by result: allowed, unauthenticated (401) or throttled (429, too many bcrypt checks waiting).',
    labelNames: ['result'],
    registers: [registry],
  });
  successful.set(1);
  successTime.set(startMs / 1000);
  for (const result of WEB_CONFIG_RELOAD_RESULTS) reloads.inc({ result }, 0);
  for (const result of BASIC_AUTH_REQUEST_RESULTS) basicAuth.inc({ result }, 0);
  return {
    reloaded(result, nowMs) {
      reloads.inc({ result });
      successful.set(result === 'success' ? 1 : 0);
      if (result === 'success') successTime.set(nowMs / 1000);
    },
    basicAuth: (result) => basicAuth.inc({ result }),
  };
}
