
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"

#include <openssl/evp.h>


/*
 * Response caching on nginx's upstream cache (ngx_http_file_cache): the
 * keys zone in shared memory, the answers on disk, the cache lock, the
 * background update and the stale windows are nginx's.  The gateway
 * gives it a key (a hash of the canonical request, the client surface
 * and the scope), the validity the client asked for in its Cache-Control
 * request header, and the answer in the client's format: the non-stream
 * answer, once translated, goes to nginx's buffered pipe as a synthetic
 * "200" response, which is what the cache stores.  A hit is that answer
 * again, or an SSE stream made from it for a stream request (the body
 * filter below).
 */


typedef enum {
    ngx_http_aigw_cache_scope_key = 0,
    ngx_http_aigw_cache_scope_user,
    ngx_http_aigw_cache_scope_global
} ngx_http_aigw_cache_scope_e;


typedef struct {
    ngx_array_t                     caches;    /* ngx_http_file_cache_t * */
    ngx_array_t                    *bypass;    /* predicates */
    ngx_array_t                    *no_store;
} ngx_http_aigw_cache_main_conf_t;


typedef struct {
    ngx_flag_t                      enable;    /* unset, off, a zone */
    ngx_shm_zone_t                 *zone;
    ngx_str_t                       dflt;      /* aigw_cache_default */
    time_t                          max_age;
    ngx_uint_t                      scope;
    ngx_flag_t                      lock;
    ngx_msec_t                      lock_timeout;
} ngx_http_aigw_cache_loc_conf_t;


/* a Cache-Control value, -1: not given */

typedef struct {
    time_t                          max_age;
    time_t                          s_maxage;
    time_t                          swr;       /* stale-while-revalidate */
    time_t                          sie;       /* stale-if-error */
    unsigned                        no_cache:1;
    unsigned                        no_store:1;
} ngx_http_aigw_cc_t;


typedef struct {
    ngx_str_t                       key;
    time_t                          ttl;
    time_t                          swr;
    time_t                          sie;
    ngx_http_aigw_usage_t           usage;     /* of a cached answer */
    ngx_chain_t                    *in;        /* a stream hit's body */
    ngx_http_cache_t               *cache;     /* held for a stream */
    ngx_http_aigw_jw_t              sent;      /* the stream as sent */

    unsigned                        bypass:1;  /* no lookup */
    unsigned                        no_store:1;
    unsigned                        sse:1;     /* a stream hit */
    unsigned                        sse_done:1;
    unsigned                        cached:1;  /* the answer came from it */
    unsigned                        fill:1;    /* a stream to store */
} ngx_http_aigw_cache_ctx_t;


/* the synthetic response head stored before the answer */

#define NGX_HTTP_AIGW_CACHE_STATUS  "HTTP/1.1 200 OK" CRLF
#define NGX_HTTP_AIGW_CACHE_USAGE   "X-AIGW-Usage: "


static ngx_int_t ngx_http_aigw_cache_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_aigw_cache_init(ngx_conf_t *cf);
static void *ngx_http_aigw_cache_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aigw_cache_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_cache_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_aigw_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_array_t *ngx_http_aigw_cache_predicate(ngx_conf_t *cf,
    const char *name);
static ngx_int_t ngx_http_aigw_cache_parse_cc(ngx_str_t *value,
    ngx_http_aigw_cc_t *cc);
static ngx_int_t ngx_http_aigw_cache_policy(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_cache_ctx_t *cctx,
    ngx_http_aigw_cache_loc_conf_t *clcf);
static ngx_int_t ngx_http_aigw_cache_body_cc(ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *value);
static ngx_int_t ngx_http_aigw_cache_make_key(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_cache_ctx_t *cctx,
    ngx_http_aigw_cache_loc_conf_t *clcf);
static ngx_int_t ngx_http_aigw_cache_hash_value(ngx_http_request_t *r,
    EVP_MD_CTX *md, ngx_http_aigw_json_t *j, ngx_uint_t v);
static int ngx_libc_cdecl ngx_http_aigw_cache_cmp_keys(const void *one,
    const void *two);
static ngx_int_t ngx_http_aigw_cache_create_key(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_cache_copy_filter(ngx_event_pipe_t *p,
    ngx_buf_t *buf);
static ngx_int_t ngx_http_aigw_cache_status_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_cache_var_flag(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_cache_var_usage(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static u_char *ngx_http_aigw_cache_head(ngx_http_request_t *r,
    ngx_http_cache_t *c, ngx_http_aigw_usage_t *us, size_t len, u_char **pos);
static ngx_int_t ngx_http_aigw_cache_hold(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx);
static void ngx_http_aigw_cache_release(void *data);
static ngx_int_t ngx_http_aigw_cache_store_stream(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx);
static ngx_int_t ngx_http_aigw_cache_write(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_str_t *answer);
static ngx_int_t ngx_http_aigw_cache_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_aigw_cache_fill_filter(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_chain_t *in);
static ngx_int_t ngx_http_aigw_cache_sse(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_chain_t **out);


static ngx_conf_enum_t  ngx_http_aigw_cache_scopes[] = {
    { ngx_string("key"), ngx_http_aigw_cache_scope_key },
    { ngx_string("user"), ngx_http_aigw_cache_scope_user },
    { ngx_string("global"), ngx_http_aigw_cache_scope_global },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_aigw_cache_commands[] = {

    { ngx_string("aigw_cache_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_file_cache_set_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_main_conf_t, caches),
      &ngx_http_aigw_cache_module },

    { ngx_string("aigw_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_aigw_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_cache_default"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_loc_conf_t, dflt),
      NULL },

    { ngx_string("aigw_cache_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_loc_conf_t, max_age),
      NULL },

    { ngx_string("aigw_cache_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_loc_conf_t, scope),
      &ngx_http_aigw_cache_scopes },

    { ngx_string("aigw_cache_lock"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_loc_conf_t, lock),
      NULL },

    { ngx_string("aigw_cache_lock_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_cache_loc_conf_t, lock_timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_cache_module_ctx = {
    ngx_http_aigw_cache_add_variables,     /* preconfiguration */
    ngx_http_aigw_cache_init,              /* postconfiguration */

    ngx_http_aigw_cache_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_cache_create_loc_conf,   /* create location configuration */
    ngx_http_aigw_cache_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_cache_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_cache_module_ctx,       /* module context */
    ngx_http_aigw_cache_commands,          /* module directives */
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


static ngx_http_variable_t  ngx_http_aigw_cache_vars[] = {

    /* the predicates of aigw_cache (cache_bypass and no_cache) */

    { ngx_string("aigw_cache_bypass"), NULL,
      ngx_http_aigw_cache_var_flag, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cache_no_store"), NULL,
      ngx_http_aigw_cache_var_flag, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cache_usage"), NULL,
      ngx_http_aigw_cache_var_usage, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* where answers are written first with use_temp_path=on: proxy's place */

#ifndef NGX_HTTP_PROXY_TEMP_PATH
#define NGX_HTTP_PROXY_TEMP_PATH  "proxy_temp"
#endif

static ngx_path_init_t  ngx_http_aigw_cache_temp_path = {
    ngx_string(NGX_HTTP_PROXY_TEMP_PATH), { 1, 2, 0 }
};


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;

/* the document whose member names ngx_qsort() compares */
static ngx_http_aigw_json_t           *ngx_http_aigw_cache_sort_json;


static ngx_int_t
ngx_http_aigw_cache_add_variables(ngx_conf_t *cf)
{
    return ngx_http_aigw_register_variables(cf, ngx_http_aigw_cache_vars);
}


static ngx_int_t
ngx_http_aigw_cache_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_aigw_cache_body_filter;

    return NGX_OK;
}


static void *
ngx_http_aigw_cache_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_cache_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_cache_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&cmcf->caches, cf->pool, 2,
                       sizeof(ngx_http_file_cache_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return cmcf;
}


static void *
ngx_http_aigw_cache_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_cache_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_cache_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->zone = NULL;
     *     conf->dflt = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->max_age = NGX_CONF_UNSET;
    conf->scope = NGX_CONF_UNSET_UINT;
    conf->lock = NGX_CONF_UNSET;
    conf->lock_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


/*
 * Merged after ngx_http_aigw_module's own locations (the module comes
 * later in the list): the cache fields of the route's upstream conf.
 */

static char *
ngx_http_aigw_cache_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_cache_loc_conf_t *prev = parent;
    ngx_http_aigw_cache_loc_conf_t *conf = child;

    ngx_http_aigw_cc_t                cc;
    ngx_http_upstream_conf_t         *ucf;
    ngx_http_aigw_loc_conf_t         *alcf;
    ngx_http_aigw_cache_main_conf_t  *cmcf;

    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable = (prev->enable == NGX_CONF_UNSET) ? 0 : prev->enable;
        conf->zone = prev->zone;
    }

    ngx_conf_merge_str_value(conf->dflt, prev->dflt, "");
    ngx_conf_merge_sec_value(conf->max_age, prev->max_age, 86400);
    ngx_conf_merge_uint_value(conf->scope, prev->scope,
                              ngx_http_aigw_cache_scope_key);
    ngx_conf_merge_value(conf->lock, prev->lock, 1);
    ngx_conf_merge_msec_value(conf->lock_timeout, prev->lock_timeout, 60000);

    if (conf->dflt.len && ngx_http_aigw_cache_parse_cc(&conf->dflt, &cc)
                          != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"aigw_cache_default\" value \"%V\"",
                           &conf->dflt);
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    alcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_aigw_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_cache_module);

    ucf = &alcf->upstream;

    ucf->cache = 1;
    ucf->cache_zone = conf->zone;
    ucf->cache_min_uses = 1;
    ucf->cache_max_range_offset = NGX_MAX_OFF_T_VALUE;
    ucf->cache_methods = NGX_HTTP_POST;
    ucf->cache_use_stale = 0;           /* per entry: updating_sec, ... */
    ucf->cache_valid = NULL;            /* only what the client asked for */
    ucf->cache_lock = conf->lock;
    ucf->cache_lock_timeout = conf->lock_timeout;
    ucf->cache_lock_age = conf->lock_timeout;
    ucf->cache_revalidate = 0;
    ucf->cache_convert_head = 0;
    ucf->cache_background_update = 1;

    if (cmcf->bypass == NULL) {
        cmcf->bypass = ngx_http_aigw_cache_predicate(cf, "$aigw_cache_bypass");
        cmcf->no_store = ngx_http_aigw_cache_predicate(cf,
                                                       "$aigw_cache_no_store");
        if (cmcf->bypass == NULL || cmcf->no_store == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ucf->cache_bypass = cmcf->bypass;
    ucf->no_cache = cmcf->no_store;

    /* the buffered pipe that writes the answer to the cache */

    ucf->bufs.num = 8;
    ucf->bufs.size = ngx_pagesize;
    ucf->busy_buffers_size = 2 * ngx_pagesize;
    ucf->max_temp_file_size = 1024 * 1024 * 1024;
    ucf->temp_file_write_size = 2 * ngx_pagesize;

    if (ngx_conf_merge_path_value(cf, &ucf->temp_path, NULL,
                                  &ngx_http_aigw_cache_temp_path)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* aigw_cache zone | off */

static char *
ngx_http_aigw_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_cache_loc_conf_t *clcf = conf;

    ngx_str_t  *value;

    if (clcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        clcf->enable = 0;
        return NGX_CONF_OK;
    }

    clcf->enable = 1;

    clcf->zone = ngx_shared_memory_add(cf, &value[1], 0,
                                       &ngx_http_aigw_cache_module);
    if (clcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_array_t *
ngx_http_aigw_cache_predicate(ngx_conf_t *cf, const char *name)
{
    ngx_array_t                       *a;
    ngx_str_t                          value;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    a = ngx_array_create(cf->pool, 1, sizeof(ngx_http_complex_value_t));
    if (a == NULL) {
        return NULL;
    }

    cv = ngx_array_push(a);
    if (cv == NULL) {
        return NULL;
    }

    value.data = (u_char *) name;
    value.len = ngx_strlen(name);

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return a;
}


/*
 * A Cache-Control request value: max-age, s-maxage, stale-while-
 * revalidate, stale-if-error, no-cache, no-store; other directives are
 * ignored, as HTTP says.  NGX_ERROR: a known directive with a bad value.
 */

static ngx_int_t
ngx_http_aigw_cache_parse_cc(ngx_str_t *value, ngx_http_aigw_cc_t *cc)
{
    u_char     *p, *last, *name, *arg, *end;
    size_t      len;
    time_t     *t;
    ngx_int_t   n;

    cc->max_age = -1;
    cc->s_maxage = -1;
    cc->swr = -1;
    cc->sie = -1;
    cc->no_cache = 0;
    cc->no_store = 0;

    p = value->data;
    last = p + value->len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p == last) {
            break;
        }

        name = p;

        while (p < last && *p != '=' && *p != ',' && *p != ' '
               && *p != '\t')
        {
            p++;
        }

        len = p - name;
        arg = NULL;
        end = NULL;

        if (p < last && *p == '=') {
            p++;

            if (p < last && *p == '"') {
                arg = ++p;

                while (p < last && *p != '"') {
                    p++;
                }

                end = p;

                if (p < last) {
                    p++;
                }

            } else {
                arg = p;

                while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
                    p++;
                }

                end = p;
            }
        }

        t = NULL;

        if (len == 7 && ngx_strncasecmp(name, (u_char *) "max-age", 7) == 0) {
            t = &cc->max_age;

        } else if (len == 8
                   && ngx_strncasecmp(name, (u_char *) "s-maxage", 8) == 0)
        {
            t = &cc->s_maxage;

        } else if (len == 22
                   && ngx_strncasecmp(name,
                                      (u_char *) "stale-while-revalidate", 22)
                      == 0)
        {
            t = &cc->swr;

        } else if (len == 14
                   && ngx_strncasecmp(name, (u_char *) "stale-if-error", 14)
                      == 0)
        {
            t = &cc->sie;

        } else if (len == 8
                   && ngx_strncasecmp(name, (u_char *) "no-cache", 8) == 0)
        {
            cc->no_cache = 1;

        } else if (len == 8
                   && ngx_strncasecmp(name, (u_char *) "no-store", 8) == 0)
        {
            cc->no_store = 1;
        }

        if (t == NULL) {
            continue;
        }

        if (arg == NULL || end == arg) {
            return NGX_ERROR;
        }

        n = ngx_atoi(arg, end - arg);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        *t = (time_t) n;
    }

    return NGX_OK;
}


/*
 * Per request, before the upstream starts: the policy, the key, and the
 * pipe filter for a store.
 */

ngx_int_t
ngx_http_aigw_cache_start(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_upstream_t              *u;
    ngx_http_upstream_conf_t         *ucf;
    ngx_http_aigw_cache_ctx_t        *cctx;
    ngx_http_aigw_cache_loc_conf_t   *clcf;
    ngx_http_aigw_cache_main_conf_t  *cmcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_cache_module);

    if (!clcf->enable) {
        return NGX_OK;
    }

    cctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_cache_ctx_t));
    if (cctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(r, cctx, ngx_http_aigw_cache_module);

    if (ngx_http_aigw_cache_policy(r, ctx, cctx, clcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_cache_make_key(r, ctx, cctx, clcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_cache_module);

    u = r->upstream;

    u->caches = &cmcf->caches;
    u->create_key = ngx_http_aigw_cache_create_key;

    if (ctx->stream) {

        /*
         * a stream is not refreshed in the background (nginx's refresh
         * sends nothing, so it would not read the stream): a stale answer
         * is fetched again at once, and stored; the requests that come
         * meanwhile get the stale one (UPDATING)
         */

        ucf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
        if (ucf == NULL) {
            return NGX_ERROR;
        }

        *ucf = *u->conf;
        ucf->cache_background_update = 0;
        u->conf = ucf;
    }

    u->pipe = ngx_pcalloc(r->pool, sizeof(ngx_event_pipe_t));
    if (u->pipe == NULL) {
        return NGX_ERROR;
    }

    u->pipe->input_filter = ngx_http_aigw_cache_copy_filter;
    u->pipe->input_ctx = r;

    return NGX_OK;
}


/*
 * The request's Cache-Control header, else providerOptions.gateway.
 * cacheControl, else aigw_cache_default; nothing at all: the cache is not
 * involved.  s-maxage wins over max-age, both are capped by
 * aigw_cache_max_age.
 */

static ngx_int_t
ngx_http_aigw_cache_policy(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_http_aigw_cache_loc_conf_t *clcf)
{
    ngx_str_t            value;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h;
    ngx_uint_t           i;
    ngx_http_aigw_cc_t   cc;

    ngx_str_null(&value);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               sizeof("Cache-Control") - 1)
               == 0)
        {
            value = h[i].value;
            break;
        }
    }

    if (value.len == 0) {
        if (ngx_http_aigw_cache_body_cc(ctx, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (value.len == 0) {
        value = clcf->dflt;
    }

    cctx->bypass = 1;
    cctx->no_store = 1;

    if (value.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_aigw_cache_parse_cc(&value, &cc) != NGX_OK) {

        /* as HTTP caches do: what cannot be understood is not cached */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "aigw: invalid cache control \"%V\", not cached",
                      &value);
        return NGX_OK;
    }

    if (cc.no_store) {
        return NGX_OK;
    }

    cctx->ttl = (cc.s_maxage >= 0) ? cc.s_maxage : cc.max_age;

    if (cctx->ttl > clcf->max_age) {
        cctx->ttl = clcf->max_age;
    }

    cctx->swr = ngx_max(cc.swr, 0);
    cctx->sie = ngx_max(cc.sie, 0);

    if (cc.no_cache || cctx->ttl == 0) {

        /* a refresh: no lookup, the new answer is stored */

        if (cctx->ttl <= 0) {
            cctx->ttl = clcf->max_age;
        }

        cctx->no_store = 0;
        return NGX_OK;
    }

    if (cctx->ttl < 0) {

        /* stale windows alone say nothing about freshness */

        return NGX_OK;
    }

    cctx->bypass = 0;
    cctx->no_store = 0;

    return NGX_OK;
}


/* providerOptions.gateway.cacheControl, a string */

static ngx_int_t
ngx_http_aigw_cache_body_cc(ngx_http_aigw_ctx_t *ctx, ngx_str_t *value)
{
    ngx_uint_t             g, v;
    ngx_http_aigw_json_t  *o;

    o = &ctx->options;

    if (o->toks == NULL || o->ntoks == 0) {
        return NGX_OK;
    }

    g = ngx_http_aigw_json_get(o, 0, "gateway");

    if (!ngx_http_aigw_json_is(o, g, ngx_http_aigw_json_object)) {
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(o, g, "cacheControl");

    if (!ngx_http_aigw_json_is(o, v, ngx_http_aigw_json_string)) {
        return NGX_OK;
    }

    return ngx_http_aigw_json_str(o, v, value);
}


/*
 * The key: SHA-256 over the client surface and endpoint, the scope, the
 * model slug asked for, and every other top-level field of the body in
 * name order, each value as a canonical walk of its tokens (decoded
 * strings, numbers as written, members in document order), so that
 * whitespace and escaping do not matter.  Fields that do not change the
 * answer are left out.
 */

static ngx_str_t  ngx_http_aigw_cache_skip[] = {
    ngx_string("model"),
    ngx_string("stream"),
    ngx_string("stream_options"),
    ngx_string("user"),
    ngx_string("metadata"),
    ngx_string("providerOptions"),
    ngx_null_string
};


static ngx_int_t
ngx_http_aigw_cache_make_key(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_http_aigw_cache_loc_conf_t *clcf)
{
    u_char                 *p, hash[EVP_MAX_MD_SIZE];
    ngx_int_t               rc;
    ngx_str_t               name, scope, *s;
    ngx_uint_t              i, k, n, *keys;
    unsigned int            len;
    EVP_MD_CTX             *md;
    ngx_http_aigw_json_t   *j;

    j = &ctx->json;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        goto done;
    }

    ngx_str_null(&scope);

    switch (clcf->scope) {

    case ngx_http_aigw_cache_scope_key:
        if (ctx->key) {
            scope = ctx->key->name;
        }
        break;

    case ngx_http_aigw_cache_scope_user:
        scope = ctx->user;
        break;

    default:
        break;
    }

    /* length-prefixed parts: no two requests hash the same bytes */

    p = ngx_pnalloc(r->pool, 4 * (NGX_INT_T_LEN + 1) + ctx->client->name.len
                             + scope.len + ctx->model.len);
    if (p == NULL) {
        goto done;
    }

    len = ngx_sprintf(p, "%ui:%V%ui:%ui:%V%uz:%V", ctx->client->name.len,
                      &ctx->client->name, ctx->endpoint, clcf->scope,
                      &scope, ctx->model.len, &ctx->model)
          - p;

    if (EVP_DigestUpdate(md, p, len) != 1) {
        goto done;
    }

    n = 0;

    if (j->ntoks && j->toks[0].type == ngx_http_aigw_json_object) {
        n = j->toks[0].count;
    }

    keys = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_uint_t));
    if (keys == NULL) {
        goto done;
    }

    i = 0;

    for (k = 1; n && k < j->toks[0].next; k = j->toks[k + 1].next) {
        ngx_http_aigw_json_str_raw(j, k, &name);

        for (s = ngx_http_aigw_cache_skip; s->len; s++) {
            if (s->len == name.len
                && ngx_strncmp(s->data, name.data, name.len) == 0)
            {
                break;
            }
        }

        if (s->len == 0) {
            keys[i++] = k;
        }
    }

    n = i;

    ngx_http_aigw_cache_sort_json = j;
    ngx_qsort(keys, n, sizeof(ngx_uint_t), ngx_http_aigw_cache_cmp_keys);

    for (i = 0; i < n; i++) {
        ngx_http_aigw_json_str_raw(j, keys[i], &name);

        len = ngx_sprintf(p, "|%uz:", name.len) - p;

        if (EVP_DigestUpdate(md, p, len) != 1
            || EVP_DigestUpdate(md, name.data, name.len) != 1)
        {
            goto done;
        }

        if (ngx_http_aigw_cache_hash_value(r, md, j, keys[i] + 1) != NGX_OK) {
            goto done;
        }
    }

    if (EVP_DigestFinal_ex(md, hash, &len) != 1) {
        goto done;
    }

    cctx->key.data = ngx_pnalloc(r->pool, sizeof("aigw1:") - 1 + 2 * len);
    if (cctx->key.data == NULL) {
        goto done;
    }

    p = ngx_cpymem(cctx->key.data, "aigw1:", sizeof("aigw1:") - 1);
    p = ngx_hex_dump(p, hash, len);
    cctx->key.len = p - cctx->key.data;

    rc = NGX_OK;

done:

    EVP_MD_CTX_free(md);

    return rc;
}


static int ngx_libc_cdecl
ngx_http_aigw_cache_cmp_keys(const void *one, const void *two)
{
    ngx_int_t              rc;
    ngx_str_t              a, b;
    ngx_http_aigw_json_t  *j;

    j = ngx_http_aigw_cache_sort_json;

    ngx_http_aigw_json_str_raw(j, *(ngx_uint_t *) one, &a);
    ngx_http_aigw_json_str_raw(j, *(ngx_uint_t *) two, &b);

    rc = ngx_memn2cmp(a.data, b.data, a.len, b.len);

    return (rc > 0) - (rc < 0);
}


/* one value: its tokens in order, type and decoded content */

static ngx_int_t
ngx_http_aigw_cache_hash_value(ngx_http_request_t *r, EVP_MD_CTX *md,
    ngx_http_aigw_json_t *j, ngx_uint_t v)
{
    u_char                     buf[NGX_INT_T_LEN + 8];
    size_t                     n;
    ngx_str_t                  raw, s;
    ngx_uint_t                 i;
    ngx_http_aigw_json_t       sub;
    ngx_http_aigw_json_tok_t  *t;

    ngx_http_aigw_json_raw(j, v, &raw);

    ngx_memzero(&sub, sizeof(ngx_http_aigw_json_t));
    sub.pool = r->pool;
    sub.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;
    sub.max = j->max;

    if (ngx_http_aigw_json_parse(&sub, raw.data, raw.len) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < sub.ntoks; i++) {
        t = &sub.toks[i];

        switch (t->type) {

        case ngx_http_aigw_json_string:
            if (t->flags & NGX_HTTP_AIGW_JSON_ESCAPED) {
                if (ngx_http_aigw_json_str(&sub, i, &s) != NGX_OK) {
                    return NGX_ERROR;
                }

            } else {
                ngx_http_aigw_json_str_raw(&sub, i, &s);
            }

            break;

        case ngx_http_aigw_json_number:
            ngx_http_aigw_json_raw(&sub, i, &s);
            break;

        default:
            ngx_str_null(&s);
            break;
        }

        n = ngx_sprintf(buf, "%d%uD:%uz:", (int) t->type, t->count, s.len)
            - buf;

        if (EVP_DigestUpdate(md, buf, n) != 1
            || (s.len && EVP_DigestUpdate(md, s.data, s.len) != 1))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_cache_create_key(ngx_http_request_t *r)
{
    ngx_str_t                  *key;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    key = ngx_array_push(&r->cache->keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    *key = cctx->key;

    return NGX_OK;
}


/*
 * The live answer's headers are made (upstream.c): X-AIGW-Cache, and for
 * a complete non-stream 200 that may be stored, the switch to nginx's
 * buffered pipe with the answer as a synthetic response in u->buffer:
 * [the cache file's header][status line, usage][the client's answer].
 */

ngx_int_t
ngx_http_aigw_cache_response(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                     *p, *start;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_http_cache_t           *c;
    ngx_http_upstream_t        *u;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    if (cctx == NULL) {
        return NGX_OK;
    }

    if (ngx_http_aigw_cache_status_header(r) != NGX_OK) {
        return NGX_ERROR;
    }

    u = r->upstream;
    c = r->cache;

    if (c && u->cacheable && !cctx->no_store && ctx->stream
        && ctx->status == NGX_HTTP_OK)
    {
        return ngx_http_aigw_cache_hold(r, cctx);
    }

    if (c == NULL || !u->cacheable || cctx->no_store
        || ctx->status != NGX_HTTP_OK || ctx->stream
        || ctx->rstate != ngx_http_aigw_rs_done || ctx->close_delimited
        || ctx->out.out == NULL)
    {
        /* only complete 200 answers are stored */

        u->cacheable = 0;
        return NGX_OK;
    }

    start = ngx_http_aigw_cache_head(r, c, &ctx->usage, ctx->out.size, &p);
    if (start == NULL) {
        return NGX_ERROR;
    }

    b = &u->buffer;

    b->start = start;
    b->pos = p;

    for (cl = ctx->out.out; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    b->last = p;
    b->end = p;
    b->temporary = 1;

    c->valid_sec = ngx_time() + cctx->ttl;
    c->updating_sec = cctx->swr;
    c->error_sec = cctx->sie;

    u->buffering = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw cache: storing %uz bytes for %T s",
                   (size_t) (b->last - b->pos), cctx->ttl);

    return NGX_OK;
}


/*
 * What is stored before an answer: room for the cache file's header, the
 * status line and the usage; *pos is where the answer of len bytes goes
 * (the buffer has room for it).  The head is far below the 64k that
 * body_start can say: the key is short.
 */

static u_char *
ngx_http_aigw_cache_head(ngx_http_request_t *r, ngx_http_cache_t *c,
    ngx_http_aigw_usage_t *us, size_t len, u_char **pos)
{
    u_char  *start;

    start = ngx_pnalloc(r->pool, c->header_start
                                 + sizeof(NGX_HTTP_AIGW_CACHE_STATUS) - 1
                                 + sizeof(NGX_HTTP_AIGW_CACHE_USAGE) - 1
                                 + 5 * (NGX_INT64_LEN + 1)
                                 + 2 * (sizeof(CRLF) - 1) + len);
    if (start == NULL) {
        return NULL;
    }

    *pos = ngx_sprintf(start + c->header_start,
                       NGX_HTTP_AIGW_CACHE_STATUS NGX_HTTP_AIGW_CACHE_USAGE
                       "%L %L %L %L %L" CRLF CRLF,
                       us->input, us->output, us->cache_read, us->cache_write,
                       us->reasoning);

    return start;
}


/*
 * A stream that may fill the cache: nginx's non-buffered path would free
 * the entry (and the cache lock) at once, so the request holds it here,
 * out of nginx's sight, until the stream ended; the body filter keeps
 * what the client got, and a complete stream is stored as the non-stream
 * answer (ngx_http_aigw_cache_store_stream()).  The entry is freed when
 * the request is, if it was not stored.
 */

static ngx_int_t
ngx_http_aigw_cache_hold(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx)
{
    ngx_pool_cleanup_t  *cln;

    if (r->upstream->cache_status == NGX_HTTP_CACHE_BYPASS
        && ngx_http_file_cache_create(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_aigw_cache_release;
    cln->data = cctx;

    cctx->cache = r->cache;
    cctx->fill = 1;
    r->cache = NULL;

    ngx_http_aigw_jw_init(&cctx->sent, r->pool, 4096);

    return NGX_OK;
}


static void
ngx_http_aigw_cache_release(void *data)
{
    ngx_http_aigw_cache_ctx_t  *cctx = data;

    if (cctx->cache) {
        ngx_http_file_cache_free(cctx->cache, NULL);
        cctx->cache = NULL;
    }
}


/* the stream ended: its answer, if it is a complete one */

static ngx_int_t
ngx_http_aigw_cache_store_stream(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx)
{
    ngx_int_t             rc;
    ngx_str_t             sse, answer;
    ngx_http_aigw_jw_t    w;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx == NULL || r->connection->error
        || ngx_http_aigw_jw_flatten(&cctx->sent, &sse) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_http_aigw_jw_init(&w, r->pool, 4096);

    rc = ngx_http_aigw_stream_response(r, ctx, &sse, &w);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_aigw_jw_flatten(&w, &answer) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_aigw_cache_write(r, cctx, &answer);
}


/* what the buffered pipe does for a non-stream answer, done here */

static ngx_int_t
ngx_http_aigw_cache_write(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_str_t *answer)
{
    u_char               *p, *start;
    ngx_buf_t             b;
    ngx_chain_t           cl;
    ngx_http_cache_t     *c;
    ngx_temp_file_t      *tf;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    c = cctx->cache;

    start = ngx_http_aigw_cache_head(r, c, &ctx->usage, answer->len, &p);
    if (start == NULL) {
        return NGX_ERROR;
    }

    c->body_start = (u_short) (p - start);
    c->date = ngx_time();
    c->valid_sec = c->date + cctx->ttl;
    c->updating_sec = cctx->swr;
    c->error_sec = cctx->sie;
    c->last_modified = -1;
    ngx_str_null(&c->etag);

    p = ngx_cpymem(p, answer->data, answer->len);

    tf = ngx_pcalloc(r->pool, sizeof(ngx_temp_file_t));
    if (tf == NULL) {
        return NGX_ERROR;
    }

    tf->file.fd = NGX_INVALID_FILE;
    tf->file.log = r->connection->log;
    tf->path = c->file_cache->use_temp_path ? r->upstream->conf->temp_path
                                            : c->file_cache->path;
    tf->pool = r->pool;
    tf->persistent = 1;

    ngx_memzero(&b, sizeof(ngx_buf_t));
    b.start = start;
    b.pos = start;
    b.last = p;
    b.end = p;
    b.memory = 1;

    cl.buf = &b;
    cl.next = NULL;

    /* nginx's calls take the entry from r->cache */

    r->cache = c;

    if (ngx_http_file_cache_set_header(r, start) != NGX_OK
        || ngx_write_chain_to_temp_file(tf, &cl) == NGX_ERROR)
    {
        r->cache = NULL;
        return NGX_ERROR;
    }

    ngx_http_file_cache_update(r, tf);

    r->cache = NULL;
    cctx->cache = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw cache: stream stored as %uz bytes", answer->len);

    return NGX_OK;
}


/*
 * process_header on a cached answer: the head stored by
 * ngx_http_aigw_cache_response(), then the answer itself, which
 * ngx_http_cache_send() sends from the file (or the body filter turns
 * into a stream).
 */

ngx_int_t
ngx_http_aigw_cache_hit(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                     *p, *last, *q;
    off_t                       n[5];
    ngx_str_t                   v;
    ngx_uint_t                  i;
    ngx_http_cache_t           *c;
    ngx_http_upstream_t        *u;
    ngx_http_aigw_cache_ctx_t  *cctx;

    u = r->upstream;
    c = r->cache;
    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    if (cctx == NULL) {
        return NGX_ERROR;
    }

    p = u->buffer.pos;
    last = u->buffer.start + c->body_start;

    if (last > u->buffer.last
        || (size_t) (last - p) < sizeof(NGX_HTTP_AIGW_CACHE_STATUS) - 1
                                 + sizeof(NGX_HTTP_AIGW_CACHE_USAGE) - 1
        || ngx_strncmp(p, NGX_HTTP_AIGW_CACHE_STATUS NGX_HTTP_AIGW_CACHE_USAGE,
                       sizeof(NGX_HTTP_AIGW_CACHE_STATUS) - 1
                       + sizeof(NGX_HTTP_AIGW_CACHE_USAGE) - 1)
           != 0)
    {
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    p += sizeof(NGX_HTTP_AIGW_CACHE_STATUS) - 1
         + sizeof(NGX_HTTP_AIGW_CACHE_USAGE) - 1;

    for (i = 0; i < 5; i++) {
        for (q = p; q < last && *q >= '0' && *q <= '9'; q++) {
            /* void */
        }

        n[i] = ngx_atoof(p, q - p);

        if (n[i] == NGX_ERROR || q == last) {
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        p = q + 1;
    }

    cctx->cached = 1;
    cctx->usage.input = n[0];
    cctx->usage.output = n[1];
    cctx->usage.cache_read = n[2];
    cctx->usage.cache_write = n[3];
    cctx->usage.reasoning = n[4];
    cctx->usage.seen = 1;

    /* a hit costs nothing: no usage to settle */

    ngx_memzero(&ctx->usage, sizeof(ngx_http_aigw_usage_t));

    ctx->status = NGX_HTTP_OK;
    u->headers_in.status_n = NGX_HTTP_OK;

    if (ctx->stream) {
        cctx->sse = 1;
        ctx->sse_out = 1;
        u->headers_in.content_length_n = -1;

        ngx_str_set(&r->headers_out.content_type, "text/event-stream");

        ngx_str_set(&v, "no-cache");
        if (ngx_http_aigw_add_header(r, "Cache-Control", &v) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        u->headers_in.content_length_n = c->length - c->body_start;
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v.data = p;
    v.len = ngx_sprintf(p, "%T", ngx_max(ngx_time() - c->date, 0)) - p;

    if (ngx_http_aigw_add_header(r, "Age", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_cache_status_header(r) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->headers_out = 1;

    return NGX_OK;
}


/* the buffered pipe's input: the answer in u->buffer, as it is */

static ngx_int_t
ngx_http_aigw_cache_copy_filter(ngx_event_pipe_t *p, ngx_buf_t *buf)
{
    off_t         size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (buf->pos == buf->last) {
        return NGX_OK;
    }

    if (p->upstream_done) {
        return NGX_OK;
    }

    cl = ngx_chain_get_free_buf(p->pool, &p->free);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    ngx_memcpy(b, buf, sizeof(ngx_buf_t));
    b->shadow = buf;
    b->tag = p->tag;
    b->last_shadow = 1;
    b->recycled = 1;
    buf->shadow = b;

    if (p->in) {
        *p->last_in = cl;

    } else {
        p->in = cl;
    }

    p->last_in = &cl->next;

    size = b->last - b->pos;

    if (p->length >= 0 && size >= p->length) {
        b->last = b->pos + p->length;
        p->length = 0;
        p->upstream_done = 1;

    } else if (p->length > 0) {
        p->length -= size;
    }

    return NGX_OK;
}


/* the pipe is set up: it takes the whole answer from u->buffer */

void
ngx_http_aigw_cache_pipe_init(ngx_http_request_t *r)
{
    ngx_event_pipe_t  *p;

    p = r->upstream->pipe;

    p->length = p->preread_size;
}


/* a stale answer may stand in for an error (stale-if-error) */

ngx_uint_t
ngx_http_aigw_cache_stale_error(ngx_http_request_t *r)
{
    return r->cache && r->upstream->cache_status == NGX_HTTP_CACHE_EXPIRED
           && r->cache->stale_error;
}


/*
 * X-AIGW-Cache, and the request's cache status where the observability
 * code ($aigw_cache_status, metrics, generations) reads it
 */

static ngx_int_t
ngx_http_aigw_cache_status_header(ngx_http_request_t *r)
{
    ngx_uint_t                  n;
    ngx_http_aigw_ctx_t        *ctx;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (cctx == NULL || ctx == NULL) {
        return NGX_OK;
    }

    n = NGX_HTTP_CACHE_BYPASS;

    if (r->upstream && r->upstream->cache_status) {
        n = r->upstream->cache_status;
    }

    ctx->cache_status = ngx_http_cache_status[n - 1];

    return ngx_http_aigw_add_header(r, "X-AIGW-Cache", &ctx->cache_status);
}


static ngx_int_t
ngx_http_aigw_cache_var_flag(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_uint_t                  on;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    on = (cctx == NULL) || (data ? cctx->no_store : cctx->bypass);

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->len = on ? 1 : 0;
    v->data = (u_char *) "1";

    return NGX_OK;
}


/* the usage of a cached answer, which this request did not pay */

static ngx_int_t
ngx_http_aigw_cache_var_usage(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p;
    ngx_http_aigw_usage_t      *us;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    if (cctx == NULL || !cctx->cached) {
        v->not_found = 1;
        return NGX_OK;
    }

    us = &cctx->usage;

    p = ngx_pnalloc(r->pool, 5 * (NGX_INT64_LEN + sizeof("cache_write=")));
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "input=%L output=%L cached=%L cache_write=%L "
                         "reasoning=%L", us->input, us->output,
                         us->cache_read, us->cache_write, us->reasoning)
             - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * A stream request served from the cache: the stored answer (one file
 * buffer from ngx_http_cache_send()) becomes the events a live stream
 * would give in the client's format.
 */

static ngx_int_t
ngx_http_aigw_cache_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                     *p;
    off_t                       size;
    ssize_t                     n;
    ngx_buf_t                  *b;
    ngx_uint_t                  last;
    ngx_chain_t                *cl, *out, **ll;
    ngx_http_aigw_cache_ctx_t  *cctx;

    cctx = ngx_http_get_module_ctx(r, ngx_http_aigw_cache_module);

    if (cctx && cctx->fill) {
        return ngx_http_aigw_cache_fill_filter(r, cctx, in);
    }

    if (cctx == NULL || !cctx->sse || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    if (cctx->sse_done) {
        return in ? NGX_OK : ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (ll = &cctx->in; *ll; ll = &(*ll)->next) {
        /* void */
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }

        size = ngx_buf_size(b);

        if (size == 0) {
            continue;
        }

        p = ngx_pnalloc(r->pool, (size_t) size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) size, b->file_pos);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "aigw: cached answer could not be read");
                return NGX_ERROR;
            }

            b->file_pos = b->file_last;

        } else {
            ngx_memcpy(p, b->pos, (size_t) size);
            b->pos = b->last;
        }

        *ll = ngx_alloc_chain_link(r->pool);
        if (*ll == NULL) {
            return NGX_ERROR;
        }

        (*ll)->buf = ngx_calloc_buf(r->pool);
        if ((*ll)->buf == NULL) {
            return NGX_ERROR;
        }

        (*ll)->buf->pos = p;
        (*ll)->buf->last = p + size;
        (*ll)->next = NULL;
        ll = &(*ll)->next;
    }

    if (!last) {
        return NGX_OK;
    }

    cctx->sse_done = 1;

    if (ngx_http_aigw_cache_sse(r, cctx, &out) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_body_filter(r, out);
}


/* a stream that may fill the cache: what the client gets is kept */

static ngx_int_t
ngx_http_aigw_cache_fill_filter(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_uint_t                 last;
    ngx_chain_t               *cl;
    ngx_http_aigw_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        if (ngx_buf_in_memory(cl->buf) && cl->buf->last > cl->buf->pos) {
            ngx_http_aigw_jw_raw(&cctx->sent, cl->buf->pos,
                                 cl->buf->last - cl->buf->pos);
        }

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (cctx->sent.size > alcf->max_response_size || cctx->sent.error) {

        /* too large to keep: not stored, the entry is freed now */

        cctx->fill = 0;
        ngx_http_aigw_cache_release(cctx);
    }

    rc = ngx_http_next_body_filter(r, in);

    if (last && cctx->fill) {
        cctx->fill = 0;

        if (ngx_http_aigw_cache_store_stream(r, cctx) == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "aigw: the stream's answer could not be cached");
        }

        ngx_http_aigw_cache_release(cctx);
    }

    return rc;
}


static ngx_int_t
ngx_http_aigw_cache_sse(ngx_http_request_t *r,
    ngx_http_aigw_cache_ctx_t *cctx, ngx_chain_t **out)
{
    u_char               *p;
    size_t                len;
    ngx_str_t             body;
    ngx_chain_t          *cl;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    len = 0;

    for (cl = cctx->in; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    body.data = ngx_pnalloc(r->pool, len + 1);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    p = body.data;

    for (cl = cctx->in; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    body.len = len;

    ctx->usage = cctx->usage;

    if (ngx_http_aigw_response_sse(r, ctx, &body, out) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the events carry the original usage; this request pays none */

    ngx_memzero(&ctx->usage, sizeof(ngx_http_aigw_usage_t));

    for (cl = *out; cl->next; cl = cl->next) {
        /* void */
    }

    cl->buf->last_buf = 1;

    return NGX_OK;
}
