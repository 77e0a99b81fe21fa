/* mem.c — the in-memory engine (tests, simulator) and its crash layer. Owns one ordered map per
 * sub-database (omap.h, a skiplist whose node heights come from a key hash, so runs replay) and
 * an undo log of the writes not yet synced. Single-threaded: every call, rk_store_sync included,
 * must come from one thread at a time (the runtime syncs mem on its loop thread); nothing locks.
 *
 * Writes. A batch first allocates everything it may need (one node per put, one undo record
 * per op, room in the log), then applies with pointer swaps only, so it applies whole or, on
 * RK_ENOMEM, not at all: there is no half-applied state to roll back.
 *
 * Crash layer (SQLite's crash test VFS is the model). Every write appends, per op, an undo
 * record holding the node it displaced (or NULL: the key was absent); each table node is in
 * exactly one place, its table or one record, so undoing only relinks nodes and never
 * allocates. sync(seq) drops the records up to seq (those writes can no longer be undone) and
 * leaves later ones; crash undoes every record, newest first, back to the last synced state.
 * A failed sync rolls back only the batches it covered while keeping later ones: where a later
 * batch rewrote the key, its record inherits the older node instead, so a crash afterwards
 * still lands on the synced state. Fault injection counts get, write, iterate and sync calls
 * that passed store.c's checks. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "omap.h"

/* What follows a table node: its key and value bytes live in the same allocation. */
typedef struct mem_entry {
    size_t value_len;
    uint8_t bytes[];    /* key, then value */
} mem_entry;

/* One op of a batch not yet synced. */
typedef struct mem_undo {
    uint64_t seq;
    rk_db db;
    rk_omap_node *old;  /* owned: the node this op displaced, NULL if the key was absent */
    size_t key_len;
    uint8_t key[];
} mem_undo;

typedef struct mem_store {
    rk_store base;
    rk_omap tables[RK_DB_COUNT];
    mem_undo **undo;        /* undo[undo_head..undo_end) in seq order, oldest first */
    size_t undo_head;
    size_t undo_end;
    size_t undo_cap;
    uint64_t seq_last;      /* the last sequence number handed out */
    uint64_t durable_seq;
    uint64_t fail_countdown; /* 0: no failure armed */
    bool fail_sticky;
    bool failing;           /* a sticky failure fired: every call fails */
} mem_store;

static const rk_store_ops mem_ops;

static mem_store *mem_from(rk_store *s)
{
    RK_ASSERT(s != NULL);
    RK_ASSERT(s->ops == &mem_ops);
    return (mem_store *)s;
}

/* Count one call against the armed failure; true if this call must fail with RK_ECRASHED. */
static bool mem_fail_now(mem_store *m)
{
    if (m->failing) {
        return true;
    }
    if (m->fail_countdown == 0) {
        return false;
    }
    m->fail_countdown--;
    if (m->fail_countdown > 0) {
        return false;
    }
    m->failing = m->fail_sticky;
    return true;
}

static const uint8_t *mem_node_value(rk_omap_node *n, size_t *value_len)
{
    mem_entry *e = rk_omap_node_payload(n);
    *value_len = e->value_len;
    return e->bytes + n->key_len;
}

static rk_omap_node *mem_node_new(const uint8_t *key, size_t key_len, const uint8_t *value,
                                  size_t value_len)
{
    uint32_t level = rk_omap_level(key, key_len);
    size_t head_bytes = rk_omap_node_bytes(level) + sizeof(mem_entry);
    if (key_len > SIZE_MAX - head_bytes || value_len > SIZE_MAX - head_bytes - key_len) {
        return NULL;
    }
    rk_omap_node *n = malloc(head_bytes + key_len + value_len);
    if (n == NULL) {
        return NULL;
    }
    n->level = level;
    n->key_len = key_len;
    mem_entry *e = rk_omap_node_payload(n);
    e->value_len = value_len;
    memcpy(e->bytes, key, key_len);
    if (value_len > 0) {
        memcpy(e->bytes + key_len, value, value_len);
    }
    n->key = e->bytes;
    return n;
}

static void mem_node_free(void *ctx, rk_omap_node *n)
{
    (void)ctx;
    free(n);
}

static void mem_undo_free(mem_undo *u)
{
    free(u->old);
    free(u);
}

int rk_store_mem_open(rk_store **out)
{
    RK_ASSERT(out != NULL);
    *out = NULL;
    mem_store *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return RK_ENOMEM;
    }
    m->base.ops = &mem_ops;
    for (int db = 0; db < RK_DB_COUNT; db++) {
        rk_omap_init(&m->tables[db]);
    }
    *out = &m->base;
    return 0;
}

static int mem_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    mem_store *m = mem_from(s);
    if (mem_fail_now(m)) {
        return RK_ECRASHED;
    }
    rk_omap_node *n = rk_omap_find(&m->tables[db], key, key_len);
    if (n == NULL) {
        return RK_ENOTFOUND;
    }
    size_t value_len = 0;
    const uint8_t *value = mem_node_value(n, &value_len);
    out->data = malloc(value_len > 0 ? value_len : 1);   /* an empty value is still a value */
    if (out->data == NULL) {
        return RK_ENOMEM;
    }
    if (value_len > 0) {
        memcpy(out->data, value, value_len);
    }
    out->len = value_len;
    return 0;
}

/* Make room for `extra` more records at the end of the undo log, compacting first if that is
 * enough (only when short of room, so a log trimmed at the front is not moved on every write). */
static int mem_undo_reserve(mem_store *m, size_t extra)
{
    if (m->undo_cap - m->undo_end >= extra) {
        return 0;
    }
    if (m->undo_head > 0) {
        size_t live = m->undo_end - m->undo_head;
        memmove(m->undo, m->undo + m->undo_head, live * sizeof(*m->undo));
        m->undo_head = 0;
        m->undo_end = live;
    }
    if (m->undo_cap - m->undo_end >= extra) {
        return 0;
    }
    size_t cap = m->undo_cap > 0 ? m->undo_cap : 64;
    while (cap - m->undo_end < extra) {
        if (cap > SIZE_MAX / 2 / sizeof(*m->undo)) {
            return RK_ENOMEM;
        }
        cap *= 2;
    }
    mem_undo **undo = realloc(m->undo, cap * sizeof(*undo));
    if (undo == NULL) {
        return RK_ENOMEM;
    }
    m->undo = undo;
    m->undo_cap = cap;
    return 0;
}

static int mem_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out)
{
    mem_store *m = mem_from(s);
    RK_ASSERT(op_count >= 1);
    RK_ASSERT(op_count <= RK_BATCH_OPS_MAX);
    if (mem_fail_now(m)) {
        return RK_ECRASHED;
    }
    rk_omap_node *nodes[RK_BATCH_OPS_MAX];
    mem_undo *records[RK_BATCH_OPS_MAX];
    memset(nodes, 0, op_count * sizeof(nodes[0]));
    memset(records, 0, op_count * sizeof(records[0]));

    int rc = mem_undo_reserve(m, op_count);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        records[i] = malloc(sizeof(mem_undo) + op->key_len);
        if (records[i] == NULL) {
            goto out_free_prepared;
        }
        if (op->kind == RK_BATCH_PUT) {
            nodes[i] = mem_node_new(op->key, op->key_len, op->value, op->value_len);
            if (nodes[i] == NULL) {
                goto out_free_prepared;
            }
        }
    }

    /* From here on nothing can fail: the batch applies whole. */
    uint64_t seq = ++m->seq_last;
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        mem_undo *u = records[i];
        u->seq = seq;
        u->db = op->db;
        u->key_len = op->key_len;
        memcpy(u->key, op->key, op->key_len);
        if (op->kind == RK_BATCH_PUT) {
            u->old = rk_omap_put(&m->tables[op->db], nodes[i]);
        } else {
            u->old = rk_omap_remove(&m->tables[op->db], op->key, op->key_len);
        }
        RK_ASSERT(m->undo_end < m->undo_cap);
        m->undo[m->undo_end++] = u;
    }
    *seq_out = seq;
    return 0;

out_free_prepared:
    for (size_t i = 0; i < op_count; i++) {
        free(records[i]);
        free(nodes[i]);
    }
    return RK_ENOMEM;
}

static int mem_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                       const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    mem_store *m = mem_from(s);
    if (mem_fail_now(m)) {
        return RK_ECRASHED;
    }
    rk_omap_node *n = rk_omap_seek(&m->tables[db], start, start_len);
    while (n != NULL) {
        if (end != NULL && rk_omap_key_cmp(n->key, n->key_len, end, end_len) >= 0) {
            break;
        }
        rk_omap_node *next = rk_omap_next(n);
        size_t value_len = 0;
        const uint8_t *value = mem_node_value(n, &value_len);
        int rc = fn(ctx, n->key, n->key_len, value, value_len);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            break;
        }
        n = next;
    }
    return 0;
}

static bool mem_undo_same_key(const mem_undo *a, const mem_undo *b)
{
    return a->db == b->db && rk_omap_key_cmp(a->key, a->key_len, b->key, b->key_len) == 0;
}

/* Undo the logged writes with seq <= seq_max (all of them are after durable_seq) and keep the
 * later ones, newest first. A key a kept write rewrote keeps its current node; that write's
 * record inherits the older node, so a later crash still restores the synced state. */
static void mem_rollback(mem_store *m, uint64_t seq_max)
{
    size_t split = m->undo_head;
    while (split < m->undo_end && m->undo[split]->seq <= seq_max) {
        split++;
    }
    for (size_t i = split; i-- > m->undo_head;) {
        mem_undo *u = m->undo[i];
        RK_ASSERT(u->seq > m->durable_seq);
        mem_undo *kept = NULL;
        for (size_t j = split; j < m->undo_end; j++) {
            if (mem_undo_same_key(m->undo[j], u)) {
                kept = m->undo[j];
                break;
            }
        }
        if (kept != NULL) {
            free(kept->old);            /* the state `u` wrote: it never happened */
            kept->old = u->old;
        } else {
            rk_omap_node *current = NULL;
            if (u->old != NULL) {
                current = rk_omap_put(&m->tables[u->db], u->old);
            } else {
                current = rk_omap_remove(&m->tables[u->db], u->key, u->key_len);
            }
            free(current);
        }
        u->old = NULL;
        mem_undo_free(u);
    }
    size_t kept_count = m->undo_end - split;
    if (kept_count > 0) {
        memmove(m->undo + m->undo_head, m->undo + split, kept_count * sizeof(*m->undo));
    }
    m->undo_end = m->undo_head + kept_count;
}

static int mem_sync(rk_store *s, uint64_t seq)
{
    mem_store *m = mem_from(s);
    if (seq > m->seq_last) {
        seq = m->seq_last;
    }
    if (mem_fail_now(m)) {
        if (seq > m->durable_seq) {
            mem_rollback(m, seq);
        }
        return RK_ECRASHED;
    }
    if (seq <= m->durable_seq) {
        return 0;
    }
    while (m->undo_head < m->undo_end && m->undo[m->undo_head]->seq <= seq) {
        mem_undo_free(m->undo[m->undo_head]);
        m->undo_head++;
    }
    if (m->undo_head == m->undo_end) {
        m->undo_head = 0;
        m->undo_end = 0;
    }
    m->durable_seq = seq;
    return 0;
}

static uint64_t mem_durable_seq(rk_store *s)
{
    return mem_from(s)->durable_seq;
}

static void mem_close(rk_store *s)
{
    mem_store *m = mem_from(s);
    for (size_t i = m->undo_head; i < m->undo_end; i++) {
        mem_undo_free(m->undo[i]);
    }
    free(m->undo);
    for (int db = 0; db < RK_DB_COUNT; db++) {
        rk_omap_clear(&m->tables[db], mem_node_free, NULL);
    }
    free(m);
}

static const rk_store_ops mem_ops = {
    .name = "mem",
    .durable = false,
    .get = mem_get,
    .write = mem_write,
    .iterate = mem_iterate,
    .sync = mem_sync,
    .durable_seq = mem_durable_seq,
    .close = mem_close,
    .last_error = NULL,
};

void rk_store_mem_crash(rk_store *s)
{
    mem_store *m = mem_from(s);
    mem_rollback(m, UINT64_MAX);
    RK_ASSERT(m->undo_end == m->undo_head);
    m->undo_head = 0;
    m->undo_end = 0;
    m->fail_countdown = 0;
    m->fail_sticky = false;
    m->failing = false;
}

void rk_store_mem_fail_at(rk_store *s, uint64_t n, bool sticky)
{
    mem_store *m = mem_from(s);
    m->fail_countdown = n;
    m->fail_sticky = sticky;
    m->failing = false;
}

size_t rk_store_mem_count(rk_store *s, rk_db db)
{
    mem_store *m = mem_from(s);
    RK_ASSERT((unsigned)db < RK_DB_COUNT);
    return m->tables[db].count;
}
