/* resp.h — the Redis protocol (RESP) codec for the server side: an incremental request parser
 * (multibulk and inline commands, split across reads or pipelined many to a read) and a reply
 * writer for RESP2 and RESP3. No sockets here: the runtime feeds bytes in and takes bytes out.
 * Follows https://redis.io/docs/reference/protocol-spec/ and Redis's networking.c for the
 * inline form and its error texts. */
#ifndef RK_RESP_H
#define RK_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/common.h"

/* Defaults follow Redis: proto-max-bulk-len 512 MiB, inline 64 KiB, multibulk 1M. Ours are
 * smaller: a request is held whole in memory before it runs. */
#define RK_RESP_MULTIBULK_DEFAULT  (1024u * 1024u)
#define RK_RESP_BULK_BYTES_DEFAULT (RK_VALUE_BYTES_DEFAULT + 1024u)
#define RK_RESP_INLINE_BYTES_MAX   (64u * 1024u)
#define RK_RESP_ERROR_BYTES_MAX    160u

typedef struct rk_resp_limits {
    uint32_t multibulk_max;     /* most arguments in one request */
    uint64_t bulk_bytes_max;    /* largest single argument */
} rk_resp_limits;

/* One parsed command: argc arguments, each borrowed from the caller's buffer (multibulk) or
 * from the parser's own inline_args (inline: quotes and escapes are undone in a copy). */
typedef struct rk_resp_cmd {
    uint32_t argc;
    const uint8_t **argv;
    size_t *argv_len;
    bool is_inline;
} rk_resp_cmd;

/* The digits after '*' or '$': an int64 needs at most 20, so a longer line is garbage. */
#define RK_RESP_NUMBER_LINE_BYTES_MAX 32u
/* Empty requests (blank lines, *0, *-1) are skipped but held until the next command completes,
 * because a 0 return consumes nothing; this bounds what a client can make us hold that way. */
#define RK_RESP_EMPTY_BYTES_MAX    RK_RESP_INLINE_BYTES_MAX
/* Argument arrays above this many slots are freed when the next request starts, so one huge
 * request does not pin its arrays for the life of the connection. */
#define RK_RESP_ARGS_KEEP_MAX      1024u

typedef struct rk_resp_parser {
    rk_resp_limits limits;
    /* State of the request being parsed. Offsets are relative to the start of the caller's
     * buffer, which is the start of the request unless empty requests were skipped before it
     * (request_start > 0 then). */
    int state;
    size_t pos;                 /* bytes of the buffer examined so far */
    size_t request_start;       /* where the current request begins, after skipped ones */
    size_t line_start;          /* where the header or inline line being scanned begins */
    int64_t multibulk_count;    /* arguments announced by '*', -1 before it is read */
    int64_t bulk_len;           /* length announced by '$', -1 before it is read */
    uint32_t arg_count;         /* arguments complete so far */
    uint32_t arg_capacity;
    size_t *arg_off;            /* into the caller's buffer, or into inline_args for inline */
    size_t *arg_len;
    const uint8_t **argv;       /* filled when a command completes */
    uint8_t *inline_args;       /* owned: unescaped inline arguments, back to back */
    size_t inline_capacity;
    int error_code;             /* after an error every call returns it again */
    char error[RK_RESP_ERROR_BYTES_MAX];
} rk_resp_parser;

/* Initialise in place. Keeps nothing of `limits`' storage; NULL means the defaults. */
void rk_resp_parser_init(rk_resp_parser *p, const rk_resp_limits *limits);
void rk_resp_parser_deinit(rk_resp_parser *p);

/* Parse one request from `buf`, which must start at the first byte of the request not yet
 * consumed and holds `len` bytes received so far; across calls for the same request the caller
 * may append bytes (and move the buffer) but must not drop any. Returns:
 *   1  a whole command is in *cmd and *consumed says how many bytes it took; the parser is
 *      ready for the next request. *cmd's arrays belong to the parser and last until the next
 *      call; its argument bytes are borrowed from buf (multibulk: until buf changes) or from
 *      the parser (inline: until the next call);
 *   0  more bytes are needed (*consumed is 0);
 *   RK_EINVAL or RK_ETOOBIG  protocol error, text in p->error without the "ERR " prefix
 *      (e.g. "Protocol error: invalid multibulk length"); the connection should be answered
 *      with that error and closed. RK_ENOMEM if the argument arrays cannot grow. An error is
 *      final: later calls return it again.
 * Empty requests (a bare "\r\n" or "\n", a line of blanks, "*0\r\n", "*-1\r\n") are skipped,
 * as Redis does; their bytes are counted in the next command's *consumed. Work is
 * incremental: a bulk of B bytes arriving in pieces is not re-scanned. */
int rk_resp_parse(rk_resp_parser *p, const uint8_t *buf, size_t len, rk_resp_cmd *cmd,
                  size_t *consumed);

/* A growable output buffer for replies. Appends never fail loudly: when memory runs out they
 * set `oom` and drop everything after (the runtime then closes the connection). Simple
 * strings and errors are single lines: any '\r' or '\n' in them is written as a space. */
typedef struct rk_resp_out {
    uint8_t *data;
    size_t len;
    size_t capacity;
    int proto;          /* 2 or 3 */
    bool oom;           /* an append failed for lack of memory; the buffer is then unusable */
} rk_resp_out;

/* The value of a hex digit, or -1 (inline commands' "\xHH"; HTTP's "%HH" and "\uHHHH"). */
int rk_resp_hex_value(uint8_t c);

void rk_resp_out_init(rk_resp_out *o, int proto);
void rk_resp_out_deinit(rk_resp_out *o);
/* Append bytes that are already RESP (a reply encoded into another rk_resp_out). */
void rk_resp_out_append_raw(rk_resp_out *o, const uint8_t *data, size_t len);
void rk_resp_out_reset(rk_resp_out *o);  /* len = 0, memory kept; oom stays set */

void rk_resp_simple(rk_resp_out *o, const char *s);                 /* +OK */
void rk_resp_error(rk_resp_out *o, const char *s);                  /* -ERR ... (s includes the code) */
void rk_resp_errorf(rk_resp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rk_resp_integer(rk_resp_out *o, int64_t v);                    /* :1 */
void rk_resp_bulk(rk_resp_out *o, const void *data, size_t len);    /* $3 foo */
void rk_resp_bulk_str(rk_resp_out *o, const char *s);
void rk_resp_null(rk_resp_out *o);                                  /* $-1 or _ */
void rk_resp_array(rk_resp_out *o, size_t count);                   /* *n */
void rk_resp_map(rk_resp_out *o, size_t pairs);                     /* %n, or *2n in RESP2 */
void rk_resp_set(rk_resp_out *o, size_t count);                     /* ~n, or *n in RESP2 */
void rk_resp_verbatim(rk_resp_out *o, const char *data, size_t len); /* =len txt:..., bulk in RESP2 */

#endif
