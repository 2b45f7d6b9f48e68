# Issue 9, item 5: health per (provider, model id) target, not per
# provider.  A 429/529 (or a 503 with Retry-After) cools down that target
# only; a 503 without Retry-After counts toward its circuit but does not
# cool it; the circuit breaker is per target; timeouts are the provider's
# servers' (nginx's max_fails), not a target's.  The state is shared by
# the workers, survives a reload, is kept per model id for wildcard models,
# and a full zone forgets the least recently reported targets.
#
# Provider p (mock P, told by the request what to answer) and provider q
# (mock Q, always answers) serve models ma (gpt-a), mb (gpt-b) and w/*.
# Two workers; the gateway also listens with "reuseport" on
# $TEST_NGINX_RAND_PORT_5 and says which worker answered (X-Pid), for
# t/fixtures/failover/requests.pl.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
workers(2);
master_on();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n");

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock $request_uri';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock P;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock Q;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_5 reuseport;
        location /v1/ {
            add_header X-Pid $pid always;
            add_header X-Gen gen-1 always;
            aigw_read_timeout 300ms;
            aigw_pass;
        }
    }
    aigw_provider p format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p;
    aigw_provider q format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-q;
    aigw_model ma p:gpt-a q:gpt-a;
    aigw_model mb p:gpt-b q:gpt-b;
    aigw_model w/* p q;
_EOC_

    $block->set_value(config => <<'_EOC_');
    location /v1/ {
        add_header X-Gen gen-1 always;
        aigw_read_timeout 300ms;
        aigw_pass;
    }
    location = /gen {
        return 200 "gen-1\n";
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n");
});

sub chat {
    my ($model, $content) = @_;
    return "POST /v1/chat/completions\n{\"model\":\"$model\",\"max_tokens\":20,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}";
}

sub answer {
    my ($from) = @_;
    return {choices => [{message => {content => "answer from $from"}}]};
}

run_tests();

__DATA__

=== TEST 1: a 429 with Retry-After for model A on p cools down p:gpt-a only: model B still goes to p first, model A to q
--- request eval
[main::chat("ma", "status 429 retry-after 30"), main::chat("mb", "hi"),
 main::chat("ma", "hi"), main::chat("mb", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:429,q:200", "X-AIGW-Attempts: p:200",
 "X-AIGW-Attempts: q:200", "X-AIGW-Attempts: p:200"]
--- response_json eval
[main::answer("Q"), main::answer("P"), main::answer("Q"), main::answer("P")]
--- error_log
provider "p" returned 429, cooling down for 30000ms, model "gpt-a"



=== TEST 2: a 529 without Retry-After cools the target down for cooldown=, the provider's other models are unaffected
--- http_config
    aigw_health cooldown=20s;
--- request eval
[main::chat("ma", "status 529"), main::chat("mb", "hi"), main::chat("ma", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:529,q:200", "X-AIGW-Attempts: p:200", "X-AIGW-Attempts: q:200"]
--- response_json eval
[main::answer("Q"), main::answer("P"), main::answer("Q")]
--- error_log
provider "p" returned 529, cooling down for 20000ms, model "gpt-a"



=== TEST 3: a 503 without Retry-After does not cool the target (it is first again) but counts toward its circuit, which opens for that target only
--- http_config
    aigw_health failures=2 open=30s;
--- request eval
[main::chat("ma", "status 503"), main::chat("ma", "hi"),
 main::chat("ma", "status 503"), main::chat("ma", "status 503"),
 main::chat("ma", "hi"), main::chat("mb", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:503,q:200", "X-AIGW-Attempts: p:200",
 "X-AIGW-Attempts: p:503,q:200", "X-AIGW-Attempts: p:503,q:200",
 "X-AIGW-Attempts: q:200", "X-AIGW-Attempts: p:200"]
--- response_json eval
[main::answer("Q"), main::answer("P"), main::answer("Q"), main::answer("Q"),
 main::answer("Q"), main::answer("P")]
--- grep_error_log eval: qr/provider "p" (?:returned \d+, cooling down|failed \d+ times in a row, its circuit is open)[^,]*, model "[^"]*"/
--- grep_error_log_out
provider "p" failed 2 times in a row, its circuit is open for 30000ms, model "gpt-a"



=== TEST 4: a 503 with Retry-After cools the target down for that long, not the provider
--- request eval
[main::chat("ma", "status 503 retry-after 30"), main::chat("ma", "hi"), main::chat("mb", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:503,q:200", "X-AIGW-Attempts: q:200", "X-AIGW-Attempts: p:200"]
--- response_json eval
[main::answer("Q"), main::answer("Q"), main::answer("P")]
--- error_log
provider "p" returned 503, cooling down for 30000ms, model "gpt-a"



=== TEST 5: failures=3 consecutive 5xx open the circuit of model A on p; model B on p is first still, also after its own 500
--- http_config
    aigw_health failures=3 open=30s;
--- request eval
[main::chat("ma", "status 500"), main::chat("ma", "status 502"), main::chat("mb", "status 500"),
 main::chat("ma", "status 500"), main::chat("mb", "hi"), main::chat("ma", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:500,q:200", "X-AIGW-Attempts: p:502,q:200", "X-AIGW-Attempts: p:500,q:200",
 "X-AIGW-Attempts: p:500,q:200", "X-AIGW-Attempts: p:200", "X-AIGW-Attempts: q:200"]
--- grep_error_log eval: qr/its circuit is open for \d+ms, model "[^"]*"/
--- grep_error_log_out
its circuit is open for 30000ms, model "gpt-a"



=== TEST 6: a timeout is the provider's servers' (nginx's max_fails), it does not count toward the target's circuit
--- http_config
    aigw_health failures=1 open=30s;
--- request eval
[main::chat("ma", "delay 700"), main::chat("ma", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:timeout,q:200", "X-AIGW-Attempts: p:200"]
--- timeout: 5
--- no_error_log
circuit is open



=== TEST 7: the cooldown of a target is shared by the workers: every one sends model A to q first and model B to p first
--- request eval
main::chat("ma", "status 429 retry-after 30")
--- response_headers
X-AIGW-Attempts: p:429,q:200
--- client_cmd
P=$TEST_NGINX_RAND_PORT_5; F=t/fixtures/failover/requests.pl; perl $F --port $P --model ma --count 6 --until-pids 2 && perl $F --port $P --model mb --count 6 --until-pids 2
--- client_output_like: \A(?:200 q:200\n){6,}pids: 2\n(?:200 p:200\n){6,}pids: 2\n\z
--- grep_access_log eval: qr/^MOCK P\b/
--- grep_access_log_out eval
qr/\A(?:MOCK P\n){7,}\z/



=== TEST 8: the cooldown survives a reload: the new workers (gen-2) still send model A to q first, model B to p
--- request eval
main::chat("ma", "status 429 retry-after 30")
--- response_headers
X-AIGW-Attempts: p:429,q:200
--- client_cmd
P=$TEST_NGINX_RAND_PORT_5; R=$TEST_NGINX_SERVER_ROOT; F=t/fixtures/failover/requests.pl; sed -i 's/gen-1/gen-2/g' $R/conf/nginx.conf && kill -HUP $(cat $R/logs/nginx.pid) && n=0 && for i in $(seq 100); do if curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen | grep -q gen-2; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done; sleep 0.3; perl $F --port $P --model ma --count 4 --header X-Gen && perl $F --port $P --model mb --header X-Gen
--- client_output_like: \A(?:200 q:200 gen-2\n){4}pids: \d\n200 p:200 gen-2\npids: 1\n\z
--- error_log
provider "p" returned 429, cooling down for 30000ms, model "gpt-a"
reconfiguring



=== TEST 9: a wildcard model's targets are kept per model id: w/x1 cooled, w/x2 on the same provider not
--- request eval
[main::chat("w/x1", "status 429 retry-after 30"), main::chat("w/x2", "hi"), main::chat("w/x1", "hi")]
--- response_headers eval
["X-AIGW-Attempts: p:429,q:200", "X-AIGW-Attempts: p:200", "X-AIGW-Attempts: q:200"]
--- response_json eval
[main::answer("Q"), main::answer("P"), main::answer("Q")]
--- error_log
provider "p" returned 429, cooling down for 30000ms, model "x1"



=== TEST 10: a full zone forgets the least recently failed targets: 200 wildcard ids with an open circuit in a 32k zone, the last is still open, the first is forgotten, no alert
--- http_config
    aigw_zone tiny 32k;
    aigw_health failures=1 open=60s;
--- request eval
main::chat("mb", "hi")
--- response_headers
X-AIGW-Attempts: p:200
--- client_cmd
P=$TEST_NGINX_RAND_PORT_5; F=t/fixtures/failover/requests.pl; L=w/$(perl -e 'print "x" x 150'); perl $F --port $P --model $L --vary --count 200 --content 'status 500' && perl $F --port $P --model ${L}200 && perl $F --port $P --model ${L}1
--- client_output_like: \A(?:200 p:500,q:200\n){200}pids: \d\n200 q:200\npids: 1\n200 p:200\npids: 1\n\z
--- client_timeout: 60
--- timeout: 60
--- no_error_log
is full
