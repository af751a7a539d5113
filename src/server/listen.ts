import http from 'node:http';
import type https from 'node:https';
import type Koa from 'koa';
import { createTlsServer, type TlsServing } from './tls-server.js';

/** The exporter's server: plain HTTP, or HTTPS when the web configuration has `tls_server_config`. */
export type WebServer = http.Server | https.Server;

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

export function listen(app: Koa, address: ListenAddress): Promise<http.Server>;
export function listen(app: Koa, address: ListenAddress, tls: TlsServing | undefined): Promise<WebServer>;
export function listen(app: Koa, address: ListenAddress, tls?: TlsServing): Promise<WebServer> {
  return new Promise((resolve, reject) => {
    const server = tls === undefined ? http.createServer(app.callback()) : createTlsServer(app.callback(), tls);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(address.port, address.host);
  });
}

export function closeServer(server: WebServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections alive; close idle ones so shutdown does not wait for their timeout.
    server.closeIdleConnections();
  });
}
