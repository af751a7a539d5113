import type { AnnotationQuery, Dashboard, Panel, RowPanel, VariableModel } from '@grafana/schema';
import { DashboardCursorSync } from '@grafana/schema';
import { DASHBOARD_TAG } from './panels.js';

/** Grafana 10.4 / 11 dashboards; older Grafana migrates newer JSON poorly, newer Grafana migrates this on load. */
export const SCHEMA_VERSION = 39;

export interface DashboardShellSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly VariableModel[];
  readonly panels: Array<Panel | RowPanel>;
  /** Annotation queries after the built-in one. */
  readonly annotations?: readonly AnnotationQuery[];
}

/** What both dashboards share: time range, tags, links to each other, the built-in annotations. */
export function dashboardShell(spec: DashboardShellSpec): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [DASHBOARD_TAG],
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    editable: true,
    graphTooltip: DashboardCursorSync.Crosshair,
    time: { from: 'now-6h', to: 'now' },
    timezone: '',
    refresh: '1m',
    links: [
      {
        title: 'Checkpoint archives',
        type: 'dashboards',
        tags: [DASHBOARD_TAG],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
      },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...(spec.annotations ?? []),
      ],
    },
    templating: { list: [...spec.variables] },
    panels: spec.panels,
  };
}
