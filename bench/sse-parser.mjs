// SseParser against eventsource-parser: bytes in, event objects out, no network.
//   node bench/sse-parser.mjs            (ROUNDS=5 by default)
// Input: the chat-100k stream (31.9 MB, 100,004 events), cut into pieces as a socket delivers
// them, 16 KiB and 64 KiB (Node reads up to 64 KiB at a time; pieces split events and, now and
// then, multi-byte characters). Each parser runs in a fresh process per round; inside it, one
// untimed warm-up pass, then PASSES timed passes per piece size.
// Every pass checks the event count and the summed data length, so nothing is skipped.
import { buildChatStream } from './chat-body.mjs'
import { runNode } from './node.mjs'
import { machineLines, median, nodeCommand, writeResults } from './report.mjs'

const CHUNKS = 100_000
const PIECE_SIZES = [16 * 1024, 64 * 1024]
const PASSES = 5

/** An eventsource-parser counting what the SseParser entry counts; `counts()` is [events, dataLength]. */
function countingParser(createParser) {
  let events = 0
  let dataLength = 0
  const parser = createParser({
    onEvent(event) {
      events++
      dataLength += event.data.length
    },
  })
  return { parser, counts: () => [events, dataLength] }
}

// Each entry: (pieces) => a function running one pass, returning [events, dataLength].
const parsers = {
  // Our JS-facing parser: bytes straight in, SseEvent objects out.
  'streamdelta SseParser': async () => {
    const { SseParser } = await import('../index.mjs')
    return (pieces) => {
      const parser = new SseParser()
      let events = 0
      let dataLength = 0
      for (const piece of pieces) {
        for (const event of parser.feed(piece)) {
          events++
          dataLength += event.data.length
        }
      }
      parser.end()
      return [events, dataLength]
    }
  },
  // What a user of eventsource-parser writes for bytes from a socket: decode, then frame.
  'eventsource-parser (bytes, TextDecoder)': async () => {
    const { createParser } = await import('eventsource-parser')
    return (pieces) => {
      const { parser, counts } = countingParser(createParser)
      const decoder = new TextDecoder()
      for (const piece of pieces) parser.feed(decoder.decode(piece, { stream: true }))
      parser.feed(decoder.decode())
      return counts()
    }
  },
  // Its framing alone, given text already decoded (not timed): the figure it is known for.
  'eventsource-parser (pre-decoded strings)': async () => {
    const { createParser } = await import('eventsource-parser')
    let texts
    return (pieces) => {
      if (!texts) {
        const decoder = new TextDecoder()
        texts = pieces.map((piece) => decoder.decode(piece, { stream: true }))
      }
      const { parser, counts } = countingParser(createParser)
      for (const text of texts) parser.feed(text)
      return counts()
    }
  },
}

/** One fresh process: per piece size, warm up, time PASSES passes; print one JSON line. */
async function runOne(name) {
  const { body } = buildChatStream(CHUNKS)
  const expectedEvents = CHUNKS + 4 // role, finish, usage, [DONE]
  const pass = await parsers[name]()
  const seconds = {}
  for (const size of PIECE_SIZES) {
    const pieces = []
    for (let at = 0; at < body.length; at += size) pieces.push(body.subarray(at, at + size))
    const [warmEvents, expectedLength] = pass(pieces)
    if (warmEvents !== expectedEvents) throw new Error(`${name}: ${warmEvents} events, expected ${expectedEvents}`)
    const times = []
    for (let i = 0; i < PASSES; i++) {
      const t0 = process.hrtime.bigint()
      const [events, dataLength] = pass(pieces)
      times.push(Number(process.hrtime.bigint() - t0) / 1e9)
      if (events !== expectedEvents || dataLength !== expectedLength) throw new Error(`${name}: pass ${i} differs`)
    }
    seconds[size] = median(times)
  }
  console.log(JSON.stringify({ name, bytes: body.length, events: expectedEvents, seconds }))
}

if (process.argv[2] === '--run') {
  await runOne(process.argv[3])
} else {
  const ROUNDS = Number(process.env.ROUNDS ?? 5)
  const names = Object.keys(parsers)
  const results = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      const r = JSON.parse(await runNode('sse-parser.mjs', ['--run', name]))
      results[name].push(r)
      console.error(
        `round ${round + 1}/${ROUNDS} ${name.padEnd(42)} ${PIECE_SIZES.map((size) => `${size / 1024} KiB: ${(r.bytes / r.seconds[size] / 1e6).toFixed(0)} MB/s`).join(', ')}`,
      )
    }
  }
  const rows = names.flatMap((name) =>
    PIECE_SIZES.map((size) => {
      const runs = results[name]
      const seconds = median(runs.map((r) => r.seconds[size]))
      return {
        name,
        pieceKiB: size / 1024,
        mbPerSec: runs[0].bytes / seconds / 1e6,
        nsPerEvent: (seconds * 1e9) / runs[0].events,
        bytes: runs[0].bytes,
      }
    }),
  )
  const row = (name, size) => rows.find((r) => r.name === name && r.pieceKiB === size / 1024)
  const bars = PIECE_SIZES.map((size) => {
    const ratio = row(names[0], size).mbPerSec / row(names[1], size).mbPerSec
    return {
      what: `SseParser no slower than eventsource-parser, bytes in, event objects out, ${size / 1024} KiB pieces`,
      ratio,
      limit: 1,
      higherIsBetter: true,
      ok: ratio >= 1,
    }
  })
  const markdown = [
    '### SseParser against eventsource-parser (no network)',
    '',
    ...machineLines(),
    `- command: \`${nodeCommand(ROUNDS)}\``,
    `- input: the chat-100k stream (${(rows[0].bytes / 1e6).toFixed(1)} MB) in ${PIECE_SIZES.map((s) => `${s / 1024} KiB`).join(' or ')} pieces; median of ${ROUNDS} fresh processes x ${PASSES} passes; both parsers start from bytes (eventsource-parser after a streaming TextDecoder, as its users must), the last row is its framing alone on text decoded beforehand`,
    '',
    '| parser | piece | MB/s | ns/event |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${r.pieceKiB} KiB | ${r.mbPerSec.toFixed(0)} | ${r.nsPerEvent.toFixed(0)} |`),
    '',
    ...bars.map((b) => `- bar: ${b.what}: ${b.ratio.toFixed(2)}x ${b.ok ? '✅' : '❌'}`),
    '',
  ].join('\n')
  console.log(markdown)
  writeResults('sse-parser', markdown, JSON.stringify({ rows, bars }, null, 2))
}
