
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>


/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256): the credentials of a
 * provider, read when the configuration is, and the signer, run on every
 * try over the request as sent.
 */


#define NGX_HTTP_AIGW_AWS_SECRET_MAX  1024
#define NGX_HTTP_AIGW_AWS_TOKEN_MAX   8192


static ngx_int_t ngx_http_aigw_sigv4_credential(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_str_t *param, ngx_str_t *value,
    ngx_str_t *source);
static ngx_int_t ngx_http_aigw_sigv4_read(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *value);
static void ngx_http_aigw_sigv4_hex(u_char *dst, u_char *src, size_t n);
static size_t ngx_http_aigw_sigv4_encode(u_char *dst, u_char *src,
    size_t n);
static ngx_int_t ngx_http_aigw_sigv4_query(ngx_pool_t *pool,
    ngx_str_t *query, ngx_str_t *out);
static void ngx_http_aigw_sigv4_hmac(u_char *key, size_t key_len,
    u_char *data, size_t len, u_char *out);


static const char  *ngx_http_aigw_sigv4_params[] = {
    "access_key_", "secret_key_", "session_token_"
};


/* region=, access_key_env= ... session_token_file= of aigw_provider */

ngx_int_t
ngx_http_aigw_sigv4_param(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *param)
{
    size_t       n;
    ngx_uint_t   i;

    if (p->aws == NULL) {
        p->aws = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_aws_t));
        if (p->aws == NULL) {
            return NGX_ERROR;
        }
    }

    if (param->len > 7 && ngx_strncmp(param->data, "region=", 7) == 0) {
        p->aws->region.data = param->data + 7;
        p->aws->region.len = param->len - 7;
        return NGX_OK;
    }

    for (i = 0; i < 3; i++) {
        n = ngx_strlen(ngx_http_aigw_sigv4_params[i]);

        if (param->len > n
            && ngx_strncmp(param->data, ngx_http_aigw_sigv4_params[i], n)
               == 0)
        {
            if (p->aws->params[i].len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"%s*\" in aigw_provider "
                                   "\"%V\"", ngx_http_aigw_sigv4_params[i],
                                   &p->name);
                return NGX_ERROR;
            }

            p->aws->params[i] = *param;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * Once aigw_provider is read: the region (from a bedrock-runtime host if
 * not given) and the credentials.  The access key id goes into the
 * provider's key, so that a provider without its credentials is skipped
 * as one without its key.
 */

char *
ngx_http_aigw_sigv4_conf(ngx_conf_t *cf, ngx_http_aigw_provider_t *p)
{
    u_char               *d;
    ngx_str_t             source, token_source, h;
    ngx_uint_t            i;
    ngx_http_aigw_aws_t  *aws;

    aws = p->aws;

    if (p->auth != ngx_http_aigw_auth_sigv4) {
        if (aws && (aws->params[0].len || aws->params[1].len
                    || aws->params[2].len))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "aigw_provider \"%V\": AWS credentials are "
                               "for auth=sigv4", &p->name);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (p->format->sign == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\": auth=sigv4 needs "
                           "format=bedrock", &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->key.len || p->key_source.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\": a key is for auth=bearer, "
                           "SigV4 takes access_key_* and secret_key_*",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (aws == NULL || aws->params[0].len == 0 || aws->params[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" needs access_key_env= or "
                           "access_key_file=, and secret_key_env= or "
                           "secret_key_file=, or auth=bearer with a key",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    /* bedrock-runtime[-fips].REGION.amazonaws.com */

    if (aws->region.len == 0) {
        h = p->host;
        d = ngx_strlchr(h.data, h.data + h.len, '.');

        if (d && h.len > 14
            && ngx_strncmp(h.data, "bedrock-runtime", 15) == 0)
        {
            aws->region.data = d + 1;
            d = ngx_strlchr(d + 1, h.data + h.len, '.');

            if (d) {
                aws->region.len = d - aws->region.data;
            }
        }

        if (aws->region.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "aigw_provider \"%V\" needs region=",
                               &p->name);
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < aws->region.len; i++) {
        if (!((aws->region.data[i] >= 'a' && aws->region.data[i] <= 'z')
              || (aws->region.data[i] >= '0' && aws->region.data[i] <= '9')
              || aws->region.data[i] == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid region \"%V\" in aigw_provider "
                               "\"%V\"", &aws->region, &p->name);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_aigw_sigv4_credential(cf, p, &aws->params[0],
                                       &aws->access_key, &p->key_source)
        != NGX_OK
        || ngx_http_aigw_sigv4_credential(cf, p, &aws->params[1],
                                          &aws->secret, &source)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (aws->params[2].len
        && ngx_http_aigw_sigv4_credential(cf, p, &aws->params[2],
                                          &aws->token, &token_source)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /*
     * an optional provider without its key or secret is skipped, as one
     * without its key; without its session token it signs without one
     * (long-term keys need none)
     */

    if (aws->access_key.len && aws->secret.len) {
        p->key = aws->access_key;

    } else if (aws->access_key.len) {
        p->key_source = source;
    }

    return NGX_CONF_OK;
}


/* one credential from the environment or a file; empty: optional, unset */

static ngx_int_t
ngx_http_aigw_sigv4_credential(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *param, ngx_str_t *value, ngx_str_t *source)
{
    u_char     *eq, *env, *s;
    ngx_str_t   name;
    ngx_uint_t  file;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    file = (eq && eq - param->data >= 5
            && ngx_strncmp(eq - 5, "_file", 5) == 0);

    if (eq == NULL || eq + 1 == param->data + param->len
        || !(file || (eq - param->data >= 4
                      && ngx_strncmp(eq - 4, "_env", 4) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in aigw_provider \"%V\"",
                           param, &p->name);
        return NGX_ERROR;
    }

    name.data = eq + 1;
    name.len = param->data + param->len - name.data;

    if (file) {
        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        source->len = sizeof("file ") - 1 + name.len;
        source->data = ngx_pnalloc(cf->pool, source->len);
        if (source->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(source->data, "file %V", &name);

        if (ngx_http_aigw_sigv4_read(cf, &name, value) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        source->len = sizeof("environment variable ") - 1 + name.len;
        source->data = ngx_pnalloc(cf->pool, source->len);
        if (source->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(source->data, "environment variable %V", &name);

        if (ngx_http_aigw_getenv(cf, &name, &env) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_str_null(value);

        if (env && *env) {
            value->len = ngx_strlen(env);
            value->data = ngx_pnalloc(cf->pool, value->len);
            if (value->data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(value->data, env, value->len);
        }
    }

    if (value->len == 0) {
        if (p->optional) {
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the AWS credential of aigw_provider \"%V\" from "
                           "%V is not set", &p->name, source);
        return NGX_ERROR;
    }

    if (value->len > NGX_HTTP_AIGW_AWS_TOKEN_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the AWS credential of aigw_provider \"%V\" from "
                           "%V is too long", &p->name, source);
        return NGX_ERROR;
    }

    for (s = value->data; s < value->data + value->len; s++) {
        if (*s <= 0x20 || *s == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the AWS credential of aigw_provider \"%V\" "
                               "from %V contains a space or a control "
                               "character", &p->name, source);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a credential file, whitespace around it trimmed; missing: empty */

static ngx_int_t
ngx_http_aigw_sigv4_read(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *value)
{
    u_char      *s, *e;
    ssize_t      n;
    ngx_file_t   file;

    ngx_str_null(value);
    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = *name;
    file.log = cf->log;
    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        return NGX_OK;
    }

    s = ngx_pnalloc(cf->pool, NGX_HTTP_AIGW_AWS_TOKEN_MAX + 2);
    if (s == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, s, NGX_HTTP_AIGW_AWS_TOKEN_MAX + 2, 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    e = s + n;

    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
    }

    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                     || e[-1] == '\n'))
    {
        e--;
    }

    value->data = s;
    value->len = e - s;

    return NGX_OK;
}


/* the hex SHA-256 of a body chain, into 64 bytes at hex */

ngx_int_t
ngx_http_aigw_sigv4_hash(ngx_chain_t *body, u_char *hex)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;
    ngx_int_t     rc;
    EVP_MD_CTX   *c;
    ngx_chain_t  *cl;

    c = EVP_MD_CTX_new();
    if (c == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        goto done;
    }

    for (cl = body; cl; cl = cl->next) {
        if (cl->buf->last > cl->buf->pos
            && EVP_DigestUpdate(c, cl->buf->pos,
                                cl->buf->last - cl->buf->pos)
               != 1)
        {
            goto done;
        }
    }

    if (EVP_DigestFinal_ex(c, md, &n) != 1 || n != 32) {
        goto done;
    }

    ngx_http_aigw_sigv4_hex(hex, md, 32);
    rc = NGX_OK;

done:

    EVP_MD_CTX_free(c);

    return rc;
}


/*
 * The Authorization header value: the canonical request, the string to
 * sign over its hash, and the signature with the key of the day
 */

ngx_int_t
ngx_http_aigw_sigv4_sign(ngx_pool_t *pool, ngx_http_aigw_sigv4_t *s,
    ngx_str_t *authorization)
{
    u_char        *p, *cr, *sts, *signed_headers;
    u_char         hash[EVP_MAX_MD_SIZE], key[32], sig[32];
    u_char         khex[64], shex[64];
    u_char         secret[4 + NGX_HTTP_AIGW_AWS_SECRET_MAX];
    size_t         len, slen;
    unsigned int   n;
    ngx_str_t      query;
    ngx_uint_t     i;

    if (ngx_http_aigw_sigv4_query(pool, &s->query, &query) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the signed header names: "a;b;c" */

    len = 0;

    for (i = 0; i < s->nheaders; i++) {
        len += s->headers[i].key.len + 1;
    }

    signed_headers = ngx_pnalloc(pool, len + 1);
    if (signed_headers == NULL) {
        return NGX_ERROR;
    }

    p = signed_headers;

    for (i = 0; i < s->nheaders; i++) {
        if (i) {
            *p++ = ';';
        }

        p = ngx_cpymem(p, s->headers[i].key.data, s->headers[i].key.len);
    }

    slen = p - signed_headers;

    /* the canonical request */

    len = s->method.len + 1 + 3 * s->path.len + 2 + query.len + 1
          + slen + 1 + 64 + 1;

    for (i = 0; i < s->nheaders; i++) {
        len += s->headers[i].key.len + 1 + s->headers[i].value.len + 1;
    }

    cr = ngx_pnalloc(pool, len);
    if (cr == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(cr, s->method.data, s->method.len);
    *p++ = '\n';

    if (s->path.len == 0) {
        *p++ = '/';

    } else {
        p += ngx_http_aigw_sigv4_encode(p, s->path.data, s->path.len);
    }

    *p++ = '\n';

    if (query.len) {
        p = ngx_cpymem(p, query.data, query.len);
    }

    *p++ = '\n';

    for (i = 0; i < s->nheaders; i++) {
        p = ngx_cpymem(p, s->headers[i].key.data, s->headers[i].key.len);
        *p++ = ':';
        p = ngx_cpymem(p, s->headers[i].value.data,
                       s->headers[i].value.len);
        *p++ = '\n';
    }

    *p++ = '\n';
    p = ngx_cpymem(p, signed_headers, slen);
    *p++ = '\n';
    p = ngx_cpymem(p, s->payload, 64);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                   "aigw sigv4 canonical request:\n%*s", p - cr, cr);

    if (EVP_Digest(cr, p - cr, hash, &n, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    ngx_http_aigw_sigv4_hex(khex, hash, 32);

    /* the string to sign */

    len = sizeof("AWS4-HMAC-SHA256\n") - 1 + 16 + 1 + 8 + 1 + s->region.len
          + 1 + s->service.len + sizeof("/aws4_request\n") - 1 + 64;

    sts = ngx_pnalloc(pool, len);
    if (sts == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(sts, "AWS4-HMAC-SHA256\n%*s\n%*s/%V/%V/aws4_request\n",
                    (size_t) 16, s->date, (size_t) 8, s->date, &s->region,
                    &s->service);
    p = ngx_cpymem(p, khex, 64);

    /* the signing key, of the day */

    if (s->aws && ngx_memcmp(s->aws->date, s->date, 8) == 0) {
        ngx_memcpy(key, s->aws->key, 32);

    } else {
        if (s->secret.len > NGX_HTTP_AIGW_AWS_SECRET_MAX) {
            return NGX_ERROR;
        }

        ngx_memcpy(secret, "AWS4", 4);
        ngx_memcpy(secret + 4, s->secret.data, s->secret.len);

        ngx_http_aigw_sigv4_hmac(secret, 4 + s->secret.len, s->date, 8, key);
        ngx_explicit_memzero(secret, sizeof(secret));

        ngx_http_aigw_sigv4_hmac(key, 32, s->region.data, s->region.len,
                                 key);
        ngx_http_aigw_sigv4_hmac(key, 32, s->service.data, s->service.len,
                                 key);
        ngx_http_aigw_sigv4_hmac(key, 32, (u_char *) "aws4_request",
                                 sizeof("aws4_request") - 1, key);

        if (s->aws) {
            ngx_memcpy(s->aws->date, s->date, 8);
            ngx_memcpy(s->aws->key, key, 32);
        }
    }

    ngx_http_aigw_sigv4_hmac(key, 32, sts, p - sts, sig);
    ngx_http_aigw_sigv4_hex(shex, sig, 32);

    /* the header value */

    len = sizeof("AWS4-HMAC-SHA256 Credential=") - 1 + s->access_key.len
          + 1 + 8 + 1 + s->region.len + 1 + s->service.len
          + sizeof("/aws4_request, SignedHeaders=") - 1 + slen
          + sizeof(", Signature=") - 1 + 64;

    authorization->data = ngx_pnalloc(pool, len);
    if (authorization->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(authorization->data,
                    "AWS4-HMAC-SHA256 Credential=%V/%*s/%V/%V/aws4_request, "
                    "SignedHeaders=%*s, Signature=",
                    &s->access_key, (size_t) 8, s->date, &s->region,
                    &s->service, slen, signed_headers);
    p = ngx_cpymem(p, shex, 64);

    authorization->len = p - authorization->data;

    return NGX_OK;
}


static void
ngx_http_aigw_sigv4_hmac(u_char *key, size_t key_len, u_char *data,
    size_t len, u_char *out)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    n = 0;

    (void) HMAC(EVP_sha256(), key, (int) key_len, data, len, md, &n);

    ngx_memcpy(out, md, 32);
}


static void
ngx_http_aigw_sigv4_hex(u_char *dst, u_char *src, size_t n)
{
    static u_char  hex[] = "0123456789abcdef";

    while (n--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }
}


/*
 * The canonical URI: every byte of the path as sent but "/" and the
 * unreserved ones percent-encoded (again: "%3A" is "%253A")
 */

static size_t
ngx_http_aigw_sigv4_encode(u_char *dst, u_char *src, size_t n)
{
    u_char   *d, c;

    static u_char  hex[] = "0123456789ABCDEF";

    d = dst;

    while (n--) {
        c = *src++;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~' || c == '/')
        {
            *d++ = c;

        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0xf];
        }
    }

    return d - dst;
}


/*
 * The canonical query: its "name=value" pairs (taken as they were
 * encoded, "=" added to a bare name) sorted
 */

static ngx_int_t
ngx_http_aigw_sigv4_query(ngx_pool_t *pool, ngx_str_t *query, ngx_str_t *out)
{
    u_char      *p, *e, *amp;
    size_t       len;
    ngx_str_t   *pairs, t;
    ngx_uint_t   i, k, n;

    if (query->len == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    n = 1;

    for (i = 0; i < query->len; i++) {
        n += (query->data[i] == '&');
    }

    pairs = ngx_palloc(pool, n * sizeof(ngx_str_t));
    out->data = ngx_pnalloc(pool, query->len + n);

    if (pairs == NULL || out->data == NULL) {
        return NGX_ERROR;
    }

    p = query->data;
    e = p + query->len;
    n = 0;

    while (p <= e) {
        amp = ngx_strlchr(p, e, '&');

        if (amp == NULL) {
            amp = e;
        }

        if (amp > p) {
            pairs[n].data = p;
            pairs[n].len = amp - p;

            for (k = n; k > 0; k--) {
                len = ngx_min(pairs[k - 1].len, pairs[k].len);

                if (ngx_strncmp(pairs[k - 1].data, pairs[k].data, len) < 0
                    || (ngx_strncmp(pairs[k - 1].data, pairs[k].data, len)
                        == 0 && pairs[k - 1].len <= pairs[k].len))
                {
                    break;
                }

                t = pairs[k];
                pairs[k] = pairs[k - 1];
                pairs[k - 1] = t;
            }

            n++;
        }

        p = amp + 1;
    }

    p = out->data;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, pairs[i].data, pairs[i].len);

        if (ngx_strlchr(pairs[i].data, pairs[i].data + pairs[i].len, '=')
            == NULL)
        {
            *p++ = '=';
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}
