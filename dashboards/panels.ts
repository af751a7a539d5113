/**
 * Small typed builders for the panels and variables both dashboards use, so every panel gets the same
 * datasource, a unit and a description by construction rather than by review.
 */
import type { DataSourceRef, FieldConfigSource, Panel, RowPanel, Threshold, VariableModel } from '@grafana/schema';
import { ThresholdsMode, VariableRefresh, VariableSort } from '@grafana/schema';

export const DATASOURCE_VARIABLE = 'datasource';
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };
/** Tag shared by both dashboards; the dashboard links find each other through it. */
export const DASHBOARD_TAG = 'checkpoint-exporter';

/** Grafana's grid is 24 columns wide. */
const GRID_COLUMNS = 24;

export type Unit = 'bytes' | 'Bps' | 'short' | 'ops' | 'dateTimeFromNow' | 'percentunit' | 's';
export type PanelKind = 'timeseries' | 'stat' | 'table' | 'bargauge';

export interface QuerySpec {
  readonly expr: string;
  /** Series name in the legend; also names the column in tables. */
  readonly legend?: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: Unit;
  readonly queries: readonly QuerySpec[];
  readonly width: number;
  readonly height: number;
  /** Ascending threshold steps after the base color; drawn as lines on time series. */
  readonly thresholds?: ReadonlyArray<{ readonly value: number; readonly color: string }>;
  readonly min?: number;
  readonly max?: number;
  /** Per-column units for tables that mix quantities, keyed by the field name Grafana gives it. */
  readonly columnUnits?: Readonly<Record<string, Unit>>;
  readonly transformations?: Panel['transformations'];
  /** Time series only: stack the series, so their sum is the top line (parts of a whole). */
  readonly stack?: boolean;
}

/** A panel without a position yet; `layoutPanels` assigns ids and grid positions. */
export type UnplacedPanel = Omit<Panel, 'id' | 'gridPos'> & { readonly size: { readonly w: number; readonly h: number } };
export interface UnplacedRow {
  readonly row: string;
}

function fieldConfig(spec: PanelSpec, custom: Record<string, unknown>): FieldConfigSource {
  const steps: Threshold[] = [{ color: 'green', value: null }, ...(spec.thresholds ?? []).map((t) => ({ color: t.color, value: t.value }))];
  return {
    defaults: {
      unit: spec.unit,
      ...(spec.min === undefined ? {} : { min: spec.min }),
      ...(spec.max === undefined ? {} : { max: spec.max }),
      thresholds: { mode: ThresholdsMode.Absolute, steps },
      custom,
    },
    overrides: Object.entries(spec.columnUnits ?? {}).map(([name, unit]) => ({
      matcher: { id: 'byName', options: name },
      properties: [{ id: 'unit', value: unit }],
    })),
  };
}

function targets(queries: readonly QuerySpec[], mode: 'range' | 'instant' | 'table'): Array<Record<string, unknown>> {
  return queries.map((query, index) => ({
    refId: String.fromCharCode('A'.charCodeAt(0) + index),
    datasource: DATASOURCE,
    expr: query.expr,
    legendFormat: query.legend ?? '__auto',
    range: mode === 'range',
    instant: mode !== 'range',
    ...(mode === 'table' ? { format: 'table' } : {}),
  }));
}

function base(kind: PanelKind, spec: PanelSpec, custom: Record<string, unknown>, mode: 'range' | 'instant' | 'table'): UnplacedPanel {
  return {
    type: kind,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    fieldConfig: fieldConfig(spec, custom),
    targets: targets(spec.queries, mode),
    ...(spec.transformations === undefined ? {} : { transformations: spec.transformations }),
    size: { w: spec.width, h: spec.height },
  };
}

export function timeseriesPanel(spec: PanelSpec): UnplacedPanel {
  const custom = {
    drawStyle: 'line',
    lineWidth: 1,
    fillOpacity: spec.stack === true ? 60 : 10,
    showPoints: 'never',
    spanNulls: false,
    thresholdsStyle: { mode: spec.thresholds === undefined ? 'off' : 'line' },
    ...(spec.stack === true ? { stacking: { mode: 'normal', group: 'A' } } : {}),
  };
  return {
    ...base('timeseries', spec, custom, 'range'),
    options: { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

export function statPanel(spec: PanelSpec): UnplacedPanel {
  return {
    ...base('stat', spec, {}, 'instant'),
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none', textMode: 'auto' },
  };
}

export function tablePanel(spec: PanelSpec): UnplacedPanel {
  return {
    ...base('table', spec, { align: 'auto' }, 'table'),
    options: { showHeader: true, cellHeight: 'sm' },
  };
}

export function barGaugePanel(spec: PanelSpec): UnplacedPanel {
  return {
    ...base('bargauge', spec, {}, 'instant'),
    options: { orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
  };
}

export function row(title: string): UnplacedRow {
  return { row: title };
}

/**
 * Flows panels left to right, wrapping at the grid edge; a row header starts a new line. Ids are the
 * position in the list, so they are stable as long as the order is.
 */
export function layoutPanels(items: ReadonlyArray<UnplacedPanel | UnplacedRow>): Array<Panel | RowPanel> {
  const placed: Array<Panel | RowPanel> = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  items.forEach((item, index) => {
    const id = index + 1;
    if ('row' in item) {
      y += lineHeight;
      placed.push({ type: 'row', id, title: item.row, collapsed: false, panels: [], gridPos: { x: 0, y, w: GRID_COLUMNS, h: 1 } });
      y += 1;
      x = 0;
      lineHeight = 0;
      return;
    }
    const { size, ...panel } = item;
    if (size.w > GRID_COLUMNS) throw new RangeError(`panel "${panel.title}" is wider than the grid`);
    if (x + size.w > GRID_COLUMNS) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    placed.push({ ...panel, id, gridPos: { x, y, w: size.w, h: size.h } });
    x += size.w;
    lineHeight = Math.max(lineHeight, size.h);
  });
  return placed;
}

export function datasourceVariable(): VariableModel {
  return {
    name: DATASOURCE_VARIABLE,
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: { text: 'default', value: 'default' },
    hide: 0,
    refresh: VariableRefresh.onDashboardLoad,
    regex: '',
  };
}

export interface LabelVariableSpec {
  readonly name: string;
  readonly label: string;
  /** Metric (with selector) whose label values are offered; it carries the earlier variables of the chain. */
  readonly series: string;
  readonly multi: boolean;
}

/** A `label_values` query variable, re-queried whenever the time range changes so new nodes and pods appear. */
export function labelVariable(spec: LabelVariableSpec): VariableModel {
  return {
    name: spec.name,
    label: spec.label,
    type: 'query',
    datasource: DATASOURCE,
    query: `label_values(${spec.series}, ${spec.name})`,
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalAsc,
    multi: spec.multi,
    includeAll: spec.multi,
    ...(spec.multi ? { allValue: '.*', current: { text: 'All', value: '$__all' } } : {}),
    hide: 0,
    regex: '',
  };
}
