/**
 * Small typed builders for the panels and variables both dashboards use, so every panel gets the same
 * datasource, a unit and a description by construction rather than by review.
 */
import type { AnnotationQuery, DataSourceRef, FieldConfigSource, Panel, RowPanel, Threshold, VariableModel } from '@grafana/schema';
import { ThresholdsMode, VariableHide, VariableRefresh, VariableSort } from '@grafana/schema';

export const DATASOURCE_VARIABLE = 'datasource';
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };
/** The Prometheus label that tells clusters apart where one data source holds several (Thanos, Mimir). */
export const CLUSTER_VARIABLE = 'cluster';
/**
 * Every selector carries this. With the All value `.*` it also matches series without a `cluster`
 * label (an absent label reads as the empty value), which is the single-cluster case.
 */
export const CLUSTER_MATCHER = `${CLUSTER_VARIABLE}=~"$${CLUSTER_VARIABLE}"`;
/** What a multi-value variable sends for All: a regular expression that also matches the empty value. */
export const ALL_VALUE = '.*';
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
  /**
   * Time series only: queries (by refId) drawn as dashed reference lines rather than data, e.g. marks
   * read from a metric where a fixed threshold would be wrong for other settings.
   */
  readonly markLines?: ReadonlyArray<{ readonly refId: string; readonly color: string }>;
  /** Links on every field (a table's cells): `${__data.fields.<label>}` reads the row's value. */
  readonly links?: readonly DataLink[];
}

/** A data link as Grafana stores it in a field config. */
export interface DataLink {
  readonly title: string;
  readonly url: string;
  readonly targetBlank: boolean;
}

/** A panel without a position yet; `layoutPanels` assigns ids and grid positions. */
export type UnplacedPanel = Omit<Panel, 'id' | 'gridPos'> & { readonly size: { readonly w: number; readonly h: number } };
export interface UnplacedRow {
  readonly row: string;
}

/** Dash and gap lengths of a mark line, in pixels. */
const MARK_DASH = [10, 10];

function fieldConfig(spec: PanelSpec, custom: Record<string, unknown>): FieldConfigSource {
  const steps: Threshold[] = [{ color: 'green', value: null }, ...(spec.thresholds ?? []).map((t) => ({ color: t.color, value: t.value }))];
  const unitOverrides = Object.entries(spec.columnUnits ?? {}).map(([name, unit]) => ({
    matcher: { id: 'byName', options: name },
    properties: [{ id: 'unit', value: unit }],
  }));
  const markOverrides = (spec.markLines ?? []).map((mark) => ({
    matcher: { id: 'byFrameRefID', options: mark.refId },
    properties: [
      { id: 'color', value: { mode: 'fixed', fixedColor: mark.color } },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: MARK_DASH } },
      { id: 'custom.lineWidth', value: 2 },
      { id: 'custom.fillOpacity', value: 0 },
    ],
  }));
  return {
    defaults: {
      unit: spec.unit,
      ...(spec.min === undefined ? {} : { min: spec.min }),
      ...(spec.max === undefined ? {} : { max: spec.max }),
      thresholds: { mode: ThresholdsMode.Absolute, steps },
      ...(spec.links === undefined ? {} : { links: spec.links.map((link) => ({ ...link })) }),
      custom,
    },
    overrides: [...unitOverrides, ...markOverrides],
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
  /** Several values and All (sent as `.*`); otherwise exactly one value. */
  readonly multi: boolean;
  /** Kept off the variable bar; the value still applies and can be set in the URL (`var-<name>=`). */
  readonly hidden?: boolean;
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
    ...(spec.multi ? { allValue: ALL_VALUE, current: { text: 'All', value: '$__all' } } : {}),
    hide: spec.hidden === true ? VariableHide.hideVariable : VariableHide.dontHide,
    regex: '',
  };
}

export interface DashboardOptions {
  /**
   * Show the `cluster` variable. Off by default: with one cluster its only choice is All, which also
   * matches series without a `cluster` label; where one data source holds several clusters (Thanos,
   * Mimir) turn it on, or set `var-cluster=` in the URL.
   */
  readonly multiCluster?: boolean;
}

/**
 * The first variable of every chain: the clusters the exporters report from. Multi-value with All
 * (`.*`), so where the series carry no `cluster` label every query still matches them.
 */
export function clusterVariable(options: DashboardOptions): VariableModel {
  return labelVariable({ name: CLUSTER_VARIABLE, label: 'Cluster', series: 'checkpoint_exporter_build_info', multi: true, hidden: options.multiCluster !== true });
}

/**
 * A Prometheus annotation query in the fields Grafana's Prometheus data source reads (and moves into
 * its target on load): every series the query returns marks the steps where it has a value.
 */
export interface PrometheusAnnotation extends AnnotationQuery {
  readonly expr: string;
  /** Minimum step of the range query; also the width of the marks. */
  readonly step: string;
  readonly titleFormat: string;
  readonly textFormat: string;
  /** Comma-separated labels that become the annotation's tags. */
  readonly tagKeys: string;
  readonly useValueForTime: false;
}

export interface AnnotationSpec {
  readonly name: string;
  readonly expr: string;
  readonly step: string;
  readonly color: string;
  readonly title: string;
  readonly text: string;
  readonly tagKeys: readonly string[];
}

export function prometheusAnnotation(spec: AnnotationSpec): PrometheusAnnotation {
  return {
    name: spec.name,
    datasource: DATASOURCE,
    enable: true,
    hide: false,
    iconColor: spec.color,
    expr: spec.expr,
    step: spec.step,
    titleFormat: spec.title,
    textFormat: spec.text,
    tagKeys: spec.tagKeys.join(','),
    useValueForTime: false,
  };
}

/** The counter the deletion annotations read. */
const DELETIONS = 'checkpoint_retention_deletions_total';

/**
 * Retention deletions as annotations, one per namespace and reason. A counter series is born at its
 * first deletion (labelled counters are exported once incremented), and `increase()` over a series'
 * first sample is empty: the second branch marks a series that is there now and was not one rate
 * interval ago, so the first deletion of a namespace and reason after an exporter start shows too.
 */
export function deletionsAnnotation(selector: string): PrometheusAnnotation {
  const series = `${DELETIONS}{${selector}}`;
  return prometheusAnnotation({
    name: 'Deletions',
    expr: `sum by (namespace, reason) ((increase(${series}[$__rate_interval]) > 0) or (${series} unless ${series} offset $__rate_interval))`,
    step: '1m',
    color: 'orange',
    title: 'Retention deleted archives: {{reason}}',
    text: 'namespace {{namespace}}',
    tagKeys: ['namespace', 'reason'],
  });
}
