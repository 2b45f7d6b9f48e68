
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "ngx_http_aigw_module.h"


/*
 * Vertex AI providers (project=, location=, credentials=): the request
 * path of a publisher's model, and the OAuth2 access token of a service
 * account, from a self-signed RS256 JWT exchanged at the token endpoint
 * (RFC 7523).
 *
 * The token is kept per worker.  A request whose plan has a Vertex
 * provider without a valid token waits (a stage after the plan, see
 * ngx_http_aigw_suspend()) for the worker's one fetch; a token close to
 * its end is refreshed in the background while requests go on with it.
 * A failed fetch leaves the provider without a token: its targets are
 * skipped (failover) until a later fetch, at most one a second, works.
 * The fetch is an HTTP/1.1 POST on a connection nginx owns, with
 * "Connection: close", the body read to its end.
 */


#define NGX_HTTP_AIGW_VERTEX_TOKEN_MAX   4096
#define NGX_HTTP_AIGW_VERTEX_RESPONSE    65536
#define NGX_HTTP_AIGW_VERTEX_TIMEOUT     10000      /* ms, the whole fetch */
#define NGX_HTTP_AIGW_VERTEX_EARLY       300        /* s before the end */
#define NGX_HTTP_AIGW_VERTEX_RETRY       1          /* s after a failure */
#define NGX_HTTP_AIGW_VERTEX_LIFETIME    3600       /* s, of the JWT */

#define NGX_HTTP_AIGW_VERTEX_SCOPE                                           \
    "https://www.googleapis.com/auth/cloud-platform"
#define NGX_HTTP_AIGW_VERTEX_TOKEN_URI   "https://oauth2.googleapis.com/token"


struct ngx_http_aigw_vertex_s {
    ngx_str_t                       project;
    ngx_str_t                       location;
    ngx_str_t                       credentials;   /* the file */
    ngx_str_t                       token_url;     /* as configured */

    /* the service account (escaped JSON strings) */
    ngx_str_t                       email;
    ngx_str_t                       key_id;
    ngx_str_t                       aud;           /* its token_uri */
    EVP_PKEY                       *pkey;          /* NULL: unusable */

    /* the token endpoint */
    ngx_addr_t                     *addr;          /* NULL: unresolved */
    ngx_str_t                       host;          /* Host header */
    ngx_str_t                       sni;
    ngx_str_t                       path;
    unsigned                        ssl:1;
    unsigned                        host_ip:1;     /* an address, no SNI */

    /* per worker */
    u_char                          token[NGX_HTTP_AIGW_VERTEX_TOKEN_MAX];
    size_t                          token_len;
    time_t                          expires;
    time_t                          failed;
    ngx_queue_t                     waiting;       /* of requests */
    unsigned                        fetching:1;
    unsigned                        inited:1;

    /* the fetch */
    ngx_connection_t               *connection;
    ngx_pool_t                     *pool;
    ngx_buf_t                      *out;
    ngx_buf_t                      *in;
    ngx_event_t                     timer;
    ngx_log_t                      *log;
};


/* a request waiting for tokens */

typedef struct {
    ngx_http_request_t             *request;
    ngx_uint_t                      pending;       /* fetches */
    ngx_array_t                     links;         /* of its waits */
} ngx_http_aigw_vertex_wait_t;


typedef struct {
    ngx_queue_t                     queue;
    ngx_http_aigw_vertex_wait_t    *wait;
} ngx_http_aigw_vertex_link_t;


static char *ngx_http_aigw_vertex_credentials(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_http_aigw_vertex_t *vx);
static char *ngx_http_aigw_vertex_endpoint(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_http_aigw_vertex_t *vx);
static void ngx_http_aigw_vertex_free_key(void *data);
static ngx_http_aigw_outcome_e ngx_http_aigw_vertex_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_vertex_release(void *data);
static ngx_uint_t ngx_http_aigw_vertex_valid(ngx_http_aigw_vertex_t *vx);
static ngx_int_t ngx_http_aigw_vertex_fetch(ngx_http_aigw_vertex_t *vx);
static ngx_int_t ngx_http_aigw_vertex_jwt(ngx_http_aigw_vertex_t *vx,
    ngx_str_t *jwt);
static void ngx_http_aigw_vertex_connected(ngx_event_t *wev);
#if (NGX_HTTP_SSL)
static void ngx_http_aigw_vertex_ssl_handshake(ngx_connection_t *c);
#endif
static void ngx_http_aigw_vertex_write(ngx_event_t *wev);
static void ngx_http_aigw_vertex_read(ngx_event_t *rev);
static void ngx_http_aigw_vertex_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_aigw_vertex_response(ngx_http_aigw_vertex_t *vx);
static void ngx_http_aigw_vertex_done(ngx_http_aigw_vertex_t *vx,
    const char *error);


/* project=, location=, credentials=, token_url= of aigw_provider */

char *
ngx_http_aigw_vertex_param(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_str_t               *s;
    ngx_http_aigw_vertex_t  *vx;

    if (p->vertex == NULL) {
        p->vertex = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_vertex_t));
        if (p->vertex == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    vx = p->vertex;

    switch (name->data[0]) {
    case 'p':
        s = &vx->project;
        break;
    case 'l':
        s = &vx->location;
        break;
    case 'c':
        s = &vx->credentials;
        break;
    default:
        s = &vx->token_url;
        break;
    }

    if (value->len == 0 || s->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid or repeated \"%V\" in aigw_provider "
                           "\"%V\"", name, &p->name);
        return NGX_CONF_ERROR;
    }

    *s = *value;

    return NGX_CONF_OK;
}


/*
 * Once the provider is parsed: all of project=, location= and
 * credentials=; the key file read (a missing one is an error unless the
 * provider is optional); Bearer tokens instead of the format's own auth
 */

char *
ngx_http_aigw_vertex_init(ngx_conf_t *cf, ngx_http_aigw_provider_t *p)
{
    u_char                  *c;
    ngx_str_t               *s;
    ngx_uint_t               i;
    ngx_http_aigw_vertex_t  *vx;

    vx = p->vertex;

    if (vx->project.len == 0 || vx->location.len == 0
        || vx->credentials.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" on Vertex AI needs "
                           "\"project=\", \"location=\" and "
                           "\"credentials=\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(p->format->name.data, "gemini") != 0
        && ngx_strcmp(p->format->name.data, "anthropic") != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\": Vertex AI serves the "
                           "\"gemini\" and \"anthropic\" formats only",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    /* they go into the request line */

    for (i = 0; i < 2; i++) {
        s = i ? &vx->location : &vx->project;

        for (c = s->data; c < s->data + s->len; c++) {
            if (!(isalnum(*c) || *c == '-' || *c == '_' || *c == '.')) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid project or location \"%V\" in "
                                   "aigw_provider \"%V\"", s, &p->name);
                return NGX_CONF_ERROR;
            }
        }
    }

    p->auth = ngx_http_aigw_auth_none;

    ngx_queue_init(&vx->waiting);

    if (ngx_http_aigw_vertex_credentials(cf, p, vx) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (vx->pkey == NULL) {
        return NGX_CONF_OK;
    }

    return ngx_http_aigw_vertex_endpoint(cf, p, vx);
}


/* the service-account JSON key: client_email, private_key, token_uri */

static char *
ngx_http_aigw_vertex_credentials(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_http_aigw_vertex_t *vx)
{
    BIO                   *bio;
    ssize_t                n;
    ngx_str_t              raw, pem;
    ngx_file_t             file;
    ngx_uint_t             v;
    ngx_file_info_t        fi;
    ngx_pool_cleanup_t    *cln;
    ngx_http_aigw_json_t   j;

    if (ngx_conf_full_name(cf->cycle, &vx->credentials, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = vx->credentials;
    file.log = cf->log;

    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(p->optional ? NGX_LOG_WARN : NGX_LOG_EMERG, cf,
                           ngx_errno, "aigw_provider \"%V\": cannot open "
                           "credentials \"%V\"%s", &p->name, &file.name,
                           p->optional ? ", the provider is skipped" : "");
        return p->optional ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_AIGW_VERTEX_RESPONSE)
    {
        ngx_close_file(file.fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\": credentials \"%V\" are "
                           "not a service-account key file", &p->name,
                           &file.name);
        return NGX_CONF_ERROR;
    }

    raw.len = ngx_file_size(&fi);
    raw.data = ngx_pnalloc(cf->temp_pool, raw.len + 1);
    if (raw.data == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, raw.data, raw.len, 0);

    ngx_close_file(file.fd);

    if (n != (ssize_t) raw.len) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = cf->pool;
    j.record = 1;

    if (ngx_http_aigw_json_parse(&j, raw.data, raw.len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object
        || !ngx_http_aigw_json_get_str(&j, 0, "client_email", &vx->email)
        || vx->email.len == 0
        || !ngx_http_aigw_json_get_str(&j, 0, "private_key", &pem))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\": credentials \"%V\" are "
                           "not a service-account key file (client_email, "
                           "private_key)", &p->name, &file.name);
        return NGX_CONF_ERROR;
    }

    /* the strings stay: copied to the configuration's pool */

    vx->email.data = ngx_pstrdup(cf->pool, &vx->email);

    (void) ngx_http_aigw_json_get_str(&j, 0, "private_key_id", &vx->key_id);

    if (vx->key_id.len) {
        vx->key_id.data = ngx_pstrdup(cf->pool, &vx->key_id);
    }

    if (ngx_http_aigw_json_get_str(&j, 0, "token_uri", &vx->aud)
        && vx->aud.len)
    {
        vx->aud.data = ngx_pstrdup(cf->pool, &vx->aud);

    } else {
        ngx_str_set(&vx->aud, NGX_HTTP_AIGW_VERTEX_TOKEN_URI);
    }

    if (vx->email.data == NULL || vx->key_id.data == NULL
        || vx->aud.data == NULL)
    {
        return NGX_CONF_ERROR;
    }

    v = ngx_http_aigw_json_get(&j, 0, "private_key");

    ngx_http_aigw_json_str_raw(&j, v, &raw);

    if (ngx_http_aigw_json_unescape(cf->temp_pool, &raw, &pem) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    bio = BIO_new_mem_buf(pem.data, (int) pem.len);
    if (bio == NULL) {
        return NGX_CONF_ERROR;
    }

    vx->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    ngx_explicit_memzero(pem.data, pem.len);

    if (vx->pkey == NULL || EVP_PKEY_base_id(vx->pkey) != EVP_PKEY_RSA) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "aigw_provider \"%V\": the private_key of \"%V\" is "
                      "not an RSA key in PEM", &p->name, &file.name);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_aigw_vertex_free_key;
    cln->data = vx;

    return NGX_CONF_OK;
}


static void
ngx_http_aigw_vertex_free_key(void *data)
{
    ngx_http_aigw_vertex_t  *vx = data;

    EVP_PKEY_free(vx->pkey);
    vx->pkey = NULL;
}


/* token_url=, or the key file's token_uri: resolved now, as url= is */

static char *
ngx_http_aigw_vertex_endpoint(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_http_aigw_vertex_t *vx)
{
    size_t                      add;
    ngx_str_t                   url;
    ngx_url_t                   u, rs;
    ngx_http_aigw_main_conf_t  *amcf;

    url = vx->token_url.len ? vx->token_url : vx->aud;

    if (url.len > 7 && ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                       == 0)
    {
        add = 7;

    } else if (url.len > 8
               && ngx_strncasecmp(url.data, (u_char *) "https://", 8) == 0)
    {
        add = 8;
        vx->ssl = 1;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token url \"%V\" in aigw_provider "
                           "\"%V\"", &url, &p->name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = url.data + add;
    u.url.len = url.len - add;
    u.default_port = vx->ssl ? 443 : 80;
    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.host.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token url \"%V\" in aigw_provider "
                           "\"%V\"", &url, &p->name);
        return NGX_CONF_ERROR;
    }

    vx->host = u.no_port ? u.host : u.url;

    if (u.uri.len) {
        vx->host.len = u.uri.data - vx->host.data;
        vx->path = u.uri;

    } else {
        ngx_str_set(&vx->path, "/");
    }

    /* SSL_set_tlsext_host_name() wants a C string */

    vx->sni.len = u.host.len;
    vx->sni.data = ngx_pnalloc(cf->pool, u.host.len + 1);
    if (vx->sni.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(vx->sni.data, u.host.data, u.host.len + 1);

    vx->host_ip = (ngx_inet_addr(vx->sni.data, vx->sni.len) != INADDR_NONE
                   || ngx_strlchr(vx->sni.data, vx->sni.data + vx->sni.len,
                                  ':')
                      != NULL);

    if (ngx_strlchr(vx->path.data, vx->path.data + vx->path.len, ' ')
        || ngx_strlchr(vx->path.data, vx->path.data + vx->path.len, '\r')
        || ngx_strlchr(vx->path.data, vx->path.data + vx->path.len, '\n'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token url \"%V\" in aigw_provider "
                           "\"%V\"", &url, &p->name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&rs, sizeof(ngx_url_t));

    rs.host = u.host;
    rs.port = u.port;

    if (ngx_inet_resolve_host(cf->pool, &rs) != NGX_OK || rs.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "aigw_provider \"%V\": token endpoint host \"%V\" "
                           "not found, the provider is skipped", &p->name,
                           &u.host);
        return NGX_CONF_OK;
    }

    vx->addr = &rs.addrs[0];

#if !(NGX_HTTP_SSL)
    if (vx->ssl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" needs TLS, but nginx was "
                           "built without the http_ssl module", &p->name);
        return NGX_CONF_ERROR;
    }
#endif

    if (vx->ssl) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);
        amcf->need_ssl = 1;
    }

    return NGX_CONF_OK;
}


/* the stage that waits for tokens, when a provider is on Vertex */

ngx_int_t
ngx_http_aigw_vertex_add_stage(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_aigw_provider_t   *p;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    p = amcf->providers.elts;

    for (i = 0; i < amcf->providers.nelts; i++) {
        if (p[i].vertex) {
            return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_PLAN,
                                           ngx_http_aigw_vertex_stage);
        }
    }

    return NGX_OK;
}


/*
 * The Vertex providers of the plan: each without a valid token gets a
 * fetch, and the request waits for them; one whose token ends soon gets
 * a fetch it does not wait for
 */

static ngx_http_aigw_outcome_e
ngx_http_aigw_vertex_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    time_t                        now;
    ngx_uint_t                    i, k;
    ngx_http_aigw_vertex_t       *vx;
    ngx_http_aigw_target_t       *t;
    ngx_http_aigw_vertex_wait_t  *wait;
    ngx_http_aigw_vertex_link_t  *link;

    t = ctx->plan.elts;
    now = ngx_time();
    wait = NULL;

    for (i = 0; i < ctx->plan.nelts; i++) {
        vx = t[i].provider->vertex;

        if (vx == NULL || vx->pkey == NULL || vx->addr == NULL) {
            continue;
        }

        /* a provider twice in the plan is waited for once */

        for (k = 0; k < i; k++) {
            if (t[k].provider->vertex == vx) {
                break;
            }
        }

        if (k < i) {
            continue;
        }

        if (ngx_http_aigw_vertex_valid(vx)) {
            if (!vx->fetching
                && now >= vx->expires - NGX_HTTP_AIGW_VERTEX_EARLY
                && now >= vx->failed + NGX_HTTP_AIGW_VERTEX_RETRY)
            {
                (void) ngx_http_aigw_vertex_fetch(vx);
            }

            continue;
        }

        if (!vx->fetching) {
            if (now < vx->failed + NGX_HTTP_AIGW_VERTEX_RETRY) {
                continue;
            }

            if (ngx_http_aigw_vertex_fetch(vx) != NGX_OK) {
                continue;
            }
        }

        if (wait == NULL) {
            wait = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_vertex_wait_t));
            if (wait == NULL) {
                goto failed;
            }

            wait->request = r;

            if (ngx_array_init(&wait->links, r->pool, 2,
                               sizeof(ngx_http_aigw_vertex_link_t))
                != NGX_OK)
            {
                goto failed;
            }
        }

        link = ngx_array_push(&wait->links);
        if (link == NULL) {
            goto failed;
        }

        link->wait = wait;
        ngx_queue_insert_tail(&vx->waiting, &link->queue);
        wait->pending++;
    }

    if (wait == NULL) {
        return ngx_http_aigw_next;
    }

    if (ngx_http_aigw_suspend(r, ctx, ngx_http_aigw_vertex_release, wait)
        != NGX_OK)
    {
        ngx_http_aigw_vertex_release(wait);
        goto failed;
    }

    return ngx_http_aigw_suspended;

failed:

    ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    return ngx_http_aigw_finished;
}


/* the request went away while it waited */

static void
ngx_http_aigw_vertex_release(void *data)
{
    ngx_http_aigw_vertex_wait_t *wait = data;

    ngx_uint_t                    i;
    ngx_http_aigw_vertex_link_t  *link;

    link = wait->links.elts;

    for (i = 0; i < wait->links.nelts; i++) {
        if (link[i].wait) {
            ngx_queue_remove(&link[i].queue);
            link[i].wait = NULL;
        }
    }

    wait->pending = 0;
}


static ngx_uint_t
ngx_http_aigw_vertex_valid(ngx_http_aigw_vertex_t *vx)
{
    return vx->token_len && ngx_time() < vx->expires;
}


/* whether a target of the provider can be tried now (balancer.c) */

ngx_uint_t
ngx_http_aigw_vertex_ready(ngx_http_aigw_provider_t *p)
{
    return ngx_http_aigw_vertex_valid(p->vertex);
}


void
ngx_http_aigw_vertex_auth(ngx_http_aigw_provider_t *p, ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_vertex_t  *vx;

    vx = p->vertex;

    if (vx->token_len == 0) {
        return;
    }

    ngx_http_aigw_jw_lit(w, "Authorization: Bearer ");
    ngx_http_aigw_jw_raw(w, vx->token, vx->token_len);
    ngx_http_aigw_jw_lit(w, CRLF);
}


/* /v1/projects/{P}/locations/{L}/publishers/{publisher}/models/{id}:{m} */

ngx_int_t
ngx_http_aigw_vertex_path(ngx_http_request_t *r, ngx_http_aigw_provider_t *p,
    const char *publisher, ngx_str_t *id, ngx_str_t *method, ngx_str_t *path)
{
    u_char                  *s;
    size_t                   len;
    ngx_http_aigw_vertex_t  *vx;

    vx = p->vertex;

    len = sizeof("/v1/projects//locations//publishers//models/:") - 1
          + vx->project.len + vx->location.len + ngx_strlen(publisher)
          + id->len + method->len;

    s = ngx_pnalloc(r->pool, len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    path->data = s;
    s = ngx_sprintf(s, "/v1/projects/%V/locations/%V/publishers/%s/models/"
                    "%V:%V", &vx->project, &vx->location, publisher, id,
                    method);
    path->len = s - path->data;

    return NGX_OK;
}


/* a fetch starts: the JWT, the request, the connection */

static ngx_int_t
ngx_http_aigw_vertex_fetch(ngx_http_aigw_vertex_t *vx)
{
    ngx_int_t          rc;
    ngx_str_t          jwt;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    vx->log = ngx_cycle->log;

    vx->pool = ngx_create_pool(4096, vx->log);
    if (vx->pool == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_vertex_jwt(vx, &jwt) != NGX_OK) {
        ngx_destroy_pool(vx->pool);
        vx->pool = NULL;
        vx->failed = ngx_time();
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(vx->pool, 512 + vx->host.len + vx->path.len
                                      + jwt.len);
    if (b == NULL) {
        ngx_destroy_pool(vx->pool);
        vx->pool = NULL;
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                  "POST %V HTTP/1.1" CRLF
                  "Host: %V" CRLF
                  "Content-Type: application/x-www-form-urlencoded" CRLF
                  "Accept: application/json" CRLF
                  "User-Agent: ngx_http_aigw/" NGX_HTTP_AIGW_VERSION CRLF
                  "Connection: close" CRLF
                  "Content-Length: %uz" CRLF CRLF
                  "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type"
                  "%%3Ajwt-bearer&assertion=%V",
                  &vx->path, &vx->host,
                  sizeof("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type"
                         "%3Ajwt-bearer&assertion=") - 1 + jwt.len,
                  &jwt);

    vx->out = b;

    vx->in = ngx_create_temp_buf(vx->pool, NGX_HTTP_AIGW_VERTEX_RESPONSE);
    if (vx->in == NULL) {
        ngx_destroy_pool(vx->pool);
        vx->pool = NULL;
        return NGX_ERROR;
    }

    vx->fetching = 1;

    vx->timer.handler = ngx_http_aigw_vertex_timeout;
    vx->timer.data = vx;
    vx->timer.log = vx->log;
    vx->timer.cancelable = 1;

    ngx_add_timer(&vx->timer, NGX_HTTP_AIGW_VERTEX_TIMEOUT);

    c = ngx_http_aigw_connect(vx->addr->sockaddr, vx->addr->socklen,
                              &vx->addr->name, vx->log, &rc);

    if (c == NULL) {

        /* the requests waiting are resumed later, from an event */

        ngx_del_timer(&vx->timer);
        ngx_add_timer(&vx->timer, 1);

        vx->connection = NULL;

        return NGX_OK;
    }

    c->data = vx;
    c->pool = vx->pool;
    c->read->handler = ngx_http_aigw_vertex_read;
    c->write->handler = ngx_http_aigw_vertex_connected;

    vx->connection = c;

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, vx->log, 0,
                   "aigw vertex: token fetch from %V", &vx->host);

    return NGX_OK;
}


/* base64url(header).base64url(claims).base64url(RS256 signature) */

static ngx_int_t
ngx_http_aigw_vertex_jwt(ngx_http_aigw_vertex_t *vx, ngx_str_t *jwt)
{
    u_char      *p, *json, sig[1024];
    size_t       len, siglen;
    time_t       now;
    ngx_str_t    src, dst;
    EVP_MD_CTX  *md;

    now = ngx_time();

    len = sizeof("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"\"}") - 1
          + vx->key_id.len;

    len += sizeof("{\"iss\":\"\",\"scope\":\"" NGX_HTTP_AIGW_VERTEX_SCOPE
                  "\",\"aud\":\"\",\"iat\":,\"exp\":}") - 1
           + vx->email.len + vx->aud.len + 2 * NGX_TIME_T_LEN;

    json = ngx_pnalloc(vx->pool, len);
    p = ngx_pnalloc(vx->pool, ngx_base64_encoded_length(len) + 2
                              + ngx_base64_encoded_length(sizeof(sig)));
    if (json == NULL || p == NULL) {
        return NGX_ERROR;
    }

    jwt->data = p;

    /* the header */

    src.data = json;

    if (vx->key_id.len) {
        src.len = ngx_sprintf(json, "{\"alg\":\"RS256\",\"typ\":\"JWT\","
                              "\"kid\":\"%V\"}", &vx->key_id) - json;
    } else {
        src.len = ngx_sprintf(json, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}")
                  - json;
    }

    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;
    *p++ = '.';

    /* the claims */

    src.len = ngx_sprintf(json, "{\"iss\":\"%V\",\"scope\":\""
                          NGX_HTTP_AIGW_VERTEX_SCOPE "\",\"aud\":\"%V\","
                          "\"iat\":%T,\"exp\":%T}", &vx->email, &vx->aud,
                          now, now + NGX_HTTP_AIGW_VERTEX_LIFETIME)
              - json;

    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    /* the signature of both */

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    siglen = sizeof(sig);

    if (EVP_PKEY_size(vx->pkey) > (int) sizeof(sig)
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, vx->pkey) != 1
        || EVP_DigestSignUpdate(md, jwt->data, p - jwt->data) != 1
        || EVP_DigestSignFinal(md, sig, &siglen) != 1)
    {
        EVP_MD_CTX_free(md);
        ngx_ssl_error(NGX_LOG_ERR, vx->log, 0,
                      "aigw: signing the Vertex AI token request failed");
        return NGX_ERROR;
    }

    EVP_MD_CTX_free(md);

    *p++ = '.';

    src.data = sig;
    src.len = siglen;
    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    jwt->len = p - jwt->data;

    return NGX_OK;
}


static void
ngx_http_aigw_vertex_connected(ngx_event_t *wev)
{
    ngx_err_t                err;
    ngx_connection_t        *c;
    ngx_http_aigw_vertex_t  *vx;

    c = wev->data;
    vx = c->data;

    err = ngx_http_aigw_connect_error(c);

    if (err) {
        ngx_log_error(NGX_LOG_ERR, c->log, err,
                      "aigw: connect() to the token endpoint %V failed",
                      &vx->host);
        ngx_http_aigw_vertex_done(vx, "cannot connect");
        return;
    }

#if (NGX_HTTP_SSL)

    if (vx->ssl) {
        ngx_int_t                   rc;
        ngx_http_aigw_main_conf_t  *amcf;

        amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_aigw_module);

        if (ngx_http_aigw_ssl_client(c, amcf->ssl, &vx->sni, vx->host_ip)
            != NGX_OK)
        {
            ngx_http_aigw_vertex_done(vx, "TLS setup failed");
            return;
        }

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            c->ssl->handler = ngx_http_aigw_vertex_ssl_handshake;
            return;
        }

        ngx_http_aigw_vertex_ssl_handshake(c);
        return;
    }

#endif

    c->write->handler = ngx_http_aigw_vertex_write;
    ngx_http_aigw_vertex_write(wev);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_aigw_vertex_ssl_handshake(ngx_connection_t *c)
{
    long                        verify;
    ngx_http_aigw_vertex_t     *vx;
    ngx_http_aigw_main_conf_t  *amcf;

    vx = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_aigw_vertex_done(vx, "TLS handshake failed");
        return;
    }

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_aigw_module);

    if (amcf->ssl_verify) {
        verify = SSL_get_verify_result(c->ssl->connection);

        if (verify != X509_V_OK) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "aigw: token endpoint %V certificate verify "
                          "error: (%l:%s)", &vx->host, verify,
                          X509_verify_cert_error_string(verify));
            ngx_http_aigw_vertex_done(vx, "certificate not trusted");
            return;
        }

        if (ngx_http_aigw_ssl_check_host(c, &vx->sni, vx->host_ip)
            != NGX_OK)
        {
            ngx_http_aigw_vertex_done(vx, "certificate does not match host");
            return;
        }
    }

    c->read->handler = ngx_http_aigw_vertex_read;
    c->write->handler = ngx_http_aigw_vertex_write;

    ngx_http_aigw_vertex_write(c->write);
}

#endif


static void
ngx_http_aigw_vertex_write(ngx_event_t *wev)
{
    ssize_t                  n;
    ngx_buf_t               *b;
    ngx_connection_t        *c;
    ngx_http_aigw_vertex_t  *vx;

    c = wev->data;
    vx = c->data;
    b = vx->out;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_aigw_vertex_done(vx, "write failed");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_aigw_vertex_done(vx, "write failed");
            return;
        }

        b->pos += n;
    }

    if (wev->active && ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
        ngx_http_aigw_vertex_done(vx, "write failed");
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_aigw_vertex_done(vx, "read failed");
        return;
    }

    if (c->read->ready) {
        ngx_http_aigw_vertex_read(c->read);
    }
}


static void
ngx_http_aigw_vertex_read(ngx_event_t *rev)
{
    ssize_t                  n;
    ngx_buf_t               *b;
    ngx_connection_t        *c;
    ngx_http_aigw_vertex_t  *vx;

    c = rev->data;
    vx = c->data;
    b = vx->in;

    if (vx->out->pos < vx->out->last) {

        /* not sent yet: nothing to read */

        if (ngx_handle_read_event(rev, 0) != NGX_OK) {
            ngx_http_aigw_vertex_done(vx, "read failed");
        }

        return;
    }

    for ( ;; ) {
        if (b->last == b->end) {
            ngx_http_aigw_vertex_done(vx, "response too large");
            return;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_aigw_vertex_done(vx, "read failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_aigw_vertex_done(vx, "read failed");
            return;
        }

        if (n == 0) {
            break;
        }

        b->last += n;
    }

    if (ngx_http_aigw_vertex_response(vx) != NGX_OK) {
        return;
    }

    ngx_http_aigw_vertex_done(vx, NULL);
}


/*
 * The whole response: status 200, a JSON body (chunked or not) with
 * access_token and expires_in; anything else is logged and fails
 */

static ngx_int_t
ngx_http_aigw_vertex_response(ngx_http_aigw_vertex_t *vx)
{
    u_char                  *p, *last, *body;
    int64_t                  expires;
    ngx_int_t                rc, status;
    ngx_str_t                token, data, err;
    ngx_uint_t               v;
    ngx_http_aigw_json_t     j;
    ngx_http_aigw_chunked_t  ch;

    p = vx->in->pos;
    last = vx->in->last;

    if (last - p < 12 || ngx_strncmp(p, "HTTP/1.", 7) != 0) {
        ngx_http_aigw_vertex_done(vx, "invalid response");
        return NGX_ERROR;
    }

    status = ngx_atoi(p + 9, 3);

    body = ngx_strlcasestrn(p, last, (u_char *) CRLF CRLF, 4 - 1);
    if (body == NULL) {
        ngx_http_aigw_vertex_done(vx, "invalid response");
        return NGX_ERROR;
    }

    body += 4;

    if (ngx_strlcasestrn(p, body, (u_char *) "transfer-encoding: chunked",
                         26 - 1))
    {
        ngx_memzero(&ch, sizeof(ngx_http_aigw_chunked_t));

        p = body;
        data.data = body;
        data.len = 0;
        err.data = body;

        while (p < last) {
            rc = ngx_http_aigw_chunked_parse(&ch, &p, last, &data);

            if (rc == NGX_ERROR) {
                ngx_http_aigw_vertex_done(vx, "invalid chunked response");
                return NGX_ERROR;
            }

            if (data.len) {
                err.data = ngx_movemem(err.data, data.data, data.len);
            }

            if (rc != NGX_OK) {
                break;
            }
        }

        last = err.data;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = vx->pool;
    j.record = 1;

    if (status != 200) {
        ngx_str_null(&err);

        if (ngx_http_aigw_json_parse(&j, body, last - body) == NGX_OK) {
            (void) ngx_http_aigw_json_get_str(&j, 0, "error_description",
                                              &err);

            if (err.len == 0) {
                (void) ngx_http_aigw_json_get_str(&j, 0, "error", &err);
            }
        }

        if (err.len > 200) {
            err.len = 200;
        }

        ngx_log_error(NGX_LOG_ERR, vx->log, 0,
                      "aigw: the token endpoint %V answered %i: \"%V\"",
                      &vx->host, status, &err);
        ngx_http_aigw_vertex_done(vx, "refused");
        return NGX_ERROR;
    }

    if (ngx_http_aigw_json_parse(&j, body, last - body) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object
        || !ngx_http_aigw_json_get_str(&j, 0, "access_token", &token)
        || token.len == 0 || token.len > NGX_HTTP_AIGW_VERTEX_TOKEN_MAX)
    {
        ngx_http_aigw_vertex_done(vx, "no access_token in the response");
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(&j, 0, "access_token");

    if (j.toks[v].flags & NGX_HTTP_AIGW_JSON_ESCAPED) {
        ngx_http_aigw_vertex_done(vx, "invalid access_token");
        return NGX_ERROR;
    }

    /* a token goes into a header as it is */

    for (p = token.data; p < token.data + token.len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            ngx_http_aigw_vertex_done(vx, "invalid access_token");
            return NGX_ERROR;
        }
    }

    if (ngx_http_aigw_json_get_count(&j, 0, "expires_in", 86400 * 365,
                                     &expires)
        != NGX_OK)
    {
        expires = 3600;
    }

    ngx_memcpy(vx->token, token.data, token.len);
    vx->token_len = token.len;
    vx->expires = ngx_time() + expires;

    ngx_log_error(NGX_LOG_INFO, vx->log, 0,
                  "aigw: Vertex AI token of %V, valid for %L s",
                  &vx->email, expires);

    return NGX_OK;
}


static void
ngx_http_aigw_vertex_timeout(ngx_event_t *ev)
{
    ngx_http_aigw_vertex_t  *vx = ev->data;

    ngx_http_aigw_vertex_done(vx, vx->connection ? "timed out"
                                                 : "cannot connect");
}


/*
 * The fetch ended (error: NULL when it worked): the connection goes, the
 * requests waiting go on, those without a token skip the provider
 */

static void
ngx_http_aigw_vertex_done(ngx_http_aigw_vertex_t *vx, const char *error)
{
    ngx_queue_t                  *q;
    ngx_http_request_t           *r;
    ngx_http_aigw_vertex_wait_t  *wait;
    ngx_http_aigw_vertex_link_t  *link;

    if (vx->timer.timer_set) {
        ngx_del_timer(&vx->timer);
    }

    if (vx->connection) {
#if (NGX_HTTP_SSL)
        if (vx->connection->ssl) {
            vx->connection->ssl->no_wait_shutdown = 1;
            (void) ngx_ssl_shutdown(vx->connection);
        }
#endif
        ngx_close_connection(vx->connection);
        vx->connection = NULL;
    }

    if (vx->pool) {
        ngx_destroy_pool(vx->pool);
        vx->pool = NULL;
    }

    vx->fetching = 0;

    if (error) {
        vx->failed = ngx_time();

        ngx_log_error(NGX_LOG_ERR, vx->log, 0,
                      "aigw: Vertex AI token of %V: %s", &vx->email, error);
    }

    while (!ngx_queue_empty(&vx->waiting)) {
        q = ngx_queue_head(&vx->waiting);
        ngx_queue_remove(q);

        link = ngx_queue_data(q, ngx_http_aigw_vertex_link_t, queue);
        wait = link->wait;
        link->wait = NULL;

        if (wait == NULL || --wait->pending) {
            continue;
        }

        r = wait->request;

        ngx_http_aigw_resume(r);
    }
}
