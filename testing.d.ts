// streamdelta/testing: a mock OpenAI-compatible streaming server for tests, demos and
// benchmarks. Written by hand; this file is the reference.
//
//   const { startMockServer } = require('streamdelta/testing')   // or: import { ... } from
//   const mock = await startMockServer({ scripts: { 'gpt-4o-mini': { text: 'Hi there' } } })
//   const client = new Client({ baseURL: mock.url, apiKey: 'sk-test' })
//   ...
//   await mock.close()
//
// The server is a real `node:http` server bound to 127.0.0.1 only. It serves, under any base
// path (`/v1/...`, Azure's `/openai/deployments/{deployment}/...`):
//   POST .../chat/completions   chat.completion.chunk events, then `data: [DONE]`
//   POST .../responses          Responses API events (`event:` + `data:` with `sequence_number`)
//   POST .../completions        legacy text_completion chunks, then `data: [DONE]`
//   GET  .../responses/{id}?stream=true&starting_after=N
//                               replays a response sent with `background: true` after event N
//   GET  .../models             the model names of `scripts`
// Requests must send `stream: true` (a 400 says so otherwise). Anything else is a 404 with
// OpenAI's error body.

/// <reference types="node" />

// ---------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------

/**
 * What the server plays for one request. Every field is optional: `{}` streams an empty
 * answer. Unknown keys are rejected (a `TypeError` at `startMockServer`, or a 400 naming the
 * key for scripts chosen at request time), so a typo never passes silently.
 *
 * Streamed pieces: a string is split into word tokens that keep their leading whitespace
 * (`'Hello big world'` -> `'Hello'`, `' big'`, `' world'`); an array is sent one element per
 * chunk. Within a choice they go in this order: reasoning, refusal, text, tool calls.
 */
export interface MockScript {
  /** The answer's content text. */
  text?: string | string[]
  /** Reasoning text: chat `delta.reasoning_content` (see `reasoningField`), a reasoning summary item on `/responses`, not sent on `/completions`. */
  reasoning?: string | string[]
  /** Refusal text: chat `delta.refusal`, `response.refusal.delta` on `/responses`, not sent on `/completions`. */
  refusal?: string | string[]
  /**
   * Tool calls, streamed after the text: chat `delta.tool_calls` (a head chunk with `id`,
   * `type` and `name` and `arguments: ""`, then the arguments in fragments), `function_call`
   * output items on `/responses`. An object `arguments` is sent as its JSON; the default is
   * `'{}'`. `id` defaults to a fresh `call_…`. Not sent on `/completions`.
   */
  toolCalls?: MockToolCall[]
  /** Default: `'tool_calls'` when there are tool calls, else `'stop'`. On `/responses`, `'length'` and `'content_filter'` end with `response.incomplete`, anything else with `response.completed`. */
  finishReason?: string
  /** Per-choice content for `n > 1` with different answers; excludes `text`, `reasoning`, `refusal`, `toolCalls` and `finishReason` at the top level. `/responses` plays only the first. */
  choices?: MockChoice[]
  /** Number of choices, each with the top-level content. Default: the request body's `n`, else 1. Chunks of the choices interleave (0, 1, 0, 1, ...). Ignored on `/responses`. */
  n?: number
  /** The text tokens are sent this many times (default 1): a long stream from a short script, for load tests and benchmarks. */
  repeat?: number
  /** Milliseconds between the response headers and the first event. Default 0. */
  ttftMs?: number
  /** Milliseconds between events. Default 0: every event is ready at once and they are written in batches of about 16 KiB. */
  intervalMs?: number
  /** Milliseconds before the response headers are sent (a server queueing the request). Default 0. */
  headersDelayMs?: number
  /**
   * Chat and completions: `true` sends the usage chunk (`choices: []`) even when the request
   * did not ask with `stream_options.include_usage`; `false` never sends it; an object is sent
   * as the usage, verbatim. Default: sent when the request asks. When it is sent, every
   * other chunk carries `"usage": null`, as OpenAI's do. `/responses` always puts usage in
   * its last event (an object replaces the computed one). Computed usage counts one token per
   * streamed piece, and about four characters a token of the prompt.
   */
  usage?: boolean | Record<string, unknown>
  /** The model named in the events. Default: the request's `model` (or Azure deployment), else `'mock-model'`. */
  model?: string
  /** The response id. Default: a fresh `chatcmpl-…`, `resp_…` or `cmpl-…`. */
  id?: string
  /** Extra response headers (lowercased), on the stream or on a `status` fault answer. Default headers: `content-type: text/event-stream; charset=utf-8`, `cache-control: no-cache`, `x-request-id: req_…`, `openai-version`, `openai-processing-ms`. */
  headers?: Record<string, string | number | boolean | null | undefined>
  /** How this request fails. See `MockFault`. */
  fault?: MockFault
  /**
   * Replaces the generated events: strings are written verbatim (you write the framing, e.g.
   * `': ping\n\n'` or `'data: [DONE]\n\n'`), objects as `data: <json>\n\n`. No end marker is
   * added. Timing and faults apply as to generated events. For the deviations of other
   * servers (a role chunk with `content: null`, no `[DONE]`, ...).
   */
  raw?: Array<string | object>
  /** The chat delta field reasoning goes in: `'reasoning_content'` (DeepSeek, vLLM; the default) or `'reasoning'` (OpenRouter, Groq). */
  reasoningField?: 'reasoning_content' | 'reasoning'
  /**
   * `/responses` only (other endpoints ignore it): hosted-tool steps, each one output item
   * with the events OpenAI's servers send for it, played in order after the reasoning and
   * before the message. A script with steps and no text sends no message item (an approval
   * request ends the turn). A `script(request)` function can read `request.body.input` for an
   * `mcp_approval_response` and play the call in the next turn.
   */
  hosted?: MockHostedStep[]
  /** `/responses` only: `response.output_text.annotation.added` events after the text, and the message part's `annotations`. */
  citations?: MockCitation[]
}

/** One hosted-tool step of `MockScript.hosted`. `arguments` objects are sent as their JSON. */
export type MockHostedStep =
  /** An `mcp_list_tools` item (`in_progress`, `completed`), `tools` as given. */
  | { type: 'mcp_list_tools'; server: string; tools: Array<{ name: string; [key: string]: unknown }> }
  /** An `mcp_approval_request` item; `id` defaults to a fresh `mcpr_…`. */
  | { type: 'mcp_approval_request'; server: string; name: string; arguments?: string | object; id?: string }
  /**
   * An `mcp_call` item: `in_progress`, its arguments in fragments, `completed` (or `failed`
   * with `error`), the item with `output` or `error`; `approvalRequestId` its
   * `approval_request_id`.
   */
  | {
      type: 'mcp_call'
      server: string
      name: string
      arguments?: string | object
      output?: string
      error?: string | object
      approvalRequestId?: string
    }
  /** A `web_search_call` item (`in_progress`, `searching`, `completed`), its action the query and sources. */
  | { type: 'web_search'; query: string; sources?: string[] }
  /** An `image_generation_call` item: `in_progress`, `generating`, each partial image, `completed`, the item with `result`. Base64 strings; `format` default `'png'`. */
  | { type: 'image_generation'; partials?: string[]; result: string; format?: 'png' | 'jpeg' | 'webp' }

/** One citation of `MockScript.citations`: a url citation, or a file citation. */
export type MockCitation =
  | { url: string; title?: string; start?: number; end?: number }
  | { fileId: string; filename?: string; index?: number }

export interface MockToolCall {
  name: string
  /** The JSON arguments: a string as it is, anything else through `JSON.stringify`. Default `'{}'`. */
  arguments?: string | object
  /** Default: a fresh `call_…`. */
  id?: string
}

/** One choice of `MockScript.choices`. */
export interface MockChoice {
  text?: string | string[]
  reasoning?: string | string[]
  refusal?: string | string[]
  toolCalls?: MockToolCall[]
  finishReason?: string
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

/**
 * How a request fails: exactly one kind. In-stream faults count `N` events (SSE events:
 * for chat the role chunk is the first, for `/responses` `response.created`); the end marker
 * `[DONE]` is not an event. When the stream has `N` events or fewer, the fault takes the place
 * of the end marker: `{ dropAfter: 1000 }` on a short chat stream sends every chunk (with its
 * `finish_reason`) and then drops the connection instead of sending `[DONE]`.
 *
 * `times` (every kind): the fault applies to the first `times` requests that play this fault
 * object, then the script plays without it (a 429 then a 200, for retry tests). Counted per
 * fault object: a `script` function returning a fresh object each call starts a fresh count.
 */
export type MockFault =
  | MockStatusFault
  | {
      /** Sends `N` events, then closes the connection mid-body (the chunked body never ends). `0`: right after the headers. */
      dropAfter: number
      times?: number
    }
  | {
      /** Sends `N` events, then stays silent with the connection open until the client or `close()` ends it. */
      stallAfter: number
      times?: number
    }
  | {
      /** After `N` events, sends one data line that is not JSON, then the rest of the stream. */
      malformedAfter: number
      /** The malformed payload (after `data: `). Default: a chunk cut short. */
      line?: string
      times?: number
    }
  | {
      /**
       * After `N` events, the provider reports an error inside the 200 stream and ends it:
       * chat and completions send `data: {"error": {...}}`; `/responses` sends `event: error`
       * (`{ type: 'error', code, message, param, error: {...}, sequence_number }`: the
       * documented fields and the nested object OpenAI's servers send) then `response.failed`.
       */
      errorAfter: number
      /** Default: `{ message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: 'server_error' }`; given fields replace these. */
      error?: MockErrorObject
      times?: number
    }
  | { /** A 200 `text/event-stream` answer with an empty body. */ emptyBody: true; times?: number }

/** An HTTP error answer instead of a stream. */
export interface MockStatusFault {
  /** 400-599. */
  status: number
  /**
   * Fields of OpenAI's JSON error body `{ "error": { message, type, param, code } }`; the
   * defaults depend on the status (401 `invalid_api_key`, 404 `model_not_found`, 429
   * `rate_limit_exceeded` with type `requests`, 5xx `server_error`, ...).
   */
  error?: MockErrorObject
  /** Replaces the whole body: a string is sent as `text/plain`, an object as JSON. Excludes `error`. */
  body?: string | object
  /** Response headers, e.g. `{ 'retry-after': '2' }`, `{ 'retry-after-ms': '50' }`, `{ 'x-should-retry': 'false' }`. */
  headers?: Record<string, string | number | boolean | null | undefined>
  times?: number
}

export interface MockErrorObject {
  message?: string
  type?: string | null
  code?: string | number | null
  param?: string | null
  [key: string]: unknown
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

export interface MockServerOptions {
  /** Port on 127.0.0.1. Default 0: a free port (read it from `url` / `port`). */
  port?: number
  /**
   * Scripts by model name: the request's `model` (or Azure deployment) picks one; `default`
   * serves every other model. The object is kept (not copied): it is `mock.scripts`, and
   * changes to it apply to the next request.
   */
  scripts?: Record<string, MockScript>
  /**
   * A script for every request (same as `scripts.default`; give one or the other), or a
   * function choosing per request: it sees the recorded request and returns a script, or
   * `undefined` to fall through to `scripts`. A multi-step tool conversation (as
   * `client.runTools` holds) is scripted by what the request's messages hold so far:
   *
   *   script: ({ body }) => body.messages.some((m) => m.role === 'tool')
   *     ? { text: 'It is 18 degrees in Paris.' }
   *     : { toolCalls: [{ id: 'call_1', name: 'weather', arguments: { city: 'Paris' } }] }
   *
   * and `mock.requests[n].body.messages` shows what the client sent back.
   */
  script?: MockScript | ((request: MockRecordedRequest) => MockScript | null | undefined)
  /**
   * When set, requests must carry this key as `Authorization: Bearer <key>` or `api-key:
   * <key>`; others get OpenAI's 401 `invalid_api_key`. Default: any key, or none, is accepted.
   */
  apiKey?: string
  /** Keep a record of every request in `requests`. Default true; false for a long-running server. */
  record?: boolean
  /** Called with each request's record as soon as its body has been read (recorded or not). */
  onRequest?: (request: MockRecordedRequest) => void
}

/**
 * A request as the client sent it. Header names are lowercased, and the values of
 * `authorization`, `proxy-authorization`, `api-key`, `x-api-key` and `cookie` are replaced by
 * `'[redacted]'` (use `apiKey` in the options to check that the right key was sent).
 */
export interface MockRecordedRequest {
  /** 0 for the first request the server received, then 1, 2, ... */
  index: number
  method: string
  /** The URL path, e.g. `'/v1/chat/completions'`. */
  path: string
  /** The query parameters, e.g. `{ 'api-version': '2024-10-21' }`. */
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  /** The parsed JSON body; the text itself when it is not JSON; null when empty. */
  // biome-ignore lint/suspicious/noExplicitAny: any JSON, a string or null; `any` lets tests read `body.messages` without casts
  body: any
  /** Which endpoint served it; null for an unknown URL (answered 404). */
  endpoint: 'chat' | 'responses' | 'completions' | 'resume' | 'models' | null
  /** The body's `model`, else the Azure deployment in the path, else null. */
  model: string | null
  /** The HTTP status once the mock answered; null before (or when it never did). */
  status: number | null
  /** True when the client closed the connection before the mock finished the response (aborts, `break`, timeouts). Drops by a `dropAfter` fault and `close()` do not count. */
  clientClosed: boolean
  /** Resolves when this exchange is over: the response ended or its connection closed. Not enumerable (deepEqual and JSON ignore it). */
  readonly closed: Promise<void>
}

export interface MockServer {
  /** The base URL to give a client: `http://127.0.0.1:<port>/v1`. */
  readonly url: string
  readonly port: number
  /** Every request received, in arrival order (empty with `record: false`). */
  readonly requests: MockRecordedRequest[]
  /** The live scripts by model name (`options.scripts`, or a new object): assign to change what later requests get. */
  readonly scripts: Record<string, MockScript>
  /** How many client connections are open right now (kept-alive ones included). */
  readonly connections: number
  /** Stops listening, destroys every open connection (streams in progress end abruptly) and resolves once the server is closed. Safe to call twice. */
  close(): Promise<void>
  /** `await using mock = await startMockServer()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Starts a mock server on 127.0.0.1. Throws a `TypeError` naming the field for a malformed
 * option or script. The script of a request is, in order: the `x-mock-script` request header
 * (a JSON `MockScript`, for per-request control from the client side), `options.script(request)`
 * when it returns one, `scripts[model]`, `scripts.default`, `options.script` as an object,
 * and last `DEFAULT_SCRIPT`.
 */
export function startMockServer(options?: MockServerOptions): Promise<MockServer>

/** The built-in script: a one-sentence answer, streamed at once. */
export const DEFAULT_SCRIPT: Readonly<MockScript>

/** The header names whose values `requests` redacts. */
export const SECRET_HEADERS: string[]

/** What a redacted header value reads: `'[redacted]'`. */
export const REDACTED: '[redacted]'
