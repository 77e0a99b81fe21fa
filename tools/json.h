/* json.h — the one place the ringkv CLI writes JSON (RFC 8259) for scripts: a streaming writer
 * that places the commas and colons itself and escapes every string, so a document is valid
 * whatever bytes a key or a server's text holds. Owns nothing but its nesting state; the
 * FILE is the caller's. Strings are written as UTF-8: valid sequences pass through, control
 * characters, '"' and '\\' are escaped, and a byte that is not part of valid UTF-8 becomes
 * U+FFFD (JSON text must be Unicode; a key's raw bytes cannot all be kept). */
#ifndef RK_JSON_H
#define RK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Objects and arrays open at once; the CLI's documents nest three deep. */
#define RK_JSON_DEPTH_MAX 16u

typedef struct rk_json {
    FILE *out;
    uint32_t depth;
    bool has_items[RK_JSON_DEPTH_MAX]; /* a value was written at this level: next needs ',' */
    bool after_key;                    /* a key was written: the next value follows its ':' */
} rk_json;

/* Start a document on `out`. Keeps `out` until the document is done. */
void rk_json_init(rk_json *j, FILE *out);

/* Open and close an object or an array. Opening past RK_JSON_DEPTH_MAX is a bug (asserted). */
void rk_json_object_begin(rk_json *j);
void rk_json_object_end(rk_json *j);
void rk_json_array_begin(rk_json *j);
void rk_json_array_end(rk_json *j);

/* An object's key: the next value written is its value. Borrows `key`. */
void rk_json_key(rk_json *j, const char *key);

/* Values. rk_json_string_len is binary-safe; rk_json_string takes a NUL-terminated string.
 * Both borrow their argument. */
void rk_json_string_len(rk_json *j, const char *str, size_t len);
void rk_json_string(rk_json *j, const char *str);
void rk_json_int(rk_json *j, int64_t value);
void rk_json_double(rk_json *j, double value);
void rk_json_bool(rk_json *j, bool value);
void rk_json_null(rk_json *j);

/* End the document with a newline; every object and array must be closed (asserted). */
void rk_json_finish(rk_json *j);

/* Write `str` (len bytes) as a JSON string literal, quotes included, on `out`. */
void rk_json_write_string(FILE *out, const char *str, size_t len);

#endif
