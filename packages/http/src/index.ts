/**
 * @morgana/http — HTTP/1.1 for Morgana over any Flow/Tcp/Stack: the hardened
 * incremental parser (RFC 9110/9112), a server with a fetch-style handler
 * (platform Request/Response, streaming both ways) and a fetch client with
 * keep-alive pooling. Browser-safe; time only from an injected Clock.
 */
export { HttpParser, ALL_LENIENT } from "./parser.js";
export type { HttpParserOptions, HttpParserHandler, LenientFlags, CallbackResult } from "./parser.js";
export { HttpMessageHead } from "./head.js";
export type { BodyKind } from "./head.js";
export { HttpParseError, statusForError } from "./errors.js";
export type { HttpErrorCode } from "./errors.js";
export { KNOWN_METHODS } from "./methods.js";
export { parseChunkExtensions, unquote } from "./chunk-ext.js";
export { parseRequestTarget } from "./target.js";
export type { RequestTarget } from "./target.js";
export { createHttpServer } from "./server.js";
export type { HttpServer, HttpServerOptions, HttpServerCloseOptions, HttpHandler, HttpRequestInfo, HttpUpgrade } from "./server.js";
export { STATUS_TEXT, httpDate } from "./wire.js";
export { createFetch } from "./client.js";
export type { FetchOptions, FetchPoolOptions, HttpFetch } from "./client.js";
