'use strict'
// `/completions` (legacy): text_completion chunks, one per token; as OpenAI does, the last
// token's chunk carries `finish_reason`. Then the usage chunk (`choices: []`) when asked for,
// and `data: [DONE]`. Reasoning, refusals and tool calls do not exist here and are not sent.

const { ids } = require('../ids')
const { DONE, dataFrame } = require('../sse')
const { countTokens, chatUsage } = require('./usage')
const { interleave } = require('./chat')

class CompletionsFormat {
  constructor(plan, { body, model }) {
    this.plan = plan
    this.id = plan.id ?? ids.completion()
    this.model = plan.model ?? model
    this.created = Math.floor(Date.now() / 1000)
    this.includeUsage =
      plan.usage === false ? false : plan.usage !== undefined || body?.stream_options?.include_usage === true
    this.prompt = body?.prompt
    this.endFrame = plan.raw ? '' : DONE
    this.head = `data: {"id":${JSON.stringify(this.id)},"object":"text_completion","created":${this.created},"choices":[{"text":`
    this.tail = `],"model":${JSON.stringify(this.model)}${this.includeUsage ? ',"usage":null' : ''}}\n\n`
  }

  *frames() {
    if (this.plan.raw) return yield* this.plan.raw
    const choices = this.plan.choices
    if (choices.length === 1) yield* this.#choiceFrames(choices[0], 0)
    else yield* interleave(choices.map((choice, i) => this.#choiceFrames(choice, i)))
    if (this.includeUsage) {
      const usage =
        typeof this.plan.usage === 'object'
          ? this.plan.usage
          : chatUsage(
              countTokens(
                this.plan,
                this.prompt,
                this.plan.choices.map((c) => ({ ...c, reasoning: [], refusal: [], toolCalls: [] })),
              ),
              false,
            )
      yield dataFrame({
        id: this.id,
        object: 'text_completion',
        created: this.created,
        model: this.model,
        usage,
        choices: [],
      })
    }
  }

  *#choiceFrames(choice, index) {
    const open = this.head
    const close = `,"index":${index},"logprobs":null,"finish_reason":null}` + this.tail
    const last = `,"index":${index},"logprobs":null,"finish_reason":${JSON.stringify(choice.finishReason)}}` + this.tail
    const tokens = choice.text.map((token) => JSON.stringify(token))
    if (tokens.length === 0 || this.plan.repeat === 0) return yield open + '""' + last
    const { repeat } = this.plan
    for (let r = 0; r < repeat; r++) {
      const final = r === repeat - 1
      for (let i = 0; i < tokens.length; i++) yield open + tokens[i] + (final && i === tokens.length - 1 ? last : close)
    }
  }

  errorFrames(error) {
    return dataFrame({ error })
  }

  malformedFrame(line) {
    return `data: ${line ?? `{"id":${JSON.stringify(this.id)},"object":"text_completion","choices":[{"text":"cut sh`}\n\n`
  }
}

module.exports = { CompletionsFormat }
