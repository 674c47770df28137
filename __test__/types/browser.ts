// Type-checked by `npm run test:types`: streamdelta/browser as a page uses it.
import { readRelay, RelayError, type Delta } from 'streamdelta/browser'

async function page(): Promise<void> {
  const controller = new AbortController()
  const answer = readRelay('/chat', { body: { messages: [] }, signal: controller.signal })
  answer.on('text', (text: string, snapshot: string) => console.log(text, snapshot))
  answer.on('toolCall', (call) => console.log(call.name, call.arguments))
  answer.on('error', (error) => console.log(error instanceof RelayError ? error.status : error.message))
  for await (const delta of answer) {
    const d: Delta = delta
    if (d.type === 'text') console.log(d.text)
  }
  for await (const text of readRelay(new URL('http://x/chat')).text()) console.log(text.length)
  const resumed = readRelay('/chat/c1', {
    body: { messages: [] },
    resumeUrl: '/chat/c1/stream',
    maxReconnects: 3,
    reconnectDelay: 500,
  })
  resumed.on('error', (error) => console.log(error instanceof RelayError && error.code === 'not_resumable'))
  const whole: string = await answer.finalText()
  answer.abort('stop')
  console.log(whole)
}
void page
