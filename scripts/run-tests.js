#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node:test. Arguments narrow the
// run to files whose path contains one of them: `npm test -- stats admin`.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: top, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)

function list(dir) {
  if (!fs.existsSync(dir)) return []
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...list(p))
    else if (e.name.endsWith('.test.js')) out.push(p)
  }
  return out.sort()
}

const filters = process.argv.slice(2)
// Only compiled tests whose source still exists: a renamed or deleted test leaves its old
// output in dist/ until the next clean build.
const hasSource = (f) => fs.existsSync(path.join(top, path.relative(path.join(top, 'dist'), f)).replace(/\.js$/, '.ts'))
const files = list(path.join(top, 'dist/test')).filter(hasSource).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const concurrency = Math.max(2, os.availableParallelism())
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { cwd: top, stdio: 'inherit' })
process.exit(r.status ?? 1)
