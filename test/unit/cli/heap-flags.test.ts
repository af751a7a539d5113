import { describe, expect, it } from '@jest/globals';
import { operatorChoseHeapFlag } from '../../../src/cli/heap-flags.js';

describe('the heap flag the entry point sets', () => {
  it('is left to the operator who chose either way, on the command line or in NODE_OPTIONS', () => {
    expect(operatorChoseHeapFlag([], undefined)).toBe(false);
    expect(operatorChoseHeapFlag(['--max-old-space-size=512'], '--enable-source-maps')).toBe(false);
    expect(operatorChoseHeapFlag(['--no-optimize-for-size'], undefined)).toBe(true);
    expect(operatorChoseHeapFlag([], '--enable-source-maps  --optimize_for_size')).toBe(true);
    expect(operatorChoseHeapFlag([], '--no-optimize-for-size')).toBe(true);
    expect(operatorChoseHeapFlag(['--semi-space-growth-factor=2'], undefined)).toBe(true);
    expect(operatorChoseHeapFlag([], '--semi_space_growth_factor=4')).toBe(true);
    expect(operatorChoseHeapFlag(['--max-semi-space-size=8'], undefined)).toBe(false);
    // A longer flag that merely starts alike is not a choice about this one.
    expect(operatorChoseHeapFlag(['--optimize-for-size-please'], undefined)).toBe(false);
  });
});
