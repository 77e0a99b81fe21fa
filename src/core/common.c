/* common.c — the error table and the assertion handler. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const common_error_names[RK_ERROR_COUNT] = {
    "ok",
    "invalid argument",
    "out of memory",
    "over a limit",
    "busy: queue full",
    "timed out",
    "unavailable: not enough replicas",
    "corrupt data",
    "I/O error",
    "not found",
    "store full",
    "data directory locked by another process",
    "injected crash",
    "conflict: several versions",
    "wrong type",
    "not causally ready",
    "not owner",
};

const char *rk_strerror(int code)
{
    if (code > 0 || code <= -RK_ERROR_COUNT) {
        return "unknown error";
    }
    return common_error_names[-code];
}

static void (*common_assert_hook)(void *ctx);
static void *common_assert_hook_ctx;

void rk_assert_set_hook(void (*hook)(void *ctx), void *ctx)
{
    common_assert_hook = hook;
    common_assert_hook_ctx = ctx;
}

_Noreturn void rk_assert_fail(const char *expr, const char *file, int line)
{
    if (common_assert_hook != NULL) {
        common_assert_hook(common_assert_hook_ctx);
    }
    fprintf(stderr, "ringkv: assertion failed: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}

/* Parse `bytes` as Redis parses an integer argument: an optional '-', no leading zeros, no
 * spaces, within int64. */
bool rk_parse_int64(const uint8_t *bytes, size_t len, int64_t *out)
{
    if (len == 0 || len > 20u) {
        return false;
    }
    bool negative = bytes[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i == len || (bytes[i] == '0' && len > i + 1) || (negative && bytes[i] == '0')) {
        return false;
    }
    uint64_t magnitude = 0;
    for (; i < len; i++) {
        if (bytes[i] < '0' || bytes[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(bytes[i] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) {
            return false;
        }
        magnitude = magnitude * 10 + digit;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (magnitude > limit) {
        return false;
    }
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return true;
}
