import { createDirectoryTarget } from './directory-target.js';
import type { TargetSpec } from './target-spec.js';
import type { OffloadTarget } from './types.js';

export interface TargetOptions {
  readonly s3Endpoint?: string | undefined;
  readonly s3Region?: string | undefined;
}

/** The S3 client is loaded only for an s3:// target: it costs tens of megabytes a directory target never needs. */
export async function createOffloadTarget(spec: TargetSpec, options: TargetOptions): Promise<OffloadTarget> {
  if (spec.kind === 'directory') return createDirectoryTarget(spec.root);
  const { createS3Target } = await import('./s3-target.js');
  return createS3Target({ bucket: spec.bucket, prefix: spec.prefix, endpoint: options.s3Endpoint, region: options.s3Region });
}
