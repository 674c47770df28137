'use strict'
// What the AI SDK's `useChat` posts (UIMessage objects with `parts`) as OpenAI request input:
// `toChatMessages` for chat completions `messages`, `toResponseInput` for the Responses API's
// `input` items. A leaf module: plain data in, plain data out, no native code.
//
// A UIMessage is `{ id, role: 'system' | 'user' | 'assistant', parts }`. Parts: `text`,
// `reasoning`, `file` ({ mediaType, url, filename? }), `step-start`, tool parts
// (`tool-<name>` or `dynamic-tool` with `toolName`; { toolCallId, state, input, output,
// errorText }), `source-url`, `source-document`, `data-*`. An assistant message holds the
// steps of one answer: each step's text and tool calls, then the calls' results.

/** Tool part states that carry a result (the call went to the model and came back). */
const RESULT_STATES = new Set(['output-available', 'output-error', 'output-denied'])

/**
 * @param {unknown} messages
 * @param {string} fn
 * @returns {any[]}
 */
function checkMessages(messages, fn) {
  if (!Array.isArray(messages))
    throw new TypeError(`streamdelta: ${fn}(uiMessages) needs an array of UIMessage objects, got ${typeof messages}`)
  messages.forEach((message, i) => {
    if (message === null || typeof message !== 'object')
      throw new TypeError(`streamdelta: ${fn}: uiMessages[${i}] must be a UIMessage object`)
    if (!['system', 'user', 'assistant'].includes(message.role))
      throw new TypeError(
        `streamdelta: ${fn}: uiMessages[${i}].role must be 'system', 'user' or 'assistant', got ${JSON.stringify(message.role)}`,
      )
    if (!Array.isArray(message.parts))
      throw new TypeError(`streamdelta: ${fn}: uiMessages[${i}].parts must be an array`)
  })
  return messages
}

/** The tool name of a tool part, or null when `part` is not one. */
function toolName(part) {
  if (part?.type === 'dynamic-tool') return typeof part.toolName === 'string' ? part.toolName : null
  if (typeof part?.type === 'string' && part.type.startsWith('tool-')) return part.type.slice(5)
  return null
}

/** The text of a message's `text` parts. */
function textOf(message) {
  return message.parts
    .filter((part) => part?.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('')
}

/** A tool result as the text the model reads. */
function resultText(part) {
  if (part.state === 'output-error') return String(part.errorText ?? 'The tool failed.')
  if (part.state === 'output-denied') return 'The tool call was denied.'
  return typeof part.output === 'string' ? part.output : JSON.stringify(part.output ?? null)
}

/**
 * The steps of an assistant message: `{ text, calls }` each, `calls` the tool parts that had
 * a result. A step ends at a `step-start` part, and where text follows a tool call.
 * Reasoning is not sent back (chat completions take none; the Responses API wants its own
 * reasoning items, which a UI message does not keep). Calls without a result (still
 * streaming or waiting for one) are left out: the APIs reject a call that has no result.
 * Tools the provider ran itself (`providerExecuted`) are left out as well.
 */
function stepsOf(message) {
  /** @typedef {{ text: string, calls: Array<{ id: string, name: string, input: unknown, part: any }> }} Step */
  /** @type {Step[]} */
  const steps = []
  /** @type {Step | null} */
  let step = null
  /** @returns {Step} */
  const current = () => {
    if (step === null) {
      step = { text: '', calls: [] }
      steps.push(step)
    }
    return step
  }
  for (const part of message.parts) {
    if (part?.type === 'step-start') {
      step = null
      continue
    }
    if (part?.type === 'text' && typeof part.text === 'string') {
      if (step && step.calls.length > 0) step = null
      current().text += part.text
      continue
    }
    const name = toolName(part)
    if (name === null || part.providerExecuted === true || !RESULT_STATES.has(part.state)) continue
    current().calls.push({ id: String(part.toolCallId), name, input: part.input, part })
  }
  return steps.filter((s) => s.text !== '' || s.calls.length > 0)
}

/** A file part's data: `{ url, mediaType, filename }`, or null when it has no URL. */
function fileOf(part) {
  if (part?.type !== 'file' || typeof part.url !== 'string') return null
  return { url: part.url, mediaType: String(part.mediaType ?? ''), filename: part.filename }
}

/**
 * UIMessages (what `useChat` posts as `messages`) as chat completions `messages`: system and
 * user text (user files as `image_url` parts for images, `file` parts otherwise), assistant
 * text with `tool_calls`, each call's result as a `tool` message after it.
 * @param {readonly any[]} uiMessages
 * @returns {any[]}
 */
function toChatMessages(uiMessages) {
  const out = []
  for (const message of checkMessages(uiMessages, 'toChatMessages')) {
    if (message.role === 'system') {
      out.push({ role: 'system', content: textOf(message) })
    } else if (message.role === 'user') {
      const files = message.parts.map(fileOf).filter((f) => f !== null)
      if (files.length === 0) {
        out.push({ role: 'user', content: textOf(message) })
        continue
      }
      const content = []
      for (const part of message.parts) {
        if (part?.type === 'text' && typeof part.text === 'string') content.push({ type: 'text', text: part.text })
        const file = fileOf(part)
        if (!file) continue
        if (file.mediaType.startsWith('image/')) content.push({ type: 'image_url', image_url: { url: file.url } })
        else {
          const data = { file_data: file.url }
          if (typeof file.filename === 'string') data.filename = file.filename
          content.push({ type: 'file', file: data })
        }
      }
      out.push({ role: 'user', content })
    } else {
      for (const step of stepsOf(message)) {
        const assistant = { role: 'assistant', content: step.text === '' ? null : step.text }
        if (step.calls.length > 0)
          assistant.tool_calls = step.calls.map((call) => ({
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: JSON.stringify(call.input ?? {}) },
          }))
        out.push(assistant)
        for (const call of step.calls) out.push({ role: 'tool', tool_call_id: call.id, content: resultText(call.part) })
      }
    }
  }
  return out
}

/**
 * UIMessages as Responses API `input` items: system and user messages (`input_text`,
 * `input_image` for images, `input_file` otherwise), assistant text as assistant messages,
 * each tool call as a `function_call` item followed by its `function_call_output`.
 * @param {readonly any[]} uiMessages
 * @returns {any[]}
 */
function toResponseInput(uiMessages) {
  const out = []
  for (const message of checkMessages(uiMessages, 'toResponseInput')) {
    if (message.role === 'system') {
      out.push({ type: 'message', role: 'system', content: textOf(message) })
    } else if (message.role === 'user') {
      const content = []
      for (const part of message.parts) {
        if (part?.type === 'text' && typeof part.text === 'string')
          content.push({ type: 'input_text', text: part.text })
        const file = fileOf(part)
        if (!file) continue
        if (file.mediaType.startsWith('image/'))
          content.push({ type: 'input_image', image_url: file.url, detail: 'auto' })
        else if (file.url.startsWith('data:')) {
          const item = { type: 'input_file', file_data: file.url }
          if (typeof file.filename === 'string') item.filename = file.filename
          content.push(item)
        } else content.push({ type: 'input_file', file_url: file.url })
      }
      out.push({ type: 'message', role: 'user', content })
    } else {
      for (const step of stepsOf(message)) {
        if (step.text !== '') out.push({ type: 'message', role: 'assistant', content: step.text })
        for (const call of step.calls)
          out.push({
            type: 'function_call',
            call_id: call.id,
            name: call.name,
            arguments: JSON.stringify(call.input ?? {}),
          })
        for (const call of step.calls)
          out.push({ type: 'function_call_output', call_id: call.id, output: resultText(call.part) })
      }
    }
  }
  return out
}

module.exports = { toChatMessages, toResponseInput }
