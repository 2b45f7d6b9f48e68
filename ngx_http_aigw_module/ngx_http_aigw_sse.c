
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

enum {
    ngx_http_aigw_ch_size = 0,
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

            ch->state = ngx_http_aigw_ch_size;
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


void
ngx_http_aigw_sse_init(ngx_http_aigw_sse_t *sse, ngx_pool_t *pool,
    size_t max)
{
    ngx_memzero(sse, sizeof(ngx_http_aigw_sse_t));

    sse->pool = pool;
    sse->max = max;
}


/*
 * Collects the bytes of one event block (lines up to a blank line; CRLF,
 * LF and CR all end a line) and returns it parsed; the event is valid
 * until the next call.
 */

ngx_int_t
ngx_http_aigw_sse_parse(ngx_http_aigw_sse_t *sse, u_char **pos, u_char *last,
    ngx_http_aigw_sse_event_t *ev)
{
    u_char  *p, *q, c;
    size_t   need, cap;

    p = *pos;

    if (sse->len == 0) {
        sse->line = 0;
    }

    /* reserve room for what is available now (the block is copied) */

    need = sse->len + (last - p);

    if (need > sse->cap) {
        if (sse->len + 1 > sse->max) {
            return NGX_ERROR;
        }

        cap = ngx_max(sse->cap * 2, 4096);

        while (cap < need && cap < sse->max) {
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

    while (p < last) {

        if (sse->len == sse->cap) {
            *pos = p;
            return NGX_ERROR;
        }

        c = *p++;

        if (c == '\n' && sse->cr) {

            /* the LF of a CRLF: the line already ended at CR */

            sse->cr = 0;

            if (sse->len) {
                sse->buf[sse->len++] = c;
                sse->line = sse->len;
            }

            continue;
        }

        sse->buf[sse->len++] = c;
        sse->cr = (c == '\r');

        if (c != '\n' && c != '\r') {
            continue;
        }

        if (sse->line == sse->len - 1) {

            /* a blank line: the block is complete */

            if (c == '\r' && p < last && *p == '\n') {
                sse->buf[sse->len++] = *p++;
                sse->cr = 0;
            }

            *pos = p;

            return ngx_http_aigw_sse_block(sse, ev);
        }

        sse->line = sse->len;
    }

    *pos = p;

    return NGX_AGAIN;
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


static ngx_int_t
ngx_http_aigw_sse_block(ngx_http_aigw_sse_t *sse,
    ngx_http_aigw_sse_event_t *ev)
{
    u_char      *p, *last, *eol, *v, *d;
    size_t       n, fl;
    ngx_uint_t   lines;

    ngx_memzero(ev, sizeof(ngx_http_aigw_sse_event_t));

    ev->raw.data = sse->buf;
    ev->raw.len = sse->len;

    p = sse->buf;
    last = sse->buf + sse->len;
    lines = 0;
    d = NULL;

    sse->len = 0;
    sse->line = 0;
    sse->cr = (last > p && last[-1] == '\r');

    while (p < last) {

        for (eol = p; eol < last && *eol != '\n' && *eol != '\r'; eol++) {
            /* void */
        }

        if (eol == p || *p == ':') {
            goto next;
        }

        for (v = p; v < eol && *v != ':'; v++) { /* void */ }

        fl = v - p;

        if (v < eol) {
            v++;

            if (v < eol && *v == ' ') {
                v++;
            }
        }

        n = eol - v;

        if (fl == 5 && ngx_strncmp(p, "event", 5) == 0) {
            ev->event.data = v;
            ev->event.len = n;

        } else if (fl == 4 && ngx_strncmp(p, "data", 4) == 0) {

            if (lines++ == 0) {
                ev->data.data = v;
                ev->data.len = n;
                ev->has_data = 1;

            } else {

                /* multi-line data: join with LF in a separate buffer */

                if (d == NULL) {
                    if (sse->data_cap < sse->cap) {
                        sse->data = ngx_pnalloc(sse->pool, sse->cap);
                        if (sse->data == NULL) {
                            return NGX_ERROR;
                        }

                        sse->data_cap = sse->cap;
                    }

                    d = ngx_cpymem(sse->data, ev->data.data, ev->data.len);
                    ev->data.data = sse->data;
                }

                *d++ = '\n';
                d = ngx_cpymem(d, v, n);
                ev->data.len = d - ev->data.data;
            }
        }

    next:

        p = eol;

        if (p < last && *p == '\r') {
            p++;
        }

        if (p < last && *p == '\n') {
            p++;
        }
    }

    return NGX_OK;
}
