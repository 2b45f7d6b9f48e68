# Failover details: OpenAI's retry-after-ms cools a provider down like
# Retry-After; providers that share an upstream{} but not TLS, SNI or Host
# are warned about.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
check_accum_error_log();

run_tests();

__DATA__

=== TEST 1: a 429 with retry-after-ms cools the provider down for that long
--- http_config
    log_format mock 'MOCK $server_port $status';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        location / {
            add_header retry-after-ms 30000 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log logs/access.log mock;
        location / {
            default_type application/json;
            return 200 '{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"from-b"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
        }
    }
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=ka;
    aigw_provider b url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=kb;
    aigw_model m a b;
--- config
    location / { aigw_pass; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /v1/chat/completions\n{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
 "POST /v1/chat/completions\n{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"]
--- response_headers eval
["X-AIGW-Attempts: a:429,b:200", "X-AIGW-Attempts: b:200"]
--- grep_access_log eval: qr/MOCK \d+ \d+/
--- grep_access_log_out
MOCK $TEST_NGINX_RAND_PORT_1 429
MOCK $TEST_NGINX_RAND_PORT_2 200
MOCK $TEST_NGINX_RAND_PORT_2 200
--- error_log
provider "a" returned 429, cooling down for 30000ms
--- no_error_log
[error]



=== TEST 2: providers with other Host names on one upstream{}: a warning
--- http_config
    upstream shared { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; keepalive 2; }
    aigw_provider u1 upstream=shared tls=off key=k1 host=one.example;
    aigw_provider u2 upstream=shared tls=off key=k2 host=two.example;
    aigw_model m u1 u2;
--- config
    location / { aigw_pass; }
--- request
HEAD /
--- suppress_stderr
--- error_log
aigw_provider "u1" and "u2" share upstream "shared" and so its idle connections, but not their TLS, SNI or Host



=== TEST 3: two keys for one upstream{} share connections, no warning
--- http_config
    upstream shared { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; keepalive 2; }
    aigw_provider u1 upstream=shared tls=off key=k1;
    aigw_provider u2 upstream=shared tls=off key=k2;
    aigw_model m u1 u2;
--- config
    location / { aigw_pass; }
--- request
HEAD /
--- suppress_stderr
--- no_error_log
share upstream
[warn]



=== TEST 4: a retry-after-ms at the largest integer becomes a positive Retry-After, the cooldown stays capped
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            add_header retry-after-ms 9223372036854775807 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=ka;
    aigw_model m a;
--- config
    location / { aigw_pass; }
--- more_headers
Content-Type: application/json
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"x"}]}
--- error_code: 429
--- response_headers
Retry-After: 9223372036854776
X-AIGW-Attempts: a:429
--- error_log
provider "a" returned 429, cooling down for 3600000ms
