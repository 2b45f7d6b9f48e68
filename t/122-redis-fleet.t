# Issue 11, item 6: a fleet of two nginx nodes (t/lib/AigwRedis.pm,
# "--- second_nginx") with one Redis enforces one set of limits and
# budgets, exactly as one node does: requests fired at once
# (t/lib/fire), alternating between the nodes.
#
# Node 1 serves the mock providers on port 1 for both nodes:
#   /o     1000 input (200 cached) and 500 output tokens, at once
#   /p     10 input and 500 output tokens, after 0.3 s
#   /slow  1 and 1 tokens, after 1 s
# a/m costs $2.50 input, $1.25 cached input, $10 output per 1M tokens:
# $0.00725 a request on /o.  p/m: $0.005025 a request on /p, and a
# request with max_tokens 500 reserves an estimate of $0.005078 (its
# prompt at about four bytes a token plus 500 output tokens): the
# estimate is above the real cost, so with reservation of the estimate
# no budget is ever exceeded, by any number of requests in flight on any
# number of nodes (the bound, spend <= budget + the in-flight requests'
# (real - estimate), is 0 here).
use lib 't/lib';

BEGIN {
    require AigwRedis;
    AigwRedis::skip_all_unless_redis('t/122-redis-fleet.t');
}

use Test::Nginx::Socket 'no_plan';
use AigwRedis;

repeat_each(1);
workers(2);
master_on();

start_redis();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(second_nginx => 1);

    $block->set_value(main_config => "    load_module \$TEST_NGINX_ECHO_MODULE;\n"
                      . "    worker_shutdown_timeout 2s;\n");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    aigw_zone aigw 1m;
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s fail=closed;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /o/chat/completions {
            return 200 '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200}}}';
        }
        location /p/chat/completions {
            echo_sleep 0.3;
            echo '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}';
        }
        location /slow/chat/completions {
            echo_sleep 1;
            echo '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"slow"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
        }
    }
    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/o key=k;
    aigw_provider pp url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p key=k;
    aigw_provider ps url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/slow key=k;
    aigw_model a/m po:m input=2.50 output=10 cached_input=1.25;
    aigw_model p/m pp:m input=2.50 output=10;
    aigw_model s/m ps:m;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location = /v1/credits {
        aigw_credits;
    }
    location /v1/ {
        aigw_pass;
    }
_EOC_

    # U1, U2: the chat URLs of node 1 and node 2; body MODEL USER [MAX]
    $block->set_value(client_cmd => <<'_EOC_' . $block->{client_cmd}[0]);
U1=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
U2=http://127.0.0.1:$TEST_NGINX_NODE2_PORT/v1/chat/completions
body() {
    echo "{\"model\":\"$1\",\"max_tokens\":${3:-500},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"$2\"}}}"
}
fire() { perl t/lib/fire -t 20 "$@"; }
_EOC_

    $block->set_value(no_error_log => "[error]\n[alert]\n[crit]\n")
        unless $block->{no_error_log};
});

# after the preprocessor above, which asks every block for node 2
fleet_mode();

run_tests();

__DATA__

=== TEST 1: rpm=10 for a user: 30 requests at once, 15 on each node: exactly 10 pass and 20 get 429 (one atomic counter in Redis); another user is not affected
--- http_config
    aigw_limit user rpm=10;
--- client_cmd
fire -n 30 -d "$(body a/m ann)" $U1 $U2
fire -n 2 -d "$(body a/m ben)" $U1 $U2
--- client_output_like: \A10 200\n20 429\n2 200\n\z



=== TEST 2: rpm=10 asked one at a time, alternating nodes: the 11th is refused on either node, with the same headers as one node gives
--- http_config
    aigw_limit user rpm=10;
--- client_cmd
for i in 1 2 3 4 5; do
    for u in $U1 $U2; do
        curl -sS -o /dev/null -w '%{http_code} ' -H 'Content-Type: application/json' -d "$(body a/m cid)" $u
    done
done
echo
for u in $U1 $U2; do
    curl -sS -o /dev/null -D - -H 'Content-Type: application/json' -d "$(body a/m cid)" $u \
        | grep -iE '^(HTTP|x-ratelimit-(limit|remaining)-requests)' | tr -d '\r' | sort
done
--- client_output_like
\A(?:200 ){10}
HTTP/1.1 429 Too Many Requests
x-ratelimit-limit-requests: 10
x-ratelimit-remaining-requests: 0
HTTP/1.1 429 Too Many Requests
x-ratelimit-limit-requests: 10
x-ratelimit-remaining-requests: 0
\z



=== TEST 3: a $0.05 budget, 20 requests at once over both nodes: each reserves its estimate ($0.005078 >= the real $0.005025), so exactly 9 pass, never a 10th; what was spent is the same whichever node asks
--- http_config
    aigw_budget user 0.05/total;
--- client_cmd
fire -n 20 -d "$(body p/m dee)" $U1 $U2
sleep 0.2
curl -sS -H 'Content-Type: application/json' -d "$(body p/m dee)" $U2
curl -sS -H 'Content-Type: application/json' -d "$(body p/m dee)" $U1
--- client_output_like: (?s)\A9 200\n11 402\n[^\n]*\$0\.045225 used[^\n]*it never resets[^\n]*"type":"billing_error"[^\n]*\n[^\n]*\$0\.045225 used



=== TEST 4: the same budget asked one at a time, alternating nodes: it stops at the same count as one node (9), and the spend is settled at the real cost
--- http_config
    aigw_budget user 0.05/total;
--- client_cmd
for i in 1 2 3 4 5 6; do
    for u in $U1 $U2; do
        curl -sS -o /dev/null -w '%{http_code} ' -H 'Content-Type: application/json' -d "$(body p/m eve)" $u
    done
done
echo
curl -sS -H 'Content-Type: application/json' -d "$(body p/m eve)" $U2
--- client_output_like: (?s)\A(?:200 ){9}(?:402 ){3}\n[^\n]*\$0\.045225 used



=== TEST 5: concurrent=2 for a user across nodes, a provider that takes 1 s: of 6 requests at once 2 pass; the leases are given back, so the next 2 at once pass
--- http_config
    aigw_limit user concurrent=2;
--- client_cmd
fire -n 6 -d "$(body s/m fay 10)" $U1 $U2
sleep 0.2
fire -n 2 -d "$(body s/m fay 10)" $U2 $U1
--- client_output_like: \A2 200\n4 429\n2 200\n\z



=== TEST 6: /v1/credits on node 2 shows what the key spent on node 1, and the other way round
--- http_config
    aigw_key ka sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea budget=1/total;
    aigw_key kb sha256:4d922a846e66117ae609ae86ff0850516bc8a82f913013e771898daa526bfeed;
--- client_cmd
C1=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/credits
C2=http://127.0.0.1:$TEST_NGINX_NODE2_PORT/v1/credits
for i in 1 2; do
    curl -sS -o /dev/null -w '%{http_code} ' -H 'Authorization: Bearer sec-a' -H 'Content-Type: application/json' -d "$(body a/m gil)" $U1
done
curl -sS -o /dev/null -w '%{http_code}\n' -H 'Authorization: Bearer sec-b' -H 'Content-Type: application/json' -d "$(body a/m gil)" $U2
sleep 0.2
curl -sS -H 'Authorization: Bearer sec-a' $C2
curl -sS -H 'Authorization: Bearer sec-b' $C1
curl -sS -H 'Authorization: Bearer sec-a' $C1
--- client_output_like
\A200 200 200
\{"balance":"0\.9855","total_used":"0\.0145"\}
\{"balance":"0","total_used":"0\.00725"\}
\{"balance":"0\.9855","total_used":"0\.0145"\}
\z
