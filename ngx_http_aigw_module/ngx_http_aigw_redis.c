
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include <hiredis/hiredis.h>
#include "ngx_http_aigw_module.h"


/*
 * The Redis client of a worker (aigw_redis).  hiredis is only the codec:
 * redisFormatCommandArgv() writes the commands, a redisReader parses the
 * replies; the connection, its buffers and timers are nginx's.
 *
 * One connection per worker, opened on the first send.  Calls wait in
 * one FIFO: while connecting nothing is formatted; once connected (and
 * after TLS) the handshake, [AUTH] [SELECT] TIME, goes first, then every
 * queued call is formatted into the output buffer in FIFO order, so the
 * n-th reply is the head's.  A script call whose reply is NOSCRIPT goes
 * to the tail again as EVAL.
 *
 * One timer, at the earliest deadline of the calls (queued time plus
 * timeout=).  While connecting, an expired call fails alone; once
 * connected the replies are in order, so an expired call resets the
 * connection.  A reset, a refused connection, a closed one, garbage or a
 * refused AUTH/SELECT fail every call (handler(data, NULL)) and open the
 * circuit breaker: sends are declined until probe= has passed, then the
 * next send probes (calls behind it wait for it); a failed probe doubles
 * the interval, up to 30 s.
 */


#define NGX_HTTP_AIGW_REDIS_BACKOFF_MAX  30000

#define NGX_HTTP_AIGW_REDIS_NONE         0
#define NGX_HTTP_AIGW_REDIS_CONNECTING   1
#define NGX_HTTP_AIGW_REDIS_READY        2

#define NGX_HTTP_AIGW_REDIS_USER         0
#define NGX_HTTP_AIGW_REDIS_AUTH         1
#define NGX_HTTP_AIGW_REDIS_SELECT       2
#define NGX_HTTP_AIGW_REDIS_TIME         3


typedef struct ngx_http_aigw_redis_call_s  ngx_http_aigw_redis_call_t;

struct ngx_http_aigw_redis_call_s {
    ngx_http_aigw_redis_call_t     *next;
    ngx_http_aigw_redis_handler_pt  handler;
    void                           *data;
    ngx_http_aigw_redis_script_t   *script;
    ngx_msec_t                      deadline;
    int                             argc;      /* of ptrs[] and lens[] */
    const char                    **ptrs;      /* with a script: EVALSHA,
                                                  sha1, argv... */
    size_t                         *lens;
    ngx_uint_t                      kind;
    unsigned                        eval:1;    /* resent as EVAL */
};


struct ngx_http_aigw_redis_s {
    ngx_str_t                       name;      /* host:port, for the log */
    ngx_str_t                       host;      /* SNI, certificate check */
    ngx_addr_t                      addr;
    ngx_str_t                       user;
    ngx_str_t                       password;
    ngx_str_t                       db;        /* digits, or empty */
    ngx_msec_t                      timeout;
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      probe;
    ngx_uint_t                      fail;
    ngx_flag_t                      ssl_verify;
    ngx_str_t                       ssl_trusted_certificate;
    unsigned                        tls:1;
    unsigned                        host_ip:1; /* an address, no SNI */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                      *ssl;
#endif

    /* the worker's own, from here on */

    ngx_connection_t               *connection;
    ngx_pool_t                     *pool;      /* of the connection */
    redisReader                    *reader;
    ngx_uint_t                      state;

    ngx_http_aigw_redis_call_t     *head;
    ngx_http_aigw_redis_call_t    **last;
    ngx_http_aigw_redis_call_t     *unsent;    /* first not formatted */
    ngx_uint_t                      requeued;  /* EVAL calls out of order */

    u_char                         *out;
    size_t                          out_pos;
    size_t                          out_len;
    size_t                          out_size;

    ngx_event_t                     timer;
    int64_t                         clock;
    ngx_msec_t                      retry;     /* when down: the next probe */
    ngx_msec_t                      backoff;
    unsigned                        down:1;
};


static ngx_int_t ngx_http_aigw_redis_connect(ngx_http_aigw_redis_t *rd);
static void ngx_http_aigw_redis_connected(ngx_event_t *wev);
#if (NGX_HTTP_SSL)
static void ngx_http_aigw_redis_ssl_handshake(ngx_connection_t *c);
#endif
static ngx_int_t ngx_http_aigw_redis_handshake(ngx_http_aigw_redis_t *rd);
static void ngx_http_aigw_redis_write_handler(ngx_event_t *wev);
static void ngx_http_aigw_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_aigw_redis_reply(ngx_http_aigw_redis_t *rd,
    redisReply *reply);
static void ngx_http_aigw_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_aigw_redis_arm(ngx_http_aigw_redis_t *rd);
static void ngx_http_aigw_redis_idle(ngx_http_aigw_redis_t *rd);
static void ngx_http_aigw_redis_fault(ngx_http_aigw_redis_t *rd,
    const char *reason);
static void ngx_http_aigw_redis_close(ngx_http_aigw_redis_t *rd);
static ngx_http_aigw_redis_call_t *ngx_http_aigw_redis_call(
    ngx_http_aigw_redis_script_t *script, ngx_uint_t argc, ngx_str_t *argv);
static void ngx_http_aigw_redis_append(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_call_t *cl);
static ngx_int_t ngx_http_aigw_redis_format(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_call_t *cl);
static void ngx_http_aigw_redis_script_sha1(
    ngx_http_aigw_redis_script_t *script);
static char *ngx_http_aigw_redis_parse_url(ngx_conf_t *cf,
    ngx_http_aigw_redis_t *rd, ngx_str_t *url);


static const char  *ngx_http_aigw_redis_fail_names[] = {
    "local", "open", "closed"
};


ngx_int_t
ngx_http_aigw_redis_send(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_script_t *script, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_aigw_redis_handler_pt handler, void *data)
{
    ngx_int_t                    rc;
    ngx_http_aigw_redis_call_t  *cl;

    if (rd->down
        && (ngx_msec_int_t) (ngx_current_msec - rd->retry) < 0)
    {
        return NGX_DECLINED;
    }

    cl = ngx_http_aigw_redis_call(script, argc, argv);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->handler = handler;
    cl->data = data;

    if (rd->connection == NULL) {
        rc = ngx_http_aigw_redis_connect(rd);

        if (rc != NGX_OK) {
            ngx_free(cl);
            return rc;
        }
    }

    cl->deadline = ngx_current_msec + rd->timeout;

    ngx_http_aigw_redis_append(rd, cl);

    if (!rd->timer.timer_set) {
        ngx_add_timer(&rd->timer, rd->timeout);
    }

    if (rd->state == NGX_HTTP_AIGW_REDIS_READY) {
        ngx_post_event(rd->connection->write, &ngx_posted_events);
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_aigw_redis_fail(ngx_http_aigw_redis_t *rd)
{
    return rd->fail;
}


int64_t
ngx_http_aigw_redis_clock(ngx_http_aigw_redis_t *rd)
{
    return rd->clock;
}


/*
 * a new connection; NGX_DECLINED when it failed at once (the breaker
 * is open then), nothing queued
 */

static ngx_int_t
ngx_http_aigw_redis_connect(ngx_http_aigw_redis_t *rd)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    rd->timer.handler = ngx_http_aigw_redis_timer_handler;
    rd->timer.data = rd;
    rd->timer.log = ngx_cycle->log;

    if (rd->last == NULL) {
        rd->last = &rd->head;
    }

    c = ngx_http_aigw_connect(rd->addr.sockaddr, rd->addr.socklen, &rd->name,
                              ngx_cycle->log, &rc);

    if (c == NULL) {
        ngx_http_aigw_redis_fault(rd, "connect failed");
        return NGX_DECLINED;
    }

    rd->pool = ngx_create_pool(1024, ngx_cycle->log);
    if (rd->pool == NULL) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    rd->reader = redisReaderCreate();
    if (rd->reader == NULL) {
        ngx_destroy_pool(rd->pool);
        rd->pool = NULL;
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    c->data = rd;
    c->pool = rd->pool;
    c->idle = 1;
    c->read->handler = ngx_http_aigw_redis_read_handler;
    c->write->handler = ngx_http_aigw_redis_connected;

    rd->connection = c;
    rd->state = NGX_HTTP_AIGW_REDIS_CONNECTING;

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);

    } else {
        ngx_add_timer(c->write, rd->connect_timeout);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "aigw redis: connecting to %V", &rd->name);

    return NGX_OK;
}


static void
ngx_http_aigw_redis_connected(ngx_event_t *wev)
{
    ngx_err_t               err;
    ngx_connection_t       *c;
    ngx_http_aigw_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    if (wev->timedout) {
        ngx_http_aigw_redis_fault(rd, "connect timed out");
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    err = ngx_http_aigw_connect_error(c);

    if (err) {
        ngx_log_error(NGX_LOG_INFO, c->log, err,
                      "aigw: connect() to redis %V failed", &rd->name);
        ngx_http_aigw_redis_fault(rd, "connection refused");
        return;
    }

#if (NGX_HTTP_SSL)

    if (rd->tls) {
        ngx_int_t  rc;

        if (ngx_http_aigw_ssl_client(c, rd->ssl, &rd->host, rd->host_ip)
            != NGX_OK)
        {
            ngx_http_aigw_redis_fault(rd, "TLS setup failed");
            return;
        }

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            if (!c->write->timer_set) {
                ngx_add_timer(c->write, rd->connect_timeout);
            }

            c->ssl->handler = ngx_http_aigw_redis_ssl_handshake;
            return;
        }

        ngx_http_aigw_redis_ssl_handshake(c);
        return;
    }

#endif

    if (ngx_http_aigw_redis_handshake(rd) == NGX_OK) {
        ngx_http_aigw_redis_write_handler(c->write);
    }
}


#if (NGX_HTTP_SSL)

static void
ngx_http_aigw_redis_ssl_handshake(ngx_connection_t *c)
{
    long                    verify;
    ngx_http_aigw_redis_t  *rd;

    rd = c->data;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (!c->ssl->handshaked) {
        ngx_http_aigw_redis_fault(rd, c->write->timedout
                                      ? "TLS handshake timed out"
                                      : "TLS handshake failed");
        return;
    }

    if (rd->ssl_verify) {
        verify = SSL_get_verify_result(c->ssl->connection);

        if (verify != X509_V_OK) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "aigw: redis %V certificate verify error: (%l:%s)",
                          &rd->name, verify,
                          X509_verify_cert_error_string(verify));
            ngx_http_aigw_redis_fault(rd, "certificate not trusted");
            return;
        }

        if (ngx_http_aigw_ssl_check_host(c, &rd->host, rd->host_ip)
            != NGX_OK)
        {
            ngx_http_aigw_redis_fault(rd, "certificate does not match host");
            return;
        }
    }

    c->read->handler = ngx_http_aigw_redis_read_handler;

    if (ngx_http_aigw_redis_handshake(rd) == NGX_OK) {
        ngx_http_aigw_redis_write_handler(c->write);
    }
}

#endif


/* connected: [AUTH] [SELECT] TIME before every queued call */

static ngx_int_t
ngx_http_aigw_redis_handshake(ngx_http_aigw_redis_t *rd)
{
    ngx_str_t                    argv[3];
    ngx_uint_t                   argc, kind;
    ngx_http_aigw_redis_call_t  *cl, *first, **prev;

    rd->state = NGX_HTTP_AIGW_REDIS_READY;
    rd->connection->write->handler = ngx_http_aigw_redis_write_handler;

    first = NULL;
    prev = &first;

    for (kind = NGX_HTTP_AIGW_REDIS_AUTH;
         kind <= NGX_HTTP_AIGW_REDIS_TIME;
         kind++)
    {
        argc = 0;

        switch (kind) {

        case NGX_HTTP_AIGW_REDIS_AUTH:
            if (rd->password.data == NULL) {
                continue;
            }

            ngx_str_set(&argv[argc], "AUTH");
            argc++;

            if (rd->user.len) {
                argv[argc++] = rd->user;
            }

            argv[argc++] = rd->password;
            break;

        case NGX_HTTP_AIGW_REDIS_SELECT:
            if (rd->db.len == 0) {
                continue;
            }

            ngx_str_set(&argv[0], "SELECT");
            argv[1] = rd->db;
            argc = 2;
            break;

        default: /* NGX_HTTP_AIGW_REDIS_TIME */
            ngx_str_set(&argv[0], "TIME");
            argc = 1;
            break;
        }

        cl = ngx_http_aigw_redis_call(NULL, argc, argv);

        if (cl == NULL) {
            while (first) {
                cl = first;
                first = first->next;
                ngx_free(cl);
            }

            ngx_http_aigw_redis_fault(rd, "no memory");
            return NGX_ERROR;
        }

        cl->kind = kind;
        cl->deadline = ngx_current_msec + rd->timeout;

        *prev = cl;
        prev = &cl->next;
    }

    /* the calls waiting for the connection are all unsent */

    *prev = rd->head;

    if (rd->head == NULL) {
        rd->last = prev;
    }

    rd->head = first;
    rd->unsent = first;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "aigw redis: connected to %V", &rd->name);

    ngx_http_aigw_redis_arm(rd);

    return NGX_OK;
}


static void
ngx_http_aigw_redis_write_handler(ngx_event_t *wev)
{
    ssize_t                      n;
    ngx_connection_t            *c;
    ngx_http_aigw_redis_t       *rd;
    ngx_http_aigw_redis_call_t  *cl;

    c = wev->data;
    rd = c->data;

    for (cl = rd->unsent; cl; cl = cl->next) {
        if (ngx_http_aigw_redis_format(rd, cl) != NGX_OK) {
            ngx_http_aigw_redis_fault(rd, "no memory");
            return;
        }
    }

    rd->unsent = NULL;

    while (rd->out_pos < rd->out_len) {

        n = c->send(c, rd->out + rd->out_pos, rd->out_len - rd->out_pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_aigw_redis_fault(rd, "write failed");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_aigw_redis_fault(rd, "connection lost");
            return;
        }

        rd->out_pos += n;
    }

    rd->out_pos = 0;
    rd->out_len = 0;
}


static void
ngx_http_aigw_redis_read_handler(ngx_event_t *rev)
{
    int                     rc;
    void                   *reply;
    ssize_t                 n;
    u_char                  buf[16384];
    ngx_connection_t       *c;
    ngx_http_aigw_redis_t  *rd;

    c = rev->data;
    rd = c->data;

    if (c->close) {

        /* shutting down: the idle connection goes now, a busy one later */

        c->close = 0;

        if (rd->head == NULL) {
            ngx_http_aigw_redis_close(rd);
            return;
        }
    }

    if (rd->state != NGX_HTTP_AIGW_REDIS_READY) {
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            if (rd->head == NULL) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "aigw: redis %V closed the connection",
                              &rd->name);
                ngx_http_aigw_redis_close(rd);
                return;
            }

            ngx_http_aigw_redis_fault(rd, "connection lost");
            return;
        }

        if (redisReaderFeed(rd->reader, (char *) buf, n) != REDIS_OK) {
            ngx_http_aigw_redis_fault(rd, "no memory");
            return;
        }

        for ( ;; ) {
            reply = NULL;
            rc = redisReaderGetReply(rd->reader, &reply);

            if (rc != REDIS_OK) {
                ngx_log_error(NGX_LOG_ERR, c->log, 0,
                              "aigw: redis %V protocol error: %s",
                              &rd->name, rd->reader->errstr);
                ngx_http_aigw_redis_fault(rd, "protocol error");
                return;
            }

            if (reply == NULL) {
                break;
            }

            if (ngx_http_aigw_redis_reply(rd, reply) != NGX_OK) {
                return;
            }
        }
    }

    if (rd->head == NULL) {
        ngx_http_aigw_redis_idle(rd);

        if (rd->connection == NULL) {
            return;
        }

    } else {
        ngx_http_aigw_redis_arm(rd);
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_aigw_redis_fault(rd, "read failed");
    }
}


/* the head's reply; NGX_ERROR: the connection is gone */

static ngx_int_t
ngx_http_aigw_redis_reply(ngx_http_aigw_redis_t *rd, redisReply *reply)
{
    int64_t                      ms;
    ngx_time_t                  *tp;
    const char                  *reason;
    ngx_http_aigw_redis_call_t  *cl;

    cl = rd->head;

    if (cl == NULL) {
        freeReplyObject(reply);
        ngx_http_aigw_redis_fault(rd, "unexpected reply");
        return NGX_ERROR;
    }

    rd->head = cl->next;

    if (rd->head == NULL) {
        rd->last = &rd->head;
    }

    cl->next = NULL;

    if (cl->eval) {
        rd->requeued--;
    }

    if (cl->script && !cl->eval
        && reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        /* again at the tail, as EVAL, with its deadline */

        freeReplyObject(reply);

        cl->eval = 1;
        cl->ptrs[0] = "EVAL";
        cl->lens[0] = 4;
        cl->ptrs[1] = (const char *) cl->script->body.data;
        cl->lens[1] = cl->script->body.len;

        rd->requeued++;

        *rd->last = cl;
        rd->last = &cl->next;

        if (rd->unsent == NULL) {
            rd->unsent = cl;
        }

        ngx_post_event(rd->connection->write, &ngx_posted_events);

        return NGX_OK;
    }

    switch (cl->kind) {

    case NGX_HTTP_AIGW_REDIS_USER:
        if (cl->handler) {
            cl->handler(cl->data, reply);

        } else if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "aigw: redis %V: %*s", &rd->name,
                          (size_t) reply->len, reply->str);
        }

        break;

    case NGX_HTTP_AIGW_REDIS_AUTH:
    case NGX_HTTP_AIGW_REDIS_SELECT:
        if (reply->type != REDIS_REPLY_ERROR) {
            break;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "aigw: redis %V refused %s: %*s", &rd->name,
                      cl->kind == NGX_HTTP_AIGW_REDIS_AUTH ? "AUTH" : "SELECT",
                      (size_t) reply->len, reply->str);

        reason = (cl->kind == NGX_HTTP_AIGW_REDIS_AUTH)
                 ? "authentication failed" : "SELECT failed";

        freeReplyObject(reply);
        ngx_free(cl);

        ngx_http_aigw_redis_fault(rd, reason);
        return NGX_ERROR;

    default: /* NGX_HTTP_AIGW_REDIS_TIME */
        if (reply->type != REDIS_REPLY_ARRAY
            || reply->elements != 2
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[1]->type != REDIS_REPLY_STRING)
        {
            freeReplyObject(reply);
            ngx_free(cl);
            ngx_http_aigw_redis_fault(rd, "unexpected reply to TIME");
            return NGX_ERROR;
        }

        ms = (int64_t) ngx_atoi((u_char *) reply->element[0]->str,
                                reply->element[0]->len) * 1000
             + ngx_atoi((u_char *) reply->element[1]->str,
                        reply->element[1]->len) / 1000;

        tp = ngx_timeofday();
        rd->clock = ms - ((int64_t) tp->sec * 1000 + tp->msec);

        if (rd->down) {
            rd->down = 0;
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "aigw: redis %V is back", &rd->name);
        }

        rd->backoff = 0;
        break;
    }

    freeReplyObject(reply);
    ngx_free(cl);

    if (rd->connection == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_aigw_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_aigw_redis_t       *rd;
    ngx_http_aigw_redis_call_t  *cl, **prev, *expired, *next;

    rd = ev->data;

    if (rd->state == NGX_HTTP_AIGW_REDIS_READY) {

        for (cl = rd->head; cl; cl = cl->next) {
            if ((ngx_msec_int_t) (cl->deadline - ngx_current_msec) <= 0) {
                ngx_http_aigw_redis_fault(rd, "timed out");
                return;
            }
        }

        ngx_http_aigw_redis_arm(rd);
        return;
    }

    /* still connecting: nothing sent, an expired call fails alone */

    expired = NULL;
    prev = &rd->head;

    for (cl = rd->head; cl; cl = next) {
        next = cl->next;

        if ((ngx_msec_int_t) (cl->deadline - ngx_current_msec) <= 0) {
            *prev = next;
            cl->next = expired;
            expired = cl;
            continue;
        }

        prev = &cl->next;
    }

    rd->last = prev;

    if (rd->head) {
        ngx_http_aigw_redis_arm(rd);
    }

    while (expired) {
        cl = expired;
        expired = cl->next;

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "aigw: redis %V: a call timed out while connecting",
                      &rd->name);

        if (cl->handler) {
            cl->handler(cl->data, NULL);
        }

        ngx_free(cl);
    }
}


/* the timer at the earliest deadline */

static void
ngx_http_aigw_redis_arm(ngx_http_aigw_redis_t *rd)
{
    ngx_msec_t                   deadline;
    ngx_msec_int_t               left;
    ngx_http_aigw_redis_call_t  *cl;

    if (rd->head == NULL) {
        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        return;
    }

    deadline = rd->head->deadline;

    if (rd->requeued || rd->state != NGX_HTTP_AIGW_REDIS_READY) {
        for (cl = rd->head->next; cl; cl = cl->next) {
            if ((ngx_msec_int_t) (cl->deadline - deadline) < 0) {
                deadline = cl->deadline;
            }
        }
    }

    left = (ngx_msec_int_t) (deadline - ngx_current_msec);

    if (left < 1) {
        left = 1;
    }

    /* ngx_add_timer() keeps a timer less than 300 ms off: not this one */

    if (rd->timer.timer_set
        && rd->timer.timer.key != ngx_current_msec + left)
    {
        ngx_del_timer(&rd->timer);
    }

    ngx_add_timer(&rd->timer, (ngx_msec_t) left);
}


/* nothing outstanding */

static void
ngx_http_aigw_redis_idle(ngx_http_aigw_redis_t *rd)
{
    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (ngx_exiting || ngx_terminate) {
        ngx_http_aigw_redis_close(rd);
    }
}


/*
 * the connection is gone: every call fails, the breaker opens (once
 * logged); the handlers run last, so that one may send (and be declined)
 */

static void
ngx_http_aigw_redis_fault(ngx_http_aigw_redis_t *rd, const char *reason)
{
    ngx_http_aigw_redis_call_t  *cl, *calls;

    calls = rd->head;

    rd->head = NULL;
    rd->last = &rd->head;
    rd->unsent = NULL;
    rd->requeued = 0;

    ngx_http_aigw_redis_close(rd);

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (!rd->down) {
        rd->down = 1;
        rd->backoff = rd->probe;

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "aigw: redis %V is unavailable (%s): "
                      "limits follow fail=%s",
                      &rd->name, reason,
                      ngx_http_aigw_redis_fail_names[rd->fail]);

    } else {
        rd->backoff = rd->backoff ? rd->backoff * 2 : rd->probe;

        if (rd->backoff > NGX_HTTP_AIGW_REDIS_BACKOFF_MAX) {
            rd->backoff = ngx_max(NGX_HTTP_AIGW_REDIS_BACKOFF_MAX, rd->probe);
        }

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "aigw: redis %V is still unavailable (%s), "
                      "next probe in %M ms", &rd->name, reason, rd->backoff);
    }

    rd->retry = ngx_current_msec + rd->backoff;

    while (calls) {
        cl = calls;
        calls = cl->next;

        if (cl->kind == NGX_HTTP_AIGW_REDIS_USER && cl->handler) {
            cl->handler(cl->data, NULL);
        }

        ngx_free(cl);
    }
}


static void
ngx_http_aigw_redis_close(ngx_http_aigw_redis_t *rd)
{
    ngx_connection_t  *c;

    c = rd->connection;

    if (c == NULL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "aigw redis: close connection to %V", &rd->name);

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);

    rd->connection = NULL;
    rd->state = NGX_HTTP_AIGW_REDIS_NONE;

    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }

    if (rd->pool) {
        ngx_destroy_pool(rd->pool);
        rd->pool = NULL;
    }

    rd->out_pos = 0;
    rd->out_len = 0;
}


/* one block: the call, its ptrs[] and lens[], a copy of the arguments */

static ngx_http_aigw_redis_call_t *
ngx_http_aigw_redis_call(ngx_http_aigw_redis_script_t *script,
    ngx_uint_t argc, ngx_str_t *argv)
{
    int                          n;
    size_t                       size;
    u_char                      *p;
    ngx_uint_t                   i;
    ngx_http_aigw_redis_call_t  *cl;

    if (script && !script->ready) {
        ngx_http_aigw_redis_script_sha1(script);
    }

    n = (int) argc + (script ? 2 : 0);

    size = sizeof(ngx_http_aigw_redis_call_t)
           + n * (sizeof(char *) + sizeof(size_t));

    for (i = 0; i < argc; i++) {
        size += argv[i].len + 1;
    }

    cl = ngx_alloc(size, ngx_cycle->log);
    if (cl == NULL) {
        return NULL;
    }

    ngx_memzero(cl, sizeof(ngx_http_aigw_redis_call_t));

    cl->script = script;
    cl->argc = n;
    cl->ptrs = (const char **) (cl + 1);
    cl->lens = (size_t *) (cl->ptrs + n);

    p = (u_char *) (cl->lens + n);
    n = 0;

    if (script) {
        cl->ptrs[0] = "EVALSHA";
        cl->lens[0] = 7;
        cl->ptrs[1] = (const char *) script->sha1;
        cl->lens[1] = 40;
        n = 2;
    }

    for (i = 0; i < argc; i++) {
        cl->ptrs[n] = (const char *) p;
        cl->lens[n] = argv[i].len;
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
        *p++ = '\0';
        n++;
    }

    return cl;
}


static void
ngx_http_aigw_redis_append(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_call_t *cl)
{
    *rd->last = cl;
    rd->last = &cl->next;

    if (rd->unsent == NULL && rd->state == NGX_HTTP_AIGW_REDIS_READY) {
        rd->unsent = cl;
    }
}


static ngx_int_t
ngx_http_aigw_redis_format(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_call_t *cl)
{
    int      len;
    char    *cmd;
    size_t   size;
    u_char  *out;

    len = redisFormatCommandArgv(&cmd, cl->argc, cl->ptrs, cl->lens);
    if (len < 0) {
        return NGX_ERROR;
    }

    if (rd->out_len + len > rd->out_size) {
        size = ngx_max(rd->out_size * 2, rd->out_len + len);
        size = ngx_max(size, 4096);

        out = ngx_alloc(size, ngx_cycle->log);
        if (out == NULL) {
            redisFreeCommand(cmd);
            return NGX_ERROR;
        }

        if (rd->out) {
            ngx_memcpy(out, rd->out, rd->out_len);
            ngx_free(rd->out);
        }

        rd->out = out;
        rd->out_size = size;
    }

    ngx_memcpy(rd->out + rd->out_len, cmd, len);
    rd->out_len += len;

    redisFreeCommand(cmd);

    return NGX_OK;
}


static void
ngx_http_aigw_redis_script_sha1(ngx_http_aigw_redis_script_t *script)
{
    u_char        hash[20];
    ngx_sha1_t    sha1;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, script->body.data, script->body.len);
    ngx_sha1_final(hash, &sha1);

    ngx_hex_dump(script->sha1, hash, 20);

    script->ready = 1;
}


/*
 * aigw_redis URL [password_env=NAME] [timeout=TIME] [connect_timeout=TIME]
 *     [fail=local|open|closed] [probe=TIME] [ssl_verify=on|off]
 *     [ssl_trusted_certificate=FILE]
 */

char *
ngx_http_aigw_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    char                   *rv, *env;
    ngx_str_t              *value, s, name;
    ngx_uint_t              i;
    ngx_msec_t              ms;
    ngx_http_aigw_redis_t  *rd;

    if (amcf->redis) {
        return "is duplicate";
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_redis_t));
    if (rd == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->timeout = NGX_CONF_UNSET_MSEC;
    rd->connect_timeout = NGX_CONF_UNSET_MSEC;
    rd->probe = NGX_CONF_UNSET_MSEC;
    rd->fail = ngx_http_aigw_redis_fail_local;
    rd->ssl_verify = 1;

    value = cf->args->elts;

    rv = ngx_http_aigw_redis_parse_url(cf, rd, &value[1]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password_env=", 13) == 0) {
            name.data = value[i].data + 13;
            name.len = value[i].len - 13;

            if (name.len == 0) {
                return "has an empty \"password_env=\"";
            }

            env = getenv((char *) name.data);

            if (env == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "aigw_redis: the environment variable "
                                   "\"%V\" of \"password_env=\" is not set",
                                   &name);
                return NGX_CONF_ERROR;
            }

            s.len = ngx_strlen(env);
            s.data = ngx_pnalloc(cf->pool, s.len + 1);
            if (s.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(s.data, env, s.len + 1);
            rd->password = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0
            || ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0
            || ngx_strncmp(value[i].data, "probe=", 6) == 0)
        {
            s.data = (u_char *) ngx_strlchr(value[i].data,
                                            value[i].data + value[i].len, '=')
                     + 1;
            s.len = value[i].data + value[i].len - s.data;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "aigw_redis: invalid time in \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 't') {
                rd->timeout = ms;

            } else if (value[i].data[0] == 'c') {
                rd->connect_timeout = ms;

            } else {
                rd->probe = ms;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "fail=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 5 && ngx_strncmp(s.data, "local", 5) == 0) {
                rd->fail = ngx_http_aigw_redis_fail_local;

            } else if (s.len == 4 && ngx_strncmp(s.data, "open", 4) == 0) {
                rd->fail = ngx_http_aigw_redis_fail_open;

            } else if (s.len == 6 && ngx_strncmp(s.data, "closed", 6) == 0) {
                rd->fail = ngx_http_aigw_redis_fail_closed;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "aigw_redis: invalid \"%V\", expected "
                                   "fail=local, fail=open or fail=closed",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=on") == 0) {
            rd->ssl_verify = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=off") == 0) {
            rd->ssl_verify = 0;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ssl_trusted_certificate=", 24) == 0) {
            s.data = value[i].data + 24;
            s.len = value[i].len - 24;

            if (s.len == 0) {
                return "has an empty \"ssl_trusted_certificate=\"";
            }

            rd->ssl_trusted_certificate = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_redis: invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (rd->timeout == NGX_CONF_UNSET_MSEC) {
        rd->timeout = 50;
    }

    if (rd->connect_timeout == NGX_CONF_UNSET_MSEC) {
        rd->connect_timeout = ngx_max(rd->timeout, 1000);
    }

    if (rd->probe == NGX_CONF_UNSET_MSEC) {
        rd->probe = 1000;
    }

    if (rd->user.len && rd->password.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_redis: the user of the URL has no password "
                           "(\"user:password@\" or \"password_env=\")");
        return NGX_CONF_ERROR;
    }

    if (rd->password.data && rd->password.len == 0) {
        return "has an empty password";
    }

    if (rd->tls) {
#if (NGX_HTTP_SSL)
        rd->ssl = ngx_http_aigw_ssl_create(cf, rd->ssl_verify,
                                           &rd->ssl_trusted_certificate, 3);
        if (rd->ssl == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_redis: rediss:// needs nginx built with "
                           "the http_ssl_module");
        return NGX_CONF_ERROR;
#endif
    }

    amcf->redis = rd;

    return NGX_CONF_OK;
}


/* redis[s]://[user:password@]host[:port][/db]; the URL is never logged */

static char *
ngx_http_aigw_redis_parse_url(ngx_conf_t *cf, ngx_http_aigw_redis_t *rd,
    ngx_str_t *url)
{
    u_char     *p, *last, *at, *slash, *colon, *dst;
    ngx_url_t   u;
    ngx_str_t   s;

    p = url->data;
    last = p + url->len;

    if (url->len > 8 && ngx_strncasecmp(p, (u_char *) "redis://", 8) == 0) {
        p += 8;

    } else if (url->len > 9
               && ngx_strncasecmp(p, (u_char *) "rediss://", 9) == 0)
    {
        p += 9;
        rd->tls = 1;

    } else {
        goto invalid;
    }

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        slash = last;
    }

    at = NULL;

    for (dst = p; dst < slash; dst++) {
        if (*dst == '@') {
            at = dst;
        }
    }

    if (at) {
        /* "user" alone: its password comes from password_env= */

        colon = ngx_strlchr(p, at, ':');

        if (colon == NULL) {
            colon = at;
        }

        if (colon > p) {
            rd->user.data = ngx_pnalloc(cf->pool, colon - p + 1);
            if (rd->user.data == NULL) {
                return NGX_CONF_ERROR;
            }

            dst = rd->user.data;
            s.data = p;
            ngx_unescape_uri(&dst, &s.data, colon - p, 0);
            rd->user.len = dst - rd->user.data;
            *dst = '\0';
        }

        if (at > colon + 1) {
            rd->password.data = ngx_pnalloc(cf->pool, at - colon);
            if (rd->password.data == NULL) {
                return NGX_CONF_ERROR;
            }

            dst = rd->password.data;
            s.data = colon + 1;
            ngx_unescape_uri(&dst, &s.data, at - colon - 1, 0);
            rd->password.len = dst - rd->password.data;
            *dst = '\0';
        }

        p = at + 1;
    }

    if (slash < last) {
        rd->db.data = slash + 1;
        rd->db.len = last - slash - 1;

        if (rd->db.len && ngx_atoi(rd->db.data, rd->db.len) == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "aigw_redis: invalid database number "
                               "\"%V\" in the URL", &rd->db);
            return NGX_CONF_ERROR;
        }
    }

    if (p == slash) {
        goto invalid;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = p;
    u.url.len = slash - p;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_redis: %s in \"%V\" of the URL",
                           u.err ? u.err : "no address", &u.url);
        return NGX_CONF_ERROR;
    }

    if (u.no_port) {
        u.port = 6379;
    }

    rd->addr = u.addrs[0];

    rd->name.data = ngx_pnalloc(cf->pool, u.host.len + sizeof(":65535") - 1);
    if (rd->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->name.len = ngx_sprintf(rd->name.data, "%V:%d", &u.host, (int) u.port)
                   - rd->name.data;

    rd->host.data = ngx_pnalloc(cf->pool, u.host.len + 1);
    if (rd->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    /* an IPv6 host comes in brackets */

    if (u.host.len > 2 && u.host.data[0] == '[') {
        u.host.data++;
        u.host.len -= 2;
    }

    rd->host.len = u.host.len;
    ngx_memcpy(rd->host.data, u.host.data, u.host.len);
    rd->host.data[u.host.len] = '\0';

    rd->host_ip = (ngx_inet_addr(rd->host.data, rd->host.len) != INADDR_NONE
                   || ngx_strlchr(rd->host.data, rd->host.data + rd->host.len,
                                  ':')
                      != NULL);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "aigw_redis: invalid URL, expected "
                       "redis://[user:password@]host[:port][/db] "
                       "or rediss://...");
    return NGX_CONF_ERROR;
}
