
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"
#include "ngx_http_aigw_obs.h"


/*
 * Routing by measured performance: the moving averages of time to first
 * byte and output tokens per second of each (provider, model id) target,
 * kept as series in the zone, and the plan ordered by
 * providerOptions.gateway.sort or aigw_sort.
 */


static int ngx_libc_cdecl ngx_http_aigw_obs_rank_cmp(const void *one,
    const void *two);


/*
 * The moving averages of a (provider, model id) target: its time to the
 * first byte and its output tokens per second, of its successful answers
 * (v[0] answers, v[1] ttft in ms, v[2] tokens per second * 1000, v[3]
 * answers with usage), each average weighing a new answer 1/4
 */

void
ngx_http_aigw_obs_perf_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_obs_sh_t *osh, ngx_slab_pool_t *shpool)
{
    int64_t                      ttft, tps, elapsed;
    ngx_str_t                    key;
    ngx_http_upstream_t         *u;
    ngx_http_aigw_target_t      *t;
    ngx_http_aigw_obs_series_t  *se;

    t = ngx_http_aigw_obs_target(ctx);
    u = r->upstream;

    if (t == NULL || u == NULL || ctx->status < 200 || ctx->status >= 300
        || ctx->first_byte == 0 || ctx->cache_status.len)
    {
        return;
    }

    ttft = (int64_t) (ctx->first_byte - u->start_time);
    elapsed = (int64_t) (ngx_current_msec - u->start_time);

    if (ttft < 0) {
        ttft = 0;
    }

    tps = -1;

    if (ctx->usage.output > 0 && !ctx->estimated) {
        tps = ctx->usage.output * 1000000 / (elapsed > 0 ? elapsed : 1);
    }

    if (ngx_http_aigw_obs_key(r->pool, &key, ngx_http_aigw_fam_perf,
                              "provider", &t->provider->name, "model",
                              &t->id, NULL)
        != NGX_OK)
    {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    se = ngx_http_aigw_obs_series(shpool, osh, &key, ngx_http_aigw_fam_perf,
                                  4);

    if (se) {
        if (se->v[0] == 0) {
            se->v[1] = ttft;

        } else {
            se->v[1] += (ttft - se->v[1]) / 4;
        }

        if (tps >= 0) {
            if (se->v[3] == 0) {
                se->v[2] = tps;

            } else {
                se->v[2] += (tps - se->v[2]) / 4;
            }

            se->v[3]++;
        }

        se->v[0]++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: performance of \"%V:%V\": ttft %L ms, tps*1000 %L",
                   &t->provider->name, &t->id, ttft, tps);
}


/* providerOptions.gateway.sort */

ngx_int_t
ngx_http_aigw_obs_sort_option(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *value)
{
    if (value->len == 4 && ngx_strncmp(value->data, "cost", 4) == 0) {
        ctx->sort = ngx_http_aigw_sort_cost;

    } else if (value->len == 4 && ngx_strncmp(value->data, "ttft", 4) == 0) {
        ctx->sort = ngx_http_aigw_sort_ttft;

    } else if (value->len == 3 && ngx_strncmp(value->data, "tps", 3) == 0) {
        ctx->sort = ngx_http_aigw_sort_tps;

    } else {
        return NGX_ERROR;
    }

    return NGX_OK;
}


typedef struct {
    ngx_uint_t                      index;
    int64_t                         value;     /* smaller first */
} ngx_http_aigw_obs_rank_t;


static int ngx_libc_cdecl
ngx_http_aigw_obs_rank_cmp(const void *one, const void *two)
{
    const ngx_http_aigw_obs_rank_t  *a = one, *b = two;

    if (a->value != b->value) {
        return (a->value < b->value) ? -1 : 1;
    }

    return (a->index < b->index) ? -1 : (a->index > b->index);
}


/*
 * The plan, ordered by "sort": "cost" by the configured price of the
 * targets' models (input + output per 1M tokens), unpriced ones keep
 * their place; "ttft" and "tps" by the moving averages of the targets,
 * those with fewer than MIN_SAMPLES answers keep their place.  Only the
 * places of the ranked targets are reordered, stably.
 */

void
ngx_http_aigw_obs_sort(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t                       key;
    ngx_uint_t                      i, n, sort, *places;
    ngx_slab_pool_t                *shpool;
    ngx_http_aigw_target_t         *t, *sorted;
    ngx_http_aigw_obs_sh_t         *osh;
    ngx_http_aigw_obs_rank_t       *rank;
    ngx_http_aigw_main_conf_t      *amcf;
    ngx_http_aigw_obs_series_t     *se;
    ngx_http_aigw_obs_loc_conf_t   *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_obs_module);

    sort = ctx->sort ? ctx->sort : olcf->sort;

    if (sort <= ngx_http_aigw_sort_off || ctx->plan.nelts < 2) {
        return;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    t = ctx->plan.elts;

    rank = ngx_palloc(r->pool,
                      ctx->plan.nelts * sizeof(ngx_http_aigw_obs_rank_t));
    sorted = ngx_palloc(r->pool,
                        ctx->plan.nelts * sizeof(ngx_http_aigw_target_t));
    places = ngx_palloc(r->pool, ctx->plan.nelts * sizeof(ngx_uint_t));
    if (rank == NULL || sorted == NULL || places == NULL) {
        return;
    }

    n = 0;

    if (sort == ngx_http_aigw_sort_cost) {
        for (i = 0; i < ctx->plan.nelts; i++) {
            if (t[i].model->priced) {
                rank[n].index = i;
                rank[n].value = t[i].model->price_input
                                + t[i].model->price_output;
                n++;
            }
        }

    } else {
        osh = amcf->sh ? amcf->sh->obs : NULL;

        if (osh == NULL) {
            return;
        }

        shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

        for (i = 0; i < ctx->plan.nelts; i++) {
            if (ngx_http_aigw_obs_key(r->pool, &key, ngx_http_aigw_fam_perf,
                                      "provider", &t[i].provider->name,
                                      "model", &t[i].id, NULL)
                != NGX_OK)
            {
                return;
            }

            ngx_shmtx_lock(&shpool->mutex);

            se = (ngx_http_aigw_obs_series_t *)
                     ngx_str_rbtree_lookup(&osh->rbtree, &key,
                                           ngx_crc32_short(key.data,
                                                           key.len));

            if (se && sort == ngx_http_aigw_sort_ttft
                && se->v[0] >= NGX_HTTP_AIGW_OBS_MIN_SAMPLES)
            {
                rank[n].index = i;
                rank[n].value = se->v[1];
                n++;

            } else if (se && sort == ngx_http_aigw_sort_tps
                       && se->v[3] >= NGX_HTTP_AIGW_OBS_MIN_SAMPLES)
            {
                rank[n].index = i;
                rank[n].value = -se->v[2];
                n++;
            }

            ngx_shmtx_unlock(&shpool->mutex);
        }
    }

    if (n < 2) {
        return;
    }

    /* the places of the ranked targets, in plan order (as ranked) */

    for (i = 0; i < n; i++) {
        places[i] = rank[i].index;
    }

    ngx_qsort(rank, n, sizeof(ngx_http_aigw_obs_rank_t),
              ngx_http_aigw_obs_rank_cmp);

    for (i = 0; i < n; i++) {
        sorted[i] = t[rank[i].index];
    }

    for (i = 0; i < n; i++) {
        t[places[i]] = sorted[i];
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: plan sorted by %ui, %ui targets ranked", sort, n);
}
