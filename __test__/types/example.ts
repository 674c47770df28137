// Type-checked by `tsc --noEmit -p __test__/types` (part of `npm test`): uses the whole public
// API the way a user would, so a wrong or missing declaration in index.d.ts fails the build.
import { z } from 'zod'
import {
  Client,
  type ChatStream,
  type ResponseStream,
  type CompletionStream,
  parseChatStream,
  parseResponseStream,
  parseCompletionStream,
  SseParser,
  RelayStore,
  type ResumeResult,
  StreamDeltaError,
  APIError,
  AuthenticationError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
  AbortError,
  StreamError,
  ParseError,
  IncompleteStreamError,
  type Delta,
  type ChatCompletion,
  type SseEvent,
  type StreamStats,
  type ResponseInfo,
  toChatMessages,
  toResponseInput,
  type UIMessageLike,
  type ChatMessageParam,
} from 'streamdelta'
import { Readable } from 'node:stream'

async function everything(): Promise<void> {
  const client = new Client({
    apiKey: 'sk-test',
    baseURL: 'http://127.0.0.1:1/v1',
    organization: 'org',
    project: 'proj',
    headers: { 'x-extra': '1', 'x-dropped': undefined },
    query: { debug: true },
    timeout: 10_000,
    idleTimeout: 5_000,
    maxRetries: 1,
    maxEventBytes: 1 << 20,
  })
  const azure = new Client({ azure: { apiVersion: '2024-10-21', deployment: 'gpt-4o' } })
  const url: string = azure.baseURL

  const controller = new AbortController()
  const stream: ChatStream = client.chat(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } },
    {
      signal: controller.signal,
      headers: { 'x-req': 'a' },
      query: { a: 1 },
      timeout: 1000,
      idleTimeout: 1000,
      maxRetries: 0,
    },
  )

  for await (const d of stream) {
    const delta: Delta = d
    switch (delta.type) {
      case 'text':
      case 'refusal':
      case 'reasoning':
        console.log(delta.text.toUpperCase(), delta.choice)
        break
      case 'toolCallDelta':
        console.log(delta.index, delta.id?.length, delta.name, delta.arguments, delta.kind)
        break
      case 'toolCall': {
        const id: string = delta.id
        console.log(delta.index, id.length, delta.name, JSON.parse(delta.arguments), delta.kind)
        break
      }
      case 'toolStatus':
        console.log(delta.id, delta.tool, delta.status)
        break
      case 'citation':
        console.log(delta.kind, delta.url?.length, delta.title, delta.fileId, delta.filename, delta.start, delta.end)
        break
      case 'image': {
        const partial: boolean = delta.partial
        console.log(delta.id, delta.index, delta.b64.length, partial, delta.mediaType)
        break
      }
      case 'approval':
        console.log(delta.id, delta.server, delta.name, JSON.parse(delta.arguments))
        break
      case 'finish':
        console.log(delta.reason)
        break
      case 'usage':
        console.log(delta.usage.total_tokens)
        break
    }
  }
  // Hosted tools and MCP on /responses: the events carry the Deltas.
  client
    .responses({
      model: 'm',
      input: 'x',
      tools: [{ type: 'mcp', server_label: 'zip', server_url: 'https://mcp.example/' }],
    })
    .on('toolStatus', (s) => console.log(s.tool, s.status))
    .on('citation', (c) => console.log(c.url))
    .on('image', (i) => console.log(i.partial ? 'preview' : i.mediaType))
    .on('approval', (a) => console.log(a.server, a.name))
    .on('toolCall', (call) => console.log(call.kind === 'mcp' ? call.server : call.name, call.output, call.error))
  for await (const text of client.chat({ model: 'm', messages: [] }).text()) console.log(text.length)
  for await (const chunk of client.chat({ model: 'm', messages: [] }).chunks())
    console.log(chunk.choices[0]?.finish_reason)

  const events = client
    .chat({ model: 'm', messages: [] })
    .on('text', (text, snapshot, choice) => console.log(text, snapshot.length, choice + 1))
    .on('refusal', (text) => console.log(text))
    .on('reasoning', (text) => console.log(text))
    .on('toolCallDelta', (delta) => console.log(delta.arguments))
    .on('toolCall', (call) =>
      console.log(call.type, call.name, JSON.parse(call.arguments), call.id.length, call.index, call.choice, call.kind),
    )
    .on('finish', (reason, choice) => console.log(reason, choice))
    .on('usage', (usage) => console.log(usage.prompt_tokens))
    .on('chunk', (chunk) => console.log(chunk.id))
    .on('error', (error) => console.log(error.code, error.partial))
    .on('end', (final) => console.log(final.choices.length))
    .on('abort', (error) => console.log(error.name))
  const onText = (text: string) => console.log(text)
  events.once('text', onText).off('text', onText).removeListener('text', onText).removeAllListeners('text')
  const count: number = events.listenerCount('end')

  const final: ChatCompletion = await events.final()
  const content: string | null = final.choices[0].message.content
  const calls = final.choices[0].message.tool_calls?.map((c) => c.function.name)
  const text: string = await events.finalText()
  const stats: StreamStats = events.stats
  const info: ResponseInfo | null = await events.response
  const signal: AbortSignal = events.signal
  events.abort('done')
  events.abort()
  console.log(
    url,
    count,
    content,
    calls,
    text,
    stats.ttftMs,
    stats.chunks,
    stats.bytes,
    stats.durationMs,
    info?.requestId,
    signal.aborted,
  )

  const parsed = parseChatStream(Readable.from([Buffer.from('data: [DONE]\n\n')]), { maxEventBytes: 1024 })
  const fromFetch = parseChatStream(await fetch('http://127.0.0.1:1/'))
  const fromIterable = parseChatStream(
    (async function* () {
      yield new Uint8Array([1])
    })(),
  )
  console.log(await parsed.finalText(), fromFetch.stats, fromIterable.stats)

  const relayed = await client
    .chat({ model: 'm', messages: [] })
    .pipeTo({} as import('node:http').ServerResponse, { format: 'events', heartbeat: 1000 })
  if (relayed.ok) console.log(relayed.final.choices.length)
  else console.log(relayed.error.message)
  const web: ReadableStream<Uint8Array> = client
    .chat({ model: 'm', messages: [] })
    .toReadableStream({ format: 'ndjson' })
  const node: Readable = client.chat({ model: 'm', messages: [] }).toNodeStream({ format: 'text', heartbeat: false })
  const ws = { send(_: string) {}, close() {}, bufferedAmount: 0, on() {} }
  await client.chat({ model: 'm', messages: [] }).pipeToWebSocket(ws, { format: 'ndjson' })
  console.log(web.locked, node.readable)

  const store = new RelayStore({ url: 'redis://127.0.0.1:6379', ttl: 3600, prefix: 'app:' })
  const res = {} as import('node:http').ServerResponse
  const recorded = await client
    .chat({ model: 'm', messages: [] })
    .pipeTo(res, { format: 'events', resumable: { store, id: 'chat-1' } })
  if (!recorded.ok) console.log(recorded.error.message)
  const fromStore: ResumeResult = await store.resume('chat-1', res, { format: 'events', lastEventId: null })
  const cancelled: boolean = await store.cancel('chat-1')
  console.log(fromStore.found, cancelled, store.ttl)
  await store.close()
  // A store that takes background responses over, resumable in the AI SDK's format.
  const takeover = new RelayStore({ url: 'redis://127.0.0.1:6379', ttl: 3600, client })
  const again: ResumeResult = await takeover.resume('chat-2', res, { format: 'ai-sdk' })
  const takenOver: boolean | undefined = again.takenOver
  console.log(takenOver)
  // What useChat posts, relayed back in the AI SDK's format.
  const history: UIMessageLike[] = [
    { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Hi' }] },
    {
      id: 'a1',
      role: 'assistant',
      parts: [
        { type: 'step-start' },
        { type: 'tool-weather', toolCallId: 'c1', state: 'output-available', input: {}, output: { t: 1 } },
      ],
    },
  ]
  const chatMessages: ChatMessageParam[] = toChatMessages(history)
  await client.chat({ model: 'm', messages: chatMessages }).pipeTo({} as import('node:http').ServerResponse, {
    format: 'ai-sdk',
  })
  client.responses({ model: 'm', input: toResponseInput(history) }).toReadableStream({ format: 'ai-sdk' })

  const responses: ResponseStream = client.responses({ model: 'o4-mini', input: 'hi', background: true })
  for await (const event of responses.chunks()) console.log(event.type, event.sequence_number)
  const response = await responses.final()
  console.log(response.output_text, response.usage?.total_tokens, await responses.finalText())
  const resumed: ResponseStream = client.resumeResponse('resp_123', { startingAfter: 4 }, { signal: controller.signal })
  const legacy: CompletionStream = client.completions({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' })
  const completion = await legacy.final()
  console.log(completion.choices[0].text, await legacy.finalText(), resumed.stats)
  console.log(parseResponseStream(Readable.from([])).stats, parseCompletionStream(Readable.from([])).stats)
  new Client({ log: 'debug' })

  const parser = new SseParser({ maxEventBytes: 4096 })
  const sse: SseEvent[] = [...parser.feed(new Uint8Array([100])), ...parser.feed('data: x\n\n'), ...parser.end()]
  console.log(sse.map((e) => [e.event, e.data, e.id, e.retry ?? 0]))

  try {
    await client.chat({ model: 'm', messages: [] }).final()
  } catch (error) {
    if (error instanceof RateLimitError) console.log(error.retryAfterMs, error.status, error.headers['retry-after'])
    else if (error instanceof AuthenticationError) console.log(error.status)
    else if (error instanceof APIError)
      console.log(error.status, error.type, error.param, error.apiCode, error.requestId)
    else if (error instanceof ConnectionError) console.log(error.cause.message)
    else if (error instanceof TimeoutError) console.log(error.phase === 'idle')
    else if (error instanceof AbortError) console.log(error.name === 'AbortError', error.code)
    else if (error instanceof StreamError) console.log(error.type, error.apiCode, error.param)
    else if (error instanceof ParseError) console.log(error.line.length)
    else if (error instanceof IncompleteStreamError) console.log(error.partial)
    else if (error instanceof StreamDeltaError) console.log(error.code, error.attempts)
  }
}

void everything

// Issue 20: limits, usage, rate limits, tracing context.
{
  const limited = new Client({ maxConcurrent: 4, queueTimeout: 30_000 })
  const totals: import('streamdelta').UsageTotals = limited.usage
  const perModel: number | undefined = totals.byModel['gpt-4o']?.inputTokens
  const last: import('streamdelta').RateLimitInfo | null = limited.rateLimit
  void perModel
  void last
  const s = limited.chat({ model: 'gpt-4o', messages: [] })
  const queued: number = s.stats.queuedMs
  void queued
  void s.response.then((r) => r?.rateLimit?.remainingTokens)
  const ctx: import('streamdelta').RequestTraceContext = { operation: 'chat', model: 'm', url: 'http://x' }
  void ctx
}

// Issue 16: the tool runner.
{
  const client = new Client()
  const run: import('streamdelta').ToolRunStream = client.runTools(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Paris?' }] },
    {
      tools: {
        weather: {
          description: 'The weather in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          run: async (args, { signal, toolCallId, step }) => {
            const city: string = args.city
            void signal.aborted
            return { city, toolCallId, step }
          },
        },
      },
      maxSteps: 4,
    },
    { timeout: 30_000 },
  )
  run.on('toolError', (error, result) => console.log(error, result.content))
  run.on('step', (step) => console.log(step.step, step.toolResults.length, step.completion.id))
  void (async () => {
    for await (const delta of run) if (delta.type === 'toolCall') console.log(delta.name)
    const { messages, steps, stopReason, completion } = await run.final()
    const reason: 'stop' | 'maxSteps' = stopReason
    void [messages.length, steps.length, reason, completion.choices]
  })()
  // @ts-expect-error runTools sends its own tools
  client.runTools({ model: 'm', messages: [], tools: [] }, { tools: {} })
}

// A Standard Schema's output types the arguments.
{
  const client = new Client()
  client.runTools(
    { model: 'm', messages: [] },
    {
      tools: {
        add: {
          parameters: z.object({ a: z.number(), b: z.number() }),
          run: (args) => {
            const sum: number = args.a + args.b
            // @ts-expect-error the output has no c
            void args.c
            return sum
          },
        },
      },
    },
  )
}
