# ngx_http_aigw_module: build, run, test.
#
#   make deps    install the system packages the build, `make run` and
#                `make test` need (Debian bookworm; as root or through sudo)
#   make         build objs/ngx_http_aigw_module.so against the installed
#                nginx (Debian nginx-dev, /usr/share/nginx/src)
#   make run     start the gateway on 127.0.0.1:$(AIGW_PORT) (conf/quickstart.conf)
#   make stop    stop it
#   make test    build, then run every test suite under t/ with prove
#   make bench   benchmarks (wrk), never part of `make test`
#   make docker-test  build docker/Dockerfile with podman (base image from
#                Debian packages), run it and the docker/compose.yaml fleet
#   make sanitize  every test suite with the module built with
#                AddressSanitizer and UndefinedBehaviorSanitizer
#
# Build against another nginx source tree (any version >= 1.22):
#   make NGINX_SRC=/path/to/nginx-1.26.2 NGINX=/path/to/that/nginx/binary

SHELL      := /bin/bash
NGINX_SRC  ?= /usr/share/nginx/src
NGINX      ?= /usr/sbin/nginx
AIGW_PORT  ?= 8080
BUILD      ?= $(CURDIR)/objs
MODULE     := $(BUILD)/ngx_http_aigw_module.so
# test only (t/hooks/, t/080-stages.t): never loaded by `make run`
TEST_MODULE := $(BUILD)/ngx_http_aigw_test_module.so
RUNDIR     := $(BUILD)/run

# configure flags: Debian's own (conf_flags) when building against
# nginx-dev, otherwise --with-compat plus what NGINX_CONFIGURE_ARGS adds
NGINX_CONFIGURE_ARGS ?= --with-compat --with-http_ssl_module --with-threads

# extra compiler and linker flags for the module (`make sanitize` sets them)
AIGW_CC_OPT ?=
AIGW_LD_OPT ?=

# `make sanitize`: its own build dir; the module's pool allocations become
# heap blocks of their own (t/sanitize/) so that ASan sees their bounds; the
# runtimes are preloaded into the uninstrumented nginx binary, whose error
# log gets the reports (the harness fails a test on any of them)
SAN_BUILD  := $(CURDIR)/objs-san
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_WRAP   := -Wl,--wrap=ngx_palloc,--wrap=ngx_pnalloc,--wrap=ngx_pcalloc,$\
              --wrap=ngx_pmemalign,--wrap=ngx_pstrdup,$\
              --wrap=ngx_create_temp_buf,--wrap=ngx_array_create

# packages needed by build, run and test (`make deps`)
DEB_PACKAGES := gcc make nginx nginx-dev \
                libssl-dev libpcre2-dev zlib1g-dev libtest-base-perl \
                libhiredis-dev \
                redis-server libnginx-mod-http-echo libnginx-mod-http-js \
                curl openssl ca-certificates

SRCS := $(wildcard ngx_http_aigw_module/*.c ngx_http_aigw_module/*.h \
                  t/hooks/*.c)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps deps-check run stop test sanitize bench clean \
        docker-test

all: build

build: $(MODULE)

$(BUILD)/Makefile: config
	@test -x $(NGINX_SRC)/configure || { \
	    echo "error: no nginx build tree at $(NGINX_SRC);" \
	         "run 'make deps' (Debian: nginx-dev) or set NGINX_SRC" >&2; \
	    exit 1; }
	@mkdir -p $(BUILD)
	cd $(NGINX_SRC) && \
	if [ -f conf_flags ]; then \
	    . ./conf_flags; \
	    ./configure \
	        --with-cc-opt="$$(dpkg-buildflags --get CFLAGS 2>/dev/null) -fPIC $(AIGW_CC_OPT)" \
	        --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS 2>/dev/null) -fPIC $(AIGW_LD_OPT)" \
	        "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR) --builddir=$(BUILD); \
	else \
	    ./configure $(NGINX_CONFIGURE_ARGS) \
	        --with-cc-opt="$(AIGW_CC_OPT)" --with-ld-opt="$(AIGW_LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) --builddir=$(BUILD); \
	fi

$(MODULE): $(BUILD)/Makefile $(SRCS)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGINX_SRC) modules
	@test -f $(MODULE) -a -f $(TEST_MODULE)

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	        --no-install-recommends $$missing || exit 1; \
	fi
	@if [ -f t/e2e/package-lock.json ] && \
	    { [ ! -d t/e2e/node_modules ] || \
	      [ t/e2e/package-lock.json -nt t/e2e/node_modules ]; }; then \
	    cd t/e2e && npm ci --no-audit --no-fund --loglevel=error && \
	    touch node_modules; \
	fi

run: deps build
	@$(MAKE) --no-print-directory stop >/dev/null 2>&1 || true
	@mkdir -p $(RUNDIR)/conf $(RUNDIR)/logs $(RUNDIR)/temp
	@ln -sfn $(BUILD) $(RUNDIR)/modules
	@sed -e 's/8080/$(AIGW_PORT)/g' conf/quickstart.conf \
	    > $(RUNDIR)/conf/nginx.conf
	@$(NGINX) -p $(RUNDIR)/ -c conf/nginx.conf -e logs/error.log \
	    </dev/null >$(RUNDIR)/logs/startup.log 2>&1 \
	    || { cat $(RUNDIR)/logs/startup.log; exit 1; }
	@grep -v '^$$' $(RUNDIR)/logs/startup.log || true
	@echo
	@echo "aigw gateway listening on http://127.0.0.1:$(AIGW_PORT)"
	@echo "  try: curl -s http://127.0.0.1:$(AIGW_PORT)/v1/chat/completions \\"
	@echo "         -H 'Content-Type: application/json' \\"
	@echo "         -d '{\"model\":\"demo/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}'"
	@echo "  logs: $(RUNDIR)/logs/   stop: make stop"

stop:
	@if [ -f $(RUNDIR)/logs/nginx.pid ]; then \
	    kill -QUIT $$(cat $(RUNDIR)/logs/nginx.pid) && \
	    echo "stopped"; \
	    for i in 1 2 3 4 5 6 7 8 9 10; do \
	        [ -f $(RUNDIR)/logs/nginx.pid ] || break; sleep 0.2; \
	    done; \
	else \
	    echo "not running"; \
	fi

test: deps build
	TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	TEST_NGINX_AIGW_TEST_MODULE=$(TEST_MODULE) \
	TEST_NGINX_RANDOMIZE=1 prove -j2 -r t/

sanitize: deps
	AIGW_SANITIZE=1 $(MAKE) --no-print-directory BUILD=$(SAN_BUILD) \
	    AIGW_CC_OPT="$(SAN_FLAGS) -O1" AIGW_LD_OPT="$(SAN_FLAGS) $(SAN_WRAP)" \
	    build
	printf '#!/bin/sh\nLD_PRELOAD="%s" exec %s "$$@"\n' \
	    "$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	    "$(NGINX)" > $(SAN_BUILD)/nginx && chmod +x $(SAN_BUILD)/nginx
	TEST_NGINX_BINARY=$(SAN_BUILD)/nginx \
	TEST_NGINX_LOAD_MODULES=$(SAN_BUILD)/ngx_http_aigw_module.so \
	TEST_NGINX_AIGW_TEST_MODULE=$(SAN_BUILD)/ngx_http_aigw_test_module.so \
	ASAN_OPTIONS=detect_leaks=0 TEST_NGINX_RANDOMIZE=1 prove -j2 -r t/

bench: deps build
	@command -v wrk >/dev/null 2>&1 && command -v strace >/dev/null 2>&1 || \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk strace
	BUILD=$(BUILD) NGINX=$(NGINX) bench/run

docker-test:
	@command -v podman >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	      $(SUDO) apt-get install -y -q --no-install-recommends podman \
	        mmdebstrap runc uidmap fuse-overlayfs slirp4netns podman-compose \
	        golang-github-containernetworking-plugin-dnsname curl; }
	docker/test.sh

clean:
	rm -rf $(BUILD) $(SAN_BUILD) t/servroot*
