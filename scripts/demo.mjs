// `npm run demo`: `streamdelta chat` with a default prompt (bin/streamdelta.js does the work).
// Without OPENAI_API_KEY it answers from the built-in mock server (streamdelta/testing), so a
// fresh clone shows tokens flowing with no key; with it, from OPENAI_BASE_URL (default
// https://api.openai.com/v1) and OPENAI_MODEL (default gpt-4o-mini).
//   npm run demo                      the default prompt
//   npm run demo -- "your question"   another prompt
import { createRequire } from 'node:module'

const { main, DEMO_PROMPT } = createRequire(import.meta.url)('../bin/streamdelta.js')

const prompt = process.argv.slice(2).join(' ') || DEMO_PROMPT
process.exitCode = await main(['chat', prompt])
