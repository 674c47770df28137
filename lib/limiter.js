'use strict'
// `maxConcurrent`: how many of a client's requests are in flight at once. The rest wait in
// FIFO order for a slot; `queueTimeout` bounds the wait; a rate-limit answer that said
// nothing remains holds the queue until its reset time. A leaf module: client.js owns one per
// client, sources.js' QueuedSource waits in it.

/**
 * One request waiting for (or holding) a slot.
 * @typedef {object} Ticket
 * @property {() => void} start called once, when it gets its slot
 * @property {(waitedMs: number) => void} timeout called instead when `queueTimeout` elapsed
 */

class Limiter {
  #max
  #queueTimeout
  #inFlight = 0
  /** @type {Array<{ ticket: Ticket, timer: NodeJS.Timeout | null, at: number }>} */
  #queue = []
  /** Epoch ms until which nothing starts (a rate limit said nothing remains); 0: no hold. */
  #holdUntil = 0
  #holdTimer = null

  /**
   * @param {number} maxConcurrent
   * @param {number | undefined} queueTimeout ms
   */
  constructor(maxConcurrent, queueTimeout) {
    this.#max = maxConcurrent
    this.#queueTimeout = queueTimeout
  }

  get inFlight() {
    return this.#inFlight
  }

  get queued() {
    return this.#queue.length
  }

  /** Epoch ms until which the queue is held by a rate limit, or 0. */
  get heldUntil() {
    return this.#held() ? this.#holdUntil : 0
  }

  #held() {
    return this.#holdUntil > Date.now()
  }

  /**
   * Starts `ticket` now when a slot is free and nobody waits before it; otherwise queues it.
   * @param {Ticket} ticket
   */
  enter(ticket) {
    if (this.#queue.length === 0 && this.#inFlight < this.#max && !this.#held()) {
      this.#inFlight++
      ticket.start()
      return
    }
    const entry = { ticket, timer: null, at: performance.now() }
    if (this.#queueTimeout !== undefined) {
      entry.timer = setTimeout(() => {
        if (!this.#remove(entry)) return
        ticket.timeout(performance.now() - entry.at)
      }, this.#queueTimeout)
    }
    this.#queue.push(entry)
    this.#holdTimer?.ref()
  }

  /**
   * A queued ticket leaves the queue (its stream was aborted); false when it was not queued.
   * @param {Ticket} ticket
   */
  leave(ticket) {
    const entry = this.#queue.find((e) => e.ticket === ticket)
    return entry !== undefined && this.#remove(entry)
  }

  #remove(entry) {
    const at = this.#queue.indexOf(entry)
    if (at === -1) return false
    this.#queue.splice(at, 1)
    if (entry.timer) clearTimeout(entry.timer)
    return true
  }

  /** A slot frees (its stream ended, failed or was aborted): the next in line starts. */
  release() {
    this.#inFlight--
    this.#drain()
  }

  /**
   * Holds the queue until `until` (epoch ms), or lifts the hold (0): the last answer said
   * nothing remains until then, or that something does.
   * @param {number} until
   */
  holdUntil(until) {
    this.#holdUntil = until
    if (this.#holdTimer) {
      clearTimeout(this.#holdTimer)
      this.#holdTimer = null
    }
    if (this.#held()) {
      // Only while somebody waits does the hold keep the process alive.
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = null
        this.#drain()
      }, until - Date.now())
      if (this.#queue.length === 0) this.#holdTimer.unref()
    } else {
      this.#drain()
    }
  }

  #drain() {
    if (this.#held()) {
      this.#holdTimer?.ref()
      return
    }
    while (this.#queue.length > 0 && this.#inFlight < this.#max) {
      const entry = this.#queue.shift()
      if (!entry) break
      if (entry.timer) clearTimeout(entry.timer)
      this.#inFlight++
      entry.ticket.start()
    }
  }
}

module.exports = { Limiter }
