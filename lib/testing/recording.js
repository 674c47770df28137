'use strict'
// What clients sent: one record per request, with secrets redacted, so tests can assert on
// the wire without ever holding an API key in a snapshot or a log.

/** Header names whose values are replaced by '[redacted]'. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'cookie'])
const REDACTED = '[redacted]'

function redactHeaders(headers) {
  const out = {}
  for (const [name, value] of Object.entries(headers)) out[name] = SECRET_HEADERS.has(name) ? REDACTED : value
  return out
}

/** The request body: parsed JSON, the text itself when it is not JSON, null when empty. */
function parseBody(text) {
  if (text === '') return { body: null, ok: true }
  try {
    return { body: JSON.parse(text), ok: true }
  } catch {
    return { body: text, ok: false }
  }
}

/**
 * Makes the record of one request (and the function that resolves its `closed`). `closed` (not enumerable, so deepEqual and JSON ignore it)
 * resolves when the exchange is over: the response ended, or the connection closed.
 */
function makeRecord({ index, method, url, headers, body, endpoint, model }) {
  const record = {
    index,
    method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: redactHeaders(headers),
    body,
    endpoint,
    model,
    status: null,
    clientClosed: false,
  }
  /** @type {() => void} */
  let resolve = () => {}
  const closed = new Promise((r) => {
    resolve = () => r(undefined)
  })
  Object.defineProperty(record, 'closed', { value: closed, enumerable: false })
  return { record, markClosed: resolve }
}

module.exports = { redactHeaders, parseBody, makeRecord, SECRET_HEADERS, REDACTED }
