/* test_metrics.c — the metrics registry (src/core/metrics.c) and INFO printing from it
 * (src/io/info.c, src/io/server_metrics.c). Covers: every metric a node registers has a
 * unique valid name, a kind, a unit and help; rk_metrics_add refuses bad tables whole; values
 * are read where their events write them (offsets, sums over peer links, histograms); and INFO
 * over a real node (mem store, fake env) and a server struct that never listens prints every
 * numeric field from the registry (or from the short list of identity, configuration and
 * ratio fields) and every registered metric somewhere.
 *
 * "Nothing shown is never updated" is not checked here: a registered field may still have no
 * writer. tests/cluster/test_info_ops.sh checks ops_get/put/del move by exactly the commands
 * sent; docs/operations.md says a new metric needs its writer in the same change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/metrics.h"
#include "../../src/io/commands.h"
#include "../../src/io/peer.h"
#include "../../src/io/server_metrics.h"
#include "test_env.h"

/* A server as INFO sees it, over a real node; nothing listens and no loop runs. */
typedef struct info_fixture {
    rk_store *store;
    test_env env;
    rk_node *node;
    rk_config config;
    rk_runtime runtime;
    rk_peers peers;
    rk_server server;
} info_fixture;

static info_fixture *fixture_new(void)
{
    info_fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(rk_store_mem_open(&fx->store), 0);
    test_env_init(&fx->env, fx->store);
    rk_node_config nc;
    rk_node_config_default(&nc);
    assert_int_equal(rk_node_new(&nc, &fx->env.env, &fx->node), 0);
    assert_int_equal(rk_config_init(&fx->config), 0);
    fx->runtime.peers = &fx->peers;
    fx->server.loop = uv_default_loop();
    fx->server.config = &fx->config;
    fx->server.runtime = &fx->runtime;
    fx->server.node = fx->node;
    fx->server.store = fx->store;
    assert_int_equal(rk_server_metrics_build(&fx->server), 0);
    return fx;
}

static void fixture_free(info_fixture *fx)
{
    rk_config_deinit(&fx->config);
    rk_node_free(fx->node);
    rk_store_close(fx->store);
    free(fx);
}

/* INFO all's text (the bulk's payload), NUL-terminated, owned by the caller. */
static char *info_text(info_fixture *fx)
{
    rk_resp_out out;
    rk_resp_out_init(&out, 2);
    rk_info_write(&fx->server, &out, "all");
    assert_false(out.oom);
    const char *body = memchr(out.data, '\n', out.len);
    assert_non_null(body);
    body++;
    size_t len = out.len - (size_t)(body - (const char *)out.data);
    char *text = malloc(len + 1);
    assert_non_null(text);
    memcpy(text, body, len);
    text[len] = '\0';
    rk_resp_out_deinit(&out);
    return text;
}

/* An integer or a decimal like 1.00 (not a version like 7.0.0). */
static bool is_number(const char *v)
{
    uint32_t dots = 0;
    if (*v == '\0') {
        return false;
    }
    for (; *v != '\0'; v++) {
        dots += *v == '.';
        if ((*v < '0' || *v > '9') && *v != '.') {
            return false;
        }
    }
    return dots <= 1;
}

/* The registered metric a printed field comes from: itself, or the histogram whose
 * percentile it is (latency_read_p99_us -> latency_read). */
static const rk_metric *field_metric(const rk_metrics_registry *reg, const char *field)
{
    const rk_metric *m = rk_metrics_find(reg, field);
    if (m != NULL) {
        return m;
    }
    static const char *const suffixes[] = {"_p50_us", "_p99_us", "_p999_us",
                                           "_p50",    "_p99",    "_p999"};
    size_t len = strlen(field);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t slen = strlen(suffixes[i]);
        if (len > slen && strcmp(field + len - slen, suffixes[i]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(len - slen), field);
            m = rk_metrics_find(reg, base);
            return m != NULL && m->desc->kind == RK_METRIC_HISTOGRAM ? m : NULL;
        }
    }
    return NULL;
}

/* Every metric ringkvd registers: a valid unique name, a section, a kind, a unit and help. */
static void test_every_metric_is_declared_fully(void **state)
{
    (void)state;
    info_fixture *fx = fixture_new();
    const rk_metrics_registry *reg = &fx->server.metrics;
    assert_true(reg->count > 60);
    for (uint32_t i = 0; i < reg->count; i++) {
        const rk_metric_desc *d = reg->metrics[i].desc;
        assert_true(rk_metrics_name_valid(d->name));
        assert_true(d->section[0] != '\0');
        assert_true(d->unit[0] != '\0');
        assert_true(strlen(d->help) > 10);
        assert_int_equal(d->help[strlen(d->help) - 1], '.');        /* one sentence */
        assert_string_not_equal(rk_metric_kind_name(d->kind), "unknown");
        for (uint32_t j = 0; j < i; j++) {
            assert_string_not_equal(reg->metrics[j].desc->name, d->name);
        }
    }
    fixture_free(fx);
}

/* INFO all: every numeric field is a registered metric (or identity, configuration, a
 * ratio), and every registered metric is printed (keys as the db0 line once there are keys). */
static void test_info_prints_from_the_registry(void **state)
{
    (void)state;
    info_fixture *fx = fixture_new();
    const rk_metrics_registry *reg = &fx->server.metrics;
    char *text = info_text(fx);
    bool printed[RK_METRICS_MAX] = {false};
    uint32_t numeric_fields = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (line[0] == '#' || colon == NULL || !is_number(colon + 1)) {
            continue;
        }
        *colon = '\0';
        numeric_fields++;
        const rk_metric *m = field_metric(reg, line);
        if (m == NULL) {
            if (!rk_info_field_not_metric(line)) {
                fail_msg("INFO field %s is neither a registered metric nor listed as "
                         "identity, configuration or a ratio", line);
            }
            continue;
        }
        printed[m - reg->metrics] = true;
    }
    assert_true(numeric_fields > 60);
    for (uint32_t i = 0; i < reg->count; i++) {
        if (!printed[i] && strcmp(reg->metrics[i].desc->name, "keys") != 0 &&
            reg->metrics[i].desc->label_count == 0) {   /* labelled: Prometheus only */
            fail_msg("metric %s is registered but INFO never prints it",
                     reg->metrics[i].desc->name);
        }
    }
    free(text);
    fixture_free(fx);
}

/* INFO shows a value where its event writes it: the server's, the node's, a peer link sum. */
static void test_values_read_where_events_write(void **state)
{
    (void)state;
    info_fixture *fx = fixture_new();
    const rk_metrics_registry *reg = &fx->server.metrics;
    fx->server.stats.ops_get = 7;
    fx->server.stats.ops_put = 8;
    fx->server.stats.ops_del = 9;
    fx->peers.link_count = 2;
    fx->peers.links[0].stats.writes = 3;
    fx->peers.links[1].stats.writes = 4;
    fx->peers.links[0].stats.frames_sent = 14;
    fx->peers.stats.ticks_late = 5;
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "ops_get")), 7);
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "ops_put")), 8);
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "ops_del")), 9);
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "peer_writes")), 7);
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "ticks_late")), 5);
    assert_int_equal(rk_metric_value(rk_metrics_find(reg, "epoch")),
                     rk_node_stats_get(fx->node)->epoch);
    fx->peers.link_count = 0;           /* the links are not set up for INFO's per-peer lines */
    char *text = info_text(fx);
    assert_non_null(strstr(text, "\r\nops_get:7\r\nops_put:8\r\nops_del:9\r\n"));
    assert_non_null(strstr(text, "\r\nticks_late:5\r\n"));
    free(text);
    fixture_free(fx);
}

/* The latency histograms: registered in microseconds, percentiles as rk_latency's. */
static void test_latency_histograms_are_registered(void **state)
{
    (void)state;
    info_fixture *fx = fixture_new();
    rk_latency *h = &fx->server.stats.latency[RK_LAT_WRITE];
    for (uint64_t us = 1; us <= 1000; us++) {
        rk_latency_record(h, us);
    }
    const rk_metric *m = rk_metrics_find(&fx->server.metrics, "latency_write");
    assert_non_null(m);
    assert_int_equal(m->desc->kind, RK_METRIC_HISTOGRAM);
    assert_string_equal(m->desc->unit, "microseconds");
    rk_metric_hist view;
    rk_metric_hist_get(m, &view);
    assert_int_equal(view.count, 1000);
    assert_int_equal(view.sum, 500500);
    assert_int_equal(view.bucket_count, RK_LATENCY_BUCKETS);
    uint64_t p99 = rk_metric_hist_percentile(&view, 990);
    assert_int_equal(p99, rk_latency_percentile(h, 990));
    assert_true(p99 >= 990);
    assert_true(p99 <= 990 + 990 / 16);
    char *text = info_text(fx);
    char want[64];
    snprintf(want, sizeof(want), "latency_write_p99_us:%llu\r\n", (unsigned long long)p99);
    assert_non_null(strstr(text, want));
    free(text);
    fixture_free(fx);
}

static const uint64_t test_values[2] = {11, 12};

static void test_name_rules(void **state)
{
    (void)state;
    assert_true(rk_metrics_name_valid("coord_puts"));
    assert_true(rk_metrics_name_valid("_x9"));
    assert_false(rk_metrics_name_valid(""));
    assert_false(rk_metrics_name_valid("9lives"));
    assert_false(rk_metrics_name_valid("Coord"));
    assert_false(rk_metrics_name_valid("coord-puts"));
    assert_false(rk_metrics_name_valid("coord puts"));
    char long_name[80];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[64] = '\0';
    assert_true(rk_metrics_name_valid(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(rk_metrics_name_valid(long_name));
}

/* A bad table is refused whole: a duplicate, a bad name, missing help, a histogram without
 * its reader, and one past RK_METRICS_MAX. */
static void test_add_refuses_bad_tables_whole(void **state)
{
    (void)state;
    rk_metrics_registry reg;
    rk_metrics_init(&reg);
    const rk_metric_desc good[] = {
        {.name = "a", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "things",
         .help = "As.", .offset = 0},
        {.name = "b", .section = "stats", .kind = RK_METRIC_GAUGE, .unit = "things",
         .help = "Bs.", .offset = sizeof(uint64_t)},
    };
    assert_int_equal(rk_metrics_add(&reg, good, 2, test_values), 0);
    assert_int_equal(reg.count, 2);
    assert_int_equal(rk_metric_value(rk_metrics_find(&reg, "b")), 12);

    const rk_metric_desc dup[] = {
        {.name = "c", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "things",
         .help = "Cs."},
        {.name = "a", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "things",
         .help = "As again."},
    };
    assert_int_equal(rk_metrics_add(&reg, dup, 2, test_values), RK_EINVAL);
    assert_int_equal(rk_metrics_add(&reg, dup, 1, test_values), 0);
    assert_int_equal(rk_metrics_add(&reg, dup, 1, test_values), RK_EINVAL);     /* c twice */
    const rk_metric_desc bad[] = {
        {.name = "Bad", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "H."},
        {.name = "nohelp", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "u",
         .help = ""},
        {.name = "nounit", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "",
         .help = "H."},
        {.name = "hist", .section = "stats", .kind = RK_METRIC_HISTOGRAM, .unit = "u",
         .help = "H."},
        {.name = "nokind", .section = "stats", .unit = "u", .help = "H."},
    };
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rk_metrics_add(&reg, &bad[i], 1, test_values), RK_EINVAL);
    }
    assert_int_equal(reg.count, 3);

    static rk_metric_desc many[RK_METRICS_MAX];
    static char names[RK_METRICS_MAX][16];
    for (uint32_t i = 0; i < RK_METRICS_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "m%u", i);
        many[i] = (rk_metric_desc){.name = names[i], .section = "stats",
                                   .kind = RK_METRIC_COUNTER, .unit = "u", .help = "H."};
    }
    assert_int_equal(rk_metrics_add(&reg, many, RK_METRICS_MAX - 3, test_values), 0);
    assert_int_equal(reg.count, RK_METRICS_MAX);
    assert_int_equal(rk_metrics_add(&reg, &many[RK_METRICS_MAX - 1], 1, test_values),
                     RK_ETOOBIG);
}

/* rk_metrics_each visits one section in registration order. */
static void count_visit(const rk_metric *m, void *ctx)
{
    char *seen = ctx;
    strcat(seen, m->desc->name);
}

static void test_each_walks_a_section_in_order(void **state)
{
    (void)state;
    rk_metrics_registry reg;
    rk_metrics_init(&reg);
    const rk_metric_desc table[] = {
        {.name = "x", .section = "one", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "X."},
        {.name = "y", .section = "two", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "Y."},
        {.name = "z", .section = "one", .kind = RK_METRIC_COUNTER, .unit = "u", .help = "Z."},
    };
    assert_int_equal(rk_metrics_add(&reg, table, 3, test_values), 0);
    char seen[8] = "";
    assert_int_equal(rk_metrics_each(&reg, "one", count_visit, seen), 2);
    assert_string_equal(seen, "xz");
    seen[0] = '\0';
    assert_int_equal(rk_metrics_each(&reg, NULL, count_visit, seen), 3);
    assert_string_equal(seen, "xyz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_metric_is_declared_fully),
        cmocka_unit_test(test_info_prints_from_the_registry),
        cmocka_unit_test(test_values_read_where_events_write),
        cmocka_unit_test(test_latency_histograms_are_registered),
        cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_add_refuses_bad_tables_whole),
        cmocka_unit_test(test_each_walks_a_section_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
