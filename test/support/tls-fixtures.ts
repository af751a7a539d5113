import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as PEM files on disk. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
  /** Upper-case hex, as Node's getPeerCertificate() reports it. */
  readonly serial: string;
}

export interface TestPki {
  readonly ca: CertificatePair;
  /** A second CA the server does not trust, for certificates that must not verify. */
  readonly otherCa: CertificatePair;
  /** Server certificates for 127.0.0.1 signed by `ca`, made on demand with the serial asked for. */
  server(name: string, serial: string): Promise<CertificatePair>;
  /** A client certificate signed by `ca` (or `otherCa`). */
  client(name: string, serial: string, signer?: 'ca' | 'other'): Promise<CertificatePair>;
}

/** Makes a small PKI with the real `openssl` binary, in `directory`. */
export async function makePki(openssl: string, directory: string): Promise<TestPki> {
  const file = (name: string): string => path.join(directory, name);
  const selfSigned = async (name: string, subject: string, serial: string): Promise<CertificatePair> => {
    await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', subject, '-set_serial', `0x${serial}`]);
    return { cert: file(`${name}.crt`), key: file(`${name}.key`), serial };
  };
  const ca = await selfSigned('ca', '/CN=checkpoint-exporter test CA', '0C');
  const otherCa = await selfSigned('other-ca', '/CN=a CA nobody trusts', '0D');
  const signed = async (name: string, subject: string, serial: string, extensions: string, signer: CertificatePair): Promise<CertificatePair> => {
    await run(openssl, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject]);
    await writeFile(file(`${name}.ext`), extensions);
    await run(openssl, ['x509', '-req', '-in', file(`${name}.csr`), '-CA', signer.cert, '-CAkey', signer.key, '-set_serial', `0x${serial}`, '-out', file(`${name}.crt`), '-days', '2', '-extfile', file(`${name}.ext`)]);
    return { cert: file(`${name}.crt`), key: file(`${name}.key`), serial };
  };
  return {
    ca,
    otherCa,
    server: (name, serial) => signed(name, '/CN=127.0.0.1', serial, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', ca),
    client: (name, serial, signer = 'ca') => signed(name, `/CN=${name}`, serial, 'extendedKeyUsage=clientAuth\n', signer === 'ca' ? ca : otherCa),
  };
}

export interface TlsResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Serial of the certificate the server presented. */
  readonly serial: string;
  /** The negotiated protocol (`TLSv1.3`) and cipher suite (its IANA name). */
  readonly protocol: string;
  readonly cipher: string;
}

export interface TlsRequestOptions {
  /** CA file the server's certificate must verify against. */
  readonly ca: string;
  readonly client?: CertificatePair;
  readonly basicAuth?: string;
  /** What the client offers, to see what the server accepts. */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers?: string;
}

/** One HTTPS GET on a fresh connection (no agent: every request is a new handshake, so a new certificate shows at once). */
export async function httpsGet(url: string, pathname: string, options: TlsRequestOptions): Promise<TlsResponse> {
  const ca = await readFile(options.ca);
  const client = options.client === undefined ? {} : { cert: await readFile(options.client.cert), key: await readFile(options.client.key) };
  return new Promise((resolve, reject) => {
    const request = https.get(
      new URL(pathname, url),
      {
        ca,
        ...client,
        agent: false,
        ...(options.basicAuth !== undefined ? { auth: options.basicAuth } : {}),
        ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {}),
        ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
        timeout: 10_000,
      },
      (response) => {
        const socket = response.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        const protocol = socket.getProtocol() ?? '';
        const cipher = socket.getCipher().standardName;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, serial, protocol, cipher }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
  });
}

/** A plain-HTTP GET, for a port that must not answer one. */
export function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
  });
}
