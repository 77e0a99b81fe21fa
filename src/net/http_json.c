/* http_json.c — the bodies of the HTTP API (see http.h): base64, UTF-8 checks, JSON strings
 * out, the sibling list as JSON or multipart/mixed, and a reader for flat JSON objects in. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

static const char http_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rk_http_base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void rk_http_base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = http_b64[v >> 18];
        out[o++] = http_b64[(v >> 12) & 63];
        out[o++] = http_b64[(v >> 6) & 63];
        out[o++] = http_b64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = http_b64[v >> 18];
        out[o++] = http_b64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = http_b64[v >> 18];
        out[o++] = http_b64[(v >> 12) & 63];
        out[o++] = http_b64[(v >> 6) & 63];
        out[o++] = '=';
    }
}

static int http_b64_value(char c)
{
    const char *at = c != '\0' ? strchr(http_b64, c) : NULL;
    return at != NULL ? (int)(at - http_b64) : -1;
}

int64_t rk_http_base64_decode(const char *in, size_t in_len, uint8_t *out)
{
    if (in_len % 4 != 0) {
        return RK_EINVAL;
    }
    size_t o = 0;
    for (size_t i = 0; i < in_len; i += 4) {
        bool last = i + 4 == in_len;
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (last && k >= 2 && in[i + k] == '=' && (k == 3 || in[i + 3] == '=')) {
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = http_b64_value(in[i + k]);
            if (v[k] < 0) {
                return RK_EINVAL;
            }
        }
        uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                        (uint32_t)v[3];
        out[o++] = (uint8_t)(bits >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(bits >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)bits;
        }
    }
    return (int64_t)o;
}

bool rk_http_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t extra = 0;
        uint32_t cp = 0;
        if (c == 0) {
            return false;
        } else if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= extra) {
            return false;
        }
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

void rk_http_json_string(rk_resp_out *out, const uint8_t *s, size_t len)
{
    rk_resp_out_append_raw(out, (const uint8_t *)"\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        rk_resp_out_append_raw(out, s + run, i - run);
        run = i + 1;
        char esc[8];
        if (c == '"' || c == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", c);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        rk_resp_out_append_raw(out, (const uint8_t *)esc, strlen(esc));
    }
    if (len > run) {
        rk_resp_out_append_raw(out, s + run, len - run);    /* s may be NULL when len is 0 */
    }
    rk_resp_out_append_raw(out, (const uint8_t *)"\"", 1);
}

static void http_out_str(rk_resp_out *out, const char *s)
{
    rk_resp_out_append_raw(out, (const uint8_t *)s, strlen(s));
}

/* Append `data` base64-encoded, in quotes. */
static void http_json_base64(rk_resp_out *out, const uint8_t *data, size_t len)
{
    size_t encoded_len = rk_http_base64_encoded_len(len);
    char *encoded = malloc(encoded_len + 1);
    if (encoded == NULL) {
        out->oom = true;
        return;
    }
    rk_http_base64_encode(data, len, encoded);
    rk_resp_out_append_raw(out, (const uint8_t *)"\"", 1);
    rk_resp_out_append_raw(out, (const uint8_t *)encoded, encoded_len);
    rk_resp_out_append_raw(out, (const uint8_t *)"\"", 1);
    free(encoded);
}

void rk_http_json_siblings(rk_resp_out *out, const char *context, const uint8_t *const *values,
                           const size_t *value_lens, uint32_t count)
{
    http_out_str(out, "{\"context\":");
    rk_http_json_string(out, (const uint8_t *)context, strlen(context));
    http_out_str(out, ",\"values\":[");
    for (uint32_t i = 0; i < count; i++) {
        if (i > 0) {
            http_out_str(out, ",");
        }
        http_json_base64(out, values[i], value_lens[i]);
    }
    http_out_str(out, "]}");
}

void rk_http_multipart_boundary(const uint8_t *const *values, const size_t *value_lens,
                                uint32_t count, uint64_t seed, char *boundary)
{
    /* Each value rules out at most (len / boundary) + 1 candidates... in practice the first
     * candidate almost always fits; the loop still ends, since values are finite and each
     * candidate that fails is one of a finite set of substrings. */
    for (uint64_t candidate = seed;; candidate++) {
        snprintf(boundary, RK_HTTP_BOUNDARY_BYTES + 1, "ringkv-%016llx-",
                 (unsigned long long)candidate);
        bool clash = false;
        for (uint32_t i = 0; i < count && !clash; i++) {
            clash = memmem(values[i], value_lens[i], boundary, RK_HTTP_BOUNDARY_BYTES) != NULL;
        }
        if (!clash) {
            return;
        }
    }
}

void rk_http_multipart(rk_resp_out *out, const char *boundary, const uint8_t *const *values,
                       const size_t *value_lens, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        http_out_str(out, "--");
        http_out_str(out, boundary);
        http_out_str(out, "\r\nContent-Type: application/octet-stream\r\n\r\n");
        if (value_lens[i] > 0) {
            rk_resp_out_append_raw(out, values[i], value_lens[i]);
        }
        http_out_str(out, "\r\n");
    }
    http_out_str(out, "--");
    http_out_str(out, boundary);
    http_out_str(out, "--\r\n");
}

/* ---- JSON reader ---------------------------------------------------------------------- */

int rk_json_reader_init(rk_json_reader *r, const uint8_t *text, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->text = text;
    r->len = len;
    r->scratch = malloc(len + 1);
    return r->scratch != NULL ? 0 : RK_ENOMEM;
}

void rk_json_reader_deinit(rk_json_reader *r)
{
    free(r->scratch);
    r->scratch = NULL;
}

static void json_skip_space(rk_json_reader *r)
{
    while (r->pos < r->len && (r->text[r->pos] == ' ' || r->text[r->pos] == '\t' ||
                               r->text[r->pos] == '\n' || r->text[r->pos] == '\r')) {
        r->pos++;
    }
}

static bool json_take(rk_json_reader *r, char c)
{
    json_skip_space(r);
    if (r->pos < r->len && r->text[r->pos] == c) {
        r->pos++;
        return true;
    }
    return false;
}

/* Append code point cp to the scratch as UTF-8. */
static void json_put_utf8(rk_json_reader *r, uint32_t cp)
{
    uint8_t *o = r->scratch + r->scratch_len;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        r->scratch_len += 1;
    } else if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        r->scratch_len += 2;
    } else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        r->scratch_len += 3;
    } else {
        o[0] = (uint8_t)(0xf0 | cp >> 18);
        o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (uint8_t)(0x80 | (cp & 0x3f));
        r->scratch_len += 4;
    }
}

static int json_hex4(rk_json_reader *r, uint32_t *cp)
{
    if (r->len - r->pos < 4) {
        return RK_EINVAL;
    }
    *cp = 0;
    for (int k = 0; k < 4; k++) {
        int v = rk_resp_hex_value(r->text[r->pos++]);
        if (v < 0) {
            return RK_EINVAL;
        }
        *cp = *cp << 4 | (uint32_t)v;
    }
    return 0;
}

/* One escape after the backslash. Escapes never decode longer than they are written
 * ("\uXXXX" is 6 bytes, at most 3 of UTF-8; a surrogate pair 12 bytes, 4), so the scratch,
 * as large as the text, is enough. */
static int json_escape(rk_json_reader *r)
{
    if (r->pos >= r->len) {
        return RK_EINVAL;
    }
    char c = (char)r->text[r->pos++];
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *at = c != '\0' ? strchr(from, c) : NULL;
    if (at != NULL) {
        r->scratch[r->scratch_len++] = (uint8_t)to[at - from];
        return 0;
    }
    uint32_t cp = 0;
    if (c != 'u' || json_hex4(r, &cp) != 0) {
        return RK_EINVAL;
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t low = 0;
        if (r->len - r->pos < 2 || r->text[r->pos] != '\\' || r->text[r->pos + 1] != 'u') {
            return RK_EINVAL;
        }
        r->pos += 2;
        if (json_hex4(r, &low) != 0 || low < 0xdc00 || low > 0xdfff) {
            return RK_EINVAL;
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return RK_EINVAL;
    }
    json_put_utf8(r, cp);
    return 0;
}

/* A string literal at pos, decoded into the scratch. */
static int json_string(rk_json_reader *r, const uint8_t **s, size_t *len)
{
    if (!json_take(r, '"')) {
        return RK_EINVAL;
    }
    size_t start = r->scratch_len;
    while (r->pos < r->len) {
        uint8_t c = r->text[r->pos++];
        if (c == '"') {
            *s = r->scratch + start;
            *len = r->scratch_len - start;
            return 0;
        }
        if (c < 0x20) {
            return RK_EINVAL;
        }
        if (c == '\\') {
            if (json_escape(r) != 0) {
                return RK_EINVAL;
            }
            continue;
        }
        r->scratch[r->scratch_len++] = c;
    }
    return RK_EINVAL;
}

static bool json_word(rk_json_reader *r, const char *word)
{
    size_t len = strlen(word);
    if (r->len - r->pos >= len && memcmp(r->text + r->pos, word, len) == 0) {
        r->pos += len;
        return true;
    }
    return false;
}

static int json_number(rk_json_reader *r, int64_t *v)
{
    bool negative = r->pos < r->len && r->text[r->pos] == '-';
    r->pos += negative ? 1 : 0;
    size_t digits = 0;
    uint64_t n = 0;
    while (r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9') {
        if (n > (UINT64_C(1) << 62) / 10) {
            return RK_EINVAL;
        }
        n = n * 10 + (uint64_t)(r->text[r->pos++] - '0');
        digits++;
    }
    if (digits == 0) {
        return RK_EINVAL;
    }
    *v = negative ? -(int64_t)n : (int64_t)n;
    return 0;
}

static int json_array(rk_json_reader *r, rk_json_member *m)
{
    m->kind = RK_JSON_ARRAY;
    m->items = r->items;
    m->item_lens = r->item_lens;
    if (json_take(r, ']')) {
        return 0;
    }
    do {
        if (m->item_count >= RK_JSON_ITEMS_MAX) {
            return RK_EINVAL;
        }
        if (json_string(r, &r->items[m->item_count], &r->item_lens[m->item_count]) != 0) {
            return RK_EINVAL;
        }
        m->item_count++;
    } while (json_take(r, ','));
    return json_take(r, ']') ? 0 : RK_EINVAL;
}

static int json_value(rk_json_reader *r, rk_json_member *m)
{
    json_skip_space(r);
    if (r->pos >= r->len) {
        return RK_EINVAL;
    }
    uint8_t c = r->text[r->pos];
    if (c == '"') {
        m->kind = RK_JSON_STRING;
        return json_string(r, &m->string, &m->string_len);
    }
    if (c == '[') {
        r->pos++;
        return json_array(r, m);
    }
    if (json_word(r, "true") || json_word(r, "false")) {
        m->kind = RK_JSON_BOOL;
        m->boolean = c == 't';
        return 0;
    }
    if (json_word(r, "null")) {
        m->kind = RK_JSON_NULL;
        return 0;
    }
    m->kind = RK_JSON_NUMBER;
    return json_number(r, &m->number);
}

int rk_json_next(rk_json_reader *r, rk_json_member *m)
{
    memset(m, 0, sizeof(*m));
    if (!r->started) {
        r->started = true;
        if (!json_take(r, '{')) {
            return RK_EINVAL;
        }
        if (json_take(r, '}')) {
            json_skip_space(r);
            return r->pos == r->len ? 0 : RK_EINVAL;
        }
    } else if (!json_take(r, ',')) {
        if (!json_take(r, '}')) {
            return RK_EINVAL;
        }
        json_skip_space(r);
        return r->pos == r->len ? 0 : RK_EINVAL;
    }
    if (json_string(r, &m->name, &m->name_len) != 0 || !json_take(r, ':')) {
        return RK_EINVAL;
    }
    return json_value(r, m) == 0 ? 1 : RK_EINVAL;
}

bool rk_json_name_is(const rk_json_member *m, const char *name)
{
    size_t len = strlen(name);
    return m->name_len == len && memcmp(m->name, name, len) == 0;
}
