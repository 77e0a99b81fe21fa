/* node.h — one ringkv node as a pure state machine (DESIGN.md): it receives client requests,
 * peer messages, timers and durability events, and answers through rk_env. This is the API the
 * runtime (src/io) and the simulator (src/sim) drive; inside, the node is a set of parts, each
 * with its own header (docs/architecture.md): the member table (members.h), local store access
 * (local.h), the durability queue (durable.h), the dot floor and stamps (clock.h), coordinators
 * (coord.h, coord_table.h), the replica side (replica.h) and hinted handoff (handoff.h).
 *
 * Every key lives on N replicas of a ring of equal partitions (ring.h). Writes are acknowledged
 * only once durable under the sync policy (`always`: one sync per write, `batch`: writes
 * arriving together share one sync, `none`: acknowledged at once, durable when the engine gets
 * round to it) on W of them. */
#ifndef RK_NODE_H
#define RK_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "env.h"
#include "members.h"
#include "metrics.h"
#include "op.h"

typedef enum rk_sync_policy {
    RK_SYNC_ALWAYS = 0,
    RK_SYNC_BATCH = 1,
    RK_SYNC_NONE = 2,
} rk_sync_policy;

/* Parse "always" | "batch" | "none"; returns 0 or RK_EINVAL. */
int rk_sync_policy_parse(const char *text, rk_sync_policy *out);
const char *rk_sync_policy_name(rk_sync_policy p);

typedef enum rk_request_kind {
    RK_REQ_GET = 1,     /* reply: RK_REPLY_VALUE or RK_REPLY_NIL (siblings resolved by policy) */
    RK_REQ_PUT = 2,     /* reply: RK_REPLY_OK */
    RK_REQ_DEL = 3,     /* reply: RK_REPLY_INT, 1 if a live value was deleted, else 0 */
    RK_REQ_EXISTS = 4,  /* reply: RK_REPLY_INT, 1 or 0 */
    RK_REQ_VGET = 5,    /* RK.GET: reply RK_REPLY_VERSIONS, context and every sibling value */
    RK_REQ_VPUT = 6,    /* RK.PUT: a write superseding what `context` saw; RK_REPLY_WRITTEN */
    RK_REQ_VDEL = 7,    /* RK.DEL: a tombstone superseding what `context` saw; RK_REPLY_WRITTEN */
    RK_REQ_WRITE = 8,   /* a write given as an operation (`op`, its argument in `value`): the
                         * reply is the bucket policy's (policy.h); PUT and DEL are two of them */
    RK_REQ_READ = 9,    /* a typed read (`op` is an rk_read_kind, its argument in `value`): the
                         * reply is the bucket policy's; another type answers RK_EWRONGTYPE */
} rk_request_kind;
#define RK_REQ_KIND_MAX 9

/* What an RK_REQ_READ asks of a collection (Redis's set commands; TYPE of any key). */
typedef enum rk_read_kind {
    RK_READ_SMEMBERS = 1,   /* RK_REPLY_SET: the members, sorted bytewise */
    RK_READ_SCARD = 2,      /* RK_REPLY_INT: how many members */
    RK_READ_SISMEMBER = 3,  /* RK_REPLY_INT 1 or 0 for the member in `value` */
    RK_READ_SMISMEMBER = 4, /* RK_REPLY_INTS: 1 or 0 per member of the element list (elems.h) */
    RK_READ_TYPE = 5,       /* RK_REPLY_STATUS: "none", "string", "set" or "hash" */
    RK_READ_HGET = 6,       /* RK_REPLY_VALUE or _NIL: the field in `value` of a map */
    RK_READ_HMGET = 7,      /* RK_REPLY_ARRAY: per field of the element list, its value or a
                             * NULL entry (nil) */
    RK_READ_HGETALL = 8,    /* RK_REPLY_MAP: field, value... sorted by field bytewise */
    RK_READ_HLEN = 9,       /* RK_REPLY_INT: how many fields */
    RK_READ_HEXISTS = 10,   /* RK_REPLY_INT 1 or 0 for the field in `value` */
    RK_READ_HKEYS = 11,     /* RK_REPLY_ARRAY: the fields, sorted bytewise */
    RK_READ_HVALS = 12,     /* RK_REPLY_ARRAY: their values, in the fields' order */
} rk_read_kind;
#define RK_READ_KIND_MAX 12

/* A request's sloppy-quorum choice (bucket.h): the bucket's, or forced on or off. */
typedef enum rk_sloppy_choice {
    RK_SLOPPY_BUCKET = 0,
    RK_SLOPPY_ON = 1,
    RK_SLOPPY_OFF = 2,
} rk_sloppy_choice;

/* A client request; every pointer is borrowed for the call only. */
typedef struct rk_request {
    rk_request_kind kind;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    const char *context;    /* VPUT/VDEL: the token from RK.GET; NULL or "" for none */
    size_t context_len;
    uint32_t r;             /* 0: the bucket's */
    uint32_t w;             /* 0: the bucket's */
    uint8_t sloppy;         /* rk_sloppy_choice */
    uint8_t op;             /* RK_REQ_WRITE: the rk_op_kind; RK_REQ_READ: the rk_read_kind */
} rk_request;

typedef enum rk_reply_kind {
    RK_REPLY_OK = 1,
    RK_REPLY_NIL = 2,
    RK_REPLY_VALUE = 3,
    RK_REPLY_INT = 4,
    RK_REPLY_ERROR = 5,
    RK_REPLY_VERSIONS = 6,
    RK_REPLY_WRITTEN = 7,   /* RK.PUT/RK.DEL: the new context and replicas that acknowledged */
    RK_REPLY_ARRAY = 8,     /* values[0..value_count): an array of strings */
    RK_REPLY_MAP = 9,       /* values: key, value, key, value...: a RESP3 map (RESP2: flat) */
    RK_REPLY_SET = 10,      /* values: the members: a RESP3 set (RESP2: an array) */
    RK_REPLY_INTS = 11,     /* integers[0..value_count): an array of integers */
    RK_REPLY_STATUS = 12,   /* value: a status line (RESP "+set") */
} rk_reply_kind;
#define RK_REPLY_KIND_MAX 12

struct rk_reply {
    rk_reply_kind kind;
    const uint8_t *value;   /* RK_REPLY_VALUE */
    size_t value_len;
    int64_t integer;        /* RK_REPLY_INT; RK_REPLY_OK of a write: replicas that acknowledged */
    int error;              /* RK_REPLY_ERROR: an RK_E* code */
    const char *message;    /* RK_REPLY_ERROR: text naming the thing, value and limit */
    /* RK_REPLY_VERSIONS: the context token and the sibling values, borrowed;
     * RK_REPLY_WRITTEN: the new context token, and `integer` replicas acknowledged;
     * RK_REPLY_ARRAY, _MAP, _SET: the strings in values/value_lens */
    const char *context;
    uint32_t value_count;
    const uint8_t *const *values;
    const size_t *value_lens;
    const int64_t *integers;    /* RK_REPLY_INTS */
};

typedef struct rk_node_config {
    rk_node_id id;
    rk_sync_policy sync;
    uint32_t key_bytes_max;     /* <= RK_KEY_BYTES_MAX */
    uint64_t value_bytes_max;   /* <= RK_VALUE_BYTES_MAX */
    uint32_t partition_count;   /* Q, a power of two */
    /* The members at start, this node's included, with their addresses (the runtime learns
     * them back from the member table, rk_node_member). Every node claims the ring from the
     * same list, so all agree on it without talking. */
    rk_member_addr members[RK_MEMBERS_MAX];
    uint32_t member_count;
    uint32_t request_timeout_ms;    /* a coordinator gives up waiting for R or W after it */
    /* Properties of buckets nobody configured. */
    uint8_t default_n;
    uint8_t default_r;
    uint8_t default_w;
    uint8_t default_policy;     /* rk_bucket_policy */
    bool default_sloppy;        /* sloppy quorum over fallbacks (issue 6); on by default */
    /* Hinted handoff: objects handed back per second at most (Dynamo 4.6 with 6.5's admission
     * control of background work), and how often the node looks for owners to hand back to. */
    uint32_t handoff_objects_per_s;
    uint32_t handoff_interval_ms;
    uint32_t siblings_max;      /* concurrent versions a client write may leave (Riak: 100) */
    uint32_t collection_members_max; /* members a set may hold; a SADD past it is refused */
    /* Anti-entropy (aae.h): hash trees kept on every write and exchanged with the other
     * primaries every aae_interval_ms; each tree rebuilt from the store every aae_rebuild_ms. */
    bool aae_on;
    uint32_t aae_interval_ms;
    uint32_t aae_rebuild_ms;
    bool read_repair;           /* off: replicas converge by handoff and anti-entropy alone */
    /* A tombstone is reaped (aae_reap.c) once this old, held by every primary, with every
     * member up and no hint held anywhere; 0: never. Needs aae_on. */
    uint32_t tombstone_grace_ms;
    /* A new store waits this long for every member to say which epoch it saw from this node,
     * then makes do with a majority (epochs.h). */
    uint32_t epoch_learn_ms_max;
} rk_node_config;

void rk_node_config_default(rk_node_config *c);

/* Counters the node keeps; INFO shows them through the metrics registry (metrics.h declares
 * each field's name, unit and help: a new field needs a line there). Counters are bumped by
 * whichever part sees the event; the gauges belong to one part each: keys_live to local.c,
 * inflight to durable.c, hints_pending to handoff.c, peers_suspected to members.c (node.c
 * copies it after each deadline pass). Client GET/SET/DEL counts are the server's (ops_*). */
typedef struct rk_node_stats {
    uint64_t keys_live;             /* values not deleted */
    uint64_t sync_calls;            /* env->sync calls made */
    uint64_t writes_synced;         /* writes covered by completed syncs */
    uint64_t acks_before_durable;   /* writes acknowledged before durable: 0 unless sync=none */
    uint64_t sync_failures;
    uint64_t store_errors;
    uint64_t inflight;              /* writes waiting for durability */
    uint64_t refused_busy;
    uint64_t coord_puts;            /* writes this node coordinated */
    uint64_t coord_gets;
    uint64_t forwarded;             /* writes sent to a replica to coordinate */
    uint64_t replica_puts;          /* objects merged for a coordinator */
    uint64_t replica_gets;
    uint64_t read_repairs;          /* objects sent to stale replicas after a read */
    uint64_t timeouts;              /* requests answered -TIMEOUT */
    uint64_t unavailable;           /* requests answered -UNAVAILABLE */
    uint64_t siblings_refused;      /* writes refused at max_siblings */
    uint64_t objects_refused;       /* writes refused: the object would pass its size limit */
    uint64_t epoch;                 /* this run's dot floor epoch (kv679; clock.c) */
    uint64_t epoch_kept;            /* 1: this start kept the epoch of a clean stop (clock.c) */
    uint64_t epoch_learning;        /* 1: a new store learning its epoch from peers (epochs.c) */
    uint64_t epoch_learned_partial; /* 1: learning ended with a majority only (epochs.c) */
    /* sloppy quorum and hinted handoff (issue 6) */
    uint64_t fallback_writes;       /* writes coordinated with at least one fallback */
    uint64_t fallback_reads;        /* reads that asked at least one fallback */
    uint64_t hints_pending;         /* hint records held: (owner, key) pairs to hand back */
    uint64_t hints_written;         /* hint records created */
    uint64_t hints_delivered;       /* hints the owner acknowledged durable, then deleted */
    uint64_t handoff_sent;          /* handoff objects sent */
    uint64_t handoff_resent;        /* acknowledged, but the copy changed meanwhile: kept */
    uint64_t handoff_dropped_copies;    /* hinted copies removed after their last handoff */
    uint64_t degraded_writes;       /* writes accepted below W by fallback_w */
    uint64_t degraded_reads;        /* reads answered below R by fallback_r */
    uint64_t peers_suspected;       /* times a peer was suspected for unanswered requests */
    uint64_t objects_type_refused;  /* merges refused: the two objects hold different types */
    uint64_t set_clock_refused;     /* set writes refused: the set's clock at its bound */
    /* sets written by deltas (issue 14, docs/merge.md) */
    uint64_t set_deltas_sent;       /* deltas a coordinator sent to replicas */
    uint64_t set_deltas_merged;     /* deltas this replica merged */
    uint64_t set_deltas_not_ready;  /* deltas this replica refused as not causally ready */
    uint64_t set_full_resends;      /* whole states a coordinator sent after RK_ENOTREADY */
    uint64_t set_members_refused;   /* set writes refused at max-collection-members */
    uint64_t counter_actors_refused; /* increments refused: the counter's actors at their bound */
    uint64_t aae_damaged_objects;   /* stored objects that failed their checksum: read as missing */
    uint64_t counter_actors_created; /* increments that started a fresh actor (policy_fields.h) */
    /* anti-entropy (aae.c) */
    uint64_t aae_trees_built;       /* partition trees built or rebuilt from the store */
    uint64_t aae_exchanges;         /* exchanges finished */
    uint64_t aae_exchanges_failed;  /* exchanges given up: peer gone, tree not built, timeout */
    uint64_t aae_keys_repaired;     /* keys found differing twice and repaired */
    uint64_t aae_keys_unconfirmed;  /* keys that differed once, not the same way again */
    uint64_t aae_requests_served;   /* exchange requests answered for peers */
    uint64_t aae_repair_pending;    /* exchanges RK.REPAIR queued, not started yet */
    uint64_t aae_trees_ready;       /* partition trees built now (aae.c copies it each tick) */
    uint64_t tombstones_reaped;     /* tombstones this node removed (aae_reap.c) */
    uint64_t tombstones_pending;    /* tombstones held, as the last pass over each partition
                                     * counted them, less those reaped since */
    /* Live siblings in each coordinated read's merged answer (0: not found), coord_get.c. */
    rk_metric_small_hist read_siblings;
    /* membership (membership.c: the gauges ring_version, cluster_members; transfer.c: the
     * rest) */
    uint64_t ring_version;          /* the serving ring's version */
    uint64_t cluster_members;       /* members in the cluster metadata, joining and leaving too */
    uint64_t cluster_loaded;        /* 1: this start found stored metadata (not --members) */
    uint64_t transfers_pending;     /* plan units this node must still receive or send */
    uint64_t transfers_done;        /* plan units this node finished receiving */
    uint64_t transfer_keys_received;
    uint64_t transfer_bytes_received;
    uint64_t transfer_keys_sent;
    uint64_t transfer_bytes_sent;
    uint64_t transfer_retries;      /* transfer requests unanswered in time, sent again */
    uint64_t transfer_forwards;     /* writes a replica sent on to a moving plan's new owners */
    uint64_t cleanup_keys;          /* keys no longer owned, handed to their owners after a flip */
    uint64_t not_owner_answers;     /* reads asked of this node as a primary it no longer is */
    uint64_t hints_repointed;       /* hints whose owner left or no longer owns the key, turned
                                     * into hints for the key's owners (handoff.c) */
    uint64_t transfers_resumed;     /* units resumed from a stored cursor after a restart */
} rk_node_stats;

/* An object (every sibling's value, the dots, stamps and history) holds at most max-value-bytes
 * plus this much; a write that would make it larger is refused (RK_ETOOBIG). The wire frame adds
 * 64 KiB to max-value-bytes for the key and envelope (wire.h), so every object can travel to a
 * replica and back in a handoff. */
#define RK_OBJECT_SLACK_BYTES (16u * 1024u)

typedef struct rk_node rk_node;

/* Create a node. Keeps `env` (the caller keeps it alive until rk_node_free); copies `config`.
 * Scans env->store once to count live keys. Returns 0, RK_EINVAL (bad config), RK_ENOMEM or a
 * store error. */
int rk_node_new(const rk_node_config *config, const rk_env *env, rk_node **out);
void rk_node_free(rk_node *n);

/* Handle a client request. Exactly one env->reply follows for `client_req`, now or later
 * (after durability). Requests on one key are answered in the order they arrived. */
void rk_node_on_request(rk_node *n, uint64_t client_req, const rk_request *r);
void rk_node_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_node_on_timer(rk_node *n, uint64_t timer_id);
/* The runtime's view of a peer changed: a link came up (true) or went down (false). Every
 * member counts up from the start (a request waits for a link being set up) until told it is
 * down; writes that cannot reach W primaries are refused
 * before anything is sent (RK_EUNAVAIL). Every up call pushes bucket properties to it again. */
void rk_node_on_peer(rk_node *n, rk_node_id peer, bool up);
/* Stop cleanly (SIGTERM): record that nothing this run minted can be lost, so that the next
 * start keeps the epoch instead of bumping it (clock.h: each bump costs the keys this node
 * coordinates a history entry). Call it once the runtime takes no more client requests. It
 * writes a clean-stop mark through the store and asks env->sync for it; from then on the node
 * coordinates no write (RK_EBUSY "node stopping") but still serves peers. 0 (watch
 * rk_node_stop_clean_status), RK_EBUSY (writes are not durable yet; their sync is asked for:
 * call again once rk_node_on_durable came), RK_EIO (a sync failed in this run), RK_EINVAL
 * (called again after a 0) or a store error. Without the mark the next start bumps the epoch,
 * which is always safe: a runtime may give up waiting at any point. */
int rk_node_stop_clean(rk_node *n);
/* After rk_node_stop_clean returned 0: 0 once the mark is durable, RK_EBUSY until then, RK_EIO
 * if a sync failed first (the next start may bump the epoch). */
int rk_node_stop_clean_status(const rk_node *n);
/* Store writes up to `seq` are durable: acknowledge what waited for them. */
void rk_node_on_durable(rk_node *n, uint64_t seq);
/* A sync failed (disk full, I/O error): the writes up to `seq` are rolled back; fail every
 * request that waited for them with `error`. */
void rk_node_on_sync_failed(rk_node *n, uint64_t seq, int error);

/* True when the node takes no more requests for now (nearly RK_DURABLE_PENDING_MAX writes
 * waiting, or nearly RK_COORD_INFLIGHT_MAX coordinators): the runtime stops reading client
 * sockets until it turns false (back-pressure). */
bool rk_node_is_busy(const rk_node *n);
const rk_node_stats *rk_node_stats_get(const rk_node *n);
const rk_node_config *rk_node_config_get(const rk_node *n);

/* For RK.* admin commands: the ring, and the effective n (min(n, members)) of a key. */
typedef struct rk_ring rk_ring;
const rk_ring *rk_node_ring(const rk_node *n);
/* The bucket table (bucket.h). */
typedef struct rk_bucket_table rk_bucket_table;
const rk_bucket_table *rk_node_buckets(const rk_node *n);
/* RK.LOCAL: this node's own copy of `key` (encoded rk_dvvset bytes in *out, owned by the
 * caller, free with rk_store_buf_free; len 0 when absent). Returns 0 or a store error. */
int rk_node_local_get(rk_node *n, const uint8_t *key, size_t key_len, rk_buf *out);
/* RK.PREFLIST: the key's primaries (the bucket's effective n) then fallbacks, into out.
 * Returns how many were written; *primary_count_out says how many are primaries. */
uint32_t rk_node_preflist(const rk_node *n, const uint8_t *key, size_t key_len, rk_node_id *out,
                          uint32_t out_count_max, uint32_t *primary_count_out);
/* RK.MEMBERS: whether this node currently sees `id` as reachable (itself: always). */
bool rk_node_member_reachable(const rk_node *n, rk_node_id id);
/* Whether this node suspects `id` because requests to it went unanswered past their deadline
 * (counted unreachable for a request timeout, whatever the runtime's link says). */
bool rk_node_member_suspected(const rk_node *n, rk_node_id id);
/* The member table: its addresses for the runtime, its entries for RK.MEMBERS. Borrowed until
 * the next event. */
const rk_members *rk_node_members(const rk_node *n);

/* Membership (docs/membership.md; membership.c). The metadata, borrowed until the next event. */
const rk_cluster_meta *rk_node_cluster(const rk_node *n);
/* The metadata encoded into a fresh buffer (*out: free it). */
int rk_node_cluster_encode(const rk_node *n, uint8_t **out, size_t *len_out);
/* Staged changes; a refusal fills `message` (one line) and returns an RK_E* code. */
int rk_node_cluster_stage_join(rk_node *n, const rk_member_addr *addr, char *message,
                               size_t message_bytes);
/* Take a cluster's metadata that names this node as joining: only a node alone in its own
 * cluster with no data may. */
int rk_node_cluster_adopt(rk_node *n, const uint8_t *bytes, size_t len, char *message,
                          size_t message_bytes);
/* Stage the leave (force: the removal) of `id` (0: this node). */
int rk_node_cluster_leave(rk_node *n, rk_node_id id, bool force, char *message,
                          size_t message_bytes);
void rk_node_cluster_clear(rk_node *n);
/* Commit the staged changes; on success `message` holds the status line. */
int rk_node_cluster_commit(rk_node *n, char *message, size_t message_bytes);
/* The largest n any bucket uses: plans compute their transfers for it. */
uint32_t rk_node_cluster_n_max(const rk_node *n);
/* Transfer throttle in objects per second (0 pauses transfers), effective at once. */
void rk_node_transfer_limit(rk_node *n, uint32_t objects_per_s);
/* RK.REPAIR: queue an anti-entropy exchange of `partition` (or of every partition, `all`) with
 * each of its other primaries, ahead of the periodic rotation. Returns how many were queued,
 * RK_EINVAL for a partition out of range, RK_EUNAVAIL when anti-entropy is off. */
int rk_node_aae_repair(rk_node *n, bool all, uint32_t partition);
/* RK.DEBUG DAMAGE (tests): flip a byte inside this node's stored copy of `key` without fixing
 * its checksum, straight in the store and made durable, so the node's trees do not see it, as
 * with a damaged disk. 0, RK_ENOTFOUND, RK_ETOOBIG (key) or a store error. */
int rk_node_test_damage(rk_node *n, const uint8_t *key, size_t key_len);
/* The simulator's checks: whether every built tree equals one rebuilt from the store now, and
 * whether two nodes' trees of `partition` are both built and equal. */
bool rk_node_aae_matches_store(rk_node *n);
bool rk_node_aae_agrees(const rk_node *n, const rk_node *other, uint32_t partition);

/* Set bucket properties cluster-wide: reply RK_REPLY_INT with how many members stored them
 * (this one included) once every member answered or the request timeout passed. */
void rk_node_bucket_set(rk_node *n, uint64_t client_req, const uint8_t *name, size_t name_len,
                        const char *const *props, const char *const *values, uint32_t count);

#endif
