'use strict'
// The live client's copy of a resumable relay's batch: the engine's rendering with an SSE id
// (`id: ms-seq`, its Redis stream id) before each event, written by the engine
// (`sseWriteIds`) into buffers reused from batch to batch. The CPU profile of the relay
// bench's resumable row showed that a fresh ~90 KB buffer per batch (allocated, first
// touched, freed, its external memory collected) cost the JS thread more than writing the ids.
//
// A buffer is reused only after Node's own `http.ServerResponse#write` called back for it:
// its bytes are then in the socket (or the socket is gone), and nothing holds the buffer.
// Behind anything else (`compression`, a wrapped `res.write`, Bun or Deno's http) nobody can
// say when the bytes have left, so each batch gets a buffer of its own there.

const http = require('node:http')
const { sseEventCount, sseWriteIds } = require('./native')

/** The size of a reused buffer: a batch of the relay bench (2,000 chunks in 8 batches) is ~90 KB with ids. */
const SLAB_BYTES = 256 * 1024
/** How many idle buffers the process keeps for reuse (8 MB at most). */
const MAX_IDLE = 32
/** @type {Buffer[]} */
const idle = []

/** Whether `res.write(chunk, callback)` is Node's own, whose callback says `chunk` is no longer needed. */
function reusesBuffers(res) {
  return (
    !process.versions.bun &&
    typeof (/** @type {any} */ (globalThis).Deno) === 'undefined' &&
    res.write === http.ServerResponse.prototype.write
  )
}

/** Gives a reused buffer back (the write that held it called back). */
function recycle(slab) {
  if (idle.length < MAX_IDLE) idle.push(slab)
}

/**
 * `bytes` (a rendered batch) with SSE ids `ms-(seq+k)` before its events: `out` to write,
 * `events` (how many ids it used), and `slab`, the reused buffer under it to `recycle` once
 * the write called back (null when `out` has a buffer of its own).
 * @param {Buffer} bytes
 * @param {number} ms
 * @param {number} seq
 * @param {boolean} reuse
 * @returns {{ out: Buffer, events: number, slab: Buffer | null }}
 */
function withIds(bytes, ms, seq, reuse) {
  if (reuse) {
    // One pass: the engine counts the events as it writes them.
    const slab = idle.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES)
    const written = sseWriteIds(bytes, slab, ms, seq)
    if (written) return { out: slab.subarray(0, written.length), events: written.events, slab }
    recycle(slab) // a batch too large for a slab gets a buffer of its own
  }
  // Every id line is at most as long as the last one.
  const events = sseEventCount(bytes)
  const target = Buffer.allocUnsafe(bytes.length + events * `id: ${ms}-${seq + events - 1}\n`.length)
  const written = /** @type {{ length: number }} */ (sseWriteIds(bytes, target, ms, seq)) // sized to fit
  return { out: target.subarray(0, written.length), events, slab: null }
}

module.exports = { withIds, recycle, reusesBuffers }
