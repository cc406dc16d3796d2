import fs from 'node:fs/promises'
import type { SecretStore } from '../../../../envoy/runtime-api/components.js'
import { own, setOwn } from '../../../../common/common/own-keys.js'

export interface LocalFileSecretOptions {
  secretsFile: string
  /** Joins nested keys (Dapr's `nestedSeparator`, default `:`). */
  nestedSeparator: string
  /** Dapr's `multiValued`: top-level keys are secrets, their nested keys the secret's values. */
  multiValued: boolean
}

function flatten(value: unknown, prefix: string, sep: string, out: Record<string, string>): void {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}${sep}${k}`, sep, out)
    return
  }
  setOwn(out, prefix, value === null ? '' : String(value))
}

/**
 * Dapr's `secretstores.local.file`: secrets from a JSON file, read on first use (Dapr reads it at
 * start and does not watch it either). Without `multiValued` every leaf is a secret named by
 * its path (`db:password`) holding one value under that name; with it, each top-level key is a
 * secret whose values are its (flattened) children. For development only: the file is plain text.
 */
export class LocalFileSecretStore implements SecretStore {
  private readonly options: LocalFileSecretOptions
  private loaded: Promise<Record<string, Record<string, string>>> | undefined

  constructor(options: LocalFileSecretOptions) {
    this.options = options
  }

  // SecretStore
  async get(key: string): Promise<Record<string, string>> {
    const secrets = await this.load()
    const secret = own(secrets, key)
    if (secret === undefined) throw new Error(`secret ${key} not found`)
    return secret
  }

  async bulkGet(): Promise<Record<string, Record<string, string>>> {
    return this.load()
  }

  private load(): Promise<Record<string, Record<string, string>>> {
    this.loaded ??= this.read().catch((err: unknown) => {
      this.loaded = undefined // try again next time: the file may appear
      throw err
    })
    return this.loaded
  }

  private async read(): Promise<Record<string, Record<string, string>>> {
    const { secretsFile, nestedSeparator: sep, multiValued } = this.options
    let doc: unknown
    try {
      doc = JSON.parse(await fs.readFile(secretsFile, 'utf8')) as unknown
    } catch (err) {
      throw new Error(`cannot read secrets file ${secretsFile}: ${(err as Error).message}`)
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`secrets file ${secretsFile}: not a JSON object`)
    const secrets: Record<string, Record<string, string>> = {}
    if (multiValued) {
      for (const [name, v] of Object.entries(doc)) {
        const values: Record<string, string> = {}
        if (v !== null && typeof v === 'object') flatten(v, '', sep, values)
        else setOwn(values, name, v === null ? '' : String(v))
        setOwn(secrets, name, values)
      }
    } else {
      const flat: Record<string, string> = {}
      flatten(doc, '', sep, flat)
      for (const [name, v] of Object.entries(flat)) setOwn(secrets, name, { [name]: v })
    }
    return secrets
  }
}
