
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The OpenAI Chat Completions wire format, which OpenAI, Azure OpenAI and
 * the OpenAI-compatible vendors speak.
 */


typedef struct {
    ngx_uint_t                 started;
    ngx_uint_t                 block;      /* open block: a part type */
    ngx_int_t                  tool;       /* its tool call index */
    ngx_int_t                  calls;      /* tool calls without "index" */
} ngx_http_aigw_openai_parse_t;


typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  model;
    time_t                     created;
    ngx_int_t                  tool;       /* index of the open tool call */
    ngx_uint_t                 ntools;
} ngx_http_aigw_openai_write_t;


static ngx_int_t ngx_http_aigw_openai_ratelimit_headers(
    ngx_http_request_t *r, const char *what, int64_t limit, int64_t remaining,
    int64_t reset, int64_t now);
static ngx_int_t ngx_http_aigw_openai_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_openai_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k);
static ngx_int_t ngx_http_aigw_openai_write_embeddings(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_openai_parse_response_format(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_images(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_openai_parse_generation(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_write_generation(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_write_image(ngx_http_aigw_jw_t *w,
    ngx_str_t *media_type, ngx_str_t *data);
static ngx_int_t ngx_http_aigw_openai_parse_vectors(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_openai_write_inputs(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_openai_write_prompt(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_openai_parse_embeddings(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_stop(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_tool_choice(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_openai_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg);
static ngx_int_t ngx_http_aigw_openai_parse_content(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts);
static ngx_int_t ngx_http_aigw_openai_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_openai_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static ngx_http_aigw_openai_write_t *ngx_http_aigw_openai_write_state(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_openai_write_start(ngx_http_request_t *r,
    ngx_http_aigw_openai_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_write_delta(ngx_http_aigw_openai_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_write_end(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_openai_write_t *st, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_chunk(ngx_http_aigw_openai_write_t *st,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_write_usage(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_usage_t *u);
static void ngx_http_aigw_openai_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err);
static void ngx_http_aigw_openai_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one);
static void ngx_http_aigw_openai_write_count(ngx_http_aigw_jw_t *w,
    int64_t tokens);
static ngx_int_t ngx_http_aigw_openai_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n);
static ngx_int_t ngx_http_aigw_openai_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_openai_write_messages(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_openai_write_user(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_msg_t *msg, ngx_uint_t *n);
static void ngx_http_aigw_openai_write_assistant(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_msg_t *msg, ngx_uint_t *n);
static void ngx_http_aigw_openai_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_openai_write_params(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning);
static void ngx_http_aigw_openai_write_parts(ngx_http_aigw_jw_t *w,
    ngx_array_t *parts, ngx_uint_t type);
static void ngx_http_aigw_openai_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part);
static ngx_uint_t ngx_http_aigw_openai_count(ngx_array_t *parts,
    ngx_uint_t type);
static ngx_int_t ngx_http_aigw_openai_force_usage(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_edit_t *e);
static ngx_int_t ngx_http_aigw_openai_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_openai_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_openai_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_stream_end(
    ngx_http_aigw_openai_parse_t *st, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_stream_error(ngx_http_aigw_json_t *j,
    ngx_uint_t e, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_parse_choice(
    ngx_http_aigw_openai_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t c,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_parse_delta(
    ngx_http_aigw_openai_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t d,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_delta_text(
    ngx_http_aigw_openai_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_uint_t kind, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_openai_delta_tools(
    ngx_http_aigw_openai_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *events);
static ngx_http_aigw_event_t *ngx_http_aigw_openai_block(
    ngx_http_aigw_openai_parse_t *st, ngx_array_t *events, ngx_uint_t kind,
    ngx_int_t tool);
static void ngx_http_aigw_openai_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err);
static ngx_uint_t ngx_http_aigw_openai_stop(ngx_http_aigw_json_t *j,
    ngx_uint_t v);
static void ngx_http_aigw_openai_finish_scan(ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *data);
static void ngx_http_aigw_openai_write_stop(ngx_http_aigw_jw_t *w,
    ngx_uint_t stop);


/* top-level fields and the types they must have, checked on every request */

static const ngx_http_aigw_field_t  ngx_http_aigw_openai_fields[] = {
    { ngx_string("messages"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("temperature"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("top_p"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("max_tokens"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("max_completion_tokens"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("n"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("tools"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("tool_choice"),
      ngx_http_aigw_json_string, ngx_http_aigw_json_object, 0,
      "a string or an object" },

    { ngx_string("stop"),
      ngx_http_aigw_json_string, ngx_http_aigw_json_array, 0,
      "a string or an array" },

    { ngx_string("user"),
      ngx_http_aigw_json_string, 0, 0, "a string" },

    { ngx_string("stream_options"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_openai_format = {
    ngx_string("openai"),
    { ngx_string("/chat/completions"),                 /* chat */
      ngx_null_string,                                  /* count tokens */
      ngx_string("/embeddings"),                        /* embeddings */
      ngx_string("/images/generations") },              /* images */
    ngx_http_aigw_auth_bearer,
    0,                                                  /* own credential */
    { ngx_string("/chat/completions"),                 /* client paths */
      ngx_null_string,
      ngx_string("/embeddings"),
      ngx_string("/images/generations") },
    ngx_null_string,                                    /* client header */

    ngx_http_aigw_openai_fields,                        /* fields */
    "\"%s\" must be %s",                                /* field error */
    ngx_http_aigw_openai_validate,                      /* validate */
    ngx_http_aigw_openai_parse_request,                 /* parse request */
    ngx_http_aigw_openai_write_response,                /* write response */
    ngx_http_aigw_openai_write_event,                   /* write event */
    ngx_http_aigw_openai_write_error,                   /* write error */
    ngx_http_aigw_openai_write_models,                  /* write models */
    ngx_http_aigw_openai_write_count,                   /* write count */

    ngx_http_aigw_openai_passthrough,                   /* passthrough */
    ngx_http_aigw_openai_write_request,                 /* write request */
    ngx_http_aigw_openai_request_headers,               /* request headers */
    ngx_http_aigw_openai_parse_response,                /* parse response */
    ngx_http_aigw_openai_parse_event,                   /* parse event */
    ngx_http_aigw_openai_parse_error,                   /* parse error */
    &ngx_http_aigw_sse_framing,                         /* framing */
    NULL,                                               /* target */
    ngx_http_aigw_openai_ratelimit_headers,             /* rate limits */
    NULL,                                               /* sign */
    NULL,                                               /* request model */
    ngx_null_string                                     /* models path */
};


static ngx_int_t
ngx_http_aigw_openai_validate(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_str_t                      raw;
    ngx_uint_t                     v, key;
    ngx_http_aigw_json_t          *j, so;

    j = &ctx->json;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        v = ngx_http_aigw_json_get_unique(j, 0, "input", &key);

        if (key == NGX_HTTP_AIGW_JSON_NONE) {
            return ngx_http_aigw_reject(r, ctx, "duplicate field \"input\"");
        }

        if (v == NGX_HTTP_AIGW_JSON_NONE) {
            return ngx_http_aigw_reject(r, ctx, "missing required field "
                                        "\"input\"");
        }

        if (j->toks[v].type != ngx_http_aigw_json_string
            && j->toks[v].type != ngx_http_aigw_json_array)
        {
            return ngx_http_aigw_reject(r, ctx, "\"input\" must be a string "
                                        "or an array");
        }

        return NGX_OK;
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        v = ngx_http_aigw_json_get_unique(j, 0, "prompt", &key);

        if (key == NGX_HTTP_AIGW_JSON_NONE) {
            return ngx_http_aigw_reject(r, ctx, "duplicate field \"prompt\"");
        }

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "missing required field "
                                        "\"prompt\" (a string)");
        }

        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, 0, "messages");

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[v].type == ngx_http_aigw_json_null)
    {
        return ngx_http_aigw_reject(r, ctx, "missing required field "
                                    "\"messages\"");
    }

    if (j->toks[v].count == 0) {
        return ngx_http_aigw_reject(r, ctx, "\"messages\" must not be empty");
    }

    /* stream_options.include_usage: whether the client wants usage */

    v = ngx_http_aigw_json_get(j, 0, "stream_options");

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        return NGX_OK;
    }

    ctx->stream_options_tok = v;

    if (j->toks[v].type != ngx_http_aigw_json_object) {
        return NGX_OK;
    }

    ngx_memzero(&so, sizeof(ngx_http_aigw_json_t));
    so.pool = r->pool;
    so.record = 1;
    so.unique = 1;
    so.max = j->max;

    ngx_http_aigw_json_raw(j, v, &raw);

    rc = ngx_http_aigw_json_parse(&so, raw.data, raw.len);

    if (rc == NGX_ERROR && so.too_many) {
        return ngx_http_aigw_reject(r, ctx, "\"stream_options\" has too "
                                    "many members");
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(&so, 0, "include_usage");

    if (so.dup) {
        return ngx_http_aigw_reject(r, ctx, "duplicate field "
                                    "\"stream_options.include_usage\"");
    }

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        if (so.toks[v].type == ngx_http_aigw_json_true) {
            ctx->include_usage = 1;

        } else if (so.toks[v].type != ngx_http_aigw_json_false
                   && so.toks[v].type != ngx_http_aigw_json_null)
        {
            return ngx_http_aigw_reject(r, ctx,
                                        "\"stream_options.include_usage\" "
                                        "must be a boolean");
        }
    }

    return NGX_OK;
}


/*
 * Same format: the body goes as it came, but for the model id, the
 * gateway's own fields, and include_usage on streams (usage is needed
 * for accounting; the chunk is hidden from clients that did not ask).
 */

static ngx_int_t
ngx_http_aigw_openai_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n)
{
    ngx_uint_t  k;

    if (*n < 3) {
        /* the model, providerOptions, stream_options */
        return NGX_ERROR;
    }

    k = 0;

    if (ngx_http_aigw_passthrough_edits(r, ctx, t, edits, &k) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->stream) {
        if (ngx_http_aigw_openai_force_usage(r, ctx, &edits[k]) != NGX_OK) {
            return NGX_ERROR;
        }

        if (edits[k].start != edits[k].end || edits[k].text.len) {
            k++;
        }
    }

    ngx_http_aigw_passthrough_sort(edits, k);

    *n = k;

    return NGX_OK;
}


/*
 * A stream always asks the provider for usage, which accounting needs,
 * whatever the client wrote; the usage chunk is hidden from a client that
 * did not ask.  The client's include_usage (its decoded name, found once
 * by validate) gets the value true, other members of stream_options stay.
 * An empty edit (start == end, no text) means nothing is to change.
 */

static ngx_int_t
ngx_http_aigw_openai_force_usage(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_edit_t *e)
{
    size_t                 base;
    ngx_str_t              raw;
    ngx_uint_t             i, v;
    ngx_http_aigw_json_t  *j, so;

    j = &ctx->json;
    i = ctx->stream_options_tok;

    ngx_memzero(e, sizeof(ngx_http_aigw_json_edit_t));

    if (i == 0) {
        e->start = j->toks[0].end - 1;
        e->end = e->start;

        if (j->toks[0].count) {
            ngx_str_set(&e->text,
                        ",\"stream_options\":{\"include_usage\":true}");

        } else {
            ngx_str_set(&e->text,
                        "\"stream_options\":{\"include_usage\":true}");
        }

        return NGX_OK;
    }

    base = j->toks[i].start;

    if (j->toks[i].type != ngx_http_aigw_json_object) {

        /* null */

        e->start = base;
        e->end = j->toks[i].end;
        ngx_str_set(&e->text, "{\"include_usage\":true}");

        return NGX_OK;
    }

    ngx_memzero(&so, sizeof(ngx_http_aigw_json_t));
    so.pool = r->pool;
    so.record = 1;

    ngx_http_aigw_json_raw(j, i, &raw);

    if (ngx_http_aigw_json_parse(&so, raw.data, raw.len) != NGX_OK) {
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(&so, 0, "include_usage");

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        e->start = base + 1;
        e->end = e->start;

        if (so.toks[0].count == 0) {
            ngx_str_set(&e->text, "\"include_usage\":true");

        } else {
            ngx_str_set(&e->text, "\"include_usage\":true,");
        }

        return NGX_OK;
    }

    if (so.toks[v].type != ngx_http_aigw_json_true) {

        /* false or null */

        e->start = base + so.toks[v].start;
        e->end = base + so.toks[v].end;
        ngx_str_set(&e->text, "true");
    }

    return NGX_OK;
}


/*
 * The client's headers named by aigw_pass_request_headers (e.g.
 * openai-beta), when the client speaks this format too
 */

static ngx_int_t
ngx_http_aigw_openai_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    if (ctx->client != &ngx_http_aigw_openai_format) {
        return NGX_OK;
    }

    return ngx_http_aigw_pass_headers(r, &ngx_http_aigw_openai_format, w,
                                      NULL, NULL);
}


/*
 * A passthrough chunk is not parsed: its "finish_reason" string, if any,
 * is looked up as text, for the log
 */

static void
ngx_http_aigw_openai_finish_scan(ngx_http_aigw_ctx_t *ctx, ngx_str_t *data)
{
    u_char  *p, *last, *q;
    size_t   n;

    p = memmem(data->data, data->len, "\"finish_reason\":\"", 17);

    if (p == NULL) {
        return;
    }

    p += 17;
    last = data->data + data->len;

    q = ngx_strlchr(p, last, '"');
    if (q == NULL) {
        return;
    }

    n = q - p;

    if (n == 6 && ngx_strncmp(p, "length", 6) == 0) {
        ctx->finish = ngx_http_aigw_stop_length;

    } else if ((n == 10 && ngx_strncmp(p, "tool_calls", 10) == 0)
               || (n == 13 && ngx_strncmp(p, "function_call", 13) == 0))
    {
        ctx->finish = ngx_http_aigw_stop_tool;

    } else if (n == 14 && ngx_strncmp(p, "content_filter", 14) == 0) {
        ctx->finish = ngx_http_aigw_stop_filter;

    } else {
        ctx->finish = ngx_http_aigw_stop_end;
    }
}


static ngx_uint_t
ngx_http_aigw_openai_stop(ngx_http_aigw_json_t *j, ngx_uint_t v)
{
    if (ngx_http_aigw_json_str_eq(j, v, "stop")) {
        return ngx_http_aigw_stop_end;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "length")) {
        return ngx_http_aigw_stop_length;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "tool_calls")
        || ngx_http_aigw_json_str_eq(j, v, "function_call"))
    {
        return ngx_http_aigw_stop_tool;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "content_filter")) {
        return ngx_http_aigw_stop_filter;
    }

    return ngx_http_aigw_stop_end;
}


static void
ngx_http_aigw_openai_write_stop(ngx_http_aigw_jw_t *w, ngx_uint_t stop)
{
    switch (stop) {

    case ngx_http_aigw_stop_length:
        ngx_http_aigw_jw_lit(w, "\"length\"");
        break;

    case ngx_http_aigw_stop_tool:
        ngx_http_aigw_jw_lit(w, "\"tool_calls\"");
        break;

    case ngx_http_aigw_stop_filter:
        ngx_http_aigw_jw_lit(w, "\"content_filter\"");
        break;

    default:
        ngx_http_aigw_jw_lit(w, "\"stop\"");
        break;
    }
}


static ngx_int_t
ngx_http_aigw_openai_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_response_t *resp)
{
    ngx_uint_t              v, c, m, e, f;
    ngx_http_aigw_json_t    j;
    ngx_http_aigw_part_t   *part;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = resp ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 3;

    if (ngx_http_aigw_json_parse(&j, body->data, body->len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_ERROR;
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_openai_parse_images(r, ctx, &j, resp);
    }

    ngx_http_aigw_usage_read(&j, ngx_http_aigw_json_get(&j, 0, "usage"),
                             &ctx->usage, ngx_http_aigw_usage_chat);

    if (resp && ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        (void) ngx_http_aigw_json_get_str(&j, 0, "model", &resp->model);
        return ngx_http_aigw_openai_parse_vectors(r, &j, resp);
    }

    if (resp == NULL) {

        /* passthrough: the finish reason, for the log */

        c = ngx_http_aigw_json_get(&j, 0, "choices");

        if (ngx_http_aigw_json_is(&j, c, ngx_http_aigw_json_array)
            && j.toks[c].count)
        {
            ctx->finish = ngx_http_aigw_openai_stop(&j,
                              ngx_http_aigw_json_get(&j, c + 1,
                                                     "finish_reason"));
        }

        return NGX_OK;
    }

    (void) ngx_http_aigw_json_get_str(&j, 0, "id", &resp->id);

    (void) ngx_http_aigw_json_get_str(&j, 0, "model", &resp->model);

    c = ngx_http_aigw_json_get(&j, 0, "choices");

    if (!ngx_http_aigw_json_is(&j, c, ngx_http_aigw_json_array)
        || j.toks[c].count == 0)
    {
        return NGX_OK;
    }

    c = c + 1;

    resp->stop = ngx_http_aigw_openai_stop(&j,
                     ngx_http_aigw_json_get(&j, c, "finish_reason"));

    m = ngx_http_aigw_json_get(&j, c, "message");

    if (!ngx_http_aigw_json_is(&j, m, ngx_http_aigw_json_object)) {
        return NGX_OK;
    }

    /* reasoning, as OpenAI-compatible servers return it */

    v = ngx_http_aigw_json_get(&j, m, "reasoning_content");

    if (!ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
        v = ngx_http_aigw_json_get(&j, m, "reasoning");
    }

    if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)
        && j.toks[v].end - j.toks[v].start > 2)
    {
        part = ngx_http_aigw_part_add(&resp->parts,
                                      ngx_http_aigw_part_thinking);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(&j, v, &part->text);
    }

    v = ngx_http_aigw_json_get(&j, m, "content");

    if (!ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
        v = ngx_http_aigw_json_get(&j, m, "refusal");
    }

    if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)
        && j.toks[v].end - j.toks[v].start > 2)
    {
        part = ngx_http_aigw_part_add(&resp->parts, ngx_http_aigw_part_text);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(&j, v, &part->text);
    }

    v = ngx_http_aigw_json_get(&j, m, "tool_calls");

    if (!ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_array)) {
        return NGX_OK;
    }

    for (e = v + 1; e < j.toks[v].next; e = j.toks[e].next) {
        part = ngx_http_aigw_part_add(&resp->parts,
                                      ngx_http_aigw_part_tool_call);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->input_string = 1;

        (void) ngx_http_aigw_json_get_str(&j, e, "id", &part->id);

        f = ngx_http_aigw_json_get(&j, e, "function");

        (void) ngx_http_aigw_json_get_str(&j, f, "name", &part->name);

        m = ngx_http_aigw_json_get(&j, f, "arguments");
        if (ngx_http_aigw_json_is(&j, m, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(&j, m, &part->input);
        }
    }

    return NGX_OK;
}


static void
ngx_http_aigw_openai_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err)
{
    ngx_uint_t            e, v;
    ngx_http_aigw_json_t  j;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = 3;

    if (body->len
        && ngx_http_aigw_json_parse(&j, body->data, body->len) == NGX_OK)
    {
        e = ngx_http_aigw_json_get(&j, 0, "error");

        if (ngx_http_aigw_json_is(&j, e, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(&j, e, &err->message);
            return;
        }

        v = ngx_http_aigw_json_get(&j, e, "message");

        if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(&j, v, &err->message);
            return;
        }
    }

    (void) ngx_http_aigw_json_message(r->pool, &err->message,
                                      "the provider returned HTTP %ui",
                                      err->status);
}


/* a stream chunk from the provider: usage, the end, and its deltas */

static ngx_int_t
ngx_http_aigw_openai_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events)
{
    ngx_uint_t                     c, e, usage;
    ngx_http_aigw_json_t          *j;
    ngx_http_aigw_openai_parse_t  *st;

    if (!sev->has_data) {
        return NGX_OK;
    }

    st = ctx->pstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_openai_parse_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->pstate = st;
    }

    if (sev->data.len == 6 && ngx_strncmp(sev->data.data, "[DONE]", 6) == 0) {

        if (ctx->translate
            && ngx_http_aigw_openai_stream_end(st, events) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_DONE;
    }

    /*
     * a passthrough needs usage and errors: a chunk with neither key
     * passes as it is, unparsed (in JSON text, a quoted "usage" or
     * "error" is a key or a whole string value: a quote in a string is
     * escaped)
     */

    if (!ctx->translate) {
        ngx_http_aigw_openai_finish_scan(ctx, &sev->data);
    }

    if (!ctx->translate
        && memmem(sev->data.data, sev->data.len, "\"usage\"", 7) == NULL
        && memmem(sev->data.data, sev->data.len, "\"error\"", 7) == NULL)
    {
        return NGX_OK;
    }

    j = &ctx->ej;

    /*
     * a passthrough reads the top level only: usage, whether "choices"
     * is empty, and errors
     */

    j->record = ctx->translate ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 1;

    if (ngx_http_aigw_json_parse(j, sev->data.data, sev->data.len) != NGX_OK
        || j->toks[0].type != ngx_http_aigw_json_object)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" sent an invalid stream chunk",
                      &ctx->target->provider->name);
        return NGX_ERROR;
    }

    usage = ngx_http_aigw_json_get(j, 0, "usage");

    if (ngx_http_aigw_json_is(j, usage, ngx_http_aigw_json_object)) {

        /* a closer look at usage alone, whatever the depth of the tape */

        if (ngx_http_aigw_json_sub(j, usage, &ctx->eu, 2) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_usage_read(&ctx->eu, 0, &ctx->usage,
                                 ngx_http_aigw_usage_chat);
    }

    c = ngx_http_aigw_json_get(j, 0, "choices");

    e = ngx_http_aigw_json_get(j, 0, "error");

    if (e != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[e].type != ngx_http_aigw_json_null)
    {
        /* an error event ends the stream: nothing is written after it */

        if (!ctx->translate) {
            return NGX_DONE;
        }

        return ngx_http_aigw_openai_stream_error(j, e, events);
    }

    if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_array)
        || j->toks[c].count == 0)
    {
        /* the usage chunk the gateway asked for on the client's behalf */

        if (ngx_http_aigw_json_is(j, usage, ngx_http_aigw_json_object)
            && !ctx->include_usage)
        {
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (!ctx->translate) {
        return NGX_OK;
    }

    return ngx_http_aigw_openai_parse_choice(st, j, c, events);
}


/* [DONE], when translating: the open block closes, the stream ends */

static ngx_int_t
ngx_http_aigw_openai_stream_end(ngx_http_aigw_openai_parse_t *st,
    ngx_array_t *events)
{
    ngx_http_aigw_event_t  *ev;

    if (ngx_http_aigw_openai_block(st, events, 0, -1) == NULL) {
        return NGX_ERROR;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_end, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an error chunk "e", when translating */

static ngx_int_t
ngx_http_aigw_openai_stream_error(ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_array_t *events)
{
    ngx_uint_t              v;
    ngx_http_aigw_event_t  *ev;

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_error, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->status = NGX_HTTP_BAD_GATEWAY;

    v = ngx_http_aigw_json_get(j, e, "message");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(j, v, &ev->text);

    } else {
        ngx_str_set(&ev->text, "the provider reported an error");
    }

    return NGX_DONE;
}


/* the first choice "c" of a chunk: its deltas and finish reason */

static ngx_int_t
ngx_http_aigw_openai_parse_choice(ngx_http_aigw_openai_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_uint_t c, ngx_array_t *events)
{
    ngx_uint_t              d, v;
    ngx_http_aigw_event_t  *ev;

    if (!st->started) {
        st->started = 1;

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_start, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, 0, "id", &ev->id);

        (void) ngx_http_aigw_json_get_str(j, 0, "model", &ev->name);
    }

    c = c + 1;
    d = ngx_http_aigw_json_get(j, c, "delta");

    if (ngx_http_aigw_json_is(j, d, ngx_http_aigw_json_object)
        && ngx_http_aigw_openai_parse_delta(st, j, d, events) != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(j, c, "finish_reason");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        if (ngx_http_aigw_openai_block(st, events, 0, -1) == NULL) {
            return NGX_ERROR;
        }

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_finish, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->stop = ngx_http_aigw_openai_stop(j, v);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_openai_parse_delta(ngx_http_aigw_openai_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_uint_t d, ngx_array_t *events)
{
    ngx_uint_t  v;

    v = ngx_http_aigw_json_get(j, d, "reasoning_content");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        v = ngx_http_aigw_json_get(j, d, "reasoning");
    }

    if (ngx_http_aigw_openai_delta_text(st, j, v, ngx_http_aigw_part_thinking,
                                        events)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(j, d, "content");

    /* a refusal streams as text, as it is in a whole response */

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        || j->toks[v].end - j->toks[v].start <= 2)
    {
        v = ngx_http_aigw_json_get(j, d, "refusal");
    }

    if (ngx_http_aigw_openai_delta_text(st, j, v, ngx_http_aigw_part_text,
                                        events)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(j, d, "tool_calls");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
        return ngx_http_aigw_openai_delta_tools(st, j, v, events);
    }

    return NGX_OK;
}


/* a text or thinking delta "v", when it is a non-empty string */

static ngx_int_t
ngx_http_aigw_openai_delta_text(ngx_http_aigw_openai_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_uint_t kind,
    ngx_array_t *events)
{
    ngx_http_aigw_event_t  *ev;

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        && j->toks[v].end - j->toks[v].start > 2)
    {
        ev = ngx_http_aigw_openai_block(st, events, kind, -1);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->type = ngx_http_aigw_ev_delta;
        ev->kind = kind;
        ngx_http_aigw_json_str_raw(j, v, &ev->text);
    }

    return NGX_OK;
}


/* the tool call deltas of the array "v" */

static ngx_int_t
ngx_http_aigw_openai_delta_tools(ngx_http_aigw_openai_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_array_t *events)
{
    int64_t                 idx;
    ngx_uint_t              e, f, m;
    ngx_http_aigw_event_t  *ev;

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {

        m = ngx_http_aigw_json_get(j, e, "index");

        if (m == NGX_HTTP_AIGW_JSON_NONE
            || ngx_http_aigw_json_int(j, m, &idx) != NGX_OK)
        {
            /*
             * some servers leave "index" out: a delta with an id
             * starts another call, one without continues it
             */

            if (ngx_http_aigw_json_get(j, e, "id")
                != NGX_HTTP_AIGW_JSON_NONE
                || st->block != ngx_http_aigw_part_tool_call)
            {
                st->calls++;
            }

            idx = -st->calls;
        }

        f = ngx_http_aigw_json_get(j, e, "function");

        if (st->block != ngx_http_aigw_part_tool_call
            || st->tool != idx)
        {
            ev = ngx_http_aigw_openai_block(st, events,
                                            ngx_http_aigw_part_tool_call,
                                            (ngx_int_t) idx);
            if (ev == NULL) {
                return NGX_ERROR;
            }

            /* the block start: its id and name */

            ev--;

            (void) ngx_http_aigw_json_get_str(j, e, "id", &ev->id);

            (void) ngx_http_aigw_json_get_str(j, f, "name", &ev->name);

            events->nelts--;
        }

        m = ngx_http_aigw_json_get(j, f, "arguments");

        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)
            && j->toks[m].end - j->toks[m].start > 2)
        {
            ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta,
                                         ngx_http_aigw_part_tool_call);
            if (ev == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(j, m, &ev->text);
        }
    }

    return NGX_OK;
}


/*
 * Makes "kind" the open block (0: none), closing the one open before; it
 * returns a zeroed event after the block start, for the caller to fill.
 */

static ngx_http_aigw_event_t *
ngx_http_aigw_openai_block(ngx_http_aigw_openai_parse_t *st,
    ngx_array_t *events, ngx_uint_t kind, ngx_int_t tool)
{
    ngx_http_aigw_event_t  *ev;

    if (st->block == kind && (kind != ngx_http_aigw_part_tool_call
                              || st->tool == tool))
    {
        goto done;
    }

    if (st->block) {
        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_stop,
                                     st->block);
        if (ev == NULL) {
            return NULL;
        }
    }

    st->block = kind;
    st->tool = tool;

    if (kind == 0) {
        goto done;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_start, kind);
    if (ev == NULL) {
        return NULL;
    }

done:

    ev = ngx_http_aigw_event_add(events, 0, 0);
    if (ev == NULL) {
        return NULL;
    }

    return ev;
}


/* client side: stream chunks */

static void
ngx_http_aigw_openai_chunk(ngx_http_aigw_openai_write_t *st,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_jw_lit(w, "data: {\"id\":");
    ngx_http_aigw_jw_qstr(w, &st->id);
    ngx_http_aigw_jw_lit(w, ",\"object\":\"chat.completion.chunk\","
                            "\"created\":");
    ngx_http_aigw_jw_int(w, st->created);
    ngx_http_aigw_jw_lit(w, ",\"model\":");
    ngx_http_aigw_jw_qstr(w, &st->model);
    ngx_http_aigw_jw_lit(w, ",\"choices\":[{\"index\":0,\"delta\":");
}


static ngx_int_t
ngx_http_aigw_openai_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_openai_write_t  *st;

    st = ctx->wstate;

    if (st == NULL) {
        st = ngx_http_aigw_openai_write_state(r, ctx);
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->wstate = st;
    }

    switch (ev->type) {

    case ngx_http_aigw_ev_start:
        return ngx_http_aigw_openai_write_start(r, st, ev, w);

    case ngx_http_aigw_ev_block_start:
        if (ev->kind != ngx_http_aigw_part_tool_call) {
            break;
        }

        st->tool = st->ntools++;

        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{\"tool_calls\":[{\"index\":");
        ngx_http_aigw_jw_int(w, st->tool);
        ngx_http_aigw_jw_lit(w, ",\"id\":");
        ngx_http_aigw_jw_qstr(w, &ev->id);
        ngx_http_aigw_jw_lit(w, ",\"type\":\"function\",\"function\":"
                                "{\"name\":");
        ngx_http_aigw_jw_qstr(w, &ev->name);
        ngx_http_aigw_jw_lit(w, ",\"arguments\":\"\"}}]},"
                                "\"finish_reason\":null}]}\n\n");
        break;

    case ngx_http_aigw_ev_delta:
        ngx_http_aigw_openai_write_delta(st, ev, w);
        break;

    case ngx_http_aigw_ev_finish:
        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{},\"finish_reason\":");
        ngx_http_aigw_openai_write_stop(w, ev->stop);
        ngx_http_aigw_jw_lit(w, "}]}\n\n");
        break;

    case ngx_http_aigw_ev_end:
        ngx_http_aigw_openai_write_end(ctx, st, w);
        break;

    case ngx_http_aigw_ev_raw_end:

        /* the provider's chunks, usage included, went through as they were */

        ngx_http_aigw_jw_lit(w, "data: [DONE]\n\n");
        break;

    case ngx_http_aigw_ev_error:
        ngx_http_aigw_jw_lit(w, "data: {\"error\":{\"message\":");
        ngx_http_aigw_jw_qstr(w, &ev->text);
        ngx_http_aigw_jw_lit(w, ",\"type\":");

        if (ev->status >= 500) {
            ngx_http_aigw_jw_lit(w, "\"server_error\"");

        } else {
            ngx_http_aigw_jw_qstr(w, &ev->err_type);
        }

        ngx_http_aigw_jw_lit(w, ",\"param\":null,\"code\":null}}\n\n");
        break;

    default:
        break;
    }

    return NGX_OK;
}


static ngx_http_aigw_openai_write_t *
ngx_http_aigw_openai_write_state(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_openai_write_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_openai_write_t));
    if (st == NULL) {
        return NULL;
    }

    st->created = ngx_time();
    st->tool = -1;
    ngx_str_set(&st->id, "chatcmpl-aigw");

    /*
     * st->model is JSON text, as the provider's "model" is: the
     * requested model, decoded, is escaped again
     */

    if (ngx_http_aigw_jw_escaped(r->pool, ctx->model.data, ctx->model.len,
                                 &st->model)
        != NGX_OK)
    {
        return NULL;
    }

    return st;
}


/* the role chunk, with the provider's id and model when it gave them */

static ngx_int_t
ngx_http_aigw_openai_write_start(ngx_http_request_t *r,
    ngx_http_aigw_openai_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    if (ngx_http_aigw_event_keep(r->pool, ev, &st->id, &st->model)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_openai_chunk(st, w);
    ngx_http_aigw_jw_lit(w, "{\"role\":\"assistant\",\"content\":\"\"},"
                            "\"finish_reason\":null}]}\n\n");

    return NGX_OK;
}


static void
ngx_http_aigw_openai_write_delta(ngx_http_aigw_openai_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    switch (ev->kind) {

    case ngx_http_aigw_part_text:
        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{\"content\":");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{\"reasoning_content\":");
        break;

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{\"tool_calls\":[{\"index\":");
        ngx_http_aigw_jw_int(w, st->tool < 0 ? 0 : st->tool);
        ngx_http_aigw_jw_lit(w, ",\"function\":{\"arguments\":");
        ngx_http_aigw_jw_qstr(w, &ev->text);
        ngx_http_aigw_jw_lit(w, "}}]},\"finish_reason\":null}]}\n\n");
        return;

    case ngx_http_aigw_part_image:
        ngx_http_aigw_openai_chunk(st, w);
        ngx_http_aigw_jw_lit(w, "{\"images\":[");
        ngx_http_aigw_openai_write_image(w, &ev->name, &ev->text);
        ngx_http_aigw_jw_lit(w, "]},\"finish_reason\":null}]}\n\n");
        return;

    default:
        /* signatures and redacted thinking have no place here */
        return;
    }

    ngx_http_aigw_jw_qstr(w, &ev->text);
    ngx_http_aigw_jw_lit(w, "},\"finish_reason\":null}]}\n\n");
}


/* {"type":"image_url","image_url":{"url":"data:...;base64,..."}} */

static void
ngx_http_aigw_openai_write_image(ngx_http_aigw_jw_t *w, ngx_str_t *media_type,
    ngx_str_t *data)
{
    ngx_http_aigw_jw_lit(w, "{\"type\":\"image_url\",\"image_url\":"
                            "{\"url\":\"data:");
    ngx_http_aigw_jw_str(w, media_type);
    ngx_http_aigw_jw_lit(w, ";base64,");
    ngx_http_aigw_jw_str(w, data);
    ngx_http_aigw_jw_lit(w, "\"}}");
}


/* the usage chunk when the client asked for it, and [DONE] */

static void
ngx_http_aigw_openai_write_end(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_openai_write_t *st, ngx_http_aigw_jw_t *w)
{
    if (ctx->include_usage) {
        ngx_http_aigw_jw_lit(w, "data: {\"id\":");
        ngx_http_aigw_jw_qstr(w, &st->id);
        ngx_http_aigw_jw_lit(w, ",\"object\":\"chat.completion.chunk\","
                                "\"created\":");
        ngx_http_aigw_jw_int(w, st->created);
        ngx_http_aigw_jw_lit(w, ",\"model\":");
        ngx_http_aigw_jw_qstr(w, &st->model);
        ngx_http_aigw_jw_lit(w, ",\"choices\":[],\"usage\":");
        ngx_http_aigw_openai_write_usage(w, &ctx->usage);
        ngx_http_aigw_jw_lit(w, "}\n\n");
    }

    ngx_http_aigw_jw_lit(w, "data: [DONE]\n\n");
}


static void
ngx_http_aigw_openai_write_usage(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_usage_t *u)
{
    ngx_http_aigw_jw_lit(w, "{\"prompt_tokens\":");
    ngx_http_aigw_jw_int(w, u->input);
    ngx_http_aigw_jw_lit(w, ",\"completion_tokens\":");
    ngx_http_aigw_jw_int(w, u->output);
    ngx_http_aigw_jw_lit(w, ",\"total_tokens\":");
    ngx_http_aigw_jw_int(w, u->input + u->output);
    ngx_http_aigw_jw_lit(w, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    ngx_http_aigw_jw_int(w, u->cache_read);
    ngx_http_aigw_jw_lit(w, "},\"completion_tokens_details\":"
                            "{\"reasoning_tokens\":");
    ngx_http_aigw_jw_int(w, u->reasoning);
    ngx_http_aigw_jw_lit(w, "}}");
}


/*
 * The embeddings list: one item per vector the provider sent, in order;
 * usage is the provider's input tokens (0 when it reports none)
 */

static ngx_int_t
ngx_http_aigw_openai_write_embeddings(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t   *e;
    ngx_uint_t   i, n;

    e = resp->embeddings ? resp->embeddings->elts : NULL;
    n = resp->embeddings ? resp->embeddings->nelts : 0;

    ngx_http_aigw_jw_lit(w, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        ngx_http_aigw_jw_cstr(w, i ? ",{\"object\":\"embedding\",\"index\":"
                                   : "{\"object\":\"embedding\",\"index\":");
        ngx_http_aigw_jw_int(w, i);
        ngx_http_aigw_jw_lit(w, ",\"embedding\":");
        ngx_http_aigw_jw_str(w, &e[i]);
        ngx_http_aigw_jw_lit(w, "}");
    }

    ngx_http_aigw_jw_lit(w, "],\"model\":");
    ngx_http_aigw_write_model(w, &resp->model, &ctx->model);

    ngx_http_aigw_jw_lit(w, ",\"usage\":{\"prompt_tokens\":");
    ngx_http_aigw_jw_int(w, ctx->usage.input);
    ngx_http_aigw_jw_lit(w, ",\"total_tokens\":");
    ngx_http_aigw_jw_int(w, ctx->usage.input);
    ngx_http_aigw_jw_lit(w, "}}\n");

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_openai_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t              s;
    ngx_uint_t             i, n, text;
    ngx_http_aigw_jw_t     aw;
    ngx_http_aigw_part_t  *part;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_openai_write_embeddings(r, ctx, resp, w);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_openai_write_generation(r, ctx, resp, w);
    }

    part = resp->parts.elts;

    ngx_http_aigw_jw_lit(w, "{\"id\":");

    if (resp->id.len) {
        ngx_http_aigw_jw_qstr(w, &resp->id);

    } else {
        ngx_http_aigw_jw_lit(w, "\"chatcmpl-aigw\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"object\":\"chat.completion\",\"created\":");
    ngx_http_aigw_jw_int(w, ngx_time());
    ngx_http_aigw_jw_lit(w, ",\"model\":");

    ngx_http_aigw_write_model(w, &resp->model, &ctx->model);

    ngx_http_aigw_jw_lit(w, ",\"choices\":[{\"index\":0,\"message\":"
                            "{\"role\":\"assistant\",\"content\":");

    /* text blocks are joined: escaped contents concatenate as they are */

    text = 0;

    for (i = 0; i < resp->parts.nelts; i++) {
        if (part[i].type == ngx_http_aigw_part_text) {
            ngx_http_aigw_jw_cstr(w, text ? "" : "\"");
            ngx_http_aigw_jw_str(w, &part[i].text);
            text = 1;
        }
    }

    if (text) {
        ngx_http_aigw_jw_lit(w, "\"");

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    text = 0;

    for (i = 0; i < resp->parts.nelts; i++) {
        if (part[i].type == ngx_http_aigw_part_thinking) {
            ngx_http_aigw_jw_cstr(w, text ? "" : ",\"reasoning_content\":\"");
            ngx_http_aigw_jw_str(w, &part[i].text);
            text = 1;
        }
    }

    if (text) {
        ngx_http_aigw_jw_lit(w, "\"");
    }

    n = 0;

    for (i = 0; i < resp->parts.nelts; i++) {
        if (part[i].type != ngx_http_aigw_part_tool_call) {
            continue;
        }

        ngx_http_aigw_jw_cstr(w, n++ ? "," : ",\"tool_calls\":[");
        ngx_http_aigw_jw_lit(w, "{\"id\":");
        ngx_http_aigw_jw_qstr(w, &part[i].id);
        ngx_http_aigw_jw_lit(w, ",\"type\":\"function\",\"function\":"
                                "{\"name\":");
        ngx_http_aigw_jw_qstr(w, &part[i].name);
        ngx_http_aigw_jw_lit(w, ",\"arguments\":");

        if (part[i].input_string) {
            ngx_http_aigw_jw_qstr(w, &part[i].input);

        } else {
            ngx_http_aigw_jw_init(&aw, r->pool, part[i].input.len + 16);
            ngx_http_aigw_jw_escape(&aw, part[i].input.data,
                                    part[i].input.len);

            if (ngx_http_aigw_jw_flatten(&aw, &s) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_aigw_jw_qstr(w, &s);
        }

        ngx_http_aigw_jw_lit(w, "}}");
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, "]");
    }

    /* images made, as data URLs (the OpenRouter and Vercel convention) */

    n = 0;

    for (i = 0; i < resp->parts.nelts; i++) {
        if (part[i].type == ngx_http_aigw_part_image) {
            ngx_http_aigw_jw_cstr(w, n++ ? "," : ",\"images\":[");
            ngx_http_aigw_openai_write_image(w, &part[i].media_type,
                                             &part[i].data);
        }
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, "]");
    }

    ngx_http_aigw_jw_lit(w, "},\"logprobs\":null,\"finish_reason\":");
    ngx_http_aigw_openai_write_stop(w, resp->stop);
    ngx_http_aigw_jw_lit(w, "}],\"usage\":");
    ngx_http_aigw_openai_write_usage(w, &ctx->usage);
    ngx_http_aigw_jw_lit(w, "}\n");

    return NGX_OK;
}


static void
ngx_http_aigw_openai_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err)
{
    ngx_http_aigw_jw_lit(w, "{\"error\":{\"message\":");
    ngx_http_aigw_jw_qstr(w, &err->message);
    ngx_http_aigw_jw_lit(w, ",\"type\":");

    if (err->status >= 500) {
        ngx_http_aigw_jw_lit(w, "\"server_error\"");

    } else if (err->type.len) {
        ngx_http_aigw_jw_qstr(w, &err->type);

    } else {
        ngx_http_aigw_jw_lit(w, "\"invalid_request_error\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"param\":");

    if (err->param.len) {
        ngx_http_aigw_jw_qstr(w, &err->param);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, ",\"code\":");

    if (err->code.len) {
        ngx_http_aigw_jw_qstr(w, &err->code);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, "}}");
}


static void
ngx_http_aigw_openai_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one)
{
    ngx_uint_t               i;
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_model_t  **m;
    ngx_http_aigw_route_t   *rt;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    m = models->elts;

    if (!one) {
        ngx_http_aigw_jw_lit(w, "{\"object\":\"list\",\"data\":[");
    }

    for (i = 0; i < models->nelts; i++) {
        rt = m[i]->routes.elts;

        ngx_http_aigw_jw_cstr(w, i ? ",{\"id\":\"" : "{\"id\":\"");

        if (one && m[i]->wildcard) {
            ngx_http_aigw_jw_escape(w, ctx->model.data, ctx->model.len);

        } else {
            ngx_http_aigw_jw_escape(w, m[i]->slug.data, m[i]->slug.len);
        }

        ngx_http_aigw_jw_lit(w, "\",\"object\":\"model\",\"created\":0,"
                                "\"owned_by\":\"");
        ngx_http_aigw_jw_escape(w, rt[0].provider->name.data,
                                rt[0].provider->name.len);
        ngx_http_aigw_jw_lit(w, "\"");

        if (m[i]->priced) {
            ngx_http_aigw_jw_lit(w, ",\"pricing\":{\"currency\":\"USD\","
                                    "\"per\":\"1M tokens\",\"input\":");
            ngx_http_aigw_jw_micro(w, m[i]->price_input);
            ngx_http_aigw_jw_lit(w, ",\"output\":");
            ngx_http_aigw_jw_micro(w, m[i]->price_output);

            if (m[i]->price_cached) {
                ngx_http_aigw_jw_lit(w, ",\"cached_input\":");
                ngx_http_aigw_jw_micro(w, m[i]->price_cached);
            }

            if (m[i]->price_cache_write) {
                ngx_http_aigw_jw_lit(w, ",\"cache_write\":");
                ngx_http_aigw_jw_micro(w, m[i]->price_cache_write);
            }

            ngx_http_aigw_jw_lit(w, "}");
        }

        ngx_http_aigw_jw_lit(w, "}");
    }

    if (!one) {
        ngx_http_aigw_jw_lit(w, "]}");
    }
}


static void
ngx_http_aigw_openai_write_count(ngx_http_aigw_jw_t *w, int64_t tokens)
{
    ngx_http_aigw_jw_lit(w, "{\"input_tokens\":");
    ngx_http_aigw_jw_int(w, tokens);
    ngx_http_aigw_jw_lit(w, ",\"estimated\":true}");
}


/* translation: an OpenAI request into the canonical form */

static ngx_int_t
ngx_http_aigw_openai_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_openai_parse_embeddings(r, ctx, j, chat);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_openai_parse_generation(r, ctx, j, chat);
    }

    return ngx_http_aigw_parse_chat(r, ctx, j, chat,
                                    ngx_http_aigw_openai_parse_field,
                                    ngx_http_aigw_openai_parse_message,
                                    "each of \"messages\" must be an "
                                    "object");
}


#define ngx_http_aigw_is(name)                                               \
    (key.len == sizeof(name) - 1                                             \
     && ngx_strncmp(key.data, name, sizeof(name) - 1) == 0)


/* a top-level field "k" of the request, other than null */

static ngx_int_t
ngx_http_aigw_openai_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_str_t   key;
    ngx_uint_t  v, e;

    v = k + 1;
    ngx_http_aigw_json_str_raw(j, k, &key);

    if (ngx_http_aigw_is("model") || ngx_http_aigw_is("stream")
        || ngx_http_aigw_is("stream_options")
        || ngx_http_aigw_is("providerOptions"))
    {
        return NGX_OK;
    }

    if (ngx_http_aigw_is("max_tokens")
        || ngx_http_aigw_is("max_completion_tokens"))
    {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1) {
            return ngx_http_aigw_reject(r, ctx, "\"%V\" must be a "
                                        "positive integer", &key);
        }

        chat->max_tokens = n;
        return NGX_OK;
    }

    if (ngx_http_aigw_is("temperature")) {
        ngx_http_aigw_json_raw(j, v, &chat->temperature);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("top_p")) {
        ngx_http_aigw_json_raw(j, v, &chat->top_p);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("user")) {
        ngx_http_aigw_json_str_raw(j, v, &chat->user);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("reasoning_effort")) {
        if (j->toks[v].type != ngx_http_aigw_json_string) {
            return ngx_http_aigw_reject(r, ctx, "\"%V\" must be a string",
                                        &key);
        }

        ngx_http_aigw_json_str_raw(j, v, &chat->effort);

        chat->thinking = ngx_http_aigw_json_str_eq(j, v, "none")
                         ? ngx_http_aigw_think_disabled
                         : ngx_http_aigw_think_enabled;
        return NGX_OK;
    }

    if (ngx_http_aigw_is("parallel_tool_calls")) {
        chat->parallel_tools =
                      (j->toks[v].type == ngx_http_aigw_json_true);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("stop")) {
        return ngx_http_aigw_openai_parse_stop(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("tool_choice")) {
        return ngx_http_aigw_openai_parse_tool_choice(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("tools")) {
        return ngx_http_aigw_openai_parse_tools(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("response_format")) {
        return ngx_http_aigw_openai_parse_response_format(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("modalities")
        && j->toks[v].type == ngx_http_aigw_json_array)
    {
        /* ["text"], ["text","image"], ["image"]: images are asked for */

        for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
            if (ngx_http_aigw_json_str_eq(j, e, "image")) {
                chat->image_output = 1;

            } else if (!ngx_http_aigw_json_str_eq(j, e, "text")) {
                return ngx_http_aigw_reject(r, ctx, "\"modalities\" other "
                                            "than \"text\" and \"image\" "
                                            "cannot be translated for this "
                                            "provider", NULL);
            }
        }

        return NGX_OK;
    }

    return ngx_http_aigw_openai_parse_other(r, ctx, j, k);
}


/*
 * The fields that cannot be translated unless they ask for the default,
 * and those dropped
 */

static ngx_int_t
ngx_http_aigw_openai_parse_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k)
{
    int64_t     n;
    ngx_str_t   key;
    ngx_uint_t  v;

    v = k + 1;
    ngx_http_aigw_json_str_raw(j, k, &key);

    if (ngx_http_aigw_is("n")) {
        if (ngx_http_aigw_json_int(j, v, &n) == NGX_OK && n == 1) {
            return NGX_OK;
        }

        return ngx_http_aigw_reject(r, ctx, "\"n\" other than 1 cannot be "
                                    "translated for this provider", NULL);
    }

    if (ngx_http_aigw_is("logprobs") || ngx_http_aigw_is("top_logprobs")
        || ngx_http_aigw_is("audio") || ngx_http_aigw_is("modalities")
        || ngx_http_aigw_is("functions")
        || ngx_http_aigw_is("function_call")
        || ngx_http_aigw_is("prediction")
        || ngx_http_aigw_is("web_search_options"))
    {
        if (j->toks[v].type == ngx_http_aigw_json_false) {
            return NGX_OK;
        }

        return ngx_http_aigw_reject(r, ctx, "\"%V\" cannot be translated "
                                    "for this provider", &key);
    }

    if (ngx_http_aigw_is("frequency_penalty")
        || ngx_http_aigw_is("presence_penalty"))
    {
        ngx_http_aigw_json_raw(j, v, &key);

        if (key.len == 1 && key.data[0] == '0') {
            return NGX_OK;
        }

        ngx_http_aigw_json_str_raw(j, k, &key);

        return ngx_http_aigw_reject(r, ctx, "\"%V\" cannot be translated "
                                    "for this provider", &key);
    }

    if (ngx_http_aigw_is("messages")) {
        return NGX_OK;
    }

    /* store, metadata, seed, service_tier, ...: no effect on output */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: field \"%V\" dropped in translation", &key);

    return NGX_OK;
}

#undef ngx_http_aigw_is


/*
 * response_format: text is the default; json_object and json_schema ask
 * for JSON output, the schema and its name and strict flag as they came
 * (providers that cannot write it are left out of the plan: handler.c)
 */

static ngx_int_t
ngx_http_aigw_openai_parse_response_format(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t  m, s;

    m = ngx_http_aigw_json_get(j, v, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "text")) {
        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, m, "json_object")) {
        chat->json_output = ngx_http_aigw_json_output_object;
        return NGX_OK;
    }

    if (!ngx_http_aigw_json_str_eq(j, m, "json_schema")) {
        return ngx_http_aigw_reject(r, ctx, "unsupported \"response_format\"",
                                    NULL);
    }

    s = ngx_http_aigw_json_get(j, v, "json_schema");

    if (!ngx_http_aigw_json_is(j, s, ngx_http_aigw_json_object)) {
        return ngx_http_aigw_reject(r, ctx, "\"response_format.json_schema\" "
                                    "must be an object", NULL);
    }

    chat->json_output = ngx_http_aigw_json_output_schema;

    m = ngx_http_aigw_json_get(j, s, "schema");

    if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
        ngx_http_aigw_json_raw(j, m, &chat->json_schema);
    }

    (void) ngx_http_aigw_json_get_str(j, s, "name", &chat->json_schema_name);
    ngx_http_aigw_json_get_raw(j, s, "strict", &chat->json_schema_strict);

    return NGX_OK;
}


/*
 * /v1/embeddings: "input" (checked by validate: a string or an array) as
 * texts; token arrays cannot be translated, nor base64 output
 */

static ngx_int_t
ngx_http_aigw_openai_parse_embeddings(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_str_t  *s;
    ngx_uint_t  v, e;

    chat->max_tokens = -1;
    chat->parallel_tools = -1;
    chat->dimensions = -1;

    v = ngx_http_aigw_json_get(j, 0, "input");

    if (ngx_array_init(&chat->inputs, r->pool,
                       ngx_max(j->toks[v].count, 1), sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (j->toks[v].type == ngx_http_aigw_json_string) {
        s = ngx_array_push(&chat->inputs);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, v, s);

    } else {
        chat->input_array = 1;

        if (j->toks[v].count == 0) {
            return ngx_http_aigw_reject(r, ctx, "\"input\" must not be "
                                        "empty", NULL);
        }

        for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
            if (j->toks[e].type != ngx_http_aigw_json_string) {
                return ngx_http_aigw_reject(r, ctx, "only text \"input\" "
                                            "can be translated for this "
                                            "provider", NULL);
            }

            s = ngx_array_push(&chat->inputs);
            if (s == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(j, e, s);
        }
    }

    v = ngx_http_aigw_json_get(j, 0, "dimensions");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type != ngx_http_aigw_json_null)
    {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1) {
            return ngx_http_aigw_reject(r, ctx, "\"dimensions\" must be a "
                                        "positive integer", NULL);
        }

        chat->dimensions = n;
    }

    v = ngx_http_aigw_json_get(j, 0, "encoding_format");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        && !ngx_http_aigw_json_str_eq(j, v, "float"))
    {
        return ngx_http_aigw_reject(r, ctx, "\"encoding_format\" other than "
                                    "float cannot be translated for this "
                                    "provider", NULL);
    }

    (void) ngx_http_aigw_json_get_str(j, 0, "user", &chat->user);

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_openai_parse_stop(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    return ngx_http_aigw_parse_stop(r, ctx, j, v, chat, 1, "\"stop\"");
}


static ngx_int_t
ngx_http_aigw_openai_parse_tool_choice(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t  f, m;

    if (ngx_http_aigw_json_str_eq(j, v, "auto")) {
        chat->tool_choice = ngx_http_aigw_choice_auto;

    } else if (ngx_http_aigw_json_str_eq(j, v, "none")) {
        chat->tool_choice = ngx_http_aigw_choice_none;

    } else if (ngx_http_aigw_json_str_eq(j, v, "required")) {
        chat->tool_choice = ngx_http_aigw_choice_any;

    } else {
        f = ngx_http_aigw_json_get(j, v, "function");
        m = ngx_http_aigw_json_get(j, f, "name");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "unsupported "
                                        "\"tool_choice\"", NULL);
        }

        chat->tool_choice = ngx_http_aigw_choice_tool;
        ngx_http_aigw_json_str_raw(j, m, &chat->tool_choice_name);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_openai_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             e, f, m;
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
                                        "\"function\" can be "
                                        "translated", NULL);
        }

        f = ngx_http_aigw_json_get(j, e, "function");
        m = ngx_http_aigw_json_get(j, f, "name");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a tool has no "
                                        "\"function.name\"", NULL);
        }

        tool = ngx_http_aigw_tool_add(&chat->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, m, &tool->name);

        (void) ngx_http_aigw_json_get_str(j, f, "description",
                                            &tool->description);

        m = ngx_http_aigw_json_get(j, f, "parameters");
        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
            ngx_http_aigw_json_raw(j, m, &tool->schema);
        }

        ngx_http_aigw_json_get_raw(j, f, "strict", &tool->strict);
    }

    return NGX_OK;
}


/* one message "e" of the request: role, content, tool calls */

static ngx_int_t
ngx_http_aigw_openai_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg)
{
    ngx_int_t              rc;
    ngx_uint_t             k, m, f, a;
    ngx_http_aigw_part_t  *part;

    m = ngx_http_aigw_json_get(j, e, "role");

    if (ngx_http_aigw_json_str_eq(j, m, "system")
        || ngx_http_aigw_json_str_eq(j, m, "developer"))
    {
        msg->role = ngx_http_aigw_role_system;

    } else if (ngx_http_aigw_json_str_eq(j, m, "user")) {
        msg->role = ngx_http_aigw_role_user;

    } else if (ngx_http_aigw_json_str_eq(j, m, "assistant")) {
        msg->role = ngx_http_aigw_role_assistant;

    } else if (ngx_http_aigw_json_str_eq(j, m, "tool")) {
        msg->role = ngx_http_aigw_role_tool;

        m = ngx_http_aigw_json_get(j, e, "tool_call_id");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a \"tool\" message needs "
                                        "\"tool_call_id\"", NULL);
        }

        ngx_http_aigw_json_str_raw(j, m, &msg->tool_call_id);

    } else {
        return ngx_http_aigw_reject(r, ctx, "a message has no valid "
                                    "\"role\"", NULL);
    }

    m = ngx_http_aigw_json_get(j, e, "content");

    rc = ngx_http_aigw_openai_parse_content(r, ctx, j, m, &msg->parts);
    if (rc != NGX_OK) {
        return rc;
    }

    if (msg->role != ngx_http_aigw_role_assistant) {
        return NGX_OK;
    }

    m = ngx_http_aigw_json_get(j, e, "tool_calls");

    if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_array)) {
        return NGX_OK;
    }

    for (k = m + 1; k < j->toks[m].next; k = j->toks[k].next) {
        part = ngx_http_aigw_part_add(&msg->parts,
                                      ngx_http_aigw_part_tool_call);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->input_string = 1;

        (void) ngx_http_aigw_json_get_str(j, k, "id", &part->id);

        f = ngx_http_aigw_json_get(j, k, "function");

        (void) ngx_http_aigw_json_get_str(j, f, "name", &part->name);

        a = ngx_http_aigw_json_get(j, f, "arguments");
        if (ngx_http_aigw_json_is(j, a, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, a, &part->input);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_openai_parse_content(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts)
{
    u_char                *c;
    ngx_int_t              rc;
    ngx_str_t              url;
    ngx_uint_t             e, m, f;
    ngx_http_aigw_part_t  *part;

    rc = ngx_http_aigw_parse_text(j, v, parts);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (j->toks[v].type != ngx_http_aigw_json_array) {
        return ngx_http_aigw_reject(r, ctx, "message \"content\" must be a "
                                    "string or an array", NULL);
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        part = ngx_http_aigw_part_add(parts, 0);
        if (part == NULL) {
            return NGX_ERROR;
        }

        m = ngx_http_aigw_json_get(j, e, "type");

        if (ngx_http_aigw_json_str_eq(j, m, "text")) {
            part->type = ngx_http_aigw_part_text;

            m = ngx_http_aigw_json_get(j, e, "text");
            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                return ngx_http_aigw_reject(r, ctx, "a text part has no "
                                            "\"text\"", NULL);
            }

            ngx_http_aigw_json_str_raw(j, m, &part->text);
            continue;
        }

        if (ngx_http_aigw_json_str_eq(j, m, "image_url")
            || ngx_http_aigw_json_str_eq(j, m, "file"))
        {
            part->type = ngx_http_aigw_json_str_eq(j, m, "file")
                         ? ngx_http_aigw_part_document
                         : ngx_http_aigw_part_image;

            f = ngx_http_aigw_json_get(j, e, part->type
                                       == ngx_http_aigw_part_image
                                       ? "image_url" : "file");
            m = ngx_http_aigw_json_get(j, f, part->type
                                       == ngx_http_aigw_part_image
                                       ? "url" : "file_data");

            if (ngx_http_aigw_json_is(j, f, ngx_http_aigw_json_string)) {
                m = f;
            }

            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                return ngx_http_aigw_reject(r, ctx, "only images and files "
                                            "given inline or by URL can be "
                                            "translated", NULL);
            }

            ngx_http_aigw_json_str_raw(j, m, &url);

            /* data:<media type>;base64,<data> */

            if (url.len > 5 && ngx_strncmp(url.data, "data:", 5) == 0) {
                c = ngx_strnstr(url.data, ";base64,", url.len);

                if (c == NULL) {
                    return ngx_http_aigw_reject(r, ctx, "a data URL must be "
                                                "base64", NULL);
                }

                part->media_type.data = url.data + 5;
                part->media_type.len = c - url.data - 5;
                part->data.data = c + 8;
                part->data.len = url.data + url.len - c - 8;

            } else {
                part->url = url;
            }

            continue;
        }

        return ngx_http_aigw_reject(r, ctx, "this content part type cannot be "
                                    "translated for this provider", NULL);
    }

    return NGX_OK;
}


/* translation: the canonical form into an OpenAI request */

static ngx_int_t
ngx_http_aigw_openai_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_openai_write_inputs(r, ctx, t, w);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_openai_write_prompt(r, ctx, t, w);
    }

    ngx_http_aigw_jw_lit(w, "{\"model\":\"");
    ngx_http_aigw_jw_escape(w, t->id.data, t->id.len);
    ngx_http_aigw_jw_lit(w, "\",\"messages\":[");

    ngx_http_aigw_openai_write_messages(w, ctx->chat);

    ngx_http_aigw_jw_lit(w, "]");

    ngx_http_aigw_openai_write_tools(w, ctx->chat);
    ngx_http_aigw_openai_write_params(w, ctx, t->model->reasoning);

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_aigw_openai_write_messages(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t            i, n;
    ngx_http_aigw_msg_t  *msg;

    n = 0;

    /* system parts of formats that keep them apart come first */

    if (chat->system.nelts) {
        ngx_http_aigw_jw_lit(w, "{\"role\":\"system\",\"content\":");
        ngx_http_aigw_openai_write_parts(w, &chat->system,
                                         ngx_http_aigw_part_text);
        ngx_http_aigw_jw_lit(w, "}");
        n++;
    }

    msg = chat->messages.elts;

    for (i = 0; i < chat->messages.nelts; i++) {

        switch (msg[i].role) {

        case ngx_http_aigw_role_system:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"role\":\"system\",\"content\":"
                                        : "{\"role\":\"system\",\"content\":");
            ngx_http_aigw_openai_write_parts(w, &msg[i].parts,
                                             ngx_http_aigw_part_text);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_role_tool:
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"role\":\"tool\","
                                          "\"tool_call_id\":"
                                        : "{\"role\":\"tool\","
                                          "\"tool_call_id\":");
            ngx_http_aigw_jw_qstr(w, &msg[i].tool_call_id);
            ngx_http_aigw_jw_lit(w, ",\"content\":");
            ngx_http_aigw_openai_write_parts(w, &msg[i].parts,
                                             ngx_http_aigw_part_text);
            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_role_user:
            ngx_http_aigw_openai_write_user(w, &msg[i], &n);
            break;

        default: /* assistant */
            ngx_http_aigw_openai_write_assistant(w, &msg[i], &n);
            break;
        }
    }
}


/*
 * A user message: its tool results go first, each as a "tool" message
 * ("n" counts the messages written)
 */

static void
ngx_http_aigw_openai_write_user(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_msg_t *msg, ngx_uint_t *n)
{
    ngx_uint_t             k, other;
    ngx_http_aigw_part_t  *part;

    part = msg->parts.elts;

    other = 0;

    for (k = 0; k < msg->parts.nelts; k++) {
        if (part[k].type != ngx_http_aigw_part_tool_result) {
            other = 1;
            continue;
        }

        ngx_http_aigw_jw_cstr(w, (*n)++ ? ",{\"role\":\"tool\","
                                          "\"tool_call_id\":"
                                        : "{\"role\":\"tool\","
                                          "\"tool_call_id\":");
        ngx_http_aigw_jw_qstr(w, &part[k].id);
        ngx_http_aigw_jw_lit(w, ",\"content\":");

        /* a tool message needs text, if only an empty one */

        if (ngx_http_aigw_openai_count(part[k].content,
                                       ngx_http_aigw_part_text))
        {
            ngx_http_aigw_openai_write_parts(w, part[k].content,
                                         ngx_http_aigw_part_text);

        } else {
            ngx_http_aigw_jw_lit(w, "\"\"");
        }

        ngx_http_aigw_jw_lit(w, "}");
    }

    /*
     * images of tool results follow as user messages, after all
     * the tool messages: OpenAI wants those right after the
     * assistant message with the tool calls
     */

    for (k = 0; k < msg->parts.nelts; k++) {
        if (part[k].type == ngx_http_aigw_part_tool_result
            && part[k].content)
        {
            ngx_http_aigw_openai_write_parts(w, part[k].content,
                                         ngx_http_aigw_part_image);
        }
    }

    if (!other) {
        return;
    }

    ngx_http_aigw_jw_cstr(w, (*n)++ ? ",{\"role\":\"user\",\"content\":"
                                    : "{\"role\":\"user\",\"content\":");
    ngx_http_aigw_openai_write_parts(w, &msg->parts, 0);
    ngx_http_aigw_jw_lit(w, "}");
}


static void
ngx_http_aigw_openai_write_assistant(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_msg_t *msg, ngx_uint_t *n)
{
    ngx_uint_t             k, other;
    ngx_http_aigw_part_t  *part;

    part = msg->parts.elts;

    ngx_http_aigw_jw_cstr(w, (*n)++ ? ",{\"role\":\"assistant\","
                                      "\"content\":"
                                    : "{\"role\":\"assistant\","
                                      "\"content\":");

    /* content may be null only beside tool calls */

    if (ngx_http_aigw_openai_count(&msg->parts,
                                   ngx_http_aigw_part_text)
        || ngx_http_aigw_openai_count(&msg->parts,
                                      ngx_http_aigw_part_tool_call))
    {
        ngx_http_aigw_openai_write_parts(w, &msg->parts,
                                         ngx_http_aigw_part_text);

    } else {
        ngx_http_aigw_jw_lit(w, "\"\"");
    }

    other = 0;

    for (k = 0; k < msg->parts.nelts; k++) {
        if (part[k].type != ngx_http_aigw_part_tool_call) {
            continue;
        }

        ngx_http_aigw_jw_cstr(w, other++ ? ",{\"id\":"
                                        : ",\"tool_calls\":[{\"id\":");
        ngx_http_aigw_jw_qstr(w, &part[k].id);
        ngx_http_aigw_jw_lit(w, ",\"type\":\"function\",\"function\":"
                                "{\"name\":");
        ngx_http_aigw_jw_qstr(w, &part[k].name);
        ngx_http_aigw_jw_lit(w, ",\"arguments\":");

        if (part[k].input_string) {
            ngx_http_aigw_jw_qstr(w, &part[k].input);

        } else {
            ngx_http_aigw_jw_lit(w, "\"");
            ngx_http_aigw_jw_escape(w, part[k].input.data,
                                    part[k].input.len);
            ngx_http_aigw_jw_lit(w, "\"");
        }

        ngx_http_aigw_jw_lit(w, "}}");
    }

    if (other) {
        ngx_http_aigw_jw_lit(w, "]");
    }

    ngx_http_aigw_jw_lit(w, "}");
}


/* tools, parallel_tool_calls, tool_choice */

static void
ngx_http_aigw_openai_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i;
    ngx_http_aigw_tool_t  *tool;

    if (chat->tools.nelts) {
        tool = chat->tools.elts;

        ngx_http_aigw_jw_lit(w, ",\"tools\":[");

        for (i = 0; i < chat->tools.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? ",{\"type\":\"function\",\"function\":"
                                        "{\"name\":"
                                      : "{\"type\":\"function\",\"function\":"
                                        "{\"name\":");
            ngx_http_aigw_jw_qstr(w, &tool[i].name);

            if (tool[i].description.len) {
                ngx_http_aigw_jw_lit(w, ",\"description\":");
                ngx_http_aigw_jw_qstr(w, &tool[i].description);
            }

            ngx_http_aigw_jw_lit(w, ",\"parameters\":");

            if (tool[i].schema.len) {
                ngx_http_aigw_jw_str(w, &tool[i].schema);

            } else {
                ngx_http_aigw_jw_lit(w, "{\"type\":\"object\"}");
            }

            ngx_http_aigw_jw_lit(w, "}}");
        }

        ngx_http_aigw_jw_lit(w, "]");

        if (chat->parallel_tools == 0) {
            ngx_http_aigw_jw_lit(w, ",\"parallel_tool_calls\":false");
        }
    }

    switch (chat->tool_choice) {

    case ngx_http_aigw_choice_auto:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":\"auto\"");
        break;

    case ngx_http_aigw_choice_none:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":\"none\"");
        break;

    case ngx_http_aigw_choice_any:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":\"required\"");
        break;

    case ngx_http_aigw_choice_tool:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":{\"type\":\"function\","
                                "\"function\":{\"name\":");
        ngx_http_aigw_jw_qstr(w, &chat->tool_choice_name);
        ngx_http_aigw_jw_lit(w, "}}");
        break;

    default:
        break;
    }
}


/* the sampling parameters, user, reasoning_effort, stream */

static void
ngx_http_aigw_openai_write_params(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning)
{
    ngx_str_t             *s;
    ngx_uint_t             i;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;

    if (chat->max_tokens > 0) {
        ngx_http_aigw_jw_cstr(w, reasoning ? ",\"max_completion_tokens\":"
                                          : ",\"max_tokens\":");
        ngx_http_aigw_jw_int(w, chat->max_tokens);
    }

    if (chat->temperature.len) {
        ngx_http_aigw_jw_lit(w, ",\"temperature\":");
        ngx_http_aigw_jw_str(w, &chat->temperature);
    }

    if (chat->top_p.len) {
        ngx_http_aigw_jw_lit(w, ",\"top_p\":");
        ngx_http_aigw_jw_str(w, &chat->top_p);
    }

    /* not OpenAI's, but many compatible servers take it; the rest say so */

    if (chat->top_k.len) {
        ngx_http_aigw_jw_lit(w, ",\"top_k\":");
        ngx_http_aigw_jw_str(w, &chat->top_k);
    }

    if (chat->stop.nelts) {
        s = chat->stop.elts;

        ngx_http_aigw_jw_lit(w, ",\"stop\":[");

        for (i = 0; i < chat->stop.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? "," : "");
            ngx_http_aigw_jw_qstr(w, &s[i]);
        }

        ngx_http_aigw_jw_lit(w, "]");
    }

    /*
     * OpenAI rejects a "user" over 64 characters; an end-user id that long
     * (Claude Code's metadata.user_id is a JSON text) is not sent
     */

    if (chat->user.len && chat->user.len <= 64) {
        ngx_http_aigw_jw_lit(w, ",\"user\":");
        ngx_http_aigw_jw_qstr(w, &chat->user);
    }

    /* reasoning only for models configured as reasoning models */

    if (reasoning && chat->thinking == ngx_http_aigw_think_enabled) {
        ngx_http_aigw_jw_lit(w, ",\"reasoning_effort\":");

        if (chat->effort.len) {
            ngx_http_aigw_jw_qstr(w, &chat->effort);

        } else if (chat->thinking_budget > 0
                   && chat->thinking_budget < 4096)
        {
            ngx_http_aigw_jw_lit(w, "\"low\"");

        } else if (chat->thinking_budget >= 16384) {
            ngx_http_aigw_jw_lit(w, "\"high\"");

        } else {
            ngx_http_aigw_jw_lit(w, "\"medium\"");
        }

    } else if (reasoning && chat->thinking == ngx_http_aigw_think_adaptive
               && chat->effort.len)
    {
        ngx_http_aigw_jw_lit(w, ",\"reasoning_effort\":");
        ngx_http_aigw_jw_qstr(w, &chat->effort);
    }

    /* JSON output, from a surface that is not Chat Completions */

    if (chat->json_output == ngx_http_aigw_json_output_object) {
        ngx_http_aigw_jw_lit(w, ",\"response_format\":"
                                "{\"type\":\"json_object\"}");

    } else if (chat->json_output == ngx_http_aigw_json_output_schema) {
        ngx_http_aigw_jw_lit(w, ",\"response_format\":{\"type\":"
                                "\"json_schema\",\"json_schema\":{\"name\":");

        if (chat->json_schema_name.len) {
            ngx_http_aigw_jw_qstr(w, &chat->json_schema_name);

        } else {
            ngx_http_aigw_jw_lit(w, "\"output\"");
        }

        if (chat->json_schema.len) {
            ngx_http_aigw_jw_lit(w, ",\"schema\":");
            ngx_http_aigw_jw_str(w, &chat->json_schema);
        }

        if (chat->json_schema_strict.len) {
            ngx_http_aigw_jw_lit(w, ",\"strict\":");
            ngx_http_aigw_jw_str(w, &chat->json_schema_strict);
        }

        ngx_http_aigw_jw_lit(w, "}}");
    }

    if (ctx->stream) {
        ngx_http_aigw_jw_lit(w, ",\"stream\":true,\"stream_options\":"
                                "{\"include_usage\":true}");
    }
}


/*
 * Message content: a string when it is one text part, else an array of
 * parts of the given type (0: text and images).
 */

static void
ngx_http_aigw_openai_write_parts(ngx_http_aigw_jw_t *w, ngx_array_t *parts,
    ngx_uint_t type)
{
    ngx_uint_t             i, n, text, media;
    ngx_http_aigw_part_t  *part;

    part = parts->elts;
    text = 0;
    media = 0;

    for (i = 0; i < parts->nelts; i++) {
        if (part[i].type == ngx_http_aigw_part_text) {
            text++;

        } else if (part[i].type == ngx_http_aigw_part_image
                   || part[i].type == ngx_http_aigw_part_document)
        {
            media++;
        }
    }

    if (type == ngx_http_aigw_part_image) {

        /* only the images, as a user message after tool results */

        if (media == 0) {
            return;
        }

        ngx_http_aigw_jw_lit(w, ",{\"role\":\"user\",\"content\":[");

        for (i = 0, n = 0; i < parts->nelts; i++) {
            if (part[i].type == ngx_http_aigw_part_image
                || part[i].type == ngx_http_aigw_part_document)
            {
                ngx_http_aigw_jw_cstr(w, n++ ? "," : "");
                ngx_http_aigw_openai_write_media(w, &part[i]);
            }
        }

        ngx_http_aigw_jw_lit(w, "]}");
        return;
    }

    if (type == ngx_http_aigw_part_text) {
        media = 0;
    }

    if (text == 0 && media == 0) {
        ngx_http_aigw_jw_cstr(w, type == ngx_http_aigw_part_text && parts->nelts
                                ? "null" : "\"\"");
        return;
    }

    if (text == 1 && media == 0) {
        for (i = 0; i < parts->nelts; i++) {
            if (part[i].type == ngx_http_aigw_part_text) {
                ngx_http_aigw_jw_qstr(w, &part[i].text);
            }
        }

        return;
    }

    ngx_http_aigw_jw_lit(w, "[");

    for (i = 0, n = 0; i < parts->nelts; i++) {

        if (part[i].type == ngx_http_aigw_part_text) {
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"type\":\"text\",\"text\":"
                                        : "{\"type\":\"text\",\"text\":");
            ngx_http_aigw_jw_qstr(w, &part[i].text);
            ngx_http_aigw_jw_lit(w, "}");

        } else if (media && (part[i].type == ngx_http_aigw_part_image
                             || part[i].type == ngx_http_aigw_part_document))
        {
            ngx_http_aigw_jw_cstr(w, n++ ? "," : "");
            ngx_http_aigw_openai_write_media(w, &part[i]);
        }
    }

    ngx_http_aigw_jw_lit(w, "]");
}


/* how many parts of a type (non-empty text for text) */

static ngx_uint_t
ngx_http_aigw_openai_count(ngx_array_t *parts, ngx_uint_t type)
{
    ngx_uint_t             i, n;
    ngx_http_aigw_part_t  *part;

    if (parts == NULL) {
        return 0;
    }

    part = parts->elts;
    n = 0;

    for (i = 0; i < parts->nelts; i++) {
        if (part[i].type == type
            && (type != ngx_http_aigw_part_text || part[i].text.len))
        {
            n++;
        }
    }

    return n;
}


static void
ngx_http_aigw_openai_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part)
{
    if (part->type == ngx_http_aigw_part_document) {
        ngx_http_aigw_jw_lit(w, "{\"type\":\"file\",\"file\":{\"filename\":"
                                "\"document.pdf\",\"file_data\":\"data:");
        ngx_http_aigw_jw_str(w, &part->media_type);
        ngx_http_aigw_jw_lit(w, ";base64,");
        ngx_http_aigw_jw_str(w, &part->data);
        ngx_http_aigw_jw_lit(w, "\"}}");
        return;
    }

    ngx_http_aigw_jw_lit(w, "{\"type\":\"image_url\",\"image_url\":{\"url\":");

    if (part->url.len) {
        ngx_http_aigw_jw_qstr(w, &part->url);

    } else {
        ngx_http_aigw_jw_lit(w, "\"data:");
        ngx_http_aigw_jw_str(w, &part->media_type);
        ngx_http_aigw_jw_lit(w, ";base64,");
        ngx_http_aigw_jw_str(w, &part->data);
        ngx_http_aigw_jw_lit(w, "\"");
    }

    ngx_http_aigw_jw_lit(w, "}}");
}

/* x-ratelimit-limit-requests, ... reset as "750ms" or "20s" */

static ngx_int_t
ngx_http_aigw_openai_ratelimit_headers(ngx_http_request_t *r,
    const char *what, int64_t limit, int64_t remaining, int64_t reset,
    int64_t now)
{
    u_char      *p;
    ngx_str_t    v[3];
    ngx_uint_t   i;

    static const char  *names[] = { "limit", "remaining", "reset" };

    p = ngx_pnalloc(r->pool, 3 * (NGX_INT64_LEN + 2) + 3 * 48);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v[0].data = p;
    p = ngx_sprintf(p, "%L", limit);
    v[0].len = p - v[0].data;

    v[1].data = p;
    p = ngx_sprintf(p, "%L", remaining);
    v[1].len = p - v[1].data;

    v[2].data = p;
    p = (reset < 1000) ? ngx_sprintf(p, "%Lms", reset)
                       : ngx_sprintf(p, "%Ls", (reset + 999) / 1000);
    v[2].len = p - v[2].data;

    for (i = 0; i < 3; i++) {
        ngx_sprintf(p, "x-ratelimit-%s-%s%Z", names[i], what);

        if (ngx_http_aigw_add_header(r, (const char *) p, &v[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        p += 48;
    }

    return NGX_OK;
}


/*
 * An images response: the images made (counted for per-image prices, all
 * of them, whatever their form), the usage gpt-image models report
 * (input_tokens, output_tokens), and for a translation the base64 images
 */

static ngx_int_t
ngx_http_aigw_openai_parse_images(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_response_t *resp)
{
    int64_t     n;
    ngx_str_t  *s;
    ngx_uint_t  u, d, e;

    d = ngx_http_aigw_json_get(j, 0, "data");

    if (!ngx_http_aigw_json_is(j, d, ngx_http_aigw_json_array)) {
        return NGX_ERROR;
    }

    ctx->images = j->toks[d].count;

    u = ngx_http_aigw_json_get(j, 0, "usage");

    if (ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {
        ctx->usage.seen = 1;

        if (ngx_http_aigw_json_get_count(j, u, "input_tokens",
                                         NGX_HTTP_AIGW_TOKENS_MAX, &n)
            == NGX_OK)
        {
            ctx->usage.input = n;
        }

        if (ngx_http_aigw_json_get_count(j, u, "output_tokens",
                                         NGX_HTTP_AIGW_TOKENS_MAX, &n)
            == NGX_OK)
        {
            ctx->usage.output = n;
        }
    }

    if (resp == NULL) {
        return NGX_OK;
    }

    resp->images = ngx_array_create(r->pool, ngx_max(ctx->images, 1),
                                    sizeof(ngx_str_t));
    if (resp->images == NULL) {
        return NGX_ERROR;
    }

    for (e = d + 1; e < j->toks[d].next; e = j->toks[e].next) {
        s = ngx_array_push(resp->images);
        if (s == NULL) {
            return NGX_ERROR;
        }

        /* an image given by URL only cannot be passed on as base64 */

        if (!ngx_http_aigw_json_get_str(j, e, "b64_json", s)) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "aigw: provider \"%V\" sent an image without "
                          "\"b64_json\"", &ctx->target->provider->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the embeddings of a translated request: data[].embedding, in order */

static ngx_int_t
ngx_http_aigw_openai_parse_vectors(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_http_aigw_response_t *resp)
{
    ngx_str_t   *s;
    ngx_uint_t   d, e, v;

    d = ngx_http_aigw_json_get(j, 0, "data");

    if (!ngx_http_aigw_json_is(j, d, ngx_http_aigw_json_array)) {
        return NGX_ERROR;
    }

    resp->embeddings = ngx_array_create(r->pool, ngx_max(j->toks[d].count, 1),
                                        sizeof(ngx_str_t));
    if (resp->embeddings == NULL) {
        return NGX_ERROR;
    }

    for (e = d + 1; e < j->toks[d].next; e = j->toks[e].next) {
        v = ngx_http_aigw_json_get(j, e, "embedding");

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
            return NGX_ERROR;
        }

        s = ngx_array_push(resp->embeddings);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_raw(j, v, s);
    }

    return NGX_OK;
}


/* translation: the canonical texts into an embeddings request */

static ngx_int_t
ngx_http_aigw_openai_write_inputs(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t             *in;
    ngx_uint_t             i;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;
    in = chat->inputs.elts;

    ngx_http_aigw_jw_lit(w, "{\"model\":\"");
    ngx_http_aigw_jw_escape(w, t->id.data, t->id.len);
    ngx_http_aigw_jw_lit(w, "\",\"input\":[");

    for (i = 0; i < chat->inputs.nelts; i++) {
        if (i) {
            ngx_http_aigw_jw_lit(w, ",");
        }

        ngx_http_aigw_jw_qstr(w, &in[i]);
    }

    ngx_http_aigw_jw_lit(w, "],\"encoding_format\":\"float\"");

    if (chat->dimensions > 0) {
        ngx_http_aigw_jw_lit(w, ",\"dimensions\":");
        ngx_http_aigw_jw_int(w, chat->dimensions);
    }

    if (chat->user.len) {
        ngx_http_aigw_jw_lit(w, ",\"user\":");
        ngx_http_aigw_jw_qstr(w, &chat->user);
    }

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/*
 * translation: an image generation; base64 images are asked for, except
 * of the gpt-image models, which make nothing else and refuse the field
 */

static ngx_int_t
ngx_http_aigw_openai_write_prompt(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;

    ngx_http_aigw_jw_lit(w, "{\"model\":\"");
    ngx_http_aigw_jw_escape(w, t->id.data, t->id.len);
    ngx_http_aigw_jw_lit(w, "\",\"prompt\":");
    ngx_http_aigw_jw_qstr(w, &chat->prompt);

    if (chat->n > 0) {
        ngx_http_aigw_jw_lit(w, ",\"n\":");
        ngx_http_aigw_jw_int(w, chat->n);
    }

    if (chat->size.len) {
        ngx_http_aigw_jw_lit(w, ",\"size\":");
        ngx_http_aigw_jw_qstr(w, &chat->size);
    }

    if (!(t->id.len >= 10 && ngx_strncmp(t->id.data, "gpt-image-", 10) == 0)
        && !(t->id.len >= 14
             && ngx_strncmp(t->id.data, "chatgpt-image-", 14) == 0))
    {
        ngx_http_aigw_jw_lit(w, ",\"response_format\":\"b64_json\"");
    }

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/*
 * translation: an image generation into the canonical form (it does not
 * stream: validate() refuses "stream"); "url" images come as data URLs
 */

static ngx_int_t
ngx_http_aigw_openai_parse_generation(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_uint_t  v;

    chat->n = -1;
    chat->max_tokens = -1;
    chat->parallel_tools = -1;

    v = ngx_http_aigw_json_get(j, 0, "prompt");
    ngx_http_aigw_json_str_raw(j, v, &chat->prompt);

    v = ngx_http_aigw_json_get(j, 0, "n");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type != ngx_http_aigw_json_null)
    {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1 || n > 10) {
            return ngx_http_aigw_reject(r, ctx, "\"n\" must be an integer "
                                        "from 1 to 10", NULL);
        }

        chat->n = n;
    }

    v = ngx_http_aigw_json_get(j, 0, "size");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(j, v, &chat->size);
    }

    v = ngx_http_aigw_json_get(j, 0, "response_format");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type != ngx_http_aigw_json_null)
    {
        if (ngx_http_aigw_json_str_eq(j, v, "url")) {
            chat->url_images = 1;

        } else if (!ngx_http_aigw_json_str_eq(j, v, "b64_json")) {
            return ngx_http_aigw_reject(r, ctx, "\"response_format\" must "
                                        "be \"url\" or \"b64_json\"", NULL);
        }
    }

    v = ngx_http_aigw_json_get(j, 0, "user");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(j, v, &chat->user);
    }

    return NGX_OK;
}


/*
 * translation: the images response, {created, data: [{b64_json} or
 * {url: "data:..."}], usage} with the tokens the provider counted
 */

static ngx_int_t
ngx_http_aigw_openai_write_generation(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_uint_t             i, n;
    ngx_http_aigw_part_t  *part;

    part = resp->parts.elts;

    ngx_http_aigw_jw_lit(w, "{\"created\":");
    ngx_http_aigw_jw_int(w, ngx_time());
    ngx_http_aigw_jw_lit(w, ",\"data\":[");

    for (i = 0, n = 0; i < resp->parts.nelts; i++) {
        if (part[i].type != ngx_http_aigw_part_image) {
            continue;
        }

        if (ctx->chat->url_images) {
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"url\":\"data:"
                                         : "{\"url\":\"data:");
            ngx_http_aigw_jw_str(w, &part[i].media_type);
            ngx_http_aigw_jw_lit(w, ";base64,");
            ngx_http_aigw_jw_str(w, &part[i].data);
            ngx_http_aigw_jw_lit(w, "\"}");

        } else {
            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"b64_json\":"
                                         : "{\"b64_json\":");
            ngx_http_aigw_jw_qstr(w, &part[i].data);
            ngx_http_aigw_jw_lit(w, "}");
        }
    }

    ngx_http_aigw_jw_lit(w, "]");

    if (ctx->usage.seen) {
        ngx_http_aigw_jw_lit(w, ",\"usage\":{\"input_tokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.input);
        ngx_http_aigw_jw_lit(w, ",\"output_tokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.output);
        ngx_http_aigw_jw_lit(w, ",\"total_tokens\":");
        ngx_http_aigw_jw_int(w, ctx->usage.input + ctx->usage.output);
        ngx_http_aigw_jw_lit(w, "}");
    }

    ngx_http_aigw_jw_lit(w, "}\n");

    return w->error ? NGX_ERROR : NGX_OK;
}
