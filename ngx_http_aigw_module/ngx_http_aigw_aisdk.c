
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The Vercel AI SDK gateway protocol (@ai-sdk/gateway), a client surface
 * only: POST {base}/language-model takes LanguageModelV3 call options
 * with the model in the "ai-language-model-id" header and streaming in
 * "ai-language-model-streaming", and answers a GenerateResult or a
 * stream of V3 stream parts; POST {base}/embedding-model and
 * {base}/image-model take the model in "ai-model-id" and {values} or
 * {prompt, n, size, ...}; GET {base}/config lists the models.  Every
 * provider is reached by translation through the canonical form.
 */


typedef struct {
    ngx_uint_t                      block;     /* open block, 0: none */
    ngx_uint_t                      index;     /* blocks opened */
    ngx_uint_t                      stop;
    ngx_str_t                       tool_id;   /* of the open tool call */
    ngx_str_t                       tool_name;
    ngx_http_aigw_jw_t              args;      /* its input so far */
    unsigned                        started:1;
} ngx_http_aigw_aisdk_write_t;


static ngx_int_t ngx_http_aigw_aisdk_request_model(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_table_elt_t *ngx_http_aigw_aisdk_header(ngx_http_request_t *r,
    const char *name);
static ngx_int_t ngx_http_aigw_aisdk_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_aisdk_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_aisdk_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_aisdk_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_aisdk_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg);
static ngx_int_t ngx_http_aigw_aisdk_parse_part(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg);
static ngx_int_t ngx_http_aigw_aisdk_parse_file(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_part_t *part);
static ngx_int_t ngx_http_aigw_aisdk_parse_result(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_part_t *part);
static ngx_int_t ngx_http_aigw_aisdk_validate_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_aisdk_parse_values(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_aisdk_parse_image(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_aisdk_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_aisdk_write_embeddings(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_aisdk_write_images(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_gateway(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_input(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part);
static ngx_int_t ngx_http_aigw_aisdk_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_start(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_aisdk_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_aisdk_open(ngx_http_request_t *r,
    ngx_http_aigw_aisdk_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_delta(ngx_http_aigw_aisdk_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_aisdk_close(ngx_http_aigw_aisdk_write_t *st,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_finish(ngx_http_aigw_ctx_t *ctx,
    ngx_uint_t stop, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_aisdk_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err);
static void ngx_http_aigw_aisdk_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one);
static void ngx_http_aigw_aisdk_write_price(ngx_http_aigw_jw_t *w,
    const char *name, int64_t price);
static void ngx_http_aigw_aisdk_write_count(ngx_http_aigw_jw_t *w,
    int64_t tokens);
static ngx_int_t ngx_http_aigw_aisdk_ratelimit_headers(ngx_http_request_t *r,
    const char *what, int64_t limit, int64_t remaining, int64_t reset,
    int64_t now);


/* top-level fields and the types they must have, checked on every request */

static const ngx_http_aigw_field_t  ngx_http_aigw_aisdk_fields[] = {
    { ngx_string("prompt"),                     /* a string: images */
      ngx_http_aigw_json_array, ngx_http_aigw_json_string, 0,
      "an array" },

    { ngx_string("maxOutputTokens"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("temperature"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("topP"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("topK"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("stopSequences"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("tools"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("toolChoice"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("responseFormat"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_aisdk_format = {
    ngx_string("aisdk"),
    { ngx_null_string,                                  /* provider paths: */
      ngx_null_string,                                  /* a client surface */
      ngx_null_string },                                /* only */
    ngx_http_aigw_auth_bearer,
    0,                                                  /* own credential */
    { ngx_string("/ai/language-model"),                 /* client paths */
      ngx_null_string,
      ngx_string("/ai/embedding-model"),
      ngx_string("/ai/image-model") },
    ngx_null_string,                                    /* client header */

    ngx_http_aigw_aisdk_fields,                         /* fields */
    "\"%s\" must be %s",                                /* field error */
    ngx_http_aigw_aisdk_validate,                       /* validate */
    ngx_http_aigw_aisdk_parse_request,                  /* parse request */
    ngx_http_aigw_aisdk_write_response,                 /* write response */
    ngx_http_aigw_aisdk_write_event,                    /* write event */
    ngx_http_aigw_aisdk_write_error,                    /* write error */
    ngx_http_aigw_aisdk_write_models,                   /* write models */
    ngx_http_aigw_aisdk_write_count,                    /* write count */

    NULL,                                               /* passthrough */
    NULL,                                               /* write request */
    NULL,                                               /* request headers */
    NULL,                                               /* parse response */
    NULL,                                               /* parse event */
    NULL,                                               /* parse error */
    NULL,                                               /* framing */
    NULL,                                               /* target */
    ngx_http_aigw_aisdk_ratelimit_headers,              /* rate limits */
    NULL,                                               /* sign */
    ngx_http_aigw_aisdk_request_model,                  /* request model */
    ngx_string("/ai/config")                            /* models path */
};


/* the model and streaming, from the request headers */

static ngx_int_t
ngx_http_aigw_aisdk_request_model(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    u_char           *p, *last;
    ngx_str_t        *v;
    const char       *name;
    ngx_table_elt_t  *h;

    name = (ctx->endpoint == ngx_http_aigw_ep_chat) ? "ai-language-model-id"
                                                    : "ai-model-id";

    h = ngx_http_aigw_aisdk_header(r, name);

    if (h == NULL || h->value.len == 0) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "missing request header \"%s\": "
                                        "the model to use", name);
    }

    /* the model goes into headers, logs and events: no control characters */

    for (p = h->value.data, last = p + h->value.len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"%s\" must not contain "
                                            "control characters", name);
        }
    }

    ctx->model = h->value;

    if (ctx->endpoint != ngx_http_aigw_ep_chat) {
        return NGX_DECLINED;
    }

    h = ngx_http_aigw_aisdk_header(r, "ai-language-model-streaming");

    if (h == NULL) {
        return NGX_DECLINED;
    }

    v = &h->value;

    if (v->len == 4 && ngx_strncasecmp(v->data, (u_char *) "true", 4) == 0) {
        ctx->stream = 1;

    } else if (v->len != 5
               || ngx_strncasecmp(v->data, (u_char *) "false", 5) != 0)
    {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"ai-language-model-streaming\" "
                                        "must be \"true\" or \"false\"");
    }

    return NGX_DECLINED;
}


static ngx_table_elt_t *
ngx_http_aigw_aisdk_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

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


static ngx_int_t
ngx_http_aigw_aisdk_validate(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t             v, key;
    ngx_http_aigw_json_t  *j;

    if (ctx->endpoint != ngx_http_aigw_ep_chat) {
        return ngx_http_aigw_aisdk_validate_other(r, ctx);
    }

    j = &ctx->json;

    v = ngx_http_aigw_json_get_unique(j, 0, "prompt", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_reject(r, ctx, "duplicate field \"prompt\"");
    }

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return ngx_http_aigw_reject(r, ctx, "\"prompt\" must be an array");
    }

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
        return ngx_http_aigw_reject(r, ctx, "missing required field "
                                    "\"prompt\" (an array of messages)");
    }

    return NGX_OK;
}


/*
 * embedding-model: {values: [string, ...]}; image-model: {prompt: string,
 * n, size, aspectRatio, seed}, and no input images (edits are not served)
 */

static ngx_int_t
ngx_http_aigw_aisdk_validate_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t             v, e, key;
    ngx_http_aigw_json_t  *j;

    j = &ctx->json;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        v = ngx_http_aigw_json_get_unique(j, 0, "values", &key);

        if (key == NGX_HTTP_AIGW_JSON_NONE) {
            return ngx_http_aigw_reject(r, ctx, "duplicate field "
                                        "\"values\"");
        }

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)
            || j->toks[v].count == 0)
        {
            return ngx_http_aigw_reject(r, ctx, "missing required field "
                                        "\"values\" (a non-empty array of "
                                        "strings)");
        }

        return NGX_OK;
    }

    v = ngx_http_aigw_json_get_unique(j, 0, "prompt", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_reject(r, ctx, "duplicate field \"prompt\"");
    }

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return ngx_http_aigw_reject(r, ctx, "missing required field "
                                    "\"prompt\" (a string)");
    }

    e = ngx_http_aigw_json_get(j, 0, "files");
    v = ngx_http_aigw_json_get(j, 0, "mask");

    if ((e != NGX_HTTP_AIGW_JSON_NONE
         && j->toks[e].type != ngx_http_aigw_json_null)
        || (v != NGX_HTTP_AIGW_JSON_NONE
            && j->toks[v].type != ngx_http_aigw_json_null))
    {
        return ngx_http_aigw_reject(r, ctx, "image edits (\"files\", "
                                    "\"mask\") are not supported by the "
                                    "gateway");
    }

    return NGX_OK;
}


/* translation: LanguageModelV3 call options into the canonical form */

static ngx_int_t
ngx_http_aigw_aisdk_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    ngx_int_t             rc;
    ngx_uint_t            k, v, e;
    ngx_http_aigw_msg_t  *msg;

    chat->max_tokens = -1;
    chat->parallel_tools = -1;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_aisdk_parse_values(r, ctx, j, chat);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_aisdk_parse_image(r, ctx, j, chat);
    }

    for (k = 1; k < j->toks[0].next; k = j->toks[k + 1].next) {

        if (j->toks[k + 1].type == ngx_http_aigw_json_null) {
            continue;
        }

        rc = ngx_http_aigw_aisdk_parse_field(r, ctx, j, k, chat);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* providerOptions.google.responseModalities with "IMAGE": images */

    v = ngx_http_aigw_json_get(j, ngx_http_aigw_json_get(j,
                                   ngx_http_aigw_json_get(j, 0,
                                                          "providerOptions"),
                                   "google"),
                               "responseModalities");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
        for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
            if (ngx_http_aigw_json_str_eq(j, e, "IMAGE")
                || ngx_http_aigw_json_str_eq(j, e, "image"))
            {
                chat->image_output = 1;
            }
        }
    }

    v = ngx_http_aigw_json_get(j, 0, "prompt");

    if (ngx_array_init(&chat->messages, r->pool, j->toks[v].count + 1,
                       sizeof(ngx_http_aigw_msg_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {

        if (j->toks[e].type != ngx_http_aigw_json_object) {
            return ngx_http_aigw_reject(r, ctx, "each of \"prompt\" must be "
                                        "an object");
        }

        msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_aigw_aisdk_parse_message(r, ctx, j, e, msg);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* {values: [string, ...]}: the texts to embed */

static ngx_int_t
ngx_http_aigw_aisdk_parse_values(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    ngx_str_t   *s;
    ngx_uint_t   v, e;

    chat->dimensions = -1;
    chat->input_array = 1;

    v = ngx_http_aigw_json_get(j, 0, "values");

    if (ngx_array_init(&chat->inputs, r->pool, j->toks[v].count,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        if (j->toks[e].type != ngx_http_aigw_json_string) {
            return ngx_http_aigw_reject(r, ctx, "each of \"values\" must be "
                                        "a string");
        }

        s = ngx_array_push(&chat->inputs);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, e, s);
    }

    return NGX_OK;
}


/*
 * {prompt, n, size, aspectRatio, seed}: the providers take the prompt, n
 * and size; an aspect ratio or a seed is answered with a warning
 */

static ngx_int_t
ngx_http_aigw_aisdk_parse_image(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_uint_t  v;

    chat->n = -1;

    v = ngx_http_aigw_json_get(j, 0, "prompt");
    ngx_http_aigw_json_str_raw(j, v, &chat->prompt);

    v = ngx_http_aigw_json_get(j, 0, "n");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type != ngx_http_aigw_json_null)
    {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1 || n > 10) {
            return ngx_http_aigw_reject(r, ctx, "\"n\" must be an integer "
                                        "from 1 to 10");
        }

        chat->n = n;
    }

    v = ngx_http_aigw_json_get(j, 0, "size");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type != ngx_http_aigw_json_null)
    {
        if (j->toks[v].type != ngx_http_aigw_json_string) {
            return ngx_http_aigw_reject(r, ctx, "\"size\" must be a string");
        }

        ngx_http_aigw_json_str_raw(j, v, &chat->size);
    }

    v = ngx_http_aigw_json_get(j, 0, "aspectRatio");
    chat->aspect_ratio = (v != NGX_HTTP_AIGW_JSON_NONE
                          && j->toks[v].type != ngx_http_aigw_json_null);

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(j, v, &chat->aspect);
    }

    v = ngx_http_aigw_json_get(j, 0, "seed");
    chat->seed = (v != NGX_HTTP_AIGW_JSON_NONE
                  && j->toks[v].type != ngx_http_aigw_json_null);

    return NGX_OK;
}


#define ngx_http_aigw_is(name)                                               \
    (key.len == sizeof(name) - 1                                             \
     && ngx_strncmp(key.data, name, sizeof(name) - 1) == 0)


/* a top-level field "k" of the call options, other than null */

static ngx_int_t
ngx_http_aigw_aisdk_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_str_t   key;
    ngx_uint_t  v, m;

    v = k + 1;
    ngx_http_aigw_json_str_raw(j, k, &key);

    if (ngx_http_aigw_is("maxOutputTokens")) {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1) {
            return ngx_http_aigw_reject(r, ctx, "\"maxOutputTokens\" must "
                                        "be a positive integer");
        }

        chat->max_tokens = n;
        return NGX_OK;
    }

    if (ngx_http_aigw_is("temperature")) {
        ngx_http_aigw_json_raw(j, v, &chat->temperature);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("topP")) {
        ngx_http_aigw_json_raw(j, v, &chat->top_p);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("topK")) {
        ngx_http_aigw_json_raw(j, v, &chat->top_k);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("stopSequences")) {
        return ngx_http_aigw_parse_stop(r, ctx, j, v, chat, 0,
                                        "\"stopSequences\"");
    }

    if (ngx_http_aigw_is("tools")) {
        return ngx_http_aigw_aisdk_parse_tools(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("toolChoice")) {
        m = ngx_http_aigw_json_get(j, v, "type");

        if (ngx_http_aigw_json_str_eq(j, m, "auto")) {
            chat->tool_choice = ngx_http_aigw_choice_auto;

        } else if (ngx_http_aigw_json_str_eq(j, m, "none")) {
            chat->tool_choice = ngx_http_aigw_choice_none;

        } else if (ngx_http_aigw_json_str_eq(j, m, "required")) {
            chat->tool_choice = ngx_http_aigw_choice_any;

        } else if (ngx_http_aigw_json_str_eq(j, m, "tool")) {
            m = ngx_http_aigw_json_get(j, v, "toolName");

            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                return ngx_http_aigw_reject(r, ctx, "\"toolChoice\" of type "
                                            "\"tool\" needs \"toolName\"");
            }

            chat->tool_choice = ngx_http_aigw_choice_tool;
            ngx_http_aigw_json_str_raw(j, m, &chat->tool_choice_name);

        } else {
            return ngx_http_aigw_reject(r, ctx, "unsupported "
                                        "\"toolChoice\"");
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("responseFormat")) {
        m = ngx_http_aigw_json_get(j, v, "type");

        if (m == NGX_HTTP_AIGW_JSON_NONE
            || ngx_http_aigw_json_str_eq(j, m, "text"))
        {
            return NGX_OK;
        }

        return ngx_http_aigw_reject(r, ctx, "\"responseFormat\" other than "
                                    "text is not supported by the gateway");
    }

    /*
     * prompt (read next), providerOptions (read by the handler), headers
     * (the client's own, leaked into the body), seed, penalties,
     * includeRawChunks: no effect on the translation
     */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: field \"%V\" dropped in translation", &key);

    return NGX_OK;
}

#undef ngx_http_aigw_is


/* {type:"function", name, description, inputSchema} */

static ngx_int_t
ngx_http_aigw_aisdk_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             e, m;
    ngx_http_aigw_tool_t  *tool;

    if (ngx_array_init(&chat->tools, r->pool,
                       ngx_max(j->toks[v].count, 1),
                       sizeof(ngx_http_aigw_tool_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        m = ngx_http_aigw_json_get(j, e, "type");

        if (!ngx_http_aigw_json_str_eq(j, m, "function")) {
            return ngx_http_aigw_reject(r, ctx, "only tools of type "
                                        "\"function\" are supported by the "
                                        "gateway");
        }

        m = ngx_http_aigw_json_get(j, e, "name");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a tool has no \"name\"");
        }

        tool = ngx_http_aigw_tool_add(&chat->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, m, &tool->name);

        (void) ngx_http_aigw_json_get_str(j, e, "description",
                                          &tool->description);

        m = ngx_http_aigw_json_get(j, e, "inputSchema");
        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
            ngx_http_aigw_json_raw(j, m, &tool->schema);
        }

        ngx_http_aigw_json_get_raw(j, e, "strict", &tool->strict);
    }

    return NGX_OK;
}


/* one message "e" of the prompt: {role, content} */

static ngx_int_t
ngx_http_aigw_aisdk_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg)
{
    ngx_int_t   rc;
    ngx_uint_t  m, c, p;

    m = ngx_http_aigw_json_get(j, e, "role");
    c = ngx_http_aigw_json_get(j, e, "content");

    if (ngx_http_aigw_json_str_eq(j, m, "system")) {
        msg->role = ngx_http_aigw_role_system;

        if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a system message's "
                                        "\"content\" must be a string");
        }

        return ngx_http_aigw_parse_text(j, c, &msg->parts);
    }

    if (ngx_http_aigw_json_str_eq(j, m, "user")) {
        msg->role = ngx_http_aigw_role_user;

    } else if (ngx_http_aigw_json_str_eq(j, m, "assistant")) {
        msg->role = ngx_http_aigw_role_assistant;

    } else if (ngx_http_aigw_json_str_eq(j, m, "tool")) {

        /* tool results are parts of a user message in canonical form */

        msg->role = ngx_http_aigw_role_user;

    } else {
        return ngx_http_aigw_reject(r, ctx, "a message has no valid "
                                    "\"role\"");
    }

    if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_array)) {
        return ngx_http_aigw_reject(r, ctx, "a message's \"content\" must "
                                    "be an array of parts");
    }

    for (p = c + 1; p < j->toks[c].next; p = j->toks[p].next) {
        rc = ngx_http_aigw_aisdk_parse_part(r, ctx, j, p, msg);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_aisdk_parse_part(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg)
{
    ngx_uint_t             m, v;
    ngx_http_aigw_part_t  *part;

    m = ngx_http_aigw_json_get(j, e, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "text")
        || ngx_http_aigw_json_str_eq(j, m, "reasoning"))
    {
        v = ngx_http_aigw_json_get(j, e, "text");

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a text part has no "
                                        "\"text\"");
        }

        part = ngx_http_aigw_part_add(&msg->parts,
                                      ngx_http_aigw_json_str_eq(j, m, "text")
                                      ? ngx_http_aigw_part_text
                                      : ngx_http_aigw_part_thinking);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, v, &part->text);
        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, m, "file")) {
        part = ngx_http_aigw_part_add(&msg->parts, 0);
        if (part == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_aigw_aisdk_parse_file(r, ctx, j, e, part);
    }

    if (ngx_http_aigw_json_str_eq(j, m, "tool-call")) {
        part = ngx_http_aigw_part_add(&msg->parts,
                                      ngx_http_aigw_part_tool_call);
        if (part == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, e, "toolCallId", &part->id);
        (void) ngx_http_aigw_json_get_str(j, e, "toolName", &part->name);

        v = ngx_http_aigw_json_get(j, e, "input");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, v, &part->input);
            part->input_string = 1;

        } else if (v != NGX_HTTP_AIGW_JSON_NONE) {
            ngx_http_aigw_json_raw(j, v, &part->input);
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, m, "tool-result")) {
        part = ngx_http_aigw_part_add(&msg->parts,
                                      ngx_http_aigw_part_tool_result);
        if (part == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_aigw_aisdk_parse_result(r, ctx, j, e, part);
    }

    if (ngx_http_aigw_json_str_eq(j, m, "tool-approval-response")) {
        return NGX_OK;
    }

    return ngx_http_aigw_reject(r, ctx, "unsupported prompt part type");
}


/*
 * {type:"file", mediaType, data}: data is a data URL or base64; an http(s)
 * URL is not fetched by the gateway
 */

static ngx_int_t
ngx_http_aigw_aisdk_parse_file(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_part_t *part)
{
    u_char      *c;
    ngx_str_t    data;
    ngx_uint_t   v;

    v = ngx_http_aigw_json_get(j, e, "data");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return ngx_http_aigw_reject(r, ctx, "a file part has no \"data\"");
    }

    ngx_http_aigw_json_str_raw(j, v, &data);
    (void) ngx_http_aigw_json_get_str(j, e, "mediaType", &part->media_type);

    if ((data.len > 7 && ngx_strncasecmp(data.data, (u_char *) "http://", 7)
                         == 0)
        || (data.len > 8 && ngx_strncasecmp(data.data, (u_char *) "https://",
                                            8) == 0))
    {
        return ngx_http_aigw_reject(r, ctx, "file parts with http(s) URLs "
                                    "are not fetched by the gateway: send "
                                    "the file's content (bytes or a base64 "
                                    "data URL) instead");
    }

    if (data.len > 5 && ngx_strncmp(data.data, "data:", 5) == 0) {
        c = ngx_strnstr(data.data, ";base64,", data.len);

        if (c == NULL) {
            return ngx_http_aigw_reject(r, ctx, "a data URL must be base64");
        }

        part->media_type.data = data.data + 5;
        part->media_type.len = c - data.data - 5;
        part->data.data = c + 8;
        part->data.len = data.data + data.len - c - 8;

    } else if (ngx_strlchr(data.data, data.data + data.len, ':') != NULL) {
        return ngx_http_aigw_reject(r, ctx, "file parts must hold base64 "
                                    "data or a data URL");

    } else {
        part->data = data;
    }

    if (part->media_type.len == 0) {
        return ngx_http_aigw_reject(r, ctx, "a file part has no "
                                    "\"mediaType\"");
    }

    part->type = (part->media_type.len > 6
                  && ngx_strncmp(part->media_type.data, "image/", 6) == 0)
                 ? ngx_http_aigw_part_image : ngx_http_aigw_part_document;

    return NGX_OK;
}


/*
 * {type:"tool-result", toolCallId, toolName, output:{type, value}}: the
 * output becomes the text of the result, JSON values as JSON text
 */

static ngx_int_t
ngx_http_aigw_aisdk_parse_result(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_part_t *part)
{
    ngx_str_t              raw;
    ngx_uint_t             o, t, v;
    ngx_http_aigw_part_t  *text;

    if (!ngx_http_aigw_json_get_str(j, e, "toolCallId", &part->id)) {
        return ngx_http_aigw_reject(r, ctx, "a tool result has no "
                                    "\"toolCallId\"");
    }

    (void) ngx_http_aigw_json_get_str(j, e, "toolName", &part->name);

    part->content = ngx_array_create(r->pool, 1,
                                     sizeof(ngx_http_aigw_part_t));
    if (part->content == NULL) {
        return NGX_ERROR;
    }

    text = ngx_http_aigw_part_add(part->content, ngx_http_aigw_part_text);
    if (text == NULL) {
        return NGX_ERROR;
    }

    o = ngx_http_aigw_json_get(j, e, "output");
    t = ngx_http_aigw_json_get(j, o, "type");
    v = ngx_http_aigw_json_get(j, o, "value");

    part->is_error = ngx_http_aigw_json_str_eq(j, t, "error-text")
                     || ngx_http_aigw_json_str_eq(j, t, "error-json");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        && (ngx_http_aigw_json_str_eq(j, t, "text")
            || ngx_http_aigw_json_str_eq(j, t, "error-text")))
    {
        ngx_http_aigw_json_str_raw(j, v, &text->text);
        return NGX_OK;
    }

    /* json, error-json, content, execution-denied: as JSON text */

    if (ngx_http_aigw_json_str_eq(j, t, "json")
        || ngx_http_aigw_json_str_eq(j, t, "error-json"))
    {
        o = v;
    }

    if (o == NGX_HTTP_AIGW_JSON_NONE) {
        return NGX_OK;
    }

    ngx_http_aigw_json_raw(j, o, &raw);

    return ngx_http_aigw_jw_escaped(r->pool, raw.data, raw.len, &text->text);
}


/* client side: the GenerateResult */

static ngx_int_t
ngx_http_aigw_aisdk_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_uint_t             i, n;
    ngx_http_aigw_part_t  *part;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_aisdk_write_embeddings(ctx, resp, w);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_aisdk_write_images(ctx, resp, w);
    }

    part = resp->parts.elts;

    ngx_http_aigw_jw_lit(w, "{\"content\":[");

    for (i = 0, n = 0; i < resp->parts.nelts; i++) {

        switch (part[i].type) {

        case ngx_http_aigw_part_text:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"type\":\"text\",\"text\":"
                                        : "{\"type\":\"text\",\"text\":");
            ngx_http_aigw_jw_qstr(w, &part[i].text);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_part_thinking:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"type\":\"reasoning\","
                                          "\"text\":"
                                        : "{\"type\":\"reasoning\","
                                          "\"text\":");
            ngx_http_aigw_jw_qstr(w, &part[i].text);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_part_tool_call:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"type\":\"tool-call\","
                                          "\"toolCallId\":"
                                        : "{\"type\":\"tool-call\","
                                          "\"toolCallId\":");
            ngx_http_aigw_jw_qstr(w, &part[i].id);
            ngx_http_aigw_jw_lit(w, ",\"toolName\":");
            ngx_http_aigw_jw_qstr(w, &part[i].name);
            ngx_http_aigw_jw_lit(w, ",\"input\":");
            ngx_http_aigw_aisdk_write_input(w, &part[i]);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_part_image:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"type\":\"file\","
                                          "\"mediaType\":"
                                        : "{\"type\":\"file\","
                                          "\"mediaType\":");
            ngx_http_aigw_jw_qstr(w, &part[i].media_type);
            ngx_http_aigw_jw_lit(w, ",\"data\":");
            ngx_http_aigw_jw_qstr(w, &part[i].data);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        default:
            break;
        }
    }

    ngx_http_aigw_jw_lit(w, "],");
    ngx_http_aigw_aisdk_write_finish(ctx, resp->stop, w);
    ngx_http_aigw_jw_lit(w, ",\"warnings\":[]}\n");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* a tool input as JSON text in a string, as V3 wants it */

static void
ngx_http_aigw_aisdk_write_input(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part)
{
    if (part->input.len == 0) {
        ngx_http_aigw_jw_lit(w, "\"{}\"");
        return;
    }

    if (part->input_string) {
        ngx_http_aigw_jw_qstr(w, &part->input);
        return;
    }

    ngx_http_aigw_jw_lit(w, "\"");
    ngx_http_aigw_jw_escape(w, part->input.data, part->input.len);
    ngx_http_aigw_jw_lit(w, "\"");
}


/*
 * "finishReason", "usage" and "providerMetadata" of a result or of the
 * stream's finish part, without the braces around them
 */

static void
ngx_http_aigw_aisdk_write_finish(ngx_http_aigw_ctx_t *ctx, ngx_uint_t stop,
    ngx_http_aigw_jw_t *w)
{
    int64_t                 plain;
    ngx_http_aigw_usage_t  *u;

    switch (stop) {

    case ngx_http_aigw_stop_end:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":\"stop\","
                                "\"raw\":\"stop\"}");
        break;

    case ngx_http_aigw_stop_sequence:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":\"stop\","
                                "\"raw\":\"stop_sequence\"}");
        break;

    case ngx_http_aigw_stop_length:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":\"length\","
                                "\"raw\":\"length\"}");
        break;

    case ngx_http_aigw_stop_tool:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":"
                                "\"tool-calls\",\"raw\":\"tool_calls\"}");
        break;

    case ngx_http_aigw_stop_filter:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":"
                                "\"content-filter\",\"raw\":"
                                "\"content_filter\"}");
        break;

    default:
        ngx_http_aigw_jw_lit(w, "\"finishReason\":{\"unified\":\"other\","
                                "\"raw\":null}");
        break;
    }

    u = &ctx->usage;
    plain = u->input - u->cache_read - u->cache_write;

    ngx_http_aigw_jw_lit(w, ",\"usage\":{\"inputTokens\":{\"total\":");
    ngx_http_aigw_jw_int(w, u->input);
    ngx_http_aigw_jw_lit(w, ",\"noCache\":");
    ngx_http_aigw_jw_int(w, plain > 0 ? plain : 0);
    ngx_http_aigw_jw_lit(w, ",\"cacheRead\":");
    ngx_http_aigw_jw_int(w, u->cache_read);
    ngx_http_aigw_jw_lit(w, ",\"cacheWrite\":");
    ngx_http_aigw_jw_int(w, u->cache_write);
    ngx_http_aigw_jw_lit(w, "},\"outputTokens\":{\"total\":");
    ngx_http_aigw_jw_int(w, u->output);
    ngx_http_aigw_jw_lit(w, ",\"text\":");
    ngx_http_aigw_jw_int(w, u->output > u->reasoning
                            ? u->output - u->reasoning : 0);
    ngx_http_aigw_jw_lit(w, ",\"reasoning\":");
    ngx_http_aigw_jw_int(w, u->reasoning);
    ngx_http_aigw_jw_lit(w, "}},");
    ngx_http_aigw_aisdk_write_gateway(ctx, w);
}


/* "providerMetadata":{"gateway":{generationId, cost}} */

static void
ngx_http_aigw_aisdk_write_gateway(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_jw_lit(w, "\"providerMetadata\":{\"gateway\":{");

    if (ctx->generation_id.len) {
        ngx_http_aigw_jw_lit(w, "\"generationId\":\"");
        ngx_http_aigw_jw_str(w, &ctx->generation_id);
        ngx_http_aigw_jw_lit(w, "\"");
    }

    /* the cost so far, in USD as a string, as the log phase settles it */

    if (ctx->target && ctx->target->model->priced) {
        ngx_http_aigw_jw_cstr(w, ctx->generation_id.len ? ",\"cost\":\""
                                                        : "\"cost\":\"");
        ngx_http_aigw_jw_micro(w, ngx_http_aigw_cost(ctx, ctx->target->model));
        ngx_http_aigw_jw_lit(w, "\"");
    }

    ngx_http_aigw_jw_lit(w, "}}");
}


/* {embeddings: [[...]], usage: {tokens}, providerMetadata} */

static ngx_int_t
ngx_http_aigw_aisdk_write_embeddings(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp, ngx_http_aigw_jw_t *w)
{
    ngx_str_t   *e;
    ngx_uint_t   i, n;

    e = resp->embeddings ? resp->embeddings->elts : NULL;
    n = resp->embeddings ? resp->embeddings->nelts : 0;

    ngx_http_aigw_jw_lit(w, "{\"embeddings\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_aigw_jw_lit(w, ",");
        }

        ngx_http_aigw_jw_str(w, &e[i]);
    }

    ngx_http_aigw_jw_lit(w, "],\"usage\":{\"tokens\":");
    ngx_http_aigw_jw_int(w, ctx->usage.input);
    ngx_http_aigw_jw_lit(w, "},");
    ngx_http_aigw_aisdk_write_gateway(ctx, w);
    ngx_http_aigw_jw_lit(w, ",\"warnings\":[]}\n");

    return w->error ? NGX_ERROR : NGX_OK;
}


/*
 * {images: [base64, ...], warnings, usage (when the provider counts
 * tokens), providerMetadata}
 */

static ngx_int_t
ngx_http_aigw_aisdk_write_images(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp, ngx_http_aigw_jw_t *w)
{
    ngx_str_t   *e;
    ngx_uint_t   i, n, gemini;

    e = resp->images ? resp->images->elts : NULL;
    n = resp->images ? resp->images->nelts : 0;

    ngx_http_aigw_jw_lit(w, "{\"images\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_aigw_jw_lit(w, ",");
        }

        ngx_http_aigw_jw_qstr(w, &e[i]);
    }

    ngx_http_aigw_jw_lit(w, "],\"warnings\":[");

    /* Gemini takes the aspect ratio (imageConfig.aspectRatio) */

    gemini = (ctx->target
              && ctx->target->provider->format == &ngx_http_aigw_gemini_format);

    if (ctx->chat && ctx->chat->aspect_ratio && !gemini) {
        ngx_http_aigw_jw_lit(w, "{\"type\":\"unsupported\","
                                "\"feature\":\"aspectRatio\","
                                "\"details\":\"use size instead\"}");
    }

    if (ctx->chat && ctx->chat->seed) {
        ngx_http_aigw_jw_cstr(w, (ctx->chat->aspect_ratio && !gemini)
                                 ? "," : "");
        ngx_http_aigw_jw_lit(w, "{\"type\":\"unsupported\","
                                "\"feature\":\"seed\"}");
    }

    ngx_http_aigw_jw_lit(w, "],");

    if (ctx->usage.seen) {
        ngx_http_aigw_jw_lit(w, "\"usage\":{\"inputTokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.input);
        ngx_http_aigw_jw_lit(w, ",\"outputTokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.output);
        ngx_http_aigw_jw_lit(w, ",\"totalTokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.input + ctx->usage.output);
        ngx_http_aigw_jw_lit(w, "},");
    }

    ngx_http_aigw_aisdk_write_gateway(ctx, w);
    ngx_http_aigw_jw_lit(w, "}\n");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* client side: the stream parts */

static ngx_int_t
ngx_http_aigw_aisdk_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t                     type;
    ngx_http_aigw_aisdk_write_t  *st;

    st = ctx->wstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_aisdk_write_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        st->stop = ngx_http_aigw_stop_end;
        ctx->wstate = st;
    }

    if (!st->started && ev->type != ngx_http_aigw_ev_ping) {
        ngx_http_aigw_aisdk_write_start(ctx, st, ev, w);

        if (ev->type == ngx_http_aigw_ev_start) {
            return NGX_OK;
        }
    }

    switch (ev->type) {

    case ngx_http_aigw_ev_block_start:
        if (ngx_http_aigw_aisdk_close(st, w) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_aigw_aisdk_open(r, st, ev, w);

    case ngx_http_aigw_ev_delta:
        if (ev->kind == ngx_http_aigw_part_signature) {
            break;
        }

        if (ev->kind == ngx_http_aigw_part_image) {

            /* an image: a file part of its own, between blocks */

            if (ngx_http_aigw_aisdk_close(st, w) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_aigw_jw_lit(w, "data: {\"type\":\"file\","
                                    "\"mediaType\":");
            ngx_http_aigw_jw_qstr(w, &ev->name);
            ngx_http_aigw_jw_lit(w, ",\"data\":");
            ngx_http_aigw_jw_qstr(w, &ev->text);
            ngx_http_aigw_jw_lit(w, "}\n\n");
            break;
        }

        if (st->block != ev->kind) {
            if (ngx_http_aigw_aisdk_close(st, w) != NGX_OK
                || ngx_http_aigw_aisdk_open(r, st, ev, w) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        ngx_http_aigw_aisdk_write_delta(st, ev, w);
        break;

    case ngx_http_aigw_ev_block_stop:
        return ngx_http_aigw_aisdk_close(st, w);

    case ngx_http_aigw_ev_finish:
        st->stop = ev->stop;
        break;

    case ngx_http_aigw_ev_end:
        if (ngx_http_aigw_aisdk_close(st, w) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"finish\",");
        ngx_http_aigw_aisdk_write_finish(ctx, st->stop, w);
        ngx_http_aigw_jw_lit(w, "}\n\n");
        break;

    case ngx_http_aigw_ev_error:
        type = ev->err_type;

        if (type.len == 0) {
            ngx_http_aigw_error_type(ev->status, &type);
        }

        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"error\",\"error\":"
                                "{\"message\":");
        ngx_http_aigw_jw_qstr(w, &ev->text);
        ngx_http_aigw_jw_lit(w, ",\"type\":");
        ngx_http_aigw_jw_qstr(w, &type);
        ngx_http_aigw_jw_lit(w, "}}\n\n");
        break;

    default:
        break;
    }

    return NGX_OK;
}


/* stream-start and response-metadata, with the provider's id if any */

static void
ngx_http_aigw_aisdk_write_start(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_aisdk_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    st->started = 1;

    ngx_http_aigw_jw_lit(w, "data: {\"type\":\"stream-start\","
                            "\"warnings\":[]}\n\n"
                            "data: {\"type\":\"response-metadata\","
                            "\"id\":");

    if (ev->type == ngx_http_aigw_ev_start && ev->id.len) {
        ngx_http_aigw_jw_qstr(w, &ev->id);

    } else {
        ngx_http_aigw_jw_lit(w, "\"");
        ngx_http_aigw_jw_str(w, &ctx->generation_id);
        ngx_http_aigw_jw_lit(w, "\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"modelId\":\"");
    ngx_http_aigw_jw_escape(w, ctx->model.data, ctx->model.len);
    ngx_http_aigw_jw_lit(w, "\",\"timestamp\":\"");
    ngx_http_aigw_jw_raw(w, ngx_cached_http_log_iso8601.data,
                         ngx_cached_http_log_iso8601.len);
    ngx_http_aigw_jw_lit(w, "\"}\n\n");
}


static ngx_int_t
ngx_http_aigw_aisdk_open(ngx_http_request_t *r,
    ngx_http_aigw_aisdk_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    st->index++;
    st->block = ev->kind ? ev->kind : ngx_http_aigw_part_text;

    switch (st->block) {

    case ngx_http_aigw_part_tool_call:

        /* the event's strings do not outlive it */

        st->tool_id.len = ev->id.len;
        st->tool_id.data = ngx_pstrdup(r->pool, &ev->id);

        st->tool_name.len = ev->name.len;
        st->tool_name.data = ngx_pstrdup(r->pool, &ev->name);

        if ((ev->id.len && st->tool_id.data == NULL)
            || (ev->name.len && st->tool_name.data == NULL))
        {
            return NGX_ERROR;
        }

        ngx_http_aigw_jw_init(&st->args, r->pool, 256);

        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"tool-input-start\","
                                "\"id\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_id);
        ngx_http_aigw_jw_lit(w, ",\"toolName\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_name);
        ngx_http_aigw_jw_lit(w, "}\n\n");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"reasoning-start\","
                                "\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"}\n\n");
        break;

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"text-start\",\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"}\n\n");
        break;

    default:

        /* redacted thinking: nothing the client reads */
        break;
    }

    return NGX_OK;
}


static void
ngx_http_aigw_aisdk_write_delta(ngx_http_aigw_aisdk_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    switch (st->block) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_str(&st->args, &ev->text);

        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"tool-input-delta\","
                                "\"id\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_id);
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"reasoning-delta\","
                                "\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"");
        break;

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"text-delta\",\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"");
        break;

    default:
        return;
    }

    ngx_http_aigw_jw_lit(w, ",\"delta\":");
    ngx_http_aigw_jw_qstr(w, &ev->text);
    ngx_http_aigw_jw_lit(w, "}\n\n");
}


/* the open block ends; a tool call's input is complete: tool-call */

static ngx_int_t
ngx_http_aigw_aisdk_close(ngx_http_aigw_aisdk_write_t *st,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t  args;

    switch (st->block) {

    case ngx_http_aigw_part_tool_call:
        if (ngx_http_aigw_jw_flatten(&st->args, &args) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"tool-input-end\","
                                "\"id\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_id);
        ngx_http_aigw_jw_lit(w, "}\n\ndata: {\"type\":\"tool-call\","
                                "\"toolCallId\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_id);
        ngx_http_aigw_jw_lit(w, ",\"toolName\":");
        ngx_http_aigw_jw_qstr(w, &st->tool_name);
        ngx_http_aigw_jw_lit(w, ",\"input\":");

        if (args.len) {
            ngx_http_aigw_jw_qstr(w, &args);

        } else {
            ngx_http_aigw_jw_lit(w, "\"{}\"");
        }

        ngx_http_aigw_jw_lit(w, "}\n\n");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"reasoning-end\","
                                "\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"}\n\n");
        break;

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "data: {\"type\":\"text-end\",\"id\":\"");
        ngx_http_aigw_jw_int(w, st->index);
        ngx_http_aigw_jw_lit(w, "\"}\n\n");
        break;

    default:
        break;
    }

    st->block = 0;

    return NGX_OK;
}


/*
 * {"error":{"message","type","param","code"}}: "type" picks the SDK's
 * error class (GatewayAuthenticationError, GatewayRateLimitError, ...)
 */

static void
ngx_http_aigw_aisdk_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err)
{
    const char  *type;

    switch (err->status) {

    case NGX_HTTP_UNAUTHORIZED:
        type = "authentication_error";
        break;

    case 402:
        type = "insufficient_funds";
        break;

    case NGX_HTTP_FORBIDDEN:
        type = "forbidden";
        break;

    case NGX_HTTP_NOT_FOUND:
        type = (err->code.len == 15
                && ngx_strncmp(err->code.data, "model_not_found", 15) == 0)
               ? "model_not_found" : "invalid_request_error";
        break;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        type = "rate_limit_exceeded";
        break;

    case 424:
        type = "failed_dependency";
        break;

    default:
        type = (err->status >= 500) ? "internal_server_error"
                                    : "invalid_request_error";
        break;
    }

    ngx_http_aigw_jw_lit(w, "{\"error\":{\"message\":");
    ngx_http_aigw_jw_qstr(w, &err->message);
    ngx_http_aigw_jw_lit(w, ",\"type\":\"");
    ngx_http_aigw_jw_cstr(w, type);
    ngx_http_aigw_jw_lit(w, "\",\"param\":null,\"code\":");

    if (err->code.len) {
        ngx_http_aigw_jw_qstr(w, &err->code);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, "}}");
}


/*
 * GET {base}/config: {models:[{id, name, pricing, specification,
 * modelType}]}, prices as strings of USD per token
 */

static void
ngx_http_aigw_aisdk_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one)
{
    u_char                  *slash;
    ngx_str_t                slug, provider;
    ngx_uint_t               i;
    ngx_http_aigw_route_t   *rt;
    ngx_http_aigw_model_t  **m;

    m = models->elts;

    ngx_http_aigw_jw_lit(w, "{\"models\":[");

    for (i = 0; i < models->nelts; i++) {
        slug = m[i]->slug;

        /* "openai/gpt-4o": "openai"; a plain slug: its first provider */

        slash = ngx_strlchr(slug.data, slug.data + slug.len, '/');

        if (slash) {
            provider.data = slug.data;
            provider.len = slash - slug.data;

        } else if (m[i]->routes.nelts) {
            rt = m[i]->routes.elts;
            provider = rt[0].provider->name;

        } else {
            provider = slug;
        }

        ngx_http_aigw_jw_cstr(w, i ? ",{\"id\":\"" : "{\"id\":\"");
        ngx_http_aigw_jw_escape(w, slug.data, slug.len);
        ngx_http_aigw_jw_lit(w, "\",\"name\":\"");
        ngx_http_aigw_jw_escape(w, slug.data, slug.len);
        ngx_http_aigw_jw_lit(w, "\"");

        if (m[i]->priced) {
            ngx_http_aigw_jw_lit(w, ",\"pricing\":{");
            ngx_http_aigw_aisdk_write_price(w, "\"input\":\"",
                                            m[i]->price_input);
            ngx_http_aigw_aisdk_write_price(w, ",\"output\":\"",
                                            m[i]->price_output);

            if (m[i]->price_cached) {
                ngx_http_aigw_aisdk_write_price(w, ",\"input_cache_read\":\"",
                                                m[i]->price_cached);
            }

            if (m[i]->price_cache_write) {
                ngx_http_aigw_aisdk_write_price(w,
                                                ",\"input_cache_write\":\"",
                                                m[i]->price_cache_write);
            }

            ngx_http_aigw_jw_lit(w, "}");
        }

        ngx_http_aigw_jw_lit(w, ",\"specification\":{\"specificationVersion\":"
                                "\"v3\",\"provider\":\"");
        ngx_http_aigw_jw_escape(w, provider.data, provider.len);
        ngx_http_aigw_jw_lit(w, "\",\"modelId\":\"");
        ngx_http_aigw_jw_escape(w, slug.data, slug.len);
        ngx_http_aigw_jw_lit(w, "\"},\"modelType\":\"language\"}");
    }

    ngx_http_aigw_jw_lit(w, "]}");
}


/* micro-USD per 1M tokens as USD per token: 10^-12 units, a string */

static void
ngx_http_aigw_aisdk_write_price(ngx_http_aigw_jw_t *w, const char *name,
    int64_t price)
{
    u_char  buf[NGX_INT64_LEN + 16], *p;

    p = ngx_sprintf(buf, "%L.%012L", price / 1000000000000LL,
                    price % 1000000000000LL);

    while (p[-1] == '0') {
        p--;
    }

    if (p[-1] == '.') {
        p--;
    }

    ngx_http_aigw_jw_cstr(w, name);
    ngx_http_aigw_jw_raw(w, buf, p - buf);
    ngx_http_aigw_jw_lit(w, "\"");
}


/* the protocol has no token count endpoint; this surface serves none */

static void
ngx_http_aigw_aisdk_write_count(ngx_http_aigw_jw_t *w, int64_t tokens)
{
    ngx_http_aigw_jw_lit(w, "{\"inputTokens\":");
    ngx_http_aigw_jw_int(w, tokens);
    ngx_http_aigw_jw_lit(w, "}");
}


/* the SDK reads no rate-limit headers: the OpenAI ones are sent */

static ngx_int_t
ngx_http_aigw_aisdk_ratelimit_headers(ngx_http_request_t *r,
    const char *what, int64_t limit, int64_t remaining, int64_t reset,
    int64_t now)
{
    return ngx_http_aigw_openai_format.ratelimit_headers(r, what, limit,
                                                         remaining, reset,
                                                         now);
}
