// streamdelta/browser: reads a relay route in the `events` format from a page (plain ESM, no
// native code). See browser.mjs.
//
//   import { readRelay } from 'streamdelta/browser'
//   const answer = readRelay('/chat', { body: { messages } })
//   for await (const delta of answer) if (delta.type === 'text') el.append(delta.text)

import type { Delta } from './index'

export type { Delta }

/** Options of `readRelay`. An unknown name, or a bad reconnection option, throws a `TypeError`. */
export interface ReadRelayOptions {
  /** Sent as JSON (a string as it is). With a body the default method is POST, else GET. */
  body?: unknown
  method?: string
  headers?: Record<string, string>
  /** Aborting it aborts the reader (as `abort()`). */
  signal?: AbortSignal
  /** Default: `globalThis.fetch`. */
  fetch?: typeof fetch
  credentials?: RequestCredentials
  /**
   * Where the answer resumes (the route calling `store.resume(id, res, { format: 'events',
   * lastEventId })`), e.g. `/chat/${id}/stream`. With it, when the connection breaks before
   * the relay's `done` and its events carried SSE ids (a `resumable` pipeTo), the reader waits
   * `reconnectDelay`, GETs this URL with `Last-Event-ID` (and `headers`) and reads on: every
   * delta arrives exactly once. A 204 there ends the reader with `RelayError` (`code:
   * 'not_resumable'`); a 503 counts as one more broken attempt. Without it a broken connection
   * fails the reader.
   */
  resumeUrl?: string | URL
  /** Reconnections allowed for one answer. Default 5. */
  maxReconnects?: number
  /** Ms to wait before each reconnection. Default 1000. */
  reconnectDelay?: number
}

/** What the relay reported in-band (`event: error`), or an HTTP error answer (`status`, the JSON body). */
export declare class RelayError extends Error {
  readonly name: 'RelayError'
  /** The HTTP status of an error answer, or the `status` the relay put in its error body. */
  readonly status: number | null
  readonly type: string | null
  /** The relay's error code (`'cancelled'`, `'relay_interrupted'`, ...); `'not_resumable'` for a 204 from `resumeUrl`. */
  readonly code: string | null
  /** The error body as it came. */
  readonly body: unknown
}

/** The reader was aborted (`abort()` or its `signal`); `name` is `'AbortError'`. */
export declare class RelayAbortError extends Error {
  readonly name: 'AbortError'
}

export interface RelayReaderEvents {
  text: (text: string, snapshot: string, choice: number) => void
  refusal: (text: string, snapshot: undefined, choice: number) => void
  reasoning: (text: string, snapshot: undefined, choice: number) => void
  toolCallDelta: (delta: Extract<Delta, { type: 'toolCallDelta' }>) => void
  toolCall: (delta: Extract<Delta, { type: 'toolCall' }>) => void
  /** Hosted tools (a relayed Responses stream): the Deltas of the same names. */
  toolStatus: (delta: Extract<Delta, { type: 'toolStatus' }>) => void
  citation: (delta: Extract<Delta, { type: 'citation' }>) => void
  image: (delta: Extract<Delta, { type: 'image' }>) => void
  approval: (delta: Extract<Delta, { type: 'approval' }>) => void
  finish: (delta: Extract<Delta, { type: 'finish' }>) => void
  usage: (delta: Extract<Delta, { type: 'usage' }>) => void
  error: (error: RelayError | RelayAbortError | Error) => void
  /** The relay's `done` event: `text` is choice 0's whole content. */
  done: (text: string) => void
}

/** One relay response being read. The request starts when it is made. */
export declare class RelayReader implements AsyncIterable<Delta> {
  /** Deltas in arrival order; ends at the relay's `done`, throws `RelayError` (or `RelayAbortError`). Breaking out aborts. */
  [Symbol.asyncIterator](): AsyncIterator<Delta>
  /** Choice 0's content text, delta by delta. */
  text(): AsyncIterable<string>
  /** Choice 0's whole content once the relay says `done`; rejects with the error otherwise. */
  finalText(): Promise<string>
  on<E extends keyof RelayReaderEvents>(event: E, listener: RelayReaderEvents[E]): this
  off<E extends keyof RelayReaderEvents>(event: E, listener: RelayReaderEvents[E]): this
  /** Cancels the request: the server sees the connection close and aborts its upstream. */
  abort(reason?: unknown): void
}

/** Reads the relay route at `url` (its `pipeTo(res, { format: 'events' })`). */
export declare function readRelay(url: string | URL, options?: ReadRelayOptions): RelayReader
