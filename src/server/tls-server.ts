import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { secureContextOptions, type ClientAuthType, type TlsMaterial, type TlsServerConfig } from './web-config.js';

/**
 * How each exporter-toolkit `client_auth_type` (Go's `tls.ClientAuthType`) is served by Node's TLS.
 *
 * Node has two switches: `requestCert` (send a CertificateRequest) and `rejectUnauthorized` (fail the
 * handshake when the client's certificate is missing or does not verify against `ca`). Three types
 * are exactly those switches: NoClientCert, RequestClientCert (requested, never required; Node
 * verifies what is sent but accepts any outcome, as Go accepts any certificate) and
 * RequireAndVerifyClientCert. The other two have no switch in Node: RequireAnyClientCert and
 * VerifyClientCertIfGiven request a certificate without rejecting in the handshake, and the
 * connection is closed right after the handshake, before any request is read, when no certificate
 * came (RequireAnyClientCert) or one came that does not verify (VerifyClientCertIfGiven). The client
 * sees a closed connection instead of a TLS alert; nothing reaches the application either way.
 */
export interface ClientAuthMode {
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  /** The check done after the handshake, for the two types Node cannot enforce in it. */
  readonly afterHandshake: 'none' | 'require-any' | 'verify-if-given';
}

export const CLIENT_AUTH_MODES: Readonly<Record<ClientAuthType, ClientAuthMode>> = {
  NoClientCert: { requestCert: false, rejectUnauthorized: false, afterHandshake: 'none' },
  RequestClientCert: { requestCert: true, rejectUnauthorized: false, afterHandshake: 'none' },
  RequireAnyClientCert: { requestCert: true, rejectUnauthorized: false, afterHandshake: 'require-any' },
  VerifyClientCertIfGiven: { requestCert: true, rejectUnauthorized: false, afterHandshake: 'verify-if-given' },
  RequireAndVerifyClientCert: { requestCert: true, rejectUnauthorized: true, afterHandshake: 'none' },
};

/** True when a connection that completed its handshake may be served under `mode`. */
export function acceptsConnection(mode: ClientAuthMode, socket: Pick<TLSSocket, 'getPeerCertificate' | 'authorized'>): boolean {
  if (mode.afterHandshake === 'none') return true;
  const certificate = socket.getPeerCertificate();
  const present = certificate !== null && typeof certificate === 'object' && Object.keys(certificate).length > 0;
  if (mode.afterHandshake === 'require-any') return present;
  return !present || socket.authorized;
}

export interface TlsServing {
  readonly config: TlsServerConfig;
  readonly material: TlsMaterial;
}

/**
 * The HTTPS server of a web configuration with `tls_server_config`. Certificates, key, CA, versions
 * and suites can be replaced later with `updateTlsServer`; the client auth type is fixed for the
 * server's life, as Node takes `requestCert` and `rejectUnauthorized` only when the server is made.
 */
export function createTlsServer(handler: RequestListener, tls: TlsServing): https.Server {
  const mode = CLIENT_AUTH_MODES[tls.config.clientAuthType];
  const server = https.createServer(
    { ...secureContextOptions(tls.config, tls.material), requestCert: mode.requestCert, rejectUnauthorized: mode.rejectUnauthorized },
    handler,
  );
  // Ahead of the HTTP server's own listener, so a refused connection is closed before a byte of it is parsed.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (!acceptsConnection(mode, socket)) socket.destroy();
  });
  return server;
}

/** Applies a reloaded TLS configuration to the connections accepted from now on; open ones keep theirs. */
export function updateTlsServer(server: https.Server, tls: TlsServing): void {
  server.setSecureContext(secureContextOptions(tls.config, tls.material));
}
