'use strict'
// How a script's text becomes the pieces a model would stream, and the token counts of usage.

/**
 * A string becomes word tokens that keep their leading whitespace, the way tokenizers emit
 * them: 'Hello big world' -> ['Hello', ' big', ' world']. An array is taken as it is (one
 * element per chunk). Splitting is by code point, so no chunk ever holds half a surrogate pair.
 */
function toTokens(text) {
  if (text === undefined || text === null) return []
  if (Array.isArray(text)) return text.map(String)
  const tokens = String(text).match(/\s*\S+|\s+$/gu)
  return tokens ?? []
}

/**
 * A tool call's JSON arguments as fragments the way OpenAI streams them: runs of word
 * characters, runs of whitespace and runs of punctuation
 * ('{"city":"Paris"}' -> ['{"', 'city', '":"', 'Paris', '"}']).
 */
function argumentFragments(json) {
  if (json === '') return []
  return json.match(/[\p{L}\p{N}_]+|\s+|[^\p{L}\p{N}_\s]+/gu) ?? [json]
}

/** A rough prompt token count (about four characters a token) of whatever the client sent. */
function estimateTokens(value) {
  if (value === undefined || value === null) return 0
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return Math.max(1, Math.ceil(text.length / 4))
}

module.exports = { toTokens, argumentFragments, estimateTokens }
