
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_aigw_module.h"


/*
 * Test only, never loaded in production: a handler stage that suspends
 * the request for "aigw_test_suspend <time>" on a timer, as an
 * asynchronous lookup would, and resumes it when the timer fires.  It is
 * loaded after ngx_http_aigw_module.so, whose symbols it uses (nginx
 * loads modules with RTLD_GLOBAL).  t/080-stages.t drives it.
 *
 * "aigw_test_clock_offset <seconds>" (http) moves the clock of the
 * calendar computations of limits and budgets (ngx_http_aigw_clock_offset)
 * to test their period boundaries; t/100-periods.t drives it.
 *
 * "aigw_test_redis" (location) sends the words of the request body as one
 * command through the Redis client of aigw_redis (with "?eval=1" as the
 * arguments of a fixed script) and answers with the reply as text: 200
 * "string:PONG", "integer:3", "nil", "error:...", "array:[a, b]"; 502
 * "failed" when the call failed; 503 "declined" when the client declined
 * it (the circuit breaker is open).  The header X-Redis-Clock carries the
 * clock offset of ngx_http_aigw_redis_clock().  t/120-redis-client.t.
 *
 * "aigw_test_cache HIT|MISS" (location) stands for the response cache
 * where the observability code reads it (ctx->cache_status): MISS sets it
 * and goes on to the providers, HIT sets it and answers at once with a
 * fixed completion.  t/140-observability.t, t/141-metrics.t.
 *
 * "aigw_test_sigv4" (location) signs the request its body describes with
 * ngx_http_aigw_sigv4_sign() and answers with the Authorization value:
 * lines "method M", "path P", "query Q", "region R", "service S",
 * "date YYYYMMDDTHHMMSSZ", "key K", "secret S", "header name:value" (in
 * canonical order), then an empty line and the payload.
 *
 * "aigw_test_eventstream" (location) reads its body, hex digits of AWS
 * event stream frames, through the event stream framing in reads of
 * "?chunk=N" bytes (default: all at once) and answers with one line per
 * frame, "event|exception NAME DATA", then "error: why", or "rest: why"
 * when the body did not end with a whole frame;
 * "?first=1" checks the first frame alone, as before a stream is
 * committed: "first: ok", "first: again" or "first: error: why".
 * t/130-bedrock-units.t.
 */


typedef struct {
    ngx_msec_t   suspend;
    ngx_str_t    cache;
} ngx_http_aigw_test_loc_conf_t;


typedef struct {
    ngx_int_t    clock_offset;
} ngx_http_aigw_test_main_conf_t;


static ngx_http_aigw_outcome_e ngx_http_aigw_test_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_http_aigw_outcome_e ngx_http_aigw_test_cache(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx, ngx_str_t *status);
static void ngx_http_aigw_test_wake(ngx_event_t *ev);
static void ngx_http_aigw_test_release(void *data);
static void *ngx_http_aigw_test_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aigw_test_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_test_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_aigw_test_init(ngx_conf_t *cf);
static char *ngx_http_aigw_test_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_aigw_test_redis_handler(ngx_http_request_t *r);
static void ngx_http_aigw_test_redis_body(ngx_http_request_t *r);
static void ngx_http_aigw_test_redis_done(void *data, redisReply *reply);
static u_char *ngx_http_aigw_test_redis_render(u_char *p, u_char *last,
    redisReply *reply);
static ngx_int_t ngx_http_aigw_test_redis_respond(ngx_http_request_t *r,
    ngx_uint_t status, u_char *data, size_t len);
static char *ngx_http_aigw_test_bedrock(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_aigw_test_bedrock_handler(ngx_http_request_t *r);
static void ngx_http_aigw_test_bedrock_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_test_sigv4(ngx_http_request_t *r, u_char *p,
    u_char *last, ngx_http_aigw_jw_t *w);
static ngx_int_t ngx_http_aigw_test_eventstream(ngx_http_request_t *r,
    u_char *p, u_char *last, ngx_http_aigw_jw_t *w);


static ngx_http_aigw_redis_script_t  ngx_http_aigw_test_script = {
    ngx_string("return {ARGV[1], redis.call('TIME')[1]}"), { 0 }, 0
};


static ngx_command_t  ngx_http_aigw_test_commands[] = {

    { ngx_string("aigw_test_suspend"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_test_loc_conf_t, suspend),
      NULL },

    { ngx_string("aigw_test_clock_offset"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_test_main_conf_t, clock_offset),
      NULL },

    { ngx_string("aigw_test_cache"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_test_loc_conf_t, cache),
      NULL },

    { ngx_string("aigw_test_redis"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_test_redis,
      0,
      0,
      NULL },

    { ngx_string("aigw_test_sigv4"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_test_bedrock,
      0,
      0,
      NULL },

    { ngx_string("aigw_test_eventstream"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_test_bedrock,
      0,
      1,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_test_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_aigw_test_init,               /* postconfiguration */

    ngx_http_aigw_test_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_test_create_loc_conf,    /* create location configuration */
    ngx_http_aigw_test_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_test_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_test_module_ctx,        /* module context */
    ngx_http_aigw_test_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_aigw_outcome_e
ngx_http_aigw_test_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_event_t                    *ev;
    ngx_http_aigw_test_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_test_module);

    if (tlcf->cache.len) {
        return ngx_http_aigw_test_cache(r, ctx, &tlcf->cache);
    }

    if (tlcf->suspend == 0) {
        return ngx_http_aigw_next;
    }

    ev = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ngx_http_aigw_finished;
    }

    ev->handler = ngx_http_aigw_test_wake;
    ev->data = r;
    ev->log = r->connection->log;

    if (ngx_http_aigw_suspend(r, ctx, ngx_http_aigw_test_release, ev)
        != NGX_OK)
    {
        ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ngx_http_aigw_finished;
    }

    ngx_add_timer(ev, tlcf->suspend);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "aigw test: suspended for %M ms", tlcf->suspend);

    return ngx_http_aigw_suspended;
}


static ngx_http_aigw_outcome_e
ngx_http_aigw_test_cache(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *status)
{
    ngx_buf_t    *b;
    ngx_chain_t  *out;

    static u_char  hit[] = "{\"id\":\"chatcmpl-cached\",\"object\":"
        "\"chat.completion\",\"created\":1,\"model\":\"cached\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"c\"},\"finish_reason\":\"stop\"}]}";

    ctx->cache_status = *status;

    if (status->len != 3 || ngx_strncmp(status->data, "HIT", 3) != 0) {
        return ngx_http_aigw_next;
    }

    b = ngx_calloc_buf(r->pool);
    out = ngx_alloc_chain_link(r->pool);
    if (b == NULL || out == NULL) {
        ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ngx_http_aigw_finished;
    }

    b->pos = hit;
    b->last = hit + sizeof(hit) - 1;
    b->memory = 1;
    b->last_buf = 1;

    out->buf = b;
    out->next = NULL;

    ctx->finish = ngx_http_aigw_stop_end;

    ctx->rc = ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, sizeof(hit) - 1);

    return ngx_http_aigw_finished;
}


static void
ngx_http_aigw_test_wake(ngx_event_t *ev)
{
    ngx_http_request_t  *r;

    r = ev->data;

    ngx_log_error(NGX_LOG_INFO, ev->log, 0, "aigw test: resumed");

    ngx_http_aigw_resume(r);
}


/* the request ended while suspended: the timer must never fire */

static void
ngx_http_aigw_test_release(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ngx_log_error(NGX_LOG_INFO, ev->log, 0, "aigw test: released");
}


static void *
ngx_http_aigw_test_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_test_main_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_aigw_test_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->clock_offset = NGX_CONF_UNSET;

    return conf;
}


static void *
ngx_http_aigw_test_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_test_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_aigw_test_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->suspend = NGX_CONF_UNSET_MSEC;
    ngx_str_null(&conf->cache);

    return conf;
}


static char *
ngx_http_aigw_test_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_test_loc_conf_t *prev = parent;
    ngx_http_aigw_test_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->suspend, prev->suspend, 0);
    ngx_conf_merge_str_value(conf->cache, prev->cache, "");

    return NGX_CONF_OK;
}


/*
 * after the parse stage, before the plan stage; the clock offset of this
 * configuration (0 without the directive), inherited by its workers
 */

static ngx_int_t
ngx_http_aigw_test_init(ngx_conf_t *cf)
{
    ngx_http_aigw_test_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_test_module);

    ngx_http_aigw_clock_offset = (tmcf->clock_offset == NGX_CONF_UNSET)
                                 ? 0 : tmcf->clock_offset;

    return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_LIMITS,
                                   ngx_http_aigw_test_stage);
}


static char *
ngx_http_aigw_test_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_aigw_test_redis_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_aigw_test_redis_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_read_client_request_body(r, ngx_http_aigw_test_redis_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the body read: the request waits for the reply (or is answered now) */

static void
ngx_http_aigw_test_redis_body(ngx_http_request_t *r)
{
    u_char                     *p, *last, *body;
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   argv[64], value;
    ngx_uint_t                  argc;
    ngx_chain_t                *cl;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->redis == NULL || r->request_body == NULL
        || r->request_body->temp_file)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    last = p;
    argc = 0;

    ngx_str_null(&value);

    if (ngx_http_arg(r, (u_char *) "eval", 4, &value) == NGX_OK) {
        ngx_str_set(&argv[0], "0");
        argc = 1;
    }

    for (p = body; p < last && argc < 64; /* void */) {

        while (p < last && (*p == ' ' || *p == '\n' || *p == '\r')) {
            p++;
        }

        if (p == last) {
            break;
        }

        argv[argc].data = p;

        while (p < last && *p != ' ' && *p != '\n' && *p != '\r') {
            p++;
        }

        argv[argc].len = p - argv[argc].data;
        argc++;
    }

    rc = ngx_http_aigw_redis_send(amcf->redis,
                                  value.len ? &ngx_http_aigw_test_script
                                            : NULL,
                                  argc, argv,
                                  ngx_http_aigw_test_redis_done, r);

    if (rc == NGX_OK) {
        return;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_aigw_test_redis_respond(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              (u_char *) "declined\n", 9);

    } else {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


static void
ngx_http_aigw_test_redis_done(void *data, redisReply *reply)
{
    ngx_http_request_t *r = data;

    u_char     *p, *buf;
    ngx_int_t   rc;

    if (reply == NULL) {
        rc = ngx_http_aigw_test_redis_respond(r, NGX_HTTP_BAD_GATEWAY,
                                              (u_char *) "failed\n", 7);
        ngx_http_finalize_request(r, rc);
        return;
    }

    buf = ngx_pnalloc(r->pool, 4096);
    if (buf == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_http_aigw_test_redis_render(buf, buf + 4095, reply);
    *p++ = '\n';

    rc = ngx_http_aigw_test_redis_respond(r, NGX_HTTP_OK, buf, p - buf);

    ngx_http_finalize_request(r, rc);
}


static u_char *
ngx_http_aigw_test_redis_render(u_char *p, u_char *last, redisReply *reply)
{
    size_t  i;

    switch (reply->type) {

    case REDIS_REPLY_STRING:
        return ngx_slprintf(p, last, "string:%*s", (size_t) reply->len,
                            reply->str);

    case REDIS_REPLY_STATUS:
        return ngx_slprintf(p, last, "status:%*s", (size_t) reply->len,
                            reply->str);

    case REDIS_REPLY_ERROR:
        return ngx_slprintf(p, last, "error:%*s", (size_t) reply->len,
                            reply->str);

    case REDIS_REPLY_INTEGER:
        return ngx_slprintf(p, last, "integer:%L", (int64_t) reply->integer);

    case REDIS_REPLY_NIL:
        return ngx_slprintf(p, last, "nil");

    default: /* REDIS_REPLY_ARRAY */
        p = ngx_slprintf(p, last, "array:[");

        for (i = 0; i < reply->elements; i++) {
            if (i) {
                p = ngx_slprintf(p, last, ", ");
            }

            p = ngx_http_aigw_test_redis_render(p, last, reply->element[i]);
        }

        return ngx_slprintf(p, last, "]");
    }
}


static ngx_int_t
ngx_http_aigw_test_redis_respond(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_table_elt_t            *h;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Redis-Clock");

    h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%L",
                               ngx_http_aigw_redis_clock(amcf->redis))
                   - h->value.data;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, data, len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static char *
ngx_http_aigw_test_bedrock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_aigw_test_bedrock_handler;

    /* the location's name tells the two apart */

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_aigw_test_bedrock_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_aigw_test_bedrock_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_aigw_test_bedrock_body(ngx_http_request_t *r)
{
    u_char              *p, *body;
    size_t               len;
    ngx_int_t            rc;
    ngx_str_t            out;
    ngx_buf_t           *b;
    ngx_chain_t         *cl, out_cl;
    ngx_http_aigw_jw_t   w;

    if (r->request_body == NULL || r->request_body->temp_file) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    ngx_http_aigw_jw_init(&w, r->pool, 1024);

    if (ngx_strlcasestrn(r->uri.data, r->uri.data + r->uri.len,
                         (u_char *) "eventstream", 11 - 1))
    {
        rc = ngx_http_aigw_test_eventstream(r, body, p, &w);

    } else {
        rc = ngx_http_aigw_test_sigv4(r, body, p, &w);
    }

    if (rc != NGX_OK || ngx_http_aigw_jw_flatten(&w, &out) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b = ngx_create_temp_buf(r->pool, out.len + 1);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_cpymem(b->last, out.data, out.len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out.len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    out_cl.buf = b;
    out_cl.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out_cl));
}


static ngx_int_t
ngx_http_aigw_test_sigv4(ngx_http_request_t *r, u_char *p, u_char *last,
    ngx_http_aigw_jw_t *w)
{
    u_char                 *nl, *sp, *colon, payload[64];
    ngx_str_t               name, value, auth;
    ngx_buf_t               b;
    ngx_chain_t             cl;
    ngx_keyval_t            headers[16];
    ngx_http_aigw_sigv4_t   s;

    ngx_memzero(&s, sizeof(ngx_http_aigw_sigv4_t));
    s.headers = headers;

    while (p < last) {
        nl = ngx_strlchr(p, last, '\n');

        if (nl == NULL) {
            nl = last;
        }

        if (nl == p) {
            p++;
            break;
        }

        sp = ngx_strlchr(p, nl, ' ');

        if (sp == NULL) {
            sp = nl;
        }

        name.data = p;
        name.len = sp - p;
        value.data = sp < nl ? sp + 1 : nl;
        value.len = nl - value.data;

        p = nl + 1;

#define ngx_http_aigw_test_is(s)                                             \
    (name.len == sizeof(s) - 1 && ngx_strncmp(name.data, s, name.len) == 0)

        if (ngx_http_aigw_test_is("method")) {
            s.method = value;

        } else if (ngx_http_aigw_test_is("path")) {
            s.path = value;

        } else if (ngx_http_aigw_test_is("query")) {
            s.query = value;

        } else if (ngx_http_aigw_test_is("region")) {
            s.region = value;

        } else if (ngx_http_aigw_test_is("service")) {
            s.service = value;

        } else if (ngx_http_aigw_test_is("date") && value.len == 16) {
            s.date = value.data;

        } else if (ngx_http_aigw_test_is("key")) {
            s.access_key = value;

        } else if (ngx_http_aigw_test_is("secret")) {
            s.secret = value;

        } else if (ngx_http_aigw_test_is("header") && s.nheaders < 16) {
            colon = ngx_strlchr(value.data, value.data + value.len, ':');

            if (colon == NULL) {
                return NGX_ERROR;
            }

            headers[s.nheaders].key.data = value.data;
            headers[s.nheaders].key.len = colon - value.data;
            headers[s.nheaders].value.data = colon + 1;
            headers[s.nheaders].value.len = value.data + value.len - colon - 1;
            s.nheaders++;

        } else {
            return NGX_ERROR;
        }

#undef ngx_http_aigw_test_is
    }

    if (s.date == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&b, sizeof(ngx_buf_t));
    b.pos = p;
    b.last = p < last ? last : p;
    b.memory = 1;

    cl.buf = &b;
    cl.next = NULL;

    if (ngx_http_aigw_sigv4_hash(&cl, payload) != NGX_OK) {
        return NGX_ERROR;
    }

    s.payload = payload;

    if (ngx_http_aigw_sigv4_sign(r->pool, &s, &auth) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_aigw_jw_lit(w, "payload: ");
    ngx_http_aigw_jw_raw(w, payload, 64);
    ngx_http_aigw_jw_lit(w, "\nAuthorization: ");
    ngx_http_aigw_jw_str(w, &auth);
    ngx_http_aigw_jw_lit(w, "\n");

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_test_eventstream(ngx_http_request_t *r, u_char *p,
    u_char *last, ngx_http_aigw_jw_t *w)
{
    u_char                 *bin, *b, *end, *stop;
    size_t                  n, chunk;
    ngx_int_t               rc, c;
    ngx_str_t               arg;
    const char             *error;
    ngx_http_aigw_frame_t   frame;
    void                   *state;

    /* hex to bytes, whitespace skipped */

    bin = ngx_pnalloc(r->pool, (last - p) / 2 + 1);
    if (bin == NULL) {
        return NGX_ERROR;
    }

    b = bin;
    n = 0;
    c = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            continue;
        }

        rc = ngx_hextoi(p, 1);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        c = (c << 4) | rc;

        if (++n % 2 == 0) {
            *b++ = (u_char) c;
            c = 0;
        }
    }

    end = b;

    if (ngx_http_arg(r, (u_char *) "first", 5, &arg) == NGX_OK) {
        error = NULL;
        rc = ngx_http_aigw_eventstream_framing.first(bin, end, &error);

        ngx_http_aigw_jw_cstr(w, rc == NGX_OK ? "first: ok\n"
                                 : rc == NGX_AGAIN ? "first: again\n"
                                 : "first: error: ");

        if (rc == NGX_ERROR) {
            ngx_http_aigw_jw_cstr(w, error);
            ngx_http_aigw_jw_lit(w, "\n");
        }

        return NGX_OK;
    }

    chunk = end - bin;

    if (ngx_http_arg(r, (u_char *) "chunk", 5, &arg) == NGX_OK) {
        rc = ngx_atoi(arg.data, arg.len);

        if (rc > 0) {
            chunk = rc;
        }
    }

    state = ngx_http_aigw_eventstream_framing.create(r->pool, 65536);
    if (state == NULL) {
        return NGX_ERROR;
    }

    p = bin;

    while (p < end) {
        stop = p + ngx_min(chunk, (size_t) (end - p));

        while (p < stop) {
            rc = ngx_http_aigw_eventstream_framing.parse(state, &p, stop,
                                                          &frame);

            if (rc == NGX_AGAIN) {
                break;
            }

            if (rc == NGX_ERROR) {
                ngx_http_aigw_jw_lit(w, "error: ");
                ngx_http_aigw_jw_cstr(w, frame.error);
                ngx_http_aigw_jw_lit(w, "\n");
                return NGX_OK;
            }

            ngx_http_aigw_jw_cstr(w,
                                  frame.type == NGX_HTTP_AIGW_FRAME_EXCEPTION
                                  ? "exception " : "event ");
            ngx_http_aigw_jw_str(w, &frame.event);
            ngx_http_aigw_jw_lit(w, " ");
            ngx_http_aigw_jw_str(w, &frame.data);
            ngx_http_aigw_jw_lit(w, "\n");
        }

        p = stop;
    }

    frame.error = NULL;

    if (ngx_http_aigw_eventstream_framing.flush(state, &frame) != NGX_OK
        && frame.error)
    {
        ngx_http_aigw_jw_lit(w, "rest: ");
        ngx_http_aigw_jw_cstr(w, frame.error);
        ngx_http_aigw_jw_lit(w, "\n");
    }

    return NGX_OK;
}
