'use strict'
// Symbols the JS layer shares between modules, kept in a leaf so that imports flow one way
// (base-stream.js -> relay.js -> symbols.js, never back).

/** Internal: an iterator over a stream's batches themselves, for the relays (relay.js). */
const kBatches = Symbol('streamdelta.batches')

/**
 * Internal: `store[kResumableRelay](stream, res, options, parts)`, the resumable pipeTo of a
 * RelayStore (relay-store.js); relay.js calls it for `pipeTo(res, { resumable: { store, id } })`.
 */
const kResumableRelay = Symbol('streamdelta.resumableRelay')

/**
 * Which forms of a batch the consumers read, as bits (BatchSource.readForms): the engine renders
 * only these for a stream. Native: a consumer reads the batches themselves (relays), so the
 * stream's batches come as native objects, every form available. Objects: a consumer reads
 * choice 0's content parsed as JSON (`objects()`, the `object` event), so the engine builds
 * its patches as it decodes.
 */
const Form = Object.freeze({ Text: 1, Deltas: 2, Raw: 4, Native: 8, Objects: 16 })

module.exports = { kBatches, kResumableRelay, Form }
