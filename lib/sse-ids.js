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
const { sseWriteIds } = require('./native')

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
 * `bytes` (a rendered batch of `events` SSE events) with ids `ms-(seq+k)`: `out` to write, and
 * `slab`, the reused buffer under it to `recycle` once the write called back (null when `out`
 * has its own buffer).
 * @param {Buffer} bytes
 * @param {number} events
 * @param {number} ms
 * @param {number} seq
 * @param {boolean} reuse
 * @returns {{ out: Buffer, slab: Buffer | null }}
 */
function withIds(bytes, events, ms, seq, reuse) {
  // Every id line is at most as long as the last one.
  const size = bytes.length + events * `id: ${ms}-${seq + events - 1}\n`.length
  const slab = reuse && size <= SLAB_BYTES ? (idle.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES)) : null
  const target = slab ?? Buffer.allocUnsafe(size)
  return { out: target.subarray(0, sseWriteIds(bytes, target, ms, seq)), slab }
}

module.exports = { withIds, recycle, reusesBuffers, SLAB_BYTES }
