/* reply.c — libringkv's reply side: the RESP2/RESP3 parser that reads one reply into a tree
 * of rkc_reply nodes on an explicit stack (no recursion), every size from the wire checked
 * against its limit first, and rkc_reply_free for that tree. Reading bytes off the socket
 * under the deadline is ringkv.c's; see ringkv.h for the contract. */
#include "ringkv_internal.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Every path through a reply tree holds at most RKC_DEPTH_MAX + 1 levels of nodes, each level
 * a value and the attribute sent before it; freeing walks such a path on a fixed stack. */
#define REPLY_PATH_NODES_MAX    (2u * (RKC_DEPTH_MAX + 1u))
/* A double or big number longer than this is not one Redis would send. */
#define REPLY_NUMBER_BYTES_MAX  512u

const char *reply_type_name(rkc_reply_type type)
{
    switch (type) {
    case RKC_REPLY_STATUS: return "status";
    case RKC_REPLY_ERROR: return "error";
    case RKC_REPLY_INTEGER: return "integer";
    case RKC_REPLY_STRING: return "string";
    case RKC_REPLY_NIL: return "nil";
    case RKC_REPLY_ARRAY: return "array";
    case RKC_REPLY_MAP: return "map";
    case RKC_REPLY_SET: return "set";
    case RKC_REPLY_VERBATIM: return "verbatim";
    case RKC_REPLY_DOUBLE: return "double";
    case RKC_REPLY_BOOL: return "boolean";
    case RKC_REPLY_BIGNUM: return "big number";
    case RKC_REPLY_PUSH: return "push";
    case RKC_REPLY_ATTRIBUTE: return "attribute";
    }
    return "unknown";
}

void rkc_reply_free(rkc_reply *reply)
{
    /* Depth-first on a fixed stack; child 0 of a node is its attribute, child i its element
     * i - 1. Elements may be NULL in a tree freed half-built by the parser. */
    struct {
        rkc_reply *node;
        size_t child_next;
    } path[REPLY_PATH_NODES_MAX];
    size_t path_count = 0;
    if (reply == NULL) {
        return;
    }
    path[path_count].node = reply;
    path[path_count].child_next = 0;
    path_count++;
    while (path_count > 0) {
        rkc_reply *node = path[path_count - 1].node;
        rkc_reply *child = NULL;
        while (child == NULL && path[path_count - 1].child_next <= node->elements_count) {
            size_t child_index = path[path_count - 1].child_next++;
            child = child_index == 0 ? node->attribute : node->elements[child_index - 1u];
        }
        if (child != NULL) {
            RKC_ASSERT(path_count < REPLY_PATH_NODES_MAX);   /* trees come only from the parser */
            path[path_count].node = child;
            path[path_count].child_next = 0;
            path_count++;
            continue;
        }
        free(node->str);
        free(node->elements);
        free(node);
        path_count--;
    }
}

/* Count `bytes` of the reply being parsed against reply_bytes_max. */
static int reply_account(rkc_conn *c, uint64_t bytes)
{
    uint64_t max = c->opts.reply_bytes_max;
    if (bytes > max || c->reply_bytes > max - bytes) {
        return conn_break(c, RKC_ETOOBIG, "reply needs more than reply_bytes_max %llu bytes",
                          (unsigned long long)max);
    }
    c->reply_bytes += bytes;
    return 0;
}

static int reply_new(rkc_conn *c, rkc_reply_type type, rkc_reply **node_out)
{
    int rc = reply_account(c, sizeof(rkc_reply));
    if (rc < 0) {
        return rc;
    }
    rkc_reply *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        return conn_break(c, RKC_ENOMEM, "no memory for a reply node");
    }
    node->type = type;
    *node_out = node;
    return 0;
}

/* Give `node` a NUL-terminated copy of `text`. */
static int reply_set_text(rkc_conn *c, rkc_reply *node, const char *text, size_t len)
{
    int rc = reply_account(c, (uint64_t)len + 1u);
    if (rc < 0) {
        return rc;
    }
    node->str = malloc(len + 1u);
    if (node->str == NULL) {
        return conn_break(c, RKC_ENOMEM, "no memory for a %zu-byte reply", len);
    }
    memcpy(node->str, text, len);
    node->str[len] = '\0';
    node->len = len;
    return 0;
}

/* Parse a whole line as a decimal int64 with an optional sign. */
static bool parse_int64(const char *text, size_t len, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        i = 1;
    }
    if (i == len) {
        return false;
    }
    uint64_t magnitude = 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (magnitude > (limit - digit) / 10u) {
            return false;
        }
        magnitude = magnitude * 10u + digit;
    }
    if (negative) {
        *out = magnitude == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)magnitude;
    } else {
        *out = (int64_t)magnitude;
    }
    return true;
}

static bool parse_bignum(const char *text, size_t len)
{
    size_t i = (len > 0 && (text[0] == '-' || text[0] == '+')) ? 1u : 0u;
    if (i == len) {
        return false;
    }
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Line of a ',' reply: "1.5", "-3", "1e10", "inf", "-inf", "nan". Needs node->str set. */
static bool parse_double(const rkc_reply *node, double *out)
{
    if (node->len == 0 || node->str[0] == ' ') {
        return false;
    }
    char *end = NULL;
    double value = strtod(node->str, &end);
    if (end != node->str + node->len) {
        return false;
    }
    *out = value;
    return true;
}

/* '$' bulk, '!' blob error, '=' verbatim: the length line was `body`; read the payload. */
static int reply_read_blob(rkc_conn *c, char type, const char *body, size_t body_len,
                           rkc_reply **node_out)
{
    int64_t len = 0;
    if (!parse_int64(body, body_len, &len) || len < -1 || (len == -1 && type != '$')) {
        return conn_break(c, RKC_EPROTO, "bad length in '%c' reply: \"%.*s\"", type,
                          (int)(body_len > 32u ? 32u : body_len), body);
    }
    rkc_reply_type reply_type = type == '$' ? RKC_REPLY_STRING
                                : type == '!' ? RKC_REPLY_ERROR : RKC_REPLY_VERBATIM;
    if (len == -1) {
        return reply_new(c, RKC_REPLY_NIL, node_out);   /* RESP2 null bulk string */
    }
    if ((uint64_t)len > c->opts.bulk_bytes_max) {
        return conn_break(c, RKC_ETOOBIG, "bulk of %lld bytes; bulk_bytes_max is %llu",
                          (long long)len, (unsigned long long)c->opts.bulk_bytes_max);
    }
    size_t size = (size_t)len;
    rkc_reply *node = NULL;
    int rc = reply_new(c, reply_type, &node);
    if (rc < 0) {
        return rc;
    }
    rc = reply_account(c, (uint64_t)size + 1u);
    if (rc < 0) {
        goto out_free_node;
    }
    node->str = malloc(size + 1u);
    if (node->str == NULL) {
        rc = conn_break(c, RKC_ENOMEM, "no memory for a bulk of %zu bytes", size);
        goto out_free_node;
    }
    rc = conn_read_exact(c, (uint8_t *)node->str, size);
    if (rc < 0) {
        goto out_free_node;
    }
    node->str[size] = '\0';
    node->len = size;
    uint8_t crlf[2];
    rc = conn_read_exact(c, crlf, sizeof(crlf));
    if (rc < 0) {
        goto out_free_node;
    }
    if (crlf[0] != '\r' || crlf[1] != '\n') {
        rc = conn_break(c, RKC_EPROTO, "'%c' reply of %zu bytes not followed by \\r\\n", type,
                        size);
        goto out_free_node;
    }
    if (type == '=') {
        /* "txt:" then the text; the format travels apart so str is what a user reads. */
        if (size < 4u || node->str[3] != ':') {
            rc = conn_break(c, RKC_EPROTO, "verbatim string without a \"xxx:\" format prefix");
            goto out_free_node;
        }
        memcpy(node->format, node->str, 3);
        node->format[3] = '\0';
        memmove(node->str, node->str + 4, size - 4u + 1u);
        node->len = size - 4u;
    }
    *node_out = node;
    return 0;

out_free_node:
    rkc_reply_free(node);
    return rc;
}

/* '*', '%', '~', '>', '|': allocate the element array; the caller fills it. */
static int reply_read_aggregate(rkc_conn *c, char type, const char *body, size_t body_len,
                                rkc_reply **node_out)
{
    int64_t count = 0;
    if (!parse_int64(body, body_len, &count) || count < -1 || (count == -1 && type != '*')) {
        return conn_break(c, RKC_EPROTO, "bad element count in '%c' reply: \"%.*s\"", type,
                          (int)(body_len > 32u ? 32u : body_len), body);
    }
    if (count == -1) {
        return reply_new(c, RKC_REPLY_NIL, node_out);   /* RESP2 null array */
    }
    bool pairs = type == '%' || type == '|';
    uint64_t max = pairs ? c->opts.elements_max / 2u : c->opts.elements_max;
    if ((uint64_t)count > max) {
        return conn_break(c, RKC_ETOOBIG, "'%c' reply of %lld %s; elements_max is %llu", type,
                          (long long)count, pairs ? "pairs" : "elements",
                          (unsigned long long)c->opts.elements_max);
    }
    size_t elements_count = (size_t)count * (pairs ? 2u : 1u);
    rkc_reply_type reply_type = type == '*' ? RKC_REPLY_ARRAY
                                : type == '%' ? RKC_REPLY_MAP
                                : type == '~' ? RKC_REPLY_SET
                                : type == '>' ? RKC_REPLY_PUSH : RKC_REPLY_ATTRIBUTE;
    rkc_reply *node = NULL;
    int rc = reply_new(c, reply_type, &node);
    if (rc < 0) {
        return rc;
    }
    if (elements_count > 0) {
        rc = reply_account(c, (uint64_t)elements_count * sizeof(rkc_reply *));
        if (rc < 0) {
            goto out_free_node;
        }
        node->elements = calloc(elements_count, sizeof(rkc_reply *));
        if (node->elements == NULL) {
            rc = conn_break(c, RKC_ENOMEM, "no memory for %zu elements", elements_count);
            goto out_free_node;
        }
    }
    node->elements_count = elements_count;
    *node_out = node;
    return 0;

out_free_node:
    rkc_reply_free(node);
    return rc;
}

/* A one-line reply: '+', '-', ':', '_', ',', '#', '('. */
static int reply_read_scalar(rkc_conn *c, char type, const char *body, size_t body_len,
                             rkc_reply **node_out)
{
    rkc_reply *node = NULL;
    int rc = 0;
    switch (type) {
    case '+':
    case '-':
        rc = reply_new(c, type == '+' ? RKC_REPLY_STATUS : RKC_REPLY_ERROR, &node);
        if (rc == 0) {
            rc = reply_set_text(c, node, body, body_len);
        }
        break;
    case ':':
        rc = reply_new(c, RKC_REPLY_INTEGER, &node);
        if (rc == 0 && !parse_int64(body, body_len, &node->integer)) {
            rc = conn_break(c, RKC_EPROTO, "bad integer reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        break;
    case '_':
        rc = reply_new(c, RKC_REPLY_NIL, &node);
        if (rc == 0 && body_len != 0) {
            rc = conn_break(c, RKC_EPROTO, "null reply with %zu bytes after '_'", body_len);
        }
        break;
    case '#':
        rc = reply_new(c, RKC_REPLY_BOOL, &node);
        if (rc == 0 && (body_len != 1u || (body[0] != 't' && body[0] != 'f'))) {
            rc = conn_break(c, RKC_EPROTO, "boolean reply is not #t or #f");
        } else if (rc == 0) {
            node->integer = body[0] == 't';
        }
        break;
    case ',':
    case '(':
        if (body_len > REPLY_NUMBER_BYTES_MAX) {
            return conn_break(c, RKC_ETOOBIG, "number reply of %zu bytes; the limit is %u",
                              body_len, REPLY_NUMBER_BYTES_MAX);
        }
        rc = reply_new(c, type == ',' ? RKC_REPLY_DOUBLE : RKC_REPLY_BIGNUM, &node);
        if (rc == 0) {
            rc = reply_set_text(c, node, body, body_len);
        }
        if (rc == 0 && type == ',' && !parse_double(node, &node->dbl)) {
            rc = conn_break(c, RKC_EPROTO, "bad double reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        if (rc == 0 && type == '(' && !parse_bignum(body, body_len)) {
            rc = conn_break(c, RKC_EPROTO, "bad big number reply: \"%.*s\"",
                            (int)(body_len > 32u ? 32u : body_len), body);
        }
        break;
    default:
        RKC_ASSERT(0 && "reply_read_scalar called for a type it does not parse");
    }
    if (rc < 0) {
        rkc_reply_free(node);
        return rc;
    }
    *node_out = node;
    return 0;
}

/* Read the next node: a whole scalar, or an aggregate with its elements still to come. */
static int reply_read_node(rkc_conn *c, rkc_reply **node_out)
{
    const char *line = NULL;
    size_t line_len = 0;
    int rc = conn_read_line(c, &line, &line_len);
    if (rc < 0) {
        return rc;
    }
    if (line_len == 0) {
        return conn_break(c, RKC_EPROTO, "empty reply line");
    }
    char type = line[0];
    switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return reply_read_scalar(c, type, line + 1, line_len - 1u, node_out);
    case '$': case '!': case '=':
        return reply_read_blob(c, type, line + 1, line_len - 1u, node_out);
    case '*': case '%': case '~': case '>': case '|':
        return reply_read_aggregate(c, type, line + 1, line_len - 1u, node_out);
    default:
        /* The byte's character helps spot a wrong port: 'H' is an HTTP server. */
        return conn_break(c, RKC_EPROTO,
                          "unknown reply type byte 0x%02x ('%c'); is this a RESP server?",
                          (unsigned)(unsigned char)type,
                          isprint((unsigned char)type) ? type : '?');
    }
}

static bool reply_is_aggregate(const rkc_reply *node)
{
    return node->type == RKC_REPLY_ARRAY || node->type == RKC_REPLY_MAP ||
           node->type == RKC_REPLY_SET || node->type == RKC_REPLY_PUSH ||
           node->type == RKC_REPLY_ATTRIBUTE;
}

/* The parser's explicit stack: the aggregates still being filled, outermost first, and at each
 * depth an attribute waiting for the value it describes. */
typedef struct reply_parse {
    struct {
        rkc_reply *aggregate;
        size_t filled;
    } open[RKC_DEPTH_MAX];
    uint32_t open_count;
    rkc_reply *attribute_pending[RKC_DEPTH_MAX + 1u];
    rkc_reply *root;
} reply_parse;

/* Hang `node` where it belongs: the root, the next slot of the innermost open aggregate, or
 * (an attribute) aside until the value it describes arrives. Takes `node` even on failure. */
static int reply_parse_place(rkc_conn *c, reply_parse *ps, rkc_reply *node)
{
    rkc_reply **pending = &ps->attribute_pending[ps->open_count];
    if (node->type == RKC_REPLY_ATTRIBUTE) {
        if (*pending != NULL) {
            rkc_reply_free(node);
            return conn_break(c, RKC_EPROTO, "two attributes with no value between them");
        }
        *pending = node;
        return 0;
    }
    node->attribute = *pending;
    *pending = NULL;
    if (ps->open_count == 0) {
        RKC_ASSERT(ps->root == NULL);
        ps->root = node;
        return 0;
    }
    rkc_reply *parent = ps->open[ps->open_count - 1u].aggregate;
    size_t *filled = &ps->open[ps->open_count - 1u].filled;
    RKC_ASSERT(*filled < parent->elements_count);
    parent->elements[(*filled)++] = node;
    return 0;
}

int reply_read(rkc_conn *c, rkc_reply **reply_out)
{
    reply_parse ps;
    memset(&ps, 0, sizeof(ps));
    c->reply_bytes = 0;
    int rc = 0;
    for (;;) {
        rkc_reply *node = NULL;
        rc = reply_read_node(c, &node);
        if (rc < 0) {
            goto out_free_tree;
        }
        rc = reply_parse_place(c, &ps, node);
        if (rc < 0) {
            goto out_free_tree;
        }
        if (reply_is_aggregate(node) && node->elements_count > 0) {
            if (ps.open_count == RKC_DEPTH_MAX) {
                rc = conn_break(c, RKC_ETOOBIG, "reply nests deeper than %u aggregates",
                                RKC_DEPTH_MAX);
                goto out_free_tree;
            }
            ps.open[ps.open_count].aggregate = node;
            ps.open[ps.open_count].filled = 0;
            ps.open_count++;
            continue;
        }
        while (ps.open_count > 0 &&
               ps.open[ps.open_count - 1u].filled ==
                   ps.open[ps.open_count - 1u].aggregate->elements_count) {
            /* A full aggregate ended with a value, which took any attribute inside it. */
            RKC_ASSERT(ps.attribute_pending[ps.open_count] == NULL);
            ps.open_count--;
        }
        if (ps.open_count == 0 && ps.root != NULL) {
            RKC_ASSERT(ps.attribute_pending[0] == NULL);
            *reply_out = ps.root;
            return 0;
        }
    }

out_free_tree:
    rkc_reply_free(ps.root);
    for (uint32_t i = 0; i <= RKC_DEPTH_MAX; i++) {
        rkc_reply_free(ps.attribute_pending[i]);
    }
    return rc;
}
