/* test_sim_scenario.c — scripted scenarios (src/sim/scenario.h): both sides of every limit the
 * parser names (file bytes, line bytes, steps, time, skew, node ids), the error's `FILE:LINE:`
 * prefix, a scenario parsed for another cluster size refused by rk_sim_run, and small runs that
 * show the steps act: a crash and restart counted once, a one-way cut seen by the cut side only,
 * the same file and seed giving the same trace. Whole-run checks live in tests/sim/run.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sim/scenario.h"
#include "../../src/sim/sim.h"

static char err[512];

static int parse(const char *text, uint32_t nodes, rk_sim_scenario **out)
{
    err[0] = '\0';
    return rk_sim_scenario_parse("t.scn", text, strlen(text), nodes, out, err, sizeof(err));
}

/* Parses and frees; returns the result code. */
static int parse_rc(const char *text)
{
    rk_sim_scenario *s = NULL;
    int rc = parse(text, 5, &s);
    rk_sim_scenario_free(s);
    return rc;
}

/* A buffer of `len` bytes: `fill` bytes, with a newline every `every` bytes. */
static char *filled(size_t len, char fill, size_t every)
{
    char *text = malloc(len + 1);
    assert_non_null(text);
    for (size_t i = 0; i < len; i++) {
        text[i] = (i + 1) % every == 0 ? '\n' : fill;
    }
    text[len] = '\0';
    return text;
}

static void test_file_bytes_limit(void **state)
{
    (void)state;
    char *text = filled(RK_SIM_SCENARIO_BYTES_MAX + 1, '#', 64);
    rk_sim_scenario *s = NULL;
    int rc = rk_sim_scenario_parse("t.scn", text, RK_SIM_SCENARIO_BYTES_MAX, 5, &s, err,
                                   sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(rk_sim_scenario_step_count(s), 0);
    rk_sim_scenario_free(s);
    rc = rk_sim_scenario_parse("t.scn", text, RK_SIM_SCENARIO_BYTES_MAX + 1, 5, &s, err,
                               sizeof(err));
    assert_int_equal(rc, RK_ETOOBIG);
    assert_non_null(strstr(err, "t.scn:1025: the file passes 65536 bytes"));
    free(text);
}

static void test_line_bytes_limit(void **state)
{
    (void)state;
    char *text = filled(RK_SIM_SCENARIO_LINE_BYTES_MAX + 1, ' ', 1000);
    memcpy(text, "10 heal #", 9);
    text[RK_SIM_SCENARIO_LINE_BYTES_MAX] = '\0';
    assert_int_equal(parse_rc(text), 0);
    text[RK_SIM_SCENARIO_LINE_BYTES_MAX] = ' ';
    assert_int_equal(parse_rc(text), RK_EINVAL);
    assert_non_null(strstr(err, "t.scn:1: line is 257 bytes"));
    free(text);
}

static void test_steps_limit(void **state)
{
    (void)state;
    size_t step_bytes = strlen("0 heal\n");
    char *text = malloc((RK_SIM_SCENARIO_STEPS_MAX + 1) * step_bytes + 1);
    assert_non_null(text);
    for (uint32_t i = 0; i <= RK_SIM_SCENARIO_STEPS_MAX; i++) {
        memcpy(text + i * step_bytes, "0 heal\n", step_bytes + 1);
    }
    rk_sim_scenario *s = NULL;
    int rc = rk_sim_scenario_parse("t.scn", text, RK_SIM_SCENARIO_STEPS_MAX * step_bytes, 5, &s,
                                   err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(rk_sim_scenario_step_count(s), RK_SIM_SCENARIO_STEPS_MAX);
    rk_sim_scenario_free(s);
    assert_int_equal(parse_rc(text), RK_ETOOBIG);
    assert_non_null(strstr(err, "t.scn:4097: one step too many"));
    free(text);
}

static void test_time_skew_and_node_limits(void **state)
{
    (void)state;
    assert_int_equal(parse_rc("3600000 heal\n"), 0);
    assert_int_equal(parse_rc("3600001 heal\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 skew 1 +60000\n0 skew 1 -60000\n0 skew 1 0\n"), 0);
    assert_int_equal(parse_rc("0 skew 1 +60001\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 skew 1 -60001\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 crash 1\n0 crash 5\n"), 0);
    assert_int_equal(parse_rc("0 crash 0\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 crash 6\n"), RK_EINVAL);
    assert_string_equal(err, "t.scn:1: node 6 is out of range (nodes are 1..5)");
    assert_int_equal(parse_rc("5 heal\n5 heal\n4 heal\n"), RK_EINVAL);
    assert_string_equal(err, "t.scn:3: time 4 is before the previous step's 5 (steps go in "
                             "time order)");
}

static void test_groups_and_membership_verbs(void **state)
{
    (void)state;
    assert_int_equal(parse_rc("0 partition 1, 2 | 3,4,5\n0 partition 4\n0 cut 1 -> 2,3\n"), 0);
    assert_int_equal(parse_rc("0 partition 1,2,3,4,5\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 partition 1,2|2\n"), RK_EINVAL);
    assert_int_equal(parse_rc("0 cut 1->2->3\n"), RK_EINVAL);
    assert_int_equal(parse_rc("# membership\n\n7 join 4\n8 leave 2\n"), 0);
    assert_int_equal(parse_rc("7 join 4\n8 join 4\n"), RK_EINVAL);
    assert_string_equal(err, "t.scn:2: join 4: node 4 joins already at line 1");
}

static rk_sim_scenario *scenario(const char *text)
{
    rk_sim_scenario *s = NULL;
    assert_int_equal(parse(text, 5, &s), 0);
    return s;
}

static void small_config(rk_sim_config *c, const rk_sim_scenario *s)
{
    rk_sim_config_default(c);
    c->seed = 3;
    c->ops = 300;
    c->scenario = s;
}

static void test_steps_act_and_replay(void **state)
{
    (void)state;
    rk_sim_scenario *s = scenario("200 crash 2\n400 restart 2\n500 cut 1->3\n900 heal\n");
    rk_sim_config c;
    small_config(&c, s);
    rk_sim_result a;
    rk_sim_result b;
    assert_int_equal(rk_sim_run(&c, &a), 0);
    assert_int_equal(rk_sim_run(&c, &b), 0);
    assert_true(a.trace_hash == b.trace_hash);
    assert_int_equal(a.scenario_steps, 4);
    assert_int_equal(a.crashes, 1);
    assert_false(a.failed);
    /* The crash told every other node once; the cut told node 1 alone (about node 3). */
    assert_int_equal(a.peer_down_by_node[0], 2);
    assert_int_equal(a.peer_down_by_node[2], 1);
    assert_int_equal(a.peer_down_by_node[3], 1);
    rk_sim_scenario_free(s);
}

static void test_other_cluster_size_refused(void **state)
{
    (void)state;
    rk_sim_scenario *s = scenario("100 heal\n");
    rk_sim_config c;
    small_config(&c, s);
    c.nodes = 4;
    rk_sim_result r;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    rk_sim_scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_bytes_limit),
        cmocka_unit_test(test_line_bytes_limit),
        cmocka_unit_test(test_steps_limit),
        cmocka_unit_test(test_time_skew_and_node_limits),
        cmocka_unit_test(test_groups_and_membership_verbs),
        cmocka_unit_test(test_steps_act_and_replay),
        cmocka_unit_test(test_other_cluster_size_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
