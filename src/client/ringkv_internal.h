/* ringkv_internal.h — libringkv's connection state shared by ringkv.c (connect, encode, send,
 * buffered reads, the command calls) and reply.c (the RESP reply parser and the reply tree).
 * Not installed and not for callers: ringkv.h is the API. Like ringkv.h it includes nothing
 * from the rest of ringkv, so src/client/ ships by itself. */
#ifndef RKC_RINGKV_INTERNAL_H
#define RKC_RINGKV_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ringkv.h"

/* A broken invariant of libringkv, not bad input: stop rather than free or read wrong memory. */
#define RKC_ASSERT(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "libringkv: assertion failed: %s (%s:%d)\n", #cond, __FILE__,     \
                    __LINE__);                                                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

struct rkc_conn {
    int fd;
    rkc_options opts;
    int broken_code;           /* 0, or the error that left the stream at an unknown point */
    uint64_t deadline_ms;      /* of the call in progress; 0 when timeout_ms is 0 */
    uint8_t *rbuf;             /* CONN_RBUF_BYTES; unread bytes are [rbuf_start, rbuf_end) */
    size_t rbuf_start;
    size_t rbuf_end;
    uint8_t *obuf;             /* encoded commands; unsent bytes are [obuf_sent, obuf_len) */
    size_t obuf_len;
    size_t obuf_sent;
    size_t obuf_capacity;
    uint64_t replies_pending;  /* commands appended whose reply was not read yet */
    uint64_t reply_bytes;      /* memory of the reply being parsed, against reply_bytes_max */
    char errstr[RKC_ERRSTR_BYTES];
};

/* ringkv.c */
/* Record the error text and mark the connection broken: the next byte on the socket is not
 * the start of a reply, so every later call refuses. Returns `code`. */
__attribute__((format(printf, 3, 4)))
int conn_break(rkc_conn *c, int code, const char *fmt, ...);
/* Read one line up to CRLF. *line points into the read buffer (valid until the next read) and
 * *line_len excludes the CRLF. */
int conn_read_line(rkc_conn *c, const char **line, size_t *line_len);
/* Read exactly `len` bytes into `dst`; large payloads bypass the buffer. */
int conn_read_exact(rkc_conn *c, uint8_t *dst, size_t len);

/* reply.c */
/* The name of a reply type, for messages. */
const char *reply_type_name(rkc_reply_type type);
/* Read one whole reply (a tree) under the call's deadline, counting its memory against
 * reply_bytes_max. Returns 0 with *reply_out owned by the caller (rkc_reply_free), or an
 * RKC_E* code with nothing kept. */
int reply_read(rkc_conn *c, rkc_reply **reply_out);

#endif
