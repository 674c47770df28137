'use strict'
// Bring your own bytes: SSE you already have (a fetch Response, a web ReadableStream, a Node
// Readable or an AsyncIterable<Uint8Array>) decoded by the same Rust decoder as HTTP streams.

const { NativeDecoder, WireFormat } = require('./native')
const { ChatStream, ResponseStream, CompletionStream } = require('./endpoint-streams')
const { ByteSource } = require('./sources')
const { checkNames } = require('./options')

/**
 * Parses chat-completion SSE bytes you already have (a fetch Response, a web ReadableStream,
 * a Node Readable or an AsyncIterable<Uint8Array>) into a ChatStream.
 */
function parseChatStream(source, options = {}) {
  return parseWith(ChatStream, WireFormat.Chat, source, options)
}

/** Parses Responses API SSE bytes you already have into a ResponseStream. */
function parseResponseStream(source, options = {}) {
  return parseWith(ResponseStream, WireFormat.Responses, source, options)
}

/** Parses legacy completions SSE bytes you already have into a CompletionStream. */
function parseCompletionStream(source, options = {}) {
  return parseWith(CompletionStream, WireFormat.Completions, source, options)
}

function parseWith(StreamClass, format, source, options) {
  if (options === null || typeof options !== 'object')
    throw new TypeError('streamdelta: parse options must be an object')
  checkNames(options, ['signal', 'maxEventBytes'], 'parse option')
  const decoder = new NativeDecoder(format, options.maxEventBytes ?? undefined)
  return new StreamClass(new ByteSource(decoder, source), { signal: options.signal })
}

module.exports = { parseChatStream, parseResponseStream, parseCompletionStream }
