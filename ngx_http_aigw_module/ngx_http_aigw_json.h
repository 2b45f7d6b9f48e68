
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#ifndef _NGX_HTTP_AIGW_JSON_H_INCLUDED_
#define _NGX_HTTP_AIGW_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A validating single-pass JSON scanner that records a flat "tape" of
 * tokens with byte offsets into the document, and no tree.  Values nested
 * deeper than "record" are validated and skipped as a whole, so the hot
 * path records only the top level of a request.
 *
 * An object is laid out as  [object][key][value...][key][value...]
 * and an array as           [array][value...][value...]
 * where "next" of every token is the index of the token after its subtree.
 */


#define NGX_HTTP_AIGW_JSON_NONE        ((ngx_uint_t) -1)
#define NGX_HTTP_AIGW_JSON_MAX_DEPTH   128

#define NGX_HTTP_AIGW_JSON_RECORD_ALL  NGX_HTTP_AIGW_JSON_MAX_DEPTH

/* the default of aigw_max_json_tokens, for request bodies */
#define NGX_HTTP_AIGW_JSON_MAX_TOKENS  250000


typedef enum {
    ngx_http_aigw_json_object = 1,
    ngx_http_aigw_json_array,
    ngx_http_aigw_json_string,
    ngx_http_aigw_json_number,
    ngx_http_aigw_json_true,
    ngx_http_aigw_json_false,
    ngx_http_aigw_json_null
} ngx_http_aigw_json_type_e;


#define NGX_HTTP_AIGW_JSON_ESCAPED     0x01    /* string has backslashes */
#define NGX_HTTP_AIGW_JSON_INTEGER     0x02    /* number has no . e E */


typedef struct {
    uint32_t                   start;    /* first byte of the value */
    uint32_t                   end;      /* one past its last byte */
    uint32_t                   next;     /* token after the subtree */
    uint32_t                   count;    /* members or elements */
    uint8_t                    type;
    uint8_t                    flags;
} ngx_http_aigw_json_tok_t;


typedef struct {
    ngx_pool_t                *pool;
    u_char                    *start;    /* the document */
    size_t                     len;

    ngx_http_aigw_json_tok_t  *toks;     /* may be preallocated */
    ngx_uint_t                 ntoks;
    ngx_uint_t                 cap;

    ngx_uint_t                 record;   /* deepest recorded level */
    ngx_uint_t                 max;      /* tokens; 0: no cap */

    const char                *err;      /* static text */
    size_t                     err_pos;

    ngx_uint_t                 unique;   /* getters look for duplicates */
    const char                *dup;      /* the first key found twice */
    unsigned                   too_many:1;  /* NGX_ERROR from the cap */
} ngx_http_aigw_json_t;


typedef struct {
    ngx_pool_t                *pool;
    ngx_chain_t               *out;
    ngx_chain_t              **last;
    ngx_buf_t                 *buf;
    ngx_chain_t              **free;     /* recycled buffers, optional */
    ngx_buf_tag_t              tag;
    size_t                     block;
    size_t                     size;     /* bytes written */
    ngx_uint_t                 error;
} ngx_http_aigw_jw_t;


typedef struct {
    size_t                     start;
    size_t                     end;
    ngx_str_t                  text;
} ngx_http_aigw_json_edit_t;


ngx_int_t ngx_http_aigw_json_parse(ngx_http_aigw_json_t *j, u_char *p,
    size_t len);
ngx_int_t ngx_http_aigw_json_sub(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_http_aigw_json_t *sub, ngx_uint_t record);

ngx_uint_t ngx_http_aigw_json_get(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key);
ngx_uint_t ngx_http_aigw_json_get_unique(ngx_http_aigw_json_t *j,
    ngx_uint_t obj, const char *key, ngx_uint_t *key_tok);
ngx_uint_t ngx_http_aigw_json_key_eq(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    const char *key);

void ngx_http_aigw_json_raw(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_str_t *raw);
void ngx_http_aigw_json_str_raw(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_str_t *raw);
ngx_int_t ngx_http_aigw_json_str(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_str_t *s);
ngx_int_t ngx_http_aigw_json_int(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    int64_t *v);
ngx_int_t ngx_http_aigw_json_count(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    int64_t max, int64_t *v);
ngx_uint_t ngx_http_aigw_json_str_eq(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    const char *s);

ngx_int_t ngx_http_aigw_json_unescape(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_str_t *out);
ngx_int_t ngx_http_aigw_json_member(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_uint_t type, ngx_uint_t *v);
ngx_uint_t ngx_http_aigw_json_get_str(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_str_t *raw);
void ngx_http_aigw_json_get_raw(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_str_t *raw);
ngx_int_t ngx_http_aigw_json_get_count(ngx_http_aigw_json_t *j,
    ngx_uint_t obj, const char *key, int64_t max, int64_t *v);
ngx_int_t ngx_http_aigw_json_member_range(ngx_http_aigw_json_t *j,
    ngx_uint_t obj, ngx_uint_t key, size_t *start, size_t *end);
ngx_chain_t *ngx_http_aigw_json_splice(ngx_pool_t *pool, u_char *doc,
    size_t len, ngx_http_aigw_json_edit_t *edits, ngx_uint_t n);

void ngx_http_aigw_jw_init(ngx_http_aigw_jw_t *w, ngx_pool_t *pool,
    size_t block);
void ngx_http_aigw_jw_raw(ngx_http_aigw_jw_t *w, u_char *p, size_t len);
void ngx_http_aigw_jw_escape(ngx_http_aigw_jw_t *w, u_char *p, size_t len);
void ngx_http_aigw_jw_cstr(ngx_http_aigw_jw_t *w, const char *s);
void ngx_http_aigw_jw_qstr(ngx_http_aigw_jw_t *w, ngx_str_t *raw);
void ngx_http_aigw_jw_int(ngx_http_aigw_jw_t *w, int64_t v);
void ngx_http_aigw_jw_micro(ngx_http_aigw_jw_t *w, int64_t v);
ngx_int_t ngx_http_aigw_json_message(ngx_pool_t *pool, ngx_str_t *out,
    const char *fmt, ...);
ngx_int_t ngx_http_aigw_json_vmessage(ngx_pool_t *pool, ngx_str_t *out,
    const char *fmt, va_list args);
ngx_chain_t *ngx_http_aigw_jw_finish(ngx_http_aigw_jw_t *w);
ngx_int_t ngx_http_aigw_jw_flatten(ngx_http_aigw_jw_t *w, ngx_str_t *out);
ngx_int_t ngx_http_aigw_jw_escaped(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out);

#define ngx_http_aigw_jw_lit(w, s)                                           \
    ngx_http_aigw_jw_raw(w, (u_char *) s, sizeof(s) - 1)

#define ngx_http_aigw_jw_str(w, s)                                           \
    ngx_http_aigw_jw_raw(w, (s)->data, (s)->len)

#define ngx_http_aigw_json_tok(j, i)  (&(j)->toks[i])

/* first member key of an object, or first element of an array */
#define ngx_http_aigw_json_first(j, i)                                       \
    ((j)->toks[i].count ? (i) + 1 : NGX_HTTP_AIGW_JSON_NONE)

/* next sibling after element (or after the value of key "i") */
#define ngx_http_aigw_json_next(j, i)  ((ngx_uint_t) (j)->toks[i].next)

#define ngx_http_aigw_json_is(j, i, t)                                       \
    ((i) != NGX_HTTP_AIGW_JSON_NONE && (j)->toks[i].type == (t))


#endif /* _NGX_HTTP_AIGW_JSON_H_INCLUDED_ */
