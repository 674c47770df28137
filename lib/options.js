'use strict'
// Option objects are checked by name: an unknown name is a typo (`tiemout`), not something to
// ignore silently, so it throws a TypeError naming it and, when a known name is close, the one
// that was probably meant. A leaf module: client.js, relay.js, parse.js and sse-parser.js use it.

/** Levenshtein distance, for "did you mean" (names are short: a full table is fine). */
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
    }
    previous = row
  }
  return previous[b.length]
}

/**
 * The known name `name` was probably meant to be: a case-insensitive match, else the closest
 * within an edit distance of 2; null when none is that close.
 * @param {string} name
 * @param {readonly string[]} known
 * @returns {string | null}
 */
function closestName(name, known) {
  const lower = name.toLowerCase()
  const exact = known.find((k) => k.toLowerCase() === lower)
  if (exact !== undefined) return exact
  let best = null
  let bestDistance = 3
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/**
 * Throws a TypeError for the first name of `options` that is not in `known`.
 * @param {object} options
 * @param {readonly string[]} known
 * @param {string} where what the object is, for the message (`'client option'`, `'relay option'`)
 * @param {Record<string, string>} [notYet] names the public contract lists that are not built
 *   yet, each with what to do instead: they throw "not supported yet" rather than being ignored
 */
function checkNames(options, known, where, notYet = {}) {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    if (Object.hasOwn(notYet, name))
      throw new TypeError(`streamdelta: the ${where} '${name}' is not supported yet: ${notYet[name]}`)
    const close = closestName(name, known)
    const hint = close === null ? '' : ` (did you mean '${close}'?)`
    throw new TypeError(
      `streamdelta: unknown ${where} '${name}'${hint}; known: ${known.map((k) => `'${k}'`).join(', ')}`,
    )
  }
}

module.exports = { checkNames, closestName, editDistance }
