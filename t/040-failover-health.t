# Issue 5: target health in shared memory, across requests and workers.
# A 429 with Retry-After cools the (provider, model id) target down for
# that long (it is tried last, so not called while another provider
# answers); 429s do not count toward nginx's max_fails; N consecutive 5xx
# open the target's circuit for open=T, a success in between resets the
# count; after T one failure opens it again and one success closes it.
# Timeouts are the provider's servers' (nginx's max_fails) since issue 9:
# t/040-failover-target-health.t has the per-target cases.
#
# Two workers.  The gateway also listens with "reuseport" on
# $TEST_NGINX_RAND_PORT_5 and says which worker answered (X-Pid), so
# t/fixtures/failover/requests.pl can go on until both workers answered.
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
    log_format gw escape=none 'GW $status provider=$aigw_provider attempts=$aigw_attempts';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock B;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_5 reuseport;
        location /v1/ {
            access_log logs/access.log gw;
            add_header X-Pid $pid always;
            aigw_read_timeout 300ms;
            aigw_pass;
        }
    }
    aigw_provider b format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-b;
_EOC_

    $block->set_value(config => <<'_EOC_');
    location /v1/ {
        access_log logs/access.log gw;
        add_header X-Pid $pid always;
        aigw_read_timeout 300ms;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n");
});

sub chat {
    my ($content) = @_;
    return "POST /v1/chat/completions\n{\"model\":\"m\",\"max_tokens\":20,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}";
}

run_tests();

__DATA__

=== TEST 1: a 429 with Retry-After: 30 cools the provider down in every worker: it is not called while the other answers
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / {
            add_header Retry-After 30 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
main::chat("hi")
--- response_headers
X-AIGW-Attempts: a:429,b:200
--- client_cmd
perl t/fixtures/failover/requests.pl --port $TEST_NGINX_RAND_PORT_5 --count 6 --until-pids 2 --max 200
--- client_output_like: \A(?:200 b:200\n){6,}pids: 2\n\z
--- grep_access_log eval: qr/^MOCK A\b/
--- grep_access_log_out
MOCK A
--- error_log
provider "a" returned 429, cooling down for 30000ms



=== TEST 2: the cooldown ends after Retry-After: the provider is tried first again
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / {
            add_header Retry-After 1 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
main::chat("hi")
--- response_headers
X-AIGW-Attempts: a:429,b:200
--- client_cmd
perl t/fixtures/failover/requests.pl --port $TEST_NGINX_RAND_PORT_5 --count 2 && sleep 1.3 && perl t/fixtures/failover/requests.pl --port $TEST_NGINX_RAND_PORT_5
--- client_output_like: \A200 b:200\n200 b:200\npids: \d\n200 a:429,b:200\npids: 1\n\z
--- grep_access_log eval: qr/^MOCK A\b/
--- grep_access_log_out
MOCK A
MOCK A
--- error_log
provider "a" returned 429, cooling down for 1000ms



=== TEST 3: a cooled provider is still tried, last, when the others fail; then its 429 (and Retry-After) reaches the client
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        default_type application/json;
        location /a/ {
            add_header Retry-After 30 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
        location /x/ { return 500 '{"error":{"message":"boom","type":"server_error"}}'; }
    }
    aigw_health failures=100;
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a/v1 key=sk-a;
    aigw_provider x format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/v1 key=sk-x;
    aigw_model m a:gpt-a x:gpt-x;
--- request eval
[main::chat("hi"), main::chat("hi")]
--- error_code eval
[502, 429]
--- response_headers eval
["X-AIGW-Attempts: a:429,x:500", "X-AIGW-Attempts: x:500,a:429\nRetry-After: 30"]
--- response_json eval
[{error => {message => "no provider could answer (attempts: a:429,x:500); last error: boom"}},
 {error => {message => "no provider could answer (attempts: x:500,a:429); last error: slow down", type => "rate_limit_error"}}]
--- grep_access_log eval: qr{^MOCK A /a/\S+}
--- grep_access_log_out
MOCK A /a/v1/chat/completions
MOCK A /a/v1/chat/completions



=== TEST 4: 429s do not count toward nginx's max_fails (500s do)
--- http_config
    upstream ua {
        zone ua 64k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4 max_fails=0 backup;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        set $mock ABACKUP;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    aigw_health failures=100;
    aigw_provider a format=openai upstream=ua host=api.a.test tls=off key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
[main::chat("status 429 retry-after 0"), main::chat("hi"),
 main::chat("status 429 retry-after 0"), main::chat("hi"),
 main::chat("status 500"), main::chat("hi")]
--- response_headers eval
["X-AIGW-Attempts: a:429,b:200", "X-AIGW-Attempts: a:200",
 "X-AIGW-Attempts: a:429,b:200", "X-AIGW-Attempts: a:200",
 "X-AIGW-Attempts: a:500,b:200", "X-AIGW-Attempts: a:200"]
--- response_json eval
[{choices => [{message => {content => "answer from B"}}]},
 {choices => [{message => {content => "answer from A"}}]},
 {choices => [{message => {content => "answer from B"}}]},
 {choices => [{message => {content => "answer from A"}}]},
 {choices => [{message => {content => "answer from B"}}]},
 {choices => [{message => {content => "answer from ABACKUP"}}]}]
--- grep_error_log eval: qr/upstream server temporarily disabled/
--- grep_error_log_out
upstream server temporarily disabled



=== TEST 5: the circuit opens after failures=3 consecutive 5xx (a 503 without Retry-After too; a success resets the count) and closes after open=1s
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    aigw_health failures=3 open=1s;
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
[main::chat("status 500"), main::chat("status 502"), main::chat("hi"),
 main::chat("status 502"), main::chat("status 503"), main::chat("status 504"),
 main::chat("hi"), main::chat("hi")]
--- response_headers eval
["X-AIGW-Attempts: a:500,b:200", "X-AIGW-Attempts: a:502,b:200", "X-AIGW-Attempts: a:200",
 "X-AIGW-Attempts: a:502,b:200", "X-AIGW-Attempts: a:503,b:200", "X-AIGW-Attempts: a:504,b:200",
 "X-AIGW-Attempts: b:200", "X-AIGW-Attempts: b:200"]
--- client_cmd
perl t/fixtures/failover/requests.pl --port $TEST_NGINX_RAND_PORT_5 --count 3 && sleep 1.2 && perl t/fixtures/failover/requests.pl --port $TEST_NGINX_RAND_PORT_5
--- client_output_like: \A200 b:200\n200 b:200\n200 b:200\npids: \d\n200 a:200\npids: 1\n\z
--- grep_error_log eval: qr/provider "a" failed \d+ times in a row, its circuit is open for \d+ms/
--- grep_error_log_out
provider "a" failed 3 times in a row, its circuit is open for 1000ms
--- grep_access_log eval: qr/^MOCK A\b/
--- grep_access_log_out eval
"MOCK A\n" x 7



=== TEST 6: after open=, the circuit is half-open: one failure opens it again, one success closes it
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    aigw_health failures=3 open=1s;
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
[main::chat("status 500"), main::chat("status 500"), main::chat("status 500"), main::chat("status 500")]
--- response_headers eval
["X-AIGW-Attempts: a:500,b:200", "X-AIGW-Attempts: a:500,b:200", "X-AIGW-Attempts: a:500,b:200",
 "X-AIGW-Attempts: b:200"]
--- client_cmd
P=$TEST_NGINX_RAND_PORT_5; F=t/fixtures/failover/requests.pl; sleep 1.2 && perl $F --port $P --content 'status 500' && perl $F --port $P --count 2 && sleep 1.2 && perl $F --port $P && perl $F --port $P --content 'status 500' && perl $F --port $P
--- client_output_like: \A200 a:500,b:200\npids: 1\n200 b:200\n200 b:200\npids: \d\n200 a:200\npids: 1\n200 a:500,b:200\npids: 1\n200 a:200\npids: 1\n\z
--- grep_error_log eval: qr/provider "a" failed \d+ times in a row, its circuit is open for \d+ms/
--- grep_error_log_out
provider "a" failed 3 times in a row, its circuit is open for 1000ms
provider "a" failed 3 times in a row, its circuit is open for 1000ms



=== TEST 7: Retry-After as an HTTP-date cools the provider down until that date
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request eval
[main::chat("status 429 retry-date 40"), main::chat("status 429 retry-date 40"), main::chat("hi")]
--- response_headers eval
["X-AIGW-Attempts: a:429,b:200", "X-AIGW-Attempts: b:200", "X-AIGW-Attempts: b:200"]
--- grep_access_log eval: qr/^MOCK A\b/
--- grep_access_log_out
MOCK A
--- error_log eval
qr/provider "a" returned 429, cooling down for (?:39|40)000ms/
