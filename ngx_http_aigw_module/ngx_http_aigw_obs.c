
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Observability: the generation id of a request, the variables of the
 * audit log, Prometheus metrics (aigw_metrics), the generation ring
 * (aigw_generation, aigw_logs), the X-AIGW-Overhead-Ms header and the
 * routing by measured performance (providerOptions.gateway.sort,
 * aigw_sort).
 *
 * The shared state lives in the aigw zone (sh->obs), made on first use:
 * series, an rbtree of named values (a counter, a histogram, the moving
 * averages of a target, the dedup stamp of an alert) and a ring of the
 * last generations.  Series are keyed by a family byte and their label
 * text; labels only ever hold configured names (model slugs, providers,
 * limits, cache results), so their number is bounded by the
 * configuration.  Nothing is kept unless a directive asks for it.
 */


#define NGX_HTTP_AIGW_OBS_SERIES_MAX   4096
#define NGX_HTTP_AIGW_OBS_MIN_SAMPLES  3
#define NGX_HTTP_AIGW_OBS_BUCKETS      14
#define NGX_HTTP_AIGW_OBS_RING         100
#define NGX_HTTP_AIGW_OBS_ONCE         64


typedef enum {
    ngx_http_aigw_fam_requests = 1,
    ngx_http_aigw_fam_attempts,
    ngx_http_aigw_fam_failovers,
    ngx_http_aigw_fam_tokens,
    ngx_http_aigw_fam_cost,
    ngx_http_aigw_fam_cache,
    ngx_http_aigw_fam_rate_limited,
    ngx_http_aigw_fam_budget_blocked,
    ngx_http_aigw_fam_ttft,
    ngx_http_aigw_fam_duration,
    ngx_http_aigw_fam_overhead,
    ngx_http_aigw_fam_last_exported,
    ngx_http_aigw_fam_perf = ngx_http_aigw_fam_last_exported,
    ngx_http_aigw_fam_alert
} ngx_http_aigw_obs_family_e;


typedef struct {
    const char                     *name;
    const char                     *type;
    const char                     *help;
} ngx_http_aigw_obs_family_t;


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


/* a series: v[0] the value; histograms: count, sum (ms), buckets */

typedef struct {
    ngx_str_node_t                  sn;        /* family byte, labels */
    ngx_queue_t                     queue;
    ngx_uint_t                      family;
    int64_t                         v[1];
} ngx_http_aigw_obs_series_t;


#define NGX_HTTP_AIGW_OBS_STR(n)                                             \
    struct { u_char len; u_char data[n]; }


/* a generation in the ring; strings are decoded, truncated */

typedef struct {
    ngx_uint_t                      seq;       /* 0: empty */
    time_t                          created;
    ngx_msec_t                      created_ms;
    int64_t                         input;
    int64_t                         output;
    int64_t                         cached;
    int64_t                         cache_write;
    int64_t                         reasoning;
    int64_t                         cost;      /* micro-USD, -1 */
    int64_t                         latency;   /* ms, whole request */
    int64_t                         ttft;      /* ms, -1 */
    int64_t                         provider_ms;
    int64_t                         overhead;
    ngx_uint_t                      status;
    ngx_uint_t                      attempts;
    ngx_uint_t                      finish;
    unsigned                        stream:1;
    unsigned                        cached_hit:1;
    unsigned                        byok:1;
    unsigned                        estimated:1;
    unsigned                        has_key:1;
    NGX_HTTP_AIGW_OBS_STR(32)       id;
    NGX_HTTP_AIGW_OBS_STR(64)       key;
    NGX_HTTP_AIGW_OBS_STR(64)       user;
    NGX_HTTP_AIGW_OBS_STR(96)       model;
    NGX_HTTP_AIGW_OBS_STR(96)       requested;
    NGX_HTTP_AIGW_OBS_STR(64)       provider;
    NGX_HTTP_AIGW_OBS_STR(96)       provider_model;
    NGX_HTTP_AIGW_OBS_STR(128)      tags;
    NGX_HTTP_AIGW_OBS_STR(128)      attempt_list;
} ngx_http_aigw_obs_gen_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_uint_t                      nseries;
    ngx_uint_t                      dropped;   /* series not made */
    ngx_uint_t                      ring_size;
    ngx_uint_t                      seq;       /* generations recorded */
    ngx_http_aigw_obs_gen_t        *ring;

    /* alerts sent once: a hash of what, and until when (ms) */
    uint32_t                        once_hash[NGX_HTTP_AIGW_OBS_ONCE];
    int64_t                         once_until[NGX_HTTP_AIGW_OBS_ONCE];
} ngx_http_aigw_obs_sh_t;


typedef struct {
    ngx_uint_t                      ring;      /* aigw_generations */
    ngx_flag_t                      metrics;   /* aigw_metrics somewhere */
    ngx_flag_t                      perf;      /* aigw_sort somewhere */
    void                           *alert;     /* alert.c */
} ngx_http_aigw_obs_main_conf_t;


typedef struct {
    ngx_flag_t                      content;   /* aigw_log_content */
    size_t                          content_max;
    ngx_flag_t                      overhead;  /* aigw_overhead_header */
    ngx_uint_t                      sort;      /* aigw_sort */
} ngx_http_aigw_obs_loc_conf_t;


typedef enum {
    ngx_http_aigw_sort_none = 0,
    ngx_http_aigw_sort_off,
    ngx_http_aigw_sort_cost,
    ngx_http_aigw_sort_ttft,
    ngx_http_aigw_sort_tps
} ngx_http_aigw_sort_e;


/* a label set being built, and a series update */

typedef struct {
    ngx_uint_t                      family;
    ngx_str_t                       key;       /* family byte, labels */
    int64_t                         add;       /* counter */
    int64_t                         ms;        /* histogram, -1: none */
} ngx_http_aigw_obs_update_t;


static ngx_http_aigw_obs_sh_t *ngx_http_aigw_obs_shared(
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_obs_main_conf_t *omcf);
static ngx_http_aigw_obs_series_t *ngx_http_aigw_obs_series(
    ngx_slab_pool_t *shpool, ngx_http_aigw_obs_sh_t *osh, ngx_str_t *key,
    ngx_uint_t family, ngx_uint_t nvals);
static ngx_int_t ngx_http_aigw_obs_key(ngx_pool_t *pool, ngx_str_t *key,
    ngx_uint_t family, ...);
static ngx_int_t ngx_http_aigw_obs_push(ngx_array_t *ups, ngx_pool_t *pool,
    ngx_uint_t family, int64_t add, int64_t ms, ngx_str_t *l1,
    ngx_str_t *l2, ngx_str_t *l3);
static void ngx_http_aigw_obs_metrics_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool, int64_t duration, int64_t overhead);
static void ngx_http_aigw_obs_ring_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool, int64_t duration, int64_t provider,
    int64_t overhead);
static void ngx_http_aigw_obs_perf_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool);
static int64_t ngx_http_aigw_obs_provider_ms(ngx_http_request_t *r,
    ngx_uint_t all);
static ngx_http_aigw_target_t *ngx_http_aigw_obs_target(
    ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_obs_model_label(ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_model_t *m, ngx_str_t *label,
    ngx_pool_t *pool);
static void ngx_http_aigw_obs_copy(u_char *len, u_char *data, size_t cap,
    ngx_str_t *s);
static const char *ngx_http_aigw_obs_finish_name(ngx_uint_t finish);
static ngx_int_t ngx_http_aigw_obs_metrics_handler(ngx_http_request_t *r);
static void ngx_http_aigw_obs_metrics_health(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_obs_generation_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_obs_logs_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_obs_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller);
static ngx_uint_t ngx_http_aigw_obs_visible(const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_obs_gen_t *g);
static void ngx_http_aigw_obs_write_gen(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_obs_gen_t *g);
static ngx_int_t ngx_http_aigw_obs_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
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


static ngx_http_aigw_target_t *
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


/* a series by its key, made if missing; the zone's mutex is held */

static ngx_http_aigw_obs_series_t *
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

static ngx_int_t
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


static void
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


static void
ngx_http_aigw_obs_copy(u_char *len, u_char *data, size_t cap, ngx_str_t *s)
{
    size_t  n;

    n = ngx_min(s->len, cap);
    n = ngx_min(n, 255);

    if (n) {
        ngx_memcpy(data, s->data, n);
    }

    *len = (u_char) n;
}


#define ngx_http_aigw_obs_set(field, s)                                      \
    ngx_http_aigw_obs_copy(&(field).len, (field).data,                       \
                           sizeof((field).data), s)


static void
ngx_http_aigw_obs_ring_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_obs_sh_t *osh, ngx_slab_pool_t *shpool, int64_t duration,
    int64_t provider, int64_t overhead)
{
    u_char                   *p;
    size_t                    len;
    ngx_str_t                 attempts, tags, *tag;
    ngx_uint_t                i;
    ngx_time_t               *tp;
    ngx_http_aigw_target_t   *t;
    ngx_http_aigw_obs_gen_t  *g, gen;

    if (osh->ring == NULL || ctx->endpoint != ngx_http_aigw_ep_chat) {
        return;
    }

    ngx_memzero(&gen, sizeof(ngx_http_aigw_obs_gen_t));

    tp = ngx_timeofday();
    gen.created = tp->sec;
    gen.created_ms = tp->msec;

    t = ngx_http_aigw_obs_target(ctx);

    gen.input = ctx->usage.input;
    gen.output = ctx->usage.output;
    gen.cached = ctx->usage.cache_read;
    gen.cache_write = ctx->usage.cache_write;
    gen.reasoning = ctx->usage.reasoning;
    gen.cost = ctx->cost;
    gen.latency = duration;
    gen.ttft = ctx->first_byte ? (int64_t) (ctx->first_byte - ctx->start) : -1;
    gen.provider_ms = provider;
    gen.overhead = overhead;
    gen.status = r->headers_out.status;
    gen.attempts = ctx->attempts.nelts;
    gen.finish = ctx->finish;
    gen.stream = ctx->stream;
    gen.estimated = ctx->estimated;
    gen.cached_hit = (ctx->cache_status.len == 3
                      && ngx_strncasecmp(ctx->cache_status.data,
                                         (u_char *) "HIT", 3) == 0);

    ngx_http_aigw_obs_set(gen.id, &ctx->generation_id);
    ngx_http_aigw_obs_set(gen.requested, &ctx->model);
    ngx_http_aigw_obs_set(gen.user, &ctx->user);

    if (ctx->key) {
        gen.has_key = 1;
        ngx_http_aigw_obs_set(gen.key, (ngx_str_t *) &ctx->key->name);
    }

    if (t) {
        gen.byok = t->byok;
        ngx_http_aigw_obs_set(gen.model, &t->slug);
        ngx_http_aigw_obs_set(gen.provider, &t->provider->name);
        ngx_http_aigw_obs_set(gen.provider_model, &t->id);

    } else {
        ngx_http_aigw_obs_set(gen.model, &ctx->model);
    }

    ngx_http_aigw_attempts_text(ctx, &attempts, r->pool);
    ngx_http_aigw_obs_set(gen.attempt_list, &attempts);

    if (ctx->tag_list && ctx->tag_list->nelts) {
        tag = ctx->tag_list->elts;
        len = 0;

        for (i = 0; i < ctx->tag_list->nelts; i++) {
            len += tag[i].len + 1;
        }

        p = ngx_pnalloc(r->pool, len);

        if (p) {
            tags.data = p;

            for (i = 0; i < ctx->tag_list->nelts; i++) {
                if (i) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, tag[i].data, tag[i].len);
            }

            tags.len = p - tags.data;
            ngx_http_aigw_obs_set(gen.tags, &tags);
        }
    }

    ngx_shmtx_lock(&shpool->mutex);

    g = &osh->ring[osh->seq % osh->ring_size];
    gen.seq = ++osh->seq;
    *g = gen;

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The moving averages of a (provider, model id) target: its time to the
 * first byte and its output tokens per second, of its successful answers
 * (v[0] samples, v[1] ttft in ms, v[2] tokens per second * 1000)
 */

static void
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


/* GET /metrics: the Prometheus text exposition of the zone's series */

static ngx_int_t
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


/*
 * The caller of /v1/generation and /v1/logs, by its gateway key, as for
 * the API: NGX_DECLINED goes on (caller NULL with aigw_auth off),
 * anything else is sent
 */

static ngx_int_t
ngx_http_aigw_obs_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller)
{
    ngx_int_t             rc;
    ngx_http_aigw_ctx_t  *ctx;

    *caller = NULL;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_ALLOWED, NULL,
                                        "only GET is allowed here");
    }

    /* not the module's ctx: the log phase has nothing to settle here */

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->start = ngx_current_msec;
    ctx->budget_remaining = -1;
    ctx->client = ngx_http_aigw_default_format;

    rc = ngx_http_aigw_authenticate(r, ctx);

    if (rc == NGX_DECLINED) {
        *caller = ctx->key;
    }

    return rc;
}


/* a key sees its own generations; an admin key or open mode, all */

static ngx_uint_t
ngx_http_aigw_obs_visible(const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_obs_gen_t *g)
{
    if (caller == NULL || caller->admin) {
        return 1;
    }

    return g->has_key && g->key.len == caller->name.len
           && ngx_memcmp(g->key.data, caller->name.data, g->key.len) == 0;
}


static const char *
ngx_http_aigw_obs_finish_name(ngx_uint_t finish)
{
    switch (finish) {

    case ngx_http_aigw_stop_end:
    case ngx_http_aigw_stop_sequence:
        return "stop";

    case ngx_http_aigw_stop_length:
        return "length";

    case ngx_http_aigw_stop_tool:
        return "tool-calls";

    case ngx_http_aigw_stop_filter:
        return "content-filter";

    case ngx_http_aigw_stop_pause:
        return "other";

    default:
        return "";
    }
}


#define ngx_http_aigw_obs_jw_field(w, name, f)                               \
    ngx_http_aigw_jw_lit(w, name);                                           \
    ngx_http_aigw_jw_escape(w, (f).data, (f).len);                           \
    ngx_http_aigw_jw_lit(w, "\"")


/*
 * A generation in the shape of Vercel's /v1/generation (what the AI SDK's
 * getGenerationInfo() reads), with the gateway's own fields after it
 */

static void
ngx_http_aigw_obs_write_gen(ngx_http_aigw_jw_t *w, ngx_http_aigw_obs_gen_t *g)
{
    u_char       *p;
    const char   *finish;
    u_char        buf[64];

    ngx_http_aigw_obs_jw_field(w, "{\"id\":\"", g->id);

    ngx_http_aigw_jw_lit(w, ",\"total_cost\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);
    ngx_http_aigw_jw_lit(w, ",\"upstream_inference_cost\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);
    ngx_http_aigw_jw_lit(w, ",\"usage\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);

    p = ngx_http_aigw_rfc3339(buf, g->created);
    ngx_http_aigw_jw_lit(w, ",\"created_at\":\"");
    ngx_http_aigw_jw_raw(w, buf, p - buf);
    ngx_http_aigw_jw_lit(w, "\"");

    ngx_http_aigw_obs_jw_field(w, ",\"model\":\"", g->model);

    if (g->byok) {
        ngx_http_aigw_jw_lit(w, ",\"is_byok\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"is_byok\":false");
    }

    ngx_http_aigw_obs_jw_field(w, ",\"provider_name\":\"", g->provider);

    if (g->stream) {
        ngx_http_aigw_jw_lit(w, ",\"streamed\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"streamed\":false");
    }

    finish = (g->status >= 400) ? "error"
                                : ngx_http_aigw_obs_finish_name(g->finish);

    ngx_http_aigw_jw_lit(w, ",\"finish_reason\":\"");
    ngx_http_aigw_jw_cstr(w, finish);
    ngx_http_aigw_jw_lit(w, "\",\"latency\":");
    ngx_http_aigw_jw_int(w, g->ttft >= 0 ? g->ttft : g->latency);
    ngx_http_aigw_jw_lit(w, ",\"generation_time\":");
    ngx_http_aigw_jw_int(w, g->latency);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_prompt\":");
    ngx_http_aigw_jw_int(w, g->input);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_completion\":");
    ngx_http_aigw_jw_int(w, g->output);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_reasoning\":");
    ngx_http_aigw_jw_int(w, g->reasoning);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_cached\":");
    ngx_http_aigw_jw_int(w, g->cached);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_cache_creation\":");
    ngx_http_aigw_jw_int(w, g->cache_write);
    ngx_http_aigw_jw_lit(w, ",\"billable_web_search_calls\":0");

    /* the gateway's own */

    ngx_http_aigw_obs_jw_field(w, ",\"requested_model\":\"", g->requested);
    ngx_http_aigw_obs_jw_field(w, ",\"provider_model\":\"",
                               g->provider_model);
    ngx_http_aigw_obs_jw_field(w, ",\"key\":\"", g->key);
    ngx_http_aigw_obs_jw_field(w, ",\"user\":\"", g->user);
    ngx_http_aigw_obs_jw_field(w, ",\"tags\":\"", g->tags);
    ngx_http_aigw_jw_lit(w, ",\"status\":");
    ngx_http_aigw_jw_int(w, g->status);

    if (g->cost < 0) {
        ngx_http_aigw_jw_lit(w, ",\"priced\":false");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"priced\":true");
    }

    if (g->cached_hit) {
        ngx_http_aigw_jw_lit(w, ",\"cached\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"cached\":false");
    }

    ngx_http_aigw_jw_lit(w, ",\"ttft_ms\":");

    if (g->ttft >= 0) {
        ngx_http_aigw_jw_int(w, g->ttft);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, ",\"provider_ms\":");
    ngx_http_aigw_jw_int(w, g->provider_ms);
    ngx_http_aigw_jw_lit(w, ",\"overhead_ms\":");
    ngx_http_aigw_jw_int(w, g->overhead);
    ngx_http_aigw_jw_lit(w, ",\"attempt_count\":");
    ngx_http_aigw_jw_int(w, g->attempts);
    ngx_http_aigw_obs_jw_field(w, ",\"attempts\":\"", g->attempt_list);

    if (g->estimated) {
        ngx_http_aigw_jw_lit(w, ",\"usage_source\":\"estimated\"}");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"usage_source\":\"provider\"}");
    }
}


/* GET /v1/generation?id=gen_... */

static ngx_int_t
ngx_http_aigw_obs_generation_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   id;
    ngx_uint_t                  i;
    ngx_chain_t                *out;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_jw_t          w;
    ngx_http_aigw_obs_sh_t     *osh;
    ngx_http_aigw_obs_gen_t    *g, gen;
    ngx_http_aigw_main_conf_t  *amcf;
    const ngx_http_aigw_key_t  *caller;

    rc = ngx_http_aigw_obs_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_aigw_obs_arg(r, "id", &id) != NGX_OK) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the \"id\" query argument is "
                                        "required");
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    osh = amcf->sh ? amcf->sh->obs : NULL;
    g = NULL;

    if (osh && osh->ring && id.len <= sizeof(gen.id.data)) {
        shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        for (i = 0; i < osh->ring_size; i++) {
            if (osh->ring[i].seq
                && osh->ring[i].id.len == id.len
                && ngx_memcmp(osh->ring[i].id.data, id.data, id.len) == 0)
            {
                gen = osh->ring[i];
                g = &gen;
                break;
            }
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    /* another key's generation is not found either */

    if (g == NULL || !ngx_http_aigw_obs_visible(caller, g)) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_FOUND, NULL,
                                        "generation \"%V\" not found",
                                        &id);
    }

    ngx_http_aigw_jw_init(&w, r->pool, 1024);

    ngx_http_aigw_jw_lit(&w, "{\"data\":");
    ngx_http_aigw_obs_write_gen(&w, g);
    ngx_http_aigw_jw_lit(&w, "}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL || w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}


static ngx_uint_t
ngx_http_aigw_obs_match(ngx_http_aigw_obs_gen_t *g, ngx_str_t *model,
    ngx_str_t *user, ngx_str_t *tag, ngx_str_t *status)
{
    u_char  *p, *last, *comma;

    if (model->len
        && !(g->model.len == model->len
             && ngx_memcmp(g->model.data, model->data, model->len) == 0)
        && !(g->requested.len == model->len
             && ngx_memcmp(g->requested.data, model->data, model->len) == 0))
    {
        return 0;
    }

    if (user->len
        && !(g->user.len == user->len
             && ngx_memcmp(g->user.data, user->data, user->len) == 0))
    {
        return 0;
    }

    if (status->len == 3) {
        if (status->data[0] != (u_char) ('0' + g->status / 100 % 10)) {
            return 0;
        }

        if ((status->data[1] != 'x' && status->data[1] != 'X')
            && (status->data[1] != (u_char) ('0' + g->status / 10 % 10)
                || status->data[2] != (u_char) ('0' + g->status % 10)))
        {
            return 0;
        }
    }

    if (tag->len == 0) {
        return 1;
    }

    p = g->tags.data;
    last = p + g->tags.len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if ((size_t) (comma - p) == tag->len
            && ngx_memcmp(p, tag->data, tag->len) == 0)
        {
            return 1;
        }

        p = comma + 1;
    }

    return 0;
}


/* GET /v1/logs?model=&user=&tag=&status=&limit=, newest first */

static ngx_int_t
ngx_http_aigw_obs_logs_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc, limit;
    ngx_str_t                   model, user, tag, status, s;
    ngx_uint_t                  i, n, seq, found;
    ngx_chain_t                *out;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_jw_t          w;
    ngx_http_aigw_obs_sh_t     *osh;
    ngx_http_aigw_obs_gen_t    *gens, *g;
    ngx_http_aigw_main_conf_t  *amcf;
    const ngx_http_aigw_key_t  *caller;

    rc = ngx_http_aigw_obs_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    (void) ngx_http_aigw_obs_arg(r, "model", &model);
    (void) ngx_http_aigw_obs_arg(r, "user", &user);
    (void) ngx_http_aigw_obs_arg(r, "tag", &tag);
    (void) ngx_http_aigw_obs_arg(r, "status", &status);

    if (status.len
        && (status.len != 3 || status.data[0] < '1' || status.data[0] > '5'
            || !((status.data[1] == 'x' && status.data[2] == 'x')
                 || (ngx_atoi(status.data, 3) != NGX_ERROR))))
    {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"status\" must be a status such "
                                        "as 429 or a class such as 5xx");
    }

    limit = 50;

    if (ngx_http_aigw_obs_arg(r, "limit", &s) == NGX_OK) {
        limit = ngx_atoi(s.data, s.len);

        if (limit <= 0 || limit > 1000) {
            return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"limit\" must be a "
                                            "number from 1 to 1000");
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    osh = amcf->sh ? amcf->sh->obs : NULL;
    gens = NULL;
    n = 0;

    if (osh && osh->ring) {
        gens = ngx_palloc(r->pool,
                          osh->ring_size * sizeof(ngx_http_aigw_obs_gen_t));
        if (gens == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        /* newest first: from the last one recorded backwards */

        seq = osh->seq;

        for (i = 0; i < osh->ring_size && seq > i; i++) {
            g = &osh->ring[(seq - 1 - i) % osh->ring_size];

            if (g->seq != seq - i) {
                break;
            }

            gens[n++] = *g;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_aigw_jw_init(&w, r->pool, 4096);

    ngx_http_aigw_jw_lit(&w, "{\"object\":\"list\",\"data\":[");

    found = 0;

    for (i = 0; i < n && found < (ngx_uint_t) limit; i++) {
        if (!ngx_http_aigw_obs_visible(caller, &gens[i])
            || !ngx_http_aigw_obs_match(&gens[i], &model, &user, &tag,
                                        &status))
        {
            continue;
        }

        if (found++) {
            ngx_http_aigw_jw_lit(&w, ",");
        }

        ngx_http_aigw_obs_write_gen(&w, &gens[i]);
    }

    ngx_http_aigw_jw_lit(&w, "]}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL || w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}


/* a query argument, URL-decoded; NGX_DECLINED: absent or empty */

static ngx_int_t
ngx_http_aigw_obs_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *src, *dst;
    ngx_str_t   raw;
    ngx_uint_t  i;

    ngx_str_null(value);

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK
        || raw.len == 0)
    {
        return NGX_DECLINED;
    }

    src = ngx_pnalloc(r->pool, raw.len * 2);
    if (src == NULL) {
        return NGX_DECLINED;
    }

    for (i = 0; i < raw.len; i++) {
        src[i] = (raw.data[i] == '+') ? ' ' : raw.data[i];
    }

    value->data = src + raw.len;
    dst = value->data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    return value->len ? NGX_OK : NGX_DECLINED;
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
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_aigw_obs_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
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
