import { describe, expect, it } from '@jest/globals';
import { codeOf, codeOrMessageOf, describeError, describeFileError, errnoCodeOf, isGone, messageOf } from '../../src/errors.js';

const systemError = (code: string, message: string): Error => Object.assign(new Error(message), { code });
/** As an error arrives from a worker's structured clone or a vm context: the shape, not the class. */
const foreign = { message: 'permission denied', code: 'EACCES' };

describe('errno helpers', () => {
  it.each([
    ['a system error', systemError('ENOENT', "ENOENT: no such file or directory, open 'x'"), 'ENOENT', 'ENOENT', true],
    ['a path component that is a file', systemError('ENOTDIR', 'ENOTDIR: not a directory'), 'ENOTDIR', 'ENOTDIR', true],
    ['a library code', systemError('ERR_STREAM_PREMATURE_CLOSE', 'Premature close'), 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_PREMATURE_CLOSE', false],
    ['a zlib code', systemError('Z_DATA_ERROR', 'incorrect header check'), 'Z_DATA_ERROR', undefined, false],
    ['a numeric code', Object.assign(new Error('HTTP'), { code: 404 }), '404', undefined, false],
    ['a plain error', new Error('broke'), undefined, undefined, false],
    ['an error from another realm', foreign, 'EACCES', 'EACCES', false],
    ['a string', 'just text', undefined, undefined, false],
    ['null', null, undefined, undefined, false],
  ])('%s', (_name, error, code, errno, gone) => {
    expect(codeOf(error)).toBe(code);
    expect(errnoCodeOf(error)).toBe(errno);
    expect(isGone(error)).toBe(gone);
  });

  it.each([
    ['a system error whose message starts with its code', systemError('EIO', 'EIO: i/o error, read'), 'EIO: i/o error, read', 'EIO', 'input/output error'],
    ['an error with a code its message does not name', systemError('EACCES', 'open failed'), 'EACCES: open failed', 'EACCES', 'permission denied'],
    ['an error from another realm', foreign, 'EACCES: permission denied', 'EACCES', 'permission denied'],
    ['an unlisted code', systemError('EROFS', 'read-only'), 'EROFS: read-only', 'EROFS', 'EROFS'],
    ['a plain error', new Error('broke'), 'broke', 'broke', 'broke'],
    ['a string', 'just text', 'just text', 'just text', 'just text'],
  ])('describes %s', (_name, error, described, short, file) => {
    expect(describeError(error)).toBe(described);
    expect(codeOrMessageOf(error)).toBe(short);
    expect(describeFileError(error)).toBe(file);
  });

  it('messageOf: the message of an Error, the text of anything else', () => {
    expect(messageOf(new TypeError('bad'))).toBe('bad');
    expect(messageOf(42)).toBe('42');
  });
});
