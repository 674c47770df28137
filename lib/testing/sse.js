'use strict'
// Server-Sent Events framing: one string per event, ready to write.

const DONE = 'data: [DONE]\n\n'

/** `data: <json>\n\n` */
function dataFrame(value) {
  return `data: ${JSON.stringify(value)}\n\n`
}

/** `event: <name>\ndata: <json>\n\n` */
function eventFrame(name, value) {
  return `event: ${name}\ndata: ${JSON.stringify(value)}\n\n`
}

module.exports = { DONE, dataFrame, eventFrame }
