
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>


/*
 * Gateway keys: aigw_key, aigw_keys_file and aigw_auth, and the auth stage
 * that finds the key of a request and who it belongs to (user, tags).
 * Only the SHA-256 of a secret is kept; the keys are sorted by it and a
 * request's key is found by binary search, its hash compared in constant
 * time.  No secret is ever written to a log.
 */


#define NGX_HTTP_AIGW_SECRET_MAX   4096
#define NGX_HTTP_AIGW_TAGS_MAX     32
#define NGX_HTTP_AIGW_TAG_LEN_MAX  256


/* where a request's key came from */

typedef enum {
    ngx_http_aigw_key_none = 0,
    ngx_http_aigw_key_gateway,         /* x-ai-gateway-api-key */
    ngx_http_aigw_key_bearer,          /* Authorization: Bearer */
    ngx_http_aigw_key_x_api_key        /* x-api-key */
} ngx_http_aigw_key_source_e;


static char *ngx_http_aigw_key_add(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t n, ngx_uint_t *plain);
static char *ngx_http_aigw_keys_file_line(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static ngx_int_t ngx_http_aigw_secret(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *spec, u_char *hash, ngx_uint_t *plain);
static ngx_int_t ngx_http_aigw_secret_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *path, ngx_str_t *secret);
static ngx_int_t ngx_http_aigw_hash(u_char *data, size_t len, u_char *hash);
static ngx_array_t *ngx_http_aigw_split(ngx_conf_t *cf, u_char *p,
    size_t len);
static int ngx_libc_cdecl ngx_http_aigw_key_cmp(const void *one,
    const void *two);
static ngx_http_aigw_outcome_e ngx_http_aigw_auth_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_key_from(ngx_http_request_t *r,
    ngx_str_t *secret);
static ngx_table_elt_t *ngx_http_aigw_find_header(ngx_http_request_t *r,
    const char *name, size_t len);
static ngx_int_t ngx_http_aigw_byok(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_who(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_client_tags(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_glob(u_char *p, u_char *pe, u_char *s,
    u_char *se);


/* aigw_key NAME SECRET-SPEC [params...] */

char *
ngx_http_aigw_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char        *rv;
    ngx_str_t   *value;
    ngx_uint_t   plain;

    value = cf->args->elts;
    plain = 0;

    rv = ngx_http_aigw_key_add(cf, &value[1], cf->args->nelts - 1, &plain);

    if (rv == NGX_CONF_OK && plain) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "aigw_key \"%V\" has its secret in plain text: "
                           "prefer sha256:, env= or file=", &value[1]);
    }

    return rv;
}


/*
 * aigw_keys_file PATH: the same syntax as aigw_key, one key per entry,
 * each ended by ";" ("#" starts a comment); read with the configuration,
 * so re-read on reload
 */

char *
ngx_http_aigw_keys_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char        *rv;
    ngx_str_t   *value, file;
    ngx_uint_t   plain;
    ngx_conf_t   save;

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    plain = 0;

    save = *cf;
    cf->handler = ngx_http_aigw_keys_file_line;
    cf->handler_conf = (void *) &plain;

    rv = ngx_conf_parse(cf, &file);

    *cf = save;

    if (rv == NGX_CONF_OK && plain) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "%ui key(s) in \"%V\" have their secret in plain "
                           "text: prefer sha256:, env= or file=", plain,
                           &file);
    }

    return rv;
}


static char *
ngx_http_aigw_keys_file_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a key needs a name and a secret");
        return NGX_CONF_ERROR;
    }

    return ngx_http_aigw_key_add(cf, value, cf->args->nelts,
                                 (ngx_uint_t *) conf);
}


/* a key from its name, secret and parameters: value[0] .. value[n - 1] */

static char *
ngx_http_aigw_key_add(ngx_conf_t *cf, ngx_str_t *value, ngx_uint_t n,
    ngx_uint_t *plain)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_http_aigw_key_t        *key, *k;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    if (amcf->keys == NULL) {
        amcf->keys = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_aigw_key_t));
        if (amcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (value[0].len == 0 || value[0].len > NGX_HTTP_AIGW_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid key name \"%V\": 1 to %d characters",
                           &value[0], NGX_HTTP_AIGW_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[0].len; i++) {
        if (value[0].data[i] <= 0x20 || value[0].data[i] >= 0x7f
            || value[0].data[i] == ',' || value[0].data[i] == '"'
            || value[0].data[i] == '\\')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid key name \"%V\"", &value[0]);
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(amcf->keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(key, sizeof(ngx_http_aigw_key_t));

    key->name = value[0];
    key->limit.scope = ngx_http_aigw_scope_key;
    key->budget.scope = ngx_http_aigw_scope_key;
    key->budget.amount = -1;
    key->budget.period = ngx_http_aigw_period_month;

    if (ngx_http_aigw_secret(cf, &key->name, &value[1], key->hash, plain)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < n; i++) {

        if (ngx_strncmp(value[i].data, "tags=", 5) == 0) {
            key->tags = ngx_http_aigw_split(cf, value[i].data + 5,
                                            value[i].len - 5);
            if (key->tags == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "models=", 7) == 0) {
            key->models = ngx_http_aigw_split(cf, value[i].data + 7,
                                              value[i].len - 7);
            if (key->models == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "byok") == 0) {
            key->byok = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "admin") == 0) {
            key->admin = 1;
            continue;
        }

        rc = ngx_http_aigw_parse_limit_param(cf, &value[i], &key->limit);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_aigw_parse_budget(cf, &value[i], &key->budget);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of key \"%V\"",
                               &value[i], &key->name);
        }

        return NGX_CONF_ERROR;
    }

    /* duplicates: the keys are few enough to compare with each */

    k = amcf->keys->elts;

    for (i = 0; i < amcf->keys->nelts - 1; i++) {

        if (k[i].name.len == key->name.len
            && ngx_strncmp(k[i].name.data, key->name.data, key->name.len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate key name \"%V\"", &key->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_memcmp(k[i].hash, key->hash, 32) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key \"%V\" has the same secret as key "
                               "\"%V\"", &key->name, &k[i].name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* sha256:HEX | env=VAR | file=PATH | a plain secret */

static ngx_int_t
ngx_http_aigw_secret(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *spec,
    u_char *hash, ngx_uint_t *plain)
{
    u_char     *env;
    size_t      i;
    ngx_int_t   hi, lo;
    ngx_str_t   var, secret;

    if (ngx_strncmp(spec->data, "sha256:", 7) == 0) {

        if (spec->len != 7 + 64) {
            goto bad_hash;
        }

        for (i = 0; i < 32; i++) {
            hi = ngx_hextoi(spec->data + 7 + 2 * i, 1);
            lo = ngx_hextoi(spec->data + 8 + 2 * i, 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                goto bad_hash;
            }

            hash[i] = (u_char) (hi << 4 | lo);
        }

        return NGX_OK;
    }

    if (ngx_strncmp(spec->data, "env=", 4) == 0) {
        var.data = spec->data + 4;
        var.len = spec->len - 4;

        if (ngx_http_aigw_getenv(cf, &var, &env) != NGX_OK) {
            return NGX_ERROR;
        }

        if (env == NULL || *env == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%V\" with the secret "
                               "of key \"%V\" is not set", &var, name);
            return NGX_ERROR;
        }

        secret.data = env;
        secret.len = ngx_strlen(env);

    } else if (ngx_strncmp(spec->data, "file=", 5) == 0) {
        var.data = spec->data + 5;
        var.len = spec->len - 5;

        if (ngx_http_aigw_secret_file(cf, name, &var, &secret) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        secret = *spec;
        (*plain)++;
    }

    if (secret.len == 0 || secret.len > NGX_HTTP_AIGW_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the secret of key \"%V\" must have 1 to %d "
                           "bytes", name, NGX_HTTP_AIGW_SECRET_MAX);
        return NGX_ERROR;
    }

    for (i = 0; i < secret.len; i++) {
        if (secret.data[i] <= 0x20 || secret.data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the secret of key \"%V\" contains a space "
                               "or a control character", name);
            return NGX_ERROR;
        }
    }

    return ngx_http_aigw_hash(secret.data, secret.len, hash);

bad_hash:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "the sha256: secret of key \"%V\" must be 64 "
                       "hexadecimal digits", name);
    return NGX_ERROR;
}


/* the whole file, trailing whitespace (a newline) stripped */

static ngx_int_t
ngx_http_aigw_secret_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *path,
    ngx_str_t *secret)
{
    u_char      *e;
    ssize_t      n;
    ngx_str_t    full;
    ngx_file_t   file;

    full = *path;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = full;
    file.log = cf->log;
    file.fd = ngx_open_file(full.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open the secret file \"%V\" of key "
                           "\"%V\"", &full, name);
        return NGX_ERROR;
    }

    /* one byte more than a secret may have, to tell a longer file */

    secret->data = ngx_pnalloc(cf->temp_pool, NGX_HTTP_AIGW_SECRET_MAX + 1);
    if (secret->data == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, secret->data, NGX_HTTP_AIGW_SECRET_MAX + 1, 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n > NGX_HTTP_AIGW_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the secret file \"%V\" of key \"%V\" is larger "
                           "than %d bytes", &full, name,
                           NGX_HTTP_AIGW_SECRET_MAX);
        return NGX_ERROR;
    }

    e = secret->data + n;

    while (e > secret->data
           && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
               || e[-1] == '\n'))
    {
        e--;
    }

    secret->len = e - secret->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_hash(u_char *data, size_t len, u_char *hash)
{
    unsigned int  n;

    n = 32;

    if (EVP_Digest(data, len, hash, &n, EVP_sha256(), NULL) != 1
        || n != 32)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "a,b,c": a list of non-empty strings */

static ngx_array_t *
ngx_http_aigw_split(ngx_conf_t *cf, u_char *p, size_t len)
{
    u_char       *last, *comma;
    ngx_str_t    *s;
    ngx_array_t  *a;

    a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (a == NULL) {
        return NULL;
    }

    last = p + len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (comma == p || comma - p > NGX_HTTP_AIGW_TAG_LEN_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty or longer than %d bytes item in "
                               "\"%*s\"", NGX_HTTP_AIGW_TAG_LEN_MAX,
                               len, last - len);
            return NULL;
        }

        s = ngx_array_push(a);
        if (s == NULL) {
            return NULL;
        }

        s->data = p;
        s->len = comma - p;

        if (comma == last) {
            return a;
        }

        p = comma + 1;
    }
}


/* aigw_user $variable */

char *
ngx_http_aigw_user(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (alcf->user != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    alcf->user = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (alcf->user == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = alcf->user;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the keys sorted by hash, and the auth stage; from postconfiguration */

ngx_int_t
ngx_http_aigw_key_init(ngx_conf_t *cf)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    if (amcf->keys) {
        ngx_qsort(amcf->keys->elts, amcf->keys->nelts,
                  sizeof(ngx_http_aigw_key_t), ngx_http_aigw_key_cmp);
    }

    return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_AUTH,
                                   ngx_http_aigw_auth_stage);
}


static int ngx_libc_cdecl
ngx_http_aigw_key_cmp(const void *one, const void *two)
{
    const ngx_http_aigw_key_t  *a = one;
    const ngx_http_aigw_key_t  *b = two;

    return ngx_memcmp(a->hash, b->hash, 32);
}


/*
 * The key of a request, for the auth stage and GET /v1/models:
 * NGX_DECLINED with ctx->key set (or left NULL with aigw_auth off),
 * otherwise the 401 sent, and what ngx_http_finalize_request() expects
 * returned.
 */

ngx_int_t
ngx_http_aigw_authenticate(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                      hash[32];
    ngx_int_t                   lo, hi, mid, c;
    ngx_str_t                   secret;
    ngx_uint_t                  source;
    ngx_http_aigw_key_t        *k;
    ngx_http_aigw_error_t       err;
    ngx_http_aigw_loc_conf_t   *alcf;
    ngx_http_aigw_main_conf_t  *amcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    if (!alcf->auth) {
        return NGX_DECLINED;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    ngx_memzero(&err, sizeof(ngx_http_aigw_error_t));
    err.status = NGX_HTTP_UNAUTHORIZED;
    ngx_str_set(&err.code, "invalid_api_key");

    source = ngx_http_aigw_key_from(r, &secret);

    if (source == ngx_http_aigw_key_none) {
        ngx_str_set(&err.message, "missing gateway key: send it in "
                    "Authorization: Bearer, x-api-key or "
                    "x-ai-gateway-api-key");
        goto unauthorized;
    }

    if (ngx_http_aigw_hash(secret.data, secret.len, hash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the order of the search reveals nothing of a secret, only of a hash */

    if (amcf->keys) {
        k = amcf->keys->elts;
        lo = 0;
        hi = (ngx_int_t) amcf->keys->nelts - 1;

        while (lo <= hi) {
            mid = lo + (hi - lo) / 2;
            c = ngx_memcmp(hash, k[mid].hash, 16);

            if (c == 0) {
                if (CRYPTO_memcmp(hash, k[mid].hash, 32) == 0) {
                    ctx->key = &k[mid];
                    ctx->own_auth = (k[mid].byok
                                     && source == ngx_http_aigw_key_gateway);
                    return NGX_DECLINED;
                }

                c = ngx_memcmp(hash + 16, k[mid].hash + 16, 16);
            }

            if (c < 0) {
                hi = mid - 1;

            } else {
                lo = mid + 1;
            }
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "aigw: unknown gateway key");

    ngx_str_set(&err.message, "invalid gateway key");

unauthorized:

    return ngx_http_aigw_send_error_record(r, ctx, &err);
}


/*
 * The gateway key of the caller of a read endpoint (/v1/generation,
 * /v1/logs, the reports), as for the API, NULL with aigw_auth off:
 * NGX_DECLINED, otherwise the 401 is sent and what
 * ngx_http_finalize_request() expects returned.
 */

ngx_int_t
ngx_http_aigw_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller)
{
    ngx_int_t             rc;
    ngx_http_aigw_ctx_t  *ctx;

    *caller = NULL;

    /* not the module's ctx: the log phase has nothing to settle here */

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->start = ngx_current_msec;
    ctx->budget_remaining = -1;
    ctx->client = ngx_http_aigw_default_format;

    rc = ngx_http_aigw_authenticate(r, ctx);

    if (rc == NGX_DECLINED) {
        *caller = ctx->key;
    }

    return rc;
}


/* x-ai-gateway-api-key, else Authorization: Bearer, else x-api-key */

static ngx_uint_t
ngx_http_aigw_key_from(ngx_http_request_t *r, ngx_str_t *secret)
{
    ngx_table_elt_t  *h;

    h = ngx_http_aigw_find_header(r, "x-ai-gateway-api-key",
                                  sizeof("x-ai-gateway-api-key") - 1);

    if (h && h->value.len) {
        *secret = h->value;
        return ngx_http_aigw_key_gateway;
    }

    h = r->headers_in.authorization;

    if (h && h->value.len > 7
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) == 0)
    {
        secret->data = h->value.data + 7;
        secret->len = h->value.len - 7;

        while (secret->len && secret->data[0] == ' ') {
            secret->data++;
            secret->len--;
        }

        if (secret->len) {
            return ngx_http_aigw_key_bearer;
        }
    }

    h = ngx_http_aigw_find_header(r, "x-api-key", sizeof("x-api-key") - 1);

    if (h && h->value.len) {
        *secret = h->value;
        return ngx_http_aigw_key_x_api_key;
    }

    return ngx_http_aigw_key_none;
}


static ngx_table_elt_t *
ngx_http_aigw_find_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* the client's own credential header for a provider: "Authorization" etc */

ngx_table_elt_t *
ngx_http_aigw_client_credential(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h && h->value.len) {
        ngx_str_set(name, "Authorization");
        return h;
    }

    h = ngx_http_aigw_find_header(r, "x-api-key", sizeof("x-api-key") - 1);

    if (h && h->value.len) {
        ngx_str_set(name, "x-api-key");
        return h;
    }

    return NULL;
}


/* may the key use this slug: models= patterns, "*" matches any run */

ngx_uint_t
ngx_http_aigw_key_allows(const ngx_http_aigw_key_t *key, ngx_str_t *slug)
{
    ngx_str_t   *p;
    ngx_uint_t   i;

    if (key == NULL || key->models == NULL) {
        return 1;
    }

    p = key->models->elts;

    for (i = 0; i < key->models->nelts; i++) {
        if (ngx_http_aigw_glob(p[i].data, p[i].data + p[i].len, slug->data,
                               slug->data + slug->len))
        {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_aigw_glob(u_char *p, u_char *pe, u_char *s, u_char *se)
{
    u_char  *star_p, *star_s;

    star_p = NULL;
    star_s = NULL;

    while (s < se) {
        if (p < pe && *p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }

        if (p < pe && *p == *s) {
            p++;
            s++;
            continue;
        }

        if (star_p == NULL) {
            return 0;
        }

        p = star_p;
        s = ++star_s;
    }

    while (p < pe && *p == '*') {
        p++;
    }

    return p == pe;
}


/* the auth stage: the key, the models it may use, BYOK, user and tags */

static ngx_http_aigw_outcome_e
ngx_http_aigw_auth_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t    rc;
    ngx_str_t   *s;
    ngx_uint_t   i;

    rc = ngx_http_aigw_authenticate(r, ctx);
    if (rc != NGX_DECLINED) {
        goto finished;
    }

    if (ctx->key && ctx->key->models) {

        if (!ngx_http_aigw_key_allows(ctx->key, &ctx->model)) {
            rc = ngx_http_aigw_send_error(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                          "the gateway key \"%V\" may not "
                                          "use the model \"%V\"",
                                          &ctx->key->name, &ctx->model);
            goto finished;
        }

        /* the request's own fallback models, too */

        if (ctx->models) {
            s = ctx->models->elts;

            for (i = 0; i < ctx->models->nelts; i++) {
                if (!ngx_http_aigw_key_allows(ctx->key, &s[i])) {
                    rc = ngx_http_aigw_send_error(r, ctx,
                                                  NGX_HTTP_FORBIDDEN, NULL,
                                                  "the gateway key \"%V\" "
                                                  "may not use the model "
                                                  "\"%V\"", &ctx->key->name,
                                                  &s[i]);
                    goto finished;
                }
            }
        }
    }

    rc = ngx_http_aigw_byok(r, ctx);
    if (rc != NGX_DECLINED) {
        goto finished;
    }

    rc = ngx_http_aigw_who(r, ctx);
    if (rc != NGX_DECLINED) {
        goto finished;
    }

    return ngx_http_aigw_next;

finished:

    ctx->rc = rc;
    return ngx_http_aigw_finished;
}


/*
 * providerOptions.gateway.byok: {"PROVIDER":[{"apiKey":"..."}], ...}, the
 * first credential of each configured provider kept in ctx->byok.
 * NGX_DECLINED: go on.
 */

static ngx_int_t
ngx_http_aigw_byok(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    size_t                      i;
    ngx_uint_t                  v, g, m, e, a;
    ngx_http_aigw_json_t       *o;
    ngx_http_aigw_byok_t       *b;
    ngx_http_aigw_main_conf_t  *amcf;

    o = &ctx->options;

    if (o->toks == NULL) {
        return NGX_DECLINED;
    }

    g = ngx_http_aigw_json_get(o, 0, "gateway");

    if (!ngx_http_aigw_json_is(o, g, ngx_http_aigw_json_object)) {
        return NGX_DECLINED;
    }

    v = ngx_http_aigw_json_get(o, g, "byok");

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || o->toks[v].type == ngx_http_aigw_json_null)
    {
        return NGX_DECLINED;
    }

    if (ctx->key == NULL || !ctx->key->byok) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                        "\"providerOptions.gateway.byok\" "
                                        "needs a gateway key marked byok");
    }

    if (o->toks[v].type != ngx_http_aigw_json_object) {
        goto invalid;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    ctx->byok = ngx_array_create(r->pool, 2, sizeof(ngx_http_aigw_byok_t));
    if (ctx->byok == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* members: a key token, then its value */

    for (m = v + 1; m < o->toks[v].next; m = o->toks[m + 1].next) {
        e = m + 1;

        if (o->toks[e].type != ngx_http_aigw_json_array) {
            goto invalid;
        }

        a = e + 1;

        if (a >= o->toks[e].next) {
            continue;                  /* an empty list */
        }

        if (o->toks[a].type != ngx_http_aigw_json_object) {
            goto invalid;
        }

        a = ngx_http_aigw_json_get(o, a, "apiKey");

        if (!ngx_http_aigw_json_is(o, a, ngx_http_aigw_json_string)) {
            goto invalid;
        }

        b = ngx_array_push(ctx->byok);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_aigw_json_str(o, m, &b->provider) != NGX_OK
            || ngx_http_aigw_json_str(o, a, &b->key) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* it goes into a header */

        for (i = 0; i < b->key.len; i++) {
            if (b->key.data[i] < 0x20 || b->key.data[i] == 0x7f) {
                goto invalid;
            }
        }

        if (b->key.len == 0) {
            goto invalid;
        }

        if (ngx_http_aigw_find_provider(amcf, &b->provider) == NULL) {
            ctx->byok->nelts--;        /* not a provider of this gateway */
        }
    }

    return NGX_DECLINED;

invalid:

    return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                    "\"providerOptions.gateway.byok\" must "
                                    "map provider names to lists of "
                                    "{\"apiKey\": \"...\"} with printable "
                                    "keys");
}


/* the request's BYOK credential for a provider, if any */

ngx_str_t *
ngx_http_aigw_byok_key(ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_provider_t *p)
{
    ngx_uint_t             i;
    ngx_http_aigw_byok_t  *b;

    if (ctx->byok == NULL) {
        return NULL;
    }

    b = ctx->byok->elts;

    for (i = 0; i < ctx->byok->nelts; i++) {
        if (b[i].provider.len == p->name.len
            && ngx_strncmp(b[i].provider.data, p->name.data, p->name.len)
               == 0)
        {
            return &b[i].key;
        }
    }

    return NULL;
}


/*
 * The end user: providerOptions.gateway.user (set by the prepare stage),
 * else OpenAI "user", else Anthropic "metadata.user_id", else aigw_user;
 * the tags: the key's, then the client's.  NGX_DECLINED: go on.
 */

static ngx_int_t
ngx_http_aigw_who(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_uint_t                 v, u;
    ngx_http_aigw_json_t      *j, sub;
    ngx_http_aigw_loc_conf_t  *alcf;

    j = &ctx->json;

    if (ctx->user.len == 0) {
        v = ngx_http_aigw_json_get(j, 0, "user");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
            && ngx_http_aigw_json_str(j, v, &ctx->user) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->user.len == 0) {
        v = ngx_http_aigw_json_get(j, 0, "metadata");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {
            ngx_memzero(&sub, sizeof(ngx_http_aigw_json_t));
            sub.pool = r->pool;
            sub.max = j->max;

            if (ngx_http_aigw_json_sub(j, v, &sub, 1) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            u = ngx_http_aigw_json_get(&sub, 0, "user_id");

            if (ngx_http_aigw_json_is(&sub, u, ngx_http_aigw_json_string)
                && ngx_http_aigw_json_str(&sub, u, &ctx->user) != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (ctx->user.len == 0) {
        alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

        if (alcf->user
            && ngx_http_complex_value(r, alcf->user, &ctx->user) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* a user names counters: a client must not make them unbounded */

    if (ctx->user.len > NGX_HTTP_AIGW_TAG_LEN_MAX) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the end user is %uz bytes long, "
                                        "at most %d are allowed",
                                        ctx->user.len,
                                        NGX_HTTP_AIGW_TAG_LEN_MAX);
    }

    rc = ngx_http_aigw_client_tags(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_aigw_client_tags(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t             *s, *t;
    ngx_uint_t             i, n, e;
    ngx_http_aigw_json_t   tags;

    n = ctx->key && ctx->key->tags ? ctx->key->tags->nelts : 0;

    ngx_memzero(&tags, sizeof(ngx_http_aigw_json_t));

    if (ctx->tags.len) {
        tags.pool = r->pool;
        tags.record = 1;

        if (ngx_http_aigw_json_parse(&tags, ctx->tags.data, ctx->tags.len)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (tags.toks[0].count > NGX_HTTP_AIGW_TAGS_MAX) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"providerOptions.gateway"
                                            ".tags\" may have at most %d "
                                            "tags", NGX_HTTP_AIGW_TAGS_MAX);
        }

        n += tags.toks[0].count;
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    ctx->tag_list = ngx_array_create(r->pool, n, sizeof(ngx_str_t));
    if (ctx->tag_list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->key && ctx->key->tags) {
        s = ctx->key->tags->elts;

        for (i = 0; i < ctx->key->tags->nelts; i++) {
            t = ngx_array_push(ctx->tag_list);
            if (t == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *t = s[i];
        }
    }

    if (tags.toks == NULL) {
        return NGX_DECLINED;
    }

    for (e = 1; e < tags.toks[0].next; e = tags.toks[e].next) {
        t = ngx_array_push(ctx->tag_list);
        if (t == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_aigw_json_str(&tags, e, t) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (t->len == 0 || t->len > NGX_HTTP_AIGW_TAG_LEN_MAX) {
            ctx->tag_list = NULL;

            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "a tag in \"providerOptions"
                                            ".gateway.tags\" must have 1 to "
                                            "%d bytes",
                                            NGX_HTTP_AIGW_TAG_LEN_MAX);
        }
    }

    return NGX_DECLINED;
}
