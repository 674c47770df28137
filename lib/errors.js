'use strict'
// The public error classes (documented in index.d.ts). The engine describes a failure as
// `{ kind, message, ...fields }`; `fromFailure` is the one place that turns it into a class.

class StreamDeltaError extends Error {
  constructor(message, options) {
    super(message, options && options.cause !== undefined ? { cause: options.cause } : undefined)
    this.name = new.target.name
    this.code = 'ERR_STREAMDELTA'
  }
}

class APIError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message)
    this.code = 'ERR_API'
    this.status = fields.status
    this.type = fields.type ?? null
    this.param = fields.param ?? null
    this.apiCode = fields.apiCode ?? null
    this.requestId = fields.requestId ?? null
    this.headers = fields.headers ?? {}
  }
}

class AuthenticationError extends APIError {
  constructor(message, fields) {
    super(message, fields)
    this.code = 'ERR_AUTH'
  }
}

class RateLimitError extends APIError {
  constructor(message, fields = {}) {
    super(message, fields)
    this.code = 'ERR_RATE_LIMIT'
    this.retryAfterMs = fields.retryAfterMs ?? null
  }
}

class ConnectionError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message, { cause: fields.cause })
    this.code = 'ERR_CONNECTION'
  }
}

class TimeoutError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message)
    this.code = 'ERR_TIMEOUT'
    this.phase = fields.phase
  }
}

class AbortError extends StreamDeltaError {
  constructor(message = 'The stream was aborted', fields = {}) {
    super(message, { cause: fields.cause })
    this.name = 'AbortError'
    this.code = 'ABORT_ERR'
  }
}

class StreamError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message)
    this.code = 'ERR_STREAM'
    this.type = fields.type ?? null
    this.apiCode = fields.apiCode ?? null
    this.param = fields.param ?? null
  }
}

class ParseError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message)
    this.code = 'ERR_PARSE'
    this.line = fields.line ?? ''
  }
}

class IncompleteStreamError extends StreamDeltaError {
  constructor(message, fields = {}) {
    super(message, { cause: fields.cause })
    this.code = 'ERR_INCOMPLETE'
  }
}

const classByKind = {
  api: APIError,
  auth: AuthenticationError,
  rateLimit: RateLimitError,
  connection: ConnectionError,
  timeout: TimeoutError,
  abort: AbortError,
  stream: StreamError,
  parse: ParseError,
  incomplete: IncompleteStreamError,
}

/** Header pairs from the engine -> a plain object (repeated names joined, as Node does). */
function headersObject(pairs) {
  const out = {}
  for (const [name, value] of pairs || []) out[name] = name in out ? `${out[name]}, ${value}` : value
  return out
}

/**
 * The transport's texts (outermost first) as an `Error` chain: `cause.cause...`, so that
 * `util.inspect` and loggers print the whole story under our short message.
 * @param {string[] | undefined} causes
 * @returns {Error | undefined}
 */
function causeChain(causes) {
  if (!causes || causes.length === 0) return undefined
  let chain
  for (let i = causes.length - 1; i >= 0; i--) chain = new Error(causes[i], chain ? { cause: chain } : undefined)
  return chain
}

/**
 * Builds the public error for an engine failure. `partial` is attached when data had arrived.
 * @param {object} failure `{ kind, message, status, type, apiCode, param, requestId, headers, ... }`
 * @param {object|null|undefined} partial
 */
function fromFailure(failure, partial) {
  const Class = classByKind[failure.kind]
  const fields = { ...failure, headers: headersObject(failure.headers) }
  let error
  if (Class === ConnectionError) {
    error = new ConnectionError(`Connection error: ${failure.message}`, { cause: causeChain(failure.causes) })
  } else if (Class === IncompleteStreamError) {
    error = new IncompleteStreamError(failure.message, { cause: causeChain(failure.causes) })
  } else if (Class) {
    error = new Class(failure.message, fields)
  } else {
    error = new StreamDeltaError(failure.message)
    error.code = 'ERR_INTERNAL'
  }
  if (failure.attempts !== undefined) error.attempts = failure.attempts
  if (partial != null) Object.assign(error, { partial })
  return error
}

module.exports = {
  StreamDeltaError,
  APIError,
  AuthenticationError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
  AbortError,
  StreamError,
  ParseError,
  IncompleteStreamError,
  fromFailure,
  headersObject,
}
