
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/* a character of a word that may be a key (see mask_keys) */
#define ngx_http_aigw_key_char(c)                                            \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '_'               \
     || (c) == '+' || (c) == '/' || (c) == '=' || (c) == '*')


/*
 * ngx_http_upstream callbacks.  process_header parses the provider's
 * status line and headers and decides about failover; a non-streamed
 * body is read whole before anything reaches the client, so that it can
 * be translated, given an exact length, and retried on another provider
 * if it is broken.  A stream goes to the client as soon as its first byte
 * arrived, event by event, through the input filter.
 */


/* what a Content-Length reserves at most before the bytes come */
#define NGX_HTTP_AIGW_ACC_PREALLOC  (64 * 1024)


static ngx_int_t ngx_http_aigw_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_first_frame(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_buf_t *b, const char **what);
static ngx_int_t ngx_http_aigw_header_line(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_headers_done(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_invalid(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *what);
static ngx_uint_t ngx_http_aigw_retryable(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_status_mask(ngx_uint_t status);
static ngx_int_t ngx_http_aigw_credentials(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_auth_status(ngx_uint_t status);
static ngx_int_t ngx_http_aigw_mask_keys(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);
static ngx_int_t ngx_http_aigw_exhausted(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_read_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, u_char *p, u_char *last);
static ngx_int_t ngx_http_aigw_accumulate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, u_char *p, size_t len);
static ngx_int_t ngx_http_aigw_finish_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_out_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body);
static ngx_uint_t ngx_http_aigw_json_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_aigw_client_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_abort_request(ngx_http_request_t *r);
static void ngx_http_aigw_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_aigw_filter_init(void *data);
static ngx_int_t ngx_http_aigw_filter(void *data, ssize_t bytes);
static ngx_int_t ngx_http_aigw_feed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, u_char *p, u_char *last);
static ngx_int_t ngx_http_aigw_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev);
static ngx_int_t ngx_http_aigw_write_events(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_response_events(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp);
static void ngx_http_aigw_out_event(ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_out_handed(ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_first_byte(ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_stream_end(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t status, const char *message);


ngx_int_t
ngx_http_aigw_upstream_start(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_upstream_t       *u;
    ngx_http_aigw_loc_conf_t  *alcf;

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    u = r->upstream;

    ngx_str_set(&u->schema, "aigw://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_aigw_module;

    u->conf = &alcf->upstream;

    u->create_request = ngx_http_aigw_create_request;
    u->reinit_request = ngx_http_aigw_reinit_request;
    u->process_header = ngx_http_aigw_process_header;
    u->abort_request = ngx_http_aigw_abort_request;
    u->finalize_request = ngx_http_aigw_finalize_request;

    u->input_filter_init = ngx_http_aigw_filter_init;
    u->input_filter = ngx_http_aigw_filter;
    u->input_filter_ctx = r;

    u->buffering = 0;

    ctx->content_length = -1;
    ctx->rstate = ngx_http_aigw_rs_status;

    ngx_http_aigw_jw_init(&ctx->out, r->pool, 4096);
    ctx->out.tag = u->output.tag;
    ctx->out.free = &u->free_bufs;

    if (ngx_array_init(&ctx->events, r->pool, 8,
                       sizeof(ngx_http_aigw_event_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_aigw_cache_start(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_upstream_init(r);

    return NGX_OK;
}


/* the request is built per try by the balancer */

static ngx_int_t
ngx_http_aigw_create_request(ngx_http_request_t *r)
{
    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_reinit_request(ngx_http_request_t *r)
{
    return NGX_OK;
}


/*
 * The response state of the previous try, reset for the next one.  The
 * balancer calls it per try, not reinit_request: before 1.29.5 nginx does
 * not reinit when the previous try failed before sending.  Usage and the
 * parser state belong to the try that answers; the time to the first byte
 * runs from the start of the request, across the tries.
 */

void
ngx_http_aigw_response_reset(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ngx_memzero(&u->headers_in, sizeof(ngx_http_upstream_headers_in_t));
    u->headers_in.content_length_n = -1;
    u->headers_in.last_modified_time = -1;

    if (u->buffer.start) {
        u->buffer.pos = u->buffer.start;
        u->buffer.last = u->buffer.start;

        (void) ngx_list_init(&u->headers_in.headers, r->pool, 8,
                             sizeof(ngx_table_elt_t));
        (void) ngx_list_init(&u->headers_in.trailers, r->pool, 2,
                             sizeof(ngx_table_elt_t));
    }

    r->state = 0;
    u->keepalive = 0;

    ctx->rstate = ngx_http_aigw_rs_status;
    ctx->status = 0;
    ctx->content_length = -1;
    ngx_str_null(&ctx->content_type);
    ngx_str_null(&ctx->retry_after);
    ngx_str_null(&ctx->request_id);
    ctx->failure = ngx_http_aigw_failure_none;
    ngx_memzero(&ctx->status_line, sizeof(ngx_http_status_t));
    ngx_memzero(&ctx->chunked, sizeof(ngx_http_aigw_chunked_t));
    ctx->acc_len = 0;
    ctx->chunked_body = 0;
    ctx->close_delimited = 0;
    ctx->connection_close = 0;
    ctx->stopped = 0;

    ngx_memzero(&ctx->usage, sizeof(ngx_http_aigw_usage_t));
    ctx->pstate = NULL;
}


/*
 * The first frame of a stream, for a framing that checks it before the
 * stream is committed: the body's bytes so far, out of their chunks if
 * chunked (a copy: the chunked parser decodes in place)
 */

static ngx_int_t
ngx_http_aigw_first_frame(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_buf_t *b, const char **what)
{
    u_char                         *copy, *data, *p, *last;
    size_t                          n;
    ngx_int_t                       rc;
    ngx_str_t                       chunk;
    ngx_http_aigw_chunked_t         ch;
    const ngx_http_aigw_framing_t  *fr;

    fr = ctx->target->provider->format->framing;

    if (!ctx->chunked_body) {
        return fr->first(b->pos, b->last, what);
    }

    n = b->last - b->pos;

    copy = ngx_pnalloc(r->pool, 2 * n);
    if (copy == NULL) {
        *what = "no memory";
        return NGX_ERROR;
    }

    ngx_memcpy(copy, b->pos, n);

    data = copy + n;
    p = copy;
    last = copy + n;
    n = 0;

    ngx_memzero(&ch, sizeof(ngx_http_aigw_chunked_t));

    for ( ;; ) {
        rc = ngx_http_aigw_chunked_parse(&ch, &p, last, &chunk);

        if (rc == NGX_OK) {
            ngx_memcpy(data + n, chunk.data, chunk.len);
            n += chunk.len;
            continue;
        }

        if (rc == NGX_ERROR) {
            *what = "an invalid chunked stream";
            return NGX_ERROR;
        }

        break;
    }

    return fr->first(data, data + n, what);
}


static ngx_int_t
ngx_http_aigw_process_header(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    const char                     *what;
    ngx_http_upstream_t            *u;
    ngx_http_aigw_ctx_t            *ctx;
    const ngx_http_aigw_framing_t  *fr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    u = r->upstream;
    b = &u->buffer;

    if (r->cached) {
        return ngx_http_aigw_cache_hit(r, ctx);
    }

    for ( ;; ) {

        switch (ctx->rstate) {

        case ngx_http_aigw_rs_status:

            rc = ngx_http_parse_status_line(r, b, &ctx->status_line);

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            if (rc == NGX_ERROR) {
                return ngx_http_aigw_invalid(r, ctx,
                                             "an invalid status line");
            }

            ctx->status = ctx->status_line.code;
            ctx->rstate = ngx_http_aigw_rs_headers;

            /* nginx's parser takes any three digits */

            if (ctx->status < 100 || ctx->status > 599) {
                return ngx_http_aigw_invalid(r, ctx,
                                             "an invalid status code");
            }

            /* an HTTP/1.0 server closes the connection after it */

            if (ctx->status_line.http_version < NGX_HTTP_VERSION_11) {
                ctx->connection_close = 1;
            }
            break;

        case ngx_http_aigw_rs_headers:

            rc = ngx_http_parse_header_line(r, b, 1);

            if (rc == NGX_OK) {
                rc = ngx_http_aigw_header_line(r, ctx);
                if (rc != NGX_OK) {
                    return rc;
                }

                break;
            }

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            if (rc != NGX_HTTP_PARSE_HEADER_DONE) {
                return ngx_http_aigw_invalid(r, ctx, "an invalid header");
            }

            /* 1xx: another status line follows */

            if (ctx->status >= 100 && ctx->status < 200) {

                /* the parser adds digits to a code it is given */

                ngx_memzero(&ctx->status_line, sizeof(ngx_http_status_t));

                r->state = 0;
                ctx->rstate = ngx_http_aigw_rs_status;
                ctx->content_length = -1;
                ctx->chunked_body = 0;
                break;
            }

            rc = ngx_http_aigw_headers_done(r, ctx);
            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case ngx_http_aigw_rs_first_byte:

            /*
             * a stream is committed when its first byte arrived, or,
             * in a framing that checks it, its first whole frame
             */

            if (b->pos == b->last) {
                return NGX_AGAIN;
            }

            fr = ctx->target->provider->format->framing;

            if (fr->first) {
                rc = ngx_http_aigw_first_frame(r, ctx, b, &what);

                if (rc == NGX_AGAIN) {
                    return NGX_AGAIN;
                }

                if (rc == NGX_ERROR) {
                    return ngx_http_aigw_invalid(r, ctx, what);
                }
            }

            return ngx_http_aigw_client_headers(r, ctx);

        case ngx_http_aigw_rs_body:

            if (u->peer.connection) {
                ngx_add_timer(u->peer.connection->read, u->conf->read_timeout);
            }

            rc = ngx_http_aigw_read_body(r, ctx, b->pos, b->last);

            b->pos = b->start;
            b->last = b->start;

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            if (rc != NGX_OK) {
                return rc;
            }

            rc = ngx_http_aigw_finish_body(r, ctx);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_aigw_client_headers(r, ctx);

        default:
            return NGX_ERROR;
        }
    }
}


static ngx_int_t
ngx_http_aigw_header_line(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    size_t      len;
    ngx_int_t   ms;
    ngx_str_t   name, value;

    name.data = r->header_name_start;
    name.len = r->header_name_end - r->header_name_start;
    value.data = r->header_start;
    value.len = r->header_end - r->header_start;

    len = name.len;

#define ngx_http_aigw_hdr(s)                                                 \
    (len == sizeof(s) - 1 && ngx_strncasecmp(name.data, (u_char *) s, len) == 0)

    if (ngx_http_aigw_hdr("content-length")) {
        ctx->content_length = ngx_atoof(value.data, value.len);

        if (ctx->content_length == NGX_ERROR) {
            return ngx_http_aigw_invalid(r, ctx, "an invalid Content-Length");
        }

    } else if (ngx_http_aigw_hdr("transfer-encoding")) {
        if (value.len == 7
            && ngx_strncasecmp(value.data, (u_char *) "chunked", 7) == 0)
        {
            ctx->chunked_body = 1;

        } else {
            return ngx_http_aigw_invalid(r, ctx,
                                         "an unsupported Transfer-Encoding");
        }

    } else if (ngx_http_aigw_hdr("content-type")) {
        ctx->content_type.data = ngx_pstrdup(r->pool, &value);
        if (ctx->content_type.data == NULL) {
            return NGX_ERROR;
        }

        ctx->content_type.len = value.len;

    } else if (ngx_http_aigw_hdr("content-encoding")) {
        if (!(value.len == 8
              && ngx_strncasecmp(value.data, (u_char *) "identity", 8) == 0))
        {
            return ngx_http_aigw_invalid(r, ctx,
                                         "a compressed body "
                                         "(Content-Encoding)");
        }

    } else if (ngx_http_aigw_hdr("retry-after")
               || (ngx_http_aigw_hdr("retry-after-ms")
                   && ctx->retry_after.len == 0))
    {
        /* OpenAI's retry-after-ms, in whole seconds, rounded up */

        if (len == sizeof("retry-after-ms") - 1) {
            ms = ngx_atoi(value.data, value.len);

            if (ms == NGX_ERROR) {
                return NGX_OK;
            }

            value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
            if (value.data == NULL) {
                return NGX_ERROR;
            }

            /* not (ms + 999) / 1000: ms may be NGX_MAX_INT_T_VALUE */

            value.len = ngx_sprintf(value.data, "%i",
                                    ms / 1000 + (ms % 1000 != 0))
                        - value.data;
        }

        ctx->retry_after.data = ngx_pstrdup(r->pool, &value);
        if (ctx->retry_after.data == NULL) {
            return NGX_ERROR;
        }

        ctx->retry_after.len = value.len;

    } else if (ngx_http_aigw_hdr("x-request-id")
               || ngx_http_aigw_hdr("request-id"))
    {
        ctx->request_id.data = ngx_pstrdup(r->pool, &value);
        if (ctx->request_id.data == NULL) {
            return NGX_ERROR;
        }

        ctx->request_id.len = value.len;

    } else if (ngx_http_aigw_hdr("connection")) {
        if (ngx_strlcasestrn(value.data, value.data + value.len,
                             (u_char *) "close", 5 - 1))
        {
            ctx->connection_close = 1;
        }
    }

#undef ngx_http_aigw_hdr

    return NGX_OK;
}


/*
 * The status and headers are complete: fail over, commit a stream, or go
 * on reading a body.  NGX_DECLINED continues the state machine.
 */

static ngx_int_t
ngx_http_aigw_headers_done(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    const ngx_str_t                *ct;
    ngx_http_upstream_t            *u;
    ngx_http_aigw_provider_t       *p;
    ngx_http_aigw_loc_conf_t       *alcf;
    const ngx_http_aigw_framing_t  *fr;

    u = r->upstream;
    p = ctx->target->provider;
    fr = p->format->framing;

    if (ctx->chunked_body) {
        ctx->content_length = -1;
    }

    if (ngx_http_aigw_retryable(r, ctx)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" returned %ui, trying the next "
                      "provider", &p->name, ctx->status);

        /* the status is the outcome of this try (see balancer free) */

        ctx->rstate = ngx_http_aigw_rs_done;

        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (ctx->status >= 500 && ngx_http_aigw_cache_stale_error(r)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" returned %ui, the stale "
                      "cached answer is sent", &p->name, ctx->status);

        /* nginx sends it when no try is left (stale-if-error) */

        ctx->rstate = ngx_http_aigw_rs_done;

        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    u->headers_in.status_n = ctx->status;

    /*
     * the body of this try gets its own buffer, which it may free as it
     * grows: what an earlier try read may still be referred to
     */

    ctx->acc = NULL;
    ctx->acc_cap = 0;

    /* no body, whatever the headers say: not one read until a timeout */

    if (ctx->status == NGX_HTTP_NO_CONTENT
        || ctx->status == NGX_HTTP_NOT_MODIFIED)
    {
        ctx->content_length = 0;
        ctx->chunked_body = 0;
    }

    /*
     * a stream in the framing of the provider's format; an empty one
     * (Content-Length: 0) would wait for its first byte
     */

    ct = &fr->content_type;

    ctx->sse_body = (ctx->status >= 200 && ctx->status < 300 && ctx->stream
                     && ctx->content_length != 0
                     && ctx->content_type.len >= ct->len
                     && ngx_strncasecmp(ctx->content_type.data, ct->data,
                                        ct->len)
                        == 0);

    if (ctx->sse_body) {
        ctx->rstate = ngx_http_aigw_rs_first_byte;
        return NGX_DECLINED;
    }

    if (!ctx->chunked_body && ctx->content_length == -1
        && ctx->status != NGX_HTTP_NO_CONTENT
        && ctx->status != NGX_HTTP_NOT_MODIFIED)
    {
        /* rare: a body ended by the connection close, read in the filter */

        ctx->close_delimited = 1;
        ctx->rstate = ngx_http_aigw_rs_done;

        if (ngx_http_aigw_auth_status(ctx->status)) {
            ctx->error.status = NGX_HTTP_BAD_GATEWAY;
        }

        return ngx_http_aigw_client_headers(r, ctx);
    }

    if (ctx->content_length > 0) {
        alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

        if ((size_t) ctx->content_length > alcf->max_response_size) {
            return ngx_http_aigw_invalid(r, ctx, "a response over "
                                         "aigw_max_response_size");
        }

        /*
         * not all of it ahead of the bytes: the buffer grows as they
         * come, up to the length, so a provider that announces more than
         * it sends costs what it sent
         */

        ctx->acc_cap = ngx_min((size_t) ctx->content_length,
                               NGX_HTTP_AIGW_ACC_PREALLOC);
        ctx->acc = ngx_pnalloc(r->pool, ctx->acc_cap);
        if (ctx->acc == NULL) {
            return NGX_ERROR;
        }
    }

    ctx->rstate = ngx_http_aigw_rs_body;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_aigw_invalid(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    const char *what)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: provider \"%V\" sent %s",
                  &ctx->target->provider->name, what);

    ctx->failure = ngx_http_aigw_failure_invalid;
    ctx->status = 0;

    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}


/* a status that moves to the next provider, if there is one to move to */

static ngx_uint_t
ngx_http_aigw_retryable(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t                 i, mask;
    ngx_msec_t                 timeout;
    ngx_http_upstream_t       *u;
    ngx_http_aigw_target_t    *t;
    ngx_http_aigw_loc_conf_t  *alcf;

    mask = ngx_http_aigw_status_mask(ctx->status);

    if (mask == 0) {
        return 0;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);
    u = r->upstream;

    if (!(alcf->next & mask) || u->peer.tries <= 1) {
        return 0;
    }

    timeout = u->conf->next_upstream_timeout;

    if (timeout && ngx_current_msec - u->peer.start_time >= timeout) {
        return 0;
    }

    t = ctx->plan.elts;

    for (i = ctx->cur + 1; i < ctx->plan.nelts; i++) {
        if (!t[i].done) {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_aigw_status_mask(ngx_uint_t status)
{
    switch (status) {
    case 429: return NGX_HTTP_AIGW_NEXT_429;
    case 500: return NGX_HTTP_AIGW_NEXT_500;
    case 502: return NGX_HTTP_AIGW_NEXT_502;
    case 503: return NGX_HTTP_AIGW_NEXT_503;
    case 504: return NGX_HTTP_AIGW_NEXT_504;
    case NGX_HTTP_AIGW_OVERLOADED: return NGX_HTTP_AIGW_NEXT_529;
    case NGX_HTTP_UNAUTHORIZED: return NGX_HTTP_AIGW_NEXT_401;
    case NGX_HTTP_FORBIDDEN: return NGX_HTTP_AIGW_NEXT_403;
    default: return 0;
    }
}


/*
 * The last try failed with a status that fails over, but nothing is left
 * to fail over to (no target, or the try or time budget is spent).  After
 * more than one attempt the client gets the gateway's error naming every
 * attempt, the provider's message last; 500 becomes 502 and 529 becomes
 * 503.  NGX_DECLINED: the provider's error goes to the client as it is.
 */

static ngx_int_t
ngx_http_aigw_exhausted(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t                  attempts;
    ngx_http_aigw_jw_t         w;
    ngx_http_aigw_attempt_t   *a;
    ngx_http_aigw_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if (ctx->attempts.nelts < 2
        || !(alcf->next & ngx_http_aigw_status_mask(ctx->status)))
    {
        return NGX_DECLINED;
    }

    a = ctx->attempts.elts;
    a[ctx->attempts.nelts - 1].status = ctx->status;

    ngx_http_aigw_attempts_text(ctx, &attempts, r->pool);

    ngx_http_aigw_jw_init(&w, r->pool, 256);

    ngx_http_aigw_jw_lit(&w, "no provider could answer (attempts: ");
    ngx_http_aigw_jw_escape(&w, attempts.data, attempts.len);
    ngx_http_aigw_jw_lit(&w, ")");

    if (ctx->error.message.len) {
        ngx_http_aigw_jw_lit(&w, "; last error: ");
        ngx_http_aigw_jw_str(&w, &ctx->error.message);
    }

    if (ngx_http_aigw_jw_flatten(&w, &ctx->error.message) != NGX_OK) {
        return NGX_ERROR;
    }

    switch (ctx->status) {
    case 401:
    case 403:
    case 500:
        ctx->error.status = NGX_HTTP_BAD_GATEWAY;
        break;
    case NGX_HTTP_AIGW_OVERLOADED:
        ctx->error.status = NGX_HTTP_SERVICE_UNAVAILABLE;
        break;
    default:
        ctx->error.status = ctx->status;
    }

    ngx_http_aigw_error_type(ctx->error.status, &ctx->error.type);
    ngx_str_null(&ctx->error.param);
    ngx_str_null(&ctx->error.code);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: no provider could answer (attempts: %V)",
                  &attempts);

    return NGX_OK;
}


/*
 * A provider's 401 or 403 is about the gateway's own key, and its message
 * may quote part of it: the client gets the gateway's error (502), the
 * message goes to the error log with key-like words masked.
 */

static ngx_int_t
ngx_http_aigw_credentials(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t                  masked;
    ngx_http_aigw_provider_t  *p;

    p = ctx->target->provider;

    if (ngx_http_aigw_mask_keys(r->pool, &ctx->error.message, &masked)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: provider \"%V\" rejected the gateway's credentials "
                  "(%ui): %V", &p->name, ctx->status, &masked);

    ngx_memzero(&ctx->error, sizeof(ngx_http_aigw_error_t));
    ctx->error.status = NGX_HTTP_BAD_GATEWAY;
    ngx_http_aigw_error_type(ctx->error.status, &ctx->error.type);

    return ngx_http_aigw_json_message(r->pool, &ctx->error.message,
                                      "provider \"%V\": credentials "
                                      "rejected (%ui)", &p->name,
                                      ctx->status);
}


static ngx_uint_t
ngx_http_aigw_auth_status(ngx_uint_t status)
{
    return status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN;
}


/*
 * A copy of a message with every key-like word cut to its first four
 * characters and "***": a word (letters, digits, "-_+/=*") that starts
 * with "sk-", "sk_" or "key-", or that is 20 characters or longer and has
 * a digit or a "*" in it.
 */

static ngx_int_t
ngx_http_aigw_mask_keys(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    u_char      *p, *q, *last, *d;
    ngx_uint_t   key, len;

    d = ngx_pnalloc(pool, in->len * 2 + 1);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;

    p = in->data;
    last = p + in->len;

    while (p < last) {

        if (!ngx_http_aigw_key_char(*p)) {
            *d++ = *p++;
            continue;
        }

        for (q = p, key = 0; q < last && ngx_http_aigw_key_char(*q); q++) {
            key |= (*q >= '0' && *q <= '9') || *q == '*';
        }

        len = q - p;

        if ((len >= 20 && key)
            || (len > 4
                && (ngx_strncmp(p, "sk-", 3) == 0
                    || ngx_strncmp(p, "sk_", 3) == 0
                    || ngx_strncmp(p, "key-", 4) == 0)))
        {
            d = ngx_cpymem(d, p, 4);
            d = ngx_cpymem(d, "***", 3);

        } else {
            d = ngx_cpymem(d, p, len);
        }

        p = q;
    }

    out->len = d - out->data;

    return NGX_OK;
}


/* de-chunks (when needed) and collects a non-streamed body */

static ngx_int_t
ngx_http_aigw_read_body(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    u_char *p, u_char *last)
{
    size_t     n;
    ngx_int_t  rc;
    ngx_str_t  data;

    if (ctx->chunked_body) {

        for ( ;; ) {
            rc = ngx_http_aigw_chunked_parse(&ctx->chunked, &p, last, &data);

            if (rc == NGX_OK) {
                if (ngx_http_aigw_accumulate(r, ctx, data.data, data.len)
                    != NGX_OK)
                {
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

                continue;
            }

            if (rc == NGX_DONE) {
                if (p != last) {
                    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                                  "aigw: provider sent data after the "
                                  "chunked body");
                    ctx->connection_close = 1;
                }

                return NGX_OK;
            }

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            return ngx_http_aigw_invalid(r, ctx, "an invalid chunked body");
        }
    }

    n = last - p;

    if (ctx->content_length >= 0
        && (off_t) (ctx->acc_len + n) > ctx->content_length)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider sent more data than its "
                      "Content-Length");
        n = (size_t) (ctx->content_length - ctx->acc_len);
        ctx->connection_close = 1;
    }

    if (n && ngx_http_aigw_accumulate(r, ctx, p, n) != NGX_OK) {
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if ((off_t) ctx->acc_len == ctx->content_length) {
        return NGX_OK;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_aigw_accumulate(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    u_char *p, size_t len)
{
    u_char                    *n;
    size_t                     cap;
    ngx_http_aigw_loc_conf_t  *alcf;

    if (ctx->acc_len + len > ctx->acc_cap) {
        alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

        if (ctx->acc_len + len > alcf->max_response_size) {
            (void) ngx_http_aigw_invalid(r, ctx, "a response over "
                                         "aigw_max_response_size");
            return NGX_ERROR;
        }

        cap = ngx_max(ctx->acc_cap * 2, 8192);

        while (cap < ctx->acc_len + len) {
            cap *= 2;
        }

        /* never past the announced length, nor the limit */

        if (ctx->content_length > 0
            && (size_t) ctx->content_length >= ctx->acc_len + len)
        {
            cap = ngx_min(cap, (size_t) ctx->content_length);
        }

        cap = ngx_min(cap, alcf->max_response_size);

        n = ngx_pnalloc(r->pool, cap);
        if (n == NULL) {
            return NGX_ERROR;
        }

        if (ctx->acc_len) {
            ngx_memcpy(n, ctx->acc, ctx->acc_len);
        }

        if (ctx->acc_cap) {
            /* a large allocation is freed at once, a small one stays */
            (void) ngx_pfree(r->pool, ctx->acc);
        }

        ctx->acc = n;
        ctx->acc_cap = cap;
    }

    ngx_memcpy(ctx->acc + ctx->acc_len, p, len);
    ctx->acc_len += len;

    return NGX_OK;
}


/*
 * The whole body is in: parse it for usage, translate it when the
 * client speaks another format, and stage it for the client.
 */

static ngx_int_t
ngx_http_aigw_finish_body(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_str_t                      body;
    ngx_uint_t                     auth;
    ngx_http_upstream_t           *u;
    ngx_http_aigw_response_t       resp;
    const ngx_http_aigw_format_t  *f;

    u = r->upstream;
    f = ngx_http_aigw_target_format(ctx, ctx->target->provider);

    body.data = ctx->acc;
    body.len = ctx->acc_len;

    u->keepalive = !ctx->connection_close && !ctx->close_delimited;
    ctx->rstate = ngx_http_aigw_rs_done;

    if (ctx->status >= 300) {

        /* a provider error, in the client's shape */

        ngx_memzero(&ctx->error, sizeof(ngx_http_aigw_error_t));
        ctx->error.status = ctx->status;

        f->parse_error(r, ctx, &body, &ctx->error);

        auth = ngx_http_aigw_auth_status(ctx->status);

        if (auth && ngx_http_aigw_credentials(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_http_aigw_exhausted(r, ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* an error page that is not JSON is rewritten, even in passthrough */

        if (rc == NGX_DECLINED && !auth
            && f == ctx->client && ngx_http_aigw_json_body(r, &body))
        {
            if (ngx_http_aigw_out_body(r, ctx, &body) != NGX_OK) {
                return NGX_ERROR;
            }

            goto done;
        }

        ctx->client->write_error(&ctx->out, &ctx->error);
        ngx_http_aigw_jw_lit(&ctx->out, "\n");
        goto done;
    }

    ngx_memzero(&resp, sizeof(ngx_http_aigw_response_t));

    if (ngx_array_init(&resp.parts, r->pool, 2, sizeof(ngx_http_aigw_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (f->parse_response(r, ctx, &body,
                          (ctx->translate || ctx->stream) ? &resp : NULL)
        != NGX_OK)
    {
        return ngx_http_aigw_invalid(r, ctx, "an invalid JSON response");
    }

    if (ctx->translate || ctx->stream) {
        ctx->finish = resp.stop;
    }

    if (ctx->stream) {

        /* the provider did not stream: the client gets events anyway */

        if (ngx_http_aigw_response_events(r, ctx, &resp) != NGX_OK) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (!ctx->translate) {

        /* the provider's bytes, unchanged and uncopied */

        if (ngx_http_aigw_out_body(r, ctx, &body) != NGX_OK) {
            return NGX_ERROR;
        }

        goto done;
    }

    if (ctx->client->write_response(r, ctx, &resp, &ctx->out) != NGX_OK) {
        return NGX_ERROR;
    }

done:

    if (ctx->out.error) {
        return NGX_ERROR;
    }

    u->headers_in.content_length_n = ctx->out.size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_out_body(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *body)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->start = b->pos;
    b->end = b->last;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;

    ctx->out.out = cl;
    ctx->out.last = &cl->next;
    ctx->out.buf = NULL;
    ctx->out.size = body->len;

    return NGX_OK;
}


/* whether a body is a JSON object, as an error passed through must be */

static ngx_uint_t
ngx_http_aigw_json_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_http_aigw_json_t  j;

    if (body->len == 0) {
        return 0;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = 1;

    return ngx_http_aigw_json_parse(&j, body->data, body->len) == NGX_OK
           && j.toks[0].type == ngx_http_aigw_json_object;
}


/* the client's status and headers, made by the gateway */

static ngx_int_t
ngx_http_aigw_client_headers(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t                  v, attempts;
    ngx_http_upstream_t       *u;
    ngx_http_aigw_attempt_t   *a;
    ngx_http_aigw_target_t    *t;
    ngx_http_aigw_loc_conf_t  *alcf;

    u = r->upstream;
    t = ctx->target;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if (ctx->status >= 300 && ctx->error.status == 0) {
        ctx->error.status = ctx->status;
    }

    /* an error's status may be the gateway's (see exhausted) */

    u->headers_in.status_n = (ctx->status >= 300) ? ctx->error.status
                                                  : ctx->status;

    if (ctx->rstate != ngx_http_aigw_rs_done || ctx->stream) {
        u->headers_in.content_length_n = -1;
    }

    if (ctx->stream && ctx->status < 300) {
        ctx->sse_out = 1;

        ngx_str_set(&r->headers_out.content_type, "text/event-stream");

        ngx_str_set(&v, "no-cache");
        if (ngx_http_aigw_add_header(r, "Cache-Control", &v) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_str_set(&v, "no");
        if (ngx_http_aigw_add_header(r, "X-Accel-Buffering", &v) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ctx->retry_after.len && ctx->status >= 400) {
        if (ngx_http_aigw_add_header(r, "Retry-After", &ctx->retry_after)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->request_id.len) {
        if (ngx_http_aigw_add_header(r, "X-AIGW-Upstream-Request-Id",
                                     &ctx->request_id)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (alcf->expose_headers) {
        if (ngx_http_aigw_add_header(r, "X-AIGW-Provider", &t->provider->name)
            != NGX_OK
            || ngx_http_aigw_add_header(r, "X-AIGW-Model", &t->slug) != NGX_OK)
        {
            return NGX_ERROR;
        }

        a = ctx->attempts.elts;
        a[ctx->attempts.nelts - 1].status = ctx->status;

        ngx_http_aigw_attempts_text(ctx, &attempts, r->pool);

        if (ngx_http_aigw_add_header(r, "X-AIGW-Attempts", &attempts)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_aigw_obs_headers(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->headers_out = 1;

    return ngx_http_aigw_cache_response(r, ctx);
}


static void
ngx_http_aigw_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: abort request");
}


/*
 * The upstream part ends.  A stream that broke after the client got its
 * first byte ends with an error event in the client's format.
 */

static void
ngx_http_aigw_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_aigw_ctx_t    *ctx;
    ngx_http_aigw_frame_t   frame;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: finalize request %i", rc);

    if (ctx == NULL || r->upstream == NULL || !r->upstream->header_sent
        || ctx->finished || r->connection->error)
    {
        return;
    }

    if (rc == 0 && ctx->close_delimited) {

        /*
         * a body that ended with the connection; a stream request gets it
         * as events (see finish_body), or an error event when it is broken
         */

        if (ngx_http_aigw_finish_body(r, ctx) == NGX_OK) {
            ctx->finished = 1;
            ngx_http_aigw_first_byte(ctx);
            (void) ngx_http_output_filter(r, ctx->out.out);
            ngx_http_aigw_out_handed(ctx);
            return;
        }

        if (!ctx->sse_out || ctx->finished) {
            return;
        }

        rc = NGX_HTTP_BAD_GATEWAY;
    }

    if (!ctx->sse_out) {
        return;
    }

    if (rc == 0) {

        /* a stream that ended with the connection, or without its end */

        if (ctx->frames
            && ctx->target->provider->format->framing->flush(ctx->frames,
                                                             &frame)
               == NGX_OK)
        {
            (void) ngx_http_aigw_event(r, ctx, &frame);
        }

        if (!ctx->finished) {
            (void) ngx_http_aigw_stream_end(r, ctx, 0, NULL);
        }

    } else {
        (void) ngx_http_aigw_stream_end(r, ctx,
                                        rc == NGX_HTTP_GATEWAY_TIME_OUT
                                        ? NGX_HTTP_GATEWAY_TIME_OUT
                                        : NGX_HTTP_BAD_GATEWAY,
                                        rc == NGX_HTTP_GATEWAY_TIME_OUT
                                        ? "the provider timed out in the "
                                          "middle of the stream"
                                        : "the provider's stream broke off");
    }

    if (ctx->out.out) {
        (void) ngx_http_output_filter(r, ctx->out.out);
        ngx_http_aigw_out_handed(ctx);
    }
}


static ngx_int_t
ngx_http_aigw_filter_init(void *data)
{
    ngx_http_request_t *r = data;

    ngx_int_t             rc;
    ngx_chain_t          *cl;
    ngx_http_upstream_t  *u;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    u = r->upstream;

    if (u->buffering) {

        /* an answer to store: nginx's pipe takes it from u->buffer */

        ngx_http_aigw_cache_pipe_init(r);
        ngx_http_aigw_first_byte(ctx);
        ctx->finished = 1;

        return NGX_OK;
    }

    if (ctx->rstate == ngx_http_aigw_rs_done && !ctx->close_delimited) {

        /* the whole response is ready */

        u->out_bufs = ctx->out.out;
        u->length = 0;

        ngx_http_aigw_first_byte(ctx);

        for (cl = u->out_bufs; cl; cl = cl->next) {
            cl->buf->flush = (cl->next == NULL);
        }

        ngx_http_aigw_out_handed(ctx);

        if (!ctx->stream) {
            ctx->finished = 1;
        }

        /*
         * sent now, while the header still waits in the write filter:
         * with no bytes left in u->buffer the upstream would flush the
         * header alone first, two writes and two packets per response
         */

        rc = ngx_http_output_filter(r, u->out_bufs);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_chain_update_chains(r->pool, &u->free_bufs, &u->busy_bufs,
                                &u->out_bufs, u->output.tag);

        return NGX_OK;
    }

    if (ctx->close_delimited) {
        u->length = -1;
        return NGX_OK;
    }

    /*
     * a stream: it ends with its last chunk, its length, or (-1) when the
     * provider closes the connection
     */

    if (ctx->chunked_body) {
        u->length = 1;

    } else {
        u->length = ctx->content_length;
    }

    ctx->frames = ctx->target->provider->format->framing->create(
                                             r->pool, NGX_HTTP_AIGW_MAX_EVENT);
    if (ctx->frames == NULL) {
        return NGX_ERROR;
    }

    ctx->ej.pool = r->pool;
    ctx->ej.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_filter(void *data, ssize_t bytes)
{
    ngx_http_request_t *r = data;

    u_char               *p, *last;
    ngx_int_t             rc;
    ngx_str_t             chunk;
    ngx_buf_t            *b;
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t  *u;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    u = r->upstream;
    b = &u->buffer;

    p = b->last;
    last = b->last + bytes;
    b->last = last;

    if (ctx->finished && !ctx->sse_out) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider sent data after the end of its "
                      "response");
        u->keepalive = 0;
        return NGX_OK;
    }

    if (ctx->close_delimited) {
        return ngx_http_aigw_accumulate(r, ctx, p, last - p);
    }

    if (ctx->chunked_body) {

        for ( ;; ) {
            rc = ngx_http_aigw_chunked_parse(&ctx->chunked, &p, last, &chunk);

            if (rc == NGX_OK) {
                if (ngx_http_aigw_feed(r, ctx, chunk.data,
                                       chunk.data + chunk.len)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                continue;
            }

            if (rc == NGX_DONE) {
                u->length = 0;
                u->keepalive = !ctx->connection_close && p == last;
                break;
            }

            if (rc == NGX_AGAIN) {
                break;
            }

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "aigw: provider \"%V\" sent an invalid chunked "
                          "stream", &ctx->target->provider->name);
            return NGX_ERROR;
        }

    } else {
        if (u->length > 0 && ctx->content_length >= 0) {
            if (last - p > u->length) {

                /* more than its Content-Length: the connection is not kept */

                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "aigw: provider sent more data than its "
                              "Content-Length");
                last = p + u->length;
                ctx->connection_close = 1;
            }

            u->length -= last - p;

            if (u->length == 0) {
                u->keepalive = !ctx->connection_close;
            }
        }

        if (ngx_http_aigw_feed(r, ctx, p, last) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (u->length == 0 && !ctx->finished) {
        if (ngx_http_aigw_stream_end(r, ctx, 0, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* hand the events written to the client */

    if (ctx->out.out) {
        for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
            ll = &cl->next;
        }

        *ll = ctx->out.out;

        if (u->length == 0 && ctx->sse_out) {

            /*
             * the stream is over: its end (the last chunk of a chunked
             * response) leaves with its last events, in the same write;
             * the filter module drops the empty last buffer that the
             * upstream finalization sends after it
             */

            for (cl = ctx->out.out; cl->next; cl = cl->next) {
                /* void */
            }

            cl->buf->last_buf = 1;
            ctx->last_sent = 1;
        }

        ngx_http_aigw_out_handed(ctx);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_feed(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    u_char *p, u_char *last)
{
    ngx_int_t                       rc;
    ngx_http_aigw_frame_t           frame;
    const ngx_http_aigw_framing_t  *fr;

    fr = ctx->target->provider->format->framing;

    while (p < last) {
        rc = fr->parse(ctx->frames, &p, last, &frame);

        if (rc == NGX_AGAIN) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "aigw: provider \"%V\" sent an invalid %V stream: "
                          "%s (limit %uz bytes)",
                          &ctx->target->provider->name, &fr->name,
                          frame.error, (size_t) NGX_HTTP_AIGW_MAX_EVENT);
            return NGX_ERROR;
        }

        if (ngx_http_aigw_event(r, ctx, &frame) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_event(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_sse_event_t *sev)
{
    ngx_int_t                      rc;
    const ngx_http_aigw_format_t  *f;

    if (ctx->finished) {
        return NGX_OK;
    }

    f = ngx_http_aigw_target_format(ctx, ctx->target->provider);

    ctx->events.nelts = 0;

    rc = f->parse_event(r, ctx, sev, &ctx->events);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (!ctx->translate) {

        if (rc != NGX_DECLINED && sev->raw.len) {

            /* the same format: the frame as it came, and its tail */

            ngx_http_aigw_jw_raw(&ctx->out, sev->raw.data, sev->raw.len);

            if (sev->tail.len) {
                ngx_http_aigw_jw_raw(&ctx->out, sev->tail.data,
                                     sev->tail.len);
            }

            ngx_http_aigw_out_event(ctx);
        }

    } else if (ngx_http_aigw_write_events(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        ctx->finished = 1;
    }

    if (sev->data.len && ctx->out.out) {
        ngx_http_aigw_first_byte(ctx);
    }

    return ctx->out.error ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_aigw_write_events(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t              i;
    ngx_http_aigw_event_t  *ev;

    ev = ctx->events.elts;

    for (i = 0; i < ctx->events.nelts; i++) {
        if (ev[i].type == 0) {
            continue;
        }

        if (ev[i].type == ngx_http_aigw_ev_finish) {
            ctx->stopped = 1;
            ctx->finish = ev[i].stop;
        }

        if (ctx->client->write_event(r, ctx, &ev[i], &ctx->out) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_out_event(ctx);
    }

    return NGX_OK;
}


/*
 * Every event is flushed.  The events parsed from one read share buffers:
 * they leave in one write anyway, and none waits for a later read.
 */

static void
ngx_http_aigw_out_event(ngx_http_aigw_ctx_t *ctx)
{
    if (ctx->out.buf) {
        ctx->out.buf->flush = 1;
    }
}


/* the client output written so far went out: a new chain starts */

static void
ngx_http_aigw_out_handed(ngx_http_aigw_ctx_t *ctx)
{
    ctx->out.out = NULL;
    ctx->out.last = &ctx->out.out;
    ctx->out.buf = NULL;
}


/*
 * The time to the first byte ($aigw_ttft_ms) runs from the start of the
 * request, across the tries, to the first of the body the client gets:
 * the whole body of a non-stream response, or the first event of a stream
 * that carries data (the client's header leaves earlier, with the
 * provider's; a comment line is not an event).
 */

static void
ngx_http_aigw_first_byte(ngx_http_aigw_ctx_t *ctx)
{
    if (ctx->first_byte == 0) {
        ctx->first_byte = ngx_current_msec;
    }
}


/* a complete response turned into stream events, for a stream request */

/*
 * A stored answer in the client's format, as the events of a stream in
 * that format (a stream request served from the cache)
 */

ngx_int_t
ngx_http_aigw_response_sse(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *body, ngx_chain_t **out)
{
    ngx_http_aigw_usage_t     usage;
    ngx_http_aigw_response_t  resp;

    ngx_memzero(&resp, sizeof(ngx_http_aigw_response_t));

    if (ngx_array_init(&resp.parts, r->pool, 2, sizeof(ngx_http_aigw_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    usage = ctx->usage;

    if (ctx->client->parse_response(r, ctx, body, &resp) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: cached answer is not valid");
        return NGX_ERROR;
    }

    ctx->usage = usage;
    ctx->translate = 1;

    if (ngx_http_aigw_response_events(r, ctx, &resp) != NGX_OK
        || ctx->out.error || ctx->out.out == NULL)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_first_byte(ctx);

    *out = ctx->out.out;
    ngx_http_aigw_out_handed(ctx);

    return NGX_OK;
}


/*
 * The reverse: a stream as the client got it, in its format, back to the
 * non-stream answer in that format (a stream that fills the cache).
 * NGX_DECLINED: the stream is not a complete one (no finish, an error
 * event, no end), which is never stored.
 */

typedef struct {
    ngx_http_aigw_jw_t              text;
    ngx_http_aigw_jw_t              input;
    ngx_http_aigw_jw_t              signature;
} ngx_http_aigw_assembly_t;


ngx_int_t
ngx_http_aigw_stream_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *sse, ngx_http_aigw_jw_t *w)
{
    void                           *frames, *pstate;
    u_char                         *p, *last;
    ngx_int_t                       rc, done, stopped;
    ngx_uint_t                      i, translate;
    ngx_array_t                     events, acc;
    ngx_http_aigw_json_t            ej, eu;
    ngx_http_aigw_part_t           *part;
    ngx_http_aigw_event_t          *ev;
    ngx_http_aigw_usage_t           usage;
    ngx_http_aigw_frame_t           frame;
    ngx_http_aigw_response_t        resp;
    ngx_http_aigw_target_t         *target;
    ngx_http_aigw_attempt_t        *at;
    ngx_http_aigw_assembly_t       *a;
    const ngx_http_aigw_format_t   *f;

    f = ctx->client;

    frames = f->framing->create(r->pool, NGX_HTTP_AIGW_MAX_EVENT);
    if (frames == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&resp, sizeof(ngx_http_aigw_response_t));

    if (ngx_array_init(&resp.parts, r->pool, 2, sizeof(ngx_http_aigw_part_t))
        != NGX_OK
        || ngx_array_init(&acc, r->pool, 2, sizeof(ngx_http_aigw_assembly_t))
           != NGX_OK
        || ngx_array_init(&events, r->pool, 8, sizeof(ngx_http_aigw_event_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * the client's format parsed as a provider's, with its own state; the
     * parser names the provider of the stream in its errors
     */

    target = ctx->target;

    if (target == NULL) {
        if (ctx->attempts.nelts == 0) {
            return NGX_DECLINED;
        }

        at = ctx->attempts.elts;
        ctx->target = at[ctx->attempts.nelts - 1].target;
    }

    pstate = ctx->pstate;
    translate = ctx->translate;
    usage = ctx->usage;
    ej = ctx->ej;
    eu = ctx->eu;

    ctx->pstate = NULL;
    ctx->translate = 1;
    ngx_memzero(&ctx->ej, sizeof(ngx_http_aigw_json_t));
    ngx_memzero(&ctx->eu, sizeof(ngx_http_aigw_json_t));
    ctx->ej.pool = r->pool;
    ctx->ej.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

    p = sse->data;
    last = p + sse->len;

    done = 0;
    stopped = 0;
    a = NULL;
    part = NULL;
    rc = NGX_OK;

    while (p < last && rc == NGX_OK && !done) {

        rc = f->framing->parse(frames, &p, last, &frame);

        if (rc == NGX_AGAIN) {
            rc = (f->framing->flush(frames, &frame) == NGX_OK) ? NGX_OK
                                                               : NGX_DECLINED;
            if (rc != NGX_OK) {
                break;
            }

        } else if (rc != NGX_OK) {
            rc = NGX_DECLINED;
            break;
        }

        events.nelts = 0;

        rc = f->parse_event(r, ctx, &frame, &events);

        if (rc == NGX_DONE) {
            done = 1;
            rc = NGX_OK;

        } else if (rc == NGX_DECLINED) {
            rc = NGX_OK;
        }

        ev = events.elts;

        for (i = 0; rc == NGX_OK && i < events.nelts; i++) {

            switch (ev[i].type) {

            case ngx_http_aigw_ev_start:
                resp.id = ev[i].id;
                resp.model = ev[i].name;
                break;

            case ngx_http_aigw_ev_block_start:
            case ngx_http_aigw_ev_delta:

                if (ev[i].type == ngx_http_aigw_ev_delta && part
                    && (ev[i].kind == part->type
                        || ev[i].kind == ngx_http_aigw_part_signature))
                {
                    goto delta;
                }

                part = ngx_array_push(&resp.parts);
                a = ngx_array_push(&acc);
                if (part == NULL || a == NULL) {
                    rc = NGX_ERROR;
                    break;
                }

                ngx_memzero(part, sizeof(ngx_http_aigw_part_t));
                part->type = ev[i].kind;
                part->id = ev[i].id;
                part->name = ev[i].name;
                part->input_string = (ev[i].kind
                                      == ngx_http_aigw_part_tool_call);

                if (ev[i].kind == ngx_http_aigw_part_redacted) {
                    part->signature = ev[i].text;
                }

                ngx_http_aigw_jw_init(&a->text, r->pool, 1024);
                ngx_http_aigw_jw_init(&a->input, r->pool, 256);
                ngx_http_aigw_jw_init(&a->signature, r->pool, 256);

                if (ev[i].type == ngx_http_aigw_ev_block_start) {
                    break;
                }

            delta:

                if (ev[i].kind == ngx_http_aigw_part_signature) {
                    ngx_http_aigw_jw_str(&a->signature, &ev[i].text);

                } else if (part->type == ngx_http_aigw_part_tool_call) {
                    ngx_http_aigw_jw_str(&a->input, &ev[i].text);

                } else {
                    ngx_http_aigw_jw_str(&a->text, &ev[i].text);
                }

                break;

            case ngx_http_aigw_ev_block_stop:
                part = NULL;
                break;

            case ngx_http_aigw_ev_finish:
                resp.stop = ev[i].stop;
                resp.stop_sequence = ev[i].stop_sequence;
                stopped = 1;
                break;

            case ngx_http_aigw_ev_error:
                rc = NGX_DECLINED;
                break;

            default:
                break;
            }
        }
    }

    ctx->target = target;
    ctx->pstate = pstate;
    ctx->translate = translate;
    ctx->ej = ej;
    ctx->eu = eu;

    if (rc != NGX_OK) {
        ctx->usage = usage;
        return rc;
    }

    if (!done || !stopped || resp.parts.nelts == 0) {
        ctx->usage = usage;
        return NGX_DECLINED;
    }

    part = resp.parts.elts;
    a = acc.elts;

    for (i = 0; i < resp.parts.nelts; i++) {
        if (a[i].text.size
            && ngx_http_aigw_jw_flatten(&a[i].text, &part[i].text) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (a[i].input.size
            && ngx_http_aigw_jw_flatten(&a[i].input, &part[i].input)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (a[i].signature.size
            && ngx_http_aigw_jw_flatten(&a[i].signature, &part[i].signature)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the usage is the live stream's, as settled */

    ctx->usage = usage;

    if (f->write_response(r, ctx, &resp, w) != NGX_OK || w->error) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_response_events(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp)
{
    ngx_uint_t              i;
    ngx_http_aigw_jw_t      w;
    ngx_http_aigw_part_t   *part;
    ngx_http_aigw_event_t  *ev;

    part = resp->parts.elts;

    ev = ngx_array_push(&ctx->events);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ev, sizeof(ngx_http_aigw_event_t));
    ev->type = ngx_http_aigw_ev_start;
    ev->id = resp->id;
    ev->name = resp->model;

    for (i = 0; i < resp->parts.nelts; i++) {

        ev = ngx_array_push_n(&ctx->events, 4);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(ev, 4 * sizeof(ngx_http_aigw_event_t));

        ev[0].type = ngx_http_aigw_ev_block_start;
        ev[0].kind = part[i].type;
        ev[0].id = part[i].id;
        ev[0].name = part[i].name;

        ev[1].type = ngx_http_aigw_ev_delta;
        ev[1].kind = part[i].type;
        ev[1].text = part[i].text;

        ev[2].type = ngx_http_aigw_ev_delta;

        ev[3].type = ngx_http_aigw_ev_block_stop;

        switch (part[i].type) {

        case ngx_http_aigw_part_tool_call:

            /* argument deltas are JSON text inside a JSON string */

            if (part[i].input_string) {
                ev[1].text = part[i].input;

            } else {
                ngx_http_aigw_jw_init(&w, r->pool, part[i].input.len + 16);
                ngx_http_aigw_jw_escape(&w, part[i].input.data,
                                        part[i].input.len);

                if (ngx_http_aigw_jw_flatten(&w, &ev[1].text) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            break;

        case ngx_http_aigw_part_redacted:
            ev[0].text = part[i].signature;
            ev[1].type = 0;
            break;

        case ngx_http_aigw_part_thinking:
            if (part[i].signature.len) {
                ev[2].text = part[i].signature;
                ev[2].kind = ngx_http_aigw_part_signature;
                break;
            }

            /* fall through */

        default:
            ev[2].type = 0;
            break;
        }
    }

    ev = ngx_array_push_n(&ctx->events, 2);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ev, 2 * sizeof(ngx_http_aigw_event_t));

    ev[0].type = ngx_http_aigw_ev_finish;
    ev[0].stop = resp->stop;
    ev[0].stop_sequence = resp->stop_sequence;
    ev[1].type = ngx_http_aigw_ev_end;

    ctx->finished = 1;

    return ngx_http_aigw_write_events(r, ctx);
}


/* the client's stream ends: normally (status 0) or with an error event */

static ngx_int_t
ngx_http_aigw_stream_end(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_uint_t status, const char *message)
{
    ngx_http_aigw_event_t  ev;

    ctx->finished = 1;

    ngx_memzero(&ev, sizeof(ngx_http_aigw_event_t));

    if (status == 0 && ctx->translate && !ctx->stopped) {

        /*
         * a translated stream that ended before the provider's finish
         * (stop reason) was cut short: the client's end events would
         * pass it off as complete
         */

        status = NGX_HTTP_BAD_GATEWAY;
        message = "the provider's stream ended before it finished";
    }

    if (status == 0) {

        /*
         * the provider's stream ended without its end marker: a
         * passthrough stream gets the one of the client's format only
         */

        ev.type = ctx->translate ? ngx_http_aigw_ev_end
                                 : ngx_http_aigw_ev_raw_end;

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "aigw: %s",
                      message);

        ev.type = ngx_http_aigw_ev_error;
        ev.status = status;
        ev.text.data = (u_char *) message;
        ev.text.len = ngx_strlen(message);
        ngx_http_aigw_error_type(status, &ev.err_type);
    }

    if (ctx->client->write_event(r, ctx, &ev, &ctx->out) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_aigw_out_event(ctx);
    ngx_http_aigw_first_byte(ctx);

    return NGX_OK;
}
