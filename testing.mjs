// `import { startMockServer } from 'streamdelta/testing'`: the same objects as the CommonJS entry.
import cjs from './testing.js'

export const { startMockServer, DEFAULT_SCRIPT, SECRET_HEADERS, REDACTED } = cjs
export default cjs
