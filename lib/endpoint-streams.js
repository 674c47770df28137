'use strict'
// The per-endpoint stream classes: the shared machinery lives in base-stream.js; each class
// only says how to read its final result.

const { BaseStream } = require('./base-stream')

/** A streamed chat completion (`/chat/completions`). */
class ChatStream extends BaseStream {
  /** Choice 0's whole content. */
  async finalText() {
    const final = await this.final()
    const choice = final.choices.find((c) => c.index === 0) ?? final.choices[0]
    return choice?.message?.content ?? ''
  }
}

/** A streamed Responses API answer (`/responses`). `final()` is the completed Response object. */
class ResponseStream extends BaseStream {
  /** The whole output text (`output_text`). */
  async finalText() {
    const final = await this.final()
    return final.output_text ?? ''
  }
}

/** A streamed legacy completion (`/completions`). */
class CompletionStream extends BaseStream {
  /** Choice 0's whole text. */
  async finalText() {
    const final = await this.final()
    const choice = final.choices.find((c) => c.index === 0) ?? final.choices[0]
    return choice?.text ?? ''
  }
}

module.exports = { ChatStream, ResponseStream, CompletionStream }
