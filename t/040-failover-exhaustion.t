# Issue 5: when every provider failed.  A 502/503/504 JSON error in the
# client's shape (OpenAI and Anthropic) whose message names every
# attempt; aigw_next_upstream off and a narrowed mask pass the provider's
# answer through; aigw_next_upstream_tries and _timeout budgets.
#
# Mocks: A (RAND_PORT_1) answers what the request's text says
# (mock.scripted: "status NNN", "retry-after N", "delay MS"), under any
# path; B (RAND_PORT_2) is a healthy OpenAI provider; RAND_PORT_4 has no
# listener.  failures=1000 cooldown=0: no circuit opens and (without
# Retry-After) no cooldown starts within a block.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n");

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock $request_uri';
    log_format gw escape=none 'GW $status model=$aigw_model provider=$aigw_provider attempts=$aigw_attempts count=$aigw_attempt_count';
    aigw_health failures=1000 cooldown=0;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.scripted; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock B;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    aigw_provider a1 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a1/v1 key=sk-a1;
    aigw_provider a2 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a2/v1 key=sk-a2;
    aigw_provider a3 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a3 key=sk-a3;
    aigw_provider b format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-b;
    aigw_provider dead1 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/v1 key=sk-d1;
    aigw_provider dead2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/d2 key=sk-d2;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n");
});

sub chat {
    my ($model, $content, $path) = @_;
    return "POST " . ($path // "/v1") . "/chat/completions\n{\"model\":\"$model\",\"max_tokens\":20,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}";
}

sub messages {
    my ($model, $content, $path) = @_;
    return "POST " . ($path // "/v1") . "/messages\n{\"model\":\"$model\",\"max_tokens\":20,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}";
}

run_tests();

__DATA__

=== TEST 1: every provider refuses the connection: 502 listing every attempt, in both shapes
--- http_config
    aigw_model m dead1:x dead2:y;
--- request eval
[main::chat("m", "hi"), main::messages("m", "hi")]
--- error_code eval
[502, 502]
--- response_headers eval
["X-AIGW-Attempts: dead1:error,dead2:error\nContent-Type: application/json",
 "X-AIGW-Attempts: dead1:error,dead2:error\nContent-Type: application/json"]
--- response_json eval
[{error => {type => "server_error", message => "no provider could answer (attempts: dead1:error,dead2:error)"}},
 {type => "error", error => {type => "api_error", message => "no provider could answer (attempts: dead1:error,dead2:error)"}}]
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 502 model=m provider=dead2 attempts=dead1:error,dead2:error count=2
GW 502 model=m provider=dead2 attempts=dead1:error,dead2:error count=2



=== TEST 2: every provider times out: 504 listing every attempt, in both shapes
--- http_config
    aigw_model m a1:x a3:y;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 200ms;
        aigw_pass;
    }
--- request eval
[main::chat("m", "delay 600"), main::messages("m", "delay 600")]
--- error_code eval
[504, 504]
--- response_headers eval
["X-AIGW-Attempts: a1:timeout,a3:timeout", "X-AIGW-Attempts: a1:timeout,a3:timeout"]
--- response_json eval
[{error => {type => "server_error", message => "the provider timed out (attempts: a1:timeout,a3:timeout)"}},
 {type => "error", error => {type => "timeout_error", message => "the provider timed out (attempts: a1:timeout,a3:timeout)"}}]
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 504 model=m provider=a3 attempts=a1:timeout,a3:timeout count=2
GW 504 model=m provider=a3 attempts=a1:timeout,a3:timeout count=2



=== TEST 3: every provider answers a failover status: the gateway's 502/503/504 (429 stays 429) names every attempt and the last error
--- http_config
    aigw_model m a1:x a2:x;
    aigw_model n dead1:x a3:y;
--- request eval
[main::chat("m", "status 503"), main::messages("m", "status 500"),
 main::chat("m", "status 529"), main::messages("n", "status 504"),
 main::chat("m", "status 502"), main::messages("m", "status 429 retry-after 9")]
--- error_code eval
[503, 502, 503, 504, 502, 429]
--- response_headers eval
["X-AIGW-Attempts: a1:503,a2:503", "X-AIGW-Attempts: a1:500,a2:500",
 "X-AIGW-Attempts: a1:529,a2:529", "X-AIGW-Attempts: dead1:error,a3:504",
 "X-AIGW-Attempts: a1:502,a2:502", "X-AIGW-Attempts: a1:429,a2:429\nRetry-After: 9"]
--- response_json eval
[{error => {type => "server_error", message => "no provider could answer (attempts: a1:503,a2:503); last error: scripted 503 from A"}},
 {type => "error", error => {type => "api_error", message => "no provider could answer (attempts: a1:500,a2:500); last error: scripted 500 from A"}},
 {error => {type => "server_error", message => "no provider could answer (attempts: a1:529,a2:529); last error: scripted 529 from A"}},
 {type => "error", error => {type => "timeout_error", message => "~/^no provider could answer \\(attempts: dead1:error,a3:504\\); last error: /"}},
 {error => {type => "server_error", message => "no provider could answer (attempts: a1:502,a2:502); last error: scripted 502 from A"}},
 {type => "error", error => {type => "rate_limit_error", message => "no provider could answer (attempts: a1:429,a2:429); last error: scripted 429 from A"}}]
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 503 model=m provider=a2 attempts=a1:503,a2:503 count=2
GW 502 model=m provider=a2 attempts=a1:500,a2:500 count=2
GW 503 model=m provider=a2 attempts=a1:529,a2:529 count=2
GW 504 model=n provider=a3 attempts=dead1:error,a3:504 count=2
GW 502 model=m provider=a2 attempts=a1:502,a2:502 count=2
GW 429 model=m provider=a2 attempts=a1:429,a2:429 count=2



=== TEST 4: one provider and no failover: its own error reaches the client as it is
--- http_config
    aigw_model m a1:x;
--- request eval
[main::chat("m", "status 503 retry-after 5"), main::chat("m", "status 429 retry-after 5")]
--- error_code eval
[503, 429]
--- response_headers eval
["X-AIGW-Attempts: a1:503\nRetry-After: 5", "X-AIGW-Attempts: a1:429\nRetry-After: 5"]
--- response_json eval
[{error => {message => "scripted 503 from A", type => "server_error"}},
 {error => {message => "scripted 429 from A", type => "server_error"}}]



=== TEST 5: aigw_next_upstream off: the first provider's answer reaches the client, the next one is not called
--- http_config
    aigw_model m a1:x b:y;
    aigw_model n dead1:x b:y;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_next_upstream off;
        aigw_pass;
    }
--- request eval
[main::chat("m", "status 503"), main::chat("n", "hi"), main::messages("m", "status 429 retry-after 3")]
--- error_code eval
[503, 502, 429]
--- response_headers eval
["X-AIGW-Attempts: a1:503", "", "X-AIGW-Attempts: a1:429\nRetry-After: 3"]
--- response_json eval
[{error => {message => "scripted 503 from A"}},
 {error => {message => "no provider could answer (attempts: dead1:error)"}},
 {type => "error", error => {type => "rate_limit_error", message => "scripted 429 from A"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+|GW .*)/
--- grep_access_log_out
MOCK A
GW 503 model=m provider=a1 attempts=a1:503 count=1
GW 502 model=n provider=dead1 attempts=dead1:error count=1
MOCK A
GW 429 model=m provider=a1 attempts=a1:429 count=1



=== TEST 6: a narrowed aigw_next_upstream mask: what it leaves out is passed through, what it names fails over
--- http_config
    aigw_model m a1:x b:y;
    aigw_model n dead1:x b:y;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_next_upstream error timeout http_500 http_503;
        aigw_pass;
    }
    location /v2/ {
        access_log logs/access.log gw;
        aigw_next_upstream http_429;
        aigw_pass;
    }
--- request eval
[main::chat("m", "status 502"),
 main::chat("m", "status 500"), main::chat("n", "hi"), main::chat("n", "hi", "/v2"),
 main::chat("m", "status 429", "/v2"), main::chat("m", "status 429 retry-after 4")]
--- error_code eval
[502, 200, 200, 502, 200, 429]
--- response_headers eval
["X-AIGW-Attempts: a1:502", "X-AIGW-Attempts: a1:500,b:200",
 "X-AIGW-Attempts: dead1:error,b:200", "", "X-AIGW-Attempts: a1:429,b:200",
 "X-AIGW-Attempts: a1:429\nRetry-After: 4"]
--- response_json eval
[{error => {message => "scripted 502 from A"}},
 {choices => [{message => {content => "answer from B"}}]},
 {choices => [{message => {content => "answer from B"}}]},
 {error => {message => "no provider could answer (attempts: dead1:error)"}},
 {choices => [{message => {content => "answer from B"}}]},
 {error => {message => "scripted 429 from A"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+|GW .*)/
--- grep_access_log_out
MOCK A
GW 502 model=m provider=a1 attempts=a1:502 count=1
MOCK A
MOCK B
GW 200 model=m provider=b attempts=a1:500,b:200 count=2
MOCK B
GW 200 model=n provider=b attempts=dead1:error,b:200 count=2
GW 502 model=n provider=dead1 attempts=dead1:error count=1
MOCK A
MOCK B
GW 200 model=m provider=b attempts=a1:429,b:200 count=2
MOCK A
GW 429 model=m provider=a1 attempts=a1:429 count=1



=== TEST 7: aigw_next_upstream_tries 2: the third provider is never called
--- http_config
    aigw_model m a1:x a2:x a3:y b:z;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_next_upstream_tries 2;
        aigw_pass;
    }
--- request eval
[main::chat("m", "status 500"), main::messages("m", "status 503")]
--- error_code eval
[502, 503]
--- response_json eval
[{error => {message => "no provider could answer (attempts: a1:500,a2:500); last error: scripted 500 from A"}},
 {type => "error", error => {type => "overloaded_error", message => "no provider could answer (attempts: a1:503,a2:503); last error: scripted 503 from A"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a1/v1/chat/completions
MOCK A /a2/v1/chat/completions
GW 502 model=m provider=a2 attempts=a1:500,a2:500 count=2
MOCK A /a1/v1/chat/completions
MOCK A /a2/v1/chat/completions
GW 503 model=m provider=a2 attempts=a1:503,a2:503 count=2



=== TEST 8: aigw_next_upstream_timeout: no try starts after the time budget is spent
--- http_config
    aigw_model m a1:x a2:x b:z;
    aigw_model n a1:x dead1:y b:z;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_next_upstream_timeout 600ms;
        aigw_read_timeout 2s;
        aigw_pass;
    }
--- request eval
[main::chat("m", "status 500 delay 400"), main::chat("n", "status 503 delay 700")]
--- error_code eval
[502, 503]
--- response_json eval
[{error => {message => "no provider could answer (attempts: a1:500,a2:500); last error: scripted 500 from A"}},
 {error => {message => "scripted 503 from A"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a1/v1/chat/completions
MOCK A /a2/v1/chat/completions
GW 502 model=m provider=a2 attempts=a1:500,a2:500 count=2
MOCK A /a1/v1/chat/completions
GW 503 model=n provider=a1 attempts=a1:503 count=1
