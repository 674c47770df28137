'use strict'
// `/responses`: Responses API events, each with `event: <type>` and a `sequence_number`:
// response.created, response.in_progress, then per output item (a reasoning summary, the
// script's hosted-tool steps (formats/hosted.js), the message with its citations, each
// function call) its added / delta... / done events, and response.completed
// (or response.incomplete for `length` / `content_filter`) carrying the whole response and
// its usage. Only the script's first choice is played (the API has no `n`). A stream can be
// replayed from any sequence number (`startingAfter`) with the same ids, for resumes.

const { ids } = require('../ids')
const { countTokens, responsesUsage } = require('./usage')
const { stepFrames, stepPrefix } = require('./hosted')

const INCOMPLETE = { length: 'max_output_tokens', content_filter: 'content_filter' }

class ResponsesFormat {
  /**
   * @param {object} plan a normalised script
   * @param {{ body: object, model: string, ids?: object, startingAfter?: number }} request
   *   `ids` replays a stream with the ids it had; `startingAfter` skips events up to it.
   */
  constructor(plan, { body, model, ids: given, startingAfter }) {
    this.plan = plan
    this.body = body ?? {}
    this.model = plan.model ?? model
    this.choice = plan.choices[0]
    this.ids = given ?? {
      response: plan.id ?? ids.response(),
      created: Math.floor(Date.now() / 1000),
      reasoning: ids.item('rs'),
      message: ids.item('msg'),
      calls: this.choice.toolCalls.map((call) => ({ item: ids.item('fc'), call: call.id ?? ids.toolCall() })),
      hosted: plan.hosted.map((step) => ids.item(stepPrefix(step))),
    }
    this.skipThrough = startingAfter ?? -1
    this.seq = 0
    this.endFrame = ''
  }

  /** The event `type` with `fields`, as an SSE frame; null when a resume skips it. */
  #event(type, fields) {
    const seq = this.seq++
    if (seq <= this.skipThrough) return null
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...fields })}\n\n`
  }

  #response(status, extra = {}) {
    const b = this.body
    return {
      id: this.ids.response,
      object: 'response',
      created_at: this.ids.created,
      status,
      background: b.background ?? false,
      error: null,
      incomplete_details: null,
      instructions: b.instructions ?? null,
      max_output_tokens: b.max_output_tokens ?? null,
      model: this.model,
      output: [],
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null,
      reasoning: { effort: b.reasoning?.effort ?? null, summary: b.reasoning?.summary ?? null },
      service_tier: 'default',
      store: b.store ?? true,
      temperature: b.temperature ?? 1,
      text: { format: { type: 'text' } },
      tool_choice: b.tool_choice ?? 'auto',
      tools: b.tools ?? [],
      top_p: b.top_p ?? 1,
      truncation: 'disabled',
      usage: null,
      user: null,
      metadata: b.metadata ?? {},
      ...extra,
    }
  }

  /** Every event, in order (Responses streams have no end marker). */
  *frames() {
    if (this.plan.raw) return yield* this.plan.raw
    const choice = this.choice
    const output = []
    let f
    if ((f = this.#event('response.created', { response: this.#response('in_progress') }))) yield f
    if ((f = this.#event('response.in_progress', { response: this.#response('in_progress') }))) yield f

    if (choice.reasoning.length > 0) {
      const item_id = this.ids.reasoning
      const output_index = output.length
      const text = choice.reasoning.join('')
      const fields = { item_id, output_index, summary_index: 0 }
      if (
        (f = this.#event('response.output_item.added', {
          output_index,
          item: { id: item_id, type: 'reasoning', summary: [] },
        }))
      )
        yield f
      if (
        (f = this.#event('response.reasoning_summary_part.added', {
          ...fields,
          part: { type: 'summary_text', text: '' },
        }))
      )
        yield f
      for (const delta of choice.reasoning)
        if ((f = this.#event('response.reasoning_summary_text.delta', { ...fields, delta }))) yield f
      if ((f = this.#event('response.reasoning_summary_text.done', { ...fields, text }))) yield f
      if (
        (f = this.#event('response.reasoning_summary_part.done', { ...fields, part: { type: 'summary_text', text } }))
      )
        yield f
      const item = { id: item_id, type: 'reasoning', summary: [{ type: 'summary_text', text }] }
      output.push(item)
      if ((f = this.#event('response.output_item.done', { output_index, item }))) yield f
    }

    // Hosted tools run before the answer is written, as on OpenAI.
    const event = (type, fields) => this.#event(type, fields)
    for (const [k, step] of this.plan.hosted.entries()) {
      for (const frame of stepFrames(step, this.ids.hosted[k], output, event)) if (frame) yield frame
    }

    const hasMessage =
      choice.text.length > 0 ||
      choice.refusal.length > 0 ||
      (choice.toolCalls.length === 0 && choice.reasoning.length === 0 && this.plan.hosted.length === 0)
    if (hasMessage) yield* this.#message(choice, output)

    for (let k = 0; k < choice.toolCalls.length; k++) {
      const call = choice.toolCalls[k]
      const item_id = this.ids.calls[k].item
      const output_index = output.length
      const head = {
        id: item_id,
        type: 'function_call',
        status: 'in_progress',
        arguments: '',
        call_id: this.ids.calls[k].call,
        name: call.name,
      }
      if ((f = this.#event('response.output_item.added', { output_index, item: head }))) yield f
      for (const delta of call.fragments)
        if ((f = this.#event('response.function_call_arguments.delta', { item_id, output_index, delta }))) yield f
      if (
        (f = this.#event('response.function_call_arguments.done', { item_id, output_index, arguments: call.arguments }))
      )
        yield f
      const item = { ...head, status: 'completed', arguments: call.arguments }
      output.push(item)
      if ((f = this.#event('response.output_item.done', { output_index, item }))) yield f
    }

    const usage =
      typeof this.plan.usage === 'object'
        ? this.plan.usage
        : responsesUsage(countTokens(this.plan, this.body.input ?? this.body.instructions, [choice]))
    const reason = INCOMPLETE[choice.finishReason]
    if (reason) {
      const response = this.#response('incomplete', { incomplete_details: { reason }, output, usage })
      if ((f = this.#event('response.incomplete', { response }))) yield f
    } else {
      const response = this.#response('completed', { completed_at: this.ids.created, output, usage })
      if ((f = this.#event('response.completed', { response }))) yield f
    }
  }

  *#message(choice, output) {
    const item_id = this.ids.message
    const output_index = output.length
    const fields = { item_id, output_index, content_index: 0 }
    let f
    if (
      (f = this.#event('response.output_item.added', {
        output_index,
        item: { id: item_id, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
      }))
    )
      yield f
    let part
    if (choice.refusal.length > 0) {
      const refusal = choice.refusal.join('')
      if ((f = this.#event('response.content_part.added', { ...fields, part: { type: 'refusal', refusal: '' } })))
        yield f
      for (const delta of choice.refusal) if ((f = this.#event('response.refusal.delta', { ...fields, delta }))) yield f
      if ((f = this.#event('response.refusal.done', { ...fields, refusal }))) yield f
      part = { type: 'refusal', refusal }
    } else {
      if (
        (f = this.#event('response.content_part.added', {
          ...fields,
          part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
        }))
      )
        yield f
      // Text deltas: a pre-serialised head and tail around the sequence number and the token.
      const head = `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":`
      const middle = `,"item_id":${JSON.stringify(item_id)},"output_index":${output_index},"content_index":0,"delta":`
      const tokens = choice.text.map((token) => `${JSON.stringify(token)},"logprobs":[]}\n\n`)
      for (let r = 0; r < this.plan.repeat; r++) {
        for (const token of tokens) {
          const seq = this.seq++
          if (seq > this.skipThrough) yield head + seq + middle + token
        }
      }
      const text = this.plan.repeat === 1 ? choice.text.join('') : choice.text.join('').repeat(this.plan.repeat)
      const annotations = this.plan.citations
      for (const [annotation_index, annotation] of annotations.entries()) {
        f = this.#event('response.output_text.annotation.added', { ...fields, annotation_index, annotation })
        if (f) yield f
      }
      if ((f = this.#event('response.output_text.done', { ...fields, text, logprobs: [] }))) yield f
      part = { type: 'output_text', annotations, logprobs: [], text }
    }
    if ((f = this.#event('response.content_part.done', { ...fields, part }))) yield f
    const item = { id: item_id, type: 'message', status: 'completed', content: [part], role: 'assistant' }
    output.push(item)
    if ((f = this.#event('response.output_item.done', { output_index, item }))) yield f
  }

  /**
   * A mid-stream error: an `error` event (with the documented top-level `code`, `message`,
   * `param` and the nested `error` object OpenAI's servers send), then `response.failed`.
   */
  errorFrames(error) {
    const { message, code = null, param = null } = error
    const first = this.#event('error', { code, message, param, error }) ?? ''
    const failed =
      this.#event('response.failed', { response: this.#response('failed', { error: { code, message } }) }) ?? ''
    return first + failed
  }

  malformedFrame(line) {
    const seq = this.seq++
    return `event: response.output_text.delta\ndata: ${line ?? `{"type":"response.output_text.delta","sequence_number":${seq},"delta":"cut sh`}\n\n`
  }
}

module.exports = { ResponsesFormat }
