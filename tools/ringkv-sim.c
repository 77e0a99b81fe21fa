/* ringkv-sim — run one deterministic simulation of a ringkv cluster (src/sim) and print what
 * the checkers found, one `name: value` line each. Exits 1 when a checker that the
 * configuration promises failed, printing the command that replays the run; 2 on bad usage.
 *
 *   ringkv-sim --seed S --nodes K --n N --r R --w W --ops M
 *              --faults none|partition|crash|pause|loss|skew|all (or a comma list)
 *              [--policy siblings|lww] [--sync always|batch|none] [--no-sloppy]
 *              [--break-sibling-merge] [--trace]
 * See docs/simulator.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/bucket.h"
#include "../src/sim/sim.h"

static char replay_command[512];

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ringkv-sim [--seed S] [--nodes K] [--n N] [--r R] [--w W] [--ops M]\n"
            "                  [--faults none|partition|crash|pause|loss|skew|all]\n"
            "                  [--policy siblings|lww] [--sync always|batch|none] [--no-sloppy]\n"
            "                  [--break-sibling-merge (test only)] [--trace]\n");
}

static int parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    if (text == NULL || *text == '\0') {
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 0);
    if (*end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u32(const char *text, uint32_t *out)
{
    uint64_t v = 0;
    if (parse_u64(text, &v) != 0 || v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, rk_sim_config *c)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        bool takes = true;
        if (strcmp(a, "--seed") == 0) {
            rc = parse_u64(v, &c->seed);
        } else if (strcmp(a, "--nodes") == 0) {
            rc = parse_u32(v, &c->nodes);
        } else if (strcmp(a, "--n") == 0) {
            rc = parse_u32(v, &c->n);
        } else if (strcmp(a, "--r") == 0) {
            rc = parse_u32(v, &c->r);
        } else if (strcmp(a, "--w") == 0) {
            rc = parse_u32(v, &c->w);
        } else if (strcmp(a, "--ops") == 0) {
            rc = parse_u32(v, &c->ops);
        } else if (strcmp(a, "--faults") == 0) {
            rc = v != NULL ? rk_sim_faults_parse(v, &c->faults) : -1;
        } else if (strcmp(a, "--policy") == 0) {
            if (v != NULL && strcmp(v, "siblings") == 0) {
                c->policy = RK_POLICY_SIBLINGS;
            } else if (v != NULL && strcmp(v, "lww") == 0) {
                c->policy = RK_POLICY_LWW;
            } else {
                rc = -1;
            }
        } else if (strcmp(a, "--sync") == 0) {
            rc = v != NULL ? rk_sync_policy_parse(v, &c->sync) : -1;
        } else {
            takes = false;
            if (strcmp(a, "--no-sloppy") == 0) {
                c->no_sloppy = true;
            } else if (strcmp(a, "--break-sibling-merge") == 0) {
                c->break_sibling_merge = true;
            } else if (strcmp(a, "--trace") == 0) {
                c->trace = true;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                usage(stdout);
                exit(0);
            } else {
                fprintf(stderr, "ringkv-sim: unknown option %s\n", a);
                return -1;
            }
        }
        if (rc != 0) {
            fprintf(stderr, "ringkv-sim: %s: bad or missing value %s\n", a, v != NULL ? v : "");
            return -1;
        }
        i += takes ? 1 : 0;
    }
    return 0;
}

static void build_replay(const rk_sim_config *c)
{
    char faults[64];
    rk_sim_faults_name(c->faults, faults, sizeof(faults));
    snprintf(replay_command, sizeof(replay_command),
             "build/ringkv-sim --seed %" PRIu64 " --nodes %u --n %u --r %u --w %u --ops %u "
             "--faults %s --policy %s --sync %s%s%s",
             c->seed, c->nodes, c->n, c->r, c->w, c->ops, faults,
             c->policy == RK_POLICY_LWW ? "lww" : "siblings", rk_sync_policy_name(c->sync),
             c->no_sloppy ? " --no-sloppy" : "", c->break_sibling_merge ?
             " --break-sibling-merge" : "");
}

/* An RK_ASSERT in core or sim: say how to replay before the abort. */
static void on_assert(void *ctx)
{
    (void)ctx;
    fprintf(stderr, "ringkv-sim: assertion failed; replay: %s\n", replay_command);
}

static void print_share(const char *name, uint64_t part, uint64_t whole)
{
    double share = whole > 0 ? (double)part / (double)whole : 0.0;
    printf("%s: %.4f\n", name, share);
}

int main(int argc, char **argv)
{
    rk_sim_config c;
    rk_sim_config_default(&c);
    if (parse_args(argc, argv, &c) != 0) {
        usage(stderr);
        return 2;
    }
    build_replay(&c);
    rk_assert_set_hook(on_assert, NULL);
    rk_sim_result r;
    int rc = rk_sim_run(&c, &r);
    if (rc != 0) {
        fprintf(stderr, "ringkv-sim: %s (n, r and w must be 1..%u with r, w <= n; nodes 1..%u)\n",
                rk_strerror(rc), RK_N_MAX, RK_SIM_NODES_MAX);
        return 2;
    }
    char faults[64];
    rk_sim_faults_name(c.faults, faults, sizeof(faults));
    printf("seed: %" PRIu64 "\n", c.seed);
    printf("config: nodes=%u n=%u r=%u w=%u faults=%s policy=%s sync=%s sloppy=%s\n", c.nodes,
           c.n, c.r, c.w, faults, c.policy == RK_POLICY_LWW ? "lww" : "siblings",
           rk_sync_policy_name(c.sync), c.no_sloppy ? "no" : "yes");
    printf("workload: keys=%u clients=%u reads=%u%% blind=%u%% rmw=%u%% deletes=%u%% "
           "request_timeout_ms=%u\n",
           c.keys, c.clients, c.read_pct, c.blind_pct, c.rmw_pct,
           100 - c.read_pct - c.blind_pct - c.rmw_pct, c.request_timeout_ms);
    if (c.break_sibling_merge) {
        printf("break_sibling_merge: yes (test only)\n");
    }
    printf("ops: %" PRIu64 "\n", r.ops);
    printf("reads: %" PRIu64 "\n", r.reads);
    printf("writes: %" PRIu64 "\n", r.writes);
    printf("acked_writes: %" PRIu64 "\n", r.acked_writes);
    printf("indeterminate_writes: %" PRIu64 "\n", r.indeterminate);
    printf("refused_writes: %" PRIu64 "\n", r.refused);
    printf("lost_acked_writes: %" PRIu64 "\n", r.lost_acked_writes);
    printf("lww_dropped: %" PRIu64 "\n", r.lww_dropped);
    printf("resurrected_deletes: %" PRIu64 "\n", r.resurrected_deletes);
    printf("stale_reads: %" PRIu64 "\n", r.stale_reads);
    printf("converged: %s\n", r.converged ? "yes" : "no");
    printf("convergence_via: hinted-handoff+read-repair\n");
    printf("hints_left: %" PRIu64 "\n", r.hints_left);
    printf("hinted_copies_left: %" PRIu64 "\n", r.hinted_copies_left);
    print_share("unavailable_writes", r.indeterminate + r.refused, r.writes);
    print_share("unavailable_reads", r.failed_reads, r.reads);
    printf("faults_injected: crashes=%" PRIu64 " partitions=%" PRIu64 " pauses=%" PRIu64 "\n",
           r.crashes, r.partitions, r.pauses);
    printf("events: %" PRIu64 "\n", r.events);
    printf("messages: %" PRIu64 "\n", r.messages);
    printf("simulated_ms: %" PRIu64 "\n", r.simulated_ms);
    printf("trace_hash: %016" PRIx64 "\n", r.trace_hash);
    if (r.failed) {
        printf("result: FAIL (%s)\n", r.failures);
        fprintf(stderr, "ringkv-sim: a promised checker failed; replay: %s\n", replay_command);
        return 1;
    }
    printf("result: ok\n");
    return 0;
}
