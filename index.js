'use strict'
// streamdelta's public API: this file only re-exports (index.d.ts is the documentation users
// read; lib/ holds one concern per module, CONTRIBUTING.md says which).

const { Client } = require('./lib/client')
const { BaseStream } = require('./lib/base-stream')
const { ChatStream, ResponseStream, CompletionStream } = require('./lib/endpoint-streams')
const { ToolRunStream } = require('./lib/tool-runner')
const { parseChatStream, parseResponseStream, parseCompletionStream } = require('./lib/parse')
const { SseParser } = require('./lib/sse-parser')
const { toChatMessages, toResponseInput } = require('./lib/ui-messages')
const errors = require('./lib/errors')
const { RelayStore } = require('./lib/relay-store')

module.exports = {
  Client,
  BaseStream,
  ChatStream,
  ResponseStream,
  CompletionStream,
  ToolRunStream,
  parseChatStream,
  parseResponseStream,
  parseCompletionStream,
  SseParser,
  RelayStore,
  toChatMessages,
  toResponseInput,
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
