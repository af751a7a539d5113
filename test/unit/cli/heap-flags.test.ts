import { describe, expect, it } from '@jest/globals';
import { operatorChoseHeapFlag } from '../../../src/cli/heap-flags.js';

describe('the heap flag the entry point sets', () => {
  it('is left to the operator who chose either way, on the command line or in NODE_OPTIONS', () => {
    expect(operatorChoseHeapFlag([], undefined)).toBe(false);
    expect(operatorChoseHeapFlag(['--max-old-space-size=512'], '--enable-source-maps')).toBe(false);
    expect(operatorChoseHeapFlag(['--no-optimize-for-size'], undefined)).toBe(true);
    expect(operatorChoseHeapFlag([], '--enable-source-maps  --optimize_for_size')).toBe(true);
    expect(operatorChoseHeapFlag([], '--no-optimize-for-size')).toBe(true);
    // A longer flag that merely starts alike is not a choice about this one.
    expect(operatorChoseHeapFlag(['--optimize-for-size-please'], undefined)).toBe(false);
  });
});
