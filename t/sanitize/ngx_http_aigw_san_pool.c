/*
 * For `make sanitize` only, never part of a normal build: linked into the
 * module with -Wl,--wrap=ngx_palloc,... (see config and Makefile), so that
 * every pool allocation the module makes is a malloc() block of its own,
 * freed by a pool cleanup.  AddressSanitizer then sees exact bounds and
 * use after the pool is destroyed, which it cannot see inside nginx's pool
 * blocks.
 */

#include <ngx_config.h>
#include <ngx_core.h>


static void
ngx_http_aigw_san_free(void *data)
{
    free(data);
}


static void *
ngx_http_aigw_san_alloc(ngx_pool_t *pool, size_t size, int zero)
{
    void                *p;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    p = zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
    if (p == NULL) {
        return NULL;
    }

    if (!zero) {
        /* poison: not zero, so reads of uninitialized bytes misbehave */
        memset(p, 0xa5, size);
    }

    cln->handler = ngx_http_aigw_san_free;
    cln->data = p;

    return p;
}


void *
__wrap_ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return ngx_http_aigw_san_alloc(pool, size, 0);
}


void *
__wrap_ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_http_aigw_san_alloc(pool, size, 0);
}


void *
__wrap_ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_http_aigw_san_alloc(pool, size, 1);
}


void *
__wrap_ngx_pmemalign(ngx_pool_t *pool, size_t size, size_t alignment)
{
    return ngx_http_aigw_san_alloc(pool, size, 0);
}


u_char *
__wrap_ngx_pstrdup(ngx_pool_t *pool, ngx_str_t *src)
{
    u_char  *dst;

    dst = ngx_http_aigw_san_alloc(pool, src->len, 0);
    if (dst == NULL) {
        return NULL;
    }

    ngx_memcpy(dst, src->data, src->len);

    return dst;
}


ngx_buf_t *
__wrap_ngx_create_temp_buf(ngx_pool_t *pool, size_t size)
{
    ngx_buf_t  *b;

    b = ngx_http_aigw_san_alloc(pool, sizeof(ngx_buf_t), 1);
    if (b == NULL) {
        return NULL;
    }

    b->start = ngx_http_aigw_san_alloc(pool, size, 0);
    if (b->start == NULL) {
        return NULL;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->last + size;
    b->temporary = 1;

    return b;
}


ngx_array_t *
__wrap_ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_http_aigw_san_alloc(p, sizeof(ngx_array_t), 0);
    if (a == NULL) {
        return NULL;
    }

    a->elts = ngx_http_aigw_san_alloc(p, n * size, 0);
    if (a->elts == NULL) {
        return NULL;
    }

    a->nelts = 0;
    a->size = size;
    a->nalloc = n;
    a->pool = p;

    return a;
}
