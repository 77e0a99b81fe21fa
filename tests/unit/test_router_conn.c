/* test_router_conn.c — libringkv's router over the network (src/client/router.c): reading the
 * ring and members from a node, choosing a connection for a key, and what it does when a
 * member does not answer. The node is a fake: a thread on 127.0.0.1 (port 0) that accepts any
 * number of connections, polls them together and answers RK.RING ROUTE with a ring claimed
 * here by ring.c, RK.MEMBERS with a table the test writes, PING with PONG and counts what it
 * was asked. Members other than the fake point at a port that was bound and closed, so
 * connecting to them is refused at once. Covers: the seed's tables are loaded; a key whose
 * first primary is the fake gets the fake; a key whose primaries are all refused refreshes the
 * ring and falls back to any member that connects; a reply of the wrong shape or an error
 * (an older node) is refused and leaves the router as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/client/ringkv_router.h"
#include "../../src/core/ring.h"

#define FAKE_CONNS_MAX 8u
#define FAKE_IN_BYTES 4096u

typedef struct fake_node {
    int listen_fd;
    uint16_t port;
    uint16_t refused_port;          /* nothing listens there */
    pthread_t thread;
    int wake[2];                    /* a byte here stops the thread */
    uint8_t ring_reply[RK_RING_ENCODED_BYTES_MAX + 64];
    size_t ring_reply_len;
    char members_reply[1024];
    const char *ring_error;         /* not NULL: RK.RING ROUTE answers this error */
    _Atomic int ring_requests;      /* counted by the fake's thread, read by the test's */
    _Atomic int ping_requests;
} fake_node;

/* Parse one whole multibulk command at the start of `in`; returns its length, 0 when it is
 * not all there yet. *name gets its first argument, NUL-terminated. */
static size_t fake_command(const char *in, size_t len, char *name, size_t name_bytes)
{
    const char *end = in + len;
    const char *p = memchr(in, '\n', len);
    if (p == NULL || in[0] != '*') {
        return 0;
    }
    long argc = strtol(in + 1, NULL, 10);
    p++;
    for (long i = 0; i < argc; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || *p != '$') {
            return 0;
        }
        long arg_len = strtol(p + 1, NULL, 10);
        if (end - (nl + 1) < arg_len + 2) {
            return 0;
        }
        if (i == 0) {
            snprintf(name, name_bytes, "%.*s", (int)arg_len, nl + 1);
        }
        p = nl + 1 + arg_len + 2;
    }
    return (size_t)(p - in);
}

static void fake_answer(fake_node *f, int fd, const char *name)
{
    if (strcasecmp(name, "RK.RING") == 0 && f->ring_error != NULL) {
        f->ring_requests++;
        (void)!write(fd, f->ring_error, strlen(f->ring_error));
    } else if (strcasecmp(name, "RK.RING") == 0) {
        f->ring_requests++;
        (void)!write(fd, f->ring_reply, f->ring_reply_len);
    } else if (strcasecmp(name, "RK.MEMBERS") == 0) {
        (void)!write(fd, f->members_reply, strlen(f->members_reply));
    } else if (strcasecmp(name, "PING") == 0) {
        f->ping_requests++;
        (void)!write(fd, "+PONG\r\n", 7);
    } else {
        (void)!write(fd, "-ERR unknown\r\n", 14);
    }
}

static void *fake_main(void *arg)
{
    fake_node *f = arg;
    struct pollfd fds[2 + FAKE_CONNS_MAX];
    char in[FAKE_CONNS_MAX][FAKE_IN_BYTES];
    size_t in_len[FAKE_CONNS_MAX] = {0};
    uint32_t conn_count = 0;
    fds[0] = (struct pollfd){.fd = f->wake[0], .events = POLLIN};
    fds[1] = (struct pollfd){.fd = f->listen_fd, .events = POLLIN};
    for (;;) {
        if (poll(fds, 2 + conn_count, -1) < 0 || fds[0].revents != 0) {
            break;
        }
        for (uint32_t i = 0; i < conn_count; i++) {
            if (fds[2 + i].revents == 0 || fds[2 + i].fd < 0) {
                continue;
            }
            ssize_t got = read(fds[2 + i].fd, in[i] + in_len[i], FAKE_IN_BYTES - in_len[i]);
            if (got <= 0) {
                close(fds[2 + i].fd);
                fds[2 + i].fd = -1;     /* poll skips negative descriptors */
                continue;
            }
            in_len[i] += (size_t)got;
            char name[32];
            size_t used = 0;
            while ((used = fake_command(in[i], in_len[i], name, sizeof(name))) > 0) {
                fake_answer(f, fds[2 + i].fd, name);
                memmove(in[i], in[i] + used, in_len[i] - used);
                in_len[i] -= used;
            }
        }
        if (fds[1].revents != 0 && conn_count < FAKE_CONNS_MAX) {
            int fd = accept(f->listen_fd, NULL, NULL);
            if (fd >= 0) {
                fds[2 + conn_count] = (struct pollfd){.fd = fd, .events = POLLIN};
                in_len[conn_count++] = 0;
            }
        }
    }
    for (uint32_t i = 0; i < conn_count; i++) {
        if (fds[2 + i].fd >= 0) {
            close(fds[2 + i].fd);
        }
    }
    return NULL;
}

static uint16_t fake_listen(int *fd_out)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t addr_len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &addr_len), 0);
    *fd_out = fd;
    return ntohs(addr.sin_port);
}

/* A fake node 1 of a 4-member ring (ids 1 to 4; n=2 over Q=64) whose members 2, 3 and 4
 * are at the refused port: some keys have the fake as a primary, some do not. */
static fake_node *fake_start(void)
{
    fake_node *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int closed_fd = -1;
    f->refused_port = fake_listen(&closed_fd);
    close(closed_fd);
    f->port = fake_listen(&f->listen_fd);
    assert_int_equal(pipe(f->wake), 0);

    rk_ring ring;
    rk_node_id ids[4] = {1, 2, 3, 4};
    assert_int_equal(rk_ring_init(&ring, 64), 0);
    assert_int_equal(rk_ring_claim(&ring, ids, 4, 2), 0);
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX];
    int len = rk_ring_encode(&ring, bytes, sizeof(bytes));
    assert_true(len > 0);
    int head = snprintf((char *)f->ring_reply, sizeof(f->ring_reply),
                        "*3\r\n:%llu\r\n:2\r\n$%d\r\n", (unsigned long long)ring.version, len);
    memcpy(f->ring_reply + head, bytes, (size_t)len);
    memcpy(f->ring_reply + head + len, "\r\n", 2);
    f->ring_reply_len = (size_t)head + (size_t)len + 2;
    snprintf(f->members_reply, sizeof(f->members_reply),
             "*4\r\n"
             "*5\r\n:1\r\n$15\r\n127.0.0.1:%05u\r\n$15\r\n127.0.0.1:00001\r\n$4\r\nself\r\n:0\r\n"
             "*5\r\n:2\r\n$15\r\n127.0.0.1:%05u\r\n$15\r\n127.0.0.1:00002\r\n$2\r\nup\r\n:5\r\n"
             "*5\r\n:3\r\n$15\r\n127.0.0.1:%05u\r\n$15\r\n127.0.0.1:00003\r\n$2\r\nup\r\n:5\r\n"
             "*5\r\n:4\r\n$15\r\n127.0.0.1:%05u\r\n$15\r\n127.0.0.1:00004\r\n$4\r\ndown\r\n:-1\r\n",
             f->port, f->refused_port, f->refused_port, f->refused_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(fake_node *f)
{
    (void)!write(f->wake[1], "x", 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    close(f->wake[0]);
    close(f->wake[1]);
    free(f);
}

static rkc_router *router_on(fake_node *f)
{
    rkc_options opts;
    rkc_options_init(&opts);
    opts.connect_timeout_ms = 2000;
    opts.timeout_ms = 2000;
    rkc_router *router = rkc_router_new(&opts);
    assert_non_null(router);
    assert_int_equal(rkc_router_connect(router, "127.0.0.1", f->port), 0);
    return router;
}

/* A key whose primaries do (`with` true) or do not include node 1, found by trying names. */
static void key_for_node1(rkc_router *router, bool with, char *key, size_t bytes)
{
    for (uint32_t i = 0; i < 10000; i++) {
        snprintf(key, bytes, "k%u", i);
        uint32_t ids[2];
        if (rkc_router_primaries(router, key, strlen(key), ids, 2) == 2 &&
            (ids[0] == 1 || ids[1] == 1) == with && (!with || ids[0] == 1)) {
            return;
        }
    }
    fail_msg("no key found");
}

/* PING through the router for `key`; checks the fake answered. */
static void router_ping(rkc_router *router, const char *key)
{
    const char *argv[] = {"PING"};
    rkc_reply *reply = NULL;
    assert_int_equal(rkc_router_command(router, key, strlen(key), 1, argv, NULL, &reply), 0);
    assert_int_equal(reply->type, RKC_REPLY_STATUS);
    assert_string_equal(reply->str, "PONG");
    rkc_reply_free(reply);
}

static void test_router_reads_ring_and_members(void **state)
{
    (void)state;
    fake_node *f = fake_start();
    rkc_router *router = router_on(f);
    assert_int_equal(rkc_router_n(router), 2);
    assert_int_equal(rkc_router_ring_version(router), 1);
    uint32_t ids[4];
    assert_int_equal(rkc_router_members(router, ids, 4), 4);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[3], 4);
    const char *host = NULL;
    uint16_t port = 0;
    assert_int_equal(rkc_router_member(router, 1, &host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, f->port);
    assert_int_equal(rkc_router_member(router, 9, &host, &port), RKC_EINVAL);
    rkc_router_free(router);
    fake_stop(f);
}

/* The fake is the first primary: the command goes there and the ring is not read again. */
static void test_router_sends_to_first_primary(void **state)
{
    (void)state;
    fake_node *f = fake_start();
    rkc_router *router = router_on(f);
    char key[16];
    key_for_node1(router, true, key, sizeof(key));
    router_ping(router, key);
    router_ping(router, key);
    assert_int_equal(f->ping_requests, 2);
    assert_int_equal(f->ring_requests, 1);
    rkc_router_free(router);
    fake_stop(f);
}

/* Neither primary connects (2, 3 and 4 refuse): the router refreshes the ring, then any member
 * that connects takes the request (a real node would forward it). The refused members are
 * then skipped for a while, so the next request neither refreshes nor tries them again. */
static void test_router_falls_back_when_primaries_refuse(void **state)
{
    (void)state;
    fake_node *f = fake_start();
    rkc_router *router = router_on(f);
    char key[16];
    key_for_node1(router, false, key, sizeof(key));
    rkc_conn *conn = NULL;
    assert_int_equal(rkc_router_conn(router, key, strlen(key), &conn), 0);
    assert_non_null(conn);
    assert_int_equal(f->ring_requests, 2);           /* refreshed after the refusals */
    router_ping(router, key);
    router_ping(router, key);
    assert_int_equal(f->ring_requests, 2);           /* refused members skipped, no refresh */
    assert_int_equal(f->ping_requests, 2);
    rkc_router_free(router);
    fake_stop(f);
}

/* An older node refuses RK.RING ROUTE: RKC_ESERVER with its text, and a router that had a
 * ring keeps it. */
static void test_router_refresh_error_keeps_ring(void **state)
{
    (void)state;
    fake_node *f = fake_start();
    rkc_router *router = router_on(f);
    uint32_t before[2];
    assert_int_equal(rkc_router_primaries(router, "x", 1, before, 2), 2);
    f->ring_error = "-ERR syntax: RK.RING\r\n";
    assert_int_equal(rkc_router_refresh(router), RKC_ESERVER);
    assert_non_null(strstr(rkc_router_errstr(router), "ERR syntax"));
    f->ring_error = ":7\r\n";
    assert_int_equal(rkc_router_refresh(router), RKC_ETYPE);
    uint32_t after[2];
    assert_int_equal(rkc_router_primaries(router, "x", 1, after, 2), 2);
    assert_memory_equal(before, after, sizeof(before));
    rkc_router_free(router);
    fake_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_reads_ring_and_members),
        cmocka_unit_test(test_router_sends_to_first_primary),
        cmocka_unit_test(test_router_falls_back_when_primaries_refuse),
        cmocka_unit_test(test_router_refresh_error_keeps_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
