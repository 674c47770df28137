'use strict'
// The `node:diagnostics_channel` tracing channel `streamdelta.request`: `start` (and `end`)
// when a request is made, then at its stream's end `error` (when it failed or was aborted),
// `asyncStart` and `asyncEnd`, all with one context object (index.d.ts `RequestTraceContext`).
// Nothing is built or published unless somebody subscribed before the request was made.
// A leaf module: client.js traces each request, otel.js subscribes.

const diagnosticsChannel = require('node:diagnostics_channel')
const { usageOf } = require('./usage')

const CHANNEL_NAME = 'streamdelta.request'
const channel = diagnosticsChannel.tracingChannel(CHANNEL_NAME)

/** Whether anybody listens (Node >= 20.13 has `hasSubscribers` on the tracing channel itself). */
function subscribed() {
  const own = /** @type {{ hasSubscribers?: boolean }} */ (channel).hasSubscribers
  if (typeof own === 'boolean') return own
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  )
}

/**
 * The finish reasons of a final result (or an error's `partial`), in the words of chat
 * completions: chat/completions `choices[].finish_reason`; responses `status`.
 * @param {any} result
 * @returns {string[]}
 */
function finishReasonsOf(result) {
  if (!result || typeof result !== 'object') return []
  if (Array.isArray(result.choices)) {
    return result.choices.map((c) => c?.finish_reason).filter((r) => typeof r === 'string' && r !== '')
  }
  if (result.object === 'response') {
    if (result.status === 'completed') {
      const calls = Array.isArray(result.output) && result.output.some((item) => /_call$/.test(item?.type ?? ''))
      return [calls ? 'tool_calls' : 'stop']
    }
    if (result.status === 'incomplete') {
      const reason = result.incomplete_details?.reason
      return [reason === 'max_output_tokens' ? 'length' : (reason ?? 'incomplete')]
    }
  }
  return []
}

/**
 * One traced request: `start`/`end` now, the rest at `finish()`. Returns null (and publishes
 * nothing) when nobody subscribes.
 * @param {{ operation: string, model: string | null, url: string }} request
 * @returns {RequestTrace | null}
 */
function traceRequest(request) {
  if (!subscribed()) return null
  return new RequestTrace(request)
}

class RequestTrace {
  /** @type {Record<string, any>} the context object every subscriber sees */
  context
  #finished = false
  /** @type {Promise<unknown> | null} the response headers, once the request was sent */
  #response = null

  /** @param {{ operation: string, model: string | null, url: string }} request */
  constructor(request) {
    this.context = { operation: request.operation, model: request.model, url: request.url }
    channel.start.publish(this.context)
    channel.end.publish(this.context)
  }

  /**
   * The request was sent: its response headers give `status` and `requestId`.
   * @param {Promise<import('./interfaces').ResponseInfo | null>} response
   */
  sent(response) {
    this.#response = response.then(
      (info) => {
        if (info) {
          this.context.status = info.status
          this.context.requestId = info.requestId
        }
      },
      () => {},
    )
  }

  /**
   * The stream ended (`state` 'done'), failed or was aborted.
   * @param {'done' | 'failed' | 'aborted'} state
   * @param {any} final
   * @param {any} error
   * @param {import('./interfaces').Stats} stats
   */
  finish(state, final, error, stats) {
    if (this.#finished) return
    this.#finished = true
    // The end can be read before the headers' promise settled (all of it came at once).
    if (this.context.status === undefined && this.#response !== null && error?.status === undefined) {
      this.#response.then(() => this.#publish(state, final, error, stats))
    } else {
      this.#publish(state, final, error, stats)
    }
  }

  #publish(state, final, error, stats) {
    const ctx = this.context
    const result = state === 'done' ? final : error?.partial
    if (ctx.status === undefined) ctx.status = error?.status ?? null
    if (ctx.requestId === undefined) ctx.requestId = error?.requestId ?? null
    ctx.ttftMs = stats.ttftMs
    ctx.queuedMs = stats.queuedMs
    ctx.durationMs = stats.durationMs
    ctx.chunks = stats.chunks
    ctx.finishReasons = finishReasonsOf(result)
    ctx.usage = usageOf(result)
    ctx.responseModel = typeof result?.model === 'string' ? result.model : null
    ctx.responseId = typeof result?.id === 'string' ? result.id : null
    if (state !== 'done') {
      ctx.error = error
      channel.error.publish(ctx)
    }
    channel.asyncStart.publish(ctx)
    channel.asyncEnd.publish(ctx)
  }
}

module.exports = { CHANNEL_NAME, channel, traceRequest, finishReasonsOf }
