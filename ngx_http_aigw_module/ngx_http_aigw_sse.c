
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_aigw_sse.h"


/*
 * chunked transfer coding (RFC 9112, 7.1):
 *
 *     chunk-size [ ";" ext ] CRLF  chunk-data CRLF  ...
 *     "0" [ ";" ext ] CRLF  *( trailer-field CRLF )  CRLF
 *
 * LF alone is accepted as a line end.
 */

/* flags of ngx_http_aigw_sse_lines() */

#define NGX_HTTP_AIGW_SSE_CONT  0x01    /* the first line began before p */
#define NGX_HTTP_AIGW_SSE_EOF   0x02    /* last ends the line and block */


enum {
    ngx_http_aigw_ch_start = 0,
    ngx_http_aigw_ch_size,
    ngx_http_aigw_ch_ext,
    ngx_http_aigw_ch_size_lf,
    ngx_http_aigw_ch_data,
    ngx_http_aigw_ch_data_cr,
    ngx_http_aigw_ch_data_lf,
    ngx_http_aigw_ch_trailer_start,
    ngx_http_aigw_ch_trailer,
    ngx_http_aigw_ch_trailer_lf,
    ngx_http_aigw_ch_last_lf,
    ngx_http_aigw_ch_done
};


static ngx_int_t ngx_http_aigw_sse_lines(ngx_http_aigw_sse_t *sse,
    u_char *p, u_char *last, ngx_uint_t flags, ngx_http_aigw_sse_event_t *ev,
    u_char **end);
static ngx_int_t ngx_http_aigw_sse_keep(ngx_http_aigw_sse_t *sse, u_char *p,
    size_t n);
static ngx_int_t ngx_http_aigw_sse_block(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev);


ngx_int_t
ngx_http_aigw_chunked_parse(ngx_http_aigw_chunked_t *ch, u_char **pos,
    u_char *last, ngx_str_t *data)
{
    u_char  *p, c;
    off_t    n;

    p = *pos;

    while (p < last) {

        switch (ch->state) {

        case ngx_http_aigw_ch_start:

            /* chunk-size is 1*HEXDIG: an empty one is no last chunk */

            c = *p | 0x20;

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                goto invalid;
            }

            ch->state = ngx_http_aigw_ch_size;

            /* fall through */

        case ngx_http_aigw_ch_size:
            c = *p;

            if (c >= '0' && c <= '9') {
                n = c - '0';

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                n = (c | 0x20) - 'a' + 10;

            } else if (c == ';' || c == ' ' || c == '\t') {
                ch->state = ngx_http_aigw_ch_ext;
                p++;
                continue;

            } else if (c == '\r') {
                ch->state = ngx_http_aigw_ch_size_lf;
                p++;
                continue;

            } else if (c == '\n') {
                p++;
                goto size_done;

            } else {
                goto invalid;
            }

            if (ch->size > (NGX_MAX_OFF_T_VALUE >> 4)) {
                goto invalid;
            }

            ch->size = ch->size * 16 + n;
            p++;
            continue;

        case ngx_http_aigw_ch_ext:
            if (*p == '\r') {
                ch->state = ngx_http_aigw_ch_size_lf;

            } else if (*p == '\n') {
                p++;
                goto size_done;
            }

            p++;
            continue;

        case ngx_http_aigw_ch_size_lf:
            if (*p != '\n') {
                goto invalid;
            }

            p++;

        size_done:

            ch->state = ch->size ? ngx_http_aigw_ch_data
                                 : ngx_http_aigw_ch_trailer_start;
            continue;

        case ngx_http_aigw_ch_data:
            n = ngx_min(ch->size, (off_t) (last - p));

            data->data = p;
            data->len = (size_t) n;

            p += n;
            ch->size -= n;

            if (ch->size == 0) {
                ch->state = ngx_http_aigw_ch_data_cr;
            }

            *pos = p;
            return NGX_OK;

        case ngx_http_aigw_ch_data_cr:
            if (*p == '\r') {
                ch->state = ngx_http_aigw_ch_data_lf;
                p++;
                continue;
            }

            /* fall through */

        case ngx_http_aigw_ch_data_lf:
            if (*p != '\n') {
                goto invalid;
            }

            ch->state = ngx_http_aigw_ch_start;
            p++;
            continue;

        case ngx_http_aigw_ch_trailer_start:
            if (*p == '\r') {
                ch->state = ngx_http_aigw_ch_last_lf;
                p++;
                continue;
            }

            if (*p == '\n') {
                p++;
                ch->state = ngx_http_aigw_ch_done;
                *pos = p;
                return NGX_DONE;
            }

            ch->state = ngx_http_aigw_ch_trailer;
            continue;

        case ngx_http_aigw_ch_trailer:
            if (*p == '\r') {
                ch->state = ngx_http_aigw_ch_trailer_lf;

            } else if (*p == '\n') {
                ch->state = ngx_http_aigw_ch_trailer_start;
            }

            p++;
            continue;

        case ngx_http_aigw_ch_trailer_lf:
            if (*p != '\n') {
                goto invalid;
            }

            ch->state = ngx_http_aigw_ch_trailer_start;
            p++;
            continue;

        case ngx_http_aigw_ch_last_lf:
            if (*p != '\n') {
                goto invalid;
            }

            p++;
            ch->state = ngx_http_aigw_ch_done;
            *pos = p;
            return NGX_DONE;

        default: /* ngx_http_aigw_ch_done */
            *pos = p;
            return NGX_DONE;
        }
    }

    *pos = p;

    return ch->state == ngx_http_aigw_ch_done ? NGX_DONE : NGX_AGAIN;

invalid:

    *pos = p;

    return NGX_ERROR;
}


/* text/event-stream behind the framing interface (see the header) */

static void *ngx_http_aigw_sse_create(ngx_pool_t *pool, size_t max);
static ngx_int_t ngx_http_aigw_sse_frame(void *state, u_char **pos,
    u_char *last, ngx_http_aigw_frame_t *frame);
static ngx_int_t ngx_http_aigw_sse_last(void *state,
    ngx_http_aigw_frame_t *frame);
static void ngx_http_aigw_sse_tail(ngx_http_aigw_frame_t *frame);


const ngx_http_aigw_framing_t  ngx_http_aigw_sse_framing = {
    ngx_string("sse"),
    ngx_string("text/event-stream"),
    ngx_http_aigw_sse_create,
    ngx_http_aigw_sse_frame,
    ngx_http_aigw_sse_last,
    NULL
};


static void *
ngx_http_aigw_sse_create(ngx_pool_t *pool, size_t max)
{
    ngx_http_aigw_sse_t  *sse;

    sse = ngx_palloc(pool, sizeof(ngx_http_aigw_sse_t));
    if (sse == NULL) {
        return NULL;
    }

    ngx_http_aigw_sse_init(sse, pool, max);

    return sse;
}


static ngx_int_t
ngx_http_aigw_sse_frame(void *state, u_char **pos, u_char *last,
    ngx_http_aigw_frame_t *frame)
{
    ngx_int_t  rc;

    rc = ngx_http_aigw_sse_parse(state, pos, last, frame);

    if (rc == NGX_OK) {
        ngx_http_aigw_sse_tail(frame);

    } else if (rc == NGX_ERROR) {
        frame->error = "an event over the size limit";
    }

    return rc;
}


static ngx_int_t
ngx_http_aigw_sse_last(void *state, ngx_http_aigw_frame_t *frame)
{
    ngx_int_t  rc;

    rc = ngx_http_aigw_sse_flush(state, frame);

    if (rc == NGX_OK) {
        ngx_http_aigw_sse_tail(frame);
    }

    return rc;
}


/*
 * a block that ends with CR has its LF in the next read, or none (the
 * parser skips it): the client gets CRLF either way, not a lone CR that
 * depends on how reads split
 */

static void
ngx_http_aigw_sse_tail(ngx_http_aigw_frame_t *frame)
{
    if (frame->raw.len && frame->raw.data[frame->raw.len - 1] == '\r') {
        ngx_str_set(&frame->tail, "\n");
    }
}


void
ngx_http_aigw_sse_init(ngx_http_aigw_sse_t *sse, ngx_pool_t *pool,
    size_t max)
{
    ngx_memzero(sse, sizeof(ngx_http_aigw_sse_t));

    sse->pool = pool;
    sse->max = max;
}


/*
 * Returns the next event block (lines up to a blank line; CRLF, LF and CR
 * all end a line), parsed.  A block that is whole in [*pos, last) is
 * parsed in place: the event points into the caller's bytes and is valid
 * until the next call, while they stay unchanged.  Only the beginning of a
 * block cut by the end of the bytes is copied, to be joined with the next
 * ones.
 */

ngx_int_t
ngx_http_aigw_sse_parse(ngx_http_aigw_sse_t *sse, u_char **pos, u_char *last,
    ngx_http_aigw_sse_event_t *ev)
{
    u_char      *p, *end;
    size_t       len;
    ngx_int_t    rc;
    ngx_uint_t   cont;

    p = *pos;

    if (sse->cr) {

        /* the LF of a CRLF whose CR ended the previous bytes */

        if (p == last) {
            return NGX_AGAIN;
        }

        sse->cr = 0;

        if (*p == '\n') {
            if (sse->len) {
                if (ngx_http_aigw_sse_keep(sse, p, 1) != NGX_OK) {
                    return NGX_ERROR;
                }

                sse->line = sse->len;
            }

            p++;
        }
    }

    *pos = p;

    if (p == last) {
        return NGX_AGAIN;
    }

    if (sse->len == 0) {

        /* the block starts here: parsed in place when it is whole */

        ngx_memzero(ev, sizeof(ngx_http_aigw_sse_event_t));

        rc = ngx_http_aigw_sse_lines(sse, p, last, 0, ev, &end);

        if (rc == NGX_OK) {
            if ((size_t) (end - p) > sse->max) {
                return NGX_ERROR;
            }

            ev->raw.data = p;
            ev->raw.len = end - p;

            sse->cr = (end[-1] == '\r');
            *pos = end;

            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* end: the start of the last line, which goes on */

        if (ngx_http_aigw_sse_keep(sse, p, last - p) != NGX_OK) {
            return NGX_ERROR;
        }

        sse->line = end - p;
        sse->cr = (last[-1] == '\r');
        *pos = last;

        return NGX_AGAIN;
    }

    /* the rest of a kept block: found first, then parsed as a whole */

    cont = (sse->line < sse->len);

    rc = ngx_http_aigw_sse_lines(sse, p, last,
                                 cont ? NGX_HTTP_AIGW_SSE_CONT : 0, NULL,
                                 &end);

    if (rc == NGX_AGAIN) {
        len = sse->len;

        if (ngx_http_aigw_sse_keep(sse, p, last - p) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!cont || end != p) {
            sse->line = len + (end - p);
        }

        sse->cr = (last[-1] == '\r');
        *pos = last;

        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR
        || ngx_http_aigw_sse_keep(sse, p, end - p) != NGX_OK)
    {
        return NGX_ERROR;
    }

    *pos = end;

    return ngx_http_aigw_sse_block(sse, ev);
}


/* a block left without its blank line when the stream ended */

ngx_int_t
ngx_http_aigw_sse_flush(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev)
{
    if (sse->len == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_aigw_sse_block(sse, ev);
}


/* the kept block, whole or cut by the end of the stream, parsed */

static ngx_int_t
ngx_http_aigw_sse_block(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev)
{
    u_char  *end;

    ngx_memzero(ev, sizeof(ngx_http_aigw_sse_event_t));

    if (ngx_http_aigw_sse_lines(sse, sse->buf, sse->buf + sse->len,
                                NGX_HTTP_AIGW_SSE_EOF, ev, &end)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ev->raw.data = sse->buf;
    ev->raw.len = sse->len;

    sse->cr = (sse->buf[sse->len - 1] == '\r');
    sse->len = 0;
    sse->line = 0;

    return NGX_OK;
}


/*
 * Finds the lines of a block from p, a line start (or, with
 * NGX_HTTP_AIGW_SSE_CONT, the rest of a line begun before p), up to its
 * blank line: NGX_OK with *end after it, or NGX_AGAIN with *end at the
 * start of the line that last cuts.  With ev, the "event" and "data"
 * fields are recorded; the lines of several "data" fields are joined
 * with LF in a separate buffer.
 */

static ngx_int_t
ngx_http_aigw_sse_lines(ngx_http_aigw_sse_t *sse, u_char *p, u_char *last,
    ngx_uint_t flags, ngx_http_aigw_sse_event_t *ev, u_char **end)
{
    u_char      *nl, *eol, *next, *v, *d;
    size_t       n, fl, cap;
    ngx_uint_t   cont;

    nl = NULL;
    d = NULL;
    cont = flags & NGX_HTTP_AIGW_SSE_CONT;

    for ( ;; ) {

        if (p == last) {
            *end = p;
            return (flags & NGX_HTTP_AIGW_SSE_EOF) ? NGX_OK : NGX_AGAIN;
        }

        /* the next LF, then a CR before it: CR and CRLF end lines too */

        if (nl == NULL || nl < p) {
            nl = memchr(p, '\n', last - p);

            if (nl == NULL) {
                nl = last;
            }
        }

        eol = memchr(p, '\r', nl - p);

        if (eol) {
            next = eol + 1;

            if (next < last && *next == '\n') {
                next++;
            }

        } else if (nl < last) {
            eol = nl;
            next = nl + 1;

        } else if (flags & NGX_HTTP_AIGW_SSE_EOF) {
            eol = last;
            next = last;

        } else {
            *end = p;
            return NGX_AGAIN;
        }

        if (eol == p && !cont) {

            /* a blank line: the block is complete */

            *end = next;
            return NGX_OK;
        }

        cont = 0;

        if (ev == NULL || eol == p || *p == ':') {
            p = next;
            continue;
        }

        /* a field: name, and the value after ":" and one space */

        v = memchr(p, ':', eol - p);

        if (v) {
            fl = v - p;
            v++;

            if (v < eol && *v == ' ') {
                v++;
            }

        } else {
            fl = eol - p;
            v = eol;
        }

        n = eol - v;

        if (fl == 5 && ngx_strncmp(p, "event", 5) == 0) {
            ev->event.data = v;
            ev->event.len = n;

        } else if (fl == 4 && ngx_strncmp(p, "data", 4) == 0) {

            if (!ev->has_data) {
                ev->data.data = v;
                ev->data.len = n;
                ev->has_data = 1;

            } else {

                /*
                 * multi-line data: joined in a separate buffer, which the
                 * rest of the bytes bounds
                 */

                if (d == NULL) {
                    cap = last - ev->data.data;

                    if (sse->data_cap < cap) {
                        cap = ngx_max(cap, 2 * sse->data_cap);

                        sse->data = ngx_pnalloc(sse->pool, cap);
                        if (sse->data == NULL) {
                            return NGX_ERROR;
                        }

                        sse->data_cap = cap;
                    }

                    d = ngx_cpymem(sse->data, ev->data.data, ev->data.len);
                    ev->data.data = sse->data;
                }

                *d++ = '\n';
                d = ngx_cpymem(d, v, n);
                ev->data.len = d - ev->data.data;
            }
        }

        p = next;
    }
}


/* appends bytes to the kept block, up to the largest block accepted */

static ngx_int_t
ngx_http_aigw_sse_keep(ngx_http_aigw_sse_t *sse, u_char *p, size_t n)
{
    u_char  *q;
    size_t   cap;

    if (n > sse->max - sse->len) {
        return NGX_ERROR;
    }

    if (n > sse->cap - sse->len) {
        cap = ngx_max(sse->cap * 2, 4096);

        while (cap < sse->len + n) {
            cap *= 2;
        }

        cap = ngx_min(cap, sse->max);

        q = ngx_pnalloc(sse->pool, cap);
        if (q == NULL) {
            return NGX_ERROR;
        }

        if (sse->len) {
            ngx_memcpy(q, sse->buf, sse->len);
        }

        sse->buf = q;
        sse->cap = cap;
    }

    ngx_memcpy(sse->buf + sse->len, p, n);
    sse->len += n;

    return NGX_OK;
}
