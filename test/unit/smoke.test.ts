import { describe, expect, it } from '@jest/globals';
import { DELETION_REASONS } from '../../src/retention/types.js';

describe('toolchain', () => {
  it('runs ESM TypeScript tests', () => {
    expect(DELETION_REASONS).toContain('count');
  });
});
