/**
 * Renders the committed dashboards and alert rules from their TypeScript sources:
 *   npx tsx scripts/generate-observability.ts
 * Tests call `renderObservabilityFiles` to check the committed copies are current.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderRulesYaml } from '../alerts/render.js';
import { buildAlertRuleGroups } from '../alerts/rules.js';
import { buildDashboards, renderDashboardJson } from '../dashboards/index.js';

export const RULES_FILE = 'alerts/checkpoint-exporter.rules.yaml';

/** Repository-relative path → file content. */
export function renderObservabilityFiles(): Record<string, string> {
  const files: Record<string, string> = { [RULES_FILE]: renderRulesYaml(buildAlertRuleGroups()) };
  for (const [fileName, dashboard] of Object.entries(buildDashboards())) files[`dashboards/${fileName}`] = renderDashboardJson(dashboard);
  return files;
}

async function writeObservabilityFiles(root: string): Promise<void> {
  for (const [relative, content] of Object.entries(renderObservabilityFiles())) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    process.stdout.write(`wrote ${relative}\n`);
  }
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  await writeObservabilityFiles(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
