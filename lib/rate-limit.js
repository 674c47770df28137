'use strict'
// OpenAI's rate-limit headers (`x-ratelimit-limit-requests`, `-tokens`, `x-ratelimit-remaining-*`,
// `x-ratelimit-reset-*`) as one object: `stream.response.rateLimit` and `client.rateLimit`.
// A leaf module: sources.js parses with it, limiter.js reads the result.

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 }
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y

/**
 * A reset time as OpenAI writes it, a Go-style duration (`6m0s`, `1s`, `20ms`, `1h2m3.5s`), or a
 * bare number of seconds (`0.5`) -> milliseconds; null when it is neither.
 * @param {string | undefined} text
 * @returns {number | null}
 */
function parseDuration(text) {
  if (typeof text !== 'string') return null
  const value = text.trim()
  if (value === '') return null
  if (/^\d+(?:\.\d+)?$/.test(value)) return Number(value) * 1000
  let ms = 0
  DURATION_PART.lastIndex = 0
  while (DURATION_PART.lastIndex < value.length) {
    const at = DURATION_PART.lastIndex
    const match = DURATION_PART.exec(value)
    if (match === null || match.index !== at) return null
    ms += Number(match[1]) * UNIT_MS[match[2]]
  }
  return Math.round(ms * 1000) / 1000
}

/** @param {string | undefined} text */
function count(text) {
  if (typeof text !== 'string' || !/^\s*\d+\s*$/.test(text)) return null
  return Number(text)
}

/**
 * The rate-limit headers of a response (lower-case names, as `response.headers` has them), or
 * null when it has none of them.
 * @param {Record<string, string> | null | undefined} headers
 * @param {number} [receivedAt] when they arrived (epoch ms; default: now)
 * @returns {import('./interfaces').RateLimit | null}
 */
function parseRateLimit(headers, receivedAt = Date.now()) {
  if (!headers) return null
  const limitRequests = count(headers['x-ratelimit-limit-requests'])
  const limitTokens = count(headers['x-ratelimit-limit-tokens'])
  const remainingRequests = count(headers['x-ratelimit-remaining-requests'])
  const remainingTokens = count(headers['x-ratelimit-remaining-tokens'])
  const resetRequestsMs = parseDuration(headers['x-ratelimit-reset-requests'])
  const resetTokensMs = parseDuration(headers['x-ratelimit-reset-tokens'])
  const values = [limitRequests, limitTokens, remainingRequests, remainingTokens, resetRequestsMs, resetTokensMs]
  if (values.every((v) => v === null)) return null
  return { limitRequests, limitTokens, remainingRequests, remainingTokens, resetRequestsMs, resetTokensMs, receivedAt }
}

/**
 * Until when (epoch ms) new requests should wait because `rateLimit` said nothing remains:
 * the later reset of an exhausted limit; 0 when something remains (or the reset is unknown).
 * @param {import('./interfaces').RateLimit | null} rateLimit
 */
function exhaustedUntil(rateLimit) {
  if (!rateLimit) return 0
  let until = 0
  if (rateLimit.remainingRequests === 0 && rateLimit.resetRequestsMs !== null)
    until = Math.max(until, rateLimit.receivedAt + rateLimit.resetRequestsMs)
  if (rateLimit.remainingTokens === 0 && rateLimit.resetTokensMs !== null)
    until = Math.max(until, rateLimit.receivedAt + rateLimit.resetTokensMs)
  return until
}

module.exports = { parseDuration, parseRateLimit, exhaustedUntil }
