import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from '../../../src/kubernetes/api-error.js';

const watchError = Object.assign(new Error('Gone'), { statusCode: 410 });
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const aborted = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
const forbidden = new ApiException(403, 'Forbidden', { kind: 'Status', message: 'pods is forbidden: User cannot list' }, {});

describe('statusCodeOf', () => {
  it.each<[string, unknown, number | undefined]>([
    ['ApiException', forbidden, 403],
    ['Watch error with statusCode', watchError, 410],
    ['Status object from an ERROR event', { kind: 'Status', code: 410 }, 410],
    ['network error with a string code', refused, undefined],
    ['not an HTTP status', { code: 42 }, undefined],
    ['null', null, undefined],
  ])('%s', (_name, error, expected) => {
    expect(statusCodeOf(error)).toBe(expected);
  });
});

describe('describeApiError', () => {
  it.each<[string, unknown, string]>([
    ['ApiException uses the Status message', forbidden, 'HTTP 403: pods is forbidden: User cannot list'],
    ['Watch error', watchError, 'HTTP 410'],
    ['network error', refused, 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'],
    ['abort', aborted, 'request timed out or was aborted'],
    ['a string', 'weird', 'weird'],
  ])('%s', (_name, error, expected) => {
    expect(describeApiError(error)).toBe(expected);
  });

  it('keeps one short line', () => {
    const long = new ApiException(500, 'x', { message: `${'a'.repeat(500)}\nsecond line` }, {});
    const text = describeApiError(long);
    expect(text).not.toContain('\n');
    expect(text.length).toBeLessThanOrEqual(201);
  });
});
