
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
static ngx_int_t ngx_http_aigw_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_aigw_merge_pass_headers(ngx_conf_t *cf,
    ngx_http_aigw_loc_conf_t *prev, ngx_http_aigw_loc_conf_t *conf);
static char *ngx_http_aigw_merge_upstream(ngx_conf_t *cf,
    ngx_http_aigw_loc_conf_t *prev, ngx_http_aigw_loc_conf_t *conf);
static ngx_int_t ngx_http_aigw_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_aigw_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_aigw_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aigw_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aigw_pass_request_headers(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


/* every wire format the gateway speaks; the only list that names them */

const ngx_http_aigw_format_t  *ngx_http_aigw_formats[] = {
    &ngx_http_aigw_openai_format,
    &ngx_http_aigw_anthropic_format,
    &ngx_http_aigw_gemini_format,
    &ngx_http_aigw_bedrock_format,
    &ngx_http_aigw_aisdk_format,
    &ngx_http_aigw_responses_format,
    NULL
};


const ngx_http_aigw_format_t *
ngx_http_aigw_find_format(ngx_str_t *name)
{
    const ngx_http_aigw_format_t  **f;

    for (f = ngx_http_aigw_formats; *f; f++) {
        if ((*f)->name.len == name->len
            && ngx_strncmp((*f)->name.data, name->data, name->len) == 0)
        {
            return *f;
        }
    }

    return NULL;
}


/*
 * The format a provider speaks to a request: its own, but Responses to a
 * Responses client when it serves them natively (responses=on)
 */

const ngx_http_aigw_format_t *
ngx_http_aigw_target_format(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_provider_t *p)
{
    if (p->responses && ctx->client == &ngx_http_aigw_responses_format) {
        return ctx->client;
    }

    return p->format;
}


/*
 * What a request URI asks for: the endpoint of a format whose client path
 * ends the URI (the longest one), or the model list every format serves,
 * in the format a request header names (the default one otherwise).
 */

ngx_uint_t
ngx_http_aigw_classify(ngx_http_request_t *r,
    const ngx_http_aigw_format_t **format, ngx_uint_t *endpoint,
    ngx_str_t *id)
{
    u_char                         *p, *last, *m;
    size_t                          best;
    const ngx_str_t                *cp;
    ngx_uint_t                      ep, i;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    const ngx_http_aigw_format_t  **f;

    p = r->uri.data;
    last = p + r->uri.len;

    while (last > p && last[-1] == '/') {
        last--;
    }

    best = 0;

    for (f = ngx_http_aigw_formats; *f; f++) {
        for (ep = 0; ep < ngx_http_aigw_ep_last; ep++) {
            cp = &(*f)->client_paths[ep];

            if (cp->len > best
                && (size_t) (last - p) >= cp->len
                && ngx_strncmp(last - cp->len, cp->data, cp->len) == 0)
            {
                best = cp->len;
                *format = *f;
                *endpoint = ep;
            }
        }
    }

    if (best) {
        return ngx_http_aigw_route_api;
    }

    /* a format's own model list: GET {base}/config of the AI SDK */

    for (f = ngx_http_aigw_formats; *f; f++) {
        cp = &(*f)->models_path;

        if (cp->len
            && (size_t) (last - p) >= cp->len
            && ngx_strncmp(last - cp->len, cp->data, cp->len) == 0)
        {
            *format = *f;
            return ngx_http_aigw_route_models;
        }
    }

    *format = ngx_http_aigw_default_format;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        for (f = ngx_http_aigw_formats; *f; f++) {
            if ((*f)->client_header.len
                && h[i].key.len == (*f)->client_header.len
                && ngx_strncasecmp(h[i].key.data, (*f)->client_header.data,
                                   h[i].key.len) == 0)
            {
                *format = *f;
                goto found;
            }
        }
    }

found:

    if (last - p >= 7 && ngx_strncmp(last - 7, "/models", 7) == 0) {
        return ngx_http_aigw_route_models;
    }

    /* /v1/models/{id}: the id may hold slashes ("openai/gpt-5.4") */

    m = ngx_strlcasestrn(p, last, (u_char *) "/models/", 8 - 1);

    if (m && m + 8 < last) {
        id->data = m + 8;
        id->len = last - m - 8;
        return ngx_http_aigw_route_model;
    }

    return ngx_http_aigw_route_none;
}


/* "/v1/chat/completions, /v1/messages, ... and /v1/models" */

ngx_int_t
ngx_http_aigw_endpoints_text(ngx_pool_t *pool, ngx_str_t *out)
{
    u_char                         *p;
    size_t                          len;
    const ngx_str_t                *cp;
    ngx_uint_t                      ep;
    const ngx_http_aigw_format_t  **f;

    len = sizeof(" and /v1/models") - 1;

    for (ep = 0; ep < ngx_http_aigw_ep_last; ep++) {
        for (f = ngx_http_aigw_formats; *f; f++) {
            len += sizeof(", /v1") - 1 + (*f)->client_paths[ep].len;
        }
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (ep = 0; ep < ngx_http_aigw_ep_last; ep++) {
        for (f = ngx_http_aigw_formats; *f; f++) {
            cp = &(*f)->client_paths[ep];

            if (cp->len == 0) {
                continue;
            }

            if (p != out->data) {
                *p++ = ',';
                *p++ = ' ';
            }

            p = ngx_sprintf(p, "/v1%V", cp);
        }
    }

    p = ngx_cpymem(p, " and /v1/models", sizeof(" and /v1/models") - 1);

    out->len = p - out->data;

    return NGX_OK;
}


/* provider headers never reach clients: the module writes its own */

static ngx_str_t  ngx_http_aigw_hide_headers[] = {
    ngx_null_string
};


/*
 * aigw_pass_request_headers: the default, and the names that are never
 * passed (credentials, framing, hop-by-hop, and what the gateway writes)
 */

static ngx_str_t  ngx_http_aigw_pass_default[] = {
    ngx_string("anthropic-beta"),
    ngx_string("anthropic-version"),
    ngx_null_string
};


static ngx_str_t  ngx_http_aigw_pass_never[] = {
    ngx_string("authorization"),
    ngx_string("proxy-authorization"),
    ngx_string("x-api-key"),
    ngx_string("api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("cookie"),
    ngx_string("host"),
    ngx_string("content-length"),
    ngx_string("content-type"),
    ngx_string("content-encoding"),
    ngx_string("transfer-encoding"),
    ngx_string("connection"),
    ngx_string("proxy-connection"),
    ngx_string("keep-alive"),
    ngx_string("upgrade"),
    ngx_string("te"),
    ngx_string("trailer"),
    ngx_string("expect"),
    ngx_string("accept"),
    ngx_string("accept-encoding"),
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
    { ngx_string("http_401"), NGX_HTTP_AIGW_NEXT_401 },
    { ngx_string("http_403"), NGX_HTTP_AIGW_NEXT_403 },
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

    { ngx_string("aigw_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_aigw_redis_directive,
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

    { ngx_string("aigw_pass_request_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_aigw_pass_request_headers,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_response_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, expose_headers),
      NULL },

    { ngx_string("aigw_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_aigw_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_keys_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_aigw_keys_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_loc_conf_t, auth),
      NULL },

    { ngx_string("aigw_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_aigw_user,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_module_ctx = {
    ngx_http_aigw_preconfiguration,        /* preconfiguration */
    ngx_http_aigw_postconfiguration,       /* postconfiguration */

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
    ngx_http_aigw_init_stages,             /* init module */
    ngx_http_aigw_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* what each worker keeps of its own: the keepalive caches of url= providers */

static ngx_int_t
ngx_http_aigw_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_aigw_provider_t   *p;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aigw_module);
    if (amcf == NULL) {
        return NGX_OK;    /* no http{} */
    }

    p = amcf->providers.elts;

    for (i = 0; i < amcf->providers.nelts; i++) {
        if (p[i].implicit && p[i].keepalive
            && ngx_http_aigw_ka_init_process(cycle, &p[i]) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_aigw_add_variables(cf);
}


static ngx_int_t
ngx_http_aigw_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                      n;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    const ngx_http_aigw_field_t    *fl;
    const ngx_http_aigw_format_t  **f;

    /* the handler marks the fields it has seen in a bitmap of this size */

    for (f = ngx_http_aigw_formats; *f; f++) {
        for (n = 0, fl = (*f)->fields; fl->name.len; fl++) {
            n++;
        }

        if (n > NGX_HTTP_AIGW_FIELDS_MAX) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "format \"%V\" has %ui fields, at most %d are "
                          "supported", &(*f)->name, n,
                          NGX_HTTP_AIGW_FIELDS_MAX);
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /*
     * the module's many long $aigw_* names, with nginx's own and
     * other modules', do not fit nginx's default variables hash (a [warn]
     * at every start): room for them, unless the configuration gave more
     */

    if (cmcf->variables_hash_bucket_size < 128) {
        cmcf->variables_hash_bucket_size = 128;
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_aigw_log_handler;

    if (ngx_http_aigw_add_core_stages(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_vertex_add_stage(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_aigw_key_init(cf);
}


static void *
ngx_http_aigw_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
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
     *     amcf->stages = NULL;
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

    for (i = 0; i <= NGX_HTTP_AIGW_STAGE_PLAN; i++) {
        if (ngx_array_init(&amcf->slots[i], cf->pool, 2,
                           sizeof(ngx_http_aigw_stage_pt))
            != NGX_OK)
        {
            return NULL;
        }
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
    if (amcf->need_ssl) {
        amcf->ssl = ngx_http_aigw_ssl_create(cf, amcf->ssl_verify,
                                             &amcf->ssl_trusted_certificate,
                                             amcf->ssl_verify_depth);
        if (amcf->ssl == NULL) {
            return NGX_CONF_ERROR;
        }
    }
#endif

    return NGX_CONF_OK;
}


#if (NGX_HTTP_SSL)

/*
 * A client TLS context (to providers, to Redis): TLS 1.2 and 1.3; with
 * "verify", peers are checked against "trusted" or, when it is empty,
 * the system trust store.  NULL: an [emerg] was logged.
 */

ngx_ssl_t *
ngx_http_aigw_ssl_create(ngx_conf_t *cf, ngx_flag_t verify,
    ngx_str_t *trusted, ngx_uint_t depth)
{
    ngx_ssl_t           *ssl;
    ngx_pool_cleanup_t  *cln;

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NULL;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NULL;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (ngx_ssl_ciphers(cf, ssl, (ngx_str_t *) &(ngx_str_t)
                        ngx_string("DEFAULT"), 0)
        != NGX_OK)
    {
        return NULL;
    }

    if (!verify) {
        return ssl;
    }

    if (trusted->len) {
        if (ngx_ssl_trusted_certificate(cf, ssl, trusted, depth) != NGX_OK) {
            return NULL;
        }

        return ssl;
    }

    /* the system trust store */

    SSL_CTX_set_verify_depth(ssl->ctx, depth);

    if (SSL_CTX_set_default_verify_paths(ssl->ctx) != 1) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NULL;
    }

    return ssl;
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
    conf->pass_headers = NGX_CONF_UNSET_PTR;
    conf->auth = NGX_CONF_UNSET;
    conf->user = NGX_CONF_UNSET_PTR;

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

    /* keys are read with the whole http{} block, before any merge */

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    ngx_conf_merge_value(conf->auth, prev->auth, amcf->keys != NULL);
    ngx_conf_merge_ptr_value(conf->user, prev->user, NULL);

    if (ngx_http_aigw_merge_pass_headers(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_aigw_merge_upstream(cf, prev, conf);
}


/* aigw_pass_request_headers: the parent's list, or the default one */

static ngx_int_t
ngx_http_aigw_merge_pass_headers(ngx_conf_t *cf,
    ngx_http_aigw_loc_conf_t *prev, ngx_http_aigw_loc_conf_t *conf)
{
    ngx_str_t  *h, *name;

    if (conf->pass_headers == NGX_CONF_UNSET_PTR) {
        if (prev->pass_headers == NGX_CONF_UNSET_PTR) {
            prev->pass_headers = ngx_array_create(cf->pool, 2,
                                                  sizeof(ngx_str_t));
            if (prev->pass_headers == NULL) {
                return NGX_ERROR;
            }

            for (h = ngx_http_aigw_pass_default; h->len; h++) {
                name = ngx_array_push(prev->pass_headers);
                if (name == NULL) {
                    return NGX_ERROR;
                }

                *name = *h;
            }
        }

        conf->pass_headers = prev->pass_headers;
    }

    return NGX_OK;
}


/* failover (aigw_next_provider), timeouts, and the route's own upstream */

static char *
ngx_http_aigw_merge_upstream(ngx_conf_t *cf, ngx_http_aigw_loc_conf_t *prev,
    ngx_http_aigw_loc_conf_t *conf)
{
    ngx_hash_init_t             hash;
    ngx_http_aigw_main_conf_t  *amcf;

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
                                  |NGX_HTTP_AIGW_NEXT_529
                                  |NGX_HTTP_AIGW_NEXT_401
                                  |NGX_HTTP_AIGW_NEXT_403));

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


/* aigw_pass_request_headers off | name ... */

static char *
ngx_http_aigw_pass_request_headers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_aigw_loc_conf_t *alcf = conf;

    u_char      *p, *last, c;
    ngx_str_t   *value, *name, *never;
    ngx_uint_t   i;

    if (alcf->pass_headers != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    alcf->pass_headers = ngx_array_create(cf->pool, cf->args->nelts,
                                          sizeof(ngx_str_t));
    if (alcf->pass_headers == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        /* a header name: RFC 9110 token characters, kept in lower case */

        if (value[i].len == 0) {
            goto invalid;
        }

        last = value[i].data + value[i].len;

        for (p = value[i].data; p < last; p++) {
            c = *p;

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9')
                  || (c != '\0' && ngx_strchr("!#$%&'*+-.^_`|~", c))))
            {
                goto invalid;
            }

            *p = ngx_tolower(c);
        }

        for (never = ngx_http_aigw_pass_never; never->len; never++) {
            if (never->len == value[i].len
                && ngx_strncmp(never->data, value[i].data, never->len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" is never passed to providers: "
                                   "the gateway sets it", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        name = ngx_array_push(alcf->pass_headers);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid header name \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * Writes the client's request headers that aigw_pass_request_headers
 * names, as "name: value" lines, to a provider of the client's format;
 * a name that starts with the name of a format and "-" (anthropic-beta,
 * openai-beta) goes only to providers of that format.  The header named
 * "own" is not written: its last value goes to *value, for the caller to
 * write in its place (anthropic-version).
 */

ngx_int_t
ngx_http_aigw_pass_headers(ngx_http_request_t *r,
    const ngx_http_aigw_format_t *format, ngx_http_aigw_jw_t *w,
    const char *own, ngx_str_t *value)
{
    size_t                          n;
    ngx_str_t                      *name;
    ngx_uint_t                      i, k;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    ngx_http_aigw_loc_conf_t       *alcf;
    const ngx_http_aigw_format_t  **f;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if (alcf->pass_headers == NULL || alcf->pass_headers->nelts == 0) {
        return NGX_OK;
    }

    name = alcf->pass_headers->elts;
    n = own ? ngx_strlen(own) : 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].value.len == 0) {
            continue;
        }

        for (k = 0; k < alcf->pass_headers->nelts; k++) {
            if (name[k].len == h[i].key.len
                && ngx_strncasecmp(name[k].data, h[i].key.data,
                                   name[k].len) == 0)
            {
                break;
            }
        }

        if (k == alcf->pass_headers->nelts) {
            continue;
        }

        for (f = ngx_http_aigw_formats; *f; f++) {
            if (*f != format
                && name[k].len > (*f)->name.len
                && name[k].data[(*f)->name.len] == '-'
                && ngx_strncmp(name[k].data, (*f)->name.data,
                               (*f)->name.len) == 0)
            {
                break;
            }
        }

        if (*f) {
            continue;
        }

        if (n && n == h[i].key.len
            && ngx_strncasecmp(h[i].key.data, (u_char *) own, n) == 0)
        {
            *value = h[i].value;
            continue;
        }

        ngx_http_aigw_jw_str(w, &name[k]);
        ngx_http_aigw_jw_lit(w, ": ");
        ngx_http_aigw_jw_str(w, &h[i].value);
        ngx_http_aigw_jw_lit(w, CRLF);
    }

    return NGX_OK;
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
