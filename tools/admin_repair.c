/* admin_repair.c — `ringkv repair [all|PARTITION]` (admin_internal.h): asks the node for
 * anti-entropy exchanges now (RK.REPAIR, src/io/commands_repair.c) and follows them in INFO aae
 * until they are over, printing a line each time the count left or the keys repaired change.
 *
 * The node does not say when one particular exchange ends, only counters: aae_repair_pending
 * (queued exchanges not started yet) and aae_exchanges + aae_exchanges_failed (every exchange
 * ended, the periodic rotation's too). The repair is taken as over when nothing it queued waits
 * and at least as many exchanges ended since it began as it queued. A rotation exchange that
 * ends meanwhile counts as one of them, so the last queued exchange may still be running when
 * this says done; an exchange is bounded (RK_AAE_KEYS_MAX keys per answer), so it is short. */
#include "admin_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_REPAIR_POLL_MS 250u
/* Without --timeout-ms: a wiped node of 100,000 keys fills in well under a minute; ten minutes
 * says the exchanges are stuck (a peer down: queued exchanges wait for it to come back). */
#define ADMIN_REPAIR_LIMIT_MS_DEFAULT (10u * 60u * 1000u)

/* The INFO aae counters a repair is followed by. */
typedef struct admin_aae {
    uint64_t pending;
    uint64_t ended; /* aae_exchanges + aae_exchanges_failed */
    uint64_t keys_repaired;
} admin_aae;

static uint64_t admin_repair_u64(const rkc_reply *info, const char *name)
{
    char text[32];
    admin_info_str(info, name, text, sizeof(text));
    return strtoull(text, NULL, 10);
}

/* INFO aae into *out. 0 or an exit status after a message. */
static int admin_repair_sample(rkc_conn *conn, admin_aae *out)
{
    static const char *const argv[] = {"INFO", "aae"};
    rkc_reply *info = NULL;
    int status = admin_call(conn, "INFO aae", 2, argv, NULL, &info);
    if (status != 0) {
        return status;
    }
    if (!admin_reply_is_text(info)) {
        return admin_bad_reply(info, "INFO aae", "text");
    }
    char probe[8];
    admin_info_str(info, "aae_repair_pending", probe, sizeof(probe));
    if (probe[0] == '\0') {
        return admin_bad_reply(info, "INFO aae", "text with aae_repair_pending");
    }
    out->pending = admin_repair_u64(info, "aae_repair_pending");
    out->ended =
        admin_repair_u64(info, "aae_exchanges") + admin_repair_u64(info, "aae_exchanges_failed");
    out->keys_repaired = admin_repair_u64(info, "aae_keys_repaired");
    rkc_reply_free(info);
    return 0;
}

/* RK.REPAIR's answer: how many exchanges it queued. 0 or an exit status after a message. */
static int admin_repair_queue(rkc_conn *conn, const char *what, uint64_t *queued_out)
{
    const char *argv[] = {"RK.REPAIR", what};
    rkc_reply *reply = NULL;
    int status = admin_call(conn, "RK.REPAIR", 2, argv, NULL, &reply);
    if (status != 0) {
        return status;
    }
    if (reply->type != RKC_REPLY_INTEGER || reply->integer < 0) {
        return admin_bad_reply(reply, "RK.REPAIR", "a count of exchanges");
    }
    *queued_out = (uint64_t)reply->integer;
    rkc_reply_free(reply);
    return 0;
}

/* How much a counter grew; 0 if it went back (the node restarted under us). */
static uint64_t admin_repair_grew(uint64_t before, uint64_t after)
{
    return after >= before ? after - before : 0;
}

/* Exchanges of the repair not over yet: those still queued, or as many as have not ended. */
static uint64_t admin_repair_left(uint64_t queued, const admin_aae *start, const admin_aae *now)
{
    uint64_t ended = admin_repair_grew(start->ended, now->ended);
    uint64_t left = ended >= queued ? 0 : queued - ended;
    if (now->pending > left) {
        left = now->pending;
    }
    return left < queued ? left : queued;
}

static void admin_repair_json(uint64_t queued, const admin_aae *start, const admin_aae *now,
                              bool done)
{
    rk_json j;
    rk_json_init(&j, stdout);
    rk_json_object_begin(&j);
    rk_json_key(&j, "queued");
    rk_json_int(&j, (int64_t)queued);
    rk_json_key(&j, "exchanges");
    rk_json_int(&j, (int64_t)admin_repair_grew(start->ended, now->ended));
    rk_json_key(&j, "keys_repaired");
    rk_json_int(&j, (int64_t)admin_repair_grew(start->keys_repaired, now->keys_repaired));
    rk_json_key(&j, "done");
    rk_json_bool(&j, done);
    rk_json_object_end(&j);
    rk_json_finish(&j);
}

int admin_cmd_repair(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    const char *what = a->positional_count == 1 ? a->positional[0] : "all";
    uint64_t limit_ms = target->timeout_set ? target->timeout_ms : ADMIN_REPAIR_LIMIT_MS_DEFAULT;
    admin_aae start;
    uint64_t queued = 0;
    int status = admin_repair_sample(conn, &start);
    if (status == 0) {
        status = admin_repair_queue(conn, what, &queued);
    }
    if (status != 0) {
        return status;
    }
    uint64_t started_ms = admin_now_ms();
    if (!a->json) {
        printf("repair: %llu exchanges queued\n", (unsigned long long)queued);
        fflush(stdout);
    }
    admin_aae now = start;
    uint64_t left_shown = queued;
    uint64_t keys_shown = 0;
    for (;;) {
        uint64_t left = admin_repair_left(queued, &start, &now);
        /* Keys repaired counts every exchange's, the rotation's too: the node keeps one total. */
        uint64_t keys = admin_repair_grew(start.keys_repaired, now.keys_repaired);
        if (left == 0 && now.pending == 0) {
            break;
        }
        if (!a->json && (left != left_shown || keys != keys_shown)) {
            printf("repair: %llu of %llu exchanges left, %llu keys repaired\n",
                   (unsigned long long)left, (unsigned long long)queued, (unsigned long long)keys);
            fflush(stdout);
            left_shown = left;
            keys_shown = keys;
        }
        if (limit_ms != 0 && admin_now_ms() - started_ms >= limit_ms) {
            fprintf(stderr,
                    "ringkv: repair: gave up after %llu ms: %llu of %llu exchanges left, "
                    "%llu queued on the node\n",
                    (unsigned long long)limit_ms, (unsigned long long)left,
                    (unsigned long long)queued, (unsigned long long)now.pending);
            if (a->json) {
                admin_repair_json(queued, &start, &now, false);
            }
            return RK_ADMIN_EXIT_UNREACHABLE;
        }
        admin_sleep_ms(ADMIN_REPAIR_POLL_MS);
        status = admin_repair_sample(conn, &now);
        if (status != 0) {
            return status;
        }
    }
    if (a->json) {
        admin_repair_json(queued, &start, &now, true);
    } else {
        printf("repair: done: %llu exchanges, %llu keys repaired\n", (unsigned long long)queued,
               (unsigned long long)admin_repair_grew(start.keys_repaired, now.keys_repaired));
    }
    return 0;
}
