
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_aigw_module.h"


/*
 * The spend report (GET /v1/report, the call of @ai-sdk/gateway's
 * getSpendReport()).  The log phase adds every request that reached a
 * provider (at least one attempt) to a row of the zone: one row per UTC
 * day and combination of (key, model, provider, user, credential type,
 * tags), so that any grouping can be filtered by any other dimension.
 * A row keeps the cost in micro-USD, the token counts and the requests.
 *
 * The rows are in an rbtree keyed by a hash of the whole combination,
 * compared in full, and in a queue in the order they were made (the
 * oldest day last).  Days older than aigw_report_retention are dropped.
 * The rows may take half of the zone, so that target health always has
 * the other half; when their share is used up (or the zone is full) the
 * oldest day is dropped, with a [warn]; the current day is never dropped:
 * a row that does not fit then is lost, with a [warn] once a day.
 *
 * With aigw_redis, every row is also added to Redis, where the rows of a
 * fleet meet: a hash per UTC day, "aigw:{report}:DAY", a field per row
 * (its credential type, the lengths of its strings, the strings) whose
 * value is its counters as decimal text; a day expires with the
 * retention.  The report then reads Redis, so that any node answers for
 * the fleet; when Redis is unavailable, the node's own rows (fail=local
 * or open) or a 503 (fail=closed).
 */


/* a row's field in Redis: credential type, 2 bytes per string length */
#define NGX_HTTP_AIGW_REPORT_FIELD_HEAD  (1 + 2 * ngx_http_aigw_report_nstr)


#define NGX_HTTP_AIGW_REPORT_STR_MAX   1024
#define NGX_HTTP_AIGW_REPORT_TAGS_MAX  32
#define NGX_HTTP_AIGW_REPORT_TAG_MAX   256


/* the strings of a row, in the order they are kept */

typedef enum {
    ngx_http_aigw_report_key = 0,
    ngx_http_aigw_report_model,
    ngx_http_aigw_report_provider,
    ngx_http_aigw_report_user,
    ngx_http_aigw_report_tags,         /* 2-byte length, bytes; ... */
    ngx_http_aigw_report_nstr
} ngx_http_aigw_report_str_e;


/* the counters of a row */

typedef enum {
    ngx_http_aigw_report_cost = 0,     /* micro-USD */
    ngx_http_aigw_report_input,
    ngx_http_aigw_report_output,
    ngx_http_aigw_report_cached,
    ngx_http_aigw_report_cache_write,
    ngx_http_aigw_report_reasoning,
    ngx_http_aigw_report_requests,
    ngx_http_aigw_report_ncount
} ngx_http_aigw_report_count_e;


typedef enum {
    ngx_http_aigw_credential_system = 0,   /* configured provider keys */
    ngx_http_aigw_credential_byok          /* the client's own */
} ngx_http_aigw_credential_e;


/* what makes a row: its day, credential type and strings */

typedef struct {
    ngx_uint_t                      day;       /* days since the epoch */
    ngx_uint_t                      credential;
    u_short                         len[ngx_http_aigw_report_nstr];
} ngx_http_aigw_report_id_t;


typedef struct {
    ngx_rbtree_node_t               node;
    ngx_queue_t                     queue;
    int64_t                         count[ngx_http_aigw_report_ncount];
    ngx_http_aigw_report_id_t       id;
    u_char                          data[1];
} ngx_http_aigw_report_row_t;


/* the groups of an answer */

typedef enum {
    ngx_http_aigw_group_day = 0,
    ngx_http_aigw_group_user,
    ngx_http_aigw_group_model,
    ngx_http_aigw_group_tag,
    ngx_http_aigw_group_provider,
    ngx_http_aigw_group_credential_type,
    ngx_http_aigw_group_key
} ngx_http_aigw_group_e;


typedef struct {
    ngx_str_node_t                  sn;        /* the value, decoded */
    int64_t                         count[ngx_http_aigw_report_ncount];
} ngx_http_aigw_report_group_t;


typedef struct {
    ngx_uint_t                      start;     /* days, inclusive */
    ngx_uint_t                      end;
    ngx_uint_t                      group;     /* ngx_http_aigw_group_e */
    ngx_str_t                       user;      /* filters, decoded; */
    ngx_str_t                       model;     /* data NULL: none */
    ngx_str_t                       provider;
    ngx_int_t                       credential;    /* -1: any */
    ngx_array_t                    *tags;      /* ngx_str_t, any of */
} ngx_http_aigw_report_query_t;


typedef struct {
    ngx_uint_t                      retention;     /* days */
} ngx_http_aigw_report_main_conf_t;


/* a report that waits for Redis */

typedef struct {
    ngx_http_request_t             *request;
    ngx_http_aigw_report_query_t    q;
    const ngx_http_aigw_key_t      *caller;
    ngx_uint_t                      first;     /* the day of KEYS[1] */
} ngx_http_aigw_report_wait_t;


static ngx_int_t ngx_http_aigw_report_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aigw_credits_handler(ngx_http_request_t *r);
static void ngx_http_aigw_credits_read(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_http_aigw_credits_send(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_aigw_report_method(ngx_http_request_t *r,
    const char *message);
static ngx_uint_t ngx_http_aigw_report_visible(
    const ngx_http_aigw_key_t *caller, ngx_http_aigw_report_row_t *row);
static ngx_uint_t ngx_http_aigw_report_credential(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t);
static ngx_int_t ngx_http_aigw_report_query(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const char **err);
static ngx_int_t ngx_http_aigw_report_date(ngx_str_t *s, ngx_uint_t *day);
static ngx_uint_t ngx_http_aigw_report_match(ngx_http_aigw_report_query_t *q,
    ngx_http_aigw_report_row_t *row);
static ngx_int_t ngx_http_aigw_report_add(ngx_http_request_t *r,
    ngx_rbtree_t *groups, ngx_array_t *list, u_char *p, size_t len,
    ngx_http_aigw_report_row_t *row);
static ngx_int_t ngx_http_aigw_report_row(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, ngx_rbtree_t *groups,
    ngx_array_t *list, ngx_http_aigw_report_row_t *row);
static void ngx_http_aigw_report_redis_add(ngx_http_request_t *r,
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_report_id_t *id,
    u_char *data, int64_t *count);
static ngx_int_t ngx_http_aigw_report_redis_read(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const ngx_http_aigw_key_t *caller);
static void ngx_http_aigw_report_redis_answer(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_aigw_report_redis_rows(ngx_http_request_t *r,
    ngx_http_aigw_report_wait_t *w, redisReply *reply,
    ngx_rbtree_t *groups, ngx_array_t *list);
static ngx_int_t ngx_http_aigw_report_answer(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_report_wait_t *w, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_aigw_report_collect(ngx_http_request_t *r,
    const ngx_http_aigw_key_t *caller, ngx_http_aigw_report_query_t *q,
    ngx_rbtree_t *groups, ngx_array_t *list);
static ngx_int_t ngx_http_aigw_report_write(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, ngx_array_t *list);
static int ngx_libc_cdecl ngx_http_aigw_report_cmp_day(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_aigw_report_cmp_cost(const void *one,
    const void *two);
static ngx_int_t ngx_http_aigw_report_request_tags(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_array_t **tags);
static uint32_t ngx_http_aigw_report_hash(ngx_http_aigw_report_id_t *id,
    u_char *data);
static ngx_int_t ngx_http_aigw_report_cmp(ngx_http_aigw_report_row_t *row,
    ngx_http_aigw_report_id_t *id, u_char *data);
static ngx_http_aigw_report_row_t *ngx_http_aigw_report_lookup(
    ngx_http_aigw_report_t *rp, ngx_http_aigw_report_id_t *id, u_char *data,
    uint32_t hash);
static void ngx_http_aigw_report_delete(ngx_slab_pool_t *shpool,
    ngx_http_aigw_report_t *rp, ngx_http_aigw_report_row_t *row);
static ngx_uint_t ngx_http_aigw_report_drop_day(ngx_slab_pool_t *shpool,
    ngx_http_aigw_report_t *rp, ngx_uint_t day);
static void ngx_http_aigw_report_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_aigw_report_day_text(ngx_uint_t day, u_char *buf);
static void *ngx_http_aigw_report_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_aigw_report_init_main_conf(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_aigw_report(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aigw_credits(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_str_t  ngx_http_aigw_report_groups[] = {
    ngx_string("day"),
    ngx_string("user"),
    ngx_string("model"),
    ngx_string("tag"),
    ngx_string("provider"),
    ngx_string("credential_type"),
    ngx_string("key"),
    ngx_null_string
};


static ngx_str_t  ngx_http_aigw_report_credentials[] = {
    ngx_string("system"),
    ngx_string("byok"),
    ngx_null_string
};


static ngx_conf_num_bounds_t  ngx_http_aigw_report_retention_bounds = {
    ngx_conf_check_num_bounds, 1, 3660
};


static ngx_command_t  ngx_http_aigw_report_commands[] = {

    { ngx_string("aigw_report"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_report,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_credits"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aigw_credits,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aigw_report_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aigw_report_main_conf_t, retention),
      &ngx_http_aigw_report_retention_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aigw_report_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_aigw_report_create_main_conf, /* create main configuration */
    ngx_http_aigw_report_init_main_conf,   /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_aigw_report_module = {
    NGX_MODULE_V1,
    &ngx_http_aigw_report_module_ctx,      /* module context */
    ngx_http_aigw_report_commands,         /* module directives */
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


/* recording, in the log phase */

void
ngx_http_aigw_report_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx)
{
    u_char                            *data, *p;
    size_t                             size, share;
    int64_t                            count[ngx_http_aigw_report_ncount];
    uint32_t                           hash;
    ngx_str_t                          str[ngx_http_aigw_report_nstr], *tag;
    u_char                             day[16];
    ngx_uint_t                         i, today, oldest, dropped, lost;
    ngx_array_t                       *tags;
    ngx_slab_pool_t                   *shpool;
    ngx_http_aigw_report_t            *rp;
    ngx_http_aigw_target_t            *t;
    ngx_http_aigw_attempt_t           *a;
    ngx_http_aigw_usage_t             *u;
    ngx_http_aigw_main_conf_t         *amcf;
    ngx_http_aigw_report_id_t          id;
    ngx_http_aigw_report_row_t        *row, *last;
    ngx_http_aigw_report_main_conf_t  *rmcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    /* only requests that reached a provider are spend */

    if (amcf->sh == NULL || ctx->attempts.nelts == 0) {
        return;
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_report_module);

    a = ctx->attempts.elts;
    t = a[ctx->attempts.nelts - 1].target;

    if (ctx->key) {
        str[ngx_http_aigw_report_key] = ctx->key->name;

    } else {
        ngx_str_null(&str[ngx_http_aigw_report_key]);
    }

    str[ngx_http_aigw_report_model] = t->slug;
    str[ngx_http_aigw_report_provider] = t->provider->name;
    str[ngx_http_aigw_report_user] = ctx->user;

    if (ngx_http_aigw_report_request_tags(r, ctx, &tags) != NGX_OK) {
        return;
    }

    size = 0;
    tag = tags ? tags->elts : NULL;

    for (i = 0; tags && i < tags->nelts; i++) {
        size += 2 + tag[i].len;
    }

    data = ngx_pnalloc(r->pool, size + 1);
    if (data == NULL) {
        return;
    }

    p = data;

    for (i = 0; tags && i < tags->nelts; i++) {
        *p++ = (u_char) (tag[i].len >> 8);
        *p++ = (u_char) (tag[i].len & 0xff);
        p = ngx_cpymem(p, tag[i].data, tag[i].len);
    }

    str[ngx_http_aigw_report_tags].data = data;
    str[ngx_http_aigw_report_tags].len = size;

    /* the strings of the row, one after the other */

    today = (ngx_uint_t) (ngx_time() / 86400);

    ngx_memzero(&id, sizeof(ngx_http_aigw_report_id_t));
    id.day = today;
    id.credential = ngx_http_aigw_report_credential(r, ctx, t);

    size = 0;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        if (i != ngx_http_aigw_report_tags
            && str[i].len > NGX_HTTP_AIGW_REPORT_STR_MAX)
        {
            str[i].len = NGX_HTTP_AIGW_REPORT_STR_MAX;
        }

        id.len[i] = (u_short) str[i].len;
        size += str[i].len;
    }

    data = ngx_pnalloc(r->pool, size + 1);
    if (data == NULL) {
        return;
    }

    p = data;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        if (str[i].len) {
            p = ngx_cpymem(p, str[i].data, str[i].len);
        }
    }

    hash = ngx_http_aigw_report_hash(&id, data);

    u = &ctx->usage;

    count[ngx_http_aigw_report_cost] = ctx->cost > 0 ? ctx->cost : 0;
    count[ngx_http_aigw_report_input] = u->input;
    count[ngx_http_aigw_report_output] = u->output;
    count[ngx_http_aigw_report_cached] = u->cache_read;
    count[ngx_http_aigw_report_cache_write] = u->cache_write;
    count[ngx_http_aigw_report_reasoning] = u->reasoning;
    count[ngx_http_aigw_report_requests] = 1;

    rp = &amcf->sh->report;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    dropped = 0;
    lost = 0;
    share = amcf->zone->shm.size / 2;

    ngx_shmtx_lock(&shpool->mutex);

    /* the days past the retention */

    while (!ngx_queue_empty(&rp->queue)) {
        row = ngx_queue_data(ngx_queue_last(&rp->queue),
                             ngx_http_aigw_report_row_t, queue);

        if (row->id.day + rmcf->retention > today) {
            break;
        }

        ngx_http_aigw_report_delete(shpool, rp, row);
    }

    row = ngx_http_aigw_report_lookup(rp, &id, data, hash);

    if (row == NULL) {
        size += offsetof(ngx_http_aigw_report_row_t, data);

        row = (rp->used + size <= share)
              ? ngx_slab_alloc_locked(shpool, size) : NULL;

        /* the zone is full: the oldest day goes, never the current one */

        while (row == NULL && !ngx_queue_empty(&rp->queue)) {
            last = ngx_queue_data(ngx_queue_last(&rp->queue),
                                  ngx_http_aigw_report_row_t, queue);
            oldest = last->id.day;

            if (oldest >= today
                || ngx_http_aigw_report_drop_day(shpool, rp, oldest) == 0)
            {
                break;
            }

            dropped = oldest;

            row = (rp->used + size <= share)
                  ? ngx_slab_alloc_locked(shpool, size) : NULL;
        }

        if (row) {
            ngx_memzero(row, offsetof(ngx_http_aigw_report_row_t, data));

            row->node.key = hash;
            row->id = id;
            ngx_memcpy(row->data, data, size
                       - offsetof(ngx_http_aigw_report_row_t, data));

            ngx_rbtree_insert(&rp->rbtree, &row->node);
            ngx_queue_insert_head(&rp->queue, &row->queue);

            rp->used += size;

        } else if (rp->lost_day != today) {
            rp->lost_day = today;
            lost = 1;
        }
    }

    if (row) {
        for (i = 0; i < ngx_http_aigw_report_ncount; i++) {
            row->count[i] += count[i];
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (amcf->redis) {
        ngx_http_aigw_report_redis_add(r, amcf, &id, data, count);
    }

    if (dropped) {
        ngx_http_aigw_report_day_text(dropped, day);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: the spend report's share of zone \"%V\" is "
                      "used up, it drops the days up to %*s",
                      &amcf->zone->shm.name, (size_t) 10, day);
    }

    if (lost) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: the spend report's share of zone \"%V\" is "
                      "used up, it loses requests of today",
                      &amcf->zone->shm.name);
    }
}


/*
 * The credential type of the provider that answered, the one place that
 * decides it, as ngx_http_aigw_request_auth() chose the credential: "byok"
 * when the client's own went to it (its Authorization or x-api-key, for
 * a byok key that came in x-ai-gateway-api-key, to an Anthropic-format
 * provider; or the request's providerOptions.gateway.byok key of that
 * provider), "system" for the configured provider key.
 */

static ngx_uint_t
ngx_http_aigw_report_credential(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t)
{
    ngx_str_t                  name;
    ngx_http_aigw_provider_t  *p;

    p = t->provider;

    if (ctx->own_auth && p->format->own_credential
        && ngx_http_aigw_client_credential(r, &name) != NULL)
    {
        return ngx_http_aigw_credential_byok;
    }

    if (t->byok) {
        return ngx_http_aigw_credential_byok;
    }

    return ngx_http_aigw_credential_system;
}


/* the request's tags, decoded: the auth stage's list, or the client's */

static ngx_int_t
ngx_http_aigw_report_request_tags(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_array_t **tags)
{
    ngx_str_t             *s, *d;
    ngx_uint_t             e, i;
    ngx_array_t           *src;
    ngx_http_aigw_json_t   j;

    *tags = NULL;
    src = ctx->tag_list;

    if (src == NULL) {

        if (ctx->tags.len == 0) {
            return NGX_OK;
        }

        ngx_memzero(&j, sizeof(ngx_http_aigw_json_t));
        j.pool = r->pool;
        j.record = NGX_HTTP_AIGW_JSON_RECORD_ALL;

        if (ngx_http_aigw_json_parse(&j, ctx->tags.data, ctx->tags.len)
            != NGX_OK
            || j.toks[0].type != ngx_http_aigw_json_array)
        {
            return NGX_OK;
        }

        src = ngx_array_create(r->pool, ngx_max(j.toks[0].count, 1),
                               sizeof(ngx_str_t));
        if (src == NULL) {
            return NGX_ERROR;
        }

        for (e = 1; e < j.toks[0].next; e = j.toks[e].next) {
            if (j.toks[e].type != ngx_http_aigw_json_string) {
                continue;
            }

            s = ngx_array_push(src);
            if (s == NULL) {
                return NGX_ERROR;
            }

            if (ngx_http_aigw_json_str(&j, e, s) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    /* bounded: the first tags of a bounded length */

    *tags = ngx_array_create(r->pool, NGX_HTTP_AIGW_REPORT_TAGS_MAX,
                             sizeof(ngx_str_t));
    if (*tags == NULL) {
        return NGX_ERROR;
    }

    s = src->elts;

    for (i = 0; i < src->nelts; i++) {

        if (s[i].len == 0 || s[i].len > NGX_HTTP_AIGW_REPORT_TAG_MAX) {
            continue;
        }

        if ((*tags)->nelts == NGX_HTTP_AIGW_REPORT_TAGS_MAX) {
            break;
        }

        d = ngx_array_push(*tags);
        if (d == NULL) {
            return NGX_ERROR;
        }

        *d = s[i];
    }

    return NGX_OK;
}


/* the endpoint */

static ngx_int_t
ngx_http_aigw_report_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    const char                    *err;
    ngx_http_aigw_main_conf_t     *amcf;
    ngx_http_aigw_report_query_t   q;
    const ngx_http_aigw_key_t     *caller;

    rc = ngx_http_aigw_report_method(r, "the spend report only answers GET");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_report_query(r, &q, &err);

    if (rc == NGX_DECLINED) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                        "%s", err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    rc = NGX_DONE;

    if (amcf->redis && amcf->sh) {
        rc = ngx_http_aigw_report_redis_read(r, &q, caller);

        if (rc == NGX_AGAIN) {
            r->main->count++;
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_aigw_report_answer(r, &q, caller, NULL, NULL, rc);
}


/*
 * The report of the rows in Redis's reply (rc NGX_OK), of this node's own
 * rows (NGX_DONE: no Redis, or no day of the query is kept), or, when
 * Redis is unavailable (NGX_DECLINED), of this node's own rows unless
 * Redis is configured with fail=closed.
 */

static ngx_int_t
ngx_http_aigw_report_answer(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_report_wait_t *w, redisReply *reply, ngx_int_t rc)
{
    ngx_array_t                 list;
    ngx_rbtree_t                groups;
    ngx_rbtree_node_t           sentinel;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    ngx_rbtree_init(&groups, &sentinel, ngx_str_rbtree_insert_value);

    if (ngx_array_init(&list, r->pool, 16,
                       sizeof(ngx_http_aigw_report_group_t *))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_aigw_report_redis_rows(r, w, reply, &groups, &list);

    } else if (rc == NGX_DECLINED
               && ngx_http_aigw_redis_fail(amcf->redis)
                  == ngx_http_aigw_redis_fail_closed)
    {
        return ngx_http_aigw_send_error(r, NULL,
                                        NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                        "the gateway cannot read its "
                                        "counters now, try again later");

    } else {
        rc = ngx_http_aigw_report_collect(r, caller, q, &groups, &list);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_report_write(r, q, &list);
}


/*
 * GET /v1/credits (@ai-sdk/gateway's getCredits()): the calling key's
 * balance, what is left of its budget in the current period (no budget:
 * "0"), and its spend of all time, as decimal USD strings.  Credits are
 * per gateway key: without one (aigw_auth off) the answer is a 401.
 */

static ngx_int_t
ngx_http_aigw_credits_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    const ngx_http_aigw_key_t  *caller;
    ngx_http_aigw_main_conf_t  *amcf;

    rc = ngx_http_aigw_report_method(r, "the credits only answer GET");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_aigw_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (caller == NULL) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_UNAUTHORIZED, NULL,
                                        "credits are per gateway key, and "
                                        "this location has aigw_auth off");
    }

    /* no zone (no providers either): nothing was counted */

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL) {
        return ngx_http_aigw_credits_send(r, NGX_ABORT);
    }

    rc = ngx_http_aigw_budget_status(r, caller, ngx_http_aigw_credits_read);

    if (rc == NGX_AGAIN) {
        r->main->count++;
        return NGX_DONE;
    }

    return ngx_http_aigw_credits_send(r, rc);
}


/* the counters of a key were read (NGX_OK), or not */

static void
ngx_http_aigw_credits_read(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, ngx_http_aigw_credits_send(r, rc));
    ngx_http_run_posted_requests(c);
}


/*
 * rc: NGX_OK, the counters were read; NGX_ABORT: nothing was counted;
 * NGX_DECLINED: they cannot be read now
 */

static ngx_int_t
ngx_http_aigw_credits_send(ngx_http_request_t *r, ngx_int_t rc)
{
    int64_t              remaining, used;
    ngx_chain_t         *out;
    ngx_http_aigw_jw_t   w;

    remaining = -1;
    used = 0;

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        ngx_http_aigw_budget_result(r, &remaining, &used);

    } else if (rc == NGX_DECLINED) {
        return ngx_http_aigw_send_error(r, NULL,
                                        NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                        "the gateway cannot read its "
                                        "counters now, try again later");
    }

    ngx_http_aigw_jw_init(&w, r->pool, 128);

    ngx_http_aigw_jw_lit(&w, "{\"balance\":\"");
    ngx_http_aigw_jw_micro(&w, remaining > 0 ? remaining : 0);
    ngx_http_aigw_jw_lit(&w, "\",\"total_used\":\"");
    ngx_http_aigw_jw_micro(&w, used > 0 ? used : 0);
    ngx_http_aigw_jw_lit(&w, "\"}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}


/* GET and HEAD go on (NGX_DECLINED), others get a 405 */

static ngx_int_t
ngx_http_aigw_report_method(ngx_http_request_t *r, const char *message)
{
    ngx_int_t  rc;
    ngx_str_t  allow;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_DECLINED;
    }

    ngx_str_set(&allow, "GET, HEAD");

    if (ngx_http_aigw_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_ALLOWED, NULL,
                                    "%s", message);
}


/* a key sees the rows recorded under it; an admin key or open mode, all */

static ngx_uint_t
ngx_http_aigw_report_visible(const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_report_row_t *row)
{
    if (caller == NULL || caller->admin) {
        return 1;
    }

    return row->id.len[ngx_http_aigw_report_key] == caller->name.len
           && ngx_memcmp(row->data, caller->name.data, caller->name.len)
              == 0;
}


static ngx_int_t
ngx_http_aigw_report_query(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const char **err)
{
    u_char     *p, *last, *start;
    ngx_str_t   v, *s;
    ngx_int_t   rc;
    ngx_uint_t  i;

    ngx_memzero(q, sizeof(ngx_http_aigw_report_query_t));
    q->credential = -1;

    rc = ngx_http_aigw_query_arg(r, "start_date", &v);

    if (rc == NGX_DECLINED || ngx_http_aigw_report_date(&v, &q->start)
                              != NGX_OK)
    {
        goto bad_date;
    }

    rc = ngx_http_aigw_query_arg(r, "end_date", &v);

    if (rc == NGX_DECLINED || ngx_http_aigw_report_date(&v, &q->end)
                              != NGX_OK)
    {
        goto bad_date;
    }

    if (q->start > q->end) {
        *err = "\"start_date\" is after \"end_date\"";
        return NGX_DECLINED;
    }

    if (ngx_http_aigw_query_arg(r, "group_by", &v) == NGX_OK) {

        for (i = 0; ngx_http_aigw_report_groups[i].len; i++) {
            if (v.len == ngx_http_aigw_report_groups[i].len
                && ngx_strncmp(v.data, ngx_http_aigw_report_groups[i].data,
                               v.len) == 0)
            {
                break;
            }
        }

        if (ngx_http_aigw_report_groups[i].len == 0) {
            *err = "\"group_by\" must be day, user, model, tag, "
                   "provider, credential_type or key";
            return NGX_DECLINED;
        }

        q->group = i;
    }

    if (ngx_http_aigw_query_arg(r, "date_part", &v) == NGX_OK) {

        if (v.len == 4 && ngx_strncmp(v.data, "hour", 4) == 0) {
            *err = "\"date_part\" \"hour\" is not supported: the "
                   "report keeps daily totals";
            return NGX_DECLINED;
        }

        if (v.len != 3 || ngx_strncmp(v.data, "day", 3) != 0) {
            *err = "\"date_part\" must be day";
            return NGX_DECLINED;
        }
    }

    if (ngx_http_aigw_query_arg(r, "credential_type", &v) == NGX_OK) {

        for (i = 0; ngx_http_aigw_report_credentials[i].len; i++) {
            if (v.len == ngx_http_aigw_report_credentials[i].len
                && ngx_strncmp(v.data,
                               ngx_http_aigw_report_credentials[i].data,
                               v.len) == 0)
            {
                break;
            }
        }

        if (ngx_http_aigw_report_credentials[i].len == 0) {
            *err = "\"credential_type\" must be system or byok";
            return NGX_DECLINED;
        }

        q->credential = i;
    }

    (void) ngx_http_aigw_query_arg(r, "user_id", &q->user);
    (void) ngx_http_aigw_query_arg(r, "model", &q->model);
    (void) ngx_http_aigw_query_arg(r, "provider", &q->provider);

    if (ngx_http_aigw_query_arg(r, "tags", &v) == NGX_OK) {

        q->tags = ngx_array_create(r->pool, 4, sizeof(ngx_str_t));
        if (q->tags == NULL) {
            return NGX_ERROR;
        }

        p = v.data;
        last = v.data + v.len;

        while (p <= last) {
            start = p;

            while (p < last && *p != ',') {
                p++;
            }

            if (p > start) {
                s = ngx_array_push(q->tags);
                if (s == NULL) {
                    return NGX_ERROR;
                }

                s->data = start;
                s->len = p - start;
            }

            p++;
        }
    }

    return NGX_OK;

bad_date:

    *err = "\"start_date\" and \"end_date\" are required, as YYYY-MM-DD";
    return NGX_DECLINED;
}


/* YYYY-MM-DD, as days since the epoch */

static ngx_int_t
ngx_http_aigw_report_date(ngx_str_t *s, ngx_uint_t *day)
{
    u_char      *p;
    ngx_int_t    y, m, d, era, yoe, doy, doe;
    ngx_uint_t   i;

    static ngx_int_t  mdays[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    p = s->data;

    if (s->len != 10 || p[4] != '-' || p[7] != '-') {
        return NGX_ERROR;
    }

    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (p[i] < '0' || p[i] > '9')) {
            return NGX_ERROR;
        }
    }

    y = ngx_atoi(p, 4);
    m = ngx_atoi(p + 5, 2);
    d = ngx_atoi(p + 8, 2);

    if (y < 1970 || m < 1 || m > 12 || d < 1) {
        return NGX_ERROR;
    }

    if (d > mdays[m - 1]
        + (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
    {
        return NGX_ERROR;
    }

    /* days from the civil date (H. Hinnant's algorithm) */

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    *day = (ngx_uint_t) (era * 146097 + doe - 719468);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_aigw_report_match(ngx_http_aigw_report_query_t *q,
    ngx_http_aigw_report_row_t *row)
{
    u_char      *p, *last;
    size_t       len;
    ngx_str_t   *tag;
    ngx_uint_t   i, k;

    if (row->id.day < q->start || row->id.day > q->end) {
        return 0;
    }

    if (q->credential != -1
        && row->id.credential != (ngx_uint_t) q->credential)
    {
        return 0;
    }

    p = row->data;

    for (i = 0; i < ngx_http_aigw_report_tags; i++) {
        len = row->id.len[i];

        if (i == ngx_http_aigw_report_model && q->model.data
            && (len != q->model.len
                || ngx_memcmp(p, q->model.data, len) != 0))
        {
            return 0;
        }

        if (i == ngx_http_aigw_report_provider && q->provider.data
            && (len != q->provider.len
                || ngx_memcmp(p, q->provider.data, len) != 0))
        {
            return 0;
        }

        if (i == ngx_http_aigw_report_user && q->user.data
            && (len != q->user.len
                || ngx_memcmp(p, q->user.data, len) != 0))
        {
            return 0;
        }

        p += len;
    }

    if (q->tags == NULL) {
        return 1;
    }

    /* any of the tags asked for */

    last = p + row->id.len[ngx_http_aigw_report_tags];
    tag = q->tags->elts;

    while (p + 2 <= last) {
        len = (p[0] << 8) | p[1];
        p += 2;

        for (k = 0; k < q->tags->nelts; k++) {
            if (tag[k].len == len && ngx_memcmp(tag[k].data, p, len) == 0) {
                return 1;
            }
        }

        p += len;
    }

    return 0;
}


/* a row's counters added to the group of a value (copied out of the zone) */

static ngx_int_t
ngx_http_aigw_report_add(ngx_http_request_t *r, ngx_rbtree_t *groups,
    ngx_array_t *list, u_char *p, size_t len,
    ngx_http_aigw_report_row_t *row)
{
    uint32_t                       hash;
    ngx_str_t                      value;
    ngx_uint_t                     i;
    ngx_http_aigw_report_group_t  *g, **gp;

    value.data = p;
    value.len = len;

    hash = ngx_crc32_long(p, len);

    g = (ngx_http_aigw_report_group_t *) ngx_str_rbtree_lookup(groups,
                                                               &value, hash);

    if (g == NULL) {
        g = ngx_pcalloc(r->pool, sizeof(ngx_http_aigw_report_group_t));
        if (g == NULL) {
            return NGX_ERROR;
        }

        g->sn.str.data = ngx_pnalloc(r->pool, len + 1);
        if (g->sn.str.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(g->sn.str.data, p, len);
        g->sn.str.len = len;
        g->sn.node.key = hash;

        ngx_rbtree_insert(groups, &g->sn.node);

        gp = ngx_array_push(list);
        if (gp == NULL) {
            return NGX_ERROR;
        }

        *gp = g;
    }

    for (i = 0; i < ngx_http_aigw_report_ncount; i++) {
        g->count[i] += row->count[i];
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_report_collect(ngx_http_request_t *r,
    const ngx_http_aigw_key_t *caller, ngx_http_aigw_report_query_t *q,
    ngx_rbtree_t *groups, ngx_array_t *list)
{
    ngx_int_t                          rc;
    ngx_uint_t                         oldest, today;
    ngx_queue_t                       *qu;
    ngx_slab_pool_t                   *shpool;
    ngx_http_aigw_report_t            *rp;
    ngx_http_aigw_main_conf_t         *amcf;
    ngx_http_aigw_report_row_t        *row;
    ngx_http_aigw_report_main_conf_t  *rmcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    rmcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_report_module);

    if (amcf->sh == NULL) {
        return NGX_OK;
    }

    /* days past the retention are not reported, dropped or not yet */

    today = (ngx_uint_t) (ngx_time() / 86400);
    oldest = (today + 1 > rmcf->retention) ? today + 1 - rmcf->retention : 0;

    rp = &amcf->sh->report;
    shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
    rc = NGX_OK;

    ngx_shmtx_lock(&shpool->mutex);

    for (qu = ngx_queue_head(&rp->queue);
         qu != ngx_queue_sentinel(&rp->queue) && rc == NGX_OK;
         qu = ngx_queue_next(qu))
    {
        row = ngx_queue_data(qu, ngx_http_aigw_report_row_t, queue);

        if (row->id.day < oldest
            || !ngx_http_aigw_report_visible(caller, row))
        {
            continue;
        }

        rc = ngx_http_aigw_report_row(r, q, groups, list, row);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/* a row that the caller may see: in the groups if it matches the query */

static ngx_int_t
ngx_http_aigw_report_row(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, ngx_rbtree_t *groups,
    ngx_array_t *list, ngx_http_aigw_report_row_t *row)
{
    u_char      *p, *last, day[16];
    size_t       len;
    ngx_int_t    rc;
    ngx_uint_t   i, k;

    if (!ngx_http_aigw_report_match(q, row)) {
        return NGX_OK;
    }

    p = row->data;

    switch (q->group) {

    case ngx_http_aigw_group_day:
        ngx_http_aigw_report_day_text(row->id.day, day);
        return ngx_http_aigw_report_add(r, groups, list, day, 10, row);

    case ngx_http_aigw_group_credential_type:
        return ngx_http_aigw_report_add(r, groups, list,
                   ngx_http_aigw_report_credentials[row->id.credential].data,
                   ngx_http_aigw_report_credentials[row->id.credential].len,
                   row);

    case ngx_http_aigw_group_tag:

        for (i = 0; i < ngx_http_aigw_report_tags; i++) {
            p += row->id.len[i];
        }

        last = p + row->id.len[ngx_http_aigw_report_tags];

        /* untagged requests make the group without a tag */

        if (p == last) {
            return ngx_http_aigw_report_add(r, groups, list, p, 0, row);
        }

        rc = NGX_OK;

        while (p + 2 <= last && rc == NGX_OK) {
            len = (p[0] << 8) | p[1];
            rc = ngx_http_aigw_report_add(r, groups, list, p + 2, len, row);
            p += 2 + len;
        }

        return rc;

    default: /* key, model, provider, user */

        i = (q->group == ngx_http_aigw_group_key)
            ? ngx_http_aigw_report_key
            : (q->group == ngx_http_aigw_group_model)
              ? ngx_http_aigw_report_model
              : (q->group == ngx_http_aigw_group_provider)
                ? ngx_http_aigw_report_provider
                : ngx_http_aigw_report_user;

        for (k = 0; k < i; k++) {
            p += row->id.len[k];
        }

        return ngx_http_aigw_report_add(r, groups, list, p, row->id.len[i],
                                        row);
    }
}


/*
 * KEYS[1]: the day; ARGV: the row's field, its counters to add, when the
 * day expires (ms since the epoch)
 */

static ngx_http_aigw_redis_script_t  ngx_http_aigw_report_add_script = {
    ngx_string(
    "local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "local c, i = {0, 0, 0, 0, 0, 0, 0}, 1\n"
    "if v then\n"
    "  for n in string.gmatch(v, '%d+') do\n"
    "    if i <= 7 then c[i] = tonumber(n) end\n"
    "    i = i + 1\n"
    "  end\n"
    "end\n"
    "for i = 1, 7 do c[i] = c[i] + tonumber(ARGV[i + 1]) end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], string.format("
    "'%d %d %d %d %d %d %d', c[1], c[2], c[3], c[4], c[5], c[6], c[7]))\n"
    "if not v then redis.call('PEXPIREAT', KEYS[1], ARGV[9]) end\n"
    "return 1\n"),
    "", 0
};


/* KEYS: days; returns of each row: the index of its day, field, value */

static ngx_http_aigw_redis_script_t  ngx_http_aigw_report_read_script = {
    ngx_string(
    "local res = {}\n"
    "for i = 1, #KEYS do\n"
    "  local h = redis.call('HGETALL', KEYS[i])\n"
    "  for j = 1, #h, 2 do\n"
    "    res[#res + 1] = i\n"
    "    res[#res + 1] = h[j]\n"
    "    res[#res + 1] = h[j + 1]\n"
    "  end\n"
    "end\n"
    "return res\n"),
    "", 0
};


static void
ngx_http_aigw_report_redis_add(ngx_http_request_t *r,
    ngx_http_aigw_main_conf_t *amcf, ngx_http_aigw_report_id_t *id,
    u_char *data, int64_t *count)
{
    u_char                            *p;
    size_t                             size;
    ngx_str_t                          argv[4 + ngx_http_aigw_report_ncount];
    ngx_uint_t                         i;
    ngx_http_aigw_report_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_report_module);

    size = 0;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        size += id->len[i];
    }

    p = ngx_pnalloc(r->pool, 1 + sizeof("aigw:{report}:") + NGX_INT_T_LEN
                             + NGX_HTTP_AIGW_REPORT_FIELD_HEAD + size
                             + (1 + ngx_http_aigw_report_ncount)
                               * NGX_INT64_LEN);
    if (p == NULL) {
        return;
    }

    ngx_str_set(&argv[0], "1");

    argv[1].data = p;
    p = ngx_sprintf(p, "aigw:{report}:%ui", id->day);
    argv[1].len = p - argv[1].data;

    argv[2].data = p;
    *p++ = (u_char) id->credential;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        *p++ = (u_char) (id->len[i] >> 8);
        *p++ = (u_char) (id->len[i] & 0xff);
    }

    p = ngx_cpymem(p, data, size);
    argv[2].len = p - argv[2].data;

    for (i = 0; i < ngx_http_aigw_report_ncount; i++) {
        argv[3 + i].data = p;
        p = ngx_sprintf(p, "%L", count[i]);
        argv[3 + i].len = p - argv[3 + i].data;
    }

    argv[3 + i].data = p;
    p = ngx_sprintf(p, "%L",
                    (int64_t) (id->day + rmcf->retention) * 86400000);
    argv[3 + i].len = p - argv[3 + i].data;

    if (ngx_http_aigw_redis_send(amcf->redis,
                                 &ngx_http_aigw_report_add_script,
                                 4 + ngx_http_aigw_report_ncount, argv,
                                 NULL, NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: redis is unavailable: the fleet's spend "
                      "report misses a request (this node's has it)");
    }
}


/* the days of the query within the retention, from Redis */

static ngx_int_t
ngx_http_aigw_report_redis_read(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, const ngx_http_aigw_key_t *caller)
{
    u_char                            *p;
    ngx_int_t                          rc;
    ngx_str_t                         *argv;
    ngx_uint_t                         i, n, first, last, today;
    ngx_http_aigw_main_conf_t         *amcf;
    ngx_http_aigw_report_wait_t       *w;
    ngx_http_aigw_report_main_conf_t  *rmcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);
    rmcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_report_module);

    today = (ngx_uint_t) (ngx_time() / 86400);
    first = (today + 1 > rmcf->retention) ? today + 1 - rmcf->retention : 0;
    first = ngx_max(first, q->start);
    last = ngx_min(today + 1, q->end);

    if (first > last) {
        return NGX_DONE;
    }

    n = last - first + 1;

    w = ngx_palloc(r->pool, sizeof(ngx_http_aigw_report_wait_t));
    argv = ngx_palloc(r->pool, (1 + n) * sizeof(ngx_str_t));
    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN
                             + n * (sizeof("aigw:{report}:") + NGX_INT_T_LEN));

    if (w == NULL || argv == NULL || p == NULL) {
        return NGX_ERROR;
    }

    w->request = r;
    w->q = *q;
    w->caller = caller;
    w->first = first;

    argv[0].data = p;
    p = ngx_sprintf(p, "%ui", n);
    argv[0].len = p - argv[0].data;

    for (i = 0; i < n; i++) {
        argv[1 + i].data = p;
        p = ngx_sprintf(p, "aigw:{report}:%ui", first + i);
        argv[1 + i].len = p - argv[1 + i].data;
    }

    rc = ngx_http_aigw_redis_send(amcf->redis,
                                  &ngx_http_aigw_report_read_script, 1 + n,
                                  argv, ngx_http_aigw_report_redis_answer,
                                  w);

    return (rc == NGX_OK) ? NGX_AGAIN : rc;
}


static void
ngx_http_aigw_report_redis_answer(void *data, redisReply *reply)
{
    ngx_http_aigw_report_wait_t *w = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = w->request;
    c = r->connection;

    if (reply && reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "aigw: redis answered the spend report's script "
                      "with an unexpected reply");
        reply = NULL;
    }

    rc = reply ? NGX_OK : NGX_DECLINED;

    ngx_http_finalize_request(r, ngx_http_aigw_report_answer(r, &w->q,
                                                             w->caller, w,
                                                             reply, rc));
    ngx_http_run_posted_requests(c);
}


/* the rows of Redis's reply, as rows of the zone, into the groups */

static ngx_int_t
ngx_http_aigw_report_redis_rows(ngx_http_request_t *r,
    ngx_http_aigw_report_wait_t *w, redisReply *reply, ngx_rbtree_t *groups,
    ngx_array_t *list)
{
    u_char                      *p, *last;
    size_t                       size;
    int64_t                      v;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k;
    redisReply                 **e;
    ngx_http_aigw_report_row_t  *row;

    e = reply->element;

    for (i = 0; i + 3 <= reply->elements; i += 3) {

        if (e[i]->type != REDIS_REPLY_INTEGER
            || e[i + 1]->type != REDIS_REPLY_STRING
            || e[i + 2]->type != REDIS_REPLY_STRING
            || e[i + 1]->len < NGX_HTTP_AIGW_REPORT_FIELD_HEAD)
        {
            goto garbage;
        }

        p = (u_char *) e[i + 1]->str;
        last = p + e[i + 1]->len;
        size = last - p - NGX_HTTP_AIGW_REPORT_FIELD_HEAD;

        row = ngx_pcalloc(r->pool,
                          offsetof(ngx_http_aigw_report_row_t, data) + size);
        if (row == NULL) {
            return NGX_ERROR;
        }

        row->id.day = w->first + e[i]->integer - 1;
        row->id.credential = (*p++ == ngx_http_aigw_credential_byok)
                             ? ngx_http_aigw_credential_byok
                             : ngx_http_aigw_credential_system;

        for (k = 0; k < ngx_http_aigw_report_nstr; k++) {
            row->id.len[k] = (u_short) ((p[0] << 8) | p[1]);
            p += 2;

            if (row->id.len[k] > size) {
                goto garbage;
            }

            size -= row->id.len[k];
        }

        if (size != 0) {
            goto garbage;       /* the lengths are not the strings' */
        }

        ngx_memcpy(row->data, p, last - p);

        /* the counters, decimal, separated by spaces */

        p = (u_char *) e[i + 2]->str;
        last = p + e[i + 2]->len;

        for (k = 0; k < ngx_http_aigw_report_ncount; k++) {
            for (v = 0; p < last && *p >= '0' && *p <= '9'; p++) {
                if (v > (0x7fffffffffffffffLL - 9) / 10) {
                    goto garbage;
                }

                v = v * 10 + (*p - '0');
            }

            row->count[k] = v;

            if (p < last && *p == ' ') {
                p++;
            }
        }

        if (!ngx_http_aigw_report_visible(w->caller, row)) {
            continue;
        }

        rc = ngx_http_aigw_report_row(r, &w->q, groups, list, row);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;

garbage:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "aigw: a row of the spend report in redis is not the "
                  "gateway's, it is left out");

    return NGX_OK;
}


static ngx_int_t
ngx_http_aigw_report_write(ngx_http_request_t *r,
    ngx_http_aigw_report_query_t *q, ngx_array_t *list)
{
    ngx_uint_t                      i;
    ngx_chain_t                    *out;
    ngx_http_aigw_jw_t              w;
    ngx_http_aigw_report_group_t  **g;

    g = list->elts;

    ngx_qsort(g, list->nelts, sizeof(ngx_http_aigw_report_group_t *),
              q->group == ngx_http_aigw_group_day
              ? ngx_http_aigw_report_cmp_day
              : ngx_http_aigw_report_cmp_cost);

    ngx_http_aigw_jw_init(&w, r->pool, 1024);

    ngx_http_aigw_jw_lit(&w, "{\"results\":[");

    for (i = 0; i < list->nelts; i++) {

        ngx_http_aigw_jw_lit(&w, "{");

        /* the value named after group_by; none: the requests without */

        if (g[i]->sn.str.len) {
            ngx_http_aigw_jw_lit(&w, "\"");
            ngx_http_aigw_jw_str(&w, &ngx_http_aigw_report_groups[q->group]);
            ngx_http_aigw_jw_lit(&w, "\":\"");
            ngx_http_aigw_jw_escape(&w, g[i]->sn.str.data,
                                    g[i]->sn.str.len);
            ngx_http_aigw_jw_lit(&w, "\",");
        }

        ngx_http_aigw_jw_lit(&w, "\"total_cost\":");
        ngx_http_aigw_jw_micro(&w, g[i]->count[ngx_http_aigw_report_cost]);
        ngx_http_aigw_jw_lit(&w, ",\"input_tokens\":");
        ngx_http_aigw_jw_int(&w, g[i]->count[ngx_http_aigw_report_input]);
        ngx_http_aigw_jw_lit(&w, ",\"output_tokens\":");
        ngx_http_aigw_jw_int(&w, g[i]->count[ngx_http_aigw_report_output]);
        ngx_http_aigw_jw_lit(&w, ",\"cached_input_tokens\":");
        ngx_http_aigw_jw_int(&w, g[i]->count[ngx_http_aigw_report_cached]);
        ngx_http_aigw_jw_lit(&w, ",\"cache_creation_input_tokens\":");
        ngx_http_aigw_jw_int(&w,
                             g[i]->count[ngx_http_aigw_report_cache_write]);
        ngx_http_aigw_jw_lit(&w, ",\"reasoning_tokens\":");
        ngx_http_aigw_jw_int(&w, g[i]->count[ngx_http_aigw_report_reasoning]);
        ngx_http_aigw_jw_lit(&w, ",\"request_count\":");
        ngx_http_aigw_jw_int(&w, g[i]->count[ngx_http_aigw_report_requests]);

        if (i + 1 < list->nelts) {
            ngx_http_aigw_jw_lit(&w, "},");

        } else {
            ngx_http_aigw_jw_lit(&w, "}");
        }
    }

    ngx_http_aigw_jw_lit(&w, "]}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}


/* group_by=day: oldest first (ISO dates sort as text) */

static int ngx_libc_cdecl
ngx_http_aigw_report_cmp_day(const void *one, const void *two)
{
    ngx_http_aigw_report_group_t  *a, *b;

    a = *(ngx_http_aigw_report_group_t **) one;
    b = *(ngx_http_aigw_report_group_t **) two;

    return (int) ngx_memn2cmp(a->sn.str.data, b->sn.str.data, a->sn.str.len,
                              b->sn.str.len);
}


/* the others: the costliest first, then by value */

static int ngx_libc_cdecl
ngx_http_aigw_report_cmp_cost(const void *one, const void *two)
{
    int64_t                        ca, cb;
    ngx_http_aigw_report_group_t  *a, *b;

    a = *(ngx_http_aigw_report_group_t **) one;
    b = *(ngx_http_aigw_report_group_t **) two;

    ca = a->count[ngx_http_aigw_report_cost];
    cb = b->count[ngx_http_aigw_report_cost];

    if (ca != cb) {
        return ca > cb ? -1 : 1;
    }

    return (int) ngx_memn2cmp(a->sn.str.data, b->sn.str.data, a->sn.str.len,
                              b->sn.str.len);
}


/* "YYYY-MM-DD" of a day since the epoch, 10 bytes */

static void
ngx_http_aigw_report_day_text(ngx_uint_t day, u_char *buf)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) day * 86400, &tm);

    (void) ngx_sprintf(buf, "%04d-%02d-%02d", tm.ngx_tm_year, tm.ngx_tm_mon,
                       tm.ngx_tm_mday);
}


/* the rows in the zone */

static uint32_t
ngx_http_aigw_report_hash(ngx_http_aigw_report_id_t *id, u_char *data)
{
    size_t      size;
    uint32_t    hash;
    ngx_uint_t  i;

    size = 0;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        size += id->len[i];
    }

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, (u_char *) &id->day, sizeof(id->day));
    ngx_crc32_update(&hash, (u_char *) &id->credential,
                     sizeof(id->credential));
    ngx_crc32_update(&hash, (u_char *) id->len, sizeof(id->len));
    ngx_crc32_update(&hash, data, size);
    ngx_crc32_final(hash);

    return hash;
}


static ngx_int_t
ngx_http_aigw_report_cmp(ngx_http_aigw_report_row_t *row,
    ngx_http_aigw_report_id_t *id, u_char *data)
{
    size_t      size;
    ngx_int_t   rc;
    ngx_uint_t  i;

    if (id->day != row->id.day) {
        return id->day < row->id.day ? -1 : 1;
    }

    if (id->credential != row->id.credential) {
        return id->credential < row->id.credential ? -1 : 1;
    }

    rc = ngx_memcmp(id->len, row->id.len, sizeof(id->len));

    if (rc != 0) {
        return rc;
    }

    size = 0;

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        size += id->len[i];
    }

    return ngx_memcmp(data, row->data, size);
}


static ngx_http_aigw_report_row_t *
ngx_http_aigw_report_lookup(ngx_http_aigw_report_t *rp,
    ngx_http_aigw_report_id_t *id, u_char *data, uint32_t hash)
{
    ngx_int_t                    rc;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_aigw_report_row_t  *row;

    node = rp->rbtree.root;
    sentinel = rp->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        row = (ngx_http_aigw_report_row_t *) node;

        rc = ngx_http_aigw_report_cmp(row, id, data);

        if (rc == 0) {
            return row;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_aigw_report_delete(ngx_slab_pool_t *shpool,
    ngx_http_aigw_report_t *rp, ngx_http_aigw_report_row_t *row)
{
    size_t      size;
    ngx_uint_t  i;

    size = offsetof(ngx_http_aigw_report_row_t, data);

    for (i = 0; i < ngx_http_aigw_report_nstr; i++) {
        size += row->id.len[i];
    }

    rp->used -= size;

    ngx_queue_remove(&row->queue);
    ngx_rbtree_delete(&rp->rbtree, &row->node);
    ngx_slab_free_locked(shpool, row);
}


/* the rows of a day, from the oldest end of the queue; how many */

static ngx_uint_t
ngx_http_aigw_report_drop_day(ngx_slab_pool_t *shpool,
    ngx_http_aigw_report_t *rp, ngx_uint_t day)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q, *prev;
    ngx_http_aigw_report_row_t  *row;

    n = 0;

    for (q = ngx_queue_last(&rp->queue);
         q != ngx_queue_sentinel(&rp->queue);
         q = prev)
    {
        prev = ngx_queue_prev(q);
        row = ngx_queue_data(q, ngx_http_aigw_report_row_t, queue);

        if (row->id.day <= day) {
            ngx_http_aigw_report_delete(shpool, rp, row);
            n++;
        }
    }

    return n;
}


static void
ngx_http_aigw_report_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_aigw_report_row_t   *row, *rowt;

    row = (ngx_http_aigw_report_row_t *) node;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            rowt = (ngx_http_aigw_report_row_t *) temp;

            p = (ngx_http_aigw_report_cmp(rowt, &row->id, row->data) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* a new zone (ngx_http_aigw_health_init_zone()) */

void
ngx_http_aigw_report_init_zone(ngx_http_aigw_report_t *rp)
{
    ngx_rbtree_init(&rp->rbtree, &rp->sentinel,
                    ngx_http_aigw_report_rbtree_insert_value);
    ngx_queue_init(&rp->queue);
    rp->used = 0;
    rp->lost_day = 0;
}


/* configuration */

static void *
ngx_http_aigw_report_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aigw_report_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aigw_report_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    rmcf->retention = NGX_CONF_UNSET_UINT;

    return rmcf;
}


static char *
ngx_http_aigw_report_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_aigw_report_main_conf_t *rmcf = conf;

    ngx_conf_init_uint_value(rmcf->retention, 31);

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_report(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = ngx_http_aigw_report_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_aigw_credits(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = ngx_http_aigw_credits_handler;

    return NGX_CONF_OK;
}
