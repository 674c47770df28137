// streamdelta/browser in a real page: Debian's Chromium (playwright-core, as browser.test.mjs)
// loads a page that imports browser.mjs as it ships (no bundler: it is plain ESM without
// imports) and reads a node:http route relaying the mock upstream with `format: 'events'`:
// the streamed text, a tool call and an upstream error land in the DOM. Skipped without
// /usr/bin/chromium, unless CI is set.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import { once } from 'node:events'
import { Client } from '../index.mjs'
import { startMockServer } from '../testing.mjs'

const CHROMIUM = '/usr/bin/chromium'
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM)
const SKIP = !HAVE_CHROMIUM && !process.env.CI ? `${CHROMIUM} is missing` : false
const BROWSER_MJS = fs.readFileSync(new URL('../browser.mjs', import.meta.url))

const PAGE = `<!doctype html><meta charset="utf-8"><title>reader</title>
<pre id="output"></pre><pre id="tools"></pre><pre id="error"></pre><p id="status"></p>
<script type="module">
  import { readRelay, RelayError } from '/browser.mjs'
  const model = new URLSearchParams(location.search).get('model')
  const answer = readRelay('/chat', { body: { model } })
  answer.on('text', (_text, snapshot) => (document.getElementById('output').textContent = snapshot))
  answer.on('toolCall', (call) => (document.getElementById('tools').textContent += call.name + ' ' + call.arguments))
  answer.finalText().then(
    () => (document.getElementById('status').dataset.state = 'done'),
    (error) => {
      document.getElementById('error').textContent = (error instanceof RelayError ? 'relay: ' : '') + error.message
      document.getElementById('status').dataset.state = 'failed'
    },
  )
</script>`

async function startApp(t) {
  const mock = await startMockServer({
    scripts: {
      tools: { text: 'Looking <b>it</b> up', toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }] },
      broken: { text: 'one two three four', fault: { errorAfter: 3, error: { message: 'It broke.' } } },
    },
  })
  const client = new Client({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0 })
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/page')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      return res.end(PAGE)
    }
    if (req.method === 'GET' && req.url === '/browser.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      return res.end(BROWSER_MJS)
    }
    if (req.method !== 'POST' || req.url !== '/chat') {
      res.writeHead(404)
      return res.end()
    }
    let body = ''
    for await (const chunk of req) body += chunk
    const { model } = JSON.parse(body)
    client.chat({ model, messages: [{ role: 'user', content: 'Hi' }] }).pipeTo(res, { format: 'events' })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  })
  t.after(async () => {
    await browser.close()
    server.closeAllConnections()
    server.close()
    await mock.close()
  })
  const page = await browser.newPage()
  const problems = []
  page.on('pageerror', (error) => problems.push(error.message))
  return { page, problems, url: `http://127.0.0.1:${server.address().port}` }
}

test('a page using streamdelta/browser renders the text and a tool call', {
  skip: SKIP,
  timeout: 60_000,
}, async (t) => {
  const { page, problems, url } = await startApp(t)
  await page.goto(`${url}/page?model=tools`)
  await page.waitForSelector('#status[data-state="done"]', { state: 'attached', timeout: 20_000 })
  assert.equal(await page.textContent('#output'), 'Looking <b>it</b> up')
  assert.equal(await page.textContent('#tools'), 'weather {"city":"Paris"}')
  assert.deepEqual(problems, [])
})

test('a page using streamdelta/browser renders an upstream error', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const { page, problems, url } = await startApp(t)
  await page.goto(`${url}/page?model=broken`)
  await page.waitForSelector('#status[data-state="failed"]', { state: 'attached', timeout: 20_000 })
  assert.equal(await page.textContent('#error'), 'relay: It broke.')
  assert.ok((await page.textContent('#output')).startsWith('one'))
  assert.deepEqual(problems, [])
})
