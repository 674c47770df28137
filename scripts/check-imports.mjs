// Fails when the JS layer's modules import each other in a circle: lib/ flows one way
// (index.js -> client/parse -> streams -> base-stream -> relay -> leaves). Reads the
// `require('./...')` calls of index.js, testing.js and lib/**/*.js; no module is loaded.
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return jsFiles(path)
    return entry.name.endsWith('.js') ? [path] : []
  })
}

function resolveLocal(from, spec) {
  const base = resolve(dirname(from), spec)
  for (const candidate of [base, `${base}.js`, join(base, 'index.js')]) {
    if (candidate.endsWith('.js') && existsSync(candidate)) return candidate
  }
  return null
}

const files = [join(root, 'index.js'), join(root, 'testing.js'), ...jsFiles(join(root, 'lib'))]
const edges = new Map()
for (const file of files) {
  const source = readFileSync(file, 'utf8')
  const targets = []
  for (const match of source.matchAll(/require\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    const target = resolveLocal(file, match[1])
    if (target) targets.push(target)
  }
  edges.set(file, targets)
}

// Depth-first search keeping the current path: a target already on it closes a circle.
const done = new Set()
const circles = []
function visit(file, path) {
  if (done.has(file)) return
  const at = path.indexOf(file)
  if (at !== -1) {
    circles.push([...path.slice(at), file].map((f) => relative(root, f)).join(' -> '))
    return
  }
  for (const target of edges.get(file) ?? []) visit(target, [...path, file])
  done.add(file)
}
for (const file of files) visit(file, [])

if (circles.length > 0) {
  console.error(`lib/ must flow one way; these modules import each other in a circle:\n  ${circles.join('\n  ')}`)
  process.exit(1)
}
console.log(`imports: ${files.length} modules, no circle`)
