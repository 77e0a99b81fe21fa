/* test_resp.c — the RESP codec (src/net/resp.c, resp_out.c). The parser is checked on whole
 * requests, pipelines, inline commands with Redis's quoting, both sides of every limit and bad
 * input; a transcript of what it returns (commands and errors) must not depend on how the bytes
 * are split across reads, which is checked at every byte boundary and on seeded random input
 * (RK_SEED=<n> replays a run; the seed is printed). Every call feeds a fresh heap copy of the
 * bytes, so the parser is also held to "the buffer may move" and ASan sees over-reads. The
 * writer is checked byte for byte in RESP2 and RESP3. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/net/resp.h"

#define TEST_GARBAGE_CASES     3000u
#define TEST_GARBAGE_BYTES_MAX 96u

/* ---- helpers ------------------------------------------------------------------------------ */

/* What a parse run produced, as text: one line per command or error, so runs compare with
 * memcmp and a failure prints readably. */
typedef struct transcript {
    char *data;
    size_t len;
    size_t capacity;
} transcript;

static void transcript_add(transcript *t, const void *bytes, size_t n)
{
    if (t->capacity - t->len < n + 1) {
        size_t capacity = t->capacity == 0 ? 256 : t->capacity;
        while (capacity - t->len < n + 1) {
            capacity *= 2;
        }
        t->data = realloc(t->data, capacity);
        assert_non_null(t->data);
        t->capacity = capacity;
    }
    memcpy(t->data + t->len, bytes, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void transcript_addf(transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void transcript_addf(transcript *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(line));
    transcript_add(t, line, (size_t)n);
}

static void transcript_command(transcript *t, const rk_resp_cmd *cmd)
{
    transcript_addf(t, "%s %u", cmd->is_inline ? "inline" : "multibulk", cmd->argc);
    for (uint32_t i = 0; i < cmd->argc; i++) {
        transcript_addf(t, " [%zu]", cmd->argv_len[i]);
        for (size_t k = 0; k < cmd->argv_len[i]; k++) {
            uint8_t c = cmd->argv[i][k];
            if (c >= 0x21 && c < 0x7f && c != '\\') {
                transcript_add(t, &c, 1);
            } else {
                transcript_addf(t, "\\x%02x", c);
            }
        }
    }
    transcript_add(t, "\n", 1);
}

static void transcript_deinit(transcript *t)
{
    free(t->data);
    memset(t, 0, sizeof(*t));
}

/* Parse `in` as if it arrived in reads ending at each of cuts[] (increasing, the last == len).
 * Each call gets a fresh heap copy holding exactly the unconsumed bytes received so far. */
static void parse_with_cuts(const rk_resp_limits *limits, const uint8_t *in, size_t len,
                            const size_t *cuts, size_t cut_count, transcript *out)
{
    rk_resp_parser p;
    rk_resp_parser_init(&p, limits);
    size_t off = 0;
    int rc = 0;
    for (size_t c = 0; c < cut_count && rc >= 0; c++) {
        assert_true(cuts[c] <= len);
        assert_true(cuts[c] >= off);
        for (;;) {
            size_t avail = cuts[c] - off;
            uint8_t *copy = malloc(avail == 0 ? 1 : avail);
            assert_non_null(copy);
            memcpy(copy, in + off, avail);
            rk_resp_cmd cmd;
            size_t consumed = 99;
            rc = rk_resp_parse(&p, copy, avail, &cmd, &consumed);
            if (rc == 1) {
                assert_true(consumed > 0);
                assert_true(consumed <= avail);
                transcript_command(out, &cmd);
                off += consumed;
                free(copy);
                continue;
            }
            free(copy);
            assert_int_equal(consumed, 0);
            if (rc < 0) {
                assert_true(rc == RK_EINVAL || rc == RK_ETOOBIG);
                assert_true(strlen(p.error) > 0);
                transcript_addf(out, "error %d %s\n", rc, p.error);
            } else {
                assert_int_equal(rc, 0);
            }
            break;
        }
    }
    if (rc == 0) {
        transcript_addf(out, "pending %zu\n", len - off);
    }
    rk_resp_parser_deinit(&p);
}

static void parse_one_shot(const rk_resp_limits *limits, const uint8_t *in, size_t len,
                           transcript *out)
{
    size_t cut = len;
    parse_with_cuts(limits, in, len, &cut, 1, out);
}

/* The one-shot transcript must equal the one of every split in two and of byte-by-byte. */
static void assert_split_invariant(const rk_resp_limits *limits, const uint8_t *in, size_t len)
{
    transcript whole = {0};
    parse_one_shot(limits, in, len, &whole);

    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }
    transcript bytewise = {0};
    parse_with_cuts(limits, in, len, cuts, len, &bytewise);
    assert_string_equal(bytewise.data, whole.data);
    transcript_deinit(&bytewise);

    for (size_t split = 0; split <= len; split++) {
        size_t two[2] = {split, len};
        transcript halves = {0};
        parse_with_cuts(limits, in, len, two, 2, &halves);
        if (strcmp(halves.data, whole.data) != 0) {
            print_error("split at %zu differs\n", split);
        }
        assert_string_equal(halves.data, whole.data);
        transcript_deinit(&halves);
    }
    free(cuts);
    transcript_deinit(&whole);
}

/* One call on a C string; returns rc and fills cmd/consumed. */
static int parse_str(rk_resp_parser *p, const char *s, rk_resp_cmd *cmd, size_t *consumed)
{
    return rk_resp_parse(p, (const uint8_t *)s, strlen(s), cmd, consumed);
}

static void assert_arg(const rk_resp_cmd *cmd, uint32_t index, const void *bytes, size_t len)
{
    assert_true(index < cmd->argc);
    assert_int_equal(cmd->argv_len[index], len);
    assert_memory_equal(cmd->argv[index], bytes, len);
}

#define ASSERT_ARG_STR(cmd, index, s) assert_arg((cmd), (index), (s), sizeof(s) - 1)

/* The error a lone request gives with the given limits (NULL: defaults). */
static void assert_parse_error(const rk_resp_limits *limits, const char *in, size_t len,
                               int code, const char *text)
{
    rk_resp_parser p;
    rk_resp_parser_init(&p, limits);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    int rc = rk_resp_parse(&p, (const uint8_t *)in, len, &cmd, &consumed);
    if (rc != code) {
        print_error("input \"%.*s\": rc %d, error \"%s\"\n", (int)len, in, rc, p.error);
    }
    assert_int_equal(rc, code);
    assert_string_equal(p.error, text);
    assert_int_equal(consumed, 0);
    rk_resp_parser_deinit(&p);
}

#define ASSERT_PARSE_ERROR(limits, s, code, text)                                              \
    assert_parse_error((limits), (s), sizeof(s) - 1, (code), (text))

/* ---- parser: the happy path --------------------------------------------------------------- */

static void test_parse_single_multibulk_command(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    const char *in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";

    assert_int_equal(parse_str(&p, in, &cmd, &consumed), 1);
    assert_int_equal(consumed, strlen(in));
    assert_int_equal(cmd.argc, 3);
    assert_false(cmd.is_inline);
    ASSERT_ARG_STR(&cmd, 0, "SET");
    ASSERT_ARG_STR(&cmd, 1, "key");
    ASSERT_ARG_STR(&cmd, 2, "value");
    /* Multibulk arguments are borrowed from the caller's buffer, not copied. */
    assert_ptr_equal(cmd.argv[2], (const uint8_t *)in + strlen(in) - 7);
    rk_resp_parser_deinit(&p);
}

static void test_parse_binary_bulk_keeps_crlf_and_nul(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$3\r\nSET\r\n$6\r\na\r\n\0\r\n\r\n";
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(rk_resp_parse(&p, (const uint8_t *)in, sizeof(in) - 1, &cmd, &consumed), 1);
    assert_int_equal(consumed, sizeof(in) - 1);
    assert_arg(&cmd, 1, "a\r\n\0\r\n", 6);
    rk_resp_parser_deinit(&p);
}

static void test_parse_empty_bulk_argument(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", &cmd, &consumed), 1);
    assert_int_equal(cmd.argc, 2);
    assert_int_equal(cmd.argv_len[1], 0);
    rk_resp_parser_deinit(&p);
}

static void test_parse_pipelined_commands_in_one_buffer(void **state)
{
    (void)state;
    enum { COMMANDS = 1000 };
    transcript in = {0};
    for (int i = 0; i < COMMANDS; i++) {
        if (i % 3 == 2) {
            transcript_addf(&in, "ECHO %d\r\n", i);
        } else {
            char number[16];
            int n = snprintf(number, sizeof(number), "%d", i);
            transcript_addf(&in, "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n", n, number);
        }
    }
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    size_t off = 0;
    for (int i = 0; i < COMMANDS; i++) {
        rk_resp_cmd cmd;
        size_t consumed = 0;
        int rc = rk_resp_parse(&p, (const uint8_t *)in.data + off, in.len - off, &cmd, &consumed);
        assert_int_equal(rc, 1);
        assert_int_equal(cmd.argc, 2);
        assert_int_equal(cmd.is_inline, i % 3 == 2);
        char number[16];
        int n = snprintf(number, sizeof(number), "%d", i);
        assert_arg(&cmd, 1, number, (size_t)n);
        off += consumed;
    }
    assert_int_equal(off, in.len);
    rk_resp_cmd cmd;
    size_t consumed = 7;
    assert_int_equal(rk_resp_parse(&p, (const uint8_t *)in.data + off, 0, &cmd, &consumed), 0);
    assert_int_equal(consumed, 0);
    rk_resp_parser_deinit(&p);
    transcript_deinit(&in);
}

/* ---- parser: fragmentation ---------------------------------------------------------------- */

static const rk_resp_limits test_small_limits = {.multibulk_max = 4, .bulk_bytes_max = 16};

static void test_parse_split_anywhere_gives_the_same_commands(void **state)
{
    (void)state;
    static const char binary[] = "*3\r\n$3\r\nSET\r\n$2\r\nk\0\r\n$8\r\nab\r\n\r\ncd\r\n";
    static const char mixed[] =
        "PING\r\n*1\r\n$4\r\nPING\r\n\r\n*0\r\n*-1\r\n set \"a b\" 'c\\'d' \"\\x41\\n\"\n"
        "   \n*2\r\n$3\r\nGET\r\n$0\r\n\r\nx\n";
    static const char ends_in_error[] = "*1\r\n$3\r\nfoo\r\n*2\r\n$1\r\na\r\n:1\r\n";
    static const char ends_in_limit[] = "ECHO 1\n*2\r\n$1\r\na\r\n$17\r\n01234567890123456\r\n";
    static const char ends_pending[] = "*2\r\n$3\r\nGET\r\n$10\r\nabc";
    static const char inline_error[] = "GET k\r\nSET \"k v\r\n";

    assert_split_invariant(NULL, (const uint8_t *)binary, sizeof(binary) - 1);
    assert_split_invariant(NULL, (const uint8_t *)mixed, sizeof(mixed) - 1);
    assert_split_invariant(NULL, (const uint8_t *)ends_in_error, sizeof(ends_in_error) - 1);
    assert_split_invariant(&test_small_limits, (const uint8_t *)ends_in_limit,
                           sizeof(ends_in_limit) - 1);
    assert_split_invariant(NULL, (const uint8_t *)ends_pending, sizeof(ends_pending) - 1);
    assert_split_invariant(NULL, (const uint8_t *)inline_error, sizeof(inline_error) - 1);
}

/* The invariant above compares runs with each other; this pins what the runs say. */
static void test_parse_split_transcript_is_the_expected_one(void **state)
{
    (void)state;
    static const char binary[] = "*3\r\n$3\r\nSET\r\n$2\r\nk\0\r\n$8\r\nab\r\n\r\ncd\r\n";
    static const char mixed[] =
        "PING\r\n*1\r\n$4\r\nPING\r\n\r\n*0\r\n*-1\r\n set \"a b\" 'c\\'d' \"\\x41\\n\"\n"
        "   \n*2\r\n$3\r\nGET\r\n$0\r\n\r\nx\n";
    transcript t = {0};

    parse_one_shot(NULL, (const uint8_t *)binary, sizeof(binary) - 1, &t);
    assert_string_equal(t.data, "multibulk 3 [3]SET [2]k\\x00 [8]ab\\x0d\\x0a\\x0d\\x0acd\n"
                                "pending 0\n");
    transcript_deinit(&t);

    parse_one_shot(NULL, (const uint8_t *)mixed, sizeof(mixed) - 1, &t);
    assert_string_equal(t.data, "inline 1 [4]PING\n"
                                "multibulk 1 [4]PING\n"
                                "inline 4 [3]set [3]a\\x20b [3]c'd [2]A\\x0a\n"
                                "multibulk 2 [3]GET [0]\n"
                                "inline 1 [1]x\n"
                                "pending 0\n");
    transcript_deinit(&t);
}

static void test_parse_buffer_may_move_between_calls(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    uint8_t first[sizeof(in)];
    uint8_t second[sizeof(in)];

    memcpy(first, in, 20);
    assert_int_equal(rk_resp_parse(&p, first, 20, &cmd, &consumed), 0);
    memset(first, 'X', sizeof(first));              /* the old buffer is gone */
    memcpy(second, in, sizeof(in) - 1);
    assert_int_equal(rk_resp_parse(&p, second, sizeof(in) - 1, &cmd, &consumed), 1);
    ASSERT_ARG_STR(&cmd, 1, "hello");
    assert_ptr_equal(cmd.argv[1], second + 18);
    rk_resp_parser_deinit(&p);
}

/* Work is incremental: while a bulk's bytes trickle in the parser does not look at them (pos
 * stays at the start of the data), so B bytes in pieces cost O(B) in all. */
static void test_parse_large_bulk_in_pieces_is_not_rescanned(void **state)
{
    (void)state;
    enum { BULK = 100000 };
    const char *header = "*1\r\n$100000\r\n";
    size_t header_len = strlen(header);
    size_t total = header_len + BULK + 2;
    uint8_t *in = malloc(total);
    assert_non_null(in);
    memcpy(in, header, header_len);
    memset(in + header_len, '\r', BULK);            /* CRs would catch any scan for a line end */
    memcpy(in + header_len + BULK, "\r\n", 2);

    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    for (size_t len = header_len; len < total; len += 997) {
        assert_int_equal(rk_resp_parse(&p, in, len, &cmd, &consumed), 0);
        assert_int_equal(p.pos, header_len);
    }
    assert_int_equal(rk_resp_parse(&p, in, total, &cmd, &consumed), 1);
    assert_int_equal(consumed, total);
    assert_int_equal(cmd.argv_len[0], BULK);
    rk_resp_parser_deinit(&p);
    free(in);
}

/* ---- parser: inline commands -------------------------------------------------------------- */

static void test_parse_inline_splits_on_blanks(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "  SET\tkey   value \r\n", &cmd, &consumed), 1);
    assert_int_equal(consumed, 20);
    assert_true(cmd.is_inline);
    assert_int_equal(cmd.argc, 3);
    ASSERT_ARG_STR(&cmd, 0, "SET");
    ASSERT_ARG_STR(&cmd, 1, "key");
    ASSERT_ARG_STR(&cmd, 2, "value");
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_accepts_lf_alone(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "PING\nPING\r\n", &cmd, &consumed), 1);
    assert_int_equal(consumed, 5);
    ASSERT_ARG_STR(&cmd, 0, "PING");
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_waits_for_newline(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 5;

    assert_int_equal(parse_str(&p, "PING\r", &cmd, &consumed), 0);
    assert_int_equal(consumed, 0);
    assert_int_equal(parse_str(&p, "PING\r\n", &cmd, &consumed), 1);
    assert_int_equal(consumed, 6);
    ASSERT_ARG_STR(&cmd, 0, "PING");
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_double_quotes_unescape(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    const char *in = "SET \"a b\" \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x7a\\x4A\\xZZ\\q\" \"\"\r\n";

    assert_int_equal(parse_str(&p, in, &cmd, &consumed), 1);
    assert_int_equal(cmd.argc, 4);
    ASSERT_ARG_STR(&cmd, 1, "a b");
    /* \xZZ is no hex escape: the backslash goes and "xZZ" stays; an unknown \q gives q. */
    ASSERT_ARG_STR(&cmd, 2, "\n\r\t\b\a\\\"AzJxZZq");
    assert_int_equal(cmd.argv_len[3], 0);
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_single_quotes_only_escape_quote(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "SET 'it\\'s' 'a\\nb \"q\"'\n", &cmd, &consumed), 1);
    assert_int_equal(cmd.argc, 3);
    ASSERT_ARG_STR(&cmd, 1, "it's");
    ASSERT_ARG_STR(&cmd, 2, "a\\nb \"q\"");
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_quote_inside_word_joins_it(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "foo\"bar baz\" x\n", &cmd, &consumed), 1);
    assert_int_equal(cmd.argc, 2);
    ASSERT_ARG_STR(&cmd, 0, "foobar baz");
    ASSERT_ARG_STR(&cmd, 1, "x");
    rk_resp_parser_deinit(&p);
}

static void test_parse_inline_unbalanced_quotes_are_refused(void **state)
{
    (void)state;
    const char *text = "Protocol error: unbalanced quotes in request";
    ASSERT_PARSE_ERROR(NULL, "SET \"abc\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "SET 'abc\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "SET \"abc\\\"\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "SET \"abc\\\n", RK_EINVAL, text);
    /* A closing quote must be followed by a blank or the end of the line. */
    ASSERT_PARSE_ERROR(NULL, "SET \"foo\"bar\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "SET 'foo'bar\n", RK_EINVAL, text);
}

static void test_parse_inline_too_big_is_refused(void **state)
{
    (void)state;
    size_t max = RK_RESP_INLINE_BYTES_MAX;
    uint8_t *in = malloc(max + 2);
    assert_non_null(in);
    memset(in, 'a', max + 2);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    rk_resp_parser p;

    /* Exactly the limit before the newline: accepted. */
    rk_resp_parser_init(&p, NULL);
    assert_int_equal(rk_resp_parse(&p, in, max, &cmd, &consumed), 0);
    in[max] = '\n';
    assert_int_equal(rk_resp_parse(&p, in, max + 1, &cmd, &consumed), 1);
    assert_int_equal(cmd.argv_len[0], max);
    rk_resp_parser_deinit(&p);

    /* One more byte without a newline: refused at once. */
    in[max] = 'a';
    rk_resp_parser_init(&p, NULL);
    assert_int_equal(rk_resp_parse(&p, in, max + 1, &cmd, &consumed), RK_ETOOBIG);
    assert_string_equal(p.error, "Protocol error: too big inline request");
    rk_resp_parser_deinit(&p);

    /* One more byte, newline included in the same read: refused just the same. */
    in[max + 1] = '\n';
    rk_resp_parser_init(&p, NULL);
    assert_int_equal(rk_resp_parse(&p, in, max + 2, &cmd, &consumed), RK_ETOOBIG);
    rk_resp_parser_deinit(&p);
    free(in);
}

static void test_parse_empty_lines_are_skipped(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "\r\n\n  \t \r\n", &cmd, &consumed), 0);
    assert_int_equal(consumed, 0);
    /* The skipped bytes are counted in the next command's consumed. */
    assert_int_equal(parse_str(&p, "\r\n\n  \t \r\nPING\r\n", &cmd, &consumed), 1);
    assert_int_equal(consumed, 15);
    assert_int_equal(cmd.argc, 1);
    ASSERT_ARG_STR(&cmd, 0, "PING");
    rk_resp_parser_deinit(&p);
}

static void test_parse_zero_and_null_multibulk_are_skipped(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", &cmd, &consumed), 1);
    assert_int_equal(consumed, 23);
    assert_false(cmd.is_inline);
    ASSERT_ARG_STR(&cmd, 0, "PING");
    rk_resp_parser_deinit(&p);
}

static void test_parse_empty_requests_are_bounded(void **state)
{
    (void)state;
    size_t max = RK_RESP_EMPTY_BYTES_MAX;
    uint8_t *in = malloc(max + 1);
    assert_non_null(in);
    memset(in, '\n', max + 1);
    rk_resp_cmd cmd;
    size_t consumed = 0;
    rk_resp_parser p;

    rk_resp_parser_init(&p, NULL);
    assert_int_equal(rk_resp_parse(&p, in, max, &cmd, &consumed), 0);
    rk_resp_parser_deinit(&p);

    rk_resp_parser_init(&p, NULL);
    assert_int_equal(rk_resp_parse(&p, in, max + 1, &cmd, &consumed), RK_ETOOBIG);
    assert_string_equal(p.error, "Protocol error: 65537 bytes of empty requests exceed the "
                                 "limit of 65536");
    rk_resp_parser_deinit(&p);
    free(in);
}

/* ---- parser: limits ----------------------------------------------------------------------- */

static void test_parse_multibulk_count_at_max_is_accepted(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, &test_small_limits);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    int rc = parse_str(&p, "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", &cmd, &consumed);
    assert_int_equal(rc, 1);
    assert_int_equal(cmd.argc, 4);
    rk_resp_parser_deinit(&p);

    rk_resp_parser_init(&p, NULL);
    assert_int_equal(parse_str(&p, "*1048576\r\n", &cmd, &consumed), 0);
    rk_resp_parser_deinit(&p);
}

static void test_parse_multibulk_count_over_max_is_refused(void **state)
{
    (void)state;
    static const rk_resp_limits limits = {.multibulk_max = 1048576, .bulk_bytes_max = 16777216};
    ASSERT_PARSE_ERROR(&test_small_limits, "*5\r\n", RK_ETOOBIG,
                       "Protocol error: multibulk length 5 exceeds max-multibulk 4");
    ASSERT_PARSE_ERROR(&limits, "*2000000\r\n", RK_ETOOBIG,
                       "Protocol error: multibulk length 2000000 exceeds max-multibulk 1048576");
    ASSERT_PARSE_ERROR(NULL, "*1048577\r\n", RK_ETOOBIG,
                       "Protocol error: multibulk length 1048577 exceeds max-multibulk 1048576");
}

static void test_parse_bulk_len_at_max_is_accepted(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, &test_small_limits);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "*1\r\n$16\r\n0123456789abcdef\r\n", &cmd, &consumed), 1);
    assert_int_equal(cmd.argv_len[0], 16);
    rk_resp_parser_deinit(&p);

    rk_resp_parser_init(&p, NULL);
    assert_int_equal(parse_str(&p, "*1\r\n$16778240\r\n", &cmd, &consumed), 0);
    rk_resp_parser_deinit(&p);
}

static void test_parse_bulk_len_over_max_is_refused(void **state)
{
    (void)state;
    static const rk_resp_limits limits = {.multibulk_max = 1048576, .bulk_bytes_max = 16777216};
    ASSERT_PARSE_ERROR(&test_small_limits, "*1\r\n$17\r\n", RK_ETOOBIG,
                       "Protocol error: bulk length 17 exceeds max-bulk-bytes 16");
    ASSERT_PARSE_ERROR(&limits, "*1\r\n$20971520\r\n", RK_ETOOBIG,
                       "Protocol error: bulk length 20971520 exceeds max-bulk-bytes 16777216");
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$16778241\r\n", RK_ETOOBIG,
                       "Protocol error: bulk length 16778241 exceeds max-bulk-bytes 16778240");
}

/* A client announcing a million arguments gets arrays sized to what it actually sends. */
static void test_parse_big_announced_count_does_not_allocate_upfront(void **state)
{
    (void)state;
    transcript in = {0};
    transcript_addf(&in, "*1048576\r\n");
    for (int i = 0; i < 100; i++) {
        transcript_addf(&in, "$1\r\nx\r\n");
    }
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(rk_resp_parse(&p, (const uint8_t *)in.data, 10, &cmd, &consumed), 0);
    assert_true(p.arg_capacity <= 8);
    assert_int_equal(rk_resp_parse(&p, (const uint8_t *)in.data, in.len, &cmd, &consumed), 0);
    assert_int_equal(p.arg_count, 100);
    assert_true(p.arg_capacity <= 256);
    rk_resp_parser_deinit(&p);
    transcript_deinit(&in);
}

/* After a request with many arguments the next request starts with small arrays again. */
static void test_parse_big_argument_arrays_are_released(void **state)
{
    (void)state;
    transcript in = {0};
    transcript_addf(&in, "*5000\r\n");
    for (int i = 0; i < 5000; i++) {
        transcript_addf(&in, "$1\r\nx\r\n");
    }
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(rk_resp_parse(&p, (const uint8_t *)in.data, in.len, &cmd, &consumed), 1);
    assert_int_equal(cmd.argc, 5000);
    assert_true(p.arg_capacity >= 5000);
    assert_int_equal(parse_str(&p, "PING\n", &cmd, &consumed), 1);
    assert_true(p.arg_capacity <= RK_RESP_ARGS_KEEP_MAX);
    rk_resp_parser_deinit(&p);
    transcript_deinit(&in);
}

/* ---- parser: bad input -------------------------------------------------------------------- */

static void test_parse_invalid_multibulk_length_is_refused(void **state)
{
    (void)state;
    const char *text = "Protocol error: invalid multibulk length";
    ASSERT_PARSE_ERROR(NULL, "*abc\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*+1\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*-2\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*-0\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*-\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*01\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "* 1\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1 \r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\rx", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*99999999999999999999\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*-99999999999999999999\r\n", RK_EINVAL, text);
    /* No "\r" where a number could end: refused without waiting for more. */
    ASSERT_PARSE_ERROR(NULL, "*000000000000000000000000000000000", RK_EINVAL, text);
}

static void test_parse_missing_dollar_is_refused(void **state)
{
    (void)state;
    ASSERT_PARSE_ERROR(NULL, "*1\r\n:5\r\n", RK_EINVAL, "Protocol error: expected '$', got ':'");
    ASSERT_PARSE_ERROR(NULL, "*2\r\n$1\r\na\r\nb", RK_EINVAL,
                       "Protocol error: expected '$', got 'b'");
    /* A control byte is escaped so that the error stays one printable line. */
    ASSERT_PARSE_ERROR(NULL, "*1\r\n\n", RK_EINVAL, "Protocol error: expected '$', got '\\x0a'");
}

static void test_parse_invalid_bulk_length_is_refused(void **state)
{
    (void)state;
    const char *text = "Protocol error: invalid bulk length";
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$abc\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$-1\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$-5\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$+5\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$05\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$3\rx", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$99999999999999999999\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$111111111111111111111111111111111", RK_EINVAL, text);
}

static void test_parse_bulk_without_crlf_is_refused(void **state)
{
    (void)state;
    const char *text = "Protocol error: bulk data not followed by CRLF";
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$3\r\nabcd\r\n", RK_EINVAL, text);
    ASSERT_PARSE_ERROR(NULL, "*1\r\n$3\r\nabc\n\r", RK_EINVAL, text);
}

static void test_parse_error_is_final(void **state)
{
    (void)state;
    rk_resp_parser p;
    rk_resp_parser_init(&p, NULL);
    rk_resp_cmd cmd;
    size_t consumed = 0;

    assert_int_equal(parse_str(&p, "*x\r\n", &cmd, &consumed), RK_EINVAL);
    assert_int_equal(parse_str(&p, "PING\r\n", &cmd, &consumed), RK_EINVAL);
    assert_int_equal(consumed, 0);
    assert_string_equal(p.error, "Protocol error: invalid multibulk length");
    rk_resp_parser_deinit(&p);
}

/* Random bytes, biased toward the protocol's own characters so that they reach deep states,
 * never crash the parser, only give 0, 1 or a protocol error, and give the same transcript
 * however they are split. */
static void test_parse_random_garbage_is_handled(void **state)
{
    (void)state;
    static const uint8_t alphabet[] = "*$\r\n\r\n0123-+ \t\"'\\xaZ\0";
    uint64_t rng = test_seed("test_resp");
    uint8_t in[TEST_GARBAGE_BYTES_MAX];
    size_t cuts[TEST_GARBAGE_BYTES_MAX];

    for (uint32_t c = 0; c < TEST_GARBAGE_CASES; c++) {
        size_t len = (size_t)(test_rng_next(&rng) % TEST_GARBAGE_BYTES_MAX);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = test_rng_next(&rng);
            in[i] = (r & 3) == 0 ? (uint8_t)(r >> 8) : alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
        }
        const rk_resp_limits *limits = (c & 1) ? &test_small_limits : NULL;
        transcript whole = {0};
        parse_one_shot(limits, in, len, &whole);

        size_t cut_count = 0;
        size_t at = 0;
        while (at < len) {
            at += 1 + (size_t)(test_rng_next(&rng) % 8);
            cuts[cut_count++] = at < len ? at : len;
        }
        transcript pieces = {0};
        parse_with_cuts(limits, in, len, cuts, cut_count, &pieces);
        if (strcmp(pieces.data, whole.data) != 0) {
            print_error("case %u differs\n", c);
        }
        assert_string_equal(pieces.data, whole.data);
        transcript_deinit(&pieces);
        transcript_deinit(&whole);
    }
}

/* ---- writer ------------------------------------------------------------------------------- */

static void writer_sample(rk_resp_out *o)
{
    rk_resp_simple(o, "OK");
    rk_resp_error(o, "ERR no");
    rk_resp_errorf(o, "ERR value is %d bytes; max-value-bytes is %d", 20, 10);
    rk_resp_integer(o, -42);
    rk_resp_integer(o, INT64_MIN);
    rk_resp_bulk(o, "a\r\nb", 4);
    rk_resp_bulk(o, NULL, 0);
    rk_resp_bulk_str(o, "foo");
    rk_resp_null(o);
    rk_resp_array(o, 2);
    rk_resp_map(o, 3);
    rk_resp_set(o, 4);
    rk_resp_verbatim(o, "hi\n", 3);
}

static void assert_out_equal(const rk_resp_out *o, const char *expected, size_t len)
{
    assert_false(o->oom);
    assert_int_equal(o->len, len);
    assert_memory_equal(o->data, expected, len);
}

static void test_writer_resp2_forms_are_exact(void **state)
{
    (void)state;
    static const char expected[] = "+OK\r\n"
                                   "-ERR no\r\n"
                                   "-ERR value is 20 bytes; max-value-bytes is 10\r\n"
                                   ":-42\r\n"
                                   ":-9223372036854775808\r\n"
                                   "$4\r\na\r\nb\r\n"
                                   "$0\r\n\r\n"
                                   "$3\r\nfoo\r\n"
                                   "$-1\r\n"
                                   "*2\r\n"
                                   "*6\r\n"
                                   "*4\r\n"
                                   "$3\r\nhi\n\r\n";
    rk_resp_out o;
    rk_resp_out_init(&o, 2);
    writer_sample(&o);
    assert_out_equal(&o, expected, sizeof(expected) - 1);
    rk_resp_out_deinit(&o);
}

static void test_writer_resp3_forms_are_exact(void **state)
{
    (void)state;
    static const char expected[] = "+OK\r\n"
                                   "-ERR no\r\n"
                                   "-ERR value is 20 bytes; max-value-bytes is 10\r\n"
                                   ":-42\r\n"
                                   ":-9223372036854775808\r\n"
                                   "$4\r\na\r\nb\r\n"
                                   "$0\r\n\r\n"
                                   "$3\r\nfoo\r\n"
                                   "_\r\n"
                                   "*2\r\n"
                                   "%3\r\n"
                                   "~4\r\n"
                                   "=7\r\ntxt:hi\n\r\n";
    rk_resp_out o;
    rk_resp_out_init(&o, 3);
    writer_sample(&o);
    assert_out_equal(&o, expected, sizeof(expected) - 1);
    rk_resp_out_deinit(&o);
}

static void test_writer_errors_are_single_lines(void **state)
{
    (void)state;
    static const char expected[] = "-ERR bad  thing \r\n"
                                   "-ERR x y is 5 \r\n"
                                   "+a b\r\n";
    rk_resp_out o;
    rk_resp_out_init(&o, 2);
    rk_resp_error(&o, "ERR bad\r\nthing\n");
    rk_resp_errorf(&o, "ERR %s is %d\r", "x\ny", 5);
    rk_resp_simple(&o, "a\nb");
    assert_out_equal(&o, expected, sizeof(expected) - 1);
    rk_resp_out_deinit(&o);
}

static void test_writer_grows_and_reset_keeps_memory(void **state)
{
    (void)state;
    enum { COUNT = 100000 };
    rk_resp_out o;
    rk_resp_out_init(&o, 2);
    for (int i = 0; i < COUNT; i++) {
        rk_resp_bulk(&o, "abcdef", 6);
    }
    assert_false(o.oom);
    assert_int_equal(o.len, (size_t)COUNT * 12);
    assert_true(o.capacity >= o.len);
    assert_true(o.capacity <= 2 * o.len);           /* geometric, not wildly over */
    assert_memory_equal(o.data + o.len - 12, "$6\r\nabcdef\r\n", 12);

    size_t capacity = o.capacity;
    rk_resp_out_reset(&o);
    assert_int_equal(o.len, 0);
    assert_int_equal(o.capacity, capacity);
    rk_resp_integer(&o, 7);
    assert_out_equal(&o, ":7\r\n", 4);
    rk_resp_out_deinit(&o);
}

static void test_writer_sets_oom_instead_of_crashing(void **state)
{
    (void)state;
    rk_resp_out o;
    rk_resp_out_init(&o, 3);
    rk_resp_simple(&o, "OK");
    rk_resp_bulk(&o, "x", SIZE_MAX - 8);            /* cannot be held: nothing is read */
    assert_true(o.oom);
    size_t len = o.len;
    rk_resp_simple(&o, "OK");                       /* later appends are dropped */
    rk_resp_verbatim(&o, "x", SIZE_MAX / 2 + 1);
    assert_int_equal(o.len, len);
    rk_resp_out_deinit(&o);
}

/* An array of bulks is also a request: what the writer writes, the parser reads back. */
static void test_writer_array_of_bulks_parses_back(void **state)
{
    (void)state;
    static const char *args[] = {"RK.PUT", "cart:alice", "", "v\r\n\0x"};
    static const size_t lens[] = {6, 10, 0, 6};
    for (int proto = 2; proto <= 3; proto++) {
        rk_resp_out o;
        rk_resp_out_init(&o, proto);
        rk_resp_array(&o, 4);
        for (int i = 0; i < 4; i++) {
            rk_resp_bulk(&o, args[i], lens[i]);
        }
        rk_resp_parser p;
        rk_resp_parser_init(&p, NULL);
        rk_resp_cmd cmd;
        size_t consumed = 0;
        assert_int_equal(rk_resp_parse(&p, o.data, o.len, &cmd, &consumed), 1);
        assert_int_equal(consumed, o.len);
        assert_int_equal(cmd.argc, 4);
        for (uint32_t i = 0; i < 4; i++) {
            assert_arg(&cmd, i, args[i], lens[i]);
        }
        rk_resp_parser_deinit(&p);
        rk_resp_out_deinit(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_single_multibulk_command),
        cmocka_unit_test(test_parse_binary_bulk_keeps_crlf_and_nul),
        cmocka_unit_test(test_parse_empty_bulk_argument),
        cmocka_unit_test(test_parse_pipelined_commands_in_one_buffer),
        cmocka_unit_test(test_parse_split_anywhere_gives_the_same_commands),
        cmocka_unit_test(test_parse_split_transcript_is_the_expected_one),
        cmocka_unit_test(test_parse_buffer_may_move_between_calls),
        cmocka_unit_test(test_parse_large_bulk_in_pieces_is_not_rescanned),
        cmocka_unit_test(test_parse_inline_splits_on_blanks),
        cmocka_unit_test(test_parse_inline_accepts_lf_alone),
        cmocka_unit_test(test_parse_inline_waits_for_newline),
        cmocka_unit_test(test_parse_inline_double_quotes_unescape),
        cmocka_unit_test(test_parse_inline_single_quotes_only_escape_quote),
        cmocka_unit_test(test_parse_inline_quote_inside_word_joins_it),
        cmocka_unit_test(test_parse_inline_unbalanced_quotes_are_refused),
        cmocka_unit_test(test_parse_inline_too_big_is_refused),
        cmocka_unit_test(test_parse_empty_lines_are_skipped),
        cmocka_unit_test(test_parse_zero_and_null_multibulk_are_skipped),
        cmocka_unit_test(test_parse_empty_requests_are_bounded),
        cmocka_unit_test(test_parse_multibulk_count_at_max_is_accepted),
        cmocka_unit_test(test_parse_multibulk_count_over_max_is_refused),
        cmocka_unit_test(test_parse_bulk_len_at_max_is_accepted),
        cmocka_unit_test(test_parse_bulk_len_over_max_is_refused),
        cmocka_unit_test(test_parse_big_announced_count_does_not_allocate_upfront),
        cmocka_unit_test(test_parse_big_argument_arrays_are_released),
        cmocka_unit_test(test_parse_invalid_multibulk_length_is_refused),
        cmocka_unit_test(test_parse_missing_dollar_is_refused),
        cmocka_unit_test(test_parse_invalid_bulk_length_is_refused),
        cmocka_unit_test(test_parse_bulk_without_crlf_is_refused),
        cmocka_unit_test(test_parse_error_is_final),
        cmocka_unit_test(test_parse_random_garbage_is_handled),
        cmocka_unit_test(test_writer_resp2_forms_are_exact),
        cmocka_unit_test(test_writer_resp3_forms_are_exact),
        cmocka_unit_test(test_writer_errors_are_single_lines),
        cmocka_unit_test(test_writer_grows_and_reset_keeps_memory),
        cmocka_unit_test(test_writer_sets_oom_instead_of_crashing),
        cmocka_unit_test(test_writer_array_of_bulks_parses_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
