/* test_frame.h — a valid frame header written around any payload, for the wire tests that
 * must reach the decoder with envelopes or bytes no encoder of ours would send. Header-only:
 * each test file is its own program. Include after wire.h. */
#ifndef RK_TEST_FRAME_H
#define RK_TEST_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Write the 6-byte header of a frame version 1 carrying `payload_len` bytes at `out`. */
static inline void test_frame_header(uint8_t out[RK_WIRE_HEADER_BYTES], size_t payload_len)
{
    uint32_t length = (uint32_t)(payload_len + RK_WIRE_HEADER_BYTES - RK_WIRE_LENGTH_BYTES);
    out[0] = (uint8_t)(length >> 24);
    out[1] = (uint8_t)(length >> 16);
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    out[4] = RK_WIRE_FRAME_VERSION;
    out[5] = 0;
}

#endif
