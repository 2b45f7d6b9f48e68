
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The composite balancer.  The location's upstream belongs to the module;
 * its peer.get picks the next (provider, model) target of the plan on
 * every try, delegates the server choice (and keepalive, max_fails) to
 * that provider's own upstream{}, and rebuilds the provider request: the
 * request must be built here, as nginx calls reinit_request only when the
 * previous try got as far as sending.
 */


#define NGX_HTTP_AIGW_KEEPALIVE_TIMEOUT   60000
#define NGX_HTTP_AIGW_KEEPALIVE_REQUESTS  1000


typedef struct {
    ngx_queue_t                     queue;
    ngx_connection_t               *connection;
    ngx_http_aigw_provider_t       *provider;
    socklen_t                       socklen;
    ngx_sockaddr_t                  sockaddr;
} ngx_http_aigw_ka_item_t;


static ngx_int_t ngx_http_aigw_balancer_get(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_aigw_balancer_free(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_aigw_balancer_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_aigw_balancer_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif
static ngx_int_t ngx_http_aigw_target_init(ngx_http_request_t *r,
    ngx_http_aigw_target_t *t);
static ngx_int_t ngx_http_aigw_target_unusable(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t);
static ngx_uint_t ngx_http_aigw_target_left(ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_reset_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_ka_get(ngx_peer_connection_t *pc,
    ngx_http_aigw_provider_t *p);
static void ngx_http_aigw_ka_free(ngx_peer_connection_t *pc,
    ngx_http_request_t *r, ngx_http_aigw_provider_t *p, ngx_uint_t state);
static void ngx_http_aigw_ka_dummy_handler(ngx_event_t *ev);
static void ngx_http_aigw_ka_close_handler(ngx_event_t *ev);
static void ngx_http_aigw_ka_close(ngx_connection_t *c);


ngx_int_t
ngx_http_aigw_balancer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                       i, tries;
    ngx_http_upstream_t             *u;
    ngx_http_aigw_ctx_t             *ctx;
    ngx_http_aigw_target_t          *t;
    ngx_http_upstream_rr_peers_t    *peers;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    u = r->upstream;

    /* a try for every server of every target, and one for a stale cache */

    t = ctx->plan.elts;
    tries = 1;

    for (i = 0; i < ctx->plan.nelts; i++) {
        peers = t[i].provider->upstream ? t[i].provider->upstream->peer.data
                                        : NULL;

        if (peers) {
            tries += peers->number + (peers->next ? peers->next->number : 0);

        } else {
            tries++;
        }
    }

    u->peer.get = ngx_http_aigw_balancer_get;
    u->peer.free = ngx_http_aigw_balancer_free;
    u->peer.data = ctx;
    u->peer.tries = tries;

#if (NGX_HTTP_SSL)
    u->peer.set_session = ngx_http_aigw_balancer_set_session;
    u->peer.save_session = ngx_http_aigw_balancer_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_balancer_get(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_aigw_ctx_t *ctx = data;

    ngx_int_t                  rc;
    ngx_uint_t                 tries;
    ngx_http_request_t        *r;
    ngx_http_upstream_t       *u;
    ngx_http_aigw_attempt_t   *a;
    ngx_http_aigw_target_t    *t;
    ngx_http_aigw_provider_t  *p;

    r = ctx->request;
    u = r->upstream;

    for ( ;; ) {

        if (ctx->cur >= ctx->plan.nelts) {
            return NGX_BUSY;
        }

        t = &((ngx_http_aigw_target_t *) ctx->plan.elts)[ctx->cur];
        p = t->provider;

        if (t->done) {
            ctx->cur++;
            continue;
        }

        if (ngx_http_aigw_target_unusable(ctx, t) != NGX_OK) {
            t->done = 1;
            ctx->cur++;
            continue;
        }

        if (!t->inited) {
            if (ngx_http_aigw_target_init(r, t) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        tries = pc->tries;
        pc->tries = t->tries;

        /* nginx never clears it: set again only for a cached connection */

        pc->cached = 0;

        rc = t->get(pc, t->data);

        pc->tries = tries;

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                          "aigw: no live servers for provider \"%V\"",
                          &p->name);

            a = ngx_array_push(&ctx->attempts);
            if (a == NULL) {
                return NGX_ERROR;
            }

            a->target = t;
            a->status = 0;
            ngx_str_set(&a->failure, "down");

            t->done = 1;
            ctx->cur++;
            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        break;
    }

    if (rc == NGX_OK && p->implicit && p->keepalive) {
        rc = ngx_http_aigw_ka_get(pc, p);
    }

    ctx->target = t;

    a = ngx_array_push(&ctx->attempts);
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->target = t;
    a->status = 0;
    ngx_str_null(&a->failure);

    if (ctx->attempts.nelts > 1) {
        ngx_http_aigw_reset_response(r, ctx);
    }

    if (ngx_http_aigw_build_request(r, ctx, t) != NGX_OK) {
        return NGX_ERROR;
    }

#if (NGX_HTTP_SSL)
    u->ssl = p->ssl;
    u->ssl_name = p->sni;
#endif

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "aigw: attempt %ui provider \"%V\" model \"%V\" rc:%i",
                   ctx->attempts.nelts, &p->name, &t->id, rc);

    return rc;
}


/* a target that cannot be tried at all is recorded and skipped */

static ngx_int_t
ngx_http_aigw_target_unusable(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t)
{
    ngx_str_t                 failure;
    ngx_http_aigw_attempt_t  *a;

    /* a missing key first: it is what the operator has to fix */

    if (t->provider->key.len == 0
        && t->provider->auth != ngx_http_aigw_auth_none
        && t->provider->key_source.len)
    {
        ngx_str_set(&failure, "no key");

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "aigw: provider \"%V\" skipped: no key, the key "
                      "comes from %V", &t->provider->name,
                      &t->provider->key_source);

    } else if (t->provider->upstream == NULL) {
        ngx_str_set(&failure, "unresolved");

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "aigw: provider \"%V\" skipped: its host was not "
                      "found when the configuration was loaded",
                      &t->provider->name);

    } else {
        return NGX_OK;
    }

    a = ngx_array_push(&ctx->attempts);
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->target = t;
    a->status = 0;
    a->failure = failure;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_aigw_target_init(ngx_http_request_t *r, ngx_http_aigw_target_t *t)
{
    ngx_http_upstream_t    *u;
    ngx_peer_connection_t   saved;

    u = r->upstream;

    /* the round robin balancer reuses a non-NULL peer.data as its own */

    saved = u->peer;
    u->peer.data = NULL;

    if (t->provider->upstream->peer.init(r, t->provider->upstream) != NGX_OK) {
        u->peer = saved;
        return NGX_ERROR;
    }

    t->get = u->peer.get;
    t->free = u->peer.free;
    t->data = u->peer.data;
    t->tries = u->peer.tries;
#if (NGX_HTTP_SSL)
    t->set_session = u->peer.set_session;
    t->save_session = u->peer.save_session;
#endif

    u->peer.get = saved.get;
    u->peer.free = saved.free;
    u->peer.data = saved.data;
    u->peer.tries = saved.tries;
#if (NGX_HTTP_SSL)
    u->peer.set_session = saved.set_session;
    u->peer.save_session = saved.save_session;
#endif

    t->inited = 1;

    return NGX_OK;
}


/*
 * The response state of the previous try is reset here: before 1.29.5
 * nginx does not reinit when the previous try failed before sending.
 */

static void
ngx_http_aigw_reset_response(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
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
    ngx_str_null(&ctx->failure);
    ngx_memzero(&ctx->status_line, sizeof(ngx_http_status_t));
    ngx_memzero(&ctx->chunked, sizeof(ngx_http_aigw_chunked_t));
    ctx->acc_len = 0;
    ctx->chunked_body = 0;
    ctx->close_delimited = 0;
    ctx->connection_close = 0;
    ctx->stopped = 0;

    /* usage, parser state and TTFT belong to the try that answers */

    ngx_memzero(&ctx->usage, sizeof(ngx_http_aigw_usage_t));
    ctx->pstate = NULL;
    ctx->first_byte = 0;
}


static void
ngx_http_aigw_balancer_free(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_aigw_ctx_t *ctx = data;

    ngx_uint_t                  tries, provider_failed, stale;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_aigw_attempt_t    *a;
    ngx_http_aigw_target_t     *t;
    ngx_http_aigw_loc_conf_t   *alcf;

    t = ctx->target;
    r = ctx->request;

    if (t == NULL) {
        return;
    }

    ctx->target = NULL;

    a = ctx->attempts.elts;
    a = &a[ctx->attempts.nelts - 1];

    c = pc->connection;

    /*
     * a try that broke before its response was complete (connection
     * error, timeout) failed as such, whatever status line it got
     */

    a->status = ctx->status;

    if ((state & NGX_PEER_FAILED) && ctx->failure.len == 0
        && ctx->rstate != ngx_http_aigw_rs_done)
    {
        a->status = 0;
        ctx->status = 0;
    }

    if (ctx->failure.len) {
        a->failure = ctx->failure;

    } else if (a->status == 0 && (state & NGX_PEER_FAILED)) {
        if (c && (c->read->timedout || c->write->timedout)) {
            ngx_str_set(&a->failure, "timeout");

        } else {
            ngx_str_set(&a->failure, "error");
        }
    }

    if (t->provider->implicit && t->provider->keepalive) {
        ngx_http_aigw_ka_free(pc, r, t->provider, state);
    }

    tries = pc->tries;
    pc->tries = t->tries;

    /*
     * rate limited or overloaded is the provider's state, kept in the
     * zone (cooldown), not a failure of the server: such answers do not
     * count toward the max_fails of its upstream{}
     */

    t->free(pc, t->data,
            (a->status == NGX_HTTP_TOO_MANY_REQUESTS || a->status == 529
             || a->status == NGX_HTTP_SERVICE_UNAVAILABLE)
            ? state & ~NGX_PEER_FAILED : state);

    t->tries = pc->tries;
    pc->tries = tries ? tries - 1 : 0;

    if (!(state & NGX_PEER_FAILED)) {

        /*
         * no status: the client left (or the gateway failed) before the
         * provider answered, which says nothing of the provider, and must
         * not clear the failures of one that hangs
         */

        if (a->status) {
            ngx_http_aigw_health_report(r, t->provider, a->status, 0,
                                        &ctx->retry_after);
        }

        return;
    }

    /*
     * a cached keepalive connection that broke (the server closed it as
     * it was reused) says nothing about the provider: nginx gives the try
     * back and the same provider is tried again, on another connection
     */

    stale = (pc->cached && a->status == 0 && ctx->failure.len == 0
             && !(c && (c->read->timedout || c->write->timedout)));

    if (stale) {
        ngx_log_error(NGX_LOG_INFO, pc->log, 0,
                      "aigw: a cached connection to provider \"%V\" broke, "
                      "trying it again", &t->provider->name);

        if (t->tries == 0) {
            t->tries = 1;
        }

        return;
    }

    ngx_http_aigw_health_report(r, t->provider, a->status, 1,
                                &ctx->retry_after);

    /*
     * a provider that answered (an HTTP status or an invalid response)
     * or timed out has failed as a whole: the next try goes to the next
     * target; a connection error moves to another server of the same
     * provider while it has any
     */

    provider_failed = (a->status != 0 || ctx->failure.len
                       || (c && (c->read->timedout || c->write->timedout)));

    if (provider_failed || t->tries == 0) {
        t->done = 1;
        ctx->cur++;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if ((ctx->failure.len && !(alcf->next & NGX_HTTP_AIGW_NEXT_INVALID))
        || !ngx_http_aigw_target_left(ctx))
    {
        pc->tries = 0;
    }
}


static ngx_uint_t
ngx_http_aigw_target_left(ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t               i;
    ngx_http_aigw_target_t  *t;

    t = ctx->plan.elts;

    for (i = ctx->cur; i < ctx->plan.nelts; i++) {
        if (!t[i].done) {
            return 1;
        }
    }

    return 0;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_aigw_balancer_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_aigw_ctx_t *ctx = data;

    if (ctx->target == NULL || ctx->target->set_session == NULL) {
        return NGX_OK;
    }

    return ctx->target->set_session(pc, ctx->target->data);
}


static void
ngx_http_aigw_balancer_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_aigw_ctx_t *ctx = data;

    if (ctx->target == NULL || ctx->target->save_session == NULL) {
        return;
    }

    ctx->target->save_session(pc, ctx->target->data);
}

#endif


/* the request for the target: request line, headers, body */

ngx_int_t
ngx_http_aigw_build_request(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t)
{
    u_char                        *model;
    size_t                         len;
    ngx_str_t                      path;
    ngx_uint_t                     n, i;
    ngx_chain_t                   *body, *cl;
    ngx_keyval_t                  *kv;
    ngx_http_aigw_jw_t             w, hw;
    ngx_http_upstream_t           *u;
    ngx_http_aigw_provider_t      *p;
    ngx_http_aigw_json_edit_t      edits[8];
    const ngx_http_aigw_format_t  *f;

    u = r->upstream;
    p = t->provider;
    f = p->format;

    /* the body */

    if (f == ctx->client) {
        n = 0;

        if (f->passthrough(r, ctx, t, edits, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        body = ngx_http_aigw_json_splice(r->pool, ctx->body.data,
                                         ctx->body.len, edits, n);
        if (body == NULL) {
            return NGX_ERROR;
        }

        ctx->translate = 0;

    } else {
        ngx_http_aigw_jw_init(&w, r->pool, ngx_max(ctx->body.len, 1024));

        if (f->write_request(r, ctx, t, &w) != NGX_OK) {
            return NGX_ERROR;
        }

        body = ngx_http_aigw_jw_finish(&w);
        if (body == NULL) {
            return NGX_ERROR;
        }

        ctx->translate = 1;
    }

    len = 0;

    for (cl = body; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    /* the request line and headers */

    ngx_http_aigw_jw_init(&hw, r->pool, 1024);

    ngx_http_aigw_jw_lit(&hw, "POST ");

    path = p->path;
    model = ngx_strnstr(path.data, "$model", path.len);

    if (model) {
        ngx_http_aigw_jw_raw(&hw, path.data, model - path.data);

        n = ngx_escape_uri(NULL, t->id.data, t->id.len, NGX_ESCAPE_URI);

        if (n) {
            i = t->id.len + 2 * n;
            model = ngx_pnalloc(r->pool, i);
            if (model == NULL) {
                return NGX_ERROR;
            }

            ngx_escape_uri(model, t->id.data, t->id.len, NGX_ESCAPE_URI);
            ngx_http_aigw_jw_raw(&hw, model, i);

        } else {
            ngx_http_aigw_jw_str(&hw, &t->id);
        }

        model = ngx_strnstr(path.data, "$model", path.len);
        ngx_http_aigw_jw_raw(&hw, model + 6, path.data + path.len - model - 6);

    } else {
        ngx_http_aigw_jw_str(&hw, &path);
    }

    ngx_http_aigw_jw_str(&hw, &f->paths[ctx->endpoint]);

    if (p->query.len) {
        ngx_http_aigw_jw_lit(&hw, "?");
        ngx_http_aigw_jw_str(&hw, &p->query);
    }

    ngx_http_aigw_jw_lit(&hw, " HTTP/1.1" CRLF "Host: ");
    ngx_http_aigw_jw_str(&hw, &p->host);
    ngx_http_aigw_jw_lit(&hw, CRLF);

    if (p->key.len) {
        switch (p->auth) {

        case ngx_http_aigw_auth_bearer:
            ngx_http_aigw_jw_lit(&hw, "Authorization: Bearer ");
            break;

        case ngx_http_aigw_auth_x_api_key:
            ngx_http_aigw_jw_lit(&hw, "x-api-key: ");
            break;

        case ngx_http_aigw_auth_api_key:
            ngx_http_aigw_jw_lit(&hw, "api-key: ");
            break;

        case ngx_http_aigw_auth_header:
            ngx_http_aigw_jw_str(&hw, &p->auth_header);
            ngx_http_aigw_jw_lit(&hw, ": ");
            break;

        default:
            break;
        }

        if (p->auth != ngx_http_aigw_auth_none) {
            ngx_http_aigw_jw_str(&hw, &p->key);
            ngx_http_aigw_jw_lit(&hw, CRLF);
        }
    }

    ngx_http_aigw_jw_lit(&hw, "Content-Type: application/json" CRLF
                              "Accept-Encoding: identity" CRLF
                              "User-Agent: ngx_http_aigw/"
                              NGX_HTTP_AIGW_VERSION CRLF
                              "Content-Length: ");
    ngx_http_aigw_jw_int(&hw, len);
    ngx_http_aigw_jw_lit(&hw, CRLF);

    if (ctx->stream) {
        ngx_http_aigw_jw_lit(&hw, "Accept: text/event-stream" CRLF);

    } else {
        ngx_http_aigw_jw_lit(&hw, "Accept: application/json" CRLF);
    }

    if (f->request_headers(r, ctx, t, &hw) != NGX_OK) {
        return NGX_ERROR;
    }

    if (p->headers) {
        kv = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            ngx_http_aigw_jw_str(&hw, &kv[i].key);
            ngx_http_aigw_jw_lit(&hw, ": ");
            ngx_http_aigw_jw_str(&hw, &kv[i].value);
            ngx_http_aigw_jw_lit(&hw, CRLF);
        }
    }

    ngx_http_aigw_jw_lit(&hw, CRLF);

    cl = ngx_http_aigw_jw_finish(&hw);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    u->request_bufs = cl;

    while (cl->next) {
        cl = cl->next;
    }

    cl->next = body;

    /*
     * the upstream rewinds these on reinit: pos must equal start; the
     * request ends with a flush, as TLS holds what it is given until one
     * comes, and a cached connection gets no write event to send it
     */

    for (cl = u->request_bufs; cl; cl = cl->next) {
        cl->buf->start = cl->buf->pos;
        cl->buf->flush = (cl->next == NULL);
        cl->buf->last_buf = 0;
    }

    return NGX_OK;
}


/* provider health in the zone: cooldowns and the circuit breaker */

void
ngx_http_aigw_health_report(ngx_http_request_t *r,
    ngx_http_aigw_provider_t *p, ngx_uint_t status, ngx_uint_t failed,
    ngx_str_t *retry_after)
{
    ngx_int_t                   secs;
    ngx_msec_t                  now, cool;
    ngx_atomic_uint_t           failures;
    ngx_http_aigw_health_t     *h;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL || p->index >= amcf->sh->n) {
        return;
    }

    h = &amcf->sh->providers[p->index];
    now = ngx_current_msec;

    (void) ngx_atomic_fetch_add(&h->requests, 1);

    /* rate limited or overloaded: cool down, as long as it asks */

    if (status == NGX_HTTP_TOO_MANY_REQUESTS || status == 529
        || status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        cool = amcf->cooldown;

        if (retry_after && retry_after->len) {
            secs = ngx_atoi(retry_after->data, retry_after->len);

            if (secs == NGX_ERROR) {

                /* Retry-After may also be an HTTP-date */

                secs = ngx_parse_http_time(retry_after->data,
                                           retry_after->len);

                if (secs != NGX_ERROR) {
                    secs = (secs > ngx_time()) ? secs - ngx_time() : 0;
                }
            }

            if (secs != NGX_ERROR) {
                cool = (ngx_msec_t) ngx_min(secs, 3600) * 1000;
            }
        }

        h->cooldown_until = now + cool;

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" returned %ui, cooling down "
                      "for %Mms", &p->name, status, cool);
        return;
    }

    if (!failed && status < 500) {
        h->failures = 0;
        return;
    }

    /* errors, timeouts and 5xx in a row open the circuit */

    failures = ngx_atomic_fetch_add(&h->failures, 1) + 1;

    if (failures >= amcf->failures) {

        /*
         * half-open afterwards: one more failure opens the circuit again,
         * one success closes it
         */

        h->failures = amcf->failures - 1;
        h->open_until = now + amcf->open_time;

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" failed %uA times in a row, "
                      "its circuit is open for %Mms", &p->name, failures,
                      amcf->open_time);
    }
}


ngx_int_t
ngx_http_aigw_health_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_aigw_main_conf_t  *oamcf = data;

    size_t                      size;
    ngx_uint_t                  i, k, n;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_shctx_t      *sh, *osh;
    ngx_http_aigw_provider_t   *p;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    n = amcf->providers.nelts;
    size = sizeof(ngx_http_aigw_shctx_t)
           + (n ? n - 1 : 0) * sizeof(ngx_http_aigw_health_t);

    osh = oamcf ? oamcf->sh : NULL;

    if (shm_zone->shm.exists) {
        amcf->sh = shpool->data;
        return NGX_OK;
    }

    ngx_shmtx_lock(&shpool->mutex);

    sh = ngx_slab_calloc_locked(shpool, size);

    if (sh == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_ERROR;
    }

    sh->n = n;
    p = amcf->providers.elts;

    for (i = 0; i < n; i++) {
        ngx_memcpy(sh->providers[i].name, p[i].name.data,
                   ngx_min(p[i].name.len, 63));

        /* the state of a provider survives a reload */

        for (k = 0; osh && k < osh->n; k++) {
            if (ngx_strcmp(osh->providers[k].name, sh->providers[i].name)
                == 0)
            {
                sh->providers[i] = osh->providers[k];
                break;
            }
        }
    }

    if (osh) {
        ngx_slab_free_locked(shpool, osh);
    }

    shpool->data = sh;

    ngx_shmtx_unlock(&shpool->mutex);

    amcf->sh = sh;

    return NGX_OK;
}


/*
 * Keepalive for providers given by url=: idle connections are kept per
 * provider (never handed to another provider) and per server address.
 */

static ngx_int_t
ngx_http_aigw_ka_get(ngx_peer_connection_t *pc, ngx_http_aigw_provider_t *p)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_connection_t         *c;
    ngx_http_aigw_ka_item_t  *item;

    if (p->ka_cache.next == NULL) {

        /* first use in this worker */

        ngx_queue_init(&p->ka_cache);
        ngx_queue_init(&p->ka_free);

        item = ngx_pcalloc(ngx_cycle->pool,
                           sizeof(ngx_http_aigw_ka_item_t) * p->keepalive);
        if (item == NULL) {
            return NGX_OK;
        }

        for (i = 0; i < p->keepalive; i++) {
            item[i].provider = p;
            ngx_queue_insert_head(&p->ka_free, &item[i].queue);
        }
    }

    for (q = ngx_queue_head(&p->ka_cache);
         q != ngx_queue_sentinel(&p->ka_cache);
         q = ngx_queue_next(q))
    {
        item = ngx_queue_data(q, ngx_http_aigw_ka_item_t, queue);
        c = item->connection;

        if (ngx_memn2cmp((u_char *) &item->sockaddr, (u_char *) pc->sockaddr,
                         item->socklen, pc->socklen)
            != 0)
        {
            continue;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_head(&p->ka_free, q);

        c->idle = 0;
        c->sent = 0;
        c->data = NULL;
        c->log = pc->log;
        c->read->log = pc->log;
        c->write->log = pc->log;
        c->pool->log = pc->log;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        pc->connection = c;
        pc->cached = 1;

        return NGX_DONE;
    }

    return NGX_OK;
}


static void
ngx_http_aigw_ka_free(ngx_peer_connection_t *pc, ngx_http_request_t *r,
    ngx_http_aigw_provider_t *p, ngx_uint_t state)
{
    ngx_queue_t              *q;
    ngx_connection_t         *c;
    ngx_http_upstream_t      *u;
    ngx_http_aigw_ka_item_t  *item;

    u = r->upstream;
    c = pc->connection;

    if (state & NGX_PEER_FAILED
        || c == NULL
        || p->ka_cache.next == NULL
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout
        || c->requests >= NGX_HTTP_AIGW_KEEPALIVE_REQUESTS
        || !u->keepalive
        || !u->request_body_sent
        || ngx_terminate
        || ngx_exiting)
    {
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return;
    }

    if (ngx_queue_empty(&p->ka_free)) {
        q = ngx_queue_last(&p->ka_cache);
        ngx_queue_remove(q);

        item = ngx_queue_data(q, ngx_http_aigw_ka_item_t, queue);
        ngx_http_aigw_ka_close(item->connection);

    } else {
        q = ngx_queue_head(&p->ka_free);
        ngx_queue_remove(q);

        item = ngx_queue_data(q, ngx_http_aigw_ka_item_t, queue);
    }

    ngx_queue_insert_head(&p->ka_cache, q);

    item->connection = c;
    item->socklen = pc->socklen;
    ngx_memcpy(&item->sockaddr, pc->sockaddr, pc->socklen);

    pc->connection = NULL;

    c->read->delayed = 0;
    ngx_add_timer(c->read, NGX_HTTP_AIGW_KEEPALIVE_TIMEOUT);

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->handler = ngx_http_aigw_ka_dummy_handler;
    c->read->handler = ngx_http_aigw_ka_close_handler;

    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    if (c->read->ready) {
        ngx_http_aigw_ka_close_handler(c->read);
    }
}


static void
ngx_http_aigw_ka_dummy_handler(ngx_event_t *ev)
{
}


static void
ngx_http_aigw_ka_close_handler(ngx_event_t *ev)
{
    int                       n;
    char                      buf[1];
    ngx_connection_t         *c;
    ngx_http_aigw_ka_item_t  *item;

    c = ev->data;

    if (!c->close && !c->read->timedout) {
        n = recv(c->fd, buf, 1, MSG_PEEK);

        if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
            ev->ready = 0;

            if (ngx_handle_read_event(c->read, 0) == NGX_OK) {
                return;
            }
        }
    }

    item = c->data;

    ngx_http_aigw_ka_close(c);

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&item->provider->ka_free, &item->queue);
}


static void
ngx_http_aigw_ka_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_aigw_ka_close;
            return;
        }
    }

#endif

    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}
