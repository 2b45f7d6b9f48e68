# Issue 10, items 3 and 6: rate limits (rpm, tpm, tpd, concurrent) by
# key, user, key+user and tag (the key's tags=), and a key's inline limits,
# with counters in the aigw_zone shared by 2 workers:
# each limit at its exact boundary on both surfaces, 429 with Retry-After,
# retry-after-ms and the surface's rate-limit headers (also on successes),
# reconciled with the provider's real usage, leases given back when the
# client goes away, counters that survive a reload, pre-flight caps.
#
# Providers on port 1: an OpenAI and an Anthropic answer, each reporting
# 1000 input and 500 output tokens; /slow answers after 0.5 s.
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
    log_format lim 'LIM $status limit=$aigw_limit user=$aigw_user';
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
        location /slow/chat/completions {
            echo_sleep 0.5;
            echo '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"slow"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
        }
    }
    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/o key=k;
    aigw_provider pa format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a key=k;
    aigw_provider ps url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/slow key=k;
    aigw_model o/m po:m;
    aigw_model a/m pa:m;
    aigw_model s/m ps:m;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log lim;
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
    return "POST /v1/chat/completions\n{\"model\":\"o/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"$extra}}}";
}

sub ant {
    my ($user) = @_;
    return "POST /v1/messages\n{\"model\":\"a/m\",\"max_tokens\":100,"
        . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        . "\"providerOptions\":{\"gateway\":{\"user\":\"$user\"}}}";
}

aigw_redis_mode();

run_tests();

__DATA__

=== TEST 1: user rpm=3 on the OpenAI surface: the 3rd passes, the 4th is refused with 429, Retry-After and the x-ratelimit headers; another user is not affected
--- http_config
    aigw_limit user rpm=3;
--- request eval
[main::oai("alice"), main::oai("alice"), main::oai("alice"), main::oai("alice"), main::oai("bob")]
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers eval
[{"x-ratelimit-limit-requests" => 3, "x-ratelimit-remaining-requests" => 2, "x-ratelimit-reset-requests" => "20s"},
 {"x-ratelimit-remaining-requests" => 1},
 {"x-ratelimit-remaining-requests" => 0, "x-ratelimit-reset-requests" => "60s"},
 {"x-ratelimit-limit-requests" => 3, "x-ratelimit-remaining-requests" => 0, "Retry-After" => 20},
 {"x-ratelimit-remaining-requests" => 2}]
--- response_headers_like eval
["", "", "", "retry-after-ms: 19\\d\\d\\d", ""]
--- response_json eval
[{choices => [{message => {content => "ok"}}]}, {}, {}, {error => {type => "rate_limit_error"}}, {}]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=alice
LIM 200 limit=- user=alice
LIM 200 limit=- user=alice
LIM 429 limit=user:rpm user=alice
LIM 200 limit=- user=bob



=== TEST 2: user rpm=2 on the Anthropic surface: anthropic-ratelimit-requests-* headers with an RFC 3339 reset, 429 of type rate_limit_error
--- http_config
    aigw_limit user rpm=2;
--- request eval
[main::ant("carol"), main::ant("carol"), main::ant("carol")]
--- error_code eval
[200, 200, 429]
--- response_headers eval
[{"anthropic-ratelimit-requests-limit" => 2, "anthropic-ratelimit-requests-remaining" => 1},
 {"anthropic-ratelimit-requests-remaining" => 0},
 {"anthropic-ratelimit-requests-remaining" => 0, "Retry-After" => 30}]
--- response_headers_like eval
["anthropic-ratelimit-requests-reset: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ", "", ""]
--- response_json eval
[{type => "message"}, {}, {type => "error", error => {type => "rate_limit_error"}}]



=== TEST 3: tpm is reserved as an estimate and reconciled with the real usage (1500 tokens a request): the 3rd request of a 3000 tpm is refused
--- init
# the window is the UTC minute: not across its end
my $s = time % 60; select(undef, undef, undef, 61 - $s) if $s >= 55;
--- http_config
    aigw_limit user tpm=3000;
--- request eval
[main::oai("dave"), main::oai("dave"), main::oai("dave")]
--- error_code eval
[200, 200, 429]
--- response_headers eval
[{"x-ratelimit-limit-tokens" => 3000}, {}, {"x-ratelimit-remaining-tokens" => 0}]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=dave
LIM 200 limit=- user=dave
LIM 429 limit=user:tpm user=dave



=== TEST 4: tpd on the Anthropic surface, reconciled: 2 of 1500 tokens fit a 3100 tpd, the 3rd is refused with the tokens headers
--- http_config
    aigw_limit user tpd=3100;
--- request eval
[main::ant("erin"), main::ant("erin"), main::ant("erin")]
--- error_code eval
[200, 200, 429]
--- response_headers eval
[{"anthropic-ratelimit-tokens-limit" => 3100}, {}, {"anthropic-ratelimit-tokens-remaining" => 100}]
--- response_json eval
[{}, {}, {type => "error", error => {type => "rate_limit_error"}}]



=== TEST 5: a tag limit applies to requests whose key has the tag (tags=), not to the others; a client naming the tag does not draw on it
--- http_config
    aigw_key ka sha256:43e3221ad053d3443683e640f9a44c9e108e6ea76be1fbab0460a8a915517bbf tags=team:a;
    aigw_key kb sha256:bc8037cbfd979a02e54ce3958a040cf52cd67545766880f2766bd49d0cce9ea7 tags=x,team:b;
    aigw_limit tag=team:a rpm=1;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer tag-a-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer tag-a-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer tag-b-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer tag-b-secret\n"]
--- request eval
[main::oai("u1"), main::oai("u2", ',"tags":["team:a"]'), main::oai("u3", ',"tags":["team:a"]'), main::oai("u4", ',"tags":["team:a"]')]
--- error_code eval
[200, 429, 200, 200]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=u1
LIM 429 limit=tag=team:a:rpm user=u2
LIM 200 limit=- user=u3
LIM 200 limit=- user=u4



=== TEST 6: open mode (no key): client tags are attribution only, a tag limit never applies
--- http_config
    aigw_auth off;
    aigw_limit tag=team:a rpm=1;
--- request eval
[main::oai("u1", ',"tags":["team:a"]'), main::oai("u2", ',"tags":["x","team:a"]')]
--- error_code eval
[200, 200]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=u1
LIM 200 limit=- user=u2



=== TEST 7: scope key: rpm=2 per gateway key, shared by both surfaces; another key is not affected
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
    aigw_limit key rpm=2;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::oai("u1"), main::ant("u2"), main::oai("u3"), main::ant("u1"), main::oai("u1")]
--- error_code eval
[200, 200, 429, 429, 200]
--- response_headers eval
[{"x-ratelimit-limit-requests" => 2, "x-ratelimit-remaining-requests" => 1}, {"anthropic-ratelimit-requests-remaining" => 0}, {"x-ratelimit-remaining-requests" => 0}, {}, {"x-ratelimit-remaining-requests" => 1}]
--- response_json eval
[{}, {type => "message"}, {error => {}}, {type => "error", error => {type => "rate_limit_error"}}, {}]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=u1
LIM 200 limit=- user=u2
LIM 429 limit=key:rpm user=u3
LIM 429 limit=key:rpm user=u1
LIM 200 limit=- user=u1



=== TEST 8: scope key+user: rpm=1 per user of each key
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
    aigw_limit key+user rpm=1;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::oai("u1"), main::ant("u1"), main::oai("u2"), main::oai("u1")]
--- error_code eval
[200, 429, 200, 200]
--- response_json eval
[{}, {type => "error", error => {type => "rate_limit_error"}}, {}, {}]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=u1
LIM 429 limit=key+user:rpm user=u1
LIM 200 limit=- user=u2
LIM 200 limit=- user=u1



=== TEST 9: a key's inline rpm=2 (aigw_key ... rpm=2), without any aigw_limit, on both surfaces; another key is not affected
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c rpm=2;
    aigw_key k2 sha256:edd3acdd77440e2add2725ea9a810c2dbf4037d38182accdfe05e791e36d58e5;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k2-secret\n"]
--- request eval
[main::ant("u1"), main::oai("u2"), main::ant("u3"), main::oai("u1"), main::oai("u1")]
--- error_code eval
[200, 200, 429, 429, 200]
--- response_headers eval
[{"anthropic-ratelimit-requests-limit" => 2}, {"x-ratelimit-limit-requests" => 2}, {"anthropic-ratelimit-requests-remaining" => 0}, {"x-ratelimit-remaining-requests" => 0}, {"x-ratelimit-limit-requests" => ""}]
--- response_json eval
[{type => "message"}, {}, {type => "error", error => {type => "rate_limit_error"}}, {error => {}}, {}]
--- grep_access_log eval: qr/LIM .*/
--- grep_access_log_out
LIM 200 limit=- user=u1
LIM 200 limit=- user=u2
LIM 429 limit=key:rpm user=u3
LIM 429 limit=key:rpm user=u1
LIM 200 limit=- user=u1



=== TEST 9b: a key's inline rpm=3 and "aigw_limit key rpm=5" name one counter, drawn on once a request; the stricter limit holds
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c rpm=3;
    aigw_limit key rpm=5;
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret\n"]
--- request eval
[main::oai("u1"), main::oai("u1"), main::oai("u1"), main::oai("u1")]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
[{"x-ratelimit-limit-requests" => 3, "x-ratelimit-remaining-requests" => 2}, {"x-ratelimit-remaining-requests" => 1}, {"x-ratelimit-remaining-requests" => 0}, {"x-ratelimit-remaining-requests" => 0}]



=== TEST 10: concurrent=1: a second request while the first is in flight gets 429; the lease is given back after
--- http_config
    aigw_limit user concurrent=1;
--- config
    location /v1/ {
        access_log logs/access.log lim;
        aigw_pass;
    }
--- client_cmd
B='{"model":"s/m","messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"fay"}}}'
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
curl -sS -o /dev/null -w 'first %{http_code}\n' -H 'Content-Type: application/json' -d "$B" $U &
sleep 0.2
curl -sS -o /dev/null -w 'second %{http_code}\n' -H 'Content-Type: application/json' -d "$B" $U
wait
curl -sS -o /dev/null -w 'third %{http_code}\n' -H 'Content-Type: application/json' -d "$B" $U
--- client_output_like: (?s)\Asecond 429\nfirst 200\nthird 200\n\z



=== TEST 11: the lease of a client that went away (499) is given back: the next request of the user passes
--- http_config
    aigw_limit user concurrent=1;
--- request eval
"POST /v1/chat/completions\n{\"model\":\"s/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"gus\"}}}"
--- timeout: 0.1
--- abort
--- ignore_response
--- wait: 0.7
--- client_cmd
curl -sS -o /dev/null -w 'next %{http_code}\n' -H 'Content-Type: application/json' \
    -d '{"model":"o/m","messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"gus"}}}' \
    http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
--- client_output_like: \Anext 200\n\z
--- grep_access_log eval: qr/LIM \d+/
--- grep_access_log_out
LIM 499
LIM 200



=== TEST 12: a request without a user is not limited by a user limit
--- http_config
    aigw_limit user rpm=1;
--- request eval
["POST /v1/chat/completions\n{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /v1/chat/completions\n{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"]
--- error_code eval
[200, 200]



=== TEST 13: pre-flight caps: a prompt above aigw_max_input_tokens and a max_tokens above aigw_max_output_tokens are 400 before any provider
--- http_config
    aigw_max_input_tokens 100;
    aigw_max_output_tokens 50;
--- request eval
["POST /v1/chat/completions\n{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"" . ("x" x 600) . "\"}]}",
 main::ant("h"), main::oai("h")]
--- error_code eval
[400, 400, 400]
--- response_body_like eval
["more than the 100 this gateway accepts", "max_tokens is 100, more than the 50 output tokens", "max_tokens is 100"]



=== TEST 14: the counters survive a reload: the new workers still refuse the user at its rpm
--- http_config
    aigw_limit user rpm=2;
--- config
    location /v1/ {
        add_header X-Gen gen-1 always;
        aigw_pass;
    }
    location = /gen {
        return 200 "gen-1\n";
    }
--- client_cmd
B='{"model":"o/m","messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"ivy"}}}'
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
R=$TEST_NGINX_SERVER_ROOT
for i in 1 2; do curl -sS -o /dev/null -w "before %{http_code}\n" -H 'Content-Type: application/json' -d "$B" $U; done
sed -i 's/gen-1/gen-2/g' $R/conf/nginx.conf && kill -HUP $(cat $R/logs/nginx.pid)
n=0; for i in $(seq 100); do if curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen | grep -q gen-2; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done; sleep 0.3
curl -sS -o /dev/null -D - -H 'Content-Type: application/json' -d "$B" $U | grep -iE '^(HTTP|x-gen)' | tr -d '\r'
--- client_output_like: (?s)\Abefore 200\nbefore 200\nHTTP/1.1 429 Too Many Requests\nX-Gen: gen-2\n\z



=== TEST 15: a full zone: rate counters of idle users are evicted (LRU) and new users still pass, nothing is logged above warn
--- http_config
    aigw_zone aigw 32k;
    aigw_limit user rpm=1000;
--- config
    location /v1/ {
        aigw_pass;
    }
--- client_cmd
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
for i in $(seq 1 400); do
    curl -sS -o /dev/null -w "%{http_code}\n" -H 'Content-Type: application/json' \
        -d "{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"user-$i-with-a-rather-long-name-to-fill-the-zone-faster-$i-$i-$i\"}}}" $U
done | sort | uniq -c | sed 's/^ *//'
--- client_output_like: \A400 200\n\z



=== TEST 15b: a full zone that must evict rate counters still in use (rpm=1: each is in use for a minute) says so: their usage is forgiven, never silently
--- redis_skip: the counters are in Redis: no zone to fill, nothing evicted
--- http_config
    aigw_zone aigw 32k;
    aigw_limit user rpm=1;
--- config
    location /v1/ {
        aigw_pass;
    }
--- client_cmd
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
for i in $(seq 1 400); do
    curl -sS -o /dev/null -w "%{http_code}\n" -H 'Content-Type: application/json' \
        -d "{\"model\":\"o/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"user-$i-with-a-rather-long-name-to-fill-the-zone-faster-$i-$i-$i\"}}}" $U
done | sort | uniq -c | sed 's/^ *//'
--- client_output_like: \A400 200\n\z
--- error_log eval
qr/\[warn\] .*aigw: zone "aigw" is full: \d+ rate or token counters in use were evicted and their usage forgiven/
--- no_error_log
[error]
[crit]
[alert]



=== TEST 15c: an internal redirect (error_page) drops the module's context: the concurrency lease is given back all the same, when the request is freed
--- http_config
    aigw_limit user concurrent=1;
    aigw_provider pdown url=http://127.0.0.1:1/v1 key=k;
    aigw_model down/m pdown:m;
--- config
    location /v1/ {
        access_log logs/access.log lim;
        error_page 502 503 504 = /failed;
        aigw_pass;
    }
    location = /failed {
        return 503 '{"error":{"message":"down, try later"}}';
    }
--- request eval
["POST /v1/chat/completions\n{\"model\":\"down/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"providerOptions\":{\"gateway\":{\"user\":\"zed\"}}}",
 main::oai("zed")]
--- error_code eval
[503, 200]
--- no_error_log
[alert]
[crit]



=== TEST 15d: an end user over 256 bytes is a 400: users name counters, a client must not make them unbounded
--- http_config
    aigw_limit user rpm=10;
--- request eval
[main::oai("u" x 257), main::oai("u" x 256)]
--- error_code eval
[400, 200]
--- response_body_like eval
["the end user is 257 bytes long, at most 256 are allowed", ""]



=== TEST 16: aigw_limit and aigw_key share one parser: the same bounds and messages
--- http_config
    aigw_limit user concurrent=5000;
--- must_die
--- error_log
invalid value "concurrent=5000": at most 1024 in



=== TEST 17: a key's inline concurrent= has the same bound
--- http_config
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c concurrent=5000;
--- must_die
--- error_log
invalid value "concurrent=5000": at most 1024 in



=== TEST 18: aigw_limit: a value that is not a positive integer
--- http_config
    aigw_limit user rpm=0;
--- must_die
--- error_log
invalid value "rpm=0": a positive integer is expected in
