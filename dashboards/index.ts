import type { Dashboard } from '@grafana/schema';
import { buildContainerDashboard } from './container.js';
import { buildOverviewDashboard } from './overview.js';
import type { DashboardOptions } from './panels.js';

export type { DashboardOptions } from './panels.js';

/**
 * Every dashboard by the file name it is committed under in dashboards/. The committed files use the
 * defaults: one cluster, so the `cluster` variable is hidden.
 */
export function buildDashboards(options: DashboardOptions = {}): Record<string, Dashboard> {
  return {
    'checkpoint-archives-overview.json': buildOverviewDashboard(options),
    'checkpoint-archives-container.json': buildContainerDashboard(options),
  };
}

export function renderDashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
