import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { familyHeader, sampleLine } from './exposition.js';

/** Times one run of a collector's work and records its outcome in the scrape being served. */
export type CollectorTimer = <T>(run: () => T | Promise<T>) => Promise<T>;

/**
 * The outcome of each collector in the scrape being served, in the node_exporter way: a success flag
 * and a duration per collector, on the first scrape too. The two families are rendered as text once
 * the scrape's collection has finished: collected by prom-client in the same pass, they would report
 * the previous scrape (or nothing, the first time).
 */
export interface CollectorStatus {
  /** Declares a collector, so every scrape reports it, and returns the timer its work runs under. */
  declare(collector: string): CollectorTimer;
  /** Runs one scrape's collection with a record of its own (concurrent scrapes never share one), then renders the status families from it. */
  scrape<T>(collect: () => Promise<T>): Promise<{ readonly value: T; readonly text: string }>;
}

interface Outcome {
  seconds: number;
  ok: boolean;
}

const SUCCESS = 'checkpoint_exporter_collector_success';
const DURATION = 'checkpoint_exporter_collector_duration_seconds';

export function createCollectorStatus(): CollectorStatus {
  const collectors: string[] = [];
  // The record of the scrape whose collection is running: prom-client calls collect functions with no
  // argument to carry it, and two scrapes can be collecting at once.
  const current = new AsyncLocalStorage<Map<string, Outcome>>();
  const record = (collector: string, seconds: number, ok: boolean): void => {
    const outcomes = current.getStore();
    // Work run outside a scrape (a test reading one metric) has no scrape to report to.
    if (outcomes === undefined) return;
    const previous = outcomes.get(collector);
    // Several families make up one collector: it succeeded only if all of them did, and its time is theirs summed.
    outcomes.set(collector, previous === undefined ? { seconds, ok } : { seconds: previous.seconds + seconds, ok: previous.ok && ok });
  };
  return {
    declare(collector) {
      if (!collectors.includes(collector)) collectors.push(collector);
      return <T>(run: () => T | Promise<T>): Promise<T> => {
        const started = performance.now();
        const finish = (ok: boolean): void => record(collector, (performance.now() - started) / 1000, ok);
        let result: T | Promise<T>;
        try {
          result = run();
        } catch (error) {
          finish(false);
          return Promise.reject(error);
        }
        // A synchronous run is timed at once: after an await, the clock would also count the other
        // collect functions prom-client calls in the same pass.
        if (!(result instanceof Promise)) {
          finish(true);
          return Promise.resolve(result);
        }
        return result.then(
          (value) => {
            finish(true);
            return value;
          },
          (error: unknown) => {
            finish(false);
            throw error;
          },
        );
      };
    },
    async scrape(collect) {
      const outcomes = new Map<string, Outcome>();
      const value = await current.run(outcomes, collect);
      const success: string[] = [];
      const duration: string[] = [];
      for (const collector of collectors) {
        // A declared collector that did not run in this scrape had none of its families collected.
        const outcome = outcomes.get(collector) ?? { seconds: 0, ok: false };
        success.push(sampleLine(SUCCESS, [['collector', collector]], outcome.ok ? 1 : 0));
        duration.push(sampleLine(DURATION, [['collector', collector]], outcome.seconds));
      }
      const text =
        familyHeader(SUCCESS, '1 when every metric family of the collector was collected in this scrape, 0 when one failed (that family is then missing).', 'gauge') +
        success.join('') +
        familyHeader(DURATION, 'Time the collector took in this scrape.', 'gauge') +
        duration.join('');
      return { value, text };
    },
  };
}

/**
 * Wraps a collect function so a failure logs and leaves that family empty: prom-client awaits every
 * collect together without catching, so one throw would otherwise fail the whole scrape. With a
 * timer, the run is timed and its outcome reported for its collector in the scrape being served.
 */
export function safeCollect(name: string, logger: Logger, collect: () => void | Promise<void>, timer?: CollectorTimer): () => Promise<void> {
  return async () => {
    try {
      if (timer === undefined) await collect();
      else await timer(collect);
    } catch (error) {
      logger.error({ err: error, collector: name }, 'metrics collector failed');
    }
  };
}
