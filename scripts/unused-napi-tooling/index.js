'use strict'
throw new Error('streamdelta does not use @napi-rs/cli cross-compiling or wasm tooling (see README, Development)')
