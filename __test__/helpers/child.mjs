// Runs a child Node process (process.execPath) and reports how it ended, so tests can assert
// that a script exits by itself. A hang is killed after `timeout` ms and reported, never waited on.
import { spawn } from 'node:child_process'

/**
 * @param {string} source the script (CommonJS unless `module: true`)
 * @returns {Promise<{ code: number|null, signal: string|null, stdout: string, stderr: string, ms: number, timedOut: boolean }>}
 */
export function runNode(source, { module = false, env = {}, timeout = 10_000, cwd } = {}) {
  const args = module ? ['--input-type=module', '-e', source] : ['-e', source]
  const started = Date.now()
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeout)
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut })
    })
  })
}
