#!/bin/bash
# aigw-entrypoint: the container's entry point (docker/Dockerfile).
#
#   aigw-entrypoint [nginx [ARGS]]  render aigw.conf, exec nginx in the
#                                   foreground (ARGS: e.g. -t)
#   aigw-entrypoint mock [ARGS]     the same with mock.conf: a mock provider
#   aigw-entrypoint lb [ARGS]       the same with lb.conf: a round-robin
#                                   balancer over $AIGW_UPSTREAMS
#   aigw-entrypoint render [mock]   render only, print the file's path
#   aigw-entrypoint healthcheck     GET /healthz on 127.0.0.1:$AIGW_PORT
#   aigw-entrypoint CMD ...         run CMD
#
# The environment (see README, "Docker"):
#   AIGW_PORT         the port to listen on (8080)
#   AIGW_WORKERS      worker_processes (auto)
#   AIGW_REDIS_URL    redis://[user:password@]host[:port][/db]: aigw_redis,
#                     the counters of a fleet in Redis (none)
#   AIGW_REDIS_PASSWORD  the Redis password, read by nginx (password_env=)
#   AIGW_REDIS_FAIL   fail= of aigw_redis: local, open or closed (local)
#   AIGW_LIMIT        one aigw_limit, e.g. "user rpm=20 concurrent=3" (none)
#   AIGW_ACCESS_LOG   the access log: a file, or off (/dev/stdout)
#   OPENAI_BASE_URL, OPENAI_API_KEY, ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY,
#   AIGW_MOCK_URL     read by nginx itself (url_env=, key_env=)
#   AIGW_UPSTREAMS    "lb" only: the nodes to balance, "host:port host:port"
# and, for tests outside the image: AIGW_SHARE (the templates), AIGW_RUN_DIR
# (where the configuration, pid and temp files go), AIGW_MODULE (the .so),
# AIGW_NGINX (the nginx binary).

set -euo pipefail

AIGW_PORT=${AIGW_PORT:-8080}
AIGW_WORKERS=${AIGW_WORKERS:-auto}
AIGW_REDIS_URL=${AIGW_REDIS_URL:-}
AIGW_REDIS_PASSWORD=${AIGW_REDIS_PASSWORD:-}
AIGW_REDIS_FAIL=${AIGW_REDIS_FAIL:-local}
AIGW_LIMIT=${AIGW_LIMIT:-}
AIGW_UPSTREAMS=${AIGW_UPSTREAMS:-}
AIGW_ACCESS_LOG=${AIGW_ACCESS_LOG:-/dev/stdout}
AIGW_SHARE=${AIGW_SHARE:-/usr/share/aigw}
AIGW_RUN_DIR=${AIGW_RUN_DIR:-/tmp/aigw}
AIGW_MODULE=${AIGW_MODULE:-/usr/lib/nginx/modules/ngx_http_aigw_module.so}
AIGW_NGINX=${AIGW_NGINX:-nginx}

die() {
    echo "aigw-entrypoint: $*" >&2
    exit 1
}

# a value for a sed replacement with "|" as the delimiter
sed_value() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

render() {
    local template=$1 redis="" limit="" access_log="access_log  off;"
    local servers="" u

    [[ $AIGW_PORT =~ ^[0-9]{1,5}$ ]] && (( AIGW_PORT >= 1 &&
                                           AIGW_PORT <= 65535 )) \
        || die "AIGW_PORT must be a port number, not \"$AIGW_PORT\""
    [[ $AIGW_WORKERS =~ ^(auto|[1-9][0-9]{0,2})$ ]] \
        || die "AIGW_WORKERS must be auto or a number"

    if [ -n "$AIGW_REDIS_URL" ]; then
        # no spaces, quotes, braces, ";" or "$": one nginx word
        [[ $AIGW_REDIS_URL =~ ^rediss?://[^][:space:]\;{}\'\"\$\\]+$ ]] \
            || die "AIGW_REDIS_URL must be redis://host[:port][/db]" \
                   "or rediss://..."
        [[ $AIGW_REDIS_FAIL =~ ^(local|open|closed)$ ]] \
            || die "AIGW_REDIS_FAIL must be local, open or closed"
        redis="aigw_redis  $AIGW_REDIS_URL fail=$AIGW_REDIS_FAIL"
        if [ -n "$AIGW_REDIS_PASSWORD" ]; then
            redis="$redis password_env=AIGW_REDIS_PASSWORD"
        fi
        redis="$redis;"
    fi

    if [ -n "$AIGW_LIMIT" ]; then
        [[ $AIGW_LIMIT =~ ^(user|key|key\+user|tag=[A-Za-z0-9_.:-]+)(\ +(rpm|tpm|tpd|concurrent)=[0-9]+)+$ ]] \
            || die "AIGW_LIMIT must be like \"user rpm=20 concurrent=3\""
        limit="aigw_limit  $AIGW_LIMIT;"
    fi

    if [ "$template" = lb.conf ]; then
        for u in $AIGW_UPSTREAMS; do
            [[ $u =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] \
                || die "AIGW_UPSTREAMS: \"$u\" is not host:port"
            servers="${servers}server $u max_fails=1 fail_timeout=2s; "
        done
        [ -n "$servers" ] || die "lb needs AIGW_UPSTREAMS=\"host:port ...\""
    fi

    if [ "$AIGW_ACCESS_LOG" != off ]; then
        [[ $AIGW_ACCESS_LOG =~ ^/[^[:space:]\;{}\'\"\$\\]*$ ]] \
            || die "AIGW_ACCESS_LOG must be an absolute path or off"
        access_log="access_log  $AIGW_ACCESS_LOG aigw;"
    fi

    mkdir -p "$AIGW_RUN_DIR"
    sed -e "s|@AIGW_PORT@|$AIGW_PORT|g" \
        -e "s|@AIGW_WORKERS@|$AIGW_WORKERS|g" \
        -e "s|@AIGW_RUN_DIR@|$(sed_value "$AIGW_RUN_DIR")|g" \
        -e "s|@AIGW_MODULE@|$(sed_value "$AIGW_MODULE")|g" \
        -e "s|@AIGW_REDIS@|$(sed_value "$redis")|g" \
        -e "s|@AIGW_LIMIT@|$(sed_value "$limit")|g" \
        -e "s|@AIGW_ACCESS_LOG@|$(sed_value "$access_log")|g" \
        -e "s|@AIGW_UPSTREAMS@|$(sed_value "$servers")|g" \
        "$AIGW_SHARE/$template" > "$AIGW_RUN_DIR/nginx.conf"
}

run_nginx() {
    render "$1"
    shift
    exec "$AIGW_NGINX" -p "$AIGW_RUN_DIR/" -c "$AIGW_RUN_DIR/nginx.conf" \
         -e stderr "$@"
}

healthcheck() {
    local status

    exec 3<>"/dev/tcp/127.0.0.1/$AIGW_PORT" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    read -r -t 2 status <&3 || exit 1
    [[ $status == "HTTP/1."[01]" 200 "* ]]
}

case "${1:-nginx}" in
    nginx)
        [ $# -gt 0 ] && shift
        run_nginx aigw.conf "$@"
        ;;
    mock|lb)
        t=$1.conf
        shift
        run_nginx "$t" "$@"
        ;;
    render)
        case "${2:-}" in
            mock|lb) render "$2.conf" ;;
            *)       render aigw.conf ;;
        esac
        echo "$AIGW_RUN_DIR/nginx.conf"
        ;;
    healthcheck)
        healthcheck
        ;;
    *)
        exec "$@"
        ;;
esac
