'use strict'
// `SseParser`: the bare WHATWG event-stream parser (framing only, no JSON), run by the engine
// (src/sse.rs) and unpacked here from one packed string per feed (src/sse_pack.rs).

const { NativeSseParser } = require('./native')
const { checkNames } = require('./options')

/** The bare WHATWG event-stream parser: feed bytes, get events. */
class SseParser {
  #native
  /** @param {{ maxEventBytes?: number }} [options] */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('streamdelta: SseParser options must be an object')
    checkNames(options, ['maxEventBytes'], 'SseParser option')
    this.#native = new NativeSseParser(options.maxEventBytes ?? undefined)
  }

  /** @param {Uint8Array|string} bytes */
  feed(bytes) {
    const packed = this.#native.feed(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes)
    return packed === '' ? [] : eventsFrom(packed, this.#native)
  }

  /** End of input: discards an unterminated last event, as the spec does. */
  end() {
    this.#native.end()
    return []
  }
}

// Flags and the wide-string bit of src/sse_pack.rs.
const EXTRAS = 1
const NARROW = 2
const IN_WIDE = 0x80000000

// The engine hands a feed's events over as at most two strings: ASCII data back to back in a
// narrow one, the rest in a wide one followed by a trailer of 16-bit units saying where each
// event's data ends (and in which string), how many events there are, and flags (see
// src/sse_pack.rs). Building the objects here is far cheaper than one N-API object per event,
// and slice() shares the strings' memory instead of copying each value.
function eventsFrom(wide, native) {
  const length = wide.length
  const flags = wide.charCodeAt(length - 1)
  const count = wide.charCodeAt(length - 3) + wide.charCodeAt(length - 2) * 0x10000
  const narrow = flags & NARROW ? native.narrow() : ''
  const extras = flags & EXTRAS ? native.extras() : null
  const types = extras?.types?.split('\r') ?? null
  const ids = extras?.ids?.split('\r') ?? null
  const id = extras?.id ?? ''
  const events = new Array(count)
  let narrowStart = 0
  let wideStart = 0
  let at = length - 3 - 2 * count
  for (let i = 0; i < count; i++, at += 2) {
    const end = wide.charCodeAt(at) + wide.charCodeAt(at + 1) * 0x10000
    let data
    if (end >= IN_WIDE) {
      data = wide.slice(wideStart, (wideStart = end - IN_WIDE))
    } else {
      data = narrow.slice(narrowStart, (narrowStart = end))
    }
    events[i] = { event: types === null ? 'message' : types[i], data, id: ids === null ? id : ids[i] }
  }
  if (extras?.retries) {
    for (const pair of extras.retries.split(',')) {
      const colon = pair.indexOf(':')
      events[Number(pair.slice(0, colon))].retry = Number(pair.slice(colon + 1))
    }
  }
  return events
}

module.exports = { SseParser, eventsFrom }
