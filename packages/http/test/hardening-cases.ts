/**
 * The hardening inputs of /work/shared/reference/dns-http.md §2.5, one table
 * shared by the parser test (hardening.test.ts) and the end-to-end server
 * test (server-hardening.test.ts). Each request input is followed by a
 * smuggled request (`GET /smuggled`) that must never be seen.
 */
import type { HttpErrorCode } from "../src/index.js";

export const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n";

export interface Case {
  name: string;
  input: string;
  code: HttpErrorCode;
  kind?: "request" | "response";
  /** Messages that must still complete before the error (targets or statuses). */
  before?: Array<string | number>;
  finish?: boolean;
}

export const req = (head: string, body = ""): string => `${head}\r\n\r\n${body}${SMUGGLED}`;

export const classes: Record<string, Case[]> = {
  "1. Content-Length together with Transfer-Encoding (requests)": [
    { name: "CL then TE", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked", "0\r\n\r\n"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "TE then CL", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6", "0\r\n\r\n"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "TE identity + CL", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 3", "abc"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "empty TE + CL", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nContent-Length: 3", "abc"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
  ],
  "2. malformed Content-Length": [
    { name: "duplicate, same value", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3", "abc"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "conflicting", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40", "abc"), code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "list form", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3", "abc"), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "plus sign", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3", "abc"), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "negative", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1", ""), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "hex", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3", "abc"), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "underscore", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0", "abcdefghij"), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "empty", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:", ""), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "inner whitespace", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0", "abcdefghij"), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "CR in place of a digit", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r0", "a"), code: "HPE_LF_EXPECTED" },
    { name: "overflow (> 2^53)", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551617", ""), code: "HPE_INVALID_CONTENT_LENGTH" },
    { name: "NBSP around the value", input: req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xa03", "abc"), code: "HPE_INVALID_CONTENT_LENGTH" },
  ],
  "3. Transfer-Encoding whose final coding is not chunked (requests)": [
    { name: "chunked, gzip", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "chunkedchunked", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedchunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: ",chunked (empty list element)", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "chunked twice in repeated fields", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "chunked then another field", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "unknown coding named like chunked", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "identity", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity", ""), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "\\xa0 before chunked", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \xa0chunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "\\x85 after chunked", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x85", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
    { name: "TE in an HTTP/1.0 request", input: req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked", "0\r\n\r\n"), code: "HPE_INVALID_TRANSFER_ENCODING" },
  ],
  "4. chunk framing": [
    { name: "non-hex size", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "g\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "0x prefix", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "0x5\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "plus sign", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "+5\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "minus sign", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "-5\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "leading whitespace", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", " 5\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "empty size", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "size overflow", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "fffffffffffffffff\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "bare LF after the size", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5\nhello\r\n0\r\n\r\n"), code: "HPE_CR_EXPECTED" },
    { name: "CR then junk after the size", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5\rXhello\r\n0\r\n\r\n"), code: "HPE_LF_EXPECTED" },
    { name: "missing CRLF after data", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5\r\nhelloX\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    { name: "bare LF after data", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5\r\nhello\n0\r\n\r\n"), code: "HPE_CR_EXPECTED" },
    { name: "control character in a chunk extension", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5;a\x01b\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_EXTENSION" },
    { name: "unbalanced quotes in a chunk extension", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", '5;a="b\r\nhello\r\n0\r\n\r\n'), code: "HPE_INVALID_CHUNK_EXTENSION" },
    { name: "empty chunk-extension name", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5;\r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_EXTENSION" },
    { name: "spaces after the size (strict)", input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", "5 \r\nhello\r\n0\r\n\r\n"), code: "HPE_INVALID_CHUNK_SIZE" },
    {
      name: "chunk extensions over 16 KiB",
      input: req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", `5;a=${"x".repeat(17000)}\r\nhello\r\n0\r\n\r\n`),
      code: "HPE_CHUNK_EXTENSIONS_OVERFLOW",
    },
    { name: "missing last-chunk (stream ends)", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", code: "HPE_INVALID_EOF_STATE", finish: true },
  ],
  "5. line endings": [
    { name: "bare CR in the request line", input: req("GET /\rx HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_VERSION" },
    { name: "bare CR after the request line", input: req("GET / HTTP/1.1\rHost: a"), code: "HPE_LF_EXPECTED" },
    { name: "bare CR ending a header line", input: req("GET / HTTP/1.1\r\nHost: a\rX: y"), code: "HPE_LF_EXPECTED" },
    { name: "bare LF ending the request line", input: req("GET / HTTP/1.1\nHost: a"), code: "HPE_CR_EXPECTED" },
    { name: "bare LF ending a header line", input: req("GET / HTTP/1.1\r\nHost: a\nContent-Length: 5"), code: "HPE_CR_EXPECTED" },
    { name: "bare LF ending the header section", input: "GET / HTTP/1.1\r\nHost: a\r\n\n" + SMUGGLED, code: "HPE_CR_EXPECTED" },
    { name: "\\r\\n\\rX ending the headers", input: "GET / HTTP/1.1\r\nHost: a\r\n\rX" + SMUGGLED, code: "HPE_LF_EXPECTED" },
  ],
  "6. field names": [
    { name: "empty name", input: req("GET / HTTP/1.1\r\nHost: a\r\n: x"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "SP before the colon", input: req("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "HTAB before the colon", input: req("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "NUL in the name", input: req("GET / HTTP/1.1\r\nHost: a\r\nFo\0o: x"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "obs-text in the name", input: req("GET / HTTP/1.1\r\nHost: a\r\nF\xe9o: x"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "whitespace before the first header", input: req("GET / HTTP/1.1\r\n Host: a"), code: "HPE_UNEXPECTED_SPACE" },
    { name: "name continued on the next line", input: req("GET / HTTP/1.1\r\nHost: a\r\nName\r\n : value"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "line without a colon", input: req("GET / HTTP/1.1\r\nHost: a\r\nJunk"), code: "HPE_INVALID_HEADER_TOKEN" },
  ],
  "7. field values": [
    { name: "NUL (no truncation)", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "control character 0x01", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "DEL", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "form feed", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\fb"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "bare CR inside a value", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb"), code: "HPE_LF_EXPECTED" },
    { name: "obs-fold (CVE-2024-27982)", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b"), code: "HPE_INVALID_HEADER_TOKEN" },
    { name: "obs-fold hiding a Content-Length", input: req("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n Content-Length: 30"), code: "HPE_INVALID_HEADER_TOKEN" },
  ],
  "8. start line": [
    { name: "bad method token", input: req("G@T / HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_METHOD" },
    { name: "known method as a prefix of an unknown one", input: req("GETX / HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_METHOD" },
    { name: "lower-case method", input: req("get / HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_METHOD" },
    { name: "LF as separator", input: req("GET\n/ HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_METHOD" },
    { name: "two SP after the method", input: req("GET  / HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_URL" },
    { name: "two SP before the version", input: req("GET /  HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_CONSTANT" },
    { name: "HTAB as separator", input: req("GET\t/ HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_METHOD" },
    { name: "junk after the version", input: req("GET / HTTP/1.1x\r\nHost: a"), code: "HPE_INVALID_VERSION" },
    { name: "two-digit minor version", input: req("GET / HTTP/1.10\r\nHost: a"), code: "HPE_INVALID_VERSION" },
    { name: "multi-digit major version (8-bit overflow)", input: req("GET / HTTP/257.1\r\nHost: a"), code: "HPE_INVALID_VERSION" },
    { name: "unsupported version", input: req("GET / HTTP/1.2\r\nHost: a"), code: "HPE_INVALID_VERSION" },
    { name: "missing version (HTTP/0.9)", input: "GET /\r\n\r\n" + SMUGGLED, code: "HPE_INVALID_VERSION" },
    { name: "control character in the target", input: req("GET /a\x01b HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_URL" },
    { name: "SP inside the target", input: req("GET /a b HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_CONSTANT" },
    { name: "obs-text in the target", input: req("GET /\xe9 HTTP/1.1\r\nHost: a"), code: "HPE_INVALID_URL" },
  ],
  "9. Host": [
    { name: "missing in HTTP/1.1", input: req("GET / HTTP/1.1\r\nX: y"), code: "HPE_MISSING_HOST" },
    { name: "duplicated", input: req("GET / HTTP/1.1\r\nHost: a\r\nHost: b"), code: "HPE_DUPLICATE_HOST" },
    { name: "duplicated, different case", input: req("GET / HTTP/1.1\r\nHost: a\r\nhOST: a"), code: "HPE_DUPLICATE_HOST" },
  ],
  "10. desync and limits": [
    { name: "data after Connection: close", input: "GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + SMUGGLED, code: "HPE_CLOSED_CONNECTION", before: ["/first"] },
    { name: "data after an HTTP/1.0 request", input: "GET /first HTTP/1.0\r\n\r\n" + SMUGGLED, code: "HPE_CLOSED_CONNECTION", before: ["/first"] },
    { name: "invalid request pipelined after a valid one", input: "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n" + SMUGGLED, code: "HPE_INVALID_HEADER_TOKEN", before: ["/first"] },
    {
      name: "body bytes do not survive an error",
      input: "POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n" + SMUGGLED,
      code: "HPE_INVALID_CONTENT_LENGTH",
      before: ["/first"],
    },
    { name: "header section over 16 KiB", input: req(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(16400)}`), code: "HPE_HEADER_OVERFLOW" },
    { name: "many small headers over 16 KiB", input: req(`GET / HTTP/1.1\r\nHost: a${`\r\nX: ${"0123456789".repeat(20)}`.repeat(90)}`), code: "HPE_HEADER_OVERFLOW" },
    { name: "more than 100 header fields", input: req(`GET / HTTP/1.1\r\nHost: a${"\r\nX: 1".repeat(100)}`), code: "HPE_TOO_MANY_HEADERS" },
    { name: "target over 8 KiB", input: req(`GET /${"a".repeat(8200)} HTTP/1.1\r\nHost: a`), code: "HPE_URI_TOO_LONG" },
  ],
  "11. response side (our client)": [
    { name: "status with two digits", kind: "response", input: "HTTP/1.1 20 OK\r\n\r\n", code: "HPE_INVALID_STATUS" },
    { name: "status with four digits", kind: "response", input: "HTTP/1.1 2000 OK\r\n\r\n", code: "HPE_INVALID_STATUS" },
    { name: "status below 100", kind: "response", input: "HTTP/1.1 099 OK\r\n\r\n", code: "HPE_INVALID_STATUS" },
    { name: "extra SP before the status", kind: "response", input: "HTTP/1.1  200 OK\r\n\r\n", code: "HPE_INVALID_STATUS" },
    { name: "HTAB before the status", kind: "response", input: "HTTP/1.1\t200 OK\r\n\r\n", code: "HPE_INVALID_VERSION" },
    { name: "missing CR after the status line", kind: "response", input: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", code: "HPE_CR_EXPECTED" },
    { name: "control character in the reason", kind: "response", input: "HTTP/1.1 200 O\x01K\r\n\r\n", code: "HPE_INVALID_STATUS" },
    { name: "TE with CL", kind: "response", input: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", code: "HPE_UNEXPECTED_CONTENT_LENGTH" },
    { name: "data after Connection: close", kind: "response", input: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n", code: "HPE_CLOSED_CONNECTION", before: [200] },
  ],
};

