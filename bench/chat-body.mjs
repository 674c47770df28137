// The benchmark's chat stream: N content chunks shaped like OpenAI's (ids, obfuscation
// padding, logprobs: null, a role chunk, a finish chunk, a usage chunk, [DONE]), built
// deterministically so every run and every scenario sends the same bytes.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** A small deterministic PRNG (mulberry32) from `seed`, so every run sends the same bytes:
 *  `random()` in [0, 1) and `randomString(length)` of letters and digits, one draw a character. */
export function seededRandom(seed) {
  function random() {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  function randomString(length) {
    let s = ''
    for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)]
    return s
  }
  return { random, randomString }
}

/** `{ body: Buffer, text: string }`: the SSE bytes and choice 0's whole content. */
export function buildChatStream(N) {
  const { random, randomString } = seededRandom(42)

  // Tokens as a tokenizer emits them: mostly ASCII words with a leading space, some
  // punctuation and newlines, and multi-byte text (2-, 3- and 4-byte UTF-8) plus JSON escapes.
  const TOKENS = [
    ' the',
    ' of',
    ' and',
    ' to',
    ' a',
    ' in',
    ' stream',
    ' token',
    'ing',
    ',',
    '.',
    '\n\n',
    ' héllo',
    ' café',
    ' naïve',
    ' 日本',
    '語',
    ' 東京',
    ' 🙂',
    '🚀',
    ' "quoted"',
    ' tab\t',
    ' back\\slash',
    ' Rust',
    ' Node',
    '.js',
    ' model',
    ' response',
    ' because',
    ' however',
    ' 12',
    '34',
  ]

  const id = `chatcmpl-${randomString(29)}`
  const created = 1767225600 // 2026-01-01T00:00:00Z
  const model = 'gpt-4o-mini-2024-07-18'
  const fingerprint = 'fp_' + randomString(10).toLowerCase()

  /** One chunk, with OpenAI's key order; `obfuscation` pads it as OpenAI does. */
  function chunk(choices, extra = {}) {
    return JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: fingerprint,
      choices,
      ...extra,
      obfuscation: randomString(2 + Math.floor(random() * 14)),
    })
  }
  const choice = (delta, finish_reason = null) => [{ index: 0, delta, logprobs: null, finish_reason }]

  const events = [chunk(choice({ role: 'assistant', content: '', refusal: null }))]
  let text = ''
  for (let i = 0; i < N; i++) {
    const token = TOKENS[Math.floor(random() * TOKENS.length)]
    text += token
    events.push(chunk(choice({ content: token })))
  }
  events.push(chunk(choice({}, 'stop')))
  events.push(
    chunk([], {
      usage: {
        prompt_tokens: 21,
        completion_tokens: N,
        total_tokens: N + 21,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
    }),
  )
  const body = Buffer.from(events.map((e) => `data: ${e}\n\n`).join('') + 'data: [DONE]\n\n', 'utf8')
  return { body, text }
}
