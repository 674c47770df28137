// ES module entry: the same objects as the CommonJS entry, so `instanceof` agrees across both.
import cjs from './index.js'

export const {
  Client,
  BaseStream,
  ChatStream,
  ResponseStream,
  CompletionStream,
  ToolRunStream,
  parseChatStream,
  parseResponseStream,
  parseCompletionStream,
  SseParser,
  RelayStore,
  toChatMessages,
  toResponseInput,
  StreamDeltaError,
  APIError,
  AuthenticationError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
  AbortError,
  StreamError,
  ParseError,
  IncompleteStreamError,
} = cjs
export default cjs
