
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * Limits and budgets: aigw_limit, aigw_budget, aigw_max_input_tokens and
 * aigw_max_output_tokens, the limits stage that reserves what a request
 * may use before any provider is asked, and the settlement in the log
 * phase that reconciles the reservations with the real usage and cost and
 * gives the concurrency leases back.  The counters are behind the
 * interface of ngx_http_aigw_store_shm.c.
 *
 * A request reserves, for every limit and budget whose scope it belongs
 * to: one request (rpm), its estimated tokens (tpm, tpd: the prompt at
 * about four bytes a token plus its max_tokens, or aigw_max_output_tokens,
 * or 4096), a lease (concurrent), and its estimated cost (those tokens at
 * the highest prices of the models it may reach).  All or nothing: a
 * refused request reserves nothing.
 */


#define NGX_HTTP_AIGW_LEASE_TTL      600000      /* ms */
#define NGX_HTTP_AIGW_OUTPUT_GUESS   4096
#define NGX_HTTP_AIGW_CONCURRENT_MAX 1024

/* tpm=, tpd=: a counter is an int64_t, a request adds less than 2^33 */
#define NGX_HTTP_AIGW_TOKEN_LIMIT_MAX  ((ngx_int_t) 1000000000000LL)


typedef enum {
    ngx_http_aigw_metric_rpm = 0,
    ngx_http_aigw_metric_tpm,
    ngx_http_aigw_metric_tpd,
    ngx_http_aigw_metric_concurrent,
    ngx_http_aigw_metric_budget,
    ngx_http_aigw_metric_spend
} ngx_http_aigw_metric_e;


typedef struct {
    ngx_array_t                    *limits;    /* ngx_http_aigw_limit_t */
    ngx_array_t                    *budgets;   /* ngx_http_aigw_budget_t */
    ngx_int_t                       max_input;
    ngx_int_t                       max_output;
} ngx_http_aigw_limit_loc_conf_t;


typedef struct {
    ngx_uint_t                      used;      /* a directive is set */
} ngx_http_aigw_limit_main_conf_t;


/* what the request reserved; op i is described by meta i */

typedef struct {
    ngx_uint_t                      metric;
    ngx_str_t                       label;     /* "user:rpm" */
    const ngx_http_aigw_budget_t   *budget;
} ngx_http_aigw_limit_meta_t;


typedef struct {
    ngx_array_t                     ops;       /* counter ops */
    ngx_array_t                     meta;
    const ngx_http_aigw_counter_backend_t  *backend;
    void                           *pending;   /* the backend's call */
    ngx_http_aigw_counter_done_pt   done;      /* of a read */
    unsigned                        reserved:1;
    unsigned                        open:1;    /* fail=open let it go */
} ngx_http_aigw_limit_state_t;


static ngx_http_aigw_outcome_e ngx_http_aigw_limit_stage(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
static ngx_int_t ngx_http_aigw_limit_caps(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_limit_loc_conf_t *llcf,
    int64_t *tokens);
static int64_t ngx_http_aigw_limit_price(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, int64_t input, int64_t output);
static ngx_int_t ngx_http_aigw_limit_ops(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_limit_state_t *st,
    const ngx_http_aigw_limit_t *l, int64_t tokens, int64_t now);
static ngx_int_t ngx_http_aigw_budget_op(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_limit_state_t *st,
    const ngx_http_aigw_budget_t *b, int64_t cost, int64_t now);
static ngx_int_t ngx_http_aigw_limit_ids(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t scope, ngx_str_t *tag,
    ngx_array_t *ids);
static ngx_int_t ngx_http_aigw_limit_add(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st, ngx_uint_t metric, ngx_str_t *scope,
    ngx_str_t *id, ngx_uint_t kind, int64_t limit, int64_t period,
    int64_t expire, int64_t amount, const char *window, int64_t start);
static void ngx_http_aigw_limit_done(ngx_http_request_t *r, ngx_int_t rc);
static void ngx_http_aigw_limit_release(void *data);
static ngx_int_t ngx_http_aigw_limit_fallback(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st);
static const ngx_http_aigw_counter_backend_t *ngx_http_aigw_limit_backend(
    ngx_http_request_t *r);
static int64_t ngx_http_aigw_limit_clock(ngx_http_request_t *r);
static void ngx_http_aigw_budget_read(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_http_aigw_budget_fallback(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st);
static ngx_int_t ngx_http_aigw_limit_decide(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_aigw_limit_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_limit_state_t *st,
    ngx_http_aigw_counter_op_t *refused);
static void ngx_http_aigw_period(ngx_uint_t period, time_t now,
    time_t *start, time_t *end);
static void ngx_http_aigw_scope_name(ngx_uint_t scope, ngx_str_t *tag,
    ngx_pool_t *pool, ngx_str_t *out);
static ngx_int_t ngx_http_aigw_limit_scope(ngx_conf_t *cf, ngx_str_t *v,
    ngx_uint_t *scope, ngx_str_t *tag);
static char *ngx_http_aigw_limit_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_aigw_budget_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_aigw_limit_var_limit(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_limit_var_budget(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aigw_limit_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_aigw_limit_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_aigw_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aigw_limit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_limit_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);


static ngx_command_t  ngx_http_aigw_limit_commands[] = {

    { ngx_string("aigw_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_aigw_limit_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_aigw_budget_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_max_input_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_limit_loc_conf_t, max_input),
      NULL },

    { ngx_string("aigw_max_output_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aigw_limit_loc_conf_t, max_output),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_limit_module_ctx = {
    ngx_http_aigw_limit_preconfiguration,  /* preconfiguration */
    ngx_http_aigw_limit_postconfiguration, /* postconfiguration */

    ngx_http_aigw_limit_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aigw_limit_create_loc_conf,   /* create location configuration */
    ngx_http_aigw_limit_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_limit_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_limit_module_ctx,       /* module context */
    ngx_http_aigw_limit_commands,          /* module directives */
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


/*
 * Seconds added to the wall clock wherever limits and budgets take the
 * time (windows, periods, resets, the counters' expiry): 0 but in tests
 * (aigw_test_clock_offset of t/hooks/ngx_http_aigw_test_module.c).
 */

int64_t  ngx_http_aigw_clock_offset;


static ngx_str_t  ngx_http_aigw_metric_names[] = {
    ngx_string("rpm"),
    ngx_string("tpm"),
    ngx_string("tpd"),
    ngx_string("concurrent"),
    ngx_string("budget"),
    ngx_string("spend")
};


static const char  *ngx_http_aigw_period_names[] = {
    "day", "week", "month", "total"
};


static ngx_http_variable_t  ngx_http_aigw_limit_vars[] = {

    { ngx_string("aigw_limit"), NULL, ngx_http_aigw_limit_var_limit, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aigw_budget_remaining"), NULL,
      ngx_http_aigw_limit_var_budget, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_aigw_outcome_e
ngx_http_aigw_limit_stage(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    int64_t                          tokens, cost, now;
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_http_aigw_limit_t           *l;
    ngx_http_aigw_budget_t          *b;
    ngx_http_aigw_limit_state_t     *st;
    ngx_http_aigw_limit_loc_conf_t  *llcf;

    if (ctx->endpoint == ngx_http_aigw_ep_count_tokens) {
        return ngx_http_aigw_next;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_limit_module);

    tokens = 0;

    rc = ngx_http_aigw_limit_caps(r, ctx, llcf, &tokens);
    if (rc != NGX_DECLINED) {
        ctx->rc = rc;
        return ngx_http_aigw_finished;
    }

    /* a key's spend of all time is counted even without limits */

    if (llcf->limits == NULL && llcf->budgets == NULL && ctx->key == NULL) {
        return ngx_http_aigw_next;
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_limit_state_t));
    if (st == NULL) {
        goto failed;
    }

    if (ngx_array_init(&st->ops, r->pool, 8,
                       sizeof(ngx_http_aigw_counter_op_t))
        != NGX_OK
        || ngx_array_init(&st->meta, r->pool, 8,
                          sizeof(ngx_http_aigw_limit_meta_t))
           != NGX_OK)
    {
        goto failed;
    }

    st->backend = ngx_http_aigw_limit_backend(r);

    now = ngx_http_aigw_limit_clock(r);

    if (ctx->key) {
        if (ngx_http_aigw_limit_ops(r, ctx, st, &ctx->key->limit, tokens, now)
            != NGX_OK)
        {
            goto failed;
        }
    }

    if (llcf->limits) {
        l = llcf->limits->elts;

        for (i = 0; i < llcf->limits->nelts; i++) {
            if (ngx_http_aigw_limit_ops(r, ctx, st, &l[i], tokens, now)
                != NGX_OK)
            {
                goto failed;
            }
        }
    }

    cost = 0;

    if (llcf->budgets || ctx->key) {
        cost = ngx_http_aigw_limit_price(r, ctx, tokens >> 32,
                                         tokens & 0xffffffff);
    }

    if (ctx->key) {
        if (ctx->key->budget.amount >= 0
            && ngx_http_aigw_budget_op(r, ctx, st, &ctx->key->budget, cost,
                                       now)
               != NGX_OK)
        {
            goto failed;
        }

        /* the key's spend of all time, for /v1/credits */

        if (ngx_http_aigw_budget_op(r, ctx, st, NULL, cost, now) != NGX_OK) {
            goto failed;
        }
    }

    if (llcf->budgets) {
        b = llcf->budgets->elts;

        for (i = 0; i < llcf->budgets->nelts; i++) {
            if (ngx_http_aigw_budget_op(r, ctx, st, &b[i], cost, now)
                != NGX_OK)
            {
                goto failed;
            }
        }
    }

    if (st->ops.nelts == 0) {
        return ngx_http_aigw_next;
    }

    ctx->limits = st;

    rc = st->backend->reserve(r, st->ops.elts, st->ops.nelts,
                              ngx_http_aigw_limit_done, &st->pending);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_aigw_limit_fallback(r, st);
    }

    if (rc == NGX_AGAIN) {
        if (ngx_http_aigw_suspend(r, ctx, ngx_http_aigw_limit_release, r)
            != NGX_OK)
        {
            goto failed;
        }

        return ngx_http_aigw_suspended;
    }

    rc = ngx_http_aigw_limit_decide(r, ctx, rc);

    if (rc == NGX_DECLINED) {
        return ngx_http_aigw_next;
    }

    ctx->rc = rc;

    return ngx_http_aigw_finished;

failed:

    ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    return ngx_http_aigw_finished;
}


/*
 * The pre-flight caps, and the tokens a request is expected to use:
 * (input << 32) | output.
 */

static ngx_int_t
ngx_http_aigw_limit_caps(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_limit_loc_conf_t *llcf, int64_t *tokens)
{
    int64_t           input, output, v;
    ngx_uint_t        i, t;
    static const char  *fields[] = {
        "max_tokens", "max_completion_tokens", "max_output_tokens"
    };

    input = ngx_min((int64_t) ((ctx->body.len + 3) / 4),
                    NGX_HTTP_AIGW_TOKENS_MAX);

    if (llcf->max_input > 0 && input > llcf->max_input) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                        "invalid_request_error",
                                        "the prompt is about %L tokens, "
                                        "more than the %i this gateway "
                                        "accepts", input, llcf->max_input);
    }

    output = -1;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        t = ngx_http_aigw_json_get(&ctx->json, 0, fields[i]);

        if (t != NGX_HTTP_AIGW_JSON_NONE
            && ngx_http_aigw_json_int(&ctx->json, t, &v) == NGX_OK
            && v > 0)
        {
            output = v;
            break;
        }
    }

    if (llcf->max_output > 0 && output > llcf->max_output) {
        return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                        "invalid_request_error",
                                        "%s is %L, more than the %i output "
                                        "tokens this gateway allows",
                                        fields[i], output, llcf->max_output);
    }

    if (output < 0) {
        output = (llcf->max_output > 0) ? llcf->max_output
                                        : NGX_HTTP_AIGW_OUTPUT_GUESS;
    }

    /* with prices up to PRICE_MAX, a cost of TOKENS_MAX fits an int64_t */

    output = ngx_min(output, NGX_HTTP_AIGW_TOKENS_MAX);

    *tokens = (input << 32) | output;

    return NGX_DECLINED;
}


/*
 * The estimated cost: the tokens at the highest prices among the models
 * the request may reach (the model asked for and its fallbacks), and the
 * images an image generation asks for ("n", 1 by default) at the highest
 * price of an image.
 */

static int64_t
ngx_http_aigw_limit_price(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    int64_t input, int64_t output)
{
    int64_t                     pin, pout, pimg, images;
    ngx_str_t                  *s;
    ngx_uint_t                  i, k, n, v;
    ngx_array_t                *lists[3];
    ngx_http_aigw_model_t      *m, *first;
    ngx_http_aigw_loc_conf_t   *alcf;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_module);

    pin = 0;
    pout = 0;
    pimg = 0;

    first = ngx_http_aigw_find_model(amcf, &ctx->model);

    lists[0] = ctx->models;
    lists[1] = first ? first->fallbacks : NULL;
    lists[2] = alcf->fallbacks;

    m = first;
    k = 0;
    i = 0;

    for ( ;; ) {
        if (m && m->priced) {
            pin = ngx_max(pin, m->price_input);
            pin = ngx_max(pin, m->price_cache_write);
            pout = ngx_max(pout, m->price_output);
            pimg = ngx_max(pimg, m->price_image);
        }

        while (k < 3 && (lists[k] == NULL || i >= lists[k]->nelts)) {
            k++;
            i = 0;
        }

        if (k == 3) {
            break;
        }

        s = lists[k]->elts;
        n = i++;
        m = ngx_http_aigw_find_model(amcf, &s[n]);
    }

    images = 0;

    if (ctx->endpoint == ngx_http_aigw_ep_images && pimg) {
        v = ngx_http_aigw_json_get(&ctx->json, 0, "n");

        if (v == NGX_HTTP_AIGW_JSON_NONE
            || ngx_http_aigw_json_int(&ctx->json, v, &images) != NGX_OK
            || images < 1)
        {
            images = 1;
        }

        images = ngx_min(images, 100);
    }

    return (input * pin + output * pout + 999999) / 1000000 + images * pimg;
}


static ngx_int_t
ngx_http_aigw_limit_ops(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_limit_state_t *st, const ngx_http_aigw_limit_t *l,
    int64_t tokens, int64_t now)
{
    int64_t       amount, start;
    ngx_str_t    *id, scope;
    ngx_uint_t    i;
    ngx_array_t   ids;

    if (l->rpm == 0 && l->tpm == 0 && l->tpd == 0 && l->concurrent == 0) {
        return NGX_OK;
    }

    if (ngx_array_init(&ids, r->pool, 2, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_limit_ids(r, ctx, l->scope, (ngx_str_t *) &l->tag,
                                &ids)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_scope_name(l->scope, (ngx_str_t *) &l->tag, r->pool,
                             &scope);

    amount = (tokens >> 32) + (tokens & 0xffffffff);
    id = ids.elts;

    for (i = 0; i < ids.nelts; i++) {

        if (l->rpm
            && ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_rpm,
                                       &scope, &id[i],
                                       ngx_http_aigw_counter_rate, l->rpm,
                                       60000, 0, 1, NULL, 0)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (l->tpm) {
            start = now / 60000 * 60000;

            if (ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_tpm,
                                        &scope, &id[i],
                                        ngx_http_aigw_counter_window, l->tpm,
                                        60000, start + 60000, amount, "m",
                                        start / 1000)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (l->tpd) {
            start = now / 86400000 * 86400000;

            if (ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_tpd,
                                        &scope, &id[i],
                                        ngx_http_aigw_counter_window, l->tpd,
                                        86400000, start + 86400000, amount,
                                        "d", start / 1000)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (l->concurrent
            && ngx_http_aigw_limit_add(r, st,
                                       ngx_http_aigw_metric_concurrent,
                                       &scope, &id[i],
                                       ngx_http_aigw_counter_lease,
                                       l->concurrent,
                                       NGX_HTTP_AIGW_LEASE_TTL, 0, 1, NULL, 0)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a budget, or (b == NULL) the key's spend of all time */

static ngx_int_t
ngx_http_aigw_budget_op(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_limit_state_t *st, const ngx_http_aigw_budget_t *b,
    int64_t cost, int64_t now)
{
    time_t                       start, end;
    ngx_str_t                   *id, scope;
    ngx_uint_t                   i, n;
    ngx_array_t                  ids;
    ngx_http_aigw_counter_op_t  *op;
    ngx_http_aigw_limit_meta_t  *meta;

    if (ngx_array_init(&ids, r->pool, 2, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (b == NULL) {
        id = ngx_array_push(&ids);
        if (id == NULL) {
            return NGX_ERROR;
        }

        *id = ctx->key->name;
        ngx_str_set(&scope, "key");

        return ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_spend,
                                       &scope, id, ngx_http_aigw_counter_sum,
                                       -1, 0, 0, cost, "t", 0);
    }

    if (ngx_http_aigw_limit_ids(r, ctx, b->scope, (ngx_str_t *) &b->tag,
                                &ids)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_aigw_scope_name(b->scope, (ngx_str_t *) &b->tag, r->pool,
                             &scope);
    ngx_http_aigw_period(b->period, (time_t) (now / 1000), &start, &end);

    id = ids.elts;

    for (i = 0; i < ids.nelts; i++) {
        n = st->ops.nelts;

        if (ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_budget,
                                    &scope, &id[i], ngx_http_aigw_counter_sum,
                                    b->amount, 0, (int64_t) end * 1000, cost,
                                    ngx_http_aigw_period_names[b->period],
                                    start)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (st->ops.nelts == n) {
            continue;    /* the counter of an earlier budget */
        }

        op = st->ops.elts;
        meta = st->meta.elts;

        meta[n].budget = b;

        if (b->warn) {
            op[n].warn = ngx_max(b->amount * (int64_t) b->warn / 100, 1);
        }
    }

    return NGX_OK;
}


/* the ids of a scope the request belongs to: none, one, or (tags) more */

static ngx_int_t
ngx_http_aigw_limit_ids(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_uint_t scope, ngx_str_t *tag, ngx_array_t *ids)
{
    u_char      *p;
    ngx_str_t   *id, *t, s;
    ngx_uint_t   i;

    switch (scope) {

    case ngx_http_aigw_scope_key:
        if (ctx->key == NULL) {
            return NGX_OK;
        }

        s = ctx->key->name;
        break;

    case ngx_http_aigw_scope_user:
        if (ctx->user.len == 0) {
            return NGX_OK;
        }

        s = ctx->user;
        break;

    case ngx_http_aigw_scope_key_user:
        if (ctx->key == NULL || ctx->user.len == 0) {
            return NGX_OK;
        }

        s.len = ctx->key->name.len + 1 + ctx->user.len;
        s.data = ngx_pnalloc(r->pool, s.len);
        if (s.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(s.data, ctx->key->name.data, ctx->key->name.len);
        *p++ = '+';
        ngx_memcpy(p, ctx->user.data, ctx->user.len);
        break;

    default: /* tag */

        /*
         * only the key's configured tags are trusted: a client naming a
         * tag (providerOptions.gateway.tags) does not draw on its limits
         * and budgets; without a key no tag scope applies
         */

        if (ctx->key == NULL || ctx->key->tags == NULL) {
            return NGX_OK;
        }

        t = ctx->key->tags->elts;

        for (i = 0; i < ctx->key->tags->nelts; i++) {
            if (t[i].len == tag->len
                && ngx_strncmp(t[i].data, tag->data, tag->len) == 0)
            {
                break;
            }
        }

        if (i == ctx->key->tags->nelts) {
            return NGX_OK;
        }

        s = *tag;
        break;
    }

    id = ngx_array_push(ids);
    if (id == NULL) {
        return NGX_ERROR;
    }

    *id = s;

    return NGX_OK;
}


/*
 * The key of a counter: "aigw:{METRIC:SCOPE:LEN:ID}[:WINDOW:START]"; the
 * id's length keeps keys of different ids apart; the braces are a Redis
 * Cluster hash tag: the windows of a counter share its slot.
 */

static ngx_int_t
ngx_http_aigw_limit_add(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st, ngx_uint_t metric, ngx_str_t *scope,
    ngx_str_t *id, ngx_uint_t kind, int64_t limit, int64_t period,
    int64_t expire, int64_t amount, const char *window, int64_t start)
{
    size_t                       len;
    u_char                      *p;
    ngx_str_t                    key;
    ngx_uint_t                   i;
    ngx_http_aigw_counter_op_t  *op;
    ngx_http_aigw_limit_meta_t  *meta;

    len = sizeof("aigw:{:::}:") + ngx_http_aigw_metric_names[metric].len
          + scope->len + NGX_SIZE_T_LEN + id->len + 8 + NGX_INT64_LEN;

    key.data = ngx_pnalloc(r->pool, len);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(key.data, "aigw:{%V:%V:%uz:%V}",
                    &ngx_http_aigw_metric_names[metric], scope, id->len, id);

    if (window) {
        p = ngx_sprintf(p, ":%s:%L", window, start);
    }

    key.len = p - key.data;

    /*
     * one counter is drawn on once a request: a key's inline rpm= and an
     * "aigw_limit key rpm=" name the same counter, the stricter limit holds
     */

    op = st->ops.elts;

    for (i = 0; i < st->ops.nelts; i++) {
        if (op[i].kind == kind
            && op[i].key.len == key.len
            && ngx_memcmp(op[i].key.data, key.data, key.len) == 0)
        {
            if (limit >= 0 && (op[i].limit < 0 || limit < op[i].limit)) {
                op[i].limit = limit;
            }

            return NGX_OK;
        }
    }

    op = ngx_array_push(&st->ops);
    meta = ngx_array_push(&st->meta);

    if (op == NULL || meta == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(op, sizeof(ngx_http_aigw_counter_op_t));
    ngx_memzero(meta, sizeof(ngx_http_aigw_limit_meta_t));

    op->key = key;
    op->kind = kind;
    op->limit = limit;
    op->period = period;
    op->expire = expire;
    op->amount = amount;
    op->actual = amount;

    meta->metric = metric;
    meta->label.len = scope->len + 1 + ngx_http_aigw_metric_names[metric].len;
    meta->label.data = ngx_pnalloc(r->pool, meta->label.len);
    if (meta->label.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(meta->label.data, "%V:%V", scope,
                &ngx_http_aigw_metric_names[metric]);

    return NGX_OK;
}


/* an asynchronous backend answered */

static void
ngx_http_aigw_limit_done(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t             *c;
    ngx_http_aigw_ctx_t          *ctx;
    ngx_http_aigw_limit_state_t  *st;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    st = ctx->limits;
    st->pending = NULL;

    if (rc == NGX_DECLINED) {
        rc = ngx_http_aigw_limit_fallback(r, st);
    }

    rc = ngx_http_aigw_limit_decide(r, ctx, rc);

    if (rc == NGX_DECLINED) {
        ngx_http_aigw_resume(r);
        return;
    }

    if (ctx->release) {
        *ctx->release = NULL;
        ctx->release = NULL;
    }

    r->read_event_handler = ngx_http_block_reading;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * The request ended while an asynchronous backend had its reservation:
 * the backend gives back whatever its answer reserves.
 */

static void
ngx_http_aigw_limit_release(void *data)
{
    ngx_http_request_t  *r = data;

    ngx_http_aigw_ctx_t          *ctx;
    ngx_http_aigw_limit_state_t  *st;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    st = ctx ? ctx->limits : NULL;

    if (st && st->pending) {
        st->backend->cancel(st->pending);
        st->pending = NULL;
    }
}


/*
 * Redis cannot keep the counters now (down, slow, refusing): aigw_redis
 * fail= decides.  "local": the shm counters of this node keep them
 * meanwhile; "open": the request goes on, nothing is counted; "closed"
 * (and a full zone): NGX_DECLINED, a 503.
 */

static ngx_int_t
ngx_http_aigw_limit_fallback(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st)
{
    ngx_uint_t                  i;
    ngx_http_aigw_counter_op_t  *op;
    ngx_http_aigw_main_conf_t   *amcf;

    if (st->backend != &ngx_http_aigw_store_redis) {
        return NGX_DECLINED;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    switch (ngx_http_aigw_redis_fail(amcf->redis)) {

    case ngx_http_aigw_redis_fail_local:
        st->backend = &ngx_http_aigw_store_shm;

        return st->backend->reserve(r, st->ops.elts, st->ops.nelts, NULL,
                                    &st->pending);

    case ngx_http_aigw_redis_fail_open:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "aigw: redis is unavailable, the request goes on "
                      "without limits (fail=open)");

        op = st->ops.elts;

        for (i = 0; i < st->ops.nelts; i++) {
            op[i].allowed = 1;
            op[i].used = 0;
            op[i].remaining = -1;
            op[i].reset = 0;
            op[i].retry = 0;
            op[i].warned = 0;
        }

        st->open = 1;

        return NGX_OK;

    default: /* closed */
        return NGX_DECLINED;
    }
}


/* NGX_DECLINED: the request goes on; or what it finishes with */

static ngx_int_t
ngx_http_aigw_limit_decide(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_int_t rc)
{
    u_char                          *p, reset[48];
    int64_t                          remaining;
    ngx_str_t                        v;
    ngx_uint_t                       i, n;
    ngx_http_aigw_counter_op_t      *op, *refused;
    ngx_http_aigw_limit_meta_t      *meta;
    ngx_http_aigw_limit_state_t     *st;
    const ngx_http_aigw_budget_t    *b;

    st = ctx->limits;

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&ctx->limit, "zone");

        return ngx_http_aigw_send_error(r, ctx,
                                        NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                        "the gateway cannot keep the "
                                        "counters of its limits now, try "
                                        "again later");
    }

    op = st->ops.elts;
    meta = st->meta.elts;
    n = st->ops.nelts;
    refused = NULL;

    /* a budget refuses first: waiting does not help as soon */

    for (i = 0; i < n; i++) {
        if (op[i].allowed) {
            continue;
        }

        if (refused == NULL
            || (meta[i].metric == ngx_http_aigw_metric_budget
                && meta[refused - op].metric != ngx_http_aigw_metric_budget))
        {
            refused = &op[i];
        }
    }

    if (refused == NULL && !st->open) {
        st->reserved = 1;
    }

    remaining = -1;

    for (i = 0; i < n; i++) {
        if (meta[i].metric != ngx_http_aigw_metric_budget) {
            continue;
        }

        if (remaining < 0 || op[i].remaining < remaining) {
            remaining = op[i].remaining;
        }

        b = meta[i].budget;

        if (refused == NULL && op[i].warned) {

            if (op[i].first) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "aigw: budget \"%V\" of $%L.%06L per %s "
                              "crossed %ui%%: $%L.%06L used",
                              &meta[i].label, b->amount / 1000000,
                              b->amount % 1000000,
                              ngx_http_aigw_period_names[b->period],
                              b->warn, op[i].used / 1000000,
                              op[i].used % 1000000);

                ngx_http_aigw_alert_budget(r, &meta[i].label, &op[i].key,
                                           op[i].used, b->amount, 0);
            }

            v.data = ngx_pnalloc(r->pool, 128 + meta[i].label.len);
            if (v.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            v.len = ngx_sprintf(v.data, "%V %ui%% used",
                                &meta[i].label,
                                (ngx_uint_t) (op[i].used * 100 / b->amount))
                    - v.data;

            if (ngx_http_aigw_add_header(r, "X-AIGW-Budget-Warning", &v)
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    ctx->budget_remaining = remaining;

    if (ngx_http_aigw_limit_headers(r, ctx, st, refused) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (refused == NULL) {
        return NGX_DECLINED;
    }

    i = refused - op;
    ctx->limit = meta[i].label;

    if (meta[i].metric == ngx_http_aigw_metric_budget) {
        b = meta[i].budget;

        if (refused->reset) {
            p = ngx_cpymem(reset, "it resets at ", 13);
            p = ngx_http_aigw_rfc3339(p, (time_t) (refused->expire / 1000));

        } else {
            p = ngx_cpymem(reset, "it never resets", 15);
        }

        ngx_http_aigw_alert_budget(r, &ctx->limit, &refused->key,
                                   refused->used, b->amount, 1);

        return ngx_http_aigw_send_error(r, ctx, 402, NULL,
                                        "budget \"%V\" of $%L.%06L per %s "
                                        "is exhausted: $%L.%06L used, this "
                                        "request may cost up to $%L.%06L; "
                                        "%*s", &ctx->limit,
                                        b->amount / 1000000,
                                        b->amount % 1000000,
                                        ngx_http_aigw_period_names[b->period],
                                        refused->used / 1000000,
                                        refused->used % 1000000,
                                        refused->amount / 1000000,
                                        refused->amount % 1000000,
                                        (size_t) (p - reset), reset);
    }

    v.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (v.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v.len = ngx_sprintf(v.data, "%L", ngx_max((refused->retry + 999) / 1000,
                                               1))
            - v.data;

    if (ngx_http_aigw_add_header(r, "Retry-After", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (v.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v.len = ngx_sprintf(v.data, "%L", refused->retry) - v.data;

    if (ngx_http_aigw_add_header(r, "retry-after-ms", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_error(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS, NULL,
                                    "rate limit \"%V\" of %L exceeded, "
                                    "retry in %L ms", &ctx->limit,
                                    refused->limit, refused->retry);
}


/*
 * The surface's rate-limit headers, of the most constrained requests
 * limit (rpm) and tokens limit (tpm, tpd); of the refused one when
 * refused.
 */

static ngx_int_t
ngx_http_aigw_limit_headers(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_limit_state_t *st, ngx_http_aigw_counter_op_t *refused)
{
    int64_t                       now;
    ngx_uint_t                    i, m;
    ngx_http_aigw_counter_op_t   *op, *req, *tok;
    ngx_http_aigw_limit_meta_t   *meta;

    if (st->open) {
        return NGX_OK;         /* nothing is known */
    }

    op = st->ops.elts;
    meta = st->meta.elts;
    req = NULL;
    tok = NULL;

    for (i = 0; i < st->ops.nelts; i++) {
        m = meta[i].metric;

        if (m == ngx_http_aigw_metric_rpm) {
            if (req == NULL || op[i].remaining < req->remaining) {
                req = &op[i];
            }

        } else if (m == ngx_http_aigw_metric_tpm
                   || m == ngx_http_aigw_metric_tpd)
        {
            if (tok == NULL || op[i].remaining < tok->remaining) {
                tok = &op[i];
            }
        }
    }

    if (refused) {
        m = meta[refused - op].metric;

        if (m == ngx_http_aigw_metric_rpm) {
            req = refused;

        } else if (m == ngx_http_aigw_metric_tpm
                   || m == ngx_http_aigw_metric_tpd)
        {
            tok = refused;
        }
    }

    now = ngx_http_aigw_limit_clock(r);

    if (req
        && ctx->client->ratelimit_headers(r, "requests", req->limit,
                                          ngx_max(req->remaining, 0),
                                          ngx_max(req->reset, 0), now)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (tok
        && ctx->client->ratelimit_headers(r, "tokens", tok->limit,
                                          ngx_max(tok->remaining, 0),
                                          ngx_max(tok->reset, 0), now)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}



/*
 * The log phase, on every end of a request that reserved: the sums take
 * the real usage and cost instead of the estimates, the leases are given
 * back.  Without usage the estimate stays if the provider answered with
 * a success (the client went away mid-stream, say), and is given back if
 * no provider did.
 */

void
ngx_http_aigw_limit_settle(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    int64_t                       tokens;
    ngx_uint_t                    i, ok;
    ngx_http_aigw_counter_op_t   *op;
    ngx_http_aigw_limit_meta_t   *meta;
    ngx_http_aigw_limit_state_t  *st;

    st = ctx->limits;

    if (st == NULL || !st->reserved) {
        return;
    }

    st->reserved = 0;

    op = st->ops.elts;
    meta = st->meta.elts;

    ok = (ctx->attempts.nelts && ctx->status >= 200 && ctx->status < 300);
    tokens = ctx->usage.input + ctx->usage.output;

    for (i = 0; i < st->ops.nelts; i++) {

        switch (meta[i].metric) {

        case ngx_http_aigw_metric_tpm:
        case ngx_http_aigw_metric_tpd:
            op[i].actual = ctx->usage.seen ? tokens
                                           : (ok ? op[i].amount : 0);
            break;

        case ngx_http_aigw_metric_budget:
        case ngx_http_aigw_metric_spend:
            op[i].actual = ctx->usage.seen ? ngx_max(ctx->cost, 0)
                                           : (ok ? op[i].amount : 0);
            break;

        default:
            break;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "aigw: settling %ui counters", st->ops.nelts);

    st->backend->settle(r, st->ops.elts, st->ops.nelts);
}


/*
 * For /v1/credits: reads the spend of all time of a key and its budget in
 * the current period.  NGX_OK: read, ngx_http_aigw_budget_result() has
 * them; NGX_AGAIN: done(r, rc) is called when they are; NGX_DECLINED:
 * they cannot be read now (Redis unavailable and fail=closed).
 */

ngx_int_t
ngx_http_aigw_budget_status(ngx_http_request_t *r,
    const ngx_http_aigw_key_t *key, ngx_http_aigw_counter_done_pt done)
{
    time_t                           start, end;
    int64_t                          now;
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_str_t                        scope;
    ngx_http_aigw_budget_t          *b, *lb;
    ngx_http_aigw_limit_meta_t      *meta;
    ngx_http_aigw_limit_state_t     *st;
    ngx_http_aigw_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_aigw_limit_module);

    b = (key->budget.amount >= 0) ? (ngx_http_aigw_budget_t *) &key->budget
                                  : NULL;

    if (b == NULL && llcf->budgets) {
        lb = llcf->budgets->elts;

        for (i = 0; i < llcf->budgets->nelts; i++) {
            if (lb[i].scope == ngx_http_aigw_scope_key) {
                b = &lb[i];
                break;
            }
        }
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_limit_state_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&st->ops, r->pool, 2,
                       sizeof(ngx_http_aigw_counter_op_t))
        != NGX_OK
        || ngx_array_init(&st->meta, r->pool, 2,
                          sizeof(ngx_http_aigw_limit_meta_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&scope, "key");

    if (ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_spend, &scope,
                                (ngx_str_t *) &key->name,
                                ngx_http_aigw_counter_sum, -1, 0, 0, 0, "t",
                                0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (b) {
        now = ngx_http_aigw_limit_clock(r);

        ngx_http_aigw_period(b->period, (time_t) (now / 1000), &start, &end);

        if (ngx_http_aigw_limit_add(r, st, ngx_http_aigw_metric_budget,
                                    &scope, (ngx_str_t *) &key->name,
                                    ngx_http_aigw_counter_sum, b->amount, 0,
                                    (int64_t) end * 1000, 0,
                                    ngx_http_aigw_period_names[b->period],
                                    start)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        meta = st->meta.elts;
        meta[1].budget = b;
    }

    ngx_http_set_ctx(r, st, ngx_http_aigw_limit_module);

    st->backend = ngx_http_aigw_limit_backend(r);
    st->done = done;

    rc = st->backend->read(r, st->ops.elts, st->ops.nelts,
                           ngx_http_aigw_budget_read, &st->pending);

    if (rc == NGX_DECLINED) {
        return ngx_http_aigw_budget_fallback(r, st);
    }

    return rc;
}


/* the counters of /v1/credits were read, or not */

static void
ngx_http_aigw_budget_read(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_aigw_limit_state_t  *st;

    st = ngx_http_get_module_ctx(r, ngx_http_aigw_limit_module);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_aigw_budget_fallback(r, st);
    }

    st->done(r, rc);
}


/* Redis cannot tell: this node's own counters, unless fail=closed */

static ngx_int_t
ngx_http_aigw_budget_fallback(ngx_http_request_t *r,
    ngx_http_aigw_limit_state_t *st)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (st->backend != &ngx_http_aigw_store_redis
        || ngx_http_aigw_redis_fail(amcf->redis)
           == ngx_http_aigw_redis_fail_closed)
    {
        return NGX_DECLINED;
    }

    st->backend = &ngx_http_aigw_store_shm;

    return st->backend->read(r, st->ops.elts, st->ops.nelts, NULL,
                             &st->pending);
}


void
ngx_http_aigw_budget_result(ngx_http_request_t *r, int64_t *remaining,
    int64_t *used)
{
    ngx_http_aigw_counter_op_t   *op;
    ngx_http_aigw_limit_meta_t   *meta;
    ngx_http_aigw_limit_state_t  *st;

    st = ngx_http_get_module_ctx(r, ngx_http_aigw_limit_module);

    op = st->ops.elts;
    meta = st->meta.elts;

    *used = op[0].used;
    *remaining = -1;

    if (st->ops.nelts > 1) {
        *remaining = ngx_max(meta[1].budget->amount - op[1].used, 0);
    }
}


static const ngx_http_aigw_counter_backend_t *
ngx_http_aigw_limit_backend(ngx_http_request_t *r)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    return amcf->redis ? &ngx_http_aigw_store_redis
                       : &ngx_http_aigw_store_shm;
}


/* the time of limits and budgets, in ms: Redis's, when it keeps them */

static int64_t
ngx_http_aigw_limit_clock(ngx_http_request_t *r)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    return ngx_http_aigw_limit_now()
           + (amcf->redis ? ngx_http_aigw_redis_clock(amcf->redis) : 0);
}


/* the time of limits and budgets, in ms */

int64_t
ngx_http_aigw_limit_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return ((int64_t) tp->sec + ngx_http_aigw_clock_offset) * 1000 + tp->msec;
}


/* the UTC period "now" is in; "total" is one period without end (0) */

static void
ngx_http_aigw_period(ngx_uint_t period, time_t now, time_t *start,
    time_t *end)
{
    time_t      day;
    ngx_int_t   y, m, era, yoe, doy, doe;
    ngx_tm_t    tm;

    day = now / 86400;

    switch (period) {

    case ngx_http_aigw_period_day:
        *start = day * 86400;
        *end = *start + 86400;
        return;

    case ngx_http_aigw_period_week:

        /* 1970-01-01 was a Thursday */

        *start = (day - (day + 3) % 7) * 86400;
        *end = *start + 7 * 86400;
        return;

    case ngx_http_aigw_period_month:
        ngx_gmtime(now, &tm);

        y = tm.ngx_tm_year;
        m = tm.ngx_tm_mon;     /* 1..12 */

        for (doe = 0; doe < 2; doe++) {

            /* days from the epoch to y-m-01 (civil calendar) */

            ngx_int_t  yy = (m <= 2) ? y - 1 : y;

            era = (yy >= 0 ? yy : yy - 399) / 400;
            yoe = yy - era * 400;
            doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
            day = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
                  - 719468;

            if (doe == 0) {
                *start = day * 86400;

                if (++m == 13) {
                    m = 1;
                    y++;
                }

            } else {
                *end = day * 86400;
            }
        }

        return;

    default:
        *start = 0;
        *end = 0;
        return;
    }
}



static void
ngx_http_aigw_scope_name(ngx_uint_t scope, ngx_str_t *tag, ngx_pool_t *pool,
    ngx_str_t *out)
{
    switch (scope) {

    case ngx_http_aigw_scope_key:
        ngx_str_set(out, "key");
        return;

    case ngx_http_aigw_scope_user:
        ngx_str_set(out, "user");
        return;

    case ngx_http_aigw_scope_key_user:
        ngx_str_set(out, "key+user");
        return;

    default:
        out->data = ngx_pnalloc(pool, 4 + tag->len);
        if (out->data == NULL) {
            ngx_str_set(out, "tag");
            return;
        }

        out->len = ngx_sprintf(out->data, "tag=%V", tag) - out->data;
        return;
    }
}


/* configuration */

static ngx_int_t
ngx_http_aigw_limit_scope(ngx_conf_t *cf, ngx_str_t *v, ngx_uint_t *scope,
    ngx_str_t *tag)
{
    if (v->len == 3 && ngx_strncmp(v->data, "key", 3) == 0) {
        *scope = ngx_http_aigw_scope_key;

    } else if (v->len == 4 && ngx_strncmp(v->data, "user", 4) == 0) {
        *scope = ngx_http_aigw_scope_user;

    } else if (v->len == 8 && ngx_strncmp(v->data, "key+user", 8) == 0) {
        *scope = ngx_http_aigw_scope_key_user;

    } else if (v->len > 4 && ngx_strncmp(v->data, "tag=", 4) == 0) {
        *scope = ngx_http_aigw_scope_tag;
        tag->data = v->data + 4;
        tag->len = v->len - 4;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid scope \"%V\": key, user, tag=NAME or "
                           "key+user", v);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_aigw_limit_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aigw_limit_loc_conf_t *llcf = conf;

    ngx_int_t                         rc;
    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_http_aigw_limit_t            *l;
    ngx_http_aigw_limit_main_conf_t  *lmcf;

    value = cf->args->elts;

    if (llcf->limits == NULL) {
        llcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_aigw_limit_t));
        if (llcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(llcf->limits);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_http_aigw_limit_t));

    if (ngx_http_aigw_limit_scope(cf, &value[1], &l->scope, &l->tag)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_aigw_parse_limit_param(cf, &value[i], l);

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": rpm=N, tpm=N, "
                               "tpd=N or concurrent=N", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (l->rpm == 0 && l->tpm == 0 && l->tpd == 0 && l->concurrent == 0) {
        return "needs rpm=, tpm=, tpd= or concurrent=";
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_limit_module);
    lmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_budget_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_aigw_limit_loc_conf_t *llcf = conf;

    ngx_int_t                         rc;
    ngx_str_t                        *value;
    ngx_http_aigw_budget_t           *b;
    ngx_http_aigw_limit_main_conf_t  *lmcf;

    value = cf->args->elts;

    if (llcf->budgets == NULL) {
        llcf->budgets = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_aigw_budget_t));
        if (llcf->budgets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    b = ngx_array_push(llcf->budgets);
    if (b == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(b, sizeof(ngx_http_aigw_budget_t));

    if (ngx_http_aigw_limit_scope(cf, &value[1], &b->scope, &b->tag)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* USD/PERIOD, then warn=P% */

    b->amount = -1;

    if (ngx_strncmp(value[2].data, "budget=", 7) == 0
        || ngx_strncmp(value[2].data, "warn=", 5) == 0)
    {
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_aigw_parse_budget(cf, &value[2], b);
    }

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid budget \"%V\": USD/PERIOD with a period "
                           "of day, week, month or total is expected",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (ngx_strncmp(value[3].data, "warn=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": warn=P%%",
                               &value[3]);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_aigw_parse_budget(cf, &value[3], b) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_limit_module);
    lmcf->used = 1;

    return NGX_CONF_OK;
}


/*
 * The parameters of aigw_limit and aigw_key: rpm=N tpm=N tpd=N
 * concurrent=N into "limit"; NGX_DECLINED: not one of these (nothing
 * logged), NGX_ERROR: logged.
 */

ngx_int_t
ngx_http_aigw_parse_limit_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_aigw_limit_t *limit)
{
    size_t       skip;
    ngx_int_t    n, max;
    ngx_uint_t  *field;

    skip = 4;
    max = NGX_HTTP_AIGW_TOKEN_LIMIT_MAX;

    if (ngx_strncmp(value->data, "rpm=", 4) == 0) {
        field = &limit->rpm;
        max = 60000000;

    } else if (ngx_strncmp(value->data, "tpm=", 4) == 0) {
        field = &limit->tpm;

    } else if (ngx_strncmp(value->data, "tpd=", 4) == 0) {
        field = &limit->tpd;

    } else if (ngx_strncmp(value->data, "concurrent=", 11) == 0) {
        field = &limit->concurrent;
        skip = 11;
        max = NGX_HTTP_AIGW_CONCURRENT_MAX;

    } else {
        return NGX_DECLINED;
    }

    n = ngx_atoi(value->data + skip, value->len - skip);

    if (n <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": a positive integer is "
                           "expected", value);
        return NGX_ERROR;
    }

    if (n > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": at most %i", value, max);
        return NGX_ERROR;
    }

    *field = n;

    return NGX_OK;
}


/*
 * The budget of aigw_budget and aigw_key: USD/PERIOD (or budget=USD/PERIOD)
 * and warn=P% into "budget": USD (up to 6 decimals, at most 10^9) in
 * micro-USD like prices, periods day | week | month | total; NGX_DECLINED:
 * neither (nothing logged), NGX_ERROR: logged.
 */

ngx_int_t
ngx_http_aigw_parse_budget(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_aigw_budget_t *budget)
{
    u_char     *p, *slash, *last;
    ngx_int_t   n;
    ngx_str_t   period;
    ngx_uint_t  i;

    p = value->data;
    last = p + value->len;

    if (ngx_strncmp(p, "warn=", 5) == 0) {
        if (value->len < 7 || last[-1] != '%') {
            goto bad_warn;
        }

        n = ngx_atoi(p + 5, value->len - 6);

        if (n <= 0 || n > 100) {
            goto bad_warn;
        }

        budget->warn = n;

        return NGX_OK;
    }

    if (ngx_strncmp(p, "budget=", 7) == 0) {
        p += 7;

    } else if (value->len == 0 || ngx_strlchr(p, last, '=')
               || (*p < '0' || *p > '9'))
    {
        return NGX_DECLINED;
    }

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        goto bad_budget;
    }

    n = ngx_atofp(p, slash - p, 6);
    if (n == NGX_ERROR || n > (ngx_int_t) 1000000000 * 1000000) {
        goto bad_budget;
    }

    period.data = slash + 1;
    period.len = last - period.data;

    for (i = 0; i < 4; i++) {
        if (period.len == ngx_strlen(ngx_http_aigw_period_names[i])
            && ngx_strncmp(period.data, ngx_http_aigw_period_names[i],
                           period.len)
               == 0)
        {
            break;
        }
    }

    if (i == 4) {
        goto bad_budget;
    }

    budget->amount = n;
    budget->period = i;

    return NGX_OK;

bad_warn:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\": warn=P%% with P from 1 to 100 is "
                       "expected", value);
    return NGX_ERROR;

bad_budget:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid budget \"%V\": USD/PERIOD with a period of "
                       "day, week, month or total is expected", value);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_aigw_limit_var_limit(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx == NULL || ctx->limit.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->limit.data;
    v->len = ctx->limit.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_limit_var_budget(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_aigw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aigw_module);

    if (ctx == NULL || ctx->budget_remaining < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_pnalloc(r->pool, NGX_INT64_LEN + 8);
    if (v->data == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(v->data, "%L.%06L", ctx->budget_remaining / 1000000,
                         ctx->budget_remaining % 1000000)
             - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_limit_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_aigw_register_variables(cf, ngx_http_aigw_limit_vars);
}


static ngx_int_t
ngx_http_aigw_limit_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_aigw_main_conf_t        *amcf;
    ngx_http_aigw_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_limit_module);
    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aigw_module);

    if (lmcf->used && amcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "aigw_limit and aigw_budget need aigw_zone, "
                           "where their counters are kept");
        return NGX_ERROR;
    }

    return ngx_http_aigw_add_stage(cf, NGX_HTTP_AIGW_STAGE_LIMITS,
                                   ngx_http_aigw_limit_stage);
}


static void *
ngx_http_aigw_limit_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_limit_main_conf_t));
}


static void *
ngx_http_aigw_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->limits = NULL;
     *     conf->budgets = NULL;
     */

    conf->max_input = NGX_CONF_UNSET;
    conf->max_output = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_aigw_limit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aigw_limit_loc_conf_t *prev = parent;
    ngx_http_aigw_limit_loc_conf_t *conf = child;

    /* as add_header: a level with none inherits those of the level above */

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }

    if (conf->budgets == NULL) {
        conf->budgets = prev->budgets;
    }

    ngx_conf_merge_value(conf->max_input, prev->max_input, 0);
    ngx_conf_merge_value(conf->max_output, prev->max_output, 0);

    return NGX_CONF_OK;
}
