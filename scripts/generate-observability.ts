/**
 * Renders the committed dashboards and alert rules from their TypeScript sources:
 *   npx tsx scripts/generate-observability.ts
 * Tests call `renderObservabilityFiles` to check the committed copies are current.
 */
import { renderRulesYaml } from '../alerts/render.js';
import { buildAlertRuleGroups } from '../alerts/rules.js';
import { buildDashboards, renderDashboardJson } from '../dashboards/index.js';
import { isMainModule, writeRenderedFiles } from './write-rendered-files.js';

export const RULES_FILE = 'alerts/checkpoint-exporter.rules.yaml';

/** Repository-relative path → file content. */
export function renderObservabilityFiles(): Record<string, string> {
  const files: Record<string, string> = { [RULES_FILE]: renderRulesYaml(buildAlertRuleGroups()) };
  for (const [fileName, dashboard] of Object.entries(buildDashboards())) files[`dashboards/${fileName}`] = renderDashboardJson(dashboard);
  return files;
}

if (isMainModule(import.meta.url)) await writeRenderedFiles(renderObservabilityFiles());
