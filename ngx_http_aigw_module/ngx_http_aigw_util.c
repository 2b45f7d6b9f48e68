
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Small helpers every stage uses.  A leaf: it calls nothing of the module
 * but the JSON writer, so that the handler, the upstream callbacks, the
 * error writer and the adapters depend on it and not on each other.
 */


/* indexed by ngx_http_aigw_failure_e */

ngx_str_t  ngx_http_aigw_failure_names[] = {
    ngx_null_string,
    ngx_string("down"),
    ngx_string("no key"),
    ngx_string("unresolved"),
    ngx_string("timeout"),
    ngx_string("error"),
    ngx_string("invalid"),
    ngx_null_string
};


/*
 * Rate limited or overloaded: the provider's state, for a cooldown, not a
 * failure of its server.
 */

ngx_uint_t
ngx_http_aigw_overloaded(ngx_uint_t status)
{
    return status == NGX_HTTP_TOO_MANY_REQUESTS
           || status == NGX_HTTP_SERVICE_UNAVAILABLE
           || status == NGX_HTTP_AIGW_OVERLOADED;
}


/* a response header for the client */

ngx_int_t
ngx_http_aigw_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    /* a value that would split the header is never written */

    for (p = value->data, last = p + value->len; p < last; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "aigw: the \"%s\" header is left out: its value "
                          "has control characters", key);
            return NGX_OK;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
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


/* "primary:503,backup:timeout" */

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
               + ngx_http_aigw_failure_names[a[i].failure].len;
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

        } else if (a[i].failure) {
            p = ngx_cpymem(p, ngx_http_aigw_failure_names[a[i].failure].data,
                           ngx_http_aigw_failure_names[a[i].failure].len);

        } else {
            *p++ = '-';
        }
    }

    out->len = p - out->data;
}


/* a time as RFC 3339 in UTC: "2026-12-05T00:00:00Z", 20 bytes */

u_char *
ngx_http_aigw_rfc3339(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}



/* a query argument, URL-decoded ("+" is a space); NGX_DECLINED: none */

ngx_int_t
ngx_http_aigw_query_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *src, *dst;
    ngx_str_t   raw;
    ngx_uint_t  i;

    ngx_str_null(value);

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK
        || raw.len == 0)
    {
        return NGX_DECLINED;
    }

    src = ngx_pnalloc(r->pool, raw.len * 2);
    if (src == NULL) {
        return NGX_DECLINED;
    }

    for (i = 0; i < raw.len; i++) {
        src[i] = (raw.data[i] == '+') ? ' ' : raw.data[i];
    }

    value->data = src + raw.len;
    dst = value->data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    return value->len ? NGX_OK : NGX_DECLINED;
}

/*
 * An outbound connection of the module's own (an alert, a Redis server,
 * a token endpoint): NULL when it cannot be made, else the connection,
 * with *rc NGX_OK (connected) or NGX_AGAIN (in progress).
 */

ngx_connection_t *
ngx_http_aigw_connect(struct sockaddr *sockaddr, socklen_t socklen,
    ngx_str_t *name, ngx_log_t *log, ngx_int_t *rc)
{
    ngx_peer_connection_t  pc;

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));

    pc.sockaddr = sockaddr;
    pc.socklen = socklen;
    pc.name = name;
    pc.get = ngx_event_get_peer;
    pc.log = log;
    pc.log_error = NGX_ERROR_ERR;

    *rc = ngx_event_connect_peer(&pc);

    if (*rc == NGX_ERROR || *rc == NGX_BUSY || *rc == NGX_DECLINED) {
        if (pc.connection) {
            ngx_close_connection(pc.connection);
        }

        return NULL;
    }

    return pc.connection;
}


/* the error of a non-blocking connect(), 0 when it succeeded */

ngx_err_t
ngx_http_aigw_connect_error(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    return err;
}


#if (NGX_HTTP_SSL)

/*
 * TLS on a connection to host, with SNI unless host is an address;
 * host.data is NUL-terminated.  The caller starts the handshake.
 */

ngx_int_t
ngx_http_aigw_ssl_client(ngx_connection_t *c, ngx_ssl_t *ssl,
    ngx_str_t *host, ngx_uint_t host_ip)
{
    if (ssl == NULL
        || ngx_ssl_create_connection(ssl, c, NGX_SSL_CLIENT) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!host_ip
        && SSL_set_tlsext_host_name(c->ssl->connection, (char *) host->data)
           == 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the certificate names the host: a DNS name, or an address */

ngx_int_t
ngx_http_aigw_ssl_check_host(ngx_connection_t *c, ngx_str_t *host,
    ngx_uint_t host_ip)
{
    int    rc;
    X509  *cert;

    if (!host_ip) {
        return ngx_ssl_check_host(c, host);
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return NGX_ERROR;
    }

    rc = X509_check_ip_asc(cert, (char *) host->data, 0);

    X509_free(cert);

    return (rc == 1) ? NGX_OK : NGX_ERROR;
}

#endif
