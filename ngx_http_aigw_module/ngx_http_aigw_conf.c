
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


typedef struct ngx_http_aigw_param_s  ngx_http_aigw_param_t;


/* what aigw_provider collects before the provider is checked */

typedef struct {
    ngx_http_aigw_provider_t       *p;
    ngx_str_t                       url;
    ngx_str_t                       env_url;
    ngx_str_t                       upstream;
    ngx_str_t                       key;      /* the whole parameter */
    ngx_str_t                      *param;    /* the one being read */
    ngx_uint_t                      tls;
} ngx_http_aigw_provider_args_t;


typedef char *(*ngx_http_aigw_param_pt)(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);


static char *ngx_http_aigw_param_pstr(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_astr(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_format(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_url_env(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_path(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_api_version(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_key(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_optional(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_auth(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_responses(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_header(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_max_tokens(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_keepalive(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_tls(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_vertex(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_aws(ngx_conf_t *cf,
    ngx_http_aigw_param_t *pm, ngx_http_aigw_provider_args_t *a,
    ngx_str_t *value);
static char *ngx_http_aigw_param_invalid(ngx_conf_t *cf,
    ngx_http_aigw_provider_args_t *a);
static char *ngx_http_aigw_provider_init(ngx_conf_t *cf,
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_provider_args_t *a);
static char *ngx_http_aigw_provider_check(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p);
static ngx_uint_t ngx_http_aigw_token(ngx_str_t *s);
static char *ngx_http_aigw_provider_url(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_str_t *url);
static char *ngx_http_aigw_provider_key(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_str_t *value);
static char *ngx_http_aigw_price(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, int64_t *price);
static char *ngx_http_aigw_image_price(ngx_conf_t *cf, ngx_str_t *value,
    int64_t *price);
static ngx_int_t ngx_http_aigw_model_fallbacks(ngx_conf_t *cf,
    ngx_http_aigw_model_t *m, ngx_str_t *v);
static ngx_int_t ngx_http_aigw_model_route(ngx_conf_t *cf,
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_model_t *m, ngx_str_t *v);
static ngx_int_t ngx_http_aigw_key_file(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_str_t *value);
static ngx_uint_t ngx_http_aigw_ctl(ngx_str_t *s);
static int ngx_libc_cdecl ngx_http_aigw_wildcard_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_aigw_slug_cmp(const void *one,
    const void *two);


static ngx_str_t  ngx_http_aigw_default_version =
    ngx_string("2023-06-01");


/* a key, a service-account JSON fits */
#define NGX_HTTP_AIGW_KEY_MAX  4096


#define ngx_http_aigw_param(v, name)                                         \
    ((v)->len >= sizeof(name) - 1                                            \
     && ngx_strncmp((v)->data, name, sizeof(name) - 1) == 0)


/* a name ending in "=" takes a value; any other is a flag */

struct ngx_http_aigw_param_s {
    ngx_str_t                       name;
    ngx_http_aigw_param_pt          handler;
    size_t                          offset;
};


#define ngx_http_aigw_pstr(field)                                            \
    ngx_http_aigw_param_pstr, offsetof(ngx_http_aigw_provider_t, field)
#define ngx_http_aigw_astr(field)                                            \
    ngx_http_aigw_param_astr, offsetof(ngx_http_aigw_provider_args_t, field)


static ngx_http_aigw_param_t  ngx_http_aigw_provider_params[] = {
    { ngx_string("format="), ngx_http_aigw_param_format, 0 },
    { ngx_string("url="), ngx_http_aigw_astr(url) },
    { ngx_string("url_env="), ngx_http_aigw_param_url_env, 0 },
    { ngx_string("upstream="), ngx_http_aigw_astr(upstream) },
    { ngx_string("host="), ngx_http_aigw_pstr(host) },
    { ngx_string("sni="), ngx_http_aigw_pstr(sni) },
    { ngx_string("path="), ngx_http_aigw_param_path, 0 },
    { ngx_string("query="), ngx_http_aigw_pstr(query) },
    { ngx_string("api_version="), ngx_http_aigw_param_api_version, 0 },
    { ngx_string("key="), ngx_http_aigw_param_key, 0 },
    { ngx_string("key_env="), ngx_http_aigw_param_key, 0 },
    { ngx_string("key_file="), ngx_http_aigw_param_key, 0 },
    { ngx_string("optional"), ngx_http_aigw_param_optional, 0 },
    { ngx_string("auth="), ngx_http_aigw_param_auth, 0 },
    { ngx_string("header="), ngx_http_aigw_param_header, 0 },
    { ngx_string("version="), ngx_http_aigw_pstr(version) },
    { ngx_string("max_tokens="), ngx_http_aigw_param_max_tokens, 0 },
    { ngx_string("keepalive="), ngx_http_aigw_param_keepalive, 0 },
    { ngx_string("tls="), ngx_http_aigw_param_tls, 0 },
    { ngx_string("responses="), ngx_http_aigw_param_responses, 0 },
    { ngx_string("project="), ngx_http_aigw_param_vertex, 0 },
    { ngx_string("location="), ngx_http_aigw_param_vertex, 0 },
    { ngx_string("credentials="), ngx_http_aigw_param_vertex, 0 },
    { ngx_string("token_url="), ngx_http_aigw_param_vertex, 0 },
    { ngx_string("region="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("access_key_env="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("access_key_file="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("secret_key_env="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("secret_key_file="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("session_token_env="), ngx_http_aigw_param_aws, 0 },
    { ngx_string("session_token_file="), ngx_http_aigw_param_aws, 0 },
    { ngx_null_string, NULL, 0 }
};


/*
 * aigw_provider name [format=NAME] (url=URL | upstream=NAME)
 *     [url_env=VAR] [host=H] [sni=H] [path=P] [query=Q] [api_version=V]
 *     [key=K | key_env=VAR | key_file=FILE] [optional]
 *     [auth=bearer|x-api-key|api-key|none|header:NAME] [header=Name:Value]
 *     [version=V] [max_tokens=N] [tls=on|off] [keepalive=N]
 *     [responses=on|off]
 *     [project=P location=L credentials=FILE [token_url=URL]]
 *     [region=R] [access_key_env=VAR | access_key_file=FILE]
 *     [secret_key_env=VAR | secret_key_file=FILE]
 *     [session_token_env=VAR | session_token_file=FILE]
 */

char *
ngx_http_aigw_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    char                           *rv;
    ngx_str_t                      *value, s;
    ngx_uint_t                      i;
    ngx_http_aigw_param_t          *pm;
    ngx_http_aigw_provider_t       *p;
    ngx_http_aigw_provider_args_t   a;

    value = cf->args->elts;

    if (ngx_http_aigw_find_provider(amcf, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate aigw_provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0 || value[1].len > NGX_HTTP_AIGW_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid aigw_provider name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    p = ngx_array_push(&amcf->providers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(p, sizeof(ngx_http_aigw_provider_t));

    p->name = value[1];
    p->format = ngx_http_aigw_default_format;
    p->max_tokens = NGX_CONF_UNSET_UINT;
    p->keepalive = 32;
    p->file = cf->conf_file->file.name.data;
    p->line = cf->conf_file->line;

    ngx_memzero(&a, sizeof(ngx_http_aigw_provider_args_t));
    a.p = p;
    a.tls = NGX_CONF_UNSET_UINT;

    for (i = 2; i < cf->args->nelts; i++) {

        for (pm = ngx_http_aigw_provider_params; pm->name.len; pm++) {
            if (pm->name.data[pm->name.len - 1] == '=') {
                if (value[i].len >= pm->name.len
                    && ngx_strncmp(value[i].data, pm->name.data,
                                   pm->name.len) == 0)
                {
                    break;
                }

            } else if (value[i].len == pm->name.len
                       && ngx_strncmp(value[i].data, pm->name.data,
                                      pm->name.len) == 0)
            {
                break;
            }
        }

        a.param = &value[i];

        if (pm->handler == NULL) {
            return ngx_http_aigw_param_invalid(cf, &a);
        }

        s.data = value[i].data + pm->name.len;
        s.len = value[i].len - pm->name.len;

        rv = pm->handler(cf, pm, &a, &s);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    rv = ngx_http_aigw_provider_init(cf, amcf, &a);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (a.key.len) {
        rv = ngx_http_aigw_provider_key(cf, p, &a.key);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return ngx_http_aigw_sigv4_conf(cf, p);
}


static char *
ngx_http_aigw_param_pstr(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    *(ngx_str_t *) ((u_char *) a->p + pm->offset) = *value;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_astr(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    *(ngx_str_t *) ((u_char *) a + pm->offset) = *value;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_format(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    a->p->format = ngx_http_aigw_find_format(value);

    if (a->p->format == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider format \"%V\" in aigw_provider "
                           "\"%V\"", value, &a->p->name);
        return NGX_CONF_ERROR;
    }

    if (a->p->format == &ngx_http_aigw_responses_format) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Responses API is a client surface, a "
                           "provider that serves it natively is "
                           "\"format=openai responses=on\" in aigw_provider "
                           "\"%V\"", &a->p->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_url_env(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    u_char  *env;

    if (ngx_http_aigw_getenv(cf, value, &env) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* it wins over url=, wherever that is given */

    if (env && *env) {
        a->env_url.data = env;
        a->env_url.len = ngx_strlen(env);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_path(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    if (value->len && value->data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "path of aigw_provider \"%V\" must start with "
                           "\"/\"", &a->p->name);
        return NGX_CONF_ERROR;
    }

    a->p->path = *value;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_api_version(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    ngx_str_t  *q;

    q = &a->p->query;

    q->len = sizeof("api-version=") - 1 + value->len;
    q->data = ngx_pnalloc(cf->pool, q->len);
    if (q->data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(q->data, "api-version=%V", value);

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_key(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    if (a->key.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" has more than one key",
                           &a->p->name);
        return NGX_CONF_ERROR;
    }

    a->key = *a->param;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_optional(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    a->p->optional = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_auth(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    ngx_http_aigw_provider_t  *p;

    p = a->p;

    if (value->len == 6 && ngx_strncmp(value->data, "bearer", 6) == 0) {
        p->auth = ngx_http_aigw_auth_bearer;

    } else if (value->len == 9
               && ngx_strncmp(value->data, "x-api-key", 9) == 0)
    {
        p->auth = ngx_http_aigw_auth_x_api_key;

    } else if (value->len == 7 && ngx_strncmp(value->data, "api-key", 7) == 0)
    {
        p->auth = ngx_http_aigw_auth_api_key;

    } else if (value->len == 4 && ngx_strncmp(value->data, "none", 4) == 0) {
        p->auth = ngx_http_aigw_auth_none;

    } else if (value->len == 5 && ngx_strncmp(value->data, "sigv4", 5) == 0)
    {
        p->auth = ngx_http_aigw_auth_sigv4;

    } else if (value->len > 7 && ngx_strncmp(value->data, "header:", 7) == 0)
    {
        p->auth = ngx_http_aigw_auth_header;
        p->auth_header.data = value->data + 7;
        p->auth_header.len = value->len - 7;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid auth \"%V\" in aigw_provider \"%V\"",
                           value, &p->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_header(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    u_char                    *colon;
    ngx_keyval_t              *kv;
    ngx_http_aigw_provider_t  *p;

    p = a->p;

    colon = ngx_strlchr(value->data, value->data + value->len, ':');

    if (colon == NULL || colon == value->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header \"%V\" in aigw_provider \"%V\", "
                           "expected Name:Value", value, &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->headers == NULL) {
        p->headers = ngx_array_create(cf->pool, 2, sizeof(ngx_keyval_t));
        if (p->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kv = ngx_array_push(p->headers);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key.data = value->data;
    kv->key.len = colon - value->data;
    kv->value.data = colon + 1;
    kv->value.len = value->data + value->len - colon - 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_max_tokens(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);
    if (n <= 0) {
        return ngx_http_aigw_param_invalid(cf, a);
    }

    a->p->max_tokens = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_keepalive(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);
    if (n < 0) {
        return ngx_http_aigw_param_invalid(cf, a);
    }

    a->p->keepalive = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_param_tls(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    if (value->len == 2 && ngx_strncmp(value->data, "on", 2) == 0) {
        a->tls = 1;

    } else if (value->len == 3 && ngx_strncmp(value->data, "off", 3) == 0) {
        a->tls = 0;

    } else {
        return ngx_http_aigw_param_invalid(cf, a);
    }

    return NGX_CONF_OK;
}


/* responses=on: POST /v1/responses goes to the provider as it came */

static char *
ngx_http_aigw_param_responses(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    if (value->len == 2 && ngx_strncmp(value->data, "on", 2) == 0) {
        a->p->responses = 1;

    } else if (value->len == 3 && ngx_strncmp(value->data, "off", 3) == 0) {
        a->p->responses = 0;

    } else {
        return ngx_http_aigw_param_invalid(cf, a);
    }

    return NGX_CONF_OK;
}


/* Vertex AI (ngx_http_aigw_vertex.c) */

static char *
ngx_http_aigw_param_vertex(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    return ngx_http_aigw_vertex_param(cf, a->p, &pm->name, value);
}


static char *
ngx_http_aigw_param_aws(ngx_conf_t *cf, ngx_http_aigw_param_t *pm,
    ngx_http_aigw_provider_args_t *a, ngx_str_t *value)
{
    return ngx_http_aigw_sigv4_param(cf, a->p, a->param) == NGX_OK
           ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static char *
ngx_http_aigw_param_invalid(ngx_conf_t *cf, ngx_http_aigw_provider_args_t *a)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in aigw_provider \"%V\"",
                       a->param, &a->p->name);

    return NGX_CONF_ERROR;
}


/* checks what aigw_provider collected and completes the provider */

static char *
ngx_http_aigw_provider_init(ngx_conf_t *cf, ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_provider_args_t *a)
{
    char                      *rv;
    ngx_str_t                  s;
    ngx_url_t                  u;
    ngx_http_aigw_provider_t  *p;

    p = a->p;

    if (a->env_url.len) {
        a->url = a->env_url;
    }

    if (p->version.len == 0) {
        p->version = ngx_http_aigw_default_version;
    }

    if (p->auth == ngx_http_aigw_auth_default) {
        p->auth = p->format->auth;
    }

    if (p->responses && p->format != &ngx_http_aigw_openai_format) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"responses=on\" needs \"format=openai\" in "
                           "aigw_provider \"%V\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if ((a->url.len == 0) == (a->upstream.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" needs either \"url=\" or "
                           "\"upstream=\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if (a->url.len) {
        rv = ngx_http_aigw_provider_url(cf, p, &a->url);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = a->upstream;
        u.no_resolve = 1;

        p->upstream = ngx_http_upstream_add(cf, &u, 0);
        if (p->upstream == NULL) {
            return NGX_CONF_ERROR;
        }

        p->url = a->upstream;
        p->ssl = (a->tls != 0);

        if (p->host.len == 0) {
            p->host = a->upstream;
        }

        if (p->path.data == NULL) {
            ngx_str_set(&p->path, "/v1");

            /* a format with a target() hook makes the whole path */

            if (p->format->target != NULL
                || (p->format->paths[ngx_http_aigw_ep_chat].len > 3
                    && ngx_strncmp(p->format->paths[ngx_http_aigw_ep_chat].data,
                                   "/v1/", 4) == 0))
            {
                ngx_str_null(&p->path);
            }
        }
    }

    if (p->sni.len == 0) {
        p->sni = p->host;

        s.data = ngx_strlchr(p->host.data, p->host.data + p->host.len, ':');

        if (s.data && p->host.data[0] != '[') {
            p->sni.len = s.data - p->host.data;
        }
    }

#if !(NGX_HTTP_SSL)
    if (p->ssl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" needs TLS, but nginx was "
                           "built without the http_ssl module", &p->name);
        return NGX_CONF_ERROR;
    }
#endif

    if (p->ssl) {
        amcf->need_ssl = 1;
    }

    if (p->vertex && ngx_http_aigw_vertex_init(cf, p) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_aigw_provider_check(cf, p);
}


/* what goes into the request head as it is must not break it */

static char *
ngx_http_aigw_provider_check(ngx_conf_t *cf, ngx_http_aigw_provider_t *p)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    /*
     * all of these go into the request head as they are: "\r\n" in a
     * quoted parameter, or in the variable of url_env=, would add headers
     */

    if (ngx_http_aigw_ctl(&p->host) || ngx_http_aigw_ctl(&p->path)
        || ngx_http_aigw_ctl(&p->query) || ngx_http_aigw_ctl(&p->version)
        || ngx_http_aigw_ctl(&p->auth_header))
    {
        goto ctl;
    }

    if (p->headers) {
        kv = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            if (ngx_http_aigw_ctl(&kv[i].key)
                || ngx_http_aigw_ctl(&kv[i].value))
            {
                goto ctl;
            }
        }
    }


    /* a space would end the request target, a header name its name */

    if (ngx_strlchr(p->path.data, p->path.data + p->path.len, ' ')
        || ngx_strlchr(p->query.data, p->query.data + p->query.len, ' '))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_provider \"%V\" has a space in its path or "
                           "query, write it as %%20", &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->auth == ngx_http_aigw_auth_header
        && !ngx_http_aigw_token(&p->auth_header))
    {
        goto name;
    }

    if (p->headers) {
        kv = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            if (!ngx_http_aigw_token(&kv[i].key)) {
                goto name;
            }
        }
    }

    return NGX_CONF_OK;

name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "aigw_provider \"%V\" has an invalid header name: "
                       "only letters, digits and !#$%%&'*+-.^_`|~ may be "
                       "used", &p->name);

    return NGX_CONF_ERROR;

ctl:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "aigw_provider \"%V\" has a control character in "
                       "its url, host, path, query, version or headers",
                       &p->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_aigw_provider_url(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *url)
{
    size_t     add;
    ngx_url_t  u, r;

    p->url = *url;

    if (url->len > 7 && ngx_strncasecmp(url->data, (u_char *) "http://", 7)
                        == 0)
    {
        add = 7;
        p->ssl = 0;

    } else if (url->len > 8
               && ngx_strncasecmp(url->data, (u_char *) "https://", 8) == 0)
    {
        add = 8;
        p->ssl = 1;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid url \"%V\" in aigw_provider \"%V\": "
                           "expected http:// or https://", url, &p->name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = url->data + add;
    u.url.len = url->len - add;
    u.default_port = p->ssl ? 443 : 80;
    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in url \"%V\" of aigw_provider \"%V\"",
                           u.err ? u.err : "invalid host", url, &p->name);
        return NGX_CONF_ERROR;
    }

    if (u.host.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no host in url \"%V\" of aigw_provider \"%V\"",
                           url, &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->host.len == 0) {
        p->host = u.host;

        if (!u.no_port) {
            p->host.len = u.uri.data ? (size_t) (u.uri.data - u.url.data)
                                     : u.url.len;
            p->host.data = u.url.data;
        }
    }

    if (p->path.data == NULL) {
        p->path = u.uri;

        /* a query in the url is kept */

        if (u.uri.len) {
            add = 0;

            while (add < u.uri.len && u.uri.data[add] != '?') {
                add++;
            }

            p->path.len = add;

            if (add + 1 < u.uri.len && p->query.data == NULL) {
                p->query.data = u.uri.data + add + 1;
                p->query.len = u.uri.len - add - 1;
            }
        }

        while (p->path.len && p->path.data[p->path.len - 1] == '/') {
            p->path.len--;
        }
    }

    /*
     * resolve now: a host that does not resolve leaves the provider
     * failing (and failing over) at request time instead of stopping
     * nginx, as the gateway may start without network
     */

    ngx_memzero(&r, sizeof(ngx_url_t));

    r.host = u.host;
    r.port = u.port;

    if (ngx_inet_resolve_host(cf->pool, &r) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "aigw_provider \"%V\": host \"%V\" not found, "
                           "the provider is unavailable until reload",
                           &p->name, &u.host);
        p->unresolved = 1;
        return NGX_CONF_OK;
    }

    p->implicit = 1;

    /*
     * ngx_http_upstream_add() parses the url again: an IP address host
     * already put its address into u.addrs (allocated for one), and the
     * second parse would write the next one past that allocation
     */

    u.addrs = NULL;
    u.naddrs = 0;

    p->upstream = ngx_http_upstream_add(cf, &u, 0);
    if (p->upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_provider_key(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *value)
{
    u_char     *env, *s;
    ngx_int_t   rc;
    ngx_str_t   name;

    if (ngx_http_aigw_param(value, "key=")) {
        p->key.data = value->data + 4;
        p->key.len = value->len - 4;
        ngx_str_set(&p->key_source, "key=");

        /* like an unset key_env= (an empty variable in a template) */

        if (p->key.len == 0 && !p->optional) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty key= in aigw_provider \"%V\"",
                               &p->name);
            return NGX_CONF_ERROR;
        }

        goto check;
    }

    if (ngx_http_aigw_param(value, "key_env=")) {
        name.data = value->data + 8;
        name.len = value->len - 8;

        p->key_source.len = sizeof("environment variable ") - 1 + name.len;
        p->key_source.data = ngx_pnalloc(cf->pool, p->key_source.len);
        if (p->key_source.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(p->key_source.data, "environment variable %V", &name);

        if (ngx_http_aigw_getenv(cf, &name, &env) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (env == NULL || *env == '\0') {
            if (p->optional) {
                return NGX_CONF_OK;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%V\" with the key of "
                               "aigw_provider \"%V\" is not set",
                               &name, &p->name);
            return NGX_CONF_ERROR;
        }

        p->key.len = ngx_strlen(env);
        p->key.data = ngx_pnalloc(cf->pool, p->key.len);
        if (p->key.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(p->key.data, env, p->key.len);
        goto check;
    }

    /* key_file= */

    rc = ngx_http_aigw_key_file(cf, p, value);

    if (rc == NGX_DECLINED) {
        return NGX_CONF_OK;          /* optional, and missing or empty */
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

check:

    for (s = p->key.data; s < p->key.data + p->key.len; s++) {
        if (*s < 0x20 || *s == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the key of aigw_provider \"%V\" contains a "
                               "control character", &p->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* reads a key file; NGX_DECLINED: an optional one is missing or empty */

static ngx_int_t
ngx_http_aigw_key_file(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *value)
{
    u_char     *s, *e;
    ssize_t     n;
    ngx_str_t   name;
    ngx_file_t  file;

    name.data = value->data + 9;
    name.len = value->len - 9;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    p->key_source.len = sizeof("file ") - 1 + name.len;
    p->key_source.data = ngx_pnalloc(cf->pool, p->key_source.len);
    if (p->key_source.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p->key_source.data, "file %V", &name);

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = name;
    file.log = cf->log;
    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        if (p->optional) {
            return NGX_DECLINED;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open key file \"%V\" of aigw_provider "
                           "\"%V\"", &name, &p->name);
        return NGX_ERROR;
    }

    /* one byte more than a key may have, to tell a longer file */

    p->key.data = ngx_pnalloc(cf->pool, NGX_HTTP_AIGW_KEY_MAX + 1);
    if (p->key.data == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, p->key.data, NGX_HTTP_AIGW_KEY_MAX + 1, 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n > NGX_HTTP_AIGW_KEY_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" of aigw_provider \"%V\" is "
                           "larger than %d bytes", &name, &p->name,
                           NGX_HTTP_AIGW_KEY_MAX);
        return NGX_ERROR;
    }

    s = p->key.data;
    e = s + n;

    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
    }

    while (e > s
           && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
               || e[-1] == '\n'))
    {
        e--;
    }

    p->key.data = s;
    p->key.len = e - s;

    if (p->key.len == 0) {
        if (p->optional) {
            return NGX_DECLINED;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" of aigw_provider \"%V\" is empty",
                           &name, &p->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* getenv() needs a NUL-terminated copy (ngx_pstrdup() does not add one) */

ngx_int_t
ngx_http_aigw_getenv(ngx_conf_t *cf, ngx_str_t *name, u_char **value)
{
    u_char  *n;

    n = ngx_pnalloc(cf->pool, name->len + 1);
    if (n == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(n, name->data, name->len + 1);

    *value = (u_char *) getenv((char *) n);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_aigw_ctl(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


/* an HTTP token (RFC 9110), for header names */

static ngx_uint_t
ngx_http_aigw_token(ngx_str_t *s)
{
    u_char  ch;
    size_t  i;

    if (s->len == 0) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        ch = s->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ngx_strlchr((u_char *) "!#$%&'*+-.^_`|~",
                           (u_char *) "!#$%&'*+-.^_`|~" + 15, ch))
        {
            continue;
        }

        return 0;
    }

    return 1;
}


ngx_http_aigw_provider_t *
ngx_http_aigw_find_provider(ngx_http_aigw_main_conf_t *amcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_aigw_provider_t  *p;

    p = amcf->providers.elts;

    for (i = 0; i < amcf->providers.nelts; i++) {
        if (p[i].name.len == name->len
            && ngx_strncmp(p[i].name.data, name->data, name->len) == 0)
        {
            return &p[i];
        }
    }

    return NULL;
}


/*
 * aigw_model slug provider[:id] ... [input=P] [output=P] [cached_input=P]
 *     [cache_write=P] [fallback=slug,...] [reasoning]
 *
 * Prices are USD per 1M tokens.  A slug ending in "*" is a prefix.
 */

char *
ngx_http_aigw_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    char                      *rv;
    ngx_int_t                  rc;
    ngx_str_t                 *value, *v;
    ngx_uint_t                 i;
    ngx_http_aigw_model_t     *m, *models;

    value = cf->args->elts;

    if (value[1].len == 0
        || (value[1].len > 1 && ngx_strlchr(value[1].data,
                                            value[1].data + value[1].len - 1,
                                            '*')))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid aigw_model slug \"%V\": \"*\" is only "
                           "allowed at the end", &value[1]);
        return NGX_CONF_ERROR;
    }

    models = amcf->models.elts;

    for (i = 0; i < amcf->models.nelts; i++) {
        m = &models[i];

        if (m->slug.len + m->wildcard == value[1].len
            && ngx_strncmp(m->slug.data, value[1].data, m->slug.len) == 0
            && (m->wildcard == (value[1].data[value[1].len - 1] == '*')))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate aigw_model \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    m = ngx_array_push(&amcf->models);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(m, sizeof(ngx_http_aigw_model_t));

    m->slug = value[1];

    if (m->slug.data[m->slug.len - 1] == '*') {
        m->wildcard = 1;
        m->slug.len--;
    }

    if (ngx_array_init(&m->routes, cf->pool, 2, sizeof(ngx_http_aigw_route_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        v = &value[i];

        if (ngx_http_aigw_param(v, "input=")) {
            rv = ngx_http_aigw_price(cf, v, 6, &m->price_input);

        } else if (ngx_http_aigw_param(v, "output=")) {
            rv = ngx_http_aigw_price(cf, v, 7, &m->price_output);

        } else if (ngx_http_aigw_param(v, "cached_input=")) {
            rv = ngx_http_aigw_price(cf, v, 13, &m->price_cached);

        } else if (ngx_http_aigw_param(v, "cache_write=")) {
            rv = ngx_http_aigw_price(cf, v, 12, &m->price_cache_write);

        } else if (ngx_http_aigw_param(v, "image=")) {
            rv = ngx_http_aigw_image_price(cf, v, &m->price_image);

        } else if (ngx_http_aigw_param(v, "fallback=")) {
            rc = ngx_http_aigw_model_fallbacks(cf, m, v);

            if (rc == NGX_DECLINED) {
                goto invalid;
            }

            if (rc != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;

        } else if (v->len == 9 && ngx_strncmp(v->data, "reasoning", 9) == 0) {
            m->reasoning = 1;
            continue;

        } else if (ngx_strlchr(v->data, v->data + v->len, '=') == NULL) {

            /* provider[:id] */

            rc = ngx_http_aigw_model_route(cf, amcf, m, v);

            if (rc == NGX_DECLINED) {
                goto invalid;
            }

            if (rc != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;

        } else {
            goto invalid;
        }

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (m->routes.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_model \"%V\" has no provider", &value[1]);
        return NGX_CONF_ERROR;
    }

    m->priced = (m->price_input || m->price_output || m->price_image);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in aigw_model \"%V\"",
                       &value[i], &value[1]);

    return NGX_CONF_ERROR;
}


/* fallback=slug,... of aigw_model; NGX_DECLINED: invalid */

static ngx_int_t
ngx_http_aigw_model_fallbacks(ngx_conf_t *cf, ngx_http_aigw_model_t *m,
    ngx_str_t *v)
{
    u_char     *c, *last, *start;
    ngx_str_t  *fb;

    m->fallbacks = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (m->fallbacks == NULL) {
        return NGX_ERROR;
    }

    start = v->data + 9;
    last = v->data + v->len;

    while (start < last) {
        c = ngx_strlchr(start, last, ',');
        if (c == NULL) {
            c = last;
        }

        if (c == start) {
            return NGX_DECLINED;
        }

        fb = ngx_array_push(m->fallbacks);
        if (fb == NULL) {
            return NGX_ERROR;
        }

        fb->data = start;
        fb->len = c - start;
        start = c + 1;
    }

    return NGX_OK;
}


/* provider[:id] of aigw_model; NGX_DECLINED: invalid */

static ngx_int_t
ngx_http_aigw_model_route(ngx_conf_t *cf, ngx_http_aigw_main_conf_t *amcf,
    ngx_http_aigw_model_t *m, ngx_str_t *v)
{
    u_char                 *c;
    ngx_str_t              *value, name;
    ngx_uint_t              k;
    ngx_http_aigw_route_t  *rt;

    value = cf->args->elts;

    c = ngx_strlchr(v->data, v->data + v->len, ':');

    name.data = v->data;
    name.len = c ? (size_t) (c - v->data) : v->len;

    rt = ngx_array_push(&m->routes);
    if (rt == NULL) {
        return NGX_ERROR;
    }

    rt->provider = ngx_http_aigw_find_provider(amcf, &name);

    if (rt->provider == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider \"%V\" in aigw_model \"%V\" "
                           "(declare aigw_provider first)",
                           &name, &value[1]);
        return NGX_ERROR;
    }

    for (k = 0; k + 1 < m->routes.nelts; k++) {
        if (((ngx_http_aigw_route_t *) m->routes.elts)[k].provider
            == rt->provider)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "provider \"%V\" is listed twice in "
                               "aigw_model \"%V\"", &name, &value[1]);
            return NGX_ERROR;
        }
    }

    if (c) {
        rt->id.data = c + 1;
        rt->id.len = v->data + v->len - c - 1;

        if (rt->id.len == 0) {
            return NGX_DECLINED;
        }

    } else {
        ngx_str_null(&rt->id);
    }

    return NGX_OK;
}


static char *
ngx_http_aigw_price(ngx_conf_t *cf, ngx_str_t *value, size_t skip,
    int64_t *price)
{
    ngx_int_t  n;

    n = ngx_atofp(value->data + skip, value->len - skip, 6);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid price \"%V\": expected USD per 1M "
                           "tokens, e.g. \"input=2.50\"", value);
        return NGX_CONF_ERROR;
    }

    if ((int64_t) n > NGX_HTTP_AIGW_PRICE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid price \"%V\": at most %L USD per 1M "
                           "tokens", value,
                           NGX_HTTP_AIGW_PRICE_MAX / 1000000);
        return NGX_CONF_ERROR;
    }

    *price = n;

    return NGX_CONF_OK;
}


/* image=USD: the price of one generated image, in micro-USD */

static char *
ngx_http_aigw_image_price(ngx_conf_t *cf, ngx_str_t *value, int64_t *price)
{
    ngx_int_t  n;

    n = ngx_atofp(value->data + 6, value->len - 6, 6);

    if (n == NGX_ERROR || (int64_t) n > NGX_HTTP_AIGW_PRICE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid price \"%V\": expected USD per image, "
                           "at most %L, e.g. \"image=0.04\"", value,
                           NGX_HTTP_AIGW_PRICE_MAX / 1000000);
        return NGX_CONF_ERROR;
    }

    *price = n;

    return NGX_CONF_OK;
}


char *
ngx_http_aigw_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_main_conf_t *amcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (amcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid aigw_zone size \"%V\", at least %uz "
                           "bytes are needed", &value[2], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    amcf->zone = ngx_shared_memory_add(cf, &value[1], size,
                                       &ngx_http_aigw_module);
    if (amcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (amcf->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    amcf->zone->init = ngx_http_aigw_health_init_zone;
    amcf->zone->data = amcf;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_aigw_init_models(ngx_conf_t *cf, ngx_http_aigw_main_conf_t *amcf)
{
    ngx_str_t                 *fb;
    ngx_uint_t                 i, k;
    ngx_http_aigw_model_t     *m, **w;
    ngx_http_aigw_provider_t  *p;

    /*
     * exact slugs are found by binary search: ngx_hash_init() would
     * lowercase them (so "Qwen/..." could never match) and limit their
     * length to its bucket size
     */

    if (ngx_array_init(&amcf->exact, cf->pool, amcf->models.nelts + 1,
                       sizeof(ngx_http_aigw_model_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_array_init(&amcf->wildcards, cf->pool, 4,
                       sizeof(ngx_http_aigw_model_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    m = amcf->models.elts;

    for (i = 0; i < amcf->models.nelts; i++) {

        if (m[i].wildcard) {
            w = ngx_array_push(&amcf->wildcards);
            if (w == NULL) {
                return NGX_ERROR;
            }

            *w = &m[i];
            continue;
        }

        w = ngx_array_push(&amcf->exact);
        if (w == NULL) {
            return NGX_ERROR;
        }

        *w = &m[i];
    }

    ngx_qsort(amcf->wildcards.elts, amcf->wildcards.nelts,
              sizeof(ngx_http_aigw_model_t *), ngx_http_aigw_wildcard_cmp);

    ngx_qsort(amcf->exact.elts, amcf->exact.nelts,
              sizeof(ngx_http_aigw_model_t *), ngx_http_aigw_slug_cmp);

    /*
     * nginx keeps idle connections per upstream{} by server address only:
     * providers sharing one share connections, which is harmless (keys go
     * with each request) unless they differ in TLS, SNI or Host
     */

    p = amcf->providers.elts;

    for (i = 0; i < amcf->providers.nelts; i++) {
        for (k = i + 1; k < amcf->providers.nelts; k++) {
            if (p[i].implicit || p[i].upstream == NULL
                || p[i].upstream != p[k].upstream)
            {
                continue;
            }

            if (p[i].ssl != p[k].ssl
                || p[i].sni.len != p[k].sni.len
                || ngx_strncasecmp(p[i].sni.data, p[k].sni.data,
                                   p[i].sni.len) != 0
                || p[i].host.len != p[k].host.len
                || ngx_strncasecmp(p[i].host.data, p[k].host.data,
                                   p[i].host.len) != 0)
            {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "aigw_provider \"%V\" and \"%V\" share "
                              "upstream \"%V\" and so its idle "
                              "connections, but not their TLS, SNI or Host; "
                              "give each provider its own upstream{}",
                              &p[i].name, &p[k].name,
                              &p[i].upstream->host);
            }
        }
    }

    /* fallbacks name models that exist */

    for (i = 0; i < amcf->models.nelts; i++) {
        if (m[i].fallbacks == NULL) {
            continue;
        }

        fb = m[i].fallbacks->elts;

        for (k = 0; k < m[i].fallbacks->nelts; k++) {
            if (ngx_http_aigw_find_model(amcf, &fb[k]) == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown fallback model \"%V\" in aigw_model "
                              "\"%V\"", &fb[k], &m[i].slug);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_aigw_wildcard_cmp(const void *one, const void *two)
{
    ngx_http_aigw_model_t  *a, *b;

    a = *(ngx_http_aigw_model_t **) one;
    b = *(ngx_http_aigw_model_t **) two;

    /* the longest prefix first */

    return (int) b->slug.len - (int) a->slug.len;
}


static int ngx_libc_cdecl
ngx_http_aigw_slug_cmp(const void *one, const void *two)
{
    ngx_http_aigw_model_t  *a, *b;

    a = *(ngx_http_aigw_model_t **) one;
    b = *(ngx_http_aigw_model_t **) two;

    return (int) ngx_memn2cmp(a->slug.data, b->slug.data, a->slug.len,
                              b->slug.len);
}


ngx_http_aigw_model_t *
ngx_http_aigw_find_model(ngx_http_aigw_main_conf_t *amcf, ngx_str_t *slug)
{
    ngx_int_t                rc;
    ngx_uint_t               i, lo, hi;
    ngx_http_aigw_model_t  **w;

    /* exact slugs, case-sensitive */

    w = amcf->exact.elts;
    lo = 0;
    hi = amcf->exact.nelts;

    while (lo < hi) {
        i = lo + (hi - lo) / 2;

        rc = ngx_memn2cmp(slug->data, w[i]->slug.data, slug->len,
                          w[i]->slug.len);

        if (rc == 0) {
            return w[i];
        }

        if (rc < 0) {
            hi = i;

        } else {
            lo = i + 1;
        }
    }

    w = amcf->wildcards.elts;

    for (i = 0; i < amcf->wildcards.nelts; i++) {
        if (slug->len >= w[i]->slug.len
            && ngx_strncmp(slug->data, w[i]->slug.data, w[i]->slug.len) == 0)
        {
            return w[i];
        }
    }

    return NULL;
}


/*
 * The provider's model id: the configured one, or the slug without its
 * first "provider/" segment when the configured slug has one.
 */

void
ngx_http_aigw_model_id(ngx_http_aigw_model_t *m, ngx_http_aigw_route_t *rt,
    ngx_str_t *slug, ngx_str_t *id)
{
    u_char  *c;

    if (rt->id.len) {
        *id = rt->id;
        return;
    }

    *id = *slug;

    if (ngx_strlchr(m->slug.data, m->slug.data + m->slug.len, '/') == NULL) {
        return;
    }

    c = ngx_strlchr(slug->data, slug->data + slug->len, '/');

    if (c && c + 1 < slug->data + slug->len) {
        id->data = c + 1;
        id->len = slug->data + slug->len - c - 1;
    }
}
