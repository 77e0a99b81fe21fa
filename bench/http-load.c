/* http-load.c — the load generator of bench/http-vs-resp.sh: T threads, one keep-alive
 * connection each, each sending one request and reading its whole reply before the next (no
 * pipelining), for the same requests over HTTP and RESP so only the protocol differs.
 *
 *   http-load PROTO OP PORT THREADS SECONDS KEYS VALUE_BYTES
 *     PROTO  http | resp
 *     OP     put | get      http: PUT/GET /keys/k<n>;  resp: RK.PUT k<n> "" v / RK.GET k<n>
 *            set | sget     resp only: SET / GET (the plain commands)
 *
 * Prints "PROTO OP requests/s". Keys are k0 .. k<KEYS-1>, drawn per thread from a fixed
 * sequence (no rand state shared between threads). Built by the script with cc -O2 -pthread. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    char buf[1 << 16];
    size_t start;
    size_t len;
} conn;

static const char *load_proto;
static const char *load_op;
static int load_port;
static unsigned load_keys;
static size_t load_value_bytes;
static char *load_value;
static atomic_int load_stop;
static atomic_ullong load_done;

static int conn_fill(conn *c)
{
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->len - c->start);
        c->len -= c->start;
        c->start = 0;
    }
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0) {
        return -1;
    }
    c->len += (size_t)n;
    return 0;
}

/* A line ending in CRLF starting at c->start; returns its length without CRLF. */
static int conn_line(conn *c, char **line)
{
    for (;;) {
        char *end = memmem(c->buf + c->start, c->len - c->start, "\r\n", 2);
        if (end != NULL) {
            *line = c->buf + c->start;
            int len = (int)(end - *line);
            c->start += (size_t)len + 2;
            return len;
        }
        if (conn_fill(c) != 0) {
            return -1;
        }
    }
}

static int conn_skip(conn *c, size_t n)
{
    while (c->len - c->start < n) {
        n -= c->len - c->start;
        c->start = c->len;
        if (conn_fill(c) != 0) {
            return -1;
        }
    }
    c->start += n;
    return 0;
}

/* Read one whole RESP reply, nested arrays included. */
static int resp_read(conn *c)
{
    long pending = 1;
    while (pending > 0) {
        char *line = NULL;
        if (conn_line(c, &line) < 1) {
            return -1;
        }
        long n = strtol(line + 1, NULL, 10);
        pending--;
        if (line[0] == '-') {
            return -1;
        } else if (line[0] == '$' && n >= 0 && conn_skip(c, (size_t)n + 2) != 0) {
            return -1;
        } else if (line[0] == '*' && n > 0) {
            pending += n;
        }
    }
    return 0;
}

/* Read one HTTP response: headers, then Content-Length bytes. */
static int http_read(conn *c)
{
    size_t body = 0;
    int status = 0;
    for (int first = 1;; first = 0) {
        char *line = NULL;
        int len = conn_line(c, &line);
        if (len < 0) {
            return -1;
        }
        if (len == 0) {
            break;
        }
        if (first) {
            status = atoi(line + 9);
        } else if (strncasecmp(line, "Content-Length:", 15) == 0) {
            body = strtoul(line + 15, NULL, 10);
        }
    }
    if (conn_skip(c, body) != 0) {
        return -1;
    }
    return status >= 200 && status < 500 ? 0 : -1;
}

static int load_request(conn *c, unsigned key, char *req, size_t cap)
{
    char k[32];
    int klen = snprintf(k, sizeof(k), "k%u", key);
    int n = 0;
    int http = strcmp(load_proto, "http") == 0;
    if (http && strcmp(load_op, "put") == 0) {
        n = snprintf(req, cap, "PUT /keys/%s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", k,
                     load_value_bytes);
    } else if (http) {
        n = snprintf(req, cap, "GET /keys/%s HTTP/1.1\r\n\r\n", k);
    } else if (strcmp(load_op, "put") == 0 || strcmp(load_op, "set") == 0) {
        int rk = strcmp(load_op, "put") == 0;
        n = snprintf(req, cap, rk ? "*4\r\n$6\r\nRK.PUT\r\n$%d\r\n%s\r\n$0\r\n\r\n$%zu\r\n"
                                  : "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n",
                     klen, k, load_value_bytes);
    } else {
        int rk = strcmp(load_op, "get") == 0;
        n = snprintf(req, cap, rk ? "*2\r\n$6\r\nRK.GET\r\n$%d\r\n%s\r\n"
                                  : "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n",
                     klen, k);
    }
    int body = strcmp(load_op, "put") == 0 || strcmp(load_op, "set") == 0;
    if (body) {
        memcpy(req + n, load_value, load_value_bytes);
        n += (int)load_value_bytes;
        if (!http) {
            memcpy(req + n, "\r\n", 2);
            n += 2;
        }
    }
    if (write(c->fd, req, (size_t)n) != n) {
        return -1;
    }
    return http ? http_read(c) : resp_read(c);
}

static void *load_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    conn *c = calloc(1, sizeof(*c));
    size_t cap = load_value_bytes + 256;
    char *req = malloc(cap);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)load_port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    while (!atomic_load(&load_stop)) {
        seed = seed * 1103515245u + 12345u;
        if (load_request(c, (seed >> 8) % load_keys, req, cap) != 0) {
            fprintf(stderr, "http-load: a request failed\n");
            exit(1);
        }
        atomic_fetch_add(&load_done, 1);
    }
    close(c->fd);
    free(req);
    free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: http-load http|resp put|get|set|sget PORT THREADS SECONDS KEYS "
                        "VALUE_BYTES\n");
        return 2;
    }
    load_proto = argv[1];
    load_op = argv[2];
    load_port = atoi(argv[3]);
    int threads = atoi(argv[4]);
    int seconds = atoi(argv[5]);
    load_keys = (unsigned)atoi(argv[6]);
    load_value_bytes = (size_t)atol(argv[7]);
    load_value = malloc(load_value_bytes + 1);
    memset(load_value, 'v', load_value_bytes);
    pthread_t tids[256];
    threads = threads > 256 ? 256 : threads;
    struct timespec t0;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++) {
        pthread_create(&tids[i], NULL, load_thread, (void *)(uintptr_t)i);
    }
    sleep((unsigned)seconds);
    atomic_store(&load_stop, 1);
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s %s %.0f\n", load_proto, load_op, (double)atomic_load(&load_done) / elapsed);
    free(load_value);
    return 0;
}
