/* http.h — the HTTP/1.1 codec of the HTTP API: requests in (on libhttp-parser 2.9, which does
 * the request line, headers, chunked bodies and keep-alive, and never owns a socket), responses
 * out, and the encodings the API's bodies need: percent-decoding (binary-safe), base64, a
 * small JSON reader for flat objects, JSON and multipart/mixed sibling lists. Pure: no sockets,
 * no clock; src/io/http_server.c feeds it the bytes of its libuv connections. Owns the request
 * being parsed; the routes (what a path means) are http_api.c's. Responses are appended to an
 * rk_resp_out used as a plain byte buffer (resp.h), so the server writes them like RESP. */
#ifndef RK_HTTP_H
#define RK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "resp.h"

/* A request target longer than this is refused with 414 before it is decoded: three bytes per
 * key byte (every byte percent-encoded) for the largest key, and room for the rest. */
#define RK_HTTP_TARGET_BYTES_MAX (3u * 1024u + 1024u)
/* Header values we keep (the context token, Accept, Content-Type); longer ones are 400. */
#define RK_HTTP_HEADER_VALUE_BYTES_MAX 4096u
#define RK_HTTP_HEADER_NAME_BYTES_MAX 64u
#define RK_HTTP_BOUNDARY_BYTES 24u

typedef enum rk_http_method {
    RK_HTTP_OTHER = 0,
    RK_HTTP_GET = 1,
    RK_HTTP_PUT = 2,
    RK_HTTP_POST = 3,
    RK_HTTP_DELETE = 4,
    RK_HTTP_HEAD = 5,
} rk_http_method;

/* One complete request. Everything is owned by the parser and valid until the next call to
 * rk_http_parse or rk_http_parser_deinit. Strings are not NUL-terminated except where said. */
typedef struct rk_http_request {
    rk_http_method method;
    const char *path;           /* raw, still percent-encoded, from '/' up to '?' */
    size_t path_len;
    const char *query;          /* raw, after '?', or NULL */
    size_t query_len;
    const char *context;        /* X-RingKV-Context, NUL-terminated, or NULL when absent */
    bool accept_json;           /* Accept names application/json */
    bool accept_multipart;      /* Accept names multipart/mixed (or nothing specific) */
    const uint8_t *body;        /* never NULL */
    size_t body_len;
    bool keep_alive;
} rk_http_request;

typedef struct rk_http_parser {
    http_parser parser;
    uint64_t body_bytes_max;
    /* the request being assembled */
    rk_http_request request;
    char *target;
    size_t target_len;
    char header_name[RK_HTTP_HEADER_NAME_BYTES_MAX + 1];
    size_t header_name_len;
    bool header_name_long;      /* a name over the limit: not one we keep */
    int header_kind;            /* which kept header the current value belongs to, or 0 */
    bool header_in_value;
    char *context;
    size_t context_len;
    char *accept;
    size_t accept_len;
    uint8_t *body;
    size_t body_len;
    size_t body_capacity;
    bool complete;
    bool expect_continue;       /* this request's headers said Expect: 100-continue */
    /* The headers asked "Expect: 100-continue" and the body is within the limit: the server
     * should send rk_http_continue now (then clear it), or the client waits before sending. */
    bool continue_wanted;
    /* why parsing failed: the HTTP status to answer (400, 413, 414) and the text */
    int error_status;
    char error[160];
} rk_http_parser;

/* Start parsing requests whose bodies may be up to body_bytes_max (max-value-bytes; the larger
 * JSON bodies of the API are far below it). */
void rk_http_parser_init(rk_http_parser *p, uint64_t body_bytes_max);
void rk_http_parser_deinit(rk_http_parser *p);

/* Parse from `data`. Returns 1 when a request is complete (in *out, `*consumed` bytes used:
 * the rest is the next, pipelined request), 0 when all `len` bytes were used and more are
 * needed, or a negative RK_E* when the bytes are not a request we take: p->error_status says
 * which status to answer (400 malformed, 413 body over the limit, 414 target too long) and
 * p->error why. After an error the connection must be closed: a refused body is not read. */
int rk_http_parse(rk_http_parser *p, const uint8_t *data, size_t len, rk_http_request *out,
                  size_t *consumed);

/* The interim response that lets a client waiting on Expect: 100-continue send its body. */
extern const char rk_http_continue[];

/* A header line of a response. */
typedef struct rk_http_header {
    const char *name;
    const char *value;
} rk_http_header;

/* Append a whole response: status line, Content-Length, Connection: close unless keep_alive,
 * `headers`, then the body. */
void rk_http_respond(rk_resp_out *out, int status, const rk_http_header *headers,
                     size_t header_count, const void *body, size_t body_len, bool keep_alive);
const char *rk_http_status_text(int status);

/* Percent-decode `in` into `out` (room for in_len bytes; decoding never grows). '+' stays '+'.
 * Returns the decoded length, or RK_EINVAL for '%' not followed by two hex digits. */
int64_t rk_http_percent_decode(const char *in, size_t in_len, uint8_t *out);

/* Base64 (RFC 4648, padded). encoded_len is what rk_http_base64_encode writes (no NUL). */
size_t rk_http_base64_encoded_len(size_t len);
void rk_http_base64_encode(const uint8_t *in, size_t len, char *out);
/* Decode into out (room for in_len * 3 / 4 bytes). Returns the length or RK_EINVAL. */
int64_t rk_http_base64_decode(const char *in, size_t in_len, uint8_t *out);

/* True when the bytes are valid UTF-8 with no NUL (a set member shown as a JSON string). */
bool rk_http_utf8_valid(const uint8_t *data, size_t len);
/* Append `data` as a JSON string literal, quotes included; the bytes must be valid UTF-8. */
void rk_http_json_string(rk_resp_out *out, const uint8_t *data, size_t len);

/* The siblings of a key as JSON: {"context":"...","values":["base64",...]}. */
void rk_http_json_siblings(rk_resp_out *out, const char *context, const uint8_t *const *values,
                           const size_t *value_lens, uint32_t count);

/* A boundary (NUL-terminated, RK_HTTP_BOUNDARY_BYTES long) that occurs in none of the values:
 * tried from `seed` upward, so the choice is deterministic. */
void rk_http_multipart_boundary(const uint8_t *const *values, const size_t *value_lens,
                                uint32_t count, uint64_t seed, char *boundary);
/* The siblings as a multipart/mixed body with `boundary` (one part each, octet-stream). */
void rk_http_multipart(rk_resp_out *out, const char *boundary, const uint8_t *const *values,
                       const size_t *value_lens, uint32_t count);

/* ---- a JSON reader for the API's request bodies: one flat object whose members are strings,
 * integers, booleans or arrays of strings. No nesting beyond that, no recursion. */

typedef enum rk_json_kind {
    RK_JSON_STRING = 1,
    RK_JSON_NUMBER = 2,
    RK_JSON_BOOL = 3,
    RK_JSON_ARRAY = 4,      /* of strings */
    RK_JSON_NULL = 5,
} rk_json_kind;

/* One member. Strings are decoded into the reader's scratch (valid until the next call). */
typedef struct rk_json_member {
    const uint8_t *name;
    size_t name_len;
    rk_json_kind kind;
    const uint8_t *string;  /* RK_JSON_STRING */
    size_t string_len;
    int64_t number;         /* RK_JSON_NUMBER (integers only) */
    bool boolean;           /* RK_JSON_BOOL */
    uint32_t item_count;    /* RK_JSON_ARRAY: items in items/item_lens */
    const uint8_t **items;
    size_t *item_lens;
} rk_json_member;

#define RK_JSON_ITEMS_MAX 1024u     /* members one set request may add or remove */

typedef struct rk_json_reader {
    const uint8_t *text;
    size_t len;
    size_t pos;
    bool started;
    uint8_t *scratch;           /* decoded strings; as large as the text */
    size_t scratch_len;
    const uint8_t *items[RK_JSON_ITEMS_MAX];
    size_t item_lens[RK_JSON_ITEMS_MAX];
} rk_json_reader;

/* Borrows text until _deinit. Returns 0 or RK_ENOMEM. */
int rk_json_reader_init(rk_json_reader *r, const uint8_t *text, size_t len);
void rk_json_reader_deinit(rk_json_reader *r);
/* The next member: 1 and *m, 0 at the object's end (nothing but whitespace after it), or
 * RK_EINVAL for text that is not such an object. */
int rk_json_next(rk_json_reader *r, rk_json_member *m);
/* Whether member m's name is `name`. */
bool rk_json_name_is(const rk_json_member *m, const char *name);

#endif
