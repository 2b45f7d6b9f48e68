
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Gateway-made responses are JSON in the client surface's error shape.
 * The module writes its own errors here; ngx_http_aigw_error_filter.c
 * rewrites the ones nginx makes itself.
 */


/* the API a request speaks, for errors made before it was parsed */

const ngx_http_aigw_format_t *
ngx_http_aigw_surface(ngx_http_request_t *r)
{
    ngx_str_t                      id;
    ngx_uint_t                     endpoint;
    ngx_http_aigw_ctx_t           *ctx;
    const ngx_http_aigw_format_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx && ctx->client) {
        return ctx->client;
    }

    (void) ngx_http_aigw_classify(r, &f, &endpoint, &id);

    return f;
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

    case NGX_HTTP_AIGW_OVERLOADED:
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
ngx_http_aigw_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_chain_t *body, off_t len)
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

    return ngx_http_aigw_send_error_record(r, ctx, &err);
}


/* sends an error whose message is already escaped JSON text */

ngx_int_t
ngx_http_aigw_send_error_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_error_t *err)
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


ngx_int_t
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
