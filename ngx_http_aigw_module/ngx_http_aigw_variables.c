
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * $aigw_* variables for log_format: what was asked, who answered, the
 * attempts, usage and cost.  They are not cacheable: their values change
 * while the request runs.
 */


typedef enum {
    ngx_http_aigw_var_model = 0,
    ngx_http_aigw_var_requested_model,
    ngx_http_aigw_var_provider,
    ngx_http_aigw_var_provider_model,
    ngx_http_aigw_var_surface,
    ngx_http_aigw_var_stream,
    ngx_http_aigw_var_attempts,
    ngx_http_aigw_var_attempt_count,
    ngx_http_aigw_var_input_tokens,
    ngx_http_aigw_var_output_tokens,
    ngx_http_aigw_var_cached_tokens,
    ngx_http_aigw_var_cache_write_tokens,
    ngx_http_aigw_var_reasoning_tokens,
    ngx_http_aigw_var_usage_source,
    ngx_http_aigw_var_cost,
    ngx_http_aigw_var_ttft,
    ngx_http_aigw_var_user
} ngx_http_aigw_var_e;


static ngx_int_t ngx_http_aigw_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_aigw_target_t *ngx_http_aigw_last_target(
    ngx_http_aigw_ctx_t *ctx);
static int64_t ngx_http_aigw_cost(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_model_t *m);


static ngx_http_variable_t  ngx_http_aigw_vars[] = {

    { ngx_string("aigw_model"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_model, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_requested_model"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_requested_model, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_provider"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_provider, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_provider_model"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_provider_model, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_surface"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_surface, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_stream"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_stream, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_attempts"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_attempts, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_attempt_count"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_attempt_count, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_input_tokens"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_input_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_output_tokens"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_output_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cached_tokens"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_cached_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cache_write_tokens"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_cache_write_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_reasoning_tokens"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_reasoning_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_usage_source"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_usage_source, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_cost"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_cost, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_ttft_ms"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_ttft, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_user"), NULL, ngx_http_aigw_variable,
      ngx_http_aigw_var_user, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_aigw_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_aigw_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_http_aigw_target_t *
ngx_http_aigw_last_target(ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_attempt_t  *a;

    if (ctx->attempts.nelts == 0) {
        return NULL;
    }

    a = ctx->attempts.elts;

    return a[ctx->attempts.nelts - 1].target;
}


/* micro-USD: prices are micro-USD per 1M tokens */

static int64_t
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
            + u->output * m->price_output + 500000) / 1000000;
}


static ngx_int_t
ngx_http_aigw_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                  *p;
    int64_t                  n, cost;
    ngx_str_t                s;
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_target_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    t = ngx_http_aigw_last_target(ctx);
    ngx_str_null(&s);
    n = -1;

    switch (data) {

    case ngx_http_aigw_var_model:
        s = t ? t->slug : ctx->model;
        break;

    case ngx_http_aigw_var_requested_model:
        s = ctx->model;
        break;

    case ngx_http_aigw_var_provider:
        if (t) {
            s = t->provider->name;
        }

        break;

    case ngx_http_aigw_var_provider_model:
        if (t) {
            s = t->id;
        }

        break;

    case ngx_http_aigw_var_surface:
        if (ctx->client) {
            s = ctx->client->name;
        }

        break;

    case ngx_http_aigw_var_stream:
        ngx_str_set(&s, "0");

        if (ctx->stream) {
            ngx_str_set(&s, "1");
        }

        break;

    case ngx_http_aigw_var_attempts:
        ngx_http_aigw_attempts_text(ctx, &s, r->pool);
        break;

    case ngx_http_aigw_var_attempt_count:
        n = ctx->attempts.nelts;
        break;

    case ngx_http_aigw_var_input_tokens:
        n = ctx->usage.input;
        break;

    case ngx_http_aigw_var_output_tokens:
        n = ctx->usage.output;
        break;

    case ngx_http_aigw_var_cached_tokens:
        n = ctx->usage.cache_read;
        break;

    case ngx_http_aigw_var_cache_write_tokens:
        n = ctx->usage.cache_write;
        break;

    case ngx_http_aigw_var_reasoning_tokens:
        n = ctx->usage.reasoning;
        break;

    case ngx_http_aigw_var_usage_source:
        if (ctx->estimated) {
            ngx_str_set(&s, "estimated");

        } else if (ctx->usage.seen) {
            ngx_str_set(&s, "provider");

        } else {
            ngx_str_set(&s, "none");
        }

        break;

    case ngx_http_aigw_var_cost:
        if (t == NULL || !t->model->priced) {
            break;
        }

        cost = ngx_http_aigw_cost(ctx, t->model);

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 8);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%L.%06L", cost / 1000000, cost % 1000000) - p;
        break;

    case ngx_http_aigw_var_ttft:
        if (ctx->first_byte) {
            n = ctx->first_byte - ctx->start;
        }

        break;

    case ngx_http_aigw_var_user:
        s = ctx->user;
        break;
    }

    if (n >= 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%L", n) - p;
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
