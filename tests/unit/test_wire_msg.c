/* test_wire_msg.c — the core's messages on the wire (src/net/wire_msg.c). Every rk_msg kind
 * goes rk_msg -> rk_wire_msg -> frame bytes -> rk_wire_msg -> rk_msg and must come back field
 * for field (bytes compared, not pointers); response statuses keep their exact RK_E* code and
 * degrade sensibly when a peer sends only the coarse Status; what the core must not trust is
 * refused with a reason (kinds out of range, quorums above RK_N_MAX, handshake messages), and
 * a core bug (unknown kind, a status that is not an RK_E* code) is refused on the way out.
 * Each decode sees an exact-size heap copy of the frame, so ASan catches overreads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/node.h"
#include "../../src/net/wire_msg.h"

static const uint8_t test_key[] = "cart:alice";
static const uint8_t test_object[] = {0x00, 0x01, 0xff, 'o', 'b', 'j', '\r', '\n'};
static const uint8_t test_value[] = {'v', 0x00, 'a', 'l'};
static const uint8_t test_context[] = "AQDAdnLO";
static const uint8_t test_message[] = "TIMEOUT: needed W=2, 1 answered";

#define TEST_KEY(m)     (m).key = test_key, (m).key_len = sizeof(test_key) - 1
#define TEST_OBJECT(m)  (m).object = test_object, (m).object_len = sizeof(test_object)

/* One sample per kind, with every field the kind carries set to something not zero. */
static void sample(rk_msg_kind kind, rk_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->req_id = 0x0123456789abcdefull;
    switch (kind) {
    case RK_MSG_GET_REQ:
        TEST_KEY(*m);
        return;
    case RK_MSG_GET_RESP:
        TEST_OBJECT(*m);
        return;
    case RK_MSG_PUT_REQ:
        TEST_KEY(*m);
        TEST_OBJECT(*m);
        m->flags = RK_MSG_PUT_REPAIR | RK_MSG_PUT_HANDOFF;
        m->hint_owner = 0xfffffffeu;
        return;
    case RK_MSG_PUT_RESP:
        m->status = RK_ENOSPC;
        return;
    case RK_MSG_FWD_REQ:
        TEST_KEY(*m);
        m->req_kind = RK_REQ_VPUT;
        m->value = test_value;
        m->value_len = sizeof(test_value);
        m->context = test_context;
        m->context_len = sizeof(test_context) - 1;
        m->r = 1;
        m->w = RK_N_MAX;
        m->sloppy = RK_SLOPPY_OFF;
        return;
    case RK_MSG_FWD_RESP:
        m->req_kind = RK_REPLY_ERROR;
        m->status = RK_ETIMEDOUT;
        m->integer = -7;
        m->message = test_message;
        m->message_len = sizeof(test_message) - 1;
        return;
    case RK_MSG_BUCKET_SET:
        m->key = test_key;
        m->key_len = 4;
        TEST_OBJECT(*m);
        m->version = 1ull << 40;
        return;
    case RK_MSG_BUCKET_ACK:
        m->integer = INT64_MAX;
        m->status = RK_EIO;
        return;
    }
    fail_msg("kind %d has no sample", (int)kind);
}

static void assert_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    assert_int_equal(a_len, b_len);
    if (a_len > 0) {
        assert_memory_equal(a, b, a_len);
    }
}

static void assert_same_msg(const rk_msg *want, const rk_msg *got)
{
    assert_int_equal(got->kind, want->kind);
    assert_int_equal(got->req_id, want->req_id);
    assert_int_equal(got->status, want->status);
    assert_int_equal(got->flags, want->flags);
    assert_bytes(want->key, want->key_len, got->key, got->key_len);
    assert_bytes(want->object, want->object_len, got->object, got->object_len);
    assert_int_equal(got->req_kind, want->req_kind);
    assert_bytes(want->value, want->value_len, got->value, got->value_len);
    assert_bytes(want->context, want->context_len, got->context, got->context_len);
    assert_int_equal(got->r, want->r);
    assert_int_equal(got->w, want->w);
    assert_int_equal(got->integer, want->integer);
    assert_bytes(want->message, want->message_len, got->message, got->message_len);
    assert_int_equal(got->version, want->version);
    assert_int_equal(got->hint_owner, want->hint_owner);
    assert_int_equal(got->sloppy, want->sloppy);
}

/* Encode `w` into a frame and decode it again into *back (owned: rk_wire_msg_deinit). */
static void wire_round_trip(const rk_wire_msg *w, rk_wire_msg *back)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    int rc = rk_wire_encode(&o, w);
    if (rc != 0) {
        fail_msg("encode: %s", o.error);
    }
    uint8_t *copy = malloc(o.len);
    assert_non_null(copy);
    memcpy(copy, o.data, o.len);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, copy, o.len, &frame, &consumed), 1);
    assert_int_equal(consumed, o.len);
    rc = rk_wire_decode_msg(&d, &frame, back);
    if (rc != 0) {
        fail_msg("decode: %s", d.error);
    }
    free(copy);
    rk_wire_out_deinit(&o);
}

/* rk_msg -> frame -> rk_msg; `back` borrows from *owner. */
static void msg_round_trip(const rk_msg *m, rk_wire_msg *owner, rk_msg *back)
{
    rk_wire_msg w;
    assert_int_equal(rk_wire_from_msg(m, &w), 0);
    wire_round_trip(&w, owner);
    char why[160];
    int rc = rk_wire_to_msg(owner, back, why, sizeof(why));
    if (rc != 0) {
        fail_msg("to_msg: %s", why);
    }
}

/* ---- round trips -------------------------------------------------------------------------- */

/* Every kind of msg.h comes back field for field through real frame bytes. */
static void test_every_kind_round_trips(void **state)
{
    (void)state;
    for (int kind = 1; kind <= RK_MSG_KIND_MAX; kind++) {
        rk_msg m;
        sample((rk_msg_kind)kind, &m);
        rk_wire_msg owner;
        rk_msg back;
        msg_round_trip(&m, &owner, &back);
        assert_same_msg(&m, &back);
        rk_wire_msg_deinit(&owner);
    }
}

/* Zero and empty fields survive too: a get of nothing found, an ok put, a blind forwarded
 * write with no context, a bucket push nobody waits on. */
static void test_zero_fields_round_trip(void **state)
{
    (void)state;
    rk_msg cases[5];
    memset(cases, 0, sizeof(cases));
    cases[0].kind = RK_MSG_GET_RESP;
    cases[1].kind = RK_MSG_PUT_RESP;
    cases[2].kind = RK_MSG_FWD_REQ;
    cases[2].req_kind = RK_REQ_PUT;
    TEST_KEY(cases[2]);
    cases[3].kind = RK_MSG_BUCKET_SET;
    TEST_OBJECT(cases[3]);
    cases[4].kind = RK_MSG_FWD_RESP;
    cases[4].req_kind = RK_REPLY_OK;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rk_wire_msg owner;
        rk_msg back;
        msg_round_trip(&cases[i], &owner, &back);
        assert_same_msg(&cases[i], &back);
        rk_wire_msg_deinit(&owner);
    }
}

/* An empty key is a Redis key like any other: a forwarded request may carry one. */
static void test_fwd_req_with_empty_key_round_trips(void **state)
{
    (void)state;
    rk_msg m;
    sample(RK_MSG_FWD_REQ, &m);
    m.key = NULL;
    m.key_len = 0;
    rk_wire_msg owner;
    rk_msg back;
    msg_round_trip(&m, &owner, &back);
    assert_same_msg(&m, &back);
    rk_wire_msg_deinit(&owner);
}

/* ---- statuses ----------------------------------------------------------------------------- */

/* Each response status keeps its exact code, and the coarse Status says the right thing to
 * a reader that only knows the proto. */
static void test_status_keeps_code_and_coarse_status(void **state)
{
    (void)state;
    rk_msg m;
    sample(RK_MSG_GET_RESP, &m);
    rk_wire_msg w;
    assert_int_equal(rk_wire_from_msg(&m, &w), 0);
    assert_int_equal(w.u.get_resp.status, RK_WIRE_STATUS_OK);

    m.object = NULL;
    m.object_len = 0;
    assert_int_equal(rk_wire_from_msg(&m, &w), 0);
    assert_int_equal(w.u.get_resp.status, RK_WIRE_STATUS_NOT_FOUND);

    sample(RK_MSG_PUT_RESP, &m);
    m.status = RK_EBUSY;
    assert_int_equal(rk_wire_from_msg(&m, &w), 0);
    assert_int_equal(w.u.put_resp.status, RK_WIRE_STATUS_BUSY);
    assert_int_equal(w.u.put_resp.error, RK_EBUSY);

    for (int code = -1; code > -RK_ERROR_COUNT; code--) {
        m.status = code;
        rk_wire_msg owner;
        rk_msg back;
        msg_round_trip(&m, &owner, &back);
        assert_int_equal(back.status, code);
        rk_wire_msg_deinit(&owner);
    }
}

/* A peer that sends only a Status (no error code), or a Status this version does not know,
 * still gives the core a failure it can act on. */
static void test_status_without_code_degrades(void **state)
{
    (void)state;
    const struct {
        uint32_t status;
        int32_t want;
    } cases[] = {
        {RK_WIRE_STATUS_OK, 0},
        {RK_WIRE_STATUS_NOT_FOUND, 0},
        {RK_WIRE_STATUS_FAILED, RK_EIO},
        {RK_WIRE_STATUS_BUSY, RK_EBUSY},
        {42, RK_EIO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rk_wire_msg w = {.type = RK_WIRE_PUT_RESP};
        w.u.put_resp.req_id = 5;
        w.u.put_resp.status = cases[i].status;
        rk_wire_msg owner;
        wire_round_trip(&w, &owner);
        rk_msg back;
        assert_int_equal(rk_wire_to_msg(&owner, &back, NULL, 0), 0);
        assert_int_equal(back.kind, RK_MSG_PUT_RESP);
        assert_int_equal(back.status, cases[i].want);
        rk_wire_msg_deinit(&owner);
    }
}

/* A failed get carries no object into the core, whatever bytes came along. */
static void test_failed_get_resp_drops_object(void **state)
{
    (void)state;
    rk_wire_msg w = {.type = RK_WIRE_GET_RESP};
    w.u.get_resp.status = RK_WIRE_STATUS_FAILED;
    w.u.get_resp.error = RK_EIO;
    w.u.get_resp.object = (rk_wire_bytes){test_object, sizeof(test_object)};
    rk_msg back;
    assert_int_equal(rk_wire_to_msg(&w, &back, NULL, 0), 0);
    assert_int_equal(back.status, RK_EIO);
    assert_int_equal(back.object_len, 0);
}

/* ---- refusals ----------------------------------------------------------------------------- */

/* A core bug does not reach the wire: an unknown kind or a status outside the error table. */
static void test_from_msg_refuses_core_bugs(void **state)
{
    (void)state;
    rk_msg m;
    rk_wire_msg w;
    sample(RK_MSG_PUT_RESP, &m);
    m.kind = (rk_msg_kind)(RK_MSG_KIND_MAX + 1);
    assert_int_equal(rk_wire_from_msg(&m, &w), RK_EINVAL);
    m.kind = (rk_msg_kind)0;
    assert_int_equal(rk_wire_from_msg(&m, &w), RK_EINVAL);

    sample(RK_MSG_PUT_RESP, &m);
    m.status = 1;
    assert_int_equal(rk_wire_from_msg(&m, &w), RK_EINVAL);
    m.status = -RK_ERROR_COUNT;
    assert_int_equal(rk_wire_from_msg(&m, &w), RK_EINVAL);
    m.status = -(RK_ERROR_COUNT - 1);
    assert_int_equal(rk_wire_from_msg(&m, &w), 0);

    sample(RK_MSG_BUCKET_ACK, &m);
    m.integer = -1;
    assert_int_equal(rk_wire_from_msg(&m, &w), RK_EINVAL);
}

/* A forwarded error text longer than one log line is cut to RK_WIRE_REASON_BYTES_MAX, not
 * refused: the client still gets its error. */
static void test_long_fwd_message_is_cut(void **state)
{
    (void)state;
    uint8_t text[RK_WIRE_REASON_BYTES_MAX + 50];
    memset(text, 'x', sizeof(text));
    rk_msg m;
    sample(RK_MSG_FWD_RESP, &m);
    m.message = text;
    m.message_len = sizeof(text);
    rk_wire_msg owner;
    rk_msg back;
    msg_round_trip(&m, &owner, &back);
    assert_int_equal(back.message_len, RK_WIRE_REASON_BYTES_MAX);
    rk_wire_msg_deinit(&owner);
}

static void assert_refused(const rk_wire_msg *w, const char *why_part)
{
    rk_msg back;
    char why[160];
    assert_int_equal(rk_wire_to_msg(w, &back, why, sizeof(why)), RK_ECORRUPT);
    if (strstr(why, why_part) == NULL) {
        fail_msg("reason [%s] lacks [%s]", why, why_part);
    }
}

/* What the core must not trust is refused with a reason naming the field and its value; both
 * sides of each range. */
static void test_to_msg_refuses_out_of_range(void **state)
{
    (void)state;
    rk_msg back;
    rk_wire_msg w = {.type = RK_WIRE_FWD_REQ};
    w.u.fwd_req.kind = RK_REQ_KIND_MAX + 1;
    assert_refused(&w, "request kind 8 is not 1 to 7");
    w.u.fwd_req.kind = RK_REQ_KIND_MAX;
    assert_int_equal(rk_wire_to_msg(&w, &back, NULL, 0), 0);
    w.u.fwd_req.kind = 0;
    assert_refused(&w, "request kind 0");
    w.u.fwd_req.kind = RK_REQ_GET;
    w.u.fwd_req.r = RK_N_MAX + 1;
    assert_refused(&w, "R=9");
    w.u.fwd_req.r = RK_N_MAX;
    w.u.fwd_req.w = RK_N_MAX;
    assert_int_equal(rk_wire_to_msg(&w, &back, NULL, 0), 0);
    w.u.fwd_req.w = RK_N_MAX + 1;
    assert_refused(&w, "W=9");

    w = (rk_wire_msg){.type = RK_WIRE_FWD_RESP};
    w.u.fwd_resp.reply_kind = RK_REPLY_KIND_MAX + 1;
    assert_refused(&w, "reply kind 8 is not 1 to 7");
    w.u.fwd_resp.reply_kind = RK_REPLY_KIND_MAX;
    assert_int_equal(rk_wire_to_msg(&w, &back, NULL, 0), 0);

    w = (rk_wire_msg){.type = RK_WIRE_BUCKET_ACK};
    w.u.bucket_ack.version = (uint64_t)INT64_MAX + 1u;
    assert_refused(&w, "version 9223372036854775808");
    w.u.bucket_ack.version = (uint64_t)INT64_MAX;
    assert_int_equal(rk_wire_to_msg(&w, &back, NULL, 0), 0);
}

/* Handshake and heartbeat messages are the runtime's, never the node's. */
static void test_to_msg_refuses_runtime_messages(void **state)
{
    (void)state;
    rk_wire_msg w;
    rk_wire_hello_make(&w, "c", NULL, 2, 1);
    assert_refused(&w, "hello is not a message for the node");
    w = (rk_wire_msg){.type = RK_WIRE_HELLO_ACK};
    assert_refused(&w, "hello_ack");
    w = (rk_wire_msg){.type = RK_WIRE_HEARTBEAT};
    assert_refused(&w, "heartbeat");
    w = (rk_wire_msg){.type = RK_WIRE_NONE};
    assert_refused(&w, "none");
}

/* The codec refuses on the way in what a peer could use to make the core print or act on a
 * code nobody defined. */
static void test_codec_refuses_error_codes_outside_the_table(void **state)
{
    (void)state;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    rk_wire_msg w = {.type = RK_WIRE_PUT_RESP};
    w.u.put_resp.error = 5;
    assert_int_equal(rk_wire_encode(&o, &w), RK_EINVAL);
    w.u.put_resp.error = -RK_ERROR_COUNT;
    assert_int_equal(rk_wire_encode(&o, &w), RK_EINVAL);
    w = (rk_wire_msg){.type = RK_WIRE_PUT_REQ};
    w.u.put_req.key = (rk_wire_bytes){test_key, 3};
    w.u.put_req.flags = 0x4;    /* bits 0 (repair) and 1 (handoff) are known */
    assert_int_equal(rk_wire_encode(&o, &w), RK_EINVAL);
    assert_non_null(strstr(o.error, "flags 0x4"));
    assert_int_equal(o.frame_count, 0);
    rk_wire_out_deinit(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips),
        cmocka_unit_test(test_zero_fields_round_trip),
        cmocka_unit_test(test_fwd_req_with_empty_key_round_trips),
        cmocka_unit_test(test_status_keeps_code_and_coarse_status),
        cmocka_unit_test(test_status_without_code_degrades),
        cmocka_unit_test(test_failed_get_resp_drops_object),
        cmocka_unit_test(test_from_msg_refuses_core_bugs),
        cmocka_unit_test(test_long_fwd_message_is_cut),
        cmocka_unit_test(test_to_msg_refuses_out_of_range),
        cmocka_unit_test(test_to_msg_refuses_runtime_messages),
        cmocka_unit_test(test_codec_refuses_error_codes_outside_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
