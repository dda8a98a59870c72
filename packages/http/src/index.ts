/**
 * @morgana/http — HTTP/1.1 for Morgana. This release: the hardened
 * incremental parser (RFC 9110/9112) that the server and the fetch client
 * build on.
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
