// The Express example (examples/express) in a real browser: Debian's Chromium driven by
// playwright-core loads the example pages, which stream tokens from a slow local upstream into
// the DOM: `/` through streamdelta/browser and the relay's `events` format, `/ai-sdk` (React,
// bundled by esbuild) through the AI SDK's useChat and the `ai-sdk` format. With a real
// redis-server the relays are resumable and a reload mid-answer picks the answer up again. Without /usr/bin/chromium the
// browser tests are skipped, unless CI is set: CI installs Chromium, so there it is a failure.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { startServer, startSse, sseChunk, chatChunk } from './helpers/server.mjs'
import { sleep, waitFor } from './helpers/sse.mjs'
import { SseParser } from '../index.mjs'
import { start } from '../examples/express/server.mjs'
import { startRedis, skipWithoutRedis } from './helpers/redis.mjs'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM)
const SKIP_BROWSER =
  !HAVE_CHROMIUM && !process.env.CI
    ? `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests`
    : false

// 30 tokens, 40 ms apart: about 1.2 s of streaming. Markup and non-ASCII must land as text.
const TOKENS = Array.from({ length: 30 }, (_, i) => (i === 0 ? 'Token0' : i === 15 ? ' <b>naïve</b> 🚀' : ` token${i}`))
const TEXT = TOKENS.join('')
const INTERVAL_MS = 40

/**
 * A slow upstream: one token every INTERVAL_MS. `state` tracks what it did: `sent` tokens,
 * `ended` (the whole stream written), `closed` (its socket closed), `prompts` it was asked.
 */
async function slowUpstream(t) {
  const state = { sent: 0, ended: false, closed: false, prompts: [] }
  const server = await startServer(async (req, res, body) => {
    state.prompts.push(JSON.parse(body).messages.at(-1).content)
    req.socket.once('close', () => (state.closed = true))
    startSse(res)
    sseChunk(res, chatChunk({ role: 'assistant', content: '' }))
    for (const token of TOKENS) {
      await sleep(INTERVAL_MS)
      if (res.destroyed) return
      sseChunk(res, chatChunk({ content: token }))
      state.sent++
    }
    sseChunk(res, chatChunk({}, { finish: 'stop' }))
    sseChunk(res, {
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'test-model',
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: TOKENS.length, total_tokens: 4 + TOKENS.length },
    })
    res.end('data: [DONE]\n\n')
    state.ended = true
  })
  t.after(() => server.close())
  return { server, state }
}

async function startExample(t, upstreamURL, { redisUrl = null } = {}) {
  const app = await start({ port: 0, upstreamURL, apiKey: 'sk-browser-test', model: 'test-model', redisUrl })
  t.after(() => app.close())
  return app
}

async function openBrowser(t) {
  if (!HAVE_CHROMIUM)
    assert.fail(`${CHROMIUM} is missing and CI is set: the CI script must install it (apt-get install -y chromium)`)
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.after(() => browser.close())
  const page = await browser.newPage()
  const problems = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`)
  })
  return { page, problems }
}

describe('the Express example in Chromium', () => {
  test('tokens reach the DOM while the upstream is still sending; the final DOM text is the upstream text', {
    skip: SKIP_BROWSER,
    timeout: 60_000,
  }, async (t) => {
    const { server, state } = await slowUpstream(t)
    const app = await startExample(t, server.url)
    const { page, problems } = await openBrowser(t)
    await page.goto(app.url)
    await page.fill('#prompt', 'Count to thirty, please')
    await page.click('#send')

    // Poll the DOM while the upstream is still sending.
    let early = null
    while (!state.ended) {
      const text = await page.textContent('#output')
      if (text) {
        early = { text, sentByUpstream: state.sent }
        break
      }
      await sleep(10)
    }
    assert.ok(early, 'no token reached the DOM before the upstream finished: the relay buffered the stream')
    t.diagnostic(
      `first DOM text ${JSON.stringify(early.text)} while the upstream had sent ${early.sentByUpstream}/${TOKENS.length} tokens`,
    )
    assert.ok(early.sentByUpstream < TOKENS.length)
    assert.ok(
      TEXT.startsWith(early.text),
      `the early DOM text is a prefix of the answer: ${JSON.stringify(early.text)}`,
    )

    await page.waitForSelector('#status[data-state="done"]', { timeout: 20_000 })
    assert.equal(await page.textContent('#output'), TEXT)
    assert.equal(await page.$('#output b'), null, 'markup in the text stays text')
    assert.match(await page.textContent('#status'), /finish reason: stop, 34 tokens/)
    assert.deepEqual(state.prompts, ['Count to thirty, please'])
    assert.deepEqual(problems, [])
  })

  test('Stop aborts the reader and the upstream request is aborted', {
    skip: SKIP_BROWSER,
    timeout: 60_000,
  }, async (t) => {
    const { server, state } = await slowUpstream(t)
    const app = await startExample(t, server.url)
    const { page } = await openBrowser(t)
    await page.goto(app.url)
    await page.click('#send')
    await page.waitForFunction(() => document.getElementById('output').textContent.length > 0, null, {
      timeout: 10_000,
    })
    await page.click('#stop')
    assert.ok(await waitFor(() => state.closed, 5000), 'the upstream socket should close once the page stopped')
    assert.equal(state.ended, false, 'the upstream was stopped before it finished')
    assert.equal(await page.getAttribute('#status', 'data-state'), 'stopped')
  })
})

describe("the Express example's AI SDK page (useChat, bundled with esbuild) in Chromium", () => {
  test('useChat with DefaultChatTransport renders the streamed answer as it comes', {
    skip: SKIP_BROWSER,
    timeout: 60_000,
  }, async (t) => {
    const { server, state } = await slowUpstream(t)
    const app = await startExample(t, server.url)
    const { page, problems } = await openBrowser(t)
    await page.goto(`${app.url}/ai-sdk`)
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 })
    await page.fill('#prompt', 'Count to thirty, please')
    await page.click('#send')
    const assistant = '.message[data-role="assistant"]'
    let early = null
    while (!state.ended) {
      const text = await page.$eval(assistant, (el) => el.textContent).catch(() => '')
      if (text) {
        early = { text, sentByUpstream: state.sent }
        break
      }
      await sleep(10)
    }
    assert.ok(early, 'no token reached the DOM before the upstream finished')
    assert.ok(early.sentByUpstream < TOKENS.length)
    assert.ok(TEXT.startsWith(early.text), `a prefix of the answer: ${JSON.stringify(early.text)}`)
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 })
    assert.equal(await page.$eval(assistant, (el) => el.textContent), TEXT)
    assert.equal(await page.$eval('.message[data-role="user"]', (el) => el.textContent), 'Count to thirty, please')
    assert.equal(await page.$(`${assistant} b`), null, 'markup in the text stays text')
    assert.deepEqual(state.prompts, ['Count to thirty, please'], 'toChatMessages turned the UI message into the prompt')
    assert.deepEqual(problems, [])
  })
})

describe('the Express example with REDIS_URL (resumable relays) in Chromium', {
  skip: SKIP_BROWSER || skipWithoutRedis,
}, () => {
  let redis
  before(async () => {
    redis = await startRedis()
  })
  after(() => redis?.stop())

  for (const { path, output, done } of [
    { path: '/', output: '#output', done: '#status[data-state="done"]' },
    { path: '/ai-sdk', output: '.message[data-role="assistant"]', done: '#status[data-state="ready"]' },
  ]) {
    test(`${path}: a reload mid-answer picks the answer up again; the upstream is not aborted`, {
      timeout: 60_000,
    }, async (t) => {
      const { server, state } = await slowUpstream(t)
      const app = await startExample(t, server.url, { redisUrl: redis.url })
      assert.equal(app.resumable, true)
      const { page, problems } = await openBrowser(t)
      await page.goto(`${app.url}${path}`)
      if (path === '/ai-sdk') await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 })
      await page.click('#send')
      await page.waitForFunction((sel) => (document.querySelector(sel)?.textContent.length ?? 0) > 0, output, {
        timeout: 10_000,
      })
      const sentAtReload = state.sent
      await page.reload()
      // A page that just loaded is 'ready' before its resume starts: wait for the upstream's
      // end, then for the page to settle on the whole text (or show what it has instead).
      assert.ok(await waitFor(() => state.ended, 20_000), 'the upstream ran to its end')
      await page
        .waitForFunction(([sel, whole]) => document.querySelector(sel)?.textContent === whole, [output, TEXT], {
          timeout: 10_000,
        })
        .catch(() => {}) // the assertion below says what the page shows
      await page.waitForSelector(done, { timeout: 20_000 })
      const text = await page.$eval(output, (el) => el.textContent)
      assert.ok(sentAtReload < TOKENS.length, 'the reload came mid-answer')
      assert.equal(text, TEXT, 'the whole answer, once')
      assert.equal(state.ended, true, 'the upstream ran to its end')
      assert.equal(state.prompts.length, 1, 'one upstream request: the reload resumed it, it did not ask again')
      assert.deepEqual(problems, [])
    })
  }
})

describe('the Express example without a browser', () => {
  function eventsOf(text) {
    const parser = new SseParser()
    return [...parser.feed(text), ...parser.end()]
  }

  test('GET / serves the page; GET /chat?prompt= and POST /chat relay the events format', async (t) => {
    const { server, state } = await slowUpstream(t)
    const app = await startExample(t, server.url)
    const page = await fetch(`${app.url}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type'), /^text\/html/)
    const html = await page.text()
    assert.match(html, /import \{ readRelay, RelayError \} from '\/streamdelta-browser\.mjs'/)
    const module = await fetch(`${app.url}/streamdelta-browser.mjs`)
    assert.match(module.headers.get('content-type'), /^text\/javascript/)
    assert.match(await module.text(), /export function readRelay/)

    for (const init of [
      { url: `${app.url}/chat?prompt=${encodeURIComponent('via GET')}` },
      {
        url: `${app.url}/chat`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'via POST' }),
      },
    ]) {
      const response = await fetch(init.url, init)
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
      const events = eventsOf(await response.text())
      assert.equal(
        events
          .filter((e) => e.event === 'text')
          .map((e) => JSON.parse(e.data))
          .join(''),
        TEXT,
      )
      assert.deepEqual(JSON.parse(events.find((e) => e.event === 'finish').data), { choice: 0, reason: 'stop' })
      assert.equal(events.at(-1).event, 'done')
    }
    assert.deepEqual(state.prompts, ['via GET', 'via POST'])

    const missing = await fetch(`${app.url}/chat`)
    assert.equal(missing.status, 400)
    assert.equal((await missing.json()).error.message, 'prompt is required')
  })

  test('with no upstreamURL and no OPENAI_API_KEY, the built-in local upstream answers', async (t) => {
    const saved = process.env.OPENAI_API_KEY
    delete process.env.OPENAI_API_KEY
    t.after(() => {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved
    })
    const app = await start({ port: 0 })
    t.after(() => app.close())
    assert.match(app.upstreamURL, /^http:\/\/127\.0\.0\.1:\d+\//)
    const response = await fetch(`${app.url}/chat?prompt=${encodeURIComponent('hello there')}`)
    assert.equal(response.status, 200)
    const events = eventsOf(await response.text())
    const text = events
      .filter((e) => e.event === 'text')
      .map((e) => JSON.parse(e.data))
      .join('')
    assert.match(text, /^You asked: "hello there"\./)
    assert.ok(
      events.some((e) => e.event === 'usage'),
      'the local upstream sends usage',
    )
    assert.equal(events.at(-1).event, 'done')
  })
})
