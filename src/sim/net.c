/* net.c — the simulated network between nodes. A message is encoded into a wire frame when
 * sent, by the runtime's own codec (src/net/wire.h), so the frame, not the sender's borrowed
 * rk_msg, travels; it is decoded again at delivery and the node gets the decoded rk_msg, as
 * from a peer connection. Every message of every run thus goes through the codec both ways,
 * and a frame the codec refuses is a bug: it asserts. Frames are delivered after a random
 * delay, so messages reorder; under the `loss` fault some are dropped, duplicated or delayed
 * far longer. Links behave like the runtime's TCP connections: a message crossing a
 * partition, or sent by or to an incarnation of a node that has since crashed, is lost. Links
 * are directional, as in the runtime, where a node sends only on its own outbound connection to
 * each peer (src/io/peer.h): a scripted one-way cut (scenario.c) loses what a sends to b while
 * b still reaches a. Each node learns of a change to its own sending side after a fixed
 * detection delay (rk_node_on_peer), as a runtime's failure detector would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net/wire.h"
#include "sim_internal.h"

#define SIM_NET_DELAY_MS_MIN 1u
#define SIM_NET_DELAY_MS_MAX 8u
#define SIM_NET_SLOW_MS_MAX 300u       /* a slow message under `loss` */
#define SIM_NET_DROP_PER_MILLE 50u
#define SIM_NET_DUP_PER_MILLE 30u
#define SIM_NET_SLOW_PER_MILLE 30u
#define SIM_LINK_DETECT_MS 20u         /* a link change is noticed this late */
_Static_assert(RK_SIM_NODES_MAX <= 16, "cut_to_mask is a uint16_t over node indices");

/* One frame in flight: exactly the bytes a runtime would write for the message. */
struct sim_msg {
    size_t frame_bytes;
    uint8_t frame[];
};

static sim_msg *sim_msg_new(const uint8_t *frame, size_t frame_bytes)
{
    sim_msg *sm = malloc(sizeof(*sm) + frame_bytes);
    RK_ASSERT(sm != NULL);
    sm->frame_bytes = frame_bytes;
    memcpy(sm->frame, frame, frame_bytes);
    return sm;
}

void sim_msg_free(sim_msg *m)
{
    free(m);
}

sim_msg *sim_msg_dup(const sim_msg *m)
{
    return sim_msg_new(m->frame, m->frame_bytes);
}

static void sim_trace_msg(sim_world *w, const rk_msg *m)
{
    sim_trace_u64(w, ((uint64_t)m->kind << 32) | (uint32_t)m->status);
    sim_trace_u64(w, m->req_id);
    sim_trace_u64(w, ((uint64_t)m->flags << 32) | m->req_kind);
    sim_trace_u64(w, (uint64_t)m->integer);
    if (m->key_len > 0) {
        sim_trace_bytes(w, m->key, m->key_len);
    }
    if (m->object_len > 0) {
        sim_trace_bytes(w, m->object, m->object_len);
    }
    if (m->value_len > 0) {
        sim_trace_bytes(w, m->value, m->value_len);
    }
}

/* Whether what a sends to b arrives: both up, on one side of any partition, no cut a->b. */
bool sim_link_up(const sim_world *w, uint32_t a, uint32_t b)
{
    const sim_node *x = &w->nodes[a];
    const sim_node *y = &w->nodes[b];
    return x->node != NULL && y->node != NULL && x->group == y->group &&
           (x->cut_to_mask & (1u << b)) == 0;
}

static int sim_node_index(const sim_world *w, rk_node_id id)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (w->nodes[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static void sim_net_enqueue(sim_world *w, sim_node *from, uint32_t to, const rk_msg *m,
                            sim_msg *frame, uint64_t delay_ms)
{
    sim_event *e = sim_event_new(w, SIM_EV_MSG, w->now_ms + delay_ms);
    e->node = to;
    e->inc = w->nodes[to].inc;
    e->from = from->index;
    e->from_inc = from->inc;
    e->a = m->kind;
    e->b = m->req_id;
    e->msg = frame;
    sim_schedule(w, e);
}

static uint64_t sim_net_delay(sim_world *w)
{
    if (w->loss_on && sim_rng_chance(&w->rng, SIM_NET_SLOW_PER_MILLE)) {
        return sim_rng_range(&w->rng, SIM_NET_DELAY_MS_MAX, SIM_NET_SLOW_MS_MAX);
    }
    return sim_rng_range(&w->rng, SIM_NET_DELAY_MS_MIN, SIM_NET_DELAY_MS_MAX);
}

void sim_net_send(sim_world *w, sim_node *from, rk_node_id to, const rk_msg *m)
{
    int index = sim_node_index(w, to);
    w->res.messages++;
    /* An id no slot holds any more: a node that left, whose slot took a fresh id
     * (membership.c). The runtime has no connection to it either. */
    if (index < 0 || !sim_link_up(w, from->index, (uint32_t)index)) {
        return;     /* no connection: the runtime would drop it too */
    }
    if (w->loss_on && sim_rng_chance(&w->rng, SIM_NET_DROP_PER_MILLE)) {
        return;
    }
    /* Encoded once, at send time, as the runtime does: the sender's buffers may be reused as
     * soon as this returns. */
    rk_wire_out out;
    int rc = rk_wire_out_init(&out, NULL);
    RK_ASSERT(rc == 0);
    rc = rk_wire_encode_msg(&out, m);
    if (rc != 0) {
        fprintf(stderr, "ringkv-sim: cannot encode %s: %s\n", rk_wire_kind_name(m->kind),
                out.error);
    }
    RK_ASSERT(rc == 0);
    RK_ASSERT(out.frame_count == 1);
    sim_net_enqueue(w, from, (uint32_t)index, m, sim_msg_new(out.data, out.len),
                    sim_net_delay(w));
    if (w->loss_on && sim_rng_chance(&w->rng, SIM_NET_DUP_PER_MILLE)) {
        sim_net_enqueue(w, from, (uint32_t)index, m, sim_msg_new(out.data, out.len),
                        sim_net_delay(w));
    }
    rk_wire_out_deinit(&out);
}

/* Test only (rk_sim_config.break_sibling_merge): keep only the newest sibling of a PUT_REQ
 * object, history untouched, as a replica that forgot to merge siblings would send it. Points
 * m->object at a new encoding and returns it (free it after delivery), or NULL if unchanged. */
static uint8_t *sim_net_strip_siblings(rk_msg *m)
{
    rk_dvvset set;
    if (m->kind != RK_MSG_PUT_REQ || rk_dvvset_decode(m->object, m->object_len, &set) != 0) {
        return NULL;
    }
    uint8_t *bytes = NULL;
    if (set.sibling_count > 1) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < set.sibling_count; i++) {
            if (set.siblings[i].timestamp_us >= set.siblings[best].timestamp_us) {
                best = i;
            }
        }
        for (uint32_t i = 0; i < set.sibling_count; i++) {
            if (i != best) {
                free(set.siblings[i].value);
            }
        }
        set.siblings[0] = set.siblings[best];
        set.sibling_count = 1;
        size_t len = rk_dvvset_encoded_len(&set);
        bytes = malloc(len);
        RK_ASSERT(bytes != NULL);
        rk_dvvset_encode(&set, bytes);
        m->object = bytes;
        m->object_len = len;
    }
    rk_dvvset_deinit(&set);
    return bytes;
}

/* The frame of a message event, decoded as a peer connection would: a frame this codec wrote
 * must come back, whole, as a core message. Returns an owned decode (rk_wire_in_deinit). */
static void sim_net_decode(const sim_msg *sm, rk_wire_in *in)
{
    rk_wire_decoder d;
    int rc = rk_wire_decoder_init(&d, NULL);
    RK_ASSERT(rc == 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    rc = rk_wire_decode_frame(&d, sm->frame, sm->frame_bytes, &frame, &consumed);
    if (rc == 1) {
        rc = rk_wire_decode(&d, &frame, in);
    }
    if (rc != 0) {
        fprintf(stderr, "ringkv-sim: a frame in flight does not decode: %s\n", d.error);
    }
    RK_ASSERT(rc == 0);
    RK_ASSERT(consumed == sm->frame_bytes);
    RK_ASSERT(in->ctl.type == RK_WIRE_MSG);
}

/* A message event reached its node, which is up and not paused (world.c checked). */
void sim_net_deliver(sim_world *w, sim_event *e)
{
    sim_node *to = &w->nodes[e->node];
    sim_node *from = &w->nodes[e->from];
    /* The connection it travelled on broke meanwhile: lost, as on TCP. */
    if (from->inc != e->from_inc || to->inc != e->inc || !sim_link_up(w, e->from, e->node)) {
        return;
    }
    rk_wire_in in;
    sim_net_decode(e->msg, &in);
    RK_ASSERT(in.msg.kind == e->a);
    RK_ASSERT(in.msg.req_id == e->b);
    uint8_t *stripped = w->cfg.break_sibling_merge ? sim_net_strip_siblings(&in.msg) : NULL;
    sim_trace_msg(w, &in.msg);
    rk_node_on_message(to->node, from->id, &in.msg);
    free(stripped);
    rk_wire_in_deinit(&in);
}

/* Every node learns each link's state SIM_LINK_DETECT_MS after a change; the event carries no
 * state, it reads the truth when it fires, so changes in quick succession cannot arrive out of
 * order. */
void sim_links_changed(sim_world *w)
{
    for (uint32_t a = 0; a < w->cfg.nodes; a++) {
        for (uint32_t b = 0; b < w->cfg.nodes; b++) {
            if (a == b || w->nodes[a].node == NULL) {
                continue;
            }
            if (w->nodes[a].link_known_up[b] == sim_link_up(w, a, b)) {
                continue;
            }
            sim_event *e = sim_event_new(w, SIM_EV_PEER, w->now_ms + SIM_LINK_DETECT_MS);
            e->node = a;
            e->inc = w->nodes[a].inc;
            e->from = b;
            sim_schedule(w, e);
        }
    }
}

void sim_net_on_peer(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    bool up = sim_link_up(w, e->node, e->from);
    if (sn->link_known_up[e->from] == up) {
        return;
    }
    sn->link_known_up[e->from] = up;
    w->res.peer_down_by_node[e->node] += up ? 0 : 1;
    rk_node_on_peer(sn->node, w->nodes[e->from].id, up);
}

void sim_partition_set(sim_world *w, const uint32_t *group)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        w->nodes[i].group = group[i];
    }
    w->partitioned = true;
    w->res.partitions++;
    sim_links_changed(w);
}

void sim_partition_start(sim_world *w)
{
    /* Any grouping: two or three sides, each node on a random one. */
    uint32_t group[RK_SIM_NODES_MAX];
    uint32_t sides = (uint32_t)sim_rng_range(&w->rng, 2, 3);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        group[i] = (uint32_t)sim_rng_below(&w->rng, sides);
    }
    sim_partition_set(w, group);
}

void sim_partition_heal(sim_world *w)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        w->nodes[i].group = 0;
    }
    w->partitioned = false;
    sim_links_changed(w);
}

void sim_cut_add(sim_world *w, uint16_t from_mask, uint16_t to_mask)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if ((from_mask & (1u << i)) != 0) {
            w->nodes[i].cut_to_mask |= to_mask;
        }
    }
    sim_links_changed(w);
}

void sim_net_heal(sim_world *w)
{
    bool had_cuts = false;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        had_cuts = had_cuts || w->nodes[i].cut_to_mask != 0;
        w->nodes[i].cut_to_mask = 0;
    }
    /* One notice per changed link: sim_partition_heal tells the nodes of the cuts too. */
    if (w->partitioned) {
        sim_partition_heal(w);
    } else if (had_cuts) {
        sim_links_changed(w);
    }
}
