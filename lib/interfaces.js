'use strict'
// The interfaces the JS layer's parts meet at, declared once. Native objects (binding.d.ts)
// implement them, and so do the JS stand-ins: the failure batch of a byte source
// (sources.js) and the source of a stream aborted before it started (client.js).
// `tsc --checkJs` (npm run test:types) holds every implementation to them.

/** @typedef {import('../binding').Failure} Failure what went wrong, as the engine describes it */
/** @typedef {import('../binding').StreamEnd} StreamEnd how a stream ended (the last batch) */
/** @typedef {import('../binding').RelayFormat} RelayFormat */

/**
 * One batch of decoded data: `NativeBatch`, a `PackedBatch` (sources.js: the forms a stream's
 * consumers read, sliced from what the engine handed over for every ready stream at once), or a
 * stand-in made in JS. Each form is built only when asked for.
 * @typedef {object} Batch
 * @property {number} deltaCount
 * @property {number} chunkCount
 * @property {() => string} deltas the deltas as a JSON array
 * @property {() => string | null} [loneText] the text of the batch's one delta when that is
 *   choice 0's text, which then comes without JSON (`take()`'s batches); null otherwise
 * @property {() => string} text choice 0's content text
 * @property {() => string} raw the raw provider objects as a JSON array
 * @property {(format: RelayFormat) => string} relay the batch re-encoded for clients
 * @property {(format: RelayFormat) => Buffer} relayBytes the same as UTF-8 bytes
 * @property {() => string | null} objects patches to choice 0's content parsed as JSON (a JSON
 *   array, see lib/structured.js), null when the batch changed nothing
 * @property {() => StreamEnd | null} end set on the last batch only
 */

/**
 * `stream.stats`.
 * @typedef {object} Stats
 * @property {number | null} ttftMs
 * @property {number} chunks
 * @property {number} bytes
 * @property {number} durationMs
 * @property {number} queuedMs how long the request waited in the client's queue (`maxConcurrent`)
 */

/**
 * The rate-limit headers of a response (`x-ratelimit-*`); each field null when absent.
 * @typedef {object} RateLimit
 * @property {number | null} limitRequests
 * @property {number | null} limitTokens
 * @property {number | null} remainingRequests
 * @property {number | null} remainingTokens
 * @property {number | null} resetRequestsMs
 * @property {number | null} resetTokensMs
 * @property {number} receivedAt epoch ms when the headers were read (the resets count from it)
 */

/**
 * One stream's token usage, the same for every endpoint.
 * @typedef {object} TokenUsage
 * @property {number} inputTokens
 * @property {number} outputTokens
 * @property {number} cachedTokens
 * @property {number} reasoningTokens
 */

/**
 * `await stream.response`.
 * @typedef {object} ResponseInfo
 * @property {number} status
 * @property {Record<string, string>} headers
 * @property {string | null} requestId
 * @property {string | null} httpVersion `'1.1'` or `'2'` (null for a byte source: not known)
 * @property {RateLimit | null} rateLimit the `x-ratelimit-*` headers, parsed; null without them
 */

/**
 * Where a stream's batches come from: what the pump in base-stream.js reads.
 * @typedef {object} BatchSource
 * @property {() => Batch | null} tryTake the next batch if one is ready now; never waits
 * @property {() => Promise<Batch | null>} nextBatch the next batch; `null` once over (or aborted)
 * @property {(onBatch: (batch: Batch | null) => void) => boolean} [waitBatch] the same without a
 *   promise: `onBatch` is called synchronously when the batch arrives; false when none will come
 * @property {(forms: number) => void} readForms which forms consumers read (`Form` bits, symbols.js)
 * @property {() => object | undefined} abort cancels; returns what had accumulated, if anything
 * @property {() => Stats} stats
 * @property {() => Promise<ResponseInfo | null>} response
 */

module.exports = {}
