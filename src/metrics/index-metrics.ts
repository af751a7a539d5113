import { Counter, type Registry } from 'prom-client';
import type { PersistedIndexCounts } from '../inventory/persisted-index.js';

/**
 * Identity reads and the persisted index (`--state-dir`), read from the index's counters at each
 * scrape. `checkpoint_archive_reads_total` is there with or without a state directory: it is the
 * I/O a start costs, and what the index saves.
 */
export function registerIndexMetrics(registry: Registry, counts: () => PersistedIndexCounts): void {
  const counter = (name: string, help: string, value: (c: PersistedIndexCounts) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(counts()));
      },
    });
  };
  counter('checkpoint_archive_reads_total', 'Archives whose headers were read to learn their identity and composition (an archive whose record in the persisted index matches it exactly is not read).', (c) => c.reads);
  counter('checkpoint_index_reused_total', 'Archives whose identity and composition came from the persisted index (--state-dir), unread.', (c) => c.reused);
  counter('checkpoint_index_writes_total', 'Times the persisted index was written (atomically: a temporary file renamed over it).', (c) => c.writes);
  counter('checkpoint_index_write_failures_total', 'Failed writes of the persisted index (the previous one stays; archives learned since are read again at the next start).', (c) => c.writeFailures);
  counter('checkpoint_index_rejected_files_total', 'Persisted index files not used at all: another format version or directory, a checksum that does not match, or too large.', (c) => c.rejectedFiles);
  counter('checkpoint_index_rejected_records_total', 'Records of a loaded index left out (unparsable or duplicated); their archives are read again.', (c) => c.rejectedRecords);
}
