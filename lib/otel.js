'use strict'
// `streamdelta/otel`: OpenTelemetry spans and metrics for every request, in the GenAI semantic
// conventions, from the `streamdelta.request` tracing channel (tracing.js). `@opentelemetry/api`
// is an optional peer dependency: it is loaded only when `instrument()` is called.

const { channel } = require('./tracing')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')

/** The package's version, for the tracer's and meter's instrumentation scope. */
const version = String(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version)

const PROVIDER = 'openai'
/** `gen_ai.operation.name`: the semantic conventions' words for each endpoint. */
const OPERATION_NAMES = { chat: 'chat', responses: 'chat', completions: 'text_completion' }
/** The buckets the GenAI metric conventions advise. */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
const FIRST_CHUNK_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/** @returns {typeof import('@opentelemetry/api')} */
function loadApi() {
  try {
    return require('@opentelemetry/api')
  } catch (error) {
    throw new Error(
      'streamdelta/otel needs the package @opentelemetry/api (a peer dependency): npm install @opentelemetry/api',
      { cause: error },
    )
  }
}

/** `server.address` and `server.port` of a request URL. */
function serverOf(url) {
  try {
    const parsed = new URL(url)
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port)
    return { address: parsed.hostname.replace(/^\[|\]$/g, ''), port }
  } catch {
    return null
  }
}

/** `error.type`: the error's class name (`RateLimitError`, `TimeoutError`, `AbortError`, ...). */
function errorType(error) {
  if (error === null || error === undefined) return '_OTHER'
  return typeof error.name === 'string' && error.name !== '' ? error.name : '_OTHER'
}

/**
 * Records a span and metrics for each streamdelta request made from now on; returns a function
 * that stops it. See otel.d.ts.
 * @param {{ tracerProvider?: import('@opentelemetry/api').TracerProvider, meterProvider?: import('@opentelemetry/api').MeterProvider }} [options]
 * @returns {() => void}
 */
function instrument(options = {}) {
  if (options === null || typeof options !== 'object')
    throw new TypeError('streamdelta/otel: options must be an object')
  for (const name of Object.keys(options)) {
    if (name !== 'tracerProvider' && name !== 'meterProvider')
      throw new TypeError(`streamdelta/otel: unknown option '${name}'; known: 'tracerProvider', 'meterProvider'`)
  }
  const api = loadApi()
  const tracer = (options.tracerProvider ?? api.trace.getTracerProvider()).getTracer('streamdelta', version)
  const meter = (options.meterProvider ?? api.metrics.getMeterProvider()).getMeter('streamdelta', version)
  const duration = meter.createHistogram('gen_ai.client.operation.duration', {
    description: 'GenAI operation duration',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
    description: 'Measures number of input and output tokens used',
    unit: '{token}',
    valueType: api.ValueType.INT,
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  })
  const firstChunk = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
    description: 'Time from the request to the first chunk of the streamed answer',
    unit: 's',
    advice: { explicitBucketBoundaries: FIRST_CHUNK_BUCKETS },
  })

  /** @type {WeakMap<object, { span: import('@opentelemetry/api').Span, started: number }>} */
  const open = new WeakMap()
  let openCount = 0
  let stopped = false
  let subscribed = true
  const unsubscribe = () => {
    if (!subscribed) return
    subscribed = false
    channel.unsubscribe(handlers)
  }

  const handlers = {
    // Every name is given: some Node 20 releases subscribe to all five without checking.
    end() {},
    asyncStart() {},
    start(/** @type {any} */ ctx) {
      if (stopped) return
      const operation = OPERATION_NAMES[ctx.operation] ?? ctx.operation
      /** @type {import('@opentelemetry/api').Attributes} */
      const attributes = {
        'gen_ai.operation.name': operation,
        'gen_ai.provider.name': PROVIDER,
        'streamdelta.operation': ctx.operation,
      }
      if (ctx.model) attributes['gen_ai.request.model'] = ctx.model
      const server = serverOf(ctx.url)
      if (server) {
        attributes['server.address'] = server.address
        attributes['server.port'] = server.port
      }
      const span = tracer.startSpan(
        ctx.model ? `${operation} ${ctx.model}` : operation,
        { kind: api.SpanKind.CLIENT, attributes },
        api.context.active(),
      )
      open.set(ctx, { span, started: performance.now() })
      openCount++
    },
    error(/** @type {any} */ ctx) {
      const entry = open.get(ctx)
      if (!entry) return
      const type = errorType(ctx.error)
      entry.span.setAttribute('error.type', type)
      if (ctx.error instanceof Error) entry.span.recordException(ctx.error)
      entry.span.setStatus({ code: api.SpanStatusCode.ERROR, message: ctx.error?.message ?? String(ctx.error) })
    },
    asyncEnd(/** @type {any} */ ctx) {
      const entry = open.get(ctx)
      if (!entry) return
      open.delete(ctx)
      openCount--
      if (stopped && openCount === 0) unsubscribe()
      const { span } = entry
      if (ctx.responseModel) span.setAttribute('gen_ai.response.model', ctx.responseModel)
      if (ctx.responseId) span.setAttribute('gen_ai.response.id', ctx.responseId)
      if (ctx.finishReasons?.length) span.setAttribute('gen_ai.response.finish_reasons', ctx.finishReasons)
      if (ctx.usage) {
        span.setAttribute('gen_ai.usage.input_tokens', ctx.usage.inputTokens)
        span.setAttribute('gen_ai.usage.output_tokens', ctx.usage.outputTokens)
      }
      if (typeof ctx.status === 'number') span.setAttribute('http.response.status_code', ctx.status)
      if (ctx.requestId) span.setAttribute('openai.request.id', ctx.requestId)
      if (ctx.queuedMs > 0) span.setAttribute('streamdelta.queued_ms', ctx.queuedMs)
      span.end()

      /** @type {import('@opentelemetry/api').Attributes} */
      const attributes = {
        'gen_ai.operation.name': OPERATION_NAMES[ctx.operation] ?? ctx.operation,
        'gen_ai.provider.name': PROVIDER,
      }
      if (ctx.model) attributes['gen_ai.request.model'] = ctx.model
      if (ctx.responseModel) attributes['gen_ai.response.model'] = ctx.responseModel
      const server = serverOf(ctx.url)
      if (server) {
        attributes['server.address'] = server.address
        attributes['server.port'] = server.port
      }
      const failed = ctx.error !== undefined
      duration.record(
        (performance.now() - entry.started) / 1000,
        failed ? { ...attributes, 'error.type': errorType(ctx.error) } : attributes,
      )
      if (typeof ctx.ttftMs === 'number') firstChunk.record(ctx.ttftMs / 1000, attributes)
      if (ctx.usage) {
        tokenUsage.record(ctx.usage.inputTokens, { ...attributes, 'gen_ai.token.type': 'input' })
        tokenUsage.record(ctx.usage.outputTokens, { ...attributes, 'gen_ai.token.type': 'output' })
      }
    },
  }
  channel.subscribe(handlers)
  // Stopping starts no new span; the ones open still end (and are recorded) with their streams.
  return function stop() {
    if (stopped) return
    stopped = true
    if (openCount === 0) unsubscribe()
  }
}

module.exports = { instrument }
