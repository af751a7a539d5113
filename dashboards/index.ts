import type { Dashboard } from '@grafana/schema';
import { buildContainerDashboard } from './container.js';
import { buildOverviewDashboard } from './overview.js';

/** Every dashboard by the file name it is committed under in dashboards/. */
export function buildDashboards(): Record<string, Dashboard> {
  return {
    'checkpoint-archives-overview.json': buildOverviewDashboard(),
    'checkpoint-archives-container.json': buildContainerDashboard(),
  };
}

export function renderDashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
