
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_aigw_module.h"


/*
 * The Redis backend of the counter interface (described in
 * ngx_http_aigw_store_shm.c): the same counters, the same semantics, kept
 * in one Redis for a fleet of nodes.
 *
 * reserve() is one EVALSHA of the reserve script, with every counter of
 * the request as a key: the script checks them all and applies them only
 * if all allow, atomically, with the time of Redis (TIME), so the clocks
 * of the nodes do not matter to rates and leases.  The windows and
 * periods of token limits and budgets are in the counters' keys; the
 * limits stage picks them with the node's clock corrected by the offset
 * to Redis's clock learned when the connection was made.  The request
 * waits (NGX_AGAIN) and the reply calls done().  When the request ends
 * first, cancel() keeps a copy of the counters; if the reply then says
 * they were reserved, they are given back at once.
 *
 * settle() is one EVALSHA of the settle script, fire and forget; a lost
 * one leaves the estimate in the sums and the leases to their TTL.
 * read() is one EVALSHA of the read script (reports, /v1/credits).
 *
 * A counter is a key (limit.c names it "aigw:{METRIC:SCOPE:LEN:ID}" and a
 * window or period after the braces: its hash tag keeps a counter's keys
 * in one slot of a Redis Cluster): of a rate, a string, the GCRA
 * theoretical arrival time in us; of a sum, a string, the sum (and the
 * key with ":w" once warn= was crossed); of concurrency, a sorted set of
 * leases (member: the lease's random id, score: when it expires, ms).
 * The reserve script reads the rates and sums with one MGET.  Every key
 * expires when it is idle: a rate when it is full again, a window or
 * budget period a minute after its end, a lease set after its TTL; the
 * spend of all time never.
 */


/* the reserve script's arguments of an op, after the clock offset */
#define NGX_HTTP_AIGW_REDIS_OP_ARGS     7

/* its reply: now, all, then of each op */
#define NGX_HTTP_AIGW_REDIS_OP_RESULTS  6


typedef struct {
    ngx_http_request_t             *r;       /* NULL: the request ended */
    ngx_http_aigw_counter_op_t     *ops;
    ngx_uint_t                      n;
    ngx_http_aigw_counter_done_pt   done;
    ngx_http_aigw_redis_t          *rd;
    ngx_log_t                      *log;     /* the cycle's */
    u_char                         *copy;    /* ops kept after cancel() */
    unsigned                        read:1;
} ngx_http_aigw_redis_call_t;


static ngx_int_t ngx_http_aigw_redis_reserve(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending);
static void ngx_http_aigw_redis_settle(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n);
static ngx_int_t ngx_http_aigw_redis_read(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending);
static void ngx_http_aigw_redis_cancel(void *pending);
static ngx_int_t ngx_http_aigw_redis_call(ngx_http_request_t *r,
    ngx_http_aigw_redis_script_t *script, ngx_array_t *argv,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending, ngx_uint_t read);
static void ngx_http_aigw_redis_answer(void *data, redisReply *reply);
static ngx_int_t ngx_http_aigw_redis_results(ngx_http_aigw_redis_call_t *call,
    redisReply *reply);
static void ngx_http_aigw_redis_give_back(ngx_http_aigw_redis_call_t *call);
static ngx_int_t ngx_http_aigw_redis_settle_ops(ngx_http_aigw_redis_t *rd,
    ngx_pool_t *pool, ngx_http_aigw_counter_op_t *ops, ngx_uint_t n);
static ngx_int_t ngx_http_aigw_redis_arg(ngx_array_t *argv, ngx_pool_t *pool,
    int64_t v);


const ngx_http_aigw_counter_backend_t  ngx_http_aigw_store_redis = {
    "redis",
    ngx_http_aigw_redis_reserve,
    ngx_http_aigw_redis_settle,
    ngx_http_aigw_redis_read,
    ngx_http_aigw_redis_cancel
};


/*
 * KEYS: the counters; ARGV[1]: ms added to Redis's clock (tests), then of
 * each counter: kind, limit, period, expire, amount, warn, lease id.
 * Returns now, all allowed (1/0), then of each counter: allowed, used,
 * remaining, reset, retry, flags (1: warn= crossed, 2: first to cross).
 */

static ngx_http_aigw_redis_script_t  ngx_http_aigw_redis_reserve_script = {
    ngx_string(
    "local floor, ceil, tonumber, call = math.floor, math.ceil, tonumber,"
    " redis.call\n"
    "local t = call('TIME')\n"
    "local now = t[1] * 1000 + floor(t[2] / 1000) + tonumber(ARGV[1])\n"
    "local nk = #KEYS\n"
    "local res, all, n = {now, 1}, 1, 2\n"
    "local kind, per, exp, amt, nxt, keys, at, v = {}, {}, {}, {}, {},"
    " {}, {}, {}\n"
    "for i = 1, nk do\n"
    "  local a = 2 + (i - 1) * 7\n"
    "  local k = tonumber(ARGV[a])\n"
    "  kind[i] = k\n"
    "  if k ~= 2 then keys[#keys + 1] = KEYS[i]; at[i] = #keys end\n"
    "end\n"
    "if #keys > 0 then v = call('MGET', unpack(keys)) end\n"
    "for i = 1, nk do\n"
    "  local a = 2 + (i - 1) * 7\n"
    "  local k, limit, period = kind[i], tonumber(ARGV[a + 1]),"
    " tonumber(ARGV[a + 2])\n"
    "  local expire, amount, warn = tonumber(ARGV[a + 3]), tonumber(ARGV[a"
    " + 4]), tonumber(ARGV[a + 5])\n"
    "  per[i] = period; exp[i] = expire; amt[i] = amount\n"
    "  local ok, used, left, reset, retry, flags = 0, 0, 0, 0, 0, 0\n"
    "  if k == 0 then\n"
    "    local us, tau = now * 1000, period * 1000\n"
    "    local e = floor(tau / limit)\n"
    "    local tat = tonumber(v[at[i]]) or 0\n"
    "    if tat < us then tat = us end\n"
    "    local x = tat + e\n"
    "    nxt[i] = x\n"
    "    if x - us <= tau then\n"
    "      ok = 1\n"
    "      left = floor((tau - (x - us)) / e)\n"
    "      reset = ceil((x - us) / 1000)\n"
    "    else\n"
    "      reset = ceil((tat - us) / 1000)\n"
    "      retry = ceil((x - tau - us) / 1000)\n"
    "    end\n"
    "    used = limit - left\n"
    "  elseif k == 2 then\n"
    "    call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
    "    local active = call('ZCARD', KEYS[i])\n"
    "    if active < limit then ok = 1 else retry = 1000 end\n"
    "    used = active + ok\n"
    "    left = limit - used\n"
    "  else\n"
    "    local sum = tonumber(v[at[i]]) or 0\n"
    "    used = sum + amount\n"
    "    if limit < 0 or used <= limit then ok = 1 end\n"
    "    if expire > 0 then reset = expire - now end\n"
    "    if ok == 0 then used = sum; retry = reset end\n"
    "    if limit < 0 then left = -1 elseif limit > used then left = limit"
    " - used else left = 0 end\n"
    "    if warn > 0 and used >= warn then flags = 1 end\n"
    "  end\n"
    "  if ok == 0 then all = 0 end\n"
    "  res[n + 1] = ok; res[n + 2] = used; res[n + 3] = left\n"
    "  res[n + 4] = reset; res[n + 5] = retry; res[n + 6] = flags\n"
    "  n = n + 6\n"
    "end\n"
    "res[2] = all\n"
    "if all == 0 then return res end\n"
    "for i = 1, nk do\n"
    "  local k, key = kind[i], KEYS[i]\n"
    "  if k == 0 then\n"
    "    call('SET', key, nxt[i], 'PX', ceil((nxt[i] - now * 1000) / 1000)"
    " + 1000)\n"
    "  elseif k == 2 then\n"
    "    call('ZADD', key, now + per[i], ARGV[8 + (i - 1) * 7])\n"
    "    call('PEXPIRE', key, per[i])\n"
    "  else\n"
    "    local keep = exp[i] > 0 and exp[i] + 60000 - now or nil\n"
    "    if call('INCRBY', key, amt[i]) == amt[i] and keep then\n"
    "      call('PEXPIRE', key, keep)\n"
    "    end\n"
    "    local f = 2 + i * 6\n"
    "    if res[f] == 1 then\n"
    "      local w = keep and call('SET', key .. ':w', 1, 'NX', 'PX',"
    " keep) or call('SET', key .. ':w', 1, 'NX')\n"
    "      if w then res[f] = 3 end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return res\n"),
    "", 0
};


/*
 * KEYS: the counters; ARGV of each: kind, actual - amount, expire, lease
 * id.  A sum whose window or period has ended (and so has expired) is
 * not made anew.
 */

static ngx_http_aigw_redis_script_t  ngx_http_aigw_redis_settle_script = {
    ngx_string(
    "for i = 1, #KEYS do\n"
    "  local a = (i - 1) * 4\n"
    "  local kind, delta, expire = ARGV[a + 1], tonumber(ARGV[a + 2]),"
    " tonumber(ARGV[a + 3])\n"
    "  local k = KEYS[i]\n"
    "  if kind == '2' then\n"
    "    redis.call('ZREM', k, ARGV[a + 4])\n"
    "  elseif delta ~= 0 then\n"
    "    local v = redis.call('INCRBY', k, delta)\n"
    "    if v == delta and expire > 0 and redis.call('PTTL', k) == -1 then\n"
    "      redis.call('DEL', k)\n"
    "    elseif v < 0 then\n"
    "      redis.call('SET', k, 0, 'KEEPTTL')\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return #KEYS\n"),
    "", 0
};


/* KEYS: the sums to read; returns their values */

static ngx_http_aigw_redis_script_t  ngx_http_aigw_redis_read_script = {
    ngx_string(
    "local v = redis.call('MGET', unpack(KEYS))\n"
    "for i = 1, #KEYS do v[i] = tonumber(v[i]) or 0 end\n"
    "return v\n"),
    "", 0
};


static ngx_int_t
ngx_http_aigw_redis_reserve(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    ngx_array_t   argv;

    if (ngx_array_init(&argv, r->pool, 2 + n * (NGX_HTTP_AIGW_REDIS_OP_ARGS
                                                + 1),
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_aigw_redis_arg(&argv, r->pool, n) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        s = ngx_array_push(&argv);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = ops[i].key;
    }

    if (ngx_http_aigw_redis_arg(&argv, r->pool,
                                ngx_http_aigw_clock_offset * 1000)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {

        /* a lease's id: random, so that no other node's is the same */

        ops[i].held = (int64_t) (((uint64_t) ngx_random() << 32)
                                 ^ ((uint64_t) ngx_random() << 1)
                                 ^ (uint64_t) ngx_random());
        ops[i].held &= 0x7fffffffffffffffLL;

        if (ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].kind) != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].limit)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].period)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].expire)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].amount)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].warn)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&argv, r->pool, ops[i].held)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_aigw_redis_call(r, &ngx_http_aigw_redis_reserve_script,
                                    &argv, ops, n, done, pending, 0);
}


static void
ngx_http_aigw_redis_settle(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n)
{
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (ngx_http_aigw_redis_settle_ops(amcf->redis, r->pool, ops, n)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: redis is unavailable: this request's usage "
                      "stays at its estimate and its leases expire by "
                      "their TTL");
    }
}


static ngx_int_t
ngx_http_aigw_redis_read(ngx_http_request_t *r,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    ngx_array_t   argv;

    if (ngx_array_init(&argv, r->pool, 1 + n, sizeof(ngx_str_t)) != NGX_OK
        || ngx_http_aigw_redis_arg(&argv, r->pool, n) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        s = ngx_array_push(&argv);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = ops[i].key;
    }

    return ngx_http_aigw_redis_call(r, &ngx_http_aigw_redis_read_script,
                                    &argv, ops, n, done, pending, 1);
}


/* the request ended while its call waits: keep what its reply needs */

static void
ngx_http_aigw_redis_cancel(void *pending)
{
    ngx_http_aigw_redis_call_t *call = pending;

    size_t                       size;
    u_char                      *p;
    ngx_uint_t                   i;
    ngx_http_aigw_counter_op_t  *ops;

    call->r = NULL;

    if (call->read) {
        call->ops = NULL;
        return;
    }

    size = call->n * sizeof(ngx_http_aigw_counter_op_t);

    for (i = 0; i < call->n; i++) {
        size += call->ops[i].key.len;
    }

    call->copy = ngx_alloc(size, call->log);
    if (call->copy == NULL) {
        call->ops = NULL;
        return;
    }

    ops = (ngx_http_aigw_counter_op_t *) call->copy;
    p = call->copy + call->n * sizeof(ngx_http_aigw_counter_op_t);

    for (i = 0; i < call->n; i++) {
        ops[i] = call->ops[i];
        ops[i].key.data = p;
        p = ngx_cpymem(p, call->ops[i].key.data, call->ops[i].key.len);
    }

    call->ops = ops;
}


static ngx_int_t
ngx_http_aigw_redis_call(ngx_http_request_t *r,
    ngx_http_aigw_redis_script_t *script, ngx_array_t *argv,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n,
    ngx_http_aigw_counter_done_pt done, void **pending, ngx_uint_t read)
{
    ngx_int_t                    rc;
    ngx_http_aigw_redis_call_t  *call;
    ngx_http_aigw_main_conf_t   *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    call = ngx_alloc(sizeof(ngx_http_aigw_redis_call_t), r->connection->log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->r = r;
    call->ops = ops;
    call->n = n;
    call->done = done;
    call->rd = amcf->redis;
    call->log = ngx_cycle->log;
    call->copy = NULL;
    call->read = read;

    rc = ngx_http_aigw_redis_send(amcf->redis, script, argv->nelts,
                                  argv->elts, ngx_http_aigw_redis_answer,
                                  call);
    if (rc != NGX_OK) {
        ngx_free(call);
        return rc;
    }

    *pending = call;

    return NGX_AGAIN;
}


static void
ngx_http_aigw_redis_answer(void *data, redisReply *reply)
{
    ngx_http_aigw_redis_call_t *call = data;

    ngx_int_t  rc;

    rc = (reply && call->ops) ? ngx_http_aigw_redis_results(call, reply)
                              : NGX_DECLINED;

    if (call->r) {
        call->done(call->r, rc);

    } else if (rc == NGX_OK && !call->read) {
        ngx_http_aigw_redis_give_back(call);
    }

    if (call->copy) {
        ngx_free(call->copy);
    }

    ngx_free(call);
}


static ngx_int_t
ngx_http_aigw_redis_results(ngx_http_aigw_redis_call_t *call,
    redisReply *reply)
{
    int64_t                      v[NGX_HTTP_AIGW_REDIS_OP_RESULTS];
    ngx_uint_t                   i, j, first, all;
    redisReply                  *e;
    ngx_http_aigw_counter_op_t  *op;

    first = call->read ? 0 : 2;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "aigw: redis refused the %s script: %*s",
                      call->read ? "read" : "reserve",
                      ngx_min(reply->len, 256), reply->str);
        return NGX_DECLINED;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements
           != first + call->n * (call->read ? 1
                                 : NGX_HTTP_AIGW_REDIS_OP_RESULTS))
    {
        goto garbage;
    }

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            goto garbage;
        }
    }

    if (call->read) {
        for (i = 0; i < call->n; i++) {
            call->ops[i].used = reply->element[i]->integer;
        }

        return NGX_OK;
    }

    all = (reply->element[1]->integer == 1);

    for (i = 0; i < call->n; i++) {
        op = &call->ops[i];

        for (j = 0; j < NGX_HTTP_AIGW_REDIS_OP_RESULTS; j++) {
            e = reply->element[first + i * NGX_HTTP_AIGW_REDIS_OP_RESULTS
                               + j];
            v[j] = e->integer;
        }

        op->allowed = (v[0] == 1);
        op->used = v[1];
        op->remaining = v[2];
        op->reset = v[3];
        op->retry = v[4];
        op->warned = (v[5] & 1) ? 1 : 0;
        op->first = (all && (v[5] & 2)) ? 1 : 0;
        op->slot = 0;

        if (!all && op->allowed) {
            op->warned = 0;
        }
    }

    return NGX_OK;

garbage:

    ngx_log_error(NGX_LOG_ERR, call->log, 0,
                  "aigw: redis answered the %s script with an unexpected "
                  "reply", call->read ? "read" : "reserve");

    return NGX_DECLINED;
}


/* what a request that has ended had reserved */

static void
ngx_http_aigw_redis_give_back(ngx_http_aigw_redis_call_t *call)
{
    ngx_uint_t   i;
    ngx_pool_t  *pool;

    for (i = 0; i < call->n; i++) {
        if (!call->ops[i].allowed) {
            return;            /* refused: nothing was reserved */
        }

        call->ops[i].actual = 0;
    }

    pool = ngx_create_pool(1024, call->log);
    if (pool == NULL) {
        return;
    }

    if (ngx_http_aigw_redis_settle_ops(call->rd, pool, call->ops, call->n)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, call->log, 0,
                      "aigw: redis is unavailable: the reservation of a "
                      "request that ended while it waited stays until "
                      "its counters expire");
    }

    ngx_destroy_pool(pool);
}


static ngx_int_t
ngx_http_aigw_redis_settle_ops(ngx_http_aigw_redis_t *rd, ngx_pool_t *pool,
    ngx_http_aigw_counter_op_t *ops, ngx_uint_t n)
{
    ngx_str_t    *s;
    ngx_uint_t    i, m;
    ngx_array_t   keys, args;

    if (ngx_array_init(&keys, pool, 1 + n, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&args, pool, 4 * n, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_push(&keys) == NULL)
    {
        return NGX_ERROR;
    }

    m = 0;

    for (i = 0; i < n; i++) {
        if (ops[i].kind == ngx_http_aigw_counter_rate
            || (ops[i].kind != ngx_http_aigw_counter_lease
                && ops[i].actual == ops[i].amount))
        {
            continue;          /* nothing to change */
        }

        s = ngx_array_push(&keys);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = ops[i].key;

        if (ngx_http_aigw_redis_arg(&args, pool, ops[i].kind) != NGX_OK
            || ngx_http_aigw_redis_arg(&args, pool,
                                       ops[i].actual - ops[i].amount)
               != NGX_OK
            || ngx_http_aigw_redis_arg(&args, pool, ops[i].expire) != NGX_OK
            || ngx_http_aigw_redis_arg(&args, pool, ops[i].held) != NGX_OK)
        {
            return NGX_ERROR;
        }

        m++;
    }

    if (m == 0) {
        return NGX_OK;
    }

    s = keys.elts;

    s[0].data = ngx_pnalloc(pool, NGX_INT_T_LEN);
    if (s[0].data == NULL) {
        return NGX_ERROR;
    }

    s[0].len = ngx_sprintf(s[0].data, "%ui", m) - s[0].data;

    s = ngx_array_push_n(&keys, args.nelts);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s, args.elts, args.nelts * sizeof(ngx_str_t));

    /* the call copies its arguments: the pool may go at once */

    return ngx_http_aigw_redis_send(rd, &ngx_http_aigw_redis_settle_script,
                                    keys.nelts, keys.elts, NULL, NULL);
}


static ngx_int_t
ngx_http_aigw_redis_arg(ngx_array_t *argv, ngx_pool_t *pool, int64_t v)
{
    ngx_str_t  *s;

    s = ngx_array_push(argv);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->data = ngx_pnalloc(pool, NGX_INT64_LEN);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    s->len = ngx_sprintf(s->data, "%L", v) - s->data;

    return NGX_OK;
}
