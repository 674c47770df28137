'use strict'
// Hosted tools on the mock's `/responses`: the script's `hosted` steps (MCP tool lists,
// approval requests and calls, web searches, generated images) and `citations`, checked like
// every other script field and played as the events OpenAI's servers send for them (the shapes
// of the recorded streams in tests/fixtures/ai-sdk). Each step is one output item, before
// the message; citations are `response.output_text.annotation.added` events after its text.

const { argumentFragments } = require('../tokens')

const STEP_KEYS = {
  mcp_list_tools: new Set(['type', 'server', 'tools']),
  mcp_approval_request: new Set(['type', 'server', 'name', 'arguments', 'id']),
  mcp_call: new Set(['type', 'server', 'name', 'arguments', 'output', 'error', 'approvalRequestId']),
  web_search: new Set(['type', 'query', 'sources']),
  image_generation: new Set(['type', 'partials', 'result', 'format']),
}
const CITATION_KEYS = new Set(['url', 'title', 'start', 'end', 'fileId', 'filename', 'index'])

function fail(where, message) {
  throw new TypeError(`streamdelta mock: ${where}${message}`)
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function checkKeys(value, allowed, where) {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) fail(where, ` has an unknown key '${key}' (known: ${[...allowed].join(', ')})`)
  }
}

function text(value, where, { optional = false } = {}) {
  if (value === undefined && optional) return undefined
  if (typeof value !== 'string' || value === '') fail(where, ' must be a non-empty string')
  return value
}

function jsonText(value, where) {
  if (value === undefined) return '{}'
  if (typeof value === 'string') return value
  if (!isObject(value)) fail(where, ' must be a JSON string or an object')
  return JSON.stringify(value)
}

/** The script's `hosted` steps, checked (a TypeError naming the field for anything wrong). */
function hostedSteps(value, where) {
  if (value === undefined) return []
  if (!Array.isArray(value)) fail(where, ` must be an array of steps (${Object.keys(STEP_KEYS).join(', ')})`)
  return value.map((step, i) => {
    const at = `${where}[${i}]`
    if (!isObject(step) || !Object.hasOwn(STEP_KEYS, step.type))
      fail(at, `.type must be one of ${Object.keys(STEP_KEYS).join(', ')}`)
    checkKeys(step, STEP_KEYS[step.type], at)
    switch (step.type) {
      case 'mcp_list_tools': {
        if (!Array.isArray(step.tools)) fail(at, '.tools must be an array of { name, description?, input_schema? }')
        for (const [n, tool] of step.tools.entries())
          if (!isObject(tool) || typeof tool.name !== 'string') fail(`${at}.tools[${n}]`, ' must be { name, ... }')
        return { type: step.type, server: text(step.server, `${at}.server`), tools: step.tools }
      }
      case 'mcp_approval_request':
        return {
          type: step.type,
          server: text(step.server, `${at}.server`),
          name: text(step.name, `${at}.name`),
          arguments: jsonText(step.arguments, `${at}.arguments`),
          id: text(step.id, `${at}.id`, { optional: true }),
        }
      case 'mcp_call': {
        if (step.output !== undefined && typeof step.output !== 'string') fail(at, '.output must be a string')
        if (step.error !== undefined && !isObject(step.error) && typeof step.error !== 'string')
          fail(at, '.error must be a string or an object')
        if (step.output !== undefined && step.error !== undefined) fail(at, ' sets both output and error')
        return {
          type: step.type,
          server: text(step.server, `${at}.server`),
          name: text(step.name, `${at}.name`),
          arguments: jsonText(step.arguments, `${at}.arguments`),
          output: step.output ?? null,
          error: step.error ?? null,
          approvalRequestId: text(step.approvalRequestId, `${at}.approvalRequestId`, { optional: true }) ?? null,
        }
      }
      case 'web_search': {
        const sources = step.sources ?? []
        if (!Array.isArray(sources) || !sources.every((s) => typeof s === 'string'))
          fail(at, '.sources must be an array of URLs')
        return { type: step.type, query: text(step.query, `${at}.query`), sources }
      }
      case 'image_generation': {
        const partials = step.partials ?? []
        if (!Array.isArray(partials) || !partials.every((p) => typeof p === 'string'))
          fail(at, '.partials must be an array of base64 strings')
        const format = step.format ?? 'png'
        if (!['png', 'jpeg', 'webp'].includes(format)) fail(at, ".format must be 'png', 'jpeg' or 'webp'")
        return { type: step.type, partials, result: text(step.result, `${at}.result`), format }
      }
      default:
        return fail(at, '.type is not a step type')
    }
  })
}

/** The script's `citations`, checked: url citations `{ url, title?, start?, end? }` or file citations `{ fileId, filename?, index? }`. */
function citationList(value, where) {
  if (value === undefined) return []
  if (!Array.isArray(value))
    fail(where, ' must be an array of { url, title?, start?, end? } or { fileId, filename?, index? }')
  return value.map((c, i) => {
    const at = `${where}[${i}]`
    if (!isObject(c)) fail(at, ' must be an object')
    checkKeys(c, CITATION_KEYS, at)
    for (const key of ['start', 'end', 'index'])
      if (c[key] !== undefined && (!Number.isInteger(c[key]) || c[key] < 0)) fail(at, `.${key} must be an integer >= 0`)
    if (c.url !== undefined) {
      text(c.url, `${at}.url`)
      return {
        type: 'url_citation',
        start_index: c.start ?? 0,
        end_index: c.end ?? 0,
        title: c.title ?? c.url,
        url: c.url,
      }
    }
    return {
      type: 'file_citation',
      file_id: text(c.fileId, `${at}.fileId (or .url)`),
      filename: c.filename ?? c.fileId,
      index: c.index ?? 0,
    }
  })
}

/** The id prefix of each step's output item, as OpenAI's look. */
const PREFIX = {
  mcp_list_tools: 'mcpl',
  mcp_approval_request: 'mcpr',
  mcp_call: 'mcp',
  web_search: 'ws',
  image_generation: 'ig',
}

function stepPrefix(step) {
  return PREFIX[step.type]
}

/**
 * The events of one step at `output_index`, through `event(type, fields)` (which numbers them
 * and gives null for those a resume skips); the finished item is pushed to `output`.
 */
function* stepFrames(step, id, output, event) {
  const output_index = output.length
  const item_id = step.id ?? id
  // Thunks: the events are numbered in the order they are written, after the item's `added`.
  const status =
    (suffix, extra = {}) =>
    () =>
      event(`response.${suffix}`, { output_index, item_id, ...extra })
  let head
  let item
  const frames = []
  switch (step.type) {
    case 'mcp_list_tools':
      head = { id: item_id, type: 'mcp_list_tools', server_label: step.server, tools: [] }
      item = { ...head, tools: step.tools }
      frames.push(status('mcp_list_tools.in_progress'), status('mcp_list_tools.completed'))
      break
    case 'mcp_approval_request':
      head = {
        id: item_id,
        type: 'mcp_approval_request',
        arguments: step.arguments,
        name: step.name,
        server_label: step.server,
      }
      item = head
      break
    case 'mcp_call': {
      const base = {
        id: item_id,
        type: 'mcp_call',
        approval_request_id: step.approvalRequestId,
        arguments: '',
        error: null,
        name: step.name,
        output: null,
        server_label: step.server,
      }
      head = { ...base, status: 'in_progress' }
      frames.push(status('mcp_call.in_progress'))
      for (const delta of argumentFragments(step.arguments)) frames.push(status('mcp_call_arguments.delta', { delta }))
      frames.push(status('mcp_call_arguments.done', { arguments: step.arguments }))
      const failed = step.error !== null
      frames.push(status(failed ? 'mcp_call.failed' : 'mcp_call.completed'))
      item = {
        ...base,
        status: failed ? 'failed' : 'completed',
        arguments: step.arguments,
        output: step.output,
        error: step.error,
      }
      break
    }
    case 'web_search':
      head = { id: item_id, type: 'web_search_call', status: 'in_progress' }
      frames.push(
        status('web_search_call.in_progress'),
        status('web_search_call.searching'),
        status('web_search_call.completed'),
      )
      item = {
        id: item_id,
        type: 'web_search_call',
        status: 'completed',
        action: { type: 'search', query: step.query, sources: step.sources.map((url) => ({ type: 'url', url })) },
      }
      break
    case 'image_generation':
      head = { id: item_id, type: 'image_generation_call', status: 'in_progress' }
      frames.push(status('image_generation_call.in_progress'), status('image_generation_call.generating'))
      for (const [n, b64] of step.partials.entries())
        frames.push(
          status('image_generation_call.partial_image', {
            partial_image_index: n,
            partial_image_b64: b64,
            output_format: step.format,
          }),
        )
      frames.push(status('image_generation_call.completed'))
      item = {
        id: item_id,
        type: 'image_generation_call',
        status: 'completed',
        output_format: step.format,
        result: step.result,
      }
      break
  }
  yield event('response.output_item.added', { output_index, item: head })
  for (const frame of frames) yield frame()
  output.push(item)
  yield event('response.output_item.done', { output_index, item })
}

module.exports = { hostedSteps, citationList, stepFrames, stepPrefix }
