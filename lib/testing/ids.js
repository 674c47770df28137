'use strict'
// Identifiers shaped like OpenAI's: `chatcmpl-…`, `resp_…`, `call_…`, `req_…`, `fp_…`.
// Random enough for a test server; never used for anything secret.

const { randomBytes } = require('node:crypto')

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** `length` random characters from [A-Za-z0-9]. */
function alphanumeric(length) {
  const bytes = randomBytes(length)
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[bytes[i] % ALPHANUMERIC.length]
  return out
}

/** `length` random lowercase hex characters. */
function hex(length) {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length)
}

const ids = {
  chat: () => `chatcmpl-${alphanumeric(29)}`,
  completion: () => `cmpl-${alphanumeric(29)}`,
  response: () => `resp_${hex(48)}`,
  /** Output item ids of a response: `msg_…`, `rs_…`, `fc_…`. */
  item: (prefix) => `${prefix}_${hex(48)}`,
  toolCall: () => `call_${alphanumeric(24)}`,
  request: () => `req_${hex(32)}`,
  fingerprint: () => `fp_${hex(10)}`,
}

module.exports = { ids }
