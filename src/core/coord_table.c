/* coord_table.c — coordinator slots, generations and deadlines (coord_table.h). */
#include "coord_table.h"

#include <stdlib.h>
#include <string.h>

#define COORD_SLOT_NONE RK_COORD_INFLIGHT_MAX

void rk_coord_table_init(rk_coord_table *t, const rk_env *env, uint32_t timeout_ms,
                         uint64_t run)
{
    memset(t, 0, sizeof(*t));
    t->env = env;
    t->timeout_ms = timeout_ms;
    t->run = run;
    for (uint32_t i = 0; i < RK_COORD_INFLIGHT_MAX; i++) {
        t->free_next[i] = (uint16_t)(i + 1 < RK_COORD_INFLIGHT_MAX ? i + 1 : 0);
    }
    t->free_head = 0;
}

void rk_coord_table_deinit(rk_coord_table *t, void (*deinit)(rk_coord *c))
{
    for (uint32_t i = 0; i < RK_COORD_INFLIGHT_MAX; i++) {
        if (t->slots[i] != NULL) {
            deinit(t->slots[i]);
            rk_coord_table_free(t, t->slots[i]);
        }
    }
    RK_ASSERT(t->count == 0);
}

rk_coord *rk_coord_table_new(rk_coord_table *t, rk_coord_kind kind, size_t bytes)
{
    RK_ASSERT(bytes >= sizeof(rk_coord));
    if (t->count >= RK_COORD_INFLIGHT_MAX) {
        return NULL;
    }
    uint32_t slot = t->free_head;
    RK_ASSERT(slot < RK_COORD_INFLIGHT_MAX);
    RK_ASSERT(t->slots[slot] == NULL);
    rk_coord *c = calloc(1, bytes);
    if (c == NULL) {
        return NULL;
    }
    t->count++;
    t->free_head = t->count < RK_COORD_INFLIGHT_MAX ? t->free_next[slot] : COORD_SLOT_NONE;
    t->generation[slot]++;
    /* The run in the top bits keeps ids unique across restarts (clock.h): a peer that
     * remembers a forwarded request id (fwd_seen.h) never mistakes a new one for it, and a late
     * answer to the last run never reaches this one. */
    c->id = ((t->run & 0xffffu) << 48) | ((uint64_t)t->generation[slot] << 16) | slot;
    c->kind = kind;
    t->slots[slot] = c;
    return c;
}

static void coord_table_unlink(rk_coord_table *t, rk_coord *c)
{
    if (!c->armed) {
        return;
    }
    if (c->armed_prev != NULL) {
        c->armed_prev->armed_next = c->armed_next;
    } else {
        t->armed_head = c->armed_next;
    }
    if (c->armed_next != NULL) {
        c->armed_next->armed_prev = c->armed_prev;
    } else {
        t->armed_tail = c->armed_prev;
    }
    c->armed = false;
    c->armed_prev = NULL;
    c->armed_next = NULL;
}

void rk_coord_table_free(rk_coord_table *t, rk_coord *c)
{
    uint32_t slot = (uint32_t)(c->id & 0xffffu);
    RK_ASSERT(slot < RK_COORD_INFLIGHT_MAX);
    RK_ASSERT(t->slots[slot] == c);
    RK_ASSERT(t->count > 0);
    coord_table_unlink(t, c);
    t->slots[slot] = NULL;
    t->free_next[slot] = (uint16_t)(t->free_head < RK_COORD_INFLIGHT_MAX ? t->free_head : 0);
    t->free_head = slot;
    t->count--;
    free(c);
}

rk_coord *rk_coord_table_find(const rk_coord_table *t, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & 0xffffu);
    if (slot >= RK_COORD_INFLIGHT_MAX || t->slots[slot] == NULL) {
        return NULL;
    }
    rk_coord *c = t->slots[slot];
    return c->id == id ? c : NULL;
}

uint32_t rk_coord_table_count(const rk_coord_table *t)
{
    return t->count;
}

static void coord_table_set_timer(rk_coord_table *t)
{
    if (t->armed_head != NULL && !t->timer_set) {
        t->timer_set = true;
        t->env->set_timer(t->env->ctx, t->armed_head->deadline_ms, RK_TIMER_DEADLINES);
    }
}

void rk_coord_table_arm(rk_coord_table *t, rk_coord *c)
{
    RK_ASSERT(!c->armed);
    c->deadline_ms = t->env->now_ms(t->env->ctx) + t->timeout_ms;
    /* The same timeout for all keeps the list sorted by appending. */
    RK_ASSERT(t->armed_tail == NULL || t->armed_tail->deadline_ms <= c->deadline_ms);
    c->armed = true;
    c->armed_prev = t->armed_tail;
    if (t->armed_tail != NULL) {
        t->armed_tail->armed_next = c;
    } else {
        t->armed_head = c;
    }
    t->armed_tail = c;
    coord_table_set_timer(t);
}

void rk_coord_table_on_timer(rk_coord_table *t)
{
    t->timer_set = false;
}

rk_coord *rk_coord_table_due(rk_coord_table *t)
{
    uint64_t now_ms = t->env->now_ms(t->env->ctx);
    if (t->armed_head != NULL && t->armed_head->deadline_ms <= now_ms) {
        return t->armed_head;
    }
    coord_table_set_timer(t);
    return NULL;
}
