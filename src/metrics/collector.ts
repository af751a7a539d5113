import type { Logger } from 'pino';

/**
 * Wraps a collect function so a failure logs and leaves that family empty: prom-client awaits every
 * collect together without catching, so one throw would otherwise fail the whole scrape.
 */
export function safeCollect(name: string, logger: Logger, collect: () => void | Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await collect();
    } catch (error) {
      logger.error({ err: error, collector: name }, 'metrics collector failed');
    }
  };
}
