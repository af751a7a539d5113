const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units, as `du -h` and Kubernetes quantities use them. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** Renders rows as left-aligned columns separated by two spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/**
 * A duration as kubectl's AGE column writes it: one unit, rounded down, the largest that keeps the
 * number at least 1: `45s`, `5m`, `3h`, `2d`, `1y` (a year is 365 days). Under a second is `0s`.
 */
export function formatShortDuration(ms: number): string {
  if (!(ms >= 0)) return formatShortDuration(0);
  if (ms < MINUTE) return `${Math.floor(ms / SECOND)}s`;
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)}m`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)}h`;
  if (ms < YEAR) return `${Math.floor(ms / DAY)}d`;
  return `${Math.floor(ms / YEAR)}y`;
}

/**
 * The age of something dated `timestampMs`, seen at `nowMs`, in kubectl's style. A time ahead of the
 * clock by more than a second (clock skew, a future-dated archive name) is shown negative, `-3h`,
 * where kubectl would print `<invalid>`: here it is worth knowing by how much.
 */
export function formatAge(timestampMs: number, nowMs: number): string {
  const ms = nowMs - timestampMs;
  if (ms < -SECOND) return `-${formatShortDuration(-ms)}`;
  return formatShortDuration(Math.max(0, ms));
}
