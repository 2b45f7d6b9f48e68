
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#ifndef _NGX_HTTP_AIGW_MODULE_H_INCLUDED_
#define _NGX_HTTP_AIGW_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_aigw_json.h"
#include "ngx_http_aigw_sse.h"


#define NGX_HTTP_AIGW_VERSION           "0.1.0"

#define NGX_HTTP_AIGW_MAX_EVENT         (4 * 1024 * 1024)

/* a provider's name, at most */
#define NGX_HTTP_AIGW_NAME_MAX          63

/* Anthropic's "overloaded", a status nginx does not name */
#define NGX_HTTP_AIGW_OVERLOADED        529


/* endpoints, in the terms of the client surface */

typedef enum {
    ngx_http_aigw_ep_chat = 0,         /* chat/completions or messages */
    ngx_http_aigw_ep_count_tokens,
    ngx_http_aigw_ep_embeddings,
    ngx_http_aigw_ep_images,           /* image generations */
    ngx_http_aigw_ep_last
} ngx_http_aigw_endpoint_e;


/* aigw_next_upstream */

#define NGX_HTTP_AIGW_NEXT_ERROR        0x0001
#define NGX_HTTP_AIGW_NEXT_TIMEOUT      0x0002
#define NGX_HTTP_AIGW_NEXT_INVALID      0x0004
#define NGX_HTTP_AIGW_NEXT_429          0x0008
#define NGX_HTTP_AIGW_NEXT_500          0x0010
#define NGX_HTTP_AIGW_NEXT_502          0x0020
#define NGX_HTTP_AIGW_NEXT_503          0x0040
#define NGX_HTTP_AIGW_NEXT_504          0x0080
#define NGX_HTTP_AIGW_NEXT_529          0x0100
#define NGX_HTTP_AIGW_NEXT_401          0x0200
#define NGX_HTTP_AIGW_NEXT_403          0x0400
#define NGX_HTTP_AIGW_NEXT_OFF          0x8000


/* how a provider authenticates */

typedef enum {
    ngx_http_aigw_auth_default = 0,
    ngx_http_aigw_auth_bearer,
    ngx_http_aigw_auth_x_api_key,
    ngx_http_aigw_auth_api_key,
    ngx_http_aigw_auth_header,
    ngx_http_aigw_auth_none,
    ngx_http_aigw_auth_goog_api_key,
    ngx_http_aigw_auth_sigv4           /* AWS Signature Version 4 */
} ngx_http_aigw_auth_e;


/*
 * AWS credentials of a provider that signs with SigV4 (ngx_http_aigw_sigv4.c):
 * the parameters as given, what they named, and the signing key of a day,
 * cached per worker
 */

typedef struct {
    ngx_str_t                       region;
    ngx_str_t                       params[3];  /* access_key_*, secret_key_*,
                                                   session_token_* */
    ngx_str_t                       access_key;
    ngx_str_t                       secret;
    ngx_str_t                       token;      /* session token, or empty */
    u_char                          date[8];    /* YYYYMMDD of the key */
    u_char                          key[32];
} ngx_http_aigw_aws_t;


typedef struct ngx_http_aigw_format_s    ngx_http_aigw_format_t;
typedef struct ngx_http_aigw_ctx_s       ngx_http_aigw_ctx_t;
typedef struct ngx_http_aigw_vertex_s    ngx_http_aigw_vertex_t;


typedef struct {
    ngx_str_t                       name;
    const ngx_http_aigw_format_t   *format;

    ngx_http_upstream_srv_conf_t   *upstream;
    ngx_str_t                       url;       /* as configured */
    ngx_str_t                       host;      /* Host header */
    ngx_str_t                       sni;       /* TLS server name */
    ngx_str_t                       path;      /* base path, may hold $model */
    ngx_str_t                       query;     /* without "?" */

    ngx_str_t                       key;
    ngx_str_t                       key_source;  /* for messages */
    ngx_uint_t                      auth;
    ngx_str_t                       auth_header;
    ngx_array_t                    *headers;   /* ngx_keyval_t */
    ngx_http_aigw_aws_t            *aws;       /* format=bedrock, or NULL */

    ngx_str_t                       version;   /* anthropic-version */
    ngx_uint_t                      max_tokens;

    ngx_uint_t                      keepalive; /* idle connections kept */
    ngx_queue_t                     ka_cache;  /* per worker */
    ngx_queue_t                     ka_free;

    u_char                         *file;
    ngx_uint_t                      line;

    ngx_http_aigw_vertex_t         *vertex;    /* Vertex AI, or NULL */

    unsigned                        ssl:1;
    unsigned                        implicit:1;
    unsigned                        unresolved:1;
    unsigned                        optional:1;
    unsigned                        responses:1;  /* serves /responses */
} ngx_http_aigw_provider_t;


/* one provider of a model */

typedef struct {
    ngx_http_aigw_provider_t       *provider;
    ngx_str_t                       id;        /* empty: derived */
} ngx_http_aigw_route_t;


typedef struct {
    ngx_str_t                       slug;      /* without the "*" */
    ngx_array_t                     routes;    /* ngx_http_aigw_route_t */
    ngx_array_t                    *fallbacks; /* ngx_str_t */

    /* prices in micro-USD per 1M tokens */
    int64_t                         price_input;
    int64_t                         price_output;
    int64_t                         price_cached;
    int64_t                         price_cache_write;
    int64_t                         price_image;   /* micro-USD an image */

    unsigned                        wildcard:1;
    unsigned                        priced:1;
    unsigned                        reasoning:1;
} ngx_http_aigw_model_t;


/*
 * the health of (provider, model id) targets, shared by the workers: an
 * rbtree of the targets that failed, with an LRU queue (ngx_http_aigw_health.c)
 */

typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;      /* most recent first */
    ngx_atomic_t                    entries;    /* read without the lock */
} ngx_http_aigw_health_t;


/*
 * Limits and budgets (ngx_http_aigw_limit.c): what aigw_limit, aigw_budget
 * and the inline parameters of aigw_key configure.  A scope names whose
 * counter a request draws on.
 */

typedef enum {
    ngx_http_aigw_scope_key = 0,
    ngx_http_aigw_scope_user,
    ngx_http_aigw_scope_tag,           /* tag=NAME */
    ngx_http_aigw_scope_key_user
} ngx_http_aigw_scope_e;


typedef enum {
    ngx_http_aigw_period_day = 0,      /* UTC */
    ngx_http_aigw_period_week,         /* from Monday 00:00 UTC */
    ngx_http_aigw_period_month,
    ngx_http_aigw_period_total
} ngx_http_aigw_period_e;


typedef struct {
    ngx_uint_t                      scope;     /* ngx_http_aigw_scope_e */
    ngx_str_t                       tag;       /* scope tag=NAME */
    ngx_uint_t                      rpm;       /* 0: none */
    ngx_uint_t                      tpm;       /* input + output tokens */
    ngx_uint_t                      tpd;
    ngx_uint_t                      concurrent;
} ngx_http_aigw_limit_t;


typedef struct {
    ngx_uint_t                      scope;     /* ngx_http_aigw_scope_e */
    ngx_str_t                       tag;
    int64_t                         amount;    /* micro-USD, -1: none */
    ngx_uint_t                      period;    /* ngx_http_aigw_period_e */
    ngx_uint_t                      warn;      /* percent, 0: none */
} ngx_http_aigw_budget_t;


/*
 * A gateway key (aigw_key, aigw_keys_file; ngx_http_aigw_key.c).  Only the
 * SHA-256 of its secret is kept.  Its configured tags are trusted (limits
 * and budgets by tag); tags a client sends are attribution only.
 */

typedef struct {
    ngx_str_t                       name;
    u_char                          hash[32];  /* SHA-256 of the secret */
    ngx_array_t                    *tags;      /* ngx_str_t */
    ngx_array_t                    *models;    /* ngx_str_t slug patterns,
                                                  NULL: any model */
    ngx_http_aigw_limit_t           limit;     /* inline rpm= tpm= ... */
    ngx_http_aigw_budget_t          budget;    /* inline budget= */

    unsigned                        byok:1;
    unsigned                        admin:1;
} ngx_http_aigw_key_t;


/* a credential of providerOptions.gateway.byok, for one request */

typedef struct {
    ngx_str_t                       provider;  /* decoded */
    ngx_str_t                       key;       /* decoded */
} ngx_http_aigw_byok_t;


/*
 * The counters of limits and budgets (ngx_http_aigw_store_shm.c, where the
 * interface is described): one operation per counter a request draws on,
 * handed to a backend in one batch.
 */

typedef enum {
    ngx_http_aigw_counter_rate = 0,    /* GCRA: requests per period */
    ngx_http_aigw_counter_window,      /* sum in a fixed window (tokens) */
    ngx_http_aigw_counter_lease,       /* concurrent leases with a TTL */
    ngx_http_aigw_counter_sum          /* sum in a period (spend) */
} ngx_http_aigw_counter_kind_e;


typedef struct {
    ngx_str_t                       key;       /* namespaced, with window */
    ngx_uint_t                      kind;
    int64_t                         limit;     /* -1: count only */
    int64_t                         period;    /* ms: rate, lease TTL */
    int64_t                         expire;    /* ms since the epoch: end
                                                  of window or period,
                                                  0: never */
    int64_t                         amount;    /* reserved */
    int64_t                         actual;    /* settled */
    int64_t                         warn;      /* sum: warn from, 0: no */

    /* results */
    int64_t                         used;      /* after the reservation */
    int64_t                         remaining;
    int64_t                         reset;     /* ms until full again */
    int64_t                         retry;     /* ms, when refused */
    ngx_uint_t                      slot;      /* lease held */
    int64_t                         held;      /* its stamp */
    unsigned                        allowed:1;
    unsigned                        first:1;   /* warn= crossed first */
    unsigned                        warned:1;
} ngx_http_aigw_counter_op_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;      /* most recent first */
    ngx_msec_t                      nomem_logged;
    ngx_uint_t                      forgiven;   /* in use, evicted */
    ngx_msec_t                      forgiven_logged;
} ngx_http_aigw_counters_t;


/*
 * the spend report's rows in the zone: per UTC day and combination of
 * key, model, provider, user, credential type and tags, in an rbtree and
 * a queue, most recent first (ngx_http_aigw_report.c)
 */

typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    size_t                          used;      /* bytes of the rows */
    ngx_uint_t                      lost_day;  /* a full zone was logged */
} ngx_http_aigw_report_t;


/* the zone's shared context */

typedef struct {
    ngx_http_aigw_health_t          health;
    ngx_http_aigw_counters_t        counters;
    ngx_http_aigw_report_t          report;
    void                           *obs;        /* ngx_http_aigw_obs.c */
} ngx_http_aigw_shctx_t;


/*
 * The stages of the handler (ngx_http_aigw_handler.c, where the contract
 * is): what a stage did, go on with the next stage, wait for an
 * asynchronous lookup, or finish the request with ctx->rc.
 */

typedef enum {
    ngx_http_aigw_next = 0,
    ngx_http_aigw_suspended,
    ngx_http_aigw_finished
} ngx_http_aigw_outcome_e;


typedef ngx_http_aigw_outcome_e (*ngx_http_aigw_stage_pt)(
    ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);


/*
 * The slots a stage is registered in (ngx_http_aigw_add_stage()); the
 * stages run slot by slot, those of a slot in the order they were added.
 */

typedef enum {
    NGX_HTTP_AIGW_STAGE_PARSE = 0,     /* parse and validate the body */
    NGX_HTTP_AIGW_STAGE_AUTH,          /* who is asking */
    NGX_HTTP_AIGW_STAGE_LIMITS,        /* may they, now */
    NGX_HTTP_AIGW_STAGE_PLAN           /* the targets, or a local answer */
} ngx_http_aigw_stage_slot_e;


/* aigw_redis (ngx_http_aigw_redis.c) */

typedef enum {
    ngx_http_aigw_redis_fail_local = 0,  /* the shm counters meanwhile */
    ngx_http_aigw_redis_fail_open,       /* allow, log */
    ngx_http_aigw_redis_fail_closed      /* 503 */
} ngx_http_aigw_redis_fail_e;


typedef struct ngx_http_aigw_redis_s  ngx_http_aigw_redis_t;


typedef struct {
    ngx_array_t                     providers;   /* ngx_http_aigw_provider_t */
    ngx_array_t                     models;      /* ngx_http_aigw_model_t */
    ngx_array_t                     exact;       /* ngx_http_aigw_model_t *,
                                                    sorted by slug */
    ngx_array_t                     wildcards;   /* ngx_http_aigw_model_t * */

    ngx_shm_zone_t                 *zone;
    ngx_http_aigw_shctx_t          *sh;

    ngx_array_t                    *keys;        /* ngx_http_aigw_key_t,
                                                    sorted by hash */

    ngx_uint_t                      failures;    /* circuit breaker */
    ngx_msec_t                      open_time;
    ngx_msec_t                      cooldown;    /* when no Retry-After */

    ngx_flag_t                      ssl_verify;
    ngx_str_t                       ssl_trusted_certificate;
    ngx_uint_t                      ssl_verify_depth;
#if (NGX_HTTP_SSL)
    ngx_ssl_t                      *ssl;
#endif
    ngx_uint_t                      need_ssl;

    ngx_http_aigw_redis_t          *redis;       /* aigw_redis, or NULL */

    /* ngx_http_aigw_stage_pt, per slot, while the configuration is read */
    ngx_array_t                     slots[NGX_HTTP_AIGW_STAGE_PLAN + 1];
    ngx_http_aigw_stage_pt         *stages;      /* all, NULL-terminated */
} ngx_http_aigw_main_conf_t;


typedef struct {
    ngx_http_upstream_conf_t        upstream;

    ngx_flag_t                      pass;
    ngx_flag_t                      demo;
    ngx_array_t                    *fallbacks;   /* ngx_str_t */
    ngx_uint_t                      next;        /* NGX_HTTP_AIGW_NEXT_* */
    size_t                          max_response_size;
    ngx_uint_t                      max_tokens;
    ngx_uint_t                      max_json_tokens;
    ngx_flag_t                      expose_headers;
    ngx_array_t                    *pass_headers; /* ngx_str_t, lowercase */
    ngx_flag_t                      auth;        /* aigw_auth */
    ngx_http_complex_value_t       *user;        /* aigw_user */
} ngx_http_aigw_loc_conf_t;


/* canonical form between wire formats */

typedef enum {
    ngx_http_aigw_role_system = 0,
    ngx_http_aigw_role_user,
    ngx_http_aigw_role_assistant,
    ngx_http_aigw_role_tool
} ngx_http_aigw_role_e;


typedef enum {
    ngx_http_aigw_part_text = 1,
    ngx_http_aigw_part_image,
    ngx_http_aigw_part_tool_call,
    ngx_http_aigw_part_tool_result,
    ngx_http_aigw_part_thinking,
    ngx_http_aigw_part_redacted,
    ngx_http_aigw_part_document,
    ngx_http_aigw_part_signature          /* a delta of a thinking block */
} ngx_http_aigw_part_e;


/*
 * All strings are raw JSON string contents: escaped, without the quotes,
 * so they are copied from one format to another without decoding.
 * "input" and "schema" hold raw JSON values.
 */

typedef struct {
    ngx_uint_t                      type;
    ngx_str_t                       text;      /* text, thinking */
    ngx_str_t                       id;        /* tool call id */
    ngx_str_t                       name;      /* tool name */
    ngx_str_t                       input;     /* tool input (see below) */
    ngx_str_t                       signature; /* thinking, redacted data */
    ngx_str_t                       url;       /* image/document url */
    ngx_str_t                       media_type;
    ngx_str_t                       data;      /* base64 payload */
    ngx_str_t                       cache_control;  /* raw JSON */
    ngx_array_t                    *content;   /* tool result parts */

    unsigned                        input_string:1;  /* input is escaped
                                                        JSON text */
    unsigned                        is_error:1;
} ngx_http_aigw_part_t;


typedef struct {
    ngx_uint_t                      role;
    ngx_array_t                     parts;     /* ngx_http_aigw_part_t */
    ngx_str_t                       name;
    ngx_str_t                       tool_call_id;   /* role "tool" */
} ngx_http_aigw_msg_t;


typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       description;
    ngx_str_t                       schema;         /* raw JSON */
    ngx_str_t                       cache_control;  /* raw JSON */
    ngx_str_t                       strict;         /* raw JSON */
    size_t                          ns;             /* Responses: length of
                                                       "<namespace>__" in
                                                       name, 0: none */
} ngx_http_aigw_tool_t;


typedef enum {
    ngx_http_aigw_choice_unset = 0,
    ngx_http_aigw_choice_auto,
    ngx_http_aigw_choice_none,
    ngx_http_aigw_choice_any,
    ngx_http_aigw_choice_tool
} ngx_http_aigw_choice_e;


typedef enum {
    ngx_http_aigw_think_unset = 0,
    ngx_http_aigw_think_disabled,
    ngx_http_aigw_think_enabled,
    ngx_http_aigw_think_adaptive
} ngx_http_aigw_think_e;


/*
 * The canonical request.  Strings are escaped (raw JSON string contents),
 * as in ngx_http_aigw_part_t; temperature, top_p and top_k are raw JSON
 * numbers.
 */

typedef struct {
    ngx_array_t                     system;    /* ngx_http_aigw_part_t */
    ngx_array_t                     messages;  /* ngx_http_aigw_msg_t */
    ngx_array_t                     tools;     /* ngx_http_aigw_tool_t */
    ngx_array_t                     stop;      /* ngx_str_t */

    ngx_uint_t                      tool_choice;
    ngx_str_t                       tool_choice_name;
    ngx_int_t                       parallel_tools;   /* -1: unset */

    int64_t                         max_tokens;       /* -1: unset */
    ngx_str_t                       temperature;      /* raw numbers */
    ngx_str_t                       top_p;
    ngx_str_t                       top_k;
    ngx_str_t                       user;

    ngx_uint_t                      thinking;
    int64_t                         thinking_budget;
    ngx_str_t                       effort;

    /* JSON output: OpenAI response_format json_object or json_schema */
    ngx_uint_t                      json_output;      /* json_output_e */
    ngx_str_t                       json_schema;      /* raw JSON, or "" */
    ngx_str_t                       json_schema_name;
    ngx_str_t                       json_schema_strict;  /* raw JSON */

    /* /v1/embeddings: the texts (escaped), whether "input" was an array */
    ngx_array_t                     inputs;    /* ngx_str_t */
    ngx_uint_t                      input_array;
    int64_t                         dimensions;       /* -1: unset */

    /* image generations: the prompt (escaped), how many, the size */
    ngx_str_t                       prompt;
    int64_t                         n;                /* -1: unset */
    ngx_str_t                       size;
    unsigned                        aspect_ratio:1;   /* asked, unsupported */
    unsigned                        seed:1;

    /*
     * image output: chat answers with images ("modalities" or
     * providerOptions.google.responseModalities), the AI SDK's aspect
     * ratio (escaped), images as data URLs (response_format "url")
     */
    ngx_str_t                       aspect;
    unsigned                        image_output:1;
    unsigned                        url_images:1;
} ngx_http_aigw_chat_t;


typedef enum {
    ngx_http_aigw_json_output_none = 0,
    ngx_http_aigw_json_output_object,
    ngx_http_aigw_json_output_schema
} ngx_http_aigw_json_output_e;


typedef enum {
    ngx_http_aigw_stop_none = 0,
    ngx_http_aigw_stop_end,
    ngx_http_aigw_stop_length,
    ngx_http_aigw_stop_tool,
    ngx_http_aigw_stop_sequence,
    ngx_http_aigw_stop_filter,
    ngx_http_aigw_stop_pause
} ngx_http_aigw_stop_e;


/* the canonical response; id, model and stop_sequence are escaped */

typedef struct {
    ngx_str_t                       id;
    ngx_str_t                       model;
    ngx_array_t                     parts;     /* ngx_http_aigw_part_t */
    ngx_uint_t                      stop;
    ngx_str_t                       stop_sequence;
    ngx_array_t                    *embeddings;    /* ngx_str_t: raw JSON
                                                      arrays of numbers */
    ngx_array_t                    *images;        /* ngx_str_t: base64,
                                                      escaped */
} ngx_http_aigw_response_t;


typedef enum {
    ngx_http_aigw_ev_start = 1,        /* id, model */
    ngx_http_aigw_ev_block_start,      /* kind, id, name */
    ngx_http_aigw_ev_delta,            /* kind, text */
    ngx_http_aigw_ev_block_stop,
    ngx_http_aigw_ev_finish,           /* stop */
    ngx_http_aigw_ev_end,
    ngx_http_aigw_ev_error,            /* status, err_type, text */
    ngx_http_aigw_ev_ping,
    ngx_http_aigw_ev_raw_end           /* a passthrough stream ended
                                          without its end marker */
} ngx_http_aigw_ev_e;


/*
 * A canonical stream event; id, name, text and stop_sequence are escaped,
 * err_type is a plain name.
 */

typedef struct {
    ngx_uint_t                      type;
    ngx_uint_t                      kind;      /* ngx_http_aigw_part_e */
    ngx_str_t                       id;
    ngx_str_t                       name;
    ngx_str_t                       text;
    ngx_uint_t                      stop;
    ngx_str_t                       stop_sequence;
    ngx_uint_t                      status;
    ngx_str_t                       err_type;
} ngx_http_aigw_event_t;


/*
 * Token counts a provider reports are taken from 0 to TOKENS_MAX and prices
 * are at most PRICE_MAX micro-USD per 1M tokens, so that the cost (four
 * products and their sum) never overflows an int64_t.
 */

#define NGX_HTTP_AIGW_TOKENS_MAX  ((int64_t) 100000000)      /* 10^8 */
#define NGX_HTTP_AIGW_PRICE_MAX   ((int64_t) 10000000000LL)  /* $10000/1M */


typedef struct {
    int64_t                         input;     /* all prompt tokens */
    int64_t                         output;
    int64_t                         cache_read;
    int64_t                         cache_write;
    int64_t                         reasoning;
    unsigned                        seen:1;
} ngx_http_aigw_usage_t;


/*
 * An error made by the gateway or a provider, in canonical terms; all its
 * strings are escaped (a provider's type is copied as it came).
 */

typedef struct {
    ngx_uint_t                      status;
    ngx_str_t                       type;      /* canonical error type */
    ngx_str_t                       message;   /* escaped JSON text */
    ngx_str_t                       param;
    ngx_str_t                       code;
} ngx_http_aigw_error_t;


/* one (provider, model) that may serve the request */

typedef struct {
    ngx_http_aigw_provider_t       *provider;
    ngx_http_aigw_model_t          *model;
    ngx_str_t                       slug;      /* model slug asked for */
    ngx_str_t                       id;        /* provider model id */

    ngx_event_get_peer_pt           get;       /* the provider's balancer */
    ngx_event_free_peer_pt          free;
    void                           *data;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt   set_session;
    ngx_event_save_peer_session_pt  save_session;
#endif
    ngx_uint_t                      tries;

    unsigned                        inited:1;
    unsigned                        done:1;
    unsigned                        cooled:1;
    unsigned                        byok:1;    /* with the request's
                                                  BYOK credential */
} ngx_http_aigw_target_t;


/* why an attempt got no HTTP status; ngx_http_aigw_failure_names[] */

typedef enum {
    ngx_http_aigw_failure_none = 0,
    ngx_http_aigw_failure_down,        /* skipped: no live server */
    ngx_http_aigw_failure_no_key,      /* skipped: its key is missing */
    ngx_http_aigw_failure_unresolved,  /* skipped: its host is unknown */
    ngx_http_aigw_failure_timeout,
    ngx_http_aigw_failure_error,       /* connection error */
    ngx_http_aigw_failure_invalid,     /* invalid response */
    ngx_http_aigw_failure_last
} ngx_http_aigw_failure_e;


typedef struct {
    ngx_http_aigw_target_t         *target;
    ngx_uint_t                      status;    /* HTTP status, 0: none */
    ngx_uint_t                      failure;   /* ngx_http_aigw_failure_e */
} ngx_http_aigw_attempt_t;


typedef enum {
    ngx_http_aigw_rs_status = 0,
    ngx_http_aigw_rs_headers,
    ngx_http_aigw_rs_first_byte,
    ngx_http_aigw_rs_body,
    ngx_http_aigw_rs_done
} ngx_http_aigw_rs_e;


/*
 * a top-level request field and the JSON types it may have; a format has
 * at most FIELDS_MAX of them (checked when the configuration is loaded)
 */

#define NGX_HTTP_AIGW_FIELDS_MAX        256

typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      type;      /* ngx_http_aigw_json_type_e */
    ngx_uint_t                      alt;       /* another type, or 0 */
    ngx_uint_t                      integer;   /* an integral number */
    const char                     *expect;
} ngx_http_aigw_field_t;


/*
 * What a format's sign() hook gets, per try, once the body and the request
 * target are final: the method, the path and the query as sent (the query
 * without "?"), the request headers written so far ("Name: value" CRLF
 * lines, Host and Content-Length among them, without the blank line that
 * ends them) and the body, a chain of memory buffers of body_len bytes in
 * all, which it must not change.  It may append header lines to "headers"
 * (e.g. the date and the signature of AWS SigV4); it runs on every try,
 * after the provider's own headers.
 */

typedef struct {
    ngx_str_t                       method;
    ngx_str_t                       path;
    ngx_str_t                       query;
    ngx_http_aigw_jw_t             *headers;
    ngx_chain_t                    *body;
    size_t                          body_len;
} ngx_http_aigw_sign_t;


/*
 * A wire format: the only code that knows a format's shapes.  Client
 * side: parse what a client sent, write what it gets back.  Provider
 * side: build the request, parse responses, events and errors.
 */

struct ngx_http_aigw_format_s {
    ngx_str_t                       name;
    ngx_str_t                       paths[ngx_http_aigw_ep_last];
    ngx_uint_t                      auth;      /* default */
    ngx_uint_t                      own_credential;  /* a byok gateway
                                                        key's client may
                                                        send its own */

    /*
     * client side: the URI suffixes of the endpoints it serves, and a
     * request header that names it where every format is served (models)
     */

    ngx_str_t                       client_paths[ngx_http_aigw_ep_last];
    ngx_str_t                       client_header;

    /* client side: fields checked on every request, and how it says so */

    const ngx_http_aigw_field_t    *fields;
    const char                     *field_error;   /* "%s", "%s" */

    ngx_int_t                     (*validate)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx);
    ngx_int_t                     (*parse_request)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_json_t *j,
                                        ngx_http_aigw_chat_t *chat);
    ngx_int_t                     (*write_response)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_response_t *resp,
                                        ngx_http_aigw_jw_t *w);
    ngx_int_t                     (*write_event)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_event_t *ev,
                                        ngx_http_aigw_jw_t *w);
    void                          (*write_error)(ngx_http_aigw_jw_t *w,
                                        ngx_http_aigw_error_t *err);
    void                          (*write_models)(ngx_http_request_t *r,
                                        ngx_http_aigw_jw_t *w,
                                        ngx_array_t *models, ngx_uint_t one);
    void                          (*write_count)(ngx_http_aigw_jw_t *w,
                                        int64_t tokens);

    /*
     * provider side; passthrough() gets in *n how many edits fit, and
     * returns in it how many it made
     */

    ngx_int_t                     (*passthrough)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_target_t *t,
                                        ngx_http_aigw_json_edit_t *edits,
                                        ngx_uint_t *n);
    ngx_int_t                     (*write_request)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_target_t *t,
                                        ngx_http_aigw_jw_t *w);
    ngx_int_t                     (*request_headers)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_target_t *t,
                                        ngx_http_aigw_jw_t *w);
    ngx_int_t                     (*parse_response)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_str_t *body,
                                        ngx_http_aigw_response_t *resp);
    ngx_int_t                     (*parse_event)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_sse_event_t *sev,
                                        ngx_array_t *events);
    void                          (*parse_error)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_str_t *body,
                                        ngx_http_aigw_error_t *err);

    /* how its streams are framed (see ngx_http_aigw_sse.h) */

    const ngx_http_aigw_framing_t  *framing;

    /*
     * The request target after the provider's base path, for the endpoint,
     * stream or not, and the model id (t->id): *path is appended to the
     * base path, *query (without "?", may be empty) to the provider's
     * query.  NULL: paths[ctx->endpoint] and no query.
     */
    ngx_int_t                     (*target)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_target_t *t,
                                        ngx_str_t *path, ngx_str_t *query);

    /*
     * the surface's rate-limit response headers for "requests" or
     * "tokens": the limit, what remains, and in how many ms it is full
     * again (now: ms since the epoch)
     */
    ngx_int_t                     (*ratelimit_headers)(ngx_http_request_t *r,
                                        const char *what, int64_t limit,
                                        int64_t remaining, int64_t reset,
                                        int64_t now);

    /* request signing (see ngx_http_aigw_sign_t), NULL: none */
    ngx_int_t                     (*sign)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx,
                                        ngx_http_aigw_target_t *t,
                                        ngx_http_aigw_sign_t *sign);

    /*
     * client side: the model and streaming come from request headers,
     * not from the body's "model" and "stream" (NULL: from the body);
     * it returns NGX_DECLINED to go on, as the handler's stages do
     */
    ngx_int_t                     (*request_model)(ngx_http_request_t *r,
                                        ngx_http_aigw_ctx_t *ctx);

    /* client side: the URI suffix of its own model list, or empty */
    ngx_str_t                       models_path;
};


/*
 * The request context.  Each group is written by the stage named in its
 * comment and only read by the others.  Strings: "decoded" is the text a
 * JSON string stands for (to compare, log or escape again); "escaped" is
 * raw JSON string contents, copied to JSON output as they are and never
 * into a header or a log unescaped; header values are as the provider
 * sent them (pool copies).
 */

struct ngx_http_aigw_ctx_s {
    ngx_http_request_t             *request;

    /* the stages, run by the handler (handler.c) */
    ngx_uint_t                      stage;     /* the next one */
    ngx_int_t                       rc;        /* when finished */
    ngx_http_cleanup_pt            *release;   /* while suspended */

    /* the request, set by the handler's prepare stage (handler.c) */
    ngx_uint_t                      endpoint;
    const ngx_http_aigw_format_t   *client;
    ngx_str_t                       body;      /* as the client sent it */
    ngx_http_aigw_json_t            json;      /* top level of the body */
    ngx_str_t                       model;     /* slug asked for, decoded */
    ngx_uint_t                      model_tok; /* its value token */
    ngx_uint_t                      options_key;  /* providerOptions */
    ngx_uint_t                      stream_options_tok;
    ngx_http_aigw_json_t            options;   /* providerOptions.gateway */
    ngx_array_t                    *order;     /* ngx_str_t, decoded */
    ngx_array_t                    *only;      /* ngx_str_t, decoded */
    ngx_array_t                    *models;    /* ngx_str_t, decoded */
    ngx_str_t                       user;      /* decoded */
    ngx_str_t                       tags;      /* a raw JSON value */
    ngx_http_aigw_chat_t           *chat;      /* canonical (escaped
                                                  strings), on demand */
    ngx_array_t                    *bodies;    /* translated, kept for
                                                  the tries (request.c) */

    /* who is asking, set by the auth stage (key.c) */
    const ngx_http_aigw_key_t      *key;       /* NULL: aigw_auth off */
    ngx_array_t                    *tag_list;  /* ngx_str_t, decoded: the
                                                  key's, then the
                                                  client's */
    ngx_array_t                    *byok;      /* ngx_http_aigw_byok_t */

    /* limits and budgets, set by the limits stage (limit.c) */
    void                           *limits;    /* reservations held */
    ngx_str_t                       limit;     /* the one that decided */
    int64_t                         budget_remaining;  /* micro-USD,
                                                          -1: none */

    /* the plan, set by the handler's plan stage (handler.c) */
    ngx_array_t                     plan;      /* ngx_http_aigw_target_t */
    ngx_uint_t                      cur;

    /* attempts, set by the balancer (balancer.c) */
    ngx_http_aigw_target_t         *target;
    ngx_array_t                     attempts;  /* ngx_http_aigw_attempt_t */
    ngx_msec_t                      start;     /* ngx_current_msec when
                                                  the handler began */

    /*
     * the provider response, set by the upstream callbacks (upstream.c)
     * and reset per try by ngx_http_aigw_response_reset(); also the
     * failure of the current attempt, which the balancer records
     */
    ngx_uint_t                      failure;
    ngx_uint_t                      rstate;
    ngx_uint_t                      status;
    ngx_http_status_t               status_line;
    off_t                           content_length;
    ngx_str_t                       content_type;  /* header values */
    ngx_str_t                       retry_after;
    ngx_str_t                       request_id;
    u_char                         *acc;       /* non-stream body */
    size_t                          acc_len;
    size_t                          acc_cap;
    ngx_http_aigw_chunked_t         chunked;
    void                           *frames;    /* framing parser state */
    ngx_http_aigw_json_t            ej;        /* per-event scratch */
    ngx_http_aigw_json_t            eu;        /* usage of an event */
    ngx_http_aigw_jw_t              out;       /* client output */
    ngx_array_t                     events;    /* ngx_http_aigw_event_t */
    void                           *pstate;    /* provider parser state */
    void                           *wstate;    /* client writer state */
    ngx_http_aigw_usage_t           usage;
    ngx_http_aigw_error_t           error;     /* also by the handler and
                                                  ngx_http_aigw_reject() */
    ngx_msec_t                      first_byte;  /* ngx_current_msec when
                                                    the body's first byte
                                                    went to the client,
                                                    kept across tries */

    /* settled in the log phase */
    int64_t                         cost;      /* micro-USD, -1: unpriced */
    ngx_uint_t                      images;    /* images the provider made */

    /* observability (obs.c); cache_status is set by the response cache */
    ngx_str_t                       generation_id;   /* gen_... */
    ngx_str_t                       cache_status;    /* empty: no cache */
    ngx_uint_t                      finish;    /* ngx_http_aigw_stop_e */
    ngx_uint_t                      sort;      /* sort: 0 none, obs.c */

    /* the request (handler.c) */
    unsigned                        stream:1;
    unsigned                        include_usage:1;  /* client asked */

    /* a byok key came in x-ai-gateway-api-key: the client's own
       Authorization or x-api-key goes to Anthropic providers (key.c) */
    unsigned                        own_auth:1;

    /* per try: the provider's format is not the client's (request.c) */
    unsigned                        translate:1;

    /* the response (upstream.c), and the gateway's own answer (error.c) */
    unsigned                        chunked_body:1;
    unsigned                        sse_body:1;
    unsigned                        close_delimited:1;
    unsigned                        connection_close:1;
    unsigned                        finished:1;       /* stream ended */
    unsigned                        stopped:1;        /* finish seen */
    unsigned                        sse_out:1;        /* client gets SSE */
    unsigned                        headers_out:1;
    unsigned                        gateway_error:1;  /* we answered */
    unsigned                        estimated:1;
    unsigned                        last_sent:1;      /* last_buf is out */
    unsigned                        settled:1;        /* log phase ran */
};


/* what a request URI asks for */

typedef enum {
    ngx_http_aigw_route_none = 0,
    ngx_http_aigw_route_api,           /* an endpoint of a format */
    ngx_http_aigw_route_models,
    ngx_http_aigw_route_model
} ngx_http_aigw_route_e;


/* ngx_http_aigw_module.c */

extern ngx_module_t                          ngx_http_aigw_module;
extern ngx_module_t                          ngx_http_aigw_filter_module;
extern const ngx_http_aigw_format_t         *ngx_http_aigw_formats[];

#if (NGX_HTTP_SSL)
ngx_ssl_t *ngx_http_aigw_ssl_create(ngx_conf_t *cf, ngx_flag_t verify,
    ngx_str_t *trusted, ngx_uint_t depth);
#endif

ngx_int_t ngx_http_aigw_pass_headers(ngx_http_request_t *r,
    const ngx_http_aigw_format_t *format, ngx_http_aigw_jw_t *w,
    const char *own, ngx_str_t *value);
#define ngx_http_aigw_default_format  ngx_http_aigw_formats[0]

const ngx_http_aigw_format_t *ngx_http_aigw_find_format(ngx_str_t *name);
const ngx_http_aigw_format_t *ngx_http_aigw_target_format(
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_provider_t *p);
ngx_uint_t ngx_http_aigw_classify(ngx_http_request_t *r,
    const ngx_http_aigw_format_t **format, ngx_uint_t *endpoint,
    ngx_str_t *id);
ngx_int_t ngx_http_aigw_endpoints_text(ngx_pool_t *pool, ngx_str_t *out);

/* ngx_http_aigw_conf.c */

char *ngx_http_aigw_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_aigw_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_aigw_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_aigw_init_models(ngx_conf_t *cf,
    ngx_http_aigw_main_conf_t *amcf);
ngx_http_aigw_model_t *ngx_http_aigw_find_model(
    ngx_http_aigw_main_conf_t *amcf, ngx_str_t *slug);
ngx_http_aigw_provider_t *ngx_http_aigw_find_provider(
    ngx_http_aigw_main_conf_t *amcf, ngx_str_t *name);
void ngx_http_aigw_model_id(ngx_http_aigw_model_t *m,
    ngx_http_aigw_route_t *rt, ngx_str_t *slug, ngx_str_t *id);

ngx_int_t ngx_http_aigw_getenv(ngx_conf_t *cf, ngx_str_t *name,
    u_char **value);

/* ngx_http_aigw_key.c */

char *ngx_http_aigw_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_aigw_keys_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_aigw_user(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_aigw_key_init(ngx_conf_t *cf);
ngx_int_t ngx_http_aigw_authenticate(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_caller(ngx_http_request_t *r,
    const ngx_http_aigw_key_t **caller);
ngx_uint_t ngx_http_aigw_key_allows(const ngx_http_aigw_key_t *key,
    ngx_str_t *slug);
ngx_table_elt_t *ngx_http_aigw_client_credential(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_str_t *ngx_http_aigw_byok_key(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_provider_t *p);

/* ngx_http_aigw_handler.c */

ngx_int_t ngx_http_aigw_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_aigw_add_stage(ngx_conf_t *cf, ngx_uint_t slot,
    ngx_http_aigw_stage_pt handler);
ngx_int_t ngx_http_aigw_add_core_stages(ngx_conf_t *cf);
ngx_int_t ngx_http_aigw_init_stages(ngx_cycle_t *cycle);
ngx_int_t ngx_http_aigw_suspend(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_cleanup_pt release, void *data);
void ngx_http_aigw_resume(ngx_http_request_t *r);
ngx_int_t ngx_http_aigw_log_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_aigw_request_body(ngx_http_request_t *r, ngx_str_t *body);

/* ngx_http_aigw_upstream.c */

ngx_int_t ngx_http_aigw_upstream_start(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
void ngx_http_aigw_response_reset(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_response_sse(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
ngx_int_t ngx_http_aigw_stream_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *sse, ngx_http_aigw_jw_t *w);

/* ngx_http_aigw_cache.c */

extern ngx_module_t  ngx_http_aigw_cache_module;

ngx_int_t ngx_http_aigw_cache_start(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_cache_hit(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_cache_response(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
void ngx_http_aigw_cache_pipe_init(ngx_http_request_t *r);
ngx_uint_t ngx_http_aigw_cache_stale_error(ngx_http_request_t *r);

/* ngx_http_aigw_balancer.c */

ngx_int_t ngx_http_aigw_balancer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);

/* ngx_http_aigw_request.c */

ngx_int_t ngx_http_aigw_build_request(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t);
ngx_int_t ngx_http_aigw_passthrough_edits(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_target_t *t,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t *n);
void ngx_http_aigw_passthrough_sort(ngx_http_aigw_json_edit_t *edits,
    ngx_uint_t n);

/* ngx_http_aigw_canonical.c */

typedef ngx_int_t (*ngx_http_aigw_parse_field_pt)(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t k,
    ngx_http_aigw_chat_t *chat);
typedef ngx_int_t (*ngx_http_aigw_parse_message_pt)(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t e,
    ngx_http_aigw_msg_t *msg);


ngx_http_aigw_msg_t *ngx_http_aigw_msg_add(ngx_pool_t *pool,
    ngx_array_t *messages);
ngx_http_aigw_part_t *ngx_http_aigw_part_add(ngx_array_t *parts,
    ngx_uint_t type);
ngx_http_aigw_tool_t *ngx_http_aigw_tool_add(ngx_array_t *tools);
ngx_int_t ngx_http_aigw_write_tool_input(ngx_http_request_t *r,
    ngx_http_aigw_jw_t *w, ngx_http_aigw_part_t *part);
extern const char  *ngx_http_aigw_usage_chat[];
extern const char  *ngx_http_aigw_usage_responses[];
void ngx_http_aigw_usage_read(ngx_http_aigw_json_t *j, ngx_uint_t u,
    ngx_http_aigw_usage_t *usage, const char **names);
ngx_http_aigw_event_t *ngx_http_aigw_event_add(ngx_array_t *events,
    ngx_uint_t type, ngx_uint_t kind);
ngx_int_t ngx_http_aigw_parse_stop(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_http_aigw_chat_t *chat, ngx_uint_t one, const char *what);
ngx_int_t ngx_http_aigw_parse_chat(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_json_t *j,
    ngx_http_aigw_chat_t *chat, ngx_http_aigw_parse_field_pt field,
    ngx_http_aigw_parse_message_pt message, const char *invalid);
ngx_int_t ngx_http_aigw_parse_text(ngx_http_aigw_json_t *j, ngx_uint_t v,
    ngx_array_t *parts);
ngx_int_t ngx_http_aigw_event_keep(ngx_pool_t *pool,
    ngx_http_aigw_event_t *ev, ngx_str_t *id, ngx_str_t *model);
void ngx_http_aigw_write_model(ngx_http_aigw_jw_t *w, ngx_str_t *model,
    ngx_str_t *requested);

/* ngx_http_aigw_health.c */

ngx_int_t ngx_http_aigw_health_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_uint_t ngx_http_aigw_health_cooled(ngx_http_request_t *r,
    ngx_http_aigw_target_t *t);
void ngx_http_aigw_health_report(ngx_http_request_t *r,
    ngx_http_aigw_target_t *t, ngx_uint_t status, ngx_uint_t failed,
    ngx_str_t *retry_after);

/* ngx_http_aigw_keepalive.c */

ngx_int_t ngx_http_aigw_ka_init_process(ngx_cycle_t *cycle,
    ngx_http_aigw_provider_t *p);
ngx_int_t ngx_http_aigw_ka_get(ngx_peer_connection_t *pc,
    ngx_http_aigw_provider_t *p);
void ngx_http_aigw_ka_free(ngx_peer_connection_t *pc, ngx_http_request_t *r,
    ngx_http_aigw_provider_t *p, ngx_uint_t state);

/*
 * Answers to the client, one contract each:
 *   ngx_http_aigw_reject()       records a 400 (printf-like message) in
 *                                ctx->error and sends nothing: the caller
 *                                returns NGX_DECLINED and the handler
 *                                sends the record (util.c, for adapters);
 *   ngx_http_aigw_send_error()   builds a gateway error from a status and
 *                                a printf-like plain-text message and
 *                                sends it now, in the client's shape;
 *   ngx_http_aigw_send_error_record()  sends an ngx_http_aigw_error_t
 *                                (its strings escaped) now, in the
 *                                client's shape, and keeps it in ctx;
 *   ngx_http_aigw_send_body()    sends a status and a body as they are,
 *                                with the given Content-Type
 *                                (ngx_http_aigw_send_json: JSON).
 * The senders return what ngx_http_finalize_request() expects.
 */

/* ngx_http_aigw_util.c */

extern ngx_str_t  ngx_http_aigw_failure_names[];

ngx_uint_t ngx_http_aigw_overloaded(ngx_uint_t status);
u_char *ngx_http_aigw_rfc3339(u_char *p, time_t t);
ngx_int_t ngx_http_aigw_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_aigw_reject(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, const char *fmt, ...);
void ngx_http_aigw_attempts_text(ngx_http_aigw_ctx_t *ctx, ngx_str_t *out,
    ngx_pool_t *pool);
ngx_int_t ngx_http_aigw_query_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_connection_t *ngx_http_aigw_connect(struct sockaddr *sockaddr,
    socklen_t socklen, ngx_str_t *name, ngx_log_t *log, ngx_int_t *rc);
ngx_err_t ngx_http_aigw_connect_error(ngx_connection_t *c);
#if (NGX_HTTP_SSL)
ngx_int_t ngx_http_aigw_ssl_client(ngx_connection_t *c, ngx_ssl_t *ssl,
    ngx_str_t *host, ngx_uint_t host_ip);
ngx_int_t ngx_http_aigw_ssl_check_host(ngx_connection_t *c, ngx_str_t *host,
    ngx_uint_t host_ip);
#endif

/* ngx_http_aigw_error.c */

ngx_int_t ngx_http_aigw_send_error(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_uint_t status, const char *type,
    const char *fmt, ...);
ngx_int_t ngx_http_aigw_send_error_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_error_t *err);
ngx_int_t ngx_http_aigw_error_body(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_http_aigw_error_t *err, ngx_chain_t **out,
    size_t *len);
ngx_int_t ngx_http_aigw_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_chain_t *body, off_t len);
const ngx_http_aigw_format_t *ngx_http_aigw_surface(ngx_http_request_t *r);
void ngx_http_aigw_error_type(ngx_uint_t status, ngx_str_t *type);

#define ngx_http_aigw_send_json(r, status, body, len)                        \
    ngx_http_aigw_send_body(r, status, "application/json", body, len)

/* ngx_http_aigw_openai.c, ngx_http_aigw_anthropic.c */

extern const ngx_http_aigw_format_t  ngx_http_aigw_openai_format;
extern const ngx_http_aigw_format_t  ngx_http_aigw_anthropic_format;

/* ngx_http_aigw_responses.c */

extern const ngx_http_aigw_format_t  ngx_http_aigw_responses_format;

/* ngx_http_aigw_gemini.c */

extern const ngx_http_aigw_format_t  ngx_http_aigw_gemini_format;

/* ngx_http_aigw_aisdk.c */

extern const ngx_http_aigw_format_t  ngx_http_aigw_aisdk_format;

/* ngx_http_aigw_vertex.c */

char *ngx_http_aigw_vertex_param(ngx_conf_t *cf, ngx_http_aigw_provider_t *p,
    ngx_str_t *name, ngx_str_t *value);
char *ngx_http_aigw_vertex_init(ngx_conf_t *cf, ngx_http_aigw_provider_t *p);
ngx_int_t ngx_http_aigw_vertex_add_stage(ngx_conf_t *cf);
ngx_uint_t ngx_http_aigw_vertex_ready(ngx_http_aigw_provider_t *p);
void ngx_http_aigw_vertex_auth(ngx_http_aigw_provider_t *p,
    ngx_http_aigw_jw_t *w);
ngx_int_t ngx_http_aigw_vertex_path(ngx_http_request_t *r,
    ngx_http_aigw_provider_t *p, const char *publisher, ngx_str_t *id,
    ngx_str_t *method, ngx_str_t *path);

/* ngx_http_aigw_bedrock.c, ngx_http_aigw_sigv4.c */

extern const ngx_http_aigw_format_t  ngx_http_aigw_bedrock_format;

/*
 * A request to sign: the headers to sign have lower-case names, trimmed
 * values and are sorted by name; the path is the one sent; date is
 * "YYYYMMDDTHHMMSSZ"; payload the hex SHA-256 of the body.  The signing
 * key is derived, or taken from and kept in "aws" (NULL: derived).
 */

typedef struct {
    ngx_str_t                       access_key;
    ngx_str_t                       secret;
    ngx_str_t                       region;
    ngx_str_t                       service;
    ngx_str_t                       method;
    ngx_str_t                       path;
    ngx_str_t                       query;
    ngx_keyval_t                   *headers;
    ngx_uint_t                      nheaders;
    u_char                         *date;      /* 16 bytes */
    u_char                         *payload;   /* 64 hex digits */
    ngx_http_aigw_aws_t            *aws;
} ngx_http_aigw_sigv4_t;

ngx_int_t ngx_http_aigw_sigv4_param(ngx_conf_t *cf,
    ngx_http_aigw_provider_t *p, ngx_str_t *param);
char *ngx_http_aigw_sigv4_conf(ngx_conf_t *cf, ngx_http_aigw_provider_t *p);
ngx_int_t ngx_http_aigw_sigv4_hash(ngx_chain_t *body, u_char *hex);
ngx_int_t ngx_http_aigw_sigv4_sign(ngx_pool_t *pool, ngx_http_aigw_sigv4_t *s,
    ngx_str_t *authorization);

/* ngx_http_aigw_variables.c */

ngx_int_t ngx_http_aigw_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_aigw_register_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
int64_t ngx_http_aigw_cost(ngx_http_aigw_ctx_t *ctx,
    ngx_http_aigw_model_t *m);

/* ngx_http_aigw_store_shm.c */

typedef void (*ngx_http_aigw_counter_done_pt)(ngx_http_request_t *r,
    ngx_int_t rc);

typedef struct {
    const char                     *name;
    ngx_int_t                     (*reserve)(ngx_http_request_t *r,
                                        ngx_http_aigw_counter_op_t *ops,
                                        ngx_uint_t n,
                                        ngx_http_aigw_counter_done_pt done,
                                        void **pending);
    void                          (*settle)(ngx_http_request_t *r,
                                        ngx_http_aigw_counter_op_t *ops,
                                        ngx_uint_t n);
    ngx_int_t                     (*read)(ngx_http_request_t *r,
                                        ngx_http_aigw_counter_op_t *ops,
                                        ngx_uint_t n,
                                        ngx_http_aigw_counter_done_pt done,
                                        void **pending);
    void                          (*cancel)(void *pending);
} ngx_http_aigw_counter_backend_t;

extern const ngx_http_aigw_counter_backend_t  ngx_http_aigw_store_shm;
extern const ngx_http_aigw_counter_backend_t  ngx_http_aigw_store_redis;

void ngx_http_aigw_store_shm_init(ngx_http_aigw_counters_t *c);

/* ngx_http_aigw_redis.c */

/*
 * The Redis client of a worker: one connection, opened on first use,
 * commands of many requests pipelined on it, replies matched in order.
 *
 * ngx_http_aigw_redis_send() queues one command: argv[0..argc-1], or,
 * with a script, "EVALSHA <sha1> argv..." (argv[0] is numkeys) with a
 * fallback to "EVAL <body> argv..." on NOSCRIPT.  Returns
 *   NGX_OK        queued: handler(data, reply) runs exactly once, later,
 *                 from an event handler (never from within send());
 *                 reply is NULL when the call failed (connection lost,
 *                 timeout, refused auth, garbage) and is valid only
 *                 while the handler runs; a NULL handler: the reply is
 *                 dropped (errors are logged);
 *   NGX_DECLINED  Redis is down (the circuit breaker is open): nothing
 *                 was queued, the caller follows the fail= policy;
 *   NGX_ERROR     no memory.
 * The arguments are copied: they may live in a pool that goes away.  A
 * handler may send again.
 */

struct redisReply;

typedef void (*ngx_http_aigw_redis_handler_pt)(void *data,
    struct redisReply *reply);

typedef struct {
    ngx_str_t                       body;      /* Lua */
    u_char                          sha1[40];  /* hex, of the body */
    unsigned                        ready:1;   /* sha1 computed */
} ngx_http_aigw_redis_script_t;

char *ngx_http_aigw_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_aigw_redis_send(ngx_http_aigw_redis_t *rd,
    ngx_http_aigw_redis_script_t *script, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_aigw_redis_handler_pt handler, void *data);
ngx_uint_t ngx_http_aigw_redis_fail(ngx_http_aigw_redis_t *rd);

/* ms to add to this node's clock to get Redis's (TIME at connect) */
int64_t ngx_http_aigw_redis_clock(ngx_http_aigw_redis_t *rd);

/* ngx_http_aigw_limit.c */

/* seconds added to the clock of limits and budgets; tests only */
extern int64_t  ngx_http_aigw_clock_offset;

int64_t ngx_http_aigw_limit_now(void);
void ngx_http_aigw_limit_settle(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_budget_status(ngx_http_request_t *r,
    const ngx_http_aigw_key_t *key, ngx_http_aigw_counter_done_pt done);
void ngx_http_aigw_budget_result(ngx_http_request_t *r, int64_t *remaining,
    int64_t *used);
ngx_int_t ngx_http_aigw_parse_limit_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_aigw_limit_t *limit);
ngx_int_t ngx_http_aigw_parse_budget(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_aigw_budget_t *budget);


/* ngx_http_aigw_report.c */

extern ngx_module_t  ngx_http_aigw_report_module;

void ngx_http_aigw_report_init_zone(ngx_http_aigw_report_t *rp);
void ngx_http_aigw_report_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);

/* ngx_http_aigw_obs.c */

extern ngx_module_t  ngx_http_aigw_obs_module;

ngx_int_t ngx_http_aigw_obs_start(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_obs_headers(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
void ngx_http_aigw_obs_record(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_obs_sort_option(ngx_http_request_t *r,
    ngx_http_aigw_ctx_t *ctx, ngx_str_t *value);
void ngx_http_aigw_obs_sort(ngx_http_request_t *r, ngx_http_aigw_ctx_t *ctx);
ngx_int_t ngx_http_aigw_obs_add_variables(ngx_conf_t *cf);
ngx_uint_t ngx_http_aigw_obs_once(ngx_http_request_t *r, ngx_str_t *key,
    int64_t until);
void *ngx_http_aigw_obs_alerts(ngx_http_request_t *r);

/* ngx_http_aigw_alert.c */

void ngx_http_aigw_alert_budget(ngx_http_request_t *r, ngx_str_t *budget,
    ngx_str_t *counter, int64_t used, int64_t amount, ngx_uint_t exceeded);
void ngx_http_aigw_alert_circuit(ngx_http_request_t *r, ngx_str_t *provider,
    ngx_str_t *model, ngx_msec_t open);

/* ngx_http_aigw_health.c: 0 closed, 1 open, 2 cooling down */

ngx_uint_t ngx_http_aigw_health_state(ngx_http_aigw_main_conf_t *amcf,
    ngx_str_t *provider, ngx_str_t *id);

/* ngx_http_aigw_demo.c */

ngx_int_t ngx_http_aigw_demo_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_AIGW_MODULE_H_INCLUDED_ */
