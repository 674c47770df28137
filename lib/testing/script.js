'use strict'
// Scripts: what the mock server plays for one request. `normalize` checks a script the way a
// TypeError-happy API should (unknown keys are typos, not silently ignored) and turns it into
// a plan the wire formats read; `pickScript` decides which script a request gets.

const { toTokens, argumentFragments } = require('./tokens')
const { normalizeFault } = require('./faults')
const { hostedSteps, citationList } = require('./formats/hosted')

/** What a request gets when no script matches: a short answer, streamed at once. */
const DEFAULT_SCRIPT = Object.freeze({ text: 'Hello! This answer was streamed by the streamdelta mock server.' })

const SCRIPT_KEYS = new Set([
  'text',
  'reasoning',
  'refusal',
  'toolCalls',
  'finishReason',
  'choices',
  'n',
  'repeat',
  'ttftMs',
  'intervalMs',
  'headersDelayMs',
  'usage',
  'model',
  'id',
  'headers',
  'fault',
  'raw',
  'reasoningField',
  'hosted',
  'citations',
])
const CHOICE_KEYS = new Set(['text', 'reasoning', 'refusal', 'toolCalls', 'finishReason'])
const REASONING_FIELDS = new Set(['reasoning_content', 'reasoning'])

function fail(where, message) {
  throw new TypeError(`streamdelta mock: ${where}${message}`)
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function checkKeys(value, allowed, where) {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) fail(where, `has an unknown key '${key}' (known: ${[...allowed].join(', ')})`)
  }
}

function ms(value, where) {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(where, ` must be a non-negative number of milliseconds, got ${String(value)}`)
  return value
}

function count(value, where, fallback) {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) fail(where, ` must be a non-negative integer, got ${String(value)}`)
  return value
}

function pieces(value, where) {
  if (value === undefined || value === null) return []
  if (typeof value === 'string') return toTokens(value)
  if (Array.isArray(value) && value.every((t) => typeof t === 'string')) return toTokens(value)
  fail(where, ' must be a string or an array of strings')
}

function toolCalls(value, where) {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) fail(where, ' must be an array of { name, arguments, id? }')
  return value.map((call, i) => {
    const at = `${where}[${i}]`
    if (!isObject(call)) fail(at, ' must be an object { name, arguments, id? }')
    checkKeys(call, new Set(['name', 'arguments', 'id']), at + ' ')
    if (typeof call.name !== 'string' || call.name === '') fail(at, '.name must be a non-empty string')
    if (call.id !== undefined && typeof call.id !== 'string') fail(at, '.id must be a string')
    let args = call.arguments ?? '{}'
    if (typeof args !== 'string') args = JSON.stringify(args)
    return { id: call.id ?? null, name: call.name, arguments: args, fragments: argumentFragments(args) }
  })
}

function choicePlan(source, where) {
  const calls = toolCalls(source.toolCalls, `${where}.toolCalls`)
  const text = pieces(source.text, `${where}.text`)
  let finishReason = source.finishReason
  if (finishReason !== undefined && (typeof finishReason !== 'string' || finishReason === ''))
    fail(where, '.finishReason must be a non-empty string')
  if (finishReason === undefined) finishReason = calls.length > 0 ? 'tool_calls' : 'stop'
  return {
    reasoning: pieces(source.reasoning, `${where}.reasoning`),
    refusal: pieces(source.refusal, `${where}.refusal`),
    text,
    toolCalls: calls,
    finishReason,
  }
}

/**
 * Checks a script and returns its plan. `n` is the request body's `n` (the script's own `n`
 * wins). Throws a TypeError naming the field for anything malformed.
 * @param {any} script what the user wrote (checked field by field here)
 * @param {{ where?: string, n?: number }} [options]
 */
function normalize(script, { where = 'script', n: requestedN } = {}) {
  if (!isObject(script)) fail(where, ' must be an object')
  checkKeys(script, SCRIPT_KEYS, where + ' ')
  const headers = {}
  if (script.headers !== undefined) {
    if (!isObject(script.headers)) fail(where, '.headers must be an object of strings')
    for (const [name, value] of Object.entries(script.headers)) {
      if (value === undefined || value === null) continue
      headers[name.toLowerCase()] = String(value)
    }
  }
  const usage = script.usage
  if (usage !== undefined && typeof usage !== 'boolean' && !isObject(usage))
    fail(where, '.usage must be true, false or a usage object')
  for (const key of ['model', 'id']) {
    if (script[key] !== undefined && (typeof script[key] !== 'string' || script[key] === ''))
      fail(where, `.${key} must be a non-empty string`)
  }
  const reasoningField = script.reasoningField ?? 'reasoning_content'
  if (!REASONING_FIELDS.has(reasoningField)) fail(where, `.reasoningField must be 'reasoning_content' or 'reasoning'`)
  let raw = null
  if (script.raw !== undefined) {
    if (!Array.isArray(script.raw))
      fail(where, '.raw must be an array of strings (sent verbatim) and objects (sent as `data: <json>`)')
    raw = script.raw.map((item, i) => {
      if (typeof item === 'string') return item
      if (item !== null && typeof item === 'object') return `data: ${JSON.stringify(item)}\n\n`
      return fail(`${where}.raw[${i}]`, ' must be a string or an object')
    })
  }

  let choices
  if (script.choices !== undefined) {
    if (!Array.isArray(script.choices) || script.choices.length === 0) fail(where, '.choices must be a non-empty array')
    for (const key of CHOICE_KEYS)
      if (script[key] !== undefined) fail(where, ` sets both 'choices' and '${key}': put '${key}' inside each choice`)
    choices = script.choices.map((c, i) => {
      const at = `${where}.choices[${i}]`
      if (!isObject(c)) fail(at, ' must be an object')
      checkKeys(c, CHOICE_KEYS, at + ' ')
      return choicePlan(c, at)
    })
  } else {
    const n =
      count(script.n, `${where}.n`, undefined) ?? (Number.isInteger(requestedN) && requestedN > 0 ? requestedN : 1)
    if (n < 1) fail(where, '.n must be at least 1')
    const one = choicePlan(script, where)
    choices = Array.from({ length: n }, () => one)
  }

  return {
    choices,
    repeat: count(script.repeat, `${where}.repeat`, 1),
    ttftMs: ms(script.ttftMs, `${where}.ttftMs`),
    intervalMs: ms(script.intervalMs, `${where}.intervalMs`),
    headersDelayMs: ms(script.headersDelayMs, `${where}.headersDelayMs`),
    usage,
    model: script.model ?? null,
    id: script.id ?? null,
    headers,
    fault: normalizeFault(script.fault, `${where}.fault`),
    raw,
    reasoningField,
    hosted: hostedSteps(script.hosted, `${where}.hosted`),
    citations: citationList(script.citations, `${where}.citations`),
  }
}

/** Checks the server options' scripts up front, so a typo fails at startMockServer(). */
function checkOptionScripts(options) {
  if (options.scripts !== undefined) {
    if (!isObject(options.scripts)) fail('', 'options.scripts must be an object { [model]: script, default?: script }')
    for (const [model, script] of Object.entries(options.scripts))
      normalize(script, { where: `scripts[${JSON.stringify(model)}]` })
    if (isObject(options.script) && options.scripts.default !== undefined) {
      fail('', 'options.script (an object) and options.scripts.default both give the default script: keep one')
    }
  }
  if (options.script !== undefined && typeof options.script !== 'function')
    normalize(options.script, { where: 'options.script' })
}

/**
 * The script for a request, in this order: the `x-mock-script` header (JSON), the
 * `options.script` function (when it returns a script), `scripts[model]`, `scripts.default`,
 * `options.script` as an object, the built-in answer. Returns `{ script, where }`.
 */
function pickScript(request, rawHeader, options) {
  if (rawHeader !== undefined) {
    let parsed
    try {
      parsed = JSON.parse(Array.isArray(rawHeader) ? rawHeader[0] : rawHeader)
    } catch (error) {
      fail('', `the x-mock-script header is not JSON: ${error.message}`)
    }
    return { script: parsed, where: 'x-mock-script' }
  }
  if (typeof options.script === 'function') {
    const chosen = options.script(request)
    if (chosen !== undefined && chosen !== null) return { script: chosen, where: 'script(request)' }
  }
  const scripts = options.scripts
  if (scripts && request.model !== null && Object.hasOwn(scripts, request.model)) {
    return { script: scripts[request.model], where: `scripts[${JSON.stringify(request.model)}]` }
  }
  if (scripts && Object.hasOwn(scripts, 'default')) return { script: scripts.default, where: 'scripts.default' }
  if (isObject(options.script)) return { script: options.script, where: 'options.script' }
  return { script: DEFAULT_SCRIPT, where: 'the built-in script' }
}

module.exports = { normalize, pickScript, checkOptionScripts, DEFAULT_SCRIPT }
