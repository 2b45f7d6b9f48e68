
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The Anthropic Messages wire format (Claude Code speaks it).
 */


/* Claude on Vertex AI: in the body, instead of the model */
#define NGX_HTTP_AIGW_VERTEX_VERSION                                         \
    "\"anthropic_version\":\"vertex-2023-10-16\""


typedef struct {
    ngx_uint_t                 block;      /* open block: a part type */
} ngx_http_aigw_anthropic_parse_t;


typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  model;
    ngx_uint_t                 index;      /* of the next block */
    ngx_uint_t                 block;      /* open block: a part type */
    ngx_uint_t                 stop;
    ngx_uint_t                 started;
} ngx_http_aigw_anthropic_write_t;


static ngx_int_t ngx_http_aigw_anthropic_ratelimit_headers(
    ngx_http_request_t *r, const char *what, int64_t limit, int64_t remaining,
    int64_t reset, int64_t now);
static ngx_int_t ngx_http_aigw_anthropic_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_anthropic_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_anthropic_parse_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *name);
static ngx_int_t ngx_http_aigw_anthropic_parse_stop(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_anthropic_parse_thinking(ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_anthropic_parse_tool_choice(
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_anthropic_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_anthropic_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg);
static ngx_int_t ngx_http_aigw_anthropic_parse_blocks(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts, ngx_uint_t nested);
static ngx_int_t ngx_http_aigw_anthropic_parse_block(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_uint_t t, ngx_http_aigw_part_t *part, ngx_uint_t nested);
static ngx_int_t ngx_http_aigw_anthropic_parse_media(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_uint_t t, ngx_http_aigw_part_t *part);
static ngx_int_t ngx_http_aigw_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_anthropic_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static ngx_http_aigw_anthropic_write_t *ngx_http_aigw_anthropic_write_state(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_anthropic_write_start(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_write_delta(
    ngx_http_aigw_anthropic_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_write_end(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_anthropic_write_t *st, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_open(ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_close(
    ngx_http_aigw_anthropic_write_t *st, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_write_usage(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_usage_t *u);
static void ngx_http_aigw_anthropic_write_stop(ngx_http_aigw_jw_t *w,
    ngx_uint_t stop);
static void ngx_http_aigw_anthropic_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err);
static void ngx_http_aigw_anthropic_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one);
static void ngx_http_aigw_anthropic_write_count(ngx_http_aigw_jw_t *w,
    int64_t tokens);
static ngx_int_t ngx_http_aigw_anthropic_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n);
static ngx_int_t ngx_http_aigw_anthropic_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_anthropic_write_system(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_anthropic_write_messages(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat);
static ngx_uint_t ngx_http_aigw_anthropic_accepts(ngx_http_aigw_part_t *part);
static ngx_uint_t ngx_http_aigw_anthropic_any(ngx_array_t *parts);
static void ngx_http_aigw_anthropic_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_anthropic_write_params(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning, int64_t max);
static ngx_uint_t ngx_http_aigw_anthropic_write_thinking(
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat, ngx_uint_t reasoning,
    int64_t max);
static ngx_uint_t ngx_http_aigw_anthropic_write_blocks(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *parts, ngx_uint_t n);
static ngx_int_t ngx_http_aigw_anthropic_write_block(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part, ngx_uint_t n);
static void ngx_http_aigw_anthropic_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part);
static ngx_int_t ngx_http_aigw_anthropic_request_headers(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_anthropic_target(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_str_t *path,
    ngx_str_t *query);
static ngx_int_t ngx_http_aigw_anthropic_parse_response(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_str_t *body,
    ngx_http_aigw_response_t *resp);
static void ngx_http_aigw_anthropic_parse_part(ngx_http_aigw_json_t *j,
    ngx_uint_t e, ngx_http_aigw_part_t *part);
static ngx_uint_t ngx_http_aigw_anthropic_content(ngx_str_t *name);
static ngx_int_t ngx_http_aigw_anthropic_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_anthropic_stream_start(
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_anthropic_stream_delta(
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_anthropic_stream_error(
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_anthropic_block_start(
    ngx_http_aigw_anthropic_parse_t *st, ngx_http_aigw_json_t *j,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_anthropic_parse_delta(
    ngx_http_aigw_anthropic_parse_t *st, ngx_http_aigw_json_t *j,
    ngx_array_t *events);
static void ngx_http_aigw_anthropic_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err);
static void ngx_http_aigw_anthropic_usage(ngx_http_aigw_json_t *j,
    ngx_uint_t u, ngx_http_aigw_usage_t *usage);
static int64_t ngx_http_aigw_anthropic_tokens(ngx_http_aigw_json_t *j,
    ngx_uint_t u, const char *name);
static ngx_uint_t ngx_http_aigw_anthropic_stop(ngx_http_aigw_json_t *j,
    ngx_uint_t v);
static ngx_uint_t ngx_http_aigw_anthropic_kind(ngx_http_aigw_json_t *j,
    ngx_uint_t v);


/* top-level fields and the types they must have, checked on every request */

static const ngx_http_aigw_field_t  ngx_http_aigw_anthropic_fields[] = {
    { ngx_string("messages"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("max_tokens"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("system"),
      ngx_http_aigw_json_string, ngx_http_aigw_json_array, 0,
      "a string or an array" },

    { ngx_string("tools"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("tool_choice"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("temperature"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("top_p"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("top_k"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("stop_sequences"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("metadata"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("thinking"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_anthropic_format = {
    ngx_string("anthropic"),
    { ngx_string("/v1/messages"),                       /* chat */
      ngx_string("/v1/messages/count_tokens"),          /* count tokens */
      ngx_null_string },                                /* embeddings */
    ngx_http_aigw_auth_x_api_key,
    1,                                                  /* own credential */
    { ngx_string("/messages"),                          /* client paths */
      ngx_string("/messages/count_tokens"),
      ngx_null_string },
    ngx_string("anthropic-version"),                    /* client header */

    ngx_http_aigw_anthropic_fields,                     /* fields */
    "%s: Input should be %s",                           /* field error */
    ngx_http_aigw_anthropic_validate,                   /* validate */
    ngx_http_aigw_anthropic_parse_request,              /* parse request */
    ngx_http_aigw_anthropic_write_response,             /* write response */
    ngx_http_aigw_anthropic_write_event,                /* write event */
    ngx_http_aigw_anthropic_write_error,                /* write error */
    ngx_http_aigw_anthropic_write_models,               /* write models */
    ngx_http_aigw_anthropic_write_count,                /* write count */

    ngx_http_aigw_anthropic_passthrough,                /* passthrough */
    ngx_http_aigw_anthropic_write_request,              /* write request */
    ngx_http_aigw_anthropic_request_headers,            /* request headers */
    ngx_http_aigw_anthropic_parse_response,             /* parse response */
    ngx_http_aigw_anthropic_parse_event,                /* parse event */
    ngx_http_aigw_anthropic_parse_error,                /* parse error */
    &ngx_http_aigw_sse_framing,                         /* framing */
    ngx_http_aigw_anthropic_target,                     /* target */
    ngx_http_aigw_anthropic_ratelimit_headers,          /* rate limits */
    NULL,                                               /* sign */
    NULL,                                               /* request model */
    ngx_null_string                                     /* models path */
};


static ngx_int_t
ngx_http_aigw_anthropic_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t             v;
    ngx_http_aigw_json_t  *j;

    j = &ctx->json;

    v = ngx_http_aigw_json_get(j, 0, "messages");

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[v].type == ngx_http_aigw_json_null)
    {
        return ngx_http_aigw_reject(r, ctx, "messages: Field required");
    }

    if (j->toks[v].count == 0) {
        return ngx_http_aigw_reject(r, ctx, "messages: at least one message "
                                    "is required");
    }

    if (ctx->endpoint == ngx_http_aigw_ep_chat) {
        v = ngx_http_aigw_json_get(j, 0, "max_tokens");

        if (v == NGX_HTTP_AIGW_JSON_NONE
            || j->toks[v].type == ngx_http_aigw_json_null)
        {
            return ngx_http_aigw_reject(r, ctx, "max_tokens: Field required");
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_anthropic_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n)
{
    if (*n < 2) {
        /* the model, providerOptions */
        return NGX_ERROR;
    }

    *n = 0;

    if (t->provider->vertex && ctx->endpoint == ngx_http_aigw_ep_chat) {

        /* Claude on Vertex: the model is in the path, the version here */

        edits[0].start = ctx->json.toks[ctx->model_tok - 1].start;
        edits[0].end = ctx->json.toks[ctx->model_tok].end;
        ngx_str_set(&edits[0].text, NGX_HTTP_AIGW_VERTEX_VERSION);
        *n = 1;

        if (ctx->options_key
            && ngx_http_aigw_json_member_range(&ctx->json, 0,
                                               ctx->options_key,
                                               &edits[1].start,
                                               &edits[1].end)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ctx->options_key) {
            ngx_str_null(&edits[1].text);
            *n = 2;
        }

    } else if (ngx_http_aigw_passthrough_edits(r, ctx, t, edits, n)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_passthrough_sort(edits, *n);

    return NGX_OK;
}


/*
 * /v1/messages, or on Vertex AI the model's rawPredict (streamRawPredict
 * for a stream); Vertex counts tokens with the model in the body
 */

static ngx_int_t
ngx_http_aigw_anthropic_target(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_str_t *path,
    ngx_str_t *query)
{
    ngx_str_t  id, method;

    ngx_str_null(query);

    if (t->provider->vertex == NULL) {
        *path = t->provider->format->paths[ctx->endpoint];
        return NGX_OK;
    }

    if (ctx->endpoint == ngx_http_aigw_ep_count_tokens) {
        ngx_str_set(&id, "count-tokens");
        ngx_str_set(&method, "rawPredict");

    } else {
        id = t->id;

        if (ctx->stream) {
            ngx_str_set(&method, "streamRawPredict");

        } else {
            ngx_str_set(&method, "rawPredict");
        }
    }

    return ngx_http_aigw_vertex_path(r, t->provider, "anthropic", &id,
                                     &method, path);
}


/*
 * The client's headers named by aigw_pass_request_headers, when the client
 * speaks this format too; anthropic-version: the client's when it may
 * pass, else the provider's configured one.
 */

static ngx_int_t
ngx_http_aigw_anthropic_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t  version;

    version = t->provider->version;

    if (ctx->client == t->provider->format
        && ngx_http_aigw_pass_headers(r, t->provider->format, w,
                                      "anthropic-version", &version)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (t->provider->vertex) {

        /* the version is in the body */

        ngx_http_aigw_vertex_auth(t->provider, w);
        return NGX_OK;
    }

    ngx_http_aigw_jw_lit(w, "anthropic-version: ");
    ngx_http_aigw_jw_str(w, &version);
    ngx_http_aigw_jw_lit(w, CRLF);

    return NGX_OK;
}


static void
ngx_http_aigw_anthropic_usage(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage)
{
    int64_t  n, input, cw, cr;

    if (!ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {
        return;
    }

    usage->seen = 1;

    input = ngx_http_aigw_anthropic_tokens(j, u, "input_tokens");
    cw = ngx_http_aigw_anthropic_tokens(j, u, "cache_creation_input_tokens");
    cr = ngx_http_aigw_anthropic_tokens(j, u, "cache_read_input_tokens");

    /* message_delta repeats what message_start said, or leaves it out */

    if ((input >= 0 || cw >= 0 || cr >= 0)
        && (input > 0 || cw > 0 || cr > 0 || usage->input == 0))
    {
        usage->cache_write = cw > 0 ? cw : (cw == 0 ? 0 : usage->cache_write);
        usage->cache_read = cr > 0 ? cr : (cr == 0 ? 0 : usage->cache_read);

        if (input >= 0) {
            usage->input = input + usage->cache_write + usage->cache_read;
        }
    }

    n = ngx_http_aigw_anthropic_tokens(j, u, "output_tokens");

    if (n >= 0) {
        usage->output = n;               /* cumulative */
    }
}


/* a token count of usage object "u", -1 when it has none */

static int64_t
ngx_http_aigw_anthropic_tokens(ngx_http_aigw_json_t *j, ngx_uint_t u,
    const char *name)
{
    int64_t  n;

    if (ngx_http_aigw_json_get_count(j, u, name, NGX_HTTP_AIGW_TOKENS_MAX, &n)
        != NGX_OK)
    {
        return -1;
    }

    return n;
}


static ngx_uint_t
ngx_http_aigw_anthropic_stop(ngx_http_aigw_json_t *j, ngx_uint_t v)
{
    if (ngx_http_aigw_json_str_eq(j, v, "max_tokens")
        || ngx_http_aigw_json_str_eq(j, v, "model_context_window_exceeded"))
    {
        return ngx_http_aigw_stop_length;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "tool_use")) {
        return ngx_http_aigw_stop_tool;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "stop_sequence")) {
        return ngx_http_aigw_stop_sequence;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "refusal")) {
        return ngx_http_aigw_stop_filter;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "pause_turn")) {
        return ngx_http_aigw_stop_pause;
    }

    return ngx_http_aigw_stop_end;
}


static void
ngx_http_aigw_anthropic_write_stop(ngx_http_aigw_jw_t *w, ngx_uint_t stop)
{
    switch (stop) {

    case ngx_http_aigw_stop_length:
        ngx_http_aigw_jw_lit(w, "\"max_tokens\"");
        break;

    case ngx_http_aigw_stop_tool:
        ngx_http_aigw_jw_lit(w, "\"tool_use\"");
        break;

    case ngx_http_aigw_stop_sequence:
        ngx_http_aigw_jw_lit(w, "\"stop_sequence\"");
        break;

    case ngx_http_aigw_stop_filter:
        ngx_http_aigw_jw_lit(w, "\"refusal\"");
        break;

    case ngx_http_aigw_stop_pause:
        ngx_http_aigw_jw_lit(w, "\"pause_turn\"");
        break;

    default:
        ngx_http_aigw_jw_lit(w, "\"end_turn\"");
        break;
    }
}


static ngx_uint_t
ngx_http_aigw_anthropic_kind(ngx_http_aigw_json_t *j, ngx_uint_t v)
{
    if (ngx_http_aigw_json_str_eq(j, v, "text")) {
        return ngx_http_aigw_part_text;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "tool_use")) {
        return ngx_http_aigw_part_tool_call;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "thinking")) {
        return ngx_http_aigw_part_thinking;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "redacted_thinking")) {
        return ngx_http_aigw_part_redacted;
    }

    return 0;
}


static ngx_int_t
ngx_http_aigw_anthropic_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_response_t *resp)
{
    ngx_uint_t             c, e, m;
    ngx_http_aigw_json_t   j;
    ngx_http_aigw_part_t  *part;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = resp ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 2;

    if (ngx_http_aigw_json_parse(&j, body->data, body->len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_anthropic_usage(&j, ngx_http_aigw_json_get(&j, 0, "usage"),
                                  &ctx->usage);

    if (ctx->endpoint == ngx_http_aigw_ep_count_tokens
        && ngx_http_aigw_json_get_count(&j, 0, "input_tokens",
                                        NGX_HTTP_AIGW_TOKENS_MAX,
                                        &ctx->usage.input)
           == NGX_OK)
    {
        ctx->usage.seen = 1;
    }

    if (resp == NULL) {

        /* passthrough: the finish reason, for the log */

        ctx->finish = ngx_http_aigw_anthropic_stop(&j,
                          ngx_http_aigw_json_get(&j, 0, "stop_reason"));
        return NGX_OK;
    }

    (void) ngx_http_aigw_json_get_str(&j, 0, "id", &resp->id);

    (void) ngx_http_aigw_json_get_str(&j, 0, "model", &resp->model);

    resp->stop = ngx_http_aigw_anthropic_stop(&j,
                     ngx_http_aigw_json_get(&j, 0, "stop_reason"));

    c = ngx_http_aigw_json_get(&j, 0, "content");

    if (!ngx_http_aigw_json_is(&j, c, ngx_http_aigw_json_array)) {
        return NGX_OK;
    }

    for (e = c + 1; e < j.toks[c].next; e = j.toks[e].next) {

        m = ngx_http_aigw_anthropic_kind(&j,
                                         ngx_http_aigw_json_get(&j, e, "type"));
        if (m == 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "aigw: a content block of the provider has no "
                          "equivalent in the client's format");
            continue;
        }

        part = ngx_http_aigw_part_add(&resp->parts, m);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_anthropic_parse_part(&j, e, part);
    }

    return NGX_OK;
}


/*
 * The fields of a text, tool_use, thinking or redacted_thinking block "e",
 * alike in a request and a response
 */

static void
ngx_http_aigw_anthropic_parse_part(ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_part_t *part)
{
    switch (part->type) {

    case ngx_http_aigw_part_text:
        (void) ngx_http_aigw_json_get_str(j, e, "text", &part->text);
        break;

    case ngx_http_aigw_part_tool_call:
        (void) ngx_http_aigw_json_get_str(j, e, "id", &part->id);

        (void) ngx_http_aigw_json_get_str(j, e, "name", &part->name);

        ngx_http_aigw_json_get_raw(j, e, "input", &part->input);
        break;

    case ngx_http_aigw_part_thinking:
        (void) ngx_http_aigw_json_get_str(j, e, "thinking", &part->text);

        (void) ngx_http_aigw_json_get_str(j, e, "signature",
                                            &part->signature);
        break;

    default: /* redacted */
        (void) ngx_http_aigw_json_get_str(j, e, "data", &part->signature);
        break;
    }
}


static void
ngx_http_aigw_anthropic_parse_error(ngx_http_request_t *r,
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
        v = ngx_http_aigw_json_get(&j, e, "message");

        if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(&j, v, &err->message);

            v = ngx_http_aigw_json_get(&j, e, "type");
            if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
                ngx_http_aigw_json_str_raw(&j, v, &err->type);
            }

            return;
        }
    }

    (void) ngx_http_aigw_json_message(r->pool, &err->message,
                                      "the provider returned HTTP %ui",
                                      err->status);
}


/* a stream event from the provider: usage, the end, and its content */

/* the events that only carry content: "content_block_*" and "ping" */

static ngx_uint_t
ngx_http_aigw_anthropic_content(ngx_str_t *name)
{
    u_char  *p;
    size_t   n;

    p = name->data;
    n = name->len;

    if (n == 4) {
        return ngx_strncmp(p, "ping", 4) == 0;
    }

    if (n < 14 + 4 || ngx_strncmp(p, "content_block_", 14) != 0) {
        return 0;
    }

    p += 14;
    n -= 14;

    return (n == 5 && ngx_strncmp(p, "delta", 5) == 0)
           || (n == 5 && ngx_strncmp(p, "start", 5) == 0)
           || (n == 4 && ngx_strncmp(p, "stop", 4) == 0);
}


static ngx_int_t
ngx_http_aigw_anthropic_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events)
{
    ngx_uint_t                        t;
    ngx_http_aigw_json_t             *j;
    ngx_http_aigw_event_t            *ev;
    ngx_http_aigw_anthropic_parse_t  *st;

    if (!sev->has_data) {
        return NGX_OK;
    }

    st = ctx->pstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_anthropic_parse_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->pstate = st;
    }

    /*
     * a passthrough needs usage (message_start, message_delta), errors
     * and the end (message_stop): the content events, named by their
     * "event:" field, pass as they are, unparsed
     */

    if (!ctx->translate && ngx_http_aigw_anthropic_content(&sev->event)) {
        return NGX_OK;
    }

    j = &ctx->ej;

    /* a passthrough reads the top level only, and usage apart */

    j->record = ctx->translate ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 1;

    if (ngx_http_aigw_json_parse(j, sev->data.data, sev->data.len) != NGX_OK
        || j->toks[0].type != ngx_http_aigw_json_object)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" sent an invalid stream event",
                      &ctx->target->provider->name);
        return NGX_ERROR;
    }

    t = ngx_http_aigw_json_get(j, 0, "type");

    if (ngx_http_aigw_json_str_eq(j, t, "message_start")) {
        return ngx_http_aigw_anthropic_stream_start(ctx, j, events);
    }

    if (ngx_http_aigw_json_str_eq(j, t, "message_delta")) {
        return ngx_http_aigw_anthropic_stream_delta(ctx, j, events);
    }

    if (ngx_http_aigw_json_str_eq(j, t, "message_stop")) {
        if (ctx->translate
            && ngx_http_aigw_event_add(events, ngx_http_aigw_ev_end, 0)
               == NULL)
        {
            return NGX_ERROR;
        }

        return NGX_DONE;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "error")) {
        return ngx_http_aigw_anthropic_stream_error(ctx, j, events);
    }

    if (!ctx->translate) {
        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "content_block_start")) {
        return ngx_http_aigw_anthropic_block_start(st, j, events);
    }

    if (ngx_http_aigw_json_str_eq(j, t, "content_block_delta")) {
        return ngx_http_aigw_anthropic_parse_delta(st, j, events);
    }

    if (ngx_http_aigw_json_str_eq(j, t, "content_block_stop")
        && st->block != 0)
    {
        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_stop,
                                     st->block);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        st->block = 0;
    }

    /* ping and unknown events */

    return NGX_OK;
}


/* message_start: its usage, and the id and model, when translating */

static ngx_int_t
ngx_http_aigw_anthropic_stream_start(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              m;
    ngx_http_aigw_event_t  *ev;

    m = ngx_http_aigw_json_get(j, 0, "message");

    if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
        if (ngx_http_aigw_json_sub(j, m, &ctx->eu, 2) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_anthropic_usage(&ctx->eu,
                                      ngx_http_aigw_json_get(&ctx->eu, 0,
                                                             "usage"),
                                      &ctx->usage);
    }

    if (!ctx->translate) {
        return NGX_OK;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_start, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_aigw_json_get_str(j, m, "id", &ev->id);

    (void) ngx_http_aigw_json_get_str(j, m, "model", &ev->name);

    return NGX_OK;
}


/* message_delta: its usage, and the stop reason, when translating */

static ngx_int_t
ngx_http_aigw_anthropic_stream_delta(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              v, d;
    ngx_http_aigw_event_t  *ev;

    v = ngx_http_aigw_json_get(j, 0, "usage");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {
        if (ngx_http_aigw_json_sub(j, v, &ctx->eu, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_anthropic_usage(&ctx->eu, 0, &ctx->usage);
    }

    d = ngx_http_aigw_json_get(j, 0, "delta");

    if (!ctx->translate) {

        /* the finish reason, for the log: the delta apart */

        if (ngx_http_aigw_json_is(j, d, ngx_http_aigw_json_object)
            && ngx_http_aigw_json_sub(j, d, &ctx->eu, 1) == NGX_OK)
        {
            v = ngx_http_aigw_json_get(&ctx->eu, 0, "stop_reason");

            if (ngx_http_aigw_json_is(&ctx->eu, v,
                                      ngx_http_aigw_json_string))
            {
                ctx->finish = ngx_http_aigw_anthropic_stop(&ctx->eu, v);
            }
        }

        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, d, "stop_reason");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return NGX_OK;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_finish, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->stop = ngx_http_aigw_anthropic_stop(j, v);

    (void) ngx_http_aigw_json_get_str(j, d, "stop_sequence",
                                        &ev->stop_sequence);

    return NGX_OK;
}


/* an error event ends the stream: nothing is written after it */

static ngx_int_t
ngx_http_aigw_anthropic_stream_error(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              m, v;
    ngx_http_aigw_event_t  *ev;

    if (!ctx->translate) {
        return NGX_DONE;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_error, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->status = NGX_HTTP_BAD_GATEWAY;

    m = ngx_http_aigw_json_get(j, 0, "error");

    (void) ngx_http_aigw_json_get_str(j, m, "type", &ev->err_type);

    v = ngx_http_aigw_json_get(j, m, "message");
    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(j, v, &ev->text);

    } else {
        ngx_str_set(&ev->text, "the provider reported an error");
    }

    return NGX_DONE;
}


/* content_block_start: the open block, when it has an equivalent */

static ngx_int_t
ngx_http_aigw_anthropic_block_start(ngx_http_aigw_anthropic_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              b;
    ngx_http_aigw_event_t  *ev;

    b = ngx_http_aigw_json_get(j, 0, "content_block");

    st->block = ngx_http_aigw_anthropic_kind(j,
                                        ngx_http_aigw_json_get(j, b, "type"));

    if (st->block == 0) {
        return NGX_OK;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_start,
                                 st->block);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_aigw_json_get_str(j, b, "id", &ev->id);

    (void) ngx_http_aigw_json_get_str(j, b, "name", &ev->name);

    (void) ngx_http_aigw_json_get_str(j, b, "data", &ev->text);

    return NGX_OK;
}


/* content_block_delta: text, tool input, thinking or a signature */

static ngx_int_t
ngx_http_aigw_anthropic_parse_delta(ngx_http_aigw_anthropic_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              d, t, m, v;
    ngx_http_aigw_event_t  *ev;

    if (st->block == 0) {
        return NGX_OK;
    }

    d = ngx_http_aigw_json_get(j, 0, "delta");
    t = ngx_http_aigw_json_get(j, d, "type");

    if (ngx_http_aigw_json_str_eq(j, t, "text_delta")) {
        m = ngx_http_aigw_part_text;
        v = ngx_http_aigw_json_get(j, d, "text");

    } else if (ngx_http_aigw_json_str_eq(j, t, "input_json_delta")) {
        m = ngx_http_aigw_part_tool_call;
        v = ngx_http_aigw_json_get(j, d, "partial_json");

    } else if (ngx_http_aigw_json_str_eq(j, t, "thinking_delta")) {
        m = ngx_http_aigw_part_thinking;
        v = ngx_http_aigw_json_get(j, d, "thinking");

    } else if (ngx_http_aigw_json_str_eq(j, t, "signature_delta")) {
        m = ngx_http_aigw_part_signature;
        v = ngx_http_aigw_json_get(j, d, "signature");

    } else {
        return NGX_OK;
    }

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        || j->toks[v].end - j->toks[v].start <= 2)
    {
        return NGX_OK;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta, m);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_http_aigw_json_str_raw(j, v, &ev->text);

    return NGX_OK;
}



/* client side: the event stream */

static ngx_int_t
ngx_http_aigw_anthropic_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_anthropic_write_t  *st;

    st = ctx->wstate;

    if (st == NULL) {
        st = ngx_http_aigw_anthropic_write_state(r, ctx);
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->wstate = st;
    }

    switch (ev->type) {

    case ngx_http_aigw_ev_start:
        return ngx_http_aigw_anthropic_write_start(r, ctx, st, ev, w);

    case ngx_http_aigw_ev_block_start:
        ngx_http_aigw_anthropic_close(st, w);
        ngx_http_aigw_anthropic_open(st, ev, w);
        break;

    case ngx_http_aigw_ev_delta:
        if (ev->kind == ngx_http_aigw_part_image) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "aigw: an image of the provider is left out: "
                          "Anthropic messages have no image output");
            break;
        }

        ngx_http_aigw_anthropic_write_delta(st, ev, w);
        break;

    case ngx_http_aigw_ev_block_stop:
        ngx_http_aigw_anthropic_close(st, w);
        break;

    case ngx_http_aigw_ev_finish:
        st->stop = ev->stop;
        break;

    case ngx_http_aigw_ev_end:
        ngx_http_aigw_anthropic_write_end(ctx, st, w);
        break;

    case ngx_http_aigw_ev_error:
        ngx_http_aigw_jw_lit(w, "event: error\ndata: {\"type\":\"error\","
                                "\"error\":{\"type\":");

        if (ev->err_type.len) {
            ngx_http_aigw_jw_qstr(w, &ev->err_type);

        } else {
            ngx_http_aigw_jw_lit(w, "\"api_error\"");
        }

        ngx_http_aigw_jw_lit(w, ",\"message\":");
        ngx_http_aigw_jw_qstr(w, &ev->text);
        ngx_http_aigw_jw_lit(w, "}}\n\n");
        break;

    case ngx_http_aigw_ev_ping:
        ngx_http_aigw_jw_lit(w, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
        break;

    default:
        break;
    }

    return NGX_OK;
}


static ngx_http_aigw_anthropic_write_t *
ngx_http_aigw_anthropic_write_state(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_anthropic_write_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_anthropic_write_t));
    if (st == NULL) {
        return NULL;
    }

    ngx_str_set(&st->id, "msg_aigw");

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

    st->stop = ngx_http_aigw_stop_end;

    return st;
}


/* message_start, with the provider's id and model when it gave them */

static ngx_int_t
ngx_http_aigw_anthropic_write_start(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    if (ngx_http_aigw_event_keep(r->pool, ev, &st->id, &st->model)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    st->started = 1;

    ngx_http_aigw_jw_lit(w, "event: message_start\ndata: "
                            "{\"type\":\"message_start\",\"message\":"
                            "{\"id\":");
    ngx_http_aigw_jw_qstr(w, &st->id);
    ngx_http_aigw_jw_lit(w, ",\"type\":\"message\",\"role\":"
                            "\"assistant\",\"model\":");
    ngx_http_aigw_jw_qstr(w, &st->model);
    ngx_http_aigw_jw_lit(w, ",\"content\":[],\"stop_reason\":null,"
                            "\"stop_sequence\":null,\"usage\":");
    ngx_http_aigw_anthropic_write_usage(w, &ctx->usage);
    ngx_http_aigw_jw_lit(w, "}}\n\nevent: ping\ndata: "
                            "{\"type\":\"ping\"}\n\n");

    return NGX_OK;
}


/* a delta, in the open block or in a text block opened for it */

static void
ngx_http_aigw_anthropic_write_delta(ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_event_t  open;

    if (st->block == 0 && ev->kind != ngx_http_aigw_part_signature) {
        ngx_memzero(&open, sizeof(ngx_http_aigw_event_t));
        open.kind = ev->kind;
        ngx_http_aigw_anthropic_open(st, &open, w);
    }

    ngx_http_aigw_jw_lit(w, "event: content_block_delta\ndata: "
                            "{\"type\":\"content_block_delta\","
                            "\"index\":");
    ngx_http_aigw_jw_int(w, st->index - 1);

    switch (ev->kind) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, ",\"delta\":{\"type\":\"input_json_delta\","
                                "\"partial_json\":");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, ",\"delta\":{\"type\":\"thinking_delta\","
                                "\"thinking\":");
        break;

    case ngx_http_aigw_part_signature:
        ngx_http_aigw_jw_lit(w, ",\"delta\":{\"type\":\"signature_delta\","
                                "\"signature\":");
        break;

    default:
        ngx_http_aigw_jw_lit(w, ",\"delta\":{\"type\":\"text_delta\","
                                "\"text\":");
        break;
    }

    ngx_http_aigw_jw_qstr(w, &ev->text);
    ngx_http_aigw_jw_lit(w, "}}\n\n");
}


/* the end: the open block closes, message_delta and message_stop */

static void
ngx_http_aigw_anthropic_write_end(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_anthropic_write_t *st, ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_anthropic_close(st, w);

    ngx_http_aigw_jw_lit(w, "event: message_delta\ndata: {\"type\":"
                            "\"message_delta\",\"delta\":"
                            "{\"stop_reason\":");
    ngx_http_aigw_anthropic_write_stop(w, st->stop);
    ngx_http_aigw_jw_lit(w, ",\"stop_sequence\":null},\"usage\":");
    ngx_http_aigw_anthropic_write_usage(w, &ctx->usage);
    ngx_http_aigw_jw_lit(w, "}\n\nevent: message_stop\ndata: "
                            "{\"type\":\"message_stop\"}\n\n");
}



static void
ngx_http_aigw_anthropic_open(ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_jw_lit(w, "event: content_block_start\ndata: "
                            "{\"type\":\"content_block_start\",\"index\":");
    ngx_http_aigw_jw_int(w, st->index++);
    ngx_http_aigw_jw_lit(w, ",\"content_block\":");

    switch (ev->kind) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"tool_use\",\"id\":");
        ngx_http_aigw_jw_qstr(w, &ev->id);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &ev->name);
        ngx_http_aigw_jw_lit(w, ",\"input\":{}}");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"thinking\",\"thinking\":\"\","
                                "\"signature\":\"\"}");
        break;

    case ngx_http_aigw_part_redacted:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"redacted_thinking\",\"data\":");
        ngx_http_aigw_jw_qstr(w, &ev->text);
        ngx_http_aigw_jw_lit(w, "}");
        break;

    default:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"text\",\"text\":\"\"}");
        break;
    }

    ngx_http_aigw_jw_lit(w, "}\n\n");

    st->block = ev->kind ? ev->kind : ngx_http_aigw_part_text;
}


static void
ngx_http_aigw_anthropic_close(ngx_http_aigw_anthropic_write_t *st,
    ngx_http_aigw_jw_t *w)
{
    if (st->block == 0) {
        return;
    }

    ngx_http_aigw_jw_lit(w, "event: content_block_stop\ndata: "
                            "{\"type\":\"content_block_stop\",\"index\":");
    ngx_http_aigw_jw_int(w, st->index - 1);
    ngx_http_aigw_jw_lit(w, "}\n\n");

    st->block = 0;
}


static void
ngx_http_aigw_anthropic_write_usage(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_usage_t *u)
{
    int64_t  input;

    input = u->input - u->cache_read - u->cache_write;

    ngx_http_aigw_jw_lit(w, "{\"input_tokens\":");
    ngx_http_aigw_jw_int(w, input > 0 ? input : 0);
    ngx_http_aigw_jw_lit(w, ",\"cache_creation_input_tokens\":");
    ngx_http_aigw_jw_int(w, u->cache_write);
    ngx_http_aigw_jw_lit(w, ",\"cache_read_input_tokens\":");
    ngx_http_aigw_jw_int(w, u->cache_read);
    ngx_http_aigw_jw_lit(w, ",\"output_tokens\":");
    ngx_http_aigw_jw_int(w, u->output);
    ngx_http_aigw_jw_lit(w, "}");
}


static ngx_int_t
ngx_http_aigw_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_uint_t             i, n;
    ngx_http_aigw_part_t  *part;

    part = resp->parts.elts;

    ngx_http_aigw_jw_lit(w, "{\"id\":");

    if (resp->id.len) {
        ngx_http_aigw_jw_qstr(w, &resp->id);

    } else {
        ngx_http_aigw_jw_lit(w, "\"msg_aigw\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"type\":\"message\",\"role\":\"assistant\","
                            "\"model\":");

    ngx_http_aigw_write_model(w, &resp->model, &ctx->model);

    ngx_http_aigw_jw_lit(w, ",\"content\":[");

    for (i = 0, n = 0; i < resp->parts.nelts; i++) {

        switch (part[i].type) {

        case ngx_http_aigw_part_text:
        case ngx_http_aigw_part_thinking:
        case ngx_http_aigw_part_redacted:
        case ngx_http_aigw_part_tool_call:
            if (ngx_http_aigw_anthropic_write_block(r, w, &part[i], n++)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            ngx_http_aigw_jw_lit(w, "}");
            break;

        case ngx_http_aigw_part_image:
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "aigw: an image of the provider is left out: "
                          "Anthropic messages have no image output");
            break;

        default:
            break;
        }
    }

    ngx_http_aigw_jw_lit(w, "],\"stop_reason\":");
    ngx_http_aigw_anthropic_write_stop(w, resp->stop);
    ngx_http_aigw_jw_lit(w, ",\"stop_sequence\":");

    if (resp->stop_sequence.len) {
        ngx_http_aigw_jw_qstr(w, &resp->stop_sequence);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, ",\"usage\":");
    ngx_http_aigw_anthropic_write_usage(w, &ctx->usage);
    ngx_http_aigw_jw_lit(w, "}\n");

    return NGX_OK;
}


static void
ngx_http_aigw_anthropic_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err)
{
    ngx_str_t  type;

    type = err->type;

    if (type.len == 0
        || (type.len == 11 && ngx_strncmp(type.data, "server_error", 11) == 0))
    {
        switch (err->status) {
        case 401: ngx_str_set(&type, "authentication_error"); break;
        case 403: ngx_str_set(&type, "permission_error"); break;
        case 404: ngx_str_set(&type, "not_found_error"); break;
        case 413: ngx_str_set(&type, "request_too_large"); break;
        case 429: ngx_str_set(&type, "rate_limit_error"); break;
        case 503:
        case NGX_HTTP_AIGW_OVERLOADED:
            ngx_str_set(&type, "overloaded_error");
            break;
        default:
            if (err->status >= 500) {
                ngx_str_set(&type, "api_error");

            } else {
                ngx_str_set(&type, "invalid_request_error");
            }
        }
    }

    ngx_http_aigw_jw_lit(w, "{\"type\":\"error\",\"error\":{\"type\":");
    ngx_http_aigw_jw_qstr(w, &type);
    ngx_http_aigw_jw_lit(w, ",\"message\":");
    ngx_http_aigw_jw_qstr(w, &err->message);
    ngx_http_aigw_jw_lit(w, "}}");
}


static void
ngx_http_aigw_anthropic_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one)
{
    ngx_str_t                slug;
    ngx_uint_t               i;
    ngx_http_aigw_ctx_t     *ctx;
    ngx_http_aigw_model_t  **m;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);
    m = models->elts;

    if (!one) {
        ngx_http_aigw_jw_lit(w, "{\"data\":[");
    }

    for (i = 0; i < models->nelts; i++) {
        slug = (one && m[i]->wildcard) ? ctx->model : m[i]->slug;

        ngx_http_aigw_jw_cstr(w, i ? ",{\"type\":\"model\",\"id\":\""
                                  : "{\"type\":\"model\",\"id\":\"");
        ngx_http_aigw_jw_escape(w, slug.data, slug.len);
        ngx_http_aigw_jw_lit(w, "\",\"display_name\":\"");
        ngx_http_aigw_jw_escape(w, slug.data, slug.len);
        ngx_http_aigw_jw_lit(w, "\",\"created_at\":\"1970-01-01T00:00:00Z\"}");
    }

    if (one) {
        return;
    }

    ngx_http_aigw_jw_lit(w, "],\"has_more\":false,\"first_id\":");

    if (models->nelts) {
        ngx_http_aigw_jw_lit(w, "\"");
        ngx_http_aigw_jw_escape(w, m[0]->slug.data, m[0]->slug.len);
        ngx_http_aigw_jw_lit(w, "\",\"last_id\":\"");
        ngx_http_aigw_jw_escape(w, m[models->nelts - 1]->slug.data,
                                m[models->nelts - 1]->slug.len);
        ngx_http_aigw_jw_lit(w, "\"}");

    } else {
        ngx_http_aigw_jw_lit(w, "null,\"last_id\":null}");
    }
}


static void
ngx_http_aigw_anthropic_write_count(ngx_http_aigw_jw_t *w, int64_t tokens)
{
    ngx_http_aigw_jw_lit(w, "{\"input_tokens\":");
    ngx_http_aigw_jw_int(w, tokens);
    ngx_http_aigw_jw_lit(w, ",\"estimated\":true}");
}


/* translation: an Anthropic request into the canonical form */

static ngx_int_t
ngx_http_aigw_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    return ngx_http_aigw_parse_chat(r, ctx, j, chat,
                                    ngx_http_aigw_anthropic_parse_field,
                                    ngx_http_aigw_anthropic_parse_message,
                                    "messages: each message must be an "
                                    "object");
}


#define ngx_http_aigw_is(name)                                               \
    (key.len == sizeof(name) - 1                                             \
     && ngx_strncmp(key.data, name, sizeof(name) - 1) == 0)


/* a top-level field "k" of the request, other than null */

static ngx_int_t
ngx_http_aigw_anthropic_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat)
{
    int64_t     n;
    ngx_str_t   key;
    ngx_uint_t  v, m;

    v = k + 1;
    ngx_http_aigw_json_str_raw(j, k, &key);

    if (ngx_http_aigw_is("model") || ngx_http_aigw_is("stream")
        || ngx_http_aigw_is("providerOptions")
        || ngx_http_aigw_is("messages"))
    {
        return NGX_OK;
    }

    if (ngx_http_aigw_is("max_tokens")) {
        if (ngx_http_aigw_json_int(j, v, &n) == NGX_OK && n > 0) {
            chat->max_tokens = n;
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("system")) {
        if (ngx_array_init(&chat->system, r->pool, 2,
                           sizeof(ngx_http_aigw_part_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_aigw_anthropic_parse_blocks(r, ctx, j, v,
                                                    &chat->system, 0);
    }

    if (ngx_http_aigw_is("temperature")) {
        ngx_http_aigw_json_raw(j, v, &chat->temperature);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("top_p")) {
        ngx_http_aigw_json_raw(j, v, &chat->top_p);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("top_k")) {
        ngx_http_aigw_json_raw(j, v, &chat->top_k);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("stop_sequences")) {
        return ngx_http_aigw_anthropic_parse_stop(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("metadata")) {
        m = ngx_http_aigw_json_get(j, v, "user_id");

        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, m, &chat->user);
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("thinking")) {
        ngx_http_aigw_anthropic_parse_thinking(j, v, chat);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("output_config")) {
        m = ngx_http_aigw_json_get(j, v, "effort");

        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, m, &chat->effort);
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("tool_choice")) {
        ngx_http_aigw_anthropic_parse_tool_choice(j, v, chat);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("tools")) {
        return ngx_http_aigw_anthropic_parse_tools(r, ctx, j, v, chat);
    }

    return ngx_http_aigw_anthropic_parse_other(r, ctx, &key);
}


/* the fields that cannot be translated, and those dropped */

static ngx_int_t
ngx_http_aigw_anthropic_parse_other(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *name)
{
    ngx_str_t  key;

    key = *name;

    if (ngx_http_aigw_is("mcp_servers") || ngx_http_aigw_is("container")) {
        return ngx_http_aigw_reject(r, ctx, "\"%V\" cannot be translated "
                                    "for this provider", name);
    }

    /* context_management, service_tier, ...: no equivalent */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: field \"%V\" dropped in translation", name);

    return NGX_OK;
}

#undef ngx_http_aigw_is


static ngx_int_t
ngx_http_aigw_anthropic_parse_stop(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    return ngx_http_aigw_parse_stop(r, ctx, j, v, chat, 0, "stop_sequences");
}


static void
ngx_http_aigw_anthropic_parse_thinking(ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t  m;

    m = ngx_http_aigw_json_get(j, v, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "enabled")) {
        chat->thinking = ngx_http_aigw_think_enabled;

        m = ngx_http_aigw_json_get(j, v, "budget_tokens");
        if (m != NGX_HTTP_AIGW_JSON_NONE) {
            (void) ngx_http_aigw_json_int(j, m, &chat->thinking_budget);
        }

    } else if (ngx_http_aigw_json_str_eq(j, m, "adaptive")) {
        chat->thinking = ngx_http_aigw_think_adaptive;

    } else {
        chat->thinking = ngx_http_aigw_think_disabled;
    }
}


static void
ngx_http_aigw_anthropic_parse_tool_choice(ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t  m;

    m = ngx_http_aigw_json_get(j, v, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "auto")) {
        chat->tool_choice = ngx_http_aigw_choice_auto;

    } else if (ngx_http_aigw_json_str_eq(j, m, "any")) {
        chat->tool_choice = ngx_http_aigw_choice_any;

    } else if (ngx_http_aigw_json_str_eq(j, m, "none")) {
        chat->tool_choice = ngx_http_aigw_choice_none;

    } else if (ngx_http_aigw_json_str_eq(j, m, "tool")) {
        chat->tool_choice = ngx_http_aigw_choice_tool;

        (void) ngx_http_aigw_json_get_str(j, v, "name",
                                            &chat->tool_choice_name);
    }

    m = ngx_http_aigw_json_get(j, v, "disable_parallel_tool_use");

    if (m != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[m].type == ngx_http_aigw_json_true)
    {
        chat->parallel_tools = 0;
    }
}


static ngx_int_t
ngx_http_aigw_anthropic_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_str_t              type;
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

        if (m != NGX_HTTP_AIGW_JSON_NONE
            && !ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_null)
            && !ngx_http_aigw_json_str_eq(j, m, "custom"))
        {
            /* str_raw of a non-string would read out of bounds */

            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                return ngx_http_aigw_reject(r, ctx, "tools: a tool's "
                                            "\"type\" must be a string");
            }

            ngx_http_aigw_json_str_raw(j, m, &type);

            return ngx_http_aigw_reject(r, ctx, "the server tool \"%V\" "
                                        "cannot be translated for this "
                                        "provider", &type);
        }

        m = ngx_http_aigw_json_get(j, e, "name");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "tools: each tool needs a "
                                        "\"name\"", NULL);
        }

        tool = ngx_http_aigw_tool_add(&chat->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, m, &tool->name);

        (void) ngx_http_aigw_json_get_str(j, e, "description",
                                            &tool->description);

        m = ngx_http_aigw_json_get(j, e, "input_schema");
        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
            ngx_http_aigw_json_raw(j, m, &tool->schema);
        }

        ngx_http_aigw_json_get_raw(j, e, "cache_control",
                                   &tool->cache_control);
    }

    return NGX_OK;
}


/* one message "e" of the request: role and content */

static ngx_int_t
ngx_http_aigw_anthropic_parse_message(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg)
{
    ngx_uint_t  m;

    m = ngx_http_aigw_json_get(j, e, "role");

    if (ngx_http_aigw_json_str_eq(j, m, "user")) {
        msg->role = ngx_http_aigw_role_user;

    } else if (ngx_http_aigw_json_str_eq(j, m, "assistant")) {
        msg->role = ngx_http_aigw_role_assistant;

    } else if (ngx_http_aigw_json_str_eq(j, m, "system")) {

        /* mid-conversation system messages (Claude Code sends them) */

        msg->role = ngx_http_aigw_role_system;

    } else {
        return ngx_http_aigw_reject(r, ctx, "messages: a message has no "
                                    "valid \"role\"", NULL);
    }

    return ngx_http_aigw_anthropic_parse_blocks(r, ctx, j,
                                     ngx_http_aigw_json_get(j, e, "content"),
                                     &msg->parts, 0);
}


/* a string or content blocks into parts; "nested": inside a tool result */

static ngx_int_t
ngx_http_aigw_anthropic_parse_blocks(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts, ngx_uint_t nested)
{
    ngx_int_t              rc;
    ngx_uint_t             e, t;
    ngx_http_aigw_part_t  *part;

    rc = ngx_http_aigw_parse_text(j, v, parts);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (j->toks[v].type != ngx_http_aigw_json_array) {
        return ngx_http_aigw_reject(r, ctx, "content must be a string or an "
                                    "array of blocks", NULL);
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        t = ngx_http_aigw_json_get(j, e, "type");

        if (!ngx_http_aigw_json_is(j, t, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a content block has no "
                                        "\"type\"", NULL);
        }

        part = ngx_http_aigw_part_add(parts, 0);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_get_raw(j, e, "cache_control",
                                   &part->cache_control);

        rc = ngx_http_aigw_anthropic_parse_block(r, ctx, j, e, t, part,
                                                 nested);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* a content block "e" of type "t" into "part" */

static ngx_int_t
ngx_http_aigw_anthropic_parse_block(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_uint_t t, ngx_http_aigw_part_t *part, ngx_uint_t nested)
{
    ngx_str_t   type;
    ngx_uint_t  m;

    part->type = ngx_http_aigw_anthropic_kind(j, t);

    if (part->type == ngx_http_aigw_part_text) {
        m = ngx_http_aigw_json_get(j, e, "text");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a text block has no "
                                        "\"text\"", NULL);
        }

        ngx_http_aigw_anthropic_parse_part(j, e, part);

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "image")
        || ngx_http_aigw_json_str_eq(j, t, "document"))
    {
        return ngx_http_aigw_anthropic_parse_media(r, ctx, j, e, t, part);
    }

    if (nested) {
        ngx_http_aigw_json_str_raw(j, t, &type);

        return ngx_http_aigw_reject(r, ctx, "a \"%V\" block in a tool "
                                    "result cannot be translated", &type);
    }

    if (part->type != 0) {
        /* tool_use, thinking, redacted_thinking */

        ngx_http_aigw_anthropic_parse_part(j, e, part);

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "tool_result")) {
        part->type = ngx_http_aigw_part_tool_result;

        (void) ngx_http_aigw_json_get_str(j, e, "tool_use_id", &part->id);

        m = ngx_http_aigw_json_get(j, e, "is_error");
        part->is_error = ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_true);

        part->content = ngx_array_create(r->pool, 1,
                                         sizeof(ngx_http_aigw_part_t));
        if (part->content == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_aigw_anthropic_parse_blocks(r, ctx, j,
                                     ngx_http_aigw_json_get(j, e, "content"),
                                     part->content, 1);
    }

    ngx_http_aigw_json_str_raw(j, t, &type);

    return ngx_http_aigw_reject(r, ctx, "a \"%V\" content block cannot be "
                                "translated for this provider", &type);
}


/* an image or document block "e" of type "t" */

static ngx_int_t
ngx_http_aigw_anthropic_parse_media(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_uint_t t, ngx_http_aigw_part_t *part)
{
    ngx_uint_t  s, m;

    part->type = ngx_http_aigw_json_str_eq(j, t, "image")
                 ? ngx_http_aigw_part_image
                 : ngx_http_aigw_part_document;

    s = ngx_http_aigw_json_get(j, e, "source");
    m = ngx_http_aigw_json_get(j, s, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "base64")) {
        (void) ngx_http_aigw_json_get_str(j, s, "media_type",
                                            &part->media_type);

        (void) ngx_http_aigw_json_get_str(j, s, "data", &part->data);

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, m, "url")
        && part->type == ngx_http_aigw_part_image)
    {
        (void) ngx_http_aigw_json_get_str(j, s, "url", &part->url);

        return NGX_OK;
    }

    return ngx_http_aigw_reject(r, ctx, "only base64 documents and base64 "
                                "or URL images can be translated", NULL);
}


/* translation: the canonical form into an Anthropic request */

static ngx_int_t
ngx_http_aigw_anthropic_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    int64_t                    max;
    ngx_http_aigw_chat_t      *chat;
    ngx_http_aigw_loc_conf_t  *alcf;

    chat = ctx->chat;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    max = chat->max_tokens;

    if (max <= 0) {
        max = t->provider->max_tokens != NGX_CONF_UNSET_UINT
              ? (int64_t) t->provider->max_tokens
              : (int64_t) alcf->max_tokens;
    }

    if (t->provider->vertex && ctx->endpoint == ngx_http_aigw_ep_chat) {
        ngx_http_aigw_jw_lit(w, "{" NGX_HTTP_AIGW_VERTEX_VERSION);

    } else {
        ngx_http_aigw_jw_lit(w, "{\"model\":\"");
        ngx_http_aigw_jw_escape(w, t->id.data, t->id.len);
        ngx_http_aigw_jw_lit(w, "\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"max_tokens\":");
    ngx_http_aigw_jw_int(w, max);

    ngx_http_aigw_anthropic_write_system(r, w, chat);

    ngx_http_aigw_jw_lit(w, ",\"messages\":[");

    ngx_http_aigw_anthropic_write_messages(r, w, chat);

    ngx_http_aigw_jw_lit(w, "]");

    ngx_http_aigw_anthropic_write_tools(w, chat);
    ngx_http_aigw_anthropic_write_params(w, ctx, t->model->reasoning, max);

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* system prompts, wherever they were */

static void
ngx_http_aigw_anthropic_write_system(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t            i, n, opened;
    ngx_array_t          *parts;
    ngx_http_aigw_msg_t  *msg;

    msg = chat->messages.elts;
    n = 0;
    opened = 0;

    for (i = 0; i <= chat->messages.nelts; i++) {

        if (i == 0) {
            parts = &chat->system;

        } else if (msg[i - 1].role == ngx_http_aigw_role_system) {
            parts = &msg[i - 1].parts;

        } else {
            continue;
        }

        if (parts->nelts == 0) {
            continue;
        }

        if (!opened) {
            ngx_http_aigw_jw_lit(w, ",\"system\":[");
            opened = 1;
        }

        n += ngx_http_aigw_anthropic_write_blocks(r, w, parts, n);
    }

    if (opened) {
        ngx_http_aigw_jw_lit(w, "]");
    }
}


/* messages: tool results are user turns; turns of a role are merged */

static void
ngx_http_aigw_anthropic_write_messages(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i, k, n, role;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t   result;

    msg = chat->messages.elts;
    role = (ngx_uint_t) -1;
    n = 0;

    for (i = 0; i < chat->messages.nelts; i++) {

        if (msg[i].role == ngx_http_aigw_role_system) {
            continue;
        }

        /* a turn with nothing Anthropic accepts is left out */

        if (msg[i].role != ngx_http_aigw_role_tool
            && !ngx_http_aigw_anthropic_any(&msg[i].parts))
        {
            continue;
        }

        k = (msg[i].role == ngx_http_aigw_role_assistant)
            ? ngx_http_aigw_role_assistant : ngx_http_aigw_role_user;

        if (k != role) {
            if (role != (ngx_uint_t) -1) {
                ngx_http_aigw_jw_lit(w, "]},");
            }

            ngx_http_aigw_jw_cstr(w, k == ngx_http_aigw_role_assistant
                                    ? "{\"role\":\"assistant\",\"content\":["
                                    : "{\"role\":\"user\",\"content\":[");
            role = k;
            n = 0;
        }

        if (msg[i].role == ngx_http_aigw_role_tool) {

            /* a tool message is a tool_result block */

            ngx_memzero(&result, sizeof(ngx_http_aigw_part_t));
            result.type = ngx_http_aigw_part_tool_result;
            result.id = msg[i].tool_call_id;
            result.content = &msg[i].parts;

            (void) ngx_http_aigw_anthropic_write_block(r, w, &result, n++);
            ngx_http_aigw_jw_lit(w, "}");
            continue;
        }

        n += ngx_http_aigw_anthropic_write_blocks(r, w, &msg[i].parts, n);
    }

    if (role != (ngx_uint_t) -1) {
        ngx_http_aigw_jw_lit(w, "]}");
    }
}


/* whether a part makes a content block Anthropic accepts */

static ngx_uint_t
ngx_http_aigw_anthropic_accepts(ngx_http_aigw_part_t *part)
{
    switch (part->type) {

    case ngx_http_aigw_part_text:
        return part->text.len != 0;

    case ngx_http_aigw_part_thinking:

        /* only signed thinking can go back to Anthropic */

        return part->signature.len != 0;

    case ngx_http_aigw_part_image:
    case ngx_http_aigw_part_document:
    case ngx_http_aigw_part_tool_call:
    case ngx_http_aigw_part_tool_result:
    case ngx_http_aigw_part_redacted:
        return 1;

    default:
        return 0;
    }
}


/* whether any of the parts makes a block Anthropic accepts */

static ngx_uint_t
ngx_http_aigw_anthropic_any(ngx_array_t *parts)
{
    ngx_uint_t             i;
    ngx_http_aigw_part_t  *part;

    part = parts->elts;

    for (i = 0; i < parts->nelts; i++) {
        if (ngx_http_aigw_anthropic_accepts(&part[i])) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_aigw_anthropic_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i;
    ngx_http_aigw_tool_t  *tool;

    if (chat->tools.nelts) {
        tool = chat->tools.elts;

        ngx_http_aigw_jw_lit(w, ",\"tools\":[");

        for (i = 0; i < chat->tools.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? ",{\"name\":" : "{\"name\":");
            ngx_http_aigw_jw_qstr(w, &tool[i].name);

            if (tool[i].description.len) {
                ngx_http_aigw_jw_lit(w, ",\"description\":");
                ngx_http_aigw_jw_qstr(w, &tool[i].description);
            }

            ngx_http_aigw_jw_lit(w, ",\"input_schema\":");

            if (tool[i].schema.len) {
                ngx_http_aigw_jw_str(w, &tool[i].schema);

            } else {
                ngx_http_aigw_jw_lit(w, "{\"type\":\"object\"}");
            }

            ngx_http_aigw_jw_lit(w, "}");
        }

        ngx_http_aigw_jw_lit(w, "]");
    }

    if (chat->tool_choice == ngx_http_aigw_choice_unset
        && (chat->parallel_tools != 0 || chat->tools.nelts == 0))
    {
        return;
    }

    switch (chat->tool_choice) {

    case ngx_http_aigw_choice_any:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":{\"type\":\"any\"");
        break;

    case ngx_http_aigw_choice_none:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":{\"type\":\"none\"");
        break;

    case ngx_http_aigw_choice_tool:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":{\"type\":\"tool\","
                                "\"name\":");
        ngx_http_aigw_jw_qstr(w, &chat->tool_choice_name);
        break;

    default:
        ngx_http_aigw_jw_lit(w, ",\"tool_choice\":{\"type\":\"auto\"");
        break;
    }

    if (chat->parallel_tools == 0
        && chat->tool_choice != ngx_http_aigw_choice_none)
    {
        ngx_http_aigw_jw_lit(w, ",\"disable_parallel_tool_use\":true");
    }

    ngx_http_aigw_jw_lit(w, "}");
}


/* thinking, sampling, stop sequences, metadata, stream */

static void
ngx_http_aigw_anthropic_write_params(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning, int64_t max)
{
    ngx_str_t             *s;
    ngx_uint_t             i, think;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;

    think = ngx_http_aigw_anthropic_write_thinking(w, chat, reasoning, max);

    /* with thinking on, Anthropic takes its default temperature only */

    if (chat->temperature.len && !think) {
        ngx_http_aigw_jw_lit(w, ",\"temperature\":");
        ngx_http_aigw_jw_str(w, &chat->temperature);
    }

    if (chat->top_p.len && !think) {
        ngx_http_aigw_jw_lit(w, ",\"top_p\":");
        ngx_http_aigw_jw_str(w, &chat->top_p);
    }

    if (chat->top_k.len && !think) {
        ngx_http_aigw_jw_lit(w, ",\"top_k\":");
        ngx_http_aigw_jw_str(w, &chat->top_k);
    }

    if (chat->stop.nelts) {
        s = chat->stop.elts;

        ngx_http_aigw_jw_lit(w, ",\"stop_sequences\":[");

        for (i = 0; i < chat->stop.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? "," : "");
            ngx_http_aigw_jw_qstr(w, &s[i]);
        }

        ngx_http_aigw_jw_lit(w, "]");
    }

    if (chat->user.len) {
        ngx_http_aigw_jw_lit(w, ",\"metadata\":{\"user_id\":");
        ngx_http_aigw_jw_qstr(w, &chat->user);
        ngx_http_aigw_jw_lit(w, "}");
    }

    if (ctx->stream) {
        ngx_http_aigw_jw_lit(w, ",\"stream\":true");
    }
}


/*
 * Thinking, for models configured as reasoning models: whether it was
 * turned on
 */

static ngx_uint_t
ngx_http_aigw_anthropic_write_thinking(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat, ngx_uint_t reasoning, int64_t max)
{
    int64_t  budget;

    if (!reasoning
        || (chat->thinking != ngx_http_aigw_think_enabled
            && chat->thinking != ngx_http_aigw_think_adaptive))
    {
        return 0;
    }

    budget = chat->thinking_budget;

    if (budget <= 0) {
        if (chat->effort.len == 3
            && ngx_strncmp(chat->effort.data, "low", 3) == 0)
        {
            budget = 2048;

        } else if (chat->effort.len == 4
                   && ngx_strncmp(chat->effort.data, "high", 4) == 0)
        {
            budget = 24576;

        } else {
            budget = 8192;
        }
    }

    if (budget >= max) {
        budget = max - 1;
    }

    if (budget < 1024) {
        return 0;
    }

    ngx_http_aigw_jw_lit(w, ",\"thinking\":{\"type\":\"enabled\","
                            "\"budget_tokens\":");
    ngx_http_aigw_jw_int(w, budget);
    ngx_http_aigw_jw_lit(w, "}");

    return 1;
}


/* content blocks of parts; returns how many were written */

static ngx_uint_t
ngx_http_aigw_anthropic_write_blocks(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *parts, ngx_uint_t n)
{
    ngx_uint_t             i, k;
    ngx_http_aigw_part_t  *part;

    part = parts->elts;
    k = n;

    for (i = 0; i < parts->nelts; i++) {

        if (!ngx_http_aigw_anthropic_accepts(&part[i])) {
            continue;
        }

        if (ngx_http_aigw_anthropic_write_block(r, w, &part[i], k++)
            != NGX_OK)
        {
            w->error = 1;
        }

        if (part[i].cache_control.len) {
            ngx_http_aigw_jw_lit(w, ",\"cache_control\":");
            ngx_http_aigw_jw_str(w, &part[i].cache_control);
        }

        ngx_http_aigw_jw_lit(w, "}");
    }

    return k - n;
}


/*
 * One content block, but its closing brace; "n": how many came before it
 * in its array
 */

static ngx_int_t
ngx_http_aigw_anthropic_write_block(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part, ngx_uint_t n)
{
    if (n) {
        ngx_http_aigw_jw_lit(w, ",");
    }

    switch (part->type) {

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"text\",\"text\":");
        ngx_http_aigw_jw_qstr(w, &part->text);
        break;

    case ngx_http_aigw_part_image:
    case ngx_http_aigw_part_document:
        ngx_http_aigw_anthropic_write_media(w, part);
        break;

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"tool_use\",\"id\":");
        ngx_http_aigw_jw_qstr(w, &part->id);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &part->name);
        ngx_http_aigw_jw_lit(w, ",\"input\":");

        return ngx_http_aigw_write_tool_input(r, w, part);

    case ngx_http_aigw_part_tool_result:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"tool_result\",\"tool_use_id\":");
        ngx_http_aigw_jw_qstr(w, &part->id);

        if (part->is_error) {
            ngx_http_aigw_jw_lit(w, ",\"is_error\":true");
        }

        ngx_http_aigw_jw_lit(w, ",\"content\":[");

        if (part->content) {
            (void) ngx_http_aigw_anthropic_write_blocks(r, w, part->content,
                                                        0);
        }

        ngx_http_aigw_jw_lit(w, "]");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"thinking\",\"thinking\":");
        ngx_http_aigw_jw_qstr(w, &part->text);
        ngx_http_aigw_jw_lit(w, ",\"signature\":");
        ngx_http_aigw_jw_qstr(w, &part->signature);
        break;

    default: /* redacted */
        ngx_http_aigw_jw_lit(w, "{\"type\":\"redacted_thinking\",\"data\":");
        ngx_http_aigw_jw_qstr(w, &part->signature);
        break;
    }

    return NGX_OK;
}


static void
ngx_http_aigw_anthropic_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part)
{
    ngx_http_aigw_jw_cstr(w, part->type == ngx_http_aigw_part_image
                            ? "{\"type\":\"image\",\"source\":"
                            : "{\"type\":\"document\",\"source\":");

    if (part->url.len) {
        ngx_http_aigw_jw_lit(w, "{\"type\":\"url\",\"url\":");
        ngx_http_aigw_jw_qstr(w, &part->url);

    } else {
        ngx_http_aigw_jw_lit(w, "{\"type\":\"base64\",\"media_type\":");
        ngx_http_aigw_jw_qstr(w, &part->media_type);
        ngx_http_aigw_jw_lit(w, ",\"data\":");
        ngx_http_aigw_jw_qstr(w, &part->data);
    }

    ngx_http_aigw_jw_lit(w, "}");
}

/* anthropic-ratelimit-requests-limit, ... reset as an RFC 3339 time */

static ngx_int_t
ngx_http_aigw_anthropic_ratelimit_headers(ngx_http_request_t *r,
    const char *what, int64_t limit, int64_t remaining, int64_t reset,
    int64_t now)
{
    u_char      *p;
    ngx_str_t    v[3];
    ngx_uint_t   i;

    static const char  *names[] = { "limit", "remaining", "reset" };

    p = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN + 32 + 3 * 48);
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
    p = ngx_http_aigw_rfc3339(p, (time_t) ((now + reset + 999) / 1000));
    v[2].len = p - v[2].data;

    for (i = 0; i < 3; i++) {
        ngx_sprintf(p, "anthropic-ratelimit-%s-%s%Z", what, names[i]);

        if (ngx_http_aigw_add_header(r, (const char *) p, &v[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        p += 48;
    }

    return NGX_OK;
}
