#!/usr/bin/env node
'use strict'
// The `streamdelta` command: `chat` streams a completion to the terminal, `mock` runs the mock
// server for other programs. No dependencies: node:util parseArgs only. `main(argv)` is
// exported (scripts/demo.mjs runs it) and resolves with the exit code.

const { parseArgs } = require('node:util')
const { readFileSync } = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 }

const DEMO_PROMPT = 'Explain in two sentences why streaming responses feel faster.'
const DEMO_ANSWER =
  'Streaming sends each token the moment the model produces it, so the first words appear ' +
  'in a fraction of a second instead of after the whole answer is ready. Your eyes start ' +
  'reading while the rest is still being written, which makes the wait feel much shorter. ✨'
/** The pace of the built-in mock answer in `chat`: a believable model, not an instant dump. */
const MOCK_PACE = { ttftMs: 250, intervalMs: 25 }

const HELP = `streamdelta: OpenAI-compatible streaming from the terminal

Usage:
  streamdelta chat "prompt" [options]    stream a chat completion to stdout
  streamdelta mock [options]             run the mock OpenAI server for other programs
  streamdelta --help | --version

chat prints the answer's tokens as they arrive (reasoning and tool calls go to stderr),
then on stderr: time to first token, tokens per second and the finish reason. The prompt
is the positional arguments joined by spaces, or stdin when none are given and stdin is
not a terminal.
  -m, --model <name>     model (default: $OPENAI_MODEL, else gpt-4o-mini)
      --base-url <url>   API base URL (default: $OPENAI_BASE_URL, else https://api.openai.com/v1);
                         given explicitly, it is used even without OPENAI_API_KEY (local servers)
  -s, --system <text>    a system message before the prompt
      --json             print one Delta JSON per line (ndjson) on stdout instead of text
      --mock             answer from the built-in mock server, whatever the environment says
  -h, --help             this help

  Without OPENAI_API_KEY (and without --base-url) chat answers from the built-in mock server
  and says so in one line on stderr. The key is read from the environment only, never from a
  flag (flags show up in process lists and shell history).
  Exit codes: 0 done, 1 the stream failed ("Name (code): message" on stderr), 2 bad usage,
  130 interrupted (Ctrl-C aborts the request, closing its connection; a second Ctrl-C quits
  at once).

mock serves POST .../chat/completions, .../responses and .../completions (streaming only) on
127.0.0.1 and prints only its base URL on stdout (read -r URL < <(streamdelta mock) gets it),
then logs each request on stderr when it ends (method, path, model, status, time, and
"client disconnected" when the client left early) until Ctrl-C.
  -p, --port <n>         port (default 0: a free one, printed)
      --text <text>      the answer (default: a short sentence about the mock)
      --ttft-ms <ms>     delay before the first event (default 0)
      --interval-ms <ms> delay between events (default 0)
      --scripts <file>   a JSON file of scripts by model name ({ "default": {...}, "gpt-4o": {...} });
                         see MockScript in testing.d.ts for fields and faults
      --api-key <key>    require this key (Authorization: Bearer or api-key), else answer 401
  -q, --quiet            do not log requests
  -h, --help             this help

Environment: OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL.
`

const CHAT_OPTIONS = {
  model: { type: 'string', short: 'm' },
  'base-url': { type: 'string' },
  system: { type: 'string', short: 's' },
  json: { type: 'boolean', default: false },
  mock: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
}

const MOCK_OPTIONS = {
  port: { type: 'string', short: 'p' },
  text: { type: 'string' },
  'ttft-ms': { type: 'string' },
  'interval-ms': { type: 'string' },
  scripts: { type: 'string' },
  'api-key': { type: 'string' },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
}

class UsageError extends Error {}

function parse(args, options) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(error.message)
  }
}

/** A non-negative integer flag value. */
function integer(value, flag, fallback) {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a non-negative integer, got '${value}'`)
  return Number(value)
}

function version() {
  return JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version
}

/**
 * Runs the command line `argv` (without `node` and the script). Resolves with the exit code;
 * never calls process.exit, except on a second Ctrl-C.
 * @param {string[]} argv
 * @returns {Promise<number>}
 */
async function main(argv = process.argv.slice(2)) {
  try {
    const [command, ...rest] = argv
    if (command === undefined) {
      process.stderr.write(HELP)
      return EXIT.usage
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(HELP)
      return EXIT.ok
    }
    if (command === '--version' || command === '-v') {
      process.stdout.write(`${version()}\n`)
      return EXIT.ok
    }
    if (command === 'chat') return await chat(rest)
    if (command === 'mock') return await mock(rest)
    throw new UsageError(`unknown command '${command}'`)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`streamdelta: ${error.message}\nRun 'streamdelta --help' for usage.\n`)
    return EXIT.usage
  }
}

// ---- chat ---------------------------------------------------------------------------------

async function readStdin() {
  let text = ''
  process.stdin.setEncoding('utf8')
  for await (const piece of process.stdin) text += piece
  return text.trim()
}

/** The built-in mock's answer: the demo's answer to the demo prompt, an echo otherwise. */
function mockScript(prompt) {
  const text =
    prompt === DEMO_PROMPT
      ? DEMO_ANSWER
      : `(mock) You asked: "${prompt}". This answer is streamed by streamdelta's built-in mock ` +
        'server, token by token, so you can see the client at work without an API key. Set ' +
        'OPENAI_API_KEY to ask a real model.'
  return { text, ...MOCK_PACE }
}

async function chat(args) {
  const { values, positionals } = parse(args, CHAT_OPTIONS)
  if (values.help) {
    process.stdout.write(HELP)
    return EXIT.ok
  }
  let prompt = positionals.join(' ').trim()
  if (prompt === '' && positionals.length === 0 && !process.stdin.isTTY) prompt = await readStdin()
  if (prompt === '') throw new UsageError('chat needs a prompt: streamdelta chat "your question"')

  // Loaded here, not at the top: `--help` and usage errors work even without a built addon.
  const { Client } = require(ROOT)
  const env = process.env
  const useMock = values.mock || (!env.OPENAI_API_KEY && values['base-url'] === undefined)
  let server = null
  let client
  try {
    if (useMock) {
      const { startMockServer } = require(path.join(ROOT, 'testing.js'))
      server = await startMockServer({ script: mockScript(prompt), record: false })
      client = new Client({ baseURL: server.url, apiKey: 'mock', maxRetries: 0 })
      process.stderr.write(
        values.mock
          ? 'streamdelta: answering from the built-in mock server (--mock)\n'
          : 'streamdelta: OPENAI_API_KEY is not set, answering from the built-in mock server (set it, or pass --base-url, for a real one)\n',
      )
    } else {
      client = new Client(values['base-url'] === undefined ? {} : { baseURL: values['base-url'] })
    }
  } catch (error) {
    await server?.close()
    if (error instanceof TypeError) throw new UsageError(error.message.replace(/^streamdelta: /, ''))
    throw error
  }

  const messages = []
  if (values.system !== undefined) messages.push({ role: 'system', content: values.system })
  messages.push({ role: 'user', content: prompt })
  const model = values.model ?? env.OPENAI_MODEL ?? 'gpt-4o-mini'
  try {
    return await streamChat(client, { model, messages, stream_options: { include_usage: true } }, values.json)
  } finally {
    await server?.close()
  }
}

/** Streams one chat completion to stdout; resolves with the exit code. */
async function streamChat(client, body, json) {
  const stream = client.chat(body)
  const out = process.stdout
  const err = process.stderr

  let interrupted = false
  const forceQuit = () => process.exit(EXIT.interrupted)
  const onSigint = () => {
    interrupted = true
    process.once('SIGINT', forceQuit)
    stream.abort('interrupted (SIGINT)')
  }
  process.once('SIGINT', onSigint)
  // A closed stdout (`streamdelta chat ... | head -1`) ends the request quietly.
  let stdoutClosed = false
  const onStdoutError = (error) => {
    if (error.code !== 'EPIPE') throw error
    stdoutClosed = true
    stream.abort('stdout closed')
  }
  out.on('error', onStdoutError)

  let finish = null
  let usage = null
  let textPieces = 0
  let lineOpen = false
  const calls = new Map()
  try {
    for await (const delta of stream) {
      if (json) {
        out.write(`${JSON.stringify(delta)}\n`)
      } else if (delta.choice === 0) {
        if (delta.type === 'text' || delta.type === 'refusal') {
          out.write(delta.text)
          lineOpen = !delta.text.endsWith('\n')
        } else if (delta.type === 'reasoning') {
          err.write(delta.text)
        } else if (delta.type === 'toolCall') {
          // The whole call (the engine sends it once its arguments are complete).
          calls.set(delta.index, delta)
        }
      }
      if (delta.type === 'text' && delta.choice === 0) textPieces++
      if (delta.type === 'finish' && delta.choice === 0) finish = delta.reason
      if (delta.type === 'usage') usage = delta.usage
    }
    if (lineOpen) out.write('\n')
    for (const call of calls.values()) err.write(`[tool call] ${call.name}(${call.arguments})\n`)
    err.write(`${statsLine(stream.stats, usage, textPieces, finish)}\n`)
    return EXIT.ok
  } catch (error) {
    if (stdoutClosed) return EXIT.ok
    if (lineOpen) out.write('\n')
    if (interrupted) {
      err.write('streamdelta: interrupted, request aborted\n')
      return EXIT.interrupted
    }
    err.write(`${error?.name ?? 'Error'} (${error?.code ?? 'ERR_UNKNOWN'}): ${error?.message ?? error}\n`)
    return EXIT.error
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGINT', forceQuit)
    // Write errors surface on a later tick: the listener stays (EPIPE after the end is harmless).
  }
}

/** Below this many ms a tokens/s figure is noise (one socket read can hold the whole answer). */
const MIN_RATE_WINDOW_MS = 100

/** `[first token 212 ms · 41 tokens · 38.2 tokens/s · finish: stop]` */
function statsLine(stats, usage, textPieces, finish) {
  const tokens = usage?.completion_tokens ?? textPieces
  const ttft = stats.ttftMs == null ? null : stats.ttftMs
  const rate = tokensPerSecond(tokens, ttft, stats.durationMs)
  const first = ttft == null ? 'first token n/a' : `first token ${Math.round(ttft)} ms`
  return `[${first} · ${tokens} tokens · ${rate} tokens/s · finish: ${finish ?? 'none'}]`
}

/**
 * Generation speed: tokens over the time from the first token to the end. When the answer came
 * (nearly) all at once, that window is too short to mean anything: then over the whole request
 * (from its start), and 'n/a' when even that is shorter than MIN_RATE_WINDOW_MS.
 */
function tokensPerSecond(tokens, ttft, durationMs) {
  const generation = ttft == null ? 0 : durationMs - ttft
  const window = generation >= MIN_RATE_WINDOW_MS ? generation : durationMs
  return window >= MIN_RATE_WINDOW_MS && tokens > 0 ? (tokens / (window / 1000)).toFixed(1) : 'n/a'
}

// ---- mock ---------------------------------------------------------------------------------

async function mock(args) {
  const { values, positionals } = parse(args, MOCK_OPTIONS)
  if (values.help) {
    process.stdout.write(HELP)
    return EXIT.ok
  }
  if (positionals.length > 0) throw new UsageError(`mock takes no arguments, got '${positionals[0]}'`)
  const port = integer(values.port, '--port', 0)
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`)
  const timing = {
    ttftMs: integer(values['ttft-ms'], '--ttft-ms', 0),
    intervalMs: integer(values['interval-ms'], '--interval-ms', 0),
  }
  let scripts = {}
  if (values.scripts !== undefined) {
    try {
      scripts = JSON.parse(readFileSync(values.scripts, 'utf8'))
    } catch (error) {
      throw new UsageError(`--scripts ${values.scripts}: ${error.message}`)
    }
  }
  if (scripts === null || typeof scripts !== 'object' || Array.isArray(scripts))
    throw new UsageError('--scripts must hold a JSON object of scripts by model name')
  const { startMockServer, DEFAULT_SCRIPT } = require(path.join(ROOT, 'testing.js'))
  if (!Object.hasOwn(scripts, 'default')) scripts.default = { text: values.text ?? DEFAULT_SCRIPT.text, ...timing }

  let server
  try {
    server = await startMockServer({
      port,
      scripts,
      apiKey: values['api-key'],
      record: false,
      onRequest: values.quiet ? undefined : logWhenDone,
    })
  } catch (error) {
    // The mock's messages carry their own "streamdelta mock: " prefix; main() adds "streamdelta: ".
    if (error instanceof TypeError) throw new UsageError(error.message.replace(/^streamdelta mock: /, ''))
    if (error.code === 'EADDRINUSE') throw new UsageError(`port ${port} is already in use`)
    throw error
  }
  // stdout holds the base URL and nothing else, for scripts: read -r URL < <(streamdelta mock)
  process.stdout.write(`${server.url}\n`)
  if (!values.quiet) process.stderr.write(`streamdelta mock: listening on ${server.url} (Ctrl-C to stop)\n`)
  const signal = await new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  if (!values.quiet) process.stderr.write(`streamdelta mock: ${signal}, closing\n`)
  await server.close()
  return EXIT.ok
}

/**
 * Logs one request on stderr once it is over: `POST /v1/chat/completions model=m -> 200 12 ms`,
 * with `, client disconnected` when the client closed the connection before the end.
 */
function logWhenDone(request) {
  const started = performance.now()
  request.closed.then(() => {
    const ms = Math.round(performance.now() - started)
    const model = request.model ? ` model=${request.model}` : ''
    const status = request.status ?? 'no response'
    const left = request.clientClosed ? ', client disconnected' : ''
    process.stderr.write(`streamdelta mock: ${request.method} ${request.path}${model} -> ${status} ${ms} ms${left}\n`)
  })
}

module.exports = { main, DEMO_PROMPT, DEMO_ANSWER, tokensPerSecond }

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (error) => {
      process.stderr.write(`streamdelta: ${error?.stack ?? error}\n`)
      process.exitCode = EXIT.error
    },
  )
}
