import yaml from 'js-yaml';
import type { AlertRuleGroup } from './rules.js';

const GENERATED_HEADER = '# Generated from alerts/rules.ts by scripts/generate-observability.ts: edit the source, not this file.\n';

/** Prometheus rule-file YAML (`groups:`), as loaded by `prometheus --config.file` and `promtool check rules`. */
export function renderRulesYaml(groups: readonly AlertRuleGroup[]): string {
  return GENERATED_HEADER + yaml.dump({ groups }, { lineWidth: -1, noRefs: true, quotingType: '"' });
}
