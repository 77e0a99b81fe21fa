/* resp.c — the RESP request parser (see resp.h); replies are resp_out.c's. The parser is a
 * small state machine over the caller's buffer. It keeps offsets, never pointers, so the
 * caller may move the buffer between calls, and it remembers how far it has looked, so no
 * byte is examined twice: header lines are scanned once, bulk data not at all.
 * The inline form and the error texts follow Redis's networking.c (processInlineBuffer,
 * processMultibulkBuffer) and sds.c (sdssplitargs). */
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RESP_STATE_START = 0,        /* before the first byte of a request */
    RESP_STATE_MULTIBULK_COUNT,  /* after '*', looking for the "\r\n" that ends the count */
    RESP_STATE_BULK_HEADER,      /* expecting '$' */
    RESP_STATE_BULK_LEN,         /* after '$', looking for the "\r\n" that ends the length */
    RESP_STATE_BULK_DATA,        /* waiting for bulk_len bytes and "\r\n" */
    RESP_STATE_INLINE,           /* looking for the '\n' that ends an inline line */
    RESP_STATE_ERROR,            /* final; error_code and error say why */
};

/* What one step of the state machine tells the loop in rk_resp_parse. */
enum {
    RESP_STEP_MORE = 0,          /* need more bytes */
    RESP_STEP_DONE = 1,          /* a command is complete */
    RESP_STEP_NEXT = 2,          /* state changed, keep going */
};

#define RESP_ARGS_INITIAL 8u     /* most commands have few arguments */

_Static_assert(RK_RESP_NUMBER_LINE_BYTES_MAX >= 20, "an int64 needs 20 characters");
_Static_assert(RK_RESP_ERROR_BYTES_MAX >= 96, "error texts name a value and a limit");
_Static_assert(RK_RESP_ARGS_KEEP_MAX >= RESP_ARGS_INITIAL, "kept arrays hold the initial size");

/* ---- parser: helpers ---------------------------------------------------------------------- */

static int resp_fail(rk_resp_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Enter the final error state. Returns `code` so callers can `return resp_fail(...)`. */
static int resp_fail(rk_resp_parser *p, int code, const char *fmt, ...)
{
    RK_ASSERT(code < 0);

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    p->state = RESP_STATE_ERROR;
    p->error_code = code;
    return code;
}

/* Parse a decimal int64 as Redis's string2ll does: an optional '-', then digits with no
 * leading zero (except "0" itself); no '+', no blanks, no overflow. */
static bool resp_parse_int64(const uint8_t *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20) {
        return false;
    }
    bool negative = false;
    size_t i = 0;
    if (s[0] == '-') {
        negative = true;
        i = 1;
        if (n == 1) {
            return false;
        }
    }
    if (s[i] == '0') {
        if (n == 1) {
            *out = 0;
            return true;
        }
        return false;            /* "01", "-0" */
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (limit - digit) / 10u) {
            return false;
        }
        v = v * 10u + digit;
    }
    if (negative) {
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return true;
}

/* Make room for one more argument. Arrays grow geometrically with the arguments that arrive,
 * never to the announced count: "*1000000\r\n" alone must not cost 24 MB. */
static int resp_args_reserve(rk_resp_parser *p)
{
    if (p->arg_count < p->arg_capacity) {
        return 0;
    }
    RK_ASSERT(p->arg_count == p->arg_capacity);
    if (p->arg_capacity > UINT32_MAX / 2u) {
        return resp_fail(p, RK_ETOOBIG, "Protocol error: too many arguments");
    }
    uint32_t capacity = p->arg_capacity == 0 ? RESP_ARGS_INITIAL : p->arg_capacity * 2u;

    size_t *off = realloc(p->arg_off, capacity * sizeof(*off));
    if (off == NULL) {
        return resp_fail(p, RK_ENOMEM, "out of memory reading the request");
    }
    p->arg_off = off;
    size_t *lens = realloc(p->arg_len, capacity * sizeof(*lens));
    if (lens == NULL) {
        return resp_fail(p, RK_ENOMEM, "out of memory reading the request");
    }
    p->arg_len = lens;
    const uint8_t **argv = realloc(p->argv, capacity * sizeof(*argv));
    if (argv == NULL) {
        return resp_fail(p, RK_ENOMEM, "out of memory reading the request");
    }
    p->argv = argv;
    p->arg_capacity = capacity;
    return 0;
}

static int resp_args_push(rk_resp_parser *p, size_t off, size_t len)
{
    int rc = resp_args_reserve(p);
    if (rc < 0) {
        return rc;
    }
    p->arg_off[p->arg_count] = off;
    p->arg_len[p->arg_count] = len;
    p->arg_count++;
    return 0;
}

static void resp_args_free(rk_resp_parser *p)
{
    free(p->arg_off);
    free(p->arg_len);
    free(p->argv);
    p->arg_off = NULL;
    p->arg_len = NULL;
    p->argv = NULL;
    p->arg_capacity = 0;
}

/* Forget the request just returned (or skipped) and expect the next one at `pos`. */
static void resp_request_reset(rk_resp_parser *p)
{
    p->state = RESP_STATE_START;
    p->request_start = p->pos;
    p->line_start = p->pos;
    p->multibulk_count = -1;
    p->bulk_len = -1;
    p->arg_count = 0;
}

/* An empty request is consumed without a command. Its bytes stay in the caller's buffer until
 * the next command completes (a 0 return consumes nothing), so they are bounded. */
static int resp_skip_empty(rk_resp_parser *p, size_t end)
{
    p->pos = end;
    resp_request_reset(p);
    if (p->pos > RK_RESP_EMPTY_BYTES_MAX) {
        return resp_fail(p, RK_ETOOBIG,
                         "Protocol error: %zu bytes of empty requests exceed the limit of %u",
                         p->pos, RK_RESP_EMPTY_BYTES_MAX);
    }
    return RESP_STEP_NEXT;
}

/* Look for the '\r' ending a header line that starts at line_start with '*' or '$'. Returns
 * RESP_STEP_NEXT with *number set once "\r\n" is there, RESP_STEP_MORE, or a negative code
 * (the caller words the error). Bytes already examined are not examined again. */
static int resp_scan_number(rk_resp_parser *p, const uint8_t *buf, size_t len, int64_t *number)
{
    size_t digits_start = p->line_start + 1;
    size_t scan_end = digits_start + RK_RESP_NUMBER_LINE_BYTES_MAX + 1; /* room for the '\r' */
    if (scan_end > len) {
        scan_end = len;
    }
    RK_ASSERT(p->pos >= digits_start);

    const uint8_t *cr = NULL;
    if (p->pos < scan_end) {
        cr = memchr(buf + p->pos, '\r', scan_end - p->pos);
    }
    if (cr == NULL) {
        if (scan_end - digits_start > RK_RESP_NUMBER_LINE_BYTES_MAX) {
            return RK_EINVAL;    /* no '\r' where a number could end */
        }
        p->pos = scan_end;
        return RESP_STEP_MORE;
    }
    size_t cr_off = (size_t)(cr - buf);
    if (cr_off + 1 >= len) {
        p->pos = cr_off;         /* look at this '\r' again once its '\n' may be there */
        return RESP_STEP_MORE;
    }
    if (buf[cr_off + 1] != '\n') {
        return RK_EINVAL;
    }
    if (!resp_parse_int64(buf + digits_start, cr_off - digits_start, number)) {
        return RK_EINVAL;
    }
    p->pos = cr_off + 2;
    return RESP_STEP_NEXT;
}

/* ---- parser: inline commands -------------------------------------------------------------- */

/* isspace() in the C locale, as sdssplitargs uses it between arguments. */
static bool resp_is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int rk_resp_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Read one double-quoted argument starting after its opening quote at *i; append its bytes to
 * out. Returns false on a missing closing quote or one followed by a non-blank. */
static bool resp_inline_double_quoted(const uint8_t *line, size_t n, size_t *i, uint8_t *out,
                                      size_t *out_len)
{
    size_t k = *i;
    while (k < n) {
        uint8_t c = line[k];
        if (c == '\\' && k + 3 < n && line[k + 1] == 'x' && rk_resp_hex_value(line[k + 2]) >= 0 &&
            rk_resp_hex_value(line[k + 3]) >= 0) {
            out[(*out_len)++] =
                (uint8_t)(rk_resp_hex_value(line[k + 2]) * 16 + rk_resp_hex_value(line[k + 3]));
            k += 4;
        } else if (c == '\\' && k + 1 < n) {
            uint8_t e = line[k + 1];
            switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;
            }
            out[(*out_len)++] = e;
            k += 2;
        } else if (c == '"') {
            if (k + 1 < n && !resp_is_blank(line[k + 1])) {
                return false;    /* "foo"bar */
            }
            *i = k + 1;
            return true;
        } else {
            out[(*out_len)++] = c;
            k++;
        }
    }
    return false;
}

/* Read one single-quoted argument: only \' is an escape. Same contract as above. */
static bool resp_inline_single_quoted(const uint8_t *line, size_t n, size_t *i, uint8_t *out,
                                      size_t *out_len)
{
    size_t k = *i;
    while (k < n) {
        uint8_t c = line[k];
        if (c == '\\' && k + 1 < n && line[k + 1] == '\'') {
            out[(*out_len)++] = '\'';
            k += 2;
        } else if (c == '\'') {
            if (k + 1 < n && !resp_is_blank(line[k + 1])) {
                return false;
            }
            *i = k + 1;
            return true;
        } else {
            out[(*out_len)++] = c;
            k++;
        }
    }
    return false;
}

/* Split an inline line into arguments with sdssplitargs's rules, unescaped into inline_args.
 * One difference: a NUL byte is an ordinary byte here, where Redis's C string ends at it. */
static int resp_inline_split(rk_resp_parser *p, const uint8_t *line, size_t n)
{
    if (n > p->inline_capacity) {
        /* Unescaping never lengthens, so the line's length is enough; it is at most
         * RK_RESP_INLINE_BYTES_MAX, so the scratch stays bounded. */
        RK_ASSERT(n <= RK_RESP_INLINE_BYTES_MAX);
        size_t capacity = p->inline_capacity == 0 ? 64u : p->inline_capacity;
        while (capacity < n) {
            capacity *= 2u;
        }
        uint8_t *grown = realloc(p->inline_args, capacity);
        if (grown == NULL) {
            return resp_fail(p, RK_ENOMEM, "out of memory reading the request");
        }
        p->inline_args = grown;
        p->inline_capacity = capacity;
    }

    size_t out_len = 0;
    size_t i = 0;
    while (i < n) {
        if (resp_is_blank(line[i])) {
            i++;
            continue;
        }
        size_t arg_start = out_len;
        bool arg_done = false;
        while (!arg_done && i < n) {
            uint8_t c = line[i];
            bool ok = true;
            if (c == '"') {
                i++;
                ok = resp_inline_double_quoted(line, n, &i, p->inline_args, &out_len);
                arg_done = true;
            } else if (c == '\'') {
                i++;
                ok = resp_inline_single_quoted(line, n, &i, p->inline_args, &out_len);
                arg_done = true;
            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                arg_done = true; /* inside an argument only these end it, as in Redis */
            } else {
                p->inline_args[out_len++] = c;
                i++;
            }
            if (!ok) {
                return resp_fail(p, RK_EINVAL, "Protocol error: unbalanced quotes in request");
            }
        }
        RK_ASSERT(out_len <= n);
        int rc = resp_args_push(p, arg_start, out_len - arg_start);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int resp_step_inline(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    /* A line may hold RK_RESP_INLINE_BYTES_MAX bytes before its '\n' (Redis refuses once that
     * many are buffered without one). Judging by the '\n''s offset, not by what has arrived,
     * gives the same answer however the bytes are split. */
    size_t scan_end = p->line_start + RK_RESP_INLINE_BYTES_MAX + 1;
    if (scan_end > len) {
        scan_end = len;
    }
    const uint8_t *nl = NULL;
    if (p->pos < scan_end) {
        nl = memchr(buf + p->pos, '\n', scan_end - p->pos);
    }
    if (nl == NULL) {
        if (scan_end - p->line_start > RK_RESP_INLINE_BYTES_MAX) {
            return resp_fail(p, RK_ETOOBIG, "Protocol error: too big inline request");
        }
        p->pos = scan_end;
        return RESP_STEP_MORE;
    }
    size_t nl_off = (size_t)(nl - buf);
    size_t line_end = nl_off;
    if (line_end > p->line_start && buf[line_end - 1] == '\r') {
        line_end--;
    }
    RK_ASSERT(p->arg_count == 0);
    int rc = resp_inline_split(p, buf + p->line_start, line_end - p->line_start);
    if (rc < 0) {
        return rc;
    }
    if (p->arg_count == 0) {
        return resp_skip_empty(p, nl_off + 1);
    }
    p->pos = nl_off + 1;
    return RESP_STEP_DONE;
}

/* ---- parser: multibulk -------------------------------------------------------------------- */

static int resp_step_start(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    if (p->pos == len) {
        return RESP_STEP_MORE;
    }
    RK_ASSERT(p->request_start == p->pos);
    p->line_start = p->pos;
    if (buf[p->pos] == '*') {
        p->pos++;
        p->state = RESP_STATE_MULTIBULK_COUNT;
    } else {
        p->state = RESP_STATE_INLINE;
    }
    return RESP_STEP_NEXT;
}

static int resp_step_multibulk_count(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    int64_t count = 0;
    int rc = resp_scan_number(p, buf, len, &count);
    if (rc == RESP_STEP_MORE) {
        return rc;
    }
    /* Redis skips any count <= 0; we take only the two a client may mean, 0 and -1 (null). */
    if (rc < 0 || count < -1) {
        return resp_fail(p, RK_EINVAL, "Protocol error: invalid multibulk length");
    }
    if (count <= 0) {
        return resp_skip_empty(p, p->pos);
    }
    if ((uint64_t)count > p->limits.multibulk_max) {
        return resp_fail(p, RK_ETOOBIG,
                         "Protocol error: multibulk length %lld exceeds max-multibulk %lu",
                         (long long)count, (unsigned long)p->limits.multibulk_max);
    }
    p->multibulk_count = count;
    p->line_start = p->pos;
    p->state = RESP_STATE_BULK_HEADER;
    return RESP_STEP_NEXT;
}

static int resp_step_bulk_header(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    RK_ASSERT(p->pos == p->line_start);
    if (p->pos == len) {
        return RESP_STEP_MORE;
    }
    uint8_t c = buf[p->pos];
    if (c != '$') {
        /* Redis prints the byte as it is; a control byte would break the error line. */
        if (c >= 0x20 && c < 0x7f) {
            return resp_fail(p, RK_EINVAL, "Protocol error: expected '$', got '%c'", c);
        }
        return resp_fail(p, RK_EINVAL, "Protocol error: expected '$', got '\\x%02x'", c);
    }
    p->pos++;
    p->state = RESP_STATE_BULK_LEN;
    return RESP_STEP_NEXT;
}

static int resp_step_bulk_len(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    int64_t bulk_len = 0;
    int rc = resp_scan_number(p, buf, len, &bulk_len);
    if (rc == RESP_STEP_MORE) {
        return rc;
    }
    if (rc < 0 || bulk_len < 0) {
        return resp_fail(p, RK_EINVAL, "Protocol error: invalid bulk length");
    }
    if ((uint64_t)bulk_len > p->limits.bulk_bytes_max) {
        return resp_fail(p, RK_ETOOBIG,
                         "Protocol error: bulk length %lld exceeds max-bulk-bytes %llu",
                         (long long)bulk_len, (unsigned long long)p->limits.bulk_bytes_max);
    }
    if ((uint64_t)bulk_len > SIZE_MAX - 2u) {
        return resp_fail(p, RK_ETOOBIG, "Protocol error: bulk length %lld does not fit memory",
                         (long long)bulk_len);
    }
    p->bulk_len = bulk_len;
    p->state = RESP_STATE_BULK_DATA;
    return RESP_STEP_NEXT;
}

static int resp_step_bulk_data(rk_resp_parser *p, const uint8_t *buf, size_t len)
{
    RK_ASSERT(p->bulk_len >= 0);
    size_t bulk_len = (size_t)p->bulk_len;
    /* Wait without looking at the data: a large bulk in many pieces costs O(1) a call. */
    if (len - p->pos < bulk_len || len - p->pos - bulk_len < 2) {
        return RESP_STEP_MORE;
    }
    size_t end = p->pos + bulk_len;
    if (buf[end] != '\r' || buf[end + 1] != '\n') {
        /* Redis skips the two bytes unchecked; a desynchronised client would then have its
         * data run as commands, so we refuse. */
        return resp_fail(p, RK_EINVAL, "Protocol error: bulk data not followed by CRLF");
    }
    int rc = resp_args_push(p, p->pos, bulk_len);
    if (rc < 0) {
        return rc;
    }
    p->pos = end + 2;
    p->bulk_len = -1;
    RK_ASSERT(p->arg_count <= p->multibulk_count);
    if (p->arg_count == (uint64_t)p->multibulk_count) {
        return RESP_STEP_DONE;
    }
    p->line_start = p->pos;
    p->state = RESP_STATE_BULK_HEADER;
    return RESP_STEP_NEXT;
}

/* ---- parser: entry points ----------------------------------------------------------------- */

void rk_resp_parser_init(rk_resp_parser *p, const rk_resp_limits *limits)
{
    RK_ASSERT(p != NULL);
    memset(p, 0, sizeof(*p));
    if (limits != NULL) {
        p->limits = *limits;
    } else {
        p->limits.multibulk_max = RK_RESP_MULTIBULK_DEFAULT;
        p->limits.bulk_bytes_max = RK_RESP_BULK_BYTES_DEFAULT;
    }
    RK_ASSERT(p->limits.multibulk_max > 0);
    resp_request_reset(p);
}

void rk_resp_parser_deinit(rk_resp_parser *p)
{
    RK_ASSERT(p != NULL);
    resp_args_free(p);
    free(p->inline_args);
    p->inline_args = NULL;
    p->inline_capacity = 0;
}

static void resp_command_fill(rk_resp_parser *p, const uint8_t *buf, rk_resp_cmd *cmd)
{
    bool is_inline = p->state == RESP_STATE_INLINE;
    const uint8_t *base = is_inline ? p->inline_args : buf;
    RK_ASSERT(p->arg_count > 0);
    RK_ASSERT(base != NULL);
    for (uint32_t i = 0; i < p->arg_count; i++) {
        p->argv[i] = base + p->arg_off[i];
    }
    cmd->argc = p->arg_count;
    cmd->argv = p->argv;
    cmd->argv_len = p->arg_len;
    cmd->is_inline = is_inline;
}

int rk_resp_parse(rk_resp_parser *p, const uint8_t *buf, size_t len, rk_resp_cmd *cmd,
                  size_t *consumed)
{
    RK_ASSERT(p != NULL);
    RK_ASSERT(cmd != NULL);
    RK_ASSERT(consumed != NULL);
    RK_ASSERT(buf != NULL || len == 0);

    *consumed = 0;
    if (p->state == RESP_STATE_ERROR) {
        return p->error_code;
    }
    RK_ASSERT(len >= p->pos);    /* the caller appends, never drops, within a request */
    if (p->pos == 0 && p->arg_capacity > RK_RESP_ARGS_KEEP_MAX) {
        RK_ASSERT(p->state == RESP_STATE_START);
        resp_args_free(p);
    }

    /* Every step either returns or moves pos forward or leaves START, so this ends within
     * two steps a byte; the bound only guards that reasoning. */
    size_t steps_max = 2u * (len - p->pos) + 4u;
    for (size_t step = 0; step < steps_max; step++) {
        int rc = RK_EINVAL;
        switch (p->state) {
        case RESP_STATE_START: rc = resp_step_start(p, buf, len); break;
        case RESP_STATE_MULTIBULK_COUNT: rc = resp_step_multibulk_count(p, buf, len); break;
        case RESP_STATE_BULK_HEADER: rc = resp_step_bulk_header(p, buf, len); break;
        case RESP_STATE_BULK_LEN: rc = resp_step_bulk_len(p, buf, len); break;
        case RESP_STATE_BULK_DATA: rc = resp_step_bulk_data(p, buf, len); break;
        case RESP_STATE_INLINE: rc = resp_step_inline(p, buf, len); break;
        default: RK_ASSERT(!"unknown parser state"); break;
        }
        if (rc < 0) {
            RK_ASSERT(p->state == RESP_STATE_ERROR);
            return rc;
        }
        RK_ASSERT(p->pos <= len);
        if (rc == RESP_STEP_MORE) {
            return 0;
        }
        if (rc == RESP_STEP_DONE) {
            resp_command_fill(p, buf, cmd);
            *consumed = p->pos;
            p->pos = 0;
            resp_request_reset(p);
            return 1;
        }
        RK_ASSERT(rc == RESP_STEP_NEXT);
    }
    RK_ASSERT(!"parser made no progress");
    return RK_EINVAL;
}
