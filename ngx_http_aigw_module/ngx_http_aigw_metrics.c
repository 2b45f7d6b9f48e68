
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"
#include "ngx_http_aigw_obs.h"


/*
 * Metrics: series in the aigw zone, keyed by a family byte and their label
 * text (labels only ever hold configured names, so their number is bounded
 * by the configuration), updated in the log phase under one lock, and
 * their Prometheus text exposition (aigw_metrics) with the state of every
 * configured target.
 */


static ngx_int_t ngx_http_aigw_obs_push(ngx_array_t *ups, ngx_pool_t *pool,
    ngx_uint_t family, int64_t add, int64_t ms, ngx_str_t *l1,
    ngx_str_t *l2, ngx_str_t *l3);
static void ngx_http_aigw_obs_model_label(ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_model_t *m, ngx_str_t *label,
    ngx_pool_t *pool);
static void ngx_http_aigw_obs_metrics_health(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w);


static ngx_http_aigw_obs_family_t  ngx_http_aigw_obs_families[] = {
    { NULL, NULL, NULL },
    { "aigw_requests_total", "counter",
      "Gateway requests by model, final provider and status class." },
    { "aigw_attempts_total", "counter",
      "Provider attempts by provider, model and outcome." },
    { "aigw_failovers_total", "counter",
      "Attempts after the first one, by requested model." },
    { "aigw_tokens_total", "counter",
      "Tokens by model, provider and kind." },
    { "aigw_cost_usd_total", "counter",
      "Cost in USD by model and provider." },
    { "aigw_cache_total", "counter",
      "Response cache lookups by result." },
    { "aigw_rate_limited_total", "counter",
      "Requests refused by a rate limit, by limit." },
    { "aigw_budget_blocked_total", "counter",
      "Requests refused by an exhausted budget, by budget." },
    { "aigw_ttft_seconds", "histogram",
      "Time to the first byte of the answer the client received." },
    { "aigw_request_duration_seconds", "histogram",
      "Time from the start of the request to its log phase." },
    { "aigw_overhead_seconds", "histogram",
      "Time of the request outside provider I/O (ms resolution)." }
};


/* the upper bounds of the histogram buckets, ms */

static ngx_msec_t  ngx_http_aigw_obs_bounds[NGX_HTTP_AIGW_OBS_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};

static const char  *ngx_http_aigw_obs_le[NGX_HTTP_AIGW_OBS_BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
    "2.5", "5", "10", "30", "60"
};


/* a label set being built, and a series update */

typedef struct {
    ngx_uint_t                      family;
    ngx_str_t                       key;       /* family byte, labels */
    int64_t                         add;       /* counter */
    int64_t                         ms;        /* histogram, -1: none */
} ngx_http_aigw_obs_update_t;


/* a series by its key, made if missing; the zone's mutex is held */

ngx_http_aigw_obs_series_t *
ngx_http_aigw_obs_series(ngx_slab_pool_t *shpool, ngx_http_aigw_obs_sh_t *osh,
    ngx_str_t *key, ngx_uint_t family, ngx_uint_t nvals)
{
    size_t                       size;
    uint32_t                     hash;
    ngx_http_aigw_obs_series_t  *s;

    hash = ngx_crc32_short(key->data, key->len);

    s = (ngx_http_aigw_obs_series_t *)
            ngx_str_rbtree_lookup(&osh->rbtree, key, hash);

    if (s) {
        return s;
    }

    if (osh->nseries >= NGX_HTTP_AIGW_OBS_SERIES_MAX) {
        osh->dropped++;
        return NULL;
    }

    size = offsetof(ngx_http_aigw_obs_series_t, v)
           + nvals * sizeof(int64_t) + key->len;

    s = ngx_slab_calloc_locked(shpool, size);
    if (s == NULL) {
        osh->dropped++;
        return NULL;
    }

    s->sn.str.data = (u_char *) &s->v[nvals];
    s->sn.str.len = key->len;
    ngx_memcpy(s->sn.str.data, key->data, key->len);
    s->sn.node.key = hash;
    s->family = family;

    ngx_rbtree_insert(&osh->rbtree, &s->sn.node);
    ngx_queue_insert_tail(&osh->queue, &s->queue);
    osh->nseries++;

    return s;
}


/*
 * The key of a series: the family byte, then name="value" labels, values
 * escaped; the arguments are pairs of a const char * name and an
 * ngx_str_t * value, ended by a NULL name
 */

ngx_int_t
ngx_http_aigw_obs_key(ngx_pool_t *pool, ngx_str_t *key, ngx_uint_t family,
    ...)
{
    u_char      *p;
    size_t       len;
    va_list      args;
    ngx_str_t   *value;
    const char  *name;
    ngx_uint_t   i, n;

    len = 1;

    va_start(args, family);

    for ( ;; ) {
        name = va_arg(args, const char *);
        if (name == NULL) {
            break;
        }

        value = va_arg(args, ngx_str_t *);
        len += ngx_strlen(name) + 4 + 2 * value->len;
    }

    va_end(args);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    *p++ = (u_char) family;
    n = 0;

    va_start(args, family);

    for ( ;; ) {
        name = va_arg(args, const char *);
        if (name == NULL) {
            break;
        }

        value = va_arg(args, ngx_str_t *);

        if (n++) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, name, ngx_strlen(name));
        *p++ = '=';
        *p++ = '"';

        for (i = 0; i < value->len; i++) {
            switch (value->data[i]) {

            case '\\':
            case '"':
                *p++ = '\\';
                *p++ = value->data[i];
                break;

            case '\n':
                *p++ = '\\';
                *p++ = 'n';
                break;

            default:
                *p++ = value->data[i];
            }
        }

        *p++ = '"';
    }

    va_end(args);

    key->len = p - key->data;

    return NGX_OK;
}


static const char  *ngx_http_aigw_obs_label_names[][3] = {
    { NULL, NULL, NULL },
    { "model", "provider", "status" },
    { "provider", "model", "outcome" },
    { "model", NULL, NULL },
    { "model", "provider", "kind" },
    { "model", "provider", NULL },
    { "result", NULL, NULL },
    { "limit", NULL, NULL },
    { "budget", NULL, NULL },
    { "model", NULL, NULL },
    { "model", NULL, NULL },
    { "model", NULL, NULL }
};


static ngx_int_t
ngx_http_aigw_obs_push(ngx_array_t *ups, ngx_pool_t *pool, ngx_uint_t family,
    int64_t add, int64_t ms, ngx_str_t *l1, ngx_str_t *l2, ngx_str_t *l3)
{
    const char                  **names;
    ngx_http_aigw_obs_update_t   *up;

    up = ngx_array_push(ups);
    if (up == NULL) {
        return NGX_ERROR;
    }

    up->family = family;
    up->add = add;
    up->ms = ms;

    names = ngx_http_aigw_obs_label_names[family];

    if (l3) {
        return ngx_http_aigw_obs_key(pool, &up->key, family, names[0], l1,
                                     names[1], l2, names[2], l3, NULL);
    }

    if (l2) {
        return ngx_http_aigw_obs_key(pool, &up->key, family, names[0], l1,
                                     names[1], l2, NULL);
    }

    return ngx_http_aigw_obs_key(pool, &up->key, family, names[0], l1, NULL);
}


/*
 * The model label: the configured slug of the model (a wildcard model is
 * one label, its slug and "*"), "unknown" for a slug not configured
 */

static void
ngx_http_aigw_obs_model_label(ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_model_t *m, ngx_str_t *label,
    ngx_pool_t *pool)
{
    u_char  *p;

    if (m == NULL && ctx->model.len) {
        m = ngx_http_aigw_find_model(amcf, &ctx->model);
    }

    if (m == NULL) {
        ngx_str_set(label, "unknown");
        return;
    }

    if (!m->wildcard) {
        *label = m->slug;
        return;
    }

    p = ngx_pnalloc(pool, m->slug.len + 1);
    if (p == NULL) {
        ngx_str_set(label, "unknown");
        return;
    }

    ngx_memcpy(p, m->slug.data, m->slug.len);
    p[m->slug.len] = '*';

    label->data = p;
    label->len = m->slug.len + 1;
}


void
ngx_http_aigw_obs_metrics_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool, int64_t duration, int64_t overhead)
{
    u_char                       *p;
    int64_t                       ms;
    ngx_str_t                     model, requested, provider, s, kind;
    ngx_uint_t                    i, k, status, nvals;
    ngx_array_t                   ups;
    ngx_pool_t                   *pool;
    ngx_http_aigw_target_t       *t;
    ngx_http_aigw_attempt_t      *a;
    ngx_http_aigw_main_conf_t    *amcf;
    ngx_http_aigw_obs_series_t   *se;
    ngx_http_aigw_obs_update_t   *up;
    u_char                        status_buf[4], outcome_buf[NGX_INT_T_LEN];

    static const char  *kinds[] = {
        "input", "output", "cached", "cache_write", "reasoning"
    };

    pool = r->pool;
    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (ngx_array_init(&ups, pool, 16, sizeof(ngx_http_aigw_obs_update_t))
        != NGX_OK)
    {
        return;
    }

    t = ngx_http_aigw_obs_target(ctx);

    ngx_http_aigw_obs_model_label(amcf, ctx, NULL, &requested, pool);

    if (t) {
        ngx_http_aigw_obs_model_label(amcf, ctx, t->model, &model, pool);
        provider = t->provider->name;

    } else {
        model = requested;
        ngx_str_set(&provider, "none");
    }

    status = r->headers_out.status;

    if (status < 100 || status > 999) {
        status = r->connection->error ? 499 : 500;
    }

    ngx_sprintf(status_buf, "%uixx", status / 100);
    s.data = status_buf;
    s.len = 3;

    if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_requests, 1, -1,
                               &model, &provider, &s)
        != NGX_OK)
    {
        return;
    }

    a = ctx->attempts.elts;

    for (i = 0; i < ctx->attempts.nelts; i++) {
        ngx_http_aigw_obs_model_label(amcf, ctx, a[i].target->model, &s,
                                      pool);

        if (a[i].status) {
            kind.data = outcome_buf;
            kind.len = ngx_sprintf(outcome_buf, "%ui", a[i].status)
                       - outcome_buf;

        } else {
            kind = ngx_http_aigw_failure_names[a[i].failure];
        }

        if (i == ctx->attempts.nelts - 1 && a[i].status == 0
            && ctx->status && !ctx->failure)
        {
            kind.data = outcome_buf;
            kind.len = ngx_sprintf(outcome_buf, "%ui", ctx->status)
                       - outcome_buf;
        }

        if (kind.len == 0) {
            ngx_str_set(&kind, "none");
        }

        if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_attempts, 1,
                                   -1, &a[i].target->provider->name, &s,
                                   &kind)
            != NGX_OK)
        {
            return;
        }
    }

    if (ctx->attempts.nelts > 1) {
        if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_failovers,
                                   ctx->attempts.nelts - 1, -1, &requested,
                                   NULL, NULL)
            != NGX_OK)
        {
            return;
        }
    }

    if (t) {
        int64_t  tokens[5];

        tokens[0] = ctx->usage.input;
        tokens[1] = ctx->usage.output;
        tokens[2] = ctx->usage.cache_read;
        tokens[3] = ctx->usage.cache_write;
        tokens[4] = ctx->usage.reasoning;

        for (k = 0; k < 5; k++) {
            if (tokens[k] <= 0) {
                continue;
            }

            kind.data = (u_char *) kinds[k];
            kind.len = ngx_strlen(kinds[k]);

            if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_tokens,
                                       tokens[k], -1, &model, &provider,
                                       &kind)
                != NGX_OK)
            {
                return;
            }
        }

        if (ctx->cost >= 0) {
            if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_cost,
                                       ctx->cost, -1, &model, &provider,
                                       NULL)
                != NGX_OK)
            {
                return;
            }
        }
    }

    if (ctx->cache_status.len) {
        p = ngx_pnalloc(pool, ctx->cache_status.len);
        if (p == NULL) {
            return;
        }

        s.data = p;
        s.len = ctx->cache_status.len;
        ngx_strlow(p, ctx->cache_status.data, s.len);

        if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_cache, 1,
                                   -1, &s, NULL, NULL)
            != NGX_OK)
        {
            return;
        }
    }

    if (ctx->limit.len && (status == NGX_HTTP_TOO_MANY_REQUESTS
                           || status == 402))
    {
        if (ngx_http_aigw_obs_push(&ups, pool,
                                   status == 402
                                   ? ngx_http_aigw_fam_budget_blocked
                                   : ngx_http_aigw_fam_rate_limited,
                                   1, -1, &ctx->limit, NULL, NULL)
            != NGX_OK)
        {
            return;
        }
    }

    if (ctx->first_byte && t) {
        if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_ttft, 0,
                                   (int64_t) (ctx->first_byte - ctx->start),
                                   &model, NULL, NULL)
            != NGX_OK)
        {
            return;
        }
    }

    if (ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_duration, 0,
                               duration, &model, NULL, NULL)
        != NGX_OK
        || ngx_http_aigw_obs_push(&ups, pool, ngx_http_aigw_fam_overhead, 0,
                                  overhead, &model, NULL, NULL)
           != NGX_OK)
    {
        return;
    }

    /* all at once, under the zone's mutex */

    up = ups.elts;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < ups.nelts; i++) {
        nvals = (up[i].ms >= 0) ? 2 + NGX_HTTP_AIGW_OBS_BUCKETS : 1;

        se = ngx_http_aigw_obs_series(shpool, osh, &up[i].key, up[i].family,
                                      nvals);
        if (se == NULL) {
            continue;
        }

        if (up[i].ms < 0) {
            se->v[0] += up[i].add;
            continue;
        }

        ms = up[i].ms;

        se->v[0]++;
        se->v[1] += ms;

        for (k = 0; k < NGX_HTTP_AIGW_OBS_BUCKETS; k++) {
            if (ms <= (int64_t) ngx_http_aigw_obs_bounds[k]) {
                se->v[2 + k]++;
                break;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* GET /metrics: the Prometheus text exposition of the zone's series */

ngx_int_t
ngx_http_aigw_obs_metrics_handler(ngx_http_request_t *r)
{
    u_char                         *p, *labels;
    size_t                          llen;
    ngx_int_t                       rc;
    ngx_str_t                       type;
    ngx_uint_t                      f, k;
    ngx_queue_t                    *q;
    ngx_chain_t                    *out;
    ngx_slab_pool_t                *shpool;
    ngx_http_aigw_jw_t              w;
    ngx_http_aigw_obs_sh_t         *osh;
    ngx_http_aigw_main_conf_t      *amcf;
    ngx_http_aigw_obs_series_t     *se;
    ngx_http_aigw_obs_family_t     *fam;
    u_char                          buf[NGX_INT64_LEN + 8];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    ngx_http_aigw_jw_init(&w, r->pool, 4096);

    osh = amcf->sh ? amcf->sh->obs : NULL;
    shpool = amcf->sh ? (ngx_slab_pool_t *) amcf->zone->shm.addr : NULL;

    if (shpool) {
        ngx_shmtx_lock(&shpool->mutex);
    }

    for (f = ngx_http_aigw_fam_requests;
         f < ngx_http_aigw_fam_last_exported;
         f++)
    {
        fam = &ngx_http_aigw_obs_families[f];

        ngx_http_aigw_jw_lit(&w, "# HELP ");
        ngx_http_aigw_jw_cstr(&w, fam->name);
        ngx_http_aigw_jw_lit(&w, " ");
        ngx_http_aigw_jw_cstr(&w, fam->help);
        ngx_http_aigw_jw_lit(&w, "\n# TYPE ");
        ngx_http_aigw_jw_cstr(&w, fam->name);
        ngx_http_aigw_jw_lit(&w, " ");
        ngx_http_aigw_jw_cstr(&w, fam->type);
        ngx_http_aigw_jw_lit(&w, "\n");

        if (osh == NULL) {
            continue;
        }

        for (q = ngx_queue_head(&osh->queue);
             q != ngx_queue_sentinel(&osh->queue);
             q = ngx_queue_next(q))
        {
            se = ngx_queue_data(q, ngx_http_aigw_obs_series_t, queue);

            if (se->family != f) {
                continue;
            }

            labels = se->sn.str.data + 1;
            llen = se->sn.str.len - 1;

            if (f < ngx_http_aigw_fam_ttft) {
                ngx_http_aigw_jw_cstr(&w, fam->name);
                ngx_http_aigw_jw_lit(&w, "{");
                ngx_http_aigw_jw_raw(&w, labels, llen);
                ngx_http_aigw_jw_lit(&w, "} ");

                if (f == ngx_http_aigw_fam_cost) {
                    p = ngx_sprintf(buf, "%L.%06L", se->v[0] / 1000000,
                                    se->v[0] % 1000000);

                } else {
                    p = ngx_sprintf(buf, "%L", se->v[0]);
                }

                ngx_http_aigw_jw_raw(&w, buf, p - buf);
                ngx_http_aigw_jw_lit(&w, "\n");
                continue;
            }

            /* a histogram: cumulative buckets, +Inf, sum, count */

            {
                int64_t  cum;

                cum = 0;

                for (k = 0; k <= NGX_HTTP_AIGW_OBS_BUCKETS; k++) {
                    ngx_http_aigw_jw_cstr(&w, fam->name);
                    ngx_http_aigw_jw_lit(&w, "_bucket{");
                    ngx_http_aigw_jw_raw(&w, labels, llen);
                    ngx_http_aigw_jw_lit(&w, ",le=\"");

                    if (k < NGX_HTTP_AIGW_OBS_BUCKETS) {
                        cum += se->v[2 + k];
                        ngx_http_aigw_jw_cstr(&w, ngx_http_aigw_obs_le[k]);

                    } else {
                        cum = se->v[0];
                        ngx_http_aigw_jw_lit(&w, "+Inf");
                    }

                    p = ngx_sprintf(buf, "\"} %L\n", cum);
                    ngx_http_aigw_jw_raw(&w, buf, p - buf);
                }

                ngx_http_aigw_jw_cstr(&w, fam->name);
                ngx_http_aigw_jw_lit(&w, "_sum{");
                ngx_http_aigw_jw_raw(&w, labels, llen);
                p = ngx_sprintf(buf, "} %L.%03L\n", se->v[1] / 1000,
                                se->v[1] % 1000);
                ngx_http_aigw_jw_raw(&w, buf, p - buf);

                ngx_http_aigw_jw_cstr(&w, fam->name);
                ngx_http_aigw_jw_lit(&w, "_count{");
                ngx_http_aigw_jw_raw(&w, labels, llen);
                p = ngx_sprintf(buf, "} %L\n", se->v[0]);
                ngx_http_aigw_jw_raw(&w, buf, p - buf);
            }
        }
    }

    if (shpool) {
        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_aigw_obs_metrics_health(r, &w);

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL || w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&type, "text/plain; version=0.0.4");

    return ngx_http_aigw_send_body(r, NGX_HTTP_OK, (const char *) type.data,
                                   out, w.size);
}


/* aigw_target_health: each configured (provider, model id), its state */

static void
ngx_http_aigw_obs_metrics_health(ngx_http_request_t *r, ngx_http_aigw_jw_t *w)
{
    ngx_str_t                   id, key, label;
    ngx_uint_t                  i, k, s, state;
    ngx_rbtree_t                seen;
    ngx_str_node_t             *sn;
    ngx_rbtree_node_t           sentinel;
    ngx_http_aigw_route_t      *rt;
    ngx_http_aigw_model_t      *m;
    ngx_http_aigw_main_conf_t  *amcf;

    static ngx_str_t  states[] = {
        ngx_string("closed"), ngx_string("open"), ngx_string("cooldown")
    };

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    ngx_rbtree_init(&seen, &sentinel, ngx_str_rbtree_insert_value);

    ngx_http_aigw_jw_lit(w, "# HELP aigw_target_health Circuit state of "
                         "each configured provider and model id, 1 for "
                         "the current one.\n"
                         "# TYPE aigw_target_health gauge\n");

    m = amcf->models.elts;

    for (i = 0; i < amcf->models.nelts; i++) {
        if (m[i].wildcard) {
            continue;
        }

        rt = m[i].routes.elts;

        for (k = 0; k < m[i].routes.nelts; k++) {
            ngx_http_aigw_model_id(&m[i], &rt[k], &m[i].slug, &id);

            /* a target of several models is one series */

            if (ngx_http_aigw_obs_key(r->pool, &key, 0, "provider",
                                      &rt[k].provider->name, "model", &id,
                                      NULL)
                != NGX_OK)
            {
                w->error = 1;
                return;
            }

            sn = (ngx_str_node_t *) ngx_str_rbtree_lookup(&seen, &key,
                                        ngx_crc32_short(key.data, key.len));
            if (sn) {
                continue;
            }

            sn = ngx_palloc(r->pool, sizeof(ngx_str_node_t));
            if (sn == NULL) {
                w->error = 1;
                return;
            }

            sn->str = key;
            sn->node.key = ngx_crc32_short(key.data, key.len);
            ngx_rbtree_insert(&seen, &sn->node);

            state = ngx_http_aigw_health_state(amcf, &rt[k].provider->name,
                                               &id);

            for (s = 0; s < 3; s++) {
                if (ngx_http_aigw_obs_key(r->pool, &key, 0, "provider",
                                          &rt[k].provider->name, "model",
                                          &id, "state", &states[s], NULL)
                    != NGX_OK)
                {
                    w->error = 1;
                    return;
                }

                label.data = key.data + 1;
                label.len = key.len - 1;

                ngx_http_aigw_jw_lit(w, "aigw_target_health{");
                ngx_http_aigw_jw_str(w, &label);

                if (s == state) {
                    ngx_http_aigw_jw_lit(w, "} 1\n");

                } else {
                    ngx_http_aigw_jw_lit(w, "} 0\n");
                }
            }
        }
    }
}
