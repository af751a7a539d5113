import type { Server } from 'node:http';
import type Koa from 'koa';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function listen(app: Koa, address: ListenAddress): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(address.port, address.host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections alive; close idle ones so shutdown does not wait for their timeout.
    server.closeIdleConnections();
  });
}
