'use strict'
// streamdelta's public API (see index.d.ts for the documentation users read).

const { NativeDecoder, NativeSseParser } = require('./binding.js')
const { Client } = require('./lib/client')
const { ChatStream, ResponseStream, CompletionStream } = require('./lib/streams')
const { BaseStream } = require('./lib/stream')
const { ByteSource } = require('./lib/sources')
const errors = require('./lib/errors')

/**
 * Parses chat-completion SSE bytes you already have (a fetch Response, a web ReadableStream,
 * a Node Readable or an AsyncIterable<Uint8Array>) into a ChatStream.
 */
function parseChatStream(source, options = {}) {
  return parseWith(ChatStream, 'chat', source, options)
}

/** Parses Responses API SSE bytes you already have into a ResponseStream. */
function parseResponseStream(source, options = {}) {
  return parseWith(ResponseStream, 'responses', source, options)
}

/** Parses legacy completions SSE bytes you already have into a CompletionStream. */
function parseCompletionStream(source, options = {}) {
  return parseWith(CompletionStream, 'completions', source, options)
}

function parseWith(StreamClass, format, source, options) {
  const decoder = new NativeDecoder(format, options.maxEventBytes ?? undefined)
  return new StreamClass(new ByteSource(decoder, source), { signal: options.signal })
}

/** The bare WHATWG event-stream parser: feed bytes, get events. */
class SseParser {
  #native
  constructor(options = {}) {
    this.#native = new NativeSseParser(options.maxEventBytes ?? undefined)
  }

  /** @param {Uint8Array|string} bytes */
  feed(bytes) {
    const native = this.#native
    const ends = native.feed(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes)
    if (ends.length === 0) return []
    return eventsFrom(ends, native.text(), native.extras())
  }

  /** End of input: discards an unterminated last event, as the spec does. */
  end() {
    this.#native.end()
    return []
  }
}

// The engine hands a feed's events over as one string of all their data plus where each ends,
// and the types/ids/retries only when they vary (see EventPacker in src/binding.rs). Building
// the objects here is far cheaper than one N-API object per event, and slice() shares the big
// string's memory instead of copying each value.
function eventsFrom(ends, text, extras) {
  const count = ends.length
  const types = extras?.types?.split('\r') ?? null
  const ids = extras?.ids?.split('\r') ?? null
  const id = extras?.id ?? ''
  const events = new Array(count)
  let start = 0
  for (let i = 0; i < count; i++) {
    const end = ends[i]
    events[i] = { event: types === null ? 'message' : types[i], data: text.slice(start, end), id: ids === null ? id : ids[i] }
    start = end
  }
  if (extras?.retries) {
    for (const pair of extras.retries.split(',')) {
      const colon = pair.indexOf(':')
      events[Number(pair.slice(0, colon))].retry = Number(pair.slice(colon + 1))
    }
  }
  return events
}

module.exports = {
  Client,
  BaseStream,
  ChatStream,
  ResponseStream,
  CompletionStream,
  parseChatStream,
  parseResponseStream,
  parseCompletionStream,
  SseParser,
  StreamDeltaError: errors.StreamDeltaError,
  APIError: errors.APIError,
  AuthenticationError: errors.AuthenticationError,
  RateLimitError: errors.RateLimitError,
  ConnectionError: errors.ConnectionError,
  TimeoutError: errors.TimeoutError,
  AbortError: errors.AbortError,
  StreamError: errors.StreamError,
  ParseError: errors.ParseError,
  IncompleteStreamError: errors.IncompleteStreamError,
}
