/* msg.h — the messages nodes send each other, as the core sees them: plain structs with
 * borrowed byte fields, and the only form of them outside the wire. The runtime and the
 * simulator alike turn one into a wire frame and a frame back into one in a single step
 * (src/net/wire.h, protobuf-c); the core never sees the wire. Owns nothing. Dynamo 4.5: a
 * coordinator sends GET_REQ / PUT_REQ to the preference list and counts the answers; a node
 * outside the list forwards a client write to the first reachable replica (FWD_REQ), which
 * coordinates it. */
#ifndef RK_MSG_H
#define RK_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "env.h"

typedef enum rk_msg_kind {
    RK_MSG_GET_REQ = 1,     /* coordinator -> replica: send me your object for key */
    RK_MSG_GET_RESP = 2,    /* replica -> coordinator: status, object (empty: not found) */
    RK_MSG_PUT_REQ = 3,     /* coordinator -> replica: merge this object, answer once durable */
    RK_MSG_PUT_RESP = 4,    /* replica -> coordinator: status */
    RK_MSG_FWD_REQ = 5,     /* any node -> a replica: coordinate this client write */
    RK_MSG_FWD_RESP = 6,    /* replica -> origin: the client's answer */
    RK_MSG_BUCKET_SET = 7,  /* bucket properties, versioned; pushed to every member */
    RK_MSG_BUCKET_ACK = 8,  /* a member stored them */
    RK_MSG_AAE_REQ = 9,     /* anti-entropy exchange (aae.h): `level` of `partition`'s tree */
    RK_MSG_AAE_RESP = 10,   /* its hashes, keys with hashes, or objects; status RK_EBUSY: the
                             * tree is not built here (try later) */
    RK_MSG_EPOCH = 11,      /* a node's epoch (`version`; 0: not known yet), sent on every link
                             * up; flag RK_MSG_EPOCH_ASK: answer with EPOCH_RESP */
    RK_MSG_EPOCH_RESP = 12, /* `version`: the highest epoch the sender saw from the receiver */
    RK_MSG_CLUSTER = 13,    /* gossip: `object` is the sender's cluster metadata (cluster.h);
                             * flag RK_MSG_CLUSTER_REPLY: an answer, never answered again */
} rk_msg_kind;
#define RK_MSG_KIND_MAX 13

/* Flags of a put request. */
#define RK_MSG_PUT_REPAIR 0x01u     /* read repair: nobody waits on the answer */
#define RK_MSG_PUT_HANDOFF 0x02u    /* hinted handoff: a fallback hands a copy back to its owner */
#define RK_MSG_PUT_PLANNED 0x04u    /* the sender knew the moving plan and sent the object to the
                                     * plan's new owners itself: the replica need not forward it */
#define RK_MSG_PUT_DELTA 0x08u      /* `object` is a set delta (setrows.h), merged only when
                                     * causally ready: else RK_ENOTREADY, and the coordinator
                                     * sends the whole state */
#define RK_MSG_PUT_CHUNK 0x10u      /* `object` is one chunk of a whole set (setrows.h); the
                                     * chunks before the last are flagged REPAIR (no answer) */
/* Flags of a get request. */
#define RK_MSG_GET_PRIMARY 0x01u    /* asked as a primary: a node that neither owns the key nor
                                     * holds it answers RK_ENOTOWNER, never "not found" */
#define RK_MSG_GET_MEMBERS 0x02u    /* answer the set narrowed to `value` (an elems.h list): the
                                     * whole clock and only those members' dots */
/* Flags of a cluster message. */
#define RK_MSG_CLUSTER_REPLY 0x01u
/* Flags of a bucket set. */
#define RK_MSG_BUCKET_CHECK 0x01u   /* store nothing; answer whether a live key of the bucket is
                                     * stored here (BUCKET_ACK error RK_EBUSY) or not (0) */
/* Flags of an epoch message. */
#define RK_MSG_EPOCH_ASK 0x01u      /* the sender lost its store: tell it what you saw from it */

/* Levels of an anti-entropy request (aae.h has the tree's shape). */
typedef enum rk_aae_level {
    RK_AAE_BRANCHES = 1,    /* resp `hashes`: every branch hash of the partition's tree */
    RK_AAE_SEGMENTS = 2,    /* req `indices`: branches; resp `hashes`: their segments in order */
    RK_AAE_KEYS = 3,        /* req `indices`: segments; resp `values`: their keys, `hashes`: the
                             * hash of each key's stored object */
    RK_AAE_OBJECTS = 4,     /* req `values`: keys; resp `values`: the keys, `objects`: each
                             * stored object (empty: absent or damaged here) */
    RK_AAE_REAP_CHECK = 5,  /* req `values`: keys of expired tombstones, `hashes`: their hashes;
                             * resp `hashes`: per key 1 the same object here, 2 none, 0 another;
                             * status RK_EBUSY: a hint held or a member down here */
    RK_AAE_REAP = 6,        /* the same lists: remove each key whose object is that tombstone */
    RK_AAE_RANGE = 7,       /* ownership transfer (transfer.h): req `hashes[0]` the plan,
                             * `indices[0]` objects wanted, `values[0]` (absent: from the start)
                             * the last key received; resp `values`/`objects` the next keys of
                             * the partition with their objects, `indices[0]` 1 at its end */
} rk_aae_level;
#define RK_AAE_LEVEL_MAX 7

/* A byte string inside a message, laid out as protobuf-c's ProtobufCBinaryData, so a decoded
 * repeated bytes field is used as it is (wire_msg.c asserts the layout). */
typedef struct rk_msg_bytes {
    size_t len;
    const uint8_t *data;
} rk_msg_bytes;

struct rk_msg {
    rk_msg_kind kind;
    uint64_t req_id;            /* chosen by the sender of a request, echoed in its response */
    int32_t status;             /* responses: 0 or an RK_E* code */
    uint32_t flags;
    const uint8_t *key;         /* GET/PUT/FWD requests, BUCKET_SET (bucket name) */
    size_t key_len;
    const uint8_t *object;      /* GET_RESP, PUT_REQ: an encoded rk_dvvset; BUCKET_SET: props */
    size_t object_len;
    /* FWD_REQ: the client's request (rk_request fields); FWD_RESP: the reply (rk_reply);
     * GET_REQ with RK_MSG_GET_MEMBERS: `value` is the member list. */
    uint32_t req_kind;
    const uint8_t *value;
    size_t value_len;
    const uint8_t *context;     /* a printable context token */
    size_t context_len;
    uint32_t r;
    uint32_t w;
    int64_t integer;            /* FWD_RESP: integer reply; BUCKET_ACK: stored version */
    const uint8_t *message;     /* FWD_RESP error text */
    size_t message_len;
    uint64_t version;           /* BUCKET_SET */
    /* GET_REQ/PUT_REQ to a fallback: the primary it stands in for (0: the receiver is a
     * primary). A PUT_REQ's receiver keeps a hint to hand the object back to that owner. */
    rk_node_id hint_owner;
    uint32_t sloppy;            /* FWD_REQ: rk_sloppy_choice */
    uint32_t op;                /* FWD_REQ of RK_REQ_WRITE: the rk_op_kind (value: its argument) */
    /* FWD_RESP: the reply's strings: one for a value, the elements of an array or set, the
     * keys and values of a map in turn. */
    const rk_msg_bytes *values;
    uint32_t value_count;
    /* AAE_REQ / AAE_RESP (aae.h). */
    uint32_t partition;
    uint32_t level;             /* rk_aae_level */
    const uint32_t *indices;
    uint32_t index_count;
    const uint64_t *hashes;
    uint32_t hash_count;
    const rk_msg_bytes *objects;
    uint32_t object_count;
};

#endif
