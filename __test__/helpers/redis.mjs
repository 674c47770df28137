// A real redis-server for tests: Debian's package (.ci/run installs it), started on a free
// port of 127.0.0.1 with persistence off, stopped by the test that started it.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { freePort } from './server.mjs'

const require = createRequire(import.meta.url)

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p))
/** A `skip` for node:test when there is no redis-server, saying why. */
export const skipWithoutRedis = REDIS_SERVER
  ? false
  : 'redis-server is not installed (apt-get install redis-server; .ci/run does)'

/**
 * Starts redis-server (on `port`, else a free one) and a client of it (the npm `redis`).
 * @returns {Promise<{ port: number, url: string, process: import('node:child_process').ChildProcess, client: any, stop(): Promise<void> }>}
 */
export async function startRedis(port) {
  port ??= await freePort()
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (output += d))
  const deadline = Date.now() + 10_000
  while (!/Ready to accept connections/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const url = `redis://127.0.0.1:${port}`
  const { createClient } = require('redis')
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  return {
    port,
    url,
    process: child,
    client,
    async stop() {
      if (client.isOpen) await client.close().catch(() => client.destroy())
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    },
  }
}
