/* bucket.c — bucket properties and their table (see bucket.h). */
#include "bucket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skey.h"

void rk_bucket_table_init(rk_bucket_table *t)
{
    memset(t, 0, sizeof(*t));
    t->defaults = (rk_bucket_props){.n = 3, .r = 2, .w = 2, .policy = RK_POLICY_LWW, .sloppy = 1};
}

const rk_bucket_entry *rk_bucket_find(const rk_bucket_table *t, const uint8_t *name,
                                      size_t name_len)
{
    for (uint32_t i = 0; i < t->count; i++) {
        const rk_bucket_entry *e = &t->entries[i];
        if (e->name_len == name_len && memcmp(e->name, name, name_len) == 0) {
            return e;
        }
    }
    return NULL;
}

const rk_bucket_props *rk_bucket_lookup(const rk_bucket_table *t, const uint8_t *key,
                                        size_t key_len)
{
    size_t bucket_len = rk_skey_bucket_len(key, key_len);
    if (bucket_len > 0) {
        const rk_bucket_entry *e = rk_bucket_find(t, key, bucket_len);
        if (e != NULL) {
            return &e->props;
        }
    }
    return &t->defaults;
}

static bool bucket_parse_small(const char *value, uint32_t max, uint8_t *out)
{
    char *end = NULL;
    unsigned long v = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || v < 1 || v > max) {
        return false;
    }
    *out = (uint8_t)v;
    return true;
}

static bool bucket_parse_bool(const char *value, uint8_t *out)
{
    if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0) {
        *out = 1;
        return true;
    }
    if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0) {
        *out = 0;
        return true;
    }
    return false;
}

int rk_bucket_props_set(rk_bucket_props *props, const char *prop, const char *value,
                        char *err, size_t err_len)
{
    rk_bucket_props next = *props;
    bool ok = true;
    if (strcmp(prop, "n") == 0) {
        ok = bucket_parse_small(value, RK_N_MAX, &next.n);
    } else if (strcmp(prop, "r") == 0) {
        ok = bucket_parse_small(value, RK_N_MAX, &next.r);
    } else if (strcmp(prop, "w") == 0) {
        ok = bucket_parse_small(value, RK_N_MAX, &next.w);
    } else if (strcmp(prop, "policy") == 0) {
        if (strcmp(value, "lww") == 0) {
            next.policy = RK_POLICY_LWW;
        } else if (strcmp(value, "siblings") == 0) {
            next.policy = RK_POLICY_SIBLINGS;
        } else if (strcmp(value, "union") == 0) {
            next.policy = RK_POLICY_UNION;
        } else if (strcmp(value, "set") == 0) {
            next.policy = RK_POLICY_SET;
        } else if (strcmp(value, "counter") == 0) {
            next.policy = RK_POLICY_COUNTER;
        } else if (strcmp(value, "map") == 0) {
            next.policy = RK_POLICY_MAP;
        } else {
            snprintf(err, err_len,
                     "policy '%s': expected lww, siblings, union, set, counter or map", value);
            return RK_EINVAL;
        }
    } else if (strcmp(prop, "sloppy") == 0) {
        if (!bucket_parse_bool(value, &next.sloppy)) {
            snprintf(err, err_len, "sloppy '%s': expected true or false", value);
            return RK_EINVAL;
        }
    } else if (strcmp(prop, "fallback_w") == 0 || strcmp(prop, "fallback_r") == 0) {
        uint8_t *field = prop[9] == 'w' ? &next.fallback_w : &next.fallback_r;
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(err, err_len, "%s '%s': expected 0 (off) or 1", prop, value);
            return RK_EINVAL;
        }
        *field = (uint8_t)(value[0] - '0');
    } else {
        snprintf(err, err_len, "unknown bucket property '%s': expected n, r, w, policy, sloppy, "
                 "fallback_w or fallback_r", prop);
        return RK_EINVAL;
    }
    if (!ok) {
        snprintf(err, err_len, "%s '%s': expected 1 to %u", prop, value, RK_N_MAX);
        return RK_EINVAL;
    }
    if (next.r > next.n || next.w > next.n) {
        snprintf(err, err_len, "r (%u) and w (%u) must not exceed n (%u)", next.r, next.w,
                 next.n);
        return RK_EINVAL;
    }
    *props = next;
    return 0;
}

static bool bucket_newer(const rk_bucket_props *a, const rk_bucket_props *b)
{
    return a->version > b->version || (a->version == b->version && a->origin > b->origin);
}

int rk_bucket_apply(rk_bucket_table *t, const uint8_t *name, size_t name_len,
                    const rk_bucket_props *props)
{
    if (name_len == 0 || name_len > RK_BUCKET_NAME_BYTES_MAX) {
        return RK_ETOOBIG;
    }
    rk_bucket_entry *e = (rk_bucket_entry *)rk_bucket_find(t, name, name_len);
    if (e != NULL) {
        if (!bucket_newer(props, &e->props)) {
            return 0;
        }
        e->props = *props;
        return 1;
    }
    if (t->count >= RK_BUCKETS_MAX) {
        return RK_EBUSY;
    }
    e = &t->entries[t->count++];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, name_len);
    e->name_len = (uint32_t)name_len;
    e->props = *props;
    return 1;
}

void rk_bucket_props_encode(const rk_bucket_props *props, uint8_t out[RK_BUCKET_PROPS_BYTES])
{
    out[0] = 2;
    for (int i = 0; i < 8; i++) {
        out[1 + i] = (uint8_t)(props->version >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out[9 + i] = (uint8_t)(props->origin >> (8 * i));
    }
    out[13] = props->n;
    out[14] = props->r;
    out[15] = props->w;
    out[16] = props->policy;
    out[17] = props->sloppy;
    out[18] = props->fallback_w;
    out[19] = props->fallback_r;
}

int rk_bucket_props_decode(const uint8_t *bytes, size_t len, rk_bucket_props *out)
{
    bool v1 = len == RK_BUCKET_PROPS_V1_BYTES && bytes[0] == 1;
    if (!v1 && (len != RK_BUCKET_PROPS_BYTES || bytes[0] != 2)) {
        return RK_ECORRUPT;
    }
    rk_bucket_props p;
    memset(&p, 0, sizeof(p));
    p.sloppy = 1;
    if (!v1) {
        p.sloppy = bytes[17];
        p.fallback_w = bytes[18];
        p.fallback_r = bytes[19];
    }
    for (int i = 0; i < 8; i++) {
        p.version |= (uint64_t)bytes[1 + i] << (8 * i);
    }
    for (int i = 0; i < 4; i++) {
        p.origin |= (uint32_t)bytes[9 + i] << (8 * i);
    }
    p.n = bytes[13];
    p.r = bytes[14];
    p.w = bytes[15];
    p.policy = bytes[16];
    if (p.n < 1 || p.n > RK_N_MAX || p.r < 1 || p.r > p.n || p.w < 1 || p.w > p.n ||
        p.policy > RK_POLICY_MAX || p.sloppy > 1 || p.fallback_w > 1 || p.fallback_r > 1) {
        return RK_ECORRUPT;
    }
    *out = p;
    return 0;
}

const char *rk_bucket_policy_name(uint8_t policy)
{
    switch ((rk_bucket_policy)policy) {
    case RK_POLICY_LWW:
        return "lww";
    case RK_POLICY_SIBLINGS:
        return "siblings";
    case RK_POLICY_UNION:
        return "union";
    case RK_POLICY_SET:
        return "set";
    case RK_POLICY_COUNTER:
        return "counter";
    case RK_POLICY_MAP:
        return "map";
    }
    return "unknown";
}
