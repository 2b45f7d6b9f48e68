
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The AWS event stream framing (application/vnd.amazon.eventstream) of
 * Bedrock's ConverseStream: binary frames, big-endian,
 *
 *   total_length(4) headers_length(4) prelude_crc(4) headers payload
 *   message_crc(4)
 *
 * with CRC-32 (IEEE, zlib's) over the first 8 bytes and over all bytes
 * before the last 4.  Both are checked before a frame is used.  A frame
 * wholly inside the bytes of a read is parsed where it is; one cut by
 * the end of a read is gathered in the state's buffer.
 */


#define NGX_HTTP_AIGW_ES_PRELUDE   12
#define NGX_HTTP_AIGW_ES_MIN       16


typedef struct {
    u_char                    *buf;      /* a frame cut by a read */
    size_t                     len;
    size_t                     cap;
    size_t                     max;
    ngx_pool_t                *pool;
} ngx_http_aigw_es_t;


static void *ngx_http_aigw_es_create(ngx_pool_t *pool, size_t max);
static ngx_int_t ngx_http_aigw_es_parse(void *state, u_char **pos,
    u_char *last, ngx_http_aigw_frame_t *frame);
static ngx_int_t ngx_http_aigw_es_flush(void *state,
    ngx_http_aigw_frame_t *frame);


const ngx_http_aigw_framing_t  ngx_http_aigw_eventstream_framing = {
    ngx_string("event-stream"),
    ngx_string("application/vnd.amazon.eventstream"),
    ngx_http_aigw_es_create,
    ngx_http_aigw_es_parse,
    ngx_http_aigw_es_flush,
    ngx_http_aigw_eventstream_first
};


static uint32_t
ngx_http_aigw_es_uint32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}


static void *
ngx_http_aigw_es_create(ngx_pool_t *pool, size_t max)
{
    ngx_http_aigw_es_t  *es;

    es = ngx_pcalloc(pool, sizeof(ngx_http_aigw_es_t));
    if (es == NULL) {
        return NULL;
    }

    es->pool = pool;
    es->max = max;

    return es;
}


/*
 * The length of the frame at p (n bytes there): 0 when fewer than the
 * prelude are there, -1 (frame->error set) when the prelude is invalid
 */

static ssize_t
ngx_http_aigw_es_length(u_char *p, size_t n, size_t max,
    ngx_http_aigw_frame_t *frame)
{
    uint32_t  total, hlen;

    if (n < NGX_HTTP_AIGW_ES_PRELUDE) {
        return 0;
    }

    if (ngx_crc32_long(p, 8) != ngx_http_aigw_es_uint32(p + 8)) {
        frame->error = "a frame with a bad prelude CRC";
        return -1;
    }

    total = ngx_http_aigw_es_uint32(p);
    hlen = ngx_http_aigw_es_uint32(p + 4);

    if (total < NGX_HTTP_AIGW_ES_MIN || total - NGX_HTTP_AIGW_ES_MIN < hlen) {
        frame->error = "a frame with invalid lengths";
        return -1;
    }

    if (total > max + NGX_HTTP_AIGW_ES_MIN) {
        frame->error = "a frame too large";
        return -1;
    }

    return total;
}


/*
 * Checks the message CRC of the whole frame at p and decodes its headers:
 * ":message-type", ":event-type", ":exception-type", ":error-code" and
 * ":error-message" are kept, the others skipped
 */

ngx_int_t
ngx_http_aigw_eventstream_decode(u_char *p, size_t total,
    ngx_http_aigw_frame_t *frame)
{
    u_char     *h, *end, *name;
    size_t      n, hlen;
    ngx_str_t   value, mtype, errmsg;
    ngx_uint_t  type;

    static size_t  fixed[] = { 0, 0, 1, 2, 4, 8, 0, 0, 8, 16 };

    ngx_memzero(frame, sizeof(ngx_http_aigw_frame_t));

    if (ngx_crc32_long(p, total - 4) != ngx_http_aigw_es_uint32(p + total - 4))
    {
        frame->error = "a frame with a bad message CRC";
        return NGX_ERROR;
    }

    hlen = ngx_http_aigw_es_uint32(p + 4);

    h = p + NGX_HTTP_AIGW_ES_PRELUDE;
    end = h + hlen;

    ngx_str_null(&mtype);
    ngx_str_null(&errmsg);

    while (h < end) {
        n = *h++;

        if ((size_t) (end - h) < n + 1) {
            goto invalid;
        }

        name = h;
        h += n;
        type = *h++;

        if (type > 9) {
            goto invalid;
        }

        if (type == 6 || type == 7) {
            if (end - h < 2) {
                goto invalid;
            }

            value.len = ((size_t) h[0] << 8) | h[1];
            h += 2;

        } else {
            value.len = fixed[type];
        }

        if ((size_t) (end - h) < value.len) {
            goto invalid;
        }

        value.data = h;
        h += value.len;

        if (type != 7 || n < 2 || name[0] != ':') {
            continue;
        }

        if (n == 13 && ngx_strncmp(name, ":message-type", 13) == 0) {
            mtype = value;

        } else if ((n == 11 && ngx_strncmp(name, ":event-type", 11) == 0)
                   || (n == 15
                       && ngx_strncmp(name, ":exception-type", 15) == 0)
                   || (n == 11 && ngx_strncmp(name, ":error-code", 11) == 0))
        {
            frame->event = value;

        } else if (n == 14 && ngx_strncmp(name, ":error-message", 14) == 0) {
            errmsg = value;
        }
    }

    frame->raw.data = p;
    frame->raw.len = total;
    frame->data.data = end;
    frame->data.len = p + total - 4 - end;
    frame->has_data = 1;

    if ((mtype.len == 9 && ngx_strncmp(mtype.data, "exception", 9) == 0)
        || (mtype.len == 5 && ngx_strncmp(mtype.data, "error", 5) == 0))
    {
        frame->type = NGX_HTTP_AIGW_FRAME_EXCEPTION;

        if (frame->data.len == 0) {
            frame->data = errmsg;
        }
    }

    return NGX_OK;

invalid:

    frame->error = "a frame with invalid headers";
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_aigw_es_parse(void *state, u_char **pos, u_char *last,
    ngx_http_aigw_frame_t *frame)
{
    ngx_http_aigw_es_t *es = state;

    u_char   *p, *nb;
    size_t    need, n;
    ssize_t   total;

    p = *pos;

    if (es->len == 0) {

        /* a frame within the read: parsed in place */

        total = ngx_http_aigw_es_length(p, last - p, es->max, frame);

        if (total < 0) {
            return NGX_ERROR;
        }

        if (total > 0 && (size_t) (last - p) >= (size_t) total) {
            *pos = p + total;
            return ngx_http_aigw_eventstream_decode(p, total, frame);
        }
    }

    /* gathered: the prelude first, then the rest of the frame */

    for ( ;; ) {
        total = ngx_http_aigw_es_length(es->buf, es->len, es->max, frame);

        if (total < 0) {
            return NGX_ERROR;
        }

        need = total ? (size_t) total : NGX_HTTP_AIGW_ES_PRELUDE;

        if (es->cap < need) {
            nb = ngx_pnalloc(es->pool, ngx_max(need, 256));
            if (nb == NULL) {
                frame->error = "no memory";
                return NGX_ERROR;
            }

            if (es->len) {
                ngx_memcpy(nb, es->buf, es->len);
            }

            es->buf = nb;
            es->cap = ngx_max(need, 256);
        }

        n = ngx_min(need - es->len, (size_t) (last - p));

        ngx_memcpy(es->buf + es->len, p, n);
        es->len += n;
        p += n;
        *pos = p;

        if (es->len < need) {
            return NGX_AGAIN;
        }

        if (total) {
            es->len = 0;
            return ngx_http_aigw_eventstream_decode(es->buf, total, frame);
        }
    }
}


/* bytes left at the end of the body are a truncated frame: no frame */

static ngx_int_t
ngx_http_aigw_es_flush(void *state, ngx_http_aigw_frame_t *frame)
{
    ngx_http_aigw_es_t *es = state;

    if (es->len) {
        frame->error = "a truncated frame";
    }

    return NGX_DECLINED;
}


/*
 * The first frame of a response, before the response is committed to the
 * client: NGX_AGAIN while it is not whole, NGX_ERROR (*error set) when it
 * is invalid, so that the provider's try fails over
 */

ngx_int_t
ngx_http_aigw_eventstream_first(u_char *pos, u_char *last,
    const char **error)
{
    ssize_t                total;
    ngx_http_aigw_frame_t  frame;

    frame.error = NULL;

    total = ngx_http_aigw_es_length(pos, last - pos, NGX_HTTP_AIGW_MAX_EVENT,
                                    &frame);

    if (total == 0 || (total > 0 && last - pos < total)) {
        return NGX_AGAIN;
    }

    if (total > 0
        && ngx_http_aigw_eventstream_decode(pos, total, &frame) == NGX_OK)
    {
        return NGX_OK;
    }

    *error = frame.error;

    return NGX_ERROR;
}
