'use strict'
// The interfaces the JS layer's parts meet at, declared once. Native objects (binding.d.ts)
// implement them, and so do the JS stand-ins: the failure batch of a byte source
// (sources.js) and the source of a stream aborted before it started (client.js).
// `tsc --checkJs` (npm run test:types) holds every implementation to them.

/** @typedef {import('../binding').Failure} Failure what went wrong, as the engine describes it */
/** @typedef {import('../binding').StreamEnd} StreamEnd how a stream ended (the last batch) */
/** @typedef {import('../binding').RelayFormat} RelayFormat */

/**
 * One batch of decoded data: `NativeBatch`, or a stand-in made in JS. Each form is built only
 * when asked for.
 * @typedef {object} Batch
 * @property {number} deltaCount
 * @property {number} chunkCount
 * @property {() => string} deltas the deltas as a JSON array
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
 */

/**
 * `await stream.response`.
 * @typedef {object} ResponseInfo
 * @property {number} status
 * @property {Record<string, string>} headers
 * @property {string | null} requestId
 * @property {string | null} httpVersion `'1.1'` or `'2'` (null for a byte source: not known)
 */

/**
 * Where a stream's batches come from: what the pump in base-stream.js reads.
 * @typedef {object} BatchSource
 * @property {() => Batch | null} tryTake the next batch if one is ready now; never waits
 * @property {() => Promise<Batch | null>} nextBatch the next batch; `null` once over (or aborted)
 * @property {(on: boolean) => void} readDeltas whether a consumer reads deltas
 * @property {(on: boolean) => void} readObjects whether a consumer reads objects
 * @property {() => object | undefined} abort cancels; returns what had accumulated, if anything
 * @property {() => Stats} stats
 * @property {() => Promise<ResponseInfo | null>} response
 */

module.exports = {}
