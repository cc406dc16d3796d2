import fs from 'node:fs'

const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }

/** The package version (`envoy-ts --version`). */
export const VERSION: string = pkg.version

/** Envoy-style build string for `/server_info` and the start-up log. */
export function versionString(): string {
  return `envoy-ts/${VERSION}/node-${process.version}/RELEASE`
}

/** `server.version`: the version as one integer (0.1.0 → 100), as Envoy reports a number there. */
export function versionNumber(): number {
  const [major = 0, minor = 0, patch = 0] = VERSION.split('.').map((x) => Number.parseInt(x, 10) || 0)
  return major * 10000 + minor * 100 + patch
}
