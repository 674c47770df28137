'use strict'
// Symbols the JS layer shares between modules, kept in a leaf so that imports flow one way
// (base-stream.js -> relay.js -> symbols.js, never back).

/** Internal: an iterator over a stream's batches themselves, for the relays (relay.js). */
const kBatches = Symbol('streamdelta.batches')

module.exports = { kBatches }
