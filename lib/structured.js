'use strict'
// `objects()`: each snapshot of choice 0's content parsed as JSON, built from the previous one
// by the engine's patch lists (src/openai/partial_json.rs). A batch costs what it changed: the
// containers along each changed path are copied once per batch (so a snapshot already handed
// out never changes, and unchanged subtrees stay the same objects), everything else is shared.
//
// Patches: `[0, path, value]` sets (an index one past the end pushes), `[1, path, text]`
// appends to a string, `[2, position, reason]` says the text is not JSON.

class ObjectBuilder {
  /** The snapshot so far (`undefined`: nothing yet). */
  value = undefined
  /** Why the content is not JSON, once it is known: `{ position, reason }`. */
  error = null
  /** Containers made during the current batch: not handed out yet, so changed in place. */
  #fresh = new WeakSet()

  /**
   * Applies one batch's patches (the JSON text of their array).
   * @param {string} json
   * @returns {boolean} whether the snapshot changed
   */
  apply(json) {
    if (this.error !== null) return false
    const patches = JSON.parse(json)
    this.#fresh = new WeakSet()
    let changed = false
    for (const [op, path, value] of patches) {
      if (op === 2) {
        this.error = { position: path, reason: value }
        return changed
      }
      changed = true
      if (path.length === 0) {
        this.value = op === 0 ? value : this.value + value
        if (op === 0 && value !== null && typeof value === 'object') this.#fresh.add(value)
        continue
      }
      this.value = this.#writable(this.value)
      let node = this.value
      const last = path.length - 1
      for (let i = 0; i < last; i++) {
        const child = this.#writable(node[path[i]])
        put(node, path[i], child)
        node = child
      }
      const key = path[last]
      if (op === 0) {
        put(node, key, value)
        if (value !== null && typeof value === 'object') this.#fresh.add(value)
      } else {
        put(node, key, node[key] + value)
      }
    }
    return changed
  }

  #writable(node) {
    if (this.#fresh.has(node)) return node
    const copy = Array.isArray(node) ? node.slice() : { ...node }
    this.#fresh.add(copy)
    return copy
  }
}

/** `node[key] = value`, where a `__proto__` key is an own property as JSON.parse makes it. */
function put(node, key, value) {
  if (key === '__proto__')
    Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true })
  else node[key] = value
}

/**
 * Whether a request body asks for JSON output: chat `response_format`, responses `text.format`
 * of type `json_schema` or `json_object`.
 * @param {any} body
 */
function asksForJson(body) {
  const format = body?.response_format ?? body?.text?.format
  return format?.type === 'json_schema' || format?.type === 'json_object'
}

/**
 * The `schema` request option: anything implementing Standard Schema (`~standard.validate`).
 * @param {unknown} schema
 */
function checkSchema(schema) {
  const standard =
    schema != null && (typeof schema === 'object' || typeof schema === 'function') ? schema['~standard'] : undefined
  if (standard == null || typeof standard.validate !== 'function')
    throw new TypeError(
      "streamdelta: options.schema must be a Standard Schema (an object with '~standard'.validate, as zod, valibot and arktype make)",
    )
}

/** A Standard Schema issue path as text (`items.0.name`). */
function issuePath(issue) {
  if (!Array.isArray(issue.path) || issue.path.length === 0) return ''
  return issue.path.map((p) => (p !== null && typeof p === 'object' ? String(p.key) : String(p))).join('.')
}

/** The message of a schema failure, listing the issues. */
function issuesMessage(issues) {
  const listed = issues.slice(0, 10).map((issue) => {
    const at = issuePath(issue)
    return at === '' ? issue.message : `${at}: ${issue.message}`
  })
  const more = issues.length > 10 ? `; and ${issues.length - 10} more` : ''
  return `the parsed value does not match the schema: ${listed.join('; ')}${more}`
}

module.exports = { ObjectBuilder, asksForJson, checkSchema, issuesMessage }
