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
