/* ringkv.c — the command-line client: get, set, del and ping for scripts, and `raw` to send
 * any command and print its reply the way redis-cli does on a terminal. Built on libringkv
 * only (src/client/ringkv.h). Exit statuses are in usage_text below; they are the contract
 * scripts rely on. `ringkv dev-cluster` (a local cluster of ringkvd processes) is
 * dev_cluster.c's, `ringkv bench` (a load generator) bench.c's; the admin subcommands (status,
 * members, ring, preflist, bucket, top, repair, cluster) are admin.c's. */
#include "../src/client/ringkv.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "bench.h"
#include "dev_cluster.h"
#include "parse.h"

#define CLI_EXIT_OK          0
#define CLI_EXIT_SERVER      1    /* the server answered an error */
#define CLI_EXIT_USAGE       2    /* bad arguments, cannot connect, broken reply */
#define CLI_EXIT_NOT_FOUND   3    /* get: the key does not exist */
#define CLI_HOST_DEFAULT     "127.0.0.1"
#define CLI_PORT_DEFAULT     7001u
/* Nested aggregates printed at once: a reply holds at most RKC_DEPTH_MAX. */
#define CLI_PRINT_DEPTH_MAX  (RKC_DEPTH_MAX + 1u)

static const char usage_text[] =
    "usage: ringkv [--host H] [--port P] [--timeout-ms N] [--json] COMMAND [ARG...]\n"
    "       ringkv dev-cluster --nodes K --base-port P [--data-dir D] [--engine E]\n"
    "\n"
    "Commands:\n"
    "  get KEY          print the value's bytes and a newline; if the key does not exist,\n"
    "                   print nothing and exit 3\n"
    "  set KEY VALUE    store VALUE under KEY; prints OK\n"
    "  del KEY...       delete keys; prints how many existed\n"
    "  ping             prints PONG\n"
    "  raw CMD ARG...   send any command and print the reply as redis-cli does:\n"
    "                   \"quoted\" strings, (integer) 1, (nil), (error) ..., numbered arrays\n"
    "  dev-cluster ...  start K ringkvd processes on 127.0.0.1 as one cluster, in the\n"
    "                   foreground (ringkv dev-cluster --help)\n"
    "  bench ...        a load generator with redis-benchmark's flags that can send each\n"
    "                   request to a primary of its key (ringkv bench --help)\n"
    "\n";

/* After the admin subcommands' lines (admin.h, rk_admin_usage_text). */
static const char usage_text_tail[] =
    "\n"
    "Options:\n"
    "  --host H         server name or address (default " CLI_HOST_DEFAULT ")\n"
    "  --port P         server port (default 7001)\n"
    "  --timeout-ms N   connect timeout and reply timeout in milliseconds, 0 for none\n"
    "                   (default 5000); for repair also how long to follow it (default\n"
    "                   10 minutes)\n"
    "  --json           admin commands: one JSON document instead of a table\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status of get, set, del, ping and raw: 0 success (raw: any reply but an error);\n"
    "1 the server answered an error (its text on stderr; raw prints it as (error) on\n"
    "stdout); 2 bad usage, cannot connect, timeout or malformed reply (a message on\n"
    "stderr); 3 get found no such key.\n";

typedef struct cli_args {
    const char *host;
    uint16_t port;
    uint32_t timeout_ms;
    bool timeout_set;         /* --timeout-ms given (repair's limit; else its own default) */
    bool json;                /* --json: the admin commands print one JSON document */
    int command_index;        /* argv index of the command word */
} cli_args;

static int cli_usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "ringkv: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (ringkv --help for usage)\n");
    return CLI_EXIT_USAGE;
}

/* Options come before the command; "--opt value" and "--opt=value" both work. Returns -1 to
 * go on, or an exit status. */
static int cli_parse_args(int argc, char **argv, cli_args *args)
{
    args->host = CLI_HOST_DEFAULT;
    args->port = CLI_PORT_DEFAULT;
    args->timeout_ms = RKC_TIMEOUT_MS_DEFAULT;
    int i = 1;
    while (i < argc && strncmp(argv[i], "-", 1) == 0) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            fputs(usage_text, stdout);
            fputs(rk_admin_usage_text, stdout);
            fputs(usage_text_tail, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(opt, "--json") == 0) {
            args->json = true;
            i++;
            continue;
        }
        const char *value = NULL;
        const char *eq = strchr(opt, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[i + 1];
            i++;
        }
        i++;
        uint32_t number = 0;
        if (name_len == 6 && strncmp(opt, "--host", 6) == 0) {
            if (value == NULL || value[0] == '\0') {
                return cli_usage_error("%s needs a host name or address", "--host");
            }
            args->host = value;
        } else if (name_len == 6 && strncmp(opt, "--port", 6) == 0) {
            if (!rk_parse_u32_range(value, 1, UINT16_MAX, &number)) {
                return cli_usage_error("--port \"%s\": expected 1..65535",
                                       value != NULL ? value : "");
            }
            args->port = (uint16_t)number;
        } else if (name_len == 12 && strncmp(opt, "--timeout-ms", 12) == 0) {
            if (!rk_parse_u32_range(value, 0, INT32_MAX, &number)) {
                return cli_usage_error("--timeout-ms \"%s\": expected 0..2147483647",
                                       value != NULL ? value : "");
            }
            args->timeout_ms = number;
            args->timeout_set = true;
        } else {
            return cli_usage_error("unknown option %s", opt);
        }
    }
    if (i >= argc) {
        return cli_usage_error("%s", "no command given");
    }
    args->command_index = i;
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* printing replies as redis-cli does on a terminal (redis-cli.c, cliFormatReplyTTY) */

/* Line ends are owed rather than written, so that a map key's line can be continued with
 * " => " and its value, as redis-cli does by trimming the newline it had written. */
typedef struct cli_printer {
    FILE *out;
    bool newline_owed;
} cli_printer;

static void printer_begin(cli_printer *pr)
{
    if (pr->newline_owed) {
        fputc('\n', pr->out);
        pr->newline_owed = false;
    }
}

static void printer_spaces(cli_printer *pr, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        fputc(' ', pr->out);
    }
}

/* "quoted" with escapes, as redis's sdscatrepr. */
static void printer_quoted(cli_printer *pr, const char *str, size_t len)
{
    fputc('"', pr->out);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)str[i];
        switch (ch) {
        case '\\': fputs("\\\\", pr->out); break;
        case '"': fputs("\\\"", pr->out); break;
        case '\n': fputs("\\n", pr->out); break;
        case '\r': fputs("\\r", pr->out); break;
        case '\t': fputs("\\t", pr->out); break;
        case '\a': fputs("\\a", pr->out); break;
        case '\b': fputs("\\b", pr->out); break;
        default:
            if (isprint(ch)) {
                fputc(ch, pr->out);
            } else {
                fprintf(pr->out, "\\x%02x", ch);
            }
        }
    }
    fputc('"', pr->out);
}

static bool reply_is_aggregate(const rkc_reply *reply)
{
    return reply->type == RKC_REPLY_ARRAY || reply->type == RKC_REPLY_MAP ||
           reply->type == RKC_REPLY_SET || reply->type == RKC_REPLY_PUSH ||
           reply->type == RKC_REPLY_ATTRIBUTE;
}

/* One line for a scalar or an empty aggregate; its newline is owed. */
static void printer_line(cli_printer *pr, const rkc_reply *reply)
{
    FILE *out = pr->out;
    switch (reply->type) {
    case RKC_REPLY_ERROR:
        fputs("(error) ", out);
        fwrite(reply->str, 1, reply->len, out);
        break;
    case RKC_REPLY_STATUS:
    case RKC_REPLY_VERBATIM:
        fwrite(reply->str, 1, reply->len, out);
        break;
    case RKC_REPLY_INTEGER:
        fprintf(out, "(integer) %lld", (long long)reply->integer);
        break;
    case RKC_REPLY_DOUBLE:
        fprintf(out, "(double) %s", reply->str);
        break;
    case RKC_REPLY_BIGNUM:
        fprintf(out, "(big number) %s", reply->str);
        break;
    case RKC_REPLY_BOOL:
        fputs(reply->integer ? "(true)" : "(false)", out);
        break;
    case RKC_REPLY_STRING:
        printer_quoted(pr, reply->str, reply->len);
        break;
    case RKC_REPLY_NIL:
        fputs("(nil)", out);
        break;
    case RKC_REPLY_MAP:
    case RKC_REPLY_ATTRIBUTE:
        fputs("(empty hash)", out);
        break;
    case RKC_REPLY_SET:
        fputs("(empty set)", out);
        break;
    case RKC_REPLY_ARRAY:
    case RKC_REPLY_PUSH:
        fputs("(empty array)", out);
        break;
    }
    pr->newline_owed = true;
}

typedef struct print_frame {
    const rkc_reply *aggregate;
    size_t next;              /* element to print next */
    size_t prefix_len;        /* spaces before the index on every line but the first */
    unsigned index_width;     /* digits of the largest index */
} print_frame;

static void printer_reply(cli_printer *pr, const rkc_reply *reply)
{
    print_frame stack[CLI_PRINT_DEPTH_MAX];
    size_t depth = 0;
    const rkc_reply *start = reply;       /* a value to print, from the current position */
    size_t start_prefix_len = 0;
    for (;;) {
        if (start != NULL) {
            if (!reply_is_aggregate(start) || start->elements_count == 0) {
                printer_line(pr, start);
            } else if (depth < CLI_PRINT_DEPTH_MAX) {
                size_t shown = start->type == RKC_REPLY_MAP ? start->elements_count / 2u
                                                            : start->elements_count;
                unsigned width = 0;
                do {
                    width++;
                    shown /= 10u;
                } while (shown > 0);
                stack[depth].aggregate = start;
                stack[depth].next = 0;
                stack[depth].prefix_len = start_prefix_len;
                stack[depth].index_width = width;
                depth++;
            } else {
                fputs("(nested too deep)", pr->out);    /* the parser's limit prevents it */
                pr->newline_owed = true;
            }
            start = NULL;
        }
        if (depth == 0) {
            break;
        }
        print_frame *f = &stack[depth - 1u];
        const rkc_reply *agg = f->aggregate;
        if (f->next == agg->elements_count) {
            depth--;
            continue;
        }
        size_t child_prefix_len = f->prefix_len + f->index_width + 2u;
        bool is_map = agg->type == RKC_REPLY_MAP;
        if (is_map && f->next % 2u == 1u) {
            pr->newline_owed = false;         /* the key's line goes on with its value */
            fputs(" => ", pr->out);
        } else {
            char separator = is_map ? '#' : agg->type == RKC_REPLY_SET ? '~' : ')';
            size_t index = (is_map ? f->next / 2u : f->next) + 1u;
            printer_begin(pr);
            /* The first element continues the line its parent's index began. */
            printer_spaces(pr, f->next == 0 ? 0 : f->prefix_len);
            fprintf(pr->out, "%*zu%c ", (int)f->index_width, index, separator);
        }
        start = agg->elements[f->next];
        start_prefix_len = child_prefix_len;
        f->next++;
    }
    printer_begin(pr);
}

/* ---------------------------------------------------------------------------------------- */
/* commands */

/* Report a library failure. Returns the exit status for it. */
static int cli_fail(rkc_conn *conn, const char *command, int rc)
{
    if (rc == RKC_ESERVER) {
        fprintf(stderr, "ringkv: %s: %s\n", command, rkc_errstr(conn));
        return CLI_EXIT_SERVER;
    }
    fprintf(stderr, "ringkv: %s: %s: %s\n", command, rkc_strerror(rc), rkc_errstr(conn));
    return CLI_EXIT_USAGE;
}

/* Commands whose text reply redis-cli prints as it is rather than quoted, because it is
 * meant for people: INFO and the like (redis-cli.c, cliSendCommand's output_raw). */
static bool cli_reply_is_text(int argc, char **argv)
{
    static const char *const single[] = {"info", "lolwut"};
    static const char *const with_sub[][2] = {
        {"memory", "doctor"}, {"memory", "malloc-stats"}, {"cluster", "nodes"},
        {"cluster", "info"}, {"client", "list"}, {"client", "info"},
        {"latency", "doctor"}, {"latency", "graph"},
    };
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if (strcasecmp(argv[0], single[i]) == 0) {
            return true;
        }
    }
    for (size_t i = 0; argc >= 2 && i < sizeof(with_sub) / sizeof(with_sub[0]); i++) {
        if (strcasecmp(argv[0], with_sub[i][0]) == 0 && strcasecmp(argv[1], with_sub[i][1]) == 0) {
            return true;
        }
    }
    return false;
}

static int cli_raw(rkc_conn *conn, int argc, char **argv)
{
    rkc_reply *reply = NULL;
    int rc = rkc_command(conn, (size_t)argc, (const char *const *)argv, NULL, &reply);
    if (rc < 0) {
        return cli_fail(conn, argv[0], rc);
    }
    bool is_text = reply->type == RKC_REPLY_STRING || reply->type == RKC_REPLY_VERBATIM;
    if (is_text && cli_reply_is_text(argc, argv)) {
        fwrite(reply->str, 1, reply->len, stdout);
        if (reply->len == 0 || reply->str[reply->len - 1u] != '\n') {
            fputc('\n', stdout);
        }
    } else {
        cli_printer pr = {.out = stdout, .newline_owed = false};
        printer_reply(&pr, reply);
    }
    int status = reply->type == RKC_REPLY_ERROR ? CLI_EXIT_SERVER : CLI_EXIT_OK;
    rkc_reply_free(reply);
    return status;
}

static int cli_get(rkc_conn *conn, const char *key)
{
    char *value = NULL;
    size_t value_len = 0;
    int rc = rkc_get(conn, key, strlen(key), &value, &value_len);
    if (rc < 0) {
        return cli_fail(conn, "get", rc);
    }
    if (rc == 0) {
        return CLI_EXIT_NOT_FOUND;
    }
    fwrite(value, 1, value_len, stdout);
    fputc('\n', stdout);
    free(value);
    return CLI_EXIT_OK;
}

static int cli_del(rkc_conn *conn, int keys_count, char **keys)
{
    size_t *keys_len = malloc((size_t)keys_count * sizeof(*keys_len));
    if (keys_len == NULL) {
        fprintf(stderr, "ringkv: del: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < keys_count; i++) {
        keys_len[i] = strlen(keys[i]);
    }
    int rc = rkc_del(conn, (size_t)keys_count, (const void *const *)keys, keys_len);
    free(keys_len);
    if (rc < 0) {
        return cli_fail(conn, "del", rc);
    }
    printf("%d\n", rc);
    return CLI_EXIT_OK;
}

/* Check the argument count of a command word before connecting. */
static int cli_check_command(const char *command, int args_count)
{
    if (strcmp(command, "get") == 0 && args_count != 1) {
        return cli_usage_error("%s takes exactly one KEY", "get");
    }
    if (strcmp(command, "set") == 0 && args_count != 2) {
        return cli_usage_error("%s takes KEY VALUE", "set");
    }
    if (strcmp(command, "del") == 0 && args_count < 1) {
        return cli_usage_error("%s takes at least one KEY", "del");
    }
    if (strcmp(command, "ping") == 0 && args_count != 0) {
        return cli_usage_error("%s takes no arguments", "ping");
    }
    if (strcmp(command, "raw") == 0 && args_count < 1) {
        return cli_usage_error("%s needs a command to send", "raw");
    }
    if (strcmp(command, "get") != 0 && strcmp(command, "set") != 0 &&
        strcmp(command, "del") != 0 && strcmp(command, "ping") != 0 &&
        strcmp(command, "raw") != 0) {
        return cli_usage_error("unknown command \"%s\"", command);
    }
    return -1;
}

static int cli_run(rkc_conn *conn, const char *command, int args_count, char **args)
{
    if (strcmp(command, "get") == 0) {
        return cli_get(conn, args[0]);
    }
    if (strcmp(command, "set") == 0) {
        int rc = rkc_set(conn, args[0], strlen(args[0]), args[1], strlen(args[1]));
        if (rc < 0) {
            return cli_fail(conn, "set", rc);
        }
        puts("OK");
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "del") == 0) {
        return cli_del(conn, args_count, args);
    }
    if (strcmp(command, "ping") == 0) {
        int rc = rkc_ping(conn);
        if (rc < 0) {
            return cli_fail(conn, "ping", rc);
        }
        puts("PONG");
        return CLI_EXIT_OK;
    }
    return cli_raw(conn, args_count, args);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "dev-cluster") == 0) {
        return rk_dev_cluster_main(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "bench") == 0) {
        return rk_bench_main(argc - 1, argv + 1);
    }
    cli_args args;
    memset(&args, 0, sizeof(args));
    int status = cli_parse_args(argc, argv, &args);
    if (status >= 0) {
        return status;
    }
    const char *command = argv[args.command_index];
    int args_count = argc - args.command_index - 1;
    char **command_args = argv + args.command_index + 1;
    if (rk_admin_is_command(command)) {
        rk_admin_target target = {
            .host = args.host, .port = args.port, .timeout_ms = args.timeout_ms,
            .timeout_set = args.timeout_set, .json = args.json};
        status = rk_admin_main(&target, args_count + 1, argv + args.command_index);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "ringkv: writing to stdout: %s\n", strerror(errno));
            return CLI_EXIT_USAGE;
        }
        return status;
    }
    if (args.json) {
        return cli_usage_error("--json is for the admin commands, not \"%s\"", command);
    }
    status = cli_check_command(command, args_count);
    if (status >= 0) {
        return status;
    }

    rkc_options opts;
    rkc_options_init(&opts);
    opts.connect_timeout_ms = args.timeout_ms;
    opts.timeout_ms = args.timeout_ms;
    rkc_conn *conn = rkc_conn_new(&opts);
    if (conn == NULL) {
        fprintf(stderr, "ringkv: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    int rc = rkc_connect(conn, args.host, args.port);
    if (rc < 0) {
        fprintf(stderr, "ringkv: cannot connect to %s:%u: %s\n", args.host, (unsigned)args.port,
                rkc_errstr(conn));
        rkc_conn_free(conn);
        return CLI_EXIT_USAGE;
    }
    status = cli_run(conn, command, args_count, command_args);
    rkc_conn_free(conn);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ringkv: writing to stdout: %s\n", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return status;
}
