/* resp_out.c — the RESP reply writer (see resp.h): a growable buffer and one append per reply
 * type, in RESP2 or RESP3 as the connection negotiated (HELLO). It is apart from the request
 * parser (resp.c) because the two share nothing but the protocol: the parser reads bytes the
 * client owns and keeps offsets into them, the writer owns its buffer and never reads input.
 * Appends never fail loudly: when memory runs out `oom` is set and everything after is
 * dropped, so a reply is never half written and then continued (the runtime then closes the
 * connection). Simple strings and errors are single lines, as the protocol spec requires. */
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_OUT_INITIAL      256u
#define RESP_NUMBER_BYTES_MAX 32u /* "%lld" of any int64 or "%zu" of any size_t fits */

void rk_resp_out_init(rk_resp_out *o, int proto)
{
    RK_ASSERT(o != NULL);
    RK_ASSERT(proto == 2 || proto == 3);
    memset(o, 0, sizeof(*o));
    o->proto = proto;
}

void rk_resp_out_deinit(rk_resp_out *o)
{
    RK_ASSERT(o != NULL);
    free(o->data);
    o->data = NULL;
    o->len = 0;
    o->capacity = 0;
}

void rk_resp_out_reset(rk_resp_out *o)
{
    RK_ASSERT(o != NULL);
    o->len = 0;
}

/* Room for n more bytes, growing geometrically. On failure sets oom and returns false; every
 * later append is then dropped, so a reply is never half written and then continued. */
static bool resp_out_reserve(rk_resp_out *o, size_t n)
{
    if (o->oom) {
        return false;
    }
    RK_ASSERT(o->len <= o->capacity);
    if (o->capacity - o->len >= n) {
        return true;
    }
    if (n > SIZE_MAX / 2u - o->len) {
        o->oom = true;
        return false;
    }
    size_t need = o->len + n;
    size_t capacity = o->capacity == 0 ? RESP_OUT_INITIAL : o->capacity;
    while (capacity < need) {
        capacity *= 2u;          /* need <= SIZE_MAX / 2, so this cannot overflow */
    }
    uint8_t *grown = realloc(o->data, capacity);
    if (grown == NULL) {
        o->oom = true;
        return false;
    }
    o->data = grown;
    o->capacity = capacity;
    return true;
}

static void resp_out_append(rk_resp_out *o, const void *data, size_t n)
{
    if (!resp_out_reserve(o, n)) {
        return;
    }
    if (n > 0) {
        memcpy(o->data + o->len, data, n);
    }
    o->len += n;
}

void rk_resp_out_append_raw(rk_resp_out *o, const uint8_t *data, size_t len)
{
    resp_out_append(o, data, len);
}

/* "<type><number>\r\n" */
static void resp_out_header(rk_resp_out *o, char type, long long number)
{
    char line[RESP_NUMBER_BYTES_MAX + 4];
    int n = snprintf(line, sizeof(line), "%c%lld\r\n", type, number);
    RK_ASSERT(n > 0);
    RK_ASSERT((size_t)n < sizeof(line));
    resp_out_append(o, line, (size_t)n);
}

static void resp_out_count(rk_resp_out *o, char type, size_t count)
{
    RK_ASSERT(count <= (size_t)INT64_MAX);
    resp_out_header(o, type, (long long)count);
}

/* A simple string or error is one line: CR and LF in it would end the reply early and let the
 * rest be read as another reply, so they become spaces. */
static void resp_out_line(rk_resp_out *o, char type, const char *s, size_t n)
{
    if (n > SIZE_MAX - 3u || !resp_out_reserve(o, n + 3u)) {
        o->oom = true;
        return;
    }
    uint8_t *dst = o->data + o->len;
    dst[0] = (uint8_t)type;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        dst[1 + i] = (uint8_t)(c == '\r' || c == '\n' ? ' ' : c);
    }
    dst[1 + n] = '\r';
    dst[2 + n] = '\n';
    o->len += n + 3u;
}

void rk_resp_simple(rk_resp_out *o, const char *s)
{
    RK_ASSERT(s != NULL);
    resp_out_line(o, '+', s, strlen(s));
}

void rk_resp_error(rk_resp_out *o, const char *s)
{
    RK_ASSERT(s != NULL);
    resp_out_line(o, '-', s, strlen(s));
}

void rk_resp_errorf(rk_resp_out *o, const char *fmt, ...)
{
    RK_ASSERT(fmt != NULL);
    va_list ap;
    va_start(ap, fmt);
    va_list ap_again;
    va_copy(ap_again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap_again);
        rk_resp_error(o, "ERR cannot format error message");
        return;
    }
    /* Format in place after the '-', then turn that text into a sanitised line. */
    size_t text_len = (size_t)n;
    if (text_len > SIZE_MAX - 4u || !resp_out_reserve(o, text_len + 4u)) {
        va_end(ap_again);
        o->oom = true;
        return;
    }
    char *text = (char *)o->data + o->len + 1;
    int n_again = vsnprintf(text, text_len + 1, fmt, ap_again);
    va_end(ap_again);
    RK_ASSERT(n_again == n);
    o->data[o->len] = '-';
    for (size_t i = 0; i < text_len; i++) {
        if (text[i] == '\r' || text[i] == '\n') {
            text[i] = ' ';
        }
    }
    text[text_len] = '\r';
    text[text_len + 1] = '\n';
    o->len += text_len + 3u;
}

void rk_resp_integer(rk_resp_out *o, int64_t v)
{
    resp_out_header(o, ':', (long long)v);
}

void rk_resp_bulk(rk_resp_out *o, const void *data, size_t len)
{
    RK_ASSERT(data != NULL || len == 0);
    if (len > SIZE_MAX / 2u) {
        o->oom = true;           /* cannot be held; refuse before formatting a header */
        return;
    }
    resp_out_count(o, '$', len);
    resp_out_append(o, data, len);
    resp_out_append(o, "\r\n", 2);
}

void rk_resp_bulk_str(rk_resp_out *o, const char *s)
{
    RK_ASSERT(s != NULL);
    rk_resp_bulk(o, s, strlen(s));
}

void rk_resp_null(rk_resp_out *o)
{
    if (o->proto == 3) {
        resp_out_append(o, "_\r\n", 3);
    } else {
        resp_out_append(o, "$-1\r\n", 5);
    }
}

void rk_resp_array(rk_resp_out *o, size_t count)
{
    resp_out_count(o, '*', count);
}

void rk_resp_map(rk_resp_out *o, size_t pairs)
{
    if (o->proto == 3) {
        resp_out_count(o, '%', pairs);
    } else {
        RK_ASSERT(pairs <= SIZE_MAX / 2u);
        resp_out_count(o, '*', pairs * 2u);
    }
}

void rk_resp_set(rk_resp_out *o, size_t count)
{
    resp_out_count(o, o->proto == 3 ? '~' : '*', count);
}

void rk_resp_verbatim(rk_resp_out *o, const char *data, size_t len)
{
    RK_ASSERT(data != NULL || len == 0);
    if (o->proto != 3) {
        rk_resp_bulk(o, data, len);
        return;
    }
    if (len > SIZE_MAX / 2u) {
        o->oom = true;
        return;
    }
    resp_out_count(o, '=', len + 4u);
    resp_out_append(o, "txt:", 4);
    resp_out_append(o, data, len);
    resp_out_append(o, "\r\n", 2);
}
