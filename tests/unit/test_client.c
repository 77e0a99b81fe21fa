/* test_client.c — libringkv (src/client/) against a fake server: a thread listening on
 * 127.0.0.1, port 0, that takes one connection, reads the request bytes (kept for byte-exact
 * checks of the encoder), then writes canned reply bytes — whole, byte by byte, or in small
 * chunks — and waits for the client to hang up. Covers every RESP2 and RESP3 type, replies
 * split at every byte, malformed replies, both sides of each limit (bulk size, element count,
 * nesting depth, line length, reply memory, queued bytes), a server that closes or stalls,
 * pipelining, and the convenience calls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/client/ringkv.h"

#define FAKE_REQUEST_BYTES_MAX (64u * 1024u)
#define PING_REQUEST           "*1\r\n$4\r\nPING\r\n"
#define PING_REQUEST_BYTES     (sizeof(PING_REQUEST) - 1u)
/* Pause between chunks so that the client's reads really see the reply in pieces. */
#define FAKE_CHUNK_PAUSE_NS    100000L

typedef struct fake_server {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    const uint8_t *reply;
    size_t reply_len;
    size_t chunk_bytes;          /* 0: the reply in one write */
    size_t request_bytes;        /* request bytes to read before replying */
    bool close_after_reply;      /* hang up at once, mid-reply if the reply is cut short */
    uint8_t request[FAKE_REQUEST_BYTES_MAX];
    size_t request_len;
} fake_server;

static void fake_read_some(fake_server *fs, int fd, bool *eof)
{
    uint8_t scratch[4096];
    uint8_t *dst = scratch;
    size_t room = sizeof(scratch);
    if (fs->request_len < FAKE_REQUEST_BYTES_MAX) {
        dst = fs->request + fs->request_len;
        room = FAKE_REQUEST_BYTES_MAX - fs->request_len;
    }
    ssize_t n = recv(fd, dst, room, 0);
    if (n <= 0) {
        *eof = n == 0 || errno != EINTR;
        return;
    }
    if (dst != scratch) {
        fs->request_len += (size_t)n;
    }
}

static void *fake_server_main(void *arg)
{
    fake_server *fs = arg;
    int fd = accept(fs->listen_fd, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool eof = false;
    while (!eof && fs->request_len < fs->request_bytes) {
        fake_read_some(fs, fd, &eof);
    }
    size_t sent = 0;
    while (!eof && sent < fs->reply_len) {
        size_t chunk = fs->reply_len - sent;
        if (fs->chunk_bytes != 0 && chunk > fs->chunk_bytes) {
            chunk = fs->chunk_bytes;
        }
        ssize_t n = send(fd, fs->reply + sent, chunk, MSG_NOSIGNAL);
        if (n < 0) {
            break;                     /* the client gave up: fine for limit tests */
        }
        sent += (size_t)n;
        if (fs->chunk_bytes != 0) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = FAKE_CHUNK_PAUSE_NS};
            nanosleep(&pause, NULL);
        }
    }
    while (!eof && !fs->close_after_reply) {
        fake_read_some(fs, fd, &eof);  /* keep the request bytes of later commands */
    }
    close(fd);
    return NULL;
}

static void fake_start(fake_server *fs, const void *reply, size_t reply_len, size_t chunk_bytes,
                       size_t request_bytes)
{
    memset(fs, 0, sizeof(*fs));
    fs->reply = reply;
    fs->reply_len = reply_len;
    fs->chunk_bytes = chunk_bytes;
    fs->request_bytes = request_bytes;
    fs->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fs->listen_fd >= 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    assert_int_equal(bind(fs->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fs->listen_fd, 1), 0);
    socklen_t addr_len = sizeof(addr);
    assert_int_equal(getsockname(fs->listen_fd, (struct sockaddr *)&addr, &addr_len), 0);
    fs->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_server_main, fs), 0);
}

/* Call after the client closed its connection. */
static void fake_finish(fake_server *fs)
{
    assert_int_equal(pthread_join(fs->thread, NULL), 0);
    close(fs->listen_fd);
}

static rkc_conn *client_connect(const fake_server *fs, const rkc_options *opts)
{
    rkc_conn *conn = rkc_conn_new(opts);
    assert_non_null(conn);
    assert_int_equal(rkc_connect(conn, "127.0.0.1", fs->port), 0);
    return conn;
}

/* Send PING to a fake server answering `bytes` in `chunk_bytes` pieces; return what
 * rkc_get_reply returned, the reply in *reply_out and the error text in `errstr`. */
static int parse_canned(const void *bytes, size_t len, size_t chunk_bytes,
                        const rkc_options *opts, rkc_reply **reply_out, char *errstr)
{
    fake_server fs;
    fake_start(&fs, bytes, len, chunk_bytes, PING_REQUEST_BYTES);
    rkc_conn *conn = client_connect(&fs, opts);
    const char *argv[] = {"PING"};
    assert_int_equal(rkc_append_command(conn, 1, argv, NULL), 0);
    int rc = rkc_get_reply(conn, reply_out);
    snprintf(errstr, RKC_ERRSTR_BYTES, "%s", rkc_errstr(conn));
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_memory_equal(fs.request, PING_REQUEST, PING_REQUEST_BYTES);
    return rc;
}

static rkc_reply *parse_ok(const char *bytes, size_t chunk_bytes)
{
    rkc_reply *reply = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    int rc = parse_canned(bytes, strlen(bytes), chunk_bytes, NULL, &reply, errstr);
    if (rc != 0) {
        print_error("reply \"%s\": %s: %s\n", bytes, rkc_strerror(rc), errstr);
    }
    assert_int_equal(rc, 0);
    assert_non_null(reply);
    return reply;
}

/* Expect `expected_rc` and no reply. */
static void parse_fails(const void *bytes, size_t len, const rkc_options *opts, int expected_rc)
{
    rkc_reply *reply = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    int rc = parse_canned(bytes, len, 0, opts, &reply, errstr);
    if (rc != expected_rc) {
        print_error("reply \"%.*s\": got %d (%s)\n", (int)(len > 60u ? 60u : len),
                    (const char *)bytes, rc, errstr);
    }
    assert_int_equal(rc, expected_rc);
    assert_null(reply);
    assert_true(errstr[0] != '\0');
}

static void assert_text(const rkc_reply *reply, rkc_reply_type type, const char *text)
{
    assert_non_null(reply);
    assert_int_equal(reply->type, type);
    assert_int_equal(reply->len, strlen(text));
    assert_memory_equal(reply->str, text, reply->len);
    assert_int_equal(reply->str[reply->len], '\0');
}

static const size_t chunkings[] = {0, 1, 3};
#define CHUNKINGS_COUNT (sizeof(chunkings) / sizeof(chunkings[0]))

/* ---------------------------------------------------------------------------------------- */
/* encoding */

/* Arguments are length-prefixed, so NUL, CR and LF inside them and empty ones pass intact. */
static void test_command_encoded_byte_exact(void **state)
{
    (void)state;
    static const char expected[] = "*4\r\n$3\r\nSET\r\n$5\r\na\0b\r\n\r\n$0\r\n\r\n$2\r\n\r\n\r\n";
    static const char reply[] = "+OK\r\n";
    fake_server fs;
    fake_start(&fs, reply, sizeof(reply) - 1u, 0, sizeof(expected) - 1u);
    rkc_conn *conn = client_connect(&fs, NULL);
    const char *argv[] = {"SET", "a\0b\r\n", "", "\r\n"};
    const size_t argv_len[] = {3, 5, 0, 2};
    rkc_reply *r = NULL;
    assert_int_equal(rkc_command(conn, 4, argv, argv_len, &r), 0);
    assert_text(r, RKC_REPLY_STATUS, "OK");
    rkc_reply_free(r);
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_int_equal(fs.request_len, sizeof(expected) - 1u);
    assert_memory_equal(fs.request, expected, sizeof(expected) - 1u);
}

/* Without lengths, arguments are C strings; a ten-argument command gets a two-digit count. */
static void test_command_lengths_default_to_strlen(void **state)
{
    (void)state;
    static const char expected[] =
        "*10\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
        "$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$10\r\n0123456789\r\n";
    static const char reply[] = "*0\r\n";
    fake_server fs;
    fake_start(&fs, reply, sizeof(reply) - 1u, 0, sizeof(expected) - 1u);
    rkc_conn *conn = client_connect(&fs, NULL);
    const char *argv[] = {"MGET", "a", "b", "c", "d", "e", "f", "g", "h", "0123456789"};
    rkc_reply *r = NULL;
    assert_int_equal(rkc_command(conn, 10, argv, NULL, &r), 0);
    assert_int_equal(r->type, RKC_REPLY_ARRAY);
    assert_int_equal(r->elements_count, 0);
    rkc_reply_free(r);
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_memory_equal(fs.request, expected, sizeof(expected) - 1u);
}

static void test_append_refuses_bad_arguments(void **state)
{
    (void)state;
    rkc_conn *conn = rkc_conn_new(NULL);
    assert_non_null(conn);
    const char *argv[] = {"PING", NULL};
    assert_int_equal(rkc_append_command(conn, 0, argv, NULL), RKC_EINVAL);
    assert_int_equal(rkc_append_command(conn, 1, NULL, NULL), RKC_EINVAL);
    assert_int_equal(rkc_append_command(conn, 2, argv, NULL), RKC_EINVAL);
    assert_int_equal(rkc_append_command(conn, RKC_ARGS_MAX + 1u, argv, NULL), RKC_ETOOBIG);
    rkc_reply *r = NULL;
    assert_int_equal(rkc_get_reply(conn, &r), RKC_EINVAL);     /* not connected */
    assert_null(r);
    assert_int_equal(rkc_flush(conn), RKC_EINVAL);
    rkc_conn_free(conn);
}

/* "*1\r\n$4\r\nPING\r\n" is 14 bytes: a queue limit of 28 takes two, and refuses the third
 * whole, leaving the queue as it was. */
static void test_append_respects_out_bytes_max(void **state)
{
    (void)state;
    static const char replies[] = "+PONG\r\n+PONG\r\n";
    rkc_options opts;
    rkc_options_init(&opts);
    opts.out_bytes_max = 2u * PING_REQUEST_BYTES;
    fake_server fs;
    fake_start(&fs, replies, sizeof(replies) - 1u, 0, 2u * PING_REQUEST_BYTES);
    rkc_conn *conn = client_connect(&fs, &opts);
    const char *argv[] = {"PING"};
    assert_int_equal(rkc_append_command(conn, 1, argv, NULL), 0);
    assert_int_equal(rkc_append_command(conn, 1, argv, NULL), 0);
    assert_int_equal(rkc_append_command(conn, 1, argv, NULL), RKC_ETOOBIG);
    assert_non_null(strstr(rkc_errstr(conn), "out_bytes_max"));
    for (int i = 0; i < 2; i++) {
        rkc_reply *r = NULL;
        assert_int_equal(rkc_get_reply(conn, &r), 0);
        assert_text(r, RKC_REPLY_STATUS, "PONG");
        rkc_reply_free(r);
    }
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_int_equal(fs.request_len, 2u * PING_REQUEST_BYTES);
}

/* ---------------------------------------------------------------------------------------- */
/* every type */

static void test_reply_simple_types(void **state)
{
    (void)state;
    for (size_t k = 0; k < CHUNKINGS_COUNT; k++) {
        rkc_reply *r = parse_ok("+OK\r\n", chunkings[k]);
        assert_text(r, RKC_REPLY_STATUS, "OK");
        rkc_reply_free(r);
        r = parse_ok("+\r\n", chunkings[k]);
        assert_text(r, RKC_REPLY_STATUS, "");
        rkc_reply_free(r);
        r = parse_ok("-ERR unknown command 'FOO'\r\n", chunkings[k]);
        assert_text(r, RKC_REPLY_ERROR, "ERR unknown command 'FOO'");
        rkc_reply_free(r);
        r = parse_ok("!22\r\nSYNTAX invalid\r\nsyntax\r\n", chunkings[k]);
        assert_text(r, RKC_REPLY_ERROR, "SYNTAX invalid\r\nsyntax");
        rkc_reply_free(r);
    }
}

static void test_reply_integers_to_both_ends(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        int64_t value;
    } cases[] = {
        {":0\r\n", 0},
        {":-1\r\n", -1},
        {":+7\r\n", 7},
        {":9223372036854775807\r\n", INT64_MAX},
        {":-9223372036854775808\r\n", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rkc_reply *r = parse_ok(cases[i].bytes, 1);
        assert_int_equal(r->type, RKC_REPLY_INTEGER);
        assert_true(r->integer == cases[i].value);
        rkc_reply_free(r);
    }
}

static void test_reply_bulk_is_binary_safe(void **state)
{
    (void)state;
    static const char bytes[] = "$7\r\na\0b\r\nc\n\r\n";
    for (size_t k = 0; k < CHUNKINGS_COUNT; k++) {
        rkc_reply *r = NULL;
        char errstr[RKC_ERRSTR_BYTES];
        assert_int_equal(parse_canned(bytes, sizeof(bytes) - 1u, chunkings[k], NULL, &r, errstr),
                         0);
        assert_int_equal(r->type, RKC_REPLY_STRING);
        assert_int_equal(r->len, 7);
        assert_memory_equal(r->str, "a\0b\r\nc\n", 7);
        assert_int_equal(r->str[7], '\0');
        rkc_reply_free(r);
    }
    rkc_reply *r = parse_ok("$0\r\n\r\n", 1);
    assert_text(r, RKC_REPLY_STRING, "");
    rkc_reply_free(r);
}

/* RESP2's null bulk and null array and RESP3's null all read as RKC_REPLY_NIL. */
static void test_reply_nulls_of_both_protocols(void **state)
{
    (void)state;
    const char *nulls[] = {"$-1\r\n", "*-1\r\n", "_\r\n"};
    for (size_t i = 0; i < 3; i++) {
        rkc_reply *r = parse_ok(nulls[i], 1);
        assert_int_equal(r->type, RKC_REPLY_NIL);
        assert_null(r->str);
        assert_int_equal(r->elements_count, 0);
        rkc_reply_free(r);
    }
}

static void test_reply_resp3_scalars(void **state)
{
    (void)state;
    rkc_reply *r = parse_ok(",3.25\r\n", 1);
    assert_int_equal(r->type, RKC_REPLY_DOUBLE);
    assert_true(r->dbl == 3.25);
    assert_string_equal(r->str, "3.25");
    rkc_reply_free(r);
    r = parse_ok(",-inf\r\n", 0);
    assert_true(isinf(r->dbl) && r->dbl < 0);
    rkc_reply_free(r);
    r = parse_ok(",nan\r\n", 0);
    assert_true(isnan(r->dbl));
    rkc_reply_free(r);
    r = parse_ok(",1e10\r\n", 0);
    assert_true(r->dbl == 1e10);
    rkc_reply_free(r);
    r = parse_ok("#t\r\n", 1);
    assert_int_equal(r->type, RKC_REPLY_BOOL);
    assert_int_equal(r->integer, 1);
    rkc_reply_free(r);
    r = parse_ok("#f\r\n", 0);
    assert_int_equal(r->integer, 0);
    rkc_reply_free(r);
    r = parse_ok("(-3492890328409238509324850943850943825024385\r\n", 1);
    assert_text(r, RKC_REPLY_BIGNUM, "-3492890328409238509324850943850943825024385");
    rkc_reply_free(r);
    r = parse_ok("=15\r\ntxt:Some string\r\n", 1);
    assert_text(r, RKC_REPLY_VERBATIM, "Some string");
    assert_string_equal(r->format, "txt");
    rkc_reply_free(r);
    r = parse_ok("=4\r\nmkd:\r\n", 0);
    assert_text(r, RKC_REPLY_VERBATIM, "");
    assert_string_equal(r->format, "mkd");
    rkc_reply_free(r);
}

/* Checks the tree of every_type_reply. */
static void check_every_type_tree(const rkc_reply *r)
{
    assert_int_equal(r->type, RKC_REPLY_ARRAY);
    assert_int_equal(r->elements_count, 6);
    assert_null(r->attribute);
    assert_text(r->elements[0], RKC_REPLY_STATUS, "OK");
    assert_int_equal(r->elements[1]->type, RKC_REPLY_INTEGER);
    assert_int_equal(r->elements[1]->integer, -42);
    const rkc_reply *map = r->elements[2];
    assert_int_equal(map->type, RKC_REPLY_MAP);
    assert_int_equal(map->elements_count, 4);
    assert_text(map->elements[0], RKC_REPLY_STRING, "k1");
    assert_int_equal(map->elements[1]->type, RKC_REPLY_SET);
    assert_int_equal(map->elements[1]->elements_count, 2);
    assert_int_equal(map->elements[1]->elements[0]->type, RKC_REPLY_BOOL);
    assert_int_equal(map->elements[1]->elements[1]->type, RKC_REPLY_NIL);
    assert_text(map->elements[2], RKC_REPLY_STATUS, "k2");
    assert_int_equal(map->elements[3]->type, RKC_REPLY_ARRAY);
    assert_int_equal(map->elements[3]->elements_count, 0);
    const rkc_reply *value = r->elements[3];     /* came with an attribute */
    assert_text(value, RKC_REPLY_STRING, "v");
    assert_non_null(value->attribute);
    assert_int_equal(value->attribute->type, RKC_REPLY_ATTRIBUTE);
    assert_int_equal(value->attribute->elements_count, 2);
    assert_text(value->attribute->elements[0], RKC_REPLY_STATUS, "ttl");
    assert_int_equal(value->attribute->elements[1]->integer, 3600);
    const rkc_reply *push = r->elements[4];
    assert_int_equal(push->type, RKC_REPLY_PUSH);
    assert_int_equal(push->elements_count, 2);
    assert_text(push->elements[0], RKC_REPLY_VERBATIM, "hi");
    assert_int_equal(push->elements[1]->type, RKC_REPLY_DOUBLE);
    assert_true(push->elements[1]->dbl == 0.5);
    assert_text(r->elements[5], RKC_REPLY_ERROR, "E nested");
}

static const char every_type_reply[] =
    "*6\r\n"
    "+OK\r\n"
    ":-42\r\n"
    "%2\r\n$2\r\nk1\r\n~2\r\n#t\r\n_\r\n+k2\r\n*0\r\n"
    "|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n"
    ">2\r\n=6\r\ntxt:hi\r\n,0.5\r\n"
    "-E nested\r\n";

/* The same tree whatever the split: whole, one byte per read, three bytes per read. */
static void test_reply_every_type_whatever_the_split(void **state)
{
    (void)state;
    for (size_t k = 0; k < CHUNKINGS_COUNT; k++) {
        rkc_reply *r = parse_ok(every_type_reply, chunkings[k]);
        check_every_type_tree(r);
        rkc_reply_free(r);
    }
}

/* An attribute before the whole reply hangs off the root; the caller sees the plain value. */
static void test_reply_attribute_before_root(void **state)
{
    (void)state;
    rkc_reply *r = parse_ok("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n", 1);
    assert_int_equal(r->type, RKC_REPLY_ARRAY);
    assert_int_equal(r->elements_count, 1);
    assert_int_equal(r->elements[0]->integer, 2);
    assert_non_null(r->attribute);
    assert_text(r->attribute->elements[0], RKC_REPLY_STATUS, "key-popularity");
    assert_int_equal(r->attribute->elements[1]->type, RKC_REPLY_MAP);
    rkc_reply_free(r);
}

/* ---------------------------------------------------------------------------------------- */
/* malformed replies */

static void test_reply_malformed_is_eproto(void **state)
{
    (void)state;
    const char *cases[] = {
        "?what\r\n",                    /* unknown type byte */
        "\r\n",                         /* empty line */
        "+OK\rX\r\n",                   /* CR without LF */
        ":12a\r\n",
        ":\r\n",
        ":-\r\n",
        ":9223372036854775808\r\n",     /* one above INT64_MAX */
        ":-9223372036854775809\r\n",
        "$-2\r\n",
        "$x\r\n",
        "$3\r\nabcX\r\n",               /* bulk not followed by CRLF */
        "!-1\r\n",                      /* only '$' and '*' have RESP2 nulls */
        "=3\r\ntxt\r\n",                /* verbatim shorter than its prefix */
        "=5\r\ntxtxx\r\n",              /* verbatim without ':' */
        "_x\r\n",
        "#x\r\n",
        "#tt\r\n",
        ",\r\n",
        ",1.5x\r\n",
        ", 1\r\n",
        "(12a\r\n",
        "(\r\n",
        "*-2\r\n",
        "%-1\r\n",
        "~x\r\n",
        "|0\r\n|0\r\n+OK\r\n",          /* two attributes in a row */
        "*2\r\n:1\r\n?\r\n",            /* bad element inside an aggregate */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_fails(cases[i], strlen(cases[i]), NULL, RKC_EPROTO);
    }
}

/* A server that hangs up mid-reply gives RKC_ECLOSED, and the connection then refuses every
 * call with RKC_EBROKEN: its stream position is lost. */
static void test_server_closing_mid_reply_breaks_connection(void **state)
{
    (void)state;
    static const char partial[] = "*2\r\n$5\r\nhel";
    fake_server fs;
    fake_start(&fs, partial, sizeof(partial) - 1u, 0, PING_REQUEST_BYTES);
    fs.close_after_reply = true;
    rkc_conn *conn = client_connect(&fs, NULL);
    const char *argv[] = {"PING"};
    rkc_reply *r = NULL;
    assert_int_equal(rkc_command(conn, 1, argv, NULL, &r), RKC_ECLOSED);
    assert_null(r);
    assert_int_equal(rkc_command(conn, 1, argv, NULL, &r), RKC_EBROKEN);
    assert_int_equal(rkc_ping(conn), RKC_EBROKEN);
    assert_non_null(strstr(rkc_errstr(conn), "reconnect"));
    rkc_conn_free(conn);
    fake_finish(&fs);
}

/* A server that stalls mid-reply gives RKC_ETIMEDOUT after timeout_ms. */
static void test_server_stalling_times_out(void **state)
{
    (void)state;
    static const char partial[] = "$10\r\nabc";
    rkc_options opts;
    rkc_options_init(&opts);
    opts.timeout_ms = 100;
    fake_server fs;
    fake_start(&fs, partial, sizeof(partial) - 1u, 0, PING_REQUEST_BYTES);
    rkc_conn *conn = client_connect(&fs, &opts);
    const char *argv[] = {"PING"};
    rkc_reply *r = NULL;
    assert_int_equal(rkc_command(conn, 1, argv, NULL, &r), RKC_ETIMEDOUT);
    assert_null(r);
    assert_non_null(strstr(rkc_errstr(conn), "timeout_ms 100"));
    assert_int_equal(rkc_get_reply(conn, &r), RKC_EBROKEN);
    rkc_conn_free(conn);
    fake_finish(&fs);
}

/* ---------------------------------------------------------------------------------------- */
/* limits, both sides */

static void test_bulk_at_limit_passes_and_above_fails(void **state)
{
    (void)state;
    rkc_options opts;
    rkc_options_init(&opts);
    opts.bulk_bytes_max = 4;
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    static const char at_limit[] = "$4\r\nabcd\r\n";
    assert_int_equal(parse_canned(at_limit, sizeof(at_limit) - 1u, 0, &opts, &r, errstr), 0);
    assert_text(r, RKC_REPLY_STRING, "abcd");
    rkc_reply_free(r);
    static const char verbatim_at_limit[] = "=4\r\ntxt:\r\n";
    assert_int_equal(parse_canned(verbatim_at_limit, sizeof(verbatim_at_limit) - 1u, 0, &opts, &r,
                                  errstr), 0);
    rkc_reply_free(r);
    parse_fails("$5\r\nabcde\r\n", 11, &opts, RKC_ETOOBIG);
    parse_fails("!5\r\nabcde\r\n", 11, &opts, RKC_ETOOBIG);
    parse_fails("=9\r\ntxt:abcde\r\n", 15, &opts, RKC_ETOOBIG);
}

/* The default bulk limit is 64 MiB: one byte more is refused from the length alone. */
static void test_bulk_over_default_limit_fails_before_reading(void **state)
{
    (void)state;
    static const char over[] = "$67108865\r\n";
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    assert_int_equal(parse_canned(over, sizeof(over) - 1u, 0, NULL, &r, errstr), RKC_ETOOBIG);
    assert_null(r);
    assert_non_null(strstr(errstr, "67108865"));
    assert_non_null(strstr(errstr, "bulk_bytes_max is 67108864"));
}

static void test_elements_at_limit_pass_and_above_fail(void **state)
{
    (void)state;
    rkc_options opts;
    rkc_options_init(&opts);
    opts.elements_max = 4;
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    static const char array4[] = "*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n";
    assert_int_equal(parse_canned(array4, sizeof(array4) - 1u, 0, &opts, &r, errstr), 0);
    assert_int_equal(r->elements_count, 4);
    rkc_reply_free(r);
    static const char map2[] = "%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n";
    assert_int_equal(parse_canned(map2, sizeof(map2) - 1u, 0, &opts, &r, errstr), 0);
    assert_int_equal(r->elements_count, 4);
    rkc_reply_free(r);
    parse_fails("*5\r\n", 4, &opts, RKC_ETOOBIG);
    parse_fails("~5\r\n", 4, &opts, RKC_ETOOBIG);
    parse_fails(">5\r\n", 4, &opts, RKC_ETOOBIG);
    parse_fails("%3\r\n", 4, &opts, RKC_ETOOBIG);   /* 3 pairs are 6 elements */
    parse_fails("|3\r\n", 4, &opts, RKC_ETOOBIG);
    parse_fails("*99999999999999999\r\n", 20, NULL, RKC_ETOOBIG);
}

/* Build `depth` nested one-element arrays around ":1". */
static size_t nested_arrays(char *out, size_t out_bytes, uint32_t depth)
{
    size_t len = 0;
    for (uint32_t i = 0; i < depth; i++) {
        assert_true(len + 4u < out_bytes);
        memcpy(out + len, "*1\r\n", 4);
        len += 4;
    }
    assert_true(len + 4u < out_bytes);
    memcpy(out + len, ":1\r\n", 4);
    return len + 4u;
}

static void test_nesting_at_limit_passes_and_deeper_fails(void **state)
{
    (void)state;
    char bytes[512];
    size_t len = nested_arrays(bytes, sizeof(bytes), RKC_DEPTH_MAX);
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    assert_int_equal(parse_canned(bytes, len, 1, NULL, &r, errstr), 0);
    const rkc_reply *node = r;
    for (uint32_t i = 0; i < RKC_DEPTH_MAX; i++) {
        assert_int_equal(node->type, RKC_REPLY_ARRAY);
        assert_int_equal(node->elements_count, 1);
        node = node->elements[0];
    }
    assert_int_equal(node->type, RKC_REPLY_INTEGER);
    rkc_reply_free(r);

    len = nested_arrays(bytes, sizeof(bytes), RKC_DEPTH_MAX + 1u);
    parse_fails(bytes, len, NULL, RKC_ETOOBIG);
    len = nested_arrays(bytes, sizeof(bytes), 100);
    parse_fails(bytes, len, NULL, RKC_ETOOBIG);
}

/* Attributes nested at every level, the deepest tree the parser builds, free cleanly (ASan
 * and LeakSanitizer check the walk). */
static void test_deepest_tree_with_attributes_frees(void **state)
{
    (void)state;
    char bytes[1024];
    size_t len = 0;
    for (uint32_t i = 0; i < RKC_DEPTH_MAX; i++) {
        static const char level[] = "|1\r\n+a\r\n:1\r\n*1\r\n";
        memcpy(bytes + len, level, sizeof(level) - 1u);
        len += sizeof(level) - 1u;
    }
    /* At the deepest level an attribute can only be empty: its own elements would nest
     * one level more. */
    static const char leaf[] = "|0\r\n+leaf\r\n";
    memcpy(bytes + len, leaf, sizeof(leaf) - 1u);
    len += sizeof(leaf) - 1u;
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    assert_int_equal(parse_canned(bytes, len, 0, NULL, &r, errstr), 0);
    const rkc_reply *node = r;
    for (uint32_t i = 0; i < RKC_DEPTH_MAX; i++) {
        assert_non_null(node->attribute);
        node = node->elements[0];
    }
    assert_text(node, RKC_REPLY_STATUS, "leaf");
    assert_non_null(node->attribute);
    assert_int_equal(node->attribute->elements_count, 0);
    rkc_reply_free(r);
}

static void test_line_at_limit_passes_and_longer_fails(void **state)
{
    (void)state;
    size_t len = 1u + RKC_LINE_BYTES_MAX + 2u;
    char *bytes = malloc(len + 1u);
    assert_non_null(bytes);
    bytes[0] = '+';
    memset(bytes + 1, 'x', RKC_LINE_BYTES_MAX - 1u);     /* the type byte counts */
    memcpy(bytes + RKC_LINE_BYTES_MAX, "\r\n", 2);
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    assert_int_equal(parse_canned(bytes, RKC_LINE_BYTES_MAX + 2u, 0, NULL, &r, errstr), 0);
    assert_int_equal(r->len, RKC_LINE_BYTES_MAX - 1u);
    rkc_reply_free(r);
    memset(bytes + 1, 'x', RKC_LINE_BYTES_MAX + 1u);
    memcpy(bytes + RKC_LINE_BYTES_MAX + 1u, "\r\n", 2);
    parse_fails(bytes, len, NULL, RKC_ETOOBIG);
    free(bytes);
}

/* Many small bulks add up against reply_bytes_max, and the partial tree is freed. */
static void test_reply_memory_limit_covers_whole_tree(void **state)
{
    (void)state;
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
    static const char bytes[] = "*3\r\n$100\r\n" X100 "\r\n$100\r\n" X100 "\r\n:1\r\n";
#undef X100
#undef X10
    rkc_options opts;
    rkc_options_init(&opts);
    opts.reply_bytes_max = 4096;
    rkc_reply *r = NULL;
    char errstr[RKC_ERRSTR_BYTES];
    assert_int_equal(parse_canned(bytes, sizeof(bytes) - 1u, 0, &opts, &r, errstr), 0);
    rkc_reply_free(r);
    opts.reply_bytes_max = 150;        /* the first bulk fits, the second does not */
    parse_fails(bytes, sizeof(bytes) - 1u, &opts, RKC_ETOOBIG);
}

/* ---------------------------------------------------------------------------------------- */
/* pipelining and convenience calls */

/* Three commands queued, sent in one flush, answered in order. */
static void test_pipeline_replies_in_order(void **state)
{
    (void)state;
    static const char expected[] =
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
    static const char replies[] = "+OK\r\n:2\r\n$1\r\n2\r\n";
    fake_server fs;
    fake_start(&fs, replies, sizeof(replies) - 1u, 1, sizeof(expected) - 1u);
    rkc_conn *conn = client_connect(&fs, NULL);
    const char *set_argv[] = {"SET", "a", "1"};
    const char *incr_argv[] = {"INCR", "a"};
    const char *get_argv[] = {"GET", "a"};
    assert_int_equal(rkc_append_command(conn, 3, set_argv, NULL), 0);
    assert_int_equal(rkc_append_command(conn, 2, incr_argv, NULL), 0);
    assert_int_equal(rkc_append_command(conn, 2, get_argv, NULL), 0);
    assert_int_equal(rkc_ping(conn), RKC_EINVAL);      /* replies are waiting */
    assert_int_equal(rkc_flush(conn), 0);
    rkc_reply *r = NULL;
    assert_int_equal(rkc_get_reply(conn, &r), 0);
    assert_text(r, RKC_REPLY_STATUS, "OK");
    rkc_reply_free(r);
    assert_int_equal(rkc_get_reply(conn, &r), 0);
    assert_int_equal(r->integer, 2);
    rkc_reply_free(r);
    assert_int_equal(rkc_get_reply(conn, &r), 0);
    assert_text(r, RKC_REPLY_STRING, "2");
    rkc_reply_free(r);
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_int_equal(fs.request_len, sizeof(expected) - 1u);
    assert_memory_equal(fs.request, expected, sizeof(expected) - 1u);
}

/* get finds, misses, and sees an error; ping, set and del; each on one connection, which a
 * server error or an unexpected type leaves usable. */
static void test_convenience_calls(void **state)
{
    (void)state;
    static const char expected[] =
        "*1\r\n$4\r\nPING\r\n"
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\0v\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nm\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nh\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        "*3\r\n$3\r\nDEL\r\n$1\r\nk\r\n$1\r\nm\r\n"
        "*1\r\n$4\r\nPING\r\n";
    static const char replies[] =
        "+PONG\r\n+OK\r\n$3\r\nv\0v\r\n$-1\r\n"
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        ":5\r\n:1\r\n+PONG\r\n";
    fake_server fs;
    fake_start(&fs, replies, sizeof(replies) - 1u, 0, 1);
    rkc_conn *conn = client_connect(&fs, NULL);
    assert_int_equal(rkc_ping(conn), 0);
    assert_int_equal(rkc_set(conn, "k", 1, "v\0v", 3), 0);
    char *value = NULL;
    size_t value_len = 0;
    assert_int_equal(rkc_get(conn, "k", 1, &value, &value_len), 1);
    assert_int_equal(value_len, 3);
    assert_memory_equal(value, "v\0v", 4);          /* NUL-terminated too */
    free(value);
    assert_int_equal(rkc_get(conn, "m", 1, &value, &value_len), 0);
    assert_null(value);
    assert_int_equal(rkc_get(conn, "h", 1, &value, &value_len), RKC_ESERVER);
    assert_string_equal(rkc_errstr(conn),
                        "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_int_equal(rkc_get(conn, "k", 1, &value, &value_len), RKC_ETYPE);
    assert_non_null(strstr(rkc_errstr(conn), "integer"));
    const void *keys[] = {"k", "m"};
    const size_t keys_len[] = {1, 1};
    assert_int_equal(rkc_del(conn, 2, keys, keys_len), 1);
    assert_int_equal(rkc_ping(conn), 0);
    rkc_conn_free(conn);
    fake_finish(&fs);
    assert_int_equal(fs.request_len, sizeof(expected) - 1u);
    assert_memory_equal(fs.request, expected, sizeof(expected) - 1u);
}

static void test_del_refuses_no_keys(void **state)
{
    (void)state;
    rkc_conn *conn = rkc_conn_new(NULL);
    const void *keys[] = {"k"};
    const size_t keys_len[] = {1};
    assert_int_equal(rkc_del(conn, 0, keys, keys_len), RKC_EINVAL);
    assert_int_equal(rkc_del(conn, 1, NULL, keys_len), RKC_EINVAL);
    rkc_conn_free(conn);
}

/* ---------------------------------------------------------------------------------------- */
/* connecting, errors */

static void test_connect_refused_names_address(void **state)
{
    (void)state;
    /* A port that was just free: bind, note it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t addr_len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &addr_len), 0);
    close(fd);
    rkc_conn *conn = rkc_conn_new(NULL);
    assert_int_equal(rkc_connect(conn, "127.0.0.1", ntohs(addr.sin_port)), RKC_ECONNECT);
    assert_non_null(strstr(rkc_errstr(conn), "127.0.0.1"));
    assert_int_equal(rkc_fd(conn), -1);
    rkc_conn_free(conn);
}

static void test_connect_refuses_bad_arguments(void **state)
{
    (void)state;
    rkc_conn *conn = rkc_conn_new(NULL);
    assert_int_equal(rkc_connect(conn, NULL, 7001), RKC_EINVAL);
    assert_int_equal(rkc_connect(conn, "127.0.0.1", 0), RKC_EINVAL);
    rkc_conn_free(conn);
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int code = 0; code > -RKC_ERROR_COUNT; code--) {
        assert_string_not_equal(rkc_strerror(code), "unknown error");
    }
    assert_string_equal(rkc_strerror(-RKC_ERROR_COUNT), "unknown error");
    assert_string_equal(rkc_strerror(1), "unknown error");
    assert_string_equal(rkc_strerror(RKC_ETOOBIG), "over a limit");
    rkc_reply_free(NULL);
    rkc_conn_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_encoded_byte_exact),
        cmocka_unit_test(test_command_lengths_default_to_strlen),
        cmocka_unit_test(test_append_refuses_bad_arguments),
        cmocka_unit_test(test_append_respects_out_bytes_max),
        cmocka_unit_test(test_reply_simple_types),
        cmocka_unit_test(test_reply_integers_to_both_ends),
        cmocka_unit_test(test_reply_bulk_is_binary_safe),
        cmocka_unit_test(test_reply_nulls_of_both_protocols),
        cmocka_unit_test(test_reply_resp3_scalars),
        cmocka_unit_test(test_reply_every_type_whatever_the_split),
        cmocka_unit_test(test_reply_attribute_before_root),
        cmocka_unit_test(test_reply_malformed_is_eproto),
        cmocka_unit_test(test_server_closing_mid_reply_breaks_connection),
        cmocka_unit_test(test_server_stalling_times_out),
        cmocka_unit_test(test_bulk_at_limit_passes_and_above_fails),
        cmocka_unit_test(test_bulk_over_default_limit_fails_before_reading),
        cmocka_unit_test(test_elements_at_limit_pass_and_above_fail),
        cmocka_unit_test(test_nesting_at_limit_passes_and_deeper_fails),
        cmocka_unit_test(test_deepest_tree_with_attributes_frees),
        cmocka_unit_test(test_line_at_limit_passes_and_longer_fails),
        cmocka_unit_test(test_reply_memory_limit_covers_whole_tree),
        cmocka_unit_test(test_pipeline_replies_in_order),
        cmocka_unit_test(test_convenience_calls),
        cmocka_unit_test(test_del_refuses_no_keys),
        cmocka_unit_test(test_connect_refused_names_address),
        cmocka_unit_test(test_connect_refuses_bad_arguments),
        cmocka_unit_test(test_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
