'use strict'
// `require('streamdelta/otel')`: OpenTelemetry instrumentation (lib/otel.js; types in otel.d.ts).
module.exports = require('./lib/otel')
