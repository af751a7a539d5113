import path from 'node:path';
import type { Result } from '../archive/types.js';

/** Where `--offload-to` points: a directory, or a bucket and key prefix of an S3-compatible store. */
export type TargetSpec = { readonly kind: 'directory'; readonly root: string } | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

/** S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens (what every S3-compatible store accepts). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseTargetSpec(text: string): Result<TargetSpec> {
  if (text.startsWith('s3://')) {
    const rest = text.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    if (!BUCKET.test(bucket)) return { ok: false, reason: `${JSON.stringify(bucket)} is not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)` };
    if (prefix.split('/').some((part) => part === '.' || part === '..') || prefix.includes('//')) {
      return { ok: false, reason: `the key prefix ${JSON.stringify(prefix)} has an empty, . or .. segment` };
    }
    return { ok: true, value: { kind: 's3', bucket, prefix } };
  }
  if (text.includes('://')) return { ok: false, reason: `${JSON.stringify(text)}: only s3:// URLs and directories are offload targets` };
  if (!path.isAbsolute(text)) return { ok: false, reason: `${JSON.stringify(text)} is not an absolute directory path or an s3:// URL` };
  return { ok: true, value: { kind: 'directory', root: path.resolve(text) } };
}

export function describeTargetSpec(spec: TargetSpec): string {
  return spec.kind === 'directory' ? spec.root : `s3://${spec.bucket}${spec.prefix === '' ? '' : `/${spec.prefix}`}`;
}

/** Where a key lands, as the targets name it (directory-target.ts and s3-target.ts): for `plan`, which copies nothing. */
export function locationIn(spec: TargetSpec, key: string): string {
  if (spec.kind === 'directory') return path.join(spec.root, ...key.split('/'));
  return `s3://${spec.bucket}/${spec.prefix === '' ? key : `${spec.prefix}/${key}`}`;
}
