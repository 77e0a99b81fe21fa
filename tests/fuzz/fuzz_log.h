/* fuzz_log.h — what the fuzz targets share: FUZZ_CHECK (abort with the failed expression, so
 * libFuzzer saves the input) and fuzz_log, a growable byte log a run writes its results into so
 * runs over differently split input can be compared with memcmp. Define FUZZ_NAME before
 * including. Header-only: each target is its own program. */
#ifndef RK_FUZZ_LOG_H
#define RK_FUZZ_LOG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, FUZZ_NAME ": check failed: %s at line %d\n", #cond, __LINE__);    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

typedef struct fuzz_log {
    uint8_t *data;
    size_t len;
    size_t capacity;
} fuzz_log;

static inline void fuzz_log_add(fuzz_log *log, const void *bytes, size_t n)
{
    if (log->capacity - log->len < n) {
        size_t capacity = log->capacity == 0 ? 256 : log->capacity;
        while (capacity - log->len < n) {
            capacity *= 2;
        }
        log->data = realloc(log->data, capacity);
        FUZZ_CHECK(log->data != NULL);
        log->capacity = capacity;
    }
    if (n > 0) {
        memcpy(log->data + log->len, bytes, n);
    }
    log->len += n;
}

static inline void fuzz_log_u64(fuzz_log *log, uint64_t v)
{
    fuzz_log_add(log, &v, sizeof(v));
}

#endif
