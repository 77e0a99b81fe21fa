/* test_prom.c — the Prometheus text exposition of the registry (src/io/prom.c). Each test
 * builds a small registry over a stats struct of its own, renders it with
 * rk_prom_render_registry and compares the text byte for byte: names (ringkv_, base units,
 * _total), HELP and TYPE once per family, cumulative buckets ending in +Inf == _count, _sum in
 * seconds, labels from fixed sets and their escaping. Also: the op and outcome a request and
 * its reply count as (src/io/server.c), and the labelled series' arithmetic (metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/io/latency.h"
#include "../../src/io/prom.h"
#include "../../src/io/server.h"

typedef struct prom_fixture_stats {
    uint64_t served;
    uint64_t open;
    rk_metric_small_hist sizes;
    rk_latency wait;
    uint64_t by_kind[2][2];
} prom_fixture_stats;

static void prom_small_hist(const void *base, size_t offset, rk_metric_hist *out)
{
    rk_metric_small_hist_read(base, offset, out);
}

static void prom_latency_hist(const void *base, size_t offset, rk_metric_hist *out)
{
    rk_latency_hist((const rk_latency *)((const uint8_t *)base + offset), out);
}

/* Render `table` over `stats`; the text is owned by the caller. */
static char *prom_render_table(const rk_metric_desc *table, uint32_t count,
                               const prom_fixture_stats *stats)
{
    rk_metrics_registry reg;
    rk_metrics_init(&reg);
    assert_int_equal(rk_metrics_add(&reg, table, count, stats), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rk_prom_render_registry(&reg, &text, &len), 0);
    assert_int_equal(len, strlen(text));
    return text;
}

static void expect_text(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        fail_msg("rendered:\n%s\nwanted:\n%s", got, want);
    }
}

/* A counter, a gauge and a small histogram render exactly, in registration order. */
static void test_counter_gauge_histogram_render_exactly(void **state)
{
    (void)state;
    static const rk_metric_desc table[] = {
        {.name = "served", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "requests",
         .help = "Requests served.", .offset = offsetof(prom_fixture_stats, served)},
        {.name = "open", .section = "stats", .kind = RK_METRIC_GAUGE, .unit = "clients",
         .help = "Clients open.", .offset = offsetof(prom_fixture_stats, open)},
        {.name = "sizes", .section = "stats", .kind = RK_METRIC_HISTOGRAM, .unit = "siblings",
         .help = "Sizes.", .offset = offsetof(prom_fixture_stats, sizes),
         .hist_fn = prom_small_hist},
    };
    prom_fixture_stats stats = {.served = 42, .open = 3};
    rk_metric_small_hist_record(&stats.sizes, 0);
    rk_metric_small_hist_record(&stats.sizes, 1);
    rk_metric_small_hist_record(&stats.sizes, 1);
    rk_metric_small_hist_record(&stats.sizes, 5);
    rk_metric_small_hist_record(&stats.sizes, 1000);    /* past the last top: +Inf only */
    char *text = prom_render_table(table, 3, &stats);
    expect_text(text, "# HELP ringkv_served_total Requests served.\n"
                      "# TYPE ringkv_served_total counter\n"
                      "ringkv_served_total 42\n"
                      "# HELP ringkv_open Clients open.\n"
                      "# TYPE ringkv_open gauge\n"
                      "ringkv_open 3\n"
                      "# HELP ringkv_sizes Sizes.\n"
                      "# TYPE ringkv_sizes histogram\n"
                      "ringkv_sizes_bucket{le=\"0\"} 1\n"
                      "ringkv_sizes_bucket{le=\"1\"} 3\n"
                      "ringkv_sizes_bucket{le=\"2\"} 3\n"
                      "ringkv_sizes_bucket{le=\"3\"} 3\n"
                      "ringkv_sizes_bucket{le=\"4\"} 3\n"
                      "ringkv_sizes_bucket{le=\"8\"} 4\n"
                      "ringkv_sizes_bucket{le=\"16\"} 4\n"
                      "ringkv_sizes_bucket{le=\"32\"} 4\n"
                      "ringkv_sizes_bucket{le=\"64\"} 4\n"
                      "ringkv_sizes_bucket{le=\"+Inf\"} 5\n"
                      "ringkv_sizes_sum 1007\n"
                      "ringkv_sizes_count 5\n");
    free(text);
}

/* Microseconds print as seconds: bounds from 100 us to 10 s, _sum exact in decimal. */
static void test_microseconds_render_as_seconds(void **state)
{
    (void)state;
    static const rk_metric_desc table[] = {
        {.name = "wait", .section = "stats", .kind = RK_METRIC_HISTOGRAM,
         .unit = "microseconds", .help = "Waits.", .offset = offsetof(prom_fixture_stats, wait),
         .hist_fn = prom_latency_hist},
    };
    prom_fixture_stats *stats = calloc(1, sizeof(*stats));
    assert_non_null(stats);
    rk_latency_record(&stats->wait, 50);
    rk_latency_record(&stats->wait, 300);
    rk_latency_record(&stats->wait, 2000000);
    rk_latency_record(&stats->wait, 60000000);  /* a minute: above every bound */
    char *text = prom_render_table(table, 1, stats);
    expect_text(text, "# HELP ringkv_wait_seconds Waits.\n"
                      "# TYPE ringkv_wait_seconds histogram\n"
                      "ringkv_wait_seconds_bucket{le=\"0.0001\"} 1\n"
                      "ringkv_wait_seconds_bucket{le=\"0.00025\"} 1\n"
                      "ringkv_wait_seconds_bucket{le=\"0.0005\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.001\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.0025\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.005\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.01\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.025\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.05\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.1\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.25\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"0.5\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"1\"} 2\n"
                      "ringkv_wait_seconds_bucket{le=\"2.5\"} 3\n"
                      "ringkv_wait_seconds_bucket{le=\"5\"} 3\n"
                      "ringkv_wait_seconds_bucket{le=\"10\"} 3\n"
                      "ringkv_wait_seconds_bucket{le=\"+Inf\"} 4\n"
                      "ringkv_wait_seconds_sum 62.00035\n"
                      "ringkv_wait_seconds_count 4\n");
    free(text);
    free(stats);
}

static const char *const prom_kinds[] = {"plain", "odd\"one\\with\nnewline"};
static const char *const prom_results[] = {"ok", "error"};
static const rk_metric_label prom_label_kind = {.name = "kind", .values = prom_kinds,
                                                .value_count = 2};
static const rk_metric_label prom_label_result = {.name = "result", .values = prom_results,
                                                  .value_count = 2};
static const rk_metric_label *const prom_labels[] = {&prom_label_kind, &prom_label_result};

/* Labelled series print row-major, label values escaped (backslash, quote, newline), HELP
 * escaped (backslash, newline); the registry's total is their sum. */
static void test_labels_and_help_are_escaped(void **state)
{
    (void)state;
    static const rk_metric_desc table[] = {
        {.name = "by_kind", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "things",
         .help = "Per kind \\ result,\nlabelled.",
         .offset = offsetof(prom_fixture_stats, by_kind), .stride = sizeof(uint64_t),
         .labels = prom_labels, .label_count = 2},
    };
    prom_fixture_stats stats = {.by_kind = {{1, 2}, {3, 4}}};
    char *text = prom_render_table(table, 1, &stats);
    expect_text(text,
                "# HELP ringkv_by_kind_total Per kind \\\\ result,\\nlabelled.\n"
                "# TYPE ringkv_by_kind_total counter\n"
                "ringkv_by_kind_total{kind=\"plain\",result=\"ok\"} 1\n"
                "ringkv_by_kind_total{kind=\"plain\",result=\"error\"} 2\n"
                "ringkv_by_kind_total{kind=\"odd\\\"one\\\\with\\nnewline\",result=\"ok\"} 3\n"
                "ringkv_by_kind_total{kind=\"odd\\\"one\\\\with\\nnewline\",result=\"error\"} 4\n");
    free(text);

    rk_metrics_registry reg;
    rk_metrics_init(&reg);
    assert_int_equal(rk_metrics_add(&reg, table, 1, &stats), 0);
    assert_int_equal(rk_metric_series_count(&reg.metrics[0]), 4);
    assert_int_equal(rk_metric_value(&reg.metrics[0]), 10);
}

/* A labelled metric without a stride, or with an empty label set, is refused. */
static void test_bad_labels_are_refused(void **state)
{
    (void)state;
    static const rk_metric_label empty = {.name = "kind", .values = prom_kinds,
                                          .value_count = 0};
    static const rk_metric_label *const empty_labels[] = {&empty};
    rk_metric_desc bad[] = {
        {.name = "a", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "A.",
         .labels = prom_labels, .label_count = 2},
        {.name = "b", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "B.",
         .stride = 8, .labels = empty_labels, .label_count = 1},
        {.name = "c", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "C.",
         .stride = 8, .labels = prom_labels, .label_count = RK_METRIC_LABELS_MAX + 1u},
    };
    prom_fixture_stats stats = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rk_metrics_registry reg;
        rk_metrics_init(&reg);
        assert_int_equal(rk_metrics_add(&reg, &bad[i], 1, &stats), RK_EINVAL);
    }
}

/* INFO's Redis-style names become Prometheus's: no total_ prefix, the unit last. */
static void test_family_names_follow_prometheus(void **state)
{
    (void)state;
    static const struct {
        rk_metric_desc d;
        const char *want;
    } cases[] = {
        {{.name = "total_commands_processed", .kind = RK_METRIC_COUNTER, .unit = "commands"},
         "ringkv_commands_processed_total"},
        {{.name = "total_net_input_bytes", .kind = RK_METRIC_COUNTER, .unit = "bytes"},
         "ringkv_net_input_bytes_total"},
        {{.name = "bytes_sent", .kind = RK_METRIC_COUNTER, .unit = "bytes"},
         "ringkv_sent_bytes_total"},
        {{.name = "store_disk", .kind = RK_METRIC_GAUGE, .unit = "bytes"},
         "ringkv_store_disk_bytes"},
        {{.name = "store_disk_bytes", .kind = RK_METRIC_GAUGE, .unit = "bytes"},
         "ringkv_store_disk_bytes"},
        {{.name = "latency_read", .kind = RK_METRIC_HISTOGRAM, .unit = "microseconds"},
         "ringkv_latency_read_seconds"},
        {{.name = "total_keys", .kind = RK_METRIC_GAUGE, .unit = "keys"}, "ringkv_total_keys"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[RK_PROM_NAME_BYTES_MAX];
        int len = rk_prom_family_name(&cases[i].d, name, sizeof(name));
        assert_int_equal(len, (int)strlen(cases[i].want));
        assert_string_equal(name, cases[i].want);
    }
    char tiny[8];
    assert_int_equal(rk_prom_family_name(&cases[0].d, tiny, sizeof(tiny)), RK_ETOOBIG);
}

/* A SET is a put whether it comes as RK_REQ_PUT or as the put operation; RK.PUT is a vput;
 * set commands by their op; anything unknown is `other`. */
static void test_request_ops(void **state)
{
    (void)state;
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_GET}), RK_SERVER_OP_GET);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_PUT}), RK_SERVER_OP_PUT);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_WRITE, .op = RK_OP_PUT}),
                     RK_SERVER_OP_PUT);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_VPUT}), RK_SERVER_OP_VPUT);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_WRITE, .op = RK_OP_SADD}),
                     RK_SERVER_OP_SADD);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_READ,
                                                   .op = RK_READ_SMEMBERS}),
                     RK_SERVER_OP_SMEMBERS);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_WRITE, .op = 0}),
                     RK_SERVER_OP_OTHER);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = RK_REQ_READ, .op = 200}),
                     RK_SERVER_OP_OTHER);
    assert_int_equal(rk_server_op_of(&(rk_request){.kind = 0}), RK_SERVER_OP_OTHER);
    for (uint32_t op = 0; op < RK_SERVER_OP_COUNT; op++) {
        assert_non_null(rk_server_op_names[op]);
    }
}

/* Outcomes: errors by code, a nil or an empty RK.GET is not_found, anything else ok. */
static void test_reply_outcomes(void **state)
{
    (void)state;
    static const struct {
        rk_reply r;
        rk_server_outcome want;
    } cases[] = {
        {{.kind = RK_REPLY_OK}, RK_SERVER_OUTCOME_OK},
        {{.kind = RK_REPLY_INT, .integer = 0}, RK_SERVER_OUTCOME_OK},
        {{.kind = RK_REPLY_NIL}, RK_SERVER_OUTCOME_NOT_FOUND},
        {{.kind = RK_REPLY_VERSIONS, .value_count = 0}, RK_SERVER_OUTCOME_NOT_FOUND},
        {{.kind = RK_REPLY_VERSIONS, .value_count = 2}, RK_SERVER_OUTCOME_OK},
        {{.kind = RK_REPLY_ERROR, .error = RK_EUNAVAIL}, RK_SERVER_OUTCOME_UNAVAILABLE},
        {{.kind = RK_REPLY_ERROR, .error = RK_ETIMEDOUT}, RK_SERVER_OUTCOME_TIMEOUT},
        {{.kind = RK_REPLY_ERROR, .error = RK_ECONFLICT}, RK_SERVER_OUTCOME_CONFLICT},
        {{.kind = RK_REPLY_ERROR, .error = RK_ETOOBIG}, RK_SERVER_OUTCOME_ERROR},
        {{.kind = RK_REPLY_ERROR, .error = RK_EBUSY}, RK_SERVER_OUTCOME_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(rk_server_outcome_of(&cases[i].r), cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_histogram_render_exactly),
        cmocka_unit_test(test_microseconds_render_as_seconds),
        cmocka_unit_test(test_labels_and_help_are_escaped),
        cmocka_unit_test(test_bad_labels_are_refused),
        cmocka_unit_test(test_family_names_follow_prometheus),
        cmocka_unit_test(test_request_ops),
        cmocka_unit_test(test_reply_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
