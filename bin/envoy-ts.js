#!/usr/bin/env node
// The installed `envoy-ts` command. The TypeScript build (npm run build, run by `prepare`)
// writes dist/; without it there is nothing to run.
import fs from 'node:fs'

const entry = new URL('../dist/source/exe/main.js', import.meta.url)
if (!fs.existsSync(entry)) {
  process.stderr.write('envoy-ts: not built yet: run `npm run build` (npm ci does it for you)\n')
  process.exit(1)
}
await import(entry.href)
