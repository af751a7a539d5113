import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { CIPHER_SUITES, CLIENT_AUTH_TYPES, parseWebConfig, secureContextOptions, type WebConfig } from '../../../src/server/web-config.js';

/** Property runs: at least 500 under CI, where time is not short. */
const RUNS = process.env['CI'] === 'true' ? 500 : 200;

// A real bcrypt hash (cost 4) of "secret".
const HASH = '$2b$04$uc.gGDOOxbGBwRKosZlQ9.9O.c.Q2Do2zbRyoPHQQiB51Fx.Hjybu';

const parse = (text: string): ReturnType<typeof parseWebConfig> => parseWebConfig(text, '/etc/web');
const problemsOf = (text: string): string[] => {
  const result = parse(text);
  if (result.ok) throw new Error(`expected a refusal of:\n${text}`);
  return result.reason.split('\n');
};
const valueOf = (text: string): WebConfig => {
  const result = parse(text);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
};

describe('parseWebConfig', () => {
  it('reads the whole exporter-toolkit format, resolving relative files against the file\'s directory', () => {
    const config = valueOf(`
tls_server_config:
  cert_file: tls.crt
  key_file: /abs/tls.key
  client_ca_file: ca/clients.pem
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  max_version: TLS13
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256]
basic_auth_users:
  prometheus: '${HASH}'
http_server_config:
  http2: true
  headers:
    x-frame-options: DENY
    Strict-Transport-Security: max-age=31536000
`);
    expect(config.tls).toEqual({
      certFile: '/etc/web/tls.crt',
      keyFile: '/abs/tls.key',
      clientCaFile: '/etc/web/ca/clients.pem',
      clientAuthType: 'RequireAndVerifyClientCert',
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      cipherSuites: undefined,
      preferServerCipherSuites: false,
      curvePreferences: ['X25519', 'P-256'],
    });
    expect([...config.basicAuthUsers]).toEqual([['prometheus', HASH]]);
    expect(config.headers).toEqual({ 'X-Frame-Options': 'DENY', 'Strict-Transport-Security': 'max-age=31536000' });
  });

  it('defaults as exporter-toolkit does: TLS 1.2 at least, no client certificate, server cipher order', () => {
    const { tls } = valueOf('tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n');
    expect(tls).toMatchObject({ clientAuthType: 'NoClientCert', minVersion: 'TLSv1.2', maxVersion: undefined, preferServerCipherSuites: true });
  });

  it.each(['', '# nothing\n', '---\n'])('an empty file %j turns nothing on', (text) => {
    expect(valueOf(text)).toEqual({ tls: undefined, basicAuthUsers: new Map(), headers: {} });
  });

  it('maps Go cipher suite names to OpenSSL names, keeping TLS 1.3 suites on', () => {
    const { tls } = valueOf('tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305]\n');
    expect(tls?.cipherSuites).toEqual(['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305']);
    if (tls === undefined) throw new Error('no tls');
    const options = secureContextOptions(tls, { cert: Buffer.alloc(0), key: Buffer.alloc(0), ca: undefined });
    expect(options.ciphers).toBe('ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256');
    expect(options.maxVersion).toBe('TLSv1.3');
  });

  it.each([
    ['a misspelled top-level key', 'basic_auth_user:\n  a: b\n', ['basic_auth_user: unknown field; did you mean basic_auth_users?']],
    ['a misspelled TLS key, its field not reported missing again', 'tls_server_config:\n  cert_flie: a\n  key_file: b\n', ['tls_server_config.cert_flie: unknown field; did you mean cert_file?']],
    ['a missing key_file', 'tls_server_config:\n  cert_file: a\n', ['tls_server_config.key_file: required when tls_server_config is given']],
    ['an unknown key far from any', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  zzz: 1\n', [expect.stringMatching(/^tls_server_config\.zzz: unknown field \(known here: cert_file, /)]],
    ['an inline certificate', 'tls_server_config:\n  cert: "-----BEGIN"\n  cert_file: a\n  key_file: b\n', ['tls_server_config.cert: inline certificates are not supported; use cert_file']],
    ['a misspelled client_auth_type', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n  client_auth_type: RequireAndVerifyClientCerts\n', [expect.stringMatching(/client_auth_type: "RequireAndVerifyClientCerts" is not one of .*; did you mean RequireAndVerifyClientCert\?$/)]],
    ['TLS 1.1', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS11\n', ['tls_server_config.min_version: TLS11 is not supported; TLS 1.2 is the oldest version served']],
    ['max below min', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n', ['tls_server_config.max_version: lower than min_version']],
    ['a client CA without a client auth type', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n', [expect.stringContaining('client_ca_file: given, but client_auth_type is NoClientCert')]],
    ['verification without a CA', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: VerifyClientCertIfGiven\n', [expect.stringContaining('VerifyClientCertIfGiven needs client_ca_file')]],
    ['an unknown cipher suite', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n', [expect.stringMatching(/^tls_server_config\.cipher_suites\[0\]: "TLS_RSA_WITH_RC4_128_SHA" is not one of /)]],
    ['cipher suites with TLS 1.3 only', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n', [expect.stringContaining('only TLS 1.2 suites can be chosen')]],
    ['a password instead of a hash', 'basic_auth_users:\n  prometheus: hunter2\n', [expect.stringMatching(/^basic_auth_users\.prometheus: not a bcrypt hash .*htpasswd -nBC 10 prometheus$/)]],
    ['an md5 htpasswd line', 'basic_auth_users:\n  a: $apr1$abc$0123456789012345678901\n', [expect.stringMatching(/^basic_auth_users\.a: not a bcrypt hash/)]],
    ['a bcrypt cost out of range', `basic_auth_users:\n  a: '${HASH.replace('$04$', '$03$')}'\n`, [expect.stringMatching(/^basic_auth_users\.a: not a bcrypt hash/)]],
    ['a username with a colon', `basic_auth_users:\n  "a:b": '${HASH}'\n`, [expect.stringContaining('without ":"')]],
    ['users as a list', 'basic_auth_users: [a, b]\n', [expect.stringContaining('basic_auth_users: must be a mapping')]],
    ['a header nobody may set', 'http_server_config:\n  headers:\n    Set-Cookie: a\n', [expect.stringContaining('http_server_config.headers.Set-Cookie: not a header that can be set')]],
    ['a wrong X-Frame-Options', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', ['http_server_config.headers.X-Frame-Options: "allow" is not one of deny, sameorigin']],
    ['http2 not a boolean', 'http_server_config:\n  http2: "yes"\n', ['http_server_config.http2: must be true or false, got "yes"']],
    ['a list for a file', 'tls_server_config:\n  cert_file: [a]\n  key_file: b\n', ['tls_server_config.cert_file: must be a non-empty string, got ["a"]']],
    ['not a mapping', '- a\n', [expect.stringContaining('must be a mapping with tls_server_config, basic_auth_users, http_server_config')]],
    ['invalid YAML', 'tls_server_config: [\n', [expect.stringMatching(/^invalid YAML: /)]],
  ])('refuses %s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('never echoes a basic_auth_users value, which may be a password pasted by mistake', () => {
    expect(problemsOf('basic_auth_users:\n  a: correct-horse-battery\n').join('\n')).not.toContain('correct-horse');
  });

  it('accepts every client_auth_type (and the old RequireClientCert) with a CA', () => {
    for (const type of [...CLIENT_AUTH_TYPES, 'RequireClientCert']) {
      const ca = type === 'NoClientCert' ? '' : '  client_ca_file: ca.pem\n';
      const { tls } = valueOf(`tls_server_config:\n  cert_file: a\n  key_file: b\n${ca}  client_auth_type: ${type}\n`);
      expect(tls?.clientAuthType).toBe(type === 'RequireClientCert' ? 'RequireAnyClientCert' : type);
    }
  });
});

describe('parseWebConfig properties', () => {
  const known = ['tls_server_config', 'basic_auth_users', 'http_server_config'];
  const anyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));

  it('never throws, and refuses every unknown top-level key naming it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...known), fc.string({ minLength: 1, maxLength: 20 })), anyValue, { maxKeys: 5 }), (raw) => {
        const result = parse(yaml.dump(raw));
        const unknown = Object.keys(raw).filter((key) => !known.includes(key));
        if (unknown.length > 0) {
          expect(result.ok).toBe(false);
          if (!result.ok) for (const key of unknown) expect(result.reason.split('\n').some((line) => line.startsWith(`${key}: `))).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reads back every valid configuration it is given', () => {
    const user = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
    const hash = fc.tuple(fc.constantFrom('2a', '2b', '2y'), fc.integer({ min: 4, max: 31 }), fc.stringMatching(/^[./A-Za-z0-9]{53}$/)).map(([v, cost, rest]) => `$${v}$${String(cost).padStart(2, '0')}$${rest}`);
    const config = fc.record({
      clientAuthType: fc.constantFrom(...CLIENT_AUTH_TYPES),
      minVersion: fc.constantFrom('TLS12', 'TLS13'),
      suites: fc.option(fc.uniqueArray(fc.constantFrom(...Object.keys(CIPHER_SUITES)), { minLength: 1, maxLength: 4 }), { nil: undefined }),
      users: fc.dictionary(user, hash, { maxKeys: 4 }),
    });
    fc.assert(
      fc.property(config, ({ clientAuthType, minVersion, suites, users }) => {
        const tls: Record<string, unknown> = { cert_file: 'tls.crt', key_file: 'tls.key', client_auth_type: clientAuthType, min_version: minVersion };
        if (clientAuthType !== 'NoClientCert') tls['client_ca_file'] = 'ca.crt';
        if (suites !== undefined && minVersion === 'TLS12') tls['cipher_suites'] = suites;
        const parsed = valueOf(yaml.dump({ tls_server_config: tls, basic_auth_users: users }));
        expect(parsed.tls?.clientAuthType).toBe(clientAuthType);
        expect(parsed.tls?.minVersion).toBe(minVersion === 'TLS12' ? 'TLSv1.2' : 'TLSv1.3');
        expect(Object.fromEntries(parsed.basicAuthUsers)).toEqual(users);
        if (tls['cipher_suites'] !== undefined) expect(parsed.tls?.cipherSuites?.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});
