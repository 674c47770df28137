'use strict'
// startMockServer(): a real HTTP server on 127.0.0.1 that speaks OpenAI's streaming protocol
// for `/chat/completions`, `/responses` (and GET `/responses/{id}` resumes of background
// responses) and `/completions`, under any base path (`/v1/...`, Azure's
// `/openai/deployments/{name}/...`). Each request plays a script (script.js) in its wire
// format (formats/), with faults (faults.js), and is recorded (recording.js).

const http = require('node:http')
const { once } = require('node:events')
const { setTimeout: sleep } = require('node:timers/promises')

const { ids } = require('./ids')
const { normalize, pickScript, checkOptionScripts } = require('./script')
const { sendStatusFault, errorObjectFor, FaultCounter } = require('./faults')
const { parseBody, makeRecord } = require('./recording')
const { play } = require('./player')
const { ChatFormat } = require('./formats/chat')
const { ResponsesFormat } = require('./formats/responses')
const { CompletionsFormat } = require('./formats/completions')

const FORMATS = { chat: ChatFormat, responses: ResponsesFormat, completions: CompletionsFormat }
/** Background responses kept for GET /responses/{id} resumes (oldest dropped first). */
const MAX_STORED_RESPONSES = 256
const OPTION_KEYS = new Set(['port', 'scripts', 'script', 'apiKey', 'record', 'onRequest'])

/** Which endpoint a request is for: `{ endpoint, deployment?, responseId? }` or null. */
function route(method, pathname) {
  const deployment = /\/openai\/deployments\/([^/]+)\//.exec(pathname)?.[1]
  const named = (endpoint) => ({ endpoint, deployment: deployment ? decodeURIComponent(deployment) : null })
  if (method === 'POST') {
    if (pathname.endsWith('/chat/completions')) return named('chat')
    if (pathname.endsWith('/responses')) return named('responses')
    if (pathname.endsWith('/completions')) return named('completions')
  }
  if (method === 'GET') {
    const resume = /\/responses\/([^/]+)$/.exec(pathname)
    if (resume) return { endpoint: 'resume', responseId: decodeURIComponent(resume[1]), deployment: null }
    if (pathname.endsWith('/models')) return { endpoint: 'models', deployment: null }
  }
  return null
}

function sendError(res, status, error, requestId) {
  if (res.headersSent) return res.destroy()
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId })
  res.end(
    JSON.stringify({
      error: {
        message: error.message,
        type: error.type ?? 'invalid_request_error',
        param: error.param ?? null,
        code: error.code ?? null,
      },
    }),
  )
}

/**
 * The required body field a request lacks, as OpenAI reports it (400 missing_required_parameter):
 * chat needs `messages`; responses need `input` unless a previous response, a stored prompt or
 * a conversation supplies it.
 * @returns {string | null}
 */
function missingParameter(endpoint, body) {
  const absent = (name) => body[name] === undefined || body[name] === null
  if (endpoint === 'chat' && absent('messages')) return 'messages'
  if (endpoint === 'responses' && absent('input') && ['previous_response_id', 'prompt', 'conversation'].every(absent))
    return 'input'
  return null
}

function streamHeaders(requestId, plan) {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': requestId,
    'openai-version': '2020-10-01',
    'openai-processing-ms': String(Math.round(plan.ttftMs)),
    ...plan.headers,
  }
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object')
    throw new TypeError('streamdelta mock: options must be an object')
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      throw new TypeError(`streamdelta mock: unknown option '${key}' (known: ${[...OPTION_KEYS].join(', ')})`)
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new TypeError(`streamdelta mock: options.port must be an integer 0-65535, got ${String(options.port)}`)
  }
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === ''))
    throw new TypeError('streamdelta mock: options.apiKey must be a non-empty string')
  if (options.onRequest !== undefined && typeof options.onRequest !== 'function')
    throw new TypeError('streamdelta mock: options.onRequest must be a function')
  if (
    options.script !== undefined &&
    (options.script === null || typeof options.script !== 'object') &&
    typeof options.script !== 'function'
  ) {
    throw new TypeError('streamdelta mock: options.script must be a script object or a function (request) => script')
  }
  checkOptionScripts(options)
}

/** True when the request carries `apiKey` as a bearer token or an `api-key` header. */
function authorized(headers, apiKey) {
  return headers.authorization === `Bearer ${apiKey}` || headers['api-key'] === apiKey
}

/**
 * Starts the mock server. See testing.d.ts for every option and field.
 * @returns {Promise<import('../../testing').MockServer>}
 */
async function startMockServer(options = {}) {
  checkOptions(options)
  const scripts = options.scripts ?? {}
  const settings = { ...options, scripts }
  const record = options.record !== false
  const requests = []
  const sockets = new Set()
  const stored = new Map()
  const faults = new FaultCounter()
  let index = 0

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error) => {
      // A bug in a script function, or in the mock: say so as a 500 the client can read.
      sendError(
        res,
        500,
        {
          // The mock's own errors already say "streamdelta mock: "; a script's do not.
          message: `streamdelta mock: ${String(error?.message ?? error).replace(/^streamdelta mock: /, '')}`,
          type: 'server_error',
          code: 'mock_error',
        },
        ids.request(),
      )
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  async function handle(req, res) {
    const requestId = ids.request()
    const url = new URL(req.url, 'http://127.0.0.1')
    let text = ''
    req.setEncoding('utf8')
    for await (const piece of req) text += piece
    const { body, ok: isJson } = parseBody(text)
    const where = route(req.method, url.pathname)
    const model = (isJson && typeof body?.model === 'string' ? body.model : null) ?? where?.deployment ?? null
    const { record: entry, markClosed } = makeRecord({
      index: index++,
      method: req.method,
      url,
      headers: req.headers,
      body,
      endpoint: where?.endpoint ?? null,
      model,
    })
    if (record) requests.push(entry)
    const controller = new AbortController()
    let dropped = false
    res.once('close', () => {
      if (!res.writableFinished) entry.clientClosed = !closing && !dropped
      controller.abort()
      markClosed()
    })
    const writeHead = res.writeHead
    res.writeHead = function (status, ...rest) {
      entry.status = status
      return writeHead.call(this, status, ...rest)
    }
    options.onRequest?.(entry)

    if (!where) {
      return sendError(
        res,
        404,
        {
          message: `Unknown request URL: ${req.method} ${url.pathname}. The streamdelta mock serves POST .../chat/completions, .../responses, .../completions, GET .../responses/{id}?stream=true and GET .../models.`,
          code: 'unknown_url',
        },
        requestId,
      )
    }
    if (options.apiKey !== undefined && !authorized(req.headers, options.apiKey)) {
      return sendError(res, 401, errorObjectFor(401), requestId)
    }
    if (where.endpoint === 'models') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId })
      const names = Object.keys(scripts).filter((name) => name !== 'default')
      return res.end(
        JSON.stringify({
          object: 'list',
          data: names.map((id) => ({ id, object: 'model', created: 0, owned_by: 'streamdelta-mock' })),
        }),
      )
    }
    if (where.endpoint === 'resume') return resume(res, url, where.responseId, requestId, controller.signal)
    if (!isJson || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return sendError(
        res,
        400,
        {
          message:
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        },
        requestId,
      )
    }
    const missing = missingParameter(where.endpoint, body)
    if (missing !== null) {
      return sendError(
        res,
        400,
        { message: `Missing required parameter: '${missing}'.`, param: missing, code: 'missing_required_parameter' },
        requestId,
      )
    }
    if (body.stream !== true) {
      return sendError(
        res,
        400,
        { message: 'The streamdelta mock server only streams: send `stream: true`.', param: 'stream' },
        requestId,
      )
    }

    let plan
    try {
      const { script, where: from } = pickScript(entry, req.headers['x-mock-script'], settings)
      plan = normalize(script, { where: from, n: body.n })
    } catch (error) {
      if (!(error instanceof TypeError)) throw error
      return sendError(res, 400, { message: error.message, code: 'mock_script_invalid' }, requestId)
    }
    const fault = faults.take(plan.fault)
    if (plan.headersDelayMs > 0) {
      try {
        await sleep(plan.headersDelayMs, undefined, { signal: controller.signal })
      } catch {
        return
      }
    }
    if (fault?.kind === 'status') return sendStatusFault(res, fault, { model, requestId, headers: plan.headers })
    res.writeHead(200, streamHeaders(requestId, plan))
    if (fault?.kind === 'empty') return res.end()
    res.flushHeaders()

    const format = new FORMATS[where.endpoint](plan, { body, model: model ?? 'mock-model' })
    if (where.endpoint === 'responses' && body.background === true) {
      stored.set(format.ids.response, { plan, body, model: format.model, ids: format.ids })
      if (stored.size > MAX_STORED_RESPONSES) stored.delete(stored.keys().next().value)
    }
    await play(res, format, plan, fault, controller.signal, () => (dropped = true))
  }

  /** GET /responses/{id}?stream=true&starting_after=N: the events after N, without faults. */
  async function resume(res, url, responseId, requestId, signal) {
    const kept = stored.get(responseId)
    if (!kept)
      return sendError(
        res,
        404,
        {
          message: `No response found with id '${responseId}'. (The mock keeps streams of requests sent with \`background: true\`.)`,
          param: 'response_id',
        },
        requestId,
      )
    if (url.searchParams.get('stream') !== 'true')
      return sendError(
        res,
        400,
        { message: 'The streamdelta mock server only streams: add `?stream=true`.', param: 'stream' },
        requestId,
      )
    const after = url.searchParams.get('starting_after')
    const startingAfter = after === null ? -1 : Number(after)
    if (!Number.isInteger(startingAfter) || startingAfter < -1)
      return sendError(res, 400, { message: `Invalid starting_after: '${after}'.`, param: 'starting_after' }, requestId)
    res.writeHead(200, streamHeaders(requestId, kept.plan))
    res.flushHeaders()
    const format = new ResponsesFormat(kept.plan, { body: kept.body, model: kept.model, ids: kept.ids, startingAfter })
    await play(res, format, { ttftMs: 0, intervalMs: kept.plan.intervalMs }, null, signal)
  }

  let closing = false
  let closed = null
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())

  const mock = {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    scripts,
    get connections() {
      return sockets.size
    },
    close() {
      if (!closed) {
        closing = true
        const waits = [new Promise((resolve) => server.close(() => resolve()))]
        for (const socket of sockets) {
          waits.push(once(socket, 'close'))
          socket.destroy()
        }
        closed = Promise.all(waits).then(() => undefined)
      }
      return closed
    },
  }
  if (typeof Symbol.asyncDispose === 'symbol') mock[Symbol.asyncDispose] = () => mock.close()
  return /** @type {import('../../testing').MockServer} */ (mock)
}

module.exports = { startMockServer }
