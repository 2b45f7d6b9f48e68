
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


#define NGX_HTTP_AIGW_KEEPALIVE_TIMEOUT   60000
#define NGX_HTTP_AIGW_KEEPALIVE_REQUESTS  1000


typedef struct {
    ngx_queue_t                     queue;
    ngx_connection_t               *connection;
    ngx_http_aigw_provider_t       *provider;
    socklen_t                       socklen;
    ngx_sockaddr_t                  sockaddr;
} ngx_http_aigw_ka_item_t;


static void ngx_http_aigw_ka_dummy_handler(ngx_event_t *ev);
static void ngx_http_aigw_ka_close_handler(ngx_event_t *ev);
static void ngx_http_aigw_ka_close(ngx_connection_t *c);


/*
 * Keepalive for providers given by url=: idle connections are kept per
 * provider (never handed to another provider) and per server address, in
 * each worker: its cache is made when the worker starts.
 */

ngx_int_t
ngx_http_aigw_ka_init_process(ngx_cycle_t *cycle, ngx_http_aigw_provider_t *p)
{
    ngx_uint_t                i;
    ngx_http_aigw_ka_item_t  *item;

    ngx_queue_init(&p->ka_cache);
    ngx_queue_init(&p->ka_free);

    item = ngx_pcalloc(cycle->pool,
                       sizeof(ngx_http_aigw_ka_item_t) * p->keepalive);
    if (item == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < p->keepalive; i++) {
        item[i].provider = p;
        ngx_queue_insert_head(&p->ka_free, &item[i].queue);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_aigw_ka_get(ngx_peer_connection_t *pc, ngx_http_aigw_provider_t *p)
{
    ngx_queue_t              *q;
    ngx_connection_t         *c;
    ngx_http_aigw_ka_item_t  *item;

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


void
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
