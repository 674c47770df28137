// What every scenario's report shares: the median, the lines saying where and how it ran, so
// anyone can reproduce a table, and where the results go.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Date, machine and Node version, as Markdown list items. */
export function machineLines() {
  const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown'
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.machine()}, ${os.cpus().length} CPUs (${cpuModel}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    `- Node ${process.version}`,
  ]
}

/** The command line that ran this script, relative to the working directory. */
export function nodeCommand(rounds) {
  const node = path.relative(process.cwd(), process.execPath) || process.execPath
  const script = path.relative(process.cwd(), process.argv[1])
  return `${process.env.ROUNDS ? `ROUNDS=${rounds} ` : ''}${[node, ...process.execArgv, script, ...process.argv.slice(2)].join(' ')}`
}

/** Writes bench/results/<name>.md and <name>.json (JSON text, as the scenario serialized it),
 *  which run.mjs gathers into the README. */
export function writeResults(name, markdown, json) {
  mkdirSync(path.join(here, 'results'), { recursive: true })
  writeFileSync(path.join(here, 'results', `${name}.md`), markdown)
  writeFileSync(path.join(here, 'results', `${name}.json`), json)
}
