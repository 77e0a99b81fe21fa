/* parse.c — command-line numbers (parse.h). strtoull alone accepts a sign and leading spaces
 * and wraps "-1" to the maximum; the first-digit check refuses them. */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>

bool rk_parse_u64_range(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

bool rk_parse_u32_range(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t value = 0;
    if (!rk_parse_u64_range(text, min, max, &value)) {
        return false;
    }
    *out = (uint32_t)value;
    return true;
}
