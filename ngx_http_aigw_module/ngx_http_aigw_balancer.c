
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
static ngx_int_t ngx_http_aigw_attempt_add(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_uint_t failure);


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

            if (ngx_http_aigw_attempt_add(ctx, t, ngx_http_aigw_failure_down)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

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

    if (ngx_http_aigw_attempt_add(ctx, t, ngx_http_aigw_failure_none)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->attempts.nelts > 1) {
        ngx_http_aigw_response_reset(r, ctx);
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
    ngx_uint_t  failure;

    /* a missing key first: it is what the operator has to fix */

    if (t->provider->key.len == 0
        && t->provider->auth != ngx_http_aigw_auth_none
        && t->provider->key_source.len
        && !t->byok)
    {
        failure = ngx_http_aigw_failure_no_key;

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "aigw: provider \"%V\" skipped: no key, the key "
                      "comes from %V", &t->provider->name,
                      &t->provider->key_source);

    } else if (t->provider->vertex
               && !ngx_http_aigw_vertex_ready(t->provider))
    {
        failure = ngx_http_aigw_failure_no_key;

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "aigw: provider \"%V\" skipped: no Vertex AI access "
                      "token", &t->provider->name);

    } else if (t->provider->upstream == NULL) {
        failure = ngx_http_aigw_failure_unresolved;

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "aigw: provider \"%V\" skipped: its host was not "
                      "found when the configuration was loaded",
                      &t->provider->name);

    } else {
        return NGX_OK;
    }

    if (ngx_http_aigw_attempt_add(ctx, t, failure) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


/* an attempt on the target: with no status yet, and why when skipped */

static ngx_int_t
ngx_http_aigw_attempt_add(ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_uint_t failure)
{
    ngx_http_aigw_attempt_t  *a;

    a = ngx_array_push(&ctx->attempts);
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->target = t;
    a->status = 0;
    a->failure = failure;

    return NGX_OK;
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

    if ((state & NGX_PEER_FAILED) && ctx->failure == 0
        && ctx->rstate != ngx_http_aigw_rs_done)
    {
        a->status = 0;
        ctx->status = 0;
    }

    if (ctx->failure) {
        a->failure = ctx->failure;

    } else if (a->status == 0 && (state & NGX_PEER_FAILED)) {
        if (c && (c->read->timedout || c->write->timedout)) {
            a->failure = ngx_http_aigw_failure_timeout;

        } else {
            a->failure = ngx_http_aigw_failure_error;
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
            ngx_http_aigw_overloaded(a->status) ? state & ~NGX_PEER_FAILED
                                                : state);

    t->tries = pc->tries;
    pc->tries = tries ? tries - 1 : 0;

    if (!(state & NGX_PEER_FAILED)) {

        /*
         * no status: the client left (or the gateway failed) before the
         * provider answered, which says nothing of the provider, and must
         * not clear the failures of one that hangs
         */

        if (a->status) {
            ngx_http_aigw_health_report(r, t, a->status, 0,
                                        &ctx->retry_after);
        }

        return;
    }

    /*
     * a cached keepalive connection that broke (the server closed it as
     * it was reused) says nothing about the provider: nginx gives the try
     * back and the same provider is tried again, on another connection
     */

    stale = (pc->cached && a->status == 0 && ctx->failure == 0
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

    ngx_http_aigw_health_report(r, t, a->status, 1,
                                &ctx->retry_after);

    /*
     * a provider that answered (an HTTP status or an invalid response)
     * or timed out has failed as a whole: the next try goes to the next
     * target; a connection error moves to another server of the same
     * provider while it has any
     */

    provider_failed = (a->status != 0 || ctx->failure
                       || (c && (c->read->timedout || c->write->timedout)));

    if (provider_failed || t->tries == 0) {
        t->done = 1;
        ctx->cur++;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if ((ctx->failure && !(alcf->next & NGX_HTTP_AIGW_NEXT_INVALID))
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
