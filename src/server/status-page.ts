/**
 * The exporter's state at a glance: `/api/v1/status` serves it as JSON and `/` renders the same facts
 * as a small HTML page (no scripts). Whether the directory can be seen, what it holds, which policy is
 * in force and from where, whether deletions are real, what retention last did, and whether the
 * Kubernetes API answers.
 */

export type DirectoryState = 'watching' | 'scanning' | 'missing' | 'unreadable';

export interface StatusDeletion {
  readonly file: string;
  readonly namespace: string | null;
  readonly pod: string | null;
  readonly container: string | null;
  readonly reason: string;
  readonly detail: string;
  readonly sizeBytes: number;
  readonly dryRun: boolean;
  readonly run: number;
  readonly at: string;
}

export interface StatusRun {
  readonly number: number;
  readonly kind: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly deleted: number;
  readonly deletedBytes: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface ExporterStatus {
  readonly version: string;
  readonly node: string | null;
  readonly startedAt: string;
  readonly ready: boolean;
  readonly directory: {
    readonly path: string;
    readonly state: DirectoryState;
    /** Why it cannot be seen, in the words of the error; null while it can. */
    readonly problem: string | null;
    readonly initialScanComplete: boolean;
    readonly lastScan: string | null;
    readonly filesystem: { readonly sizeBytes: number; readonly availBytes: number } | null;
  };
  readonly archives: {
    readonly identified: number;
    readonly identifiedBytes: number;
    readonly unidentified: number;
    readonly unidentifiedBytes: number;
    readonly pending: number;
    readonly unrecognizedFiles: number;
    readonly unrecognizedBytes: number;
  };
  readonly policy: {
    /** Where the policy in force comes from, highest rank first; empty when only the defaults apply. */
    readonly sources: readonly string[];
    readonly lastReloadSuccessful: boolean;
    /** Why retention is held back by the policy (an invalid cluster object); null when it is not. */
    readonly blockedReason: string | null;
  };
  readonly retention: {
    readonly dryRun: boolean;
    readonly firstRun: StatusRun | null;
    readonly lastRun: StatusRun | null;
    readonly firstRunDeletions: readonly StatusDeletion[];
    readonly recentDeletions: readonly StatusDeletion[];
    readonly plannedDeletions: number;
    readonly unsatisfiableLimits: number;
  };
  readonly kubernetes: { readonly configured: boolean; readonly apiUp: boolean };
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const DIRECTORY_WORDS: Record<DirectoryState, string> = {
  watching: 'watched',
  scanning: 'being scanned (not every archive read yet)',
  missing: 'missing',
  unreadable: 'UNREADABLE: nothing in it is measured or deleted',
};

const row = (label: string, value: string, bad = false): string => `<tr><th>${escapeHtml(label)}</th><td${bad ? ' class="bad"' : ''}>${value}</td></tr>`;

function describeRun(run: StatusRun | null): string {
  if (run === null) return 'not yet';
  const what = run.deleted === 0 ? 'deleted nothing' : `deleted ${run.deleted} (${bytes(run.deletedBytes)})`;
  const trouble = [run.skipped > 0 ? `${run.skipped} skipped` : '', run.failed > 0 ? `${run.failed} failed` : ''].filter((s) => s !== '').join(', ');
  return escapeHtml(`#${run.number} (${run.kind}) at ${run.finishedAt}: ${what}${trouble === '' ? '' : `; ${trouble}`}`);
}

function deletionList(deletions: readonly StatusDeletion[]): string {
  if (deletions.length === 0) return '';
  const items = deletions.map((d) => `<li><code>${escapeHtml(d.file)}</code> ${escapeHtml(`${bytes(d.sizeBytes)}, ${d.reason}${d.dryRun ? ' (dry run: not deleted)' : ''}: ${d.detail}`)}</li>`);
  return `<ul>${items.join('')}</ul>`;
}

const LINKS: ReadonlyArray<readonly [string, string]> = [
  ['/metrics', 'Metrics'],
  ['/api/v1/status', 'Status (JSON)'],
  ['/api/v1/archives', 'Archives (JSON)'],
  ['/api/v1/policy', 'Effective retention policy (JSON)'],
  ['/api/v1/plan', 'Retention plan in force (JSON)'],
  ['/healthz', 'Liveness'],
  ['/readyz', 'Readiness'],
];

/** Deletions listed on the page; the JSON view has them all. */
const PAGE_DELETIONS = 10;

export function renderStatusPage(status: ExporterStatus): string {
  const d = status.directory;
  const a = status.archives;
  const r = status.retention;
  const fs = d.filesystem;
  const rows = [
    row('Directory', `<code>${escapeHtml(d.path)}</code>: ${escapeHtml(DIRECTORY_WORDS[d.state])}${d.problem === null ? '' : ` (${escapeHtml(d.problem)})`}`, d.state === 'unreadable'),
    row('Archives', escapeHtml(`${a.identified} identified (${bytes(a.identifiedBytes)}), ${a.unidentified} unidentified (${bytes(a.unidentifiedBytes)}), ${a.pending} being written`)),
    row('Other files', escapeHtml(`${a.unrecognizedFiles} (${bytes(a.unrecognizedBytes)})`)),
    row('Filesystem', fs === null ? 'unknown' : escapeHtml(`${bytes(fs.availBytes)} free of ${bytes(fs.sizeBytes)}`)),
    row('Policy', escapeHtml(status.policy.sources.length === 0 ? 'defaults only (at most 10 archives per container)' : status.policy.sources.join(', '))),
    row('Policy file reload', status.policy.lastReloadSuccessful ? 'ok' : 'FAILED: the last good policy stays in force', !status.policy.lastReloadSuccessful),
    ...(status.policy.blockedReason === null ? [] : [row('Retention blocked', escapeHtml(status.policy.blockedReason), true)]),
    row('Deletions', r.dryRun ? 'dry run: planned, never carried out' : 'carried out'),
    row('First retention run', describeRun(r.firstRun) + deletionList(r.firstRunDeletions.slice(0, PAGE_DELETIONS))),
    row('Last retention run', describeRun(r.lastRun)),
    row('Plan in force', escapeHtml(`${r.plannedDeletions} deletion(s) planned, ${r.unsatisfiableLimits} unsatisfiable limit(s)`), r.unsatisfiableLimits > 0),
    row('Kubernetes API', status.kubernetes.configured ? (status.kubernetes.apiUp ? 'reachable' : 'UNREACHABLE: orphans are kept, cluster policies frozen') : 'not configured', status.kubernetes.configured && !status.kubernetes.apiUp),
    row('Ready', status.ready ? 'yes' : 'no: the initial scan is not complete'),
  ];
  const recent = r.recentDeletions.slice(-PAGE_DELETIONS).reverse();
  const links = LINKS.map(([href, label]) => `<li><a href="${href}">${label}</a></li>`).join('');
  return (
    '<!doctype html><html><head><meta charset="utf-8"><title>checkpoint-exporter</title>' +
    '<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em;vertical-align:top}.bad{color:#b00;font-weight:bold}</style></head><body>' +
    `<h1>checkpoint-exporter</h1><p>Version ${escapeHtml(status.version)}${status.node === null ? '' : ` on node ${escapeHtml(status.node)}`}, started ${escapeHtml(status.startedAt)}</p>` +
    `<table>${rows.join('')}</table>` +
    (recent.length === 0 ? '' : `<h2>Latest deletions</h2>${deletionList(recent)}`) +
    `<ul>${links}</ul></body></html>`
  );
}
