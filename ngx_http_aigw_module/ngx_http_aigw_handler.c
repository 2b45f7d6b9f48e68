
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * aigw_pass: classifies the endpoint, reads the body, validates it with
 * the scanner, resolves the plan of (provider, model) targets and hands
 * the request to ngx_http_upstream.
 */


static ngx_int_t ngx_http_aigw_method_not_allowed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *allow);
static ngx_int_t ngx_http_aigw_models(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *id);
static ngx_int_t ngx_http_aigw_check_content_type(ngx_http_request_t *r);
static void ngx_http_aigw_body_handler(ngx_http_request_t *r);
static void ngx_http_aigw_run(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_http_aigw_outcome_e ngx_http_aigw_outcome(ngx_http_aigw_ctx_t *ctx,
    ngx_int_t rc);
static ngx_http_aigw_outcome_e ngx_http_aigw_prepare_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_http_aigw_outcome_e ngx_http_aigw_plan_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_parse_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_model_field(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_prepare(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static u_char *ngx_http_aigw_skip_ws(u_char *p, u_char *last);
static ngx_int_t ngx_http_aigw_too_many(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j);
static ngx_int_t ngx_http_aigw_gateway_options(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_check_fields(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_string_list(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t obj, const char *name,
    ngx_array_t **list);
static ngx_int_t ngx_http_aigw_plan(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static void ngx_http_aigw_settle_cleanup(void *data);
static void ngx_http_aigw_settle(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_cooled_last(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_plan_model(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_model_t *m, ngx_str_t *slug);
static int64_t ngx_http_aigw_plan_images(ngx_http_aigw_ctx_t *ctx);
static ngx_uint_t ngx_http_aigw_in_list(ngx_array_t *list, ngx_str_t *s);
static ngx_uint_t ngx_http_aigw_path_id(ngx_http_aigw_provider_t *p,
    ngx_str_t *id);
static ngx_int_t ngx_http_aigw_add_slug(ngx_array_t *slugs, ngx_str_t *s);
static ngx_int_t ngx_http_aigw_json_output(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_canonical(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_count_tokens(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);


ngx_int_t
ngx_http_aigw_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_str_t             id, endpoints;
    ngx_uint_t            route;
    ngx_http_cleanup_t   *cln;
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_aigw_module);

    ctx->request = r;
    ctx->start = ngx_current_msec;
    ctx->budget_remaining = -1;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_aigw_settle_cleanup;
    cln->data = ctx;

    route = ngx_http_aigw_classify(r, &ctx->client, &ctx->endpoint, &id);

    if (r->method == NGX_HTTP_HEAD) {

        /* clients warm connections with HEAD on the base URL */

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_length_n = 0;
        r->header_only = 1;

        return ngx_http_send_header(r);
    }

    switch (route) {

    case ngx_http_aigw_route_api:
        break;

    case ngx_http_aigw_route_models:
    case ngx_http_aigw_route_model:

        if (!(r->method & NGX_HTTP_GET)) {
            return ngx_http_aigw_method_not_allowed(r, ctx, "GET, HEAD");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_aigw_models(r, ctx,
                                    route == ngx_http_aigw_route_model
                                    ? &id : NULL);

    default:
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_aigw_endpoints_text(r->pool, &endpoints) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_NOT_FOUND, NULL,
                                        "unknown endpoint \"%V\": the "
                                        "gateway serves %V", &r->uri,
                                        &endpoints);
    }

    if (ngx_http_aigw_obs_start(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_aigw_method_not_allowed(r, ctx, "POST");
    }

    if (ngx_http_aigw_check_content_type(r) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_aigw_send_error(r, ctx,
                                        NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "invalid_request_error",
                                        "unsupported Content-Type \"%V\": "
                                        "send the request as "
                                        "application/json",
                                        &r->headers_in.content_type->value);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_aigw_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_aigw_method_not_allowed(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *allow)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    value.data = (u_char *) allow;
    value.len = ngx_strlen(allow);

    if (ngx_http_aigw_add_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                    "invalid_request_error",
                                    "method %V is not allowed on %V, "
                                    "use %s", &r->method_name, &r->uri,
                                    allow);
}


static ngx_int_t
ngx_http_aigw_check_content_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return NGX_OK;
    }

    ct = &r->headers_in.content_type->value;
    p = ct->data;
    last = ngx_strlchr(p, p + ct->len, ';');

    if (last == NULL) {
        last = p + ct->len;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last - p == 16
        && ngx_strncasecmp(p, (u_char *) "application/json", 16) == 0)
    {
        return NGX_OK;
    }

    /* application/...+json */

    if (last - p > 5 && ngx_strncasecmp(last - 5, (u_char *) "+json", 5) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * The stages a request goes through once its body is read; after the last
 * one it goes to ngx_http_upstream.  They are registered while the
 * configuration is read, with ngx_http_aigw_add_stage() in a slot
 * (NGX_HTTP_AIGW_STAGE_PARSE ... _PLAN: the module's own parse and plan
 * stages take the first and the last), and run slot by slot, those of a
 * slot in the order they were added.  A stage returns:
 *
 *   ngx_http_aigw_next       the next stage runs;
 *   ngx_http_aigw_finished   ngx_http_finalize_request(r, ctx->rc);
 *   ngx_http_aigw_suspended  the stage started an asynchronous lookup
 *                            (a Redis query, say) and called
 *                            ngx_http_aigw_suspend() first.
 *
 * A suspended request keeps the reference that reading the body took
 * (r->main->count), so nothing else may finalize it: the lookup ends by
 * calling ngx_http_aigw_resume(r), which runs the stages after the one
 * that suspended, from the lookup's own event handler.  If the request ends
 * first (the client closed the connection, noticed by
 * ngx_http_test_reading(); or the worker exits), the release handler given
 * to ngx_http_aigw_suspend() runs instead, once, and the lookup must then
 * never touch the request again.  A lookup that needs the parsed request
 * goes after the parse stage; one that may change the targets (budgets,
 * keys) goes before the plan stage.
 */

ngx_int_t
ngx_http_aigw_add_stage(ngx_conf_t *cf, ngx_uint_t slot,
    ngx_http_aigw_stage_pt handler)
{
    ngx_http_aigw_stage_pt     *h;
    ngx_http_aigw_main_conf_t  *amcf;

    if (slot > NGX_HTTP_AIGW_STAGE_PLAN) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "aigw: no handler stage slot %ui", slot);
        return NGX_ERROR;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    h = ngx_array_push(&amcf->slots[slot]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_aigw_add_core_stages(ngx_conf_t *cf)
{
    if (ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_PARSE,
                                ngx_http_aigw_prepare_stage)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_PLAN,
                                   ngx_http_aigw_plan_stage);
}


/*
 * The init_module handler: every module's postconfiguration has run, so
 * the slots are complete; their stages become one array, walked per
 * request.
 */

ngx_int_t
ngx_http_aigw_init_stages(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i, n;
    ngx_http_aigw_stage_pt     *h;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aigw_module);
    if (amcf == NULL) {
        return NGX_OK;
    }

    n = 1;

    for (i = 0; i <= NGX_HTTP_AIGW_STAGE_PLAN; i++) {
        n += amcf->slots[i].nelts;
    }

    amcf->stages = ngx_palloc(cycle->pool, n * sizeof(ngx_http_aigw_stage_pt));
    if (amcf->stages == NULL) {
        return NGX_ERROR;
    }

    h = amcf->stages;

    for (i = 0; i <= NGX_HTTP_AIGW_STAGE_PLAN; i++) {
        n = amcf->slots[i].nelts;
        ngx_memcpy(h, amcf->slots[i].elts,
                   n * sizeof(ngx_http_aigw_stage_pt));
        h += n;
    }

    *h = NULL;

    return NGX_OK;
}


static void
ngx_http_aigw_body_handler(ngx_http_request_t *r)
{
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    ctx->stage = 0;

    ngx_http_aigw_run(r, ctx);
}


static void
ngx_http_aigw_run(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_aigw_stage_pt      stage;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    while (amcf->stages[ctx->stage]) {
        stage = amcf->stages[ctx->stage++];

        switch (stage(r, ctx)) {

        case ngx_http_aigw_next:
            continue;

        case ngx_http_aigw_suspended:
            return;

        default: /* ngx_http_aigw_finished */
            ngx_http_finalize_request(r, ctx->rc);
            return;
        }
    }

    rc = ngx_http_aigw_upstream_start(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
    }
}


/* NGX_DECLINED: go on; anything else is what the request finishes with */

static ngx_http_aigw_outcome_e
ngx_http_aigw_outcome(ngx_http_aigw_ctx_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_DECLINED) {
        return ngx_http_aigw_next;
    }

    ctx->rc = rc;

    return ngx_http_aigw_finished;
}


/*
 * Called by a stage before it returns ngx_http_aigw_suspended: "release"
 * (with "data") runs if the request ends while it waits.
 */

ngx_int_t
ngx_http_aigw_suspend(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_cleanup_pt release, void *data)
{
    ngx_http_cleanup_t  *cln;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = release;
    cln->data = data;

    ctx->release = &cln->handler;

    /* a closed client connection finalizes the request, which releases */

    r->read_event_handler = ngx_http_test_reading;

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ctx->release = NULL;
        cln->handler = NULL;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the lookup of a suspended stage is done: the next stages run */

void
ngx_http_aigw_resume(ngx_http_request_t *r)
{
    ngx_connection_t     *c;
    ngx_http_aigw_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx->release) {
        *ctx->release = NULL;
        ctx->release = NULL;
    }

    r->read_event_handler = ngx_http_block_reading;

    ngx_http_aigw_run(r, ctx);

    ngx_http_run_posted_requests(c);
}


static ngx_http_aigw_outcome_e
ngx_http_aigw_prepare_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    return ngx_http_aigw_outcome(ctx, ngx_http_aigw_prepare(r, ctx));
}


static ngx_http_aigw_outcome_e
ngx_http_aigw_plan_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_aigw_plan(r, ctx);
    if (rc != NGX_DECLINED) {
        return ngx_http_aigw_outcome(ctx, rc);
    }

    if (ctx->endpoint == ngx_http_aigw_ep_count_tokens && ctx->plan.nelts == 0)
    {
        return ngx_http_aigw_outcome(ctx, ngx_http_aigw_count_tokens(r, ctx));
    }

    return ngx_http_aigw_outcome(ctx, ngx_http_aigw_canonical(r, ctx));
}


/*
 * The log phase of a gateway request: its accounting is settled here,
 * once, before the access log and anything after it read it.
 */

ngx_int_t
ngx_http_aigw_log_handler(ngx_http_request_t *r)
{
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx) {
        ngx_http_aigw_settle(r, ctx);
    }

    return NGX_OK;
}


/*
 * A request's cleanup: an internal redirect (error_page, a named location)
 * drops the module's context, and the log phase then finds none; the
 * reservations are settled here instead, once, when the request is freed.
 * With the context in place the log phase settles (cleanups run first).
 * A subrequest (the background refresh of a cached answer) has no log
 * phase: it is settled here too.
 */

static void
ngx_http_aigw_settle_cleanup(void *data)
{
    ngx_http_aigw_ctx_t  *ctx = data;

    ngx_http_request_t  *r;

    r = ctx->request;

    if (!ctx->settled
        && (r != r->main
            || ngx_http_get_module_ctx(r, ngx_http_aigw_module) != ctx))
    {
        ngx_http_aigw_settle(r, ctx);
    }
}


static void
ngx_http_aigw_settle(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_http_aigw_target_t   *t;
    ngx_http_aigw_attempt_t  *a;

    if (ctx->settled) {
        return;
    }

    ctx->settled = 1;
    ctx->cost = -1;

    if (ctx->attempts.nelts) {
        a = ctx->attempts.elts;
        t = a[ctx->attempts.nelts - 1].target;

        if (t->model->priced) {
            ctx->cost = ngx_http_aigw_cost(ctx, t->model);
        }
    }

    /* on every end: the reservations of the limits stage are settled */

    ngx_http_aigw_limit_settle(r, ctx);

    ngx_http_aigw_report_record(r, ctx);

    ngx_http_aigw_obs_record(r, ctx);
}


/* the body as one contiguous buffer, read back from a temp file if any */

ngx_int_t
ngx_http_aigw_request_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "aigw: could not read the request body "
                              "back from \"%V\"", &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        /* a chunked body ends with an empty last_buf whose pos is NULL */

        if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * The prepare stage.  Returns NGX_DECLINED when the next stage runs,
 * otherwise what ngx_http_finalize_request() gets; so do its parts.
 */

static ngx_int_t
ngx_http_aigw_prepare(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_uint_t             v, key;
    ngx_http_aigw_json_t  *j;

    rc = ngx_http_aigw_parse_body(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    j = &ctx->json;

    if (ctx->client->request_model) {

        /* the model and streaming are given in request headers */

        rc = ctx->client->request_model(r, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        goto options;
    }

    rc = ngx_http_aigw_model_field(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* stream */

    v = ngx_http_aigw_json_get_unique(j, 0, "stream", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "duplicate field \"stream\"");
    }

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        if (j->toks[v].type == ngx_http_aigw_json_true) {
            ctx->stream = 1;

        } else if (j->toks[v].type != ngx_http_aigw_json_false
                   && j->toks[v].type != ngx_http_aigw_json_null)
        {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"stream\" must be a "
                                            "boolean");
        }
    }

    if (ctx->stream && ctx->endpoint != ngx_http_aigw_ep_chat) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"stream\" is not supported on "
                                        "this endpoint");
    }

options:

    rc = ngx_http_aigw_gateway_options(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_check_fields(r, ctx);

    if (rc == NGX_OK) {
        rc = ctx->client->validate(r, ctx);
    }

    if (rc == NGX_OK && j->dup) {
        rc = ngx_http_aigw_reject(r, ctx, "duplicate field \"%s\"", j->dup);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_aigw_send_error_record(r, ctx, &ctx->error);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* the body, read whole, parsed into ctx->json: a JSON object */

static ngx_int_t
ngx_http_aigw_parse_body(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                     *p, *last;
    ngx_int_t                   rc;
    ngx_http_aigw_json_t       *j;
    ngx_http_aigw_loc_conf_t   *alcf;

    if (ngx_http_aigw_request_body(r, &ctx->body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no body, or only whitespace */

    p = ctx->body.data;
    last = p + ctx->body.len;

    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    if (p == last) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the request body is empty: send a "
                                        "JSON object");
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    j = &ctx->json;
    j->pool = r->pool;
    j->record = ngx_http_aigw_record(r, ctx);
    j->unique = 1;
    j->max = alcf->max_json_tokens;

    rc = ngx_http_aigw_json_parse(j, ctx->body.data, ctx->body.len);

    if (rc == NGX_ERROR && j->too_many && j->record > 1) {

        /*
         * the guess was a translation: targets of the client's format may
         * still take it, and read the top level only (see canonical)
         */

        (void) ngx_pfree(r->pool, j->toks);
        j->toks = NULL;
        j->cap = 0;
        j->record = 1;

        rc = ngx_http_aigw_json_parse(j, ctx->body.data, ctx->body.len);
    }

    if (rc == NGX_ERROR && j->too_many) {
        return ngx_http_aigw_too_many(r, ctx, j);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the request body is not valid "
                                        "JSON: %s at byte %uz", j->err,
                                        j->err_pos);
    }

    if (j->toks[0].type != ngx_http_aigw_json_object) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the request body must be a JSON "
                                        "object");
    }

    return NGX_DECLINED;
}


/* "model": a non-empty string (decoded) without control characters */

static ngx_int_t
ngx_http_aigw_model_field(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                *p, *last;
    ngx_uint_t             v, key;
    ngx_http_aigw_json_t  *j;

    j = &ctx->json;

    v = ngx_http_aigw_json_get_unique(j, 0, "model", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "duplicate field \"model\"");
    }

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "missing required field \"model\"");
    }

    if (j->toks[v].type != ngx_http_aigw_json_string) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"model\" must be a string");
    }

    if (ngx_http_aigw_json_str(j, v, &ctx->model) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->model.len == 0) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"model\" must not be empty");
    }

    /* the model goes into headers, logs and events: no CR, LF, NUL... */

    for (p = ctx->model.data, last = p + ctx->model.len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"model\" must not "
                                            "contain control characters");
        }
    }

    ctx->model_tok = v;

    return NGX_DECLINED;
}


/*
 * The body is scanned once: a translation reads all of it, a passthrough
 * only its top level, whose tape is much shorter.  Which one the plan
 * needs is known after the scan, but most clients send the model first,
 * and the format of its first provider, which answers unless it fails,
 * tells.  This guess decides a cost, never an outcome: a translation that
 * finds the top level alone scans the body again.
 */

static ngx_uint_t
ngx_http_aigw_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                     *p, *last, *q;
    ngx_str_t                   slug;
    ngx_http_aigw_model_t      *m;
    ngx_http_aigw_route_t      *rt;
    ngx_http_aigw_main_conf_t  *amcf;

    /* a surface no provider speaks (the AI SDK's) is always translated */

    if (ctx->client->passthrough == NULL) {
        return NGX_HTTP_AIGW_JSON_RECORD_ALL;
    }

    if (ctx->endpoint != ngx_http_aigw_ep_chat) {
        return 1;
    }

    p = ctx->body.data;
    last = p + ctx->body.len;

    /* {"model":"slug" */

    p = ngx_http_aigw_skip_ws(p, last);

    if (p == last || *p++ != '{') {
        return 1;
    }

    p = ngx_http_aigw_skip_ws(p, last);

    if (last - p < 7 || ngx_memcmp(p, "\"model\"", 7) != 0) {
        return 1;
    }

    p = ngx_http_aigw_skip_ws(p + 7, last);

    if (p == last || *p++ != ':') {
        return 1;
    }

    p = ngx_http_aigw_skip_ws(p, last);

    if (p == last || *p++ != '"') {
        return 1;
    }

    q = ngx_strlchr(p, last, '"');

    if (q == NULL || ngx_strlchr(p, q, '\\') != NULL) {
        return 1;
    }

    slug.data = p;
    slug.len = q - p;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    m = ngx_http_aigw_find_model(amcf, &slug);

    if (m == NULL || m->routes.nelts == 0) {
        return 1;
    }

    rt = m->routes.elts;

    return (ngx_http_aigw_target_format(ctx, rt[0].provider) == ctx->client)
           ? 1 : NGX_HTTP_AIGW_JSON_RECORD_ALL;
}


static u_char *
ngx_http_aigw_skip_ws(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    return p;
}


/*
 * A body with more values than aigw_max_json_tokens to record: its tape
 * would cost 20 bytes a value, so it is refused before it grows further.
 */

static ngx_int_t
ngx_http_aigw_too_many(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_json_t *j)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "aigw: the request body has more than %ui JSON values "
                  "to read", j->max);

    return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    NULL, "the request body has too many "
                                    "JSON values (more than %ui, "
                                    "aigw_max_json_tokens)", j->max);
}


/*
 * Targets in another format than the client's need the request in the
 * canonical form, parsed once.  What cannot be translated is a 400, unless
 * targets of the client's own format can still take the request.
 */

static ngx_int_t
ngx_http_aigw_canonical(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_uint_t               i, n, same;
    ngx_http_aigw_json_t    *j;
    ngx_http_aigw_target_t  *t;

    t = ctx->plan.elts;
    same = 0;

    for (i = 0; i < ctx->plan.nelts; i++) {
        same += (ngx_http_aigw_target_format(ctx, t[i].provider)
                 == ctx->client);
    }

    if (same == ctx->plan.nelts) {
        return NGX_DECLINED;
    }

    ctx->chat = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_chat_t));
    if (ctx->chat == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = &ctx->json;

    if (j->record != NGX_HTTP_AIGW_JSON_RECORD_ALL) {

        /* the handler's scan did not record all of the body */

        j = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_json_t));
        if (j == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        j->pool = r->pool;
        j->record = NGX_HTTP_AIGW_JSON_RECORD_ALL;
        j->unique = 1;
        j->max = ctx->json.max;

        if (ngx_http_aigw_json_parse(j, ctx->body.data, ctx->body.len)
            != NGX_OK)
        {
            if (!j->too_many) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (same == 0) {
                return ngx_http_aigw_too_many(r, ctx, j);
            }

            /* the client's own format reads the top level only */

            ngx_str_set(&ctx->error.message, "too many JSON values");
            j = NULL;
        }
    }

    rc = j ? ctx->client->parse_request(r, ctx, j, ctx->chat) : NGX_DECLINED;

    if (rc != NGX_ERROR && j && j->dup) {

        /* a field only a translation reads, e.g. in a message */

        if (ngx_http_aigw_reject(r, ctx, "duplicate field \"%s\"", j->dup)
            != NGX_DECLINED)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_aigw_send_error_record(r, ctx, &ctx->error);
    }

    if (rc == NGX_OK && ctx->chat->json_output) {
        return ngx_http_aigw_json_output(r, ctx);
    }

    if (rc == NGX_OK) {
        return NGX_DECLINED;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (same == 0) {
        ctx->error.status = NGX_HTTP_BAD_REQUEST;
        return ngx_http_aigw_send_error_record(r, ctx, &ctx->error);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "aigw: the request cannot be translated, providers of "
                  "other formats are left out: %V", &ctx->error.message);

    for (i = 0, n = 0; i < ctx->plan.nelts; i++) {
        if (ngx_http_aigw_target_format(ctx, t[i].provider) == ctx->client) {
            t[n++] = t[i];
        }
    }

    ctx->plan.nelts = n;
    ctx->chat = NULL;
    ngx_memzero(&ctx->error, sizeof(ngx_http_aigw_error_t));

    return NGX_DECLINED;
}


/*
 * JSON output (response_format) is written by the client's own format
 * (passthrough), by Chat Completions (response_format) and by Gemini
 * (generationConfig); targets of the other formats are left out, and
 * without targets it is a 400
 */

static ngx_int_t
ngx_http_aigw_json_output(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t                     i, n;
    ngx_http_aigw_target_t        *t;
    const ngx_http_aigw_format_t  *f;

    t = ctx->plan.elts;

    for (i = 0, n = 0; i < ctx->plan.nelts; i++) {
        f = ngx_http_aigw_target_format(ctx, t[i].provider);

        if (f == ctx->client
            || f == &ngx_http_aigw_openai_format
            || f == &ngx_http_aigw_gemini_format)
        {
            t[n++] = t[i];
        }
    }

    if (n == 0) {
        if (ngx_http_aigw_reject(r, ctx, "\"response_format\" other than "
                                 "text cannot be translated for this "
                                 "provider", NULL)
            != NGX_DECLINED)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_aigw_send_error_record(r, ctx, &ctx->error);
    }

    if (n < ctx->plan.nelts) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "aigw: providers that cannot write JSON output are "
                      "left out");
    }

    ctx->plan.nelts = n;

    return NGX_DECLINED;
}


/*
 * The types of the top-level fields the client's format knows, in one
 * pass over the keys; a field given twice is refused, so that what the
 * gateway reads is what a provider reads.
 */

static ngx_int_t
ngx_http_aigw_check_fields(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    size_t                        len;
    uint32_t                      seen[NGX_HTTP_AIGW_FIELDS_MAX / 32];
    ngx_uint_t                    k, v, i, esc;
    ngx_http_aigw_json_t         *j;
    ngx_http_aigw_json_tok_t     *t;
    const ngx_http_aigw_field_t  *f;

    j = &ctx->json;
    ngx_memzero(seen, sizeof(seen));

    for (k = 1; k < j->toks[0].next; k = j->toks[k + 1].next) {
        len = j->toks[k].end - j->toks[k].start - 2;
        esc = j->toks[k].flags & NGX_HTTP_AIGW_JSON_ESCAPED;

        for (f = ctx->client->fields, i = 0; f->name.len; f++, i++) {

            if (esc) {
                if (!ngx_http_aigw_json_key_eq(j, k, (char *) f->name.data)) {
                    continue;
                }

            } else if (len != f->name.len
                       || ngx_strncmp(j->start + j->toks[k].start + 1,
                                      f->name.data, len) != 0)
            {
                continue;
            }

            if (seen[i / 32] & (1U << (i % 32))) {
                return ngx_http_aigw_reject(r, ctx, "duplicate field \"%V\"",
                                            &f->name);
            }

            seen[i / 32] |= 1U << (i % 32);

            v = k + 1;
            t = &j->toks[v];

            if (t->type == ngx_http_aigw_json_null) {
                break;
            }

            if ((t->type != f->type && t->type != f->alt)
                || (f->integer && !(t->flags & NGX_HTTP_AIGW_JSON_INTEGER)))
            {
                return ngx_http_aigw_reject(r, ctx, ctx->client->field_error,
                                            f->name.data, f->expect);
            }

            break;
        }
    }

    return NGX_OK;
}


/* providerOptions.gateway: order, only, models, user, tags */

static ngx_int_t
ngx_http_aigw_gateway_options(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_uint_t             v, g, key;
    ngx_str_t              raw;
    ngx_http_aigw_json_t  *j, *o;

    j = &ctx->json;

    v = ngx_http_aigw_json_get_unique(j, 0, "providerOptions", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "duplicate field \"providerOptions\"");
    }

    if (v == NGX_HTTP_AIGW_JSON_NONE) {
        return NGX_DECLINED;
    }

    ctx->options_key = key;

    if (j->toks[v].type == ngx_http_aigw_json_null) {
        return NGX_DECLINED;
    }

    if (j->toks[v].type != ngx_http_aigw_json_object) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"providerOptions\" must be an "
                                        "object");
    }

    /* a second, complete scan of just this value */

    o = &ctx->options;
    o->pool = r->pool;
    o->record = NGX_HTTP_AIGW_JSON_RECORD_ALL;
    o->unique = 1;
    o->max = j->max;

    ngx_http_aigw_json_raw(j, v, &raw);

    rc = ngx_http_aigw_json_parse(o, raw.data, raw.len);

    if (rc == NGX_ERROR && o->too_many) {
        return ngx_http_aigw_too_many(r, ctx, o);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g = ngx_http_aigw_json_get_unique(o, 0, "gateway", &key);

    if (key == NGX_HTTP_AIGW_JSON_NONE) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "duplicate field \"providerOptions."
                                        "gateway\"");
    }

    if (g == NGX_HTTP_AIGW_JSON_NONE
        || o->toks[g].type == ngx_http_aigw_json_null)
    {
        return NGX_DECLINED;
    }

    if (o->toks[g].type != ngx_http_aigw_json_object) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"providerOptions.gateway\" must "
                                        "be an object");
    }

    rc = ngx_http_aigw_string_list(r, ctx, g, "order", &ctx->order);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_string_list(r, ctx, g, "only", &ctx->only);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_string_list(r, ctx, g, "models", &ctx->models);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    v = ngx_http_aigw_json_get(o, g, "sort");

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        if (o->toks[v].type != ngx_http_aigw_json_string
            || ngx_http_aigw_json_str(o, v, &raw) != NGX_OK
            || ngx_http_aigw_obs_sort_option(r, ctx, &raw) != NGX_OK)
        {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"providerOptions.gateway"
                                            ".sort\" must be \"cost\", "
                                            "\"ttft\" or \"tps\"");
        }
    }

    v = ngx_http_aigw_json_get(o, g, "user");

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        if (o->toks[v].type != ngx_http_aigw_json_string) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"providerOptions.gateway"
                                            ".user\" must be a string");
        }

        if (ngx_http_aigw_json_str(o, v, &ctx->user) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    v = ngx_http_aigw_json_get(o, g, "tags");

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        if (o->toks[v].type != ngx_http_aigw_json_array) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"providerOptions.gateway"
                                            ".tags\" must be an array of "
                                            "strings");
        }

        rc = ngx_http_aigw_string_list(r, ctx, g, "tags", NULL);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        ngx_http_aigw_json_raw(o, v, &ctx->tags);
    }

    if (o->dup) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "duplicate field \"providerOptions."
                                        "gateway.%s\"", o->dup);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_aigw_string_list(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_uint_t obj, const char *name, ngx_array_t **list)
{
    ngx_str_t             *s;
    ngx_uint_t             v, e;
    ngx_http_aigw_json_t  *o;

    o = &ctx->options;

    v = ngx_http_aigw_json_get(o, obj, name);

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || o->toks[v].type == ngx_http_aigw_json_null)
    {
        return NGX_DECLINED;
    }

    if (o->toks[v].type != ngx_http_aigw_json_array) {
        goto invalid;
    }

    if (list) {
        *list = ngx_array_create(r->pool, ngx_max(o->toks[v].count, 1),
                                 sizeof(ngx_str_t));
        if (*list == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (e = v + 1; e < o->toks[v].next; e = o->toks[e].next) {
        if (o->toks[e].type != ngx_http_aigw_json_string) {
            goto invalid;
        }

        if (list == NULL) {
            continue;
        }

        s = ngx_array_push(*list);
        if (s == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_aigw_json_str(o, e, s) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DECLINED;

invalid:

    return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                    "\"providerOptions.gateway.%s\" must be "
                                    "an array of strings", name);
}


/*
 * The plan: the model's providers in configured order, then its fallback
 * models (the request's, the model's, the location's), each with their
 * providers; "order" moves providers first, "only" restricts them; cooled
 * down providers go last.
 */

static ngx_int_t
ngx_http_aigw_plan(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                  *s;
    ngx_uint_t                  i;
    ngx_array_t                 slugs;
    ngx_http_aigw_model_t      *m;
    ngx_http_aigw_loc_conf_t   *alcf;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    m = ngx_http_aigw_find_model(amcf, &ctx->model);

    if (m == NULL) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_NOT_FOUND,
                                        "model_not_found",
                                        "model \"%V\" is not configured on "
                                        "this gateway; GET /v1/models lists "
                                        "the models it serves", &ctx->model);
    }

    if (ngx_array_init(&slugs, r->pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_array_init(&ctx->plan, r->pool, 4, sizeof(ngx_http_aigw_target_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_array_init(&ctx->attempts, r->pool, 2,
                       sizeof(ngx_http_aigw_attempt_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_aigw_add_slug(&slugs, &ctx->model) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->models) {
        s = ctx->models->elts;

        for (i = 0; i < ctx->models->nelts; i++) {
            if (ngx_http_aigw_find_model(amcf, &s[i]) == NULL) {
                return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                                NULL, "fallback model \"%V\" "
                                                "in providerOptions.gateway."
                                                "models is not configured on "
                                                "this gateway", &s[i]);
            }

            if (ngx_http_aigw_add_slug(&slugs, &s[i]) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (m->fallbacks) {
        s = m->fallbacks->elts;

        for (i = 0; i < m->fallbacks->nelts; i++) {
            if (ngx_http_aigw_add_slug(&slugs, &s[i]) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (alcf->fallbacks) {
        s = alcf->fallbacks->elts;

        for (i = 0; i < alcf->fallbacks->nelts; i++) {
            if (ngx_http_aigw_add_slug(&slugs, &s[i]) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    s = slugs.elts;

    for (i = 0; i < slugs.nelts; i++) {
        m = ngx_http_aigw_find_model(amcf, &s[i]);

        if (m == NULL) {
            continue;
        }

        /* a key's models= bounds the fallbacks too */

        if (ctx->key && !ngx_http_aigw_key_allows(ctx->key, &s[i])) {
            continue;
        }

        rc = ngx_http_aigw_plan_model(r, ctx, m, &s[i]);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->plan.nelts == 0) {

        if (ctx->endpoint == ngx_http_aigw_ep_count_tokens) {
            return NGX_DECLINED;
        }

        if (ctx->only) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                            NULL, "no provider allowed by "
                                            "providerOptions.gateway.only "
                                            "serves model \"%V\"",
                                            &ctx->model);
        }

        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                        "no provider of model \"%V\" "
                                        "serves %V", &ctx->model, &r->uri);
    }

    ngx_http_aigw_obs_sort(r, ctx);

    return ngx_http_aigw_cooled_last(r, ctx);
}


/* targets cooling down or with an open circuit go last */

static ngx_int_t
ngx_http_aigw_cooled_last(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_uint_t               i, n;
    ngx_array_t              cooled;
    ngx_http_aigw_target_t  *t, *pt;

    t = ctx->plan.elts;
    n = 0;

    for (i = 0; i < ctx->plan.nelts; i++) {
        n += t[i].cooled;
    }

    if (n == 0 || n == ctx->plan.nelts) {
        return NGX_DECLINED;
    }

    if (ngx_array_init(&cooled, r->pool, n, sizeof(ngx_http_aigw_target_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;

    for (i = 0; i < ctx->plan.nelts; i++) {
        if (t[i].cooled) {
            pt = ngx_array_push(&cooled);
            if (pt == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *pt = t[i];
            continue;
        }

        t[n++] = t[i];
    }

    ngx_memcpy(&t[n], cooled.elts,
               cooled.nelts * sizeof(ngx_http_aigw_target_t));

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_aigw_plan_model(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_model_t *m, ngx_str_t *slug)
{
    ngx_str_t                  *o, id;
    ngx_uint_t                  i, k, d, pass, n;
    ngx_http_aigw_route_t      *rt;
    ngx_http_aigw_target_t     *t, *plan;
    ngx_http_aigw_provider_t   *p;

    rt = m->routes.elts;

    /* pass 0: the providers named in "order", in that order; pass 1: rest */

    for (pass = 0; pass < 2; pass++) {

        n = (pass == 0) ? (ctx->order ? ctx->order->nelts : 0)
                        : m->routes.nelts;

        for (k = 0; k < n; k++) {

            if (pass == 0) {
                o = &((ngx_str_t *) ctx->order->elts)[k];

                for (i = 0; i < m->routes.nelts; i++) {
                    if (rt[i].provider->name.len == o->len
                        && ngx_strncmp(rt[i].provider->name.data, o->data,
                                       o->len) == 0)
                    {
                        break;
                    }
                }

                if (i == m->routes.nelts) {
                    continue;
                }

            } else {
                i = k;

                if (ctx->order
                    && ngx_http_aigw_in_list(ctx->order,
                                             &rt[i].provider->name))
                {
                    continue;
                }
            }

            p = rt[i].provider;

            if (ctx->only && !ngx_http_aigw_in_list(ctx->only, &p->name)) {
                continue;
            }

            if (p->format->paths[ctx->endpoint].len == 0) {
                continue;
            }

            /* Vertex AI providers serve no embeddings */

            if (p->vertex && ctx->endpoint == ngx_http_aigw_ep_embeddings) {
                continue;
            }

            /* Gemini image models make one image a call */

            if (ctx->endpoint == ngx_http_aigw_ep_images
                && p->format == &ngx_http_aigw_gemini_format
                && ngx_http_aigw_plan_images(ctx) > 1)
            {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "aigw: provider \"%V\" makes one image a "
                              "request, left out for \"n\" above 1",
                              &p->name);
                continue;
            }

            ngx_http_aigw_model_id(m, &rt[i], slug, &id);

            if (!ngx_http_aigw_path_id(p, &id)) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "aigw: model id \"%V\" cannot be a segment "
                              "of the path of provider \"%V\"",
                              &id, &p->name);
                continue;
            }

            /* the same provider and model reached twice through fallbacks */

            plan = ctx->plan.elts;

            for (d = 0; d < ctx->plan.nelts; d++) {
                if (plan[d].provider == p && plan[d].id.len == id.len
                    && ngx_strncmp(plan[d].id.data, id.data, id.len) == 0)
                {
                    break;
                }
            }

            if (d < ctx->plan.nelts) {
                continue;
            }

            t = ngx_array_push(&ctx->plan);
            if (t == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memzero(t, sizeof(ngx_http_aigw_target_t));

            t->provider = p;
            t->model = m;
            t->slug = *slug;
            t->id = id;

            t->cooled = ngx_http_aigw_health_cooled(r, t);

            /*
             * a credential of providerOptions.gateway.byok is tried first,
             * then the provider's configured key, as a target of its own
             */

            if (ngx_http_aigw_byok_key(ctx, p) != NULL) {
                t->byok = 1;

                if (p->key.len) {
                    plan = ngx_array_push(&ctx->plan);
                    if (plan == NULL) {
                        return NGX_HTTP_INTERNAL_SERVER_ERROR;
                    }

                    t = plan - 1;
                    *plan = *t;
                    plan->byok = 0;
                }
            }
        }
    }

    return NGX_OK;
}


/* the images an image generation asks for ("n", 1 by default) */

static int64_t
ngx_http_aigw_plan_images(ngx_http_aigw_ctx_t *ctx)
{
    int64_t     n;
    ngx_uint_t  v;

    v = ngx_http_aigw_json_get(&ctx->json, 0, "n");

    if (v == NGX_HTTP_AIGW_JSON_NONE
        || ngx_http_aigw_json_int(&ctx->json, v, &n) != NGX_OK)
    {
        return 1;
    }

    return n;
}


static ngx_uint_t
ngx_http_aigw_in_list(ngx_array_t *list, ngx_str_t *s)
{
    ngx_str_t   *e;
    ngx_uint_t   i;

    e = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (e[i].len == s->len && ngx_strncmp(e[i].data, s->data, s->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * An id (from the slug a client sent, for a wildcard model) that replaces
 * $model in a provider's path must stay one segment: "../x" would reach
 * other paths of the provider with the gateway's key.
 */

static ngx_uint_t
ngx_http_aigw_path_id(ngx_http_aigw_provider_t *p, ngx_str_t *id)
{
    if (ngx_strnstr(p->path.data, "$model", p->path.len) == NULL) {
        return 1;
    }

    if (id->len == 0
        || ngx_strlchr(id->data, id->data + id->len, '/')
        || ngx_strlchr(id->data, id->data + id->len, '\\')
        || (id->len <= 2 && ngx_strncmp(id->data, "..", id->len) == 0))
    {
        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_aigw_add_slug(ngx_array_t *slugs, ngx_str_t *s)
{
    ngx_str_t  *n;

    if (ngx_http_aigw_in_list(slugs, s)) {
        return NGX_OK;
    }

    n = ngx_array_push(slugs);
    if (n == NULL) {
        return NGX_ERROR;
    }

    *n = *s;

    return NGX_OK;
}


/*
 * No provider of the model counts tokens: estimate from the size of the
 * request (about four bytes a token) and say that it is an estimate.
 */

static ngx_int_t
ngx_http_aigw_count_tokens(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    ngx_str_t            value;
    ngx_http_aigw_jw_t   w;

    ctx->usage.input = ngx_min((int64_t) ((ctx->body.len + 3) / 4),
                               NGX_HTTP_AIGW_TOKENS_MAX);
    ctx->estimated = 1;

    ngx_http_aigw_jw_init(&w, r->pool, 64);
    ctx->client->write_count(&w, ctx->usage.input);
    ngx_http_aigw_jw_lit(&w, "\n");

    if (w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "true");

    if (ngx_http_aigw_add_header(r, "X-AIGW-Estimated", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, w.out, w.size);
}


/* GET /v1/models and /v1/models/{id}, in the client's shape */

static ngx_int_t
ngx_http_aigw_models(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_str_t *id)
{
    ngx_int_t                   rc;
    ngx_array_t                 list;
    ngx_uint_t                  i;
    ngx_http_aigw_jw_t          w;
    ngx_http_aigw_model_t      *m, **e;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    /* a gateway key sees the models it may use (key.c) */

    rc = ngx_http_aigw_authenticate(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_array_init(&list, r->pool, amcf->models.nelts + 1,
                       sizeof(ngx_http_aigw_model_t *))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id) {
        m = ngx_http_aigw_find_model(amcf, id);

        if (m == NULL || !ngx_http_aigw_key_allows(ctx->key, id)) {
            return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_NOT_FOUND,
                                            "model_not_found",
                                            "model \"%V\" is not configured "
                                            "on this gateway", id);
        }

        /* a wildcard answers with the id asked for */

        if (m->wildcard) {
            ctx->model = *id;
        }

        e = ngx_array_push(&list);
        if (e == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *e = m;

    } else {
        m = amcf->models.elts;

        for (i = 0; i < amcf->models.nelts; i++) {
            if (m[i].wildcard || !ngx_http_aigw_key_allows(ctx->key,
                                                          &m[i].slug))
            {
                continue;
            }

            e = ngx_array_push(&list);
            if (e == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *e = &m[i];
        }
    }

    ngx_http_aigw_jw_init(&w, r->pool, 4096);

    ctx->client->write_models(r, &w, &list, id != NULL);

    ngx_http_aigw_jw_lit(&w, "\n");

    if (w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, w.out, w.size);
}
