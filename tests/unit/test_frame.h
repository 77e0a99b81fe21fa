/* test_frame.h — a valid frame header written around any payload, for the wire tests that
 * must reach the decoder with envelopes or bytes no encoder of ours would send, and a message
 * carried through the codec for harnesses of several nodes. Header-only: each test file is its
 * own program. Include after cmocka.h and wire.h. */
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

/* Carry `m` through the codec as nodes do: encode it to a frame now and decode it into *in
 * (its msg borrows from *in: free with rk_wire_in_deinit). Whatever the sender's buffers hold
 * at this moment is what travels. */
static inline void test_frame_carry(const rk_msg *m, rk_wire_in *in)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_msg(&o, m), 0);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, o.data, o.len, &frame, &consumed), 1);
    assert_int_equal(consumed, o.len);
    assert_int_equal(rk_wire_decode(&d, &frame, in), 0);
    assert_int_equal(in->ctl.type, RK_WIRE_MSG);
    assert_int_equal(in->msg.kind, m->kind);
    rk_wire_out_deinit(&o);
}

#endif
