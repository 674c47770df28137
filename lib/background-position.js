'use strict'
// Where a background Responses answer can be picked up again: its response id and the highest
// `sequence_number` relayed so far. A resumable relay (relay-store.js) records both with every
// batch, so that when its producer dies another instance can take the upstream over with
// `client.resumeResponse(id, { startingAfter })` from exactly where the log ends.

/**
 * A top-level `sequence_number` in the raw JSON of a batch. Payload text cannot fake one: in
 * JSON text a quote inside a string is always escaped (`\"`), so an unescaped `"` after `{` or
 * `,` opens a key. The events have no nested `sequence_number`.
 */
const SEQUENCE = /[{,]\s*"sequence_number"\s*:\s*(\d+)/g

class BackgroundPosition {
  /** The response id, once a batch named it with `background: true`; null before or never. */
  responseId = null
  /** The highest sequence number seen, or null. */
  sequence = null
  /** False once the stream is known not to be a background response (nothing more to read). */
  #watching = true

  /** @param {string | null} [responseId] known already when taking over (the resumed events do not name it) */
  constructor(responseId = null) {
    this.responseId = responseId
  }

  /**
   * Reads one batch's raw provider objects (a JSON array string). Returns the fields to record
   * with the batch (`r` the response id, `q` the sequence number), or null when there is
   * nothing to record.
   * @param {{ raw(): string }} batch
   * @returns {string[] | null}
   */
  observe(batch) {
    if (!this.#watching) return null
    const raw = batch.raw()
    if (this.responseId === null) {
      // The first events (response.created) carry the response object: parse until one did.
      let objects
      try {
        objects = JSON.parse(raw)
      } catch {
        return null
      }
      for (const object of objects) {
        const response = object?.response
        if (response && typeof response.id === 'string') {
          if (response.background !== true) {
            this.#watching = false // only a background response can be resumed by id
            return null
          }
          this.responseId = response.id
          break
        }
      }
      if (this.responseId === null) return null
    }
    let last = null
    for (const match of raw.matchAll(SEQUENCE)) last = match[1]
    if (last !== null) this.sequence = Number(last)
    if (this.sequence === null) return null
    return ['r', this.responseId, 'q', String(this.sequence)]
  }
}

module.exports = { BackgroundPosition }
