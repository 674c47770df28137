'use strict'
// `require('streamdelta/testing')`: a mock OpenAI-compatible streaming server for tests,
// demos and benchmarks. testing.d.ts documents every option, script field and fault.

const { startMockServer } = require('./lib/testing/server')
const { DEFAULT_SCRIPT } = require('./lib/testing/script')
const { SECRET_HEADERS, REDACTED } = require('./lib/testing/recording')

module.exports = { startMockServer, DEFAULT_SCRIPT, SECRET_HEADERS: [...SECRET_HEADERS], REDACTED }
