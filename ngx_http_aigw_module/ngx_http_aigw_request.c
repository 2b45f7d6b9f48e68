
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * A translated body, kept for the tries that would build the same bytes:
 * the format writes it from the canonical form, which does not change
 * between tries, and from what its write_request() reads of the target,
 * the key.  A passthrough is a few edits over the client's body and is
 * not kept.
 */

typedef struct {
    const ngx_http_aigw_format_t   *format;
    ngx_http_aigw_model_t          *model;
    ngx_str_t                       id;
    ngx_uint_t                      max_tokens;  /* the provider's */
    ngx_chain_t                    *body;
} ngx_http_aigw_body_t;


#define NGX_HTTP_AIGW_MAX_EDITS  8


static void ngx_http_aigw_request_auth(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_jw_t *hw,
    ngx_http_aigw_target_t *t);
static void ngx_http_aigw_request_headers(ngx_http_aigw_jw_t *hw,
    ngx_http_aigw_provider_t *p);
static ngx_int_t ngx_http_aigw_request_body_chain(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_chain_t **out);
static ngx_int_t ngx_http_aigw_request_target(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_str_t *path,
    ngx_str_t *query);


/* the request for the target: request line, headers, body */

ngx_int_t
ngx_http_aigw_build_request(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t)
{
    size_t                         len;
    ngx_str_t                      path, query;
    ngx_chain_t                   *body, *cl;
    ngx_http_aigw_jw_t             hw;
    ngx_http_aigw_sign_t           sign;
    ngx_http_upstream_t           *u;
    ngx_http_aigw_provider_t      *p;
    const ngx_http_aigw_format_t  *f;

    u = r->upstream;
    p = t->provider;
    f = ngx_http_aigw_target_format(ctx, p);

    /*
     * Whether this try translates: decided here only, per try, before the
     * body (the adapters' passthrough and the response path read it).
     */

    ctx->translate = (f != ctx->client);

    if (ngx_http_aigw_request_body_chain(r, ctx, t, &body) != NGX_OK) {
        return NGX_ERROR;
    }

    len = 0;

    for (cl = body; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    if (ngx_http_aigw_request_target(r, ctx, t, &path, &query) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the request line and headers */

    ngx_http_aigw_jw_init(&hw, r->pool, 1024);

    ngx_http_aigw_jw_lit(&hw, "POST ");
    ngx_http_aigw_jw_str(&hw, &path);

    if (query.len) {
        ngx_http_aigw_jw_lit(&hw, "?");
        ngx_http_aigw_jw_str(&hw, &query);
    }

    ngx_http_aigw_jw_lit(&hw, " HTTP/1.1" CRLF "Host: ");
    ngx_http_aigw_jw_str(&hw, &p->host);
    ngx_http_aigw_jw_lit(&hw, CRLF);

    ngx_http_aigw_request_auth(r, ctx, &hw, t);

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

    ngx_http_aigw_request_headers(&hw, p);

    if (f->sign) {
        ngx_str_set(&sign.method, "POST");
        sign.path = path;
        sign.query = query;
        sign.headers = &hw;
        sign.body = body;
        sign.body_len = len;

        if (f->sign(r, ctx, t, &sign) != NGX_OK) {
            return NGX_ERROR;
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
     * the upstream rewinds these on reinit: pos must equal start, and a
     * kept body is rewound here, as a try may have sent part of it; the
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


/*
 * The provider's key, in the header its auth= names; for a byok gateway
 * key, the client's own credential instead (key.c): its Authorization or
 * x-api-key as it came, to providers of a format that takes it (Claude
 * Code's own login: Anthropic) when the gateway key came in
 * x-ai-gateway-api-key; or the request's
 * providerOptions.gateway.byok key of this provider for its BYOK target
 * (the handler's plan puts that target before the one with the
 * configured key)
 */

static void
ngx_http_aigw_request_auth(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *hw, ngx_http_aigw_target_t *t)
{
    ngx_str_t                 *key, name;
    ngx_table_elt_t           *h;
    ngx_http_aigw_provider_t  *p;

    p = t->provider;

    if (ctx->own_auth && p->format->own_credential) {
        h = ngx_http_aigw_client_credential(r, &name);

        if (h) {
            ngx_http_aigw_jw_str(hw, &name);
            ngx_http_aigw_jw_lit(hw, ": ");
            ngx_http_aigw_jw_str(hw, &h->value);
            ngx_http_aigw_jw_lit(hw, CRLF);
            return;
        }
    }

    key = t->byok ? ngx_http_aigw_byok_key(ctx, p) : NULL;

    if (key == NULL) {
        key = &p->key;
    }

    if (key->len == 0 || p->auth == ngx_http_aigw_auth_none
        || p->auth == ngx_http_aigw_auth_sigv4)
    {
        return;            /* SigV4: the format's sign() */
    }

    switch (p->auth) {

    case ngx_http_aigw_auth_bearer:
        ngx_http_aigw_jw_lit(hw, "Authorization: Bearer ");
        break;

    case ngx_http_aigw_auth_x_api_key:
        ngx_http_aigw_jw_lit(hw, "x-api-key: ");
        break;

    case ngx_http_aigw_auth_api_key:
        ngx_http_aigw_jw_lit(hw, "api-key: ");
        break;

    case ngx_http_aigw_auth_header:
        ngx_http_aigw_jw_str(hw, &p->auth_header);
        ngx_http_aigw_jw_lit(hw, ": ");
        break;

    case ngx_http_aigw_auth_goog_api_key:
        ngx_http_aigw_jw_lit(hw, "x-goog-api-key: ");
        break;

    default:
        break;
    }

    ngx_http_aigw_jw_str(hw, key);
    ngx_http_aigw_jw_lit(hw, CRLF);
}


/* the provider's own header= lines */

static void
ngx_http_aigw_request_headers(ngx_http_aigw_jw_t *hw,
    ngx_http_aigw_provider_t *p)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (p->headers == NULL) {
        return;
    }

    kv = p->headers->elts;

    for (i = 0; i < p->headers->nelts; i++) {
        ngx_http_aigw_jw_str(hw, &kv[i].key);
        ngx_http_aigw_jw_lit(hw, ": ");
        ngx_http_aigw_jw_str(hw, &kv[i].value);
        ngx_http_aigw_jw_lit(hw, CRLF);
    }
}


static ngx_int_t
ngx_http_aigw_request_body_chain(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_chain_t **out)
{
    ngx_uint_t                     i, n, max_tokens;
    ngx_chain_t                   *body, *cl;
    ngx_http_aigw_jw_t             w;
    ngx_http_aigw_body_t          *b;
    ngx_http_aigw_json_edit_t      edits[NGX_HTTP_AIGW_MAX_EDITS];
    const ngx_http_aigw_format_t  *f;

    f = ngx_http_aigw_target_format(ctx, t->provider);

    if (f == ctx->client) {
        n = NGX_HTTP_AIGW_MAX_EDITS;

        if (f->passthrough(r, ctx, t, edits, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        body = ngx_http_aigw_json_splice(r->pool, ctx->body.data,
                                         ctx->body.len, edits, n);
        if (body == NULL) {
            return NGX_ERROR;
        }

        *out = body;

        return NGX_OK;
    }

    max_tokens = t->provider->max_tokens;

    if (ctx->bodies == NULL) {
        ctx->bodies = ngx_array_create(r->pool, 2,
                                       sizeof(ngx_http_aigw_body_t));
        if (ctx->bodies == NULL) {
            return NGX_ERROR;
        }
    }

    b = ctx->bodies->elts;

    for (i = 0; i < ctx->bodies->nelts; i++) {
        if (b[i].format == f
            && b[i].model == t->model
            && b[i].max_tokens == max_tokens
            && b[i].id.len == t->id.len
            && ngx_strncmp(b[i].id.data, t->id.data, t->id.len) == 0)
        {
            /* rewound: start is where build_request() found pos first */

            for (cl = b[i].body; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->start;
            }

            *out = b[i].body;

            return NGX_OK;
        }
    }

    ngx_http_aigw_jw_init(&w, r->pool, ngx_max(ctx->body.len, 1024));

    if (f->write_request(r, ctx, t, &w) != NGX_OK) {
        return NGX_ERROR;
    }

    body = ngx_http_aigw_jw_finish(&w);
    if (body == NULL) {
        return NGX_ERROR;
    }

    b = ngx_array_push(ctx->bodies);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->format = f;
    b->model = t->model;
    b->id = t->id;
    b->max_tokens = max_tokens;
    b->body = body;

    *out = body;

    return NGX_OK;
}


/*
 * The path and query: the provider's base path, with $model replaced by
 * the escaped model id, then what the format asks for the endpoint (its
 * target() hook, or paths[endpoint]); the provider's query, then the
 * format's.
 */

static ngx_int_t
ngx_http_aigw_request_target(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_str_t *path, ngx_str_t *query)
{
    u_char                        *model, *e;
    ngx_str_t                      base, fpath, fquery;
    ngx_uint_t                     n, len;
    ngx_http_aigw_jw_t             w;
    ngx_http_aigw_provider_t      *p;
    const ngx_http_aigw_format_t  *f;

    p = t->provider;
    f = ngx_http_aigw_target_format(ctx, p);

    ngx_str_null(&fquery);

    if (f->target) {
        if (f->target(r, ctx, t, &fpath, &fquery) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        fpath = f->paths[ctx->endpoint];
    }

    ngx_http_aigw_jw_init(&w, r->pool, 256);

    base = p->path;
    model = ngx_strnstr(base.data, "$model", base.len);

    if (model) {
        ngx_http_aigw_jw_raw(&w, base.data, model - base.data);

        n = ngx_escape_uri(NULL, t->id.data, t->id.len, NGX_ESCAPE_URI);

        if (n) {
            len = t->id.len + 2 * n;
            e = ngx_pnalloc(r->pool, len);
            if (e == NULL) {
                return NGX_ERROR;
            }

            ngx_escape_uri(e, t->id.data, t->id.len, NGX_ESCAPE_URI);
            ngx_http_aigw_jw_raw(&w, e, len);

        } else {
            ngx_http_aigw_jw_str(&w, &t->id);
        }

        ngx_http_aigw_jw_raw(&w, model + 6, base.data + base.len - model - 6);

    } else {
        ngx_http_aigw_jw_str(&w, &base);
    }

    ngx_http_aigw_jw_str(&w, &fpath);

    if (ngx_http_aigw_jw_flatten(&w, path) != NGX_OK) {
        return NGX_ERROR;
    }

    if (fquery.len == 0) {
        *query = p->query;
        return NGX_OK;
    }

    if (p->query.len == 0) {
        *query = fquery;
        return NGX_OK;
    }

    query->len = p->query.len + 1 + fquery.len;
    query->data = ngx_pnalloc(r->pool, query->len);
    if (query->data == NULL) {
        return NGX_ERROR;
    }

    e = ngx_cpymem(query->data, p->query.data, p->query.len);
    *e++ = '&';
    ngx_memcpy(e, fquery.data, fquery.len);

    return NGX_OK;
}


/*
 * What every same-format body changes: the model id when the target's
 * differs, and the gateway's own options member goes.  The edits are
 * appended at edits[*n] in that order; ngx_http_aigw_passthrough_sort()
 * puts them in document order once the format has added its own.
 */

ngx_int_t
ngx_http_aigw_passthrough_edits(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n)
{
    size_t                 start, end;
    ngx_str_t              raw;
    ngx_uint_t             k;
    ngx_http_aigw_jw_t     w;
    ngx_http_aigw_json_t  *j;

    j = &ctx->json;
    k = *n;

    ngx_http_aigw_json_str_raw(j, ctx->model_tok, &raw);

    if (raw.len != t->id.len
        || ngx_strncmp(raw.data, t->id.data, raw.len) != 0)
    {
        ngx_http_aigw_jw_init(&w, r->pool, t->id.len + 8);
        ngx_http_aigw_jw_lit(&w, "\"");
        ngx_http_aigw_jw_escape(&w, t->id.data, t->id.len);
        ngx_http_aigw_jw_lit(&w, "\"");

        edits[k].start = j->toks[ctx->model_tok].start;
        edits[k].end = j->toks[ctx->model_tok].end;

        if (ngx_http_aigw_jw_flatten(&w, &edits[k].text) != NGX_OK) {
            return NGX_ERROR;
        }

        k++;
    }

    if (ctx->options_key) {
        if (ngx_http_aigw_json_member_range(j, 0, ctx->options_key,
                                            &start, &end)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        edits[k].start = start;
        edits[k].end = end;
        ngx_str_null(&edits[k].text);
        k++;
    }

    *n = k;

    return NGX_OK;
}


/* a stable insertion sort by start: the edits are few */

void
ngx_http_aigw_passthrough_sort(ngx_http_aigw_json_edit_t *edits, ngx_uint_t n)
{
    ngx_uint_t                 i, k;
    ngx_http_aigw_json_edit_t  e;

    for (i = 1; i < n; i++) {
        e = edits[i];

        for (k = i; k > 0 && edits[k - 1].start > e.start; k--) {
            edits[k] = edits[k - 1];
        }

        edits[k] = e;
    }
}
