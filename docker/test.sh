#!/bin/bash
# make docker-test: build and run the image and the compose fleet with
# podman, on a machine with no image registry, loopback only.
#
#   1. the base: debian:bookworm-slim made from Debian packages (mmdebstrap,
#      podman import), so that the committed Dockerfile is what is built;
#   2. podman build --isolation=chroot of docker/Dockerfile (and a Redis
#      image from Debian's redis-server, for compose);
#   3. one container (--network=host) in front of a mock provider (the
#      image's "mock" mode): a chat request, a stream, an Anthropic
#      request, the healthcheck, the non-root user; its size and start time;
#   4. the fleet of docker/compose.yaml with podman-compose (or, without
#      it, the same containers started by hand with --network=host): both
#      nodes answer and share Redis: an rpm limit across both nodes.
#
# Environment: AIGW_DOCKER_REBUILD_BASE=1 makes the base again even when
# the image exists; AIGW_DOCKER_COMPOSE=0 runs the fleet without
# podman-compose; AIGW_DOCKER_KEEP=1 leaves the containers running.
# It stops and removes only the containers it started (names aigw-test-*
# and the compose project aigw-test).

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/objs/docker
IMAGE=localhost/aigw:test
REDIS_IMAGE=localhost/aigw-redis:test
BASE=docker.io/library/debian:bookworm-slim
PROJECT=aigw-test
# the sandbox may not let a container raise its rlimits: keep them lower
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
ULIMITS=(--ulimit nofile=16384:16384 --ulimit nproc=8192:8192)
STARTED=()
COMPOSE_UP=
PASS=0
FAIL=0

mkdir -p "$WORK"

log()  { printf '# %s\n' "$*"; }
ok()   { PASS=$((PASS + 1)); printf 'ok %d - %s\n' $((PASS + FAIL)) "$1"; }
nok()  { FAIL=$((FAIL + 1)); printf 'not ok %d - %s\n' $((PASS + FAIL)) "$1"; }
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else nok "$name"; fi
}
die() {
    printf 'docker-test: %s\n' "$*" >&2
    exit 1
}

now_ms() { date +%s%3N; }

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

cleanup() {
    local c
    if [ -n "${AIGW_DOCKER_KEEP:-}" ]; then
        log "kept: ${STARTED[*]} ${COMPOSE_UP:+compose project $PROJECT}"
        return
    fi
    if [ -n "$COMPOSE_UP" ]; then
        (cd "$ROOT/docker" && podman-compose -p "$PROJECT" -f compose.yaml \
            --podman-args="${PODMAN[*]:1}" down -t 2) \
            >"$WORK/compose-down.log" 2>&1
        # podman-compose 1.0 leaves the project's network behind
        podman network rm "${PROJECT}_default" >>"$WORK/compose-down.log" 2>&1
    fi
    for c in "${STARTED[@]}"; do
        "${PODMAN[@]}" rm -f -t 2 "$c" >/dev/null 2>&1
    done
}
trap cleanup EXIT

run_ctr() {
    local name=$1
    shift
    "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1
    STARTED+=("$name")
    # (podman's complaint that there is no systemd for the healthcheck
    # timers goes to the log: "podman healthcheck run" works without)
    "${PODMAN[@]}" run -d --name "$name" --network=host "${ULIMITS[@]}" \
        "$@" >/dev/null 2>>"$WORK/podman-run.log"
}

# wait until URL answers 200; print the milliseconds since $2
wait_ready() {
    local url=$1 t0=$2 i
    for i in $(seq 1 1000); do
        if curl -sf -o /dev/null -m 1 "$url"; then
            echo $(( $(now_ms) - t0 ))
            return 0
        fi
        sleep 0.01
    done
    return 1
}

chat() {    # PORT MODEL [STREAM] [USER]
    local user=()

    [ -n "${4:-}" ] && user=(-H "X-User: $4")
    curl -s -m 10 -w '\n%{http_code}' "${user[@]}" \
        -H 'Content-Type: application/json' \
        "http://127.0.0.1:$1/v1/chat/completions" \
        -d "{\"model\":\"$2\",\"stream\":${3:-false},
             \"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
}

# ---- what this machine can do ---------------------------------------------

for cmd in podman mmdebstrap runc curl; do
    command -v "$cmd" >/dev/null 2>&1 || missing="${missing:-} $cmd"
done
if [ -n "${missing:-}" ]; then
    die "missing:$missing (Debian: apt-get install podman mmdebstrap" \
        "runc uidmap fuse-overlayfs slirp4netns podman-compose" \
        "golang-github-containernetworking-plugin-dnsname)"
fi
[ "$(id -u)" = 0 ] || die "run as root (rootful podman, mmdebstrap --mode=root)"

# ---- 1. the base image ------------------------------------------------------

if [ -n "${AIGW_DOCKER_REBUILD_BASE:-}" ] \
   || ! podman image exists "$BASE"; then
    log "building $BASE with mmdebstrap"
    # minbase as the official image: no docs, man pages or locales, no
    # apt lists or .debs left behind (docker-clean), merged /usr without
    # the usrmerge package (and its perl)
    mmdebstrap --variant=minbase --mode=root --format=tar \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --aptopt='Acquire::Languages "none"' \
        --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" > "$1/etc/apt/apt.conf.d/docker-clean"' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        bookworm "$WORK/base.tar" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" \
        >"$WORK/mmdebstrap.log" 2>&1 \
        || { tail -20 "$WORK/mmdebstrap.log"; die "mmdebstrap failed"; }
    podman import --change 'CMD ["bash"]' "$WORK/base.tar" "$BASE" \
        >/dev/null || die "podman import failed"
    rm -f "$WORK/base.tar"
fi

# can this sandbox run a container at all?
if ! out=$("${PODMAN[@]}" run --rm --network=host "${ULIMITS[@]}" "$BASE" \
           true 2>&1); then
    die "podman cannot run a container here: $out"
fi

# ---- 2. the images ---------------------------------------------------------

log "podman build $IMAGE"
t0=$(now_ms)
podman build --isolation=chroot --format docker --network=host \
    "${ULIMITS[@]}" -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT" \
    >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; die "podman build failed"; }
log "built in $(( ($(now_ms) - t0) / 1000 )) s (log: objs/docker/build.log)"
check "nginx -t in the image, as its user" \
    "${PODMAN[@]}" run --rm --network=host "${ULIMITS[@]}" "$IMAGE" nginx -t \
    >>"$WORK/podman-run.log" 2>&1

base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
added=$(( (size - base_size) / 1000000 ))
log "image size: $((size / 1000000)) MB, $added MB on top of" \
    "debian:bookworm-slim ($((base_size / 1000000)) MB)"
check "the image adds at most 40 MB to debian:bookworm-slim ($added MB)" \
    test "$added" -le 40

check "no compiler in the image" \
    "${PODMAN[@]}" run --rm --network=host "${ULIMITS[@]}" --entrypoint sh \
    "$IMAGE" -c '! command -v gcc && ! command -v cc && ! command -v make' \
    2>>"$WORK/podman-run.log"
check "the image has a HEALTHCHECK" \
    test -n "$(podman image inspect --format '{{.HealthCheck}}' "$IMAGE" \
               | grep aigw-entrypoint)"

if ! podman image exists "$REDIS_IMAGE"; then
    mkdir -p "$WORK/redis"
    cat > "$WORK/redis/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends redis-server redis-tools \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server", "--save", "", "--appendonly", "no"]
EOF
    podman build --isolation=chroot --format docker --network=host \
        "${ULIMITS[@]}" -t "$REDIS_IMAGE" "$WORK/redis" \
        >"$WORK/build-redis.log" 2>&1 \
        || { tail -20 "$WORK/build-redis.log"; die "redis image failed"; }
fi

# ---- 3. one container in front of a mock provider --------------------------

MOCK=$(free_port)
GW=$(free_port)
run_ctr aigw-test-mock -e AIGW_PORT="$MOCK" "$IMAGE" mock \
    || die "cannot start the mock provider"
wait_ready "http://127.0.0.1:$MOCK/healthz" "$(now_ms)" >/dev/null \
    || die "the mock provider does not answer"

t0=$(now_ms)
run_ctr aigw-test-gw -e AIGW_PORT="$GW" \
    -e OPENAI_BASE_URL="http://127.0.0.1:$MOCK/v1" -e OPENAI_API_KEY=sk-test \
    "$IMAGE" || die "cannot start the gateway"
t_run=$(wait_ready "http://127.0.0.1:$GW/healthz" "$t0") \
    || { "${PODMAN[@]}" logs aigw-test-gw; die "the gateway never answered"; }
# from the container's start (its StartedAt) to the first answer
started=$("${PODMAN[@]}" inspect --format '{{.State.StartedAt.UnixMilli}}' \
          aigw-test-gw 2>/dev/null)
if [[ $started =~ ^[0-9]+$ ]]; then
    t_start=$(( t0 + t_run - started ))
else
    t_start=$t_run
fi
log "ready: $t_start ms after the container started," \
    "$t_run ms after 'podman run'"
check "ready in under 1 s after start ($t_start ms)" test "$t_start" -lt 1000

r=$(chat "$GW" openai/gpt-test)
check "chat through the mock provider: 200" test "${r##*$'\n'}" = 200
check "chat answer echoes the message" grep -q '"echo: hello"' <<<"$r"

r=$(chat "$GW" openai/gpt-test true)
check "stream: 200" test "${r##*$'\n'}" = 200
check "stream: chunks and [DONE]" \
    bash -c 'grep -q "^data: {.*chat.completion.chunk" <<<"$1" &&
             grep -q "^data: \[DONE\]" <<<"$1"' _ "$r"

r=$(curl -s -m 10 -w '\n%{http_code}' "http://127.0.0.1:$GW/v1/messages" \
    -H 'Content-Type: application/json' \
    -d '{"model":"openai/gpt-test","max_tokens":50,
         "messages":[{"role":"user","content":"hello"}]}')
check "Anthropic Messages to the OpenAI mock: 200, type message" \
    bash -c '[ "${1##*$'"'\n'"'}" = 200 ] && grep -q "\"type\":\"message\"" <<<"$1"' \
    _ "$r"

r=$(chat "$GW" demo/echo)
check "demo/echo (the built-in demo provider): 200" \
    test "${r##*$'\n'}" = 200

r=$(chat "$GW" nope/model)
check "an unknown model: a JSON error in OpenAI's shape" \
    grep -q '"error":{' <<<"$r"

check "the access log is on stdout" \
    bash -c '"$@" logs --since 1m aigw-test-gw 2>/dev/null |
             grep -q "model=openai/gpt-test"' _ "${PODMAN[@]}"
check "the healthcheck command passes" \
    "${PODMAN[@]}" exec aigw-test-gw aigw-entrypoint healthcheck
check "nginx runs as the aigw user (uid 10001)" \
    bash -c '"$@" exec aigw-test-gw cat /proc/1/status |
             grep -q "^Uid:[[:space:]]*10001"' _ "${PODMAN[@]}"
check "no [alert] or [crit] in its log" \
    bash -c '! "$@" logs aigw-test-gw 2>&1 | grep -E "\[(alert|crit|emerg)\]"' \
    _ "${PODMAN[@]}"

# ---- 4. the fleet: two nodes, one Redis -------------------------------------

# AIGW_LIMIT for the fleet: 3 requests a user; the 4th anywhere is refused
fleet_check() {    # PORT1 PORT2: both nodes answer, and share the limit
    local p1=$1 p2=$2 c1 c2 c3 c4 c5 b1

    c1=$(chat "$p1" mock/m false alice | tail -1)
    c2=$(chat "$p2" mock/m false alice | tail -1)
    c3=$(chat "$p1" mock/m false alice | tail -1)
    c4=$(chat "$p2" mock/m false alice | tail -1)
    c5=$(chat "$p1" mock/m false alice | tail -1)
    b1=$(chat "$p2" mock/m false bob | tail -1)
    log "alice on node 1, 2, 1, 2, 1: $c1 $c2 $c3 $c4 $c5; bob on node 2: $b1"
    check "fleet: both nodes answer" test "$c1$c2$c3" = 200200200
    check "fleet: rpm=3 holds across both nodes (Redis): 4th and 5th 429" \
        test "$c4$c5" = 429429
    check "fleet: another user is not limited" test "$b1" = 200
}

if [ "${AIGW_DOCKER_COMPOSE:-1}" != 0 ] \
   && command -v podman-compose >/dev/null 2>&1; then
    log "podman-compose up (docker/compose.yaml, project $PROJECT)"
    PUB=$(free_port)
    COMPOSE_UP=1
    (cd "$ROOT/docker" && \
     AIGW_IMAGE=$IMAGE AIGW_REDIS_IMAGE=$REDIS_IMAGE \
     AIGW_PUBLISH=127.0.0.1:$PUB AIGW_LIMIT="user rpm=3" \
     podman-compose -p "$PROJECT" -f compose.yaml \
         --podman-args="${PODMAN[*]:1}" \
         --podman-run-args="${ULIMITS[*]}" up -d) \
        >"$WORK/compose-up.log" 2>&1 \
        || { tail -20 "$WORK/compose-up.log"; die "podman-compose up failed"; }
    t0=$(now_ms)
    if wait_ready "http://127.0.0.1:$PUB/healthz" "$t0" >/dev/null; then
        # the nodes are behind the balancer: gw1 and gw2 directly from
        # inside the compose network, through the balancer from here
        for i in $(seq 1 100); do
            n=0
            for s in gw1 gw2; do
                podman exec "${PROJECT}_${s}_1" aigw-entrypoint healthcheck \
                    >/dev/null 2>&1 && n=$((n + 1))
            done
            [ "$n" = 2 ] && break
            sleep 0.1
        done
        check "compose: both gateway nodes are healthy" test "$n" = 2
        r=$(chat "$PUB" demo/echo)
        check "compose: the README's curl on the published port: 200" \
            test "${r##*$'\n'}" = 200
        r=$(chat "$PUB" mock/m)
        check "compose: mock/* through the mock service: 200" \
            test "${r##*$'\n'}" = 200
        # round robin: the 5 requests alternate between gw1 and gw2
        fleet_check "$PUB" "$PUB"
        for s in gw1 gw2; do
            n=$(podman logs "${PROJECT}_${s}_1" 2>&1 | grep -c 'model=mock/m')
            check "compose: $s served requests ($n)" test "$n" -ge 2
        done
    else
        nok "compose: the published port answers"
        tail -30 "$WORK/compose-up.log"
    fi
else
    log "no podman-compose: the fleet with podman run --network=host"
    R=$(free_port)
    G1=$(free_port)
    G2=$(free_port)
    run_ctr aigw-test-redis "$REDIS_IMAGE" redis-server --port "$R" \
        --bind 127.0.0.1 --save '' --appendonly no
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$R") 2>/dev/null && break
        sleep 0.05
    done
    for n in 1 2; do
        p=G$n
        run_ctr "aigw-test-gw$n" -e AIGW_PORT="${!p}" \
            -e AIGW_REDIS_URL="redis://127.0.0.1:$R/0" \
            -e AIGW_LIMIT="user rpm=3" \
            -e AIGW_MOCK_URL="http://127.0.0.1:$MOCK/v1" "$IMAGE"
        wait_ready "http://127.0.0.1:${!p}/healthz" "$(now_ms)" >/dev/null
    done
    fleet_check "$G1" "$G2"
fi

printf '%d passed, %d failed\n' "$PASS" "$FAIL"
[ "$FAIL" = 0 ]
