// `import { instrument } from 'streamdelta/otel'`: the CommonJS module, re-exported.
import otel from './otel.js'

export const { instrument } = otel
export default otel
