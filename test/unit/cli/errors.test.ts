import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, RuntimeFailure, UsageError } from '../../../src/errors.js';
import { describeFailure, exitCodeOf, usageMessage } from '../../../src/cli/errors.js';

describe('command line errors', () => {
  it('exit codes: usage 1, configuration 2, runtime failure 3, anything unexpected 3', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(1);
    expect(exitCodeOf(new ConfigurationError(['a', 'b']))).toBe(2);
    expect(exitCodeOf(new RuntimeFailure('x'))).toBe(3);
    expect(exitCodeOf(new TypeError('x'))).toBe(3);
  });

  it('says a system error in one line, without a stack', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:9873'), { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 9873 });
    expect(describeFailure(inUse)).toBe('cannot listen on 127.0.0.1:9873: address already in use');
    const v6 = Object.assign(new Error('listen EACCES'), { code: 'EACCES', syscall: 'listen', address: '::', port: 80 });
    expect(describeFailure(v6)).toBe('cannot listen on [::]:80: permission denied');
    const missing = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', syscall: 'open', path: '/x' });
    expect(describeFailure(missing)).toBe('cannot open /x: no such file or directory');
    expect(describeFailure(new TypeError('a is undefined\nmore'))).toBe('TypeError: a is undefined');
    expect(describeFailure(new ConfigurationError(['file a: one', 'file a: two']))).toBe('file a: one\nfile a: two');
  });

  it('puts the flag first in commander’s messages', () => {
    expect(usageMessage(`error: option '--settle-time <duration>' argument 'soon' is invalid. --settle-time: "soon" is not a duration`)).toBe('--settle-time: "soon" is not a duration');
    expect(usageMessage(`error: option '--listen-address <host:port>' argument 'x' is invalid. expected host:port`)).toBe('--listen-address: expected host:port');
    expect(usageMessage(`error: option '-o, --output <format>' argument 'tall' is invalid. Allowed choices are wide, json, yaml.`)).toBe("-o, --output: 'tall' is not one of wide, json, yaml");
    expect(usageMessage("error: unknown option '--bogus'")).toBe("unknown option '--bogus'");
  });
});
