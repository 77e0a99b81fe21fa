/* test_seed.h — the seeded randomness of property tests: one xorshift64* stream per test, its
 * seed printed so a failure replays with RK_SEED=<n> (STYLE.md, "Property"). Header-only: each
 * test file is its own program. Include after <cmocka.h>. */
#ifndef RK_TEST_SEED_H
#define RK_TEST_SEED_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* xorshift64*: small, seedable, plenty to shake parsers and pick member sets. */
static inline uint64_t test_rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* RK_SEED from the environment, or a fresh one; printed as "<what>: RK_SEED=<n>". */
static inline uint64_t test_seed(const char *what)
{
    const char *env = getenv("RK_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    if (seed == 0) {
        seed = 1;
    }
    print_message("%s: RK_SEED=%llu\n", what, (unsigned long long)seed);
    return seed;
}

#endif
