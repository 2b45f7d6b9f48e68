
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#ifndef _NGX_HTTP_AIGW_SSE_H_INCLUDED_
#define _NGX_HTTP_AIGW_SSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Resumable parsers for what providers stream: HTTP/1.1 chunked
 * transfer coding (decoded in place, independent of the nginx version)
 * and text/event-stream blocks.  Neither assumes that a read holds a
 * whole chunk, line or event.
 */


typedef struct {
    ngx_uint_t                 state;
    off_t                      size;
} ngx_http_aigw_chunked_t;


typedef struct {
    u_char                    *buf;      /* a block cut by the end of the */
    size_t                     len;      /* bytes, kept until it is whole */
    size_t                     cap;
    size_t                     max;      /* largest block accepted */
    size_t                     line;     /* start of its last line */
    ngx_uint_t                 cr;       /* the last byte was CR */
    ngx_pool_t                *pool;

    u_char                    *data;     /* joined multi-line data */
    size_t                     data_cap;
} ngx_http_aigw_sse_t;


/* valid until the next call, and while the bytes parsed are unchanged */

typedef struct {
    ngx_str_t                  raw;      /* the block, blank line included */
    ngx_str_t                  event;    /* "event:" field, if any */
    ngx_str_t                  data;     /* "data:" lines joined with LF */
    ngx_uint_t                 has_data;
} ngx_http_aigw_sse_event_t;


ngx_int_t ngx_http_aigw_chunked_parse(ngx_http_aigw_chunked_t *ch,
    u_char **pos, u_char *last, ngx_str_t *data);

void ngx_http_aigw_sse_init(ngx_http_aigw_sse_t *sse, ngx_pool_t *pool,
    size_t max);
ngx_int_t ngx_http_aigw_sse_parse(ngx_http_aigw_sse_t *sse, u_char **pos,
    u_char *last, ngx_http_aigw_sse_event_t *ev);
ngx_int_t ngx_http_aigw_sse_flush(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev);


#endif /* _NGX_HTTP_AIGW_SSE_H_INCLUDED_ */
