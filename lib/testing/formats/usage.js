'use strict'
// Token counts of a plan, for the usage objects of every format: one token per streamed piece.

const { estimateTokens } = require('../tokens')

/** `{ prompt, completion, reasoning }` for a plan and the request's prompt (any JSON). */
function countTokens(plan, prompt, choices = plan.choices) {
  let completion = 0
  let reasoning = 0
  for (const choice of choices) {
    reasoning += choice.reasoning.length
    completion += choice.reasoning.length + choice.refusal.length + choice.text.length * plan.repeat
    for (const call of choice.toolCalls) completion += call.fragments.length + 1
  }
  return { prompt: estimateTokens(prompt), completion, reasoning }
}

/** The usage object of chat completions and legacy completions. */
function chatUsage(counts, detailed = true) {
  const usage = {
    prompt_tokens: counts.prompt,
    completion_tokens: counts.completion,
    total_tokens: counts.prompt + counts.completion,
  }
  if (!detailed) return usage
  usage.prompt_tokens_details = { cached_tokens: 0, audio_tokens: 0 }
  usage.completion_tokens_details = {
    reasoning_tokens: counts.reasoning,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  }
  return usage
}

/** The usage object of the Responses API. */
function responsesUsage(counts) {
  return {
    input_tokens: counts.prompt,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: counts.completion,
    output_tokens_details: { reasoning_tokens: counts.reasoning },
    total_tokens: counts.prompt + counts.completion,
  }
}

module.exports = { countTokens, chatUsage, responsesUsage }
