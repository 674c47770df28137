'use strict'
// `client.runTools(body, { tools, maxSteps }, options)`: one chat streamed across steps. Each
// step is an ordinary `client.chat()` stream; when its answer asks for tools, every whole call
// is run (all at once: the model asked for them together), the results go back as `tool`
// messages, and the next step starts, until an answer asks for none or `maxSteps` steps ran.
// The run is one object: its Deltas, events and `final()` span the steps.

const { AbortError } = require('./errors')

/** The step streams' events the run re-emits as they come (snapshots are per step). */
const FORWARDED = ['text', 'refusal', 'reasoning', 'toolCallDelta', 'toolCall', 'finish', 'usage']
const EVENTS = new Set([...FORWARDED, 'step', 'toolResult', 'toolError', 'end', 'error', 'abort'])
const RUN_KEYS = new Set(['tools', 'maxSteps'])
const TOOL_KEYS = new Set(['description', 'parameters', 'run'])
/** OpenAI's rule for function names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/
const DEFAULT_MAX_STEPS = 10

function fail(message) {
  throw new TypeError(`streamdelta: runTools: ${message}`)
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A Standard Schema (`~standard.validate`), as zod, valibot and arktype make. */
function standardOf(value) {
  const standard =
    value != null && (typeof value === 'object' || typeof value === 'function') ? value['~standard'] : undefined
  return standard != null && typeof standard.validate === 'function' ? standard : null
}

/**
 * The JSON Schema sent as the function's `parameters`: the object itself, or a Standard Schema's
 * own (Standard JSON Schema: `~standard.jsonSchema.input`, which zod 4.2+ implements).
 */
function parametersSchema(parameters, where) {
  const standard = standardOf(parameters)
  if (standard === null) {
    if (!isPlainObject(parameters))
      fail(`${where}.parameters must be a JSON Schema object or a Standard Schema, got ${describe(parameters)}`)
    return parameters
  }
  if (typeof standard.jsonSchema?.input !== 'function')
    fail(
      `${where}.parameters is a Standard Schema without a JSON Schema ('~standard'.jsonSchema.input, as zod 4.2+ has): give a JSON Schema object, or a schema library that makes one`,
    )
  const schema = { ...standard.jsonSchema.input({ target: 'draft-07' }) }
  // The model needs the shape, not the dialect.
  delete schema.$schema
  return schema
}

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

/** Checks runTools' arguments synchronously; returns the tools by name and their definitions. */
function checkRun(body, run) {
  if (!isPlainObject(body)) fail(`body must be a chat completions request body object, got ${describe(body)}`)
  if (!Array.isArray(body.messages))
    fail(`body.messages is required (an array of messages: [{ role, content }]), got ${describe(body.messages)}`)
  if (body.tools !== undefined)
    fail('body.tools must not be set: runTools sends the tools of its second argument (give each there)')
  if (!isPlainObject(run)) fail(`the second argument must be { tools, maxSteps? }, got ${describe(run)}`)
  for (const key of Object.keys(run))
    if (!RUN_KEYS.has(key)) fail(`unknown option '${key}' (known: ${[...RUN_KEYS].join(', ')})`)
  if (!isPlainObject(run.tools)) fail(`tools must be an object { name: { description?, parameters, run } }`)
  const names = Object.keys(run.tools)
  if (names.length === 0) fail('tools must name at least one tool')
  const maxSteps = run.maxSteps ?? DEFAULT_MAX_STEPS
  if (!Number.isInteger(maxSteps) || maxSteps < 1) fail(`maxSteps must be an integer >= 1, got ${String(maxSteps)}`)
  const tools = new Map()
  const definitions = []
  for (const name of names) {
    const where = `tools[${JSON.stringify(name)}]`
    if (!TOOL_NAME.test(name)) fail(`${where}: a tool name is 1 to 64 letters, digits, '_' or '-'`)
    const tool = run.tools[name]
    if (!isPlainObject(tool)) fail(`${where} must be an object { description?, parameters, run }`)
    for (const key of Object.keys(tool))
      if (!TOOL_KEYS.has(key)) fail(`${where} has an unknown key '${key}' (known: ${[...TOOL_KEYS].join(', ')})`)
    if (typeof tool.run !== 'function') fail(`${where}.run must be a function (arguments, context) => result`)
    if (tool.description !== undefined && typeof tool.description !== 'string')
      fail(`${where}.description must be a string, got ${describe(tool.description)}`)
    if (tool.parameters === undefined) fail(`${where}.parameters is required (a JSON Schema or a Standard Schema)`)
    const parameters = parametersSchema(tool.parameters, where)
    tools.set(name, { run: tool.run, standard: standardOf(tool.parameters) })
    definitions.push({
      type: 'function',
      function: { name, ...(tool.description !== undefined ? { description: tool.description } : {}), parameters },
    })
  }
  return { tools, definitions, maxSteps }
}

/** The assistant message of a step's answer, as the next request sends it back. */
function assistantMessage(message) {
  const out = { role: 'assistant', content: message?.content ?? null }
  if (message?.refusal) out.refusal = message.refusal
  const calls = message?.tool_calls ?? []
  if (calls.length > 0)
    out.tool_calls = calls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.function.name, arguments: call.function.arguments },
    }))
  return out
}

/** What a tool returned, as the `content` of its tool message. */
function toolContent(result) {
  if (typeof result === 'string') return result
  if (result === undefined) return ''
  return JSON.stringify(result) ?? ''
}

function errorText(error) {
  return `Error: ${error instanceof Error ? error.message : String(error)}`
}

function issuesText(issues) {
  return issues
    .slice(0, 10)
    .map((issue) => {
      const at = Array.isArray(issue.path)
        ? issue.path.map((p) => (p !== null && typeof p === 'object' ? String(p.key) : String(p))).join('.')
        : ''
      return at === '' ? issue.message : `${at}: ${issue.message}`
    })
    .join('; ')
}

class ToolRunStream {
  #client
  #body
  #options
  #tools
  #definitions
  #maxSteps
  #controller = new AbortController()
  #listeners = new Map()
  /** The request's messages, then every message of the run (assistant and tool). */
  #messages
  #steps = []
  /** The step stream in flight (null while tools run). */
  #current = null
  #first
  /** Who drives the run: 'iterator' (the user's), 'drain' (events or final()), or null yet. */
  #consumer = null
  #state = 'open'
  #finalPromise
  #settle
  #finalAsked = false
  #failure = undefined
  #detachSignal = null

  /** @internal */
  constructor(client, body, run, options) {
    const { tools, definitions, maxSteps } = checkRun(body, run)
    if (options !== undefined && !isPlainObject(options))
      fail(`options must be an object of request options, got ${describe(options)}`)
    this.#client = client
    this.#body = body
    this.#options = options ?? {}
    this.#tools = tools
    this.#definitions = definitions
    this.#maxSteps = maxSteps
    this.#messages = [...body.messages]
    this.#finalPromise = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
    // Nobody may ever ask for final(): its rejection is not an unhandled one on its own.
    this.#finalPromise.catch(() => {})
    const signal = this.#options.signal
    if (signal !== undefined) {
      if (typeof signal?.addEventListener !== 'function') fail('options.signal must be an AbortSignal')
      const onAbort = () => this.abort(signal.reason)
      if (signal.aborted) queueMicrotask(onAbort)
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        this.#detachSignal = () => signal.removeEventListener('abort', onAbort)
      }
    }
    // The first request starts now, as chat() does, and checks the body and options at once.
    this.#first = this.#openStep()
  }

  /** Every Delta of every step, in order. `break` aborts the run. */
  [Symbol.asyncIterator]() {
    return this.#iterate((delta) => delta)
  }

  /** Choice 0's content text of every step. */
  text() {
    return this.#iterate((delta) => (delta.type === 'text' && delta.choice === 0 ? delta.text : undefined))
  }

  /**
   * The whole run once it ends: `{ messages, steps, completion, stopReason }` (see index.d.ts).
   */
  final() {
    this.#finalAsked = true
    this.#drainSoon()
    return this.#finalPromise
  }

  /** The last step's assistant text. */
  async finalText() {
    const { completion } = await this.final()
    return completion.choices.find((c) => c.index === 0)?.message?.content ?? ''
  }

  on(event, listener) {
    if (!EVENTS.has(event)) fail(`unknown event '${String(event)}' (known: ${[...EVENTS].join(', ')})`)
    if (typeof listener !== 'function') fail(`the '${event}' listener must be a function`)
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    set.add(listener)
    this.#drainSoon()
    return this
  }

  off(event, listener) {
    this.#listeners.get(event)?.delete(listener)
    return this
  }

  /** Aborts the run: the step in flight is cancelled (its request closes) and tools' signals fire. */
  abort(reason) {
    if (this.#state !== 'open') return
    this.#controller.abort(reason ?? new AbortError('The run was aborted'))
    this.#current?.abort(reason)
    // Not consumed yet: the run still has to end (final(), the abort event).
    this.#drainSoon()
  }

  /** Fires when the run is aborted (also what each tool's `run` receives). */
  get signal() {
    return this.#controller.signal
  }

  /** The messages so far: the request's, then each step's assistant and tool messages. */
  get messages() {
    return [...this.#messages]
  }

  #openStep() {
    const stream = this.#client.chat(
      { ...this.#body, messages: [...this.#messages], tools: this.#definitions },
      { ...this.#options, signal: this.#controller.signal },
    )
    for (const name of FORWARDED) stream.on(name, (...args) => this.#emit(name, ...args))
    return stream
  }

  #iterate(map) {
    if (this.#consumer !== null) throw new TypeError('streamdelta: this run is already being consumed')
    this.#consumer = 'iterator'
    const run = this.#run()
    const next = async () => {
      for (;;) {
        const { value, done } = await run.next()
        if (done) return { value: undefined, done: true }
        const mapped = map(value)
        if (mapped !== undefined) return { value: mapped, done: false }
      }
    }
    return {
      next,
      return: async () => {
        this.abort()
        await run.return(undefined).catch(() => {})
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  /** Listeners or final() without an iterator: the run flows by itself (from the next tick,
   *  so that an iterator asked for right after still gets every Delta). */
  #drainSoon() {
    if (this.#consumer !== null) return
    queueMicrotask(() => {
      if (this.#consumer !== null) return
      this.#consumer = 'drain'
      ;(async () => {
        for await (const _ of this.#run());
      })().catch(() => {})
    })
  }

  async *#run() {
    try {
      for (let step = 1; ; step++) {
        const stream = step === 1 ? this.#first : this.#openStep()
        this.#current = stream
        for await (const delta of stream) yield delta
        const completion = await stream.final()
        this.#current = null
        const choice = completion.choices.find((c) => c.index === 0) ?? completion.choices[0]
        this.#messages.push(assistantMessage(choice?.message))
        const calls = choice?.message?.tool_calls ?? []
        const toolResults = calls.length > 0 ? await this.#runCalls(calls, step) : []
        for (const result of toolResults)
          this.#messages.push({ role: 'tool', tool_call_id: result.id, content: result.content })
        const record = { step, completion, toolResults }
        this.#steps.push(record)
        this.#emit('step', record)
        if (calls.length === 0) return this.#end('stop', completion)
        if (step >= this.#maxSteps) return this.#end('maxSteps', completion)
      }
    } catch (error) {
      const failure = this.#fail(error)
      if (this.#consumer === 'iterator') throw failure
    } finally {
      this.#current?.abort()
      this.#current = null
    }
  }

  /** Runs a step's calls at once; the results keep the calls' order. An abort stops waiting. */
  async #runCalls(calls, step) {
    const signal = this.#controller.signal
    let onAbort
    const aborted = new Promise((_, reject) => {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    aborted.catch(() => {})
    try {
      return await Promise.race([Promise.all(calls.map((call) => this.#runCall(call, step))), aborted])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async #runCall(call, step) {
    const signal = this.#controller.signal
    const { id } = call
    const name = call.function.name
    const tool = this.#tools.get(name)
    let args
    try {
      if (tool === undefined)
        throw new Error(`no tool named ${JSON.stringify(name)} (tools: ${[...this.#tools.keys()].join(', ')})`)
      try {
        args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments)
      } catch (error) {
        throw new Error(`the arguments are not JSON (${error.message})`)
      }
      if (tool.standard !== null) {
        const checked = await tool.standard.validate(args)
        if (checked.issues) throw new Error(`invalid arguments: ${issuesText(checked.issues)}`)
        args = checked.value
      }
      const result = await tool.run(args, { signal, toolCallId: id, step, messages: [...this.#messages] })
      const done = { id, name, arguments: args, result, content: toolContent(result) }
      if (!signal.aborted) this.#emit('toolResult', done)
      return done
    } catch (error) {
      if (signal.aborted) throw signal.reason
      const failed = { id, name, arguments: args, error, content: errorText(error) }
      this.#emit('toolError', error, failed)
      return failed
    }
  }

  #emit(event, ...args) {
    const set = this.#listeners.get(event)
    if (!set) return false
    for (const listener of [...set]) listener(...args)
    return set.size > 0
  }

  #end(stopReason, completion) {
    if (this.#state !== 'open') return
    this.#state = 'done'
    this.#detachSignal?.()
    const result = { messages: [...this.#messages], steps: [...this.#steps], completion, stopReason }
    this.#settle.resolve(result)
    this.#emit('end', result)
  }

  #abortError(error) {
    return error instanceof AbortError ? error : new AbortError('The run was aborted', { cause: error })
  }

  /** The run failed (or was aborted): returns the error it ends with. */
  #fail(error) {
    if (this.#state !== 'open') return this.#failure
    this.#detachSignal?.()
    const aborted = this.#controller.signal.aborted
    this.#state = aborted ? 'aborted' : 'failed'
    const failure = aborted ? this.#abortError(error) : error
    if (failure !== null && typeof failure === 'object' && !('messages' in failure))
      // What the run had done when it stopped.
      Object.assign(failure, { messages: [...this.#messages], steps: [...this.#steps] })
    this.#failure = failure
    this.#settle.reject(failure)
    if (aborted) this.#emit('abort', failure)
    else if (!this.#emit('error', failure) && !this.#finalAsked && this.#consumer === 'drain') Promise.reject(failure)
    return failure
  }
}

module.exports = { ToolRunStream }
