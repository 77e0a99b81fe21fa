/* parse.h — numbers on the command line, parsed one way for every ringkv subcommand (the
 * client's options, dev-cluster's, bench's): decimal digits only, no sign, no spaces, within
 * the bounds the caller names. Owns nothing. */
#ifndef RK_TOOLS_PARSE_H
#define RK_TOOLS_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* `text` as a decimal number in [min, max] into *out. False (and *out untouched) for NULL,
 * an empty string, anything but digits, overflow or a value out of bounds. */
bool rk_parse_u64_range(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* The same into a uint32_t; max must be at most UINT32_MAX. */
bool rk_parse_u32_range(const char *text, uint32_t min, uint32_t max, uint32_t *out);

#endif
