import { readFileSync } from 'node:fs';

/** The package version, from the package.json shipped beside dist/. */
export function readPackageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
