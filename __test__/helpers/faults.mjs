// A local node:http server for fault tests, plus the watchers a fault row needs: it records
// each request with its arrival time and each response's fate (finished by the server, or
// closed before that), and keeps the socket set so a test can wait until the server sees
// every socket closed.
//
// `waitForNoSockets` closes idle keep-alive sockets from the server side as it polls
// (`server.closeIdleConnections()`): a connection the client returned to its pool after a
// complete response is not a leak. A socket with a response still in flight is never closed
// by the server, so it stays open (and fails `waitForNoSockets`) unless the client closes it.
import http from 'node:http'
import { once } from 'node:events'
import { setImmediate as turn } from 'node:timers/promises'
import { freePort } from './server.mjs'

/**
 * @param {(req: http.IncomingMessage, res: http.ServerResponse, server: object) => void} handler
 */
export async function startFaultServer(handler) {
  const sockets = new Set()
  /** `{ at, method, url, headers, body, finished, closedEarly, serverClosed }` per request. */
  const requests = []
  const state = {
    url: '',
    requests,
    sockets,
    /** Resolves once no socket is open; rejects after `ms` naming what is still open. */
    async waitForNoSockets(ms = 2000) {
      const deadline = Date.now() + ms
      while (sockets.size > 0) {
        server.closeIdleConnections()
        if (Date.now() > deadline) {
          const open = requests.filter((r) => !r.finished && !r.closedEarly).length
          throw new Error(`${sockets.size} socket(s) still open after ${ms} ms (${open} response(s) still in flight)`)
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
  const server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const record = {
      at: performance.now(),
      method: req.method,
      url: req.url,
      headers: req.headers,
      body,
      finished: false,
      closedEarly: false,
      serverClosed: false,
    }
    requests.push(record)
    res.on('finish', () => (record.finished = true))
    res.on('close', () => {
      if (!record.finished) record.closedEarly = true
    })
    res.streamdeltaRecord = record
    try {
      await handler(req, res, state)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(error))
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  state.url = `http://127.0.0.1:${server.address().port}/v1`
  return state
}

/** Closes the connection from the server side (FIN), marking the response as closed by us. */
export function dropConnection(res) {
  res.streamdeltaRecord.serverClosed = true
  res.socket.destroy()
}

/** Resets the connection from the server side (TCP RST where Node supports it). */
export function resetConnection(res) {
  res.streamdeltaRecord.serverClosed = true
  if (typeof res.socket.resetAndDestroy === 'function') res.socket.resetAndDestroy()
  else res.socket.destroy()
}

/** A base URL on 127.0.0.1 where nothing listens (the port was just released). */
export async function refusedURL() {
  return `http://127.0.0.1:${await freePort()}/v1`
}

/**
 * Collects unhandled rejections (and uncaught exceptions) until `stop()`, which first lets a
 * few event-loop turns pass so late ones surface, then returns what was seen.
 */
export function watchUnhandled() {
  const seen = []
  const onRejection = (reason) => seen.push(`unhandledRejection: ${reason?.stack ?? reason}`)
  const onException = (error) => seen.push(`uncaughtException: ${error?.stack ?? error}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  return {
    async stop() {
      for (let i = 0; i < 5; i++) await turn()
      await new Promise((resolve) => setTimeout(resolve, 20))
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
      return seen
    },
  }
}

/** Writes bytes as separate TCP writes (a turn of the event loop between them). */
export async function writeApart(res, pieces) {
  for (const piece of pieces) {
    if (res.destroyed) return
    res.write(piece)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
