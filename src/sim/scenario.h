/* scenario.h — scripted fault schedules for the simulator: `ringkv-sim --scenario FILE` replays
 * a chosen schedule exactly, beside (or instead of) the random faults of world.c. A file holds
 * one step per line, `AT_MS VERB ARGS`, blank lines and `#` comments allowed:
 *
 *   partition 1,2|3,4,5   nodes in different groups cannot talk (unlisted nodes: one more group)
 *   cut 1,2->3            one way: what 1 and 2 send to 3 is lost; 3 still reaches 1 and 2
 *   heal                  every partition and cut ends
 *   crash N, restart N    as the crash fault: unsynced writes vanish
 *   pause N, resume N     as the pause fault
 *   skew N +-MS           node N's wall clock runs MS ms ahead (+) or behind (-)
 *   join N                node N (which starts alone, a spare) joins through node 1's metadata
 *                         and the plan is committed (retried while another plan moves)
 *   leave N               node N's leave is staged and committed (retried likewise)
 *
 * The whole file is parsed before anything runs; bad input is refused with `FILE:LINE: what`
 * (docs/simulator.md, "Scenarios"). The idea is Jepsen's nemesis schedules and FoundationDB's
 * test specifications, kept to what one line can say. Owns the parsed steps; the simulator
 * borrows them for a run (rk_sim_config.scenario) and never changes them. */
#ifndef RK_SIM_SCENARIO_H
#define RK_SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define RK_SIM_SCENARIO_BYTES_MAX 65536u    /* a schedule, not a data file: 64 KiB is ~3000 steps */
#define RK_SIM_SCENARIO_STEPS_MAX 4096u     /* steps live in one array, scheduled at start */
#define RK_SIM_SCENARIO_LINE_BYTES_MAX 256u /* a line is copied into a stack buffer */
#define RK_SIM_SCENARIO_AT_MS_MAX 3600000u  /* one simulated hour; runs last seconds */
#define RK_SIM_SCENARIO_SKEW_MS_MAX 60000u  /* a minute: far past any NTP error */

typedef struct rk_sim_scenario rk_sim_scenario;

/* Parse `text` (len bytes, no terminator needed) for a cluster of `nodes` nodes; `name` is the
 * file name used in messages. Returns 0 and *out (owned: rk_sim_scenario_free), or RK_EINVAL
 * with `name:LINE: what` written into err, RK_ETOOBIG past
 * RK_SIM_SCENARIO_BYTES_MAX or RK_SIM_SCENARIO_STEPS_MAX, or RK_ENOMEM. Nothing is kept on
 * error. */
int rk_sim_scenario_parse(const char *name, const char *text, size_t len, uint32_t nodes,
                          rk_sim_scenario **out, char *err, size_t err_size);

/* Read the file at `path` (at most RK_SIM_SCENARIO_BYTES_MAX bytes) and parse it as above; a
 * file that cannot be read is RK_EIO with the OS's reason in err. */
int rk_sim_scenario_load(const char *path, uint32_t nodes, rk_sim_scenario **out, char *err,
                         size_t err_size);

void rk_sim_scenario_free(rk_sim_scenario *s);

uint32_t rk_sim_scenario_step_count(const rk_sim_scenario *s);
/* The node count the scenario was parsed for; rk_sim_run refuses any other. */
uint32_t rk_sim_scenario_nodes(const rk_sim_scenario *s);

#endif
