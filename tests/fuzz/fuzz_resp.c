/* fuzz_resp.c — libFuzzer target for the RESP codec (src/net/resp.c, resp_out.c). The input
 * after its first byte is a client's byte stream; it is parsed in one read and in two reads
 * split where the first byte says (and byte by byte when short), and every run must give the same
 * commands and the same error. Every call sees an exact-size heap copy, so ASan catches any
 * read past the bytes received, and the copy moves between calls as the runtime's buffer may.
 * Each command is then written back through the reply writer in RESP2 and RESP3 (an array of
 * bulks is also a request, so it must parse back to the same arguments), and the parser's
 * error goes through rk_resp_error/errorf, which must keep it on one line.
 * Build and run: see docs/protocol.md or scripts/test-all.sh (make fuzz). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/resp.h"

#define FUZZ_NAME "fuzz_resp"
#include "fuzz_log.h"

#define FUZZ_BYTEWISE_BYTES_MAX 256u  /* byte-by-byte costs O(n^2) copies; keep inputs short */


/* Small limits reach the over-limit paths; the defaults reach the big-number paths. */
static const rk_resp_limits fuzz_small_limits = {.multibulk_max = 8, .bulk_bytes_max = 64};


/* Write the command as an array of bulks, parse that back and compare, in both protocols. */
static void fuzz_round_trip(const rk_resp_cmd *cmd)
{
    for (int proto = 2; proto <= 3; proto++) {
        rk_resp_out out;
        rk_resp_out_init(&out, proto);
        rk_resp_array(&out, cmd->argc);
        for (uint32_t i = 0; i < cmd->argc; i++) {
            rk_resp_bulk(&out, cmd->argv[i], cmd->argv_len[i]);
        }
        FUZZ_CHECK(!out.oom);

        rk_resp_parser p;
        rk_resp_parser_init(&p, NULL);
        rk_resp_cmd back;
        size_t consumed = 0;
        int rc = rk_resp_parse(&p, out.data, out.len, &back, &consumed);
        FUZZ_CHECK(rc == 1);
        FUZZ_CHECK(consumed == out.len);
        FUZZ_CHECK(back.argc == cmd->argc);
        FUZZ_CHECK(!back.is_inline);
        for (uint32_t i = 0; i < cmd->argc; i++) {
            FUZZ_CHECK(back.argv_len[i] == cmd->argv_len[i]);
            FUZZ_CHECK(memcmp(back.argv[i], cmd->argv[i], cmd->argv_len[i]) == 0);
        }
        rk_resp_parser_deinit(&p);

        /* The other forms: they must not crash and must be well framed. */
        rk_resp_out_reset(&out);
        rk_resp_map(&out, cmd->argc);
        rk_resp_set(&out, cmd->argc);
        rk_resp_null(&out);
        rk_resp_integer(&out, -(int64_t)cmd->argc);
        rk_resp_verbatim(&out, (const char *)cmd->argv[0], cmd->argv_len[0]);
        rk_resp_simple(&out, "OK");
        FUZZ_CHECK(!out.oom);
        FUZZ_CHECK(out.len >= 5);
        FUZZ_CHECK(memcmp(out.data + out.len - 5, "+OK\r\n", 5) == 0);
        rk_resp_out_deinit(&out);
    }
}

/* An error reply is exactly one line, whatever bytes the message held. */
static void fuzz_check_error_line(const rk_resp_out *out)
{
    FUZZ_CHECK(out->len >= 3);
    FUZZ_CHECK(out->data[0] == '-');
    for (size_t i = 0; i + 2 < out->len; i++) {
        FUZZ_CHECK(out->data[i] != '\r');
        FUZZ_CHECK(out->data[i] != '\n');
    }
    FUZZ_CHECK(out->data[out->len - 2] == '\r');
    FUZZ_CHECK(out->data[out->len - 1] == '\n');
}

static void fuzz_errors(const char *parser_error, const uint8_t *raw, size_t raw_len)
{
    rk_resp_out out;
    rk_resp_out_init(&out, (raw_len & 1) ? 3 : 2);
    rk_resp_errorf(&out, "ERR %s", parser_error);
    fuzz_check_error_line(&out);
    rk_resp_out_reset(&out);
    rk_resp_errorf(&out, "ERR raw %.*s", (int)(raw_len > 200 ? 200 : raw_len), (const char *)raw);
    fuzz_check_error_line(&out);
    FUZZ_CHECK(!out.oom);
    rk_resp_out_deinit(&out);
}

/* Parse `in` arriving in reads that end at cuts[] (increasing, last == len). */
static void fuzz_parse(const rk_resp_limits *limits, const uint8_t *in, size_t len,
                       const size_t *cuts, size_t cut_count, bool check_writer, fuzz_log *log)
{
    rk_resp_parser p;
    rk_resp_parser_init(&p, limits);
    size_t off = 0;
    int rc = 0;
    for (size_t c = 0; c < cut_count && rc >= 0; c++) {
        FUZZ_CHECK(cuts[c] >= off);
        FUZZ_CHECK(cuts[c] <= len);
        for (;;) {
            size_t avail = cuts[c] - off;
            uint8_t *copy = malloc(avail == 0 ? 1 : avail);
            FUZZ_CHECK(copy != NULL);
            memcpy(copy, in + off, avail);
            rk_resp_cmd cmd;
            size_t consumed = 1;
            rc = rk_resp_parse(&p, copy, avail, &cmd, &consumed);
            if (rc == 1) {
                FUZZ_CHECK(consumed > 0);
                FUZZ_CHECK(consumed <= avail);
                FUZZ_CHECK(cmd.argc > 0);
                fuzz_log_u64(log, cmd.argc);
                fuzz_log_u64(log, cmd.is_inline);
                fuzz_log_u64(log, consumed);
                for (uint32_t i = 0; i < cmd.argc; i++) {
                    fuzz_log_u64(log, cmd.argv_len[i]);
                    fuzz_log_add(log, cmd.argv[i], cmd.argv_len[i]);
                }
                if (check_writer) {
                    fuzz_round_trip(&cmd);
                }
                off += consumed;
                free(copy);
                continue;
            }
            free(copy);
            FUZZ_CHECK(consumed == 0);
            FUZZ_CHECK(rc == 0 || rc == RK_EINVAL || rc == RK_ETOOBIG);
            if (rc < 0) {
                size_t error_len = strlen(p.error);
                FUZZ_CHECK(error_len > 0);
                fuzz_log_u64(log, (uint64_t)(int64_t)rc);
                fuzz_log_add(log, p.error, error_len);
                if (check_writer) {
                    fuzz_errors(p.error, in + off, len - off);
                }
            }
            break;
        }
    }
    fuzz_log_u64(log, off);
    rk_resp_parser_deinit(&p);
}

static void fuzz_same(const fuzz_log *a, const fuzz_log *b)
{
    FUZZ_CHECK(a->len == b->len);
    FUZZ_CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t control = data[0];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    const rk_resp_limits *limits = (control & 1) ? &fuzz_small_limits : NULL;

    fuzz_log whole = {0};
    size_t one = len;
    fuzz_parse(limits, in, len, &one, 1, true, &whole);

    fuzz_log split = {0};
    size_t two[2] = {(size_t)control * len / 255u, len};
    fuzz_parse(limits, in, len, two, 2, false, &split);
    fuzz_same(&whole, &split);

    if (len <= FUZZ_BYTEWISE_BYTES_MAX) {
        size_t cuts[FUZZ_BYTEWISE_BYTES_MAX];
        for (size_t i = 0; i < len; i++) {
            cuts[i] = i + 1;
        }
        fuzz_log bytewise = {0};
        fuzz_parse(limits, in, len, cuts, len, false, &bytewise);
        fuzz_same(&whole, &bytewise);
        free(bytewise.data);
    }
    free(split.data);
    free(whole.data);
    return 0;
}
