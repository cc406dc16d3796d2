import { randomUUID } from 'node:crypto'
import { constants as fsConstants, type Stats } from 'node:fs'
import fs, { type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { RuntimeApiError } from '../../../../common/runtime-api/runtime-api-error.js'
import type { FileInfo, FileStore } from '../../../../envoy/runtime-api/components.js'
import { RuntimeStatus } from '../../../../envoy/runtime-api/errors.js'

/** Page size of ListFile when the request gives none. */
export const DEFAULT_PAGE_SIZE = 100

function invalid(message: string): RuntimeApiError {
  return new RuntimeApiError(RuntimeStatus.INVALID_ARGUMENT, 'ERR_FILE_NAME_INVALID', message)
}

/** Whether a relative path climbs out (`..`, `../x`; not a name like `..x`). */
function isUp(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${path.sep}`)
}

/** Whether `p` is `dir` or under it (both real paths). */
function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p)
  return rel === '' || (!isUp(rel) && !path.isAbsolute(rel))
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

function isNameTooLong(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENAMETOOLONG'
}

/** Linux's NAME_MAX (and that of the common file systems): bytes per path component. */
export const NAME_MAX_BYTES = 255
/** Linux's PATH_MAX: bytes of a whole name. */
export const PATH_MAX_BYTES = 4096

const CONTROL = /[\u0000-\u001f\u007f]/
const { O_RDONLY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = fsConstants

/** Where a name lives once every symbolic link on its way is resolved (all inside the root). */
interface Located {
  /** The real directory that holds (or will hold) the entry: no symbolic link left in it. */
  dir: string
  /** The entry's name in `dir` (the last component as given: a link is not followed). */
  base: string
  /** The real path of the entry itself (a link followed), or `dir/base` when it does not exist. */
  real: string
  /** Whether the entry exists (a link counts as existing only if its target does). */
  exists: boolean
  /** Components of `dir` that do not exist yet (a write creates them). */
  missing: boolean
}

/**
 * Layotto's `local` file store: files under one root directory, named by their path relative to
 * it with `/` separators. Every name is confined to the root: absolute names, `..` segments
 * that leave it, control characters, components over 255 bytes and symbolic links whose
 * target is outside the (real) root are rejected with INVALID_ARGUMENT, and that check runs on
 * the real path (each existing component resolved) BEFORE anything touches the disk: no
 * directory is created and no file opened for a refused name. The operations then use the
 * resolved path, and open files with O_NOFOLLOW so a link swapped in meanwhile is not followed.
 * Writes go to a temporary file (created with O_EXCL) renamed into place, so readers never see
 * a half-written file.
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
    const at = await this.locate(name)
    if (!at.exists) throw this.notFound(name)
    let fh: FileHandle | undefined
    try {
      fh = await fs.open(at.real, O_RDONLY | O_NOFOLLOW)
      return await fh.readFile()
    } catch (err) {
      throw this.mapError(err, name)
    } finally {
      await fh?.close()
    }
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    const at = await this.locate(name)
    // A name that exists through a link inside the root writes to the link's target.
    const target = at.exists ? at.real : path.join(at.dir, at.base)
    const dir = path.dirname(target)
    const tmp = path.join(dir, `.${randomUUID()}.tmp`)
    let fh: FileHandle | undefined
    try {
      if (at.missing) await fs.mkdir(dir, { recursive: true })
      fh = await fs.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666)
      await fh.writeFile(data)
      await fh.close()
      fh = undefined
      await fs.rename(tmp, target)
    } catch (err) {
      await fh?.close()
      await fs.rm(tmp, { force: true })
      throw this.mapError(err, name)
    }
  }

  async list(prefix: string, options: { pageSize?: number; marker?: string } = {}): Promise<{ files: FileInfo[]; marker: string; truncated: boolean }> {
    const normalized = prefix.replace(/^\.?\/+/, '')
    const pageSize = options.pageSize !== undefined && options.pageSize > 0 ? options.pageSize : DEFAULT_PAGE_SIZE
    const marker = options.marker ?? ''
    // Walk only the directory the prefix names, not the whole root, from its real path.
    const slash = normalized.lastIndexOf('/')
    const start = slash < 0 ? '' : normalized.slice(0, slash)
    if (normalized !== '') this.check(normalized) // rejects traversal, absolute prefixes, bad names
    let startReal: string
    if (start === '') {
      startReal = await this.realRoot(prefix)
    } else {
      const at = await this.locate(start)
      if (!at.exists) return { files: [], marker: '', truncated: false }
      startReal = at.real
    }
    const found: Array<{ name: string; real: string }> = []
    await this.walk(startReal, start, found)
    const matching = found.filter((f) => f.name.startsWith(normalized) && f.name > marker).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const page = matching.slice(0, pageSize)
    const files: FileInfo[] = []
    for (const f of page) {
      try {
        const st = await fs.lstat(f.real)
        if (st.isFile()) files.push({ name: f.name, size: st.size, lastModified: st.mtime.toISOString() })
      } catch {
        // Deleted while listing: leave it out.
      }
    }
    const truncated = matching.length > page.length
    return { files, marker: truncated ? page[page.length - 1]!.name : '', truncated }
  }

  async del(name: string): Promise<void> {
    const at = await this.locate(name)
    if (!at.exists) throw this.notFound(name)
    try {
      // The entry itself: a link inside the root is removed, not its target.
      await fs.unlink(path.join(at.dir, at.base))
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  async stat(name: string): Promise<FileInfo> {
    const at = await this.locate(name)
    if (!at.exists) throw this.notFound(name)
    try {
      const st = await fs.lstat(at.real)
      if (!st.isFile()) throw this.notFound(name)
      return { name, size: st.size, lastModified: st.mtime.toISOString() }
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  /**
   * The lexical checks of a name: not empty, no control characters, relative, no component
   * over NAME_MAX bytes, not leaving the root with `..`. Returns its components.
   */
  check(name: string): string[] {
    const bad = (why: string): RuntimeApiError => invalid(`invalid file name ${JSON.stringify(name)} in file store ${this.storeName}: ${why}`)
    if (name === '') throw bad('empty')
    if (CONTROL.test(name)) throw bad('control characters are not allowed')
    if (path.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) throw invalid(`file name ${JSON.stringify(name)} must be relative to the root of file store ${this.storeName}`)
    if (Buffer.byteLength(name) > PATH_MAX_BYTES) throw bad(`too long (over ${PATH_MAX_BYTES} bytes)`)
    for (const c of name.split('/')) {
      if (Buffer.byteLength(c) > NAME_MAX_BYTES) throw bad(`a path component is too long (over ${NAME_MAX_BYTES} bytes)`)
    }
    const rel = path.relative(this.root, path.resolve(this.root, name))
    if (rel === '' || isUp(rel) || path.isAbsolute(rel)) {
      throw invalid(`file name ${JSON.stringify(name)} leaves the root of file store ${this.storeName}`)
    }
    return rel.split(path.sep)
  }

  /**
   * Resolves `name` component by component from the real root: each existing component is
   * lstat-ed and, when it is a symbolic link, replaced by its real path, which must be inside
   * the real root (a dangling link counts as outside: where it would create a file is not
   * known). Reads nothing but metadata and creates nothing.
   */
  private async locate(name: string): Promise<Located> {
    const parts = this.check(name)
    const realRoot = await this.realRoot(name)
    let dir = realRoot
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1
      const next = path.join(dir, parts[i]!)
      let st: Stats
      try {
        st = await fs.lstat(next)
      } catch (err) {
        if (!isNotFound(err)) throw this.mapError(err, name)
        // Nothing from here on exists: the rest is created by a write, under `dir`.
        const rest = parts.slice(i, -1)
        return { dir: path.join(dir, ...rest), base: parts[parts.length - 1]!, real: path.join(dir, ...parts.slice(i)), exists: false, missing: rest.length > 0 }
      }
      let real = next
      if (st.isSymbolicLink()) {
        try {
          real = await fs.realpath(next)
        } catch (err) {
          if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') throw this.outside(name)
          throw this.mapError(err, name)
        }
        if (!inside(realRoot, real)) throw this.outside(name)
      }
      if (last) return { dir, base: parts[i]!, real, exists: true, missing: false }
      dir = real
    }
    throw this.outside(name) // not reached: check() returns at least one component
  }

  private async realRoot(name: string): Promise<string> {
    try {
      return await fs.realpath(this.root)
    } catch (err) {
      throw this.mapError(err, name)
    }
  }

  private outside(name: string): RuntimeApiError {
    return invalid(`file name ${JSON.stringify(name)} leaves the root of file store ${this.storeName} (through a symbolic link)`)
  }

  /** Regular files under `real` (named from `rel`); links are not followed, temporaries skipped. */
  private async walk(real: string, rel: string, out: Array<{ name: string; real: string }>): Promise<void> {
    let entries: import('node:fs').Dirent[]
    try {
      entries = await fs.readdir(real, { withFileTypes: true })
    } catch (err) {
      if (isNotFound(err)) return
      throw err
    }
    for (const e of entries) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`
      const p = path.join(real, e.name)
      if (e.isDirectory()) await this.walk(p, name, out)
      else if (e.isFile() && !e.name.endsWith('.tmp')) out.push({ name, real: p })
    }
  }

  private notFound(name: string): RuntimeApiError {
    return new RuntimeApiError(RuntimeStatus.NOT_FOUND, 'ERR_FILE_NOT_FOUND', `file ${name} not found in file store ${this.storeName}`)
  }

  private mapError(err: unknown, name: string): Error {
    if (err instanceof RuntimeApiError) return err
    if (isNotFound(err)) return this.notFound(name)
    if (isNameTooLong(err)) return invalid(`invalid file name ${JSON.stringify(name)} in file store ${this.storeName}: too long for the file system`)
    return new RuntimeApiError(RuntimeStatus.INTERNAL, 'ERR_FILE_STORE', `file store ${this.storeName}: ${(err as Error).message}`)
  }
}
