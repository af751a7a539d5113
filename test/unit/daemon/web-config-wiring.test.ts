import { describe, expect, it } from '@jest/globals';
import { refuseRestartOnly } from '../../../src/daemon/web-config-wiring.js';
import { parseWebConfig, type LoadedWebConfig } from '../../../src/server/web-config.js';

const HASH = '$2b$04$uc.gGDOOxbGBwRKosZlQ9.9O.c.Q2Do2zbRyoPHQQiB51Fx.Hjybu';

function version(text: string): LoadedWebConfig {
  const parsed = parseWebConfig(text, '/etc/web');
  if (!parsed.ok) throw new Error(parsed.reason);
  return { file: '/etc/web/web.yml', config: parsed.value, material: undefined, files: [], digest: text };
}

const PLAIN = version('');
const TLS = version('tls_server_config:\n  cert_file: a\n  key_file: b\n');
const TLS_13 = version('tls_server_config:\n  cert_file: c\n  key_file: d\n  min_version: TLS13\n');
const MTLS = version('tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n  client_auth_type: RequireAndVerifyClientCert\n');
const USERS = version(`basic_auth_users:\n  a: '${HASH}'\n`);

describe('refuseRestartOnly: what a reload cannot change', () => {
  it.each([
    ['new certificate files and versions', TLS, TLS_13, true, undefined],
    ['basic auth users added', PLAIN, USERS, true, undefined],
    ['TLS added', PLAIN, TLS, true, 'tls_server_config: adding TLS needs a restart'],
    ['TLS removed', TLS, PLAIN, true, 'tls_server_config: removing TLS needs a restart'],
    ['client_auth_type changed', TLS, MTLS, true, 'tls_server_config.client_auth_type: changing NoClientCert to RequireAndVerifyClientCert needs a restart'],
    ['users added with --auth kubernetes', PLAIN, USERS, false, 'basic_auth_users: cannot be used with --auth kubernetes (both need the Authorization header)'],
  ] as const)('%s', (_name, current, next, basicAuthAllowed, expected) => {
    expect(refuseRestartOnly(current, next, basicAuthAllowed)).toBe(expected);
  });
});
