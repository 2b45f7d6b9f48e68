
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/* the request for the target: request line, headers, body */

ngx_int_t
ngx_http_aigw_build_request(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t)
{
    u_char                        *model;
    size_t                         len;
    ngx_str_t                      path;
    ngx_uint_t                     n, i;
    ngx_chain_t                   *body, *cl;
    ngx_keyval_t                  *kv;
    ngx_http_aigw_jw_t             w, hw;
    ngx_http_upstream_t           *u;
    ngx_http_aigw_provider_t      *p;
    ngx_http_aigw_json_edit_t      edits[8];
    const ngx_http_aigw_format_t  *f;

    u = r->upstream;
    p = t->provider;
    f = p->format;

    /* the body */

    if (f == ctx->client) {
        n = 0;

        if (f->passthrough(r, ctx, t, edits, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        body = ngx_http_aigw_json_splice(r->pool, ctx->body.data,
                                         ctx->body.len, edits, n);
        if (body == NULL) {
            return NGX_ERROR;
        }

        ctx->translate = 0;

    } else {
        ngx_http_aigw_jw_init(&w, r->pool, ngx_max(ctx->body.len, 1024));

        if (f->write_request(r, ctx, t, &w) != NGX_OK) {
            return NGX_ERROR;
        }

        body = ngx_http_aigw_jw_finish(&w);
        if (body == NULL) {
            return NGX_ERROR;
        }

        ctx->translate = 1;
    }

    len = 0;

    for (cl = body; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    /* the request line and headers */

    ngx_http_aigw_jw_init(&hw, r->pool, 1024);

    ngx_http_aigw_jw_lit(&hw, "POST ");

    path = p->path;
    model = ngx_strnstr(path.data, "$model", path.len);

    if (model) {
        ngx_http_aigw_jw_raw(&hw, path.data, model - path.data);

        n = ngx_escape_uri(NULL, t->id.data, t->id.len, NGX_ESCAPE_URI);

        if (n) {
            i = t->id.len + 2 * n;
            model = ngx_pnalloc(r->pool, i);
            if (model == NULL) {
                return NGX_ERROR;
            }

            ngx_escape_uri(model, t->id.data, t->id.len, NGX_ESCAPE_URI);
            ngx_http_aigw_jw_raw(&hw, model, i);

        } else {
            ngx_http_aigw_jw_str(&hw, &t->id);
        }

        model = ngx_strnstr(path.data, "$model", path.len);
        ngx_http_aigw_jw_raw(&hw, model + 6, path.data + path.len - model - 6);

    } else {
        ngx_http_aigw_jw_str(&hw, &path);
    }

    ngx_http_aigw_jw_str(&hw, &f->paths[ctx->endpoint]);

    if (p->query.len) {
        ngx_http_aigw_jw_lit(&hw, "?");
        ngx_http_aigw_jw_str(&hw, &p->query);
    }

    ngx_http_aigw_jw_lit(&hw, " HTTP/1.1" CRLF "Host: ");
    ngx_http_aigw_jw_str(&hw, &p->host);
    ngx_http_aigw_jw_lit(&hw, CRLF);

    if (p->key.len) {
        switch (p->auth) {

        case ngx_http_aigw_auth_bearer:
            ngx_http_aigw_jw_lit(&hw, "Authorization: Bearer ");
            break;

        case ngx_http_aigw_auth_x_api_key:
            ngx_http_aigw_jw_lit(&hw, "x-api-key: ");
            break;

        case ngx_http_aigw_auth_api_key:
            ngx_http_aigw_jw_lit(&hw, "api-key: ");
            break;

        case ngx_http_aigw_auth_header:
            ngx_http_aigw_jw_str(&hw, &p->auth_header);
            ngx_http_aigw_jw_lit(&hw, ": ");
            break;

        default:
            break;
        }

        if (p->auth != ngx_http_aigw_auth_none) {
            ngx_http_aigw_jw_str(&hw, &p->key);
            ngx_http_aigw_jw_lit(&hw, CRLF);
        }
    }

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

    if (p->headers) {
        kv = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            ngx_http_aigw_jw_str(&hw, &kv[i].key);
            ngx_http_aigw_jw_lit(&hw, ": ");
            ngx_http_aigw_jw_str(&hw, &kv[i].value);
            ngx_http_aigw_jw_lit(&hw, CRLF);
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
     * the upstream rewinds these on reinit: pos must equal start; the
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
