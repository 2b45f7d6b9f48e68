
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
 * and text/event-stream blocks, the first stream framing.  Neither
 * assumes that a read holds a whole chunk, line or event.
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


/*
 * Stream framing: how a provider's streamed body is cut into frames.  A
 * wire format names its framing (ngx_http_aigw_format_t.framing), and
 * upstream.c reads every stream through it, whatever the framing is:
 *
 *   create(pool, max)  the parser's state, for one response; frames
 *                      over max bytes are an error
 *   parse(state, &pos, last, frame)
 *                      resumable: NGX_OK with the next frame, *pos after
 *                      it; NGX_AGAIN when [*pos, last) ends inside a
 *                      frame (all consumed: the state keeps the part it
 *                      needs, the next call goes on with the next bytes);
 *                      NGX_ERROR with frame->error set
 *   flush(state, frame)
 *                      at the end of the body: NGX_OK with a last frame
 *                      that the framing accepts without its terminator
 *                      (SSE: a block without its blank line), or
 *                      NGX_DECLINED
 *   first(pos, last, &error)
 *                      optional: the bytes that came first, before the
 *                      stream is committed to the client; NGX_AGAIN until
 *                      its first frame is whole, NGX_ERROR (error set) when
 *                      that frame is invalid (the try fails over), NGX_OK
 *                      (NULL: the stream is committed on its first byte)
 *
 * Frames are bytes, never strings: no NUL terminator, any byte value.
 * "raw" is the frame as the provider sent it, passed through as is to
 * a client of the same format (with "tail" after it); "data" is its
 * payload (SSE: the data lines joined with LF; AWS event-stream: the
 * payload of a binary frame whose prelude and message CRC32 the parser
 * checked; a JSON-array stream: one element); "event" is its name (SSE
 * "event:", event-stream ":event-type"); "type" tells events from
 * exceptions (event-stream ":message-type" exception or error).  A frame
 * is valid until the next call, while the bytes parsed stay unchanged.
 * "content_type" is the Content-Type (a prefix, case-insensitive) that
 * marks a response as a stream in this framing.
 */

#define NGX_HTTP_AIGW_FRAME_EVENT      0
#define NGX_HTTP_AIGW_FRAME_EXCEPTION  1


typedef struct {
    ngx_uint_t                 type;     /* NGX_HTTP_AIGW_FRAME_* */
    ngx_str_t                  raw;      /* the frame, terminator included */
    ngx_str_t                  tail;     /* to send after raw, or empty */
    ngx_str_t                  event;    /* its name, if any */
    ngx_str_t                  data;     /* its payload */
    ngx_uint_t                 has_data;
    const char                *error;    /* NGX_ERROR: why */
} ngx_http_aigw_frame_t;


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  content_type;
    void                    *(*create)(ngx_pool_t *pool, size_t max);
    ngx_int_t                (*parse)(void *state, u_char **pos,
                                      u_char *last,
                                      ngx_http_aigw_frame_t *frame);
    ngx_int_t                (*flush)(void *state,
                                      ngx_http_aigw_frame_t *frame);
    ngx_int_t                (*first)(u_char *pos, u_char *last,
                                      const char **error);
} ngx_http_aigw_framing_t;


/* an SSE event is a frame: "event:" and the joined "data:" lines */

typedef ngx_http_aigw_frame_t  ngx_http_aigw_sse_event_t;


extern const ngx_http_aigw_framing_t  ngx_http_aigw_sse_framing;
extern const ngx_http_aigw_framing_t  ngx_http_aigw_eventstream_framing;


ngx_int_t ngx_http_aigw_chunked_parse(ngx_http_aigw_chunked_t *ch,
    u_char **pos, u_char *last, ngx_str_t *data);

void ngx_http_aigw_sse_init(ngx_http_aigw_sse_t *sse, ngx_pool_t *pool,
    size_t max);
ngx_int_t ngx_http_aigw_sse_parse(ngx_http_aigw_sse_t *sse, u_char **pos,
    u_char *last, ngx_http_aigw_sse_event_t *ev);
ngx_int_t ngx_http_aigw_sse_flush(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev);

ngx_int_t ngx_http_aigw_eventstream_decode(u_char *p, size_t total,
    ngx_http_aigw_frame_t *frame);
ngx_int_t ngx_http_aigw_eventstream_first(u_char *pos, u_char *last,
    const char **error);


#endif /* _NGX_HTTP_AIGW_SSE_H_INCLUDED_ */
