
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The OpenAI Responses API (POST /v1/responses) as a client surface.  A
 * provider that serves it natively (format=openai responses=on) gets the
 * request as it came, but for the model id and the gateway's own fields;
 * any other provider gets it translated through the canonical form, and
 * its answers and streams come back as Responses objects and events.
 */


/* an output item of a translated answer */

typedef struct {
    ngx_uint_t                 type;       /* text, tool_call, thinking */
    ngx_str_t                  call_id;    /* escaped */
    ngx_str_t                  name;
    ngx_str_t                  text;       /* escaped: text, arguments or
                                              summary, once complete */
    ngx_http_aigw_jw_t         acc;        /* the deltas, while open */
    ngx_str_t                  ns;         /* the call's namespace */
    unsigned                   custom:1;   /* a custom tool's call */
} ngx_http_aigw_responses_item_t;


/* the writer of a translated stream */

typedef struct {
    ngx_str_t                  id;         /* escaped */
    ngx_str_t                  model;
    time_t                     created;
    ngx_uint_t                 seq;        /* the next sequence_number */
    ngx_array_t                items;      /* ngx_http_aigw_responses_item_t */
    ngx_int_t                  open;       /* the open item, -1: none */
    ngx_uint_t                 stop;
    unsigned                   started:1;
    unsigned                   ended:1;
} ngx_http_aigw_responses_write_t;


/* the reader of a native stream: the events passed on */

typedef struct {
    ngx_uint_t                 events;
} ngx_http_aigw_responses_parse_t;


static ngx_int_t ngx_http_aigw_responses_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_responses_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_stateful(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *param);
static ngx_int_t ngx_http_aigw_responses_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_tool(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_str_t *ns, ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_tool_choice(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_format(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_input(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_item(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_chat_t *chat);
static ngx_int_t ngx_http_aigw_responses_parse_content(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts);
static ngx_int_t ngx_http_aigw_responses_write_response(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_responses_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static ngx_http_aigw_responses_write_t *ngx_http_aigw_responses_state(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_responses_start(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_responses_open(ngx_http_request_t *r,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_responses_close(
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_responses_delta(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_responses_failed(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_responses_event(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_jw_t *w, const char *type);
static void ngx_http_aigw_responses_item_ref(
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_responses_object(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *w, ngx_str_t *id, ngx_str_t *model, time_t created,
    const char *status, ngx_array_t *items, ngx_uint_t stop,
    ngx_uint_t done);
static void ngx_http_aigw_responses_item(ngx_http_aigw_jw_t *w,
    ngx_str_t *rid, ngx_uint_t n, ngx_http_aigw_responses_item_t *item,
    ngx_uint_t done);
static void ngx_http_aigw_responses_item_id(ngx_http_aigw_jw_t *w,
    ngx_str_t *rid, ngx_uint_t n, ngx_http_aigw_responses_item_t *item);
static ngx_uint_t ngx_http_aigw_responses_is_custom(ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *name);
static void ngx_http_aigw_responses_namespace(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_item_t *item);
static ngx_int_t ngx_http_aigw_responses_custom_input(ngx_pool_t *pool,
    ngx_http_aigw_responses_item_t *item);
static ngx_int_t ngx_http_aigw_responses_custom_call(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_uint_t e, ngx_http_aigw_part_t *part);
static void ngx_http_aigw_responses_echo(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *w, ngx_uint_t done);
static const char *ngx_http_aigw_responses_status(ngx_uint_t stop);
static ngx_int_t ngx_http_aigw_responses_id(ngx_pool_t *pool, ngx_str_t *id,
    ngx_str_t *out);
static void ngx_http_aigw_responses_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err);
static void ngx_http_aigw_responses_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one);
static void ngx_http_aigw_responses_write_count(ngx_http_aigw_jw_t *w,
    int64_t tokens);
static ngx_int_t ngx_http_aigw_responses_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n);
static ngx_int_t ngx_http_aigw_responses_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_responses_request_headers(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_responses_parse_response(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_str_t *body,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_responses_parse_output(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_responses_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events);
static void ngx_http_aigw_responses_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err);
static ngx_int_t ngx_http_aigw_responses_ratelimit_headers(
    ngx_http_request_t *r, const char *what, int64_t limit, int64_t remaining,
    int64_t reset, int64_t now);


/*
 * A custom tool (free-form text input, as Codex's apply_patch) goes to
 * other providers as a function of one string; this schema, by its
 * address, tells its calls from those of functions
 */

static ngx_str_t  ngx_http_aigw_responses_custom_schema =
    ngx_string("{\"type\":\"object\",\"properties\":{\"input\":"
               "{\"type\":\"string\"}},\"required\":[\"input\"],"
               "\"additionalProperties\":false}");


/* top-level fields and the types they must have, checked on every request */

static const ngx_http_aigw_field_t  ngx_http_aigw_responses_fields[] = {
    { ngx_string("input"),
      ngx_http_aigw_json_string, ngx_http_aigw_json_array, 0,
      "a string or an array" },

    { ngx_string("instructions"),
      ngx_http_aigw_json_string, 0, 0, "a string" },

    { ngx_string("tools"),
      ngx_http_aigw_json_array, 0, 0, "an array" },

    { ngx_string("tool_choice"),
      ngx_http_aigw_json_string, ngx_http_aigw_json_object, 0,
      "a string or an object" },

    { ngx_string("parallel_tool_calls"),
      ngx_http_aigw_json_true, ngx_http_aigw_json_false, 0, "a boolean" },

    { ngx_string("max_output_tokens"),
      ngx_http_aigw_json_number, 0, 1, "an integer" },

    { ngx_string("temperature"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("top_p"),
      ngx_http_aigw_json_number, 0, 0, "a number" },

    { ngx_string("reasoning"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("text"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("store"),
      ngx_http_aigw_json_true, ngx_http_aigw_json_false, 0, "a boolean" },

    { ngx_string("previous_response_id"),
      ngx_http_aigw_json_string, 0, 0, "a string" },

    { ngx_string("metadata"),
      ngx_http_aigw_json_object, 0, 0, "an object" },

    { ngx_string("user"),
      ngx_http_aigw_json_string, 0, 0, "a string" },

    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_responses_format = {
    ngx_string("responses"),
    { ngx_string("/responses"),                        /* chat */
      ngx_null_string,                                  /* count tokens */
      ngx_null_string },                                /* embeddings */
    ngx_http_aigw_auth_bearer,
    0,                                                  /* own credential */
    { ngx_string("/responses"),                        /* client paths */
      ngx_null_string,
      ngx_null_string },
    ngx_null_string,                                    /* client header */

    ngx_http_aigw_responses_fields,                     /* fields */
    "\"%s\" must be %s",                                /* field error */
    ngx_http_aigw_responses_validate,                   /* validate */
    ngx_http_aigw_responses_parse_request,              /* parse request */
    ngx_http_aigw_responses_write_response,             /* write response */
    ngx_http_aigw_responses_write_event,                /* write event */
    ngx_http_aigw_responses_write_error,                /* write error */
    ngx_http_aigw_responses_write_models,               /* write models */
    ngx_http_aigw_responses_write_count,                /* write count */

    ngx_http_aigw_responses_passthrough,                /* passthrough */
    ngx_http_aigw_responses_write_request,              /* write request */
    ngx_http_aigw_responses_request_headers,            /* request headers */
    ngx_http_aigw_responses_parse_response,             /* parse response */
    ngx_http_aigw_responses_parse_event,                /* parse event */
    ngx_http_aigw_responses_parse_error,                /* parse error */
    &ngx_http_aigw_sse_framing,                         /* framing */
    NULL,                                               /* target */
    ngx_http_aigw_responses_ratelimit_headers,          /* rate limits */
    NULL,                                               /* sign */
    NULL,                                               /* request model */
    ngx_null_string                                     /* models path */
};


#define ngx_http_aigw_is(name)                                               \
    (key.len == sizeof(name) - 1                                             \
     && ngx_strncmp(key.data, name, sizeof(name) - 1) == 0)


static ngx_int_t
ngx_http_aigw_responses_validate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t             v;
    ngx_http_aigw_json_t  *j;

    j = &ctx->json;

    v = ngx_http_aigw_json_get(j, 0, "input");

    if (v != NGX_HTTP_AIGW_JSON_NONE
        && j->toks[v].type == ngx_http_aigw_json_array
        && j->toks[v].count == 0)
    {
        return ngx_http_aigw_reject(r, ctx, "\"input\" must not be empty");
    }

    return NGX_OK;
}


/* translation: a Responses request into the canonical form */

static ngx_int_t
ngx_http_aigw_responses_parse_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat)
{
    ngx_int_t   rc;
    ngx_uint_t  k, input;

    chat->max_tokens = -1;
    chat->parallel_tools = -1;

    if (ngx_array_init(&chat->system, r->pool, 1,
                       sizeof(ngx_http_aigw_part_t))
        != NGX_OK
        || ngx_array_init(&chat->messages, r->pool, 4,
                          sizeof(ngx_http_aigw_msg_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    input = NGX_HTTP_AIGW_JSON_NONE;

    for (k = 1; k < j->toks[0].next; k = j->toks[k + 1].next) {

        if (j->toks[k + 1].type == ngx_http_aigw_json_null) {
            continue;
        }

        if (ngx_http_aigw_json_key_eq(j, k, "input")) {
            input = k + 1;
            continue;
        }

        rc = ngx_http_aigw_responses_parse_field(r, ctx, j, k, chat);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (input == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_reject(r, ctx, "missing required field "
                                    "\"input\"");
    }

    return ngx_http_aigw_responses_parse_input(r, ctx, j, input, chat);
}


/* a top-level field "k" of the request, other than input and null */

static ngx_int_t
ngx_http_aigw_responses_parse_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat)
{
    int64_t                n;
    ngx_str_t              key;
    ngx_uint_t             v, m;
    ngx_http_aigw_part_t  *part;

    v = k + 1;
    ngx_http_aigw_json_str_raw(j, k, &key);

    if (ngx_http_aigw_is("instructions")) {
        part = ngx_http_aigw_part_add(&chat->system, ngx_http_aigw_part_text);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, v, &part->text);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("max_output_tokens")) {
        if (ngx_http_aigw_json_int(j, v, &n) != NGX_OK || n < 1) {
            return ngx_http_aigw_reject(r, ctx, "\"max_output_tokens\" must "
                                        "be a positive integer");
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

    if (ngx_http_aigw_is("user") || ngx_http_aigw_is("safety_identifier")) {
        if (j->toks[v].type == ngx_http_aigw_json_string) {
            ngx_http_aigw_json_str_raw(j, v, &chat->user);
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("parallel_tool_calls")) {
        chat->parallel_tools = (j->toks[v].type == ngx_http_aigw_json_true);
        return NGX_OK;
    }

    if (ngx_http_aigw_is("reasoning")) {
        m = ngx_http_aigw_json_get(j, v, "effort");

        if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, m, &chat->effort);

            chat->thinking = ngx_http_aigw_json_str_eq(j, m, "none")
                             ? ngx_http_aigw_think_disabled
                             : ngx_http_aigw_think_enabled;
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_is("text")) {
        m = ngx_http_aigw_json_get(j, v, "format");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
            return NGX_OK;
        }

        return ngx_http_aigw_responses_parse_format(r, ctx, j, m, chat);
    }

    if (ngx_http_aigw_is("tools")) {
        return ngx_http_aigw_responses_parse_tools(r, ctx, j, v, chat);
    }

    if (ngx_http_aigw_is("tool_choice")) {
        return ngx_http_aigw_responses_parse_tool_choice(r, ctx, j, v, chat);
    }

    /* what needs the provider to keep responses */

    if (ngx_http_aigw_is("previous_response_id")) {
        return ngx_http_aigw_responses_stateful(r, ctx,
                                                "previous_response_id");
    }

    if (ngx_http_aigw_is("conversation")) {
        return ngx_http_aigw_responses_stateful(r, ctx, "conversation");
    }

    if (ngx_http_aigw_is("store")
        && j->toks[v].type == ngx_http_aigw_json_true)
    {
        return ngx_http_aigw_responses_stateful(r, ctx, "store");
    }

    if (ngx_http_aigw_is("background")
        && j->toks[v].type == ngx_http_aigw_json_true)
    {
        return ngx_http_aigw_responses_stateful(r, ctx, "background");
    }

    if (ngx_http_aigw_is("prompt")) {
        return ngx_http_aigw_responses_stateful(r, ctx, "prompt");
    }

    /*
     * model, stream, store:false, include, metadata, prompt_cache_key,
     * service_tier, truncation, ...: no effect on the output
     */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: field \"%V\" dropped in translation", &key);

    return NGX_OK;
}


/* a 400 naming the field: the gateway keeps no responses */

static ngx_int_t
ngx_http_aigw_responses_stateful(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *param)
{
    ngx_int_t  rc;

    rc = ngx_http_aigw_reject(r, ctx, "\"%s\" needs a provider that serves "
                              "the Responses API natively (responses=on): "
                              "the gateway keeps no responses", param);

    if (rc == NGX_DECLINED) {
        ctx->error.param.data = (u_char *) param;
        ctx->error.param.len = ngx_strlen(param);
    }

    return rc;
}


/*
 * Tools: function and custom tools, and those of namespace tools as
 * "<namespace>__<name>"; hosted tools (web_search, file_search, mcp, ...)
 * no translated provider can run are dropped
 */

static ngx_int_t
ngx_http_aigw_responses_parse_tools(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_int_t   rc;
    ngx_str_t   ns;
    ngx_uint_t  e, m, n, t;

    if (ngx_array_init(&chat->tools, r->pool, ngx_max(j->toks[v].count, 1),
                       sizeof(ngx_http_aigw_tool_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        m = ngx_http_aigw_json_get(j, e, "type");

        if (!ngx_http_aigw_json_str_eq(j, m, "namespace")) {
            ngx_str_null(&ns);

            rc = ngx_http_aigw_responses_tool(r, ctx, j, e, &ns, chat);
            if (rc != NGX_OK) {
                return rc;
            }

            continue;
        }

        if (!ngx_http_aigw_json_get_str(j, e, "name", &ns) || ns.len == 0) {
            return ngx_http_aigw_reject(r, ctx, "a namespace tool has no "
                                        "\"name\"");
        }

        n = ngx_http_aigw_json_get(j, e, "tools");

        if (!ngx_http_aigw_json_is(j, n, ngx_http_aigw_json_array)) {
            return ngx_http_aigw_reject(r, ctx, "a namespace tool has no "
                                        "\"tools\"");
        }

        for (t = n + 1; t < j->toks[n].next; t = j->toks[t].next) {
            rc = ngx_http_aigw_responses_tool(r, ctx, j, t, &ns, chat);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


/* a tool "e", in namespace "ns" if ns->len */

static ngx_int_t
ngx_http_aigw_responses_tool(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_uint_t e, ngx_str_t *ns,
    ngx_http_aigw_chat_t *chat)
{
    u_char                *p;
    ngx_str_t              type, name;
    ngx_uint_t             m, custom;
    ngx_http_aigw_tool_t  *tool;

    m = ngx_http_aigw_json_get(j, e, "type");

    if (!ngx_http_aigw_json_str_eq(j, m, "function")
        && !ngx_http_aigw_json_str_eq(j, m, "custom"))
    {
        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "a tool has no \"type\"");
        }

        ngx_http_aigw_json_str_raw(j, m, &type);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "aigw: tool of type \"%V\" dropped: the provider "
                      "cannot run it", &type);

        return NGX_OK;
    }

    custom = ngx_http_aigw_json_str_eq(j, m, "custom");

    m = ngx_http_aigw_json_get(j, e, "name");

    if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
        return ngx_http_aigw_reject(r, ctx, "a tool has no \"name\"");
    }

    tool = ngx_http_aigw_tool_add(&chat->tools);
    if (tool == NULL) {
        return NGX_ERROR;
    }

    ngx_http_aigw_json_str_raw(j, m, &tool->name);

    if (ns->len) {
        name = tool->name;

        tool->ns = ns->len + 2;
        tool->name.len = tool->ns + name.len;
        tool->name.data = ngx_pnalloc(r->pool, tool->name.len);
        if (tool->name.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(tool->name.data, ns->data, ns->len);
        p = ngx_cpymem(p, "__", 2);
        ngx_memcpy(p, name.data, name.len);
    }

    (void) ngx_http_aigw_json_get_str(j, e, "description",
                                      &tool->description);

    if (custom) {
        tool->schema = ngx_http_aigw_responses_custom_schema;
        return NGX_OK;
    }

    m = ngx_http_aigw_json_get(j, e, "parameters");
    if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
        ngx_http_aigw_json_raw(j, m, &tool->schema);
    }

    ngx_http_aigw_json_get_raw(j, e, "strict", &tool->strict);

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_responses_parse_tool_choice(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_str_t   type;
    ngx_uint_t  m;

    if (ngx_http_aigw_json_str_eq(j, v, "auto")) {
        chat->tool_choice = ngx_http_aigw_choice_auto;

    } else if (ngx_http_aigw_json_str_eq(j, v, "none")) {
        chat->tool_choice = ngx_http_aigw_choice_none;

    } else if (ngx_http_aigw_json_str_eq(j, v, "required")) {
        chat->tool_choice = ngx_http_aigw_choice_any;

    } else {
        m = ngx_http_aigw_json_get(j, v, "type");

        if (!ngx_http_aigw_json_str_eq(j, m, "function")
            && !ngx_http_aigw_json_str_eq(j, m, "custom"))
        {
            if (ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                ngx_http_aigw_json_str_raw(j, m, &type);

                return ngx_http_aigw_reject(r, ctx, "\"tool_choice\" "
                                            "forces a tool of type \"%V\" "
                                            "that this provider cannot "
                                            "run", &type);
            }

            return ngx_http_aigw_reject(r, ctx, "unsupported "
                                        "\"tool_choice\"");
        }

        m = ngx_http_aigw_json_get(j, v, "name");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "\"tool_choice\" has no "
                                        "\"name\"");
        }

        chat->tool_choice = ngx_http_aigw_choice_tool;
        ngx_http_aigw_json_str_raw(j, m, &chat->tool_choice_name);
    }

    return NGX_OK;
}


/* text.format "v": text, json_object, or json_schema{name,schema,strict} */

static ngx_int_t
ngx_http_aigw_responses_parse_format(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t  m;

    m = ngx_http_aigw_json_get(j, v, "type");

    if (ngx_http_aigw_json_str_eq(j, m, "text")) {
        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, m, "json_object")) {
        chat->json_output = ngx_http_aigw_json_output_object;
        return NGX_OK;
    }

    if (!ngx_http_aigw_json_str_eq(j, m, "json_schema")) {
        return ngx_http_aigw_reject(r, ctx, "unsupported \"text.format\"");
    }

    m = ngx_http_aigw_json_get(j, v, "schema");

    if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_object)) {
        return ngx_http_aigw_reject(r, ctx, "\"text.format\" of type "
                                    "json_schema needs a \"schema\"");
    }

    chat->json_output = ngx_http_aigw_json_output_schema;
    ngx_http_aigw_json_raw(j, m, &chat->json_schema);

    (void) ngx_http_aigw_json_get_str(j, v, "name", &chat->json_schema_name);
    ngx_http_aigw_json_get_raw(j, v, "strict", &chat->json_schema_strict);

    return NGX_OK;
}


/* "input": a string (one user message) or a list of items */

static ngx_int_t
ngx_http_aigw_responses_parse_input(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat)
{
    ngx_int_t             rc;
    ngx_uint_t            e;
    ngx_http_aigw_msg_t  *msg;

    if (j->toks[v].type == ngx_http_aigw_json_string) {
        msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        msg->role = ngx_http_aigw_role_user;

        return ngx_http_aigw_parse_text(j, v, &msg->parts);
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {

        if (j->toks[e].type != ngx_http_aigw_json_object) {
            return ngx_http_aigw_reject(r, ctx, "each of \"input\" must be "
                                        "an object");
        }

        rc = ngx_http_aigw_responses_parse_item(r, ctx, j, e, chat);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * An input item "e": a message, a function call (joined to the assistant
 * message before it), a function call's output (a tool message); the
 * reasoning of another provider is dropped
 */

static ngx_int_t
ngx_http_aigw_responses_parse_item(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_chat_t *chat)
{
    u_char                *p;
    ngx_int_t              rc;
    ngx_str_t              ns, name;
    ngx_uint_t             t, m;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t  *part;

    t = ngx_http_aigw_json_get(j, e, "type");

    if (t == NGX_HTTP_AIGW_JSON_NONE
        || ngx_http_aigw_json_str_eq(j, t, "message"))
    {
        msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        m = ngx_http_aigw_json_get(j, e, "role");

        if (ngx_http_aigw_json_str_eq(j, m, "user")) {
            msg->role = ngx_http_aigw_role_user;

        } else if (ngx_http_aigw_json_str_eq(j, m, "assistant")) {
            msg->role = ngx_http_aigw_role_assistant;

        } else if (ngx_http_aigw_json_str_eq(j, m, "system")
                   || ngx_http_aigw_json_str_eq(j, m, "developer"))
        {
            msg->role = ngx_http_aigw_role_system;

        } else {
            return ngx_http_aigw_reject(r, ctx, "an input message has no "
                                        "valid \"role\"");
        }

        m = ngx_http_aigw_json_get(j, e, "content");

        return ngx_http_aigw_responses_parse_content(r, ctx, j, m,
                                                     &msg->parts);
    }

    if (ngx_http_aigw_json_str_eq(j, t, "function_call")
        || ngx_http_aigw_json_str_eq(j, t, "custom_tool_call"))
    {
        msg = chat->messages.nelts ? chat->messages.elts : NULL;

        if (msg) {
            msg = &msg[chat->messages.nelts - 1];
        }

        if (msg == NULL || msg->role != ngx_http_aigw_role_assistant) {
            msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
            if (msg == NULL) {
                return NGX_ERROR;
            }

            msg->role = ngx_http_aigw_role_assistant;
        }

        part = ngx_http_aigw_part_add(&msg->parts,
                                      ngx_http_aigw_part_tool_call);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->input_string = 1;

        if (!ngx_http_aigw_json_get_str(j, e, "call_id", &part->id)
            || !ngx_http_aigw_json_get_str(j, e, "name", &part->name))
        {
            return ngx_http_aigw_reject(r, ctx, "a tool call item needs "
                                        "\"call_id\" and \"name\"");
        }

        if (ngx_http_aigw_json_get_str(j, e, "namespace", &ns) && ns.len) {
            /* the name of the flattened namespace tool */

            p = ngx_pnalloc(r->pool, ns.len + 2 + part->name.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            name.data = p;
            p = ngx_cpymem(p, ns.data, ns.len);
            p = ngx_cpymem(p, "__", 2);
            p = ngx_cpymem(p, part->name.data, part->name.len);
            name.len = p - name.data;

            part->name = name;
        }

        if (ngx_http_aigw_json_str_eq(j, t, "custom_tool_call")) {
            return ngx_http_aigw_responses_custom_call(r, j, e, part);
        }

        (void) ngx_http_aigw_json_get_str(j, e, "arguments", &part->input);

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "function_call_output")
        || ngx_http_aigw_json_str_eq(j, t, "custom_tool_call_output"))
    {
        msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        msg->role = ngx_http_aigw_role_tool;

        if (!ngx_http_aigw_json_get_str(j, e, "call_id", &msg->tool_call_id))
        {
            return ngx_http_aigw_reject(r, ctx, "a tool output item needs "
                                        "\"call_id\"");
        }

        m = ngx_http_aigw_json_get(j, e, "output");

        rc = ngx_http_aigw_responses_parse_content(r, ctx, j, m, &msg->parts);
        if (rc != NGX_OK) {
            return rc;
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "reasoning")) {
        return NGX_OK;
    }

    if (ngx_http_aigw_json_str_eq(j, t, "item_reference")) {
        return ngx_http_aigw_responses_stateful(r, ctx, "input");
    }

    return ngx_http_aigw_reject(r, ctx, "this input item type cannot be "
                                "translated for this provider");
}


/*
 * A custom tool's call "e" as the call of its function: the arguments
 * {"input":"<input>"}, as the escaped text of a JSON string
 */

static ngx_int_t
ngx_http_aigw_responses_custom_call(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_uint_t e, ngx_http_aigw_part_t *part)
{
    ngx_str_t           input;
    ngx_http_aigw_jw_t  w;

    ngx_str_null(&input);
    (void) ngx_http_aigw_json_get_str(j, e, "input", &input);

    ngx_http_aigw_jw_init(&w, r->pool, input.len + 32);

    ngx_http_aigw_jw_lit(&w, "{\\\"input\\\":\\\"");
    ngx_http_aigw_jw_escape(&w, input.data, input.len);
    ngx_http_aigw_jw_lit(&w, "\\\"}");

    return ngx_http_aigw_jw_flatten(&w, &part->input);
}


/*
 * Content "v" of a message or a function call's output: a string, or
 * input_text, output_text, refusal and input_image parts
 */

static ngx_int_t
ngx_http_aigw_responses_parse_content(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts)
{
    u_char                *c;
    ngx_int_t              rc;
    ngx_str_t              url;
    ngx_uint_t             e, m;
    ngx_http_aigw_part_t  *part;

    rc = ngx_http_aigw_parse_text(j, v, parts);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (j->toks[v].type != ngx_http_aigw_json_array) {
        return ngx_http_aigw_reject(r, ctx, "\"content\" must be a string "
                                    "or an array");
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        m = ngx_http_aigw_json_get(j, e, "type");

        if (ngx_http_aigw_json_str_eq(j, m, "input_text")
            || ngx_http_aigw_json_str_eq(j, m, "output_text")
            || ngx_http_aigw_json_str_eq(j, m, "refusal"))
        {
            m = ngx_http_aigw_json_get(j, e,
                                       ngx_http_aigw_json_str_eq(j, m,
                                                                 "refusal")
                                       ? "refusal" : "text");

            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                return ngx_http_aigw_reject(r, ctx, "a text part has no "
                                            "text");
            }

            part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_text);
            if (part == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(j, m, &part->text);
            continue;
        }

        if (!ngx_http_aigw_json_str_eq(j, m, "input_image")) {
            return ngx_http_aigw_reject(r, ctx, "this content part type "
                                        "cannot be translated for this "
                                        "provider");
        }

        m = ngx_http_aigw_json_get(j, e, "image_url");

        if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
            return ngx_http_aigw_reject(r, ctx, "only images given inline "
                                        "or by URL can be translated");
        }

        part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_image);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, m, &url);

        /* data:<media type>;base64,<data> */

        if (url.len > 5 && ngx_strncmp(url.data, "data:", 5) == 0) {
            c = ngx_strnstr(url.data, ";base64,", url.len);

            if (c == NULL) {
                return ngx_http_aigw_reject(r, ctx, "a data URL must be "
                                            "base64");
            }

            part->media_type.data = url.data + 5;
            part->media_type.len = c - url.data - 5;
            part->data.data = c + 8;
            part->data.len = url.data + url.len - c - 8;

        } else {
            part->url = url;
        }
    }

    return NGX_OK;
}

#undef ngx_http_aigw_is


/* client side: a translated answer as a response object */

static ngx_int_t
ngx_http_aigw_responses_write_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t                        id, s;
    ngx_uint_t                       i;
    ngx_array_t                      items;
    ngx_http_aigw_jw_t               aw;
    ngx_http_aigw_part_t            *part;
    ngx_http_aigw_responses_item_t  *item, *last;

    if (ngx_array_init(&items, r->pool, ngx_max(resp->parts.nelts, 1),
                       sizeof(ngx_http_aigw_responses_item_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = resp->parts.elts;
    last = NULL;

    for (i = 0; i < resp->parts.nelts; i++) {

        switch (part[i].type) {

        case ngx_http_aigw_part_text:

            /* adjacent text parts are one output_text */

            if (last && last->type == ngx_http_aigw_part_text) {
                ngx_http_aigw_jw_str(&last->acc, &part[i].text);
                continue;
            }

            break;

        case ngx_http_aigw_part_tool_call:
        case ngx_http_aigw_part_thinking:
            break;

        default:
            continue;
        }

        item = ngx_array_push(&items);
        if (item == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(item, sizeof(ngx_http_aigw_responses_item_t));
        item->type = part[i].type;
        item->call_id = part[i].id;
        item->name = part[i].name;

        ngx_http_aigw_jw_init(&item->acc, r->pool, 256);

        if (part[i].type == ngx_http_aigw_part_tool_call
            && !part[i].input_string)
        {
            /* a JSON value (Anthropic's input) becomes a JSON string */

            ngx_http_aigw_jw_init(&aw, r->pool, part[i].input.len + 16);
            ngx_http_aigw_jw_escape(&aw, part[i].input.data,
                                    part[i].input.len);

            if (ngx_http_aigw_jw_flatten(&aw, &s) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_aigw_jw_str(&item->acc, &s);

        } else if (part[i].type == ngx_http_aigw_part_tool_call) {
            ngx_http_aigw_jw_str(&item->acc, &part[i].input);

        } else {
            ngx_http_aigw_jw_str(&item->acc, &part[i].text);
        }

        last = item;
    }

    item = items.elts;

    for (i = 0; i < items.nelts; i++) {
        if (ngx_http_aigw_jw_flatten(&item[i].acc, &item[i].text) != NGX_OK) {
            return NGX_ERROR;
        }

        if (item[i].type == ngx_http_aigw_part_tool_call
            && ngx_http_aigw_responses_is_custom(ctx, &item[i].name))
        {
            item[i].custom = 1;

            if (ngx_http_aigw_responses_custom_input(r->pool, &item[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (item[i].type == ngx_http_aigw_part_tool_call) {
            ngx_http_aigw_responses_namespace(ctx, &item[i]);
        }
    }

    if (ngx_http_aigw_responses_id(r->pool, &resp->id, &id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_aigw_responses_object(ctx, w, &id, &resp->model, ngx_time(),
                                   ngx_http_aigw_responses_status(resp->stop),
                                   &items, resp->stop, 1);
    ngx_http_aigw_jw_lit(w, "\n");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* "resp_" and the provider's id (escaped) unless it has it, or "resp_aigw" */

static ngx_int_t
ngx_http_aigw_responses_id(ngx_pool_t *pool, ngx_str_t *id, ngx_str_t *out)
{
    u_char  *p;

    if (id->len == 0) {
        ngx_str_set(out, "resp_aigw");
        return NGX_OK;
    }

    if (id->len > 5 && ngx_strncmp(id->data, "resp_", 5) == 0) {
        *out = *id;
        return NGX_OK;
    }

    p = ngx_pnalloc(pool, sizeof("resp_") - 1 + id->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* out may be id */

    ngx_memcpy(p + sizeof("resp_") - 1, id->data, id->len);
    ngx_memcpy(p, "resp_", sizeof("resp_") - 1);

    out->len = sizeof("resp_") - 1 + id->len;
    out->data = p;

    return NGX_OK;
}


static const char *
ngx_http_aigw_responses_status(ngx_uint_t stop)
{
    if (stop == ngx_http_aigw_stop_length
        || stop == ngx_http_aigw_stop_filter)
    {
        return "incomplete";
    }

    return "completed";
}


/*
 * The response object: the answer so far ("items", NULL: none yet) and
 * the request's parameters echoed back; "done": the answer is complete,
 * with its usage
 */

static void
ngx_http_aigw_responses_object(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_jw_t *w, ngx_str_t *id, ngx_str_t *model, time_t created,
    const char *status, ngx_array_t *items, ngx_uint_t stop,
    ngx_uint_t done)
{
    ngx_uint_t                       i;
    ngx_http_aigw_usage_t           *u;
    ngx_http_aigw_responses_item_t  *item;

    ngx_http_aigw_jw_lit(w, "{\"id\":");
    ngx_http_aigw_jw_qstr(w, id);
    ngx_http_aigw_jw_lit(w, ",\"object\":\"response\",\"created_at\":");
    ngx_http_aigw_jw_int(w, created);
    ngx_http_aigw_jw_lit(w, ",\"status\":\"");
    ngx_http_aigw_jw_cstr(w, status);
    ngx_http_aigw_jw_lit(w, "\",\"model\":");
    ngx_http_aigw_write_model(w, model, &ctx->model);
    ngx_http_aigw_jw_lit(w, ",\"output\":[");

    if (items) {
        item = items->elts;

        for (i = 0; i < items->nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? "," : "");
            ngx_http_aigw_responses_item(w, id, i, &item[i], 1);
        }
    }

    ngx_http_aigw_jw_lit(w, "],\"error\":null,\"incomplete_details\":");

    if (stop == ngx_http_aigw_stop_length) {
        ngx_http_aigw_jw_lit(w, "{\"reason\":\"max_output_tokens\"}");

    } else if (stop == ngx_http_aigw_stop_filter) {
        ngx_http_aigw_jw_lit(w, "{\"reason\":\"content_filter\"}");

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, ",\"usage\":");

    if (done) {
        u = &ctx->usage;

        ngx_http_aigw_jw_lit(w, "{\"input_tokens\":");
        ngx_http_aigw_jw_int(w, u->input);
        ngx_http_aigw_jw_lit(w, ",\"input_tokens_details\":"
                                "{\"cached_tokens\":");
        ngx_http_aigw_jw_int(w, u->cache_read);
        ngx_http_aigw_jw_lit(w, "},\"output_tokens\":");
        ngx_http_aigw_jw_int(w, u->output);
        ngx_http_aigw_jw_lit(w, ",\"output_tokens_details\":"
                                "{\"reasoning_tokens\":");
        ngx_http_aigw_jw_int(w, u->reasoning);
        ngx_http_aigw_jw_lit(w, "},\"total_tokens\":");
        ngx_http_aigw_jw_int(w, u->input + u->output);
        ngx_http_aigw_jw_lit(w, "}");

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_responses_echo(ctx, w, done);

    ngx_http_aigw_jw_lit(w, "}");
}


/*
 * The request's parameters, as the client sent them, or their defaults;
 * instructions and tools, often most of a request, only once the answer
 * is complete (not in the events that open a stream)
 */

static void
ngx_http_aigw_responses_echo(ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_jw_t *w,
    ngx_uint_t done)
{
    ngx_str_t              raw;
    ngx_uint_t             i;
    ngx_http_aigw_json_t  *j;

    static const struct {
        ngx_str_t          key;       /* ,"name": */
        const char        *name;
        ngx_str_t          def;
        ngx_uint_t         big;
    } echo[] = {
        { ngx_string(",\"instructions\":"), "instructions",
          ngx_string("null"), 1 },
        { ngx_string(",\"max_output_tokens\":"), "max_output_tokens",
          ngx_string("null"), 0 },
        { ngx_string(",\"parallel_tool_calls\":"), "parallel_tool_calls",
          ngx_string("true"), 0 },
        { ngx_string(",\"previous_response_id\":"), "previous_response_id",
          ngx_string("null"), 0 },
        { ngx_string(",\"reasoning\":"), "reasoning",
          ngx_string("{\"effort\":null,\"summary\":null}"), 0 },
        { ngx_string(",\"temperature\":"), "temperature",
          ngx_string("1"), 0 },
        { ngx_string(",\"text\":"), "text",
          ngx_string("{\"format\":{\"type\":\"text\"}}"), 0 },
        { ngx_string(",\"tool_choice\":"), "tool_choice",
          ngx_string("\"auto\""), 0 },
        { ngx_string(",\"tools\":"), "tools", ngx_string("[]"), 1 },
        { ngx_string(",\"top_p\":"), "top_p", ngx_string("1"), 0 },
        { ngx_string(",\"metadata\":"), "metadata", ngx_string("{}"), 0 },
        { ngx_string(",\"user\":"), "user", ngx_string("null"), 0 }
    };

    j = &ctx->json;

    for (i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {

        if (!done && echo[i].big) {
            continue;
        }

        ngx_http_aigw_jw_str(w, &echo[i].key);

        ngx_str_null(&raw);
        ngx_http_aigw_json_get_raw(j, 0, echo[i].name, &raw);

        if (raw.len == 0 || (raw.len == 4 && raw.data[0] == 'n')) {
            raw = echo[i].def;
        }

        ngx_http_aigw_jw_str(w, &raw);
    }

    ngx_str_null(&raw);
    ngx_http_aigw_json_get_raw(j, 0, "store", &raw);

    if (raw.len == 4 && raw.data[0] == 't') {
        ngx_http_aigw_jw_lit(w, ",\"store\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"store\":false");
    }
}


/* an output item; "done": complete, else as it opens */

static void
ngx_http_aigw_responses_item(ngx_http_aigw_jw_t *w, ngx_str_t *rid,
    ngx_uint_t n, ngx_http_aigw_responses_item_t *item, ngx_uint_t done)
{
    if (item->custom) {
        ngx_http_aigw_jw_lit(w, "{\"type\":\"custom_tool_call\",\"id\":");
        ngx_http_aigw_responses_item_id(w, rid, n, item);
        ngx_http_aigw_jw_lit(w, ",\"call_id\":");
        ngx_http_aigw_jw_qstr(w, &item->call_id);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &item->name);

        if (item->ns.len) {
            ngx_http_aigw_jw_lit(w, ",\"namespace\":");
            ngx_http_aigw_jw_qstr(w, &item->ns);
        }

        ngx_http_aigw_jw_lit(w, ",\"input\":\"");

        if (done) {
            ngx_http_aigw_jw_str(w, &item->text);
        }

        ngx_http_aigw_jw_lit(w, "\"}");
        return;
    }

    switch (item->type) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"function_call\",\"id\":");
        ngx_http_aigw_responses_item_id(w, rid, n, item);
        ngx_http_aigw_jw_lit(w, ",\"call_id\":");
        ngx_http_aigw_jw_qstr(w, &item->call_id);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &item->name);

        if (item->ns.len) {
            ngx_http_aigw_jw_lit(w, ",\"namespace\":");
            ngx_http_aigw_jw_qstr(w, &item->ns);
        }

        ngx_http_aigw_jw_lit(w, ",\"arguments\":\"");

        if (done) {
            ngx_http_aigw_jw_str(w, &item->text);
        }

        ngx_http_aigw_jw_cstr(w, done ? "\",\"status\":\"completed\"}"
                                      : "\",\"status\":\"in_progress\"}");
        return;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"reasoning\",\"id\":");
        ngx_http_aigw_responses_item_id(w, rid, n, item);
        ngx_http_aigw_jw_lit(w, ",\"summary\":[");

        if (done) {
            ngx_http_aigw_jw_lit(w, "{\"type\":\"summary_text\",\"text\":\"");
            ngx_http_aigw_jw_str(w, &item->text);
            ngx_http_aigw_jw_lit(w, "\"}");
        }

        ngx_http_aigw_jw_lit(w, "]}");
        return;

    default:
        ngx_http_aigw_jw_lit(w, "{\"type\":\"message\",\"id\":");
        ngx_http_aigw_responses_item_id(w, rid, n, item);
        ngx_http_aigw_jw_cstr(w, done ? ",\"status\":\"completed\""
                                      : ",\"status\":\"in_progress\"");
        ngx_http_aigw_jw_lit(w, ",\"role\":\"assistant\",\"content\":[");

        if (done) {
            ngx_http_aigw_jw_lit(w, "{\"type\":\"output_text\",\"text\":\"");
            ngx_http_aigw_jw_str(w, &item->text);
            ngx_http_aigw_jw_lit(w, "\",\"annotations\":[],\"logprobs\":[]}");
        }

        ngx_http_aigw_jw_lit(w, "]}");
        return;
    }
}


/* "msg_<n>_<response id>", "fc_...", "ctc_...", "rs_..." */

static void
ngx_http_aigw_responses_item_id(ngx_http_aigw_jw_t *w, ngx_str_t *rid,
    ngx_uint_t n, ngx_http_aigw_responses_item_t *item)
{
    ngx_str_t  tail;

    tail = *rid;

    if (tail.len > 5 && ngx_strncmp(tail.data, "resp_", 5) == 0) {
        tail.data += 5;
        tail.len -= 5;
    }

    switch (item->type) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_cstr(w, item->custom ? "\"ctc_" : "\"fc_");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "\"rs_");
        break;

    default:
        ngx_http_aigw_jw_lit(w, "\"msg_");
        break;
    }

    ngx_http_aigw_jw_int(w, n);
    ngx_http_aigw_jw_lit(w, "_");
    ngx_http_aigw_jw_str(w, &tail);
    ngx_http_aigw_jw_lit(w, "\"");
}


/* whether a tool name is that of a custom tool of the request */

static ngx_uint_t
ngx_http_aigw_responses_is_custom(ngx_http_aigw_ctx_t *ctx, ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_http_aigw_tool_t  *tool;

    if (ctx == NULL || ctx->chat == NULL) {
        return 0;
    }

    tool = ctx->chat->tools.elts;

    for (i = 0; i < ctx->chat->tools.nelts; i++) {
        if (tool[i].schema.data == ngx_http_aigw_responses_custom_schema.data
            && tool[i].name.len == name->len
            && ngx_strncmp(tool[i].name.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The call of a namespace tool's function "<namespace>__<name>" as the
 * call of "<name>" in "<namespace>", as a native provider sends it
 */

static void
ngx_http_aigw_responses_namespace(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_item_t *item)
{
    ngx_uint_t             i;
    ngx_http_aigw_tool_t  *tool;

    if (ctx == NULL || ctx->chat == NULL) {
        return;
    }

    tool = ctx->chat->tools.elts;

    for (i = 0; i < ctx->chat->tools.nelts; i++) {
        if (tool[i].ns
            && tool[i].name.len == item->name.len
            && ngx_strncmp(tool[i].name.data, item->name.data,
                           item->name.len)
               == 0)
        {
            item->ns.data = item->name.data;
            item->ns.len = tool[i].ns - 2;
            item->name.data += tool[i].ns;
            item->name.len -= tool[i].ns;
            return;
        }
    }
}


/*
 * A custom tool's input: the "input" string of its function's arguments
 * (item->text, escaped), or all of them when they are not that
 */

static ngx_int_t
ngx_http_aigw_responses_custom_input(ngx_pool_t *pool,
    ngx_http_aigw_responses_item_t *item)
{
    ngx_str_t             args;
    ngx_uint_t            v;
    ngx_http_aigw_json_t  j;

    if (ngx_http_aigw_json_unescape(pool, &item->text, &args) != NGX_OK) {
        return NGX_OK;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = pool;
    j.record = 1;

    if (args.len == 0
        || ngx_http_aigw_json_parse(&j, args.data, args.len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(&j, 0, "input");

    if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
        ngx_http_aigw_json_str_raw(&j, v, &item->text);
    }

    return NGX_OK;
}


/*
 * client side: canonical stream events as Responses events.  The items
 * are kept as they grow: the done events and response.completed repeat
 * them whole.
 */

static ngx_int_t
ngx_http_aigw_responses_write_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_write_t  *st;

    st = ctx->wstate;

    if (st == NULL) {
        st = ngx_http_aigw_responses_state(r, ctx);
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->wstate = st;
    }

    if (st->ended) {
        return NGX_OK;
    }

    if (ev->type == ngx_http_aigw_ev_raw_end) {

        /* a native stream ended before its last event */

        ngx_http_aigw_jw_lit(w, "event: error\ndata: {\"type\":\"error\","
                                "\"sequence_number\":");
        ngx_http_aigw_jw_int(w, ctx->pstate
                             ? ((ngx_http_aigw_responses_parse_t *)
                                    ctx->pstate)->events
                             : 0);
        ngx_http_aigw_jw_lit(w, ",\"code\":\"server_error\",\"message\":"
                                "\"the provider's stream ended before it "
                                "finished\",\"param\":null}\n\n");
        st->ended = 1;
        return NGX_OK;
    }

    if (ev->type == ngx_http_aigw_ev_start) {
        if (ngx_http_aigw_event_keep(r->pool, ev, &st->id, &st->model)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ev->id.len
            && ngx_http_aigw_responses_id(r->pool, &st->id, &st->id)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (!st->started) {
        ngx_http_aigw_responses_start(ctx, st, w);
    }

    switch (ev->type) {

    case ngx_http_aigw_ev_block_start:
        if (ev->kind == ngx_http_aigw_part_text
            || ev->kind == ngx_http_aigw_part_tool_call
            || ev->kind == ngx_http_aigw_part_thinking)
        {
            return ngx_http_aigw_responses_open(r, st, ev, w);
        }

        break;

    case ngx_http_aigw_ev_delta:
        if (ev->kind != ngx_http_aigw_part_text
            && ev->kind != ngx_http_aigw_part_tool_call
            && ev->kind != ngx_http_aigw_part_thinking)
        {
            break;
        }

        if (st->open < 0
            || ((ngx_http_aigw_responses_item_t *) st->items.elts)[st->open]
                   .type != ev->kind)
        {
            /* a delta without its block start */

            if (ngx_http_aigw_responses_open(r, st, ev, w) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        ngx_http_aigw_responses_delta(st, ev, w);
        break;

    case ngx_http_aigw_ev_block_stop:
        return ngx_http_aigw_responses_close(st, w);

    case ngx_http_aigw_ev_finish:
        st->stop = ev->stop;
        return ngx_http_aigw_responses_close(st, w);

    case ngx_http_aigw_ev_end:
        if (ngx_http_aigw_responses_close(st, w) != NGX_OK) {
            return NGX_ERROR;
        }

        if (st->stop == ngx_http_aigw_stop_length
            || st->stop == ngx_http_aigw_stop_filter)
        {
            ngx_http_aigw_responses_event(st, w, "response.incomplete");

        } else {
            ngx_http_aigw_responses_event(st, w, "response.completed");
        }

        ngx_http_aigw_jw_lit(w, ",\"response\":");
        ngx_http_aigw_responses_object(ctx, w, &st->id, &st->model,
                                       st->created,
                                       ngx_http_aigw_responses_status(
                                           st->stop),
                                       &st->items, st->stop, 1);
        ngx_http_aigw_jw_lit(w, "}\n\n");
        st->ended = 1;
        break;

    case ngx_http_aigw_ev_error:
        ngx_http_aigw_responses_failed(ctx, st, ev, w);
        st->ended = 1;
        break;

    default:
        break;
    }

    return NGX_OK;
}


static ngx_http_aigw_responses_write_t *
ngx_http_aigw_responses_state(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_responses_write_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_responses_write_t));
    if (st == NULL) {
        return NULL;
    }

    if (ngx_array_init(&st->items, r->pool, 2,
                       sizeof(ngx_http_aigw_responses_item_t))
        != NGX_OK)
    {
        return NULL;
    }

    st->created = ngx_time();
    st->open = -1;
    st->stop = ngx_http_aigw_stop_end;
    ngx_str_set(&st->id, "resp_aigw");

    return st;
}


/* response.created and response.in_progress */

static void
ngx_http_aigw_responses_start(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_jw_t *w)
{
    st->started = 1;

    ngx_http_aigw_responses_event(st, w, "response.created");
    ngx_http_aigw_jw_lit(w, ",\"response\":");
    ngx_http_aigw_responses_object(ctx, w, &st->id, &st->model, st->created,
                                   "in_progress", NULL, 0, 0);
    ngx_http_aigw_jw_lit(w, "}\n\n");

    ngx_http_aigw_responses_event(st, w, "response.in_progress");
    ngx_http_aigw_jw_lit(w, ",\"response\":");
    ngx_http_aigw_responses_object(ctx, w, &st->id, &st->model, st->created,
                                   "in_progress", NULL, 0, 0);
    ngx_http_aigw_jw_lit(w, "}\n\n");
}


/* a new output item: the open one is done first */

static ngx_int_t
ngx_http_aigw_responses_open(ngx_http_request_t *r,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_item_t  *item;

    if (ngx_http_aigw_responses_close(st, w) != NGX_OK) {
        return NGX_ERROR;
    }

    item = ngx_array_push(&st->items);
    if (item == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(item, sizeof(ngx_http_aigw_responses_item_t));
    item->type = ev->kind;

    /* the event's strings do not outlive it */

    if (ev->kind == ngx_http_aigw_part_tool_call) {
        item->call_id.data = ngx_pstrdup(r->pool, &ev->id);
        item->name.data = ngx_pstrdup(r->pool, &ev->name);

        if ((ev->id.len && item->call_id.data == NULL)
            || (ev->name.len && item->name.data == NULL))
        {
            return NGX_ERROR;
        }

        item->call_id.len = ev->id.len;
        item->name.len = ev->name.len;

        item->custom = ngx_http_aigw_responses_is_custom(
                           ngx_http_get_module_ctx(r, ngx_http_aigw_module),
                           &item->name);

        ngx_http_aigw_responses_namespace(
            ngx_http_get_module_ctx(r, ngx_http_aigw_module), item);
    }

    ngx_http_aigw_jw_init(&item->acc, r->pool, 1024);

    st->open = st->items.nelts - 1;

    ngx_http_aigw_responses_event(st, w, "response.output_item.added");
    ngx_http_aigw_jw_lit(w, ",\"output_index\":");
    ngx_http_aigw_jw_int(w, st->open);
    ngx_http_aigw_jw_lit(w, ",\"item\":");
    ngx_http_aigw_responses_item(w, &st->id, st->open, item, 0);
    ngx_http_aigw_jw_lit(w, "}\n\n");

    if (item->type == ngx_http_aigw_part_text) {
        ngx_http_aigw_responses_event(st, w, "response.content_part.added");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"content_index\":0,\"part\":"
                                "{\"type\":\"output_text\",\"text\":\"\","
                                "\"annotations\":[],\"logprobs\":[]}}\n\n");

    } else if (item->type == ngx_http_aigw_part_thinking) {
        ngx_http_aigw_responses_event(st, w,
                                      "response.reasoning_summary_part.added");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"summary_index\":0,\"part\":"
                                "{\"type\":\"summary_text\",\"text\":\"\"}}"
                                "\n\n");
    }

    return NGX_OK;
}


static void
ngx_http_aigw_responses_delta(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_event_t *ev, ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_item_t  *item;

    item = st->items.elts;
    item = &item[st->open];

    ngx_http_aigw_jw_str(&item->acc, &ev->text);

    if (item->custom) {

        /* its input is known once all of the arguments are */

        return;
    }

    switch (item->type) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_responses_event(st, w,
                                    "response.function_call_arguments.delta");
        ngx_http_aigw_responses_item_ref(st, w);
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_responses_event(st, w,
                                      "response.reasoning_summary_text.delta");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"summary_index\":0");
        break;

    default:
        ngx_http_aigw_responses_event(st, w, "response.output_text.delta");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"content_index\":0,\"logprobs\":[]");
        break;
    }

    ngx_http_aigw_jw_lit(w, ",\"delta\":");
    ngx_http_aigw_jw_qstr(w, &ev->text);
    ngx_http_aigw_jw_lit(w, "}\n\n");
}


/* the open item is done: its done events, with all of it */

static ngx_int_t
ngx_http_aigw_responses_close(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_item_t  *item;

    if (st->open < 0) {
        return NGX_OK;
    }

    item = st->items.elts;
    item = &item[st->open];

    if (ngx_http_aigw_jw_flatten(&item->acc, &item->text) != NGX_OK) {
        return NGX_ERROR;
    }

    if (item->custom) {
        if (ngx_http_aigw_responses_custom_input(st->items.pool, item)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_aigw_responses_event(st, w,
                                      "response.custom_tool_call_input.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"input\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, "}\n\n");

        goto done;
    }

    switch (item->type) {

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_responses_event(st, w,
                                     "response.function_call_arguments.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &item->name);
        ngx_http_aigw_jw_lit(w, ",\"arguments\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, "}\n\n");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_responses_event(st, w,
                                      "response.reasoning_summary_text.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"summary_index\":0,\"text\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, "}\n\n");

        ngx_http_aigw_responses_event(st, w,
                                      "response.reasoning_summary_part.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"summary_index\":0,\"part\":"
                                "{\"type\":\"summary_text\",\"text\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, "}}\n\n");
        break;

    default:
        ngx_http_aigw_responses_event(st, w, "response.output_text.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"content_index\":0,\"text\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, ",\"logprobs\":[]}\n\n");

        ngx_http_aigw_responses_event(st, w, "response.content_part.done");
        ngx_http_aigw_responses_item_ref(st, w);
        ngx_http_aigw_jw_lit(w, ",\"content_index\":0,\"part\":"
                                "{\"type\":\"output_text\",\"text\":");
        ngx_http_aigw_jw_qstr(w, &item->text);
        ngx_http_aigw_jw_lit(w, ",\"annotations\":[],\"logprobs\":[]}}\n\n");
        break;
    }

done:

    ngx_http_aigw_responses_event(st, w, "response.output_item.done");
    ngx_http_aigw_jw_lit(w, ",\"output_index\":");
    ngx_http_aigw_jw_int(w, st->open);
    ngx_http_aigw_jw_lit(w, ",\"item\":");
    ngx_http_aigw_responses_item(w, &st->id, st->open, item, 1);
    ngx_http_aigw_jw_lit(w, "}\n\n");

    st->open = -1;

    return NGX_OK;
}


/*
 * The stream failed after it began: response.failed, whose error code
 * tells clients (Codex) whether to retry
 */

static void
ngx_http_aigw_responses_failed(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_responses_write_t *st, ngx_http_aigw_event_t *ev,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_event(st, w, "response.failed");
    ngx_http_aigw_jw_lit(w, ",\"response\":{\"id\":");
    ngx_http_aigw_jw_qstr(w, &st->id);
    ngx_http_aigw_jw_lit(w, ",\"object\":\"response\",\"created_at\":");
    ngx_http_aigw_jw_int(w, st->created);
    ngx_http_aigw_jw_lit(w, ",\"status\":\"failed\",\"model\":");
    ngx_http_aigw_write_model(w, &st->model, &ctx->model);
    ngx_http_aigw_jw_lit(w, ",\"output\":[],\"error\":{\"code\":");

    if (ev->status == NGX_HTTP_TOO_MANY_REQUESTS) {
        ngx_http_aigw_jw_lit(w, "\"rate_limit_exceeded\"");

    } else {
        ngx_http_aigw_jw_lit(w, "\"server_error\"");
    }

    ngx_http_aigw_jw_lit(w, ",\"message\":");
    ngx_http_aigw_jw_qstr(w, &ev->text);
    ngx_http_aigw_jw_lit(w, "},\"incomplete_details\":null,\"usage\":null}}"
                            "\n\n");
}


/* "event: <type>", and the data object up to the sequence number */

static void
ngx_http_aigw_responses_event(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_jw_t *w, const char *type)
{
    ngx_http_aigw_jw_lit(w, "event: ");
    ngx_http_aigw_jw_cstr(w, type);
    ngx_http_aigw_jw_lit(w, "\ndata: {\"type\":\"");
    ngx_http_aigw_jw_cstr(w, type);
    ngx_http_aigw_jw_lit(w, "\",\"sequence_number\":");
    ngx_http_aigw_jw_int(w, st->seq++);
}


/* the open item's id and index */

static void
ngx_http_aigw_responses_item_ref(ngx_http_aigw_responses_write_t *st,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_responses_item_t  *item;

    item = st->items.elts;

    ngx_http_aigw_jw_lit(w, ",\"item_id\":");
    ngx_http_aigw_responses_item_id(w, &st->id, st->open, &item[st->open]);
    ngx_http_aigw_jw_lit(w, ",\"output_index\":");
    ngx_http_aigw_jw_int(w, st->open);
}


/* errors, models and rate limits: as OpenAI's Chat Completions has them */

static void
ngx_http_aigw_responses_write_error(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_error_t *err)
{
    ngx_http_aigw_openai_format.write_error(w, err);
}


static void
ngx_http_aigw_responses_write_models(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *models, ngx_uint_t one)
{
    ngx_http_aigw_openai_format.write_models(r, w, models, one);
}


static void
ngx_http_aigw_responses_write_count(ngx_http_aigw_jw_t *w, int64_t tokens)
{
    ngx_http_aigw_openai_format.write_count(w, tokens);
}


static ngx_int_t
ngx_http_aigw_responses_ratelimit_headers(ngx_http_request_t *r,
    const char *what, int64_t limit, int64_t remaining, int64_t reset,
    int64_t now)
{
    return ngx_http_aigw_openai_format.ratelimit_headers(r, what, limit,
                                                         remaining, reset,
                                                         now);
}


/*
 * provider side, natively: the body goes as it came, but for the model id
 * and the gateway's own fields; a Responses stream always ends with its
 * usage
 */

static ngx_int_t
ngx_http_aigw_responses_passthrough(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n)
{
    ngx_uint_t  k;

    if (*n < 2) {
        /* the model, providerOptions */
        return NGX_ERROR;
    }

    k = 0;

    if (ngx_http_aigw_passthrough_edits(r, ctx, t, edits, &k) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_aigw_passthrough_sort(edits, k);

    *n = k;

    return NGX_OK;
}


/* a provider speaks Responses only to Responses clients: no translation */

static ngx_int_t
ngx_http_aigw_responses_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: provider \"%V\" cannot take a translated request "
                  "in the Responses format", &t->provider->name);

    return NGX_ERROR;
}


/* the headers named by aigw_pass_request_headers (openai-beta, ...) */

static ngx_int_t
ngx_http_aigw_responses_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    return ngx_http_aigw_pass_headers(r, &ngx_http_aigw_openai_format, w,
                                      NULL, NULL);
}


/*
 * A native answer: usage and status; its output items too when a stream
 * was asked for and a whole response came
 */

static ngx_int_t
ngx_http_aigw_responses_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_response_t *resp)
{
    ngx_uint_t            v, stop;
    ngx_http_aigw_json_t  j;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = resp ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 3;

    if (ngx_http_aigw_json_parse(&j, body->data, body->len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_usage_read(&j, ngx_http_aigw_json_get(&j, 0, "usage"),
                             &ctx->usage, ngx_http_aigw_usage_responses);

    v = ngx_http_aigw_json_get(&j, 0, "incomplete_details");
    v = ngx_http_aigw_json_get(&j, v, "reason");

    if (ngx_http_aigw_json_str_eq(&j, v, "content_filter")) {
        stop = ngx_http_aigw_stop_filter;

    } else if (v != NGX_HTTP_AIGW_JSON_NONE
               && j.toks[v].type == ngx_http_aigw_json_string)
    {
        stop = ngx_http_aigw_stop_length;

    } else {
        stop = ngx_http_aigw_stop_end;
    }

    if (resp == NULL) {
        ctx->finish = stop;
        return NGX_OK;
    }

    resp->stop = stop;

    (void) ngx_http_aigw_json_get_str(&j, 0, "id", &resp->id);
    (void) ngx_http_aigw_json_get_str(&j, 0, "model", &resp->model);

    v = ngx_http_aigw_json_get(&j, 0, "output");

    if (!ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_array)) {
        return NGX_OK;
    }

    return ngx_http_aigw_responses_parse_output(r, &j, v, resp);
}


/* output items "v" into canonical parts */

static ngx_int_t
ngx_http_aigw_responses_parse_output(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_http_aigw_response_t *resp)
{
    ngx_uint_t             e, t, c, p, m;
    ngx_http_aigw_part_t  *part;

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        t = ngx_http_aigw_json_get(j, e, "type");

        if (ngx_http_aigw_json_str_eq(j, t, "function_call")) {
            part = ngx_http_aigw_part_add(&resp->parts,
                                          ngx_http_aigw_part_tool_call);
            if (part == NULL) {
                return NGX_ERROR;
            }

            part->input_string = 1;
            (void) ngx_http_aigw_json_get_str(j, e, "call_id", &part->id);
            (void) ngx_http_aigw_json_get_str(j, e, "name", &part->name);
            (void) ngx_http_aigw_json_get_str(j, e, "arguments",
                                              &part->input);

            if (resp->stop == ngx_http_aigw_stop_end) {
                resp->stop = ngx_http_aigw_stop_tool;
            }

            continue;
        }

        c = ngx_http_aigw_json_get(j, e,
                                   ngx_http_aigw_json_str_eq(j, t, "message")
                                   ? "content" : "summary");

        if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_array)
            || !(ngx_http_aigw_json_str_eq(j, t, "message")
                 || ngx_http_aigw_json_str_eq(j, t, "reasoning")))
        {
            continue;
        }

        for (p = c + 1; p < j->toks[c].next; p = j->toks[p].next) {
            m = ngx_http_aigw_json_get(j, p, "text");

            if (!ngx_http_aigw_json_is(j, m, ngx_http_aigw_json_string)) {
                continue;
            }

            part = ngx_http_aigw_part_add(&resp->parts,
                                          ngx_http_aigw_json_str_eq(j, t,
                                                                    "message")
                                          ? ngx_http_aigw_part_text
                                          : ngx_http_aigw_part_thinking);
            if (part == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(j, m, &part->text);
        }
    }

    return NGX_OK;
}


/*
 * A native stream passes as it came; its last event (response.completed,
 * .incomplete or .failed, or error) carries the usage and ends it
 */

static ngx_int_t
ngx_http_aigw_responses_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events)
{
    ngx_str_t                         type;
    ngx_uint_t                        v, u;
    ngx_http_aigw_json_t             *j;
    ngx_http_aigw_responses_parse_t  *st;

    if (!sev->has_data) {
        return NGX_OK;
    }

    st = ctx->pstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_responses_parse_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->pstate = st;
    }

    if (sev->data.len == 6 && ngx_strncmp(sev->data.data, "[DONE]", 6) == 0) {
        return NGX_DONE;
    }

    st->events++;

    type = sev->event;

    if (type.len == 0) {

        /* no "event:" line: the type is in the data */

        if (memmem(sev->data.data, sev->data.len, "\"response.", 10) == NULL
            && memmem(sev->data.data, sev->data.len, "\"error\"", 7) == NULL)
        {
            return NGX_OK;
        }

    } else if (!(type.len == 5 && ngx_strncmp(type.data, "error", 5) == 0)
               && !(type.len > 9
                    && (ngx_strncmp(type.data, "response.completed", 18) == 0
                        || ngx_strncmp(type.data, "response.incomplete", 19)
                           == 0
                        || ngx_strncmp(type.data, "response.failed", 15)
                           == 0)))
    {
        return NGX_OK;
    }

    j = &ctx->ej;
    j->record = 2;

    if (ngx_http_aigw_json_parse(j, sev->data.data, sev->data.len) != NGX_OK
        || j->toks[0].type != ngx_http_aigw_json_object)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" sent an invalid stream event",
                      &ctx->target->provider->name);
        return NGX_ERROR;
    }

    v = ngx_http_aigw_json_get(j, 0, "type");

    if (ngx_http_aigw_json_str_eq(j, v, "error")) {
        return NGX_DONE;
    }

    if (ngx_http_aigw_json_str_eq(j, v, "response.incomplete")) {
        ctx->finish = ngx_http_aigw_stop_length;

    } else if (ngx_http_aigw_json_str_eq(j, v, "response.completed")) {
        ctx->finish = ngx_http_aigw_stop_end;

    } else if (!ngx_http_aigw_json_str_eq(j, v, "response.failed")) {
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, 0, "response");
    u = ngx_http_aigw_json_get(j, v, "usage");

    if (ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {

        /* a closer look at usage alone, whatever the depth of the tape */

        if (ngx_http_aigw_json_sub(j, u, &ctx->eu, 2) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_aigw_usage_read(&ctx->eu, 0, &ctx->usage,
                                 ngx_http_aigw_usage_responses);
    }

    return NGX_DONE;
}


static void
ngx_http_aigw_responses_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err)
{
    ngx_http_aigw_openai_format.parse_error(r, ctx, body, err);
}
