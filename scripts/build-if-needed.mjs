// Builds the native addon when it is missing or older than any Rust source, so that
// `npm test` and `npm run demo` work on a fresh clone and stay fast afterwards.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const addon = readdirSync(root).find((f) => /^streamdelta\..+\.node$/.test(f))

function newestSource(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

const sources = Math.max(
  newestSource(join(root, 'src')),
  ...['Cargo.toml', 'Cargo.lock', 'build.rs']
    .filter((f) => existsSync(join(root, f)))
    .map((f) => statSync(join(root, f)).mtimeMs),
)

if (addon && statSync(join(root, addon)).mtimeMs >= sources && existsSync(join(root, 'binding.js'))) {
  process.exit(0)
}
console.error(
  addon
    ? 'streamdelta: Rust sources changed, rebuilding the addon'
    : 'streamdelta: building the native addon (first run takes a few minutes)',
)
execSync('npm run build', { cwd: root, stdio: 'inherit' })
