// Issue 20: running at scale. maxConcurrent / queueTimeout (the queue as the server sees it),
// rate-limit headers holding the queue, client.usage, the `streamdelta.request` tracing
// channel, and streamdelta/otel through the real OpenTelemetry SDK.
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'

import { AbortError, Client, TimeoutError } from 'streamdelta'
import { instrument } from 'streamdelta/otel'
import { startMockServer } from 'streamdelta/testing'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'

const require = createRequire(import.meta.url)
const { parseDuration, parseRateLimit } = require('../lib/rate-limit.js')

/** A mock that counts the requests in flight as the server sees them (peak included). */
async function countingServer(t, options = {}) {
  const seen = { inFlight: 0, peak: 0, order: [], arrivals: [] }
  const server = await startMockServer({
    ...options,
    onRequest(entry) {
      seen.inFlight++
      seen.peak = Math.max(seen.peak, seen.inFlight)
      seen.order.push(entry.body?.messages?.[0]?.content ?? entry.body?.input ?? null)
      seen.arrivals.push(Date.now())
      entry.closed.then(() => seen.inFlight--)
    },
  })
  t.after(() => server.close())
  return { server, seen }
}

/** Waits (up to 2 s) until `check()` is true. */
async function until(check, what = 'the condition') {
  const deadline = Date.now() + 2000
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const ask = (content, model = 'mock-model') => ({ model, messages: [{ role: 'user', content }] })

describe('maxConcurrent and queueTimeout', () => {
  test('with maxConcurrent: 1 requests reach the server one at a time, in the order they were made', async (t) => {
    const { server, seen } = await countingServer(t, { script: { text: 'one two three', intervalMs: 10 } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 1 })
    const streams = ['a', 'b', 'c', 'd'].map((c) => client.chat(ask(c)))
    // Calls return at once: every stream exists before any request was sent.
    assert.equal(streams.length, 4)
    const texts = await Promise.all(streams.map((s) => s.finalText()))
    assert.deepEqual(texts, Array(4).fill('one two three'))
    assert.deepEqual(seen.order, ['a', 'b', 'c', 'd'])
    assert.equal(seen.peak, 1)
    assert.equal(streams[0].stats.queuedMs < 20, true, 'the first one did not wait')
    assert.ok(streams[3].stats.queuedMs > streams[1].stats.queuedMs, 'later ones waited longer')
  })

  test('peak concurrency seen by the server is maxConcurrent, and every request is served', async (t) => {
    const { server, seen } = await countingServer(t, { script: { text: 'a b c d e', intervalMs: 15 } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 3 })
    const streams = Array.from({ length: 9 }, (_, i) => client.chat(ask(`q${i}`)))
    const deltas = []
    await Promise.all(
      streams.map(async (s) => {
        for await (const d of s) deltas.push(d)
      }),
    )
    assert.equal(server.requests.length, 9)
    assert.equal(seen.peak, 3)
    // FIFO: the first three were sent before any of the rest.
    assert.deepEqual(new Set(seen.order.slice(0, 3)), new Set(['q0', 'q1', 'q2']))
    assert.ok(deltas.filter((d) => d.type === 'finish').length === 9)
  })

  test('a stream that fails frees its slot for the next one', async (t) => {
    const { server } = await countingServer(t, {
      script: (req) => (req.index === 0 ? { fault: { status: 500 } } : { text: 'ok' }),
    })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 1, maxRetries: 0 })
    const failing = client.chat(ask('x'))
    const next = client.chat(ask('y'))
    await assert.rejects(failing.final(), { code: 'ERR_API', status: 500 })
    assert.equal(await next.finalText(), 'ok')
  })

  test('queueTimeout: a request still waiting fails with TimeoutError phase queue and is never sent', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'slow answer', ttftMs: 400 } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 1, queueTimeout: 60 })
    const first = client.chat(ask('first'))
    const second = client.chat(ask('second'))
    const started = performance.now()
    const error = await second.final().then(
      () => assert.fail('should have timed out'),
      (e) => e,
    )
    assert.ok(error instanceof TimeoutError)
    assert.equal(error.code, 'ERR_TIMEOUT')
    assert.equal(error.phase, 'queue')
    assert.match(error.message, /never sent/)
    assert.ok(performance.now() - started < 350, 'it failed at the queue timeout, not when the slot freed')
    await assert.rejects(second.response, { code: 'ERR_TIMEOUT', phase: 'queue' })
    assert.ok(second.stats.queuedMs >= 55)
    assert.equal(await first.finalText(), 'slow answer')
    await sleep(30)
    assert.deepEqual(
      server.requests.map((r) => r.body.messages[0].content),
      ['first'],
    )
  })

  test('queued requests aborted by signal, abort() or a stopped iterator leave the queue at once and are never sent', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'slow answer', ttftMs: 300 } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 1 })
    const first = client.chat(ask('first'))
    const controller = new AbortController()
    const bySignal = client.chat(ask('signal'), { signal: controller.signal })
    const byAbort = client.chat(ask('abort'))
    const byIterator = client.chat(ask('iterator'))
    const last = client.chat(ask('last'))

    const started = performance.now()
    const iterator = byIterator[Symbol.asyncIterator]()
    const pending = iterator.next()
    controller.abort(new Error('user left'))
    byAbort.abort()
    await iterator.return()
    assert.deepEqual(await pending, { value: undefined, done: true })
    await assert.rejects(bySignal.final(), (e) => e instanceof AbortError && /user left/.test(e.message))
    await assert.rejects(byAbort.final(), { name: 'AbortError' })
    await assert.rejects(bySignal.response, { name: 'AbortError', message: /never sent/ })
    assert.ok(performance.now() - started < 150, 'aborting did not wait for the slot')

    assert.equal(await first.finalText(), 'slow answer')
    assert.equal(await last.finalText(), 'slow answer')
    assert.deepEqual(
      server.requests.map((r) => r.body.messages[0].content),
      ['first', 'last'],
    )
  })

  test('without maxConcurrent nothing waits: stats.queuedMs is 0', async (t) => {
    const { server, seen } = await countingServer(t, { script: { text: 'hi', ttftMs: 50 } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    const streams = Array.from({ length: 4 }, (_, i) => client.chat(ask(`q${i}`)))
    await Promise.all(streams.map((s) => s.final()))
    assert.equal(seen.peak, 4)
    for (const s of streams) assert.equal(s.stats.queuedMs, 0)
  })
})

describe('rate-limit headers', () => {
  test('durations in OpenAI form parse to milliseconds', () => {
    assert.equal(parseDuration('6m0s'), 360_000)
    assert.equal(parseDuration('1s'), 1000)
    assert.equal(parseDuration('20ms'), 20)
    assert.equal(parseDuration('1h2m3.5s'), 3_723_500)
    assert.equal(parseDuration('0.5'), 500)
    assert.equal(parseDuration('soon'), null)
    assert.equal(parseDuration('1x'), null)
    assert.equal(parseRateLimit({ 'content-type': 'text/event-stream' }), null)
  })

  test('stream.response.rateLimit and client.rateLimit carry the parsed headers', async (t) => {
    const headers = {
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-remaining-tokens': '29950',
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-reset-tokens': '6m0s',
    }
    const { server } = await countingServer(t, { script: { text: 'hi', headers } })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    assert.equal(client.rateLimit, null)
    const stream = client.chat(ask('x'))
    const { rateLimit } = await stream.response
    const expected = {
      limitRequests: 500,
      limitTokens: 30000,
      remainingRequests: 499,
      remainingTokens: 29950,
      resetRequestsMs: 120,
      resetTokensMs: 360_000,
    }
    assert.deepEqual({ ...rateLimit, receivedAt: undefined }, { ...expected, receivedAt: undefined })
    assert.equal(typeof rateLimit.receivedAt, 'number')
    await stream.final()
    assert.deepEqual({ ...client.rateLimit, receivedAt: undefined }, { ...expected, receivedAt: undefined })
  })

  test('with maxConcurrent, an answer that said no requests remain holds new requests until its reset', async (t) => {
    const { server, seen } = await countingServer(t, {
      script: (req) =>
        req.index === 0
          ? {
              text: 'last one',
              headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '400ms' },
            }
          : { text: 'again', headers: { 'x-ratelimit-remaining-requests': '9', 'x-ratelimit-reset-requests': '1s' } },
    })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 4 })
    const first = client.chat(ask('first'))
    const { rateLimit } = await first.response
    assert.equal(rateLimit.remainingRequests, 0)
    await first.final()
    const held = [client.chat(ask('second')), client.chat(ask('third'))]
    await sleep(150)
    assert.equal(server.requests.length, 1, 'nothing was sent while no requests remained')
    await Promise.all(held.map((s) => s.final()))
    assert.deepEqual(seen.order, ['first', 'second', 'third'])
    const waited = seen.arrivals[1] - rateLimit.receivedAt
    assert.ok(waited >= 380, `the second request waited for the reset (waited ${waited} ms)`)
    assert.ok(held[0].stats.queuedMs >= 200)
    // The answers after the reset said requests remain: the hold is lifted.
    await until(() => client.rateLimit.remainingRequests === 9, 'the later answers to be read')
    const after = client.chat(ask('fourth'))
    await after.final()
    assert.ok(after.stats.queuedMs < 50)
  })

  test('no tokens remaining holds the queue too', async (t) => {
    const { server, seen } = await countingServer(t, {
      script: (req) =>
        req.index === 0
          ? { text: 'x', headers: { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '250ms' } }
          : { text: 'y' },
    })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 2 })
    const first = client.chat(ask('first'))
    const { rateLimit } = await first.response
    await first.final()
    await client.chat(ask('second')).final()
    assert.ok(seen.arrivals[1] - rateLimit.receivedAt >= 230)
    assert.equal(server.requests.length, 2)
  })
})

describe('client.usage', () => {
  test('sums the usage of concurrent streams, in total and per model, across endpoints', async (t) => {
    const chatUsage = {
      prompt_tokens: 10,
      completion_tokens: 4,
      total_tokens: 14,
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 2 },
    }
    const responsesUsage = {
      input_tokens: 7,
      output_tokens: 5,
      total_tokens: 12,
      input_tokens_details: { cached_tokens: 1 },
      output_tokens_details: { reasoning_tokens: 4 },
    }
    const { server } = await countingServer(t, {
      script: (req) =>
        req.endpoint === 'responses'
          ? { text: 'r', usage: responsesUsage, intervalMs: 5 }
          : req.model === 'broken'
            ? { text: 'never finished', fault: { dropAfter: 1 } }
            : { text: 'c', usage: chatUsage, intervalMs: 5 },
    })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 3, maxRetries: 0 })
    const streams = [
      client.chat(ask('1', 'model-a')),
      client.chat(ask('2', 'model-a')),
      client.chat(ask('3', 'model-b')),
      client.responses({ model: 'model-b', input: 'hi' }),
      client.responses({ model: 'model-c', input: 'hi' }),
    ]
    const broken = client.chat(ask('4', 'broken'))
    await Promise.all(streams.map((s) => s.final()))
    await assert.rejects(broken.final())
    const sums = (chat, responses) => ({
      requests: chat + responses,
      inputTokens: 10 * chat + 7 * responses,
      outputTokens: 4 * chat + 5 * responses,
      cachedTokens: 3 * chat + 1 * responses,
      reasoningTokens: 2 * chat + 4 * responses,
    })
    assert.deepEqual(client.usage, {
      ...sums(3, 2),
      byModel: { 'model-a': sums(2, 0), 'model-b': sums(1, 1), 'model-c': sums(0, 1) },
    })
    // A copy: changing it changes nothing.
    client.usage.byModel['model-a'].requests = 99
    assert.equal(client.usage.byModel['model-a'].requests, 2)
    const final = await streams[0].final()
    assert.deepEqual(final.usage, chatUsage)
  })

  test('a new client starts at zero', () => {
    const client = new Client({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-x' })
    assert.deepEqual(client.usage, {
      requests: 0,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      byModel: {},
    })
  })
})

describe('the streamdelta.request tracing channel', () => {
  /** Subscribes to every event; each message is a copy of the context as it was then. */
  function record(t) {
    const channel = diagnosticsChannel.tracingChannel('streamdelta.request')
    const messages = []
    const handlers = {}
    for (const name of ['start', 'end', 'asyncStart', 'asyncEnd', 'error'])
      handlers[name] = (ctx) => messages.push({ event: name, ctx: { ...ctx }, same: ctx })
    channel.subscribe(handlers)
    t.after(() => channel.unsubscribe(handlers))
    return messages
  }

  test('nothing is published without subscribers', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'hi' } })
    const channel = diagnosticsChannel.tracingChannel('streamdelta.request')
    assert.equal(channel.start.hasSubscribers, false)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    await client.chat(ask('x')).final()
  })

  test('start when a request is made, asyncEnd with status, usage and finish reasons when it ends', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'hello there', usage: true, model: 'mock-2024' } })
    const messages = record(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    const stream = client.chat(ask('x', 'mock-model'))
    assert.deepEqual(
      messages.map((m) => m.event),
      ['start', 'end'],
    )
    assert.deepEqual(messages[0].ctx, { operation: 'chat', model: 'mock-model', url: `${server.url}/chat/completions` })
    const final = await stream.final()
    // asyncEnd comes once the stream ended and its response headers were read.
    await until(() => messages.length === 4, 'asyncEnd')
    const events = messages.map((m) => m.event)
    assert.deepEqual(events, ['start', 'end', 'asyncStart', 'asyncEnd'])
    const end = messages[3].ctx
    assert.equal(messages[3].same, messages[0].same, 'one context object per request')
    assert.equal(end.status, 200)
    assert.equal(end.requestId, (await stream.response).requestId)
    assert.equal(typeof end.ttftMs, 'number')
    assert.deepEqual(end.finishReasons, ['stop'])
    assert.deepEqual(end.usage, {
      inputTokens: final.usage.prompt_tokens,
      outputTokens: final.usage.completion_tokens,
      cachedTokens: 0,
      reasoningTokens: 0,
    })
    assert.ok(end.usage.outputTokens > 0)
    assert.equal(end.responseModel, 'mock-2024')
    assert.equal(end.responseId, final.id)
    assert.equal(end.error, undefined)
  })

  test('a failed request publishes error with the error, then asyncEnd', async (t) => {
    const { server } = await countingServer(t, { script: { fault: { status: 429 } } })
    const messages = record(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxRetries: 0 })
    const stream = client.responses({ model: 'm', input: 'x' })
    const error = await stream.final().catch((e) => e)
    assert.equal(error.code, 'ERR_RATE_LIMIT')
    assert.deepEqual(
      messages.map((m) => m.event),
      ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
    )
    const end = messages[4].ctx
    assert.equal(end.operation, 'responses')
    assert.equal(end.error, error)
    assert.equal(end.status, 429)
    assert.equal(end.usage, null)
  })

  test('a queue timeout is traced as an error of a request that was never sent', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'slow', ttftMs: 200 } })
    const messages = record(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxConcurrent: 1, queueTimeout: 20 })
    const first = client.completions({ model: 'm', prompt: 'x' })
    const second = client.completions({ model: 'm', prompt: 'y' })
    await assert.rejects(second.final(), { phase: 'queue' })
    await first.final()
    await until(() => messages.filter((m) => m.event === 'asyncEnd').length === 2, 'both asyncEnds')
    const ends = messages.filter((m) => m.event === 'asyncEnd').map((m) => m.ctx)
    assert.equal(ends.length, 2)
    assert.equal(ends[0].error.phase, 'queue')
    assert.equal(ends[0].status, null)
    assert.ok(ends[0].queuedMs >= 15)
    assert.equal(ends[1].operation, 'completions')
    assert.deepEqual(ends[1].finishReasons, ['stop'])
  })
})

describe('streamdelta/otel', () => {
  class TestReader extends MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
    }
    async onForceFlush() {}
    async onShutdown() {}
  }

  function setup(t) {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const reader = new TestReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    const stop = instrument({ tracerProvider, meterProvider })
    t.after(async () => {
      stop()
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
    })
    const metrics = async () => {
      const { resourceMetrics } = await reader.collect()
      const out = {}
      for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) out[m.descriptor.name] = m
      return out
    }
    return { exporter, metrics, stop }
  }

  test('records GenAI spans for successful and failed streams', async (t) => {
    const { server } = await countingServer(t, {
      script: (req) =>
        req.model === 'bad'
          ? { fault: { status: 503 } }
          : { text: 'hello world', usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } },
    })
    const { exporter } = setup(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', maxRetries: 0 })
    const ok = await client.chat(ask('x', 'gpt-test')).final()
    await assert.rejects(client.chat(ask('x', 'bad')).final(), { status: 503 })
    await until(() => exporter.getFinishedSpans().length === 2, 'two spans')
    const spans = exporter.getFinishedSpans()
    assert.equal(spans.length, 2)
    const [good, bad] = spans
    assert.equal(good.name, 'chat gpt-test')
    assert.equal(good.kind, SpanKind.CLIENT)
    assert.equal(good.attributes['gen_ai.operation.name'], 'chat')
    assert.equal(good.attributes['gen_ai.provider.name'], 'openai')
    assert.equal(good.attributes['gen_ai.request.model'], 'gpt-test')
    assert.equal(good.attributes['gen_ai.response.model'], ok.model)
    assert.equal(good.attributes['gen_ai.response.id'], ok.id)
    assert.deepEqual(good.attributes['gen_ai.response.finish_reasons'], ['stop'])
    assert.equal(good.attributes['gen_ai.usage.input_tokens'], 12)
    assert.equal(good.attributes['gen_ai.usage.output_tokens'], 3)
    assert.equal(good.attributes['server.address'], '127.0.0.1')
    assert.equal(good.attributes['server.port'], server.port)
    assert.notEqual(good.status.code, SpanStatusCode.ERROR)
    assert.equal(bad.name, 'chat bad')
    assert.equal(bad.status.code, SpanStatusCode.ERROR)
    assert.equal(bad.attributes['error.type'], 'APIError')
    assert.ok(bad.events.some((e) => e.name === 'exception'))
  })

  test('records duration, token usage and time-to-first-chunk metrics', async (t) => {
    const { server } = await countingServer(t, {
      script: { text: 'a b c', ttftMs: 20, usage: { input_tokens: 9, output_tokens: 6, total_tokens: 15 } },
    })
    const { metrics, exporter } = setup(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    await Promise.all([
      client.responses({ model: 'r1', input: 'x' }).final(),
      client.responses({ model: 'r1', input: 'y' }).final(),
    ])
    await until(() => exporter.getFinishedSpans().length === 2, 'two spans')
    const got = await metrics()
    const duration = got['gen_ai.client.operation.duration']
    assert.equal(duration.descriptor.unit, 's')
    assert.equal(duration.dataPoints.length, 1)
    assert.equal(duration.dataPoints[0].value.count, 2)
    assert.equal(duration.dataPoints[0].attributes['gen_ai.request.model'], 'r1')
    assert.equal(duration.dataPoints[0].attributes['gen_ai.provider.name'], 'openai')
    assert.ok(duration.dataPoints[0].value.min >= 0.015)
    const tokens = got['gen_ai.client.token.usage']
    const byType = Object.fromEntries(tokens.dataPoints.map((p) => [p.attributes['gen_ai.token.type'], p.value]))
    assert.equal(byType.input.sum, 18)
    assert.equal(byType.output.sum, 12)
    assert.equal(byType.input.count, 2)
    const firstChunk = got['gen_ai.client.operation.time_to_first_chunk']
    assert.equal(firstChunk.dataPoints[0].value.count, 2)
    assert.ok(firstChunk.dataPoints[0].value.min >= 0.015)
  })

  test('the function it returns stops it', async (t) => {
    const { server } = await countingServer(t, { script: { text: 'hi' } })
    const { exporter, stop } = setup(t)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x' })
    await client.chat(ask('x')).final()
    stop()
    // The span open when it stopped still ends; no new one starts.
    await until(() => exporter.getFinishedSpans().length === 1, 'the open span')
    await client.chat(ask('y')).final()
    await sleep(20)
    assert.equal(exporter.getFinishedSpans().length, 1)
    assert.equal(diagnosticsChannel.tracingChannel('streamdelta.request').start.hasSubscribers, false)
  })
})
