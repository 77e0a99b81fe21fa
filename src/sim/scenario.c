/* scenario.c — scripted fault schedules (scenario.h): the parser, which reads a whole file into
 * steps before anything runs and refuses bad input with `FILE:LINE: what`, and the execution of
 * each step as a SIM_EV_SCENARIO event at its time. Steps at one time run in file order (the
 * event queue breaks ties by insertion). The verbs act through the same world and network
 * helpers as the random faults (world.c, net.c), so a scripted crash is exactly a random one.
 * A step that finds nothing to do (crash a node that is down, resume one that is not paused)
 * does nothing, since under --faults a random fault may have got there first. */
#include "scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define SCENARIO_ARGS_MAX 32u /* tokens after the verb; more is refused, not truncated */
#define SCENARIO_RETRY_MS 100u      /* a join or leave waits this long while a plan moves ... */
#define SCENARIO_RETRIES_MAX 3000u  /* ... five simulated minutes at most */

typedef enum scenario_verb {
    SCENARIO_PARTITION = 1,
    SCENARIO_CUT = 2,
    SCENARIO_HEAL = 3,
    SCENARIO_CRASH = 4,
    SCENARIO_RESTART = 5,
    SCENARIO_PAUSE = 6,
    SCENARIO_RESUME = 7,
    SCENARIO_SKEW = 8,
    SCENARIO_JOIN = 9,
    SCENARIO_LEAVE = 10,
} scenario_verb;

/* One step. Only the fields of its verb mean anything; the rest stay zero. */
typedef struct scenario_step {
    uint64_t at_ms;
    uint32_t line;
    uint8_t verb;
    uint32_t node; /* index (node id - 1) */
    int64_t skew_ms;
    uint16_t from_mask;               /* cut: senders ... */
    uint16_t to_mask;                 /* ... whose messages to these are lost */
    uint32_t group[RK_SIM_NODES_MAX]; /* partition: each node index's group */
} scenario_step;

struct rk_sim_scenario {
    uint32_t nodes;
    uint32_t step_count;
    uint32_t step_cap;
    scenario_step *steps;
};

static const struct {
    const char *name;
    uint8_t verb;
    uint8_t arg_count; /* partition and cut: the rest of the line, spaces dropped */
    const char *usage;
} scenario_verbs[] = {
    {"partition", SCENARIO_PARTITION, 1, "partition 1,2|3,4,5"},
    {"cut", SCENARIO_CUT, 1, "cut 1,2->3"},
    {"heal", SCENARIO_HEAL, 0, "heal"},
    {"crash", SCENARIO_CRASH, 1, "crash N"},
    {"restart", SCENARIO_RESTART, 1, "restart N"},
    {"pause", SCENARIO_PAUSE, 1, "pause N"},
    {"resume", SCENARIO_RESUME, 1, "resume N"},
    {"skew", SCENARIO_SKEW, 2, "skew N +-MS"},
    {"join", SCENARIO_JOIN, 1, "join N"},
    {"leave", SCENARIO_LEAVE, 1, "leave N"},
};
#define SCENARIO_VERB_COUNT (sizeof(scenario_verbs) / sizeof(scenario_verbs[0]))

/* ---- parsing -------------------------------------------------------------------------------- */

typedef struct scenario_parser {
    const char *name;
    uint32_t line;
    uint32_t nodes;
    char *err;
    size_t err_size;
} scenario_parser;

/* Write `name:line: what` into the parser's err and return rc. */
static int scenario_fail(const scenario_parser *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int scenario_fail(const scenario_parser *p, int rc, const char *fmt, ...)
{
    int used = snprintf(p->err, p->err_size, "%s:%u: ", p->name, p->line);
    if (used >= 0 && (size_t)used < p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + used, p->err_size - (size_t)used, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Decimal digits only, at most `max`. */
static bool scenario_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*text == '\0') {
        return false;
    }
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(*c - '0');
        if (v > (max - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* A node id, 1..nodes; writes its index. */
static int scenario_parse_node(const scenario_parser *p, const char *text, uint32_t *index_out)
{
    uint64_t id = 0;
    if (!scenario_parse_u64(text, UINT32_MAX, &id)) {
        return scenario_fail(p, RK_EINVAL, "node \"%s\" is not a node id (1..%u)", text, p->nodes);
    }
    if (id == 0 || id > p->nodes) {
        return scenario_fail(p, RK_EINVAL, "node %" PRIu64 " is out of range (nodes are 1..%u)", id,
                             p->nodes);
    }
    *index_out = (uint32_t)(id - 1);
    return 0;
}

/* A comma list of node ids, `len` bytes of `text`, into a mask of indices. `whole` is the
 * argument it came from, for messages. */
static int scenario_parse_nodes(const scenario_parser *p, const char *text, size_t len,
                                const char *whole, uint16_t *mask_out)
{
    char id[RK_SIM_SCENARIO_LINE_BYTES_MAX + 1]; /* an entry is shorter than its line */
    uint16_t mask = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ',') {
            continue;
        }
        if (i == start) {
            return scenario_fail(p, RK_EINVAL, "\"%s\": a node list with an empty entry", whole);
        }
        memcpy(id, text + start, i - start);
        id[i - start] = '\0';
        uint32_t index = 0;
        int rc = scenario_parse_node(p, id, &index);
        if (rc != 0) {
            return rc;
        }
        if ((mask & (1u << index)) != 0) {
            return scenario_fail(p, RK_EINVAL, "\"%s\": node %u is named twice", whole, index + 1);
        }
        mask |= (uint16_t)(1u << index);
        start = i + 1;
    }
    *mask_out = mask;
    return 0;
}

/* `1,2|3,4,5`: groups 0, 1, ... in order; nodes named nowhere form one more group together. */
static int scenario_parse_partition(const scenario_parser *p, const char *arg, scenario_step *st)
{
    uint16_t seen = 0;
    uint32_t group_count = 0;
    const char *c = arg;
    for (;;) {
        size_t len = strcspn(c, "|");
        uint16_t mask = 0;
        int rc = scenario_parse_nodes(p, c, len, arg, &mask);
        if (rc != 0) {
            return rc;
        }
        if ((seen & mask) != 0) {
            return scenario_fail(p, RK_EINVAL, "\"%s\": node %d is in two groups", arg,
                                 __builtin_ctz(seen & mask) + 1);
        }
        seen |= mask;
        for (uint32_t i = 0; i < p->nodes; i++) {
            st->group[i] = (mask & (1u << i)) != 0 ? group_count : st->group[i];
        }
        group_count++;
        if (c[len] == '\0') {
            break;
        }
        c += len + 1;
    }
    bool rest = false;
    for (uint32_t i = 0; i < p->nodes; i++) {
        if ((seen & (1u << i)) == 0) {
            st->group[i] = group_count;
            rest = true;
        }
    }
    if (group_count + (rest ? 1u : 0u) < 2) {
        return scenario_fail(p, RK_EINVAL, "\"%s\" puts every node in one group", arg);
    }
    return 0;
}

/* `1,2->3`: what 1 and 2 send to 3 is lost. */
static int scenario_parse_cut(const scenario_parser *p, const char *arg, scenario_step *st)
{
    const char *arrow = strstr(arg, "->");
    if (arrow == NULL || strstr(arrow + 2, "->") != NULL) {
        return scenario_fail(p, RK_EINVAL, "\"%s\": expected one arrow, as in \"cut 1,2->3\"", arg);
    }
    int rc = scenario_parse_nodes(p, arg, (size_t)(arrow - arg), arg, &st->from_mask);
    if (rc == 0) {
        rc = scenario_parse_nodes(p, arrow + 2, strlen(arrow + 2), arg, &st->to_mask);
    }
    if (rc != 0) {
        return rc;
    }
    if ((st->from_mask & st->to_mask) != 0) {
        return scenario_fail(p, RK_EINVAL, "\"%s\": node %d is on both sides", arg,
                             __builtin_ctz(st->from_mask & st->to_mask) + 1);
    }
    return 0;
}

/* `+250`, `-250` or `250` ms. */
static int scenario_parse_skew(const scenario_parser *p, const char *arg, scenario_step *st)
{
    bool negative = arg[0] == '-';
    const char *digits = arg[0] == '-' || arg[0] == '+' ? arg + 1 : arg;
    uint64_t ms = 0;
    if (!scenario_parse_u64(digits, RK_SIM_SCENARIO_SKEW_MS_MAX, &ms)) {
        return scenario_fail(p, RK_EINVAL, "skew \"%s\": expected +-MS within +-%u ms", arg,
                             RK_SIM_SCENARIO_SKEW_MS_MAX);
    }
    st->skew_ms = negative ? -(int64_t)ms : (int64_t)ms;
    return 0;
}

static int scenario_parse_args(const scenario_parser *p, char **args, scenario_step *st)
{
    switch ((scenario_verb)st->verb) {
    case SCENARIO_PARTITION:
        return scenario_parse_partition(p, args[0], st);
    case SCENARIO_CUT:
        return scenario_parse_cut(p, args[0], st);
    case SCENARIO_HEAL:
        return 0;
    case SCENARIO_SKEW: {
        int rc = scenario_parse_node(p, args[0], &st->node);
        return rc != 0 ? rc : scenario_parse_skew(p, args[1], st);
    }
    default:
        return scenario_parse_node(p, args[0], &st->node);
    }
}

/* Split `line` in place into whitespace-separated tokens; returns their count, or one more
 * than `max` when there are more. */
static uint32_t scenario_tokenize(char *line, char **tokens, uint32_t max)
{
    uint32_t count = 0;
    char *c = line;
    for (;;) {
        c += strspn(c, " \t\r");
        if (*c == '\0') {
            return count;
        }
        if (count == max) {
            return max + 1;
        }
        tokens[count++] = c;
        c += strcspn(c, " \t\r");
        if (*c != '\0') {
            *c++ = '\0';
        }
    }
}

/* partition and cut take the rest of the line as one argument, so `1,2 | 3` reads as `1,2|3`:
 * join tokens[0..count) into tokens[0]. */
static void scenario_join_tokens(char **tokens, uint32_t count)
{
    char *out = tokens[0] + strlen(tokens[0]);
    for (uint32_t i = 1; i < count; i++) {
        size_t len = strlen(tokens[i]);
        memmove(out, tokens[i], len);
        out += len;
    }
    *out = '\0';
}

static int scenario_find_verb(const scenario_parser *p, const char *name, uint32_t *out)
{
    for (uint32_t i = 0; i < SCENARIO_VERB_COUNT; i++) {
        if (strcmp(scenario_verbs[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    }
    static const char expected[] =
        "partition, cut, heal, crash, restart, pause, resume, skew, join or leave";
    return scenario_fail(p, RK_EINVAL, "unknown verb \"%s\" (expected %s)", name, expected);
}

static int scenario_push(const scenario_parser *p, rk_sim_scenario *s, const scenario_step *st)
{
    /* A node joins once: it starts alone, and an id that left never joins again. */
    for (uint32_t i = 0; st->verb == SCENARIO_JOIN && i < s->step_count; i++) {
        if (s->steps[i].verb == SCENARIO_JOIN && s->steps[i].node == st->node) {
            return scenario_fail(p, RK_EINVAL, "join %u: node %u joins already at line %u",
                                 st->node + 1, st->node + 1, s->steps[i].line);
        }
    }
    if (s->step_count == RK_SIM_SCENARIO_STEPS_MAX) {
        return scenario_fail(p, RK_ETOOBIG, "one step too many (a scenario holds at most %u)",
                             RK_SIM_SCENARIO_STEPS_MAX);
    }
    if (s->step_count == s->step_cap) {
        uint32_t cap = s->step_cap == 0 ? 64 : s->step_cap * 2;
        scenario_step *grown = realloc(s->steps, cap * sizeof(*grown));
        if (grown == NULL) {
            return scenario_fail(p, RK_ENOMEM, "out of memory");
        }
        s->steps = grown;
        s->step_cap = cap;
    }
    s->steps[s->step_count++] = *st;
    return 0;
}

/* One line, NUL-terminated in `line` (which it changes). Appends a step unless it is blank. */
static int scenario_parse_line(const scenario_parser *p, rk_sim_scenario *s, char *line)
{
    char *tokens[2 + SCENARIO_ARGS_MAX];
    line[strcspn(line, "#")] = '\0';
    uint32_t count = scenario_tokenize(line, tokens, 2 + SCENARIO_ARGS_MAX);
    if (count == 0) {
        return 0;
    }
    if (count > 2 + SCENARIO_ARGS_MAX) {
        return scenario_fail(p, RK_EINVAL, "too many arguments (a step is AT_MS VERB ARGS)");
    }
    scenario_step st;
    memset(&st, 0, sizeof(st));
    st.line = p->line;
    if (!scenario_parse_u64(tokens[0], RK_SIM_SCENARIO_AT_MS_MAX, &st.at_ms)) {
        return scenario_fail(p, RK_EINVAL, "time \"%s\": expected AT_MS, 0..%u", tokens[0],
                             RK_SIM_SCENARIO_AT_MS_MAX);
    }
    if (s->step_count > 0 && st.at_ms < s->steps[s->step_count - 1].at_ms) {
        return scenario_fail(p, RK_EINVAL,
                             "time %" PRIu64 " is before the previous step's %" PRIu64
                             " (steps go in time order)",
                             st.at_ms, s->steps[s->step_count - 1].at_ms);
    }
    if (count < 2) {
        return scenario_fail(p, RK_EINVAL, "a time and no verb");
    }
    uint32_t verb = 0;
    int rc = scenario_find_verb(p, tokens[1], &verb);
    if (rc != 0) {
        return rc;
    }
    st.verb = scenario_verbs[verb].verb;
    uint32_t arg_count = count - 2;
    if ((st.verb == SCENARIO_PARTITION || st.verb == SCENARIO_CUT) && arg_count > 1) {
        scenario_join_tokens(tokens + 2, arg_count);
        arg_count = 1;
    }
    if (arg_count != scenario_verbs[verb].arg_count) {
        return scenario_fail(p, RK_EINVAL, "%s: expected \"AT_MS %s\"", tokens[1],
                             scenario_verbs[verb].usage);
    }
    rc = scenario_parse_args(p, tokens + 2, &st);
    return rc != 0 ? rc : scenario_push(p, s, &st);
}

/* The line holding byte `offset` of text, 1-based. */
static uint32_t scenario_line_at(const char *text, size_t offset)
{
    uint32_t line = 1;
    for (size_t i = 0; i < offset; i++) {
        line += text[i] == '\n';
    }
    return line;
}

static int scenario_parse_text(scenario_parser *p, rk_sim_scenario *s, const char *text, size_t len)
{
    char line[RK_SIM_SCENARIO_LINE_BYTES_MAX + 1];
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        p->line++;
        if (end - start > RK_SIM_SCENARIO_LINE_BYTES_MAX) {
            return scenario_fail(p, RK_EINVAL, "line is %zu bytes; a line holds at most %u",
                                 end - start, RK_SIM_SCENARIO_LINE_BYTES_MAX);
        }
        if (memchr(text + start, '\0', end - start) != NULL) {
            return scenario_fail(p, RK_EINVAL, "a NUL byte (not a text file?)");
        }
        memcpy(line, text + start, end - start);
        line[end - start] = '\0';
        int rc = scenario_parse_line(p, s, line);
        if (rc != 0) {
            return rc;
        }
        start = end + 1;
    }
    return 0;
}

int rk_sim_scenario_parse(const char *name, const char *text, size_t len, uint32_t nodes,
                          rk_sim_scenario **out, char *err, size_t err_size)
{
    RK_ASSERT(nodes > 0);
    RK_ASSERT(nodes <= RK_SIM_NODES_MAX);
    scenario_parser p = {.name = name, .line = 0, .nodes = nodes, .err = err, .err_size = err_size};
    if (len > RK_SIM_SCENARIO_BYTES_MAX) {
        p.line = scenario_line_at(text, RK_SIM_SCENARIO_BYTES_MAX);
        return scenario_fail(&p, RK_ETOOBIG,
                             "the file passes %u bytes, the most a scenario "
                             "may hold",
                             RK_SIM_SCENARIO_BYTES_MAX);
    }
    rk_sim_scenario *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return scenario_fail(&p, RK_ENOMEM, "out of memory");
    }
    s->nodes = nodes;
    int rc = scenario_parse_text(&p, s, text, len);
    if (rc != 0) {
        rk_sim_scenario_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int rk_sim_scenario_load(const char *path, uint32_t nodes, rk_sim_scenario **out, char *err,
                         size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return RK_EIO;
    }
    /* One byte past the limit is enough to know the file is over it. */
    char *text = malloc(RK_SIM_SCENARIO_BYTES_MAX + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(err, err_size, "%s: out of memory", path);
        return RK_ENOMEM;
    }
    size_t len = fread(text, 1, RK_SIM_SCENARIO_BYTES_MAX + 1, f);
    int rc = 0;
    if (ferror(f)) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        rc = RK_EIO;
    } else {
        rc = rk_sim_scenario_parse(path, text, len, nodes, out, err, err_size);
    }
    free(text);
    fclose(f);
    return rc;
}

void rk_sim_scenario_free(rk_sim_scenario *s)
{
    if (s == NULL) {
        return;
    }
    free(s->steps);
    free(s);
}

uint32_t rk_sim_scenario_step_count(const rk_sim_scenario *s)
{
    return s->step_count;
}

uint32_t rk_sim_scenario_nodes(const rk_sim_scenario *s)
{
    return s->nodes;
}

/* ---- running -------------------------------------------------------------------------------- */

void sim_scenario_start(sim_world *w)
{
    const rk_sim_scenario *s = w->cfg.scenario;
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->step_count; i++) {
        sim_event *e = sim_event_new(w, SIM_EV_SCENARIO, s->steps[i].at_ms);
        e->a = i;
        e->b = s->steps[i].verb;
        e->tag = 0;
        sim_schedule(w, e);
    }
}

bool sim_scenario_done(const sim_world *w)
{
    return w->cfg.scenario == NULL || w->res.scenario_steps == w->cfg.scenario->step_count;
}

uint32_t sim_scenario_faults(const sim_world *w)
{
    static const uint32_t fault_of_verb[] = {
        [SCENARIO_PARTITION] = RK_SIM_FAULT_PARTITION, [SCENARIO_CUT] = RK_SIM_FAULT_PARTITION,
        [SCENARIO_CRASH] = RK_SIM_FAULT_CRASH,         [SCENARIO_PAUSE] = RK_SIM_FAULT_PAUSE,
        [SCENARIO_SKEW] = RK_SIM_FAULT_SKEW,           [SCENARIO_JOIN] = RK_SIM_FAULT_MEMBERSHIP,
        [SCENARIO_LEAVE] = RK_SIM_FAULT_MEMBERSHIP,
    };
    const rk_sim_scenario *s = w->cfg.scenario;
    uint32_t mask = 0;
    for (uint32_t i = 0; s != NULL && i < s->step_count; i++) {
        uint8_t verb = s->steps[i].verb;
        mask |= verb < sizeof(fault_of_verb) / sizeof(fault_of_verb[0]) ? fault_of_verb[verb] : 0;
    }
    return mask;
}

uint32_t sim_scenario_join_mask(const sim_world *w)
{
    const rk_sim_scenario *s = w->cfg.scenario;
    uint32_t mask = 0;
    for (uint32_t i = 0; s != NULL && i < s->step_count; i++) {
        mask |= s->steps[i].verb == SCENARIO_JOIN ? 1u << s->steps[i].node : 0u;
    }
    return mask;
}

bool sim_scenario_has_leave(const sim_world *w)
{
    const rk_sim_scenario *s = w->cfg.scenario;
    for (uint32_t i = 0; s != NULL && i < s->step_count; i++) {
        if (s->steps[i].verb == SCENARIO_LEAVE) {
            return true;
        }
    }
    return false;
}

/* join and leave: a change refused while a plan moves (or the joiner is down) is tried again
 * SCENARIO_RETRY_MS later, up to SCENARIO_RETRIES_MAX times; the step counts as run once it
 * committed or was refused for good. False while it waits. */
static bool scenario_membership_step(sim_world *w, sim_event *e, const scenario_step *st)
{
    int rc = st->verb == SCENARIO_JOIN ? sim_membership_join(w, st->node)
                                       : sim_membership_leave(w, st->node);
    if (rc == RK_EBUSY && e->inc < SCENARIO_RETRIES_MAX) {
        sim_event *again = sim_event_new(w, SIM_EV_SCENARIO, w->now_ms + SCENARIO_RETRY_MS);
        again->a = e->a;
        again->b = e->b;
        again->inc = e->inc + 1;
        again->tag = 0;
        sim_schedule(w, again);
        return false;
    }
    if (rc != 0) {
        fprintf(stderr, "ringkv-sim: scenario line %u: %s %u not done: %s\n", st->line,
                st->verb == SCENARIO_JOIN ? "join" : "leave", st->node + 1, rk_strerror(rc));
    }
    return true;
}

void sim_scenario_on_step(sim_world *w, sim_event *e)
{
    const rk_sim_scenario *s = w->cfg.scenario;
    RK_ASSERT(s != NULL);
    RK_ASSERT(e->a < s->step_count);
    const scenario_step *st = &s->steps[e->a];
    sim_node *sn = &w->nodes[st->node];
    /* The arguments join the trace, so two files that differ only in them differ in hash. */
    sim_trace_u64(w, ((uint64_t)st->node << 32) | ((uint64_t)st->from_mask << 16) | st->to_mask);
    sim_trace_u64(w, (uint64_t)st->skew_ms);
    RK_ASSERT(scenario_verbs[st->verb - 1].verb == st->verb);
    if (w->cfg.trace) {
        fprintf(stderr, "%8" PRIu64 " scenario line %u: %s\n", w->now_ms, st->line,
                scenario_verbs[st->verb - 1].name);
    }
    switch ((scenario_verb)st->verb) {
    case SCENARIO_PARTITION:
        sim_partition_set(w, st->group);
        break;
    case SCENARIO_CUT:
        sim_cut_add(w, st->from_mask, st->to_mask);
        break;
    case SCENARIO_HEAL:
        sim_net_heal(w);
        break;
    case SCENARIO_CRASH:
        if (sn->node != NULL) {
            sim_node_crash(w, sn);
        }
        break;
    case SCENARIO_RESTART:
        if (sn->node == NULL) {
            sim_node_restart(w, sn);
        }
        break;
    case SCENARIO_PAUSE:
        if (sn->node != NULL && !sn->paused) {
            sim_node_pause(w, sn);
        }
        break;
    case SCENARIO_RESUME:
        if (sn->node != NULL && sn->paused) {
            sim_node_resume(w, sn);
        }
        break;
    case SCENARIO_SKEW:
        sn->skew_us = st->skew_ms * 1000;
        break;
    case SCENARIO_JOIN:
    case SCENARIO_LEAVE:
        if (!scenario_membership_step(w, e, st)) {
            return;
        }
        break;
    }
    w->res.scenario_steps++;
}
