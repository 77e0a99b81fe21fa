/* ringkv-sim — run one deterministic simulation of a ringkv cluster (src/sim) and print what
 * the checkers found, one `name: value` line each. Exits 1 when a checker that the
 * configuration promises failed, printing the command that replays the run; 2 on bad usage.
 *
 *   ringkv-sim --seed S --nodes K --n N --r R --w W --ops M
 *              --faults none|partition|crash|pause|loss|skew|stop|membership|all (or a comma list)
 *              [--workload values|cart] [--policy siblings|lww|union|set|counter|map]
 *              [--sync always|batch|none] [--no-sloppy]
 *              [--preload-members N] [--keys K]
 *              [--break-sibling-merge] [--break-clean-stop] [--trace] [--scenario FILE]
 * See docs/simulator.md; --scenario replays a scripted fault schedule (src/sim/scenario.h);
 * --workload cart runs SADD/SREM/SMEMBERS on union or set buckets (issue 12), INCRBY/GET on
 * counter buckets and HINCRBY/HSET/HDEL/HGETALL on map buckets (issue 13); --preload-members
 * gives every cart key N members under union or set before the run starts (issue 14). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/bucket.h"
#include "../src/sim/scenario.h"
#include "../src/sim/sim.h"

static char replay_command[1024];
static const char *scenario_path;     /* --scenario FILE, or NULL */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ringkv-sim [--seed S] [--nodes K] [--n N] [--r R] [--w W] [--ops M]\n"
            "                  [--faults none|partition|crash|pause|loss|skew|stop|membership|all]\n"
            "                  [--workload values|cart (cart: sets, counters or maps)]\n"
            "                  [--policy siblings|lww (values) | union|set|counter|map (cart)]\n"
            "                  [--sync always|batch|none] [--no-sloppy]\n"
            "                  [--aae] [--no-read-repair] [--break-aae (test only)]\n"
            "                  [--reap-grace-ms MS (reap tombstones this old)]\n"
            "                  [--preload-members N (cart, set or union: N members a key first)]\n"
            "                  [--keys K (keys the workload uses, 1..%u; default 20)]\n"
            "                  [--break-sibling-merge (test only)]\n"
            "                  [--break-clean-stop (test only)] [--trace]\n"
            "                  [--scenario FILE (scripted faults; see docs/simulator.md)]\n",
            RK_SIM_KEYS_MAX);
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

/* siblings, lww, union, set, counter or map: the names rk_bucket_policy_name gives. */
static int parse_policy(const char *text, uint8_t *out)
{
    for (uint8_t p = 0; text != NULL && p <= RK_POLICY_MAX; p++) {
        if (strcmp(text, rk_bucket_policy_name(p)) == 0) {
            *out = p;
            return 0;
        }
    }
    return -1;
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
            rc = parse_policy(v, &c->policy);
        } else if (strcmp(a, "--workload") == 0) {
            if (v != NULL && strcmp(v, "values") == 0) {
                c->workload = RK_SIM_WORKLOAD_VALUES;
            } else if (v != NULL && strcmp(v, "cart") == 0) {
                c->workload = RK_SIM_WORKLOAD_CART;
            } else {
                rc = -1;
            }
        } else if (strcmp(a, "--sync") == 0) {
            rc = v != NULL ? rk_sync_policy_parse(v, &c->sync) : -1;
        } else if (strcmp(a, "--reap-grace-ms") == 0) {
            char *end = NULL;
            unsigned long ms = v != NULL ? strtoul(v, &end, 10) : 0;
            rc = v != NULL && *v != '\0' && *end == '\0' && ms > 0 && ms <= 86400000ul ? 0 : -1;
            c->reap_grace_ms = (uint32_t)ms;
        } else if (strcmp(a, "--keys") == 0) {
            rc = parse_u32(v, &c->keys) == 0 && c->keys >= 1 && c->keys <= RK_SIM_KEYS_MAX ? 0
                                                                                            : -1;
        } else if (strcmp(a, "--preload-members") == 0) {
            rc = parse_u32(v, &c->preload_members) == 0 &&
                 c->preload_members <= RK_SIM_PRELOAD_MAX ? 0 : -1;
        } else if (strcmp(a, "--scenario") == 0) {
            scenario_path = v;
            rc = v != NULL ? 0 : -1;
        } else {
            takes = false;
            if (strcmp(a, "--no-sloppy") == 0) {
                c->no_sloppy = true;
            } else if (strcmp(a, "--aae") == 0) {
                c->aae = true;
            } else if (strcmp(a, "--no-read-repair") == 0) {
                c->no_read_repair = true;
            } else if (strcmp(a, "--break-aae") == 0) {
                c->break_aae = true;
            } else if (strcmp(a, "--break-sibling-merge") == 0) {
                c->break_sibling_merge = true;
            } else if (strcmp(a, "--break-clean-stop") == 0) {
                c->break_clean_stop = true;
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
    char reap[80] = "";
    int used = 0;
    if (c->reap_grace_ms > 0) {
        used = snprintf(reap, sizeof(reap), " --reap-grace-ms %u", c->reap_grace_ms);
    }
    rk_sim_config defaults;
    rk_sim_config_default(&defaults);
    if (c->keys != defaults.keys && used >= 0 && (size_t)used < sizeof(reap)) {
        used += snprintf(reap + used, sizeof(reap) - (size_t)used, " --keys %u", c->keys);
    }
    if (c->preload_members > 0 && used >= 0 && (size_t)used < sizeof(reap)) {
        snprintf(reap + used, sizeof(reap) - (size_t)used, " --preload-members %u",
                 c->preload_members);
    }
    snprintf(replay_command, sizeof(replay_command),
             "build/ringkv-sim --seed %" PRIu64 " --nodes %u --n %u --r %u --w %u --ops %u "
             "--faults %s%s --policy %s --sync %s%s%s%s%s%s%s%s%s",
             c->seed, c->nodes, c->n, c->r, c->w, c->ops, faults,
             c->workload == RK_SIM_WORKLOAD_CART ? " --workload cart" : "",
             rk_bucket_policy_name(c->policy), rk_sync_policy_name(c->sync),
             c->no_sloppy ? " --no-sloppy" : "",
             c->no_read_repair ? " --no-read-repair" : c->aae ? " --aae" : "",
             c->break_aae ? " --break-aae" : "", reap,
             c->break_sibling_merge ?
             " --break-sibling-merge" : "", c->break_clean_stop ? " --break-clean-stop" : "",
             scenario_path != NULL ? " --scenario " : "",
             scenario_path != NULL ? scenario_path : "");
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

/* `name: 1=v 2=v ...` by node id. */
static void print_by_node(const char *name, const uint64_t *counts, uint32_t nodes)
{
    printf("%s:", name);
    for (uint32_t i = 0; i < nodes; i++) {
        printf(" %u=%" PRIu64, i + 1, counts[i]);
    }
    printf("\n");
}

/* The pinned workload of c, one line. */
static void print_workload(const rk_sim_config *c)
{
    uint32_t reads_pct = 100 - c->cart_add_pct - c->cart_remove_pct;
    if (c->workload == RK_SIM_WORKLOAD_CART && c->policy == RK_POLICY_COUNTER) {
        printf("workload: cart keys=%u clients=%u incrby=%u%% get=%u%% quantity=%d..%d "
               "request_timeout_ms=%u\n",
               c->keys, c->clients, c->cart_add_pct + c->cart_remove_pct, reads_pct,
               RK_SIM_QUANTITY_MIN, RK_SIM_QUANTITY_MAX, c->request_timeout_ms);
        return;
    }
    if (c->workload == RK_SIM_WORKLOAD_CART && c->policy == RK_POLICY_MAP) {
        printf("workload: cart keys=%u clients=%u hincrby=%u%% hset_hdel=%u%% hgetall=%u%% "
               "items=%u notes=%u quantity=%d..%d request_timeout_ms=%u\n",
               c->keys, c->clients, c->cart_add_pct, c->cart_remove_pct, reads_pct,
               RK_SIM_MAP_ITEMS, RK_SIM_MAP_NOTES, RK_SIM_QUANTITY_MIN, RK_SIM_QUANTITY_MAX,
               c->request_timeout_ms);
        return;
    }
    if (c->workload == RK_SIM_WORKLOAD_CART) {
        printf("workload: cart keys=%u clients=%u sadd=%u%% srem=%u%% smembers=%u%% "
               "request_timeout_ms=%u\n",
               c->keys, c->clients, c->cart_add_pct, c->cart_remove_pct, reads_pct,
               c->request_timeout_ms);
        if (c->preload_members > 0) {
            printf("preload: members=%u per key (p0..p%u), batches of %u\n", c->preload_members,
                   c->preload_members - 1, RK_SIM_PRELOAD_BATCH);
        }
        return;
    }
    printf("workload: keys=%u clients=%u reads=%u%% blind=%u%% rmw=%u%% deletes=%u%% "
           "request_timeout_ms=%u\n",
           c->keys, c->clients, c->read_pct, c->blind_pct, c->rmw_pct,
           100 - c->read_pct - c->blind_pct - c->rmw_pct, c->request_timeout_ms);
}

/* The history checkers of the run's workload: the value checkers, or the cart's (the value
 * checkers do not run on a cart history). Under union resurrected_removes is counted, not
 * failed (docs/simulator.md). Every cart run prints the three cart checkers; those that do
 * not apply to its policy print 0 (sets have no counters; counters and maps no members). */
static void print_checkers(const rk_sim_config *c, const rk_sim_result *r)
{
    if (c->workload != RK_SIM_WORKLOAD_CART) {
        printf("lost_acked_writes: %" PRIu64 "\n", r->lost_acked_writes);
        printf("lww_dropped: %" PRIu64 "\n", r->lww_dropped);
        printf("resurrected_deletes: %" PRIu64 "\n", r->resurrected_deletes);
        printf("stale_reads: %" PRIu64 "\n", r->stale_reads);
        printf("dots_reused: %" PRIu64 "\n", r->dots_reused);
        return;
    }
    if (c->policy == RK_POLICY_COUNTER || c->policy == RK_POLICY_MAP) {
        printf("acked_increments: %" PRIu64 "\n", r->acked_increments);
    } else {
        printf("acked_adds: %" PRIu64 "\n", r->acked_adds);
        printf("acked_removes: %" PRIu64 "\n", r->acked_removes);
        if (c->preload_members > 0) {
            printf("preload_ops: %" PRIu64 "\n", r->preload_ops);
            printf("preload_unacked: %" PRIu64 "\n", r->preload_unacked);
            printf("preloaded_present: %" PRIu64 " of %" PRIu64 "\n", r->preloaded_present,
                   (uint64_t)c->preload_members * c->keys);
        }
    }
    printf("lost_adds: %" PRIu64 "\n", r->lost_adds);
    printf("resurrected_removes: %" PRIu64 "\n", r->resurrected_removes);
    printf("counter_out_of_range: %" PRIu64 "\n", r->counter_out_of_range);
    printf("final_reads_failed: %" PRIu64 "\n", r->final_reads_failed);
}

int main(int argc, char **argv)
{
    rk_sim_config c;
    rk_sim_config_default(&c);
    if (parse_args(argc, argv, &c) != 0) {
        usage(stderr);
        return 2;
    }
    const char *mismatch = rk_sim_config_mismatch(&c);
    if (mismatch != NULL) {
        fprintf(stderr, "ringkv-sim: --workload %s --policy %s: %s\n",
                c.workload == RK_SIM_WORKLOAD_CART ? "cart" : "values",
                rk_bucket_policy_name(c.policy), mismatch);
        return 2;
    }
    /* The whole file is parsed before anything runs; a bad one is bad usage. */
    rk_sim_scenario *scenario = NULL;
    if (scenario_path != NULL && c.nodes >= 1 && c.nodes <= RK_SIM_NODES_MAX) {
        char err[512];
        if (rk_sim_scenario_load(scenario_path, c.nodes, &scenario, err, sizeof(err)) != 0) {
            fprintf(stderr, "ringkv-sim: %s\n", err);
            return 2;
        }
        c.scenario = scenario;
    }
    build_replay(&c);
    rk_assert_set_hook(on_assert, NULL);
    rk_sim_result r;
    int rc = rk_sim_run(&c, &r);
    rk_sim_scenario_free(scenario);
    if (rc != 0) {
        fprintf(stderr, "ringkv-sim: %s (n, r and w must be 1..%u with r, w <= n; nodes 1..%u)\n",
                rk_strerror(rc), RK_N_MAX, RK_SIM_NODES_MAX);
        return 2;
    }
    char faults[64];
    rk_sim_faults_name(c.faults, faults, sizeof(faults));
    printf("seed: %" PRIu64 "\n", c.seed);
    printf("config: nodes=%u n=%u r=%u w=%u faults=%s policy=%s sync=%s sloppy=%s\n", c.nodes,
           c.n, c.r, c.w, faults, rk_bucket_policy_name(c.policy),
           rk_sync_policy_name(c.sync), c.no_sloppy ? "no" : "yes");
    print_workload(&c);
    if (c.break_sibling_merge) {
        printf("break_sibling_merge: yes (test only)\n");
    }
    if (c.break_clean_stop) {
        printf("break_clean_stop: yes (test only)\n");
    }
    if (scenario_path != NULL) {
        printf("scenario: %s\n", scenario_path);
    }
    printf("ops: %" PRIu64 "\n", r.ops);
    printf("reads: %" PRIu64 "\n", r.reads);
    printf("writes: %" PRIu64 "\n", r.writes);
    printf("acked_writes: %" PRIu64 "\n", r.acked_writes);
    printf("indeterminate_writes: %" PRIu64 "\n", r.indeterminate);
    printf("refused_writes: %" PRIu64 "\n", r.refused);
    print_checkers(&c, &r);
    printf("converged: %s\n", r.converged ? "yes" : "no");
    printf("keys_diverged: %" PRIu64 "\n", r.keys_diverged);
    printf("convergence_via: %s\n", c.no_read_repair ? "anti-entropy"
                                    : c.aae ? "hinted-handoff+read-repair+anti-entropy"
                                            : "hinted-handoff+read-repair");
    if (c.reap_grace_ms > 0) {
        printf("reap_grace_ms: %u\n", c.reap_grace_ms);
        printf("tombstones_reaped: %" PRIu64 "\n", r.tombstones_reaped);
        printf("tombstones_left: %" PRIu64 "\n", r.tombstones_left);
    }
    if (c.aae || c.no_read_repair || c.reap_grace_ms > 0) {
        printf("aae_converged: %s\n", r.aae_converged ? "yes" : "no");
        printf("aae_converge_ms: %" PRIu64 "\n", r.aae_converge_ms);
        printf("aae_keys_repaired: %" PRIu64 "\n", r.aae_keys_repaired);
        printf("aae_trees_mismatched: %" PRIu64 "\n", r.aae_trees_mismatched);
    }
    printf("hints_left: %" PRIu64 "\n", r.hints_left);
    printf("hinted_copies_left: %" PRIu64 "\n", r.hinted_copies_left);
    print_share("unavailable_writes", r.indeterminate + r.refused, r.writes);
    print_share("unavailable_reads", r.failed_reads, r.reads);
    print_by_node("writes_by_node", r.writes_by_node, c.nodes);
    print_by_node("unavailable_writes_by_node", r.unavailable_writes_by_node, c.nodes);
    print_by_node("peer_down_by_node", r.peer_down_by_node, c.nodes);
    if (scenario_path != NULL) {
        printf("scenario_steps: %" PRIu64 "\n", r.scenario_steps);
    }
    if (r.membership) {
        printf("membership_changes: joins=%" PRIu64 " leaves=%" PRIu64 " transfer_crashes=%" PRIu64
               " commits_lost=%" PRIu64 "\n", r.joins, r.leaves, r.transfer_crashes,
               r.commits_lost);
        printf("members_final: %" PRIu64 "\n", r.members_final);
        printf("ring_version_final: %" PRIu64 "\n", r.ring_version_final);
        printf("members_converged: %s\n", r.members_converged ? "yes" : "no");
        printf("transfers_left: %" PRIu64 "\n", r.transfers_left);
    }
    printf("faults_injected: crashes=%" PRIu64 " clean_stops=%" PRIu64 " partitions=%" PRIu64
           " pauses=%" PRIu64 "\n",
           r.crashes, r.clean_stops, r.partitions, r.pauses);
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
