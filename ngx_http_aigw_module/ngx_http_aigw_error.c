
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Gateway-made responses are JSON in the client surface's error shape.
 * The module writes its own errors; the filter below rewrites the ones
 * nginx makes itself for aigw locations (413 from client_max_body_size,
 * 502/504 when every provider failed, ...) instead of its HTML pages.
 */


typedef struct {
    ngx_chain_t                *body;
} ngx_http_aigw_filter_ctx_t;


static ngx_int_t ngx_http_aigw_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_aigw_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_uint_t ngx_http_aigw_none_available(ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_error_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_error_t *err, ngx_chain_t **out,
    size_t *len);


static ngx_http_module_t  ngx_http_aigw_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_aigw_filter_init,             /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_filter_module_ctx,      /* module context */
    NULL,                                  /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_aigw_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_aigw_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_aigw_body_filter;

    return NGX_OK;
}


/* the API a request speaks, for errors made before it was parsed */

const ngx_http_aigw_format_t *
ngx_http_aigw_surface(ngx_http_request_t *r)
{
    u_char               *p, *last;
    ngx_uint_t            i;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx && ctx->client) {
        return ctx->client;
    }

    p = r->uri.data;
    last = p + r->uri.len;

    while (last > p && last[-1] == '/') {
        last--;
    }

    if ((last - p >= 9 && ngx_strncmp(last - 9, "/messages", 9) == 0)
        || (last - p >= 22
            && ngx_strncmp(last - 22, "/messages/count_tokens", 22) == 0))
    {
        return &ngx_http_aigw_anthropic_format;
    }

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

        if (h[i].key.len == 17
            && ngx_strncasecmp(h[i].key.data,
                               (u_char *) "anthropic-version", 17) == 0)
        {
            return &ngx_http_aigw_anthropic_format;
        }
    }

    return &ngx_http_aigw_openai_format;
}


void
ngx_http_aigw_error_type(ngx_uint_t status, ngx_str_t *type)
{
    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
        ngx_str_set(type, "authentication_error");
        break;

    case 402:
        ngx_str_set(type, "billing_error");
        break;

    case NGX_HTTP_FORBIDDEN:
        ngx_str_set(type, "permission_error");
        break;

    case NGX_HTTP_NOT_FOUND:
        ngx_str_set(type, "not_found_error");
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_str_set(type, "request_too_large");
        break;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        ngx_str_set(type, "rate_limit_error");
        break;

    case 529:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        ngx_str_set(type, "overloaded_error");
        break;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        ngx_str_set(type, "timeout_error");
        break;

    default:
        if (status >= 500) {
            ngx_str_set(type, "api_error");

        } else {
            ngx_str_set(type, "invalid_request_error");
        }
    }
}


ngx_int_t
ngx_http_aigw_send(ngx_http_request_t *r, ngx_uint_t status, const char *type,
    ngx_chain_t *body, off_t len)
{
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || body == NULL) {
        if (body == NULL && !r->header_only && rc == NGX_OK) {
            return ngx_http_send_special(r, NGX_HTTP_LAST);
        }

        return rc;
    }

    for (cl = body; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = (r == r->main);
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, body);
}


/*
 * Sends a gateway error in the client's shape; the message is printf-like
 * plain text.  Returns what ngx_http_finalize_request() expects.
 */

ngx_int_t
ngx_http_aigw_send_error(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_uint_t status, const char *type, const char *fmt, ...)
{
    ngx_int_t               rc;
    va_list                 args;
    ngx_http_aigw_error_t   err;

    ngx_memzero(&err, sizeof(ngx_http_aigw_error_t));

    err.status = status;

    if (type) {
        err.type.data = (u_char *) type;
        err.type.len = ngx_strlen(type);

    } else {
        ngx_http_aigw_error_type(status, &err.type);
    }

    va_start(args, fmt);
    rc = ngx_http_aigw_json_vmessage(r->pool, &err.message, fmt, args);
    va_end(args);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_NOT_FOUND && type && ngx_strcmp(type,
                                                   "model_not_found") == 0)
    {
        ngx_str_set(&err.type, "not_found_error");
        ngx_str_set(&err.code, "model_not_found");
        ngx_str_set(&err.param, "model");
    }

    return ngx_http_aigw_send_err(r, ctx, &err);
}


/*
 * A 400 for the client, printf-like: kept in ctx->error for the handler to
 * send; returns NGX_DECLINED (NGX_ERROR when out of memory).
 */

ngx_int_t
ngx_http_aigw_reject(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    ngx_memzero(&ctx->error, sizeof(ngx_http_aigw_error_t));
    ctx->error.status = NGX_HTTP_BAD_REQUEST;

    va_start(args, fmt);
    rc = ngx_http_aigw_json_vmessage(r->pool, &ctx->error.message, fmt, args);
    va_end(args);

    return (rc == NGX_OK) ? NGX_DECLINED : NGX_ERROR;
}


/* sends an error whose message is already escaped JSON text */

ngx_int_t
ngx_http_aigw_send_err(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_error_t *err)
{
    size_t        len;
    ngx_chain_t  *out;

    if (err->type.len == 0) {
        ngx_http_aigw_error_type(err->status, &err->type);
    }

    if (ngx_http_aigw_error_body(r, ctx, err, &out, &len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx) {
        ctx->gateway_error = 1;
        ctx->error = *err;
    }

    return ngx_http_aigw_send_json(r, err->status, out, len);
}


static ngx_int_t
ngx_http_aigw_error_body(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_error_t *err, ngx_chain_t **out, size_t *len)
{
    ngx_http_aigw_jw_t             w;
    const ngx_http_aigw_format_t  *f;

    f = (ctx && ctx->client) ? ctx->client : ngx_http_aigw_surface(r);

    ngx_http_aigw_jw_init(&w, r->pool, 512);

    f->write_error(&w, err);

    ngx_http_aigw_jw_lit(&w, "\n");

    *out = ngx_http_aigw_jw_finish(&w);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    *len = w.size;

    return NGX_OK;
}


/* "openai:503, anthropic:timeout" */

void
ngx_http_aigw_attempts_text(ngx_http_aigw_ctx_t *ctx, ngx_str_t *out,
    ngx_pool_t *pool)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_aigw_attempt_t  *a;

    ngx_str_null(out);

    if (ctx == NULL || ctx->attempts.nelts == 0) {
        return;
    }

    a = ctx->attempts.elts;
    len = 0;

    for (i = 0; i < ctx->attempts.nelts; i++) {
        len += a[i].target->provider->name.len + 1 + NGX_INT_T_LEN + 2
               + a[i].failure.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return;
    }

    out->data = p;

    for (i = 0; i < ctx->attempts.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, a[i].target->provider->name.data,
                       a[i].target->provider->name.len);
        *p++ = ':';

        if (a[i].status) {
            p = ngx_sprintf(p, "%ui", a[i].status);

        } else if (a[i].failure.len) {
            p = ngx_cpymem(p, a[i].failure.data, a[i].failure.len);

        } else {
            *p++ = '-';
        }
    }

    out->len = p - out->data;
}


/* every attempt was skipped: down, unresolved or without a key */

static ngx_uint_t
ngx_http_aigw_none_available(ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t                i;
    ngx_http_aigw_attempt_t  *a;

    if (ctx == NULL || ctx->attempts.nelts == 0) {
        return 0;
    }

    a = ctx->attempts.elts;

    for (i = 0; i < ctx->attempts.nelts; i++) {
        if (a[i].status != 0
            || !((a[i].failure.len == 4
                  && ngx_strncmp(a[i].failure.data, "down", 4) == 0)
                 || (a[i].failure.len == 10
                     && ngx_strncmp(a[i].failure.data, "unresolved", 10)
                        == 0)
                 || (a[i].failure.len == 6
                     && ngx_strncmp(a[i].failure.data, "no key", 6) == 0)))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_aigw_header_filter(ngx_http_request_t *r)
{
    size_t                       len;
    ngx_str_t                    attempts;
    ngx_uint_t                   status;
    ngx_http_aigw_ctx_t         *ctx;
    ngx_http_aigw_jw_t           w;
    ngx_http_aigw_error_t        err;
    ngx_http_aigw_loc_conf_t    *alcf;
    ngx_http_aigw_filter_ctx_t  *fctx;

    status = r->err_status;

    if (r != r->main || status < NGX_HTTP_BAD_REQUEST
        || status == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        return ngx_http_next_header_filter(r);
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if (alcf == NULL || !alcf->pass) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (status == NGX_HTTP_BAD_GATEWAY && ngx_http_aigw_none_available(ctx)) {

        /* no provider could even be tried: 503, not 502 */

        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        r->err_status = status;
        r->headers_out.status = status;
    }

    ngx_memzero(&err, sizeof(ngx_http_aigw_error_t));
    err.status = status;
    ngx_http_aigw_error_type(status, &err.type);

    ngx_http_aigw_attempts_text(ctx, &attempts, r->pool);

    ngx_http_aigw_jw_init(&w, r->pool, 512);

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_http_aigw_jw_lit(&w, "request body is too large: the limit is "
                             "set by client_max_body_size");
        break;

    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:
        if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
            ngx_http_aigw_jw_lit(&w, "the provider timed out");

        } else if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
            ngx_http_aigw_jw_lit(&w, "no provider is available");

        } else {
            ngx_http_aigw_jw_lit(&w, "no provider could answer");
        }

        if (attempts.len) {
            ngx_http_aigw_jw_lit(&w, " (attempts: ");
            ngx_http_aigw_jw_escape(&w, attempts.data, attempts.len);
            ngx_http_aigw_jw_lit(&w, ")");
        }

        /* the attempt chain, as on the answers of providers */

        if (attempts.len && alcf->expose_headers
            && ngx_http_aigw_add_header(r, "X-AIGW-Attempts", &attempts)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ctx && ctx->error.message.len) {
            ngx_http_aigw_jw_lit(&w, "; last error: ");
            ngx_http_aigw_jw_str(&w, &ctx->error.message);
        }

        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        ngx_http_aigw_jw_lit(&w, "the client took too long to send the "
                             "request");
        break;

    case NGX_HTTP_BAD_REQUEST:

        /* nginx itself could not read the body */

        ngx_http_aigw_jw_lit(&w, "the request body could not be read: "
                             "invalid chunked encoding or length");
        break;

    default:
        ngx_http_aigw_jw_lit(&w, "the request could not be processed "
                             "(HTTP ");
        ngx_http_aigw_jw_int(&w, status);
        ngx_http_aigw_jw_lit(&w, ")");
        break;
    }

    if (ngx_http_aigw_jw_flatten(&w, &err.message) != NGX_OK) {
        return NGX_ERROR;
    }

    fctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_filter_ctx_t));
    if (fctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_error_body(r, ctx, &err, &fctx->body, &len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(r, fctx, ngx_http_aigw_filter_module);

    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_aigw_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                 *cl, *last;
    ngx_http_aigw_ctx_t         *ctx;
    ngx_http_aigw_filter_ctx_t  *fctx;

    fctx = ngx_http_get_module_ctx(r, ngx_http_aigw_filter_module);

    if (fctx == NULL) {

        /*
         * a stream that sent its last buffer with its last events: the
         * empty one of the upstream finalization would end it twice
         */

        if (in && in->next == NULL && in->buf->last_buf
            && ngx_buf_special(in->buf))
        {
            ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

            if (ctx && ctx->last_sent) {
                return NGX_OK;
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->last_buf && fctx->body) {
            for (last = fctx->body; last->next; last = last->next) {
                /* void */
            }

            last->buf->last_buf = 1;

            in = fctx->body;
            fctx->body = NULL;

            return ngx_http_next_body_filter(r, in);
        }
    }

    return NGX_OK;
}
