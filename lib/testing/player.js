'use strict'
// Plays a format's events onto an HTTP response: the time to first token, the interval
// between events, and the in-stream faults (drop, stall, malformed line, error event).
// Without an interval, events are joined into writes of about 16 KiB; every write respects
// backpressure ('drain'), and everything stops the moment the client goes away.

const { setTimeout: sleep } = require('node:timers/promises')
const { once } = require('node:events')

// Measured (bench/mock-throughput.mjs): 16 KiB writes cost the server about half the CPU of 64 KiB
// ones on loopback (the kernel copy dominates and stays in cache).
const BATCH_CHARS = 16 * 1024

/**
 * @param {import('node:http').ServerResponse} res headers already written
 * @param {{ frames(): Iterable<string>, endFrame: string, errorFrames(e): string, malformedFrame(l?): string }} format
 * @param {{ ttftMs: number, intervalMs: number }} timing
 * @param {object|null} fault a normalised in-stream fault (`after` set) or null
 * @param {AbortSignal} signal aborted when the response closes (client gone, server closing)
 * @param {() => void} [onDrop] called just before the mock itself drops the connection
 */
async function play(res, format, timing, fault, signal, onDrop) {
  let pending = ''
  let sent = 0
  const flush = async () => {
    if (pending === '' || signal.aborted) return
    const ok = res.write(pending)
    pending = ''
    if (!ok) await drained(res, signal)
  }

  try {
    if (timing.ttftMs > 0) await sleep(timing.ttftMs, undefined, { signal })
    const after = fault?.after
    const frames = format.frames()[Symbol.iterator]()
    let injected = false
    for (;;) {
      // The fault is checked before the next event is even made, so none is made and lost.
      if (sent === after && !injected) {
        if (fault.kind !== 'malformed') return await finishWithFault(res, format, fault, pending, signal, onDrop)
        pending += format.malformedFrame(fault.line)
        injected = true
      }
      const step = frames.next()
      if (step.done || signal.aborted) break
      if (timing.intervalMs > 0 && sent > 0) {
        await flush()
        await sleep(timing.intervalMs, undefined, { signal })
      }
      pending += step.value
      sent++
      if (timing.intervalMs > 0 || pending.length >= BATCH_CHARS) await flush()
    }
    if (signal.aborted) return
    // A fault later than the last event takes the place of the end marker.
    if (fault && after !== undefined && sent < after) {
      if (fault.kind !== 'malformed') return await finishWithFault(res, format, fault, pending, signal, onDrop)
      pending += format.malformedFrame(fault.line)
    }
    pending += format.endFrame
    await flush()
    if (!signal.aborted) res.end()
  } catch (error) {
    if (error?.name !== 'AbortError') throw error
  }
}

async function finishWithFault(res, format, fault, pending, signal, onDrop) {
  switch (fault.kind) {
    case 'error':
      res.end(pending + format.errorFrames(fault.error))
      return
    case 'drop': {
      // Whatever was written goes out first, then the connection closes mid-body (the
      // chunked body never gets its last chunk): a dropped connection, as a client sees it.
      // The socket is ended from a write's callback: Node 24.22 holds a response's writes
      // until the next tick, and ending the socket before then would lose them.
      const socket = res.socket
      if (!socket) return
      res.write(pending, () => {
        onDrop?.()
        socket.end()
        const timer = setTimeout(() => socket.destroy(), 1000)
        timer.unref()
        socket.once('close', () => clearTimeout(timer))
      })
      return
    }
    case 'stall':
      if (pending !== '') res.write(pending)
      // Keep the connection open and silent until the client (or close()) ends it.
      if (!signal.aborted) await once(signal, 'abort')
      return
    default:
      throw new Error(`unknown fault kind ${fault.kind}`)
  }
}

/** Resolves on 'drain', or when the response is closed (signal aborted). */
function drained(res, signal) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    res.on('drain', done)
    signal.addEventListener('abort', done)
  })
}

module.exports = { play }
