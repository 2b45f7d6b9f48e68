
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#ifndef _NGX_HTTP_AIGW_OBS_H_INCLUDED_
#define _NGX_HTTP_AIGW_OBS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The shared parts of observability: obs.c (the module, its directives
 * and variables), metrics.c (the series and aigw_metrics), generation.c
 * (the ring, aigw_generation, aigw_logs) and sort.c (the performance
 * averages and the sorted plan).
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


ngx_http_aigw_target_t *ngx_http_aigw_obs_target(ngx_http_aigw_ctx_t *ctx);

/* ngx_http_aigw_metrics.c */

ngx_http_aigw_obs_series_t *ngx_http_aigw_obs_series(ngx_slab_pool_t *shpool,
    ngx_http_aigw_obs_sh_t *osh, ngx_str_t *key, ngx_uint_t family,
    ngx_uint_t nvals);
ngx_int_t ngx_http_aigw_obs_key(ngx_pool_t *pool, ngx_str_t *key,
    ngx_uint_t family, ...);
void ngx_http_aigw_obs_metrics_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool, int64_t duration, int64_t overhead);
ngx_int_t ngx_http_aigw_obs_metrics_handler(ngx_http_request_t *r);

/* ngx_http_aigw_generation.c */

void ngx_http_aigw_obs_ring_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool, int64_t duration, int64_t provider,
    int64_t overhead);
const char *ngx_http_aigw_obs_finish_name(ngx_uint_t finish);
ngx_int_t ngx_http_aigw_obs_generation_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_aigw_obs_logs_handler(ngx_http_request_t *r);

/* ngx_http_aigw_sort.c */

void ngx_http_aigw_obs_perf_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_obs_sh_t *osh,
    ngx_slab_pool_t *shpool);


#endif /* _NGX_HTTP_AIGW_OBS_H_INCLUDED_ */
