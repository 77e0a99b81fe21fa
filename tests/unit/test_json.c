/* test_json.c — the CLI's JSON writer (tools/json.c): each document is written to a memory
 * stream and compared byte for byte. Covers commas and colons at every nesting level, empty
 * containers, every escape a string needs (quote, backslash, each control character), UTF-8
 * kept when valid and each kind of invalid byte (stray continuation, overlong form,
 * surrogate, above U+10FFFF, cut-short sequence) replaced by U+FFFD, and numbers at their
 * limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/json.h"

/* The text rk_json_write_string gives for `len` bytes of `str`, owned by the caller. */
static char *json_string_text(const char *str, size_t len)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    assert_non_null(out);
    rk_json_write_string(out, str, len);
    fclose(out);
    return text;
}

static void assert_string_json(const char *str, size_t len, const char *expected)
{
    char *text = json_string_text(str, len);
    assert_string_equal(text, expected);
    free(text);
}

/* A document written to memory: open, write through d->j, then json_doc_expect. */
typedef struct json_doc {
    char *text;
    size_t text_len;
    FILE *out;
    rk_json j;
} json_doc;

static void json_doc_open(json_doc *d)
{
    memset(d, 0, sizeof(*d));
    d->out = open_memstream(&d->text, &d->text_len);
    assert_non_null(d->out);
    rk_json_init(&d->j, d->out);
}

/* Finish the document and check it is `expected` byte for byte. */
static void json_doc_expect(json_doc *d, const char *expected)
{
    rk_json_finish(&d->j);
    fclose(d->out);
    assert_string_equal(d->text, expected);
    free(d->text);
}

static void test_document_places_commas_and_colons(void **state)
{
    (void)state;
    json_doc d;
    json_doc_open(&d);
    rk_json *j = &d.j;
    rk_json_object_begin(j);
    rk_json_key(j, "members");
    rk_json_array_begin(j);
    rk_json_object_begin(j);
    rk_json_key(j, "id");
    rk_json_int(j, 1);
    rk_json_key(j, "up");
    rk_json_bool(j, true);
    rk_json_object_end(j);
    rk_json_object_begin(j);
    rk_json_object_end(j);
    rk_json_array_end(j);
    rk_json_key(j, "empty");
    rk_json_array_begin(j);
    rk_json_array_end(j);
    rk_json_key(j, "none");
    rk_json_null(j);
    rk_json_key(j, "name");
    rk_json_string(j, "n1");
    rk_json_object_end(j);
    json_doc_expect(&d, "{\"members\":[{\"id\":1,\"up\":true},{}],\"empty\":[],"
                              "\"none\":null,\"name\":\"n1\"}\n");
}

static void test_string_escapes_quote_backslash_and_controls(void **state)
{
    (void)state;
    assert_string_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    assert_string_json("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    assert_string_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    assert_string_json("a\0b", 3, "\"a\\u0000b\"");     /* binary-safe: the NUL is kept */
    assert_string_json("", 0, "\"\"");
}

static void test_string_keeps_valid_utf8(void **state)
{
    (void)state;
    assert_string_json("\xc3\xa9", 2, "\"\xc3\xa9\"");                 /* U+00E9 */
    assert_string_json("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");         /* U+20AC */
    assert_string_json("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""); /* U+1F600 */
    assert_string_json("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF, the last */
}

static void test_string_replaces_invalid_utf8(void **state)
{
    (void)state;
    assert_string_json("\x80", 1, "\"\\ufffd\"");                 /* stray continuation */
    assert_string_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");      /* overlong '/' */
    assert_string_json("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
    assert_string_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate D800 */
    assert_string_json("\xf4\x90\x80\x80", 4,
                       "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");       /* U+110000, past the end */
    assert_string_json("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");      /* cut short at the end */
    assert_string_json("\xc3x", 2, "\"\\ufffdx\"");               /* cut short by ASCII */
    assert_string_json("\xff", 1, "\"\\ufffd\"");
}

static void test_numbers_at_their_limits(void **state)
{
    (void)state;
    json_doc d;
    json_doc_open(&d);
    rk_json *j = &d.j;
    rk_json_array_begin(j);
    rk_json_int(j, INT64_MIN);
    rk_json_int(j, INT64_MAX);
    rk_json_double(j, 12.5);
    rk_json_double(j, NAN);        /* JSON has no NaN */
    rk_json_double(j, INFINITY);
    rk_json_array_end(j);
    json_doc_expect(&d, "[-9223372036854775808,9223372036854775807,12.5,null,null]\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_places_commas_and_colons),
        cmocka_unit_test(test_string_escapes_quote_backslash_and_controls),
        cmocka_unit_test(test_string_keeps_valid_utf8),
        cmocka_unit_test(test_string_replaces_invalid_utf8),
        cmocka_unit_test(test_numbers_at_their_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
