/* bench.c — `ringkv bench`'s command line and report (bench.h). The flags are
 * redis-benchmark's (-h -p -c -n -r -d -P -t --csv), so the two tools run the same load and
 * their numbers compare; --routing on sends each request to a primary of its key, the
 * client-driven coordination of Dynamo 6.4, and --routing off everything to the given node. The
 * report is redis-benchmark's summary (requests, seconds, requests per second, latency avg,
 * min, p50, p95, p99, p99.9 and max in ms), or one CSV line per test with --csv. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

#define BENCH_EXIT_OK     0
#define BENCH_EXIT_ERRORS 1   /* some requests were answered with an error */
#define BENCH_EXIT_USAGE  2   /* bad usage, cannot connect, a reply that never came */
#define BENCH_TESTS_MAX   8u

static const char bench_usage_text[] =
    "usage: ringkv bench [-h HOST] [-p PORT] [-c CLIENTS] [-n REQUESTS] [-r KEYSPACE]\n"
    "                    [-d DATA_BYTES] [-P PIPELINE] [-t set,get] [--routing on|off]\n"
    "                    [--csv] [--sequential] [--key-prefix P] [--timeout-ms N]\n"
    "                    [--seed N]\n"
    "\n"
    "A load generator with redis-benchmark's flags, on libringkv.\n"
    "  -h HOST            node to connect to (default 127.0.0.1)\n"
    "  -p PORT            its port (default 7001)\n"
    "  -c CLIENTS         parallel clients (default 50)\n"
    "  -n REQUESTS        requests per test (default 100000)\n"
    "  -r KEYSPACE        random keys key:000000000000 .. KEYSPACE-1 (default: one key)\n"
    "  -d DATA_BYTES      SET value size (default 3)\n"
    "  -P PIPELINE        requests each client keeps in flight (default 1)\n"
    "  -t TESTS           comma-separated, in order: set, get (default set,get)\n"
    "  --routing on|off   on: read the ring from the node (RK.RING ROUTE, RK.MEMBERS), give\n"
    "                     each client a connection per member and send each request to the\n"
    "                     first primary of its key (a member that refuses connections is\n"
    "                     left out: its keys go to their next primary); off: everything to\n"
    "                     HOST:PORT (default)\n"
    "  --csv              one line per test: \"test\",\"rps\",\"avg_latency_ms\",...\n"
    "  --sequential       key numbers 0, 1, 2, ... (mod KEYSPACE) instead of random\n"
    "  --key-prefix P     keys are P%012u (default key:)\n"
    "  --timeout-ms N     connect timeout and the longest wait for a reply (default 5000)\n"
    "  --seed N           of the random key numbers (default 1)\n"
    "  --help             this text\n"
    "\n"
    "Exit status: 0 every request answered without error; 1 some answered with errors\n"
    "(counted in the report); 2 bad usage, cannot connect or a reply that never came (one\n"
    "line on stderr). GETs answered nil are counted as misses, not errors.\n";

typedef struct bench_args {
    bench_config cfg;
    bench_test tests[BENCH_TESTS_MAX];
    uint32_t test_count;
    bool csv;
} bench_args;

static int bench_usage_error(const char *what, const char *value)
{
    fprintf(stderr, "ringkv bench: %s \"%s\" (ringkv bench --help for usage)\n", what, value);
    return BENCH_EXIT_USAGE;
}

static int bench_parse_tests(bench_args *a, const char *text)
{
    char list[128];
    if (strlen(text) >= sizeof(list)) {
        return bench_usage_error("-t: too long", text);
    }
    snprintf(list, sizeof(list), "%s", text);
    a->test_count = 0;
    for (char *save = NULL, *word = strtok_r(list, ",", &save); word != NULL;
         word = strtok_r(NULL, ",", &save)) {
        if (a->test_count == BENCH_TESTS_MAX) {
            return bench_usage_error("-t: too many tests", text);
        }
        if (strcasecmp(word, "set") == 0) {
            a->tests[a->test_count++] = BENCH_TEST_SET;
        } else if (strcasecmp(word, "get") == 0) {
            a->tests[a->test_count++] = BENCH_TEST_GET;
        } else {
            return bench_usage_error("-t: tests are set and get, not", word);
        }
    }
    return a->test_count == 0 ? bench_usage_error("-t: no test in", text) : -1;
}

/* A numeric flag's value into *out within [min, max]; -1 to go on, or an exit status. */
static int bench_number(const char *flag, const char *value, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    if (!rk_parse_u64_range(value, min, max, out)) {
        char what[64];
        snprintf(what, sizeof(what), "%s: expected %llu..%llu, got", flag,
                 (unsigned long long)min, (unsigned long long)max);
        return bench_usage_error(what, value != NULL ? value : "");
    }
    return -1;
}

/* One flag and its value (argv[i + 1]); returns -1 to go on or an exit status. */
static int bench_parse_flag(bench_args *a, const char *flag, const char *value)
{
    bench_config *c = &a->cfg;
    uint64_t v = 0;
    int status = -1;
    if (strcmp(flag, "-h") == 0) {
        c->host = value;
    } else if (strcmp(flag, "-p") == 0) {
        status = bench_number(flag, value, 1, UINT16_MAX, &v);
        c->port = (uint16_t)v;
    } else if (strcmp(flag, "-c") == 0) {
        status = bench_number(flag, value, 1, BENCH_CLIENTS_MAX, &v);
        c->clients = (uint32_t)v;
    } else if (strcmp(flag, "-n") == 0) {
        status = bench_number(flag, value, 1, BENCH_REQUESTS_MAX, &c->requests);
    } else if (strcmp(flag, "-r") == 0) {
        status = bench_number(flag, value, 1, UINT64_MAX / 2, &c->keyspace);
    } else if (strcmp(flag, "-d") == 0) {
        status = bench_number(flag, value, 0, BENCH_DATA_BYTES_MAX, &v);
        c->data_bytes = (uint32_t)v;
    } else if (strcmp(flag, "-P") == 0) {
        status = bench_number(flag, value, 1, BENCH_PIPELINE_MAX, &v);
        c->pipeline = (uint32_t)v;
    } else if (strcmp(flag, "-t") == 0) {
        status = bench_parse_tests(a, value);
    } else if (strcmp(flag, "--routing") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            return bench_usage_error("--routing: expected on or off, got", value);
        }
        c->routing = strcmp(value, "on") == 0;
    } else if (strcmp(flag, "--key-prefix") == 0) {
        if (strlen(value) > BENCH_KEY_BYTES_MAX - 12u) {
            return bench_usage_error("--key-prefix: too long", value);
        }
        c->key_prefix = value;
    } else if (strcmp(flag, "--timeout-ms") == 0) {
        status = bench_number(flag, value, 1, 3600000u, &v);
        c->timeout_ms = (uint32_t)v;
    } else if (strcmp(flag, "--seed") == 0) {
        status = bench_number(flag, value, 0, UINT64_MAX, &c->seed);
    } else {
        return bench_usage_error("unknown flag", flag);
    }
    return status;
}

static int bench_parse_args(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof(*a));
    a->cfg = (bench_config){.host = "127.0.0.1", .port = 7001, .clients = 50,
                            .requests = 100000, .data_bytes = 3, .pipeline = 1,
                            .key_prefix = "key:", .timeout_ms = 5000, .seed = 1};
    a->tests[0] = BENCH_TEST_SET;
    a->tests[1] = BENCH_TEST_GET;
    a->test_count = 2;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0) {
            fputs(bench_usage_text, stdout);
            return BENCH_EXIT_OK;
        }
        if (strcmp(flag, "--csv") == 0) {
            a->csv = true;
            continue;
        }
        if (strcmp(flag, "--sequential") == 0) {
            a->cfg.sequential = true;
            continue;
        }
        if (i + 1 >= argc) {
            return bench_usage_error("missing the value of", flag);
        }
        int status = bench_parse_flag(a, flag, argv[++i]);
        if (status >= 0) {
            return status;
        }
    }
    return -1;
}

/* The latency at quantile q (0..1) of sorted latencies, in ms. */
static double bench_quantile_ms(const bench_result *r, double q)
{
    if (r->done == 0) {
        return 0.0;
    }
    uint64_t rank = (uint64_t)(q * (double)r->done);
    if (rank >= r->done) {
        rank = r->done - 1;
    }
    return r->latency_us[rank] / 1000.0;
}

static double bench_avg_ms(const bench_result *r)
{
    double sum_us = 0.0;
    for (uint64_t i = 0; i < r->done; i++) {
        sum_us += r->latency_us[i];
    }
    return r->done > 0 ? sum_us / (double)r->done / 1000.0 : 0.0;
}

static void bench_report(const bench_args *a, const char *name, const bench_result *r)
{
    double rps = r->seconds > 0 ? (double)r->done / r->seconds : 0.0;
    double avg = bench_avg_ms(r);
    double min = bench_quantile_ms(r, 0.0);
    double max = r->done > 0 ? r->latency_us[r->done - 1] / 1000.0 : 0.0;
    double p50 = bench_quantile_ms(r, 0.50);
    double p95 = bench_quantile_ms(r, 0.95);
    double p99 = bench_quantile_ms(r, 0.99);
    double p999 = bench_quantile_ms(r, 0.999);
    if (a->csv) {
        printf("\"%s\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n",
               name, rps, avg, min, p50, p95, p99, p999, max);
    } else {
        const bench_config *c = &a->cfg;
        printf("====== %s ======\n", name);
        printf("  %llu requests completed in %.2f seconds\n", (unsigned long long)r->done,
               r->seconds);
        printf("  %u parallel clients, pipeline %u, %u bytes payload, routing %s\n", c->clients,
               c->pipeline, c->data_bytes, c->routing ? "on" : "off");
        printf("  errors: %llu, misses (nil): %llu\n", (unsigned long long)r->errors,
               (unsigned long long)r->misses);
        if (r->members_unreachable > 0) {
            printf("  members unreachable, left out: %u\n", r->members_unreachable);
        }
        printf("  throughput summary: %.2f requests per second\n", rps);
        printf("  latency summary (msec):\n");
        printf("  %9s %9s %9s %9s %9s %9s %9s\n", "avg", "min", "p50", "p95", "p99", "p99.9",
               "max");
        printf("  %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n\n", avg, min, p50, p95, p99, p999,
               max);
    }
    if (r->errors > 0) {
        fprintf(stderr, "ringkv bench: %s: %llu error replies; first: %s\n", name,
                (unsigned long long)r->errors, r->first_error);
    }
}

/* With routing on, a router that read the ring from the given node. */
static int bench_router_open(const bench_config *c, rkc_router **router_out)
{
    *router_out = NULL;
    if (!c->routing) {
        return 0;
    }
    rkc_options opts;
    bench_options_init(c, &opts);
    rkc_router *router = rkc_router_new(&opts);
    if (router == NULL) {
        fprintf(stderr, "ringkv bench: out of memory\n");
        return BENCH_EXIT_USAGE;
    }
    if (rkc_router_connect(router, c->host, c->port) != 0) {
        fprintf(stderr, "ringkv bench: reading the ring from %s:%u: %s\n", c->host, c->port,
                rkc_router_errstr(router));
        rkc_router_free(router);
        return BENCH_EXIT_USAGE;
    }
    *router_out = router;
    return 0;
}

int rk_bench_main(int argc, char **argv)
{
    bench_args a;
    int status = bench_parse_args(argc, argv, &a);
    if (status >= 0) {
        return status;
    }
    rkc_router *router = NULL;
    status = bench_router_open(&a.cfg, &router);
    if (status != 0) {
        return status;
    }
    if (a.csv) {
        printf("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
               "\"p95_latency_ms\",\"p99_latency_ms\",\"p999_latency_ms\",\"max_latency_ms\"\n");
    }
    status = BENCH_EXIT_OK;
    for (uint32_t t = 0; t < a.test_count; t++) {
        const char *name = a.tests[t] == BENCH_TEST_SET ? "SET" : "GET";
        bench_result r;
        char why[BENCH_WHY_BYTES];
        if (bench_run(&a.cfg, router, a.tests[t], &r, why, sizeof(why)) != 0) {
            fprintf(stderr, "ringkv bench: %s: %s\n", name, why);
            free(r.latency_us);
            status = BENCH_EXIT_USAGE;
            break;
        }
        bench_report(&a, name, &r);
        fflush(stdout);
        if (r.errors > 0) {
            status = BENCH_EXIT_ERRORS;
        }
        free(r.latency_us);
    }
    rkc_router_free(router);
    return status;
}
