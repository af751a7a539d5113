import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OffloadObserver, OffloadResult } from '../offload/offloader.js';

const RESULTS: readonly OffloadResult[] = ['offloaded', 'failed', 'backoff'];

/**
 * The offload families, registered only with `--offload-to`. Every result starts at 0, so the first
 * failure is a rate and not a new series.
 */
export function createOffloadMetrics(registry: Registry, now: () => number = () => Date.now()): OffloadObserver {
  const archives = new Counter({
    name: 'checkpoint_offload_archives_total',
    help: 'Archives retention selected and offloaded before deleting, by result: offloaded (copied and verified), failed (the copy failed; the archive stays), backoff (not tried: waiting after earlier failures).',
    labelNames: ['result'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'checkpoint_offload_bytes_total',
    help: 'Bytes of archives copied and verified to the offload target, by result (only offloaded carries bytes; failed copies count 0).',
    labelNames: ['result'],
    registers: [registry],
  });
  const queue = new Gauge({ name: 'checkpoint_offload_queue_archives', help: 'Archives waiting for a copy slot or being copied.', registers: [registry] });
  const failing = new Gauge({
    name: 'checkpoint_offload_failing_archives',
    help: 'Archives whose offload failed 3 times or more in a row and that stay on the node (disk pressure deletes them only with --offload-disk-pressure-delete).',
    registers: [registry],
  });
  const lastSuccess = new Gauge({ name: 'checkpoint_offload_last_success_timestamp_seconds', help: 'When an archive was last offloaded and verified (0: never since start).', registers: [registry] });
  const duration = new Histogram({
    name: 'checkpoint_offload_duration_seconds',
    help: 'Time to copy and verify one archive (offloaded and failed copies; waiting for a slot not included).',
    labelNames: ['result'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  for (const result of RESULTS) {
    archives.inc({ result }, 0);
    bytes.inc({ result }, 0);
  }
  queue.set(0);
  failing.set(0);
  lastSuccess.set(0);
  return {
    onResult(result, copied, seconds) {
      archives.inc({ result });
      bytes.inc({ result }, copied);
      if (seconds !== undefined) duration.observe({ result }, seconds);
      if (result === 'offloaded') lastSuccess.set(now() / 1000);
    },
    onQueue: (archivesQueued) => queue.set(archivesQueued),
    onFailing: (count) => failing.set(count),
  };
}
