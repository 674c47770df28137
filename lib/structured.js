'use strict'
// `objects()`: each snapshot of choice 0's content parsed as JSON, built from the engine's patch
// lists (src/openai/partial_json.rs) in time linear in the text.
//
// A JSON text is read front to back, so at any moment only the last member of each open
// container can still change: the open containers form one path from the root (the spine), and
// every patch lands on it. The builder keeps the spine's containers and applies each patch in
// O(depth), in place, to containers no snapshot holds yet. Handing a snapshot out costs nothing;
// the next patch after it copies the spine's containers once (a shallow copy: their finished
// members stay shared), so a snapshot already handed out never changes and every subtree that
// did not change is the same object in the next snapshot.
//
// That copy costs the spine's width (a wide array is copied whole). So that the total stays
// linear, a snapshot is handed out only once the patches read since the last one are at least
// as long (in characters) as the spine is wide; the rest of the time the batch's changes wait
// for a later batch (or `flushDelay`, or the end). Small values (the spine at most
// SMALL_WIDTH members) get a snapshot for every batch that changed them.
//
// Patches: `[0, path, value]` sets (an index one past the end pushes), `[1, path, text]`
// appends to a string, `[2, position, reason]` says the text is not JSON.

/** Up to this many members along the spine, every changed batch gets its own snapshot. */
const SMALL_WIDTH = 1024

class ObjectBuilder {
  /** The value so far (`undefined`: nothing yet). Once handed out (`take()`), never changed. */
  value = undefined
  /** Why the content is not JSON, once it is known: `{ position, reason }`. */
  error = null
  /** Changes not handed out yet. */
  pending = false
  /** The open containers, root first; `#keys[i]` is where `#spine[i + 1]` sits in `#spine[i]`. */
  #spine = []
  #keys = []
  /** How many members each spine container has (what copying it costs). */
  #widths = []
  /** `#spine[0 .. #owned)` were copied (or made) since the last snapshot: changed in place. */
  #owned = 0
  /** Characters of patches read since the last snapshot. */
  #credit = 0

  /**
   * Applies one batch's patches (the JSON text of their array).
   * @param {string} json
   */
  apply(json) {
    if (this.error !== null) return
    this.#credit += json.length
    for (const patch of JSON.parse(json)) {
      const op = patch[0]
      if (op === 2) {
        this.error = { position: patch[1], reason: patch[2] }
        return
      }
      this.pending = true
      const path = patch[1]
      const value = patch[2]
      if (path.length === 0) {
        if (op === 0) this.#setRoot(value)
        else this.value += value
        continue
      }
      const depth = path.length - 1
      const node = this.#reach(path, depth)
      const key = path[depth]
      if (op === 1) {
        put(node, key, node[key] + value)
        continue
      }
      put(node, key, value)
      this.#widths[depth]++
      if (value !== null && typeof value === 'object') {
        // A container just opened (fresh from JSON.parse: nobody holds it yet).
        this.#keys[depth] = key
        this.#spine.push(value)
        this.#widths.push(width(value))
        this.#owned = this.#spine.length
      }
    }
  }

  /** Whether the pending changes should be handed out now (see the file comment). */
  ready() {
    if (!this.pending) return false
    let spineWidth = 0
    for (const w of this.#widths) spineWidth += w
    return spineWidth <= SMALL_WIDTH || this.#credit >= spineWidth
  }

  /** Hands the value out: from now on it never changes (the next patch copies the spine). */
  take() {
    this.pending = false
    this.#owned = 0
    this.#credit = 0
    return this.value
  }

  #setRoot(value) {
    this.value = value
    const container = value !== null && typeof value === 'object'
    this.#spine = container ? [value] : []
    this.#keys = []
    this.#widths = container ? [width(value)] : []
    this.#owned = this.#spine.length
  }

  /**
   * The container at `path[0 .. depth)`, which the patch changes: the spine is cut where it
   * leaves the path (the containers below have closed) and extended along it (a container the
   * engine sent whole, in a `[0, path, value]`, is entered here), and the containers down to it
   * are made ours to change.
   */
  #reach(path, depth) {
    if (this.#spine.length === 0) this.#setRoot(this.value)
    const spine = this.#spine
    const keys = this.#keys
    const widths = this.#widths
    // spine[0 .. match) lie on the path.
    let match = 1
    while (match < spine.length && match <= depth && keys[match - 1] === path[match - 1]) match++
    if (spine.length > match) {
      spine.length = match
      widths.length = match
      if (this.#owned > match) this.#owned = match
    }
    for (let i = match; i <= depth; i++) {
      const child = spine[i - 1][path[i - 1]]
      keys[i - 1] = path[i - 1]
      spine.push(child)
      widths.push(width(child))
    }
    for (let i = this.#owned; i <= depth; i++) {
      const copy = Array.isArray(spine[i]) ? spine[i].slice() : { ...spine[i] }
      if (i === 0) this.value = copy
      else put(spine[i - 1], keys[i - 1], copy)
      spine[i] = copy
    }
    if (this.#owned <= depth) this.#owned = depth + 1
    return spine[depth]
  }
}

function width(container) {
  return Array.isArray(container) ? container.length : Object.keys(container).length
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
