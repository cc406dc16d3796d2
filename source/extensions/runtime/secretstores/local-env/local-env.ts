import type { SecretStore } from '../../../../envoy/runtime-api/components.js'
import { setOwn } from '../../../../common/common/own-keys.js'

/**
 * Dapr's `secretstores.local.env`: environment variables of this process as secrets, each
 * `{ name: value }`. With `prefix`, only variables starting with it are visible, named without
 * it (`prefix: APP_` exposes `APP_DB` as `DB`). For development only.
 */
export class LocalEnvSecretStore implements SecretStore {
  private readonly prefix: string
  private readonly env: NodeJS.ProcessEnv

  constructor(prefix: string, env: NodeJS.ProcessEnv = process.env) {
    this.prefix = prefix
    this.env = env
  }

  // SecretStore
  async get(key: string): Promise<Record<string, string>> {
    const name = this.prefix + key
    // process.env inherits Object.prototype: `constructor` must not find its function.
    const value = Object.hasOwn(this.env, name) ? this.env[name] : undefined
    if (value === undefined || key === '') throw new Error(`secret ${key} not found`)
    return { [key]: value }
  }

  async bulkGet(): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {}
    for (const [name, value] of Object.entries(this.env)) {
      if (value === undefined || !name.startsWith(this.prefix) || name.length === this.prefix.length) continue
      const key = name.slice(this.prefix.length)
      setOwn(out, key, { [key]: value })
    }
    return out
  }
}
