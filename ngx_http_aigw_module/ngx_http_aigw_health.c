
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/* provider health in the zone: cooldowns and the circuit breaker */

void
ngx_http_aigw_health_report(ngx_http_request_t *r,
    ngx_http_aigw_provider_t *p, ngx_uint_t status, ngx_uint_t failed,
    ngx_str_t *retry_after)
{
    ngx_int_t                   secs;
    ngx_msec_t                  now, cool;
    ngx_atomic_uint_t           failures;
    ngx_http_aigw_health_t     *h;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aigw_module);

    if (amcf->sh == NULL || p->index >= amcf->sh->n) {
        return;
    }

    h = &amcf->sh->providers[p->index];
    now = ngx_current_msec;

    (void) ngx_atomic_fetch_add(&h->requests, 1);

    /* rate limited or overloaded: cool down, as long as it asks */

    if (status == NGX_HTTP_TOO_MANY_REQUESTS || status == 529
        || status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        cool = amcf->cooldown;

        if (retry_after && retry_after->len) {
            secs = ngx_atoi(retry_after->data, retry_after->len);

            if (secs == NGX_ERROR) {

                /* Retry-After may also be an HTTP-date */

                secs = ngx_parse_http_time(retry_after->data,
                                           retry_after->len);

                if (secs != NGX_ERROR) {
                    secs = (secs > ngx_time()) ? secs - ngx_time() : 0;
                }
            }

            if (secs != NGX_ERROR) {
                cool = (ngx_msec_t) ngx_min(secs, 3600) * 1000;
            }
        }

        h->cooldown_until = now + cool;

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" returned %ui, cooling down "
                      "for %Mms", &p->name, status, cool);
        return;
    }

    if (!failed && status < 500) {
        h->failures = 0;
        return;
    }

    /* errors, timeouts and 5xx in a row open the circuit */

    failures = ngx_atomic_fetch_add(&h->failures, 1) + 1;

    if (failures >= amcf->failures) {

        /*
         * half-open afterwards: one more failure opens the circuit again,
         * one success closes it
         */

        h->failures = amcf->failures - 1;
        h->open_until = now + amcf->open_time;

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aigw: provider \"%V\" failed %uA times in a row, "
                      "its circuit is open for %Mms", &p->name, failures,
                      amcf->open_time);
    }
}


ngx_int_t
ngx_http_aigw_health_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_aigw_main_conf_t  *oamcf = data;

    size_t                      size;
    ngx_uint_t                  i, k, n;
    ngx_slab_pool_t            *shpool;
    ngx_http_aigw_shctx_t      *sh, *osh;
    ngx_http_aigw_provider_t   *p;
    ngx_http_aigw_main_conf_t  *amcf;

    amcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    n = amcf->providers.nelts;
    size = sizeof(ngx_http_aigw_shctx_t)
           + (n ? n - 1 : 0) * sizeof(ngx_http_aigw_health_t);

    osh = oamcf ? oamcf->sh : NULL;

    if (shm_zone->shm.exists) {
        amcf->sh = shpool->data;
        return NGX_OK;
    }

    ngx_shmtx_lock(&shpool->mutex);

    sh = ngx_slab_calloc_locked(shpool, size);

    if (sh == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_ERROR;
    }

    sh->n = n;
    p = amcf->providers.elts;

    for (i = 0; i < n; i++) {
        ngx_memcpy(sh->providers[i].name, p[i].name.data,
                   ngx_min(p[i].name.len, 63));

        /* the state of a provider survives a reload */

        for (k = 0; osh && k < osh->n; k++) {
            if (ngx_strcmp(osh->providers[k].name, sh->providers[i].name)
                == 0)
            {
                sh->providers[i] = osh->providers[k];
                break;
            }
        }
    }

    if (osh) {
        ngx_slab_free_locked(shpool, osh);
    }

    shpool->data = sh;

    ngx_shmtx_unlock(&shpool->mutex);

    amcf->sh = sh;

    return NGX_OK;
}
