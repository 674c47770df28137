// Types of `streamdelta/otel`. `@opentelemetry/api` is an optional peer dependency: install it
// to use this entry.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api'

export interface InstrumentOptions {
  /** Where spans go; default: the global provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider
  /** Where metrics go; default: the global provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider
}

/**
 * Subscribes to the `streamdelta.request` tracing channel and records, for every request made
 * from now on (by any `Client`), in the OpenTelemetry GenAI semantic conventions:
 *
 * - a span `{gen_ai.operation.name} {model}` (`chat gpt-4o`; the Responses API is `chat` too,
 *   legacy completions `text_completion`), kind CLIENT, from the call to the stream's end,
 *   with `gen_ai.operation.name`, `gen_ai.provider.name` (`'openai'`), `gen_ai.request.model`,
 *   `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`,
 *   `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `server.address`,
 *   `server.port`, `http.response.status_code`, `openai.request.id`, `streamdelta.operation`
 *   (`chat` / `responses` / `completions`) and `streamdelta.queued_ms` (time in the client's
 *   queue, when it waited); a stream that failed or was aborted has status ERROR, `error.type`
 *   (the error's class name: `RateLimitError`, `TimeoutError`, `AbortError`, ...) and the
 *   exception as an event;
 * - histograms `gen_ai.client.operation.duration` (s, with `error.type` on failures),
 *   `gen_ai.client.token.usage` (`{token}`, `gen_ai.token.type` `input` / `output`) and
 *   `gen_ai.client.operation.time_to_first_chunk` (s).
 *
 * Returns a function that stops it (spans already open still end). Calling `instrument`
 * twice records everything twice.
 */
export declare function instrument(options?: InstrumentOptions): () => void
