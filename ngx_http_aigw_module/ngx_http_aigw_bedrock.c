
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Amazon Bedrock's Converse API, a provider format only: Converse and
 * ConverseStream (/model/{id}/converse[-stream]), streamed in the AWS
 * event stream framing, signed with SigV4 per try or sent with a Bedrock
 * API key (auth=bearer).
 */


/* the stream parser: the open block, and the stop reason until usage */

typedef struct {
    ngx_uint_t                 block;      /* open block: a part type */
    ngx_uint_t                 stop;       /* messageStop, 0: not yet */
    ngx_str_t                  stop_sequence;
} ngx_http_aigw_bedrock_parse_t;


static ngx_int_t ngx_http_aigw_bedrock_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_bedrock_write_system(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static ngx_uint_t ngx_http_aigw_bedrock_write_messages(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat);
static ngx_uint_t ngx_http_aigw_bedrock_accepts(ngx_http_aigw_part_t *part);
static ngx_uint_t ngx_http_aigw_bedrock_write_blocks(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *parts, ngx_uint_t n);
static void ngx_http_aigw_bedrock_write_block(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part);
static void ngx_http_aigw_bedrock_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part);
static void ngx_http_aigw_bedrock_write_tools(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat, ngx_uint_t history);
static void ngx_http_aigw_bedrock_write_params(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning,
    int64_t max);
static ngx_int_t ngx_http_aigw_bedrock_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_bedrock_target(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_str_t *path,
    ngx_str_t *query);
static ngx_int_t ngx_http_aigw_bedrock_sign(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_sign_t *sign);
static ngx_int_t ngx_http_aigw_bedrock_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_bedrock_parse_part(ngx_http_aigw_json_t *j,
    ngx_uint_t e, ngx_array_t *parts);
static void ngx_http_aigw_bedrock_usage(ngx_http_aigw_json_t *j,
    ngx_uint_t u, ngx_http_aigw_usage_t *usage);
static ngx_uint_t ngx_http_aigw_bedrock_stop(ngx_http_aigw_json_t *j,
    ngx_uint_t v);
static ngx_int_t ngx_http_aigw_bedrock_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_bedrock_exception(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_frame_t *frame,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_bedrock_delta(ngx_http_aigw_bedrock_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_array_t *events);
static ngx_int_t ngx_http_aigw_bedrock_open(ngx_http_aigw_bedrock_parse_t *st,
    ngx_uint_t kind, ngx_array_t *events);
static void ngx_http_aigw_bedrock_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err);


static const ngx_http_aigw_field_t  ngx_http_aigw_bedrock_fields[] = {
    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_bedrock_format = {
    ngx_string("bedrock"),
    { ngx_string("/converse"),                          /* chat */
      ngx_null_string,                                  /* count tokens */
      ngx_null_string },                                /* embeddings */
    ngx_http_aigw_auth_sigv4,
    0,                                                  /* own credential */
    { ngx_null_string,                                  /* client paths: */
      ngx_null_string,                                  /* none, a provider */
      ngx_null_string },                                /* format only */
    ngx_null_string,                                    /* client header */

    ngx_http_aigw_bedrock_fields,                       /* fields */
    NULL,                                               /* field error */
    NULL,                                               /* validate */
    NULL,                                               /* parse request */
    NULL,                                               /* write response */
    NULL,                                               /* write event */
    NULL,                                               /* write error */
    NULL,                                               /* write models */
    NULL,                                               /* write count */

    NULL,                                               /* passthrough */
    ngx_http_aigw_bedrock_write_request,                /* write request */
    ngx_http_aigw_bedrock_request_headers,              /* request headers */
    ngx_http_aigw_bedrock_parse_response,               /* parse response */
    ngx_http_aigw_bedrock_parse_event,                  /* parse event */
    ngx_http_aigw_bedrock_parse_error,                  /* parse error */
    &ngx_http_aigw_eventstream_framing,                 /* framing */
    ngx_http_aigw_bedrock_target,                       /* target */
    NULL,                                               /* rate limits */
    ngx_http_aigw_bedrock_sign,                         /* sign */
    NULL,                                               /* request model */
    ngx_null_string                                     /* models path */
};


/* the request */

static ngx_int_t
ngx_http_aigw_bedrock_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    int64_t                    max;
    ngx_uint_t                 history;
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

    ngx_http_aigw_jw_lit(w, "{\"messages\":[");

    history = ngx_http_aigw_bedrock_write_messages(r, w, chat);

    ngx_http_aigw_jw_lit(w, "]");

    ngx_http_aigw_bedrock_write_system(w, chat);
    ngx_http_aigw_bedrock_write_tools(r, w, chat, history);
    ngx_http_aigw_bedrock_write_params(r, w, ctx, t->model->reasoning, max);

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* system prompts, wherever they were: text blocks, and cache points */

static void
ngx_http_aigw_bedrock_write_system(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i, k, n;
    ngx_array_t           *parts;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t  *part;

    msg = chat->messages.elts;
    n = 0;

    for (i = 0; i <= chat->messages.nelts; i++) {

        if (i == 0) {
            parts = &chat->system;

        } else if (msg[i - 1].role == ngx_http_aigw_role_system) {
            parts = &msg[i - 1].parts;

        } else {
            continue;
        }

        part = parts->elts;

        for (k = 0; k < parts->nelts; k++) {
            if (part[k].type != ngx_http_aigw_part_text
                || part[k].text.len == 0)
            {
                continue;
            }

            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"text\":" : ",\"system\":["
                                                          "{\"text\":");
            ngx_http_aigw_jw_qstr(w, &part[k].text);
            ngx_http_aigw_jw_lit(w, "}");

            if (part[k].cache_control.len) {
                ngx_http_aigw_jw_lit(w, ",{\"cachePoint\":"
                                        "{\"type\":\"default\"}}");
            }
        }
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, "]");
    }
}


/*
 * messages: tool results are user turns, turns of a role are merged;
 * returns whether the history holds tool blocks
 */

static ngx_uint_t
ngx_http_aigw_bedrock_write_messages(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i, k, n, role, any, history;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t  *part, result;

    msg = chat->messages.elts;
    role = (ngx_uint_t) -1;
    n = 0;
    history = 0;

    for (i = 0; i < chat->messages.nelts; i++) {

        if (msg[i].role == ngx_http_aigw_role_system) {
            continue;
        }

        any = (msg[i].role == ngx_http_aigw_role_tool);
        part = msg[i].parts.elts;

        for (k = 0; k < msg[i].parts.nelts; k++) {
            if (ngx_http_aigw_bedrock_accepts(&part[k])) {
                any = 1;
            }

            if (part[k].type == ngx_http_aigw_part_tool_call
                || part[k].type == ngx_http_aigw_part_tool_result)
            {
                history = 1;
            }
        }

        if (!any) {
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
            ngx_memzero(&result, sizeof(ngx_http_aigw_part_t));
            result.type = ngx_http_aigw_part_tool_result;
            result.id = msg[i].tool_call_id;
            result.content = &msg[i].parts;

            if (n++) {
                ngx_http_aigw_jw_lit(w, ",");
            }

            ngx_http_aigw_bedrock_write_block(r, w, &result);
            history = 1;
            continue;
        }

        n += ngx_http_aigw_bedrock_write_blocks(r, w, &msg[i].parts, n);
    }

    if (role != (ngx_uint_t) -1) {
        ngx_http_aigw_jw_lit(w, "]}");
    }

    return history;
}


static ngx_uint_t
ngx_http_aigw_bedrock_accepts(ngx_http_aigw_part_t *part)
{
    switch (part->type) {

    case ngx_http_aigw_part_text:
        return part->text.len != 0;

    case ngx_http_aigw_part_thinking:

        /* only signed reasoning goes back */

        return part->signature.len != 0;

    case ngx_http_aigw_part_image:
    case ngx_http_aigw_part_document:

        /* Converse takes bytes, not URLs */

        return part->url.len == 0 && part->data.len != 0;

    case ngx_http_aigw_part_tool_call:
    case ngx_http_aigw_part_tool_result:
    case ngx_http_aigw_part_redacted:
        return 1;

    default:
        return 0;
    }
}


/* content blocks of parts, after "n" of them; returns how many */

static ngx_uint_t
ngx_http_aigw_bedrock_write_blocks(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_array_t *parts, ngx_uint_t n)
{
    ngx_uint_t             i, k;
    ngx_http_aigw_part_t  *part;

    part = parts->elts;
    k = n;

    for (i = 0; i < parts->nelts; i++) {

        if (!ngx_http_aigw_bedrock_accepts(&part[i])) {
            if (part[i].url.len) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "aigw: an image or document by URL is left "
                              "out: Bedrock takes its bytes only");
            }

            continue;
        }

        if (k++) {
            ngx_http_aigw_jw_lit(w, ",");
        }

        ngx_http_aigw_bedrock_write_block(r, w, &part[i]);

        if (part[i].cache_control.len) {
            ngx_http_aigw_jw_lit(w, ",{\"cachePoint\":{\"type\":\"default\"}}");
            k++;
        }
    }

    return k - n;
}


static void
ngx_http_aigw_bedrock_write_block(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part)
{
    ngx_uint_t             n;

    switch (part->type) {

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "{\"text\":");
        ngx_http_aigw_jw_qstr(w, &part->text);
        ngx_http_aigw_jw_lit(w, "}");
        break;

    case ngx_http_aigw_part_image:
    case ngx_http_aigw_part_document:
        ngx_http_aigw_bedrock_write_media(w, part);
        break;

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, "{\"toolUse\":{\"toolUseId\":");
        ngx_http_aigw_jw_qstr(w, &part->id);
        ngx_http_aigw_jw_lit(w, ",\"name\":");
        ngx_http_aigw_jw_qstr(w, &part->name);
        ngx_http_aigw_jw_lit(w, ",\"input\":");

        if (ngx_http_aigw_write_tool_input(r, w, part) != NGX_OK) {
            w->error = 1;
        }

        ngx_http_aigw_jw_lit(w, "}}");
        break;

    case ngx_http_aigw_part_tool_result:
        ngx_http_aigw_jw_lit(w, "{\"toolResult\":{\"toolUseId\":");
        ngx_http_aigw_jw_qstr(w, &part->id);

        if (part->is_error) {
            ngx_http_aigw_jw_lit(w, ",\"status\":\"error\"");
        }

        ngx_http_aigw_jw_lit(w, ",\"content\":[");

        n = part->content
            ? ngx_http_aigw_bedrock_write_blocks(r, w, part->content, 0)
            : 0;

        /* an empty result still has one block */

        if (n == 0) {
            ngx_http_aigw_jw_lit(w, "{\"text\":\"\"}");
        }

        ngx_http_aigw_jw_lit(w, "]}}");
        break;

    case ngx_http_aigw_part_thinking:
        ngx_http_aigw_jw_lit(w, "{\"reasoningContent\":{\"reasoningText\":"
                                "{\"text\":");
        ngx_http_aigw_jw_qstr(w, &part->text);
        ngx_http_aigw_jw_lit(w, ",\"signature\":");
        ngx_http_aigw_jw_qstr(w, &part->signature);
        ngx_http_aigw_jw_lit(w, "}}}");
        break;

    default: /* redacted */
        ngx_http_aigw_jw_lit(w, "{\"reasoningContent\":{\"redactedContent\":");
        ngx_http_aigw_jw_qstr(w, &part->signature);
        ngx_http_aigw_jw_lit(w, "}}");
        break;
    }
}


/* {"image":{"format":"png","source":{"bytes":"..."}}}, or a document */

static void
ngx_http_aigw_bedrock_write_media(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_part_t *part)
{
    u_char     *slash;
    ngx_str_t   format;

    format = part->media_type;
    slash = ngx_strlchr(format.data, format.data + format.len, '/');

    if (slash) {
        format.len -= slash + 1 - format.data;
        format.data = slash + 1;
    }

    if (format.len == 3 && ngx_strncmp(format.data, "jpg", 3) == 0) {
        ngx_str_set(&format, "jpeg");

    } else if (format.len == 5 && ngx_strncmp(format.data, "plain", 5) == 0) {
        ngx_str_set(&format, "txt");

    } else if (format.len == 8 && ngx_strncmp(format.data, "markdown", 8) == 0)
    {
        ngx_str_set(&format, "md");
    }

    if (part->type == ngx_http_aigw_part_image) {
        ngx_http_aigw_jw_lit(w, "{\"image\":{\"format\":");

    } else {
        ngx_http_aigw_jw_lit(w, "{\"document\":{\"name\":\"document\","
                                "\"format\":");
    }

    ngx_http_aigw_jw_qstr(w, &format);
    ngx_http_aigw_jw_lit(w, ",\"source\":{\"bytes\":");
    ngx_http_aigw_jw_qstr(w, &part->data);
    ngx_http_aigw_jw_lit(w, "}}}");
}


/*
 * toolConfig: the tools and the choice; Converse has no "none" (the tools
 * are left out), and wants a toolConfig when the history holds tool
 * blocks: the tools the history names are declared then, if the client
 * declared none
 */

static void
ngx_http_aigw_bedrock_write_tools(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat, ngx_uint_t history)
{
    ngx_str_t             *name;
    ngx_uint_t             i, k, m, n;
    ngx_array_t            names;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_tool_t  *tool;
    ngx_http_aigw_part_t  *part;

    if (chat->tools.nelts
        && (chat->tool_choice != ngx_http_aigw_choice_none || history))
    {
        tool = chat->tools.elts;

        ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"tools\":[");

        for (i = 0; i < chat->tools.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? ",{\"toolSpec\":{\"name\":"
                                       : "{\"toolSpec\":{\"name\":");
            ngx_http_aigw_jw_qstr(w, &tool[i].name);

            if (tool[i].description.len) {
                ngx_http_aigw_jw_lit(w, ",\"description\":");
                ngx_http_aigw_jw_qstr(w, &tool[i].description);
            }

            ngx_http_aigw_jw_lit(w, ",\"inputSchema\":{\"json\":");

            if (tool[i].schema.len) {
                ngx_http_aigw_jw_str(w, &tool[i].schema);

            } else {
                ngx_http_aigw_jw_lit(w, "{\"type\":\"object\"}");
            }

            ngx_http_aigw_jw_lit(w, "}}}");
        }

        ngx_http_aigw_jw_lit(w, "]");

        switch (chat->tool_choice) {

        case ngx_http_aigw_choice_any:
            ngx_http_aigw_jw_lit(w, ",\"toolChoice\":{\"any\":{}}");
            break;

        case ngx_http_aigw_choice_tool:
            ngx_http_aigw_jw_lit(w, ",\"toolChoice\":{\"tool\":{\"name\":");
            ngx_http_aigw_jw_qstr(w, &chat->tool_choice_name);
            ngx_http_aigw_jw_lit(w, "}}");
            break;

        case ngx_http_aigw_choice_auto:
            ngx_http_aigw_jw_lit(w, ",\"toolChoice\":{\"auto\":{}}");
            break;

        default:
            break;
        }

        ngx_http_aigw_jw_lit(w, "}");
        return;
    }

    if (!history || chat->tools.nelts) {
        return;
    }

    /* the names of the tools the history calls, once each */

    if (ngx_array_init(&names, r->pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        w->error = 1;
        return;
    }

    msg = chat->messages.elts;

    for (i = 0; i < chat->messages.nelts; i++) {
        part = msg[i].parts.elts;

        for (k = 0; k < msg[i].parts.nelts; k++) {
            if (part[k].type != ngx_http_aigw_part_tool_call
                || part[k].name.len == 0)
            {
                continue;
            }

            name = names.elts;

            for (m = 0; m < names.nelts; m++) {
                if (name[m].len == part[k].name.len
                    && ngx_strncmp(name[m].data, part[k].name.data,
                                   name[m].len) == 0)
                {
                    break;
                }
            }

            if (m < names.nelts) {
                continue;
            }

            name = ngx_array_push(&names);
            if (name == NULL) {
                w->error = 1;
                return;
            }

            *name = part[k].name;
        }
    }

    if (names.nelts == 0) {
        return;
    }

    name = names.elts;

    ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"tools\":[");

    for (n = 0; n < names.nelts; n++) {
        ngx_http_aigw_jw_cstr(w, n ? ",{\"toolSpec\":{\"name\":"
                                   : "{\"toolSpec\":{\"name\":");
        ngx_http_aigw_jw_qstr(w, &name[n]);
        ngx_http_aigw_jw_lit(w, ",\"inputSchema\":{\"json\":"
                                "{\"type\":\"object\"}}}}");
    }

    ngx_http_aigw_jw_lit(w, "]}");
}


/*
 * inferenceConfig, and additionalModelRequestFields: thinking for models
 * configured as reasoning models, top_k, and what the client gave in
 * providerOptions.bedrock.additionalModelRequestFields (its members win)
 */

static void
ngx_http_aigw_bedrock_write_params(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_ctx_t *ctx, ngx_uint_t reasoning,
    int64_t max)
{
    int64_t                budget;
    ngx_str_t             *s, extra;
    ngx_uint_t             i, think, n, v, o;
    ngx_http_aigw_json_t   j;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;

    /* the client's additionalModelRequestFields */

    ngx_str_null(&extra);
    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    o = NGX_HTTP_AIGW_JSON_NONE;

    v = ngx_http_aigw_json_get(&ctx->json, 0, "providerOptions");

    if (ngx_http_aigw_json_is(&ctx->json, v, ngx_http_aigw_json_object)
        && ngx_http_aigw_json_sub(&ctx->json, v, &j, 3) == NGX_OK)
    {
        v = ngx_http_aigw_json_get(&j, 0, "bedrock");
        o = ngx_http_aigw_json_get(&j, v, "additionalModelRequestFields");

        if (ngx_http_aigw_json_is(&j, o, ngx_http_aigw_json_object)
            && j.toks[o].count)
        {
            ngx_http_aigw_json_raw(&j, o, &extra);

            /* the members, without the braces */

            extra.data++;
            extra.len -= 2;

        } else {
            o = NGX_HTTP_AIGW_JSON_NONE;
        }
    }

    /* thinking, as Anthropic's: a budget below max_tokens */

    think = 0;
    budget = chat->thinking_budget;

    if (reasoning
        && (chat->thinking == ngx_http_aigw_think_enabled
            || chat->thinking == ngx_http_aigw_think_adaptive))
    {
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

        think = (budget >= 1024);
    }

    ngx_http_aigw_jw_lit(w, ",\"inferenceConfig\":{\"maxTokens\":");
    ngx_http_aigw_jw_int(w, max);

    /* with thinking on, Claude takes its default temperature only */

    if (chat->temperature.len && !think) {
        ngx_http_aigw_jw_lit(w, ",\"temperature\":");
        ngx_http_aigw_jw_str(w, &chat->temperature);
    }

    if (chat->top_p.len && !think) {
        ngx_http_aigw_jw_lit(w, ",\"topP\":");
        ngx_http_aigw_jw_str(w, &chat->top_p);
    }

    if (chat->stop.nelts) {
        s = chat->stop.elts;

        ngx_http_aigw_jw_lit(w, ",\"stopSequences\":[");

        for (i = 0; i < chat->stop.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? "," : "");
            ngx_http_aigw_jw_qstr(w, &s[i]);
        }

        ngx_http_aigw_jw_lit(w, "]");
    }

    ngx_http_aigw_jw_lit(w, "}");

    n = 0;

    if (think
        && (o == NGX_HTTP_AIGW_JSON_NONE
            || ngx_http_aigw_json_get(&j, o, "thinking")
               == NGX_HTTP_AIGW_JSON_NONE))
    {
        ngx_http_aigw_jw_lit(w, ",\"additionalModelRequestFields\":{"
                                "\"thinking\":{\"type\":\"enabled\","
                                "\"budget_tokens\":");
        ngx_http_aigw_jw_int(w, budget);
        ngx_http_aigw_jw_lit(w, "}");
        n++;
    }

    if (chat->top_k.len && !think
        && (o == NGX_HTTP_AIGW_JSON_NONE
            || ngx_http_aigw_json_get(&j, o, "top_k")
               == NGX_HTTP_AIGW_JSON_NONE))
    {
        ngx_http_aigw_jw_cstr(w, n ? ",\"top_k\":"
                                   : ",\"additionalModelRequestFields\":{"
                                     "\"top_k\":");
        ngx_http_aigw_jw_str(w, &chat->top_k);
        n++;
    }

    if (extra.len) {
        ngx_http_aigw_jw_cstr(w, n ? ","
                                   : ",\"additionalModelRequestFields\":{");
        ngx_http_aigw_jw_str(w, &extra);
        n++;
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, "}");
    }
}


static ngx_int_t
ngx_http_aigw_bedrock_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    return NGX_OK;
}


/*
 * /model/{id}/converse or /converse-stream: the id is one URI label,
 * every byte but the unreserved ones percent-encoded (":" of a version,
 * "/" of an ARN)
 */

static ngx_int_t
ngx_http_aigw_bedrock_target(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_str_t *path, ngx_str_t *query)
{
    u_char      *p, c;
    size_t       i;

    static u_char  hex[] = "0123456789ABCDEF";

    path->data = ngx_pnalloc(r->pool, sizeof("/model//converse-stream") - 1
                                      + 3 * t->id.len);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path->data, "/model/", sizeof("/model/") - 1);

    for (i = 0; i < t->id.len; i++) {
        c = t->id.data[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~')
        {
            *p++ = c;

        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        }
    }

    if (ctx->stream) {
        p = ngx_cpymem(p, "/converse-stream", sizeof("/converse-stream") - 1);

    } else {
        p = ngx_cpymem(p, "/converse", sizeof("/converse") - 1);
    }

    path->len = p - path->data;

    ngx_str_null(query);

    return NGX_OK;
}


/*
 * SigV4 over the request as sent: Content-Type, Host, the body's hash in
 * X-Amz-Content-Sha256, X-Amz-Date, and the session token, if any (with
 * auth=bearer, request.c sends the key)
 */

static ngx_int_t
ngx_http_aigw_bedrock_sign(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_http_aigw_sign_t *sign)
{
    u_char                     date[16], payload[64];
    ngx_tm_t                   tm;
    ngx_str_t                  auth, *key;
    ngx_uint_t                 n;
    ngx_keyval_t               headers[5];
    ngx_http_aigw_aws_t       *aws;
    ngx_http_aigw_sigv4_t      s;
    ngx_http_aigw_provider_t  *p;

    p = t->provider;
    aws = p->aws;

    if (p->auth != ngx_http_aigw_auth_sigv4 || aws == NULL) {
        return NGX_OK;
    }

    /* a request's BYOK credential for Bedrock is a Bedrock API key */

    key = t->byok ? ngx_http_aigw_byok_key(ctx, p) : NULL;

    if (key) {
        ngx_http_aigw_jw_lit(sign->headers, "Authorization: Bearer ");
        ngx_http_aigw_jw_str(sign->headers, key);
        ngx_http_aigw_jw_lit(sign->headers, CRLF);

        return sign->headers->error ? NGX_ERROR : NGX_OK;
    }

    ngx_gmtime(ngx_time(), &tm);

    (void) ngx_sprintf(date, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    if (ngx_http_aigw_sigv4_hash(sign->body, payload) != NGX_OK) {
        return NGX_ERROR;
    }

    n = 0;

    ngx_str_set(&headers[n].key, "content-type");
    ngx_str_set(&headers[n].value, "application/json");
    n++;

    ngx_str_set(&headers[n].key, "host");
    headers[n].value = p->host;
    n++;

    ngx_str_set(&headers[n].key, "x-amz-content-sha256");
    headers[n].value.data = payload;
    headers[n].value.len = 64;
    n++;

    ngx_str_set(&headers[n].key, "x-amz-date");
    headers[n].value.data = date;
    headers[n].value.len = 16;
    n++;

    if (aws->token.len) {
        ngx_str_set(&headers[n].key, "x-amz-security-token");
        headers[n].value = aws->token;
        n++;
    }

    ngx_memzero(&s, sizeof(ngx_http_aigw_sigv4_t));

    s.access_key = aws->access_key;
    s.secret = aws->secret;
    s.region = aws->region;
    ngx_str_set(&s.service, "bedrock");
    s.method = sign->method;
    s.path = sign->path;
    s.query = sign->query;
    s.headers = headers;
    s.nheaders = n;
    s.date = date;
    s.payload = payload;
    s.aws = aws;

    if (ngx_http_aigw_sigv4_sign(r->pool, &s, &auth) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_aigw_jw_lit(sign->headers, "X-Amz-Date: ");
    ngx_http_aigw_jw_raw(sign->headers, date, 16);
    ngx_http_aigw_jw_lit(sign->headers, CRLF "X-Amz-Content-Sha256: ");
    ngx_http_aigw_jw_raw(sign->headers, payload, 64);
    ngx_http_aigw_jw_lit(sign->headers, CRLF);

    if (aws->token.len) {
        ngx_http_aigw_jw_lit(sign->headers, "X-Amz-Security-Token: ");
        ngx_http_aigw_jw_str(sign->headers, &aws->token);
        ngx_http_aigw_jw_lit(sign->headers, CRLF);
    }

    ngx_http_aigw_jw_lit(sign->headers, "Authorization: ");
    ngx_http_aigw_jw_str(sign->headers, &auth);
    ngx_http_aigw_jw_lit(sign->headers, CRLF);

    return sign->headers->error ? NGX_ERROR : NGX_OK;
}


/* the response */

static ngx_int_t
ngx_http_aigw_bedrock_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_response_t *resp)
{
    ngx_uint_t            c, e, o, f;
    ngx_http_aigw_json_t  j;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

    if (ngx_http_aigw_json_parse(&j, body->data, body->len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_bedrock_usage(&j, ngx_http_aigw_json_get(&j, 0, "usage"),
                                &ctx->usage);

    if (resp == NULL) {
        return NGX_OK;
    }

    resp->stop = ngx_http_aigw_bedrock_stop(&j,
                     ngx_http_aigw_json_get(&j, 0, "stopReason"));

    f = ngx_http_aigw_json_get(&j, 0, "additionalModelResponseFields");
    f = ngx_http_aigw_json_get(&j, f, "delta");

    (void) ngx_http_aigw_json_get_str(&j, f, "stop_sequence",
                                        &resp->stop_sequence);

    o = ngx_http_aigw_json_get(&j, 0, "output");
    o = ngx_http_aigw_json_get(&j, o, "message");
    c = ngx_http_aigw_json_get(&j, o, "content");

    if (!ngx_http_aigw_json_is(&j, c, ngx_http_aigw_json_array)) {
        return ngx_http_aigw_json_is(&j, o, ngx_http_aigw_json_object)
               ? NGX_OK : NGX_ERROR;
    }

    for (e = c + 1; e < j.toks[c].next; e = j.toks[e].next) {
        if (ngx_http_aigw_bedrock_parse_part(&j, e, &resp->parts) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a content block of a response: text, toolUse or reasoningContent */

static ngx_int_t
ngx_http_aigw_bedrock_parse_part(ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_array_t *parts)
{
    ngx_uint_t             v, rt;
    ngx_http_aigw_part_t  *part;

    v = ngx_http_aigw_json_get(j, e, "text");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_text);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, v, &part->text);
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, e, "toolUse");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {
        part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_tool_call);
        if (part == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, v, "toolUseId", &part->id);
        (void) ngx_http_aigw_json_get_str(j, v, "name", &part->name);
        ngx_http_aigw_json_get_raw(j, v, "input", &part->input);
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, e, "reasoningContent");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {
        return NGX_OK;
    }

    rt = ngx_http_aigw_json_get(j, v, "reasoningText");

    if (ngx_http_aigw_json_is(j, rt, ngx_http_aigw_json_object)) {
        part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_thinking);
        if (part == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, rt, "text", &part->text);
        (void) ngx_http_aigw_json_get_str(j, rt, "signature",
                                            &part->signature);
        return NGX_OK;
    }

    rt = ngx_http_aigw_json_get(j, v, "redactedContent");

    if (ngx_http_aigw_json_is(j, rt, ngx_http_aigw_json_string)) {
        part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_redacted);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, rt, &part->signature);
    }

    return NGX_OK;
}


/*
 * usage: inputTokens leaves out the cache reads and writes, the gateway's
 * input counts all prompt tokens
 */

static void
ngx_http_aigw_bedrock_usage(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage)
{
    int64_t  input, output, cr, cw;

    if (!ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {
        return;
    }

    if (ngx_http_aigw_json_get_count(j, u, "inputTokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &input)
        != NGX_OK)
    {
        input = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "outputTokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &output)
        != NGX_OK)
    {
        output = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "cacheReadInputTokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &cr)
        != NGX_OK)
    {
        cr = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "cacheWriteInputTokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &cw)
        != NGX_OK)
    {
        cw = 0;
    }

    usage->seen = 1;
    usage->input = input + cr + cw;
    usage->output = output;
    usage->cache_read = cr;
    usage->cache_write = cw;
}


static ngx_uint_t
ngx_http_aigw_bedrock_stop(ngx_http_aigw_json_t *j, ngx_uint_t v)
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

    if (ngx_http_aigw_json_str_eq(j, v, "guardrail_intervened")
        || ngx_http_aigw_json_str_eq(j, v, "content_filtered"))
    {
        return ngx_http_aigw_stop_filter;
    }

    return ngx_http_aigw_stop_end;
}


/*
 * A ConverseStream frame.  Text and reasoning blocks have no
 * contentBlockStart: their first delta opens them.  The stop reason
 * (messageStop) comes before the usage (metadata): the finish waits for
 * the usage, and the stream ends with it.
 */

static ngx_int_t
ngx_http_aigw_bedrock_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events)
{
    ngx_str_t                      *name;
    ngx_uint_t                      v;
    ngx_http_aigw_json_t           *j;
    ngx_http_aigw_event_t          *ev;
    ngx_http_aigw_bedrock_parse_t  *st;

    st = ctx->pstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_bedrock_parse_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->pstate = st;
    }

    if (sev->type == NGX_HTTP_AIGW_FRAME_EXCEPTION) {
        return ngx_http_aigw_bedrock_exception(r, ctx, sev, events);
    }

    j = &ctx->ej;
    j->record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

    if (ngx_http_aigw_json_parse(j, sev->data.data, sev->data.len) != NGX_OK
        || j->toks[0].type != ngx_http_aigw_json_object)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" sent an invalid stream event",
                      &ctx->target->provider->name);
        return NGX_ERROR;
    }

    name = &sev->event;

#define ngx_http_aigw_event_is(s)                                            \
    (name->len == sizeof(s) - 1 && ngx_strncmp(name->data, s, name->len) == 0)

    if (ngx_http_aigw_event_is("messageStart")) {
        return ngx_http_aigw_event_add(events, ngx_http_aigw_ev_start, 0)
               ? NGX_OK : NGX_ERROR;
    }

    if (ngx_http_aigw_event_is("contentBlockStart")) {
        v = ngx_http_aigw_json_get(j, 0, "start");
        v = ngx_http_aigw_json_get(j, v, "toolUse");

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {
            return NGX_OK;
        }

        if (ngx_http_aigw_bedrock_open(st, ngx_http_aigw_part_tool_call,
                                       events)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_start,
                                     ngx_http_aigw_part_tool_call);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, v, "toolUseId", &ev->id);
        (void) ngx_http_aigw_json_get_str(j, v, "name", &ev->name);

        st->block = ngx_http_aigw_part_tool_call;

        return NGX_OK;
    }

    if (ngx_http_aigw_event_is("contentBlockDelta")) {
        return ngx_http_aigw_bedrock_delta(st, j, events);
    }

    if (ngx_http_aigw_event_is("contentBlockStop")) {
        return ngx_http_aigw_bedrock_open(st, 0, events);
    }

    if (ngx_http_aigw_event_is("messageStop")) {
        if (ngx_http_aigw_bedrock_open(st, 0, events) != NGX_OK) {
            return NGX_ERROR;
        }

        st->stop = ngx_http_aigw_bedrock_stop(j,
                       ngx_http_aigw_json_get(j, 0, "stopReason"));

        v = ngx_http_aigw_json_get(j, 0, "additionalModelResponseFields");
        v = ngx_http_aigw_json_get(j, v, "delta");
        v = ngx_http_aigw_json_get(j, v, "stop_sequence");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, v, &st->stop_sequence);

            st->stop_sequence.data = ngx_pstrdup(r->pool, &st->stop_sequence);
            if (st->stop_sequence.data == NULL) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_event_is("metadata")) {
        ngx_http_aigw_bedrock_usage(j, ngx_http_aigw_json_get(j, 0, "usage"),
                                    &ctx->usage);

        if (st->stop == 0) {
            return NGX_OK;
        }

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_finish, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->stop = st->stop;
        ev->stop_sequence = st->stop_sequence;

        if (ngx_http_aigw_event_add(events, ngx_http_aigw_ev_end, 0) == NULL) {
            return NGX_ERROR;
        }

        return NGX_DONE;
    }

#undef ngx_http_aigw_event_is

    /* unknown events */

    return NGX_OK;
}


/* contentBlockDelta: text, tool input, reasoning text or signature */

static ngx_int_t
ngx_http_aigw_bedrock_delta(ngx_http_aigw_bedrock_parse_t *st,
    ngx_http_aigw_json_t *j, ngx_array_t *events)
{
    ngx_uint_t              d, v, m, kind;
    ngx_http_aigw_event_t  *ev;

    d = ngx_http_aigw_json_get(j, 0, "delta");

    v = ngx_http_aigw_json_get(j, d, "text");
    kind = ngx_http_aigw_part_text;
    m = kind;

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        v = ngx_http_aigw_json_get(j, d, "toolUse");
        v = ngx_http_aigw_json_get(j, v, "input");
        kind = ngx_http_aigw_part_tool_call;
        m = kind;
    }

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        d = ngx_http_aigw_json_get(j, d, "reasoningContent");
        kind = ngx_http_aigw_part_thinking;

        v = ngx_http_aigw_json_get(j, d, "redactedContent");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {

            /* a redacted block is whole in one delta */

            if (ngx_http_aigw_bedrock_open(st, 0, events) != NGX_OK) {
                return NGX_ERROR;
            }

            ev = ngx_http_aigw_event_add(events,
                                         ngx_http_aigw_ev_block_start,
                                         ngx_http_aigw_part_redacted);
            if (ev == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(j, v, &ev->text);

            return ngx_http_aigw_event_add(events,
                                           ngx_http_aigw_ev_block_stop,
                                           ngx_http_aigw_part_redacted)
                   ? NGX_OK : NGX_ERROR;
        }

        v = ngx_http_aigw_json_get(j, d, "text");
        m = ngx_http_aigw_part_thinking;

        if (v == NGX_HTTP_AIGW_JSON_NONE) {
            v = ngx_http_aigw_json_get(j, d, "signature");
            m = ngx_http_aigw_part_signature;
        }
    }

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        || j->toks[v].end - j->toks[v].start <= 2)
    {
        return NGX_OK;
    }

    if (st->block != kind) {

        /* a tool call's deltas belong to its contentBlockStart */

        if (kind == ngx_http_aigw_part_tool_call) {
            return NGX_OK;
        }

        if (ngx_http_aigw_bedrock_open(st, kind, events) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_start,
                                    kind)
            == NULL)
        {
            return NGX_ERROR;
        }

        st->block = kind;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta, m);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_http_aigw_json_str_raw(j, v, &ev->text);

    return NGX_OK;
}


/* the open block is closed before another opens ("kind"), or none (0) */

static ngx_int_t
ngx_http_aigw_bedrock_open(ngx_http_aigw_bedrock_parse_t *st,
    ngx_uint_t kind, ngx_array_t *events)
{
    if (st->block == 0 || st->block == kind) {
        return NGX_OK;
    }

    if (ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_stop,
                                st->block)
        == NULL)
    {
        return NGX_ERROR;
    }

    st->block = 0;

    return NGX_OK;
}


/*
 * An exception in the stream (":message-type" exception or error): the
 * client's error event ends it
 */

static ngx_int_t
ngx_http_aigw_bedrock_exception(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_frame_t *frame,
    ngx_array_t *events)
{
    ngx_str_t              *name;
    ngx_uint_t              v;
    ngx_http_aigw_json_t   *j;
    ngx_http_aigw_event_t  *ev;

    name = &frame->event;

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: provider \"%V\" sent the stream exception \"%V\"",
                  &ctx->target->provider->name, name);

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_error, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    if (name->len >= 10
        && ngx_strncmp(name->data, "throttling", 10) == 0)
    {
        ev->status = NGX_HTTP_TOO_MANY_REQUESTS;

    } else if (name->len >= 10
               && ngx_strncmp(name->data, "validation", 10) == 0)
    {
        ev->status = NGX_HTTP_BAD_REQUEST;

    } else if (name->len >= 18
               && ngx_strncmp(name->data, "serviceUnavailable", 18) == 0)
    {
        ev->status = NGX_HTTP_SERVICE_UNAVAILABLE;

    } else {
        ev->status = NGX_HTTP_BAD_GATEWAY;
    }

    ngx_http_aigw_error_type(ev->status, &ev->err_type);

    j = &ctx->ej;
    j->record = 1;

    if (frame->data.len
        && ngx_http_aigw_json_parse(j, frame->data.data, frame->data.len)
           == NGX_OK
        && j->toks[0].type == ngx_http_aigw_json_object)
    {
        v = ngx_http_aigw_json_get(j, 0, "message");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, v, &ev->text);
            return NGX_DONE;
        }
    }

    if (frame->data.len
        && ngx_http_aigw_jw_escaped(r->pool, frame->data.data,
                                    frame->data.len, &ev->text)
           == NGX_OK)
    {
        return NGX_DONE;
    }

    ngx_str_set(&ev->text, "the provider reported an error");

    return NGX_DONE;
}


/* {"message":"..."}, the exception's name in x-amzn-ErrorType */

static void
ngx_http_aigw_bedrock_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err)
{
    ngx_uint_t            v;
    ngx_http_aigw_json_t  j;

    ngx_http_aigw_error_type(err->status, &err->type);

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = 1;

    if (body->len
        && ngx_http_aigw_json_parse(&j, body->data, body->len) == NGX_OK
        && j.toks[0].type == ngx_http_aigw_json_object)
    {
        v = ngx_http_aigw_json_get(&j, 0, "message");

        if (v == NGX_HTTP_AIGW_JSON_NONE) {
            v = ngx_http_aigw_json_get(&j, 0, "Message");
        }

        if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(&j, v, &err->message);
            return;
        }
    }

    (void) ngx_http_aigw_json_message(r->pool, &err->message,
                                      "the provider returned HTTP %ui",
                                      err->status);
}
