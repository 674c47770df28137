// Real networks (issue 15): real servers on 127.0.0.1 started and stopped here. TLS with a
// private CA made by the `openssl` CLI (trusted through `ca`, through NODE_EXTRA_CA_CERTS in a
// child process, refused without either), HTTP/2 by ALPN, kept-alive connection reuse, a
// connection the server closed while idle, and a real proxy (Debian's tinyproxy): plain HTTP
// through it, HTTPS through CONNECT, basic auth, the environment's proxy with NO_PROXY,
// `proxy: false`, a dead proxy. Nothing here touches the internet.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import util from 'node:util'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'

import { Client, ConnectionError } from 'streamdelta'
import { freePort, writeChatStream } from './helpers/server.mjs'
import { runNode } from './helpers/child.mjs'

const INDEX = pathToFileURL(path.resolve(import.meta.dirname, '..', 'index.mjs')).href
const body = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A private CA and a server certificate for localhost / 127.0.0.1 signed by it, in `dir`. */
function makeCA(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=streamdelta test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  )
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  )
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  )
  const read = (name) => fs.readFileSync(path.join(dir, name), 'utf8')
  return { caFile: path.join(dir, 'ca.pem'), ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem') }
}

/** Answers every request with a short chat stream; counts sockets and keeps each request's headers. */
function chatHandler(state) {
  return (req, res) => {
    state.requests.push({ url: req.url, headers: req.headers, httpVersion: req.httpVersion })
    req.resume()
    req.on('end', () => writeChatStream(res, ['Hello', ' there']))
  }
}

/** Starts `server` on 127.0.0.1, counting the connections it accepts; closes it after the test. */
async function listen(t, server, { tls = false } = {}) {
  const state = { requests: [], sockets: 0, url: '' }
  server.on(tls ? 'secureConnection' : 'connection', () => state.sockets++)
  const sockets = new Set()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  state.port = server.address().port
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return state
}

async function httpServer(t, options = {}) {
  const requests = []
  const server = http.createServer(options, chatHandler({ requests }))
  const state = await listen(t, server)
  state.requests = requests
  state.url = `http://127.0.0.1:${state.port}/v1`
  return state
}

/** node:https (HTTP/1.1 only) or node:http2 with allowHTTP1, with the private CA's certificate. */
async function tlsServer(t, pki, { h2 = false } = {}) {
  const requests = []
  const handler = chatHandler({ requests })
  const server = h2
    ? http2.createSecureServer({ key: pki.key, cert: pki.cert, allowHTTP1: true }, handler)
    : https.createServer({ key: pki.key, cert: pki.cert }, handler)
  const state = await listen(t, server, { tls: true })
  state.requests = requests
  state.url = `https://localhost:${state.port}/v1`
  return state
}

async function textOf(client, options) {
  const stream = client.chat(body, options)
  const text = await stream.finalText()
  return { text, response: await stream.response }
}

async function failureOf(client) {
  const started = Date.now()
  const error = await client
    .chat(body)
    .finalText()
    .then(
      () => assert.fail('expected the request to fail'),
      (e) => e,
    )
  return { error, ms: Date.now() - started }
}

/** What a child process with `env` gets for one chat stream to `baseURL` (JSON on stdout). */
async function childChat(baseURL, env, clientOptions = {}, { secondClient = false } = {}) {
  const source = `
    import { Client } from ${JSON.stringify(INDEX)}
    const client = new Client({ baseURL: ${JSON.stringify(baseURL)}, apiKey: 'sk-x', maxRetries: 0, ...${JSON.stringify(clientOptions)} })
    const out = {}
    try {
      const stream = client.chat(${JSON.stringify(body)})
      out.text = await stream.finalText()
      out.httpVersion = (await stream.response).httpVersion
    } catch (e) {
      out.error = { name: e.name, message: e.message }
    }
    if (${secondClient}) new Client({ baseURL: 'http://127.0.0.1:9/v1' })
    process.stdout.write(JSON.stringify(out))
  `
  const result = await runNode(source, { module: true, env, timeout: 20_000 })
  assert.equal(result.timedOut, false, `the child hung; stderr: ${result.stderr}`)
  assert.equal(result.code, 0, result.stderr)
  return { ...JSON.parse(result.stdout), stderr: result.stderr }
}

/** Environment without any proxy or CA variable of the parent's. */
function cleanEnv(extra = {}) {
  const env = {}
  for (const name of [
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'ALL_PROXY',
    'all_proxy',
    'NO_PROXY',
    'no_proxy',
    'NODE_EXTRA_CA_CERTS',
  ])
    env[name] = undefined
  return { ...env, ...extra }
}

let dir
let pki
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamdelta-net-'))
  pki = makeCA(dir)
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('TLS with a private CA', () => {
  test('refused without ca or NODE_EXTRA_CA_CERTS: a ConnectionError naming the host, ca and NODE_EXTRA_CA_CERTS, at once', async (t) => {
    const server = await tlsServer(t, pki)
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', proxy: false })
    const { error, ms } = await failureOf(client)
    assert.ok(error instanceof ConnectionError, String(error))
    assert.match(error.message, /the TLS certificate of localhost was not trusted for localhost/)
    assert.match(error.message, /UnknownIssuer/)
    assert.match(error.message, /`ca`/)
    assert.match(error.message, /NODE_EXTRA_CA_CERTS/)
    // Not retried: the certificate would not be trusted any better a second time.
    assert.ok(ms < 3000, `took ${ms} ms`)
    assert.equal(server.requests.length, 0)
  })

  test('trusted through the ca option: a PEM string, a Buffer, an array', async (t) => {
    const server = await tlsServer(t, pki)
    for (const ca of [pki.ca, Buffer.from(pki.ca), [Buffer.from(pki.ca)], [pki.ca, Buffer.from(pki.ca)]]) {
      const client = new Client({ baseURL: server.url, apiKey: 'sk-x', ca, proxy: false, maxRetries: 0 })
      const { text, response } = await textOf(client)
      assert.equal(text, 'Hello there')
      assert.equal(response.httpVersion, '1.1', 'node:https offers no h2')
    }
  })

  test('a Buffer of text that is not PEM throws a TypeError', () => {
    assert.throws(() => new Client({ ca: Buffer.from('hello') }), { name: 'TypeError', message: /ca must be PEM text/ })
  })

  test('trusted through NODE_EXTRA_CA_CERTS (a child process), on top of the system roots', async (t) => {
    const server = await tlsServer(t, pki)
    const out = await childChat(server.url, cleanEnv({ NODE_EXTRA_CA_CERTS: pki.caFile }), { proxy: false })
    assert.deepEqual(out.error, undefined)
    assert.equal(out.text, 'Hello there')
    assert.doesNotMatch(out.stderr, /streamdelta/)
  })

  test('a NODE_EXTRA_CA_CERTS file that cannot be read: one warning line on stderr, the client still works', async (t) => {
    const server = await tlsServer(t, pki)
    const missing = path.join(dir, 'no-such-ca.pem')
    const out = await childChat(
      server.url,
      cleanEnv({ NODE_EXTRA_CA_CERTS: missing }),
      { proxy: false },
      { secondClient: true },
    )
    assert.equal(out.error?.name, 'ConnectionError')
    assert.match(out.error.message, /not trusted/)
    const ours = out.stderr.split('\n').filter((line) => line.includes('[streamdelta]'))
    assert.equal(ours.length, 1, out.stderr)
    assert.match(ours[0], /Ignoring extra certs from `.*no-such-ca\.pem` \(NODE_EXTRA_CA_CERTS\), load failed/)
  })
})

describe('HTTP/2 and connection reuse', () => {
  test('HTTP/2 when the server offers it by ALPN; sequential streams share one connection', async (t) => {
    const server = await tlsServer(t, pki, { h2: true })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', ca: pki.ca, proxy: false })
    for (let i = 0; i < 3; i++) {
      const { text, response } = await textOf(client)
      assert.equal(text, 'Hello there')
      assert.equal(response.httpVersion, '2')
    }
    assert.deepEqual(
      server.requests.map((r) => r.httpVersion),
      ['2.0', '2.0', '2.0'],
    )
    assert.equal(server.sockets, 1)
  })

  test('HTTP/1.1 keep-alive: two sequential streams, one socket', async (t) => {
    const requests = []
    const server = http.createServer(chatHandler({ requests }))
    const state = await listen(t, server)
    const client = new Client({ baseURL: `http://127.0.0.1:${state.port}/v1`, apiKey: 'sk-x', proxy: false })
    for (let i = 0; i < 2; i++) {
      const { text, response } = await textOf(client)
      assert.equal(text, 'Hello there')
      assert.equal(response.httpVersion, '1.1')
    }
    assert.equal(requests.length, 2)
    assert.equal(state.sockets, 1)
  })

  test('a connection the server closed while idle is replaced without an error', async (t) => {
    const requests = []
    const server = http.createServer(chatHandler({ requests }))
    const state = await listen(t, server)
    const client = new Client({ baseURL: `http://127.0.0.1:${state.port}/v1`, apiKey: 'sk-x', proxy: false })
    assert.equal((await textOf(client)).text, 'Hello there')
    await sleep(50)
    server.closeIdleConnections() // the server hangs up the idle kept-alive socket (as a keep-alive timeout does)
    await sleep(100)
    assert.equal((await textOf(client)).text, 'Hello there')
    assert.equal(state.sockets, 2)
  })

  test('a kept-alive connection the server drops as the next request arrives is replaced (within maxRetries)', async (t) => {
    const served = new WeakMap()
    const requests = []
    const handle = chatHandler({ requests })
    const server = http.createServer((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1
      served.set(req.socket, count)
      // The second request on a reused socket: hang up before any byte, as a server that
      // timed the connection out at that very moment does.
      if (count === 2) return req.socket.destroy()
      handle(req, res)
    })
    const state = await listen(t, server)
    const client = new Client({
      baseURL: `http://127.0.0.1:${state.port}/v1`,
      apiKey: 'sk-x',
      proxy: false,
      maxRetries: 1,
    })
    assert.equal((await textOf(client)).text, 'Hello there')
    assert.equal((await textOf(client)).text, 'Hello there')
    assert.equal(state.sockets, 2)
    assert.equal(requests.length, 2)
  })
})

describe('DNS', () => {
  test('a host that does not resolve is named, within seconds', async () => {
    const client = new Client({
      baseURL: 'http://no-such-host.invalid/v1',
      apiKey: 'sk-x',
      proxy: false,
      maxRetries: 0,
    })
    const { error, ms } = await failureOf(client)
    assert.ok(error instanceof ConnectionError, String(error))
    assert.match(error.message, /could not resolve the host 'no-such-host\.invalid'/)
    assert.ok(ms < 10_000, `took ${ms} ms`)
  })
})

const TINYPROXY = ['/usr/bin/tinyproxy', '/usr/sbin/tinyproxy'].find((p) => fs.existsSync(p))

/**
 * Starts tinyproxy on a free port with a temp config (no ConnectPort line: CONNECT reaches any
 * port); `auth` adds `BasicAuth user pass`. Its log (LogLevel Connect) shows each request.
 */
async function startProxy(t, { auth } = {}) {
  const port = await freePort()
  const conf = path.join(dir, `tinyproxy-${port}.conf`)
  const lines = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Allow 127.0.0.1',
    'Timeout 30',
    'LogLevel Connect',
    'MaxClients 50',
  ]
  if (auth) lines.push(`BasicAuth ${auth.user} ${auth.pass}`)
  fs.writeFileSync(conf, `${lines.join('\n')}\n`)
  const child = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  const proxy = { port, url: `http://127.0.0.1:${port}`, log: '' }
  child.stdout.setEncoding('utf8').on('data', (d) => (proxy.log += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (proxy.log += d))
  t.after(() => child.kill('SIGTERM'))
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.on('connect', () => resolve(socket.end() && true))
      socket.on('error', () => resolve(false))
    })
    if (up) break
    if (i > 100 || child.exitCode !== null) throw new Error(`tinyproxy did not start: ${proxy.log}`)
    await sleep(50)
  }
  return proxy
}

const via = (request) => /tinyproxy/i.test(request.headers.via ?? '')

describe('a real proxy (tinyproxy)', {
  skip: TINYPROXY ? false : 'tinyproxy is not installed (apt-get install tinyproxy; .ci/run installs it)',
}, () => {
  test('plain HTTP through the proxy option', async (t) => {
    const proxy = await startProxy(t)
    const server = await httpServer(t)
    const { requests } = server
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', proxy: proxy.url, maxRetries: 0 })
    assert.equal((await textOf(client)).text, 'Hello there')
    assert.equal(requests.length, 1)
    assert.ok(via(requests[0]), `the request came through tinyproxy: ${JSON.stringify(requests[0].headers)}`)
  })

  test('HTTPS through CONNECT (and HTTP/2 inside the tunnel)', async (t) => {
    const proxy = await startProxy(t)
    const server = await tlsServer(t, pki, { h2: true })
    const client = new Client({ baseURL: server.url, apiKey: 'sk-x', ca: pki.ca, proxy: proxy.url, maxRetries: 0 })
    const { text, response } = await textOf(client)
    assert.equal(text, 'Hello there')
    assert.equal(response.httpVersion, '2')
    assert.match(proxy.log, new RegExp(`CONNECT localhost:${server.port}`))
  })

  test('basic auth: user:pass@ works for http and https; none or a wrong one names the proxy, never the password', async (t) => {
    const proxy = await startProxy(t, { auth: { user: 'alice', pass: 'hunter22' } })
    const plain = await httpServer(t)
    const secure = await tlsServer(t, pki)
    const withAuth = `http://alice:hunter22@127.0.0.1:${proxy.port}`
    for (const baseURL of [plain.url, secure.url]) {
      const client = new Client({ baseURL, apiKey: 'sk-x', ca: pki.ca, proxy: withAuth, maxRetries: 0 })
      assert.equal((await textOf(client)).text, 'Hello there', baseURL)
    }
    for (const baseURL of [plain.url, secure.url]) {
      const none = new Client({ baseURL, apiKey: 'sk-x', ca: pki.ca, proxy: proxy.url, maxRetries: 2 })
      const { error } = await failureOf(none)
      assert.ok(error instanceof ConnectionError, `${baseURL}: ${error}`)
      assert.match(
        error.message,
        new RegExp(
          `the proxy http://127\\.0\\.0\\.1:${proxy.port} \\(from the proxy option\\) requires authentication`,
        ),
      )
      assert.match(error.message, /407/)
      assert.equal(error.attempts, 1, 'a 407 is not retried')

      const wrongPass = `http://alice:wrong-pass-99@127.0.0.1:${proxy.port}`
      const wrong = new Client({ baseURL, apiKey: 'sk-x', ca: pki.ca, proxy: wrongPass, maxRetries: 2 })
      const { error: refused } = await failureOf(wrong)
      // tinyproxy answers wrong credentials with a 401 page (not a 407): for https the tunnel is
      // refused, for plain http the page is the answer, said to come through the proxy.
      const proxyName = `the proxy http://127.0.0.1:${proxy.port} (from the proxy option)`
      if (baseURL.startsWith('https:')) {
        assert.ok(refused instanceof ConnectionError, String(refused))
        assert.ok(
          refused.message.includes(`${proxyName} could not open a tunnel (CONNECT) to localhost:`),
          refused.message,
        )
      } else {
        assert.equal(refused.status, 401)
        assert.ok(refused.message.endsWith(`(answered through ${proxyName})`), refused.message)
      }
      assertNoSecret(refused, 'wrong-pass-99')
    }
  })

  test('the environment: HTTP_PROXY and https_proxy apply to 127.0.0.1 too, NO_PROXY decides, proxy: false ignores them', async (t) => {
    const proxy = await startProxy(t)
    const requests = []
    const server = http.createServer(chatHandler({ requests }))
    const state = await listen(t, server)
    const url = `http://127.0.0.1:${state.port}/v1`

    let out = await childChat(url, cleanEnv({ HTTP_PROXY: proxy.url }))
    assert.equal(out.text, 'Hello there', JSON.stringify(out))
    assert.ok(via(requests.at(-1)), 'loopback is not exempt from HTTP_PROXY')

    out = await childChat(url, cleanEnv({ http_proxy: proxy.url, NO_PROXY: '127.0.0.1,localhost' }))
    assert.equal(out.text, 'Hello there', JSON.stringify(out))
    assert.ok(!via(requests.at(-1)), 'NO_PROXY=127.0.0.1 goes direct')

    out = await childChat(url, cleanEnv({ HTTP_PROXY: proxy.url }), { proxy: false })
    assert.equal(out.text, 'Hello there', JSON.stringify(out))
    assert.ok(!via(requests.at(-1)), 'proxy: false ignores HTTP_PROXY')
    assert.equal(requests.length, 3)

    const secure = await tlsServer(t, pki)
    out = await childChat(secure.url, cleanEnv({ https_proxy: proxy.url, NODE_EXTRA_CA_CERTS: pki.caFile }))
    assert.equal(out.text, 'Hello there', JSON.stringify(out))
    assert.match(proxy.log, new RegExp(`CONNECT localhost:${secure.port}`))

    out = await childChat(
      secure.url,
      cleanEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost', NODE_EXTRA_CA_CERTS: pki.caFile }),
    )
    assert.equal(out.text, 'Hello there', JSON.stringify(out))
    assert.equal(
      proxy.log.match(new RegExp(`CONNECT localhost:${secure.port}`, 'g')).length,
      1,
      'NO_PROXY=localhost went direct',
    )
  })

  test('a dead proxy: a ConnectionError naming it (not its password), within seconds', async () => {
    const port = await freePort()
    const client = new Client({
      baseURL: 'https://api.example.com/v1',
      apiKey: 'sk-x',
      proxy: `http://bob:s3cret-pw@127.0.0.1:${port}`,
      maxRetries: 0,
    })
    const { error, ms } = await failureOf(client)
    assert.ok(error instanceof ConnectionError, String(error))
    assert.match(
      error.message,
      new RegExp(
        `could not connect to the proxy http://127\\.0\\.0\\.1:${port} \\(from the proxy option\\): connection refused`,
      ),
    )
    assertNoSecret(error, 's3cret-pw')
    assert.ok(ms < 5000, `took ${ms} ms`)

    // The environment's proxy, with the debug log on: named in the error and the log, its password in neither.
    const out = await childChat(
      'http://127.0.0.1:9/v1',
      cleanEnv({ HTTP_PROXY: `http://bob:s3cret-pw@127.0.0.1:${port}` }),
      { log: 'debug' },
    )
    assert.match(out.error.message, new RegExp(`the proxy http://127\\.0\\.0\\.1:${port} \\(from HTTP_PROXY\\)`))
    assert.match(out.stderr, /via the proxy http:\/\/127\.0\.0\.1/)
    assert.doesNotMatch(out.error.message, /s3cret-pw/)
    assert.doesNotMatch(out.stderr, /s3cret-pw/)
  })
})

/** `secret` is nowhere in the error: message, causes, inspect output. */
function assertNoSecret(error, secret) {
  assert.doesNotMatch(error.message, new RegExp(secret))
  assert.doesNotMatch(util.inspect(error, { depth: 10 }), new RegExp(secret))
  let cause = error.cause
  while (cause) {
    assert.doesNotMatch(String(cause.message ?? cause), new RegExp(secret))
    cause = cause.cause
  }
}
