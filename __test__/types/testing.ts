// Type-checked with example.ts: the testing kit used the way a test suite would, so a wrong
// or missing declaration in testing.d.ts fails `npm run test:types`.
import { Client } from 'streamdelta'
import {
  startMockServer,
  DEFAULT_SCRIPT,
  REDACTED,
  type MockScript,
  type MockFault,
  type MockRecordedRequest,
  type MockServer,
} from 'streamdelta/testing'

const faults: MockFault[] = [
  { status: 429, headers: { 'retry-after': '2' }, times: 1 },
  { status: 500, body: 'upstream exploded' },
  { status: 400, error: { message: 'bad', param: 'messages', code: 'invalid' } },
  { dropAfter: 3 },
  { stallAfter: 0 },
  { malformedAfter: 2, line: '{"id":' },
  { errorAfter: 1, error: { message: 'overloaded', code: 'overloaded' } },
  { emptyBody: true },
]

const scripts: Record<string, MockScript> = {
  'gpt-4o-mini': { text: 'Hello there', ttftMs: 50, intervalMs: 10, usage: true },
  tools: {
    toolCalls: [
      { name: 'get_weather', arguments: { city: 'Paris' } },
      { name: 'noop', arguments: '{}', id: 'call_1' },
    ],
  },
  agent: {
    hosted: [
      { type: 'mcp_list_tools', server: 'zip', tools: [{ name: 'shorten' }] },
      { type: 'mcp_approval_request', server: 'zip', name: 'shorten', arguments: { url: 'https://a.example/' } },
      { type: 'mcp_call', server: 'zip', name: 'shorten', output: 'ok', approvalRequestId: 'mcpr_1' },
      { type: 'web_search', query: 'news', sources: ['https://a.example/'] },
      { type: 'image_generation', partials: ['AA=='], result: 'BB==', format: 'webp' },
    ],
    text: 'Done.',
    citations: [
      { url: 'https://a.example/', title: 'A', start: 0, end: 4 },
      { fileId: 'file-1', index: 2 },
    ],
  },
  thinking: { reasoning: ['Let', ' me', ' think'], reasoningField: 'reasoning', text: ['4'], finishReason: 'stop' },
  two: { choices: [{ text: 'a' }, { refusal: 'no', finishReason: 'content_filter' }] },
  many: {
    text: [' token'],
    repeat: 100_000,
    n: 1,
    model: 'bench',
    id: 'chatcmpl-bench',
    headers: { 'x-request-id': 'req_1' },
  },
  raw: {
    raw: [{ choices: [{ index: 0, delta: { content: null } }] }, ': ping\n\n', 'data: [DONE]\n\n'],
    headersDelayMs: 5,
  },
  failing: { text: 'x', fault: faults[0] },
  default: DEFAULT_SCRIPT,
}

async function main(): Promise<void> {
  const mock: MockServer = await startMockServer({
    port: 0,
    scripts,
    apiKey: 'sk-test',
    record: true,
    onRequest: (request: MockRecordedRequest) => void request.path,
  })
  const perRequest = await startMockServer({ script: (request) => (request.model === 'a' ? { text: 'A' } : undefined) })
  const client = new Client({ baseURL: mock.url, apiKey: 'sk-test' })
  const text: string = await client
    .chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .finalText()
  const first: MockRecordedRequest | undefined = mock.requests[0]
  const redacted: boolean = first?.headers.authorization === REDACTED
  const endpoint: 'chat' | 'responses' | 'completions' | 'resume' | 'models' | null = first?.endpoint ?? null
  const closed: Promise<void> | undefined = first?.closed
  const open: number = mock.connections
  mock.scripts.later = { text: 'added later' }
  void [text, redacted, endpoint, closed, open, mock.port, mock.url]
  await perRequest[Symbol.asyncDispose]()
  await mock.close()
}

void main
