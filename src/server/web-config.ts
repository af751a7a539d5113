import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import yaml from 'js-yaml';
import type { Result } from '../archive/types.js';
import { describeFileError } from '../errors.js';
import { closestName } from '../retention/suggest.js';

/**
 * The web configuration file of `--web-config-file`, in the format of the Prometheus exporter-toolkit
 * (node_exporter's `--web.config.file`): TLS with optional client certificates, basic-auth users with
 * bcrypt hashes, and a few security headers. The whole file is validated before anything is served:
 * a key this exporter does not know is an error, never ignored, because an ignored `client_auth_type`
 * is a server open to clients the operator meant to refuse.
 */

/** A web configuration is a few kilobytes; anything this large is a mistake and is refused unread. */
export const MAX_WEB_CONFIG_BYTES = 1024 * 1024;
/** Certificates and keys are a few kilobytes each; a CA bundle can hold hundreds of certificates. */
export const MAX_TLS_FILE_BYTES = 4 * 1024 * 1024;

export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
export type TlsVersion = (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];

/**
 * exporter-toolkit's (Go's) names of the TLS 1.2 cipher suites, and OpenSSL's for the same suite. As
 * in Go, the list configures TLS 1.2 only: the TLS 1.3 suites are not configurable and stay on.
 */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
};

/** Go's curve names and OpenSSL's. */
const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/**
 * The headers exporter-toolkit lets `http_server_config.headers` set, by their lower-case name; the
 * two with a fixed vocabulary are checked as it checks them.
 */
const HEADERS: Readonly<Record<string, { readonly name: string; readonly values?: readonly string[] }>> = {
  'content-security-policy': { name: 'Content-Security-Policy' },
  'x-frame-options': { name: 'X-Frame-Options', values: ['deny', 'sameorigin'] },
  'x-content-type-options': { name: 'X-Content-Type-Options', values: ['nosniff'] },
  'x-xss-protection': { name: 'X-XSS-Protection' },
  'strict-transport-security': { name: 'Strict-Transport-Security' },
};

/**
 * A bcrypt hash as Go's and bcryptjs's verifiers read it: `$2a$`, `$2b$` or `$2y$`, a two-digit cost
 * from 4 to 31, then 22 characters of salt and 31 of hash in bcrypt's base-64 alphabet.
 */
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

export interface TlsServerConfig {
  /** Absolute paths (relative ones in the file are resolved against the file's directory, as exporter-toolkit does). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string | undefined;
  readonly clientAuthType: ClientAuthType;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion | undefined;
  /** OpenSSL names of the TLS 1.2 suites; undefined: Node's defaults. */
  readonly cipherSuites: readonly string[] | undefined;
  /** Default true, as in exporter-toolkit (and Node's servers). */
  readonly preferServerCipherSuites: boolean;
  /** OpenSSL names; undefined: Node's defaults. */
  readonly curvePreferences: readonly string[] | undefined;
}

export interface WebConfig {
  readonly tls: TlsServerConfig | undefined;
  /** Username → bcrypt hash; empty: no basic auth. */
  readonly basicAuthUsers: ReadonlyMap<string, string>;
  /** Canonical header name → value, set on every response. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The files a TLS configuration names, read: what the server's secure context is made of. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

export interface LoadedWebConfig {
  readonly file: string;
  readonly config: WebConfig;
  readonly material: TlsMaterial | undefined;
  /** The configuration file and every file it names, for a watch to follow. */
  readonly files: readonly string[];
  /** A digest of the file's text and of every file it names: equal digests, nothing changed. */
  readonly digest: string;
}

const TOP_KEYS = ['tls_server_config', 'basic_auth_users', 'http_server_config'] as const;
const TLS_KEYS = ['cert_file', 'key_file', 'client_ca_file', 'client_auth_type', 'min_version', 'max_version', 'cipher_suites', 'prefer_server_cipher_suites', 'curve_preferences'] as const;
const HTTP_KEYS = ['headers', 'http2'] as const;
/** Keys of the exporter-toolkit format this exporter does not implement: refused, saying so, rather than ignored. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  cert: 'inline certificates are not supported; use cert_file',
  key: 'inline keys are not supported; use key_file',
  client_ca: 'an inline client CA is not supported; use client_ca_file',
  client_allowed_sans: 'not supported: restrict clients with a dedicated client CA',
  rate_limit: 'not supported',
};

type Mapping = Readonly<Record<string, unknown>>;
const isMapping = (value: unknown): value is Mapping => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

function unknownKeyProblem(where: string, key: string, known: readonly string[]): string {
  const at = where === '' ? key : `${where}.${key}`;
  const unsupported = UNSUPPORTED[key];
  if (unsupported !== undefined) return `${at}: ${unsupported}`;
  const guess = closestName(key, known);
  return guess !== undefined ? `${at}: unknown field; did you mean ${guess}?` : `${at}: unknown field (known here: ${known.join(', ')})`;
}

/** Reports every unknown key; returns the known names they were taken for, whose absence is then not reported again. */
function checkKeys(value: Mapping, where: string, known: readonly string[], problems: string[]): Set<string> {
  const meant = new Set<string>();
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    problems.push(unknownKeyProblem(where, key, known));
    const guess = closestName(key, known);
    if (guess !== undefined) meant.add(guess);
  }
  return meant;
}

function text(value: unknown, at: string, problems: string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') {
    problems.push(`${at}: must be a non-empty string, got ${show(value)}`);
    return undefined;
  }
  return value;
}

function oneOf<T extends string>(value: unknown, at: string, choices: Readonly<Record<string, T>>, problems: string[]): T | undefined {
  const given = text(value, at, problems);
  if (given === undefined) return undefined;
  const chosen = choices[given];
  if (chosen !== undefined && Object.hasOwn(choices, given)) return chosen;
  const guess = closestName(given, Object.keys(choices));
  problems.push(`${at}: ${show(given)} is not one of ${Object.keys(choices).join(', ')}${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  return undefined;
}

function list(value: unknown, at: string, names: Readonly<Record<string, string>>, problems: string[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${at}: must be a non-empty list`);
    return undefined;
  }
  const mapped: string[] = [];
  value.forEach((item, index) => {
    const name = oneOf(item, `${at}[${index}]`, names, problems);
    if (name !== undefined && !mapped.includes(name)) mapped.push(name);
  });
  return mapped;
}

const VERSION_ORDER: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];
const OLD_VERSIONS = new Set(['TLS10', 'TLS11']);

function parseTls(raw: unknown, directory: string, problems: string[]): TlsServerConfig | undefined {
  if (!isMapping(raw)) {
    problems.push(`tls_server_config: must be a mapping, got ${show(raw)}`);
    return undefined;
  }
  const misspelled = checkKeys(raw, 'tls_server_config', TLS_KEYS, problems);
  const at = (key: string): string => `tls_server_config.${key}`;
  const resolve = (file: string | undefined): string | undefined => (file === undefined ? undefined : path.resolve(directory, file));
  const certFile = resolve(text(raw['cert_file'], at('cert_file'), problems));
  const keyFile = resolve(text(raw['key_file'], at('key_file'), problems));
  for (const key of ['cert_file', 'key_file']) {
    if ((raw[key] === undefined || raw[key] === null) && !misspelled.has(key)) problems.push(`${at(key)}: required when tls_server_config is given`);
  }
  const clientCaFile = resolve(text(raw['client_ca_file'], at('client_ca_file'), problems));
  const authChoices = Object.fromEntries([...CLIENT_AUTH_TYPES.map((type) => [type, type]), ['RequireClientCert', 'RequireAnyClientCert']]) as Record<string, ClientAuthType>;
  const clientAuthType = raw['client_auth_type'] === undefined || raw['client_auth_type'] === null ? 'NoClientCert' : oneOf(raw['client_auth_type'], at('client_auth_type'), authChoices, problems);
  const version = (key: string): TlsVersion | undefined => {
    const value = raw[key];
    if (typeof value === 'string' && OLD_VERSIONS.has(value)) {
      problems.push(`${at(key)}: ${value} is not supported; TLS 1.2 is the oldest version served`);
      return undefined;
    }
    return oneOf(value, at(key), TLS_VERSIONS, problems);
  };
  const minVersion = raw['min_version'] === undefined || raw['min_version'] === null ? 'TLSv1.2' : version('min_version');
  const maxVersion = version('max_version');
  if (minVersion !== undefined && maxVersion !== undefined && VERSION_ORDER.indexOf(maxVersion) < VERSION_ORDER.indexOf(minVersion)) {
    problems.push(`${at('max_version')}: lower than min_version`);
  }
  if (clientCaFile !== undefined && clientAuthType === 'NoClientCert') problems.push(`${at('client_ca_file')}: given, but client_auth_type is NoClientCert (set a client_auth_type that requests certificates)`);
  if (clientCaFile === undefined && (clientAuthType === 'VerifyClientCertIfGiven' || clientAuthType === 'RequireAndVerifyClientCert')) {
    problems.push(`${at('client_auth_type')}: ${clientAuthType} needs client_ca_file, the CA that client certificates are verified against`);
  }
  const preferServer = raw['prefer_server_cipher_suites'];
  if (preferServer !== undefined && preferServer !== null && typeof preferServer !== 'boolean') problems.push(`${at('prefer_server_cipher_suites')}: must be true or false, got ${show(preferServer)}`);
  const cipherSuites = list(raw['cipher_suites'], at('cipher_suites'), CIPHER_SUITES, problems);
  if (cipherSuites !== undefined && minVersion === 'TLSv1.3') problems.push(`${at('cipher_suites')}: only TLS 1.2 suites can be chosen, and min_version is TLS13`);
  const curvePreferences = list(raw['curve_preferences'], at('curve_preferences'), CURVES, problems);
  if (certFile === undefined || keyFile === undefined || clientAuthType === undefined || minVersion === undefined) return undefined;
  return {
    certFile,
    keyFile,
    clientCaFile,
    clientAuthType,
    minVersion,
    maxVersion,
    cipherSuites,
    preferServerCipherSuites: preferServer !== false,
    curvePreferences,
  };
}

function parseUsers(raw: unknown, problems: string[]): Map<string, string> {
  const users = new Map<string, string>();
  if (raw === undefined || raw === null) return users;
  if (!isMapping(raw)) {
    problems.push(`basic_auth_users: must be a mapping of username to bcrypt hash, got ${show(raw)}`);
    return users;
  }
  for (const [user, hash] of Object.entries(raw)) {
    const at = `basic_auth_users.${user}`;
    if (user === '' || user.includes(':')) {
      problems.push(`${at}: a username must be non-empty and without ":" (basic auth cannot send it)`);
      continue;
    }
    const match = typeof hash === 'string' ? BCRYPT_HASH.exec(hash) : null;
    const cost = Number(match?.[1]);
    if (match === null || cost < 4 || cost > 31) {
      // Never echo the value: it may be a password someone pasted instead of its hash.
      problems.push(`${at}: not a bcrypt hash ($2a$, $2b$ or $2y$, a cost from 04 to 31, 53 characters of salt and hash); make one with htpasswd -nBC 10 ${user}`);
      continue;
    }
    users.set(user, hash as string);
  }
  return users;
}

function parseHttp(raw: unknown, problems: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw === undefined || raw === null) return headers;
  if (!isMapping(raw)) {
    problems.push(`http_server_config: must be a mapping, got ${show(raw)}`);
    return headers;
  }
  checkKeys(raw, 'http_server_config', HTTP_KEYS, problems);
  const http2 = raw['http2'];
  if (http2 !== undefined && http2 !== null && typeof http2 !== 'boolean') problems.push(`http_server_config.http2: must be true or false, got ${show(http2)}`);
  const given = raw['headers'];
  if (given === undefined || given === null) return headers;
  if (!isMapping(given)) {
    problems.push(`http_server_config.headers: must be a mapping of header name to value, got ${show(given)}`);
    return headers;
  }
  for (const [name, value] of Object.entries(given)) {
    const at = `http_server_config.headers.${name}`;
    const known = HEADERS[name.toLowerCase()];
    if (known === undefined) {
      const guess = closestName(name, Object.values(HEADERS).map((header) => header.name));
      problems.push(`${at}: not a header that can be set (${Object.values(HEADERS).map((header) => header.name).join(', ')})${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
      continue;
    }
    if (typeof value !== 'string' || value === '' || /[\r\n\0]/.test(value)) {
      problems.push(`${at}: must be a non-empty single-line string`);
      continue;
    }
    if (known.values !== undefined && !known.values.includes(value.toLowerCase())) {
      problems.push(`${at}: ${show(value)} is not one of ${known.values.join(', ')}`);
      continue;
    }
    headers[known.name] = value;
  }
  return headers;
}

/**
 * Validates the text of a web configuration file. Relative file names are resolved against
 * `directory` (the file's own). A refusal's reason holds one line per problem, each naming the field.
 * An empty file is a valid configuration that turns nothing on, as in exporter-toolkit.
 */
export function parseWebConfig(source: string, directory: string): Result<WebConfig> {
  let raw: unknown;
  try {
    raw = yaml.load(source, { json: false });
  } catch (error) {
    const reason = error instanceof yaml.YAMLException ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: `invalid YAML: ${reason}` };
  }
  if (raw === undefined || raw === null) return { ok: true, value: { tls: undefined, basicAuthUsers: new Map(), headers: {} } };
  if (!isMapping(raw)) return { ok: false, reason: `must be a mapping with ${TOP_KEYS.join(', ')}, got ${show(raw)}` };
  const problems: string[] = [];
  checkKeys(raw, '', TOP_KEYS, problems);
  const tlsRaw = raw['tls_server_config'];
  const tls = tlsRaw === undefined || tlsRaw === null ? undefined : parseTls(tlsRaw, directory, problems);
  const basicAuthUsers = parseUsers(raw['basic_auth_users'], problems);
  const headers = parseHttp(raw['http_server_config'], problems);
  if (problems.length > 0) return { ok: false, reason: problems.join('\n') };
  return { ok: true, value: { tls, basicAuthUsers, headers } };
}

/** One file, whole, refusing anything larger than `limit` before reading it. */
async function readBounded(file: string, limit: number): Promise<Result<Buffer>> {
  let handle;
  try {
    handle = await open(file, 'r');
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, reason: 'not a regular file' };
    if (stats.size > limit) return { ok: false, reason: `larger than ${limit} bytes` };
    const buffer = await handle.readFile();
    return buffer.length > limit ? { ok: false, reason: `larger than ${limit} bytes` } : { ok: true, value: buffer };
  } catch (error) {
    return { ok: false, reason: describeFileError(error) };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** The first line of OpenSSL's complaint, without Node's prefixes. */
const cryptoReason = (error: unknown): string => (error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)).replace(/^error:[0-9A-F]+:/, '');

/**
 * Reads the certificate, key and CA a TLS configuration names and checks them as the handshake will
 * use them: each parses, the key belongs to the certificate, and OpenSSL accepts the whole context
 * (versions, suites, curves). Every problem names the field and the file.
 */
async function readTlsMaterial(tls: TlsServerConfig): Promise<Result<TlsMaterial>> {
  const problems: string[] = [];
  const read = async (field: string, file: string): Promise<Buffer | undefined> => {
    const result = await readBounded(file, MAX_TLS_FILE_BYTES);
    if (!result.ok) problems.push(`tls_server_config.${field}: cannot read ${file}: ${result.reason}`);
    return result.ok ? result.value : undefined;
  };
  const cert = await read('cert_file', tls.certFile);
  const key = await read('key_file', tls.keyFile);
  const ca = tls.clientCaFile === undefined ? undefined : await read('client_ca_file', tls.clientCaFile);
  if (problems.length > 0 || cert === undefined || key === undefined) return { ok: false, reason: problems.join('\n') };
  let certificate: X509Certificate | undefined;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    problems.push(`tls_server_config.cert_file: ${tls.certFile} is not a PEM certificate: ${cryptoReason(error)}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    problems.push(`tls_server_config.key_file: ${tls.keyFile} is not a PEM private key: ${cryptoReason(error)}`);
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      problems.push(`tls_server_config.client_ca_file: ${tls.clientCaFile ?? ''} is not a PEM certificate: ${cryptoReason(error)}`);
    }
  }
  if (certificate !== undefined && privateKey !== undefined && !certificate.checkPrivateKey(privateKey)) {
    problems.push(`tls_server_config.key_file: ${tls.keyFile} is not the key of the certificate in ${tls.certFile}`);
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('\n') };
  const material: TlsMaterial = { cert, key, ca };
  try {
    createSecureContext(secureContextOptions(tls, material));
  } catch (error) {
    return { ok: false, reason: `tls_server_config: refused by OpenSSL: ${cryptoReason(error)}` };
  }
  return { ok: true, value: material };
}

/** TLS 1.3's suites, which Go (and so exporter-toolkit) does not let a configuration choose: always on. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** What `tls.createSecureContext` and `server.setSecureContext` take: everything that may change on a reload. */
export function secureContextOptions(tls: TlsServerConfig, material: TlsMaterial): import('node:tls').SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca !== undefined ? { ca: material.ca } : {}),
    minVersion: tls.minVersion,
    // Always given: Node keeps a server's earlier maxVersion when a new context leaves it out.
    maxVersion: tls.maxVersion ?? 'TLSv1.3',
    ...(tls.cipherSuites !== undefined ? { ciphers: `${tls.cipherSuites.join(':')}:${TLS13_SUITES}` } : {}),
    ...(tls.curvePreferences !== undefined ? { ecdhCurve: tls.curvePreferences.join(':') } : {}),
    honorCipherOrder: tls.preferServerCipherSuites,
  };
}

/**
 * Reads and validates the web configuration file and every file it names. The refusal's reason has
 * one line per problem; the caller prefixes the file.
 */
export async function loadWebConfig(file: string): Promise<Result<LoadedWebConfig>> {
  const absolute = path.resolve(file);
  const read = await readBounded(absolute, MAX_WEB_CONFIG_BYTES);
  if (!read.ok) return { ok: false, reason: `cannot read ${file}: ${read.reason}` };
  const parsed = parseWebConfig(read.value.toString('utf8'), path.dirname(absolute));
  if (!parsed.ok) return parsed;
  const config = parsed.value;
  const digest = createHash('sha256').update(read.value);
  let material: TlsMaterial | undefined;
  const files = [absolute];
  if (config.tls !== undefined) {
    const loaded = await readTlsMaterial(config.tls);
    if (!loaded.ok) return loaded;
    material = loaded.value;
    files.push(config.tls.certFile, config.tls.keyFile, ...(config.tls.clientCaFile !== undefined ? [config.tls.clientCaFile] : []));
    for (const part of [material.cert, material.key, material.ca ?? Buffer.alloc(0)]) digest.update(createHash('sha256').update(part).digest());
  }
  return { ok: true, value: { file: absolute, config, material, files, digest: digest.digest('hex') } };
}
