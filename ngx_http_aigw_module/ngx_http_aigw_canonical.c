
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The canonical form, as both formats' adapters build and read it: a
 * message, a part, a tool and a stream event added zeroed to their
 * arrays; the skeleton of a request and content given as a string; the
 * provider's id and model of a stream and a response.
 */


static ngx_int_t ngx_http_aigw_parse_messages(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat, ngx_http_aigw_parse_message_pt parse,
    const char *invalid);


ngx_http_aigw_msg_t *
ngx_http_aigw_msg_add(ngx_pool_t *pool, ngx_array_t *messages)
{
    ngx_http_aigw_msg_t  *msg;

    msg = ngx_array_push(messages);
    if (msg == NULL) {
        return NULL;
    }

    ngx_memzero(msg, sizeof(ngx_http_aigw_msg_t));

    if (ngx_array_init(&msg->parts, pool, 2, sizeof(ngx_http_aigw_part_t))
        != NGX_OK)
    {
        return NULL;
    }

    return msg;
}


ngx_http_aigw_part_t *
ngx_http_aigw_part_add(ngx_array_t *parts, ngx_uint_t type)
{
    ngx_http_aigw_part_t  *part;

    part = ngx_array_push(parts);
    if (part == NULL) {
        return NULL;
    }

    ngx_memzero(part, sizeof(ngx_http_aigw_part_t));
    part->type = type;

    return part;
}


ngx_http_aigw_tool_t *
ngx_http_aigw_tool_add(ngx_array_t *tools)
{
    ngx_http_aigw_tool_t  *tool;

    tool = ngx_array_push(tools);
    if (tool == NULL) {
        return NULL;
    }

    ngx_memzero(tool, sizeof(ngx_http_aigw_tool_t));

    return tool;
}


ngx_http_aigw_event_t *
ngx_http_aigw_event_add(ngx_array_t *events, ngx_uint_t type,
    ngx_uint_t kind)
{
    ngx_http_aigw_event_t  *ev;

    ev = ngx_array_push(events);
    if (ev == NULL) {
        return NULL;
    }

    ngx_memzero(ev, sizeof(ngx_http_aigw_event_t));
    ev->type = type;
    ev->kind = kind;

    return ev;
}


/*
 * A request into the canonical form: each top-level field, but those
 * that are null, read by the format's "field", then each message, an
 * object, read by its "message"; "invalid": the rejection of a message
 * that is not an object
 */

ngx_int_t
ngx_http_aigw_parse_chat(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_http_aigw_chat_t *chat,
    ngx_http_aigw_parse_field_pt field, ngx_http_aigw_parse_message_pt message,
    const char *invalid)
{
    ngx_int_t   rc;
    ngx_uint_t  k;

    chat->max_tokens = -1;
    chat->parallel_tools = -1;

    for (k = 1; k < j->toks[0].next; k = j->toks[k + 1].next) {

        if (j->toks[k + 1].type == ngx_http_aigw_json_null) {
            continue;
        }

        rc = field(r, ctx, j, k, chat);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_http_aigw_parse_messages(r, ctx, j, chat, message, invalid);
}


static ngx_int_t
ngx_http_aigw_parse_messages(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat, ngx_http_aigw_parse_message_pt parse,
    const char *invalid)
{
    ngx_int_t             rc;
    ngx_uint_t            v, e;
    ngx_http_aigw_msg_t  *msg;

    v = ngx_http_aigw_json_get(j, 0, "messages");

    if (ngx_array_init(&chat->messages, r->pool, j->toks[v].count + 1,
                       sizeof(ngx_http_aigw_msg_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {

        if (j->toks[e].type != ngx_http_aigw_json_object) {
            return ngx_http_aigw_reject(r, ctx, "%s", invalid);
        }

        msg = ngx_http_aigw_msg_add(r->pool, &chat->messages);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        rc = parse(r, ctx, j, e, msg);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * Content "v" that is absent, null, or a string: one text part; it
 * returns NGX_DECLINED for anything else, which the format reads
 */

ngx_int_t
ngx_http_aigw_parse_text(ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts)
{
    ngx_http_aigw_part_t  *part;

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[v].type == ngx_http_aigw_json_null)
    {
        return NGX_OK;
    }

    if (j->toks[v].type != ngx_http_aigw_json_string) {
        return NGX_DECLINED;
    }

    part = ngx_http_aigw_part_add(parts, ngx_http_aigw_part_text);
    if (part == NULL) {
        return NGX_ERROR;
    }

    ngx_http_aigw_json_str_raw(j, v, &part->text);

    return NGX_OK;
}


/*
 * The provider's id and model of a stream start event, when it gave
 * them, kept past the event (its strings do not outlive it)
 */

ngx_int_t
ngx_http_aigw_event_keep(ngx_pool_t *pool, ngx_http_aigw_event_t *ev,
    ngx_str_t *id, ngx_str_t *model)
{
    if (ev->id.len) {
        id->data = ngx_pstrdup(pool, &ev->id);
        if (id->data == NULL) {
            return NGX_ERROR;
        }

        id->len = ev->id.len;
    }

    if (ev->name.len) {
        model->data = ngx_pstrdup(pool, &ev->name);
        if (model->data == NULL) {
            return NGX_ERROR;
        }

        model->len = ev->name.len;
    }

    return NGX_OK;
}


/* a response's "model": the provider's, else the model the client asked for */

void
ngx_http_aigw_write_model(ngx_http_aigw_jw_t *w, ngx_str_t *model,
    ngx_str_t *requested)
{
    if (model->len) {
        ngx_http_aigw_jw_qstr(w, model);
        return;
    }

    ngx_http_aigw_jw_lit(w, "\"");
    ngx_http_aigw_jw_escape(w, requested->data, requested->len);
    ngx_http_aigw_jw_lit(w, "\"");
}


/*
 * Stop sequences: a string (when "one" allows it) or an array of strings,
 * as raw JSON string contents; "what" names the field in the rejection.
 */

ngx_int_t
ngx_http_aigw_parse_stop(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j, ngx_uint_t v, ngx_http_aigw_chat_t *chat,
    ngx_uint_t one, const char *what)
{
    ngx_str_t   *s;
    ngx_uint_t   e;

    if (ngx_array_init(&chat->stop, r->pool, 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (one && j->toks[v].type == ngx_http_aigw_json_string) {
        s = ngx_array_push(&chat->stop);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, v, s);
        return NGX_OK;
    }

    for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
        if (j->toks[e].type != ngx_http_aigw_json_string) {
            return ngx_http_aigw_reject(r, ctx, "%s must hold strings", what);
        }

        s = ngx_array_push(&chat->stop);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_str_raw(j, e, s);
    }

    return NGX_OK;
}


/*
 * A tool call's input as a JSON object, for the formats that want one
 * (Anthropic, Gemini, Bedrock): as it came, or decoded from the JSON text
 * of a string (OpenAI's "arguments") and checked; what is not an object
 * is sent as {}.
 */

ngx_int_t
ngx_http_aigw_write_tool_input(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part)
{
    ngx_str_t             text;
    ngx_http_aigw_json_t  j;

    if (!part->input_string) {
        if (part->input.len) {
            ngx_http_aigw_jw_str(w, &part->input);

        } else {
            ngx_http_aigw_jw_lit(w, "{}");
        }

        return NGX_OK;
    }

    if (ngx_http_aigw_json_unescape(r->pool, &part->input, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = 0;

    if (text.len
        && ngx_http_aigw_json_parse(&j, text.data, text.len) == NGX_OK
        && j.toks[0].type == ngx_http_aigw_json_object)
    {
        ngx_http_aigw_jw_str(w, &text);
        return NGX_OK;
    }

    if (text.len) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: the arguments of a tool call are not a JSON "
                      "object, an empty object is sent instead");
    }

    ngx_http_aigw_jw_lit(w, "{}");

    return NGX_OK;
}


/* Chat Completions' usage, and the Responses API's */

const char  *ngx_http_aigw_usage_chat[] = {
    "prompt_tokens", "completion_tokens",
    "prompt_tokens_details", "completion_tokens_details"
};

const char  *ngx_http_aigw_usage_responses[] = {
    "input_tokens", "output_tokens",
    "input_tokens_details", "output_tokens_details"
};


/*
 * Usage in OpenAI's shapes: the input and output counts, the cached
 * count in the input's details, the reasoning count in the output's;
 * "names" is one of the two sets of member names below.
 */

void
ngx_http_aigw_usage_read(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage, const char **names)
{
    int64_t     n;
    ngx_uint_t  d;

    if (!ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {
        return;
    }

    usage->seen = 1;

    if (ngx_http_aigw_json_get_count(j, u, names[0],
                                     NGX_HTTP_AIGW_TOKENS_MAX, &n)
        == NGX_OK)
    {
        usage->input = n;
    }

    if (ngx_http_aigw_json_get_count(j, u, names[1],
                                     NGX_HTTP_AIGW_TOKENS_MAX, &n)
        == NGX_OK)
    {
        usage->output = n;
    }

    d = ngx_http_aigw_json_get(j, u, names[2]);
    if (ngx_http_aigw_json_get_count(j, d, "cached_tokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &n)
        == NGX_OK)
    {
        usage->cache_read = n;
    }

    d = ngx_http_aigw_json_get(j, u, names[3]);
    if (ngx_http_aigw_json_get_count(j, d, "reasoning_tokens",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &n)
        == NGX_OK)
    {
        usage->reasoning = n;
    }
}
