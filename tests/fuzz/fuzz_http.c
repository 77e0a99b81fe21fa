/* fuzz_http.c — libFuzzer target for the HTTP codec (src/net/http.c, http_json.c). The input
 * after its first byte is a client's byte stream, parsed whole and split in two where the first
 * byte says; both runs must give the same requests and the same error status. Each request's
 * path is percent-decoded, its body read as a JSON object (props, datatypes) and, when valid
 * UTF-8, written back as a JSON string; base64 must round-trip the body; a multipart body built
 * from the body's halves must have a boundary found in neither.
 * Build and run: scripts/test-all.sh --fuzz-only (make fuzz). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/http.h"

#define FUZZ_NAME "fuzz_http"
#include "fuzz_log.h"

static void fuzz_request_extras(const rk_http_request *r)
{
    uint8_t *decoded = malloc(r->path_len + 1);
    FUZZ_CHECK(decoded != NULL);
    int64_t len = rk_http_percent_decode(r->path, r->path_len, decoded);
    FUZZ_CHECK(len < 0 || (size_t)len <= r->path_len);
    free(decoded);

    rk_json_reader reader;
    FUZZ_CHECK(rk_json_reader_init(&reader, r->body, r->body_len) == 0);
    rk_json_member m;
    for (int i = 0; i < 64 && rk_json_next(&reader, &m) == 1; i++) {
        FUZZ_CHECK(m.name_len <= r->body_len);
    }
    rk_json_reader_deinit(&reader);

    size_t encoded_len = rk_http_base64_encoded_len(r->body_len);
    char *encoded = malloc(encoded_len + 1);
    uint8_t *back = malloc(encoded_len + 1);
    FUZZ_CHECK(encoded != NULL && back != NULL);
    rk_http_base64_encode(r->body, r->body_len, encoded);
    int64_t back_len = rk_http_base64_decode(encoded, encoded_len, back);
    FUZZ_CHECK(back_len == (int64_t)r->body_len);
    FUZZ_CHECK(r->body_len == 0 || memcmp(back, r->body, r->body_len) == 0);
    free(encoded);
    free(back);

    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    if (rk_http_utf8_valid(r->body, r->body_len)) {
        rk_http_json_string(&out, r->body, r->body_len);
    }
    const uint8_t *body = r->body != NULL ? r->body : (const uint8_t *)"";
    const uint8_t *values[2] = {body, body + r->body_len / 2};
    size_t lens[2] = {r->body_len / 2, r->body_len - r->body_len / 2};
    char boundary[RK_HTTP_BOUNDARY_BYTES + 1];
    rk_http_multipart_boundary(values, lens, 2, 0, boundary);
    for (int i = 0; i < 2; i++) {
        FUZZ_CHECK(memmem(values[i], lens[i], boundary, RK_HTTP_BOUNDARY_BYTES) == NULL);
    }
    rk_http_multipart(&out, boundary, values, lens, 2);
    rk_resp_out_deinit(&out);
}

/* Parse `len` bytes delivered in pieces ending at cuts[]; log each request and the error. */
static void fuzz_parse(const uint8_t *in, size_t len, const size_t *cuts, size_t cut_count,
                       bool extras, fuzz_log *log)
{
    rk_http_parser p;
    rk_http_parser_init(&p, 256);
    uint8_t *buf = NULL;
    size_t have = 0;
    size_t start = 0;
    for (size_t c = 0; c < cut_count; c++) {
        /* an exact-size heap copy of what has arrived, so ASan sees any over-read */
        free(buf);
        have = cuts[c];
        buf = malloc(have - start + 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, in + start, have - start);
        size_t at = 0;
        for (;;) {
            rk_http_request r;
            size_t used = 0;
            int rc = rk_http_parse(&p, buf + at, have - start - at, &r, &used);
            FUZZ_CHECK(used <= have - start - at);
            at += used;
            if (rc <= 0) {
                if (rc < 0) {
                    char line[32];
                    snprintf(line, sizeof(line), "error %d\n", p.error_status);
                    FUZZ_CHECK(p.error_status >= 400);
                    fuzz_log_add(log, line, strlen(line));
                    goto out;
                }
                break;
            }
            char line[64];
            snprintf(line, sizeof(line), "req %d %zu %zu %d\n", (int)r.method, r.path_len,
                     r.body_len, r.keep_alive);
            fuzz_log_add(log, line, strlen(line));
            fuzz_log_add(log, r.path, r.path_len);
            fuzz_log_add(log, r.body, r.body_len);
            if (extras) {
                fuzz_request_extras(&r);
            }
        }
        start += at;
        /* what was not consumed is kept by the parser (libhttp-parser consumes every byte
         * of a partial request), so nothing is left over */
        FUZZ_CHECK(start == have);
    }
out:
    free(buf);
    rk_http_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t control = data[0];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    fuzz_log whole = {0};
    size_t one = len;
    fuzz_parse(in, len, &one, 1, true, &whole);
    fuzz_log split = {0};
    size_t two[2] = {(size_t)control * len / 255u, len};
    fuzz_parse(in, len, two, 2, false, &split);
    FUZZ_CHECK(whole.len == split.len);
    FUZZ_CHECK(whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0);
    free(whole.data);
    free(split.data);
    return 0;
}
