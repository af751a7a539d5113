import yaml from 'js-yaml';
import type { Result } from '../archive/types.js';
import { isDns1123Label, isDns1123Subdomain } from '../archive/kubernetes-names.js';
import { describeValue, parseSizeValue } from './quantity.js';
import { formatDuration, MAX_TIMER_SECONDS, parseDurationValue } from './duration.js';
import { closestName } from './suggest.js';
import type { ContainerPolicy, DiskPressurePolicy, GlobalPolicy, GlobalPolicyField, NamespacePolicy, PodPolicy, PolicyLimits } from './types.js';
import { messageOf } from '../errors.js';

/**
 * One validated CheckpointRestoreOperator custom resource (`criu.org/v1`), normalized: sizes in
 * bytes, durations in seconds, every specific policy stamped with where it came from.
 *
 * A document is all or nothing. An unknown or misspelled field at any level, a key without a value,
 * a wrong apiVersion or kind, a scope that is not a valid Kubernetes name, a duplicate scope, a size
 * without a unit, a wrong type or an out-of-range value refuses the whole document, with one line per
 * problem naming the field path (and the field most likely meant). An ignored field is not harmless
 * in a program that deletes: a misspelled limit leaves the default in force, and the default deletes.
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
  /**
   * The one namespace this document may set policies for: a cluster object outside the exporter's own
   * namespace. Undefined for the file and for objects in the exporter's namespace, which may set anything.
   */
  readonly confinedTo: string | undefined;
  readonly checkpointDirectory: string | undefined;
  /** Accepted for compatibility; the exporter always converges on every change. */
  readonly applyPoliciesImmediately: boolean | undefined;
  readonly globalPolicy: GlobalPolicySettings | undefined;
  readonly containerPolicies: readonly ContainerPolicy[];
  readonly podPolicies: readonly PodPolicy[];
  readonly namespacePolicies: readonly NamespacePolicy[];
  readonly diskPressure: DiskPressurePolicy | undefined;
  readonly orphanGracePeriodSeconds: number | undefined;
  /** Notes that do not refuse the document (none today; every doubt is an error). */
  readonly warnings: readonly string[];
}

export type PolicyOrigin = 'file' | 'cluster';

/** The fields a document actually set (unset ones fall through to other documents, then defaults). */
export type GlobalPolicySettings = Readonly<Partial<Omit<GlobalPolicy, 'source' | 'fieldSources'>>> & { readonly source: string };

export interface ParseOptions {
  readonly origin?: PolicyOrigin;
  readonly index?: number;
  /**
   * Who may set what. When given, a cluster object outside `exporterNamespace` may set only
   * namespace, pod and container policies of its own namespace; anything else makes it invalid.
   */
  readonly authority?: { readonly exporterNamespace: string };
}

export const POLICY_API_VERSION = 'criu.org/v1';
export const POLICY_KIND = 'CheckpointRestoreOperator';

/** Bounds memory and planning time on a hostile or runaway document. */
const MAX_POLICIES_PER_LIST = 10_000;
/** A generated file can be wrong in thousands of places; the first lines say enough to fix it. */
export const MAX_REPORTED_PROBLEMS = 20;

export const DEFAULT_DISK_PRESSURE = { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 } as const;

type Fields = Readonly<Record<string, unknown>>;

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
  'deleteUnrestorableFirst',
  'deleteReferencedPodCheckpoints',
] as const;
const LIMIT_FIELDS = ['retainOrphan', 'maxCheckpoints', 'maxCheckpointSize', 'maxTotalSize', 'maxCheckpointAge', 'deleteUnrestorableFirst'] as const;
const DISK_PRESSURE_FIELDS = ['highThresholdPercent', 'lowThresholdPercent', 'keepNewestPerContainer'] as const;
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
/** ObjectMeta as the API server returns it; only name and namespace mean anything here. */
const METADATA_FIELDS = [
  'name',
  'namespace',
  'labels',
  'annotations',
  'generateName',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'finalizers',
  'ownerReferences',
  'managedFields',
  'selfLink',
] as const;

type ScopeField = 'namespace' | 'pod' | 'container';
type PolicyList = 'containerPolicies' | 'podPolicies' | 'namespacePolicies';
const SCOPE_FIELDS: Readonly<Record<PolicyList, readonly ScopeField[]>> = {
  containerPolicies: ['namespace', 'pod', 'container'],
  podPolicies: ['namespace', 'pod'],
  namespacePolicies: ['namespace'],
};

/** Every field of the schema with the paths it belongs to, to tell a misplaced key where it goes. */
const FIELD_HOMES: ReadonlyMap<string, readonly string[]> = (() => {
  const homes = new Map<string, string[]>();
  const add = (path: string, fields: readonly string[]): void => {
    for (const field of fields) homes.set(field, [...(homes.get(field) ?? []), path]);
  };
  add('the document', TOP_FIELDS);
  add('spec', SPEC_FIELDS);
  add('spec.globalPolicy', GLOBAL_FIELDS);
  add('spec.diskPressure', DISK_PRESSURE_FIELDS);
  for (const list of ['namespacePolicies', 'podPolicies', 'containerPolicies'] as const) add(`spec.${list}[]`, [...SCOPE_FIELDS[list], ...LIMIT_FIELDS]);
  return homes;
})();

const joinPath = (parent: string, key: string): string => (parent === '' ? key : `${parent}.${key}`);

/** How to read a field that is not known where it stands: misplaced, misspelled, or simply unknown. */
function unknownFieldMessage(key: string, known: readonly string[], parent: string): string {
  const homes = (FIELD_HOMES.get(key) ?? []).filter((home) => home !== (parent === '' ? 'the document' : parent.replace(/\[\d+\]/g, '[]')));
  if (homes.length > 0) return `unknown field here; ${key} is a field of ${homes.join(' and ')} (wrong indentation?)`;
  const here = closestName(key, known);
  if (here !== undefined) return `unknown field; did you mean ${here}?`;
  const elsewhere = closestName(key, [...FIELD_HOMES.keys()]);
  if (elsewhere !== undefined) return `unknown field; did you mean ${elsewhere} (a field of ${(FIELD_HOMES.get(elsewhere) ?? []).join(' and ')})?`;
  return `unknown field (known here: ${known.join(', ')})`;
}

const SCOPE_RULES: Readonly<Record<ScopeField, { valid: (name: string) => boolean; rule: string }>> = {
  namespace: { valid: isDns1123Label, rule: 'a DNS-1123 label: at most 63 lowercase letters, digits or "-", starting and ending with a letter or digit' },
  pod: { valid: isDns1123Subdomain, rule: 'a DNS-1123 subdomain: at most 253 lowercase letters, digits, "-" or ".", each part starting and ending with a letter or digit' },
  container: { valid: isDns1123Label, rule: 'a DNS-1123 label: at most 63 lowercase letters, digits or "-", starting and ending with a letter or digit' },
};

/** Collects every problem of one document, each as `path: message`. */
class Checker {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  error(path: string, message: string): undefined {
    this.errors.push(`${path === '' ? '(document)' : path}: ${message}`);
    return undefined;
  }

  /** Refuses unknown keys, and keys written without a value (which YAML reads as null: "unset", so the default). */
  fields(fields: Fields, known: readonly string[], path: string, allowNull = false): void {
    for (const [key, value] of Object.entries(fields)) {
      const at = joinPath(path, key);
      if (!known.includes(key)) this.error(at, unknownFieldMessage(key, known, path));
      else if (value === null && !allowNull) this.error(at, 'has no value; give it one or remove the key');
    }
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

  size(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = parseSizeValue(value);
    return parsed.ok ? parsed.value : this.error(path, parsed.reason);
  }

  duration(value: unknown, path: string, maxSeconds?: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    const parsed = parseDurationValue(value);
    if (!parsed.ok) return this.error(path, parsed.reason);
    if (maxSeconds !== undefined && parsed.value > maxSeconds) {
      return this.error(path, `${JSON.stringify(value)} is longer than the longest timer Node.js supports (${formatDuration(maxSeconds)})`);
    }
    return parsed.value;
  }

  percent(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.error(path, `expected a percentage, got ${describeValue(value)}`);
    if (value <= 0 || value >= 100) return this.error(path, `${value} is not between 0 and 100 (exclusive)`);
    return value;
  }

  /** Scopes match exact Kubernetes names, so a name Kubernetes cannot give a pod never matches one: refuse it. */
  scopeName(value: unknown, path: string, field: ScopeField): string | undefined {
    if (value === undefined || value === null) return this.error(path, 'is required');
    if (typeof value !== 'string' || value === '') return this.error(path, `expected a non-empty name, got ${describeValue(value)}`);
    const { valid, rule } = SCOPE_RULES[field];
    if (valid(value)) return value;
    const shown = value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
    if (/[*?[\]]/.test(value)) {
      return this.error(path, `${shown} is a pattern, not a ${field} name: scopes match one exact name (the upstream operator's prefix globs are not supported)`);
    }
    const fixed = value.trim().toLowerCase();
    const hint = fixed !== value && valid(fixed) ? `; did you mean ${JSON.stringify(fixed)}?` : '';
    return this.error(path, `${shown} is not a valid ${field} name (${rule})${hint}`);
  }

  text(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') return this.error(path, `expected a non-empty string, got ${describeValue(value)}`);
    return value;
  }
}

function checkGlobal(check: Checker, value: unknown, source: string): GlobalPolicySettings | undefined {
  const path = 'spec.globalPolicy';
  const fields = check.mapping(value, path);
  if (!fields) return undefined;
  check.fields(fields, GLOBAL_FIELDS, path);
  const settings: { -readonly [K in GlobalPolicyField]?: GlobalPolicy[K] } = {};
  const set = <K extends GlobalPolicyField>(key: K, parsed: GlobalPolicy[K] | undefined): void => {
    if (parsed !== undefined) settings[key] = parsed;
  };
  set('retainOrphan', check.boolean(fields['retainOrphan'], `${path}.retainOrphan`));
  for (const key of ['maxCheckpointsPerNamespace', 'maxCheckpointsPerPod', 'maxCheckpointsPerContainer'] as const) {
    set(key, check.count(fields[key], `${path}.${key}`));
  }
  for (const key of ['maxCheckpointSize', 'maxTotalSizePerNamespace', 'maxTotalSizePerPod', 'maxTotalSizePerContainer'] as const) {
    set(key, check.size(fields[key], `${path}.${key}`));
  }
  set('maxCheckpointAgeSeconds', check.duration(fields['maxCheckpointAge'], `${path}.maxCheckpointAge`));
  set('deleteUnrestorableFirst', check.boolean(fields['deleteUnrestorableFirst'], `${path}.deleteUnrestorableFirst`));
  set('deleteReferencedPodCheckpoints', check.boolean(fields['deleteReferencedPodCheckpoints'], `${path}.deleteReferencedPodCheckpoints`));
  return { ...settings, source: `${source} globalPolicy` };
}

function checkLimits(check: Checker, fields: Fields, path: string): PolicyLimits {
  const limits: { -readonly [K in keyof PolicyLimits]: PolicyLimits[K] } = {};
  const retainOrphan = check.boolean(fields['retainOrphan'], `${path}.retainOrphan`);
  const maxCheckpoints = check.count(fields['maxCheckpoints'], `${path}.maxCheckpoints`);
  const maxCheckpointSize = check.size(fields['maxCheckpointSize'], `${path}.maxCheckpointSize`);
  const maxTotalSize = check.size(fields['maxTotalSize'], `${path}.maxTotalSize`);
  const maxCheckpointAgeSeconds = check.duration(fields['maxCheckpointAge'], `${path}.maxCheckpointAge`);
  const deleteUnrestorableFirst = check.boolean(fields['deleteUnrestorableFirst'], `${path}.deleteUnrestorableFirst`);
  if (retainOrphan !== undefined) limits.retainOrphan = retainOrphan;
  if (maxCheckpoints !== undefined) limits.maxCheckpoints = maxCheckpoints;
  if (maxCheckpointSize !== undefined) limits.maxCheckpointSize = maxCheckpointSize;
  if (maxTotalSize !== undefined) limits.maxTotalSize = maxTotalSize;
  if (maxCheckpointAgeSeconds !== undefined) limits.maxCheckpointAgeSeconds = maxCheckpointAgeSeconds;
  if (deleteUnrestorableFirst !== undefined) limits.deleteUnrestorableFirst = deleteUnrestorableFirst;
  return limits;
}

function checkPolicyList<T>(
  check: Checker,
  value: unknown,
  list: PolicyList,
  source: string,
  confinedTo: string | undefined,
  exporterNamespace: string | undefined,
  build: (scope: Readonly<Record<ScopeField, string>>, limits: PolicyLimits, source: string) => T,
): T[] {
  const scopeFields = SCOPE_FIELDS[list];
  const policies: T[] = [];
  const seen = new Map<string, number>();
  check.list(value, `spec.${list}`).forEach((entry, index) => {
    const path = `spec.${list}[${index}]`;
    const fields = check.mapping(entry, path);
    if (!fields) {
      if (entry === undefined || entry === null) check.error(path, 'expected a mapping, got null');
      return;
    }
    check.fields(fields, [...scopeFields, ...LIMIT_FIELDS], path);
    const scope: Record<ScopeField, string> = { namespace: '', pod: '', container: '' };
    let complete = true;
    for (const field of scopeFields) {
      const name = check.scopeName(fields[field], `${path}.${field}`, field);
      if (name === undefined) complete = false;
      else scope[field] = name;
    }
    const limits = checkLimits(check, fields, path);
    if (!complete) return;
    if (confinedTo !== undefined && scope.namespace !== confinedTo) {
      check.error(
        `${path}.namespace`,
        `${JSON.stringify(scope.namespace)} is another namespace: an object in namespace ${confinedTo} may set policies only for ${confinedTo} (objects in the exporter's namespace ${exporterNamespace ?? ''} may set any)`,
      );
      return;
    }
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
  check.fields(fields, DISK_PRESSURE_FIELDS, path);
  const high = check.percent(fields['highThresholdPercent'], `${path}.highThresholdPercent`) ?? DEFAULT_DISK_PRESSURE.highThresholdPercent;
  const low = check.percent(fields['lowThresholdPercent'], `${path}.lowThresholdPercent`) ?? DEFAULT_DISK_PRESSURE.lowThresholdPercent;
  const keep = check.count(fields['keepNewestPerContainer'], `${path}.keepNewestPerContainer`) ?? DEFAULT_DISK_PRESSURE.keepNewestPerContainer;
  if (low > high) check.error(`${path}.lowThresholdPercent`, `${low} is above highThresholdPercent ${high}`);
  return { highThresholdPercent: high, lowThresholdPercent: low, keepNewestPerContainer: keep, source: `${source} diskPressure` };
}

function checkHeader(check: Checker, top: Fields): void {
  for (const [field, expected] of [
    ['apiVersion', POLICY_API_VERSION],
    ['kind', POLICY_KIND],
  ] as const) {
    const value = top[field];
    if (value === expected) continue;
    if (value === undefined || value === null) check.error(field, `is required (${expected})`);
    else check.error(field, `expected ${expected}, got ${describeValue(value)}`);
  }
}

/** Fields only the file or the exporter's own namespace may set: they act on every archive of the node. */
const NODE_WIDE_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['globalPolicy', 'the global policy'],
  ['diskPressure', 'disk-pressure cleanup'],
  ['orphanGracePeriod', 'the orphan grace period'],
  ['checkpointDirectory', 'the checkpoint directory'],
];

/** Validates one document and returns it normalized, or every problem found as `path: message` lines. */
function checkDocument(raw: unknown, source: string, options: ParseOptions): Result<PolicyDocument, string[]> {
  const check = new Checker();
  const top = check.mapping(raw, '');
  if (!top) return { ok: false, reason: check.errors.length > 0 ? check.errors : ['(document): is empty'] };
  check.fields(top, TOP_FIELDS, '', true);
  checkHeader(check, top);
  const metadata = check.mapping(top['metadata'], 'metadata');
  if (metadata) check.fields(metadata, METADATA_FIELDS, 'metadata', true);
  const namespace = metadata ? (check.text(metadata['namespace'], 'metadata.namespace') ?? '') : '';
  const name = metadata ? (check.text(metadata['name'], 'metadata.name') ?? '') : '';
  const spec = check.mapping(top['spec'], 'spec') ?? {};
  check.fields(spec, SPEC_FIELDS, 'spec');

  const origin = options.origin ?? 'cluster';
  const exporterNamespace = options.authority?.exporterNamespace;
  const confinedTo = origin === 'cluster' && exporterNamespace !== undefined && namespace !== exporterNamespace ? namespace : undefined;
  if (confinedTo !== undefined) {
    for (const [field, what] of NODE_WIDE_FIELDS) {
      if (spec[field] === undefined) continue;
      check.error(
        `spec.${field}`,
        `only the policy file or an object in the exporter's namespace ${exporterNamespace ?? ''} may set ${what}; this object is in namespace ${confinedTo || '(none)'}`,
      );
    }
  }

  const checkpointDirectory = check.text(spec['checkpointDirectory'], 'spec.checkpointDirectory');
  if (checkpointDirectory !== undefined && !checkpointDirectory.startsWith('/')) check.error('spec.checkpointDirectory', `${JSON.stringify(checkpointDirectory)} is not an absolute path`);

  const list = <T>(key: PolicyList, build: (scope: Readonly<Record<ScopeField, string>>, limits: PolicyLimits, source: string) => T): T[] =>
    checkPolicyList(check, spec[key], key, source, confinedTo, exporterNamespace, build);

  const document: PolicyDocument = {
    source,
    origin,
    namespace,
    name,
    index: options.index ?? 0,
    confinedTo,
    checkpointDirectory,
    applyPoliciesImmediately: check.boolean(spec['applyPoliciesImmediately'], 'spec.applyPoliciesImmediately'),
    globalPolicy: checkGlobal(check, spec['globalPolicy'], source),
    containerPolicies: list('containerPolicies', (scope, limits, from) => ({
      ...limits,
      namespace: scope.namespace,
      pod: scope.pod,
      container: scope.container,
      source: from,
    })),
    podPolicies: list('podPolicies', (scope, limits, from) => ({ ...limits, namespace: scope.namespace, pod: scope.pod, source: from })),
    namespacePolicies: list('namespacePolicies', (scope, limits, from) => ({ ...limits, namespace: scope.namespace, source: from })),
    diskPressure: checkDiskPressure(check, spec['diskPressure'], source),
    // The grace period is measured against the clock at every run and may one day schedule one: keep it within a timer.
    orphanGracePeriodSeconds: check.duration(spec['orphanGracePeriod'], 'spec.orphanGracePeriod', MAX_TIMER_SECONDS),
    warnings: check.warnings,
  };
  return check.errors.length > 0 ? { ok: false, reason: check.errors } : { ok: true, value: document };
}

/**
 * One line per problem, each prefixed so it stands alone in a log or on a terminal; past
 * MAX_REPORTED_PROBLEMS the rest are counted.
 */
function problemLines(prefix: string, problems: readonly string[]): string {
  const lines = problems.slice(0, MAX_REPORTED_PROBLEMS).map((problem) => `${prefix}${problem}`);
  if (problems.length > MAX_REPORTED_PROBLEMS) lines.push(`${prefix}and ${problems.length - MAX_REPORTED_PROBLEMS} more problems`);
  return lines.join('\n');
}

/** The problems of a refused source, one per line (a refusal's `reason` joins them with newlines). */
export function splitProblems(reason: string): string[] {
  return reason.split('\n').filter((line) => line !== '');
}

/**
 * Validates one CheckpointRestoreOperator object (as read from the API server or a YAML document).
 * A refusal's `reason` holds one line per problem, each starting with `source: `.
 */
export function parsePolicyDocument(raw: unknown, source: string, options: ParseOptions = {}): Result<PolicyDocument> {
  const checked = checkDocument(raw, source, options);
  return checked.ok ? checked : { ok: false, reason: problemLines(`${source}: `, checked.reason) };
}

function yamlErrorText(error: unknown): string {
  if (error instanceof yaml.YAMLException) {
    const mark = error.mark as { line?: number; column?: number } | undefined;
    const at = mark?.line !== undefined ? ` at line ${mark.line + 1}, column ${(mark.column ?? 0) + 1}` : '';
    return `invalid YAML${at}: ${error.reason}`;
  }
  return `invalid YAML: ${messageOf(error)}`;
}

/**
 * Parses a YAML stream of CheckpointRestoreOperator documents (`---` separated). Empty documents are
 * skipped. Any invalid document refuses the whole stream, one line per problem naming the document
 * index and the field, because applying half a file would be a policy nobody wrote.
 */
export function parsePolicyYaml(text: string, source: string): Result<PolicyDocument[]> {
  let raws: unknown[];
  try {
    raws = yaml.loadAll(text, undefined, { filename: source });
  } catch (error) {
    return { ok: false, reason: `${source}: ${yamlErrorText(error)}` };
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
  return problems.length > 0 ? { ok: false, reason: problemLines(`${source}: `, problems) } : { ok: true, value: documents };
}
