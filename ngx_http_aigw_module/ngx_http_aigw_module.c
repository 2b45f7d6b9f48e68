
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


static void *ngx_http_aigw_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_aigw_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_aigw_preconfiguration(ngx_conf_t *cf);
static char *ngx_http_aigw_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aigw_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_aigw_init_ssl(ngx_conf_t *cf,
    ngx_http_aigw_main_conf_t *amcf);
#endif


/* every wire format the gateway speaks; the only list that names them */

const ngx_http_aigw_format_t  *ngx_http_aigw_formats[] = {
    &ngx_http_aigw_openai_format,
    &ngx_http_aigw_anthropic_format,
    NULL
};


/* provider headers never reach clients: the module writes its own */

static ngx_str_t  ngx_http_aigw_hide_headers[] = {
    ngx_null_string
};


static ngx_conf_bitmask_t  ngx_http_aigw_next_masks[] = {
    { ngx_string("error"), NGX_HTTP_AIGW_NEXT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_AIGW_NEXT_TIMEOUT },
    { ngx_string("invalid_response"), NGX_HTTP_AIGW_NEXT_INVALID },
    { ngx_string("http_429"), NGX_HTTP_AIGW_NEXT_429 },
    { ngx_string("http_500"), NGX_HTTP_AIGW_NEXT_500 },
    { ngx_string("http_502"), NGX_HTTP_AIGW_NEXT_502 },
    { ngx_string("http_503"), NGX_HTTP_AIGW_NEXT_503 },
    { ngx_string("http_504"), NGX_HTTP_AIGW_NEXT_504 },
    { ngx_string("http_529"), NGX_HTTP_AIGW_NEXT_529 },
    { ngx_string("off"), NGX_HTTP_AIGW_NEXT_OFF },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_aigw_commands[] = {

    { ngx_string("aigw_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_aigw_provider,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_model"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_aigw_model,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_aigw_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_health"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_aigw_health,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_main_conf_t, ssl_verify),
      NULL },

    { ngx_string("aigw_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_main_conf_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("aigw_ssl_verify_depth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_main_conf_t, ssl_verify_depth),
      NULL },

    { ngx_string("aigw_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, pass),
      NULL },

    { ngx_string("aigw_demo"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, demo),
      NULL },

    { ngx_string("aigw_fallback_models"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, fallbacks),
      NULL },

    { ngx_string("aigw_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, next),
      &ngx_http_aigw_next_masks },

    { ngx_string("aigw_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.next_upstream_tries),
      NULL },

    { ngx_string("aigw_next_upstream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.next_upstream_timeout),
      NULL },

    { ngx_string("aigw_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("aigw_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("aigw_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("aigw_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("aigw_max_response_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, max_response_size),
      NULL },

    { ngx_string("aigw_max_json_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, max_json_tokens),
      NULL },

    { ngx_string("aigw_max_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, max_tokens),
      NULL },

    { ngx_string("aigw_response_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, expose_headers),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_module_ctx = {
    ngx_http_aigw_preconfiguration,        /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_aigw_create_main_conf,        /* create main configuration */
    ngx_http_aigw_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_create_loc_conf,         /* create location configuration */
    ngx_http_aigw_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_module_ctx,             /* module context */
    ngx_http_aigw_commands,                /* module directives */
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


static ngx_int_t
ngx_http_aigw_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_aigw_add_variables(cf);
}


static void *
ngx_http_aigw_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->zone = NULL;
     *     amcf->ssl_trusted_certificate = { 0, NULL };
     *     amcf->need_ssl = 0;
     */

    if (ngx_array_init(&amcf->providers, cf->pool, 4,
                       sizeof(ngx_http_aigw_provider_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&amcf->models, cf->pool, 8,
                       sizeof(ngx_http_aigw_model_t))
        != NGX_OK)
    {
        return NULL;
    }

    amcf->failures = NGX_CONF_UNSET_UINT;
    amcf->open_time = NGX_CONF_UNSET_MSEC;
    amcf->cooldown = NGX_CONF_UNSET_MSEC;
    amcf->ssl_verify = NGX_CONF_UNSET;
    amcf->ssl_verify_depth = NGX_CONF_UNSET_UINT;

    return amcf;
}


static char *
ngx_http_aigw_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    ngx_str_t  name;

    ngx_conf_init_uint_value(amcf->failures, 3);
    ngx_conf_init_msec_value(amcf->open_time, 30000);
    ngx_conf_init_msec_value(amcf->cooldown, 10000);
    ngx_conf_init_value(amcf->ssl_verify, 1);
    ngx_conf_init_uint_value(amcf->ssl_verify_depth, 10);

    if (ngx_http_aigw_init_models(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* provider health lives in the zone; make a small one if none given */

    if (amcf->zone == NULL && amcf->providers.nelts) {
        ngx_str_set(&name, "aigw");

        amcf->zone = ngx_shared_memory_add(cf, &name, 256 * 1024,
                                           &ngx_http_aigw_module);
        if (amcf->zone == NULL) {
            return NGX_CONF_ERROR;
        }

        amcf->zone->init = ngx_http_aigw_health_init_zone;
        amcf->zone->data = amcf;
    }

#if (NGX_HTTP_SSL)
    if (amcf->need_ssl && ngx_http_aigw_init_ssl(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_aigw_init_ssl(ngx_conf_t *cf, ngx_http_aigw_main_conf_t *amcf)
{
    ngx_pool_cleanup_t  *cln;

    amcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (amcf->ssl == NULL) {
        return NGX_ERROR;
    }

    amcf->ssl->log = cf->log;

    if (ngx_ssl_create(amcf->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(amcf->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = amcf->ssl;

    if (ngx_ssl_ciphers(cf, amcf->ssl, (ngx_str_t *) &(ngx_str_t)
                        ngx_string("DEFAULT"), 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!amcf->ssl_verify) {
        return NGX_OK;
    }

    if (amcf->ssl_trusted_certificate.len) {
        if (ngx_ssl_trusted_certificate(cf, amcf->ssl,
                                        &amcf->ssl_trusted_certificate,
                                        amcf->ssl_verify_depth)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* the system trust store */

    SSL_CTX_set_verify_depth(amcf->ssl->ctx, amcf->ssl_verify_depth);

    if (SSL_CTX_set_default_verify_paths(amcf->ssl->ctx) != 1) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}

#endif


static void *
ngx_http_aigw_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.* = 0 / NULL (cache, store, local, ...)
     *     conf->next = 0;
     */

    conf->pass = NGX_CONF_UNSET;
    conf->demo = NGX_CONF_UNSET;
    conf->fallbacks = NGX_CONF_UNSET_PTR;
    conf->max_response_size = NGX_CONF_UNSET_SIZE;
    conf->max_tokens = NGX_CONF_UNSET_UINT;
    conf->max_json_tokens = NGX_CONF_UNSET_UINT;
    conf->expose_headers = NGX_CONF_UNSET;

    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    conf->upstream.hide_headers = NGX_CONF_UNSET_PTR;
    conf->upstream.pass_headers = NGX_CONF_UNSET_PTR;

    /* the module answers itself; nginx never buffers, caches or stores */

    conf->upstream.buffering = 0;
    conf->upstream.request_buffering = 1;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.intercept_errors = 0;
    conf->upstream.pass_request_headers = 0;
    conf->upstream.pass_request_body = 0;
    conf->upstream.ignore_headers = NGX_CONF_BITMASK_SET
                                    |NGX_HTTP_UPSTREAM_IGN_XA_REDIRECT
                                    |NGX_HTTP_UPSTREAM_IGN_XA_EXPIRES
                                    |NGX_HTTP_UPSTREAM_IGN_XA_LIMIT_RATE
                                    |NGX_HTTP_UPSTREAM_IGN_XA_BUFFERING
                                    |NGX_HTTP_UPSTREAM_IGN_XA_CHARSET
                                    |NGX_HTTP_UPSTREAM_IGN_EXPIRES
                                    |NGX_HTTP_UPSTREAM_IGN_CACHE_CONTROL
                                    |NGX_HTTP_UPSTREAM_IGN_SET_COOKIE
                                    |NGX_HTTP_UPSTREAM_IGN_VARY;

    return conf;
}


static char *
ngx_http_aigw_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_loc_conf_t *prev = parent;
    ngx_http_aigw_loc_conf_t *conf = child;

    ngx_hash_init_t             hash;
    ngx_http_aigw_main_conf_t  *amcf;

    /* like proxy_pass, aigw_pass is not inherited by nested locations */

    if (conf->pass == NGX_CONF_UNSET) {
        conf->pass = 0;
    }

    if (conf->demo == NGX_CONF_UNSET) {
        conf->demo = 0;
    }

    ngx_conf_merge_ptr_value(conf->fallbacks, prev->fallbacks, NULL);
    ngx_conf_merge_size_value(conf->max_response_size,
                              prev->max_response_size, 64 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->max_tokens, prev->max_tokens, 4096);
    ngx_conf_merge_uint_value(conf->max_json_tokens, prev->max_json_tokens,
                              NGX_HTTP_AIGW_JSON_MAX_TOKENS);

    if (conf->max_json_tokens < 64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aigw_max_json_tokens\" must be at least 64");
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_value(conf->expose_headers, prev->expose_headers, 1);

    ngx_conf_merge_bitmask_value(conf->next, prev->next,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_AIGW_NEXT_ERROR
                                  |NGX_HTTP_AIGW_NEXT_TIMEOUT
                                  |NGX_HTTP_AIGW_NEXT_INVALID
                                  |NGX_HTTP_AIGW_NEXT_429
                                  |NGX_HTTP_AIGW_NEXT_500
                                  |NGX_HTTP_AIGW_NEXT_502
                                  |NGX_HTTP_AIGW_NEXT_503
                                  |NGX_HTTP_AIGW_NEXT_504
                                  |NGX_HTTP_AIGW_NEXT_529));

    if (conf->next & NGX_HTTP_AIGW_NEXT_OFF) {
        conf->next = NGX_CONF_BITMASK_SET|NGX_HTTP_AIGW_NEXT_OFF;
    }

    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 10000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 600000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size, 16 * 1024);

    if (conf->upstream.buffer_size < 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aigw_buffer_size\" must be at least 1k");
        return NGX_CONF_ERROR;
    }

    /*
     * nginx retries on connect errors and timeouts itself; provider
     * statuses and invalid responses are decided by the module and reach
     * nginx as "invalid header", and POST is always retryable: the
     * balancer vetoes what must not be retried
     */

    conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                   |NGX_HTTP_UPSTREAM_FT_INVALID_HEADER
                                   |NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT;

    if (conf->next & NGX_HTTP_AIGW_NEXT_ERROR) {
        conf->upstream.next_upstream |= NGX_HTTP_UPSTREAM_FT_ERROR;
    }

    if (conf->next & NGX_HTTP_AIGW_NEXT_TIMEOUT) {
        conf->upstream.next_upstream |= NGX_HTTP_UPSTREAM_FT_TIMEOUT;
    }

    if (conf->next & NGX_HTTP_AIGW_NEXT_OFF) {
        conf->upstream.next_upstream_tries = 1;
    }

    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "aigw_headers_hash";

    if (ngx_http_upstream_hide_headers_hash(cf, &conf->upstream,
                                            &prev->upstream,
                                            ngx_http_aigw_hide_headers, &hash)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->pass || conf->demo) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

#if (NGX_HTTP_SSL)
        conf->upstream.ssl = amcf->ssl;
        conf->upstream.ssl_server_name = 1;
        conf->upstream.ssl_verify = amcf->ssl_verify;
        conf->upstream.ssl_session_reuse = 1;
#endif

        if (conf->upstream.upstream == NULL) {
            conf->upstream.upstream = ngx_pcalloc(cf->pool,
                                        sizeof(ngx_http_upstream_srv_conf_t));
            if (conf->upstream.upstream == NULL) {
                return NGX_CONF_ERROR;
            }

            /* the route's own upstream: not registered, never resolved */

            conf->upstream.upstream->peer.init = ngx_http_aigw_balancer_init;
            ngx_str_set(&conf->upstream.upstream->host, "aigw");
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->pass != NGX_CONF_UNSET || alcf->demo != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (cmd->offset == offsetof(ngx_http_aigw_loc_conf_t, pass)) {
        alcf->pass = 1;
        clcf->handler = ngx_http_aigw_handler;

    } else {
        alcf->demo = 1;
        clcf->handler = ngx_http_aigw_demo_handler;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    ngx_str_t   *value, s;
    ngx_int_t    n;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);
            if (n <= 0) {
                goto invalid;
            }

            amcf->failures = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "open=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            amcf->open_time = ngx_parse_time(&s, 0);
            if (amcf->open_time == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "cooldown=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            amcf->cooldown = ngx_parse_time(&s, 0);
            if (amcf->cooldown == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
