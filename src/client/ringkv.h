/* ringkv.h — libringkv, a small blocking C client for ringkv (and any server that speaks RESP,
 * the Redis protocol). Owns one TCP connection per rkc_conn: connecting with a timeout,
 * encoding commands as RESP multibulk, buffering them for pipelining, and reading one reply
 * at a time into a tree of rkc_reply nodes. It leaves retries, reconnection and pooling to the
 * caller, and routing by key to ringkv_router.h. Stands alone: it includes nothing from the
 * rest of ringkv, so ringkv.h, ringkv.c, reply.c and ringkv_internal.h can be shipped by
 * themselves (the router, router.c, also links src/core's pure hash.c and ring.c).
 *
 * Protocol: https://redis.io/docs/reference/protocol-spec/ — every RESP2 type and every RESP3
 * type (null, double, boolean, blob error, verbatim string, big number, map, set, attribute,
 * push). hiredis is the model for the reply tree; unlike hiredis the parser keeps an explicit
 * stack of at most RKC_DEPTH_MAX open aggregates instead of recursing, and every size it
 * trusts from the wire is checked against a limit first.
 *
 * Not thread-safe: one connection belongs to one thread at a time. Signals: writes use
 * MSG_NOSIGNAL, so a closed peer gives RKC_ECLOSED rather than SIGPIPE.
 *
 * Errors: functions that can fail return 0 (or a count) on success and a negative RKC_E* code
 * on failure; rkc_strerror() names the code and rkc_errstr() gives the details of the last
 * failure on a connection (the limit and the value, the OS message, the server's error text).
 * After RKC_ETIMEDOUT, RKC_EPROTO, RKC_ETOOBIG, RKC_EIO or RKC_ECLOSED from a read or write,
 * the position in the byte stream is lost and the connection answers RKC_EBROKEN from then
 * on: free it and connect again. */
#ifndef RKC_RINGKV_H
#define RKC_RINGKV_H

#include <stddef.h>
#include <stdint.h>

enum {
    RKC_OK = 0,
    RKC_EINVAL = -1,    /* bad argument */
    RKC_ENOMEM = -2,    /* allocation failed */
    RKC_ETOOBIG = -3,   /* a reply or command is over a limit */
    RKC_ETIMEDOUT = -4, /* no answer in time */
    RKC_EPROTO = -5,    /* the reply is not valid RESP */
    RKC_EIO = -6,       /* a socket call failed */
    RKC_ECLOSED = -7,   /* the server closed the connection */
    RKC_ECONNECT = -8,  /* could not resolve the host or connect to it */
    RKC_ESERVER = -9,   /* the server answered with an error (convenience calls) */
    RKC_ETYPE = -10,    /* the reply has an unexpected type (convenience calls) */
    RKC_EBROKEN = -11,  /* the connection is unusable after an earlier error */
};
#define RKC_ERROR_COUNT 12

/* Name of an RKC_E* code, e.g. "reply over a limit". Never NULL. */
const char *rkc_strerror(int code);

/* Limits. Redis allows 512 MiB bulks; a client holds each reply whole in memory, so ours
 * default smaller and can be raised per connection in rkc_options. */
/* Aggregates open at once, the parser's fixed stack. Redis 7's COMMAND DOCS nests 11 deep
 * (hiredis's stack of 9 would refuse it); 16 leaves room and costs a few hundred bytes. */
#define RKC_DEPTH_MAX               16u
#define RKC_BULK_BYTES_DEFAULT      (64u * 1024u * 1024u)
#define RKC_ELEMENTS_DEFAULT        (1024u * 1024u)      /* per aggregate, map keys + values */
#define RKC_REPLY_BYTES_DEFAULT     (256u * 1024u * 1024u) /* a whole reply tree in memory */
#define RKC_OUT_BYTES_DEFAULT       (256u * 1024u * 1024u) /* commands queued, not yet sent */
#define RKC_LINE_BYTES_MAX          (64u * 1024u)  /* a simple string, error or number line */
#define RKC_ARGS_MAX                (1024u * 1024u) /* Redis's and ringkvd's multibulk limit */
#define RKC_CONNECT_TIMEOUT_MS_DEFAULT 5000u
#define RKC_TIMEOUT_MS_DEFAULT      5000u
#define RKC_ERRSTR_BYTES            256u

typedef struct rkc_options {
    uint32_t connect_timeout_ms; /* per address tried; 0 waits as long as the OS does */
    uint32_t timeout_ms;         /* per reply read and per flush of queued commands; 0: none */
    uint64_t bulk_bytes_max;     /* largest bulk string, blob error or verbatim string */
    uint64_t elements_max;       /* largest aggregate; a map of P pairs counts 2 * P */
    uint64_t reply_bytes_max;    /* memory of one reply tree: payloads, nodes, element arrays */
    uint64_t out_bytes_max;      /* encoded commands waiting to be sent */
} rkc_options;

/* Fill `opts` with the defaults above. */
void rkc_options_init(rkc_options *opts);

typedef enum rkc_reply_type {
    RKC_REPLY_STATUS = 1, /* '+' simple string: str, len */
    RKC_REPLY_ERROR,      /* '-' simple error or '!' blob error: str, len ("ERR ...") */
    RKC_REPLY_INTEGER,    /* ':' integer */
    RKC_REPLY_STRING,     /* '$' bulk string: str, len (binary-safe) */
    RKC_REPLY_NIL,        /* '_' RESP3 null, or RESP2 "$-1" / "*-1" */
    RKC_REPLY_ARRAY,      /* '*' elements */
    RKC_REPLY_MAP,        /* '%' elements: key, value, key, value... (elements_count even) */
    RKC_REPLY_SET,        /* '~' elements */
    RKC_REPLY_VERBATIM,   /* '=' verbatim string: format ("txt"), str, len without "txt:" */
    RKC_REPLY_DOUBLE,     /* ',' dbl, and the text as sent in str, len */
    RKC_REPLY_BOOL,       /* '#' integer is 1 or 0 */
    RKC_REPLY_BIGNUM,     /* '(' big number: decimal text in str, len */
    RKC_REPLY_PUSH,       /* '>' out-of-band data (pub/sub, tracking): elements */
    RKC_REPLY_ATTRIBUTE,  /* '|' only ever found in rkc_reply.attribute, never as a reply */
} rkc_reply_type;

/* One node of a reply tree. Every node with a payload has `str` NUL-terminated after `len`
 * bytes (the payload itself may hold NULs). A RESP3 attribute that preceded a value is kept
 * as that value's `attribute` (a map-shaped node), so a caller who does not care about
 * attributes sees the plain reply. */
typedef struct rkc_reply rkc_reply;
struct rkc_reply {
    rkc_reply_type type;
    int64_t integer;           /* INTEGER; BOOL as 1 or 0 */
    double dbl;                /* DOUBLE */
    char *str;                 /* STATUS, ERROR, STRING, VERBATIM, DOUBLE, BIGNUM; else NULL */
    size_t len;
    char format[4];            /* VERBATIM: the three-letter format, NUL-terminated */
    size_t elements_count;     /* ARRAY, MAP, SET, PUSH, ATTRIBUTE */
    rkc_reply **elements;
    rkc_reply *attribute;      /* RESP3 attribute map sent before this value, or NULL */
};

/* Free a reply tree: the node, its elements, its attribute, all their payloads. Takes
 * `reply`; NULL is allowed. Iterative: no recursion whatever the tree. */
void rkc_reply_free(rkc_reply *reply);

typedef struct rkc_conn rkc_conn;

/* Allocate an unconnected connection with `opts` (NULL: defaults). Borrows `opts`; keeps a
 * copy. Returns owned (rkc_conn_free), or NULL when out of memory. */
rkc_conn *rkc_conn_new(const rkc_options *opts);

/* Close the socket and free everything, queued commands included. Takes `conn`; NULL is
 * allowed. */
void rkc_conn_free(rkc_conn *conn);

/* Resolve `host` (a name or an address, getaddrinfo) and connect to the first address that
 * answers within connect_timeout_ms, with TCP_NODELAY set. Returns 0, RKC_EINVAL (NULL host,
 * port 0, already connected), RKC_ECONNECT (rkc_errstr says what failed: the lookup, or
 * each address's connect) or RKC_ENOMEM. Borrows `host`. */
int rkc_connect(rkc_conn *conn, const char *host, uint16_t port);

/* Details of the last failure on `conn`, e.g. "bulk of 70000000 bytes; bulk_bytes_max is
 * 67108864" or the server's error text after RKC_ESERVER. Borrowed: valid until the next call
 * on `conn`. Never NULL; "" when nothing failed yet. */
const char *rkc_errstr(const rkc_conn *conn);

/* The socket, e.g. for poll() by a caller that mixes connections; -1 when unconnected.
 * Reading or writing it directly desynchronises the connection. */
int rkc_fd(const rkc_conn *conn);

/* Bytes already read from the socket but not yet returned as replies. poll() on rkc_fd cannot
 * see them: a caller that polls many connections calls rkc_get_reply while this is not 0. */
size_t rkc_buffered(const rkc_conn *conn);

/* Commands appended whose replies were not read yet. */
uint64_t rkc_pending(const rkc_conn *conn);

/* Encode one command (RESP multibulk) and queue it; nothing is sent until rkc_flush() or
 * rkc_get_reply(). `argv_len` may be NULL when every argument is a NUL-terminated string;
 * otherwise argument i is argv_len[i] bytes (binary-safe). Borrows `argv` and `argv_len`
 * (copied). Returns 0, RKC_EINVAL (argc 0, NULL argv), RKC_ETOOBIG (argc over RKC_ARGS_MAX or
 * the queue would pass out_bytes_max; nothing queued), RKC_ENOMEM or RKC_EBROKEN. */
int rkc_append_command(rkc_conn *conn, size_t argc, const char *const *argv,
                       const size_t *argv_len);

/* Send every queued command, waiting at most timeout_ms. Returns 0, RKC_EINVAL (not
 * connected), RKC_ETIMEDOUT, RKC_EIO, RKC_ECLOSED or RKC_EBROKEN. */
int rkc_flush(rkc_conn *conn);

/* Flush, then read the next reply, waiting at most timeout_ms for all of it. Replies come
 * in the order the commands were appended. An error reply from the server is a success here:
 * the call returns 0 with a RKC_REPLY_ERROR node. Returns 0 and *reply_out owned
 * (rkc_reply_free); on failure *reply_out is NULL and the result is RKC_ETIMEDOUT, RKC_EPROTO,
 * RKC_ETOOBIG, RKC_EIO, RKC_ECLOSED, RKC_ENOMEM, RKC_EINVAL (not connected) or RKC_EBROKEN. */
int rkc_get_reply(rkc_conn *conn, rkc_reply **reply_out);

/* rkc_append_command + rkc_get_reply. If commands were already queued, the reply returned is
 * that of the first of them, as with rkc_get_reply. Same ownership and errors as both. */
int rkc_command(rkc_conn *conn, size_t argc, const char *const *argv, const size_t *argv_len,
                rkc_reply **reply_out);

/* Convenience calls: one command, one reply, no queue. Besides the errors of rkc_command they
 * return RKC_ESERVER when the server answered an error (its text in rkc_errstr) and RKC_ETYPE
 * when the reply had an unexpected type; the connection stays usable after both. They need
 * an empty queue (RKC_EINVAL otherwise), so replies cannot be mixed up. */

/* PING. Returns 0 when the server answered PONG. */
int rkc_ping(rkc_conn *conn);

/* GET key. Returns 1 and the value in *value_out (returns owned, free(); NUL-terminated
 * after *value_len_out bytes), or 0 and NULL when the key does not exist. Borrows `key`. */
int rkc_get(rkc_conn *conn, const void *key, size_t key_len, char **value_out,
            size_t *value_len_out);

/* SET key value. Returns 0 when the server answered OK. Borrows `key` and `value`. */
int rkc_set(rkc_conn *conn, const void *key, size_t key_len, const void *value,
            size_t value_len);

/* DEL key [key ...]. Returns how many of the keys existed (0..keys_count). keys_count must be
 * 1..RKC_ARGS_MAX - 1. Borrows `keys` and `keys_len`. */
int rkc_del(rkc_conn *conn, size_t keys_count, const void *const *keys, const size_t *keys_len);

#endif /* RKC_RINGKV_H */
