
/*
 * Copyright (C) ngx_http_aigw_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_aigw_module.h"


/*
 * The canonical form, as both formats' adapters build it: a message, a
 * part, a tool and a stream event added zeroed to their arrays.
 */


ngx_http_aigw_msg_t *
ngx_http_aigw_msg_add(ngx_pool_t *pool, ngx_array_t *messages)
{
    ngx_http_aigw_msg_t  *msg;

    msg = ngx_array_push(messages);
    if (msg == NULL) {
        return NULL;
    }

    ngx_memzero(msg, sizeof(ngx_http_aigw_msg_t));

    if (ngx_array_init(&msg->parts, pool, 2, sizeof(ngx_http_aigw_part_t))
        != NGX_OK)
    {
        return NULL;
    }

    return msg;
}


ngx_http_aigw_part_t *
ngx_http_aigw_part_add(ngx_array_t *parts, ngx_uint_t type)
{
    ngx_http_aigw_part_t  *part;

    part = ngx_array_push(parts);
    if (part == NULL) {
        return NULL;
    }

    ngx_memzero(part, sizeof(ngx_http_aigw_part_t));
    part->type = type;

    return part;
}


ngx_http_aigw_tool_t *
ngx_http_aigw_tool_add(ngx_array_t *tools)
{
    ngx_http_aigw_tool_t  *tool;

    tool = ngx_array_push(tools);
    if (tool == NULL) {
        return NULL;
    }

    ngx_memzero(tool, sizeof(ngx_http_aigw_tool_t));

    return tool;
}


ngx_http_aigw_event_t *
ngx_http_aigw_event_add(ngx_array_t *events, ngx_uint_t type,
    ngx_uint_t kind)
{
    ngx_http_aigw_event_t  *ev;

    ev = ngx_array_push(events);
    if (ev == NULL) {
        return NULL;
    }

    ngx_memzero(ev, sizeof(ngx_http_aigw_event_t));
    ev->type = type;
    ev->kind = kind;

    return ev;
}
