
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"
#include "ngx_http_aigw_obs.h"


/*
 * Generations: a ring of the last chat requests in the aigw zone, recorded
 * in the log phase, read by GET /v1/generation?id= (aigw_generation, in the
 * shape of Vercel's API) and GET /v1/logs (aigw_logs); a key reads its own
 * requests, an admin key all.
 */


static void ngx_http_aigw_obs_copy(u_char *len, u_char *data, size_t cap,
    ngx_str_t *s);
static ngx_int_t ngx_http_aigw_obs_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller);
static ngx_uint_t ngx_http_aigw_obs_visible(const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_obs_gen_t *g);
static void ngx_http_aigw_obs_write_gen(ngx_http_aigw_jw_t *w,
    ngx_http_aigw_obs_gen_t *g);
static ngx_uint_t ngx_http_aigw_obs_match(ngx_http_aigw_obs_gen_t *g,
    ngx_str_t *model, ngx_str_t *user, ngx_str_t *tag, ngx_str_t *status);


static void
ngx_http_aigw_obs_copy(u_char *len, u_char *data, size_t cap, ngx_str_t *s)
{
    size_t  n;

    n = ngx_min(s->len, cap);
    n = ngx_min(n, 255);

    if (n) {
        ngx_memcpy(data, s->data, n);
    }

    *len = (u_char) n;
}


#define ngx_http_aigw_obs_set(field, s)                                      \
    ngx_http_aigw_obs_copy(&(field).len, (field).data,                       \
                           sizeof((field).data), s)


void
ngx_http_aigw_obs_ring_record(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_obs_sh_t *osh, ngx_slab_pool_t *shpool, int64_t duration,
    int64_t provider, int64_t overhead)
{
    u_char                   *p;
    size_t                    len;
    ngx_str_t                 attempts, tags, *tag;
    ngx_uint_t                i;
    ngx_time_t               *tp;
    ngx_http_aigw_target_t   *t;
    ngx_http_aigw_obs_gen_t  *g, gen;

    if (osh->ring == NULL || ctx->endpoint != ngx_http_aigw_ep_chat) {
        return;
    }

    ngx_memzero(&gen, sizeof(ngx_http_aigw_obs_gen_t));

    tp = ngx_timeofday();
    gen.created = tp->sec;
    gen.created_ms = tp->msec;

    t = ngx_http_aigw_obs_target(ctx);

    gen.input = ctx->usage.input;
    gen.output = ctx->usage.output;
    gen.cached = ctx->usage.cache_read;
    gen.cache_write = ctx->usage.cache_write;
    gen.reasoning = ctx->usage.reasoning;
    gen.cost = ctx->cost;
    gen.latency = duration;
    gen.ttft = ctx->first_byte ? (int64_t) (ctx->first_byte - ctx->start) : -1;
    gen.provider_ms = provider;
    gen.overhead = overhead;
    gen.status = r->headers_out.status;
    gen.attempts = ctx->attempts.nelts;
    gen.finish = ctx->finish;
    gen.stream = ctx->stream;
    gen.estimated = ctx->estimated;
    gen.cached_hit = (ctx->cache_status.len == 3
                      && ngx_strncasecmp(ctx->cache_status.data,
                                         (u_char *) "HIT", 3) == 0);

    ngx_http_aigw_obs_set(gen.id, &ctx->generation_id);
    ngx_http_aigw_obs_set(gen.requested, &ctx->model);
    ngx_http_aigw_obs_set(gen.user, &ctx->user);

    if (ctx->key) {
        gen.has_key = 1;
        ngx_http_aigw_obs_set(gen.key, (ngx_str_t *) &ctx->key->name);
    }

    if (t) {
        gen.byok = t->byok;
        ngx_http_aigw_obs_set(gen.model, &t->slug);
        ngx_http_aigw_obs_set(gen.provider, &t->provider->name);
        ngx_http_aigw_obs_set(gen.provider_model, &t->id);

    } else {
        ngx_http_aigw_obs_set(gen.model, &ctx->model);
    }

    ngx_http_aigw_attempts_text(ctx, &attempts, r->pool);
    ngx_http_aigw_obs_set(gen.attempt_list, &attempts);

    if (ctx->tag_list && ctx->tag_list->nelts) {
        tag = ctx->tag_list->elts;
        len = 0;

        for (i = 0; i < ctx->tag_list->nelts; i++) {
            len += tag[i].len + 1;
        }

        p = ngx_pnalloc(r->pool, len);

        if (p) {
            tags.data = p;

            for (i = 0; i < ctx->tag_list->nelts; i++) {
                if (i) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, tag[i].data, tag[i].len);
            }

            tags.len = p - tags.data;
            ngx_http_aigw_obs_set(gen.tags, &tags);
        }
    }

    ngx_shmtx_lock(&shpool->mutex);

    g = &osh->ring[osh->seq % osh->ring_size];
    gen.seq = ++osh->seq;
    *g = gen;

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The caller of /v1/generation and /v1/logs, by its gateway key, as for
 * the API: NGX_DECLINED goes on (caller NULL with aigw_auth off),
 * anything else is sent
 */

static ngx_int_t
ngx_http_aigw_obs_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller)
{
    ngx_int_t  rc;

    *caller = NULL;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_ALLOWED, NULL,
                                        "only GET is allowed here");
    }

    return ngx_http_aigw_caller(r, caller);
}


/* a key sees its own generations; an admin key or open mode, all */

static ngx_uint_t
ngx_http_aigw_obs_visible(const ngx_http_aigw_key_t *caller,
    ngx_http_aigw_obs_gen_t *g)
{
    if (caller == NULL || caller->admin) {
        return 1;
    }

    return g->has_key && g->key.len == caller->name.len
           && ngx_memcmp(g->key.data, caller->name.data, g->key.len) == 0;
}


const char *
ngx_http_aigw_obs_finish_name(ngx_uint_t finish)
{
    switch (finish) {

    case ngx_http_aigw_stop_end:
    case ngx_http_aigw_stop_sequence:
        return "stop";

    case ngx_http_aigw_stop_length:
        return "length";

    case ngx_http_aigw_stop_tool:
        return "tool-calls";

    case ngx_http_aigw_stop_filter:
        return "content-filter";

    case ngx_http_aigw_stop_pause:
        return "other";

    default:
        return "";
    }
}


#define ngx_http_aigw_obs_jw_field(w, name, f)                               \
    ngx_http_aigw_jw_lit(w, name);                                           \
    ngx_http_aigw_jw_escape(w, (f).data, (f).len);                           \
    ngx_http_aigw_jw_lit(w, "\"")


/*
 * A generation in the shape of Vercel's /v1/generation (what the AI SDK's
 * getGenerationInfo() reads), with the gateway's own fields after it
 */

static void
ngx_http_aigw_obs_write_gen(ngx_http_aigw_jw_t *w, ngx_http_aigw_obs_gen_t *g)
{
    u_char       *p;
    const char   *finish;
    u_char        buf[64];

    ngx_http_aigw_obs_jw_field(w, "{\"id\":\"", g->id);

    ngx_http_aigw_jw_lit(w, ",\"total_cost\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);
    ngx_http_aigw_jw_lit(w, ",\"upstream_inference_cost\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);
    ngx_http_aigw_jw_lit(w, ",\"usage\":");
    ngx_http_aigw_jw_micro(w, g->cost > 0 ? g->cost : 0);

    p = ngx_http_aigw_rfc3339(buf, g->created);
    ngx_http_aigw_jw_lit(w, ",\"created_at\":\"");
    ngx_http_aigw_jw_raw(w, buf, p - buf);
    ngx_http_aigw_jw_lit(w, "\"");

    ngx_http_aigw_obs_jw_field(w, ",\"model\":\"", g->model);

    if (g->byok) {
        ngx_http_aigw_jw_lit(w, ",\"is_byok\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"is_byok\":false");
    }

    ngx_http_aigw_obs_jw_field(w, ",\"provider_name\":\"", g->provider);

    if (g->stream) {
        ngx_http_aigw_jw_lit(w, ",\"streamed\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"streamed\":false");
    }

    finish = (g->status >= 400) ? "error"
                                : ngx_http_aigw_obs_finish_name(g->finish);

    ngx_http_aigw_jw_lit(w, ",\"finish_reason\":\"");
    ngx_http_aigw_jw_cstr(w, finish);
    ngx_http_aigw_jw_lit(w, "\",\"latency\":");
    ngx_http_aigw_jw_int(w, g->ttft >= 0 ? g->ttft : g->latency);
    ngx_http_aigw_jw_lit(w, ",\"generation_time\":");
    ngx_http_aigw_jw_int(w, g->latency);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_prompt\":");
    ngx_http_aigw_jw_int(w, g->input);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_completion\":");
    ngx_http_aigw_jw_int(w, g->output);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_reasoning\":");
    ngx_http_aigw_jw_int(w, g->reasoning);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_cached\":");
    ngx_http_aigw_jw_int(w, g->cached);
    ngx_http_aigw_jw_lit(w, ",\"native_tokens_cache_creation\":");
    ngx_http_aigw_jw_int(w, g->cache_write);
    ngx_http_aigw_jw_lit(w, ",\"billable_web_search_calls\":0");

    /* the gateway's own */

    ngx_http_aigw_obs_jw_field(w, ",\"requested_model\":\"", g->requested);
    ngx_http_aigw_obs_jw_field(w, ",\"provider_model\":\"",
                               g->provider_model);
    ngx_http_aigw_obs_jw_field(w, ",\"key\":\"", g->key);
    ngx_http_aigw_obs_jw_field(w, ",\"user\":\"", g->user);
    ngx_http_aigw_obs_jw_field(w, ",\"tags\":\"", g->tags);
    ngx_http_aigw_jw_lit(w, ",\"status\":");
    ngx_http_aigw_jw_int(w, g->status);

    if (g->cost < 0) {
        ngx_http_aigw_jw_lit(w, ",\"priced\":false");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"priced\":true");
    }

    if (g->cached_hit) {
        ngx_http_aigw_jw_lit(w, ",\"cached\":true");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"cached\":false");
    }

    ngx_http_aigw_jw_lit(w, ",\"ttft_ms\":");

    if (g->ttft >= 0) {
        ngx_http_aigw_jw_int(w, g->ttft);

    } else {
        ngx_http_aigw_jw_lit(w, "null");
    }

    ngx_http_aigw_jw_lit(w, ",\"provider_ms\":");
    ngx_http_aigw_jw_int(w, g->provider_ms);
    ngx_http_aigw_jw_lit(w, ",\"overhead_ms\":");
    ngx_http_aigw_jw_int(w, g->overhead);
    ngx_http_aigw_jw_lit(w, ",\"attempt_count\":");
    ngx_http_aigw_jw_int(w, g->attempts);
    ngx_http_aigw_obs_jw_field(w, ",\"attempts\":\"", g->attempt_list);

    if (g->estimated) {
        ngx_http_aigw_jw_lit(w, ",\"usage_source\":\"estimated\"}");

    } else {
        ngx_http_aigw_jw_lit(w, ",\"usage_source\":\"provider\"}");
    }
}


/* GET /v1/generation?id=gen_... */

ngx_int_t
ngx_http_aigw_obs_generation_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   id;
    ngx_uint_t                  i;
    ngx_chain_t                *out;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_jw_t          w;
    ngx_http_aigw_obs_sh_t     *osh;
    ngx_http_aigw_obs_gen_t    *g, gen;
    ngx_http_aigw_main_conf_t  *amcf;
    const ngx_http_aigw_key_t  *caller;

    rc = ngx_http_aigw_obs_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_aigw_query_arg(r, "id", &id) != NGX_OK) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                        "the \"id\" query argument is "
                                        "required");
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    osh = amcf->sh ? amcf->sh->obs : NULL;
    g = NULL;

    if (osh && osh->ring && id.len <= sizeof(gen.id.data)) {
        shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        for (i = 0; i < osh->ring_size; i++) {
            if (osh->ring[i].seq
                && osh->ring[i].id.len == id.len
                && ngx_memcmp(osh->ring[i].id.data, id.data, id.len) == 0)
            {
                gen = osh->ring[i];
                g = &gen;
                break;
            }
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    /* another key's generation is not found either */

    if (g == NULL || !ngx_http_aigw_obs_visible(caller, g)) {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_NOT_FOUND, NULL,
                                        "generation \"%V\" not found",
                                        &id);
    }

    ngx_http_aigw_jw_init(&w, r->pool, 1024);

    ngx_http_aigw_jw_lit(&w, "{\"data\":");
    ngx_http_aigw_obs_write_gen(&w, g);
    ngx_http_aigw_jw_lit(&w, "}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL || w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}


static ngx_uint_t
ngx_http_aigw_obs_match(ngx_http_aigw_obs_gen_t *g, ngx_str_t *model,
    ngx_str_t *user, ngx_str_t *tag, ngx_str_t *status)
{
    u_char  *p, *last, *comma;

    if (model->len
        && !(g->model.len == model->len
             && ngx_memcmp(g->model.data, model->data, model->len) == 0)
        && !(g->requested.len == model->len
             && ngx_memcmp(g->requested.data, model->data, model->len) == 0))
    {
        return 0;
    }

    if (user->len
        && !(g->user.len == user->len
             && ngx_memcmp(g->user.data, user->data, user->len) == 0))
    {
        return 0;
    }

    if (status->len == 3) {
        if (status->data[0] != (u_char) ('0' + g->status / 100 % 10)) {
            return 0;
        }

        if ((status->data[1] != 'x' && status->data[1] != 'X')
            && (status->data[1] != (u_char) ('0' + g->status / 10 % 10)
                || status->data[2] != (u_char) ('0' + g->status % 10)))
        {
            return 0;
        }
    }

    if (tag->len == 0) {
        return 1;
    }

    p = g->tags.data;
    last = p + g->tags.len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if ((size_t) (comma - p) == tag->len
            && ngx_memcmp(p, tag->data, tag->len) == 0)
        {
            return 1;
        }

        p = comma + 1;
    }

    return 0;
}


/* GET /v1/logs?model=&user=&tag=&status=&limit=, newest first */

ngx_int_t
ngx_http_aigw_obs_logs_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc, limit;
    ngx_str_t                   model, user, tag, status, s;
    ngx_uint_t                  i, n, seq, found;
    ngx_chain_t                *out;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_jw_t          w;
    ngx_http_aigw_obs_sh_t     *osh;
    ngx_http_aigw_obs_gen_t    *gens, *g;
    ngx_http_aigw_main_conf_t  *amcf;
    const ngx_http_aigw_key_t  *caller;

    rc = ngx_http_aigw_obs_caller(r, &caller);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    (void) ngx_http_aigw_query_arg(r, "model", &model);
    (void) ngx_http_aigw_query_arg(r, "user", &user);
    (void) ngx_http_aigw_query_arg(r, "tag", &tag);
    (void) ngx_http_aigw_query_arg(r, "status", &status);

    if (status.len
        && (status.len != 3 || status.data[0] < '1' || status.data[0] > '5'
            || !((status.data[1] == 'x' && status.data[2] == 'x')
                 || (ngx_atoi(status.data, 3) != NGX_ERROR))))
    {
        return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST, NULL,
                                        "\"status\" must be a status such "
                                        "as 429 or a class such as 5xx");
    }

    limit = 50;

    if (ngx_http_aigw_query_arg(r, "limit", &s) == NGX_OK) {
        limit = ngx_atoi(s.data, s.len);

        if (limit <= 0 || limit > 1000) {
            return ngx_http_aigw_send_error(r, NULL, NGX_HTTP_BAD_REQUEST,
                                            NULL, "\"limit\" must be a "
                                            "number from 1 to 1000");
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    osh = amcf->sh ? amcf->sh->obs : NULL;
    gens = NULL;
    n = 0;

    if (osh && osh->ring) {
        gens = ngx_palloc(r->pool,
                          osh->ring_size * sizeof(ngx_http_aigw_obs_gen_t));
        if (gens == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        /* newest first: from the last one recorded backwards */

        seq = osh->seq;

        for (i = 0; i < osh->ring_size && seq > i; i++) {
            g = &osh->ring[(seq - 1 - i) % osh->ring_size];

            if (g->seq != seq - i) {
                break;
            }

            gens[n++] = *g;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_aigw_jw_init(&w, r->pool, 4096);

    ngx_http_aigw_jw_lit(&w, "{\"object\":\"list\",\"data\":[");

    found = 0;

    for (i = 0; i < n && found < (ngx_uint_t) limit; i++) {
        if (!ngx_http_aigw_obs_visible(caller, &gens[i])
            || !ngx_http_aigw_obs_match(&gens[i], &model, &user, &tag,
                                        &status))
        {
            continue;
        }

        if (found++) {
            ngx_http_aigw_jw_lit(&w, ",");
        }

        ngx_http_aigw_obs_write_gen(&w, &gens[i]);
    }

    ngx_http_aigw_jw_lit(&w, "]}\n");

    out = ngx_http_aigw_jw_finish(&w);
    if (out == NULL || w.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aigw_send_json(r, NGX_HTTP_OK, out, w.size);
}
