// Type-checked by `npm run test:types` (strict tsc): code written against the official `openai`
// package's types, mixed with streamdelta's, compiles unchanged. `openai` is only a
// devDependency and only its types are used here (`import type`); index.d.ts never imports it.
import type OpenAI from 'openai'
import {
  APIError,
  type ChatCompletion,
  type ChatCompletionMessageParam,
  type ChatStream,
  Client,
  type CompletedToolCall,
  type Delta,
  type DeltaOf,
  type PartialOf,
  type ResponseInputItem,
  type ResponseStream,
  StreamDeltaError,
  type StreamFailure,
  type ToolCall,
  type ToolCallDelta,
  type ToolKind,
} from 'streamdelta'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function expectType<T extends true>(_: T): void {}

declare function runTool(name: string, args: unknown): Promise<string>

const client = new Client({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:1/v1' })

// A chat tool-calling loop on an openai-typed history.
async function chatLoop(): Promise<string> {
  const model = 'gpt-4o-mini'
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You answer with tools.' },
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
  ]
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    },
  ]
  for (let turn = 0; turn < 5; turn++) {
    const stream: ChatStream = client.chat({ model, messages, tools, tool_choice: 'auto', parallel_tool_calls: true })
    for await (const d of stream) {
      switch (d.type) {
        case 'text':
          process.stdout.write(d.text)
          break
        case 'toolCallDelta': {
          const fragment: ToolCallDelta = d
          const id: string | undefined = fragment.id
          const kind: ToolKind = fragment.kind
          console.log(fragment.index, id, fragment.name, fragment.arguments.length, kind, fragment.partial)
          break
        }
        case 'toolCall': {
          const whole: ToolCall = d
          const id: string = whole.id
          console.log(
            id,
            whole.name,
            JSON.parse(whole.arguments),
            whole.kind === 'function',
            whole.server,
            whole.output,
          )
          break
        }
        case 'finish':
          console.log(d.reason === 'tool_calls', d.choice)
          break
        case 'usage':
          console.log(d.usage.prompt_tokens, d.usage.completion_tokens_details?.reasoning_tokens)
          break
      }
    }
    const final: ChatCompletion = await stream.final()
    const choice = final.choices[0]
    // The accumulated message goes back into openai's history as it is...
    const assistant: OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam = choice.message
    messages.push(choice.message)
    // ...and into ours.
    const ours: ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }, choice.message, assistant]
    void ours
    const calls = choice.message.tool_calls ?? []
    if (calls.length === 0) return choice.message.content ?? ''
    for (const call of calls) {
      const content = await runTool(call.function.name, JSON.parse(call.function.arguments))
      messages.push({ role: 'tool', tool_call_id: call.id, content })
    }
  }
  return ''
}

// A whole openai-typed body, streaming or not (streamdelta always streams).
function openaiBodies(
  streaming: OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming,
  nonStreaming: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
  legacy: OpenAI.Completions.CompletionCreateParamsStreaming,
): void {
  client.chat(streaming).on('toolCall', (call) => console.log(call.id.length))
  client.chat(nonStreaming, { maxRetries: 0 })
  client.completions(legacy)
  // A provider's own fields are passed through (the body is a checked type parameter).
  client.chat({ model: 'm', messages: [], top_k: 40, provider: { order: ['a'] } })
}

// The Responses API: an openai-typed input and body, and a function-call loop on our types.
async function responsesLoop(): Promise<void> {
  const input: OpenAI.Responses.ResponseInput = [
    { role: 'user', content: 'Weather in Paris?' },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'and Rome' }] },
  ]
  const tools: OpenAI.Responses.Tool[] = [
    { type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: false },
    { type: 'web_search' },
  ]
  const params: OpenAI.Responses.ResponseCreateParams = { model: 'gpt-5', input, tools, reasoning: { effort: 'low' } }
  const streamingParams: OpenAI.Responses.ResponseCreateParamsStreaming = { ...params, stream: true }
  client.responses(streamingParams)
  const stream: ResponseStream = client.responses(params)
  const calls: ToolCall[] = []
  stream.on('toolCall', (call) => calls.push(call))
  const response = await stream.final()
  const next: ResponseInputItem[] = [...response.output]
  for (const item of response.output) {
    if (item.type === 'function_call') {
      const args: string = item.arguments
      next.push({ type: 'function_call_output', call_id: item.call_id, output: await runTool(item.name, args) })
    }
  }
  for (const call of calls) next.push({ type: 'function_call_output', call_id: call.id, output: '{}' })
  client.responses({ model: 'gpt-5', input: next, previous_response_id: response.id, tools })
  client.responses({ model: 'gpt-5', input: [...input, { type: 'function_call_output', call_id: 'c', output: 'x' }] })
  console.log(response.output_text, response.usage?.output_tokens)
}

// `partial` is typed per stream where the stream is known.
function partials(stream: ChatStream, responses: ResponseStream): void {
  stream.on('error', (error) => {
    const partial: Partial<ChatCompletion> | undefined = error.partial
    if (error instanceof APIError) console.log(error.status, error.partial?.choices?.[0]?.message.content)
    console.log(partial?.id)
  })
  responses.on('error', (error) => console.log(error.partial?.output_text))
  expectType<Equal<PartialOf<ChatStream>, Partial<ChatCompletion>>>(true)
  expectType<Equal<PartialOf<ChatCompletion>, Partial<ChatCompletion>>>(true)
  const failure: StreamFailure<ChatCompletion> | null = null
  void failure
  stream.final().catch((error: unknown) => {
    if (error instanceof StreamDeltaError) {
      const untyped: unknown = error.partial
      const typed = error.partial as PartialOf<typeof stream> | undefined
      console.log(untyped, typed?.choices?.length)
    }
  })
  stream.pipeTo({} as import('node:http').ServerResponse).then((result) => {
    if (!result.ok && result.error instanceof StreamDeltaError) console.log(result.error.partial)
  })
}

// The Delta names.
function deltas(d: Delta): void {
  expectType<Equal<DeltaOf<'toolCall'>, ToolCall>>(true)
  expectType<Equal<DeltaOf<'toolCallDelta'>, ToolCallDelta>>(true)
  expectType<Equal<CompletedToolCall, ToolCall>>(true)
  if (d.type === 'toolCall') {
    const id: string = d.id
    void id
  }
}

// Negative checks: each line must fail to compile (an unused @ts-expect-error fails tsc).
function negatives(d: Delta, openaiMessages: OpenAI.Chat.Completions.ChatCompletionMessageParam[]): void {
  // @ts-expect-error messages is an array of messages, not a string
  client.chat({ model: 'm', messages: 'hi' })
  // @ts-expect-error model is required on chat
  client.chat({ messages: openaiMessages })
  // @ts-expect-error a message needs a known role
  client.chat({ model: 'm', messages: [{ role: 'robot', content: 'x' }] })
  // @ts-expect-error a tool message needs tool_call_id
  const tool: ChatCompletionMessageParam = { role: 'tool', content: 'x' }
  // @ts-expect-error a misspelt Delta type does not narrow (no overlap)
  if (d.type === 'toolcall') console.log(d)
  if (d.type === 'toolCallDelta') {
    // @ts-expect-error a fragment's id may be missing
    const id: string = d.id
    void id
  }
  if (d.type === 'text') {
    // @ts-expect-error only tool-call Deltas have arguments
    console.log(d.arguments)
  }
  // @ts-expect-error the toolCall listener receives the whole call, whose id is a string
  client.chat({ model: 'm', messages: [] }).on('toolCall', (call: { id: number }) => call)
  // @ts-expect-error a fresh literal of our message type rejects unknown fields
  const typo: ChatCompletionMessageParam = { role: 'user', content: 'x', contnet: 'y' }
  // @ts-expect-error the responses input is a string or an array of items
  client.responses({ model: 'm', input: 42 })
  // @ts-expect-error legacy prompt must be text or tokens
  client.completions({ model: 'm', prompt: { text: 'x' } })
  void [tool, typo]
}

void [chatLoop, openaiBodies, responsesLoop, partials, deltas, negatives]
