
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The counter interface of limits and budgets, and its shared-memory
 * backend.
 *
 * A request draws on several counters (its user's rpm, its tag's tokens
 * per day, its key's budget...).  The limits stage describes each as an
 * ngx_http_aigw_counter_op_t and hands them all to the backend in one
 * batch, so that a networked backend (Redis) needs one round trip:
 *
 *   reserve(r, ops, n, done, &pending)   checks every op and, only if
 *       all are allowed, applies them all (all or nothing, atomically);
 *       fills the results of every op (allowed, used, remaining, reset,
 *       retry, the lease held).  Returns NGX_OK when decided now;
 *       NGX_AGAIN when the answer comes later: the backend then calls
 *       done(r, rc) with the results filled (rc as reserve() would have
 *       returned), and the stage suspends the request meanwhile; if the
 *       request ends first, cancel(pending) instead, and the backend
 *       gives back what the answer reserved; NGX_DECLINED when the
 *       counters cannot be kept (no memory, backend down): nothing was
 *       applied; NGX_ERROR.
 *   settle(r, ops, n)   after the request, on every end: adds
 *       actual - amount to the sums (reconcile) and gives back the lease
 *       slots (release); fire and forget, one call.
 *   read(r, ops, n, done, &pending)   fills "used" of each op without
 *       changing it (reports, /v1/credits); returns as reserve() does.
 *
 * An op is one counter: a namespaced key (scope, id, metric and, for
 * windows and periods, their start, so a new window is a new counter),
 * its kind, limit and period:
 *
 *   rate     GCRA (as limit_req): "limit" requests per "period" ms, with
 *            a burst of "limit": the limit-th request in a burst passes,
 *            the next is refused until one emission interval
 *            (period / limit) has passed;
 *   window   a sum in a fixed window ending at "expire" (tokens per
 *            minute and per day, UTC);
 *   lease    "limit" slots, each held until released or "period" ms
 *            passed (a crashed worker's leases expire);
 *   sum      a sum until "expire" (budget spend; 0: never).
 *
 * The shm backend keeps the counters in the aigw_zone: an rbtree keyed by
 * a hash of the key, the whole key kept to compare, and an LRU queue.
 * Every batch runs under the zone's mutex.  Idle counters (a rate that is
 * full again, a past window or period, a lease without holders) are
 * freed as they are met at the tail of the queue; when the zone is full,
 * the least recently used rate and window counters are evicted too
 * (which forgives their usage).  Budget sums and held leases are never
 * evicted: if there is still no room, the batch is declined (the stage
 * answers 503) and an error is logged, at most every 5 seconds.
 */


typedef struct {
    ngx_rbtree_node_t               node;
    ngx_queue_t                     queue;
    int64_t                         value;    /* rate: TAT in us; sums */
    int64_t                         expire;   /* ms, 0: never */
    u_char                          kind;
    u_char                          warned;
    u_char                          pinned;
    u_short                         len;
    u_short                         nslots;
    int64_t                         data[1];  /* lease slots, then key */
} ngx_http_aigw_counter_node_t;


#define ngx_http_aigw_counter_key(cn)  ((u_char *) &(cn)->data[(cn)->nslots])

/* counters freed by an eviction round */
#define NGX_HTTP_AIGW_COUNTER_EVICT   16


static ngx_int_t ngx_http_aigw_shm_reserve(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending);
static void ngx_http_aigw_shm_settle(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n);
static ngx_int_t ngx_http_aigw_shm_read(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending);
static ngx_http_aigw_counter_node_t *ngx_http_aigw_shm_lookup(
    ngx_http_aigw_counters_t *c, ngx_str_t *key, uint32_t hash);
static ngx_http_aigw_counter_node_t *ngx_http_aigw_shm_get(
    ngx_slab_pool_t *shpool, ngx_http_aigw_counters_t *c,
    ngx_http_aigw_counter_op_t *op, int64_t now);
static ngx_uint_t ngx_http_aigw_shm_idle(ngx_http_aigw_counter_node_t *cn,
    int64_t now);
static void ngx_http_aigw_shm_expire(ngx_slab_pool_t *shpool,
    ngx_http_aigw_counters_t *c, int64_t now, ngx_uint_t force,
    ngx_uint_t max);
static void ngx_http_aigw_shm_check(ngx_http_aigw_counter_op_t *op,
    ngx_http_aigw_counter_node_t *cn, int64_t now);
static void ngx_http_aigw_shm_apply(ngx_http_aigw_counter_op_t *op,
    ngx_http_aigw_counter_node_t *cn, int64_t now);
static void ngx_http_aigw_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


const ngx_http_aigw_counter_backend_t  ngx_http_aigw_store_shm = {
    "shm",
    ngx_http_aigw_shm_reserve,
    ngx_http_aigw_shm_settle,
    ngx_http_aigw_shm_read,
    NULL
};


void
ngx_http_aigw_store_shm_init(ngx_http_aigw_counters_t *c)
{
    ngx_rbtree_init(&c->rbtree, &c->sentinel,
                    ngx_http_aigw_shm_rbtree_insert_value);
    ngx_queue_init(&c->queue);
    c->nomem_logged = 0;
    c->forgiven = 0;
    c->forgiven_logged = 0;
}


static int64_t
ngx_http_aigw_shm_now(void)
{
    return ngx_http_aigw_limit_now();
}


static ngx_int_t
ngx_http_aigw_shm_reserve(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending)
{
    int64_t                         now;
    ngx_uint_t                      i, all, forgiven;
    ngx_msec_t                      logged;
    ngx_slab_pool_t                *shpool;
    ngx_http_aigw_counters_t       *c;
    ngx_http_aigw_main_conf_t      *amcf;
    ngx_http_aigw_counter_node_t  **nodes;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL) {
        return NGX_DECLINED;
    }

    nodes = ngx_palloc(r->pool, n * sizeof(ngx_http_aigw_counter_node_t *));
    if (nodes == NULL) {
        return NGX_ERROR;
    }

    c = &amcf->sh->counters;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    now = ngx_http_aigw_shm_now();

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_aigw_shm_expire(shpool, c, now, 0, 2);

    for (i = 0; i < n; i++) {
        nodes[i] = ngx_http_aigw_shm_get(shpool, c, &ops[i], now);

        if (nodes[i] == NULL) {
            break;
        }

        nodes[i]->pinned = 1;
    }

    if (i < n) {
        while (i--) {
            nodes[i]->pinned = 0;
        }

        logged = c->nomem_logged;

        if (logged == 0 || ngx_current_msec - logged >= 5000) {
            c->nomem_logged = ngx_current_msec ? ngx_current_msec : 1;
            ngx_shmtx_unlock(&shpool->mutex);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "aigw: zone \"%V\" has no room for the counters "
                          "of limits and budgets, even after evicting idle "
                          "ones: requests are refused with 503 until "
                          "there is (make aigw_zone larger)",
                          &amcf->zone->shm.name);
            return NGX_DECLINED;
        }

        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_DECLINED;
    }

    /* a full zone forgave counters in use: never silently */

    forgiven = 0;

    if (c->forgiven
        && (c->forgiven_logged == 0
            || ngx_current_msec - c->forgiven_logged >= 5000))
    {
        forgiven = c->forgiven;
        c->forgiven = 0;
        c->forgiven_logged = ngx_current_msec ? ngx_current_msec : 1;
    }

    all = 1;

    for (i = 0; i < n; i++) {
        ngx_http_aigw_shm_check(&ops[i], nodes[i], now);
        all &= ops[i].allowed;
    }

    for (i = 0; i < n; i++) {
        if (all) {
            ngx_http_aigw_shm_apply(&ops[i], nodes[i], now);
        }

        nodes[i]->pinned = 0;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (forgiven) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: zone \"%V\" is full: %ui rate or token "
                      "counters in use were evicted and their usage "
                      "forgiven (make aigw_zone larger)",
                      &amcf->zone->shm.name, forgiven);
    }

    return NGX_OK;
}


static void
ngx_http_aigw_shm_settle(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n)
{
    ngx_uint_t                     i;
    ngx_slab_pool_t               *shpool;
    ngx_http_aigw_counters_t      *c;
    ngx_http_aigw_main_conf_t     *amcf;
    ngx_http_aigw_counter_node_t  *cn;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL) {
        return;
    }

    c = &amcf->sh->counters;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        cn = ngx_http_aigw_shm_lookup(c, &ops[i].key,
                                      ngx_murmur_hash2(ops[i].key.data,
                                                       ops[i].key.len));
        if (cn == NULL) {
            continue;
        }

        switch (ops[i].kind) {

        case ngx_http_aigw_counter_window:
        case ngx_http_aigw_counter_sum:
            cn->value += ops[i].actual - ops[i].amount;

            if (cn->value < 0) {
                cn->value = 0;
            }

            break;

        case ngx_http_aigw_counter_lease:

            /*
             * only the lease this request holds: after its TTL the slot
             * may be another request's
             */

            if (ops[i].slot < cn->nslots
                && cn->data[ops[i].slot] == ops[i].held)
            {
                cn->data[ops[i].slot] = 0;
            }

            break;

        default:
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


static ngx_int_t
ngx_http_aigw_shm_read(ngx_http_request_t *r, ngx_http_aigw_counter_op_t *ops,
    ngx_uint_t n, ngx_http_aigw_counter_done_pt done, void **pending)
{
    ngx_uint_t                     i;
    ngx_slab_pool_t               *shpool;
    ngx_http_aigw_counters_t      *c;
    ngx_http_aigw_main_conf_t     *amcf;
    ngx_http_aigw_counter_node_t  *cn;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL) {
        return NGX_DECLINED;
    }

    c = &amcf->sh->counters;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        cn = ngx_http_aigw_shm_lookup(c, &ops[i].key,
                                      ngx_murmur_hash2(ops[i].key.data,
                                                       ops[i].key.len));
        ops[i].used = (cn && ops[i].kind != ngx_http_aigw_counter_rate)
                      ? cn->value : 0;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


static ngx_http_aigw_counter_node_t *
ngx_http_aigw_shm_lookup(ngx_http_aigw_counters_t *c, ngx_str_t *key,
    uint32_t hash)
{
    ngx_int_t                      rc;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_aigw_counter_node_t  *cn;

    node = c->rbtree.root;
    sentinel = c->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        cn = (ngx_http_aigw_counter_node_t *) node;

        rc = ngx_memn2cmp(key->data, ngx_http_aigw_counter_key(cn), key->len,
                          cn->len);
        if (rc == 0) {
            return cn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_aigw_counter_node_t *
ngx_http_aigw_shm_get(ngx_slab_pool_t *shpool, ngx_http_aigw_counters_t *c,
    ngx_http_aigw_counter_op_t *op, int64_t now)
{
    size_t                         size;
    uint32_t                       hash;
    ngx_uint_t                     nslots;
    ngx_http_aigw_counter_node_t  *cn;

    hash = ngx_murmur_hash2(op->key.data, op->key.len);

    cn = ngx_http_aigw_shm_lookup(c, &op->key, hash);

    if (cn) {
        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(&c->queue, &cn->queue);
        return cn;
    }

    nslots = (op->kind == ngx_http_aigw_counter_lease) ? op->limit : 0;
    size = offsetof(ngx_http_aigw_counter_node_t, data)
           + nslots * sizeof(int64_t) + op->key.len;

    cn = ngx_slab_alloc_locked(shpool, size);

    if (cn == NULL) {
        ngx_http_aigw_shm_expire(shpool, c, now, 1,
                                 NGX_HTTP_AIGW_COUNTER_EVICT);

        cn = ngx_slab_alloc_locked(shpool, size);
        if (cn == NULL) {
            return NULL;
        }
    }

    cn->node.key = hash;
    cn->value = 0;
    cn->expire = (op->kind == ngx_http_aigw_counter_window
                  || op->kind == ngx_http_aigw_counter_sum)
                 ? op->expire : 0;
    cn->kind = (u_char) op->kind;
    cn->warned = 0;
    cn->pinned = 0;
    cn->len = (u_short) op->key.len;
    cn->nslots = (u_short) nslots;

    ngx_memzero(cn->data, nslots * sizeof(int64_t));
    ngx_memcpy(ngx_http_aigw_counter_key(cn), op->key.data, op->key.len);

    ngx_rbtree_insert(&c->rbtree, &cn->node);
    ngx_queue_insert_head(&c->queue, &cn->queue);

    return cn;
}


/* a counter whose loss changes nothing */

static ngx_uint_t
ngx_http_aigw_shm_idle(ngx_http_aigw_counter_node_t *cn, int64_t now)
{
    ngx_uint_t  i;

    switch (cn->kind) {

    case ngx_http_aigw_counter_rate:
        return cn->value <= now * 1000;

    case ngx_http_aigw_counter_lease:
        for (i = 0; i < cn->nslots; i++) {
            if (cn->data[i] > now) {
                return 0;
            }
        }

        return 1;

    default:

        /* nothing spent or reserved: forgetting it loses nothing */

        return cn->value == 0 || (cn->expire && cn->expire <= now);
    }
}


/*
 * Frees up to "max" counters from the tail of the LRU queue: idle ones
 * and, when "force", also the rate and window counters in use.
 */

static void
ngx_http_aigw_shm_expire(ngx_slab_pool_t *shpool, ngx_http_aigw_counters_t *c,
    int64_t now, ngx_uint_t force, ngx_uint_t max)
{
    ngx_uint_t                     freed, seen;
    ngx_queue_t                   *q, *prev;
    ngx_http_aigw_counter_node_t  *cn;

    freed = 0;
    seen = 0;

    for (q = ngx_queue_last(&c->queue);
         q != ngx_queue_sentinel(&c->queue) && freed < max;
         q = prev)
    {
        prev = ngx_queue_prev(q);
        cn = ngx_queue_data(q, ngx_http_aigw_counter_node_t, queue);

        if (cn->pinned) {
            continue;
        }

        if (!ngx_http_aigw_shm_idle(cn, now)) {

            if (!force) {
                /* the tail is the oldest: stop at the first one in use */
                if (++seen >= max) {
                    break;
                }

                continue;
            }

            if (cn->kind != ngx_http_aigw_counter_rate
                && cn->kind != ngx_http_aigw_counter_window)
            {
                continue;
            }

            c->forgiven++;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&c->rbtree, &cn->node);
        ngx_slab_free_locked(shpool, cn);
        freed++;
    }
}


static void
ngx_http_aigw_shm_check(ngx_http_aigw_counter_op_t *op,
    ngx_http_aigw_counter_node_t *cn, int64_t now)
{
    int64_t     t, tau, tat, next, now_us;
    ngx_uint_t  i, active, free;

    op->retry = 0;
    op->first = 0;
    op->warned = 0;

    switch (op->kind) {

    case ngx_http_aigw_counter_rate:
        now_us = now * 1000;
        tau = op->period * 1000;
        t = tau / op->limit;
        tat = ngx_max(cn->value, now_us);
        next = tat + t;

        op->allowed = (next - now_us <= tau);

        if (op->allowed) {
            op->remaining = (tau - (next - now_us)) / t;
            op->reset = (next - now_us + 999) / 1000;

        } else {
            op->remaining = 0;
            op->reset = (tat - now_us + 999) / 1000;
            op->retry = (next - tau - now_us + 999) / 1000;
        }

        op->used = op->limit - op->remaining;
        return;

    case ngx_http_aigw_counter_lease:
        active = 0;
        free = cn->nslots;

        for (i = 0; i < cn->nslots; i++) {
            if (cn->data[i] > now) {
                active++;

            } else if (free == cn->nslots) {
                free = i;
            }
        }

        op->allowed = (free < cn->nslots);
        op->slot = free;
        op->used = active + op->allowed;
        op->remaining = op->limit - op->used;
        op->reset = 0;

        if (!op->allowed) {
            op->retry = 1000;
        }

        return;

    default: /* window, sum */
        op->used = cn->value + op->amount;
        op->allowed = (op->limit < 0 || op->used <= op->limit);
        op->reset = cn->expire ? cn->expire - now : 0;

        if (!op->allowed) {
            op->used = cn->value;
            op->retry = op->reset;
        }

        op->remaining = (op->limit < 0) ? -1
                        : ngx_max(op->limit - op->used, 0);

        if (op->warn && op->used >= op->warn) {
            op->warned = 1;
        }

        return;
    }
}


static void
ngx_http_aigw_shm_apply(ngx_http_aigw_counter_op_t *op,
    ngx_http_aigw_counter_node_t *cn, int64_t now)
{
    switch (op->kind) {

    case ngx_http_aigw_counter_rate:
        cn->value = ngx_max(cn->value, now * 1000)
                    + op->period * 1000 / op->limit;
        return;

    case ngx_http_aigw_counter_lease:
        cn->data[op->slot] = now + op->period;
        op->held = cn->data[op->slot];
        return;

    default:
        cn->value += op->amount;

        if (op->warned && !cn->warned) {
            cn->warned = 1;
            op->first = 1;
        }

        return;
    }
}


static void
ngx_http_aigw_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_aigw_counter_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            cn = (ngx_http_aigw_counter_node_t *) node;
            cnt = (ngx_http_aigw_counter_node_t *) temp;

            p = (ngx_memn2cmp(ngx_http_aigw_counter_key(cn),
                              ngx_http_aigw_counter_key(cnt), cn->len,
                              cnt->len)
                 < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
