'use strict'
// Faults: the ways a real provider fails, as the mock plays them. A fault is checked once
// (`normalizeFault`) into `{ kind, after?, ... }`; the HTTP-level ones are answered by the
// server, the in-stream ones by the player.

const http = require('node:http')

/** The key that names each fault kind; exactly one must be present. */
const KINDS = {
  status: 'status',
  dropAfter: 'drop',
  stallAfter: 'stall',
  malformedAfter: 'malformed',
  errorAfter: 'error',
  emptyBody: 'empty',
}
const EXTRA_KEYS = {
  status: ['error', 'body', 'headers'],
  drop: [],
  stall: [],
  malformed: ['line'],
  error: ['error'],
  empty: [],
}

function fail(where, message) {
  throw new TypeError(`streamdelta mock: ${where}${message}`)
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `{ kind, after, status, error, body, headers, line, times, source }`, or null for none. */
function normalizeFault(fault, where) {
  if (fault === undefined || fault === null) return null
  if (!isObject(fault)) fail(where, ' must be an object')
  const named = Object.keys(KINDS).filter((key) => fault[key] !== undefined)
  if (named.length !== 1)
    fail(
      where,
      ` must have exactly one of ${Object.keys(KINDS).join(', ')}; got ${named.length ? named.join(', ') : 'none'}`,
    )
  const key = named[0]
  const kind = KINDS[key]
  const allowed = new Set([key, 'times', ...EXTRA_KEYS[kind]])
  for (const k of Object.keys(fault))
    if (!allowed.has(k)) fail(where, ` (${key}) has an unknown key '${k}' (allowed: ${[...allowed].join(', ')})`)

  const out = { kind, after: undefined, source: fault, times: undefined }
  if (fault.times !== undefined) {
    if (!Number.isInteger(fault.times) || fault.times < 1)
      fail(where, `.times must be a positive integer, got ${String(fault.times)}`)
    out.times = fault.times
  }
  if (kind === 'status') {
    const status = fault.status
    if (!Number.isInteger(status) || status < 400 || status > 599)
      fail(where, `.status must be an HTTP error status (400-599), got ${String(status)}`)
    if (fault.error !== undefined && !isObject(fault.error))
      fail(where, '.error must be an object { message, type, code, param }')
    if (fault.body !== undefined && typeof fault.body !== 'string' && !isObject(fault.body))
      fail(where, '.body must be a string or an object')
    if (fault.error !== undefined && fault.body !== undefined)
      fail(where, " sets both 'error' and 'body': 'error' fills OpenAI's error body, 'body' replaces it")
    out.status = status
    out.error = fault.error
    out.body = fault.body
    out.headers = headerObject(fault.headers, `${where}.headers`)
  } else if (kind === 'empty') {
    if (fault.emptyBody !== true) fail(where, '.emptyBody must be true')
  } else {
    const after = fault[key]
    if (!Number.isInteger(after) || after < 0)
      fail(where, `.${key} must be a non-negative integer (a number of events), got ${String(after)}`)
    out.after = after
    if (kind === 'error') {
      if (fault.error !== undefined && !isObject(fault.error))
        fail(where, '.error must be an object { message, type, code, param }')
      out.error = streamErrorObject(fault.error)
    }
    if (kind === 'malformed') {
      if (fault.line !== undefined && typeof fault.line !== 'string')
        fail(where, '.line must be a string (the data line payload)')
      out.line = fault.line
    }
  }
  return out
}

function headerObject(headers, where) {
  const out = {}
  if (headers === undefined) return out
  if (!isObject(headers)) fail(where, ' must be an object of strings')
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = String(value)
  }
  return out
}

/** The error object OpenAI sends for a status, filled with `given` fields. */
function errorObjectFor(status, given = {}, model = null) {
  const base = {
    message: http.STATUS_CODES[status] ?? `HTTP ${status}`,
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    param: null,
    code: null,
  }
  if (status === 401)
    Object.assign(base, {
      message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
      code: 'invalid_api_key',
    })
  if (status === 403)
    Object.assign(base, {
      message: 'You are not allowed to sample from this model',
      type: 'invalid_request_error',
      code: 'model_not_available',
    })
  if (status === 404)
    Object.assign(base, {
      message: `The model \`${model ?? 'unknown'}\` does not exist or you do not have access to it.`,
      code: 'model_not_found',
    })
  if (status === 429)
    Object.assign(base, {
      message: `Rate limit reached for ${model ?? 'this model'}. Please try again shortly.`,
      type: 'requests',
      code: 'rate_limit_exceeded',
    })
  if (status === 500)
    Object.assign(base, { message: 'The server had an error while processing your request. Sorry about that!' })
  if (status === 503)
    Object.assign(base, { message: 'The engine is currently overloaded, please try again later', code: 'overloaded' })
  return { ...base, ...given }
}

/** The error object of a mid-stream error (fault `errorAfter`). */
function streamErrorObject(given = {}) {
  return {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    param: null,
    code: 'server_error',
    ...given,
  }
}

/** Answers a `status` fault: OpenAI's JSON error body (or the given body), the script's headers, then the fault's. */
function sendStatusFault(res, fault, { model, requestId, headers = {} }) {
  let body
  let contentType
  if (typeof fault.body === 'string') {
    body = fault.body
    contentType = 'text/plain; charset=utf-8'
  } else {
    body = JSON.stringify(fault.body ?? { error: errorObjectFor(fault.status, fault.error, model) })
    contentType = 'application/json; charset=utf-8'
  }
  res.writeHead(fault.status, { 'content-type': contentType, 'x-request-id': requestId, ...headers, ...fault.headers })
  res.end(body)
}

/**
 * `times`: a fault applies to the first `times` requests that use its fault object, then the
 * script plays without it (a 429 then a 200, for retry tests). Counted per fault object.
 */
class FaultCounter {
  #used = new WeakMap()

  /** The fault to apply to this request, or null once its `times` are used up. */
  take(fault) {
    if (!fault) return null
    if (fault.times === undefined) return fault
    const used = this.#used.get(fault.source) ?? 0
    if (used >= fault.times) return null
    this.#used.set(fault.source, used + 1)
    return fault
  }
}

module.exports = { normalizeFault, sendStatusFault, errorObjectFor, streamErrorObject, FaultCounter }
