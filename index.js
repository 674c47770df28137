'use strict'
// streamdelta's public API (see index.d.ts for the documentation users read).

const { NativeDecoder, NativeSseParser } = require('./binding.js')
const { Client } = require('./lib/client')
const { ChatStream } = require('./lib/streams')
const { BaseStream } = require('./lib/stream')
const { ByteSource } = require('./lib/sources')
const errors = require('./lib/errors')

/**
 * Parses chat-completion SSE bytes you already have (a fetch Response, a web ReadableStream,
 * a Node Readable or an AsyncIterable<Uint8Array>) into a ChatStream.
 */
function parseChatStream(source, options = {}) {
  const decoder = new NativeDecoder('chat', options.maxEventBytes ?? undefined)
  return new ChatStream(new ByteSource(decoder, source), { signal: options.signal })
}

/** The bare WHATWG event-stream parser: feed bytes, get events. */
class SseParser {
  #native
  constructor(options = {}) {
    this.#native = new NativeSseParser(options.maxEventBytes ?? undefined)
  }

  /** @param {Uint8Array|string} bytes */
  feed(bytes) {
    return this.#native.feed(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes)
  }

  /** End of input: discards an unterminated last event, as the spec does. */
  end() {
    return this.#native.end()
  }
}

module.exports = {
  Client,
  BaseStream,
  ChatStream,
  parseChatStream,
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
