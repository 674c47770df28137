'use strict'
// `/chat/completions`: chat.completion.chunk events as OpenAI sends them (key order included):
// a role chunk with `content: ""`, one chunk per token, tool calls (a head with id and name,
// then argument fragments), a finish chunk, the usage chunk with `choices: []` when asked for,
// then `data: [DONE]`. Content chunks are built from a pre-serialised head and tail around
// the JSON of the token, and cached across `repeat`s: no per-chunk object is ever made.

const { ids } = require('../ids')
const { DONE, dataFrame } = require('../sse')
const { countTokens, chatUsage } = require('./usage')

class ChatFormat {
  /** Tool call ids made up for this response, by `choice:call`. */
  #callIds = new Map()

  /**
   * @param {object} plan a normalised script (script.js)
   * @param {{ body: object, model: string }} request
   */
  constructor(plan, { body, model }) {
    this.plan = plan
    this.id = plan.id ?? ids.chat()
    this.model = plan.model ?? model
    this.created = Math.floor(Date.now() / 1000)
    this.fingerprint = ids.fingerprint()
    const asked = body?.stream_options?.include_usage === true
    this.includeUsage = plan.usage === false ? false : plan.usage !== undefined || asked
    this.prompt = body?.messages
    this.endFrame = plan.raw ? '' : DONE
    const usageNull = this.includeUsage ? ',"usage":null' : ''
    // `data: {"id":…,"choices":[{"index":` + index + `,"delta":` + delta + tail
    this.head = `data: {"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","created":${this.created},"model":${JSON.stringify(this.model)},"service_tier":"default","system_fingerprint":"${this.fingerprint}","choices":[{"index":`
    this.tail = `,"logprobs":null,"finish_reason":null}]${usageNull}}\n\n`
    this.finishTail = (reason) => `,"logprobs":null,"finish_reason":${JSON.stringify(reason)}}]${usageNull}}\n\n`
  }

  /** Every event of the stream but the end marker, in order. */
  *frames() {
    if (this.plan.raw) return yield* this.plan.raw
    const choices = this.plan.choices
    if (choices.length === 1) yield* this.#choiceFrames(choices[0], 0)
    else yield* interleave(choices.map((choice, i) => this.#choiceFrames(choice, i)))
    if (this.includeUsage) yield this.#usageFrame()
  }

  *#choiceFrames(choice, index) {
    const open = this.head + index + ',"delta":'
    const tail = this.tail
    const content = choice.text.length === 0 && choice.toolCalls.length > 0 ? 'null' : '""'
    yield `${open}{"role":"assistant","content":${content},"refusal":null}${tail}`
    const field = JSON.stringify(this.plan.reasoningField)
    for (const token of choice.reasoning) yield `${open}{${field}:${JSON.stringify(token)}}${tail}`
    for (const token of choice.refusal) yield `${open}{"refusal":${JSON.stringify(token)}}${tail}`
    if (choice.text.length > 0) {
      const cached = choice.text.map((token) => `${open}{"content":${JSON.stringify(token)}}${tail}`)
      for (let r = 0; r < this.plan.repeat; r++) yield* cached
    }
    for (let k = 0; k < choice.toolCalls.length; k++) {
      const call = choice.toolCalls[k]
      const id = this.#callId(index, k, call)
      yield `${open}{"tool_calls":[{"index":${k},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(call.name)},"arguments":""}}]}${tail}`
      for (const fragment of call.fragments)
        yield `${open}{"tool_calls":[{"index":${k},"function":{"arguments":${JSON.stringify(fragment)}}}]}${tail}`
    }
    yield `${open}{}${this.finishTail(choice.finishReason)}`
  }

  /** A call's id: the script's, or a fresh `call_…` per choice and call of this response. */
  #callId(choice, k, call) {
    if (call.id) return call.id
    const key = `${choice}:${k}`
    if (!this.#callIds.has(key)) this.#callIds.set(key, ids.toolCall())
    return this.#callIds.get(key)
  }

  #usageFrame() {
    const usage = typeof this.plan.usage === 'object' ? this.plan.usage : chatUsage(countTokens(this.plan, this.prompt))
    return dataFrame({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      service_tier: 'default',
      system_fingerprint: this.fingerprint,
      choices: [],
      usage,
    })
  }

  /** A mid-stream error, as OpenAI-compatible servers send it on a 200 stream. */
  errorFrames(error) {
    return dataFrame({ error })
  }

  /** A data line that is not JSON (a chunk cut short), unless the fault gives its own. */
  malformedFrame(line) {
    return `data: ${line ?? `{"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"cut sh`}\n\n`
  }
}

/** Round-robin over per-choice generators: choice 0's next event, choice 1's, ... */
function* interleave(generators) {
  let active = generators
  while (active.length > 0) {
    const still = []
    for (const gen of active) {
      const step = gen.next()
      if (step.done) continue
      yield step.value
      still.push(gen)
    }
    active = still
  }
}

module.exports = { ChatFormat, interleave }
