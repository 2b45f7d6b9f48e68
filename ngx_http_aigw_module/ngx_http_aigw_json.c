
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_aigw_json.h"


#define NGX_HTTP_AIGW_INT64_MAX  ((int64_t) 0x7fffffffffffffffLL)
#define NGX_HTTP_AIGW_JSON_ONES  ((uint64_t) 0x0101010101010101ULL)

#if (NGX_HAVE_LITTLE_ENDIAN && defined __GNUC__)
/* the first flagged byte of a word, as its offset */
#define ngx_http_aigw_json_ctz8(m)  (__builtin_ctzll(m) >> 3)

#if (defined __SSE2__)
/* 16 bytes at a time in strings: SSE2 is part of every x86-64 CPU */
#include <emmintrin.h>
#define NGX_HTTP_AIGW_JSON_SSE2  1
#endif
#endif


typedef struct {
    ngx_uint_t                 tok;      /* NONE when not recorded */
    uint32_t                   count;
    u_char                     object;
} ngx_http_aigw_json_frame_t;


static ngx_inline ngx_int_t ngx_http_aigw_json_push(ngx_http_aigw_json_t *j,
    ngx_uint_t type, u_char *p);
static ngx_int_t ngx_http_aigw_json_grow(ngx_http_aigw_json_t *j);
static ngx_inline ngx_uint_t ngx_http_aigw_json_key_is(
    ngx_http_aigw_json_t *j, ngx_uint_t k, const char *key, size_t n);
static u_char *ngx_http_aigw_json_scan_string(ngx_http_aigw_json_t *j,
    u_char *p, u_char *end, ngx_uint_t *flags);
static u_char *ngx_http_aigw_json_scan_number(ngx_http_aigw_json_t *j,
    u_char *p, u_char *end, ngx_uint_t *flags);
static u_char *ngx_http_aigw_json_utf8(u_char *p, u_char *end);
static ngx_buf_t *ngx_http_aigw_jw_alloc(ngx_http_aigw_jw_t *w, size_t need);
static u_char *ngx_http_aigw_json_cut(u_char *start, u_char *p,
    u_char *last);


/* 1: bytes that stop the fast scan of a string */
static u_char  ngx_http_aigw_json_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* " */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,    /* \ */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};


#define ngx_http_aigw_json_ws(c)                                             \
    ((c) <= ' ' && ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t'))


ngx_int_t
ngx_http_aigw_json_parse(ngx_http_aigw_json_t *j, u_char *start, size_t len)
{
    u_char                      *p, *end, *v;
    ngx_uint_t                   depth, flags, key;
    ngx_http_aigw_json_tok_t    *t;
    ngx_http_aigw_json_frame_t  *f, stack[NGX_HTTP_AIGW_JSON_MAX_DEPTH + 1];

    j->start = start;
    j->len = len;
    j->ntoks = 0;
    j->err = NULL;
    j->too_many = 0;

    if (len >= 0xffffffff) {
        j->err = "document is too large";
        j->err_pos = 0;
        return NGX_ERROR;
    }

    p = start;
    end = start + len;
    depth = 0;
    key = 0;
    f = NULL;

    /*
     * the loop expects a value (or, in an object, a key) at p; after a
     * value it falls to "done", which consumes a separator or closes
     * containers
     */

    for ( ;; ) {

        while (p < end && ngx_http_aigw_json_ws(*p)) {
            p++;
        }

        if (p == end) {
            j->err = "unexpected end of data";
            goto failed;
        }

        if (f && f->object && !key) {

            /* a member key is expected */

            if (*p != '"') {
                j->err = "object key must be a string";
                goto failed;
            }

            flags = 0;
            v = ngx_http_aigw_json_scan_string(j, p, end, &flags);
            if (v == NULL) {
                return NGX_DECLINED;        /* err_pos set by the scan */
            }

            if (depth <= j->record) {
                if (ngx_http_aigw_json_push(j, ngx_http_aigw_json_string, p)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                t = &j->toks[j->ntoks - 1];
                t->end = v - start;
                t->next = j->ntoks;
                t->flags = (uint8_t) flags;
            }

            p = v;

            while (p < end && ngx_http_aigw_json_ws(*p)) {
                p++;
            }

            if (p == end || *p != ':') {
                j->err = "expected \":\" after object key";
                goto failed;
            }

            p++;
            key = 1;
            continue;
        }

        key = 0;

        if (f) {
            f->count++;
        }

        switch (*p) {

        case '{':
        case '[':
            if (depth == NGX_HTTP_AIGW_JSON_MAX_DEPTH) {
                j->err = "nesting is deeper than "
                         ngx_value(NGX_HTTP_AIGW_JSON_MAX_DEPTH) " levels";
                goto failed;
            }

            f = &stack[depth++];
            f->object = (*p == '{');
            f->count = 0;
            f->tok = NGX_HTTP_AIGW_JSON_NONE;

            if (depth - 1 <= j->record) {
                if (ngx_http_aigw_json_push(j, f->object
                                               ? ngx_http_aigw_json_object
                                               : ngx_http_aigw_json_array,
                                            p)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                f->tok = j->ntoks - 1;
            }

            p++;

            while (p < end && ngx_http_aigw_json_ws(*p)) {
                p++;
            }

            if (p < end && *p == (f->object ? '}' : ']')) {
                f->count = 0;
                goto close;
            }

            continue;

        case '"':
            flags = 0;
            v = ngx_http_aigw_json_scan_string(j, p, end, &flags);
            if (v == NULL) {
                return NGX_DECLINED;        /* err_pos set by the scan */
            }

            if (depth <= j->record) {
                if (ngx_http_aigw_json_push(j, ngx_http_aigw_json_string, p)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                t = &j->toks[j->ntoks - 1];
                t->end = v - start;
                t->next = j->ntoks;
                t->flags = (uint8_t) flags;
            }

            p = v;
            break;

        case 't':
        case 'f':
        case 'n':
            /* memcmp() of a few constant bytes is compiled inline */

            if (*p == 't' && end - p >= 4 && ngx_memcmp(p, "true", 4) == 0) {
                flags = ngx_http_aigw_json_true;
                v = p + 4;

            } else if (*p == 'f' && end - p >= 5
                       && ngx_memcmp(p, "false", 5) == 0)
            {
                flags = ngx_http_aigw_json_false;
                v = p + 5;

            } else if (*p == 'n' && end - p >= 4
                       && ngx_memcmp(p, "null", 4) == 0)
            {
                flags = ngx_http_aigw_json_null;
                v = p + 4;

            } else {
                j->err = "invalid literal";
                goto failed;
            }

            if (depth <= j->record) {
                if (ngx_http_aigw_json_push(j, flags, p) != NGX_OK) {
                    return NGX_ERROR;
                }

                t = &j->toks[j->ntoks - 1];
                t->end = v - start;
                t->next = j->ntoks;
            }

            p = v;
            break;

        default:
            if (*p != '-' && (*p < '0' || *p > '9')) {
                j->err = "unexpected character";
                goto failed;
            }

            flags = 0;
            v = ngx_http_aigw_json_scan_number(j, p, end, &flags);
            if (v == NULL) {
                goto failed;
            }

            if (depth <= j->record) {
                if (ngx_http_aigw_json_push(j, ngx_http_aigw_json_number, p)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                t = &j->toks[j->ntoks - 1];
                t->end = v - start;
                t->next = j->ntoks;
                t->flags = (uint8_t) flags;
            }

            p = v;
            break;
        }

        /* a value is complete: a separator, a close or the end follows */

        for ( ;; ) {

            while (p < end && ngx_http_aigw_json_ws(*p)) {
                p++;
            }

            if (f == NULL) {
                if (p != end) {
                    j->err = "unexpected data after the value";
                    goto failed;
                }

                return NGX_OK;
            }

            if (p == end) {
                j->err = "unexpected end of data";
                goto failed;
            }

            if (*p == ',') {
                p++;
                break;
            }

            if (*p != (f->object ? '}' : ']')) {
                j->err = f->object ? "expected \",\" or \"}\""
                                   : "expected \",\" or \"]\"";
                goto failed;
            }

        close:

            p++;

            if (f->tok != NGX_HTTP_AIGW_JSON_NONE) {
                t = &j->toks[f->tok];
                t->end = p - start;
                t->next = j->ntoks;
                t->count = f->count;
            }

            depth--;
            f = depth ? &stack[depth - 1] : NULL;
        }
    }

failed:

    j->err_pos = p - start;

    return NGX_DECLINED;
}


/*
 * The value of token "tok", scanned already, parsed again into "sub" and
 * recorded "record" levels deep: a closer look at a part of a shallow
 * tape.  Offsets in "sub" are relative to the value.
 */

ngx_int_t
ngx_http_aigw_json_sub(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_http_aigw_json_t *sub, ngx_uint_t record)
{
    ngx_http_aigw_json_tok_t  *t;

    t = &j->toks[tok];

    sub->record = record;

    if (sub->pool == NULL) {
        sub->pool = j->pool;
    }

    return ngx_http_aigw_json_parse(sub, j->start + t->start,
                                    t->end - t->start);
}


static ngx_inline ngx_int_t
ngx_http_aigw_json_push(ngx_http_aigw_json_t *j, ngx_uint_t type, u_char *p)
{
    ngx_http_aigw_json_tok_t  *t;

    if (j->ntoks == j->cap && ngx_http_aigw_json_grow(j) != NGX_OK) {
        return NGX_ERROR;
    }

    t = &j->toks[j->ntoks++];

    t->start = p - j->start;
    t->type = (uint8_t) type;
    t->flags = 0;
    t->count = 0;

    return NGX_OK;
}


/*
 * The tape grows geometrically up to j->max tokens (no cap when 0: the
 * document's length bounds it).  An old array is freed at once
 * (ngx_pfree() frees a large pool allocation), so a document never holds
 * more than the current array and, while it is copied, the previous one:
 * at most 3 x 20 bytes per token.  The cap is an error with j->err set
 * and j->too_many, which the caller tells from a failed allocation.
 */

static ngx_int_t
ngx_http_aigw_json_grow(ngx_http_aigw_json_t *j)
{
    ngx_uint_t                 cap, max;
    ngx_http_aigw_json_tok_t  *t;

    max = j->max ? j->max : NGX_MAX_UINT32_VALUE;

    if (j->cap >= max) {
        j->err = "too many values";
        j->err_pos = j->ntoks ? j->toks[j->ntoks - 1].start : 0;
        j->too_many = 1;
        return NGX_ERROR;
    }

    cap = j->cap ? j->cap * 2 : 64;

    if (cap > max) {
        cap = max;
    }

    t = ngx_palloc(j->pool, cap * sizeof(ngx_http_aigw_json_tok_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    if (j->ntoks) {
        ngx_memcpy(t, j->toks, j->ntoks * sizeof(ngx_http_aigw_json_tok_t));
    }

    if (j->cap) {
        /* NGX_DECLINED for what is not a large allocation of the pool */
        (void) ngx_pfree(j->pool, j->toks);
    }

    j->toks = t;
    j->cap = cap;

    return NGX_OK;
}


static u_char *
ngx_http_aigw_json_scan_string(ngx_http_aigw_json_t *j, u_char *p,
    u_char *end,
    ngx_uint_t *flags)
{
    u_char    c, *q, *s;
#if (NGX_HTTP_AIGW_JSON_SSE2)
    int       mask;
    __m128i   v, quote, bslash, space;
#else
    uint64_t  x, m, qt, bs;
#endif

#if (NGX_HTTP_AIGW_JSON_SSE2)
    quote = _mm_set1_epi8('"');
    bslash = _mm_set1_epi8('\\');
    space = _mm_set1_epi8(0x20);
#endif

    /*
     * errors point at the offending byte, or at the opening quote of an
     * unterminated string
     */

    s = p++;

    for ( ;; ) {

#if (NGX_HTTP_AIGW_JSON_SSE2)

        /*
         * 16 bytes at a time: a signed comparison with 0x20 flags both
         * the control characters and the bytes >= 0x80
         */

        while (end - p >= 16) {
            v = _mm_loadu_si128((const __m128i *) p);

            mask = _mm_movemask_epi8(
                       _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                 _mm_cmpeq_epi8(v, bslash)),
                                    _mm_cmplt_epi8(v, space)));

            if (mask) {
                p += __builtin_ctz(mask);
                goto special;
            }

            p += 16;
        }

#else

        /*
         * 8 bytes at a time while none is special ('"', '\\', < 0x20,
         * >= 0x80): the hot path of large bodies.  The high bit of each
         * byte of m flags it; borrows only run from a special byte up
         * to later bytes, so the lowest flag is the first special byte.
         */

        while (end - p >= 8) {
            ngx_memcpy(&x, p, 8);

            qt = x ^ (NGX_HTTP_AIGW_JSON_ONES * '"');
            bs = x ^ (NGX_HTTP_AIGW_JSON_ONES * '\\');

            m = (((qt - NGX_HTTP_AIGW_JSON_ONES) & ~qt)
                 | ((bs - NGX_HTTP_AIGW_JSON_ONES) & ~bs)
                 | (x - NGX_HTTP_AIGW_JSON_ONES * 0x20)
                 | x)
                & (NGX_HTTP_AIGW_JSON_ONES * 0x80);

            if (m) {
#if (NGX_HAVE_LITTLE_ENDIAN && defined __GNUC__)
                p += ngx_http_aigw_json_ctz8(m);
                goto special;
#else
                break;
#endif
            }

            p += 8;
        }

#endif

        while (p < end && !ngx_http_aigw_json_special[*p]) {
            p++;
        }

        if (p == end) {
            j->err = "unterminated string";
            j->err_pos = s - j->start;
            return NULL;
        }

#if (NGX_HAVE_LITTLE_ENDIAN && defined __GNUC__)
    special:
#endif

        c = *p;

        if (c == '"') {
            return p + 1;
        }

        if (c == '\\') {
            *flags |= NGX_HTTP_AIGW_JSON_ESCAPED;

            if (end - p < 2) {
                j->err = "unterminated string";
                j->err_pos = s - j->start;
                return NULL;
            }

            switch (p[1]) {
            case '"': case '\\': case '/': case 'b':
            case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;

            case 'u':
                if (end - p < 6) {
                    j->err = "unterminated string";
                    j->err_pos = s - j->start;
                    return NULL;
                }

                for (q = p + 2; q < p + 6; q++) {
                    if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')
                          || (*q >= 'A' && *q <= 'F')))
                    {
                        j->err = "invalid \\u escape in string";
                        j->err_pos = p - j->start;
                        return NULL;
                    }
                }

                p += 6;
                continue;

            default:
                j->err = "invalid escape in string";
                j->err_pos = p - j->start;
                return NULL;
            }
        }

        if (c < 0x20) {
            j->err = "control character in string";
            j->err_pos = p - j->start;
            return NULL;
        }

        /* c >= 0x80 */

        q = ngx_http_aigw_json_utf8(p, end);
        if (q == NULL) {
            j->err = "invalid UTF-8 in string";
            j->err_pos = p - j->start;
            return NULL;
        }

        p = q;
    }
}


static u_char *
ngx_http_aigw_json_utf8(u_char *p, u_char *end)
{
    u_char  c;

    c = *p;

    if (c >= 0xc2 && c <= 0xdf) {
        if (end - p < 2 || (p[1] & 0xc0) != 0x80) {
            return NULL;
        }

        return p + 2;
    }

    if (c >= 0xe0 && c <= 0xef) {
        if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) {
            return NULL;
        }

        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)) {
            return NULL;              /* overlong or surrogate */
        }

        return p + 3;
    }

    if (c >= 0xf0 && c <= 0xf4) {
        if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (p[3] & 0xc0) != 0x80)
        {
            return NULL;
        }

        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)) {
            return NULL;              /* overlong or above U+10FFFF */
        }

        return p + 4;
    }

    return NULL;
}


static u_char *
ngx_http_aigw_json_scan_number(ngx_http_aigw_json_t *j, u_char *p,
    u_char *end,
    ngx_uint_t *flags)
{
    u_char  *d;

    *flags |= NGX_HTTP_AIGW_JSON_INTEGER;

    if (*p == '-') {
        p++;
    }

    if (p == end || *p < '0' || *p > '9') {
        j->err = "invalid number";
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && *p == '.') {
        *flags &= ~NGX_HTTP_AIGW_JSON_INTEGER;
        d = ++p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            j->err = "invalid number";
            return NULL;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        *flags &= ~NGX_HTTP_AIGW_JSON_INTEGER;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        d = p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            j->err = "invalid number";
            return NULL;
        }
    }

    return p;
}


ngx_uint_t
ngx_http_aigw_json_key_eq(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    const char *key)
{
    u_char                    *p, *last, c;
    size_t                     n;
    ngx_uint_t                 u;
    const u_char              *k;
    ngx_http_aigw_json_tok_t  *t;

    t = &j->toks[tok];
    p = j->start + t->start + 1;
    last = j->start + t->end - 1;
    k = (const u_char *) key;

    if (!(t->flags & NGX_HTTP_AIGW_JSON_ESCAPED)) {
        n = ngx_strlen(key);
        return (size_t) (last - p) == n && ngx_strncmp(p, k, n) == 0;
    }

    /* keys looked up are ASCII: decode escapes on the fly */

    while (p < last) {
        c = *p++;

        if (c == '\\') {
            c = *p++;

            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                u = ngx_hextoi(p, 4);
                p += 4;

                if (u == (ngx_uint_t) NGX_ERROR || u > 0x7f) {
                    return 0;
                }

                c = (u_char) u;
                break;
            default:
                break;
            }
        }

        if (*k == '\0' || *k != c) {
            return 0;
        }

        k++;
    }

    return *k == '\0';
}


/* a key without escapes is told apart by its length first */

static ngx_inline ngx_uint_t
ngx_http_aigw_json_key_is(ngx_http_aigw_json_t *j, ngx_uint_t k,
    const char *key, size_t n)
{
    ngx_http_aigw_json_tok_t  *t;

    t = &j->toks[k];

    if (t->flags & NGX_HTTP_AIGW_JSON_ESCAPED) {
        return ngx_http_aigw_json_key_eq(j, k, key);
    }

    return (size_t) (t->end - t->start - 2) == n
           && ngx_memcmp(j->start + t->start + 1, key, n) == 0;
}


/*
 * Keys match by their decoded names.  When "unique" is set (a client's
 * request), the rest of the object is searched as well, and a second
 * member of that name is recorded in "dup" for the caller to refuse: what
 * the gateway reads must be what a provider reads, whichever of the two
 * it takes.  The search stays linear in the members of the object.
 */

ngx_uint_t
ngx_http_aigw_json_get(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key)
{
    size_t      n;
    ngx_uint_t  k, end, found;

    if (obj == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[obj].type != ngx_http_aigw_json_object)
    {
        return NGX_HTTP_AIGW_JSON_NONE;
    }

    n = ngx_strlen(key);
    end = j->toks[obj].next;
    found = NGX_HTTP_AIGW_JSON_NONE;

    for (k = obj + 1; k < end; k = j->toks[k + 1].next) {
        if (!ngx_http_aigw_json_key_is(j, k, key, n)) {
            continue;
        }

        if (!j->unique) {
            return k + 1;
        }

        if (found != NGX_HTTP_AIGW_JSON_NONE) {
            if (j->dup == NULL) {
                j->dup = key;
            }

            return found;
        }

        found = k + 1;
    }

    return found;
}


/*
 * Returns the value of "key" and NGX_HTTP_AIGW_JSON_NONE when it is absent;
 * a duplicate sets *key_tok to NGX_HTTP_AIGW_JSON_NONE and returns 0, so
 * that a value the gateway reads cannot differ from what a provider reads.
 */

ngx_uint_t
ngx_http_aigw_json_get_unique(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_uint_t *key_tok)
{
    size_t      n;
    ngx_uint_t  k, end, found;

    found = NGX_HTTP_AIGW_JSON_NONE;

    if (key_tok) {
        *key_tok = 0;
    }

    if (obj == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[obj].type != ngx_http_aigw_json_object)
    {
        return NGX_HTTP_AIGW_JSON_NONE;
    }

    n = ngx_strlen(key);
    end = j->toks[obj].next;

    for (k = obj + 1; k < end; k = j->toks[k + 1].next) {
        if (!ngx_http_aigw_json_key_is(j, k, key, n)) {
            continue;
        }

        if (found != NGX_HTTP_AIGW_JSON_NONE) {
            if (key_tok) {
                *key_tok = NGX_HTTP_AIGW_JSON_NONE;
            }

            return 0;
        }

        found = k + 1;

        if (key_tok) {
            *key_tok = k;
        }
    }

    return found;
}


/*
 * A member of the given type: NGX_OK, NGX_DECLINED when it is absent or
 * null, NGX_ERROR when it has another type.
 */

ngx_int_t
ngx_http_aigw_json_member(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_uint_t type, ngx_uint_t *v)
{
    *v = ngx_http_aigw_json_get(j, obj, key);

    if (*v == NGX_HTTP_AIGW_JSON_NONE
        || j->toks[*v].type == ngx_http_aigw_json_null)
    {
        *v = NGX_HTTP_AIGW_JSON_NONE;
        return NGX_DECLINED;
    }

    if (type == ngx_http_aigw_json_true) {

        /* a boolean */

        if (j->toks[*v].type == ngx_http_aigw_json_true
            || j->toks[*v].type == ngx_http_aigw_json_false)
        {
            return NGX_OK;
        }

        return NGX_ERROR;
    }

    return j->toks[*v].type == type ? NGX_OK : NGX_ERROR;
}


/* the raw contents of string member "key", left as is when there is none */

ngx_uint_t
ngx_http_aigw_json_get_str(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_str_t *raw)
{
    ngx_uint_t  v;

    v = ngx_http_aigw_json_get(j, obj, key);

    if (!ngx_http_aigw_json_is(j, v, ngx_http_aigw_json_string)) {
        return 0;
    }

    ngx_http_aigw_json_str_raw(j, v, raw);

    return 1;
}


/* the JSON text of member "key", of any type, left as is when there is none */

void
ngx_http_aigw_json_get_raw(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, ngx_str_t *raw)
{
    ngx_uint_t  v;

    v = ngx_http_aigw_json_get(j, obj, key);

    if (v != NGX_HTTP_AIGW_JSON_NONE) {
        ngx_http_aigw_json_raw(j, v, raw);
    }
}


/* member "key" as a count from 0 to "max"; NGX_DECLINED: none or not one */

ngx_int_t
ngx_http_aigw_json_get_count(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    const char *key, int64_t max, int64_t *v)
{
    ngx_uint_t  t;

    t = ngx_http_aigw_json_get(j, obj, key);

    if (t == NGX_HTTP_AIGW_JSON_NONE) {
        return NGX_DECLINED;
    }

    return ngx_http_aigw_json_count(j, t, max, v);
}


void
ngx_http_aigw_json_raw(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_str_t *raw)
{
    raw->data = j->start + j->toks[tok].start;
    raw->len = j->toks[tok].end - j->toks[tok].start;
}


/* the bytes between the quotes of a string, escapes kept */

void
ngx_http_aigw_json_str_raw(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    ngx_str_t *raw)
{
    raw->data = j->start + j->toks[tok].start + 1;
    raw->len = j->toks[tok].end - j->toks[tok].start - 2;
}


/* the decoded value of a string; points into the document when possible */

ngx_int_t
ngx_http_aigw_json_str(ngx_http_aigw_json_t *j, ngx_uint_t tok, ngx_str_t *s)
{
    ngx_str_t  raw;

    ngx_http_aigw_json_str_raw(j, tok, &raw);

    if (!(j->toks[tok].flags & NGX_HTTP_AIGW_JSON_ESCAPED)) {
        *s = raw;
        return NGX_OK;
    }

    return ngx_http_aigw_json_unescape(j->pool, &raw, s);
}


ngx_uint_t
ngx_http_aigw_json_str_eq(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    const char *s)
{
    if (!ngx_http_aigw_json_is(j, tok, ngx_http_aigw_json_string)) {
        return 0;
    }

    return ngx_http_aigw_json_key_is(j, tok, s, ngx_strlen(s));
}


ngx_int_t
ngx_http_aigw_json_int(ngx_http_aigw_json_t *j, ngx_uint_t tok, int64_t *v)
{
    u_char                    *p, *last;
    int64_t                    n;
    ngx_uint_t                 neg;
    ngx_http_aigw_json_tok_t  *t;

    t = &j->toks[tok];

    if (t->type != ngx_http_aigw_json_number
        || !(t->flags & NGX_HTTP_AIGW_JSON_INTEGER))
    {
        return NGX_DECLINED;
    }

    p = j->start + t->start;
    last = j->start + t->end;
    neg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }

    for (n = 0; p < last; p++) {
        if (n > (NGX_HTTP_AIGW_INT64_MAX - (*p - '0')) / 10) {
            return NGX_DECLINED;
        }

        n = n * 10 + (*p - '0');
    }

    *v = neg ? -n : n;

    return NGX_OK;
}


/* an integer from 0 to max, e.g. a token count */

ngx_int_t
ngx_http_aigw_json_count(ngx_http_aigw_json_t *j, ngx_uint_t tok,
    int64_t max, int64_t *v)
{
    int64_t  n;

    if (ngx_http_aigw_json_int(j, tok, &n) != NGX_OK || n < 0 || n > max) {
        return NGX_DECLINED;
    }

    *v = n;

    return NGX_OK;
}


ngx_int_t
ngx_http_aigw_json_unescape(ngx_pool_t *pool, ngx_str_t *raw, ngx_str_t *out)
{
    u_char      *p, *last, *d, c;
    uint32_t     u, lo;

    /* escapes never grow: "\u00e9" (6 bytes) decodes to at most 3 bytes */

    d = ngx_pnalloc(pool, raw->len + 1);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;

    p = raw->data;
    last = p + raw->len;

    while (p < last) {
        c = *p++;

        if (c != '\\') {
            *d++ = c;
            continue;
        }

        if (p == last) {
            return NGX_DECLINED;
        }

        c = *p++;

        switch (c) {
        case 'b': *d++ = '\b'; continue;
        case 'f': *d++ = '\f'; continue;
        case 'n': *d++ = '\n'; continue;
        case 'r': *d++ = '\r'; continue;
        case 't': *d++ = '\t'; continue;
        case 'u': break;
        default: *d++ = c; continue;
        }

        if (last - p < 4) {
            return NGX_DECLINED;
        }

        u = ngx_hextoi(p, 4);
        p += 4;

        if (u == (uint32_t) NGX_ERROR) {
            return NGX_DECLINED;
        }

        if (u >= 0xd800 && u <= 0xdbff) {
            if (last - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                lo = ngx_hextoi(p + 2, 4);

                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;

                } else {
                    u = 0xfffd;
                }

            } else {
                u = 0xfffd;
            }

        } else if (u >= 0xdc00 && u <= 0xdfff) {
            u = 0xfffd;
        }

        if (u < 0x80) {
            *d++ = (u_char) u;

        } else if (u < 0x800) {
            *d++ = (u_char) (0xc0 | (u >> 6));
            *d++ = (u_char) (0x80 | (u & 0x3f));

        } else if (u < 0x10000) {
            *d++ = (u_char) (0xe0 | (u >> 12));
            *d++ = (u_char) (0x80 | ((u >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (u & 0x3f));

        } else {
            *d++ = (u_char) (0xf0 | (u >> 18));
            *d++ = (u_char) (0x80 | ((u >> 12) & 0x3f));
            *d++ = (u_char) (0x80 | ((u >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (u & 0x3f));
        }
    }

    out->len = d - out->data;

    return NGX_OK;
}


/*
 * The byte range that removes member "key" of object "obj" together with
 * one adjacent comma, so that the object stays valid.
 */

ngx_int_t
ngx_http_aigw_json_member_range(ngx_http_aigw_json_t *j, ngx_uint_t obj,
    ngx_uint_t key, size_t *start, size_t *end)
{
    u_char      *p, *last;
    ngx_uint_t   k, prev;

    prev = NGX_HTTP_AIGW_JSON_NONE;

    for (k = obj + 1; k < j->toks[obj].next; k = j->toks[k + 1].next) {
        if (k == key) {
            break;
        }

        prev = k;
    }

    if (k != key) {
        return NGX_ERROR;
    }

    p = j->start + j->toks[key + 1].end;
    last = j->start + j->toks[obj].end;

    while (p < last && ngx_http_aigw_json_ws(*p)) {
        p++;
    }

    if (*p == ',') {

        /* up to the next key */

        p++;

        while (p < last && ngx_http_aigw_json_ws(*p)) {
            p++;
        }

        *start = j->toks[key].start;
        *end = p - j->start;

        return NGX_OK;
    }

    /* the last member: take the comma before it */

    *start = (prev == NGX_HTTP_AIGW_JSON_NONE) ? j->toks[key].start
                                               : j->toks[prev + 1].end;
    *end = j->toks[key + 1].end;

    return NGX_OK;
}


/*
 * A chain that references the document between the edits (sorted, not
 * overlapping) and the replacement texts, without copying the document.
 */

ngx_chain_t *
ngx_http_aigw_json_splice(ngx_pool_t *pool, u_char *doc, size_t len,
    ngx_http_aigw_json_edit_t *edits, ngx_uint_t n)
{
    size_t        pos;
    ngx_buf_t    *b;
    ngx_uint_t    i, k, nbufs;
    ngx_chain_t  *cl;

    nbufs = 2 * n + 1;

    b = ngx_pcalloc(pool, nbufs * sizeof(ngx_buf_t));
    if (b == NULL) {
        return NULL;
    }

    cl = ngx_palloc(pool, nbufs * sizeof(ngx_chain_t));
    if (cl == NULL) {
        return NULL;
    }

    pos = 0;
    k = 0;

    for (i = 0; i <= n; i++) {

        if (i == n || edits[i].start > pos) {
            b[k].pos = doc + pos;
            b[k].last = doc + (i == n ? len : edits[i].start);
            b[k].start = b[k].pos;
            b[k].end = b[k].last;
            b[k].memory = 1;
            cl[k].buf = &b[k];
            k++;
        }

        if (i == n) {
            break;
        }

        if (edits[i].text.len) {
            b[k].pos = edits[i].text.data;
            b[k].last = b[k].pos + edits[i].text.len;
            b[k].start = b[k].pos;
            b[k].end = b[k].last;
            b[k].memory = 1;
            cl[k].buf = &b[k];
            k++;
        }

        pos = edits[i].end;
    }

    for (i = 0; i + 1 < k; i++) {
        cl[i].next = &cl[i + 1];
    }

    cl[k - 1].next = NULL;

    return cl;
}


void
ngx_http_aigw_jw_init(ngx_http_aigw_jw_t *w, ngx_pool_t *pool, size_t block)
{
    ngx_memzero(w, sizeof(ngx_http_aigw_jw_t));

    w->pool = pool;
    w->block = block;
    w->last = &w->out;
}


static ngx_buf_t *
ngx_http_aigw_jw_alloc(ngx_http_aigw_jw_t *w, size_t need)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = ngx_max(need, w->block);

    if (w->free && *w->free
        && (size_t) ((*w->free)->buf->end - (*w->free)->buf->start) >= need)
    {
        cl = *w->free;
        *w->free = cl->next;
        b = cl->buf;
        b->pos = b->start;
        b->last = b->start;
        b->flush = 0;
        b->last_buf = 0;

    } else {
        cl = ngx_alloc_chain_link(w->pool);
        if (cl == NULL) {
            w->error = 1;
            return NULL;
        }

        b = ngx_create_temp_buf(w->pool, size);
        if (b == NULL) {
            w->error = 1;
            return NULL;
        }

        cl->buf = b;
    }

    b->tag = w->tag;
    cl->next = NULL;

    *w->last = cl;
    w->last = &cl->next;
    w->buf = b;

    return b;
}


void
ngx_http_aigw_jw_raw(ngx_http_aigw_jw_t *w, u_char *p, size_t len)
{
    size_t      n;
    ngx_buf_t  *b;

    w->size += len;

    while (len) {
        b = w->buf;

        if (b == NULL || b->last == b->end) {
            b = ngx_http_aigw_jw_alloc(w, len);
            if (b == NULL) {
                return;
            }
        }

        n = ngx_min(len, (size_t) (b->end - b->last));
        b->last = ngx_cpymem(b->last, p, n);
        p += n;
        len -= n;
    }
}


void
ngx_http_aigw_jw_escape(ngx_http_aigw_jw_t *w, u_char *p, size_t len)
{
    u_char       c, *last, *run, esc[6];
    static u_char  hex[] = "0123456789abcdef";

    last = p + len;
    run = p;

    while (p < last) {
        c = *p;

        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }

        if (p > run) {
            ngx_http_aigw_jw_raw(w, run, p - run);
        }

        switch (c) {
        case '"':  ngx_http_aigw_jw_lit(w, "\\\""); break;
        case '\\': ngx_http_aigw_jw_lit(w, "\\\\"); break;
        case '\n': ngx_http_aigw_jw_lit(w, "\\n"); break;
        case '\r': ngx_http_aigw_jw_lit(w, "\\r"); break;
        case '\t': ngx_http_aigw_jw_lit(w, "\\t"); break;
        default:
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            ngx_http_aigw_jw_raw(w, esc, 6);
            break;
        }

        run = ++p;
    }

    if (p > run) {
        ngx_http_aigw_jw_raw(w, run, p - run);
    }
}


void
ngx_http_aigw_jw_cstr(ngx_http_aigw_jw_t *w, const char *s)
{
    ngx_http_aigw_jw_raw(w, (u_char *) s, ngx_strlen(s));
}


/* a string whose escaped contents are already JSON */

void
ngx_http_aigw_jw_qstr(ngx_http_aigw_jw_t *w, ngx_str_t *raw)
{
    ngx_http_aigw_jw_lit(w, "\"");
    ngx_http_aigw_jw_raw(w, raw->data, raw->len);
    ngx_http_aigw_jw_lit(w, "\"");
}


/* as "%L" prints it, without the cost of ngx_sprintf() on every event */

void
ngx_http_aigw_jw_int(ngx_http_aigw_jw_t *w, int64_t v)
{
    u_char    buf[NGX_INT64_LEN + 1], *p;
    uint64_t  u;

    p = buf + sizeof(buf);
    u = (v < 0) ? 0 - (uint64_t) v : (uint64_t) v;

    do {
        *--p = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    ngx_http_aigw_jw_raw(w, p, buf + sizeof(buf) - p);
}


/* a fixed-point number with six decimals (micro-units), zeros trimmed */

void
ngx_http_aigw_jw_micro(ngx_http_aigw_jw_t *w, int64_t v)
{
    u_char  buf[NGX_INT64_LEN + 8], *p;

    if (v < 0) {
        ngx_http_aigw_jw_lit(w, "-");
        v = -v;
    }

    p = ngx_sprintf(buf, "%L.%06L", v / 1000000, v % 1000000);

    while (p[-1] == '0') {
        p--;
    }

    if (p[-1] == '.') {
        p--;
    }

    ngx_http_aigw_jw_raw(w, buf, p - buf);
}


/* printf-like text as the escaped contents of a JSON string */

ngx_int_t
ngx_http_aigw_json_message(ngx_pool_t *pool, ngx_str_t *out,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_aigw_json_vmessage(pool, out, fmt, args);
    va_end(args);

    return rc;
}


ngx_int_t
ngx_http_aigw_json_vmessage(ngx_pool_t *pool, ngx_str_t *out,
    const char *fmt, va_list args)
{
    u_char  *p, text[2048];

    p = ngx_vslprintf(text, text + sizeof(text), fmt, args);
    p = ngx_http_aigw_json_cut(text, p, text + sizeof(text));

    return ngx_http_aigw_jw_escaped(pool, text, p - text, out);
}


/*
 * The end of ngx_vslprintf() output in [start, last): output that filled
 * the buffer was cut, maybe inside a UTF-8 sequence of a string the
 * client sent; it ends on a character boundary with "..." instead.
 */

static u_char *
ngx_http_aigw_json_cut(u_char *start, u_char *p, u_char *last)
{
    if (p < last || last - start < 4) {
        return p;
    }

    p = last - 3;

    while (p > start && (*p & 0xc0) == 0x80) {
        p--;
    }

    return ngx_cpymem(p, "...", 3);
}


ngx_chain_t *
ngx_http_aigw_jw_finish(ngx_http_aigw_jw_t *w)
{
    if (w->error) {
        return NULL;
    }

    return w->out;
}


/* "len" bytes at "p" escaped as JSON string contents, in a new string */

ngx_int_t
ngx_http_aigw_jw_escaped(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out)
{
    ngx_http_aigw_jw_t  w;

    ngx_http_aigw_jw_init(&w, pool, len + 16);
    ngx_http_aigw_jw_escape(&w, p, len);

    return ngx_http_aigw_jw_flatten(&w, out);
}


/* the written bytes as one string (copied only when spread over buffers) */

ngx_int_t
ngx_http_aigw_jw_flatten(ngx_http_aigw_jw_t *w, ngx_str_t *out)
{
    u_char       *p;
    ngx_chain_t  *cl;

    if (w->error) {
        return NGX_ERROR;
    }

    if (w->out == NULL) {
        ngx_str_null(out);
        return NGX_OK;
    }

    if (w->out->next == NULL) {
        out->data = w->out->buf->pos;
        out->len = w->out->buf->last - w->out->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(w->pool, w->size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (cl = w->out; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    out->len = p - out->data;

    return NGX_OK;
}
