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
    return unpackEvents(this.#native.feed(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes))
  }

  /** End of input: discards an unterminated last event, as the spec does. */
  end() {
    return unpackEvents(this.#native.end())
  }
}

// The engine packs a feed's events into CR-separated UTF-8 and a few strings (see PackedSseEvents in
// src/binding.rs); building the objects here is far cheaper than one N-API object per event,
// and split() shares the big string's memory instead of copying each value.
const utf8 = new TextDecoder()
function unpackEvents(packed) {
  const { count } = packed
  if (count === 0) return []
  const joined = utf8.decode(packed.data)
  const data = count === 1 ? [joined] : joined.split('\r')
  const types = packed.types === undefined ? null : packed.types.split('\r')
  const ids = packed.ids === undefined ? null : packed.ids.split('\r')
  const events = new Array(count)
  for (let i = 0; i < count; i++) {
    events[i] = { event: types === null ? 'message' : types[i], data: data[i], id: ids === null ? packed.id : ids[i] }
  }
  if (packed.retries !== undefined) {
    for (const pair of packed.retries.split(',')) {
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
