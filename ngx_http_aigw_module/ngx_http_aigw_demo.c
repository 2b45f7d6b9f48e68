
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * aigw_demo: a tiny OpenAI-compatible provider served by nginx itself.
 * It answers chat completions (streamed or not) by echoing the last user
 * message, so that the gateway can be tried with no key and no network.
 */


static void ngx_http_aigw_demo_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_demo_reply(ngx_http_request_t *r,
    ngx_http_aigw_json_t *j);
static void ngx_http_aigw_demo_prefix(ngx_http_aigw_jw_t *w, time_t now);
static void ngx_http_aigw_demo_usage(ngx_http_aigw_jw_t *w, int64_t prompt,
    int64_t completion);


ngx_int_t
ngx_http_aigw_demo_handler(ngx_http_request_t *r)
{
    u_char              *last;
    ngx_int_t            rc;
    ngx_http_aigw_jw_t   w;

    last = r->uri.data + r->uri.len;

    if (r->uri.len >= 7 && ngx_strncmp(last - 7, "/models", 7) == 0
        && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_aigw_jw_init(&w, r->pool, 128);
        ngx_http_aigw_jw_lit(&w, "{\"object\":\"list\",\"data\":[{\"id\":"
                                 "\"echo\",\"object\":\"model\","
                                 "\"created\":0,\"owned_by\":\"aigw\"}]}\n");

        return ngx_http_aigw_send_json(r, NGX_HTTP_OK, w.out, w.size);
    }

    if (r->uri.len < 17
        || ngx_strncmp(last - 17, "/chat/completions", 17) != 0)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_FOUND, NULL,
                                        "the demo provider serves "
                                        "/chat/completions and /models");
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_ALLOWED, NULL,
                                        "use POST");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_aigw_demo_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_aigw_demo_body(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_str_t             body;
    ngx_http_aigw_json_t  j;

    if (ngx_http_aigw_request_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
    j.pool = r->pool;
    j.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

    if (body.len == 0
        || ngx_http_aigw_json_parse(&j, body.data, body.len) != NGX_OK
        || j.toks[0].type != ngx_http_aigw_json_object)
    {
        rc = ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                      "send a JSON chat completion request");
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_aigw_demo_reply(r, &j));
}


static void
ngx_http_aigw_demo_prefix(ngx_http_aigw_jw_t *w, time_t now)
{
    ngx_http_aigw_jw_lit(w, "data: {\"id\":\"chatcmpl-demo\",\"object\":"
                            "\"chat.completion.chunk\",\"created\":");
    ngx_http_aigw_jw_int(w, now);
    ngx_http_aigw_jw_lit(w, ",\"model\":\"echo\",\"choices\":[{\"index\":0,"
                            "\"delta\":");
}


/* an OpenAI usage object */

static void
ngx_http_aigw_demo_usage(ngx_http_aigw_jw_t *w, int64_t prompt,
    int64_t completion)
{
    ngx_http_aigw_jw_lit(w, "{\"prompt_tokens\":");
    ngx_http_aigw_jw_int(w, prompt);
    ngx_http_aigw_jw_lit(w, ",\"completion_tokens\":");
    ngx_http_aigw_jw_int(w, completion);
    ngx_http_aigw_jw_lit(w, ",\"total_tokens\":");
    ngx_http_aigw_jw_int(w, prompt + completion);
    ngx_http_aigw_jw_lit(w, "}");
}


static ngx_int_t
ngx_http_aigw_demo_reply(ngx_http_request_t *r, ngx_http_aigw_json_t *j)
{
    u_char              *p, *last, *word;
    time_t               now;
    int64_t              words, prompt;
    ngx_str_t            text;
    ngx_uint_t           v, e, c, m, stream, usage;
    ngx_http_aigw_jw_t   w;

    ngx_str_null(&text);

    /* the last user message: a string, or its text parts */

    v = ngx_http_aigw_json_get(j, 0, "messages");

    if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_array)) {
        for (e = v + 1; e < j->toks[v].next; e = j->toks[e].next) {
            if (!ngx_http_aigw_json_str_eq(j,
                                  ngx_http_aigw_json_get(j, e, "role"), "user"))
            {
                continue;
            }

            c = ngx_http_aigw_json_get(j, e, "content");

            if (ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_string)) {
                ngx_http_aigw_json_str_raw(j, c, &text);
                continue;
            }

            if (!ngx_http_aigw_json_is(j, c, ngx_http_aigw_json_array)) {
                continue;
            }

            for (m = c + 1; m < j->toks[c].next; m = j->toks[m].next) {
                v = ngx_http_aigw_json_get(j, m, "text");

                if (ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
                    ngx_http_aigw_json_str_raw(j, v, &text);
                }
            }

            v = ngx_http_aigw_json_get(j, 0, "messages");
        }
    }

    v = ngx_http_aigw_json_get(j, 0, "stream");
    stream = ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_true);

    v = ngx_http_aigw_json_get(j, 0, "stream_options");
    usage = ngx_http_aigw_json_is(j, ngx_http_aigw_json_get(j, v,
                                                            "include_usage"),
                                  ngx_http_aigw_json_true);

    now = ngx_time();
    prompt = (j->len + 3) / 4;
    words = 1;

    for (p = text.data; p < text.data + text.len; p++) {
        words += (*p == ' ');
    }

    ngx_http_aigw_jw_init(&w, r->pool, 512 + 2 * text.len);

    if (!stream) {
        ngx_http_aigw_jw_lit(&w, "{\"id\":\"chatcmpl-demo\",\"object\":"
                                 "\"chat.completion\",\"created\":");
        ngx_http_aigw_jw_int(&w, now);
        ngx_http_aigw_jw_lit(&w, ",\"model\":\"echo\",\"choices\":[{\"index\":"
                                 "0,\"message\":{\"role\":\"assistant\","
                                 "\"content\":\"echo: ");
        ngx_http_aigw_jw_str(&w, &text);
        ngx_http_aigw_jw_lit(&w, "\"},\"finish_reason\":\"stop\"}],"
                                 "\"usage\":");
        ngx_http_aigw_demo_usage(&w, prompt, words + 1);
        ngx_http_aigw_jw_lit(&w, "}\n");

        if (w.error) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_aigw_send_json(r, NGX_HTTP_OK, w.out, w.size);
    }

    ngx_http_aigw_demo_prefix(&w, now);
    ngx_http_aigw_jw_lit(&w, "{\"role\":\"assistant\",\"content\":\"echo:\"},"
                             "\"finish_reason\":null}]}\n\n");

    /* a chunk per word */

    p = text.data;
    last = text.data + text.len;

    while (p < last) {
        word = p;

        while (p < last && *p != ' ') {
            p++;
        }

        ngx_http_aigw_demo_prefix(&w, now);
        ngx_http_aigw_jw_lit(&w, "{\"content\":\" ");
        ngx_http_aigw_jw_raw(&w, word, p - word);
        ngx_http_aigw_jw_lit(&w, "\"},\"finish_reason\":null}]}\n\n");

        while (p < last && *p == ' ') {
            p++;
        }
    }

    ngx_http_aigw_demo_prefix(&w, now);
    ngx_http_aigw_jw_lit(&w, "{},\"finish_reason\":\"stop\"}]}\n\n");

    if (usage) {
        ngx_http_aigw_jw_lit(&w, "data: {\"id\":\"chatcmpl-demo\",\"object\":"
                                 "\"chat.completion.chunk\",\"created\":");
        ngx_http_aigw_jw_int(&w, now);
        ngx_http_aigw_jw_lit(&w, ",\"model\":\"echo\",\"choices\":[],"
                                 "\"usage\":");
        ngx_http_aigw_demo_usage(&w, prompt, words + 1);
        ngx_http_aigw_jw_lit(&w, "}\n\n");
    }

    ngx_http_aigw_jw_lit(&w, "data: [DONE]\n\n");

    if (w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_body(r, NGX_HTTP_OK, "text/event-stream",
                                   w.out, -1);
}
