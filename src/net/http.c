/* http.c — requests in through libhttp-parser, responses out, percent-decoding (see http.h).
 * libhttp-parser calls back per fragment; this file assembles one request at a time and pauses
 * the parser at its end, so pipelined requests come out one per rk_http_parse call. */
#include "http.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/common.h"

enum {
    HTTP_HEADER_NONE = 0,
    HTTP_HEADER_CONTEXT = 1,
    HTTP_HEADER_ACCEPT = 2,
    HTTP_HEADER_EXPECT = 3,
};

const char rk_http_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int http_fail(rk_http_parser *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int http_fail(rk_http_parser *p, int status, const char *fmt, ...)
{
    if (p->error_status == 0) {
        p->error_status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof(p->error), fmt, ap);
        va_end(ap);
    }
    return -1;      /* any non-zero return stops libhttp-parser with HPE_CB_* */
}

/* Append to a buffer kept across fragments; `limit` bounds what it may grow to. */
static int http_append(char **buf, size_t *len, const char *data, size_t data_len, size_t limit)
{
    if (data_len > limit - *len) {
        return RK_ETOOBIG;
    }
    char *grown = realloc(*buf, *len + data_len + 1);
    if (grown == NULL) {
        return RK_ENOMEM;
    }
    memcpy(grown + *len, data, data_len);
    *len += data_len;
    grown[*len] = '\0';
    *buf = grown;
    return 0;
}

static rk_http_parser *http_of(http_parser *hp)
{
    return hp->data;
}

static int http_on_message_begin(http_parser *hp)
{
    rk_http_parser *p = http_of(hp);
    p->target_len = 0;
    p->header_name_len = 0;
    p->header_name_long = false;
    p->header_kind = HTTP_HEADER_NONE;
    p->header_in_value = false;
    p->context_len = 0;
    p->accept_len = 0;
    p->body_len = 0;
    p->expect_continue = false;
    p->continue_wanted = false;
    memset(&p->request, 0, sizeof(p->request));
    return 0;
}

static int http_on_url(http_parser *hp, const char *at, size_t len)
{
    rk_http_parser *p = http_of(hp);
    int rc = http_append(&p->target, &p->target_len, at, len, RK_HTTP_TARGET_BYTES_MAX);
    if (rc == RK_ETOOBIG) {
        return http_fail(p, 414, "ERR request target is over %u bytes",
                         RK_HTTP_TARGET_BYTES_MAX);
    }
    return rc == 0 ? 0 : http_fail(p, 503, "ERR out of memory");
}

static int http_on_header_field(http_parser *hp, const char *at, size_t len)
{
    rk_http_parser *p = http_of(hp);
    if (p->header_in_value) {
        p->header_in_value = false;
        p->header_name_len = 0;
        p->header_name_long = false;
    }
    if (len > RK_HTTP_HEADER_NAME_BYTES_MAX - p->header_name_len) {
        p->header_name_long = true;     /* longer than any header we keep */
        return 0;
    }
    memcpy(p->header_name + p->header_name_len, at, len);
    p->header_name_len += len;
    p->header_name[p->header_name_len] = '\0';
    return 0;
}

static int http_on_header_value(http_parser *hp, const char *at, size_t len)
{
    rk_http_parser *p = http_of(hp);
    if (!p->header_in_value) {
        p->header_in_value = true;
        p->header_kind = HTTP_HEADER_NONE;
        if (!p->header_name_long && strcasecmp(p->header_name, "x-ringkv-context") == 0) {
            if (p->context_len > 0) {
                return http_fail(p, 400, "ERR X-RingKV-Context given twice");
            }
            p->header_kind = HTTP_HEADER_CONTEXT;
            p->request.context = "";    /* present, even if empty */
        } else if (!p->header_name_long && strcasecmp(p->header_name, "accept") == 0) {
            p->header_kind = HTTP_HEADER_ACCEPT;
            if (p->accept_len > 0 && http_append(&p->accept, &p->accept_len, ",", 1,
                                                 RK_HTTP_HEADER_VALUE_BYTES_MAX) != 0) {
                return http_fail(p, 400, "ERR Accept is over %u bytes",
                                 RK_HTTP_HEADER_VALUE_BYTES_MAX);
            }
        } else if (!p->header_name_long && strcasecmp(p->header_name, "expect") == 0) {
            p->header_kind = HTTP_HEADER_EXPECT;
        }
    }
    if (p->header_kind == HTTP_HEADER_EXPECT) {
        /* "100-continue" is the only expectation there is (RFC 9110 10.1.1) */
        if (len >= 12 && strncasecmp(at, "100-continue", 12) == 0) {
            p->expect_continue = true;
        }
        return 0;
    }
    if (p->header_kind == HTTP_HEADER_NONE) {
        return 0;
    }
    bool context = p->header_kind == HTTP_HEADER_CONTEXT;
    int rc = http_append(context ? &p->context : &p->accept,
                         context ? &p->context_len : &p->accept_len, at, len,
                         RK_HTTP_HEADER_VALUE_BYTES_MAX);
    if (rc != 0) {
        return http_fail(p, 400, "ERR %s is over %u bytes", context ? "X-RingKV-Context" : "Accept",
                         RK_HTTP_HEADER_VALUE_BYTES_MAX);
    }
    return 0;
}

static int http_on_headers_complete(http_parser *hp)
{
    rk_http_parser *p = http_of(hp);
    /* A declared length over the limit is refused before one byte of it is read. */
    if ((hp->flags & F_CONTENTLENGTH) != 0 && hp->content_length != ULLONG_MAX &&
        hp->content_length > p->body_bytes_max) {
        return http_fail(p, 413, "ERR value is %llu bytes; max-value-bytes is %llu",
                         (unsigned long long)hp->content_length,
                         (unsigned long long)p->body_bytes_max);
    }
    p->continue_wanted = p->expect_continue;
    return 0;
}

static int http_on_body(http_parser *hp, const char *at, size_t len)
{
    rk_http_parser *p = http_of(hp);
    if (len > p->body_bytes_max - p->body_len) {
        /* chunked: the sum so far is over the limit; stop before buffering more */
        return http_fail(p, 413, "ERR value is over %llu bytes; max-value-bytes is %llu",
                         (unsigned long long)p->body_bytes_max,
                         (unsigned long long)p->body_bytes_max);
    }
    if (p->body_len + len > p->body_capacity) {
        size_t capacity = p->body_capacity == 0 ? 4096 : p->body_capacity;
        while (capacity < p->body_len + len) {
            capacity *= 2;
        }
        /* A declared length reserves the whole body at once, never past the limit. In a chunked
         * body content_length is what is left of the current chunk (any size the peer wrote),
         * so it reserves nothing: found by fuzz_http, a 2 GiB reservation. */
        bool declared = (hp->flags & F_CHUNKED) == 0 && hp->content_length != ULLONG_MAX;
        uint64_t want = p->body_len + len + (declared ? hp->content_length : 0);
        if (want > p->body_bytes_max) {
            want = p->body_bytes_max;
        }
        if (capacity < want) {
            capacity = (size_t)want;
        }
        uint8_t *grown = realloc(p->body, capacity);
        if (grown == NULL) {
            return http_fail(p, 503, "ERR out of memory");
        }
        p->body = grown;
        p->body_capacity = capacity;
    }
    memcpy(p->body + p->body_len, at, len);
    p->body_len += len;
    return 0;
}

static rk_http_method http_method_of(unsigned method)
{
    switch (method) {
    case HTTP_GET:
        return RK_HTTP_GET;
    case HTTP_PUT:
        return RK_HTTP_PUT;
    case HTTP_POST:
        return RK_HTTP_POST;
    case HTTP_DELETE:
        return RK_HTTP_DELETE;
    case HTTP_HEAD:
        return RK_HTTP_HEAD;
    default:
        return RK_HTTP_OTHER;
    }
}

/* Split the target into path and query; only origin-form ("/path?query") is taken. */
static int http_finish_target(rk_http_parser *p)
{
    rk_http_request *r = &p->request;
    if (p->target_len == 0 || p->target[0] != '/') {
        return http_fail(p, 400, "ERR request target must start with '/'");
    }
    char *query = memchr(p->target, '?', p->target_len);
    r->path = p->target;
    r->path_len = query != NULL ? (size_t)(query - p->target) : p->target_len;
    if (query != NULL) {
        r->query = query + 1;
        r->query_len = p->target_len - r->path_len - 1;
    }
    return 0;
}

static int http_on_message_complete(http_parser *hp)
{
    rk_http_parser *p = http_of(hp);
    rk_http_request *r = &p->request;
    if (http_finish_target(p) != 0) {
        return -1;
    }
    r->method = http_method_of(hp->method);
    r->context = p->request.context != NULL ? (p->context != NULL && p->context_len > 0
                                                    ? p->context
                                                    : "")
                                            : NULL;
    if (p->accept_len > 0) {
        for (size_t i = 0; i < p->accept_len; i++) {
            p->accept[i] = (char)(p->accept[i] >= 'A' && p->accept[i] <= 'Z' ? p->accept[i] + 32
                                                                            : p->accept[i]);
        }
        r->accept_json = strstr(p->accept, "application/json") != NULL;
        r->accept_multipart = strstr(p->accept, "multipart/mixed") != NULL;
    }
    r->body = p->body != NULL ? p->body : (const uint8_t *)"";    /* never NULL, even empty */
    r->body_len = p->body_len;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    p->complete = true;
    p->continue_wanted = false;     /* the body is already here */
    http_parser_pause(hp, 1);       /* one request per rk_http_parse: the rest waits */
    return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

void rk_http_parser_init(rk_http_parser *p, uint64_t body_bytes_max)
{
    memset(p, 0, sizeof(*p));
    http_parser_init(&p->parser, HTTP_REQUEST);
    p->parser.data = p;
    p->body_bytes_max = body_bytes_max;
}

void rk_http_parser_deinit(rk_http_parser *p)
{
    free(p->target);
    free(p->context);
    free(p->accept);
    free(p->body);
    memset(p, 0, sizeof(*p));
}

int rk_http_parse(rk_http_parser *p, const uint8_t *data, size_t len, rk_http_request *out,
                  size_t *consumed)
{
    *consumed = 0;
    if (p->error_status != 0) {
        return RK_EINVAL;
    }
    if (len == 0) {
        return 0;   /* a zero length would tell libhttp-parser the stream ended */
    }
    if (HTTP_PARSER_ERRNO(&p->parser) == HPE_PAUSED) {
        http_parser_pause(&p->parser, 0);
    }
    p->complete = false;
    size_t used = http_parser_execute(&p->parser, &http_settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
    if (p->complete) {
        *consumed = used;
        *out = p->request;
        return 1;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        if (p->error_status == 0) {
            http_fail(p, 400, "ERR malformed request: %s", http_errno_description(e));
        }
        return RK_EINVAL;
    }
    *consumed = used;
    return 0;
}

const char *rk_http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 300:
        return "Multiple Choices";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static void http_out_str(rk_resp_out *out, const char *s)
{
    rk_resp_out_append_raw(out, (const uint8_t *)s, strlen(s));
}

void rk_http_respond(rk_resp_out *out, int status, const rk_http_header *headers,
                     size_t header_count, const void *body, size_t body_len, bool keep_alive)
{
    char line[128];
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, rk_http_status_text(status));
    http_out_str(out, line);
    if (status != 204) {        /* RFC 9110 8.6: a 204 carries no Content-Length */
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_len);
        http_out_str(out, line);
    }
    if (!keep_alive) {
        http_out_str(out, "Connection: close\r\n");
    }
    for (size_t i = 0; i < header_count; i++) {
        http_out_str(out, headers[i].name);
        http_out_str(out, ": ");
        http_out_str(out, headers[i].value);
        http_out_str(out, "\r\n");
    }
    http_out_str(out, "\r\n");
    if (body_len > 0) {
        rk_resp_out_append_raw(out, body, body_len);
    }
}

int64_t rk_http_percent_decode(const char *in, size_t in_len, uint8_t *out)
{
    size_t len = 0;
    for (size_t i = 0; i < in_len; i++) {
        if (in[i] != '%') {
            out[len++] = (uint8_t)in[i];
            continue;
        }
        if (in_len - i < 3) {
            return RK_EINVAL;
        }
        int hi = rk_resp_hex_value((uint8_t)in[i + 1]);
        int lo = rk_resp_hex_value((uint8_t)in[i + 2]);
        if (hi < 0 || lo < 0) {
            return RK_EINVAL;
        }
        out[len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return (int64_t)len;
}
