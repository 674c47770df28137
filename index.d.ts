// streamdelta: OpenAI-compatible streams parsed in Rust, consumed from Node.js.
// This file is written by hand and is the reference users read. The generated
// `binding.d.ts` describes the internal native layer and is not part of the public API.

/// <reference types="node" />

import type { Readable } from 'node:stream'

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/** Options of `new Client(options)`. Every field is optional. */
export interface ClientOptions {
  /** API key, sent as `Authorization: Bearer` (or `api-key` with `azure`). Default: `process.env.OPENAI_API_KEY`. Never appears in errors, logs or returned headers. */
  apiKey?: string
  /** Base URL of the API. Default: `process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'`. Any OpenAI-compatible server works. */
  baseURL?: string
  /** Sent as the `OpenAI-Organization` header. */
  organization?: string
  /** Sent as the `OpenAI-Project` header. */
  project?: string
  /** Extra headers on every request (`null`/`undefined` values are skipped). */
  headers?: Record<string, string | number | boolean | null | undefined>
  /** Extra query parameters on every request. */
  query?: Record<string, string | number | boolean | null | undefined>
  /** Milliseconds until response headers must arrive, per attempt. Default 600_000. */
  timeout?: number
  /** Milliseconds of silence allowed between body bytes once streaming. Default 120_000. */
  idleTimeout?: number
  /** Retries on connection errors, 408, 409, 429 and 5xx; only before the first body byte. Default 2. */
  maxRetries?: number
  /** Largest single SSE event accepted, in bytes; a larger one fails with `ParseError`. Default 128 MiB. */
  maxEventBytes?: number
  /** `'debug'` logs requests, statuses, retries and timings to stderr (the key never appears). Default: `process.env.STREAMDELTA_LOG ?? 'off'`. */
  log?: 'debug' | 'off'
  /** Azure OpenAI layout: `{baseURL}/openai/deployments/{deployment ?? body.model}/...?api-version=` and the `api-key` header. */
  azure?: { apiVersion: string; deployment?: string }
}

/** Per-request options: the second argument of every call. Override the client's values. */
export interface RequestOptions {
  /** Aborting it aborts the stream (consumers end with `AbortError`). An already-aborted signal makes no request. */
  signal?: AbortSignal
  headers?: Record<string, string | number | boolean | null | undefined>
  query?: Record<string, string | number | boolean | null | undefined>
  timeout?: number
  idleTimeout?: number
  maxRetries?: number
}

/** The request body of `/chat/completions`. `stream: true` is always sent. */
export interface ChatCompletionRequest {
  model: string
  messages: Array<Record<string, unknown>>
  /** `{ include_usage: true }` makes the server send a `usage` delta at the end. */
  stream_options?: { include_usage?: boolean; [key: string]: unknown }
  n?: number
  [key: string]: unknown
}

export class Client {
  /** Throws a `TypeError` naming the field when an option is malformed. */
  constructor(options?: ClientOptions)
  /** The base URL requests go to. */
  readonly baseURL: string
  /**
   * Streams a chat completion: POST `{baseURL}/chat/completions` with `stream: true`.
   * Returns at once; the request starts immediately. Throws a `TypeError` synchronously for a
   * body that is not an object, a missing `model`, or malformed options.
   */
  chat(body: ChatCompletionRequest, options?: RequestOptions): ChatStream
  /**
   * Streams a Responses API answer: POST `{baseURL}/responses` with `stream: true`. With
   * `background: true`, a stream that breaks after sequence-numbered events reconnects with
   * `starting_after` (within `maxRetries`), skips what it already had, and carries on as one stream.
   */
  responses(body: ResponseRequest, options?: RequestOptions): ResponseStream
  /** Re-attaches to a background response: GET `{baseURL}/responses/{id}?stream=true&starting_after=N`. */
  resumeResponse(id: string, position?: { startingAfter?: number }, options?: RequestOptions): ResponseStream
  /** Streams a legacy completion: POST `{baseURL}/completions` with `stream: true`. */
  completions(body: CompletionRequest, options?: RequestOptions): CompletionStream
}

/** The request body of `/responses`. `stream: true` is always sent. */
export interface ResponseRequest {
  model: string
  input?: unknown
  /** Run in the background; the stream resumes by itself if it breaks. */
  background?: boolean
  [key: string]: unknown
}

/** The request body of the legacy `/completions`. `stream: true` is always sent. */
export interface CompletionRequest {
  model: string
  prompt: string | string[]
  [key: string]: unknown
}

// ---------------------------------------------------------------------------------------
// Deltas
// ---------------------------------------------------------------------------------------

/** Content text of one choice. */
export interface TextDelta {
  type: 'text'
  /** Choice index, 0 unless `n > 1`. */
  choice: number
  text: string
}

/** Refusal text of one choice (`delta.refusal`). */
export interface RefusalDelta {
  type: 'refusal'
  choice: number
  text: string
}

/** Reasoning text (`delta.reasoning_content` or `delta.reasoning`). */
export interface ReasoningDelta {
  type: 'reasoning'
  choice: number
  text: string
}

/** A fragment of a tool call. `id` and `name` come with the first fragment (some servers repeat them). */
export interface ToolCallDelta {
  type: 'toolCallDelta'
  choice: number
  /** The tool call's position (`tool_calls[].index`); servers may start at 1. */
  index: number
  id?: string
  name?: string
  /** This fragment of the JSON arguments text. */
  arguments: string
  /** `'function'` for chat tool calls and responses function calls. */
  kind: string
}

/** A choice finished: `stop`, `length`, `content_filter`, `tool_calls`, `function_call`, ... */
export interface FinishDelta {
  type: 'finish'
  choice: number
  reason: string
}

/** Token usage, as the provider sent it. */
export interface UsageDelta {
  type: 'usage'
  usage: Usage
}

/** One parsed piece of a stream, discriminated by `type`. */
export type Delta =
  | TextDelta
  | RefusalDelta
  | ReasoningDelta
  | ToolCallDelta
  | CompletedToolCall
  | FinishDelta
  | UsageDelta

export interface Usage {
  prompt_tokens?: number
  completion_tokens?: number
  total_tokens?: number
  [key: string]: unknown
}

/** A tool call once its arguments are whole: the `toolCall` Delta (and event). */
export interface CompletedToolCall {
  type: 'toolCall'
  /** `''` when the provider sent none. */
  id: string
  name: string
  arguments: string
  index: number
  choice: number
  kind: string
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/** A raw `chat.completion.chunk` object, as the provider sent it. */
export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk' | string
  created: number
  model: string
  choices: Array<{
    index: number
    delta?: Record<string, unknown> | null
    finish_reason: string | null
    [key: string]: unknown
  }>
  usage?: Usage | null
  [key: string]: unknown
}

/** The accumulated result of a chat stream, shaped like the non-streaming `chat.completion`. */
export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint?: string
  choices: Array<{
    index: number
    message: {
      role: 'assistant'
      content: string | null
      refusal: string | null
      /** Present when reasoning text arrived. */
      reasoning_content?: string
      tool_calls?: Array<{ id: string | null; type: 'function'; function: { name: string; arguments: string } }>
      /** Legacy `function_call`, when the server streamed one on its own. */
      function_call?: { name: string; arguments: string }
    }
    finish_reason: string | null
    logprobs: null
  }>
  usage: Usage | null
}

export interface StreamStats {
  /** Milliseconds from the request start to the first chunk; `null` before it. */
  ttftMs: number | null
  /** Provider chunks received so far. */
  chunks: number
  /** Body bytes received so far. */
  bytes: number
  /** Milliseconds from the start to the end (or to now while running). */
  durationMs: number
}

export interface ResponseInfo {
  status: number
  /** Response headers, lower-case names. */
  headers: Record<string, string>
  /** The `x-request-id` header, when present. */
  requestId: string | null
}

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

/** Listener signatures of the stream events. */
export interface StreamEvents<Final, Chunk> {
  /** Content text; `snapshot` is the choice's text so far. */
  text: (text: string, snapshot: string, choice: number) => void
  refusal: (text: string, snapshot: string, choice: number) => void
  reasoning: (text: string, snapshot: string, choice: number) => void
  /** Every tool-call fragment. */
  toolCallDelta: (delta: ToolCallDelta) => void
  /** A tool call whose arguments are whole (the next call started, or its choice finished). */
  toolCall: (call: CompletedToolCall) => void
  finish: (reason: string, choice: number) => void
  usage: (usage: Usage) => void
  /** Every raw provider object. */
  chunk: (chunk: Chunk) => void
  /** The stream failed. With no `error` listener, no iterator and no pending `final()`, the error surfaces as an unhandled rejection, as an EventEmitter's would. */
  error: (error: StreamDeltaError) => void
  /** The stream completed; the argument is what `final()` resolves with. */
  end: (final: Final) => void
  /** The stream was aborted. */
  abort: (error: AbortError) => void
}

/**
 * One pass over one streamed response, consumable in any mix of ways: one iterator
 * (`for await` of the stream, `text()` or `chunks()`), events, and `final()`.
 *
 * While an iterator is active it paces the stream: the engine stops reading the socket when
 * the iterator stops pulling (memory stays bounded). Listeners and `final()` alone make the
 * stream flow. Events fire in arrival order per batch: `chunk` events of a batch before its
 * delta events. A stream with listeners, a pending `final()` or an active iterator keeps the
 * process alive until it ends; an unconsumed stream does not (its request is dropped when the
 * stream is garbage-collected).
 */
export declare class BaseStream<Final, Chunk> implements AsyncIterable<Delta> {
  /** Deltas in arrival order. `break` cancels the request. A second concurrent iterator throws. */
  [Symbol.asyncIterator](): AsyncIterator<Delta>
  /** Choice 0's content text; deltas that arrived together may come as one string. */
  text(): AsyncIterableIterator<string>
  /** The raw provider objects. */
  chunks(): AsyncIterableIterator<Chunk>
  on<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  addListener<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  once<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  off<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  removeListener<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  removeAllListeners(event?: keyof StreamEvents<Final, Chunk>): this
  listenerCount(event: keyof StreamEvents<Final, Chunk>): number
  /** The accumulated result. Rejects with the stream's error (which carries `partial`). */
  final(): Promise<Final>
  /** Cancels the request at once; consumers end with `AbortError` (with `partial` once data arrived). */
  abort(reason?: unknown): void
  /** Aborted when the stream is aborted or fails. */
  readonly signal: AbortSignal
  /** Counters as of now. */
  readonly stats: StreamStats
  /** Resolves once response headers arrived (rejects if the request failed before them). For `parseChatStream`, resolves with the `Response`'s status and headers, or `null` for other sources. */
  readonly response: Promise<ResponseInfo | null>

  /**
   * Relays the stream to a Node `ServerResponse` (node:http, Express, Fastify's `reply.raw`).
   * Waits for the upstream response first: a failure before the first byte becomes an HTTP
   * status (upstream 4xx kept, 401/403 and 5xx -> 502, timeouts -> 504) with a JSON body
   * `{ error: { message, type, code } }`. Then sets `content-type`,
   * `cache-control: no-cache, no-transform` and `x-accel-buffering: no`, writes one chunk per
   * batch (calling `res.flush()` when present, as the `compression` middleware adds), pauses
   * the upstream read while `res.write()` is full until `drain`, sends `: ping` comments after
   * `heartbeat` ms of silence (SSE formats), aborts the upstream when the client disconnects,
   * and reports a later upstream error in-band in the chosen format before ending.
   * Never rejects: resolves `{ ok: true, final }` or `{ ok: false, error }`.
   */
  pipeTo(res: import('node:http').ServerResponse, options?: RelayOptions): Promise<RelayResult<Final>>
  /** The same bytes as `pipeTo`, as a web `ReadableStream` (for `new Response(...)`). Cancelling it aborts the stream. */
  toReadableStream(options?: RelayOptions): ReadableStream<Uint8Array>
  /** The same bytes as `pipeTo`, as a Node `Readable`. Destroying it aborts the stream. */
  toNodeStream(options?: RelayOptions): Readable
  /**
   * Relays to a WebSocket (anything with `send`, `close`, `bufferedAmount` and a `close` event,
   * such as a `ws` server socket): one message per batch. `events`: a JSON array of `Delta`
   * objects, then `[{"type":"done"}]` (the socket stays open for the next prompt); `ndjson`:
   * Delta lines. Upstream errors send `{ type: 'error', error: { message, type, code } }` then close with
   * 1011. Waits while `bufferedAmount` is over 1 MiB; the socket closing aborts the upstream.
   */
  pipeToWebSocket(ws: RelayWebSocket, options?: { format?: 'events' | 'ndjson' }): Promise<RelayResult<Final>>
}

/**
 * Relay formats. `openai`: `data: {chunk}` SSE ending with `data: [DONE]` (the provider's chunks
 * relayed as they came, readable by the official SDKs); `events`: named SSE events for
 * `EventSource` (`text`/`refusal`/`reasoning` with a JSON string as data for choice 0 and the
 * whole delta for other choices, `toolCall` (the delta), `finish` `{reason, choice}`, `usage`,
 * `error`, `done`); `text`: content only; `ndjson`: one Delta JSON per line. Every data line is
 * JSON or split per line: no payload text can inject SSE fields.
 */
export type RelayFormat = 'openai' | 'events' | 'text' | 'ndjson'

export interface RelayOptions {
  /** Default `'openai'`. */
  format?: RelayFormat
  /** Ms of upstream silence before a `: ping` comment (SSE formats). Default 15_000; `false` disables. */
  heartbeat?: number | false
}

export type RelayResult<Final> = { ok: true; final: Final } | { ok: false; error: StreamDeltaError | Error }

/** What `pipeToWebSocket` needs of a WebSocket. */
export interface RelayWebSocket {
  send(data: string): void
  close(code?: number, reason?: string): void
  readonly bufferedAmount: number
  readonly readyState?: number
  on?(event: 'close', listener: () => void): unknown
  off?(event: 'close', listener: () => void): unknown
  addEventListener?(event: 'close', listener: () => void): void
  removeEventListener?(event: 'close', listener: () => void): void
}

/** A streamed chat completion. */
export declare class ChatStream extends BaseStream<ChatCompletion, ChatCompletionChunk> {
  /** Choice 0's whole content (`''` when there was none). */
  finalText(): Promise<string>
}

/** A Responses API event object (`response.output_text.delta`, `response.completed`, ... and types not known yet). */
export interface ResponseEvent {
  type: string
  sequence_number?: number
  [key: string]: unknown
}

/** The Response object (`response.completed`'s `response`, or the accumulation when a server sent none). */
export interface ResponseObject {
  id: string
  object: 'response'
  status: string
  model?: string
  output: Array<Record<string, unknown>>
  /** The whole output text (openai-node's convenience field, filled in by streamdelta). */
  output_text: string
  usage: Usage | null
  [key: string]: unknown
}

/** A streamed Responses API answer. Deltas: `text`, `refusal`, `reasoning`, `toolCall` (function calls), `finish`, `usage`; `chunks()` yields every event object. */
export declare class ResponseStream extends BaseStream<ResponseObject, ResponseEvent> {
  /** The whole output text. */
  finalText(): Promise<string>
}

/** A legacy `text_completion` chunk. */
export interface CompletionChunk {
  id: string
  object: 'text_completion' | string
  created: number
  model: string
  choices: Array<{ index: number; text: string; finish_reason: string | null; logprobs?: unknown }>
  usage?: Usage | null
  [key: string]: unknown
}

/** The accumulated legacy completion. */
export interface Completion {
  id: string
  object: 'text_completion'
  created: number
  model: string
  choices: Array<{ index: number; text: string; finish_reason: string | null; logprobs: null }>
  usage: Usage | null
}

/** A streamed legacy completion. */
export declare class CompletionStream extends BaseStream<Completion, CompletionChunk> {
  /** Choice 0's whole text. */
  finalText(): Promise<string>
}

/** SSE bytes you already have. */
export type ByteSource = Response | ReadableStream<Uint8Array> | Readable | AsyncIterable<Uint8Array | string>

export interface ParseOptions {
  signal?: AbortSignal
  /** Largest single SSE event accepted, in bytes. Default 128 MiB. */
  maxEventBytes?: number
}

/** Parses chat-completion SSE bytes from any source into a `ChatStream`. */
export declare function parseChatStream(source: ByteSource, options?: ParseOptions): ChatStream
/** Parses Responses API SSE bytes from any source into a `ResponseStream`. */
export declare function parseResponseStream(source: ByteSource, options?: ParseOptions): ResponseStream
/** Parses legacy completions SSE bytes from any source into a `CompletionStream`. */
export declare function parseCompletionStream(source: ByteSource, options?: ParseOptions): CompletionStream

// ---------------------------------------------------------------------------------------
// The bare event-stream parser
// ---------------------------------------------------------------------------------------

/** One event, as the WHATWG event-stream rules define it. */
export interface SseEvent {
  /** The event type: `'message'` when the block set none. */
  event: string
  /** The data lines joined with `\n`. */
  data: string
  /** The last event ID; it persists across events until a block changes it. */
  id: string
  /** Reconnection time in ms, when a valid (all-digit) `retry:` field came in this block. */
  retry?: number
}

/** WHATWG-conformant SSE parser over bytes: BOM, CR/LF/CRLF, comments, multi-line data, id, retry. */
export declare class SseParser {
  constructor(options?: { maxEventBytes?: number })
  /** Feeds the next bytes; returns the events they completed. Throws when an event exceeds `maxEventBytes`. */
  feed(bytes: Uint8Array | string): SseEvent[]
  /** End of input: an unterminated last event is discarded, as the spec says. */
  end(): SseEvent[]
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** Base class of every error this package raises. */
export declare class StreamDeltaError extends Error {
  /** Stable machine-readable code. */
  code: string
  /** The accumulated result so far (shaped like `final()`), on every error raised after the first body byte. */
  partial?: unknown
  /** HTTP attempts made, when the request itself failed. */
  attempts?: number
}

/** A non-2xx response (`ERR_API`). */
export declare class APIError extends StreamDeltaError {
  code: 'ERR_API' | 'ERR_AUTH' | 'ERR_RATE_LIMIT'
  status: number
  /** The error object's `type`. */
  type: string | null
  param: string | null
  /** The error object's `code` (always a string). */
  apiCode: string | null
  requestId: string | null
  /** Response headers, lower-case names. */
  headers: Record<string, string>
}

/** 401 or 403 (`ERR_AUTH`). */
export declare class AuthenticationError extends APIError {
  code: 'ERR_AUTH'
}

/** 429 after retries (`ERR_RATE_LIMIT`). */
export declare class RateLimitError extends APIError {
  code: 'ERR_RATE_LIMIT'
  /** The wait the server asked for (`retry-after-ms` / `retry-after`), when given. */
  retryAfterMs: number | null
}

/** DNS, refused, reset, TLS (`ERR_CONNECTION`). */
export declare class ConnectionError extends StreamDeltaError {
  code: 'ERR_CONNECTION'
  cause: Error
}

/** `timeout` (until headers) or `idleTimeout` (between bytes) elapsed (`ERR_TIMEOUT`). */
export declare class TimeoutError extends StreamDeltaError {
  code: 'ERR_TIMEOUT'
  phase: 'headers' | 'idle'
}

/** `abort()`, an aborted `signal`, or a consumer that stopped (`ABORT_ERR`). */
export declare class AbortError extends StreamDeltaError {
  name: 'AbortError'
  code: 'ABORT_ERR'
}

/** The provider sent an error inside the stream (`ERR_STREAM`). */
export declare class StreamError extends StreamDeltaError {
  code: 'ERR_STREAM'
  type: string | null
  apiCode: string | null
  param: string | null
}

/** A data line that is not valid JSON, or a body that is not an event stream (`ERR_PARSE`). */
export declare class ParseError extends StreamDeltaError {
  code: 'ERR_PARSE'
  /** The first 200 bytes of the offending line or body. */
  line: string
}

/** The connection closed before `[DONE]` while a choice was unfinished (`ERR_INCOMPLETE`). */
export declare class IncompleteStreamError extends StreamDeltaError {
  code: 'ERR_INCOMPLETE'
}
