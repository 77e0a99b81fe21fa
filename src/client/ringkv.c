/* ringkv.c — libringkv: connection, command encoding and sending, buffered reads and the
 * command calls; parsing replies into a tree is reply.c's. See ringkv.h for the contract. The
 * socket is non-blocking and every wait is a poll() against one deadline, so a server that
 * trickles bytes cannot hold a call past timeout_ms. */
#include "ringkv.h"

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

#include "ringkv_internal.h"

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
/* "*" or "$", 20 digits of a size_t, CRLF. */
#define ENCODE_HEADER_BYTES_MAX 24u

_Static_assert(RKC_LINE_BYTES_MAX + 2u < CONN_RBUF_BYTES, "a line and its CRLF fit the buffer");
_Static_assert(RKC_ARGS_MAX < (size_t)-1 / ENCODE_HEADER_BYTES_MAX, "argument headers fit");

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
int conn_break(rkc_conn *c, int code, const char *fmt, ...)
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

size_t rkc_buffered(const rkc_conn *conn)
{
    return conn->rbuf_end - conn->rbuf_start;
}

uint64_t rkc_pending(const rkc_conn *conn)
{
    return conn->replies_pending;
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
int conn_read_line(rkc_conn *c, const char **line, size_t *line_len)
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
int conn_read_exact(rkc_conn *c, uint8_t *dst, size_t len)
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
/* replies */

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
