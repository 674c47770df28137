#!/usr/bin/env bash
# Proves the published package works without a Rust toolchain: pack it, install the tarball
# into an empty folder with PATH stripped of cargo, and load it from CommonJS and ESM.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -n 1)"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund "./$tarball" >/dev/null
node_bin="$(command -v node)"
env -i PATH="$(dirname "$node_bin")" HOME="$work" "$node_bin" -e "
  const sd = require('streamdelta')
  if (typeof sd.Client !== 'function' || typeof sd.SseParser !== 'function') throw new Error('exports missing')
  const events = new sd.SseParser().feed(Buffer.from('data: hi\n\n'))
  if (events[0].data !== 'hi') throw new Error('parser did not work')
  console.log('require(streamdelta) works from the tarball')
"
env -i PATH="$(dirname "$node_bin")" HOME="$work" "$node_bin" --input-type=module -e "
  import { Client } from 'streamdelta'
  if (typeof Client !== 'function') throw new Error('ESM export missing')
  console.log('import { Client } from streamdelta works from the tarball')
"
