// The React page of /ai-sdk: the AI SDK's useChat (DefaultChatTransport, its default) posting
// to /api/chat, which streamdelta relays in the `ai-sdk` format. The server bundles this file
// with esbuild (server.mjs); nothing here knows about streamdelta.
import { useState } from 'react'
import { createRoot } from 'react-dom/client'
import { useChat } from '@ai-sdk/react'
import { DefaultChatTransport } from 'ai'

/** One chat id per tab, kept across reloads so that `resume` finds an answer still coming. */
function chatId() {
  let id = sessionStorage.getItem('streamdelta-ai-sdk-chat')
  if (!id) sessionStorage.setItem('streamdelta-ai-sdk-chat', (id = crypto.randomUUID()))
  return id
}

function App({ id }) {
  const { messages, sendMessage, status, stop, error } = useChat({
    id,
    transport: new DefaultChatTransport({ api: '/api/chat' }),
    // On load: GET /api/chat/{id}/stream (204, nothing to resume, unless an answer is coming).
    resume: true,
  })
  const [input, setInput] = useState('Tell me about streaming.')
  const busy = status === 'submitted' || status === 'streaming'
  return (
    <>
      <form
        id="ask"
        onSubmit={(event) => {
          event.preventDefault()
          sendMessage({ text: input })
        }}
      >
        <input id="prompt" value={input} onChange={(event) => setInput(event.target.value)} aria-label="Prompt" />
        <button id="send" type="submit" disabled={busy}>
          Send
        </button>
        <button
          id="stop"
          type="button"
          disabled={!busy}
          onClick={() => {
            stop()
            // A resumable relay keeps going without its reader: cancel it (404 when not resumable).
            fetch(`/chat/${id}/cancel`, { method: 'POST' }).catch(() => {})
          }}
        >
          Stop
        </button>
      </form>
      {messages.map((message) => (
        <div key={message.id} className="message" data-role={message.role}>
          {message.parts.map((part, i) => (part.type === 'text' ? <span key={i}>{part.text}</span> : null))}
        </div>
      ))}
      <p id="status" data-state={error ? 'error' : status}>
        {error ? `Error: ${error.message}` : status}
      </p>
    </>
  )
}

createRoot(document.getElementById('root')).render(<App id={chatId()} />)
