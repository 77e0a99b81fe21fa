/* test_http.c — the HTTP codec (src/net/http.c, http_json.c): requests whole, pipelined and
 * split at every byte; the headers the API keeps; both sides of the body and target limits
 * (413, 414, with chunked bodies refused before they are buffered); malformed input (400);
 * responses byte for byte; percent-decoding, base64, UTF-8, JSON strings, the sibling list
 * as JSON and multipart with a boundary found in no value; the JSON reader on good and bad
 * objects. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/http.h"

static const char test_pipeline[] =
    "PUT /buckets/b/keys/a%2Fb?w=2 HTTP/1.1\r\nHost: x\r\nX-RingKV-Context: AQDAdnLO\r\n"
    "Content-Length: 3\r\n\r\nv\0v"
    "GET /keys/k HTTP/1.1\r\nAccept: application/json\r\n\r\n"
    "DELETE /keys/k HTTP/1.1\r\nConnection: close\r\n\r\n";

/* Parse `len` bytes fed in pieces of `piece` bytes; write each request as a line into out. */
static int test_parse_all(const char *in, size_t len, size_t piece, char *out, size_t out_size)
{
    rk_http_parser p;
    rk_http_parser_init(&p, 16);
    size_t written = 0;
    int requests = 0;
    for (size_t at = 0; at < len;) {
        size_t n = len - at < piece ? len - at : piece;
        size_t used_total = 0;
        while (used_total < n) {
            rk_http_request r;
            size_t used = 0;
            int rc = rk_http_parse(&p, (const uint8_t *)in + at + used_total, n - used_total, &r,
                                   &used);
            used_total += used;
            if (rc < 0) {
                int status = p.error_status;
                rk_http_parser_deinit(&p);
                return -status;
            }
            if (rc == 0) {
                break;
            }
            requests++;
            written += (size_t)snprintf(out + written, out_size - written,
                                        "%d %.*s ?%.*s ctx=%s json=%d body=%zu ka=%d\n",
                                        (int)r.method, (int)r.path_len, r.path,
                                        (int)r.query_len, r.query != NULL ? r.query : "",
                                        r.context != NULL ? r.context : "-", r.accept_json,
                                        r.body_len, r.keep_alive);
        }
        assert_int_equal(used_total, n);
        at += n;
    }
    rk_http_parser_deinit(&p);
    return requests;
}

/* Pipelined requests come out one per call, the same however the bytes are split. */
static void test_pipeline_same_at_every_split(void **state)
{
    (void)state;
    char whole[1024];
    size_t len = sizeof(test_pipeline) - 1;
    assert_int_equal(test_parse_all(test_pipeline, len, len, whole, sizeof(whole)), 3);
    assert_string_equal(whole, "2 /buckets/b/keys/a%2Fb ?w=2 ctx=AQDAdnLO json=0 body=3 ka=1\n"
                               "1 /keys/k ? ctx=- json=1 body=0 ka=1\n"
                               "4 /keys/k ? ctx=- json=0 body=0 ka=0\n");
    for (size_t piece = 1; piece < len; piece++) {
        char split[1024];
        assert_int_equal(test_parse_all(test_pipeline, len, piece, split, sizeof(split)), 3);
        assert_string_equal(split, whole);
    }
}

static int test_status_of(const char *request)
{
    char out[512];
    return test_parse_all(request, strlen(request), strlen(request), out, sizeof(out));
}

/* The body limit (16 here): at it is taken; one over is 413 from Content-Length alone, and
 * a chunked body is refused once its sum passes the limit. */
static void test_body_limit_both_sides(void **state)
{
    (void)state;
    assert_int_equal(test_status_of("PUT /k HTTP/1.1\r\nContent-Length: 16\r\n\r\n"
                                    "0123456789abcdef"),
                     1);
    assert_int_equal(test_status_of("PUT /k HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), -413);
    assert_int_equal(test_status_of("PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n"),
                     -413);
}

static void test_target_limit_and_malformed(void **state)
{
    (void)state;
    size_t len = RK_HTTP_TARGET_BYTES_MAX + 64;
    char *req = malloc(len + 64);
    assert_non_null(req);
    strcpy(req, "GET /");
    memset(req + 5, 'k', RK_HTTP_TARGET_BYTES_MAX);
    strcpy(req + 5 + RK_HTTP_TARGET_BYTES_MAX, " HTTP/1.1\r\n\r\n");
    assert_int_equal(test_status_of(req), -414);
    free(req);
    assert_int_equal(test_status_of("GARBAGE\r\n\r\n"), -400);
    assert_int_equal(test_status_of("GET http://x/ HTTP/1.1\r\n\r\n"), -400);
    assert_int_equal(test_status_of("GET /k HTTP/1.1\r\nX-RingKV-Context: a\r\n"
                                    "X-RingKV-Context: b\r\n\r\n"),
                     -400);
}

/* Expect: 100-continue asks for the interim answer once the headers are in and the body is
 * within the limit; not when the body is already here, nor when it is over the limit. */
static void test_expect_continue_wanted(void **state)
{
    (void)state;
    static const char head[] = "PUT /k HTTP/1.1\r\nExpect: 100-continue\r\n"
                               "Content-Length: 3\r\n\r\n";
    rk_http_parser p;
    rk_http_request r;
    size_t used = 0;
    rk_http_parser_init(&p, 16);
    assert_int_equal(rk_http_parse(&p, (const uint8_t *)head, sizeof(head) - 1, &r, &used), 0);
    assert_true(p.continue_wanted);
    p.continue_wanted = false;
    assert_int_equal(rk_http_parse(&p, (const uint8_t *)"abc", 3, &r, &used), 1);
    assert_int_equal(r.body_len, 3);
    rk_http_parser_deinit(&p);

    static const char whole[] = "PUT /k HTTP/1.1\r\nExpect: 100-continue\r\n"
                                "Content-Length: 3\r\n\r\nabc";
    rk_http_parser_init(&p, 16);
    assert_int_equal(rk_http_parse(&p, (const uint8_t *)whole, sizeof(whole) - 1, &r, &used), 1);
    assert_false(p.continue_wanted);
    rk_http_parser_deinit(&p);

    static const char over[] = "PUT /k HTTP/1.1\r\nExpect: 100-continue\r\n"
                               "Content-Length: 17\r\n\r\n";
    rk_http_parser_init(&p, 16);
    assert_true(rk_http_parse(&p, (const uint8_t *)over, sizeof(over) - 1, &r, &used) < 0);
    assert_false(p.continue_wanted);
    assert_int_equal(p.error_status, 413);
    rk_http_parser_deinit(&p);
}

static void test_respond_bytes(void **state)
{
    (void)state;
    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    rk_http_header h = {"X-RingKV-Context", "AQDAdnLO"};
    rk_http_respond(&out, 404, &h, 1, "nf", 2, false);
    rk_http_respond(&out, 204, NULL, 0, NULL, 0, true);
    const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n"
                        "X-RingKV-Context: AQDAdnLO\r\n\r\nnf"
                        "HTTP/1.1 204 No Content\r\n\r\n";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, sizeof(want) - 1);
    rk_resp_out_deinit(&out);
}

static void test_percent_decode_binary_safe(void **state)
{
    (void)state;
    uint8_t out[16];
    assert_int_equal(rk_http_percent_decode("a%2Fb%00c+", 10, out), 6);
    assert_memory_equal(out, "a/b\0c+", 6);
    assert_int_equal(rk_http_percent_decode("%zz", 3, out), RK_EINVAL);
    assert_int_equal(rk_http_percent_decode("ab%4", 4, out), RK_EINVAL);
}

static void test_base64_round_trip_and_bad(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0xff, 0x00, 0xfe, 0x41};
    for (size_t n = 0; n <= sizeof(bytes); n++) {
        char enc[16];
        uint8_t back[16];
        size_t enc_len = rk_http_base64_encoded_len(n);
        rk_http_base64_encode(bytes, n, enc);
        assert_int_equal(rk_http_base64_decode(enc, enc_len, back), (int64_t)n);
        assert_memory_equal(back, bytes, n);
    }
    uint8_t back[8];
    assert_int_equal(rk_http_base64_decode("YQ=", 3, back), RK_EINVAL);
    assert_int_equal(rk_http_base64_decode("Y=QA", 4, back), RK_EINVAL);
}

static void test_utf8_and_json_string(void **state)
{
    (void)state;
    assert_true(rk_http_utf8_valid((const uint8_t *)"caf\xc3\xa9", 5));
    assert_false(rk_http_utf8_valid((const uint8_t *)"\xff", 1));
    assert_false(rk_http_utf8_valid((const uint8_t *)"\xc0\xaf", 2));     /* overlong '/' */
    assert_false(rk_http_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* a surrogate */
    assert_false(rk_http_utf8_valid((const uint8_t *)"a\0", 2));
    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    rk_http_json_string(&out, (const uint8_t *)"a\"\\\n", 4);
    assert_int_equal(out.len, 13);
    assert_memory_equal(out.data, "\"a\\\"\\\\\\u000a\"", 13);
    rk_resp_out_deinit(&out);
}

/* A value that contains the first candidate boundary pushes the choice to the next one. */
static void test_multipart_boundary_avoids_values(void **state)
{
    (void)state;
    char first[RK_HTTP_BOUNDARY_BYTES + 1];
    const uint8_t *none[1] = {(const uint8_t *)""};
    size_t zero[1] = {0};
    rk_http_multipart_boundary(none, zero, 1, 7, first);
    char value[64];
    snprintf(value, sizeof(value), "xx%syy", first);
    const uint8_t *values[2] = {(const uint8_t *)"a", (const uint8_t *)value};
    size_t lens[2] = {1, strlen(value)};
    char chosen[RK_HTTP_BOUNDARY_BYTES + 1];
    rk_http_multipart_boundary(values, lens, 2, 7, chosen);
    assert_string_not_equal(chosen, first);
    assert_null(strstr(value, chosen));
    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    rk_http_multipart(&out, chosen, values, lens, 2);
    char want[256];
    snprintf(want, sizeof(want),
             "--%s\r\nContent-Type: application/octet-stream\r\n\r\na\r\n"
             "--%s\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--%s--\r\n",
             chosen, chosen, value, chosen);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    rk_resp_out_deinit(&out);
}

static void test_json_siblings_base64(void **state)
{
    (void)state;
    const uint8_t *values[2] = {(const uint8_t *)"a\0b", (const uint8_t *)"\xff"};
    size_t lens[2] = {3, 1};
    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    rk_http_json_siblings(&out, "CTX", values, lens, 2);
    const char want[] = "{\"context\":\"CTX\",\"values\":[\"YQBi\",\"/w==\"]}";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, out.len);
    rk_resp_out_deinit(&out);
}

static int test_json_walk(const char *text, char *out, size_t out_size)
{
    rk_json_reader r;
    assert_int_equal(rk_json_reader_init(&r, (const uint8_t *)text, strlen(text)), 0);
    rk_json_member m;
    int rc = 0;
    size_t written = 0;
    out[0] = '\0';
    while ((rc = rk_json_next(&r, &m)) == 1) {
        written += (size_t)snprintf(out + written, out_size - written, "%.*s:%d:", (int)m.name_len,
                                    (const char *)m.name, (int)m.kind);
        if (m.kind == RK_JSON_STRING) {
            written += (size_t)snprintf(out + written, out_size - written, "%.*s;",
                                        (int)m.string_len, (const char *)m.string);
        } else if (m.kind == RK_JSON_ARRAY) {
            written += (size_t)snprintf(out + written, out_size - written, "%u;", m.item_count);
        } else {
            written += (size_t)snprintf(out + written, out_size - written, "%lld;",
                                        (long long)(m.kind == RK_JSON_BOOL ? m.boolean : m.number));
        }
    }
    rk_json_reader_deinit(&r);
    return rc;
}

static void test_json_reader_good_and_bad(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(test_json_walk(" {\"n\": 3, \"policy\":\"sib\\u00e9\", \"sloppy\":false,"
                                    " \"add\":[\"x\",\"y\"], \"z\":null} ",
                                    out, sizeof(out)),
                     0);
    assert_string_equal(out, "n:2:3;policy:1:sib\xc3\xa9;sloppy:3:0;add:4:2;z:5:0;");
    assert_int_equal(test_json_walk("{}", out, sizeof(out)), 0);
    assert_int_equal(test_json_walk("{\"n\":", out, sizeof(out)), RK_EINVAL);
    assert_int_equal(test_json_walk("{\"n\":1} x", out, sizeof(out)), RK_EINVAL);
    assert_int_equal(test_json_walk("{\"a\":[1]}", out, sizeof(out)), RK_EINVAL);
    assert_int_equal(test_json_walk("{\"a\":\"\\ud800\"}", out, sizeof(out)), RK_EINVAL);
    assert_int_equal(test_json_walk("[]", out, sizeof(out)), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_same_at_every_split),
        cmocka_unit_test(test_body_limit_both_sides),
        cmocka_unit_test(test_target_limit_and_malformed),
        cmocka_unit_test(test_expect_continue_wanted),
        cmocka_unit_test(test_respond_bytes),
        cmocka_unit_test(test_percent_decode_binary_safe),
        cmocka_unit_test(test_base64_round_trip_and_bad),
        cmocka_unit_test(test_utf8_and_json_string),
        cmocka_unit_test(test_multipart_boundary_avoids_values),
        cmocka_unit_test(test_json_siblings_base64),
        cmocka_unit_test(test_json_reader_good_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
