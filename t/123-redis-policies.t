# Issue 11, items 3 and 4 through the limits stage: what a request does
# when Redis cannot keep the counters (down, slower than timeout=, not
# Redis), under each fail= policy; the circuit breaker that makes a dead
# Redis cost one timeout per probe; a client that goes away while its
# request waits for Redis gives back what Redis reserved for it; the
# credits and the report when Redis is unavailable.
#
# Providers on port 1; port 2 is free (nothing listens: Redis is down).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
workers(1);
master_on();

start_redis();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(request_gap => '0.05') unless $block->{request_gap};
    $block->set_value(main_config => "    load_module \$TEST_NGINX_ECHO_MODULE;\n");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    aigw_zone aigw 1m;
    log_format lim 'LIM $status limit=$aigw_limit';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /o/chat/completions {
            return 200 '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}';
        }
        location /a/v1/messages {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1000,"output_tokens":500}}';
        }
    }
    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/o key=k;
    aigw_provider pa format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a key=k;
    aigw_model o/m po:m;
    aigw_model a/m pa:m;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log lim;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[alert]\n[crit]\n")
        unless $block->{no_error_log};
});

sub oai {
    my ($user) = @_;
    return "POST /v1/chat/completions\n{\"model\":\"o/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"}}}";
}

sub ant {
    my ($user) = @_;
    return "POST /v1/messages\n{\"model\":\"a/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"}}}";
}

run_tests();

__DATA__

=== TEST 1: Redis down, fail=closed: 503 in each client's shape; the breaker: one connection attempt, one [error] line for three requests
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_2 timeout=200ms fail=closed probe=10s;
    aigw_limit user rpm=100;
--- request eval
[main::oai("al"), main::ant("al"), main::oai("al")]
--- error_code eval
[503, 503, 503]
--- response_json eval
[{error => {message => "~/cannot keep the counters/"}},
 {type => "error", error => {type => "overloaded_error"}},
 {error => {}}]
--- grep_error_log eval: qr/redis 127\.0\.0\.1:\d+ is unavailable/
--- grep_error_log_out eval
[qr/\Aredis 127\.0\.0\.1:\d+ is unavailable\n\z/]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 503 limit=zone
LIM 503 limit=zone
LIM 503 limit=zone



=== TEST 2: Redis down, fail=open: every request goes on, no limit applies and no rate-limit headers are made up
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_2 timeout=200ms fail=open;
    aigw_limit user rpm=1;
--- request eval
[main::oai("bo"), main::oai("bo"), main::ant("bo")]
--- error_code eval
[200, 200, 200]
--- raw_response_headers_unlike eval
["x-ratelimit-", "x-ratelimit-", "anthropic-ratelimit-"]
--- error_log
is unavailable
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=-
LIM 200 limit=-
LIM 200 limit=-



=== TEST 3: Redis down, fail=local (the default): the node's own counters enforce the limit meanwhile
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_2 timeout=200ms;
    aigw_limit user rpm=2;
--- request eval
[main::oai("cy"), main::oai("cy"), main::oai("cy")]
--- error_code eval
[200, 200, 429]
--- response_headers eval
[{"x-ratelimit-remaining-requests" => 1}, {"x-ratelimit-remaining-requests" => 0}, {"Retry-After" => 30}]
--- error_log
is unavailable



=== TEST 4: Redis that never answers (a listener that accepts and is silent), timeout=100ms, fail=closed: the first request waits about the timeout, not longer; the next ones fail at once (the breaker is open)
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_3 timeout=100ms fail=closed probe=10s;
    aigw_limit user rpm=100;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_no_close
--- tcp_reply_delay: 3
--- tcp_reply:
--- request eval
[main::oai("di"), main::oai("di")]
--- error_code eval
[503, 503]
--- timeout: 1
--- error_log eval
qr/redis 127\.0\.0\.1:\d+ is unavailable \([^)]*tim/



=== TEST 5: something that is not Redis (it answers garbage), fail=local: the request is limited locally, the reason is logged
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_3 timeout=500ms fail=local probe=10s;
    aigw_limit user rpm=1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_reply: HTTP/1.1 400 Bad Request\r\n\r\n
--- request eval
[main::oai("ed"), main::oai("ed")]
--- error_code eval
[200, 429]
--- error_log
is unavailable



=== TEST 6: a request waiting for a stopped Redis whose client goes away: when Redis answers, its lease and its token reservation are given back
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=3s;
    aigw_limit user concurrent=1 tpm=100000;
--- client_cmd
B='{"model":"o/m","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"fi"}}}'
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
R="redis-cli -p $TEST_NGINX_REDIS_PORT"
curl -sS -o /dev/null -w 'warm %{http_code}\n' -H 'Content-Type: application/json' -d "$B" $U
$R --scan --pattern 'aigw:{tpm:user:2:fi}*' | sed 's/^/key /' | sed 's/:m:[0-9]*$/:m:N/'
T=$($R --scan --pattern 'aigw:{tpm:user:2:fi}*')
echo "tokens $($R get "$T")"
kill -STOP $TEST_NGINX_REDIS_PID
curl -sS -m 0.5 -o /dev/null -H 'Content-Type: application/json' -d "$B" $U
kill -CONT $TEST_NGINX_REDIS_PID
sleep 0.5
echo "leases $($R zcard 'aigw:{concurrent:user:2:fi}')"
echo "tokens $($R get "$T")"
curl -sS -o /dev/null -w 'next %{http_code}\n' -H 'Content-Type: application/json' -d "$B" $U
--- client_output_like: (?s)\Awarm 200\nkey aigw:\{tpm:user:2:fi\}:m:N\ntokens 1500\nleases 0\ntokens 1500\nnext 200\n\z
--- grep_access_log eval: qr/LIM \d+/
--- grep_access_log_out
LIM 200
LIM 499
LIM 200



=== TEST 7: Redis restarts its script cache (SCRIPT FLUSH): EVALSHA gets NOSCRIPT and the script is sent again; the counters hold
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT fail=closed;
    aigw_limit user rpm=2;
--- init
main::redis_cmd('SCRIPT', 'FLUSH');
--- request eval
[main::oai("gu"), main::oai("gu"), main::oai("gu")]
--- error_code eval
[200, 200, 429]
--- redis_out
EXISTS aigw:{rpm:user:2:gu} => 1
--- no_error_log
[error]
[alert]



=== TEST 8: /v1/credits and /v1/report with Redis down: fail=closed answers 503, in the OpenAI shape
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_2 timeout=100ms fail=closed;
    aigw_key k1 sk-one-1;
--- config
    location = /v1/credits { aigw_credits; }
    location = /v1/report { aigw_report; }
--- request eval
["GET /v1/credits", "GET /v1/report?start_date=2026-01-01&end_date=2026-12-31"]
--- more_headers
Authorization: Bearer sk-one-1
--- error_code eval
[503, 503]
--- response_json eval
[{error => {message => "~/cannot read its counters/"}}, {error => {}}]



=== TEST 9: /v1/credits and /v1/report with Redis down and fail=local: this node's own counters answer
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_2 timeout=100ms;
    aigw_key k1 sk-one-1;
--- config
    location = /v1/credits { aigw_credits; }
    location = /v1/report { aigw_report; }
    location /v1/ { aigw_pass; }
--- request eval
["POST /v1/chat/completions\n{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "GET /v1/credits", "GET /v1/report?start_date=2020-01-01&end_date=2099-12-31"]
--- more_headers
Authorization: Bearer sk-one-1
Content-Type: application/json
--- error_code eval
[200, 200, 200]
--- response_json eval
[{}, {balance => "0", total_used => "<ANY>"}, {results => [{total_cost => "<ANY>"}]}]
