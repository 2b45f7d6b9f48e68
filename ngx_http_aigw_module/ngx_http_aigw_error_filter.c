
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * A filter that rewrites the error pages nginx makes itself for aigw
 * locations (413 from client_max_body_size, 502/504 when every provider
 * failed, ...) into JSON in the client surface's error shape, instead of
 * its HTML pages.
 */


typedef struct {
    ngx_chain_t                *body;
} ngx_http_aigw_filter_ctx_t;


static ngx_int_t ngx_http_aigw_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_aigw_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_uint_t ngx_http_aigw_none_available(ngx_http_aigw_ctx_t *ctx);


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


/* every attempt was skipped without trying: 503, not 502 */

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
            || (a[i].failure != ngx_http_aigw_failure_down
                && a[i].failure != ngx_http_aigw_failure_unresolved
                && a[i].failure != ngx_http_aigw_failure_no_key))
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
