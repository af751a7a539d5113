/** Reads dashboards the way Grafana does: panels, their queries, annotation queries and the label_values variable chain. */
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/schema';

export interface PanelQuery {
  readonly panel: string;
  readonly panelType: string;
  readonly refId: string;
  readonly expr: string;
  /** Stat, table and bar gauge panels ask for one instant; time series for a range. */
  readonly instant: boolean;
}

export interface LabelVariable {
  readonly name: string;
  /** The series selector inside `label_values(...)`, still with `$variables`. */
  readonly match: string;
  /** Several values and All allowed; All is sent as `allValue`. */
  readonly multi: boolean;
  readonly allValue: string | undefined;
  /** 0 shown, 2 hidden. */
  readonly hide: number;
}

export interface AnnotationQueryText {
  readonly name: string;
  readonly expr: string;
  /** Minimum step of the range query Grafana runs. */
  readonly step: string;
}

function isRow(panel: Panel | RowPanel): panel is RowPanel {
  return panel.type === 'row';
}

/** Every visualization panel, including those inside collapsed rows. */
export function listPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => (isRow(panel) ? panel.panels : [panel]));
}

export function listRows(dashboard: Dashboard): RowPanel[] {
  return (dashboard.panels ?? []).filter(isRow);
}

export function listPanelQueries(dashboard: Dashboard): PanelQuery[] {
  return listPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panel: panel.title ?? '',
      panelType: panel.type,
      refId: String(target['refId']),
      expr: String(target['expr']),
      instant: target['instant'] === true,
    })),
  );
}

const LABEL_VALUES = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/;

export function listVariables(dashboard: Dashboard): VariableModel[] {
  return dashboard.templating?.list ?? [];
}

export function listLabelVariables(dashboard: Dashboard): LabelVariable[] {
  return listVariables(dashboard)
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const match = LABEL_VALUES.exec(String(variable.query));
      if (!match || match[2] !== variable.name) throw new Error(`variable ${variable.name} is not label_values(<series>, ${variable.name}): ${String(variable.query)}`);
      return {
        name: variable.name,
        match: match[1] ?? '',
        multi: variable.multi === true,
        allValue: variable.includeAll === true ? variable.allValue : undefined,
        hide: Number(variable.hide ?? 0),
      };
    });
}

/** The Prometheus annotation queries (the built-in Grafana one has no expression and is left out). */
export function listAnnotationQueries(dashboard: Dashboard): AnnotationQueryText[] {
  return (dashboard.annotations?.list ?? [])
    .filter((annotation) => annotation.datasource?.type === 'prometheus')
    .map((annotation) => {
      const fields = annotation as unknown as Record<string, unknown>;
      return { name: annotation.name, expr: String(fields['expr']), step: String(fields['step']) };
    });
}

/**
 * Substitutes `$name`, `${name}` and Grafana's built-ins; throws if a variable is left, since Prometheus
 * would reject the query or, worse, match the literal text.
 */
export function interpolate(expr: string, values: Readonly<Record<string, string>>): string {
  const result = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${whole} in ${expr}`);
    return value;
  });
  return result;
}
