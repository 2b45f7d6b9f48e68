
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Alerts (aigw_alert): a small JSON event POSTed to a webhook, with a
 * Slack-compatible "text" and structured fields, when a budget crosses
 * its warn= threshold (budget_warn), refuses a request (budget_exceeded)
 * or a target's circuit opens (circuit_open).
 *
 * Each alert is one nginx-owned, non-blocking HTTP/1.1 connection of the
 * worker (https:// through nginx's OpenSSL), closed after the response's
 * status line, within timeout=; it is never retried, and a worker has at
 * most NGX_HTTP_AIGW_ALERT_INFLIGHT of them at once (more are dropped,
 * and logged).  The webhook URL is never logged: it often holds a token.
 */


#define NGX_HTTP_AIGW_ALERT_BUDGET_WARN      0x01
#define NGX_HTTP_AIGW_ALERT_BUDGET_EXCEEDED  0x02
#define NGX_HTTP_AIGW_ALERT_CIRCUIT_OPEN     0x04

#define NGX_HTTP_AIGW_ALERT_INFLIGHT         16


typedef struct {
    ngx_url_t                       url;
    ngx_str_t                       host;      /* Host header */
    ngx_str_t                       uri;
    ngx_uint_t                      events;
    ngx_msec_t                      timeout;
    ngx_uint_t                      inflight;  /* of this worker */
    ngx_flag_t                      ssl_verify;
    ngx_str_t                       ssl_trusted_certificate;
    unsigned                        tls:1;
    unsigned                        host_ip:1;  /* an address, no SNI */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                      *ssl;
#endif
} ngx_http_aigw_alert_conf_t;


typedef struct {
    ngx_http_aigw_alert_conf_t     *conf;
    ngx_pool_t                     *pool;
    ngx_connection_t               *connection;
    ngx_buf_t                      *out;
    const char                     *event;
    u_char                          in[256];
    size_t                          in_len;
} ngx_http_aigw_alert_t;


static void ngx_http_aigw_alert_post(ngx_log_t *log,
    ngx_http_aigw_alert_conf_t *ac, const char *event, ngx_str_t *body);
static void ngx_http_aigw_alert_send(ngx_event_t *wev);
static void ngx_http_aigw_alert_read(ngx_event_t *rev);
static void ngx_http_aigw_alert_done(ngx_http_aigw_alert_t *al,
    ngx_uint_t level, const char *what);
#if (NGX_HTTP_SSL)
static void ngx_http_aigw_alert_ssl_handshake(ngx_connection_t *c);
#endif
static void ngx_http_aigw_alert_all(ngx_http_request_t *r, ngx_uint_t event,
    const char *name, ngx_str_t *body);
static u_char *ngx_http_aigw_alert_escape(u_char *p, ngx_str_t *s);

char *ngx_http_aigw_alert_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* a budget crossed its warn= threshold (exceeded 0), or refused */

void
ngx_http_aigw_alert_budget(ngx_http_request_t *r, ngx_str_t *budget,
    ngx_str_t *counter, int64_t used, int64_t amount, ngx_uint_t exceeded)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    body, once;
    const char  *event;

    if (ngx_http_aigw_obs_alerts(r) == NULL) {
        return;
    }

    event = exceeded ? "budget_exceeded" : "budget_warn";

    /* a refusing budget alerts once per period (its counter's key) */

    if (exceeded) {
        once.len = sizeof("budget_exceeded:") - 1 + counter->len;
        once.data = ngx_pnalloc(r->pool, once.len);
        if (once.data == NULL) {
            return;
        }

        ngx_sprintf(once.data, "budget_exceeded:%V", counter);

        if (!ngx_http_aigw_obs_once(r, &once, 0)) {
            return;
        }
    }

    len = 256 + 2 * 6 * budget->len + 4 * NGX_INT64_LEN;

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return;
    }

    p = ngx_sprintf(body.data, "{\"text\":\"aigw: budget \\\"");
    p = ngx_http_aigw_alert_escape(p, budget);
    p = ngx_sprintf(p, "\\\" %s: $%L.%06L of $%L.%06L used\","
                    "\"event\":\"%s\",\"budget\":\"",
                    exceeded ? "is exhausted" : "crossed its warning",
                    used / 1000000, used % 1000000,
                    amount / 1000000, amount % 1000000, event);
    p = ngx_http_aigw_alert_escape(p, budget);
    p = ngx_sprintf(p, "\",\"used_usd\":%L.%06L,\"amount_usd\":%L.%06L,"
                    "\"time\":%T}", used / 1000000, used % 1000000,
                    amount / 1000000, amount % 1000000, ngx_time());

    body.len = p - body.data;

    ngx_http_aigw_alert_all(r, exceeded ? NGX_HTTP_AIGW_ALERT_BUDGET_EXCEEDED
                                        : NGX_HTTP_AIGW_ALERT_BUDGET_WARN,
                            event, &body);
}


/* a target's circuit opened */

void
ngx_http_aigw_alert_circuit(ngx_http_request_t *r, ngx_str_t *provider,
    ngx_str_t *model, ngx_msec_t open)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   body;

    if (ngx_http_aigw_obs_alerts(r) == NULL) {
        return;
    }

    len = 256 + 2 * 6 * (provider->len + model->len) + 2 * NGX_INT64_LEN;

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return;
    }

    p = ngx_sprintf(body.data, "{\"text\":\"aigw: the circuit of provider "
                    "\\\"");
    p = ngx_http_aigw_alert_escape(p, provider);
    p = ngx_sprintf(p, "\\\" model \\\"");
    p = ngx_http_aigw_alert_escape(p, model);
    p = ngx_sprintf(p, "\\\" is open for %Mms\",\"event\":\"circuit_open\","
                    "\"provider\":\"", open);
    p = ngx_http_aigw_alert_escape(p, provider);
    p = ngx_sprintf(p, "\",\"model\":\"");
    p = ngx_http_aigw_alert_escape(p, model);
    p = ngx_sprintf(p, "\",\"open_ms\":%M,\"time\":%T}", open, ngx_time());

    body.len = p - body.data;

    ngx_http_aigw_alert_all(r, NGX_HTTP_AIGW_ALERT_CIRCUIT_OPEN,
                            "circuit_open", &body);
}


/* JSON string contents; the caller allows 6 bytes per byte */

static u_char *
ngx_http_aigw_alert_escape(u_char *p, ngx_str_t *s)
{
    return (u_char *) ngx_escape_json(p, s->data, s->len);
}


static void
ngx_http_aigw_alert_all(ngx_http_request_t *r, ngx_uint_t event,
    const char *name, ngx_str_t *body)
{
    ngx_uint_t                   i;
    ngx_array_t                 *alerts;
    ngx_http_aigw_alert_conf_t  *ac;

    alerts = ngx_http_aigw_obs_alerts(r);
    ac = alerts->elts;

    for (i = 0; i < alerts->nelts; i++) {
        if (ac[i].events & event) {
            ngx_http_aigw_alert_post(r->connection->log, &ac[i], name, body);
        }
    }
}


static void
ngx_http_aigw_alert_post(ngx_log_t *log, ngx_http_aigw_alert_conf_t *ac,
    const char *event, ngx_str_t *body)
{
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_pool_t             *pool;
    ngx_connection_t       *c;
    ngx_http_aigw_alert_t  *al;

    if (ac->inflight >= NGX_HTTP_AIGW_ALERT_INFLIGHT) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "aigw: alert %s to %V dropped: %ui alerts are being "
                      "sent", event, &ac->url.host, ac->inflight);
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    al = ngx_pcalloc(pool, sizeof(ngx_http_aigw_alert_t));
    b = ngx_create_temp_buf(pool, 256 + ac->host.len + ac->uri.len
                                  + body->len);
    if (al == NULL || b == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    b->last = ngx_sprintf(b->last, "POST %V HTTP/1.1\r\n"
                          "Host: %V\r\n"
                          "User-Agent: aigw/" NGX_HTTP_AIGW_VERSION "\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: %uz\r\n"
                          "Connection: close\r\n\r\n%V",
                          &ac->uri, &ac->host, body->len, body);

    al->conf = ac;
    al->pool = pool;
    al->out = b;
    al->event = event;

    c = ngx_http_aigw_connect(ac->url.addrs[0].sockaddr,
                              ac->url.addrs[0].socklen, &ac->url.host,
                              ngx_cycle->log, &rc);

    if (c == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "aigw: alert %s to %V failed: cannot connect",
                      event, &ac->url.host);
        ngx_destroy_pool(pool);
        return;
    }

    c->data = al;
    c->pool = pool;
    c->read->handler = ngx_http_aigw_alert_read;
    c->write->handler = ngx_http_aigw_alert_send;

    al->connection = c;
    ac->inflight++;

    /* one deadline for all of it */

    ngx_add_timer(c->read, ac->timeout);

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "aigw: sending alert %s to %V", event, &ac->url.host);
}


static void
ngx_http_aigw_alert_send(ngx_event_t *wev)
{
    ssize_t                 n;
    ngx_buf_t              *b;
    ngx_connection_t       *c;
    ngx_http_aigw_alert_t  *al;

    c = wev->data;
    al = c->data;
    b = al->out;

#if (NGX_HTTP_SSL)

    if (al->conf->tls && c->ssl == NULL) {
        ngx_int_t  rc;

        if (ngx_http_aigw_ssl_client(c, al->conf->ssl, &al->conf->url.host,
                                     al->conf->host_ip)
            != NGX_OK)
        {
            ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "TLS setup failed");
            return;
        }

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            c->ssl->handler = ngx_http_aigw_alert_ssl_handshake;
            return;
        }

        ngx_http_aigw_alert_ssl_handshake(c);
        return;
    }

#endif

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "send failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "send failed");
            return;
        }

        b->pos += n;
    }

    c->write->handler = ngx_http_aigw_alert_read;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "read failed");
    }
}


#if (NGX_HTTP_SSL)

static void
ngx_http_aigw_alert_ssl_handshake(ngx_connection_t *c)
{
    long                    verify;
    ngx_http_aigw_alert_t  *al;

    al = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "TLS handshake failed");
        return;
    }

    if (al->conf->ssl_verify) {
        verify = SSL_get_verify_result(c->ssl->connection);

        if (verify != X509_V_OK
            || ngx_http_aigw_ssl_check_host(c, &al->conf->url.host,
                                            al->conf->host_ip)
               != NGX_OK)
        {
            ngx_http_aigw_alert_done(al, NGX_LOG_ERR,
                                     "its certificate is not trusted");
            return;
        }
    }

    c->read->handler = ngx_http_aigw_alert_read;
    c->write->handler = ngx_http_aigw_alert_send;

    ngx_http_aigw_alert_send(c->write);
}

#endif


/* the response's status line is all that is read */

static void
ngx_http_aigw_alert_read(ngx_event_t *rev)
{
    u_char                 *p, *last;
    ssize_t                 n;
    ngx_int_t               status;
    ngx_connection_t       *c;
    ngx_http_aigw_alert_t  *al;

    c = rev->data;
    al = c->data;

    if (c->read->timedout) {
        ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "timed out");
        return;
    }

    if (rev != c->read || al->out->pos < al->out->last) {

        /* a write event after the request was sent, or a read before */

        if (rev == c->read && ngx_handle_read_event(rev, 0) != NGX_OK) {
            ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "read failed");
        }

        return;
    }

    for ( ;; ) {
        n = c->recv(c, al->in + al->in_len, sizeof(al->in) - al->in_len);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "read failed");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_aigw_alert_done(al, NGX_LOG_ERR,
                                     "the webhook closed the connection");
            return;
        }

        al->in_len += n;

        last = al->in + al->in_len;
        p = ngx_strlchr(al->in, last, '\n');

        if (p || al->in_len == sizeof(al->in)) {
            break;
        }
    }

    /* HTTP/1.x NNN */

    status = NGX_ERROR;

    if (al->in_len >= 12 && ngx_strncmp(al->in, "HTTP/1.", 7) == 0) {
        status = ngx_atoi(al->in + 9, 3);
    }

    if (status >= 200 && status < 300) {
        ngx_http_aigw_alert_done(al, NGX_LOG_INFO, "delivered");
        return;
    }

    if (status == NGX_ERROR) {
        ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "invalid response");
        return;
    }

    ngx_http_aigw_alert_done(al, NGX_LOG_ERR, "refused by the webhook");
}


static void
ngx_http_aigw_alert_done(ngx_http_aigw_alert_t *al, ngx_uint_t level,
    const char *what)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = al->connection;
    pool = al->pool;

    if (al->in_len >= 12) {
        ngx_log_error(level, ngx_cycle->log, 0,
                      "aigw: alert %s to %V %s: %*s", al->event,
                      &al->conf->url.host, what, (size_t) 12, al->in);

    } else {
        ngx_log_error(level, ngx_cycle->log, 0, "aigw: alert %s to %V %s",
                      al->event, &al->conf->url.host, what);
    }

    al->conf->inflight--;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);
    ngx_destroy_pool(pool);
}


/*
 * aigw_alert url=http[s]://host[:port]/path
 *     events=budget_warn,budget_exceeded,circuit_open [timeout=5s]
 *     [ssl_verify=on|off] [ssl_trusted_certificate=FILE]
 */

char *
ngx_http_aigw_alert_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                      *e, *last, *comma;
    ngx_str_t                   *value, name, url;
    ngx_uint_t                   i;
    ngx_array_t                **alerts;
    ngx_http_aigw_alert_conf_t  *ac;

    alerts = (ngx_array_t **) (p + cmd->offset);

    if (*alerts == NULL) {
        *alerts = ngx_array_create(cf->pool, 1,
                                   sizeof(ngx_http_aigw_alert_conf_t));
        if (*alerts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ac = ngx_array_push(*alerts);
    if (ac == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(ac, sizeof(ngx_http_aigw_alert_conf_t));

    ac->timeout = 5000;
    ac->ssl_verify = 1;
    ngx_str_null(&url);

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "url=", 4) == 0) {
            url.data = value[i].data + 4;
            url.len = value[i].len - 4;
            continue;
        }

        if (ngx_strncmp(value[i].data, "events=", 7) == 0) {
            e = value[i].data + 7;
            last = value[i].data + value[i].len;

            while (e < last) {
                comma = ngx_strlchr(e, last, ',');
                if (comma == NULL) {
                    comma = last;
                }

                name.data = e;
                name.len = comma - e;

                if (name.len == 11
                    && ngx_strncmp(e, "budget_warn", 11) == 0)
                {
                    ac->events |= NGX_HTTP_AIGW_ALERT_BUDGET_WARN;

                } else if (name.len == 15
                           && ngx_strncmp(e, "budget_exceeded", 15) == 0)
                {
                    ac->events |= NGX_HTTP_AIGW_ALERT_BUDGET_EXCEEDED;

                } else if (name.len == 12
                           && ngx_strncmp(e, "circuit_open", 12) == 0)
                {
                    ac->events |= NGX_HTTP_AIGW_ALERT_CIRCUIT_OPEN;

                } else {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unknown event \"%V\": the events "
                                       "are budget_warn, budget_exceeded "
                                       "and circuit_open", &name);
                    return NGX_CONF_ERROR;
                }

                e = comma + 1;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            name.data = value[i].data + 8;
            name.len = value[i].len - 8;

            ac->timeout = ngx_parse_time(&name, 0);

            if (ac->timeout == (ngx_msec_t) NGX_ERROR || ac->timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\"", &name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=on") == 0) {
            ac->ssl_verify = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "ssl_verify=off") == 0) {
            ac->ssl_verify = 0;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ssl_trusted_certificate=", 24) == 0) {
            ac->ssl_trusted_certificate.data = value[i].data + 24;
            ac->ssl_trusted_certificate.len = value[i].len - 24;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (url.len == 0) {
        return "needs url=";
    }

    if (ac->events == 0) {
        ac->events = NGX_HTTP_AIGW_ALERT_BUDGET_WARN
                     | NGX_HTTP_AIGW_ALERT_BUDGET_EXCEEDED
                     | NGX_HTTP_AIGW_ALERT_CIRCUIT_OPEN;
    }

    if (url.len > 8 && ngx_strncasecmp(url.data, (u_char *) "https://", 8)
                       == 0)
    {
        ac->tls = 1;
        ac->url.url.data = url.data + 8;
        ac->url.url.len = url.len - 8;
        ac->url.default_port = 443;

    } else if (url.len > 7
               && ngx_strncasecmp(url.data, (u_char *) "http://", 7) == 0)
    {
        ac->url.url.data = url.data + 7;
        ac->url.url.len = url.len - 7;
        ac->url.default_port = 80;

    } else {
        return "needs an http:// or https:// url=";
    }

    ac->url.uri_part = 1;

    if (ngx_parse_url(cf->pool, &ac->url) != NGX_OK) {
        if (ac->url.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in the url= of aigw_alert", ac->url.err);
        }

        return NGX_CONF_ERROR;
    }

    if (ac->url.naddrs == 0) {
        return "has a url= whose host does not resolve";
    }

    /* NUL-terminated, for SNI */

    name.data = ngx_pnalloc(cf->pool, ac->url.host.len + 1);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(name.data, ac->url.host.data, ac->url.host.len);
    name.data[ac->url.host.len] = '\0';
    ac->url.host.data = name.data;

    ac->host = ac->url.host;

    ac->host_ip = (ngx_inet_addr(ac->url.host.data, ac->url.host.len)
                   != INADDR_NONE);
#if (NGX_HAVE_INET6)
    {
        u_char  buf[16];

        if (ngx_inet6_addr(ac->url.host.data, ac->url.host.len, buf)
            == NGX_OK)
        {
            ac->host_ip = 1;
        }
    }
#endif

    if (!ac->url.no_port && ac->url.port != ac->url.default_port) {
        ac->host.data = ngx_pnalloc(cf->pool, ac->url.host.len + 8);
        if (ac->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ac->host.len = ngx_sprintf(ac->host.data, "%V:%d", &ac->url.host,
                                   (int) ac->url.port)
                       - ac->host.data;
    }

    ac->uri = ac->url.uri;

    if (ac->uri.len == 0) {
        ngx_str_set(&ac->uri, "/");
    }

    if (!ac->tls) {
        return NGX_CONF_OK;
    }

#if (NGX_HTTP_SSL)
    ac->ssl = ngx_http_aigw_ssl_create(cf, ac->ssl_verify,
                                       &ac->ssl_trusted_certificate, 3);
    if (ac->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
#else
    return "needs nginx built with the http_ssl_module for https://";
#endif
}
