/* members.c — the member table (members.h): slots, reachability and suspicion. */
#include "members.h"

#include <string.h>

void rk_members_init(rk_members *t, rk_node_id self, uint32_t suspect_ms)
{
    memset(t, 0, sizeof(*t));
    t->self = self;
    t->suspect_ms = suspect_ms;
}

int rk_members_slot(const rk_members *t, rk_node_id id)
{
    if (id == 0) {
        return -1;
    }
    for (uint32_t i = 0; i < t->slot_end; i++) {
        if (t->slots[i].addr.id == id) {
            return (int)i;
        }
    }
    return -1;
}

const rk_member *rk_members_find(const rk_members *t, rk_node_id id)
{
    int slot = rk_members_slot(t, id);
    return slot < 0 ? NULL : &t->slots[slot];
}

const rk_member *rk_members_at(const rk_members *t, uint32_t slot)
{
    if (slot >= t->slot_end || t->slots[slot].addr.id == 0) {
        return NULL;
    }
    return &t->slots[slot];
}

uint32_t rk_members_ids(const rk_members *t, rk_node_id *out)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < t->slot_end; i++) {
        if (t->slots[i].addr.id != 0) {
            out[count++] = t->slots[i].addr.id;
        }
    }
    RK_ASSERT(count == t->count);
    return count;
}

#ifdef RK_SLOW_ASSERTS
/* O(RK_MEMBERS_MAX): every id once, count and slot_end agree with the slots. */
static bool members_consistent(const rk_members *t)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < RK_MEMBERS_MAX; i++) {
        rk_node_id id = t->slots[i].addr.id;
        if (id == 0) {
            continue;
        }
        if (i >= t->slot_end) {
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (t->slots[j].addr.id == id) {
                return false;
            }
        }
        count++;
    }
    return count == t->count && (t->slot_end == 0 || t->slots[t->slot_end - 1].addr.id != 0);
}
#endif

int rk_members_add(rk_members *t, const rk_member_addr *addr)
{
    if (addr->id == 0 || memchr(addr->host, '\0', sizeof(addr->host)) == NULL ||
        rk_members_slot(t, addr->id) >= 0) {
        return RK_EINVAL;
    }
    if (t->count >= RK_MEMBERS_MAX) {
        return RK_ETOOBIG;
    }
    uint32_t slot = 0;
    while (slot < t->slot_end && t->slots[slot].addr.id != 0) {
        slot++;
    }
    RK_ASSERT(slot < RK_MEMBERS_MAX);
    memset(&t->slots[slot], 0, sizeof(t->slots[slot]));
    t->slots[slot].addr = *addr;
    t->slots[slot].link_up = true;
    t->count++;
    t->generation++;
    if (slot == t->slot_end) {
        t->slot_end++;
    }
    RK_ASSERT(t->count <= t->slot_end);
    RK_ASSERT_SLOW(members_consistent(t));
    return (int)slot;
}

int rk_members_remove(rk_members *t, rk_node_id id)
{
    int slot = rk_members_slot(t, id);
    if (slot < 0 || id == t->self) {
        return RK_ENOTFOUND;
    }
    memset(&t->slots[slot], 0, sizeof(t->slots[slot]));
    t->count--;
    t->generation++;
    while (t->slot_end > 0 && t->slots[t->slot_end - 1].addr.id == 0) {
        t->slot_end--;
    }
    RK_ASSERT(t->count <= t->slot_end);
    RK_ASSERT_SLOW(members_consistent(t));
    return 0;
}

static bool members_suspected_at(const rk_member *m, uint64_t now_ms)
{
    return now_ms < m->suspect_until_ms;
}

bool rk_members_up(const rk_members *t, rk_node_id id, uint64_t now_ms)
{
    if (id == t->self) {
        return true;
    }
    const rk_member *m = rk_members_find(t, id);
    return m != NULL && m->link_up && !members_suspected_at(m, now_ms);
}

bool rk_members_suspected(const rk_members *t, rk_node_id id, uint64_t now_ms)
{
    const rk_member *m = rk_members_find(t, id);
    return m != NULL && id != t->self && members_suspected_at(m, now_ms);
}

bool rk_members_set_link(rk_members *t, rk_node_id id, bool up)
{
    int slot = rk_members_slot(t, id);
    if (slot < 0 || id == t->self) {
        return false;
    }
    t->slots[slot].link_up = up;
    return true;
}

void rk_members_silent(rk_members *t, rk_node_id id, uint64_t now_ms)
{
    int slot = rk_members_slot(t, id);
    if (slot < 0 || id == t->self) {
        return;
    }
    rk_member *m = &t->slots[slot];
    if (m->silent < UINT8_MAX) {
        m->silent++;
    }
    if (m->silent >= RK_MEMBER_SILENT_SUSPECT && !members_suspected_at(m, now_ms)) {
        m->suspect_until_ms = now_ms + t->suspect_ms;
        t->suspected_total++;
    }
}

/* Any message from a peer is a sign of life: it answers, so its requests do not hang. */
bool rk_members_heard(rk_members *t, rk_node_id id)
{
    int slot = rk_members_slot(t, id);
    if (slot < 0) {
        return false;
    }
    t->slots[slot].silent = 0;
    t->slots[slot].suspect_until_ms = 0;
    return true;
}
