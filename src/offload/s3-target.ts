import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { parseOffloadRecord, MAX_RECORD_BYTES } from './record.js';
import { RECORD_SUFFIX, type OffloadTarget } from './types.js';

/**
 * Parts of 8 MiB, two in flight: 16 MiB of buffers per copy at most, whatever the archive's size
 * (S3 allows 10,000 parts, so up to 80 GB per archive).
 */
export const S3_PART_BYTES = 8 * 1024 * 1024;
const S3_PARTS_IN_FLIGHT = 2;

export interface S3TargetOptions {
  readonly bucket: string;
  readonly prefix: string;
  /** A non-AWS store (MinIO, Ceph RGW, R2): addressed path-style. */
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
}

async function bodyText(body: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    length += chunk.length;
    if (length > MAX_RECORD_BYTES) throw new Error(`the offload record is larger than ${MAX_RECORD_BYTES} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * An S3-compatible bucket. Credentials come from the SDK's standard chain (environment, web identity
 * such as IRSA, the shared profile, the instance profile); nothing here reads or logs them. An upload
 * is one object or one multipart upload, completed only when the stream ended without an error; a
 * failed one is aborted, so no partial object is ever visible under the key.
 */
export function createS3Target(options: S3TargetOptions): OffloadTarget {
  const region = options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const client = new S3Client({
    region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  });
  const objectKey = (key: string): string => (options.prefix === '' ? key : `${options.prefix}/${key}`);
  const location = (key: string): string => `s3://${options.bucket}/${objectKey(key)}`;
  return {
    description: `s3://${options.bucket}${options.prefix === '' ? '' : `/${options.prefix}`}`,
    locationOf: location,
    async put(key, body, copied, record, signal) {
      const Key = objectKey(key);
      const upload = new Upload({
        client,
        params: { Bucket: options.bucket, Key, Body: body, ContentType: 'application/x-tar' },
        partSize: S3_PART_BYTES,
        queueSize: S3_PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      const onAbort = (): void => void upload.abort().catch(() => undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      // The stream's own error (the source changed, a short read) is the reason, not what the store
      // answers to the abort that follows it.
      let bodyError: unknown;
      body.once('error', (error) => {
        bodyError = error;
      });
      try {
        await upload.done();
      } catch (error) {
        throw bodyError ?? error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      // The store says how many bytes it holds: what was read must be what is stored.
      const head = await client.send(new HeadObjectCommand({ Bucket: options.bucket, Key }), { abortSignal: signal });
      const bytes = copied();
      if (head.ContentLength !== bytes.size) throw new Error(`the object holds ${head.ContentLength ?? 'unknown'} bytes, ${bytes.size} were read`);
      await client.send(
        new PutObjectCommand({ Bucket: options.bucket, Key: `${Key}${RECORD_SUFFIX}`, Body: `${JSON.stringify(record(bytes), null, 2)}\n`, ContentType: 'application/json' }),
        { abortSignal: signal },
      );
    },
    async get(key) {
      const Key = objectKey(key);
      const recordObject = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: `${Key}${RECORD_SUFFIX}` }));
      const record = parseOffloadRecord(await bodyText(recordObject.Body));
      const data = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key }));
      if (!(data.Body instanceof Readable)) throw new Error(`${location(key)}: the store returned no body`);
      return { record, body: data.Body };
    },
  };
}
