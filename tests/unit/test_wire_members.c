/* test_wire_members.c — the wire fields of issue 14 (protocol 5): a GetReq narrowed to some
 * members of a set (flag 2 and `members`, which come together or not at all), and the PutReq
 * flags of a set delta (8) and of a chunk of a whole set (16), through the runtime's codec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/msg.h"
#include "../../src/net/wire.h"

static const uint8_t members[] = {1, 0, 0, 0, 1, 0, 0, 0, 'm'};    /* elems.h: ["m"] */

/* Encode `m` into one frame and decode it back into *in (0), or the encoder's error. */
static int round_trip(const rk_msg *m, rk_wire_in *in, char *why, size_t why_bytes)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    int rc = rk_wire_encode_msg(&o, m);
    snprintf(why, why_bytes, "%s", o.error);
    if (rc == 0) {
        size_t len = rk_wire_out_frame_bytes(&o, 0);
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, o.data + o.frame_off[0], len);
        rk_wire_decoder d;
        assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
        rk_wire_frame frame;
        size_t consumed = 0;
        assert_int_equal(rk_wire_decode_frame(&d, copy, len, &frame, &consumed), 1);
        rc = rk_wire_decode(&d, &frame, in);
        free(copy);
    }
    rk_wire_out_deinit(&o);
    return rc;
}

static void test_get_narrowed_to_members_round_trips(void **state)
{
    (void)state;
    rk_msg m = {.kind = RK_MSG_GET_REQ, .req_id = 7, .key = (const uint8_t *)"s:k", .key_len = 3,
                .flags = RK_MSG_GET_PRIMARY | RK_MSG_GET_MEMBERS, .value = members,
                .value_len = sizeof(members)};
    rk_wire_in in;
    char why[200];
    assert_int_equal(round_trip(&m, &in, why, sizeof(why)), 0);
    assert_int_equal(in.msg.flags, RK_MSG_GET_PRIMARY | RK_MSG_GET_MEMBERS);
    assert_int_equal(in.msg.value_len, sizeof(members));
    assert_memory_equal(in.msg.value, members, sizeof(members));
    rk_wire_in_deinit(&in);
}

static void test_members_and_their_flag_come_together(void **state)
{
    (void)state;
    rk_wire_in in;
    char why[200];
    rk_msg m = {.kind = RK_MSG_GET_REQ, .req_id = 7, .key = (const uint8_t *)"s:k", .key_len = 3,
                .flags = RK_MSG_GET_MEMBERS};
    assert_int_equal(round_trip(&m, &in, why, sizeof(why)), RK_EINVAL);
    assert_non_null(strstr(why, "members without flag 2, or flag 2 without members"));
    m.flags = 0;
    m.value = members;
    m.value_len = sizeof(members);
    assert_int_equal(round_trip(&m, &in, why, sizeof(why)), RK_EINVAL);
    assert_non_null(strstr(why, "members without flag 2, or flag 2 without members"));
}

static void test_delta_and_chunk_flags_round_trip(void **state)
{
    (void)state;
    uint32_t flags[] = {RK_MSG_PUT_DELTA, RK_MSG_PUT_CHUNK, RK_MSG_PUT_CHUNK | RK_MSG_PUT_REPAIR};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        rk_msg m = {.kind = RK_MSG_PUT_REQ, .req_id = 9, .key = (const uint8_t *)"s:k",
                    .key_len = 3, .object = members, .object_len = sizeof(members),
                    .flags = flags[i], .hint_owner = 4};
        rk_wire_in in;
        char why[200];
        assert_int_equal(round_trip(&m, &in, why, sizeof(why)), 0);
        assert_int_equal(in.msg.flags, flags[i]);
        assert_int_equal(in.msg.hint_owner, 4);
        assert_memory_equal(in.msg.object, members, sizeof(members));
        rk_wire_in_deinit(&in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_narrowed_to_members_round_trips),
        cmocka_unit_test(test_members_and_their_flag_come_together),
        cmocka_unit_test(test_delta_and_chunk_flags_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
