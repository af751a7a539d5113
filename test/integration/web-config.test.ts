import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../support/binaries.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { httpGet, httpsGet, makePki, type CertificatePair, type TestPki, type TlsRequestOptions } from '../support/tls-fixtures.js';
import { waitUntil } from '../support/wait.js';

/**
 * `serve --web-config-file` on the built binary with real TLS: certificates made by openssl here,
 * requests through node:https trusting the test CA, certificates rotated on disk while it runs.
 */
const openssl = findBinary('openssl', 'openssl');
const describeTls = openssl === undefined ? describe.skip : describe;

let work: string;
let pki: TestPki;
let server1: CertificatePair;
let client: CertificatePair;
let foreignClient: CertificatePair;
const running: ServedBinary[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'web-config-'));
  if (openssl === undefined) return;
  pki = await makePki(openssl, work);
  server1 = await pki.server('server-1', 'A1');
  client = await pki.client('scraper', 'C1');
  foreignClient = await pki.client('stranger', 'C2', 'other');
  await mkdir(path.join(work, 'checkpoints'));
}, 60_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((exporter) => exporter.stop()));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function serveWith(name: string, config: string): Promise<ServedBinary> {
  const file = path.join(work, `${name}.yml`);
  await writeFile(file, config);
  const exporter = await serveBinary(['--checkpoint-dir', path.join(work, 'checkpoints'), '--web-config-file', file]);
  running.push(exporter);
  return exporter;
}

const tlsConfig = (pair: CertificatePair, extra = ''): string => `tls_server_config:\n  cert_file: ${pair.cert}\n  key_file: ${pair.key}\n${extra}`;

/** The request's status, or the error's code/message when the connection was refused. */
async function outcome(url: string, options: TlsRequestOptions): Promise<number | string> {
  try {
    return (await httpsGet(url, '/healthz', options)).status;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
}

describeTls('web configuration: TLS', () => {
  it('serves HTTPS with the configured certificate, logs an https URL and refuses plain HTTP', async () => {
    const exporter = await serveWith('tls', tlsConfig(server1));
    expect(exporter.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const response = await httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert });
    expect(response.status).toBe(200);
    expect(response.body).toBe('ok\n');
    expect(response.serial).toBe(server1.serial);
    // Without basic_auth_users nothing asks for credentials.
    const metrics = await httpsGet(exporter.url, '/metrics', { ca: pki.ca.cert });
    expect(sampleValue(metrics.body, 'checkpoint_web_config_last_reload_successful')).toBe(1);
    await expect(httpGet(exporter.url.replace('https:', 'http:') + 'healthz')).rejects.toThrow();
    // A client that trusts another CA refuses the server.
    await expect(httpsGet(exporter.url, '/healthz', { ca: pki.otherCa.cert })).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('serves the versions and TLS 1.2 suites the file names, and nothing else', async () => {
    const exporter = await serveWith('suites', tlsConfig(server1, '  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n'));
    const negotiated = await httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert });
    expect([negotiated.protocol, negotiated.cipher]).toEqual(['TLSv1.2', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384']);
    // A client offering only another suite finds none in common.
    await expect(httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).rejects.toThrow(/handshake failure|no shared cipher/i);
    const modern = await serveWith('tls13', tlsConfig(server1, '  min_version: TLS13\n'));
    expect((await httpsGet(modern.url, '/healthz', { ca: pki.ca.cert })).protocol).toBe('TLSv1.3');
    await expect(httpsGet(modern.url, '/healthz', { ca: pki.ca.cert, maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|unsupported protocol/i);
  });

  // What each client_auth_type lets through: no certificate, one from the trusted CA, one from another CA.
  it.each([
    ['NoClientCert', 200, 200, 200],
    ['RequestClientCert', 200, 200, 200],
    ['RequireAnyClientCert', 'refused', 200, 200],
    ['VerifyClientCertIfGiven', 200, 200, 'refused'],
    ['RequireAndVerifyClientCert', 'refused', 200, 'refused'],
  ] as const)('client_auth_type %s: without a certificate %s, trusted %s, foreign %s', async (type, without, trusted, foreign) => {
    const ca = type === 'NoClientCert' ? '' : `  client_ca_file: ${pki.ca.cert}\n`;
    const exporter = await serveWith(`client-${type}`, tlsConfig(server1, `${ca}  client_auth_type: ${type}\n`));
    const seen = async (options: TlsRequestOptions): Promise<number | 'refused'> => {
      const result = await outcome(exporter.url, options);
      return typeof result === 'number' ? result : 'refused';
    };
    expect(await seen({ ca: pki.ca.cert })).toBe(without);
    expect(await seen({ ca: pki.ca.cert, client })).toBe(trusted);
    expect(await seen({ ca: pki.ca.cert, client: foreignClient })).toBe(foreign);
  });

  it('applies a rotated certificate (a Secret volume swapping ..data) without a restart, and keeps it when a later version is broken', async () => {
    // The kubelet's layout: the files are symlinks through ..data to a timestamped directory.
    const secret = path.join(work, 'secret');
    const version = async (name: string, pair: CertificatePair): Promise<void> => {
      await mkdir(path.join(secret, name), { recursive: true });
      await copyFile(pair.cert, path.join(secret, name, 'tls.crt'));
      await copyFile(pair.key, path.join(secret, name, 'tls.key'));
    };
    await version('..v1', server1);
    await symlink('..v1', path.join(secret, '..data'));
    await symlink('..data/tls.crt', path.join(secret, 'tls.crt'));
    await symlink('..data/tls.key', path.join(secret, 'tls.key'));
    const exporter = await serveWith('rotating', `tls_server_config:\n  cert_file: secret/tls.crt\n  key_file: secret/tls.key\n`);
    const pid = exporter.pid;
    expect((await httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert })).serial).toBe(server1.serial);

    const server2 = await pki.server('server-2', 'A2');
    await version('..v2', server2);
    await symlink('..v2', path.join(secret, '..data_tmp'));
    await rename(path.join(secret, '..data_tmp'), path.join(secret, '..data'));
    await waitUntil(async () => (await httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert })).serial === server2.serial, 'the rotated certificate to be served');
    expect(exporter.child.exitCode).toBeNull();
    expect(exporter.pid).toBe(pid);
    const metrics = async (): Promise<string> => (await httpsGet(exporter.url, '/metrics', { ca: pki.ca.cert })).body;
    expect(sampleValue(await metrics(), 'checkpoint_web_config_reloads_total', { result: 'success' })).toBe(1);
    expect(exporter.log()).toContain('"msg":"web config reloaded"');

    // A key that is not the certificate's: refused, the last good certificate stays.
    await version('..v3', server2);
    await copyFile(server1.key, path.join(secret, '..v3', 'tls.key'));
    await symlink('..v3', path.join(secret, '..data_tmp'));
    await rename(path.join(secret, '..data_tmp'), path.join(secret, '..data'));
    await waitUntil(async () => sampleValue(await metrics(), 'checkpoint_web_config_last_reload_successful') === 0, 'the broken version to be refused');
    const text = await metrics();
    expect(sampleValue(text, 'checkpoint_web_config_reloads_total', { result: 'failure' })).toBe(1);
    expect((await httpsGet(exporter.url, '/healthz', { ca: pki.ca.cert })).serial).toBe(server2.serial);
    const refusals = exporter.log().split('\n').filter((line) => line.includes('"msg":"web config refused; keeping the last good one"'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('is not the key of the certificate');
  });
});

describe('web configuration: basic auth', () => {
  it('answers 401 with a Basic challenge without or with wrong credentials, 200 with right ones; the probes stay open', async () => {
    const hash = bcrypt.hashSync('scrape-secret', 4);
    const exporter = await serveWith('basic', `basic_auth_users:\n  prometheus: '${hash}'\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n`);
    expect(exporter.url).toMatch(/^http:/);
    const get = (pathname: string, auth?: string): Promise<Response> =>
      fetch(new URL(pathname, exporter.url), auth === undefined ? {} : { headers: { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } });
    const missing = await get('/metrics');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Basic realm="checkpoint-exporter", charset="UTF-8"');
    expect(missing.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await get('/api/v1/archives', 'prometheus:wrong')).status).toBe(401);
    expect((await get('/metrics', 'nobody:scrape-secret')).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).not.toBe(401);
    const allowed = await get('/metrics', 'prometheus:scrape-secret');
    expect(allowed.status).toBe(200);
    const text = await allowed.text();
    expect(sampleValue(text, 'checkpoint_web_basic_auth_requests_total', { result: 'unauthenticated' })).toBe(3);
    expect(sampleValue(text, 'checkpoint_web_basic_auth_requests_total', { result: 'allowed' })).toBe(1);
    // The checks ran on the bcrypt worker thread, not the main-thread fallback.
    expect(exporter.log()).not.toContain('bcrypt worker thread failed');
  });

  it('takes new users from a rewritten file for the next request', async () => {
    const exporter = await serveWith('users', `basic_auth_users:\n  first: '${bcrypt.hashSync('one', 4)}'\n`);
    const status = async (auth: string): Promise<number> =>
      (await fetch(new URL('/metrics', exporter.url), { headers: { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } })).status;
    expect(await status('second:two')).toBe(401);
    const file = path.join(work, 'users.yml');
    await writeFile(`${file}.new`, `basic_auth_users:\n  second: '${bcrypt.hashSync('two', 4)}'\n`);
    await rename(`${file}.new`, file);
    await waitUntil(async () => (await status('second:two')) === 200, 'the new user to be let in');
    expect(await status('first:one')).toBe(401);
  });
});

describe('web configuration: refused at start', () => {
  it.each([
    ['an unknown key', () => `tls_server_config:\n  cert_flie: x.crt\n  key_file: x.key\n`, /tls_server_config\.cert_flie: unknown field; did you mean cert_file\?/],
    ['a missing certificate', () => `tls_server_config:\n  cert_file: missing.crt\n  key_file: refused.yml\n`, /tls_server_config\.cert_file: cannot read \S+missing\.crt: no such file/],
    ['a password instead of a hash', () => `basic_auth_users:\n  prometheus: hunter2\n`, /basic_auth_users\.prometheus: not a bcrypt hash/],
  ])('%s: one line, exit 2', async (_name, config, message) => {
    const file = path.join(work, 'refused.yml');
    await writeFile(file, config());
    const result = await runCli(['serve', '--checkpoint-dir', path.join(work, 'checkpoints'), '--web.config.file', file]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^checkpoint-exporter: web config \S+refused\.yml: /);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toContain('hunter2');
  });

  it('refuses basic_auth_users with --auth kubernetes: both need the Authorization header', async () => {
    const file = path.join(work, 'both.yml');
    await writeFile(file, `basic_auth_users:\n  prometheus: '${bcrypt.hashSync('x', 4)}'\n`);
    const result = await runCli(['serve', '--checkpoint-dir', path.join(work, 'checkpoints'), '--auth', 'kubernetes', '--web-config-file', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^checkpoint-exporter: web config \S+both\.yml: basic_auth_users: cannot be used with --auth kubernetes \(both need the Authorization header\)$/);
  });

  it('refuses a file that cannot be read', async () => {
    const result = await runCli(['serve', '--checkpoint-dir', path.join(work, 'checkpoints'), '--web-config-file', path.join(work, 'absent.yml')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^checkpoint-exporter: web config \S+absent\.yml: cannot read \S+absent\.yml: no such file$/);
  });
});
