/**
 * The client reports failures in three shapes: ApiException (`code`, typed API calls), a plain Error
 * with `statusCode` (Watch), and network errors (`code` a string such as ECONNREFUSED, or an AbortError).
 * Callers only need the HTTP status, when there is one, and a short human reason.
 */

/** The HTTP status carried by a client error, or undefined for network failures and timeouts. */
export function statusCodeOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const record = error as Record<string, unknown>;
  for (const candidate of [record['code'], record['statusCode']]) {
    if (typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 100 && candidate <= 599) return candidate;
  }
  return undefined;
}

/** Long server bodies are cut so one failure cannot flood the log. */
const MAX_REASON_LENGTH = 200;

function statusMessageOf(error: object): string | undefined {
  const body = (error as { body?: unknown }).body;
  const parsed: unknown = typeof body === 'string' ? safeParse(body) : body;
  if (parsed !== null && typeof parsed === 'object') {
    const message = (parsed as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') return message;
  }
  return undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One line saying what went wrong: `HTTP 403: pods is forbidden`, `ECONNREFUSED`, `request timed out`. */
export function describeApiError(error: unknown): string {
  const status = statusCodeOf(error);
  let text: string;
  if (status !== undefined && error !== null && typeof error === 'object') {
    const message = statusMessageOf(error);
    text = message ? `HTTP ${status}: ${message}` : `HTTP ${status}`;
  } else if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const name = error.name;
    if (name === 'AbortError' || name === 'TimeoutError') text = 'request timed out or was aborted';
    else if (typeof code === 'string' && code !== '') text = `${code}: ${error.message}`;
    else text = error.message || name;
  } else {
    text = String(error);
  }
  const firstLine = text.split('\n')[0] ?? text;
  return firstLine.length > MAX_REASON_LENGTH ? `${firstLine.slice(0, MAX_REASON_LENGTH)}…` : firstLine;
}
