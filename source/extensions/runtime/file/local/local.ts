import { randomUUID } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import type { FileInfo, FileStore } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'

/** Page size of ListFile when the request gives none. */
export const DEFAULT_PAGE_SIZE = 100

function invalid(message: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_FILE_NAME_INVALID', message)
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

/**
 * Layotto's `local` file store: files under one root directory, named by their path relative to
 * it with `/` separators. Every name is confined to the root: absolute names, `..` segments
 * that leave it, NUL bytes and symbolic links that point outside are rejected with
 * INVALID_ARGUMENT. Writes go to a temporary file renamed into place, so readers never see a
 * half-written file.
 */
export class LocalFileStore implements FileStore {
  private readonly storeName: string
  private readonly root: string

  constructor(storeName: string, root: string) {
    this.storeName = storeName
    this.root = path.resolve(root)
  }

  // FileStore
  async get(name: string): Promise<Uint8Array> {
    const full = await this.existing(name)
    try {
      return await fs.readFile(full)
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    const full = this.resolve(name)
    await fs.mkdir(path.dirname(full), { recursive: true })
    await this.confine(path.dirname(full), name)
    const tmp = `${full}.${randomUUID()}.tmp`
    try {
      await fs.writeFile(tmp, data)
      await fs.rename(tmp, full)
    } catch (err) {
      await fs.rm(tmp, { force: true })
      throw this.mapError(err, name)
    }
  }

  async list(prefix: string, options: { pageSize?: number; marker?: string } = {}): Promise<{ files: FileInfo[]; marker: string; truncated: boolean }> {
    const normalized = prefix.replace(/^\.?\/+/, '')
    if (normalized !== '') this.resolve(normalized) // rejects traversal and absolute prefixes
    const pageSize = options.pageSize !== undefined && options.pageSize > 0 ? options.pageSize : DEFAULT_PAGE_SIZE
    const marker = options.marker ?? ''
    // Walk only the directory the prefix names, not the whole root.
    const slash = normalized.lastIndexOf('/')
    const start = slash < 0 ? '' : normalized.slice(0, slash)
    const names: string[] = []
    await this.walk(start, names)
    const matching = names.filter((n) => n.startsWith(normalized) && n > marker).sort()
    const page = matching.slice(0, pageSize)
    const files: FileInfo[] = []
    for (const n of page) {
      try {
        const st = await fs.stat(path.join(this.root, n))
        files.push({ name: n, size: st.size, lastModified: st.mtime.toISOString() })
      } catch {
        // Deleted while listing: leave it out.
      }
    }
    const truncated = matching.length > page.length
    return { files, marker: truncated ? page[page.length - 1]! : '', truncated }
  }

  async del(name: string): Promise<void> {
    const full = await this.existing(name)
    try {
      await fs.unlink(full)
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  async stat(name: string): Promise<FileInfo> {
    const full = await this.existing(name)
    try {
      const st = await fs.stat(full)
      if (!st.isFile()) throw this.notFound(name)
      return { name, size: st.size, lastModified: st.mtime.toISOString() }
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  /** The absolute path of `name`, which must stay inside the root. */
  resolve(name: string): string {
    if (name === '' || name.includes('\0')) throw invalid(`invalid file name ${JSON.stringify(name)} in file store ${this.storeName}`)
    if (path.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) throw invalid(`file name ${JSON.stringify(name)} must be relative to the root of file store ${this.storeName}`)
    const full = path.resolve(this.root, name)
    const rel = path.relative(this.root, full)
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw invalid(`file name ${JSON.stringify(name)} leaves the root of file store ${this.storeName}`)
    }
    return full
  }

  private async existing(name: string): Promise<string> {
    const full = this.resolve(name)
    await this.confine(full, name)
    return full
  }

  /** Follows symbolic links: the real path must still be inside the (real) root. */
  private async confine(full: string, name: string): Promise<void> {
    let real: string
    let realRoot: string
    try {
      [real, realRoot] = await Promise.all([fs.realpath(full), fs.realpath(this.root)])
    } catch (err) {
      throw this.mapError(err, name)
    }
    const rel = path.relative(realRoot, real)
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw invalid(`file name ${JSON.stringify(name)} leaves the root of file store ${this.storeName}`)
    }
  }

  private async walk(dir: string, out: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[]
    try {
      entries = await fs.readdir(path.join(this.root, dir), { withFileTypes: true })
    } catch (err) {
      if (isNotFound(err)) return
      throw err
    }
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`
      if (e.isDirectory()) await this.walk(rel, out)
      else if (e.isFile() && !e.name.endsWith('.tmp')) out.push(rel)
    }
  }

  private notFound(name: string): RuntimeApiError {
    return new RuntimeApiError(RuntimeStatus.NOT_FOUND, 'ERR_FILE_NOT_FOUND', `file ${name} not found in file store ${this.storeName}`)
  }

  private mapError(err: unknown, name: string): Error {
    if (err instanceof RuntimeApiError) return err
    if (isNotFound(err)) return this.notFound(name)
    return new RuntimeApiError(RuntimeStatus.INTERNAL, 'ERR_FILE_STORE', `file store ${this.storeName}: ${(err as Error).message}`)
  }
}
