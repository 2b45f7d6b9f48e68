
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"
#include "ngx_http_aigw_obs.h"


/*
 * $aigw_* variables for log_format: what was asked, who answered, the
 * attempts, usage and cost.  They are not cacheable: their values change
 * while the request runs.
 */


static ngx_int_t ngx_http_aigw_var_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_int(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_model(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_target(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_surface(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_stream(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_attempts(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_attempt_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_usage_source(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_cost(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_ttft(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_key(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_tags(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_var_set(ngx_http_variable_value_t *v,
    ngx_str_t *s);
static ngx_int_t ngx_http_aigw_var_num(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, int64_t n);


#define ngx_http_aigw_ctx_offset(field)  offsetof(ngx_http_aigw_ctx_t, field)
#define ngx_http_aigw_var(name, handler, data)                               \
    { ngx_string(name), NULL, handler, data, NGX_HTTP_VAR_NOCACHEABLE, 0 }


static ngx_http_variable_t  ngx_http_aigw_vars[] = {

    ngx_http_aigw_var("aigw_model", ngx_http_aigw_var_model, 0),
    ngx_http_aigw_var("aigw_requested_model", ngx_http_aigw_var_str,
                      ngx_http_aigw_ctx_offset(model)),
    ngx_http_aigw_var("aigw_provider", ngx_http_aigw_var_target, 0),
    ngx_http_aigw_var("aigw_provider_model", ngx_http_aigw_var_target, 1),
    ngx_http_aigw_var("aigw_surface", ngx_http_aigw_var_surface, 0),
    ngx_http_aigw_var("aigw_stream", ngx_http_aigw_var_stream, 0),
    ngx_http_aigw_var("aigw_attempts", ngx_http_aigw_var_attempts, 0),
    ngx_http_aigw_var("aigw_attempt_count", ngx_http_aigw_var_attempt_count,
                      0),
    ngx_http_aigw_var("aigw_input_tokens", ngx_http_aigw_var_int,
                      ngx_http_aigw_ctx_offset(usage.input)),
    ngx_http_aigw_var("aigw_output_tokens", ngx_http_aigw_var_int,
                      ngx_http_aigw_ctx_offset(usage.output)),
    ngx_http_aigw_var("aigw_cached_tokens", ngx_http_aigw_var_int,
                      ngx_http_aigw_ctx_offset(usage.cache_read)),
    ngx_http_aigw_var("aigw_cache_write_tokens", ngx_http_aigw_var_int,
                      ngx_http_aigw_ctx_offset(usage.cache_write)),
    ngx_http_aigw_var("aigw_reasoning_tokens", ngx_http_aigw_var_int,
                      ngx_http_aigw_ctx_offset(usage.reasoning)),
    ngx_http_aigw_var("aigw_usage_source", ngx_http_aigw_var_usage_source, 0),
    ngx_http_aigw_var("aigw_cost", ngx_http_aigw_var_cost, 0),
    ngx_http_aigw_var("aigw_ttft_ms", ngx_http_aigw_var_ttft, 0),
    ngx_http_aigw_var("aigw_user", ngx_http_aigw_var_str,
                      ngx_http_aigw_ctx_offset(user)),
    ngx_http_aigw_var("aigw_key", ngx_http_aigw_var_key, 0),
    ngx_http_aigw_var("aigw_tags", ngx_http_aigw_var_tags, 0),

      ngx_http_null_variable
};


ngx_int_t
ngx_http_aigw_add_variables(ngx_conf_t *cf)
{
    return ngx_http_aigw_register_variables(cf, ngx_http_aigw_vars);
}


/* a module's table of variables, up to its null entry */

ngx_int_t
ngx_http_aigw_register_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * micro-USD: prices are micro-USD per 1M tokens, and per image for the
 * images a provider made
 */

int64_t
ngx_http_aigw_cost(ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_model_t *m)
{
    int64_t                 plain, cached, write;
    ngx_http_aigw_usage_t  *u;

    u = &ctx->usage;

    plain = u->input - u->cache_read - u->cache_write;
    cached = m->price_cached ? m->price_cached : m->price_input;
    write = m->price_cache_write ? m->price_cache_write : m->price_input;

    /* rounded to the nearest micro-USD */

    return ((plain > 0 ? plain : 0) * m->price_input
            + u->cache_read * cached
            + u->cache_write * write
            + u->output * m->price_output + 500000) / 1000000
           + (int64_t) ctx->images * m->price_image;
}


#define ngx_http_aigw_var_ctx(r, v, ctx)                                     \
    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);                  \
    if (ctx == NULL) {                                                       \
        v->not_found = 1;                                                    \
        return NGX_OK;                                                       \
    }


/* an ngx_str_t of ctx at "data" */

static ngx_int_t
ngx_http_aigw_var_str(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    return ngx_http_aigw_var_set(v, (ngx_str_t *) ((u_char *) ctx + data));
}


/* an int64_t of ctx at "data" */

static ngx_int_t
ngx_http_aigw_var_int(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    return ngx_http_aigw_var_num(r, v, *(int64_t *) ((u_char *) ctx + data));
}


static ngx_int_t
ngx_http_aigw_var_model(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_target_t  *t;

    ngx_http_aigw_var_ctx(r, v, ctx);

    t = ngx_http_aigw_obs_target(ctx);

    return ngx_http_aigw_var_set(v, t ? &t->slug : &ctx->model);
}


/* the provider (data 0) or its model id (1) of the last attempt */

static ngx_int_t
ngx_http_aigw_var_target(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_target_t  *t;

    ngx_http_aigw_var_ctx(r, v, ctx);

    t = ngx_http_aigw_obs_target(ctx);

    if (t == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aigw_var_set(v, data ? &t->id : &t->provider->name);
}


static ngx_int_t
ngx_http_aigw_var_surface(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->client == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aigw_var_set(v, (ngx_str_t *) &ctx->client->name);
}


static ngx_int_t
ngx_http_aigw_var_stream(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    return ngx_http_aigw_var_num(r, v, ctx->stream);
}


static ngx_int_t
ngx_http_aigw_var_attempts(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             s;
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    ngx_http_aigw_attempts_text(ctx, &s, r->pool);

    return ngx_http_aigw_var_set(v, &s);
}


static ngx_int_t
ngx_http_aigw_var_attempt_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    return ngx_http_aigw_var_num(r, v, ctx->attempts.nelts);
}


static ngx_int_t
ngx_http_aigw_var_usage_source(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             s;
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->estimated) {
        ngx_str_set(&s, "estimated");

    } else if (ctx->usage.seen) {
        ngx_str_set(&s, "provider");

    } else {
        ngx_str_set(&s, "none");
    }

    return ngx_http_aigw_var_set(v, &s);
}


/* settled in the log phase; computed as it stands before */

static ngx_int_t
ngx_http_aigw_var_cost(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                  *p;
    int64_t                  cost;
    ngx_str_t                s;
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_target_t  *t;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->settled) {
        cost = ctx->cost;

    } else {
        t = ngx_http_aigw_obs_target(ctx);
        cost = (t && t->model->priced) ? ngx_http_aigw_cost(ctx, t->model)
                                       : -1;
    }

    if (cost < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 8);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s.data = p;
    s.len = ngx_sprintf(p, "%L.%06L", cost / 1000000, cost % 1000000) - p;

    return ngx_http_aigw_var_set(v, &s);
}


static ngx_int_t
ngx_http_aigw_var_ttft(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->first_byte == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aigw_var_num(r, v, ctx->first_byte - ctx->start);
}


static ngx_int_t
ngx_http_aigw_var_num(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    int64_t n)
{
    u_char     *p;
    ngx_str_t   s;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s.data = p;
    s.len = ngx_sprintf(p, "%L", n) - p;

    return ngx_http_aigw_var_set(v, &s);
}


/* an empty value is not found */

/* the name of the gateway key, never its secret */

static ngx_int_t
ngx_http_aigw_var_key(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->key == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aigw_var_set(v, (ngx_str_t *) &ctx->key->name);
}


/* the tags, comma-joined: the key's, then the client's */

static ngx_int_t
ngx_http_aigw_var_tags(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char               *p;
    size_t                len;
    ngx_str_t            *t, s;
    ngx_uint_t            i;
    ngx_http_aigw_ctx_t  *ctx;

    ngx_http_aigw_var_ctx(r, v, ctx);

    if (ctx->tag_list == NULL || ctx->tag_list->nelts == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    t = ctx->tag_list->elts;
    len = 0;

    for (i = 0; i < ctx->tag_list->nelts; i++) {
        len += t[i].len + 1;
    }

    s.data = ngx_pnalloc(r->pool, len);
    if (s.data == NULL) {
        return NGX_ERROR;
    }

    p = s.data;

    for (i = 0; i < ctx->tag_list->nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, t[i].data, t[i].len);
    }

    s.len = p - s.data;

    return ngx_http_aigw_var_set(v, &s);
}


static ngx_int_t
ngx_http_aigw_var_set(ngx_http_variable_value_t *v, ngx_str_t *s)
{
    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
