/* ringkv.c — libringkv: connection, command encoding, reply parsing. See ringkv.h for the
 * contract. The socket is non-blocking and every wait is a poll() against one deadline, so a
 * server that trickles bytes cannot hold a call past timeout_ms. */
#include "ringkv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* The read buffer must hold a whole line plus its CRLF, and leave room to read more behind a
 * line that starts late in the buffer. */
#define CONN_READ_CHUNK_BYTES   (16u * 1024u)
#define CONN_RBUF_BYTES         (RKC_LINE_BYTES_MAX + 2u + CONN_READ_CHUNK_BYTES)
/* A bulk this large is read straight into its own buffer rather than through ours. */
#define CONN_DIRECT_READ_BYTES  (CONN_RBUF_BYTES / 2u)
/* After a flush, a queue buffer above this size is released rather than kept for reuse. */
#define CONN_OBUF_KEEP_BYTES    (64u * 1024u)
/* Every path through a reply tree holds at most RKC_DEPTH_MAX + 1 levels of nodes, each level
 * a value and the attribute sent before it; freeing walks such a path on a fixed stack. */
#define REPLY_PATH_NODES_MAX    (2u * (RKC_DEPTH_MAX + 1u))
/* A double or big number longer than this is not one Redis would send. */
#define REPLY_NUMBER_BYTES_MAX  512u
/* "*" or "$", 20 digits of a size_t, CRLF. */
#define ENCODE_HEADER_BYTES_MAX 24u

_Static_assert(RKC_LINE_BYTES_MAX + 2u < CONN_RBUF_BYTES, "a line and its CRLF fit the buffer");
_Static_assert(RKC_ARGS_MAX < (size_t)-1 / ENCODE_HEADER_BYTES_MAX, "argument headers fit");

/* A broken invariant of this file, not bad input: stop rather than free or read wrong memory. */
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

static const char *const error_names[RKC_ERROR_COUNT] = {
    "success",
    "invalid argument",
    "out of memory",
    "over a limit",
    "timed out",
    "malformed reply",
    "socket error",
    "connection closed by server",
    "cannot connect",
    "server error",
    "unexpected reply type",
    "connection broken by an earlier error",
};

const char *rkc_strerror(int code)
{
    if (code > 0 || code <= -RKC_ERROR_COUNT) {
        return "unknown error";
    }
    return error_names[-code];
}

void rkc_options_init(rkc_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->connect_timeout_ms = RKC_CONNECT_TIMEOUT_MS_DEFAULT;
    opts->timeout_ms = RKC_TIMEOUT_MS_DEFAULT;
    opts->bulk_bytes_max = RKC_BULK_BYTES_DEFAULT;
    opts->elements_max = RKC_ELEMENTS_DEFAULT;
    opts->reply_bytes_max = RKC_REPLY_BYTES_DEFAULT;
    opts->out_bytes_max = RKC_OUT_BYTES_DEFAULT;
}

/* ---------------------------------------------------------------------------------------- */
/* errors and time */

__attribute__((format(printf, 3, 4)))
static int conn_error(rkc_conn *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
    va_end(ap);
    return code;
}

/* As conn_error, for failures after which the next byte on the socket is not the start of a
 * reply: every later call must refuse rather than misread. */
__attribute__((format(printf, 3, 4)))
static int conn_break(rkc_conn *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
    va_end(ap);
    c->broken_code = code;
    return code;
}

/* 0 when the connection can carry a call, else the error to return. */
static int conn_check_usable(rkc_conn *c)
{
    if (c->broken_code != 0) {
        return conn_error(c, RKC_EBROKEN, "connection broken earlier (%s); reconnect",
                          rkc_strerror(c->broken_code));
    }
    if (c->fd < 0) {
        return conn_error(c, RKC_EINVAL, "not connected");
    }
    return 0;
}

static uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_deadline_start(rkc_conn *c)
{
    c->deadline_ms = c->opts.timeout_ms == 0 ? 0 : clock_now_ms() + c->opts.timeout_ms;
}

/* Wait until the socket is ready for `events` or the call's deadline passes. */
static int conn_wait(rkc_conn *c, short events)
{
    for (;;) {
        int timeout_ms = -1;
        if (c->deadline_ms != 0) {
            uint64_t now_ms = clock_now_ms();
            if (now_ms >= c->deadline_ms) {
                return conn_break(c, RKC_ETIMEDOUT, "no %s within timeout_ms %u",
                                  events == POLLIN ? "reply" : "progress sending",
                                  c->opts.timeout_ms);
            }
            uint64_t left_ms = c->deadline_ms - now_ms;
            timeout_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
        }
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int n = poll(&pfd, 1, timeout_ms);
        if (n > 0) {
            return 0;      /* readable, writable or failed: the next recv/send tells which */
        }
        if (n < 0 && errno != EINTR) {
            return conn_break(c, RKC_EIO, "poll: %s", strerror(errno));
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* connecting */

rkc_conn *rkc_conn_new(const rkc_options *opts)
{
    rkc_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->rbuf = malloc(CONN_RBUF_BYTES);
    if (c->rbuf == NULL) {
        free(c);
        return NULL;
    }
    c->fd = -1;
    if (opts != NULL) {
        c->opts = *opts;
    } else {
        rkc_options_init(&c->opts);
    }
    return c;
}

void rkc_conn_free(rkc_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (conn->fd >= 0) {
        close(conn->fd);
    }
    free(conn->rbuf);
    free(conn->obuf);
    free(conn);
}

const char *rkc_errstr(const rkc_conn *conn)
{
    return conn->errstr;
}

int rkc_fd(const rkc_conn *conn)
{
    return conn->fd;
}

/* Connect one socket to `ai` within connect_timeout_ms. Returns the descriptor, or -1 with
 * the reason in `why`. */
static int connect_one(const rkc_conn *c, const struct addrinfo *ai, char *why, size_t why_bytes)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        snprintf(why, why_bytes, "socket: %s", strerror(errno));
        return -1;
    }
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(why, why_bytes, "fcntl: %s", strerror(errno));
        goto out_close;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            snprintf(why, why_bytes, "%s", strerror(errno));
            goto out_close;
        }
        uint32_t wait_ms = c->opts.connect_timeout_ms;
        int timeout_ms = wait_ms == 0 ? -1 : wait_ms > INT_MAX ? INT_MAX : (int)wait_ms;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n;
        do {
            n = poll(&pfd, 1, timeout_ms);      /* EINTR restarts the wait: close enough */
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            snprintf(why, why_bytes, "timed out after %d ms", timeout_ms);
            goto out_close;
        }
        int so_error = 0;
        socklen_t so_len = sizeof(so_error);
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) < 0) {
            snprintf(why, why_bytes, "%s", strerror(errno));
            goto out_close;
        }
        if (so_error != 0) {
            snprintf(why, why_bytes, "%s", strerror(so_error));
            goto out_close;
        }
    }
    /* Requests are small and the caller waits for each answer: Nagle would only add delay. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        snprintf(why, why_bytes, "setsockopt TCP_NODELAY: %s", strerror(errno));
        goto out_close;
    }
    return fd;

out_close:
    close(fd);
    return -1;
}

int rkc_connect(rkc_conn *conn, const char *host, uint16_t port)
{
    if (host == NULL || port == 0) {
        return conn_error(conn, RKC_EINVAL, "host must be given and port must be 1..65535");
    }
    if (conn->fd >= 0) {
        return conn_error(conn, RKC_EINVAL, "already connected");
    }
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct addrinfo *addrs = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &addrs);
    if (gai != 0) {
        if (gai == EAI_MEMORY) {
            return conn_error(conn, RKC_ENOMEM, "getaddrinfo: out of memory");
        }
        return conn_error(conn, RKC_ECONNECT, "cannot resolve %s: %s", host, gai_strerror(gai));
    }
    char why[128] = "no address";
    char addr_text[NI_MAXHOST] = "?";
    for (const struct addrinfo *ai = addrs; ai != NULL; ai = ai->ai_next) {
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr_text, sizeof(addr_text), NULL, 0,
                    NI_NUMERICHOST);
        int fd = connect_one(conn, ai, why, sizeof(why));
        if (fd >= 0) {
            freeaddrinfo(addrs);
            conn->fd = fd;
            conn->errstr[0] = '\0';
            return 0;
        }
    }
    freeaddrinfo(addrs);
    /* The last address's reason: with one address, the usual case, it is the only one. */
    return conn_error(conn, RKC_ECONNECT, "connect to %s (%s) port %u: %s", host, addr_text,
                      (unsigned)port, why);
}

/* ---------------------------------------------------------------------------------------- */
/* writing */

static size_t encode_header(uint8_t *out, char type, size_t count)
{
    int n = snprintf((char *)out, ENCODE_HEADER_BYTES_MAX, "%c%zu\r\n", type, count);
    RKC_ASSERT(n > 0);
    RKC_ASSERT((size_t)n < ENCODE_HEADER_BYTES_MAX);
    return (size_t)n;
}

static size_t encode_digits(size_t value)
{
    size_t digits = 1;
    while (value >= 10) {
        value /= 10;
        digits++;
    }
    return digits;
}

static int obuf_reserve(rkc_conn *c, size_t more_bytes)
{
    if (c->obuf_capacity - c->obuf_len >= more_bytes) {
        return 0;
    }
    size_t need = c->obuf_len + more_bytes;
    size_t capacity = c->obuf_capacity < 4096u ? 4096u : c->obuf_capacity;
    while (capacity < need) {
        capacity = capacity > (size_t)-1 / 2u ? need : capacity * 2u;
    }
    uint8_t *grown = realloc(c->obuf, capacity);
    if (grown == NULL) {
        return conn_error(c, RKC_ENOMEM, "no memory to queue a %zu-byte command", more_bytes);
    }
    c->obuf = grown;
    c->obuf_capacity = capacity;
    return 0;
}

int rkc_append_command(rkc_conn *conn, size_t argc, const char *const *argv,
                       const size_t *argv_len)
{
    if (conn->broken_code != 0) {
        return conn_check_usable(conn);
    }
    if (argc == 0 || argv == NULL) {
        return conn_error(conn, RKC_EINVAL, "a command needs at least one argument");
    }
    if (argc > RKC_ARGS_MAX) {
        return conn_error(conn, RKC_ETOOBIG, "command has %zu arguments; the limit is %u", argc,
                          RKC_ARGS_MAX);
    }
    /* Size first, so that a command over the limit queues nothing. Comparisons keep the
     * running total below out_bytes_max, which no size_t sum can then overflow. */
    uint64_t room = conn->opts.out_bytes_max > conn->obuf_len
                        ? conn->opts.out_bytes_max - conn->obuf_len : 0;
    uint64_t total = 1u + encode_digits(argc) + 2u;
    for (size_t i = 0; i < argc && total <= room; i++) {
        if (argv[i] == NULL) {
            return conn_error(conn, RKC_EINVAL, "argument %zu is NULL", i);
        }
        size_t len = argv_len != NULL ? argv_len[i] : strlen(argv[i]);
        if (len > room) {
            total = room + 1u;
            break;
        }
        total += 1u + encode_digits(len) + 2u + len + 2u;
    }
    if (total > room) {
        return conn_error(conn, RKC_ETOOBIG,
                          "command needs more than the %llu bytes left of out_bytes_max %llu",
                          (unsigned long long)room,
                          (unsigned long long)conn->opts.out_bytes_max);
    }
    int rc = obuf_reserve(conn, (size_t)total);
    if (rc < 0) {
        return rc;
    }
    uint8_t *out = conn->obuf + conn->obuf_len;
    out += encode_header(out, '*', argc);
    for (size_t i = 0; i < argc; i++) {
        size_t len = argv_len != NULL ? argv_len[i] : strlen(argv[i]);
        out += encode_header(out, '$', len);
        memcpy(out, argv[i], len);
        out += len;
        *out++ = '\r';
        *out++ = '\n';
    }
    RKC_ASSERT((size_t)(out - conn->obuf) == conn->obuf_len + total);
    conn->obuf_len += (size_t)total;
    conn->replies_pending++;
    return 0;
}

/* Send the queue under the deadline already started. */
static int conn_send_queue(rkc_conn *c)
{
    while (c->obuf_sent < c->obuf_len) {
        ssize_t n = send(c->fd, c->obuf + c->obuf_sent, c->obuf_len - c->obuf_sent, MSG_NOSIGNAL);
        if (n >= 0) {
            c->obuf_sent += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = conn_wait(c, POLLOUT);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            return conn_break(c, RKC_ECLOSED, "server closed the connection: send: %s",
                              strerror(errno));
        }
        return conn_break(c, RKC_EIO, "send: %s", strerror(errno));
    }
    c->obuf_len = 0;
    c->obuf_sent = 0;
    if (c->obuf_capacity > CONN_OBUF_KEEP_BYTES) {
        free(c->obuf);
        c->obuf = NULL;
        c->obuf_capacity = 0;
    }
    return 0;
}

int rkc_flush(rkc_conn *conn)
{
    int rc = conn_check_usable(conn);
    if (rc < 0) {
        return rc;
    }
    conn_deadline_start(conn);
    return conn_send_queue(conn);
}

/* ---------------------------------------------------------------------------------------- */
/* reading bytes */

/* Receive at most `capacity` bytes into `dst`, waiting under the deadline. */
static int conn_recv(rkc_conn *c, uint8_t *dst, size_t capacity, size_t *got)
{
    for (;;) {
        ssize_t n = recv(c->fd, dst, capacity, 0);
        if (n > 0) {
            *got = (size_t)n;
            return 0;
        }
        if (n == 0) {
            return conn_break(c, RKC_ECLOSED, "server closed the connection");
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = conn_wait(c, POLLIN);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (errno == ECONNRESET) {
            return conn_break(c, RKC_ECLOSED, "server closed the connection: recv: %s",
                              strerror(errno));
        }
        return conn_break(c, RKC_EIO, "recv: %s", strerror(errno));
    }
}

/* Read more bytes into the buffer, first moving what is unread to its front when the tail is
 * short. */
static int conn_fill(rkc_conn *c)
{
    if (c->rbuf_start == c->rbuf_end) {
        c->rbuf_start = 0;
        c->rbuf_end = 0;
    } else if (CONN_RBUF_BYTES - c->rbuf_end < CONN_READ_CHUNK_BYTES && c->rbuf_start > 0) {
        memmove(c->rbuf, c->rbuf + c->rbuf_start, c->rbuf_end - c->rbuf_start);
        c->rbuf_end -= c->rbuf_start;
        c->rbuf_start = 0;
    }
    RKC_ASSERT(c->rbuf_end < CONN_RBUF_BYTES);
    size_t got = 0;
    int rc = conn_recv(c, c->rbuf + c->rbuf_end, CONN_RBUF_BYTES - c->rbuf_end, &got);
    if (rc < 0) {
        return rc;
    }
    c->rbuf_end += got;
    return 0;
}

/* Read one line up to CRLF. *line points into the read buffer (valid until the next read) and
 * *line_len excludes the CRLF. */
static int conn_read_line(rkc_conn *c, const char **line, size_t *line_len)
{
    size_t scanned = 0;
    for (;;) {
        const uint8_t *p = c->rbuf + c->rbuf_start;
        size_t avail = c->rbuf_end - c->rbuf_start;
        const uint8_t *cr = memchr(p + scanned, '\r', avail - scanned);
        if (cr != NULL) {
            size_t offset = (size_t)(cr - p);
            if (offset > RKC_LINE_BYTES_MAX) {
                break;
            }
            if (offset + 1u < avail) {
                if (p[offset + 1u] != '\n') {
                    return conn_break(c, RKC_EPROTO, "reply line has \\r not followed by \\n");
                }
                *line = (const char *)p;
                *line_len = offset;
                c->rbuf_start += offset + 2u;
                return 0;
            }
            scanned = offset;        /* the \n may be in the next read */
        } else {
            scanned = avail;
        }
        if (scanned > RKC_LINE_BYTES_MAX) {
            break;
        }
        int rc = conn_fill(c);
        if (rc < 0) {
            return rc;
        }
    }
    return conn_break(c, RKC_ETOOBIG, "reply line longer than %u bytes", RKC_LINE_BYTES_MAX);
}

/* Read exactly `len` bytes into `dst`; large payloads bypass the buffer. */
static int conn_read_exact(rkc_conn *c, uint8_t *dst, size_t len)
{
    for (;;) {
        size_t avail = c->rbuf_end - c->rbuf_start;
        size_t take = avail < len ? avail : len;
        memcpy(dst, c->rbuf + c->rbuf_start, take);
        c->rbuf_start += take;
        dst += take;
        len -= take;
        if (len == 0) {
            return 0;
        }
        int rc;
        if (len >= CONN_DIRECT_READ_BYTES) {
            size_t got = 0;
            rc = conn_recv(c, dst, len, &got);
            dst += got;
            len -= got;
            if (rc == 0 && len == 0) {
                return 0;
            }
        } else {
            rc = conn_fill(c);
        }
        if (rc < 0) {
            return rc;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* reply nodes */

static const char *reply_type_name(rkc_reply_type type)
{
    switch (type) {
    case RKC_REPLY_STATUS: return "status";
    case RKC_REPLY_ERROR: return "error";
    case RKC_REPLY_INTEGER: return "integer";
    case RKC_REPLY_STRING: return "string";
    case RKC_REPLY_NIL: return "nil";
    case RKC_REPLY_ARRAY: return "array";
    case RKC_REPLY_MAP: return "map";
    case RKC_REPLY_SET: return "set";
    case RKC_REPLY_VERBATIM: return "verbatim";
    case RKC_REPLY_DOUBLE: return "double";
    case RKC_REPLY_BOOL: return "boolean";
    case RKC_REPLY_BIGNUM: return "big number";
    case RKC_REPLY_PUSH: return "push";
    case RKC_REPLY_ATTRIBUTE: return "attribute";
    }
    return "unknown";
}

void rkc_reply_free(rkc_reply *reply)
{
    /* Depth-first on a fixed stack; child 0 of a node is its attribute, child i its element
     * i - 1. Elements may be NULL in a tree freed half-built by the parser. */
    struct {
        rkc_reply *node;
        size_t child_next;
    } path[REPLY_PATH_NODES_MAX];
    size_t path_count = 0;
    if (reply == NULL) {
        return;
    }
    path[path_count].node = reply;
    path[path_count].child_next = 0;
    path_count++;
    while (path_count > 0) {
        rkc_reply *node = path[path_count - 1].node;
        rkc_reply *child = NULL;
        while (child == NULL && path[path_count - 1].child_next <= node->elements_count) {
            size_t child_index = path[path_count - 1].child_next++;
            child = child_index == 0 ? node->attribute : node->elements[child_index - 1u];
        }
        if (child != NULL) {
            RKC_ASSERT(path_count < REPLY_PATH_NODES_MAX);   /* trees come only from the parser */
            path[path_count].node = child;
            path[path_count].child_next = 0;
            path_count++;
            continue;
        }
        free(node->str);
        free(node->elements);
        free(node);
        path_count--;
    }
}

/* Count `bytes` of the reply being parsed against reply_bytes_max. */
static int reply_account(rkc_conn *c, uint64_t bytes)
{
    uint64_t max = c->opts.reply_bytes_max;
    if (bytes > max || c->reply_bytes > max - bytes) {
        return conn_break(c, RKC_ETOOBIG, "reply needs more than reply_bytes_max %llu bytes",
                          (unsigned long long)max);
    }
    c->reply_bytes += bytes;
    return 0;
}

static int reply_new(rkc_conn *c, rkc_reply_type type, rkc_reply **node_out)
{
    int rc = reply_account(c, sizeof(rkc_reply));
    if (rc < 0) {
        return rc;
    }
    rkc_reply *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        return conn_break(c, RKC_ENOMEM, "no memory for a reply node");
    }
    node->type = type;
    *node_out = node;
    return 0;
}

/* Give `node` a NUL-terminated copy of `text`. */
static int reply_set_text(rkc_conn *c, rkc_reply *node, const char *text, size_t len)
{
    int rc = reply_account(c, (uint64_t)len + 1u);
    if (rc < 0) {
        return rc;
    }
    node->str = malloc(len + 1u);
    if (node->str == NULL) {
        return conn_break(c, RKC_ENOMEM, "no memory for a %zu-byte reply", len);
    }
    memcpy(node->str, text, len);
    node->str[len] = '\0';
    node->len = len;
    return 0;
}

/* Parse a whole line as a decimal int64 with an optional sign. */
static bool parse_int64(const char *text, size_t len, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        i = 1;
    }
    if (i == len) {
        return false;
    }
    uint64_t magnitude = 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (magnitude > (limit - digit) / 10u) {
            return false;
        }
        magnitude = magnitude * 10u + digit;
    }
    if (negative) {
        *out = magnitude == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)magnitude;
    } else {
        *out = (int64_t)magnitude;
    }
    return true;
}

static bool parse_bignum(const char *text, size_t len)
{
    size_t i = (len > 0 && (text[0] == '-' || text[0] == '+')) ? 1u : 0u;
    if (i == len) {
        return false;
    }
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Line of a ',' reply: "1.5", "-3", "1e10", "inf", "-inf", "nan". Needs node->str set. */
static bool parse_double(const rkc_reply *node, double *out)
{
    if (node->len == 0 || node->str[0] == ' ') {
        return false;
    }
    char *end = NULL;
    double value = strtod(node->str, &end);
    if (end != node->str + node->len) {
        return false;
    }
    *out = value;
    return true;
}

/* '$' bulk, '!' blob error, '=' verbatim: the length line was `body`; read the payload. */
static int reply_read_blob(rkc_conn *c, char type, const char *body, size_t body_len,
                           rkc_reply **node_out)
{
    int64_t len = 0;
    if (!parse_int64(body, body_len, &len) || len < -1 || (len == -1 && type != '$')) {
        return conn_break(c, RKC_EPROTO, "bad length in '%c' reply: \"%.*s\"", type,
                          (int)(body_len > 32u ? 32u : body_len), body);
    }
    rkc_reply_type reply_type = type == '$' ? RKC_REPLY_STRING
                                : type == '!' ? RKC_REPLY_ERROR : RKC_REPLY_VERBATIM;
    if (len == -1) {
        return reply_new(c, RKC_REPLY_NIL, node_out);   /* RESP2 null bulk string */
    }
    if ((uint64_t)len > c->opts.bulk_bytes_max) {
        return conn_break(c, RKC_ETOOBIG, "bulk of %lld bytes; bulk_bytes_max is %llu",
                          (long long)len, (unsigned long long)c->opts.bulk_bytes_max);
    }
    size_t size = (size_t)len;
    rkc_reply *node = NULL;
    int rc = reply_new(c, reply_type, &node);
    if (rc < 0) {
        return rc;
    }
    rc = reply_account(c, (uint64_t)size + 1u);
    if (rc < 0) {
        goto out_free_node;
    }
    node->str = malloc(size + 1u);
    if (node->str == NULL) {
        rc = conn_break(c, RKC_ENOMEM, "no memory for a bulk of %zu bytes", size);
        goto out_free_node;
    }
    rc = conn_read_exact(c, (uint8_t *)node->str, size);
    if (rc < 0) {
        goto out_free_node;
    }
    node->str[size] = '\0';
    node->len = size;
    uint8_t crlf[2];
    rc = conn_read_exact(c, crlf, sizeof(crlf));
    if (rc < 0) {
        goto out_free_node;
    }
    if (crlf[0] != '\r' || crlf[1] != '\n') {
        rc = conn_break(c, RKC_EPROTO, "'%c' reply of %zu bytes not followed by \\r\\n", type,
                        size);
        goto out_free_node;
    }
    if (type == '=') {
        /* "txt:" then the text; the format travels apart so str is what a user reads. */
        if (size < 4u || node->str[3] != ':') {
            rc = conn_break(c, RKC_EPROTO, "verbatim string without a \"xxx:\" format prefix");
            goto out_free_node;
        }
        memcpy(node->format, node->str, 3);
        node->format[3] = '\0';
        memmove(node->str, node->str + 4, size - 4u + 1u);
        node->len = size - 4u;
    }
    *node_out = node;
    return 0;

out_free_node:
    rkc_reply_free(node);
    return rc;
}

/* '*', '%', '~', '>', '|': allocate the element array; the caller fills it. */
static int reply_read_aggregate(rkc_conn *c, char type, const char *body, size_t body_len,
                                rkc_reply **node_out)
{
    int64_t count = 0;
    if (!parse_int64(body, body_len, &count) || count < -1 || (count == -1 && type != '*')) {
        return conn_break(c, RKC_EPROTO, "bad element count in '%c' reply: \"%.*s\"", type,
                          (int)(body_len > 32u ? 32u : body_len), body);
    }
    if (count == -1) {
        return reply_new(c, RKC_REPLY_NIL, node_out);   /* RESP2 null array */
    }
    bool pairs = type == '%' || type == '|';
    uint64_t max = pairs ? c->opts.elements_max / 2u : c->opts.elements_max;
    if ((uint64_t)count > max) {
        return conn_break(c, RKC_ETOOBIG, "'%c' reply of %lld %s; elements_max is %llu", type,
                          (long long)count, pairs ? "pairs" : "elements",
                          (unsigned long long)c->opts.elements_max);
    }
    size_t elements_count = (size_t)count * (pairs ? 2u : 1u);
    rkc_reply_type reply_type = type == '*' ? RKC_REPLY_ARRAY
                                : type == '%' ? RKC_REPLY_MAP
                                : type == '~' ? RKC_REPLY_SET
                                : type == '>' ? RKC_REPLY_PUSH : RKC_REPLY_ATTRIBUTE;
    rkc_reply *node = NULL;
    int rc = reply_new(c, reply_type, &node);
    if (rc < 0) {
        return rc;
    }
    if (elements_count > 0) {
        rc = reply_account(c, (uint64_t)elements_count * sizeof(rkc_reply *));
        if (rc < 0) {
            goto out_free_node;
        }
        node->elements = calloc(elements_count, sizeof(rkc_reply *));
        if (node->elements == NULL) {
            rc = conn_break(c, RKC_ENOMEM, "no memory for %zu elements", elements_count);
            goto out_free_node;
        }
    }
    node->elements_count = elements_count;
    *node_out = node;
    return 0;

out_free_node:
    rkc_reply_free(node);
    return rc;
}

/* A one-line reply: '+', '-', ':', '_', ',', '#', '('. */
static int reply_read_scalar(rkc_conn *c, char type, const char *body, size_t body_len,
                             rkc_reply **node_out)
{
    rkc_reply *node = NULL;
    int rc = 0;
    switch (type) {
    case '+':
    case '-':
        rc = reply_new(c, type == '+' ? RKC_REPLY_STATUS : RKC_REPLY_ERROR, &node);
        if (rc == 0) {
            rc = reply_set_text(c, node, body, body_len);
        }
        break;
    case ':':
        rc = reply_new(c, RKC_REPLY_INTEGER, &node);
        if (rc == 0 && !parse_int64(body, body_len, &node->integer)) {
            rc = conn_break(c, RKC_EPROTO, "bad integer reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        break;
    case '_':
        rc = reply_new(c, RKC_REPLY_NIL, &node);
        if (rc == 0 && body_len != 0) {
            rc = conn_break(c, RKC_EPROTO, "null reply with %zu bytes after '_'", body_len);
        }
        break;
    case '#':
        rc = reply_new(c, RKC_REPLY_BOOL, &node);
        if (rc == 0 && (body_len != 1u || (body[0] != 't' && body[0] != 'f'))) {
            rc = conn_break(c, RKC_EPROTO, "boolean reply is not #t or #f");
        } else if (rc == 0) {
            node->integer = body[0] == 't';
        }
        break;
    case ',':
    case '(':
        if (body_len > REPLY_NUMBER_BYTES_MAX) {
            return conn_break(c, RKC_ETOOBIG, "number reply of %zu bytes; the limit is %u",
                              body_len, REPLY_NUMBER_BYTES_MAX);
        }
        rc = reply_new(c, type == ',' ? RKC_REPLY_DOUBLE : RKC_REPLY_BIGNUM, &node);
        if (rc == 0) {
            rc = reply_set_text(c, node, body, body_len);
        }
        if (rc == 0 && type == ',' && !parse_double(node, &node->dbl)) {
            rc = conn_break(c, RKC_EPROTO, "bad double reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        if (rc == 0 && type == '(' && !parse_bignum(body, body_len)) {
            rc = conn_break(c, RKC_EPROTO, "bad big number reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        break;
    default:
        RKC_ASSERT(0 && "reply_read_scalar called for a type it does not parse");
    }
    if (rc < 0) {
        rkc_reply_free(node);
        return rc;
    }
    *node_out = node;
    return 0;
}

/* Read the next node: a whole scalar, or an aggregate with its elements still to come. */
static int reply_read_node(rkc_conn *c, rkc_reply **node_out)
{
    const char *line = NULL;
    size_t line_len = 0;
    int rc = conn_read_line(c, &line, &line_len);
    if (rc < 0) {
        return rc;
    }
    if (line_len == 0) {
        return conn_break(c, RKC_EPROTO, "empty reply line");
    }
    char type = line[0];
    switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return reply_read_scalar(c, type, line + 1, line_len - 1u, node_out);
    case '$': case '!': case '=':
        return reply_read_blob(c, type, line + 1, line_len - 1u, node_out);
    case '*': case '%': case '~': case '>': case '|':
        return reply_read_aggregate(c, type, line + 1, line_len - 1u, node_out);
    default:
        /* The byte's character helps spot a wrong port: 'H' is an HTTP server. */
        return conn_break(c, RKC_EPROTO,
                          "unknown reply type byte 0x%02x ('%c'); is this a RESP server?",
                          (unsigned)(unsigned char)type,
                          isprint((unsigned char)type) ? type : '?');
    }
}

static bool reply_is_aggregate(const rkc_reply *node)
{
    return node->type == RKC_REPLY_ARRAY || node->type == RKC_REPLY_MAP ||
           node->type == RKC_REPLY_SET || node->type == RKC_REPLY_PUSH ||
           node->type == RKC_REPLY_ATTRIBUTE;
}

/* The parser's explicit stack: the aggregates still being filled, outermost first, and at each
 * depth an attribute waiting for the value it describes. */
typedef struct reply_parse {
    struct {
        rkc_reply *aggregate;
        size_t filled;
    } open[RKC_DEPTH_MAX];
    uint32_t open_count;
    rkc_reply *attribute_pending[RKC_DEPTH_MAX + 1u];
    rkc_reply *root;
} reply_parse;

/* Hang `node` where it belongs: the root, the next slot of the innermost open aggregate, or
 * (an attribute) aside until the value it describes arrives. Takes `node` even on failure. */
static int reply_parse_place(rkc_conn *c, reply_parse *ps, rkc_reply *node)
{
    rkc_reply **pending = &ps->attribute_pending[ps->open_count];
    if (node->type == RKC_REPLY_ATTRIBUTE) {
        if (*pending != NULL) {
            rkc_reply_free(node);
            return conn_break(c, RKC_EPROTO, "two attributes with no value between them");
        }
        *pending = node;
        return 0;
    }
    node->attribute = *pending;
    *pending = NULL;
    if (ps->open_count == 0) {
        RKC_ASSERT(ps->root == NULL);
        ps->root = node;
        return 0;
    }
    rkc_reply *parent = ps->open[ps->open_count - 1u].aggregate;
    size_t *filled = &ps->open[ps->open_count - 1u].filled;
    RKC_ASSERT(*filled < parent->elements_count);
    parent->elements[(*filled)++] = node;
    return 0;
}

static int reply_read(rkc_conn *c, rkc_reply **reply_out)
{
    reply_parse ps;
    memset(&ps, 0, sizeof(ps));
    c->reply_bytes = 0;
    int rc = 0;
    for (;;) {
        rkc_reply *node = NULL;
        rc = reply_read_node(c, &node);
        if (rc < 0) {
            goto out_free_tree;
        }
        rc = reply_parse_place(c, &ps, node);
        if (rc < 0) {
            goto out_free_tree;
        }
        if (reply_is_aggregate(node) && node->elements_count > 0) {
            if (ps.open_count == RKC_DEPTH_MAX) {
                rc = conn_break(c, RKC_ETOOBIG, "reply nests deeper than %u aggregates",
                                RKC_DEPTH_MAX);
                goto out_free_tree;
            }
            ps.open[ps.open_count].aggregate = node;
            ps.open[ps.open_count].filled = 0;
            ps.open_count++;
            continue;
        }
        while (ps.open_count > 0 &&
               ps.open[ps.open_count - 1u].filled ==
                   ps.open[ps.open_count - 1u].aggregate->elements_count) {
            /* A full aggregate ended with a value, which took any attribute inside it. */
            RKC_ASSERT(ps.attribute_pending[ps.open_count] == NULL);
            ps.open_count--;
        }
        if (ps.open_count == 0 && ps.root != NULL) {
            RKC_ASSERT(ps.attribute_pending[0] == NULL);
            *reply_out = ps.root;
            return 0;
        }
    }

out_free_tree:
    rkc_reply_free(ps.root);
    for (uint32_t i = 0; i <= RKC_DEPTH_MAX; i++) {
        rkc_reply_free(ps.attribute_pending[i]);
    }
    return rc;
}

int rkc_get_reply(rkc_conn *conn, rkc_reply **reply_out)
{
    *reply_out = NULL;
    int rc = conn_check_usable(conn);
    if (rc < 0) {
        return rc;
    }
    conn_deadline_start(conn);
    rc = conn_send_queue(conn);
    if (rc < 0) {
        return rc;
    }
    rc = reply_read(conn, reply_out);
    if (rc < 0) {
        return rc;
    }
    if (conn->replies_pending > 0) {
        conn->replies_pending--;     /* pushes and pub/sub messages come unasked */
    }
    return 0;
}

int rkc_command(rkc_conn *conn, size_t argc, const char *const *argv, const size_t *argv_len,
                rkc_reply **reply_out)
{
    *reply_out = NULL;
    int rc = rkc_append_command(conn, argc, argv, argv_len);
    if (rc < 0) {
        return rc;
    }
    return rkc_get_reply(conn, reply_out);
}

/* ---------------------------------------------------------------------------------------- */
/* convenience calls */

/* One command and its reply, with a server error turned into RKC_ESERVER. */
static int conn_call(rkc_conn *c, size_t argc, const char *const *argv, const size_t *argv_len,
                     rkc_reply **reply_out)
{
    *reply_out = NULL;
    int rc = conn_check_usable(c);
    if (rc < 0) {
        return rc;
    }
    if (c->replies_pending > 0) {
        return conn_error(c, RKC_EINVAL, "%llu pipelined replies are still unread",
                          (unsigned long long)c->replies_pending);
    }
    rkc_reply *reply = NULL;
    rc = rkc_command(c, argc, argv, argv_len, &reply);
    if (rc < 0) {
        return rc;
    }
    if (reply->type == RKC_REPLY_ERROR) {
        conn_error(c, RKC_ESERVER, "%s", reply->str);
        rkc_reply_free(reply);
        return RKC_ESERVER;
    }
    *reply_out = reply;
    return 0;
}

static int conn_unexpected(rkc_conn *c, const char *command, rkc_reply *reply)
{
    conn_error(c, RKC_ETYPE, "%s answered a %s reply", command, reply_type_name(reply->type));
    rkc_reply_free(reply);
    return RKC_ETYPE;
}

int rkc_ping(rkc_conn *conn)
{
    const char *argv[] = {"PING"};
    rkc_reply *reply = NULL;
    int rc = conn_call(conn, 1, argv, NULL, &reply);
    if (rc < 0) {
        return rc;
    }
    if (reply->type != RKC_REPLY_STATUS || strcmp(reply->str, "PONG") != 0) {
        return conn_unexpected(conn, "PING", reply);
    }
    rkc_reply_free(reply);
    return 0;
}

int rkc_get(rkc_conn *conn, const void *key, size_t key_len, char **value_out,
            size_t *value_len_out)
{
    *value_out = NULL;
    *value_len_out = 0;
    if (key == NULL) {
        return conn_error(conn, RKC_EINVAL, "key is NULL");
    }
    const char *argv[] = {"GET", key};
    size_t argv_len[] = {3, key_len};
    rkc_reply *reply = NULL;
    int rc = conn_call(conn, 2, argv, argv_len, &reply);
    if (rc < 0) {
        return rc;
    }
    if (reply->type == RKC_REPLY_NIL) {
        rkc_reply_free(reply);
        return 0;
    }
    if (reply->type != RKC_REPLY_STRING) {
        return conn_unexpected(conn, "GET", reply);
    }
    *value_out = reply->str;            /* the payload moves to the caller */
    *value_len_out = reply->len;
    reply->str = NULL;
    rkc_reply_free(reply);
    return 1;
}

int rkc_set(rkc_conn *conn, const void *key, size_t key_len, const void *value,
            size_t value_len)
{
    if (key == NULL || value == NULL) {
        return conn_error(conn, RKC_EINVAL, "key or value is NULL");
    }
    const char *argv[] = {"SET", key, value};
    size_t argv_len[] = {3, key_len, value_len};
    rkc_reply *reply = NULL;
    int rc = conn_call(conn, 3, argv, argv_len, &reply);
    if (rc < 0) {
        return rc;
    }
    if (reply->type != RKC_REPLY_STATUS || strcmp(reply->str, "OK") != 0) {
        return conn_unexpected(conn, "SET", reply);
    }
    rkc_reply_free(reply);
    return 0;
}

int rkc_del(rkc_conn *conn, size_t keys_count, const void *const *keys, const size_t *keys_len)
{
    if (keys_count == 0 || keys_count >= RKC_ARGS_MAX || keys == NULL || keys_len == NULL) {
        return conn_error(conn, RKC_EINVAL, "DEL needs 1..%u keys", RKC_ARGS_MAX - 1u);
    }
    const char **argv = malloc((keys_count + 1u) * sizeof(*argv));
    size_t *argv_len = malloc((keys_count + 1u) * sizeof(*argv_len));
    int rc = 0;
    if (argv == NULL || argv_len == NULL) {
        rc = conn_error(conn, RKC_ENOMEM, "no memory for %zu keys", keys_count);
        goto out_free_argv;
    }
    argv[0] = "DEL";
    argv_len[0] = 3;
    for (size_t i = 0; i < keys_count; i++) {
        argv[i + 1u] = keys[i];
        argv_len[i + 1u] = keys_len[i];
    }
    rkc_reply *reply = NULL;
    rc = conn_call(conn, keys_count + 1u, argv, argv_len, &reply);
    if (rc < 0) {
        goto out_free_argv;
    }
    if (reply->type != RKC_REPLY_INTEGER || reply->integer < 0 ||
        (uint64_t)reply->integer > keys_count) {
        rc = conn_unexpected(conn, "DEL", reply);
        goto out_free_argv;
    }
    rc = (int)reply->integer;
    rkc_reply_free(reply);

out_free_argv:
    free(argv);
    free(argv_len);
    return rc;
}
