
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Test only, never loaded in production: a handler stage that suspends
 * the request for "aigw_test_suspend <time>" on a timer, as an
 * asynchronous lookup would, and resumes it when the timer fires.  It is
 * loaded after ngx_http_aigw_module.so, whose symbols it uses (nginx
 * loads modules with RTLD_GLOBAL).  t/080-stages.t drives it.
 *
 * "aigw_test_clock_offset <seconds>" (http) moves the clock of the
 * calendar computations of limits and budgets (ngx_http_aigw_clock_offset)
 * to test their period boundaries; t/100-periods.t drives it.
 */


typedef struct {
    ngx_msec_t   suspend;
} ngx_http_aigw_test_loc_conf_t;


typedef struct {
    ngx_int_t    clock_offset;
} ngx_http_aigw_test_main_conf_t;


static ngx_http_aigw_outcome_e ngx_http_aigw_test_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_test_wake(ngx_event_t *ev);
static void ngx_http_aigw_test_release(void *data);
static void *ngx_http_aigw_test_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aigw_test_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_test_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_aigw_test_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_aigw_test_commands[] = {

    { ngx_string("aigw_test_suspend"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_test_loc_conf_t, suspend),
      NULL },

    { ngx_string("aigw_test_clock_offset"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_test_main_conf_t, clock_offset),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_test_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_aigw_test_init,               /* postconfiguration */

    ngx_http_aigw_test_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_test_create_loc_conf,    /* create location configuration */
    ngx_http_aigw_test_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_test_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_test_module_ctx,        /* module context */
    ngx_http_aigw_test_commands,           /* module directives */
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


static ngx_http_aigw_outcome_e
ngx_http_aigw_test_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_event_t                    *ev;
    ngx_http_aigw_test_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_test_module);

    if (tlcf->suspend == 0) {
        return ngx_http_aigw_next;
    }

    ev = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ngx_http_aigw_finished;
    }

    ev->handler = ngx_http_aigw_test_wake;
    ev->data = r;
    ev->log = r->connection->log;

    if (ngx_http_aigw_suspend(r, ctx, ngx_http_aigw_test_release, ev)
        != NGX_OK)
    {
        ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ngx_http_aigw_finished;
    }

    ngx_add_timer(ev, tlcf->suspend);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "aigw test: suspended for %M ms", tlcf->suspend);

    return ngx_http_aigw_suspended;
}


static void
ngx_http_aigw_test_wake(ngx_event_t *ev)
{
    ngx_http_request_t  *r;

    r = ev->data;

    ngx_log_error(NGX_LOG_INFO, ev->log, 0, "aigw test: resumed");

    ngx_http_aigw_resume(r);
}


/* the request ended while suspended: the timer must never fire */

static void
ngx_http_aigw_test_release(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ngx_log_error(NGX_LOG_INFO, ev->log, 0, "aigw test: released");
}


static void *
ngx_http_aigw_test_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_test_main_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_aigw_test_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->clock_offset = NGX_CONF_UNSET;

    return conf;
}


static void *
ngx_http_aigw_test_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_test_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_aigw_test_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->suspend = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_aigw_test_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_test_loc_conf_t *prev = parent;
    ngx_http_aigw_test_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->suspend, prev->suspend, 0);

    return NGX_CONF_OK;
}


/*
 * after the parse stage, before the plan stage; the clock offset of this
 * configuration (0 without the directive), inherited by its workers
 */

static ngx_int_t
ngx_http_aigw_test_init(ngx_conf_t *cf)
{
    ngx_http_aigw_test_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_test_module);

    ngx_http_aigw_clock_offset = (tmcf->clock_offset == NGX_CONF_UNSET)
                                 ? 0 : tmcf->clock_offset;

    return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_LIMITS,
                                   ngx_http_aigw_test_stage);
}
