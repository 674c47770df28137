'use strict'
// Token usage: what one stream reported (chat, completions and responses name the fields
// differently) and `client.usage`, the sums over a client's streams. A leaf module.

/** @typedef {import('./interfaces').TokenUsage} TokenUsage */

function tokens(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}

/**
 * The usage object of a final result (or an error's `partial`) in one shape; null when the
 * stream reported none. Chat/completions: `prompt_tokens`, `completion_tokens`,
 * `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`;
 * responses: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`,
 * `output_tokens_details.reasoning_tokens`.
 * @param {any} result
 * @returns {TokenUsage | null}
 */
function usageOf(result) {
  const usage = result?.usage
  if (usage === null || typeof usage !== 'object') return null
  if ('input_tokens' in usage || 'output_tokens' in usage) {
    return {
      inputTokens: tokens(usage.input_tokens),
      outputTokens: tokens(usage.output_tokens),
      cachedTokens: tokens(usage.input_tokens_details?.cached_tokens),
      reasoningTokens: tokens(usage.output_tokens_details?.reasoning_tokens),
    }
  }
  if ('prompt_tokens' in usage || 'completion_tokens' in usage) {
    return {
      inputTokens: tokens(usage.prompt_tokens),
      outputTokens: tokens(usage.completion_tokens),
      cachedTokens: tokens(usage.prompt_tokens_details?.cached_tokens),
      reasoningTokens: tokens(usage.completion_tokens_details?.reasoning_tokens),
    }
  }
  return null
}

function emptySums() {
  return { requests: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0 }
}

function addTo(sums, usage) {
  sums.requests += 1
  sums.inputTokens += usage.inputTokens
  sums.outputTokens += usage.outputTokens
  sums.cachedTokens += usage.cachedTokens
  sums.reasoningTokens += usage.reasoningTokens
}

/** A client's sums: totals and per model. */
class UsageTotals {
  #total = emptySums()
  /** @type {Map<string, ReturnType<typeof emptySums>>} */
  #byModel = new Map()

  /**
   * @param {string | null | undefined} model the model that answered (else the one asked for)
   * @param {TokenUsage} usage
   */
  add(model, usage) {
    addTo(this.#total, usage)
    const name = model ?? 'unknown'
    let sums = this.#byModel.get(name)
    if (!sums) this.#byModel.set(name, (sums = emptySums()))
    addTo(sums, usage)
  }

  /** A fresh copy: `{ requests, inputTokens, outputTokens, cachedTokens, reasoningTokens, byModel }`. */
  snapshot() {
    /** @type {Record<string, ReturnType<typeof emptySums>>} */
    const byModel = {}
    for (const [name, sums] of this.#byModel) byModel[name] = { ...sums }
    return { ...this.#total, byModel }
  }
}

module.exports = { usageOf, UsageTotals }
