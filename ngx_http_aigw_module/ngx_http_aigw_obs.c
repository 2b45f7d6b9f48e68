
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"
#include "ngx_http_aigw_obs.h"


/*
 * Observability, the module (ngx_http_aigw_obs_module): its directives,
 * the generation id of a request, the variables of the audit log
 * (aigw_log_content), the X-AIGW-Overhead-Ms header and the log-phase
 * record that feeds metrics.c (aigw_metrics), generation.c (the ring of
 * aigw_generation and aigw_logs) and sort.c (providerOptions.gateway.sort,
 * aigw_sort); the dedup table of alert.c.
 *
 * The shared state lives in the aigw zone (sh->obs), made on first use:
 * series, an rbtree of named values (a counter, a histogram, the moving
 * averages of a target, the dedup stamp of an alert) and a ring of the
 * last generations.  Series are keyed by a family byte and their label
 * text; labels only ever hold configured names (model slugs, providers,
 * limits, cache results), so their number is bounded by the
 * configuration.  Nothing is kept unless a directive asks for it.
 */


static ngx_http_aigw_obs_sh_t *ngx_http_aigw_obs_shared(
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_obs_main_conf_t *omcf);
static int64_t ngx_http_aigw_obs_provider_ms(ngx_http_request_t *r,
    ngx_uint_t all);
static ngx_int_t ngx_http_aigw_obs_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_obs_content_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_obs_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_aigw_obs_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_obs_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_aigw_obs_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_obs_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_aigw_obs_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aigw_obs_log_content(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_aigw_obs_sort_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_aigw_alert_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_num_bounds_t  ngx_http_aigw_obs_ring_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};


static ngx_command_t  ngx_http_aigw_obs_commands[] = {

    { ngx_string("aigw_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_obs_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_aigw_obs_metrics_handler },

    { ngx_string("aigw_generation"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_obs_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_aigw_obs_generation_handler },

    { ngx_string("aigw_logs"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_obs_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_aigw_obs_logs_handler },

    { ngx_string("aigw_generations"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_obs_main_conf_t, ring),
      &ngx_http_aigw_obs_ring_bounds },

    { ngx_string("aigw_log_content"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
      |NGX_CONF_TAKE12,
      ngx_http_aigw_obs_log_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_overhead_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_obs_loc_conf_t, overhead),
      NULL },

    { ngx_string("aigw_sort"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_aigw_obs_sort_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_alert"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_aigw_alert_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_obs_main_conf_t, alert),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_obs_module_ctx = {
    ngx_http_aigw_obs_preconfiguration,    /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_aigw_obs_create_main_conf,    /* create main configuration */
    ngx_http_aigw_obs_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_obs_create_loc_conf,     /* create location configuration */
    ngx_http_aigw_obs_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_obs_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_obs_module_ctx,         /* module context */
    ngx_http_aigw_obs_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the variables; data: what */

enum {
    ngx_http_aigw_obs_var_generation_id = 0,
    ngx_http_aigw_obs_var_provider_ms,
    ngx_http_aigw_obs_var_overhead_ms,
    ngx_http_aigw_obs_var_duration_ms,
    ngx_http_aigw_obs_var_cache_status,
    ngx_http_aigw_obs_var_finish_reason,
    ngx_http_aigw_obs_var_status
};


static ngx_http_variable_t  ngx_http_aigw_obs_vars[] = {

    { ngx_string("aigw_generation_id"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_generation_id, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_provider_ms"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_provider_ms, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_overhead_ms"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_overhead_ms, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_duration_ms"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_duration_ms, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cache_status"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_cache_status, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_finish_reason"), NULL, ngx_http_aigw_obs_var,
      ngx_http_aigw_obs_var_finish_reason, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_request_content"), NULL,
      ngx_http_aigw_obs_content_var, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_response_content"), NULL,
      ngx_http_aigw_obs_content_var, 1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* Crockford's base32, as in ULIDs */

static u_char  ngx_http_aigw_obs_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";


/*
 * A gateway request starts: its generation id, "gen_" and a ULID (48 bits
 * of ms since the epoch, 80 random bits), sent as X-AIGW-Generation-Id.
 */

ngx_int_t
ngx_http_aigw_obs_start(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char      *p;
    uint64_t     ms, rnd;
    ngx_int_t    i;
    ngx_time_t  *tp;

    p = ngx_pnalloc(r->pool, 4 + 26);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->generation_id.data = p;
    ctx->generation_id.len = 4 + 26;

    p = ngx_cpymem(p, "gen_", 4);

    tp = ngx_timeofday();
    ms = (uint64_t) tp->sec * 1000 + tp->msec;

    for (i = 9; i >= 0; i--) {
        p[i] = ngx_http_aigw_obs_b32[ms & 31];
        ms >>= 5;
    }

    rnd = ((uint64_t) ngx_random() << 31) ^ (uint64_t) ngx_random();

    for (i = 10; i < 26; i++) {
        if (i == 18) {
            rnd = ((uint64_t) ngx_random() << 31) ^ (uint64_t) ngx_random();
        }

        p[i] = ngx_http_aigw_obs_b32[rnd & 31];
        rnd >>= 5;
    }

    return ngx_http_aigw_add_header(r, "X-AIGW-Generation-Id",
                                    &ctx->generation_id);
}


/*
 * The response headers of a provider answer: X-AIGW-Overhead-Ms, the
 * time the gateway spent so far outside the provider attempts
 */

ngx_int_t
ngx_http_aigw_obs_headers(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                        *p;
    int64_t                        overhead;
    ngx_str_t                      v;
    ngx_http_upstream_t           *u;
    ngx_http_aigw_obs_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_obs_module);

    if (!olcf->overhead || r->upstream == NULL) {
        return NGX_OK;
    }

    u = r->upstream;

    overhead = (int64_t) (u->start_time - ctx->start)
               - ngx_http_aigw_obs_provider_ms(r, 0);

    if (overhead < 0) {
        overhead = 0;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v.data = p;
    v.len = ngx_sprintf(p, "%L", overhead) - p;

    return ngx_http_aigw_add_header(r, "X-AIGW-Overhead-Ms", &v);
}


/*
 * ms spent in provider attempts: all of them (nginx's upstream states,
 * as $upstream_response_time), or those before the current one
 */

static int64_t
ngx_http_aigw_obs_provider_ms(ngx_http_request_t *r, ngx_uint_t all)
{
    int64_t                    ms;
    ngx_uint_t                 i, n;
    ngx_http_upstream_state_t  *st;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return 0;
    }

    st = r->upstream_states->elts;
    n = r->upstream_states->nelts;

    if (!all) {
        n--;
    }

    ms = 0;

    for (i = 0; i < n; i++) {
        if (st[i].peer && st[i].response_time != (ngx_msec_t) -1) {
            ms += st[i].response_time;
        }
    }

    return ms;
}


/* the target of the last attempt, NULL before the first */

ngx_http_aigw_target_t *
ngx_http_aigw_obs_target(ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_attempt_t  *a;

    if (ctx->attempts.nelts == 0) {
        return NULL;
    }

    a = ctx->attempts.elts;

    return a[ctx->attempts.nelts - 1].target;
}


/* the log phase: the ring, the metrics, the moving averages */

void
ngx_http_aigw_obs_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    int64_t                         duration, provider, overhead;
    ngx_slab_pool_t                *shpool;
    ngx_http_aigw_obs_sh_t         *osh;
    ngx_http_aigw_main_conf_t      *amcf;
    ngx_http_aigw_obs_main_conf_t  *omcf;

    if (ctx->generation_id.len == 0) {
        return;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_obs_module);

    if (amcf->sh == NULL
        || (omcf->ring == 0 && !omcf->metrics && !omcf->perf))
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

    duration = (int64_t) (ngx_current_msec - ctx->start);
    provider = ngx_http_aigw_obs_provider_ms(r, 1);
    overhead = duration - provider;

    if (overhead < 0) {
        overhead = 0;
    }

    osh = ngx_http_aigw_obs_shared(amcf, omcf);
    if (osh == NULL) {
        return;
    }

    if (omcf->metrics) {
        ngx_http_aigw_obs_metrics_record(r, ctx, osh, shpool, duration,
                                         overhead);
    }

    if (omcf->ring) {
        ngx_http_aigw_obs_ring_record(r, ctx, osh, shpool, duration,
                                      provider, overhead);
    }

    if (omcf->perf) {
        ngx_http_aigw_obs_perf_record(r, ctx, osh, shpool);
    }
}


/* the shared state, made on first use */

static ngx_http_aigw_obs_sh_t *
ngx_http_aigw_obs_shared(ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_obs_main_conf_t *omcf)
{
    ngx_slab_pool_t         *shpool;
    ngx_http_aigw_obs_sh_t  *osh;

    osh = amcf->sh->obs;

    if (osh && (omcf->ring == 0 || osh->ring)) {
        return osh;
    }

    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    osh = amcf->sh->obs;

    if (osh == NULL) {
        osh = ngx_slab_calloc_locked(shpool, sizeof(ngx_http_aigw_obs_sh_t));

        if (osh) {
            ngx_rbtree_init(&osh->rbtree, &osh->sentinel,
                            ngx_str_rbtree_insert_value);
            ngx_queue_init(&osh->queue);
            amcf->sh->obs = osh;
        }
    }

    if (osh && omcf->ring && osh->ring == NULL && osh->ring_size == 0) {

        /* the ring keeps its first size across reloads */

        osh->ring = ngx_slab_calloc_locked(shpool,
                                      omcf->ring
                                      * sizeof(ngx_http_aigw_obs_gen_t));
        osh->ring_size = osh->ring ? omcf->ring : (ngx_uint_t) -1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (osh && osh->ring_size == (ngx_uint_t) -1) {
        osh->ring_size = (ngx_uint_t) -2;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "aigw: zone \"%V\" has no room for %ui generations, "
                      "aigw_generation and aigw_logs find none",
                      &amcf->zone->shm.name, omcf->ring);
    }

    return osh;
}


/*
 * Whether an alert about "key" is the first until "until" (ms since the
 * epoch, 0: for ever) on this node: 1 if so, and it is noted.  Kept in a
 * small table in the zone, by hash: a collision may send one more.
 */

ngx_uint_t
ngx_http_aigw_obs_once(ngx_http_request_t *r, ngx_str_t *key, int64_t until)
{
    int64_t                         now;
    uint32_t                        hash;
    ngx_uint_t                      slot, first;
    ngx_slab_pool_t                *shpool;
    ngx_http_aigw_obs_sh_t         *osh;
    ngx_http_aigw_main_conf_t      *amcf;
    ngx_http_aigw_obs_main_conf_t  *omcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_obs_module);

    if (amcf->sh == NULL) {
        return 1;
    }

    osh = ngx_http_aigw_obs_shared(amcf, omcf);
    if (osh == NULL) {
        return 1;
    }

    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

    hash = ngx_crc32_short(key->data, key->len) | 1;
    slot = hash % NGX_HTTP_AIGW_OBS_ONCE;
    now = ngx_http_aigw_limit_now();

    ngx_shmtx_lock(&shpool->mutex);

    first = !(osh->once_hash[slot] == hash
              && (osh->once_until[slot] == 0
                  || osh->once_until[slot] > now));

    if (first) {
        osh->once_hash[slot] = hash;
        osh->once_until[slot] = until;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return first;
}


/* the variables */

static ngx_int_t
ngx_http_aigw_obs_var(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char               *p;
    int64_t               n;
    const char           *name;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx == NULL || ctx->generation_id.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    switch (data) {

    case ngx_http_aigw_obs_var_generation_id:
        v->data = ctx->generation_id.data;
        v->len = ctx->generation_id.len;
        return NGX_OK;

    case ngx_http_aigw_obs_var_cache_status:
        if (ctx->cache_status.len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = ctx->cache_status.data;
        v->len = ctx->cache_status.len;
        return NGX_OK;

    case ngx_http_aigw_obs_var_finish_reason:
        name = ngx_http_aigw_obs_finish_name(ctx->finish);

        if (*name == '\0') {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = (u_char *) name;
        v->len = ngx_strlen(name);
        return NGX_OK;

    case ngx_http_aigw_obs_var_provider_ms:
        n = ngx_http_aigw_obs_provider_ms(r, 1);
        break;

    case ngx_http_aigw_obs_var_duration_ms:
        n = (int64_t) (ngx_current_msec - ctx->start);
        break;

    default: /* ngx_http_aigw_obs_var_overhead_ms */
        n = (int64_t) (ngx_current_msec - ctx->start)
            - ngx_http_aigw_obs_provider_ms(r, 1);

        if (n < 0) {
            n = 0;
        }
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%L", n) - p;

    return NGX_OK;
}


/*
 * $aigw_request_content (data 0), the body the client sent, and
 * $aigw_response_content (1), the provider's body of a response that was
 * not streamed: with aigw_log_content on only, cut at its max=
 */

static ngx_int_t
ngx_http_aigw_obs_content_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                      s;
    ngx_http_aigw_ctx_t           *ctx;
    ngx_http_aigw_obs_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_obs_module);

    if (ctx == NULL || !olcf->content) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == 0) {
        s = ctx->body;

    } else if (ctx->acc && !ctx->sse_body) {
        s.data = ctx->acc;
        s.len = ctx->acc_len;

    } else {
        ngx_str_null(&s);
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s.data;
    v->len = ngx_min(s.len, olcf->content_max);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_aigw_obs_add_variables(ngx_conf_t *cf)
{
    return ngx_http_aigw_register_variables(cf, ngx_http_aigw_obs_vars);
}


static ngx_int_t
ngx_http_aigw_obs_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_aigw_obs_add_variables(cf);
}


static void *
ngx_http_aigw_obs_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_obs_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_obs_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    omcf->ring = NGX_CONF_UNSET_UINT;

    return omcf;
}


static char *
ngx_http_aigw_obs_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_aigw_obs_main_conf_t  *omcf = conf;

    /* a ring only when something reads it, or it is sized */

    if (omcf->ring == NGX_CONF_UNSET_UINT) {
        omcf->ring = 0;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_aigw_obs_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_obs_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_obs_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    olcf->content = NGX_CONF_UNSET;
    olcf->content_max = NGX_CONF_UNSET_SIZE;
    olcf->overhead = NGX_CONF_UNSET;
    olcf->sort = NGX_CONF_UNSET_UINT;

    return olcf;
}


static char *
ngx_http_aigw_obs_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_obs_loc_conf_t  *prev = parent;
    ngx_http_aigw_obs_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->content, prev->content, 0);
    ngx_conf_merge_size_value(conf->content_max, prev->content_max, 4096);
    ngx_conf_merge_value(conf->overhead, prev->overhead, 0);
    ngx_conf_merge_uint_value(conf->sort, prev->sort,
                              ngx_http_aigw_sort_none);

    return NGX_CONF_OK;
}


/* aigw_metrics, aigw_generation, aigw_logs: the location's handler */

static char *
ngx_http_aigw_obs_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_aigw_obs_main_conf_t  *omcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_obs_module);

    if (clcf->handler == ngx_http_aigw_obs_metrics_handler) {
        omcf->metrics = 1;

    } else if (omcf->ring == NGX_CONF_UNSET_UINT) {
        omcf->ring = NGX_HTTP_AIGW_OBS_RING;
    }

    return NGX_CONF_OK;
}


/* aigw_log_content on|off [max=size] */

static char *
ngx_http_aigw_obs_log_content(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_obs_loc_conf_t  *olcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (olcf->content != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        olcf->content = 1;

    } else if (ngx_strcmp(value[1].data, "off") == 0) {
        olcf->content = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"on\" or "
                           "\"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (value[2].len <= 4
            || ngx_strncmp(value[2].data, "max=", 4) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        value[2].data += 4;
        value[2].len -= 4;

        size = ngx_parse_size(&value[2]);

        if (size <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid max=\"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        olcf->content_max = size;
    }

    return NGX_CONF_OK;
}


/* aigw_sort cost|ttft|tps|off */

static char *
ngx_http_aigw_obs_sort_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_aigw_obs_loc_conf_t  *olcf = conf;

    ngx_str_t                      *value;
    ngx_http_aigw_ctx_t             ctx;
    ngx_http_aigw_obs_main_conf_t  *omcf;

    if (olcf->sort != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_obs_module);
    omcf->perf = 1;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        olcf->sort = ngx_http_aigw_sort_off;
        return NGX_CONF_OK;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_aigw_ctx_t));

    if (ngx_http_aigw_obs_sort_option(NULL, &ctx, &value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"cost\", "
                           "\"ttft\", \"tps\" or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    olcf->sort = ctx.sort;

    return NGX_CONF_OK;
}


/* the aigw_alert configurations (alert.c), NULL: none */

void *
ngx_http_aigw_obs_alerts(ngx_http_request_t *r)
{
    ngx_http_aigw_obs_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_obs_module);

    return omcf->alert;
}
