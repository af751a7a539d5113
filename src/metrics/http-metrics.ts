import { Counter, type Registry } from 'prom-client';

/** The JSON views (`/api/v1/archives`, `/api/v1/plan`): the only label values these counters take. */
export const JSON_VIEWS = ['archives', 'plan'] as const;

export interface HttpViewMetrics {
  serialized(view: string): void;
  rejected(view: string): void;
  stalled(view: string): void;
}

/**
 * Counters of the JSON views: serializations (one per version of the data, whatever the number of
 * clients) and requests refused because the cap of views streaming at once was reached. Every label
 * value starts at 0, so the first refusal is a rate and not a new series.
 */
export function createHttpViewMetrics(registry: Registry): HttpViewMetrics {
  const serializations = new Counter({
    name: 'checkpoint_http_view_serializations_total',
    help: 'Serializations of a JSON view (archives, plan): one per version of its data, shared by every request of that version.',
    labelNames: ['view'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'checkpoint_http_view_requests_rejected_total',
    help: 'Requests for a JSON view answered 503 (with Retry-After) because the most allowed were streaming already.',
    labelNames: ['view'],
    registers: [registry],
  });
  const stalled = new Counter({
    name: 'checkpoint_http_view_responses_stalled_total',
    help: 'Responses of a JSON view closed because the client read nothing for 30 s while bytes waited for it; its slot is given back.',
    labelNames: ['view'],
    registers: [registry],
  });
  for (const view of JSON_VIEWS) serializations.inc({ view }, 0);
  for (const view of JSON_VIEWS) rejected.inc({ view }, 0);
  for (const view of JSON_VIEWS) stalled.inc({ view }, 0);
  return {
    serialized: (view) => serializations.inc({ view }),
    rejected: (view) => rejected.inc({ view }),
    stalled: (view) => stalled.inc({ view }),
  };
}
