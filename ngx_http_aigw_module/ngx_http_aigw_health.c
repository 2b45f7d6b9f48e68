
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Target health in the zone: the cooldowns and the circuit breaker of
 * each (provider, model id) target, as rate limits and overloads are per
 * model.  Model ids are open-ended (wildcard models), so the targets live
 * in an rbtree keyed by a hash of the provider name and the model id,
 * with the whole key kept to compare, and in an LRU queue: when the zone
 * is full, the least recently reported targets are forgotten.
 *
 * A target without a node is healthy: a node is made by a failure and
 * removed by a success once the target is neither cooling down nor open,
 * so a request whose targets never failed costs a lookup miss for each,
 * or nothing at all while the table is empty.
 *
 * Connect and TLS errors, timeouts and responses without a status are the
 * state of a provider's servers, counted by nginx (max_fails of its
 * upstream{}), not of a target.
 */


typedef struct {
    ngx_rbtree_node_t               node;
    ngx_queue_t                     queue;
    ngx_msec_t                      cooldown_until;
    ngx_msec_t                      open_until;
    ngx_uint_t                      failures;
    u_short                         provider_len;
    u_short                         id_len;
    u_char                          key[1];     /* provider name, id */
} ngx_http_aigw_health_node_t;


static uint32_t ngx_http_aigw_health_hash(ngx_str_t *provider, ngx_str_t *id);
static ngx_int_t ngx_http_aigw_health_cmp(ngx_http_aigw_health_node_t *hn,
    ngx_str_t *provider, ngx_str_t *id);
static ngx_http_aigw_health_node_t *ngx_http_aigw_health_lookup(
    ngx_http_aigw_health_t *h, ngx_str_t *provider, ngx_str_t *id,
    uint32_t hash);
static ngx_http_aigw_health_node_t *ngx_http_aigw_health_get(
    ngx_slab_pool_t *shpool, ngx_http_aigw_health_t *h, ngx_str_t *provider,
    ngx_str_t *id, uint32_t hash);
static void ngx_http_aigw_health_delete(ngx_slab_pool_t *shpool,
    ngx_http_aigw_health_t *h, ngx_http_aigw_health_node_t *hn);
static void ngx_http_aigw_health_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_msec_t ngx_http_aigw_health_retry_after(ngx_msec_t cool,
    ngx_str_t *retry_after);


/* nodes the LRU eviction may free to make room for one */

#define NGX_HTTP_AIGW_HEALTH_EVICT  8


ngx_uint_t
ngx_http_aigw_health_cooled(ngx_http_request_t *r, ngx_http_aigw_target_t *t)
{
    uint32_t                      hash;
    ngx_msec_t                    now;
    ngx_uint_t                    cooled;
    ngx_slab_pool_t              *shpool;
    ngx_http_aigw_health_t       *h;
    ngx_http_aigw_main_conf_t    *amcf;
    ngx_http_aigw_health_node_t  *hn;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL) {
        return 0;
    }

    h = &amcf->sh->health;

    /* a hint: no target has failed */

    if (h->entries == 0) {
        return 0;
    }

    hash = ngx_http_aigw_health_hash(&t->provider->name, &t->id);
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    now = ngx_current_msec;

    ngx_shmtx_lock(&shpool->mutex);

    hn = ngx_http_aigw_health_lookup(h, &t->provider->name, &t->id, hash);

    cooled = (hn && (hn->cooldown_until > now || hn->open_until > now));

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: health of \"%V:%V\": %s", &t->provider->name,
                   &t->id, hn == NULL ? "no failures"
                                      : (cooled ? "cooled" : "usable"));

    return cooled;
}


void
ngx_http_aigw_health_report(ngx_http_request_t *r, ngx_http_aigw_target_t *t,
    ngx_uint_t status, ngx_uint_t failed, ngx_str_t *retry_after)
{
    uint32_t                      hash;
    ngx_msec_t                    now, cool;
    ngx_uint_t                    failures, opened;
    ngx_slab_pool_t              *shpool;
    ngx_http_aigw_health_t       *h;
    ngx_http_aigw_main_conf_t    *amcf;
    ngx_http_aigw_health_node_t  *hn;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    /* no status: the provider's servers failed, nginx's max_fails */

    if (amcf->sh == NULL || status == 0) {
        return;
    }

    h = &amcf->sh->health;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    now = ngx_current_msec;

    /*
     * rate limited or overloaded (a 503 saying until when): the target
     * cools down, as long as it asks
     */

    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        || status == NGX_HTTP_AIGW_OVERLOADED
        || (status == NGX_HTTP_SERVICE_UNAVAILABLE
            && retry_after && retry_after->len))
    {
        cool = ngx_http_aigw_health_retry_after(amcf->cooldown, retry_after);

        hash = ngx_http_aigw_health_hash(&t->provider->name, &t->id);

        ngx_shmtx_lock(&shpool->mutex);

        if (cool) {
            hn = ngx_http_aigw_health_get(shpool, h, &t->provider->name,
                                          &t->id, hash);

        } else {
            hn = ngx_http_aigw_health_lookup(h, &t->provider->name, &t->id,
                                             hash);
        }

        if (hn) {
            hn->cooldown_until = now + cool;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        if (cool && hn == NULL) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "aigw: zone \"%V\" is full, the cooldown of "
                          "provider \"%V\" model \"%V\" is not kept",
                          &amcf->zone->shm.name, &t->provider->name,
                          &t->id);
            return;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" returned %ui, cooling down "
                      "for %Mms, model \"%V\"", &t->provider->name, status,
                      cool, &t->id);
        return;
    }

    /* a success closes the circuit; a target without a node is healthy */

    if (!failed && status < 500) {

        if (h->entries == 0) {
            return;
        }

        hash = ngx_http_aigw_health_hash(&t->provider->name, &t->id);

        ngx_shmtx_lock(&shpool->mutex);

        hn = ngx_http_aigw_health_lookup(h, &t->provider->name, &t->id,
                                         hash);

        if (hn) {
            hn->failures = 0;

            if (hn->cooldown_until <= now && hn->open_until <= now) {
                ngx_http_aigw_health_delete(shpool, h, hn);
            }
        }

        ngx_shmtx_unlock(&shpool->mutex);

        return;
    }

    /* 5xx (503 without Retry-After too) and failures in a row open it */

    hash = ngx_http_aigw_health_hash(&t->provider->name, &t->id);

    opened = 0;
    failures = 0;

    ngx_shmtx_lock(&shpool->mutex);

    hn = ngx_http_aigw_health_get(shpool, h, &t->provider->name, &t->id,
                                  hash);

    if (hn) {
        failures = ++hn->failures;

        if (failures >= amcf->failures) {

            /*
             * half-open afterwards: one more failure opens the circuit
             * again, one success closes it
             */

            hn->failures = amcf->failures - 1;
            hn->open_until = now + amcf->open_time;
            opened = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (hn == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: zone \"%V\" is full, the failures of provider "
                      "\"%V\" model \"%V\" are not counted",
                      &amcf->zone->shm.name, &t->provider->name, &t->id);
        return;
    }

    if (opened) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" failed %ui times in a row, "
                      "its circuit is open for %Mms, model \"%V\"",
                      &t->provider->name, failures, amcf->open_time,
                      &t->id);

        ngx_http_aigw_alert_circuit(r, &t->provider->name, &t->id,
                                    amcf->open_time);
    }
}


/* for the metrics: 0 closed, 1 open, 2 cooling down */

ngx_uint_t
ngx_http_aigw_health_state(ngx_http_aigw_main_conf_t *amcf,
    ngx_str_t *provider, ngx_str_t *id)
{
    ngx_uint_t                    state;
    ngx_msec_t                    now;
    ngx_slab_pool_t              *shpool;
    ngx_http_aigw_health_node_t  *hn;

    if (amcf->sh == NULL || amcf->sh->health.entries == 0) {
        return 0;
    }

    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    now = ngx_current_msec;
    state = 0;

    ngx_shmtx_lock(&shpool->mutex);

    hn = ngx_http_aigw_health_lookup(&amcf->sh->health, provider, id,
                                     ngx_http_aigw_health_hash(provider, id));

    if (hn && hn->open_until > now) {
        state = 1;

    } else if (hn && hn->cooldown_until > now) {
        state = 2;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return state;
}


static ngx_msec_t
ngx_http_aigw_health_retry_after(ngx_msec_t cool, ngx_str_t *retry_after)
{
    time_t  secs;

    if (retry_after == NULL || retry_after->len == 0) {
        return cool;
    }

    secs = ngx_atoi(retry_after->data, retry_after->len);

    if (secs == NGX_ERROR) {

        /* Retry-After may also be an HTTP-date */

        secs = ngx_parse_http_time(retry_after->data, retry_after->len);

        if (secs == NGX_ERROR) {
            return cool;
        }

        secs = (secs > ngx_time()) ? secs - ngx_time() : 0;
    }

    return (ngx_msec_t) ngx_min(secs, 3600) * 1000;
}


static uint32_t
ngx_http_aigw_health_hash(ngx_str_t *provider, ngx_str_t *id)
{
    uint32_t  hash;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, provider->data, provider->len);
    ngx_crc32_update(&hash, (u_char *) "", 1);
    ngx_crc32_update(&hash, id->data, id->len);
    ngx_crc32_final(hash);

    return hash;
}


static ngx_int_t
ngx_http_aigw_health_cmp(ngx_http_aigw_health_node_t *hn,
    ngx_str_t *provider, ngx_str_t *id)
{
    ngx_int_t  rc;

    rc = (ngx_int_t) provider->len - (ngx_int_t) hn->provider_len;

    if (rc == 0) {
        rc = (ngx_int_t) id->len - (ngx_int_t) hn->id_len;
    }

    if (rc == 0) {
        rc = ngx_memn2cmp(provider->data, hn->key, provider->len,
                          provider->len);
    }

    if (rc == 0) {
        rc = ngx_memn2cmp(id->data, hn->key + hn->provider_len, id->len,
                          id->len);
    }

    return rc;
}


static ngx_http_aigw_health_node_t *
ngx_http_aigw_health_lookup(ngx_http_aigw_health_t *h, ngx_str_t *provider,
    ngx_str_t *id, uint32_t hash)
{
    ngx_int_t                     rc;
    ngx_rbtree_node_t            *node, *sentinel;
    ngx_http_aigw_health_node_t  *hn;

    node = h->rbtree.root;
    sentinel = h->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        hn = (ngx_http_aigw_health_node_t *) node;

        rc = ngx_http_aigw_health_cmp(hn, provider, id);

        if (rc == 0) {
            return hn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* the node of a target, made if needed; the slab mutex is held */

static ngx_http_aigw_health_node_t *
ngx_http_aigw_health_get(ngx_slab_pool_t *shpool, ngx_http_aigw_health_t *h,
    ngx_str_t *provider, ngx_str_t *id, uint32_t hash)
{
    size_t                        size;
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_aigw_health_node_t  *hn;

    hn = ngx_http_aigw_health_lookup(h, provider, id, hash);

    if (hn) {
        ngx_queue_remove(&hn->queue);
        ngx_queue_insert_head(&h->queue, &hn->queue);
        return hn;
    }

    if (provider->len > 0xffff || id->len > 0xffff) {
        return NULL;
    }

    size = offsetof(ngx_http_aigw_health_node_t, key)
           + provider->len + id->len;

    hn = ngx_slab_alloc_locked(shpool, size);

    /* the zone is full: forget the least recently reported targets */

    for (n = 0; hn == NULL && n < NGX_HTTP_AIGW_HEALTH_EVICT; n++) {

        if (ngx_queue_empty(&h->queue)) {
            return NULL;
        }

        q = ngx_queue_last(&h->queue);

        ngx_http_aigw_health_delete(shpool, h,
                  ngx_queue_data(q, ngx_http_aigw_health_node_t, queue));

        hn = ngx_slab_alloc_locked(shpool, size);
    }

    if (hn == NULL) {
        return NULL;
    }

    ngx_memzero(hn, offsetof(ngx_http_aigw_health_node_t, key));

    hn->node.key = hash;
    hn->provider_len = (u_short) provider->len;
    hn->id_len = (u_short) id->len;
    ngx_memcpy(ngx_cpymem(hn->key, provider->data, provider->len),
               id->data, id->len);

    ngx_rbtree_insert(&h->rbtree, &hn->node);
    ngx_queue_insert_head(&h->queue, &hn->queue);

    h->entries++;

    return hn;
}


static void
ngx_http_aigw_health_delete(ngx_slab_pool_t *shpool,
    ngx_http_aigw_health_t *h, ngx_http_aigw_health_node_t *hn)
{
    ngx_queue_remove(&hn->queue);
    ngx_rbtree_delete(&h->rbtree, &hn->node);
    ngx_slab_free_locked(shpool, hn);

    h->entries--;
}


static void
ngx_http_aigw_health_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_str_t                     provider, id;
    ngx_rbtree_node_t           **p;
    ngx_http_aigw_health_node_t  *hn, *hnt;

    hn = (ngx_http_aigw_health_node_t *) node;

    provider.len = hn->provider_len;
    provider.data = hn->key;
    id.len = hn->id_len;
    id.data = hn->key + hn->provider_len;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            hnt = (ngx_http_aigw_health_node_t *) temp;

            p = (ngx_http_aigw_health_cmp(hnt, &provider, &id) < 0)
                ? &temp->left : &temp->right;
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


ngx_int_t
ngx_http_aigw_health_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_aigw_main_conf_t  *oamcf = data;

    size_t                      len;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_shctx_t      *sh;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* the same zone after a reload: its state carries over */

    if (oamcf) {
        amcf->sh = oamcf->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        amcf->sh = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_aigw_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    amcf->sh = sh;

    ngx_rbtree_init(&sh->health.rbtree, &sh->health.sentinel,
                    ngx_http_aigw_health_rbtree_insert_value);
    ngx_queue_init(&sh->health.queue);
    sh->health.entries = 0;
    sh->obs = NULL;

    ngx_http_aigw_store_shm_init(&sh->counters);
    ngx_http_aigw_report_init_zone(&sh->report);

    len = sizeof(" in aigw zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in aigw zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts targets, it is not an error */

    shpool->log_nomem = 0;

    return NGX_OK;
}
