/* json.c — the CLI's JSON writer (json.h). */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "ringkv: assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

void rk_json_init(rk_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Before any value or key: the comma that separates it from the previous one. */
static void json_before_value(rk_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->has_items[j->depth - 1u]) {
        fputc(',', j->out);
    }
    if (j->depth > 0) {
        j->has_items[j->depth - 1u] = true;
    }
}

static void json_open(rk_json *j, char ch)
{
    json_before_value(j);
    JSON_ASSERT(j->depth < RK_JSON_DEPTH_MAX);
    fputc(ch, j->out);
    j->has_items[j->depth] = false;
    j->depth++;
}

static void json_close(rk_json *j, char ch)
{
    JSON_ASSERT(j->depth > 0);
    JSON_ASSERT(!j->after_key);
    j->depth--;
    fputc(ch, j->out);
}

void rk_json_object_begin(rk_json *j)
{
    json_open(j, '{');
}
void rk_json_object_end(rk_json *j)
{
    json_close(j, '}');
}
void rk_json_array_begin(rk_json *j)
{
    json_open(j, '[');
}
void rk_json_array_end(rk_json *j)
{
    json_close(j, ']');
}

void rk_json_key(rk_json *j, const char *key)
{
    JSON_ASSERT(j->depth > 0);
    JSON_ASSERT(!j->after_key);
    json_before_value(j);
    rk_json_write_string(j->out, key, strlen(key));
    fputc(':', j->out);
    j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s[0] (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when the byte does not start one. */
static size_t json_utf8_sequence_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return need;
}

void rk_json_write_string(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t seq = json_utf8_sequence_len(s + i, len - i);
            if (seq == 0) {
                fputs("\\ufffd", out);
                i++;
            } else {
                fwrite(s + i, 1, seq, out);
                i += seq;
            }
            continue;
        }
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else {
                fputc(c, out);
            }
        }
        i++;
    }
    fputc('"', out);
}

void rk_json_string_len(rk_json *j, const char *str, size_t len)
{
    json_before_value(j);
    rk_json_write_string(j->out, str, len);
}

void rk_json_string(rk_json *j, const char *str)
{
    rk_json_string_len(j, str, strlen(str));
}

void rk_json_int(rk_json *j, int64_t value)
{
    json_before_value(j);
    fprintf(j->out, "%lld", (long long)value);
}

/* JSON has no NaN or infinity: they are written as null. */
void rk_json_double(rk_json *j, double value)
{
    json_before_value(j);
    if (isfinite(value)) {
        fprintf(j->out, "%.15g", value);
    } else {
        fputs("null", j->out);
    }
}

void rk_json_bool(rk_json *j, bool value)
{
    json_before_value(j);
    fputs(value ? "true" : "false", j->out);
}

void rk_json_null(rk_json *j)
{
    json_before_value(j);
    fputs("null", j->out);
}

void rk_json_finish(rk_json *j)
{
    JSON_ASSERT(j->depth == 0);
    JSON_ASSERT(!j->after_key);
    fputc('\n', j->out);
}
