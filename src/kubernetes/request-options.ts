import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** Lists and GETs here are small (one node's pods, one pod); ten seconds without an answer means trouble. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Per-call options for the generated API clients that bound a request in time and let `stop()` cancel it.
 * The client sets no timeout of its own, so a silent server would otherwise hold a request forever.
 */
export function requestOptions(timeoutMs: number, cancel?: AbortSignal): ConfigurationOptions {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([cancel, timeout]) : timeout;
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** Adds a header (e.g. the patch Content-Type) to options built by {@link requestOptions}. */
export function withHeader(options: ConfigurationOptions, name: string, value: string): ConfigurationOptions {
  return {
    ...options,
    middleware: [
      ...(options.middleware ?? []),
      {
        pre: (context: RequestContext) => {
          context.setHeaderParam(name, value);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
