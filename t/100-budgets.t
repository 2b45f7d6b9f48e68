# Issue 10, items 4 and 6: budgets (user, tag, key, key+user, a key's inline
# budget=) in integer micro-USD from the real
# usage and the configured prices, an estimate reserved before the call:
# 402 (billing_error) naming the budget and when it resets, warn= once
# per period with a response header, $aigw_budget_remaining, 20 parallel
# requests that cannot overshoot, and a zone too small for the budgets.
#
# Model b/m costs $2.50 input, $10 output per 1M tokens; its provider on
# port 1 reports 1000 input and 500 output tokens ($0.0075).  Model p/m
# reports 10 and 500 ($0.005025) after 0.3 s.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwRedis;

repeat_each(1);
workers(2);
master_on();

add_block_preprocessor(sub {
    my $block = shift;

    # a request's accounting is settled in its log phase, after the client
    # has the response: with two workers, the next request waits for it
    $block->set_value(request_gap => '0.05') unless $block->{request_gap};

    $block->set_value(main_config => "    load_module \$TEST_NGINX_ECHO_MODULE;\n");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $http = "    aigw_zone aigw 1m;\n$http" unless $http =~ /aigw_zone/;
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format bud 'BUD $status limit=$aigw_limit rem=$aigw_budget_remaining cost=$aigw_cost';
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
        location /p/chat/completions {
            echo_sleep 0.3;
            echo '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}';
        }
    }
    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/o key=k;
    aigw_provider pa format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a key=k;
    aigw_provider pp url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p key=k;
    aigw_model b/m po:m input=2.50 output=10;
    aigw_model a/m pa:m input=2.50 output=10;
    aigw_model p/m pp:m input=2.50 output=10;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log bud;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n[alert]\n[crit]\n")
        unless $block->{no_error_log};
});

sub oai {
    my ($user, $extra) = @_;
    $extra //= '';
    return "POST /v1/chat/completions\n{\"model\":\"b/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"$extra}}}";
}

sub ant {
    my ($user) = @_;
    return "POST /v1/messages\n{\"model\":\"a/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"}}}";
}

sub tomorrow {
    my @t = gmtime(time + 86400);
    return sprintf "%04d-%02d-%02dT00:00:00Z", $t[5] + 1900, $t[4] + 1, $t[3];
}

aigw_redis_mode();

run_tests();

__DATA__

=== TEST 1: a $0.015/day user budget: reserved estimate, settled at the real cost ($0.0075); the 3rd request would cross it: 402 naming the budget and tomorrow's reset
--- http_config
    aigw_budget user 0.015/day;
--- request eval
[main::oai("al"), main::oai("al"), main::oai("al")]
--- error_code eval
[200, 200, 402]
--- response_json eval
[{}, {}, {error => {type => "billing_error"}}]
--- response_body_like eval
["", "", "budget \\\\\"user:budget\\\\\" of \\\$0\\.015000 per day is exhausted: \\\$0\\.015000 used.*it resets at " . main::tomorrow()]
--- grep_access_log eval: qr/BUD .*/
--- grep_access_log_out eval
qr/\ABUD 200 limit=- rem=0\.013\d{3} cost=0\.007500\nBUD 200 limit=- rem=0\.006\d{3} cost=0\.007500\nBUD 402 limit=user:budget rem=0\.000000 cost=-\n\z/



=== TEST 2: the Anthropic surface: 402 of type billing_error
--- http_config
    aigw_budget user 0.008/month;
--- request eval
["POST /v1/messages\n{\"model\":\"a/m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"bo\"}}}",
 "POST /v1/messages\n{\"model\":\"a/m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"bo\"}}}"]
--- error_code eval
[200, 402]
--- response_json eval
[{type => "message"}, {type => "error", error => {type => "billing_error"}}]
--- response_body_like eval
["", "resets at \\d{4}-\\d\\d-01T00:00:00Z"]



=== TEST 3: warn=20% of $0.05: the header from the request that crosses it on, the [warn] line once per period
--- http_config
    aigw_budget user 0.05/week warn=20%;
--- request eval
[main::oai("cy"), main::oai("cy"), main::oai("cy"), main::oai("cy")]
--- error_code eval
[200, 200, 200, 200]
--- raw_response_headers_unlike eval
["X-AIGW-Budget-Warning", "X-AIGW-Budget-Warning", "X-AIGW-None", "X-AIGW-None"]
--- response_headers_like eval
["", "", "X-AIGW-Budget-Warning: user:budget 3\\d% used", "X-AIGW-Budget-Warning: user:budget 4\\d% used"]
--- grep_error_log eval: qr/\[warn\].*budget "user:budget".*crossed 20%/
--- grep_error_log_out eval
qr/\A[^\n]+\n\z/



=== TEST 4: 20 parallel requests on a $0.05 budget never overshoot: with max_tokens 500 each reserves $0.005073 >= its real $0.005025, so exactly 9 pass, and the next is refused
--- http_config
    aigw_key kp sha256:b7fe0467291cf6b263be0b9088d9f6301ea22ecef96af0e992502bdabe7c73fe tags=par;
    aigw_budget tag=par 0.05/total;
--- client_cmd
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
A='Authorization: Bearer par-secret'
B='{"model":"p/m","max_tokens":500,"messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"dd","tags":["par"]}}}'
for i in $(seq 20); do
    curl -sS -o /dev/null -w "%{http_code}\n" -H "$A" -H 'Content-Type: application/json' -d "$B" $U &
done | sort | uniq -c | sed 's/^ *//'
wait
curl -sS -H "$A" -H 'Content-Type: application/json' -d "$B" $U
--- client_output_like: (?s)\A9 200\n11 402\n.*\$0\.045225 used.*it never resets.*"type":"billing_error"



=== TEST 5: budgets of a zone too small for them are never evicted: 503 and an error line, not a silent pass
--- redis_skip: the budgets are in Redis: no zone to fill
--- http_config
    aigw_zone aigw 32k;
    aigw_budget user 1/day;
--- config
    location /v1/ {
        aigw_pass;
    }
--- client_cmd
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
for i in $(seq 1 300); do
    curl -sS -o /dev/null -w "%{http_code}\n" -H 'Content-Type: application/json' \
        -d "{\"model\":\"b/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"user-$i-with-a-long-name-to-fill-the-zone-faster-$i-$i-$i\"}}}" $U
done | sort -u
--- client_output_like: \A200\n503\n\z
--- error_log
has no room for the counters of limits and budgets
--- no_error_log
[alert]
[crit]



=== TEST 6: a key's inline budget=0.002/day on both surfaces: the next request would cross it (settled at $0.0075, or still reserved at $0.001075: either way): 402 naming key:budget and tomorrow's reset; another key is not affected
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c budget=0.002/day;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::oai("u1"), main::ant("u1"), main::oai("u2"), main::oai("u1")]
--- error_code eval
[200, 402, 402, 200]
--- response_json eval
[{}, {type => "error", error => {type => "billing_error"}}, {error => {type => "billing_error"}}, {}]
--- response_body_like eval
["", "budget .{0,2}key:budget.{0,2} of \\\$0\\.002000 per day is exhausted: \\\$0\\.00\\d{4} used.*it resets at " . main::tomorrow(), "key:budget", ""]
--- grep_access_log eval: qr/BUD .*/
--- grep_access_log_out eval
qr/\ABUD 200 limit=- rem=0\.00\d{4} cost=0\.007500\nBUD 402 limit=key:budget rem=0\.000\d{3} cost=-\nBUD 402 limit=key:budget rem=0\.000\d{3} cost=-\nBUD 200 limit=- rem=- cost=0\.007500\n\z/



=== TEST 7: aigw_budget key 0.002/day: per gateway key, on both surfaces
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
    aigw_budget key 0.002/day;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::ant("u1"), main::oai("u2"), main::oai("u1")]
--- error_code eval
[200, 402, 200]
--- response_body_like eval
["", "budget .{0,2}key:budget.{0,2} of \\\$0\\.002000 per day is exhausted", ""]



=== TEST 8: aigw_budget key+user 0.002/day: per user of each key
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
    aigw_budget key+user 0.002/day;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::oai("u1"), main::ant("u1"), main::oai("u2"), main::oai("u1")]
--- error_code eval
[200, 402, 200, 200]
--- response_json eval
[{}, {type => "error", error => {type => "billing_error"}}, {}, {}]
--- response_body_like eval
["", "budget .{0,2}key\\+user:budget.{0,2} of \\\$0\\.002000 per day is exhausted", "", ""]



=== TEST 9: aigw_budget and aigw_key share one parser: a bad period
--- http_config
    aigw_budget user 5/year;
--- must_die
--- error_log
invalid budget "5/year": USD/PERIOD with a period of day, week, month or total is expected in



=== TEST 10: a bad warn=
--- http_config
    aigw_budget user 5/day warn=500%;
--- must_die
--- error_log
invalid "warn=500%": warn=P% with P from 1 to 100 is expected in
