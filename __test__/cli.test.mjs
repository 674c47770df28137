// The `streamdelta` command (bin/streamdelta.js) and `npm run demo` (scripts/demo.mjs), driven
// as subprocesses against the mock server: output, exit codes, --json, Ctrl-C, `mock`.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

import { Client } from 'streamdelta'
import { startMockServer, REDACTED } from 'streamdelta/testing'
import { waitFor } from './helpers/sse.mjs'
import { freePort, startServer } from './helpers/server.mjs'

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'bin', 'streamdelta.js')
const DEMO = path.join(ROOT, 'scripts', 'demo.mjs')
const { DEMO_PROMPT, DEMO_ANSWER } = createRequire(import.meta.url)(BIN)
const VERSION = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version
const KEY = 'sk-cli-test-key'
const STATS = /^\[first token \d+ ms · (\d+) tokens · ([\d.]+|n\/a) tokens\/s · finish: (\w+)\]$/

/** The environment without the OPENAI_* variables of whoever runs the tests. */
function cleanEnv(extra = {}) {
  const env = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('OPENAI_')) delete env[name]
  return { ...env, ...extra }
}

/**
 * Starts `node <script> ...args`. `done` resolves with { code, signal, stdout, stderr } (a hang
 * is killed after 15 s and fails the test). `child` is there for signals and stdin.
 */
function start(args, { env = cleanEnv(), stdin = 'ignore', script = BIN } = {}) {
  const child = spawn(process.execPath, [script, ...args], { env, stdio: [stdin, 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') reject(new Error(`streamdelta ${args.join(' ')} hung; stderr: ${stderr}`))
      else resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, done, output: () => ({ stdout, stderr }) }
}

const run = (args, options) => start(args, options).done

async function serve(t, options) {
  const mock = await startMockServer(options)
  t.after(() => mock.close())
  return mock
}

/** `streamdelta chat` against a test mock that requires KEY. */
const chatArgs = (mock, ...rest) => ['chat', '--base-url', mock.url, ...rest]
const withKey = (extra) => cleanEnv({ OPENAI_API_KEY: KEY, ...extra })

// ---------------------------------------------------------------------------------------------

describe('help, version and usage errors', () => {
  test('--help documents both commands and every flag, and exits 0', async () => {
    for (const args of [['--help'], ['-h'], ['chat', '--help'], ['mock', '--help']]) {
      const { code, stdout } = await run(args)
      assert.equal(code, 0, args.join(' '))
      for (const flag of [
        '--model',
        '-m,',
        '--base-url',
        '--system',
        '-s,',
        '--json',
        '--mock',
        '--help',
        '--port',
        '-p,',
        '--text',
        '--ttft-ms',
        '--interval-ms',
        '--scripts',
        '--api-key',
        '--quiet',
        '-q,',
      ]) {
        assert.ok(stdout.includes(flag), `--help should document ${flag}`)
      }
      for (const word of [
        'streamdelta chat',
        'streamdelta mock',
        'OPENAI_API_KEY',
        'OPENAI_BASE_URL',
        'OPENAI_MODEL',
        '130',
      ])
        assert.ok(stdout.includes(word), `--help should mention ${word}`)
    }
  })

  test('--version prints the package version', async () => {
    const { code, stdout } = await run(['--version'])
    assert.equal(code, 0)
    assert.equal(stdout, `${VERSION}\n`)
  })

  test('no command, an unknown command, an unknown flag, a missing prompt or a bad URL exit 2 with a hint', async () => {
    const none = await run([])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /Usage:/)
    for (const args of [
      ['talk'],
      ['chat', '--temperature', '1', 'hi'],
      ['chat'],
      ['chat', '--base-url', 'not a url', 'hi'],
      ['mock', '--port', 'abc'],
      ['mock', 'extra'],
    ]) {
      const { code, stdout, stderr } = await run(args, { env: withKey() })
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`)
      assert.equal(stdout, '')
      assert.match(stderr, /^streamdelta: .+\nRun 'streamdelta --help' for usage\.\n$/)
    }
  })
})

// ---------------------------------------------------------------------------------------------

describe('streamdelta chat', () => {
  test('prints the tokens on stdout and the stats on stderr; sends model, system, prompt and the key', async (t) => {
    const mock = await serve(t, {
      apiKey: KEY,
      script: { text: 'Hello from the mock', usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } },
    })
    const { code, stdout, stderr } = await run(
      chatArgs(mock, '--model', 'gpt-test', '--system', 'Be brief.', 'Say', 'hello'),
      { env: withKey() },
    )
    assert.equal(code, 0, stderr)
    assert.equal(stdout, 'Hello from the mock\n')
    const lines = stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, `only the stats line, got: ${stderr}`)
    const [, tokens, , finish] = STATS.exec(lines[0]) ?? assert.fail(`stats line: ${lines[0]}`)
    assert.equal(tokens, '4', 'tokens come from usage')
    assert.equal(finish, 'stop')
    const [r] = mock.requests
    assert.equal(r.path, '/v1/chat/completions')
    assert.deepEqual(r.body, {
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      stream_options: { include_usage: true },
      stream: true,
    })
    assert.equal(r.headers.authorization, REDACTED)
  })

  test('OPENAI_BASE_URL and OPENAI_MODEL are used when no flag overrides them', async (t) => {
    const mock = await serve(t, { apiKey: KEY, script: { text: 'env ok' } })
    const { code, stdout } = await run(['chat', 'hi'], {
      env: withKey({ OPENAI_BASE_URL: mock.url, OPENAI_MODEL: 'gpt-from-env' }),
    })
    assert.equal(code, 0)
    assert.equal(stdout, 'env ok\n')
    assert.equal(mock.requests[0].model, 'gpt-from-env')
  })

  test('--json prints one Delta JSON per line', async (t) => {
    const mock = await serve(t, {
      apiKey: KEY,
      script: { text: ['Hi', ' there'], toolCalls: [{ name: 'f', arguments: { a: 1 } }] },
    })
    const { code, stdout, stderr } = await run(chatArgs(mock, '--json', 'hi'), { env: withKey() })
    assert.equal(code, 0, stderr)
    assert.ok(stdout.endsWith('\n'))
    const deltas = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    assert.deepEqual(deltas.slice(0, 2), [
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'text', choice: 0, text: ' there' },
    ])
    assert.equal(
      deltas
        .filter((d) => d.type === 'toolCallDelta')
        .map((d) => d.arguments)
        .join(''),
      '{"a":1}',
    )
    // And the whole call once, before the finish.
    const wholes = deltas.filter((d) => d.type === 'toolCall')
    assert.equal(wholes.length, 1)
    assert.equal(wholes[0].arguments, '{"a":1}')
    assert.equal(wholes[0].kind, 'function')
    assert.ok(deltas.indexOf(wholes[0]) < deltas.findIndex((d) => d.type === 'finish'))
    assert.deepEqual(
      deltas.find((d) => d.type === 'finish'),
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    )
    assert.equal(deltas.at(-1).type, 'usage')
    assert.match(stderr.trimEnd(), STATS)
  })

  test('reasoning and tool calls go to stderr; stdout holds only the answer', async (t) => {
    const mock = await serve(t, {
      apiKey: KEY,
      script: {
        reasoning: 'Thinking it over. ',
        text: 'Sunny.',
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
      },
    })
    const { code, stdout, stderr } = await run(chatArgs(mock, 'weather?'), { env: withKey() })
    assert.equal(code, 0)
    assert.equal(stdout, 'Sunny.\n')
    assert.ok(stderr.startsWith('Thinking it over. '))
    assert.ok(stderr.includes('[tool call] get_weather({"city":"Paris"})\n'))
    assert.equal(STATS.exec(stderr.trimEnd().split('\n').at(-1))?.[3], 'tool_calls')
  })

  test('the prompt can come from stdin', async (t) => {
    const mock = await serve(t, { apiKey: KEY, script: { text: 'ok' } })
    const { child, done } = start(chatArgs(mock), { env: withKey(), stdin: 'pipe' })
    child.stdin.end('a question\nfrom a pipe\n')
    const { code, stdout } = await done
    assert.equal(code, 0)
    assert.equal(stdout, 'ok\n')
    assert.equal(mock.requests[0].body.messages[0].content, 'a question\nfrom a pipe')
  })

  test('a mid-stream error exits 1 with "Name (code): message"; the text before it was printed', async (t) => {
    const mock = await serve(t, {
      apiKey: KEY,
      script: {
        text: ['Hel', 'lo', ' world'],
        fault: { errorAfter: 3, error: { message: 'overloaded', code: 'overloaded' } },
      },
    })
    const { code, stdout, stderr } = await run(chatArgs(mock, 'hi'), { env: withKey() })
    assert.equal(code, 1)
    assert.equal(stdout, 'Hello\n')
    assert.equal(stderr, 'StreamError (ERR_STREAM): overloaded\n')
  })

  test('HTTP errors exit 1: a wrong key is AuthenticationError, a refused connection ConnectionError', async (t) => {
    const mock = await serve(t, { apiKey: KEY })
    const auth = await run(chatArgs(mock, 'hi'), { env: cleanEnv({ OPENAI_API_KEY: 'sk-wrong' }) })
    assert.equal(auth.code, 1)
    assert.match(auth.stderr, /^AuthenticationError \(ERR_AUTH\): /)
    assert.doesNotMatch(auth.stderr, /sk-wrong/)
    const refused = await run(['chat', '--base-url', `http://127.0.0.1:${await freePort()}/v1`, 'hi'], {
      env: withKey(),
    })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^ConnectionError \(ERR_CONNECTION\): /)
  })

  test('without OPENAI_API_KEY it answers from the built-in mock and says so in one line', async () => {
    const { code, stdout, stderr } = await run(['chat', 'what is streaming?'], { env: cleanEnv() })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^\(mock\) You asked: "what is streaming\?"\. .+\n$/)
    const lines = stderr.trimEnd().split('\n')
    assert.equal(lines.length, 2, stderr)
    assert.match(lines[0], /^streamdelta: OPENAI_API_KEY is not set, answering from the built-in mock server/)
    assert.match(lines[1], STATS)
  })

  test('--mock uses the built-in mock even with a key and a base URL', async (t) => {
    const mock = await serve(t, {})
    const { code, stdout, stderr } = await run(chatArgs(mock, '--mock', DEMO_PROMPT), { env: withKey() })
    assert.equal(code, 0)
    assert.equal(stdout, `${DEMO_ANSWER}\n`)
    assert.match(stderr, /^streamdelta: answering from the built-in mock server \(--mock\)\n/)
    assert.equal(mock.requests.length, 0, 'the given server was not asked')
  })

  test('Ctrl-C (SIGINT) aborts the request: exit 130 within 200 ms and the upstream connection closed', async (t) => {
    const mock = await serve(t, { apiKey: KEY, script: { text: ['tok '], repeat: 2000, intervalMs: 10 } })
    const { child, done } = start(chatArgs(mock, 'count forever'), { env: withKey() })
    await once(child.stdout, 'data')
    const sent = performance.now()
    child.kill('SIGINT')
    const [code] = await once(child, 'exit')
    const ms = performance.now() - sent
    const { stdout, stderr } = await done
    assert.equal(code, 130)
    assert.ok(ms < 200, `exited ${ms.toFixed(0)} ms after SIGINT`)
    assert.ok(stdout.startsWith('tok '))
    assert.ok(stdout.endsWith('\n'), 'the partial line is terminated')
    assert.match(stderr, /streamdelta: interrupted, request aborted\n$/)
    const [request] = mock.requests
    await request.closed
    assert.equal(request.clientClosed, true, 'the client closed the upstream connection')
    assert.ok(await waitFor(() => mock.connections === 0, 2000), 'no connection left open')
  })

  test('a closed stdout (| head) ends the request quietly with exit 0 and closes the upstream', async (t) => {
    const mock = await serve(t, { apiKey: KEY, script: { text: ['tok '], repeat: 2000, intervalMs: 5 } })
    const { child, done } = start(chatArgs(mock, 'hi'), { env: withKey() })
    await once(child.stdout, 'data')
    child.stdout.destroy()
    const { code, stderr } = await done
    assert.equal(code, 0, stderr)
    assert.equal(stderr, '')
    await mock.requests[0].closed
    assert.equal(mock.requests[0].clientClosed, true)
  })
})

// ---------------------------------------------------------------------------------------------

describe('streamdelta mock', () => {
  /** Starts `streamdelta mock ...args` and resolves once it printed its URL. */
  async function startMockCommand(t, args) {
    const proc = start(['mock', ...args])
    t.after(() => proc.child.exitCode === null && proc.child.kill('SIGKILL'))
    const url = await new Promise((resolve, reject) => {
      proc.child.stdout.on('data', () => {
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/v1)\n/.exec(proc.output().stdout)
        if (m) resolve(m[1])
      })
      proc.done.then((r) => reject(new Error(`mock exited early (${r.code}): ${r.stderr}`)), reject)
    })
    return { ...proc, url }
  }

  test('--port N serves OpenAI streams to other programs, logs requests, and exits 0 on SIGTERM', async (t) => {
    const port = await freePort()
    const proc = await startMockCommand(t, [
      '--port',
      String(port),
      '--text',
      'served by the command',
      '--ttft-ms',
      '5',
      '--interval-ms',
      '1',
    ])
    assert.equal(proc.url, `http://127.0.0.1:${port}/v1`)
    const client = new Client({ baseURL: proc.url, apiKey: 'any', maxRetries: 0 })
    assert.equal(
      await client.chat({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }] }).finalText(),
      'served by the command',
    )
    assert.equal(await client.completions({ model: 'gpt-x', prompt: 'hi' }).finalText(), 'served by the command')
    proc.child.kill('SIGTERM')
    const { code, stderr } = await proc.done
    assert.equal(code, 0)
    assert.match(
      stderr,
      /^streamdelta mock: listening on http:\/\/127\.0\.0\.1:\d+\/v1 \(Ctrl-C to stop\)\nstreamdelta mock: POST \/v1\/chat\/completions model=gpt-x -> 200 \d+ ms\nstreamdelta mock: POST \/v1\/completions model=gpt-x -> 200 \d+ ms\nstreamdelta mock: SIGTERM, closing\n$/,
    )
  })

  test('--scripts loads scripts and faults from a JSON file; --api-key requires the key; --quiet logs nothing', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamdelta-cli-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'scripts.json')
    writeFileSync(
      file,
      JSON.stringify({
        limited: { fault: { status: 429, headers: { 'retry-after': '7' } } },
        default: { text: 'from the file' },
      }),
    )
    const proc = await startMockCommand(t, ['--scripts', file, '--api-key', KEY, '--quiet'])
    const client = (key) => new Client({ baseURL: proc.url, apiKey: key, maxRetries: 0 })
    const body = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] })
    assert.equal(await client(KEY).chat(body('any')).finalText(), 'from the file')
    await assert.rejects(client(KEY).chat(body('limited')).final(), { name: 'RateLimitError', retryAfterMs: 7000 })
    await assert.rejects(client('sk-wrong').chat(body('any')).final(), { name: 'AuthenticationError' })
    proc.child.kill('SIGINT')
    const { code, stderr } = await proc.done
    assert.equal(code, 0)
    assert.equal(stderr, '')
  })

  test('stdout holds only the base URL; stderr logs each request with its status and client disconnects', async (t) => {
    const proc = await startMockCommand(t, [
      '--api-key',
      KEY,
      '--interval-ms',
      '20',
      '--text',
      'a b c d e f g h i j k l',
    ])
    const client = (key) => new Client({ baseURL: proc.url, apiKey: key, maxRetries: 0 })
    const body = { model: 'gpt-log', messages: [{ role: 'user', content: 'hi' }] }
    await assert.rejects(client('sk-wrong').chat(body).final(), { name: 'AuthenticationError' })
    const stream = client(KEY).chat(body)
    for await (const _ of stream.text()) break // the client leaves after the first text
    assert.ok(
      await waitFor(() => /client disconnected/.test(proc.output().stderr), 3000),
      `the disconnect is logged: ${proc.output().stderr}`,
    )
    proc.child.kill('SIGTERM')
    const { code, stdout, stderr } = await proc.done
    assert.equal(code, 0)
    assert.equal(stdout, `${proc.url}\n`, 'nothing but the URL on stdout')
    const lines = stderr.trimEnd().split('\n')
    assert.match(lines[0], /^streamdelta mock: listening on http:\/\/127\.0\.0\.1:\d+\/v1 \(Ctrl-C to stop\)$/)
    assert.match(lines[1], /^streamdelta mock: POST \/v1\/chat\/completions model=gpt-log -> 401 \d+ ms$/)
    assert.match(
      lines[2],
      /^streamdelta mock: POST \/v1\/chat\/completions model=gpt-log -> 200 \d+ ms, client disconnected$/,
    )
    assert.equal(lines[3], 'streamdelta mock: SIGTERM, closing')
  })

  test('a bad script file says "streamdelta: " once, not "streamdelta: streamdelta mock: "', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamdelta-cli-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'scripts.json')
    writeFileSync(file, JSON.stringify({ default: { txt: 'typo' } }))
    const { code, stderr } = await run(['mock', '--scripts', file])
    assert.equal(code, 2)
    assert.match(stderr, /^streamdelta: \S/)
    assert.doesNotMatch(stderr, /streamdelta: streamdelta mock:/)
  })

  test('a script file with a typo is a usage error naming the key', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamdelta-cli-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'scripts.json')
    writeFileSync(file, JSON.stringify({ default: { txt: 'typo' } }))
    const { code, stderr } = await run(['mock', '--scripts', file])
    assert.equal(code, 2)
    assert.match(stderr, /unknown key 'txt'/)
  })
})

describe('tokens per second', () => {
  test('an answer that arrives in one read does not print an absurd rate', async (t) => {
    const words = Array.from({ length: 99 }, (_, i) => `w${i} `)
    const server = await startServer((req, res) => {
      // The whole stream in one write: the first token and the end arrive together.
      const chunk = (delta, finish = null, usage) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(
        chunk({ role: 'assistant', content: '' }) +
          words.map((w) => chunk({ content: w })).join('') +
          chunk({}, 'stop') +
          chunk(null, null, { prompt_tokens: 1, completion_tokens: 99, total_tokens: 100 }) +
          'data: [DONE]\n\n',
      )
    })
    t.after(() => server.close())
    const { code, stderr } = await run(['chat', '--base-url', server.url, 'hi'], { env: withKey() })
    assert.equal(code, 0, stderr)
    const [, tokens, rate] = STATS.exec(stderr.trimEnd()) ?? assert.fail(`stats line: ${stderr}`)
    assert.equal(tokens, '99')
    assert.ok(rate === 'n/a' || Number(rate) <= 1000, `a sensible rate, got ${rate} tokens/s`)
  })

  test('tokensPerSecond: the generation window when long enough, else the whole request, else n/a', () => {
    const { tokensPerSecond } = createRequire(import.meta.url)(BIN)
    assert.equal(tokensPerSecond(50, 200, 1200), '50.0', 'first token to end: 1 s')
    assert.equal(tokensPerSecond(99, 300, 300.01), '330.0', 'all at once: over the 300 ms since the request start')
    assert.equal(tokensPerSecond(99, 3, 3.001), 'n/a', 'too short to measure')
    assert.equal(tokensPerSecond(0, 200, 1200), 'n/a')
  })
})

test('npm run demo (scripts/demo.mjs) streams the demo answer from the mock without a key', async () => {
  const { code, stdout, stderr } = await run([], { script: DEMO, env: cleanEnv() })
  assert.equal(code, 0, stderr)
  assert.equal(stdout, `${DEMO_ANSWER}\n`)
  assert.match(stderr, /^streamdelta: OPENAI_API_KEY is not set, answering from the built-in mock server/)
  assert.match(stderr.trimEnd().split('\n').at(-1), STATS)
})
