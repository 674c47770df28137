// streamdelta: OpenAI-compatible streams parsed in Rust, consumed from Node.js.
// This file is written by hand and is the reference users read. The generated
// `binding.d.ts` describes the internal native layer and is not part of the public API.

/// <reference types="node" />

import type { Readable } from 'node:stream'

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/**
 * Options of `new Client(options)`. Every field is optional. An unknown name throws a
 * `TypeError` (with "did you mean" for a close one). A query in `baseURL`
 * (`https://host/v1?key=abc`) is merged into `query` (an explicit `query` entry wins), so
 * `client.baseURL` never carries one.
 */
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
  /**
   * Extra trusted CAs: PEM text (a string or a Buffer, one or more `-----BEGIN CERTIFICATE-----`
   * blocks), or an array of them. Trusted on top of the system's roots (and `SSL_CERT_FILE`)
   * and of `process.env.NODE_EXTRA_CA_CERTS`, which is read as Node reads it: the path of a
   * PEM file, read when the client is made; a file that cannot be read gets one warning line
   * on stderr and is skipped. Input that is not PEM (a path, DER bytes) throws a `TypeError`.
   *
   * A server whose certificate is not trusted fails with a `ConnectionError` saying so for that
   * host and naming `ca` / `NODE_EXTRA_CA_CERTS`.
   */
  ca?: string | Buffer | Uint8Array | Array<string | Buffer | Uint8Array>
  /**
   * The proxy every request goes through: `'http://host:port'` or
   * `'http://user:pass@host:port'` (basic auth; `https://` for TLS to the proxy). `https`
   * requests go through `CONNECT`, plain `http` ones are forwarded. It replaces the
   * environment (`NO_PROXY` included); `false` uses no proxy at all.
   *
   * Default: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http ones (`ALL_PROXY` for both),
   * upper or lower case, with `NO_PROXY` deciding which hosts skip it, by curl's rules
   * (comma-separated host names matching themselves and their subdomains, IPs, CIDR ranges,
   * `*`). Loopback is not exempt: a server on 127.0.0.1 needs `NO_PROXY=127.0.0.1,localhost`
   * when a proxy is set. The environment is read when the client is made.
   *
   * A proxy that cannot be reached, refuses the tunnel or wants credentials fails with a
   * `ConnectionError` naming the proxy; its password never appears in errors or logs.
   */
  proxy?: string | false
  /**
   * How many of this client's requests may be in flight at once (a positive integer; default,
   * `undefined` or `Infinity`: no limit). The others wait in FIFO order: each call still
   * returns its stream at once, and the request is sent when a slot frees. A stream holds its
   * slot until it ends, fails or is aborted, so consume (or abort) every stream you make.
   * A queued stream that is aborted (its `signal`, `abort()`, a stopped iterator) leaves the
   * queue at once and is never sent. `stream.stats.queuedMs` says how long it waited.
   *
   * With a limit set, the queue also follows the rate-limit headers: while the last answer
   * said no requests or no tokens remain (`x-ratelimit-remaining-requests` /
   * `-tokens` is `0`), new requests wait until that limit's reset time instead of going out
   * into 429s.
   */
  maxConcurrent?: number
  /**
   * Milliseconds a request may wait in the queue for its turn (with `maxConcurrent`); then its
   * stream fails with `TimeoutError` (`phase: 'queue'`) and the request is never sent.
   * Default: no limit. Without `maxConcurrent` nothing waits, so it has no effect.
   */
  queueTimeout?: number
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
  /**
   * Replaces the client's key for this request (sent as `Authorization: Bearer`, or `api-key`
   * with `azure`). Like the client's key, and like any `authorization` / `api-key` value passed
   * in `headers`, it never appears in an error, a log line or a returned `headers` object.
   */
  apiKey?: string
  /**
   * `true`: every `toolCallDelta` carries `partial`, the call's arguments parsed so far (the
   * engine keeps one incremental JSON parser per call; nothing is re-parsed).
   */
  partialJson?: boolean
  /**
   * Any Standard Schema (`schema['~standard'].validate`, as zod, valibot and arktype
   * implement; a Promise result is awaited): the whole parsed value is validated at the end,
   * and its output becomes `message.parsed` / `output_parsed`. A failure is a `ParseError`
   * with `issues` and `partial`. Setting it also makes the engine parse the content as JSON
   * when the body has no JSON `response_format` / `text.format`.
   */
  schema?: StandardSchemaLike
}

/** The part of the Standard Schema interface (`~standard`) that `schema` uses. */
export interface StandardSchemaLike {
  readonly '~standard': {
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: unknown; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<StandardSchemaIssue> }
      | Promise<
          | { readonly value: unknown; readonly issues?: undefined }
          | { readonly issues: ReadonlyArray<StandardSchemaIssue> }
        >
  }
}

export interface StandardSchemaIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>
}

export class Client {
  /** Throws a `TypeError` naming the field when an option is malformed. */
  constructor(options?: ClientOptions)
  /** The base URL requests go to. */
  readonly baseURL: string
  /**
   * Sums of the usage this client's streams reported: from every stream that ended, or that
   * failed or was aborted after its usage arrived (chat and completions need
   * `stream_options: { include_usage: true }` for the provider to send it). `requests` counts
   * those streams. `byModel` is keyed by the model that answered (the response's `model`,
   * e.g. `gpt-4o-2024-08-06`), else the one asked for. A fresh copy on each read.
   */
  readonly usage: UsageTotals
  /**
   * The rate-limit headers of the latest answer that had any (see `ResponseInfo.rateLimit`),
   * or `null` before one. Updated as each response's headers are read (also from the headers
   * of a 429 or other error answer).
   */
  readonly rateLimit: RateLimitInfo | null
  /**
   * Streams a chat completion: POST `{baseURL}/chat/completions` with `stream: true`.
   * Returns at once; the request starts immediately. Throws a `TypeError` synchronously for a
   * body that is not an object, a missing `model`, or malformed options.
   *
   * `Body` is inferred from the argument: the fields `ChatCompletionRequest` names are checked,
   * any other field (a provider's own) is sent as it is. An openai-typed
   * `ChatCompletionCreateParams` body, `messages` or `tools` fits as it is.
   */
  chat<Body extends ChatCompletionRequest>(body: Body, options?: RequestOptions): ChatStream
  /**
   * Streams a Responses API answer: POST `{baseURL}/responses` with `stream: true`. With
   * `background: true`, a stream that breaks after sequence-numbered events reconnects with
   * `starting_after` (within `maxRetries`), skips what it already had, and carries on as one stream.
   * The body is checked as `chat`'s is (openai's `ResponseCreateParams` fits).
   */
  /**
   * Streams a chat across tool-calling steps. Each step is a `chat()` request with the tools as
   * `tools` (functions); when its answer calls tools, every call is run (all calls of one
   * answer at once), each result goes back as a `tool` message, and the next step starts, until
   * an answer calls no tool or `maxSteps` steps ran (the tools of the last step still run, and
   * their results are in `final().messages`). One object spans the steps: its Deltas, events
   * and `final()` (see `ToolRunStream`). `options` are each step's request options.
   *
   * A tool that throws (or whose arguments are not JSON, or fail its Standard Schema) does not
   * end the run: `Error: <message>` goes to the model as that call's result, and `toolError`
   * reports it. Throws a `TypeError` synchronously for a bad body (`body.tools` must not be
   * set), a tool name the API rejects, a tool without `run` or `parameters`, or a bad `maxSteps`.
   *
   *   const run = client.runTools({ model, messages }, {
   *     tools: { weather: { description: 'Weather in a city', parameters: z.object({ city: z.string() }),
   *                         run: async ({ city }, { signal }) => getWeather(city, { signal }) } },
   *     maxSteps: 5,
   *   })
   *   for await (const text of run.text()) process.stdout.write(text)
   *   const { messages, steps, stopReason } = await run.final()
   */
  runTools<Body extends ChatCompletionRequest, Params extends Record<string, ToolParameters>>(
    body: Body & { tools?: never },
    run: { tools: { [Name in keyof Params]: RunnableTool<Params[Name]> }; maxSteps?: number },
    options?: RequestOptions,
  ): ToolRunStream
  responses<Body extends ResponseRequest>(body: Body, options?: RequestOptions): ResponseStream
  /** Re-attaches to a background response: GET `{baseURL}/responses/{id}?stream=true&starting_after=N`. */
  resumeResponse(id: string, position?: { startingAfter?: number }, options?: RequestOptions): ResponseStream
  /** Streams a legacy completion: POST `{baseURL}/completions` with `stream: true`. The body is checked as `chat`'s is. */
  completions<Body extends CompletionRequest>(body: Body, options?: RequestOptions): CompletionStream
}

// ---------------------------------------------------------------------------------------
// Request bodies
//
// Structural types of our own, written to be supertypes of the official `openai` package's
// parameter types: a body, a `messages` array or a `tools` array typed with openai's
// `ChatCompletionCreateParams`, `ChatCompletionMessageParam[]`, `ResponseCreateParams`, ... is
// accepted as it is, and a `final()` message can be pushed back into an openai-typed history.
// No index signatures on the shapes openai declares as interfaces: an `interface` is never
// assignable to a type with one. Fields a provider adds (`top_k`, `reasoning`, `provider`, ...) are still accepted: the
// `Client` methods take the body as a type parameter constrained by these types, so the known
// fields are checked and any other field is passed through unchecked (and sent as it is).
// ---------------------------------------------------------------------------------------

/** Open-ended string unions: the known words autocomplete, any other string is accepted. */
export type OpenString<Known extends string> = Known | (string & {})

/** A JSON Schema object (function parameters, `json_schema.schema`). */
export type JsonSchema = { [key: string]: unknown }

/** `{ type: 'text', text }`: a text part of a message's `content`. */
export interface ChatCompletionContentPartText {
  type: 'text'
  text: string
  prompt_cache_breakpoint?: { mode: 'explicit'; ttl?: OpenString<'30m' | '12h'> }
}

/** An image part: `{ type: 'image_url', image_url: { url, detail? } }` (`url` may be a `data:` URL). */
export interface ChatCompletionContentPartImage {
  type: 'image_url'
  image_url: { url: string; detail?: OpenString<'auto' | 'low' | 'high' | 'original'> }
  prompt_cache_breakpoint?: { mode: 'explicit'; ttl?: OpenString<'30m' | '12h'> }
}

/** An audio part: `{ type: 'input_audio', input_audio: { data (base64), format } }`. */
export interface ChatCompletionContentPartInputAudio {
  type: 'input_audio'
  input_audio: { data: string; format: OpenString<'wav' | 'mp3'> }
  prompt_cache_breakpoint?: { mode: 'explicit'; ttl?: OpenString<'30m' | '12h'> }
}

/** A file part: `{ type: 'file', file: { file_data?, file_id?, filename? } }`. */
export interface ChatCompletionContentPartFile {
  type: 'file'
  file: { file_data?: string; file_id?: string; filename?: string }
  prompt_cache_breakpoint?: { mode: 'explicit'; ttl?: OpenString<'30m' | '12h'> }
}

/** A refusal part (assistant messages only). */
export interface ChatCompletionContentPartRefusal {
  type: 'refusal'
  refusal: string
}

/** What a user message's `content` array holds. */
export type ChatCompletionContentPart =
  | ChatCompletionContentPartText
  | ChatCompletionContentPartImage
  | ChatCompletionContentPartInputAudio
  | ChatCompletionContentPartFile

export interface ChatCompletionSystemMessageParam {
  role: 'system'
  content: string | ChatCompletionContentPartText[]
  name?: string
}

export interface ChatCompletionDeveloperMessageParam {
  role: 'developer'
  content: string | ChatCompletionContentPartText[]
  name?: string
}

export interface ChatCompletionUserMessageParam {
  role: 'user'
  content: string | ChatCompletionContentPart[]
  name?: string
}

/** A tool call in an assistant message: the shape of `final().choices[i].message.tool_calls[j]`. */
export interface ChatCompletionMessageFunctionToolCall {
  id: string
  type: 'function'
  /** `arguments` is JSON text, as the model wrote it (it may not parse). */
  function: { name: string; arguments: string }
}

/** A custom (free-form input) tool call in an assistant message. */
export interface ChatCompletionMessageCustomToolCall {
  id: string
  type: 'custom'
  custom: { name: string; input: string }
}

export type ChatCompletionMessageToolCall = ChatCompletionMessageFunctionToolCall | ChatCompletionMessageCustomToolCall

/**
 * An assistant turn in the history. `final().choices[i].message` (a `ChatCompletionMessage`) is
 * one, and is also assignable to openai's `ChatCompletionAssistantMessageParam`.
 */
export interface ChatCompletionAssistantMessageParam {
  role: 'assistant'
  content?: string | Array<ChatCompletionContentPartText | ChatCompletionContentPartRefusal> | null
  refusal?: string | null
  name?: string
  tool_calls?: ChatCompletionMessageToolCall[]
  /** Legacy single function call. */
  function_call?: { name: string; arguments: string } | null
  audio?: { id: string } | null
  /** Reasoning text some servers accept back (DeepSeek-style `reasoning_content`). */
  reasoning_content?: string | null
}

/** A tool's answer: `tool_call_id` is the `id` of the call it answers. */
export interface ChatCompletionToolMessageParam {
  role: 'tool'
  tool_call_id: string
  content: string | ChatCompletionContentPartText[]
}

/** The legacy function-call answer. */
export interface ChatCompletionFunctionMessageParam {
  role: 'function'
  name: string
  content: string | null
}

/** One message of `messages`, discriminated by `role`. openai's `ChatCompletionMessageParam` is assignable to it. */
export type ChatCompletionMessageParam =
  | ChatCompletionSystemMessageParam
  | ChatCompletionDeveloperMessageParam
  | ChatCompletionUserMessageParam
  | ChatCompletionAssistantMessageParam
  | ChatCompletionToolMessageParam
  | ChatCompletionFunctionMessageParam

/** `{ type: 'function', function: { name, description?, parameters?, strict? } }`. */
export interface ChatCompletionFunctionTool {
  type: 'function'
  function: { name: string; description?: string; parameters?: JsonSchema; strict?: boolean | null }
}

/** A custom tool: free-form text input, optionally constrained by a grammar. */
export interface ChatCompletionCustomTool {
  type: 'custom'
  custom: {
    name: string
    description?: string
    format?:
      | { type: 'text' }
      | { type: 'grammar'; grammar: { definition: string; syntax: OpenString<'lark' | 'regex'> } }
  }
}

export type ChatCompletionTool = ChatCompletionFunctionTool | ChatCompletionCustomTool

export type ChatCompletionToolChoiceOption =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; function: { name: string } }
  | { type: 'custom'; custom: { name: string } }
  | { type: 'allowed_tools'; allowed_tools: { mode: 'auto' | 'required'; tools: Array<{ [key: string]: unknown }> } }

/** `response_format`: with `json_schema` or `json_object`, `final()` parses the content. */
export type ChatCompletionResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema'
      json_schema: { name: string; description?: string; schema?: JsonSchema; strict?: boolean | null }
    }

/**
 * The request body of `/chat/completions`. `stream: true` is always sent (whatever `stream`
 * says). openai's `ChatCompletionCreateParams` (streaming or not) is assignable to it; fields
 * not listed are accepted by `client.chat()` and sent as they are.
 */
export interface ChatCompletionRequest {
  model: string
  messages: ChatCompletionMessageParam[]
  tools?: ChatCompletionTool[]
  tool_choice?: ChatCompletionToolChoiceOption
  parallel_tool_calls?: boolean | null
  response_format?: ChatCompletionResponseFormat
  /** `{ include_usage: true }` makes the server send a `usage` delta at the end. */
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null
  /** Ignored: `stream: true` is always sent. */
  stream?: boolean | null
  /** Choices to generate; deltas carry `choice` (0 unless `n > 1`). */
  n?: number | null
  temperature?: number | null
  top_p?: number | null
  max_tokens?: number | null
  max_completion_tokens?: number | null
  stop?: string | string[] | null
  seed?: number | null
  frequency_penalty?: number | null
  presence_penalty?: number | null
  logit_bias?: { [token: string]: number } | null
  logprobs?: boolean | null
  top_logprobs?: number | null
  reasoning_effort?: OpenString<'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh'> | null
  verbosity?: OpenString<'low' | 'medium' | 'high'> | null
  modalities?: Array<OpenString<'text' | 'audio'>> | null
  audio?: { format: string; voice: string | { id: string } } | null
  prediction?: { type: 'content'; content: string | ChatCompletionContentPartText[] } | null
  metadata?: { [key: string]: string } | null
  store?: boolean | null
  service_tier?: OpenString<'auto' | 'default' | 'flex' | 'scale' | 'priority'> | null
  user?: string
  safety_identifier?: string | null
  prompt_cache_key?: string | null
  prompt_cache_retention?: OpenString<'in_memory' | '24h'> | null
  /** Legacy functions API. */
  functions?: Array<{ name: string; description?: string; parameters?: JsonSchema }>
  function_call?: 'none' | 'auto' | { name: string }
}

/** A text part of a Responses input message. */
export interface ResponseInputText {
  type: 'input_text'
  text: string
}

/** An image part: by URL (`data:` URLs too) or uploaded file id. */
export interface ResponseInputImage {
  type: 'input_image'
  detail?: OpenString<'auto' | 'low' | 'high' | 'original'>
  image_url?: string | null
  file_id?: string | null
}

/** A file part: inline data, URL or uploaded file id. */
export interface ResponseInputFile {
  type: 'input_file'
  file_data?: string
  file_id?: string | null
  file_url?: string
  filename?: string
}

/** Text the model wrote earlier (an output message given back as input). */
export interface ResponseOutputText {
  type: 'output_text'
  text: string
  annotations?: Array<{ type: string }>
}

/** A refusal the model wrote earlier. */
export interface ResponseOutputRefusal {
  type: 'refusal'
  refusal: string
}

export type ResponseInputContent = ResponseInputText | ResponseInputImage | ResponseInputFile

/** A message of `input`: `{ role, content }` (`type: 'message'` optional). */
export interface ResponseInputMessage {
  type?: 'message'
  role: 'user' | 'assistant' | 'system' | 'developer'
  content: string | Array<ResponseInputContent | ResponseOutputText | ResponseOutputRefusal>
  id?: string
  status?: OpenString<'in_progress' | 'completed' | 'incomplete'>
  phase?: OpenString<'commentary' | 'final_answer'> | null
}

/** A function call the model made (from `final().output`, given back as input). */
export interface ResponseFunctionToolCall {
  type: 'function_call'
  call_id: string
  name: string
  /** JSON text, as the model wrote it. */
  arguments: string
  id?: string
  status?: OpenString<'in_progress' | 'completed' | 'incomplete'>
}

/** A function's answer: `call_id` is the call's `call_id`. */
export interface ResponseFunctionCallOutput {
  type: 'function_call_output'
  call_id: string
  output: string | ResponseInputContent[]
  id?: string | null
  status?: OpenString<'in_progress' | 'completed' | 'incomplete'> | null
}

/** A custom tool call the model made. */
export interface ResponseCustomToolCall {
  type: 'custom_tool_call'
  call_id: string
  name: string
  input: string
  id?: string
}

/** A custom tool's answer. */
export interface ResponseCustomToolCallOutput {
  type: 'custom_tool_call_output'
  call_id: string
  output: string | ResponseInputContent[]
  id?: string
}

/** A reasoning item (given back as input with `encrypted_content` for stateless reasoning). */
export interface ResponseReasoningItem {
  type: 'reasoning'
  id: string
  summary: Array<{ type: 'summary_text'; text: string }>
  content?: Array<{ type: 'reasoning_text'; text: string }>
  encrypted_content?: string | null
  status?: OpenString<'in_progress' | 'completed' | 'incomplete'>
}

/** A reference to an earlier item by id. */
export interface ResponseItemReference {
  type?: 'item_reference' | null
  id: string
}

/**
 * Any other input item (hosted tool calls and their outputs, MCP items, compaction, ...), by
 * its `type`. Their fields are not checked here: they are sent as they are.
 */
export interface ResponseInputItemOther {
  type: string
  id?: string | null
}

/** One item of `input`. openai's `ResponseInputItem` is assignable to it. */
export type ResponseInputItem =
  | ResponseInputMessage
  | ResponseFunctionToolCall
  | ResponseFunctionCallOutput
  | ResponseCustomToolCall
  | ResponseCustomToolCallOutput
  | ResponseReasoningItem
  | ResponseItemReference
  | ResponseInputItemOther

/** A function tool of the Responses API (flat: no `function` wrapper, unlike chat). */
export interface ResponseFunctionTool {
  type: 'function'
  name: string
  parameters: JsonSchema | null
  strict: boolean | null
  description?: string | null
}

/**
 * A hosted or other tool (`web_search`, `file_search`, `mcp`, `code_interpreter`,
 * `image_generation`, `shell`, `custom`, ...), by its `type`. The fields listed are the common
 * ones; the rest are sent as they are.
 */
export interface ResponseHostedTool {
  type: string
  name?: string
  description?: string | null
  server_label?: string
  server_url?: string
  connector_id?: string
  require_approval?: unknown
  allowed_tools?: unknown
  headers?: { [key: string]: string } | null
  vector_store_ids?: string[]
  max_num_results?: number
  filters?: unknown
  search_context_size?: OpenString<'low' | 'medium' | 'high'>
  user_location?: unknown
  container?: unknown
  format?: unknown
}

export type ResponseTool = ResponseFunctionTool | ResponseHostedTool

/** `text.format`: with `json_schema` or `json_object`, `final()` parses the output text. */
export type ResponseTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: JsonSchema; description?: string; strict?: boolean | null }

/**
 * The request body of `/responses`. `stream: true` is always sent. openai's
 * `ResponseCreateParams` (streaming or not) is assignable to it; fields not listed are accepted
 * by `client.responses()` and sent as they are.
 */
export interface ResponseRequest {
  /**
   * Required at run time unless the client has `azure.deployment` (a missing model throws a
   * `TypeError`); optional in the type as in openai's `ResponseCreateParams` (where a stored
   * `prompt` may name it).
   */
  model?: string
  input?: string | ResponseInputItem[]
  instructions?: string | null
  tools?: ResponseTool[]
  /** `'none' | 'auto' | 'required'`, or an object naming a tool (`{ type: 'function', name }`, `{ type: 'mcp', server_label }`, `{ type: 'allowed_tools', mode, tools }`, ...). */
  tool_choice?:
    | OpenString<'none' | 'auto' | 'required'>
    | {
        type: string
        name?: string | null
        server_label?: string
        mode?: string
        tools?: Array<{ [key: string]: unknown }>
      }
  parallel_tool_calls?: boolean | null
  previous_response_id?: string | null
  /** Run in the background; the stream resumes by itself if it breaks. */
  background?: boolean | null
  text?: { format?: ResponseTextFormat; verbosity?: OpenString<'low' | 'medium' | 'high'> | null }
  reasoning?: {
    effort?: OpenString<'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh'> | null
    summary?: OpenString<'auto' | 'concise' | 'detailed'> | null
  } | null
  include?: string[] | null
  /** Ignored: `stream: true` is always sent. */
  stream?: boolean | null
  stream_options?: { include_obfuscation?: boolean } | null
  temperature?: number | null
  top_p?: number | null
  top_logprobs?: number | null
  max_output_tokens?: number | null
  max_tool_calls?: number | null
  metadata?: { [key: string]: string } | null
  store?: boolean | null
  truncation?: OpenString<'auto' | 'disabled'> | null
  service_tier?: OpenString<'auto' | 'default' | 'flex' | 'scale' | 'priority'> | null
  user?: string
  safety_identifier?: string | null
  prompt_cache_key?: string | null
  prompt_cache_retention?: OpenString<'in_memory' | '24h'> | null
  conversation?: string | { id: string } | null
  prompt?: { id: string; version?: string | null; variables?: { [key: string]: unknown } | null } | null
}

/** The request body of the legacy `/completions`. `stream: true` is always sent. openai's `CompletionCreateParams` is assignable to it. */
export interface CompletionRequest {
  model: string
  /** Text, texts, or token ids. */
  prompt: string | string[] | number[] | number[][] | null
  suffix?: string | null
  max_tokens?: number | null
  temperature?: number | null
  top_p?: number | null
  n?: number | null
  stop?: string | string[] | null
  echo?: boolean | null
  best_of?: number | null
  logprobs?: number | null
  logit_bias?: { [token: string]: number } | null
  frequency_penalty?: number | null
  presence_penalty?: number | null
  seed?: number | null
  user?: string
  /** Ignored: `stream: true` is always sent. */
  stream?: boolean | null
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null
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

/** Refusal text of one choice (chat `delta.refusal`, responses `response.refusal.delta`). */
export interface RefusalDelta {
  type: 'refusal'
  choice: number
  text: string
}

/** Reasoning text (chat `delta.reasoning_content` / `delta.reasoning`, responses reasoning summary/text deltas). */
export interface ReasoningDelta {
  type: 'reasoning'
  choice: number
  text: string
}

/**
 * What kind of tool a call is for, and what its `arguments` hold:
 * - `'function'`: chat tool calls and responses function calls; JSON arguments. You run it.
 * - `'custom'`: a responses free-form (custom) tool; its raw input text. You run it.
 * - `'mcp'`: a call to a remote MCP server, run by the provider; JSON arguments, `server` its
 *   label, `output` / `error` its result.
 * - `'code_interpreter'`: run by the provider; the code. `output` is the call's `outputs`.
 * - `'shell'`: the shell tool; its commands, one per line. The provider runs it in a container
 *   (`environment.type` `container_*`, reported by `toolStatus` `shell`), else you do.
 * - `'local_shell'`: the local shell tool, run by you; the item's `action` as JSON
 *   (`{ type: 'exec', command: [...], env, ... }`).
 * - another provider's word.
 */
export type ToolKind = OpenString<'function' | 'custom' | 'mcp' | 'code_interpreter' | 'shell' | 'local_shell'>

/**
 * A fragment of a tool call (the `toolCallDelta` event): chat `delta.tool_calls[]` (and the
 * legacy `function_call`), responses `function_call_arguments`, `custom_tool_call_input`,
 * `mcp_call_arguments`, `code_interpreter_call_code` and `shell_call_command` deltas.
 * `id` and `name` come with the first fragment (some servers repeat them). The whole call
 * follows as a `ToolCall` delta once its arguments are complete.
 */
export interface ToolCallDelta {
  type: 'toolCallDelta'
  choice: number
  /** The tool call's position (`tool_calls[].index`, the output index on responses); servers may start at 1. */
  index: number
  id?: string
  name?: string
  /** This fragment of the arguments text (JSON for functions; code or free text for other kinds). */
  arguments: string
  kind: ToolKind
  /** With the request option `partialJson: true`: the arguments parsed so far (see Structured streaming). */
  partial?: unknown
}

/**
 * A whole tool call, once its arguments are complete (the `toolCall` event): `arguments` is the
 * whole text. `id` is the call's id (chat `tool_calls[].id`, responses `call_id`; MCP and code
 * interpreter calls, which have none, go by their item's `id`): answer a function call with
 * `{ role: 'tool', tool_call_id: call.id, content }` (chat) or
 * `{ type: 'function_call_output', call_id: call.id, output }` (responses), a custom tool call
 * with `{ type: 'custom_tool_call_output', call_id: call.id, output }`. Calls the provider runs
 * (`mcp`, `code_interpreter`, a container `shell`) need no answer, and do not make the finish
 * reason `tool_calls`.
 */
export interface ToolCall {
  type: 'toolCall'
  choice: number
  index: number
  id: string
  name: string
  arguments: string
  kind: ToolKind
  /** An MCP call's `server_label`. */
  server?: string
  /** A hosted call's result, as its finished item has it: an MCP call's `output` text, a code interpreter call's `outputs` array. Absent while the provider sent none (or `null`). */
  output?: unknown
  /** A hosted call's error, as its finished item has it (an MCP call's `error`: a string or an object with `message`). */
  error?: unknown
}

/** A hosted tool's name in `ToolStatus`: the output item type less `_call`. */
export type HostedTool = OpenString<
  'web_search' | 'file_search' | 'code_interpreter' | 'image_generation' | 'mcp' | 'mcp_list_tools' | 'shell'
>

/**
 * A hosted tool's progress (the `toolStatus` event), one per progress event of the Responses
 * API: `response.<item type>.<status>` (`response.web_search_call.searching` is `tool:
 * 'web_search'`, `status: 'searching'`; a tool added later reports the same way). A container
 * shell call, which has no progress events, reports `in_progress` at its item and `completed`
 * at its `shell_call_output`.
 */
export interface ToolStatus {
  type: 'toolStatus'
  choice: number
  /** The tool's output item id (`ws_...`, `mcp_...`): the `id` of an MCP or code interpreter `ToolCall`, too. */
  id: string
  tool: HostedTool
  status: OpenString<'in_progress' | 'searching' | 'interpreting' | 'generating' | 'completed' | 'failed'>
}

/**
 * An annotation of the output text (the `citation` event: `response.output_text.annotation.added`).
 * `kind` is the annotation type less `_citation`: `'url'` (web search: `url`, `title`, `start` /
 * `end` the cited range of the text), `'file'` (file search: `fileId`, `filename`, `index`),
 * `'container_file'` (code interpreter: `fileId`, `filename`, `containerId`, `start` / `end`),
 * `'file_path'`. `final()` keeps the annotations in the message item as the provider sent them.
 */
export interface Citation {
  type: 'citation'
  choice: number
  kind: OpenString<'url' | 'file' | 'container_file' | 'file_path'>
  url?: string
  title?: string
  fileId?: string
  filename?: string
  containerId?: string
  /** The cited range of the output text (`start_index` / `end_index`). */
  start?: number
  end?: number
  /** A file citation's position in the text (it has no range). */
  index?: number
}

/**
 * An image from the image generation tool (the `image` event): each
 * `image_generation_call.partial_image` (`partial: true`, `index` its `partial_image_index`),
 * then the finished item's `result` (`partial: false`, `mediaType` from its `output_format`,
 * `image/png` when it has none). `b64` is base64 without a `data:` prefix.
 */
export interface ImageDelta {
  type: 'image'
  choice: number
  /** The image generation item's id (`ig_...`). */
  id: string
  index?: number
  b64: string
  partial: boolean
  mediaType?: string
}

/**
 * An MCP server asks before a call (the `approval` event: an `mcp_approval_request` item).
 * Answer in the next request with the input item
 * `{ type: 'mcp_approval_response', approval_request_id: approval.id, approve: true }` (and
 * `previous_response_id`); the call then runs and streams as a `ToolCall` of kind `'mcp'`.
 */
export interface Approval {
  type: 'approval'
  choice: number
  /** The request's item id (`mcpr_...`). */
  id: string
  /** The MCP server's `server_label`. */
  server: string
  /** The MCP tool to call. */
  name: string
  /** Its JSON arguments. */
  arguments: string
}

/** @deprecated The `toolCall` event now receives the `ToolCall` delta; use `ToolCall`. */
export type CompletedToolCall = ToolCall

/** Why a choice finished. The same words for every endpoint (responses' `completed` / `incomplete` are normalised). */
export type FinishReason = OpenString<'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call'>

/** A choice finished: `stop`, `length`, `content_filter`, `tool_calls`, `function_call`, ... */
export interface FinishDelta {
  type: 'finish'
  choice: number
  reason: FinishReason
}

/** Token usage, as the provider sent it. */
export interface UsageDelta {
  type: 'usage'
  usage: Usage
}

/**
 * One parsed piece of a stream, discriminated by `type`: narrow with `switch (d.type)` or
 * `if (d.type === 'toolCall')`. The `events` relay format sends one SSE event per Delta type,
 * of the same name.
 */
export type Delta =
  | TextDelta
  | RefusalDelta
  | ReasoningDelta
  | ToolCallDelta
  | ToolCall
  | ToolStatus
  | Citation
  | ImageDelta
  | Approval
  | FinishDelta
  | UsageDelta

/** The Delta of one `type`: `DeltaOf<'toolCall'>` is `ToolCall`. */
export type DeltaOf<T extends Delta['type']> = Extract<Delta, { type: T }>

/**
 * Token counts, as the provider sent them: chat and completions name them `prompt_tokens` /
 * `completion_tokens`, responses `input_tokens` / `output_tokens`. Other fields a provider adds
 * are kept.
 */
export interface Usage {
  prompt_tokens?: number
  completion_tokens?: number
  total_tokens?: number
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number; [key: string]: unknown } | null
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number; [key: string]: unknown } | null
  input_tokens?: number
  output_tokens?: number
  input_tokens_details?: { cached_tokens?: number; [key: string]: unknown } | null
  output_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown } | null
  [key: string]: unknown
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/** A raw `chat.completion.chunk` object, as the provider sent it (other providers' fields kept). */
export interface ChatCompletionChunk {
  id: string
  object: OpenString<'chat.completion.chunk'>
  created: number
  model: string
  system_fingerprint?: string | null
  choices: ChatCompletionChunkChoice[]
  usage?: Usage | null
  [key: string]: unknown
}

export interface ChatCompletionChunkChoice {
  index: number
  delta?: ChatCompletionChunkDelta | null
  finish_reason?: FinishReason | null
  logprobs?: unknown
  [key: string]: unknown
}

/** A chunk's `delta`. */
export interface ChatCompletionChunkDelta {
  role?: OpenString<'assistant' | 'developer' | 'system' | 'user' | 'tool'> | null
  content?: string | null
  refusal?: string | null
  reasoning_content?: string | null
  reasoning?: string | null
  tool_calls?: Array<{
    index: number
    id?: string | null
    type?: OpenString<'function'> | null
    function?: { name?: string | null; arguments?: string | null } | null
    [key: string]: unknown
  }> | null
  function_call?: { name?: string | null; arguments?: string | null } | null
  [key: string]: unknown
}

/**
 * The accumulated assistant message of one choice. Assignable to openai's
 * `ChatCompletionMessageParam` (and to ours): push it into the history as it is.
 */
export interface ChatCompletionMessage {
  role: 'assistant'
  content: string | null
  refusal: string | null
  /** Present when reasoning text arrived. */
  reasoning_content?: string
  /** Present when the model called tools, in `index` order. */
  tool_calls?: ChatCompletionMessageFunctionToolCall[]
  /** Legacy `function_call`, when the server streamed one on its own (it is also `tool_calls[0]`). */
  function_call?: { name: string; arguments: string }
  /**
   * Present when the request asked for JSON (`response_format` json_schema / json_object, or
   * the `schema` option): the content parsed by the engine's incremental parser (`null` when
   * it is not whole JSON); with `schema`, the schema's output.
   */
  parsed?: unknown
}

export interface ChatCompletionChoice {
  index: number
  message: ChatCompletionMessage
  /** `null` for a choice the server never finished (as in an error's `partial`). */
  finish_reason: FinishReason | null
  /** Always `null`: log probabilities are not accumulated. */
  logprobs: null
}

/** The accumulated result of a chat stream, shaped like the non-streaming `chat.completion`. */
export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint?: string
  choices: ChatCompletionChoice[]
  usage: Usage | null
}

/** Token counts in one shape for every endpoint (chat `prompt_tokens` is `inputTokens`, ...). */
export interface TokenUsage {
  /** Chat/completions `prompt_tokens`, responses `input_tokens`. */
  inputTokens: number
  /** Chat/completions `completion_tokens`, responses `output_tokens`. */
  outputTokens: number
  /** `prompt_tokens_details.cached_tokens` / `input_tokens_details.cached_tokens` (0 when absent). */
  cachedTokens: number
  /** `completion_tokens_details.reasoning_tokens` / `output_tokens_details.reasoning_tokens` (0 when absent). */
  reasoningTokens: number
}

/** `TokenUsage` sums, with how many streams they came from. */
export interface UsageSums extends TokenUsage {
  requests: number
}

/** `client.usage`. */
export interface UsageTotals extends UsageSums {
  byModel: Record<string, UsageSums>
}

/**
 * OpenAI's rate-limit headers, parsed. Each field is `null` when its header was absent (or not
 * a number / a duration).
 */
export interface RateLimitInfo {
  /** `x-ratelimit-limit-requests`: requests allowed per window. */
  limitRequests: number | null
  /** `x-ratelimit-limit-tokens`: tokens allowed per window. */
  limitTokens: number | null
  /** `x-ratelimit-remaining-requests`. */
  remainingRequests: number | null
  /** `x-ratelimit-remaining-tokens`. */
  remainingTokens: number | null
  /** `x-ratelimit-reset-requests` (`1s`, `6m0s`, `20ms`, ...) in milliseconds: until the request limit resets. */
  resetRequestsMs: number | null
  /** `x-ratelimit-reset-tokens` in milliseconds. */
  resetTokensMs: number | null
  /** When the headers were read (epoch ms, `Date.now()`): the resets count from here. */
  receivedAt: number
}

export interface StreamStats {
  /** Milliseconds from the request start to the first chunk; `null` before it. */
  ttftMs: number | null
  /** Provider chunks received so far. */
  chunks: number
  /** Body bytes received so far. */
  bytes: number
  /** Milliseconds from the start to the end (or to now while running); 0 while still queued. */
  durationMs: number
  /** Milliseconds the request waited in the client's queue (`maxConcurrent`) before it was sent; 0 without a limit. */
  queuedMs: number
}

export interface ResponseInfo {
  status: number
  /** Response headers, lower-case names. */
  headers: Record<string, string>
  /** The `x-request-id` header, when present. */
  requestId: string | null
  /**
   * The HTTP version of the answer: `'2'` when the server offered HTTP/2 by ALPN (https only),
   * else `'1.1'` (`'1.0'` from an old server or proxy). `null` for `parseChatStream` and
   * friends, where the bytes came from elsewhere.
   */
  httpVersion: '1.0' | '1.1' | '2' | null
  /** The `x-ratelimit-*` headers, parsed; `null` when the answer had none. */
  rateLimit: RateLimitInfo | null
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
  /** Every tool-call fragment: the `toolCallDelta` Delta. */
  toolCallDelta: (delta: ToolCallDelta) => void
  /** A tool call whose arguments are whole: the `toolCall` Delta. */
  toolCall: (call: ToolCall) => void
  /** A hosted tool's progress (responses): the `toolStatus` Delta. */
  toolStatus: (status: ToolStatus) => void
  /** An annotation of the output text (responses): the `citation` Delta. */
  citation: (citation: Citation) => void
  /** A partial or finished generated image (responses): the `image` Delta. */
  image: (image: ImageDelta) => void
  /** An MCP server's approval request (responses): the `approval` Delta. */
  approval: (approval: Approval) => void
  finish: (reason: FinishReason, choice: number) => void
  usage: (usage: Usage) => void
  /** Every raw provider object. */
  chunk: (chunk: Chunk) => void
  /**
   * The stream failed; `error.partial` is typed for this stream (`Partial<Final>`). With no
   * `error` listener, no iterator and no pending `final()`, the error surfaces as an unhandled
   * rejection, as an EventEmitter's would.
   */
  error: (error: StreamFailure<Final>) => void
  /** The stream completed; the argument is what `final()` resolves with. */
  end: (final: Final) => void
  /** The stream was aborted. */
  abort: (error: AbortError) => void
  /** A new snapshot of choice 0's content parsed as JSON (see `objects()`); `choice` is 0. */
  object: (value: unknown, choice: number) => void
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
  /**
   * Choice 0's content (responses: the output text) parsed as JSON so far, one snapshot per
   * batch that changed it. A snapshot holds only what has arrived: an unfinished string shows
   * its prefix; a number, `true`, `false` or `null` only once complete; a key once its string
   * is complete and its value has begun; items and keys in order. Content that is not JSON
   * ends it with `ParseError` (`partial` holds the text).
   *
   * Snapshots are plain objects and arrays (`structuredClone`, `JSON.stringify` and
   * `postMessage` work), built from the previous one. What is guaranteed:
   * - a snapshot handed out never changes (treat it as read-only: the stream never writes it);
   * - each object or array that changed since the previous snapshot is a new object, and so is
   *   every container above it (only the open path, the last member of each open container,
   *   can change);
   * - everything else is the same object as in the previous snapshot (so `===` tells a
   *   renderer what to skip, as React's memo does).
   *
   * Cost stays linear in the content: changing a container copies it (shallowly) once per
   * snapshot, so when the open path is wide (more than about a thousand members, a long array
   * being appended to) the next snapshot waits until the patches read since the last one are
   * as long as that path is wide, or 16 ms, whichever comes first; the last batch always gets
   * one. Small values get a snapshot for every batch that changed them.
   */
  objects<T = unknown>(): AsyncIterableIterator<T>
  on<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  addListener<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  once<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  off<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  removeListener<E extends keyof StreamEvents<Final, Chunk>>(event: E, listener: StreamEvents<Final, Chunk>[E]): this
  removeAllListeners(event?: keyof StreamEvents<Final, Chunk>): this
  listenerCount(event: keyof StreamEvents<Final, Chunk>): number
  /**
   * The accumulated result. Rejects with the stream's error, which carries `partial` (a
   * rejection is untyped in TypeScript: `error.partial as PartialOf<typeof stream>`, or listen
   * to `error`, which types it).
   */
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
   * `cache-control: no-cache, no-transform` and `x-accel-buffering: no` (`ai-sdk`: the AI SDK's
   * own headers, see `RelayFormat`), writes one chunk per
   * batch (calling `res.flush()` when present, as the `compression` middleware adds), pauses
   * the upstream read while `res.write()` is full until `drain`, sends `: ping` comments after
   * `heartbeat` ms of silence (SSE formats), aborts the upstream when the client disconnects,
   * and reports a later upstream error in-band in the chosen format before ending (`openai`:
   * a `data: {"error": ...}` line; `events`: `event: error`; `ndjson`: an `error` line;
   * `ai-sdk`: an `error` part with `errorText`, then `data: [DONE]`; `text`,
   * which has no in-band place for it: the response is cut without its last chunk, so `fetch`
   * and browsers see a network error rather than an answer that looks complete).
   * Throws a `TypeError` synchronously for bad options or a `res` that is not a ServerResponse.
   * Its promise never rejects: it resolves `{ ok: true, final }` or `{ ok: false, error }`.
   */
  pipeTo(
    res: import('node:http').ServerResponse,
    options?: RelayOptions & { resumable?: ResumableOptions },
  ): Promise<RelayResult<Final>>
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
  pipeToWebSocket(
    ws: RelayWebSocket,
    options?: { format?: 'events' | 'ndjson'; onError?: RelayOptions['onError'] },
  ): Promise<RelayResult<Final>>
}

/**
 * Relay formats. `openai`: `data: {chunk}` SSE ending with `data: [DONE]` (the provider's chunks
 * relayed as they came, readable by the official SDKs); `events`: named SSE events for
 * `EventSource` (`text`/`refusal`/`reasoning` with a JSON string as data for choice 0 and the
 * whole delta for other choices; one event per Delta type, of the same name: `toolCallDelta`,
 * `toolCall`, `toolStatus`, `citation`, `image` and `approval` (the Deltas), `finish`
 * `{reason, choice}`, `usage`; then `error` or `done`); `text`: content only; `ndjson`: one
 * Delta JSON per line.
 *
 * `ai-sdk`: the AI SDK's UI message stream (headers `x-vercel-ai-ui-message-stream: v1`,
 * `content-type: text/event-stream`, `cache-control: no-cache`, `x-accel-buffering: no`), as
 * its `useChat` / `DefaultChatTransport` / `readUIMessageStream` read it (ai 5 to 7). Choice 0
 * only: `start` (`messageId`: the upstream response id), `start-step`, `text-start` /
 * `text-delta` / `text-end` (a refusal streams as text), `reasoning-start` / `-delta` / `-end`,
 * `tool-input-start` / `tool-input-delta` as the arguments stream, `tool-input-available`
 * with the parsed `input` once the call is whole (`tool-input-error` when its arguments are
 * not JSON). Hosted tools (responses): a call the provider runs has `providerExecuted: true`
 * on its tool parts and `tool-output-available` with its `output` (`tool-output-error` with
 * its error's message) after `tool-input-available`; its `input` is the JSON arguments (MCP),
 * `{ code }` (code interpreter) or `{ commands }` (shell), a custom tool's the input string.
 * A tool known only by its progress (web search, file search, image generation) is a tool part
 * named after it (`tool-web_search`): `input` `{}`, started at its first `toolStatus`, output
 * `{ status: 'completed' }` (or `tool-output-error`) at its end. A url citation is a
 * `source-url` (`sourceId` `source-N`, `url`, `title`), a file citation a `source-document`
 * (`title` and `filename` the file's name, `mediaType` `application/octet-stream`: the API
 * does not say); the finished image (not the partials) a `file` part with a `data:` URL.
 * MCP tool listings and approval requests have no part in the schema: read them from the
 * `events` format or the stream itself. Then `finish-step` and `finish` with `finishReason` (`'stop'`, `'length'`,
 * `'tool-calls'`, `'content-filter'`, `'other'`) and, when the provider sent usage,
 * `messageMetadata: { usage: { inputTokens, outputTokens, totalTokens, reasoningTokens?,
 * cachedInputTokens? }, providerUsage }`; then `data: [DONE]`. An upstream error mid-stream
 * closes the open part (its text stays in the client's message) and sends
 * `{ type: 'error', errorText }` (the same safe message as the other formats), then
 * `data: [DONE]`. Only fields of the AI SDK's part schema are written (its v5 and v6 clients
 * validate strictly).
 *
 * Every data line is JSON or split per line: no payload text can inject SSE fields.
 */
export type RelayFormat = 'openai' | 'events' | 'text' | 'ndjson' | 'ai-sdk'

/**
 * Options of `pipeTo`, `toReadableStream` and `toNodeStream`. A bad value or an unknown name
 * throws a `TypeError` synchronously (naming the option) and aborts the stream, so no upstream
 * request is left open.
 */
export interface RelayOptions {
  /** Default `'openai'`. */
  format?: RelayFormat
  /** Ms of upstream silence before a `: ping` comment (SSE formats). Default 15_000; `false` disables. */
  heartbeat?: number | false
  /**
   * `ai-sdk` only: the `messageId` of its `start` part. Default: the upstream response's id
   * (`chatcmpl-…`, `resp_…`); a string: that id (say one your server stores the chat under);
   * `false`: none, so the page keeps the id it made (and an assistant message that continues
   * after tool outputs keeps its id).
   */
  messageId?: string | false
  /**
   * What the client is told about an upstream error. By default it gets a safe body
   * `{ message, type, code, status, param? }`: a short message (the provider's first sentence
   * for request errors and mid-stream errors, a generic one otherwise; no URLs, keys or
   * transport text), 401/403 upstream as 502 `upstream_error`. Return `status` (400-599, used
   * only before the first byte) and/or `message` to change it; a throwing `onError` leaves the
   * default. A 429 or 503 answer carries `retry-after` when upstream gave one.
   */
  onError?: (error: StreamDeltaError | Error) => { status?: number; message?: string } | undefined
}

/**
 * `pipeTo(res, { format, resumable: { store, id } })`: the relay is recorded in `store` under
 * `id` as it goes, so that any instance can `store.resume(id, ...)` it. Only for the SSE
 * formats (`'events'`, `'openai'`, `'ai-sdk'`; others throw a `TypeError`). With it:
 * - every event written carries an SSE `id:` (a Redis stream id, increasing), for
 *   `Last-Event-ID`;
 * - the client leaving does not abort the upstream: the answer keeps being recorded to its end
 *   (unless the store is unreachable, see below);
 * - a second `pipeTo` with an id that is still live is refused: HTTP 409 with a JSON error
 *   body, and the result `{ ok: false, error }` with `error.code === 'ERR_RELAY_LIVE'`; the
 *   new stream is aborted;
 * - `store.cancel(id)` from any instance aborts the upstream within a second; the live client
 *   and every resumer get an error event with `code: 'cancelled'`, the result is
 *   `{ ok: false, error: AbortError }`;
 * - Redis unreachable at the start (2 s): the live client is served as usual and told in-band
 *   (`: not resumable` comment), events carry no ids, and the client leaving aborts as without
 *   `resumable`. A Redis failure later (Redis restarted, say) stops the recording (`: no
 *   longer resumable`; the events after it carry no ids, and the client leaving then aborts);
 *   resumers are cut or end with an error event instead of waiting. The store reconnects by
 *   itself for the next relay. The live client never fails because of Redis.
 * - a background Responses answer (`client.responses({ ..., background: true })`) also records
 *   its response id and last sequence number with every batch, so that a store with a
 *   `client` can take it over when this process dies (see `RelayStoreOptions.client`).
 */
export interface ResumableOptions {
  store: RelayStore
  /** The relay's id (1 to 512 characters), e.g. the chat id. A new relay with an id that has ended replaces its log. */
  id: string
}

/** Options of `new RelayStore(...)`. Unknown names throw a `TypeError`. */
export interface RelayStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). */
  url: string
  /** Seconds every key the store writes lives after its last write (a whole number >= 1). */
  ttl: number
  /** Prefix of every key. Default `'streamdelta:'`. */
  prefix?: string
  /**
   * The Client to take background Responses answers over with. When a `resume()` on this
   * store finds that a relay's producer died (its marker expired with no end recorded) and the
   * log holds a background response's position, it takes the id, re-attaches with
   * `client.resumeResponse(responseId, { startingAfter })` (the last recorded sequence number)
   * and carries the log on to the end, relaying to its own client: the answer completes, and
   * every other resumer follows. Without it (or for other answers) resumers end with
   * `code: 'relay_interrupted'`. In the `ai-sdk` format the taken-over part of the answer
   * starts a new step (its text is a new text part of the same message).
   */
  client?: Client
}

/** Options of `store.resume(id, res, options)`. */
export interface ResumeOptions {
  /** Must be the format the relay was recorded in (else 409); default: that format. */
  format?: 'events' | 'openai' | 'ai-sdk'
  /** The client's `Last-Event-ID` header: replay starts right after that event. Missing, null or not an id: from the start. */
  lastEventId?: string | null
  /** Ms without an event before a `: ping` comment while following. Default 15_000; `false` disables. */
  heartbeat?: number | false
}

/**
 * How `resume` ended: `found: false` for a 204 (unknown or expired id); `ok: true` when it
 * relayed up to the answer's successful end; otherwise `error` says why (the answer failed or
 * was cancelled, its producer died, the client left, Redis failed).
 */
export interface ResumeResult {
  ok: boolean
  found: boolean
  error?: Error
  /** True when this resume took a background response over from a producer that died (see `RelayStoreOptions.client`). */
  takenOver?: boolean
}

/**
 * A durable log of relayed events in Redis, shared by every instance of a service (the npm
 * package `redis` is its client, connected on first use). Keys, each expiring `ttl` seconds
 * after its last write: `{prefix}relay:{id}` (a Redis stream: one entry per relayed batch with
 * the rendered events, and a terminal entry `done` / `error` / `cancelled`),
 * `{prefix}relay-live:{id}` (the producer's marker: SET NX with a 3 s expiry refreshed every
 * 500 ms) and `{prefix}relay-cancel:{id}` (set by `cancel`).
 *
 *   const store = new RelayStore({ url: 'redis://127.0.0.1:6379', ttl: 3600 })
 *   app.post('/chat/:id', (req, res) => client.chat(body).pipeTo(res, { format: 'events', resumable: { store, id: req.params.id } }))
 *   app.get('/chat/:id/stream', (req, res) => store.resume(req.params.id, res, { format: 'events', lastEventId: req.get('last-event-id') }))
 *   app.post('/chat/:id/cancel', async (req, res) => { await store.cancel(req.params.id); res.end() })
 */
export declare class RelayStore {
  /** Throws a `TypeError` for a bad or unknown option. Connects lazily. */
  constructor(options: RelayStoreOptions)
  readonly ttl: number
  readonly prefix: string
  /**
   * Relays `id` to `res`: replays the events after `lastEventId` (all without it), then
   * follows the live answer to its end (done, error, cancelled), each event with its SSE id.
   * An unknown or expired id answers 204 with no body (what `useChat`'s `resume: true`
   * expects). When the producer dies (its marker expires with no end recorded) the resumer
   * ends with an error event (`code: 'relay_interrupted'`) within about 4 s, unless the answer
   * is a background response and this store has a `client`: then it takes the upstream over
   * (`RelayStoreOptions.client`; the result says `takenOver: true`). Each resumer uses
   * its own Redis connection (for XREAD BLOCK), closed when it ends or the client leaves.
   * Throws a `TypeError` synchronously for bad arguments; the promise never rejects (Redis
   * unreachable before the first byte: 503 with a JSON body).
   */
  resume(id: string, res: import('node:http').ServerResponse, options?: ResumeOptions): Promise<ResumeResult>
  /**
   * Cancels relay `id` wherever it runs: its producer aborts the upstream within a second and
   * records a `cancelled` end, which ends every resumer. Resolves `true` when the relay was
   * live, `false` otherwise. Rejects when Redis cannot be reached.
   */
  cancel(id: string): Promise<boolean>
  /** Ends the store's connections; resumers in progress are cut. */
  close(): Promise<void>
}

export type RelayResult<Final> = { ok: true; final: Final } | { ok: false; error: StreamFailure<Final> | Error }

/**
 * How `partial` is typed. The error classes declare `partial?: unknown` (an error caught from
 * `await stream.final()` or a `for await` loop is `unknown` in TypeScript anyway); where the
 * stream is known, its errors are `StreamFailure<Final>`: the `error` event and
 * `RelayResult` give them so, and `instanceof` narrowing keeps the typed `partial`:
 *
 *   stream.on('error', (e) => { if (e instanceof APIError) e.partial?.choices })   // Partial<ChatCompletion>
 *
 * `partial` is the accumulated result so far, in the shape `final()` would have returned; the
 * fields that had not arrived may be missing (`Partial`), an unfinished choice has
 * `finish_reason: null`.
 */
export type StreamFailure<Final> = StreamDeltaError & { partial?: Partial<Final> }

/**
 * The type of `partial` on a stream's errors, from the stream type (or from its `final()`
 * type): `PartialOf<ChatStream>` is `Partial<ChatCompletion>`. In a `catch` after
 * `await stream.final()`: `const partial = error.partial as PartialOf<typeof stream> | undefined`.
 */
export type PartialOf<S> = S extends BaseStream<infer Final, infer _Chunk> ? Partial<Final> : Partial<S>

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

/** A streamed chat completion. Its errors carry `partial: PartialOf<ChatStream>` (`Partial<ChatCompletion>`). */
export declare class ChatStream extends BaseStream<ChatCompletion, ChatCompletionChunk> {
  /** Choice 0's whole content (`''` when there was none). */
  finalText(): Promise<string>
}

/**
 * What a tool's `parameters` may be: a JSON Schema object (sent as the function's `parameters`;
 * `run` gets the arguments as parsed JSON, unchecked), or a Standard Schema that also offers
 * its JSON Schema (Standard JSON Schema, `~standard.jsonSchema.input`, as zod 4.2+ has): that
 * JSON Schema is sent (draft-07, without `$schema`), and `run` gets the schema's validated
 * output (arguments that fail it go back to the model as an error, and `toolError` fires).
 */
export type ToolParameters = JsonSchema | StandardJsonSchemaLike

/** A Standard Schema that can also give its JSON Schema (Standard JSON Schema). */
export interface StandardJsonSchemaLike extends StandardSchemaLike {
  readonly '~standard': StandardSchemaLike['~standard'] & {
    readonly jsonSchema: { readonly input: (options: { readonly target: string }) => Record<string, unknown> }
    readonly types?: { readonly input: unknown; readonly output: unknown }
  }
}

/** The arguments `run` receives: a Standard Schema's output type, or (JSON Schema) any parsed JSON. */
export type ToolArguments<P> = P extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly output: infer O }
    ? O
    : unknown
  : // biome-ignore lint/suspicious/noExplicitAny: JSON Schema arguments are not typed
    any

/** One tool of `runTools`. */
export interface RunnableTool<P extends ToolParameters = ToolParameters> {
  description?: string
  parameters: P
  /**
   * Runs one call. The value it returns (or resolves to) is the tool message's `content`: a
   * string as it is, anything else as JSON (`undefined`: `''`). A throw is sent as
   * `Error: <message>`.
   */
  run: (args: ToolArguments<P>, context: ToolContext) => unknown
}

/** What `run` receives besides the arguments. */
export interface ToolContext {
  /** Fires when the run is aborted. */
  signal: AbortSignal
  toolCallId: string
  /** The step whose answer made the call (1 for the first request). */
  step: number
  /** The conversation so far (a copy), the calling assistant message last. */
  messages: ChatCompletionMessageParam[]
}

/** One call's outcome: `result` when `run` returned, `error` when it failed (or could not run). */
export interface ToolResult {
  id: string
  name: string
  /** The arguments `run` got (parsed, and validated with a Standard Schema); undefined if they did not parse. */
  arguments: unknown
  result?: unknown
  error?: unknown
  /** What was sent to the model as the tool message's content. */
  content: string
}

/** One step of a run: its request's whole answer and the calls it made. */
export interface ToolRunStep {
  /** 1 for the first request. */
  step: number
  completion: ChatCompletion
  /** In the order of the answer's `tool_calls`; empty when it called none. */
  toolResults: ToolResult[]
}

/** What `ToolRunStream.final()` resolves with. */
export interface ToolRunResult {
  /**
   * The conversation: the request's `messages`, then each step's assistant message (`content`,
   * `refusal`, `tool_calls` as the API takes them back) and its `tool` messages, in order:
   * ready to send again to continue.
   */
  messages: ChatCompletionMessageParam[]
  steps: ToolRunStep[]
  /** The last step's answer. */
  completion: ChatCompletion
  /** `stop`: the last answer called no tool; `maxSteps`: the run stopped at `maxSteps`. */
  stopReason: 'stop' | 'maxSteps'
}

/** A run's error: a step's error (or an `AbortError`), with what the run had done by then. */
export type ToolRunFailure = StreamFailure<ChatCompletion> & {
  messages: ChatCompletionMessageParam[]
  steps: ToolRunStep[]
}

/** The events of a `ToolRunStream`. */
export interface ToolRunEvents {
  /** Content text of the current step; `snapshot` is that step's text so far. */
  text: (text: string, snapshot: string, choice: number) => void
  refusal: (text: string, snapshot: string, choice: number) => void
  reasoning: (text: string, snapshot: string, choice: number) => void
  toolCallDelta: (delta: ToolCallDelta) => void
  /** A whole tool call, as the model made it (it runs once its step's answer is whole). */
  toolCall: (call: ToolCall) => void
  finish: (reason: FinishReason, choice: number) => void
  usage: (usage: Usage) => void
  /** A call's `run` returned. */
  toolResult: (result: ToolResult) => void
  /** A call failed (its `run` threw, its arguments did not parse or validate, no such tool); the run goes on. */
  toolError: (error: unknown, result: ToolResult) => void
  /** A step ended: its answer is whole and its tools ran. */
  step: (step: ToolRunStep) => void
  end: (result: ToolRunResult) => void
  /** A step failed: the run ends (no error listener, no iterator and no `final()`: an unhandled rejection). */
  error: (error: ToolRunFailure) => void
  abort: (error: AbortError) => void
}

/**
 * A chat streamed across tool-calling steps (`client.runTools`). Consume it as a `ChatStream`:
 * one iterator (`for await` of Deltas, or `text()`), events, `final()`. The iterator paces each
 * step's stream; listeners or `final()` alone make the run flow. `abort()` cancels the step in
 * flight (its request closes) or, while tools run, fires their `signal`; the run then ends with
 * `AbortError`.
 */
export declare class ToolRunStream implements AsyncIterable<Delta> {
  /** Every Delta of every step, in order (`toolCall` Deltas before their results). `break` aborts the run. */
  [Symbol.asyncIterator](): AsyncIterator<Delta>
  /** Choice 0's content text of every step. */
  text(): AsyncIterableIterator<string>
  final(): Promise<ToolRunResult>
  /** The last step's content. */
  finalText(): Promise<string>
  on<E extends keyof ToolRunEvents>(event: E, listener: ToolRunEvents[E]): this
  off<E extends keyof ToolRunEvents>(event: E, listener: ToolRunEvents[E]): this
  abort(reason?: unknown): void
  /** Fires when the run is aborted (the same signal each tool's `run` receives). */
  readonly signal: AbortSignal
  /** The conversation so far (a copy): the request's messages, then each finished step's. */
  readonly messages: ChatCompletionMessageParam[]
}

/** A Responses API event object (`response.output_text.delta`, `response.completed`, ... and types not known yet). */
export interface ResponseEvent {
  type: string
  sequence_number?: number
  [key: string]: unknown
}

/** An assistant message item of `output`. */
export interface ResponseOutputMessage {
  type: 'message'
  id: string
  role: 'assistant'
  status: OpenString<'in_progress' | 'completed' | 'incomplete'>
  content: Array<ResponseOutputText | ResponseOutputRefusal>
  [key: string]: unknown
}

/**
 * Any other item of `output` (hosted tool calls, MCP items, ...), by its `type`, with its fields
 * as the provider sent them.
 */
export interface ResponseOutputItemOther {
  type:
    | 'file_search_call'
    | 'web_search_call'
    | 'computer_call'
    | 'code_interpreter_call'
    | 'image_generation_call'
    | 'local_shell_call'
    | 'shell_call'
    | 'shell_call_output'
    | 'apply_patch_call'
    | 'apply_patch_call_output'
    | 'mcp_call'
    | 'mcp_list_tools'
    | 'mcp_approval_request'
    | 'mcp_approval_response'
    | 'custom_tool_call_output'
    | 'function_call_output'
    | 'compaction'
  id?: string
  status?: string
  [key: string]: unknown
}

/**
 * One item of `output`, discriminated by `type`. Each is also a valid `ResponseInputItem`, so
 * `input.push(...final.output)` carries a tool loop on without `previous_response_id`.
 */
export type ResponseOutputItem =
  | ResponseOutputMessage
  | ResponseFunctionToolCall
  | ResponseCustomToolCall
  | ResponseReasoningItem
  | ResponseOutputItemOther

/** The Response object (`response.completed`'s `response`, or the accumulation when a server sent none). */
export interface ResponseObject {
  id: string
  object: 'response'
  status: OpenString<'completed' | 'failed' | 'in_progress' | 'cancelled' | 'queued' | 'incomplete'>
  model?: string
  created_at?: number
  output: ResponseOutputItem[]
  /** The whole output text (openai-node's convenience field, filled in by streamdelta). */
  output_text: string
  /**
   * Present when the request asked for JSON (`text.format` json_schema / json_object, or the
   * `schema` option): the output text parsed (`null` when it is not whole JSON); with
   * `schema`, the schema's output.
   */
  output_parsed?: unknown
  usage: Usage | null
  error?: { code: string; message: string } | null
  incomplete_details?: { reason?: string } | null
  previous_response_id?: string | null
  [key: string]: unknown
}

/**
 * A streamed Responses API answer. Deltas: `text`, `refusal`, `reasoning`, `toolCallDelta` and
 * `toolCall` (function, custom, MCP, code interpreter, shell and local shell calls),
 * `toolStatus`, `citation`, `image` and `approval` (hosted tools), `finish`, `usage`;
 * `chunks()` yields every event object, those of event types added later too. Its errors carry `partial: PartialOf<ResponseStream>`
 * (`Partial<ResponseObject>`).
 */
export declare class ResponseStream extends BaseStream<ResponseObject, ResponseEvent> {
  /** The whole output text. */
  finalText(): Promise<string>
}

/** A legacy `text_completion` chunk. */
export interface CompletionChunk {
  id: string
  object: OpenString<'text_completion'>
  created: number
  model: string
  choices: Array<{ index: number; text: string; finish_reason: FinishReason | null; logprobs?: unknown }>
  usage?: Usage | null
  [key: string]: unknown
}

export interface CompletionChoice {
  index: number
  text: string
  finish_reason: FinishReason | null
  /** Always `null`: log probabilities are not accumulated. */
  logprobs: null
}

/** The accumulated legacy completion. */
export interface Completion {
  id: string
  object: 'text_completion'
  created: number
  model: string
  choices: CompletionChoice[]
  usage: Usage | null
}

/** A streamed legacy completion. Its errors carry `partial: PartialOf<CompletionStream>` (`Partial<Completion>`). */
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
// The AI SDK's UI messages as request input
// ---------------------------------------------------------------------------------------

/**
 * A part of a UI message as the AI SDK's `useChat` posts it (structurally; no import of `ai`).
 * Tool parts are `tool-<name>` (or `dynamic-tool` with `toolName`) with a `state`:
 * `input-streaming`, `input-available`, `output-available` (with `output`), `output-error`
 * (with `errorText`), `output-denied`, ... Other part types (`source-url`, `data-*`, ...)
 * are accepted and ignored.
 */
export type UIMessagePartLike =
  | { type: 'text'; text: string; state?: 'streaming' | 'done' }
  | { type: 'reasoning'; text: string; state?: 'streaming' | 'done' }
  | { type: 'file'; mediaType: string; url: string; filename?: string }
  | { type: 'step-start' }
  | {
      type: `tool-${string}` | 'dynamic-tool'
      toolName?: string
      toolCallId: string
      state: string
      input?: unknown
      output?: unknown
      errorText?: string
      providerExecuted?: boolean
    }
  | { type: string; [key: string]: unknown }

/** A UI message (`UIMessage` of the AI SDK, any metadata and data parts). */
export interface UIMessageLike {
  id?: string
  role: 'system' | 'user' | 'assistant'
  parts: readonly UIMessagePartLike[]
  metadata?: unknown
}

/** A chat completions message as `toChatMessages` makes it. */
export type ChatMessageParam =
  | { role: 'system'; content: string }
  | {
      role: 'user'
      content:
        | string
        | Array<
            | { type: 'text'; text: string }
            | { type: 'image_url'; image_url: { url: string } }
            | { type: 'file'; file: { file_data: string; filename?: string } }
          >
    }
  | {
      role: 'assistant'
      content: string | null
      tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>
    }
  | { role: 'tool'; tool_call_id: string; content: string }

/** A Responses API `input` item as `toResponseInput` makes it. */
export type ResponseInputItemParam =
  | { type: 'message'; role: 'system' | 'assistant'; content: string }
  | {
      type: 'message'
      role: 'user'
      content: Array<
        | { type: 'input_text'; text: string }
        | { type: 'input_image'; image_url: string; detail: 'auto' }
        | { type: 'input_file'; file_data?: string; file_url?: string; filename?: string }
      >
    }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string }

/**
 * The `messages` that `useChat` posts (UIMessage objects with `parts`) as chat completions
 * `messages`: system and user text (user files: images as `image_url` parts, others as `file`
 * parts with `file_data`), and per step of an assistant message its text plus `tool_calls`,
 * each call's result after it as a `tool` message (`output` as JSON unless a string;
 * `errorText` for `output-error`). A step ends at a `step-start` part and where text follows a
 * tool call. Left out: reasoning (chat completions take none), tool calls without a result
 * (the API rejects a call with no `tool` message), tools the provider ran
 * (`providerExecuted`). Throws a `TypeError` for what is not an array of UI messages.
 *
 *   app.post('/chat', (req, res) => client.chat({ model, messages: toChatMessages(req.body.messages) })
 *     .pipeTo(res, { format: 'ai-sdk' }))
 */
export declare function toChatMessages(uiMessages: readonly UIMessageLike[]): ChatMessageParam[]

/**
 * The same history as Responses API `input` items: `message` items (user content as
 * `input_text`, `input_image`, `input_file`), and per tool call a `function_call` item followed
 * by its `function_call_output`. The same parts are left out as by `toChatMessages`.
 */
export declare function toResponseInput(uiMessages: readonly UIMessageLike[]): ResponseInputItemParam[]

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
  /**
   * The accumulated result so far (shaped like `final()`), on every error raised after the first
   * body byte. `unknown` here; `StreamFailure<Final>` / `PartialOf<S>` type it per stream.
   */
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

/**
 * DNS, refused, reset, TLS (`ERR_CONNECTION`). The message says what happened in words a
 * person can act on (`Connection error: could not connect to 127.0.0.1:8080: connection
 * refused`); the transport's own texts are the `cause` chain (`cause.cause...`), outermost first.
 */
export declare class ConnectionError extends StreamDeltaError {
  code: 'ERR_CONNECTION'
  cause: Error
}

/**
 * `timeout` (until headers), `idleTimeout` (between bytes) or `queueTimeout` (waiting in the
 * client's queue; the request was never sent) elapsed (`ERR_TIMEOUT`).
 */
export declare class TimeoutError extends StreamDeltaError {
  code: 'ERR_TIMEOUT'
  phase: 'headers' | 'idle' | 'queue'
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
  /** The first 200 bytes of the offending line or body (empty for content that is not JSON). */
  line: string
  /** A `schema` failure: the Standard Schema issues. */
  issues?: ReadonlyArray<StandardSchemaIssue>
}

/**
 * The connection closed before `[DONE]` while a choice was unfinished (`ERR_INCOMPLETE`).
 * When the connection broke (rather than closed cleanly), the message says how far the stream
 * got (`the connection was lost mid-stream after 4 events`) and `cause` holds the transport's
 * error chain. `partial` keeps everything received.
 */
export declare class IncompleteStreamError extends StreamDeltaError {
  code: 'ERR_INCOMPLETE'
}

// ---------------------------------------------------------------------------------------
// Tracing (node:diagnostics_channel)
// ---------------------------------------------------------------------------------------

/**
 * The context object of the `node:diagnostics_channel` tracing channel `streamdelta.request`
 * (`diagnostics_channel.tracingChannel('streamdelta.request')`). Every request made while the
 * channel has subscribers publishes, with one context object:
 *
 * - `start` and `end` synchronously in the call (`client.chat(...)`), in the caller's async
 *   context, even when the request then waits in the queue;
 * - at the stream's end (once its response headers were read): `error` when it failed or was
 *   aborted (`error` set), then `asyncStart` and `asyncEnd` with the fields below filled in.
 *
 * Nothing is built or published for a request made without subscribers. A request that
 * timed out in the queue, or was aborted there, is traced too (never sent: `status` null).
 * `streamdelta/otel` turns these into OpenTelemetry spans and metrics.
 */
export interface RequestTraceContext {
  operation: 'chat' | 'responses' | 'completions'
  /** The model asked for (the Azure deployment when the body had none); null for `resumeResponse`. */
  model: string | null
  /** The endpoint's URL, without the query. */
  url: string
  /** By `asyncEnd`: the HTTP status, `null` when no answer came. */
  status?: number | null
  requestId?: string | null
  ttftMs?: number | null
  queuedMs?: number
  durationMs?: number
  chunks?: number
  /** Per choice, in the words of chat completions (`stop`, `length`, `tool_calls`, ...). */
  finishReasons?: string[]
  usage?: TokenUsage | null
  /** The model that answered and the response's id, from the result (or the error's `partial`). */
  responseModel?: string | null
  responseId?: string | null
  /** Set when the stream failed or was aborted. */
  error?: Error
}
