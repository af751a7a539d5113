import yaml from 'js-yaml';
import type { Result } from '../archive/types.js';
import { describeValue, parseQuantityValue } from './quantity.js';
import { parseDurationValue } from './duration.js';
import type { ContainerPolicy, DiskPressurePolicy, GlobalPolicy, GlobalPolicyField, NamespacePolicy, PodPolicy, PolicyLimits } from './types.js';

/**
 * One validated CheckpointRestoreOperator custom resource (`criu.org/v1`), normalized: sizes in
 * bytes, durations in seconds, every specific policy stamped with where it came from.
 *
 * Unknown fields are warnings, not errors. The resource is shared with the upstream operator, whose
 * schema may grow; and for a tool that deletes, an ignored field can only mean a limit not applied,
 * so fewer deletions, never more. The caller logs `warnings` so a typo does not go unnoticed.
 * Wrong types, malformed quantities or durations, negative or fractional counts are errors that name
 * the field path, and the whole document is refused.
 */
export interface PolicyDocument {
  /** Human name, e.g. `file /etc/checkpoint-exporter/policy.yaml` or `CheckpointRestoreOperator ops/default`. */
  readonly source: string;
  /** Files outrank cluster objects when merging; see mergePolicies. */
  readonly origin: PolicyOrigin;
  /** metadata.namespace and metadata.name ('' when absent): the stable merge order among documents. */
  readonly namespace: string;
  readonly name: string;
  /** Position of the document in its YAML stream (0 for a single object). */
  readonly index: number;
  readonly checkpointDirectory: string | undefined;
  /** Accepted for compatibility; the exporter always converges on every change. */
  readonly applyPoliciesImmediately: boolean | undefined;
  readonly globalPolicy: GlobalPolicySettings | undefined;
  readonly containerPolicies: readonly ContainerPolicy[];
  readonly podPolicies: readonly PodPolicy[];
  readonly namespacePolicies: readonly NamespacePolicy[];
  readonly diskPressure: DiskPressurePolicy | undefined;
  readonly orphanGracePeriodSeconds: number | undefined;
  readonly warnings: readonly string[];
}

export type PolicyOrigin = 'file' | 'cluster';

/** The fields a document actually set (unset ones fall through to other documents, then defaults). */
export type GlobalPolicySettings = Readonly<Partial<Omit<GlobalPolicy, 'source' | 'fieldSources'>>> & { readonly source: string };

export interface ParseOptions {
  readonly origin?: PolicyOrigin;
  readonly index?: number;
}

/** A bare size below this is almost certainly an upstream-style megabyte count: warn, since limits delete. */
const BARE_SIZE_WARNING_BYTES = 1024 * 1024;

export const POLICY_API_VERSION = 'criu.org/v1';
export const POLICY_KIND = 'CheckpointRestoreOperator';

/** Kubernetes object names never exceed 253 characters; a longer scope name is not a real scope. */
const MAX_SCOPE_NAME_LENGTH = 253;
/** Bounds memory and planning time on a hostile or runaway document. */
const MAX_POLICIES_PER_LIST = 10_000;
/** A generated file can be wrong in thousands of places; the first few say enough to fix it. */
const MAX_REPORTED_PROBLEMS = 10;

function summarize(problems: readonly string[]): string {
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).join('; ');
  return problems.length > MAX_REPORTED_PROBLEMS ? `${shown}; and ${problems.length - MAX_REPORTED_PROBLEMS} more` : shown;
}

export const DEFAULT_DISK_PRESSURE = { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 } as const;

type Fields = Readonly<Record<string, unknown>>;

/** Collects every problem of one document, each prefixed by its field path. */
class Checker {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  error(path: string, message: string): undefined {
    this.errors.push(`${path}: ${message}`);
    return undefined;
  }

  mapping(value: unknown, path: string): Fields | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.error(path, `expected a mapping, got ${describeValue(value)}`);
    return value as Fields;
  }

  list(value: unknown, path: string): readonly unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.error(path, `expected a list, got ${describeValue(value)}`) ?? [];
    if (value.length > MAX_POLICIES_PER_LIST) return this.error(path, `more than ${MAX_POLICIES_PER_LIST} entries`) ?? [];
    return value;
  }

  unknownFields(fields: Fields, known: readonly string[], path: string): void {
    for (const key of Object.keys(fields)) {
      if (!known.includes(key)) this.warnings.push(`${path}.${key}: unknown field, ignored`);
    }
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') return this.error(path, `expected true or false, got ${describeValue(value)}`);
    return value;
  }

  count(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.error(path, `expected a whole number, got ${describeValue(value)}`);
    if (value < 0) return this.error(path, `${value} is negative`);
    if (!Number.isSafeInteger(value)) return this.error(path, `${value} is not a whole number`);
    return value;
  }

  quantity(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = parseQuantityValue(value);
    if (!parsed.ok) return this.error(path, parsed.reason);
    // Upstream documents its size fields in megabytes, so `maxCheckpointSize: 8` there means 8 MB;
    // here it is 8 bytes, as in every Kubernetes quantity. No checkpoint is that small, so say so.
    const bare = typeof value === 'number' || /^[0-9]+$/.test(String(value));
    if (bare && parsed.value > 0 && parsed.value < BARE_SIZE_WARNING_BYTES) {
      this.warnings.push(`${path}: ${String(value)} means ${parsed.value} bytes (the upstream operator read bare numbers as megabytes; write ${String(value)}Mi if that was meant)`);
    }
    return parsed.value;
  }

  duration(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = parseDurationValue(value);
    return parsed.ok ? parsed.value : this.error(path, parsed.reason);
  }

  percent(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.error(path, `expected a percentage, got ${describeValue(value)}`);
    if (value <= 0 || value >= 100) return this.error(path, `${value} is not between 0 and 100 (exclusive)`);
    return value;
  }

  scopeName(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return this.error(path, 'is required');
    if (typeof value !== 'string' || value === '') return this.error(path, `expected a non-empty name, got ${describeValue(value)}`);
    if (value.length > MAX_SCOPE_NAME_LENGTH) return this.error(path, `longer than ${MAX_SCOPE_NAME_LENGTH} characters`);
    return value;
  }

  text(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') return this.error(path, `expected a non-empty string, got ${describeValue(value)}`);
    return value;
  }
}

const GLOBAL_FIELDS = [
  'retainOrphan',
  'maxCheckpointsPerNamespace',
  'maxCheckpointsPerPod',
  'maxCheckpointsPerContainer',
  'maxCheckpointSize',
  'maxTotalSizePerNamespace',
  'maxTotalSizePerPod',
  'maxTotalSizePerContainer',
  'maxCheckpointAge',
] as const;
const LIMIT_FIELDS = ['retainOrphan', 'maxCheckpoints', 'maxCheckpointSize', 'maxTotalSize', 'maxCheckpointAge'] as const;
const SPEC_FIELDS = [
  'checkpointDirectory',
  'applyPoliciesImmediately',
  'globalPolicy',
  'containerPolicies',
  'podPolicies',
  'namespacePolicies',
  'diskPressure',
  'orphanGracePeriod',
] as const;
const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'] as const;

function checkGlobal(check: Checker, value: unknown, source: string): GlobalPolicySettings | undefined {
  const path = 'spec.globalPolicy';
  const fields = check.mapping(value, path);
  if (!fields) return undefined;
  check.unknownFields(fields, GLOBAL_FIELDS, path);
  const settings: { -readonly [K in GlobalPolicyField]?: GlobalPolicy[K] } = {};
  const set = <K extends GlobalPolicyField>(key: K, parsed: GlobalPolicy[K] | undefined): void => {
    if (parsed !== undefined) settings[key] = parsed;
  };
  set('retainOrphan', check.boolean(fields['retainOrphan'], `${path}.retainOrphan`));
  for (const key of ['maxCheckpointsPerNamespace', 'maxCheckpointsPerPod', 'maxCheckpointsPerContainer'] as const) {
    set(key, check.count(fields[key], `${path}.${key}`));
  }
  for (const key of ['maxCheckpointSize', 'maxTotalSizePerNamespace', 'maxTotalSizePerPod', 'maxTotalSizePerContainer'] as const) {
    set(key, check.quantity(fields[key], `${path}.${key}`));
  }
  set('maxCheckpointAgeSeconds', check.duration(fields['maxCheckpointAge'], `${path}.maxCheckpointAge`));
  return { ...settings, source: `${source} globalPolicy` };
}

function checkLimits(check: Checker, fields: Fields, path: string): PolicyLimits {
  const limits: { -readonly [K in keyof PolicyLimits]: PolicyLimits[K] } = {};
  const retainOrphan = check.boolean(fields['retainOrphan'], `${path}.retainOrphan`);
  const maxCheckpoints = check.count(fields['maxCheckpoints'], `${path}.maxCheckpoints`);
  const maxCheckpointSize = check.quantity(fields['maxCheckpointSize'], `${path}.maxCheckpointSize`);
  const maxTotalSize = check.quantity(fields['maxTotalSize'], `${path}.maxTotalSize`);
  const maxCheckpointAgeSeconds = check.duration(fields['maxCheckpointAge'], `${path}.maxCheckpointAge`);
  if (retainOrphan !== undefined) limits.retainOrphan = retainOrphan;
  if (maxCheckpoints !== undefined) limits.maxCheckpoints = maxCheckpoints;
  if (maxCheckpointSize !== undefined) limits.maxCheckpointSize = maxCheckpointSize;
  if (maxTotalSize !== undefined) limits.maxTotalSize = maxTotalSize;
  if (maxCheckpointAgeSeconds !== undefined) limits.maxCheckpointAgeSeconds = maxCheckpointAgeSeconds;
  return limits;
}

type ScopeField = 'namespace' | 'pod' | 'container';

function checkPolicyList<T>(
  check: Checker,
  value: unknown,
  list: 'containerPolicies' | 'podPolicies' | 'namespacePolicies',
  scopeFields: readonly ScopeField[],
  source: string,
  build: (scope: Readonly<Record<ScopeField, string>>, limits: PolicyLimits, source: string) => T,
): T[] {
  const policies: T[] = [];
  const seen = new Map<string, number>();
  check.list(value, `spec.${list}`).forEach((entry, index) => {
    const path = `spec.${list}[${index}]`;
    const fields = check.mapping(entry, path);
    if (!fields) {
      if (entry === undefined || entry === null) check.error(path, 'expected a mapping, got null');
      return;
    }
    check.unknownFields(fields, [...scopeFields, ...LIMIT_FIELDS], path);
    const scope: Record<ScopeField, string> = { namespace: '', pod: '', container: '' };
    let complete = true;
    for (const field of scopeFields) {
      const name = check.scopeName(fields[field], `${path}.${field}`);
      if (name === undefined) complete = false;
      else scope[field] = name;
    }
    const limits = checkLimits(check, fields, path);
    if (!complete) return;
    const key = scopeFields.map((field) => scope[field]).join('/');
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      // Two entries for one scope would make the winner depend on list order: refuse rather than guess.
      check.error(path, `repeats the scope ${key} of spec.${list}[${earlier}]`);
      return;
    }
    seen.set(key, index);
    policies.push(build(scope, limits, `${source} ${list}[${index}]`));
  });
  return policies;
}

function checkDiskPressure(check: Checker, value: unknown, source: string): DiskPressurePolicy | undefined {
  const path = 'spec.diskPressure';
  const fields = check.mapping(value, path);
  if (!fields) return undefined;
  check.unknownFields(fields, ['highThresholdPercent', 'lowThresholdPercent', 'keepNewestPerContainer'], path);
  const high = check.percent(fields['highThresholdPercent'], `${path}.highThresholdPercent`) ?? DEFAULT_DISK_PRESSURE.highThresholdPercent;
  const low = check.percent(fields['lowThresholdPercent'], `${path}.lowThresholdPercent`) ?? DEFAULT_DISK_PRESSURE.lowThresholdPercent;
  const keep = check.count(fields['keepNewestPerContainer'], `${path}.keepNewestPerContainer`) ?? DEFAULT_DISK_PRESSURE.keepNewestPerContainer;
  if (low > high) check.error(`${path}.lowThresholdPercent`, `${low} is above highThresholdPercent ${high}`);
  return { highThresholdPercent: high, lowThresholdPercent: low, keepNewestPerContainer: keep, source: `${source} diskPressure` };
}

/** Validates one document and returns it normalized, or every problem found as `path: message` lines. */
function checkDocument(raw: unknown, source: string, options: ParseOptions): Result<PolicyDocument, string[]> {
  const check = new Checker();
  const top = check.mapping(raw, '(document)');
  if (!top) return { ok: false, reason: check.errors.length > 0 ? check.errors : ['(document): is empty'] };
  check.unknownFields(top, TOP_FIELDS, '(document)');
  if (top['apiVersion'] !== POLICY_API_VERSION) check.error('apiVersion', `expected ${POLICY_API_VERSION}, got ${describeValue(top['apiVersion'])}`);
  if (top['kind'] !== POLICY_KIND) check.error('kind', `expected ${POLICY_KIND}, got ${describeValue(top['kind'])}`);
  const metadata = check.mapping(top['metadata'], 'metadata');
  const namespace = metadata ? (check.text(metadata['namespace'], 'metadata.namespace') ?? '') : '';
  const name = metadata ? (check.text(metadata['name'], 'metadata.name') ?? '') : '';
  const spec = check.mapping(top['spec'], 'spec') ?? {};
  check.unknownFields(spec, SPEC_FIELDS, 'spec');

  const document: PolicyDocument = {
    source,
    origin: options.origin ?? 'cluster',
    namespace,
    name,
    index: options.index ?? 0,
    checkpointDirectory: check.text(spec['checkpointDirectory'], 'spec.checkpointDirectory'),
    applyPoliciesImmediately: check.boolean(spec['applyPoliciesImmediately'], 'spec.applyPoliciesImmediately'),
    globalPolicy: checkGlobal(check, spec['globalPolicy'], source),
    containerPolicies: checkPolicyList(check, spec['containerPolicies'], 'containerPolicies', ['namespace', 'pod', 'container'], source, (scope, limits, from) => ({
      ...limits,
      namespace: scope.namespace,
      pod: scope.pod,
      container: scope.container,
      source: from,
    })),
    podPolicies: checkPolicyList(check, spec['podPolicies'], 'podPolicies', ['namespace', 'pod'], source, (scope, limits, from) => ({
      ...limits,
      namespace: scope.namespace,
      pod: scope.pod,
      source: from,
    })),
    namespacePolicies: checkPolicyList(check, spec['namespacePolicies'], 'namespacePolicies', ['namespace'], source, (scope, limits, from) => ({
      ...limits,
      namespace: scope.namespace,
      source: from,
    })),
    diskPressure: checkDiskPressure(check, spec['diskPressure'], source),
    orphanGracePeriodSeconds: check.duration(spec['orphanGracePeriod'], 'spec.orphanGracePeriod'),
    warnings: check.warnings,
  };
  return check.errors.length > 0 ? { ok: false, reason: check.errors } : { ok: true, value: document };
}

/** Validates one CheckpointRestoreOperator object (as read from the API server or a YAML document). */
export function parsePolicyDocument(raw: unknown, source: string, options: ParseOptions = {}): Result<PolicyDocument> {
  const checked = checkDocument(raw, source, options);
  return checked.ok ? checked : { ok: false, reason: `${source}: ${summarize(checked.reason)}` };
}

/**
 * Parses a YAML stream of CheckpointRestoreOperator documents (`---` separated). Empty documents are
 * skipped. Any invalid document refuses the whole stream, naming the document index and the field,
 * because applying half a file would be a policy nobody wrote.
 */
export function parsePolicyYaml(text: string, source: string): Result<PolicyDocument[]> {
  let raws: unknown[];
  try {
    raws = yaml.loadAll(text, undefined, { filename: source });
  } catch (error) {
    return { ok: false, reason: `${source}: invalid YAML: ${error instanceof Error ? error.message : String(error)}` };
  }
  const present = raws.map((raw, index) => ({ raw, index })).filter(({ raw }) => raw !== null && raw !== undefined);
  const documents: PolicyDocument[] = [];
  const problems: string[] = [];
  for (const { raw, index } of present) {
    const documentSource = present.length > 1 ? `${source} document ${index}` : source;
    const checked = checkDocument(raw, documentSource, { origin: 'file', index });
    if (checked.ok) documents.push(checked.value);
    else problems.push(...checked.reason.map((problem) => `document ${index}: ${problem}`));
  }
  return problems.length > 0 ? { ok: false, reason: `${source}: ${summarize(problems)}` } : { ok: true, value: documents };
}
