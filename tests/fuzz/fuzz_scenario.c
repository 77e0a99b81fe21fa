/* fuzz_scenario.c — the simulator's scenario parser (src/sim/scenario.h) on any bytes: it
 * accepts or refuses with a `name:LINE:` message and never crashes, leaks or reads past the
 * input (the input is not NUL-terminated); an accepted schedule stays within the step limit
 * and parses the same a second time. The first byte picks the node count (1 to 16). Seeds:
 * tests/sim/scenarios. */
#define FUZZ_NAME "fuzz_scenario"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/sim/scenario.h"
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint32_t nodes = 1u + data[0] % 16u;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    rk_sim_scenario *s = NULL;
    int rc = rk_sim_scenario_parse("fuzz.scn", text, len, nodes, &s, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(s == NULL);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        FUZZ_CHECK(strncmp(err, "fuzz.scn", 8) == 0);
        return 0;
    }
    FUZZ_CHECK(s != NULL);
    uint32_t steps = rk_sim_scenario_step_count(s);
    FUZZ_CHECK(steps <= RK_SIM_SCENARIO_STEPS_MAX);
    FUZZ_CHECK(rk_sim_scenario_nodes(s) == nodes);
    rk_sim_scenario *again = NULL;
    FUZZ_CHECK(rk_sim_scenario_parse("fuzz.scn", text, len, nodes, &again, err, sizeof(err)) ==
               0);
    FUZZ_CHECK(rk_sim_scenario_step_count(again) == steps);
    rk_sim_scenario_free(again);
    rk_sim_scenario_free(s);
    return 0;
}
