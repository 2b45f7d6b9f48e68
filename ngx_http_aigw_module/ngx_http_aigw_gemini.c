
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The Gemini wire format (generateContent and streamGenerateContent with
 * alt=sse), of the Gemini API and of Gemini on Vertex AI: a provider
 * format only, no client speaks it to the gateway.
 *
 * Gemini 3 signs a function call with a thoughtSignature that must come
 * back on the same part of a later turn.  Clients carry it as a thinking
 * block with a signature and no text, just before the tool call (the
 * Anthropic surface sends those back); a call that comes back without one
 * gets Google's documented placeholder on the first call of its turn.
 */


#define NGX_HTTP_AIGW_GEMINI_SKIP  "skip_thought_signature_validator"


typedef struct {
    ngx_uint_t                 block;      /* open block: a part type */
    ngx_uint_t                 calls;      /* function calls seen */
    ngx_uint_t                 started;
} ngx_http_aigw_gemini_parse_t;


static ngx_int_t ngx_http_aigw_gemini_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_gemini_write_system(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_gemini_write_contents(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat, ngx_uint_t ids);
static ngx_uint_t ngx_http_aigw_gemini_any(ngx_http_aigw_msg_t *msg);
static ngx_uint_t ngx_http_aigw_gemini_write_part(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat,
    ngx_http_aigw_part_t *part, ngx_uint_t n, ngx_uint_t ids,
    ngx_str_t *sig, ngx_uint_t *calls);
static void ngx_http_aigw_gemini_write_result(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat, ngx_str_t *id, ngx_array_t *content,
    ngx_uint_t is_error, ngx_uint_t ids);
static void ngx_http_aigw_gemini_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat);
static void ngx_http_aigw_gemini_write_config(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t);
static ngx_int_t ngx_http_aigw_gemini_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_gemini_target(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t, ngx_str_t *path,
    ngx_str_t *query);
static ngx_int_t ngx_http_aigw_gemini_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_gemini_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_gemini_event_part(ngx_http_request_t *r,
    ngx_http_aigw_gemini_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t p,
    ngx_array_t *events);
static ngx_int_t ngx_http_aigw_gemini_open(ngx_http_aigw_gemini_parse_t *st,
    ngx_uint_t kind, ngx_array_t *events);
static void ngx_http_aigw_gemini_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err);
static void ngx_http_aigw_gemini_usage(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage);
static ngx_uint_t ngx_http_aigw_gemini_stop(ngx_http_aigw_json_t *j,
    ngx_uint_t v, ngx_uint_t calls);
static ngx_int_t ngx_http_aigw_gemini_call_id(ngx_pool_t *pool,
    ngx_http_aigw_json_t *j, ngx_uint_t call, ngx_str_t *id);
static ngx_int_t ngx_http_aigw_gemini_write_embed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_gemini_parse_embed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_response_t *resp);
static ngx_int_t ngx_http_aigw_gemini_write_image(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_jw_t *w);
static void ngx_http_aigw_gemini_aspect(ngx_str_t *size, ngx_str_t *aspect);
static ngx_int_t ngx_http_aigw_gemini_inline(ngx_http_aigw_json_t *j,
    ngx_uint_t p, ngx_str_t *media_type, ngx_str_t *data);
static ngx_int_t ngx_http_aigw_gemini_images(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_response_t *resp);


/* no client speaks Gemini to the gateway: no fields to check */

static const ngx_http_aigw_field_t  ngx_http_aigw_gemini_fields[] = {
    { ngx_null_string, 0, 0, 0, NULL }
};


const ngx_http_aigw_format_t  ngx_http_aigw_gemini_format = {
    ngx_string("gemini"),
    { ngx_string(":generateContent"),                   /* chat: target() */
      ngx_null_string,                                  /* count tokens */
      ngx_string(":embedContent"),                      /* embeddings:
                                                           target() */
      ngx_string(":generateContent") },                 /* images */
    ngx_http_aigw_auth_goog_api_key,
    0,                                                  /* own credential */
    { ngx_null_string,                                  /* client paths */
      ngx_null_string,
      ngx_null_string },
    ngx_null_string,                                    /* client header */

    ngx_http_aigw_gemini_fields,                        /* fields */
    NULL,                                               /* field error */
    NULL,                                               /* validate */
    NULL,                                               /* parse request */
    NULL,                                               /* write response */
    NULL,                                               /* write event */
    NULL,                                               /* write error */
    NULL,                                               /* write models */
    NULL,                                               /* write count */

    NULL,                                               /* passthrough */
    ngx_http_aigw_gemini_write_request,                 /* write request */
    ngx_http_aigw_gemini_request_headers,               /* request headers */
    ngx_http_aigw_gemini_parse_response,                /* parse response */
    ngx_http_aigw_gemini_parse_event,                   /* parse event */
    ngx_http_aigw_gemini_parse_error,                   /* parse error */
    &ngx_http_aigw_sse_framing,                         /* framing */
    ngx_http_aigw_gemini_target,                        /* target */
    NULL,                                               /* rate limits */
    NULL,                                               /* sign */
    NULL,                                               /* request model */
    ngx_null_string                                     /* models path */
};


/* the request */

static ngx_int_t
ngx_http_aigw_gemini_write_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_http_aigw_chat_t  *chat;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_gemini_write_embed(r, ctx, t, w);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_gemini_write_image(r, ctx, w);
    }

    chat = ctx->chat;

    ngx_http_aigw_jw_lit(w, "{\"contents\":[");

    /* Vertex refuses function call ids (vercel/ai #15664) */

    ngx_http_aigw_gemini_write_contents(r, w, chat,
                                        t->provider->vertex == NULL);

    ngx_http_aigw_jw_lit(w, "]");

    ngx_http_aigw_gemini_write_system(w, chat);
    ngx_http_aigw_gemini_write_tools(w, chat);
    ngx_http_aigw_gemini_write_config(r, w, ctx, t);

    ngx_http_aigw_jw_lit(w, "}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/*
 * /v1/embeddings: embedContent for a string, batchEmbedContents for an
 * array, each request naming the URL's model; dimensions ->
 * outputDimensionality
 */

static ngx_int_t
ngx_http_aigw_gemini_write_embed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    ngx_str_t             *in;
    ngx_uint_t             i;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;
    in = chat->inputs.elts;

    if (chat->input_array) {
        ngx_http_aigw_jw_lit(w, "{\"requests\":[");
    }

    for (i = 0; i < chat->inputs.nelts; i++) {

        if (chat->input_array) {
            ngx_http_aigw_jw_cstr(w, i ? ",{\"model\":\"" : "{\"model\":\"");

            if (ngx_strlchr(t->id.data, t->id.data + t->id.len, '/') == NULL)
            {
                ngx_http_aigw_jw_lit(w, "models/");
            }

            ngx_http_aigw_jw_escape(w, t->id.data, t->id.len);
            ngx_http_aigw_jw_lit(w, "\",");

        } else {
            ngx_http_aigw_jw_lit(w, "{");
        }

        ngx_http_aigw_jw_lit(w, "\"content\":{\"parts\":[{\"text\":");
        ngx_http_aigw_jw_qstr(w, &in[i]);
        ngx_http_aigw_jw_lit(w, "}]}");

        if (chat->dimensions > 0) {
            ngx_http_aigw_jw_lit(w, ",\"outputDimensionality\":");
            ngx_http_aigw_jw_int(w, chat->dimensions);
        }

        ngx_http_aigw_jw_lit(w, "}");
    }

    if (chat->input_array) {
        ngx_http_aigw_jw_lit(w, "]}");
    }

    return w->error ? NGX_ERROR : NGX_OK;
}


/*
 * An image generation: the prompt as the user's text, images only, and
 * the aspect ratio asked for (the AI SDK's) or nearest to the size; one
 * image per call (Gemini image models make one candidate), so n > 1
 * never reaches a Gemini provider (the plan leaves it out)
 */

static ngx_int_t
ngx_http_aigw_gemini_write_image(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_jw_t *w)
{
    ngx_str_t              aspect;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;

    ngx_http_aigw_jw_lit(w, "{\"contents\":[{\"role\":\"user\",\"parts\":"
                            "[{\"text\":");
    ngx_http_aigw_jw_qstr(w, &chat->prompt);
    ngx_http_aigw_jw_lit(w, "}]}],\"generationConfig\":"
                            "{\"responseModalities\":[\"IMAGE\"]");

    aspect = chat->aspect;

    if (aspect.len == 0) {
        ngx_http_aigw_gemini_aspect(&chat->size, &aspect);
    }

    if (aspect.len) {
        ngx_http_aigw_jw_lit(w, ",\"imageConfig\":{\"aspectRatio\":");
        ngx_http_aigw_jw_qstr(w, &aspect);
        ngx_http_aigw_jw_lit(w, "}");
    }

    ngx_http_aigw_jw_lit(w, "}}");

    return w->error ? NGX_ERROR : NGX_OK;
}


/* "WxH": the aspect ratio of Gemini's nearest to it; else none */

static void
ngx_http_aigw_gemini_aspect(ngx_str_t *size, ngx_str_t *aspect)
{
    u_char      *x, *last;
    ngx_int_t    width, height, ratio, d, best;
    ngx_uint_t   i, k;

    static ngx_str_t  names[] = {
        ngx_string("1:1"), ngx_string("2:3"), ngx_string("3:2"),
        ngx_string("3:4"), ngx_string("4:3"), ngx_string("4:5"),
        ngx_string("5:4"), ngx_string("9:16"), ngx_string("16:9"),
        ngx_string("21:9")
    };

    /* the ratios, x 1000 */

    static ngx_int_t  ratios[] = {
        1000, 667, 1500, 750, 1333, 800, 1250, 563, 1778, 2333
    };

    ngx_str_null(aspect);

    last = size->data + size->len;
    x = ngx_strlchr(size->data, last, 'x');

    if (x == NULL) {
        return;
    }

    width = ngx_atoi(size->data, x - size->data);
    height = ngx_atoi(x + 1, last - x - 1);

    if (width <= 0 || height <= 0 || width > 100000 || height > 100000) {
        return;
    }

    ratio = width * 1000 / height;
    best = NGX_MAX_INT_T_VALUE;
    k = 0;

    for (i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
        d = ngx_abs(ratio - ratios[i]);

        if (d < best) {
            best = d;
            k = i;
        }
    }

    *aspect = names[k];
}


/* system prompts, wherever they were, as the system instruction's parts */

static void
ngx_http_aigw_gemini_write_system(ngx_http_aigw_jw_t *w,
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

            ngx_http_aigw_jw_cstr(w, n++ ? ",{\"text\":"
                                    : ",\"systemInstruction\":{\"parts\":"
                                      "[{\"text\":");
            ngx_http_aigw_jw_qstr(w, &part[k].text);
            ngx_http_aigw_jw_lit(w, "}");
        }
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, "]}");
    }
}


/*
 * contents: roles "user" and "model" only; tool results are user turns,
 * turns of a role are merged
 */

static void
ngx_http_aigw_gemini_write_contents(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_chat_t *chat, ngx_uint_t ids)
{
    ngx_str_t              sig;
    ngx_uint_t             i, k, n, role, calls, contents;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t  *part;

    msg = chat->messages.elts;
    role = (ngx_uint_t) -1;
    n = 0;
    calls = 0;
    contents = 0;

    for (i = 0; i < chat->messages.nelts; i++) {

        if (msg[i].role == ngx_http_aigw_role_system
            || !ngx_http_aigw_gemini_any(&msg[i]))
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
                                    ? "{\"role\":\"model\",\"parts\":["
                                    : "{\"role\":\"user\",\"parts\":[");
            role = k;
            n = 0;
            calls = 0;
            contents++;
        }

        if (msg[i].role == ngx_http_aigw_role_tool) {
            if (n++) {
                ngx_http_aigw_jw_lit(w, ",");
            }

            ngx_http_aigw_gemini_write_result(w, chat, &msg[i].tool_call_id,
                                              &msg[i].parts, 0, ids);
            continue;
        }

        ngx_str_null(&sig);
        part = msg[i].parts.elts;

        for (k = 0; k < msg[i].parts.nelts; k++) {
            n += ngx_http_aigw_gemini_write_part(r, w, chat, &part[k], n, ids,
                                                 &sig, &calls);
        }
    }

    if (role != (ngx_uint_t) -1) {
        ngx_http_aigw_jw_lit(w, "]}");
    }

    if (contents == 0) {

        /* Gemini wants at least one content */

        ngx_http_aigw_jw_lit(w, "{\"role\":\"user\",\"parts\":[{\"text\":"
                                "\"\"}]}");
    }
}


/* whether a message makes at least one part */

static ngx_uint_t
ngx_http_aigw_gemini_any(ngx_http_aigw_msg_t *msg)
{
    ngx_uint_t             i;
    ngx_http_aigw_part_t  *part;

    if (msg->role == ngx_http_aigw_role_tool) {
        return 1;
    }

    part = msg->parts.elts;

    for (i = 0; i < msg->parts.nelts; i++) {
        switch (part[i].type) {

        case ngx_http_aigw_part_text:
            if (part[i].text.len) {
                return 1;
            }

            break;

        case ngx_http_aigw_part_image:
        case ngx_http_aigw_part_document:
        case ngx_http_aigw_part_tool_call:
        case ngx_http_aigw_part_tool_result:
            return 1;

        default:
            break;
        }
    }

    return 0;
}


/*
 * One part, with a comma before it when "n" parts came before; returns
 * how many it wrote.  A signed thinking part writes nothing: its
 * signature goes on the next part (sig).
 */

static ngx_uint_t
ngx_http_aigw_gemini_write_part(ngx_http_request_t *r, ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat, ngx_http_aigw_part_t *part, ngx_uint_t n,
    ngx_uint_t ids, ngx_str_t *sig, ngx_uint_t *calls)
{
    switch (part->type) {

    case ngx_http_aigw_part_thinking:
        if (part->signature.len) {
            *sig = part->signature;
        }

        return 0;

    case ngx_http_aigw_part_text:
        if (part->text.len == 0) {
            return 0;
        }

        break;

    case ngx_http_aigw_part_image:
    case ngx_http_aigw_part_document:
    case ngx_http_aigw_part_tool_call:
    case ngx_http_aigw_part_tool_result:
        break;

    default:
        return 0;
    }

    if (n) {
        ngx_http_aigw_jw_lit(w, ",");
    }

    switch (part->type) {

    case ngx_http_aigw_part_text:
        ngx_http_aigw_jw_lit(w, "{\"text\":");
        ngx_http_aigw_jw_qstr(w, &part->text);
        break;

    case ngx_http_aigw_part_tool_call:
        ngx_http_aigw_jw_lit(w, "{\"functionCall\":{");

        if (ids && part->id.len) {
            ngx_http_aigw_jw_lit(w, "\"id\":");
            ngx_http_aigw_jw_qstr(w, &part->id);
            ngx_http_aigw_jw_lit(w, ",");
        }

        ngx_http_aigw_jw_lit(w, "\"name\":");
        ngx_http_aigw_jw_qstr(w, &part->name);
        ngx_http_aigw_jw_lit(w, ",\"args\":");

        if (ngx_http_aigw_write_tool_input(r, w, part) != NGX_OK) {
            w->error = 1;
        }

        ngx_http_aigw_jw_lit(w, "}");

        /*
         * Gemini 3 wants the first call of a turn signed; the others of
         * a parallel call never are
         */

        if ((*calls)++ == 0 && sig->len == 0) {
            ngx_str_set(sig, NGX_HTTP_AIGW_GEMINI_SKIP);
        }

        break;

    case ngx_http_aigw_part_tool_result:
        ngx_http_aigw_gemini_write_result(w, chat, &part->id, part->content,
                                          part->is_error, ids);
        return 1;

    default: /* image, document */

        if (part->data.len) {
            ngx_http_aigw_jw_lit(w, "{\"inlineData\":{\"mimeType\":");
            ngx_http_aigw_jw_qstr(w, &part->media_type);
            ngx_http_aigw_jw_lit(w, ",\"data\":");
            ngx_http_aigw_jw_qstr(w, &part->data);

        } else {
            ngx_http_aigw_jw_lit(w, "{\"fileData\":{");

            if (part->media_type.len) {
                ngx_http_aigw_jw_lit(w, "\"mimeType\":");
                ngx_http_aigw_jw_qstr(w, &part->media_type);
                ngx_http_aigw_jw_lit(w, ",");
            }

            ngx_http_aigw_jw_lit(w, "\"fileUri\":");
            ngx_http_aigw_jw_qstr(w, &part->url);
        }

        ngx_http_aigw_jw_lit(w, "}");
        break;
    }

    if (sig->len) {
        ngx_http_aigw_jw_lit(w, ",\"thoughtSignature\":");
        ngx_http_aigw_jw_qstr(w, sig);
        ngx_str_null(sig);
    }

    ngx_http_aigw_jw_lit(w, "}");

    return 1;
}


/*
 * A tool result: a functionResponse named after its call (Gemini matches
 * them by name), its text as {"output": ...} or {"error": ...}
 */

static void
ngx_http_aigw_gemini_write_result(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat, ngx_str_t *id, ngx_array_t *content,
    ngx_uint_t is_error, ngx_uint_t ids)
{
    ngx_str_t             *name;
    ngx_uint_t             i, k, n;
    ngx_http_aigw_msg_t   *msg;
    ngx_http_aigw_part_t  *part;

    name = id;
    msg = chat->messages.elts;

    for (i = 0; i < chat->messages.nelts; i++) {
        part = msg[i].parts.elts;

        for (k = 0; k < msg[i].parts.nelts; k++) {
            if (part[k].type == ngx_http_aigw_part_tool_call
                && part[k].id.len == id->len
                && ngx_strncmp(part[k].id.data, id->data, id->len) == 0)
            {
                name = &part[k].name;
            }
        }
    }

    ngx_http_aigw_jw_lit(w, "{\"functionResponse\":{");

    if (ids && id->len) {
        ngx_http_aigw_jw_lit(w, "\"id\":");
        ngx_http_aigw_jw_qstr(w, id);
        ngx_http_aigw_jw_lit(w, ",");
    }

    ngx_http_aigw_jw_lit(w, "\"name\":");
    ngx_http_aigw_jw_qstr(w, name);

    ngx_http_aigw_jw_cstr(w, is_error ? ",\"response\":{\"error\":\""
                                      : ",\"response\":{\"output\":\"");

    if (content) {
        part = content->elts;

        for (i = 0, n = 0; i < content->nelts; i++) {
            if (part[i].type != ngx_http_aigw_part_text) {
                continue;
            }

            if (n++) {
                ngx_http_aigw_jw_lit(w, "\\n");
            }

            ngx_http_aigw_jw_str(w, &part[i].text);
        }
    }

    ngx_http_aigw_jw_lit(w, "\"}}}");
}


/* function declarations, their JSON Schema as it came, and toolConfig */

static void
ngx_http_aigw_gemini_write_tools(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_chat_t *chat)
{
    ngx_uint_t             i;
    ngx_http_aigw_tool_t  *tool;

    if (chat->tools.nelts == 0) {
        return;
    }

    tool = chat->tools.elts;

    ngx_http_aigw_jw_lit(w, ",\"tools\":[{\"functionDeclarations\":[");

    for (i = 0; i < chat->tools.nelts; i++) {
        ngx_http_aigw_jw_cstr(w, i ? ",{\"name\":" : "{\"name\":");
        ngx_http_aigw_jw_qstr(w, &tool[i].name);

        if (tool[i].description.len) {
            ngx_http_aigw_jw_lit(w, ",\"description\":");
            ngx_http_aigw_jw_qstr(w, &tool[i].description);
        }

        if (tool[i].schema.len) {
            ngx_http_aigw_jw_lit(w, ",\"parametersJsonSchema\":");
            ngx_http_aigw_jw_str(w, &tool[i].schema);
        }

        ngx_http_aigw_jw_lit(w, "}");
    }

    ngx_http_aigw_jw_lit(w, "]}]");

    switch (chat->tool_choice) {

    case ngx_http_aigw_choice_unset:
        return;

    case ngx_http_aigw_choice_none:
        ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"NONE\"}}");
        return;

    case ngx_http_aigw_choice_any:
        ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"ANY\"}}");
        return;

    case ngx_http_aigw_choice_tool:
        ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"ANY\",\"allowedFunctionNames\":"
                                "[");
        ngx_http_aigw_jw_qstr(w, &chat->tool_choice_name);
        ngx_http_aigw_jw_lit(w, "]}}");
        return;

    default:
        ngx_http_aigw_jw_lit(w, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"AUTO\"}}");
        return;
    }
}


/*
 * generationConfig: sampling, max output tokens, stop sequences and
 * thinking (a level on Gemini 3, a budget before it)
 */

static void
ngx_http_aigw_gemini_write_config(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t)
{
    int64_t                max, budget;
    ngx_str_t             *s;
    ngx_uint_t             i, n, level;
    ngx_http_aigw_chat_t  *chat;

    chat = ctx->chat;
    n = 0;

#define ngx_http_aigw_gemini_member(name)                                    \
    ngx_http_aigw_jw_cstr(w, n++ ? ",\"" name "\":"                          \
                                 : ",\"generationConfig\":{\"" name "\":")

    if (chat->temperature.len) {
        ngx_http_aigw_gemini_member("temperature");
        ngx_http_aigw_jw_str(w, &chat->temperature);
    }

    if (chat->top_p.len) {
        ngx_http_aigw_gemini_member("topP");
        ngx_http_aigw_jw_str(w, &chat->top_p);
    }

    if (chat->top_k.len) {
        ngx_http_aigw_gemini_member("topK");
        ngx_http_aigw_jw_str(w, &chat->top_k);
    }

    max = chat->max_tokens;

    if (max <= 0 && t->provider->max_tokens != NGX_CONF_UNSET_UINT) {
        max = t->provider->max_tokens;
    }

    if (max > 0) {
        ngx_http_aigw_gemini_member("maxOutputTokens");
        ngx_http_aigw_jw_int(w, max);
    }

    if (chat->stop.nelts) {
        s = chat->stop.elts;

        ngx_http_aigw_gemini_member("stopSequences");
        ngx_http_aigw_jw_lit(w, "[");

        for (i = 0; i < chat->stop.nelts; i++) {
            ngx_http_aigw_jw_cstr(w, i ? "," : "");
            ngx_http_aigw_jw_qstr(w, &s[i]);
        }

        ngx_http_aigw_jw_lit(w, "]");
    }

    level = (ngx_strlcasestrn(t->id.data, t->id.data + t->id.len,
                              (u_char *) "gemini-3", 8 - 1)
             != NULL);

    switch (chat->thinking) {

    case ngx_http_aigw_think_enabled:
    case ngx_http_aigw_think_adaptive:
        ngx_http_aigw_gemini_member("thinkingConfig");

        if (level && chat->effort.len && chat->thinking_budget <= 0) {
            ngx_http_aigw_jw_lit(w, "{\"thinkingLevel\":");
            ngx_http_aigw_jw_qstr(w, &chat->effort);

        } else {
            budget = chat->thinking_budget;

            if (budget <= 0) {
                if (chat->effort.len == 3
                    && ngx_strncmp(chat->effort.data, "low", 3) == 0)
                {
                    budget = 1024;

                } else if (chat->effort.len == 4
                           && ngx_strncmp(chat->effort.data, "high", 4) == 0)
                {
                    budget = 24576;

                } else if (chat->thinking == ngx_http_aigw_think_adaptive) {
                    budget = -1;

                } else {
                    budget = 8192;
                }
            }

            ngx_http_aigw_jw_lit(w, "{\"thinkingBudget\":");
            ngx_http_aigw_jw_int(w, budget);
        }

        ngx_http_aigw_jw_lit(w, ",\"includeThoughts\":true}");
        break;

    case ngx_http_aigw_think_disabled:

        /* Gemini 3 cannot turn thinking off */

        if (!level) {
            ngx_http_aigw_gemini_member("thinkingConfig");
            ngx_http_aigw_jw_lit(w, "{\"thinkingBudget\":0}");
        }

        break;

    default:
        break;
    }

    /* image output asked for: text and images */

    if (chat->image_output) {
        ngx_http_aigw_gemini_member("responseModalities");
        ngx_http_aigw_jw_lit(w, "[\"TEXT\",\"IMAGE\"]");
    }

    /* JSON output: the schema as JSON Schema, as it came */

    if (chat->json_output) {
        ngx_http_aigw_gemini_member("responseMimeType");
        ngx_http_aigw_jw_lit(w, "\"application/json\"");

        if (chat->json_schema.len) {
            ngx_http_aigw_jw_lit(w, ",\"responseJsonSchema\":");
            ngx_http_aigw_jw_str(w, &chat->json_schema);
        }
    }

#undef ngx_http_aigw_gemini_member

    if (n) {
        ngx_http_aigw_jw_lit(w, "}");
    }
}


/* the Gemini API key is the provider's key (request.c); Vertex: a token */

static ngx_int_t
ngx_http_aigw_gemini_request_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_jw_t *w)
{
    if (t->provider->vertex) {
        ngx_http_aigw_vertex_auth(t->provider, w);
    }

    return NGX_OK;
}


/*
 * /v1beta/models/{id}:generateContent, or
 * /v1/projects/{P}/locations/{L}/publishers/google/models/{id}:... on
 * Vertex; an id with a "/" (tunedModels/x) replaces "models/{id}"
 */

static ngx_int_t
ngx_http_aigw_gemini_target(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_target_t *t, ngx_str_t *path, ngx_str_t *query)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    id, method;
    ngx_uint_t   n;

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        if (ctx->chat->input_array) {
            ngx_str_set(&method, "batchEmbedContents");

        } else {
            ngx_str_set(&method, "embedContent");
        }

        ngx_str_null(query);

    } else if (ctx->stream) {
        ngx_str_set(&method, "streamGenerateContent");
        ngx_str_set(query, "alt=sse");

    } else {
        ngx_str_set(&method, "generateContent");
        ngx_str_null(query);
    }

    n = ngx_escape_uri(NULL, t->id.data, t->id.len, NGX_ESCAPE_URI);

    id.len = t->id.len + 2 * n;
    id.data = ngx_pnalloc(r->pool, id.len);
    if (id.data == NULL) {
        return NGX_ERROR;
    }

    ngx_escape_uri(id.data, t->id.data, t->id.len, NGX_ESCAPE_URI);

    if (t->provider->vertex) {
        return ngx_http_aigw_vertex_path(r, t->provider, "google", &id,
                                         &method, path);
    }

    len = sizeof("/v1beta/models/:") - 1 + id.len + method.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    path->data = p;

    if (ngx_strlchr(t->id.data, t->id.data + t->id.len, '/')) {
        p = ngx_sprintf(p, "/v1beta/%V:%V", &id, &method);

    } else {
        p = ngx_sprintf(p, "/v1beta/models/%V:%V", &id, &method);
    }

    path->len = p - path->data;

    return NGX_OK;
}


/* the response */

static ngx_int_t
ngx_http_aigw_gemini_parse_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_response_t *resp)
{
    ngx_str_t              sig, data;
    ngx_uint_t             c, cand, parts, e, v, calls;
    ngx_http_aigw_json_t   j;
    ngx_http_aigw_part_t  *part, *prev;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = resp ? NGX_HTTP_AIGW_JSON_RECORD_ALL : 2;

    if (ngx_http_aigw_json_parse(&j, body->data, body->len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_gemini_usage(&j, ngx_http_aigw_json_get(&j, 0,
                                                          "usageMetadata"),
                               &ctx->usage);

    if (resp == NULL) {
        return NGX_OK;
    }

    if (ctx->endpoint == ngx_http_aigw_ep_embeddings) {
        return ngx_http_aigw_gemini_parse_embed(r, ctx, &j, resp);
    }

    (void) ngx_http_aigw_json_get_str(&j, 0, "responseId", &resp->id);
    (void) ngx_http_aigw_json_get_str(&j, 0, "modelVersion", &resp->model);

    c = ngx_http_aigw_json_get(&j, 0, "candidates");

    if (!ngx_http_aigw_json_is(&j, c, ngx_http_aigw_json_array)
        || j.toks[c].count == 0)
    {
        /* a blocked prompt: no candidates, promptFeedback.blockReason */

        v = ngx_http_aigw_json_get(&j, ngx_http_aigw_json_get(&j, 0,
                                                      "promptFeedback"),
                                   "blockReason");

        resp->stop = ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)
                     ? ngx_http_aigw_stop_filter : ngx_http_aigw_stop_end;

        return NGX_OK;
    }

    cand = c + 1;
    parts = ngx_http_aigw_json_get(&j, ngx_http_aigw_json_get(&j, cand,
                                                              "content"),
                                   "parts");
    calls = 0;

    if (ngx_http_aigw_json_is(&j, parts, ngx_http_aigw_json_array)) {

        for (e = parts + 1; e < j.toks[parts].next; e = j.toks[e].next) {

            if (!ngx_http_aigw_json_is(&j, e, ngx_http_aigw_json_object)) {
                continue;
            }

            ngx_str_null(&sig);
            (void) ngx_http_aigw_json_get_str(&j, e, "thoughtSignature",
                                              &sig);

            v = ngx_http_aigw_json_get(&j, e, "functionCall");

            if (ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_object)) {

                /* its signature, in a thinking part before it */

                if (sig.len) {
                    prev = resp->parts.nelts
                           ? (ngx_http_aigw_part_t *) resp->parts.elts
                             + resp->parts.nelts - 1
                           : NULL;

                    if (prev == NULL
                        || prev->type != ngx_http_aigw_part_thinking
                        || prev->signature.len)
                    {
                        prev = ngx_http_aigw_part_add(&resp->parts,
                                                ngx_http_aigw_part_thinking);
                        if (prev == NULL) {
                            return NGX_ERROR;
                        }
                    }

                    prev->signature = sig;
                }

                part = ngx_http_aigw_part_add(&resp->parts,
                                              ngx_http_aigw_part_tool_call);
                if (part == NULL) {
                    return NGX_ERROR;
                }

                if (ngx_http_aigw_gemini_call_id(r->pool, &j, v, &part->id)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                (void) ngx_http_aigw_json_get_str(&j, v, "name", &part->name);
                ngx_http_aigw_json_get_raw(&j, v, "args", &part->input);
                calls++;
                continue;
            }

            v = ngx_http_aigw_json_get(&j, e, "text");

            if (!ngx_http_aigw_json_is(&j, v, ngx_http_aigw_json_string)) {

                /* an image made: an image part */

                if (ngx_http_aigw_gemini_inline(&j, e, &sig, &data)
                    == NGX_OK)
                {
                    part = ngx_http_aigw_part_add(&resp->parts,
                                                  ngx_http_aigw_part_image);
                    if (part == NULL) {
                        return NGX_ERROR;
                    }

                    part->media_type = sig;
                    part->data = data;
                    continue;
                }

                if (ngx_http_aigw_json_get(&j, e, "inlineData")
                    != NGX_HTTP_AIGW_JSON_NONE)
                {
                    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                  "aigw: inline data of the provider other "
                                  "than an image is left out");
                }

                continue;
            }

            if (j.toks[v].end - j.toks[v].start <= 2) {
                continue;
            }

            part = ngx_http_aigw_part_add(&resp->parts,
                       ngx_http_aigw_json_is(&j,
                           ngx_http_aigw_json_get(&j, e, "thought"),
                           ngx_http_aigw_json_true)
                       ? ngx_http_aigw_part_thinking : ngx_http_aigw_part_text);
            if (part == NULL) {
                return NGX_ERROR;
            }

            ngx_http_aigw_json_str_raw(&j, v, &part->text);
        }
    }

    resp->stop = ngx_http_aigw_gemini_stop(&j,
                     ngx_http_aigw_json_get(&j, cand, "finishReason"), calls);

    if (ctx->endpoint == ngx_http_aigw_ep_images) {
        return ngx_http_aigw_gemini_images(r, ctx, resp);
    }

    return NGX_OK;
}


/*
 * An image of a part, {"inlineData":{"mimeType":"image/...","data":...}},
 * not an interim one of thinking ("thought": true): its media type and
 * base64 data (escaped); NGX_DECLINED for anything else
 */

static ngx_int_t
ngx_http_aigw_gemini_inline(ngx_http_aigw_json_t *j, ngx_uint_t p,
    ngx_str_t *media_type, ngx_str_t *data)
{
    ngx_uint_t  v;

    v = ngx_http_aigw_json_get(j, p, "inlineData");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)
        || ngx_http_aigw_json_is(j, ngx_http_aigw_json_get(j, p, "thought"),
                                 ngx_http_aigw_json_true)
        || !ngx_http_aigw_json_get_str(j, v, "mimeType", media_type)
        || !ngx_http_aigw_json_get_str(j, v, "data", data)
        || media_type->len <= 6
        || ngx_strncmp(media_type->data, "image/", 6) != 0
        || data->len == 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * An image generation: the images made, counted for per-image prices;
 * an answer without one (finishReason IMAGE_SAFETY, NO_IMAGE) is
 * invalid
 */

static ngx_int_t
ngx_http_aigw_gemini_images(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_response_t *resp)
{
    ngx_str_t             *s;
    ngx_uint_t             i;
    ngx_http_aigw_part_t  *part;

    resp->images = ngx_array_create(r->pool, ngx_max(resp->parts.nelts, 1),
                                    sizeof(ngx_str_t));
    if (resp->images == NULL) {
        return NGX_ERROR;
    }

    part = resp->parts.elts;

    for (i = 0; i < resp->parts.nelts; i++) {
        if (part[i].type != ngx_http_aigw_part_image) {
            continue;
        }

        s = ngx_array_push(resp->images);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = part[i].data;
    }

    ctx->images = resp->images->nelts;

    if (ctx->images == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" made no image%s",
                      &ctx->target->provider->name,
                      resp->stop == ngx_http_aigw_stop_filter
                      ? " (blocked)" : "");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * {"embedding":{"values":[...]}} or {"embeddings":[{"values":[...]}...]}:
 * the vectors as they came, one per input; anything else is invalid
 */

static ngx_int_t
ngx_http_aigw_gemini_parse_embed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_response_t *resp)
{
    ngx_str_t   *s;
    ngx_uint_t   e, v, n;

    e = ngx_http_aigw_json_get(j, 0, "embeddings");

    if (ngx_http_aigw_json_is(j, e, ngx_http_aigw_json_array)) {
        n = j->toks[e].count;
        e++;

    } else {
        e = ngx_http_aigw_json_get(j, 0, "embedding");
        n = ngx_http_aigw_json_is(j, e, ngx_http_aigw_json_object);
    }

    if (n != ctx->chat->inputs.nelts) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aigw: provider \"%V\" sent %ui embeddings for %ui "
                      "inputs", &ctx->target->provider->name, n,
                      ctx->chat->inputs.nelts);
        return NGX_ERROR;
    }

    resp->embeddings = ngx_array_create(r->pool, ngx_max(n, 1),
                                        sizeof(ngx_str_t));
    if (resp->embeddings == NULL) {
        return NGX_ERROR;
    }

    while (n--) {
        v = ngx_http_aigw_json_get(j, e, "values");

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
            return NGX_ERROR;
        }

        s = ngx_array_push(resp->embeddings);
        if (s == NULL) {
            return NGX_ERROR;
        }

        ngx_http_aigw_json_raw(j, v, s);

        e = j->toks[e].next;
    }

    return NGX_OK;
}


/* a call's id, or one made up: Gemini often sends none */

static ngx_int_t
ngx_http_aigw_gemini_call_id(ngx_pool_t *pool, ngx_http_aigw_json_t *j,
    ngx_uint_t call, ngx_str_t *id)
{
    u_char  *p;

    static ngx_uint_t  n;

    if (ngx_http_aigw_json_get_str(j, call, "id", id) && id->len) {
        return NGX_OK;
    }

    p = ngx_pnalloc(pool, sizeof("call_") - 1 + 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    id->data = p;
    p = ngx_sprintf(p, "call_%08xi%ui", (ngx_uint_t) ngx_random(), n++);
    id->len = p - id->data;

    return NGX_OK;
}


static void
ngx_http_aigw_gemini_usage(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage)
{
    int64_t  prompt, tool, cached, out, thoughts;

    if (!ngx_http_aigw_json_is(j, u, ngx_http_aigw_json_object)) {
        return;
    }

    if (ngx_http_aigw_json_get_count(j, u, "promptTokenCount",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &prompt)
        != NGX_OK)
    {
        prompt = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "toolUsePromptTokenCount",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &tool)
        != NGX_OK)
    {
        tool = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "cachedContentTokenCount",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &cached)
        != NGX_OK)
    {
        cached = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "candidatesTokenCount",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &out)
        != NGX_OK)
    {
        out = 0;
    }

    if (ngx_http_aigw_json_get_count(j, u, "thoughtsTokenCount",
                                     NGX_HTTP_AIGW_TOKENS_MAX, &thoughts)
        != NGX_OK)
    {
        thoughts = 0;
    }

    /* every chunk of a stream may carry it: the last one counts */

    usage->seen = 1;
    usage->input = prompt + tool;
    usage->cache_read = ngx_min(cached, prompt);
    usage->output = out + thoughts;
    usage->reasoning = thoughts;
}


static ngx_uint_t
ngx_http_aigw_gemini_stop(ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_uint_t calls)
{
    ngx_uint_t  i;

    static const char  *filters[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
        NULL
    };

    if (ngx_http_aigw_json_str_eq(j, v, "MAX_TOKENS")) {
        return ngx_http_aigw_stop_length;
    }

    for (i = 0; filters[i]; i++) {
        if (ngx_http_aigw_json_str_eq(j, v, filters[i])) {
            return ngx_http_aigw_stop_filter;
        }
    }

    /* a function call ends with STOP: the calls tell */

    if (calls
        && (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
            || ngx_http_aigw_json_str_eq(j, v, "STOP")))
    {
        return ngx_http_aigw_stop_tool;
    }

    return ngx_http_aigw_stop_end;
}


/*
 * A stream chunk: a whole response with the new parts only.  The stream
 * ends with the body, after the chunk with the finish reason; a chunk
 * with "error" ends it with an error.
 */

static ngx_int_t
ngx_http_aigw_gemini_parse_event(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_sse_event_t *sev,
    ngx_array_t *events)
{
    ngx_uint_t                     c, cand, parts, e, v;
    ngx_http_aigw_json_t          *j;
    ngx_http_aigw_event_t         *ev;
    ngx_http_aigw_gemini_parse_t  *st;

    if (!sev->has_data) {
        return NGX_OK;
    }

    st = ctx->pstate;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_gemini_parse_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->pstate = st;
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

    e = ngx_http_aigw_json_get(j, 0, "error");

    if (e != NGX_HTTP_AIGW_JSON_NONE) {
        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_error, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->status = NGX_HTTP_BAD_GATEWAY;
        ngx_http_aigw_error_type(ev->status, &ev->err_type);

        v = ngx_http_aigw_json_get(j, e, "message");

        if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            ngx_http_aigw_json_str_raw(j, v, &ev->text);

        } else {
            ngx_str_set(&ev->text, "the provider reported an error");
        }

        return NGX_DONE;
    }

    ngx_http_aigw_gemini_usage(j, ngx_http_aigw_json_get(j, 0,
                                                         "usageMetadata"),
                               &ctx->usage);

    if (!st->started) {
        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_start, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, 0, "responseId", &ev->id);
        (void) ngx_http_aigw_json_get_str(j, 0, "modelVersion", &ev->name);

        st->started = 1;
    }

    c = ngx_http_aigw_json_get(j, 0, "candidates");

    if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_array)
        || j->toks[c].count == 0)
    {
        v = ngx_http_aigw_json_get(j, ngx_http_aigw_json_get(j, 0,
                                                     "promptFeedback"),
                                   "blockReason");

        if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
            return NGX_OK;
        }

        if (ngx_http_aigw_gemini_open(st, 0, events) != NGX_OK) {
            return NGX_ERROR;
        }

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_finish, 0);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->stop = ngx_http_aigw_stop_filter;

        return NGX_OK;
    }

    cand = c + 1;
    parts = ngx_http_aigw_json_get(j, ngx_http_aigw_json_get(j, cand,
                                                             "content"),
                                   "parts");

    if (ngx_http_aigw_json_is(j, parts, ngx_http_aigw_json_array)) {
        for (e = parts + 1; e < j->toks[parts].next; e = j->toks[e].next) {
            if (ngx_http_aigw_gemini_event_part(r, st, j, e, events)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    v = ngx_http_aigw_json_get(j, cand, "finishReason");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return NGX_OK;
    }

    if (ngx_http_aigw_gemini_open(st, 0, events) != NGX_OK) {
        return NGX_ERROR;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_finish, 0);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->stop = ngx_http_aigw_gemini_stop(j, v, st->calls);

    return NGX_OK;
}


/* one part of a chunk as block events */

static ngx_int_t
ngx_http_aigw_gemini_event_part(ngx_http_request_t *r,
    ngx_http_aigw_gemini_parse_t *st, ngx_http_aigw_json_t *j, ngx_uint_t p,
    ngx_array_t *events)
{
    ngx_str_t               sig, args;
    ngx_uint_t              v, kind;
    ngx_http_aigw_jw_t      w;
    ngx_http_aigw_event_t  *ev;

    if (!ngx_http_aigw_json_is(j, p, ngx_http_aigw_json_object)) {
        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, p, "functionCall");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_object)) {

        /* its signature as a thinking block of its own before it */

        if (ngx_http_aigw_json_get_str(j, p, "thoughtSignature", &sig)
            && sig.len)
        {
            if (st->block != ngx_http_aigw_part_thinking
                && ngx_http_aigw_gemini_open(st, ngx_http_aigw_part_thinking,
                                             events)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta,
                                         ngx_http_aigw_part_signature);
            if (ev == NULL) {
                return NGX_ERROR;
            }

            ev->text = sig;
        }

        if (ngx_http_aigw_gemini_open(st, ngx_http_aigw_part_tool_call,
                                      events)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ev = (ngx_http_aigw_event_t *) events->elts + events->nelts - 1;

        if (ngx_http_aigw_gemini_call_id(r->pool, j, v, &ev->id) != NGX_OK) {
            return NGX_ERROR;
        }

        (void) ngx_http_aigw_json_get_str(j, v, "name", &ev->name);

        /* the arguments as JSON text in a JSON string */

        ngx_http_aigw_json_get_raw(j, v, "args", &args);

        if (args.len == 0) {
            ngx_str_set(&args, "{}");
        }

        ngx_http_aigw_jw_init(&w, r->pool, args.len + 16);
        ngx_http_aigw_jw_escape(&w, args.data, args.len);

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta,
                                     ngx_http_aigw_part_tool_call);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_aigw_jw_flatten(&w, &ev->text) != NGX_OK) {
            return NGX_ERROR;
        }

        st->calls++;

        return ngx_http_aigw_gemini_open(st, 0, events);
    }

    /* an image made: a delta of its own, outside of blocks */

    if (ngx_http_aigw_gemini_inline(j, p, &sig, &args) == NGX_OK) {
        if (ngx_http_aigw_gemini_open(st, 0, events) != NGX_OK) {
            return NGX_ERROR;
        }

        ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta,
                                     ngx_http_aigw_part_image);
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->name = sig;
        ev->text = args;

        return NGX_OK;
    }

    v = ngx_http_aigw_json_get(j, p, "text");

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)
        || j->toks[v].end - j->toks[v].start <= 2)
    {
        /* an empty part that only carries a signature */
        return NGX_OK;
    }

    kind = ngx_http_aigw_json_is(j, ngx_http_aigw_json_get(j, p, "thought"),
                                 ngx_http_aigw_json_true)
           ? ngx_http_aigw_part_thinking : ngx_http_aigw_part_text;

    if (st->block != kind
        && ngx_http_aigw_gemini_open(st, kind, events) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ev = ngx_http_aigw_event_add(events, ngx_http_aigw_ev_delta, kind);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_http_aigw_json_str_raw(j, v, &ev->text);

    return NGX_OK;
}


/* closes the open block, opens one of "kind" (0: none) */

static ngx_int_t
ngx_http_aigw_gemini_open(ngx_http_aigw_gemini_parse_t *st, ngx_uint_t kind,
    ngx_array_t *events)
{
    if (st->block) {
        if (ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_stop,
                                    st->block)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    st->block = kind;

    if (kind == 0) {
        return NGX_OK;
    }

    if (ngx_http_aigw_event_add(events, ngx_http_aigw_ev_block_start, kind)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the google.rpc error body: {"error":{"code","message","status"}} */

static void
ngx_http_aigw_gemini_parse_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_http_aigw_error_t *err)
{
    ngx_uint_t            e, v;
    ngx_http_aigw_json_t  j;

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = 3;

    /* the body's status (RESOURCE_EXHAUSTED...) is no client's type */

    ngx_http_aigw_error_type(err->status, &err->type);

    if (body->len
        && ngx_http_aigw_json_parse(&j, body->data, body->len) == NGX_OK)
    {
        e = ngx_http_aigw_json_get(&j, 0, "error");
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
