import type { ByteSource } from '../../src/archive/byte-source.js';

/** An in-memory source, for archives built in tests. */
export function bufferByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (buffer, offset, length, position) => {
      if (position >= bytes.length) return 0;
      const chunk = bytes.subarray(position, Math.min(bytes.length, position + length));
      buffer.set(chunk, offset);
      return chunk.length;
    },
  };
}
