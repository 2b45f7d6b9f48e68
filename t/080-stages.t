# Handler stages: a stage that suspends the request on an asynchronous
# lookup and resumes it, and a client that goes away meanwhile.
#
# The stage is t/hooks/ngx_http_aigw_test_module.c, a test-only module of
# its own (objs/ngx_http_aigw_test_module.so, next to the gateway's .so;
# TEST_NGINX_AIGW_TEST_MODULE overrides it): "aigw_test_suspend <time>"
# suspends the request between the parse and the plan stages on a timer,
# and logs "aigw test: resumed" when the timer fires, or "aigw test:
# released" when the request ends first.
#
# Provider: the njs echo mock on port 1 (t/fixtures/openai/echo.js); its
# access log lines "MOCK <method> <uri>" say what reached it.
use lib 't/lib';
use Cwd ();
use File::Basename ();

BEGIN {
    $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai');

    my ($aigw) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                             // 'objs/ngx_http_aigw_module.so');
    $ENV{TEST_NGINX_AIGW_TEST_MODULE} //= defined $aigw
        ? File::Basename::dirname(Cwd::abs_path($aigw))
          . '/ngx_http_aigw_test_module.so'
        : '';

    # two sanitizer builds of modules: see t/hooks/asan.supp

    $ENV{ASAN_OPTIONS} = join ':', grep { length }
        $ENV{ASAN_OPTIONS} // '',
        'suppressions=' . Cwd::abs_path('t/hooks/asan.supp');

    unless (-f $ENV{TEST_NGINX_AIGW_TEST_MODULE}) {
        print "Bail out!  no test module \"$ENV{TEST_NGINX_AIGW_TEST_MODULE}\""
            . " (TEST_NGINX_AIGW_TEST_MODULE): build it with `make`\n";
        exit 255;
    }
}

use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n"
                      . "    load_module \$TEST_NGINX_AIGW_TEST_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_method $request_uri';
    log_format gw 'GW $status $request_time';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_provider p2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p2 key=sk-p2;
    aigw_model s/m p1:model-s;
    aigw_model a/m p2:model-a;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
        aigw_test_suspend 100ms;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: a suspended request resumes after 100 ms and reaches the provider
--- request
POST /v1/chat/completions
{"model":"s/m","messages":[{"role":"user","content":"hi"}]}
--- response_json
{"object": "chat.completion", "model": "model-s",
 "choices": [{"message": {"content": "echo"}}],
 "echo": {"uri": "/v1/chat/completions",
          "body": "{\"model\":\"model-s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"}}
--- grep_error_log eval: qr/aigw test: \w+/
--- grep_error_log_out
aigw test: suspended
aigw test: resumed
--- grep_access_log eval: qr/(MOCK|GW) \S+ \S+/
--- grep_access_log_out eval
qr/^MOCK POST \/v1\/chat\/completions\nGW 200 (0\.[1-9]\d\d|[1-9]\d*\.\d+)\n\z/
--- no_error_log
[error]
aigw test: released



=== TEST 2: a suspended stream resumes and streams
--- request
POST /v1/chat/completions
{"model":"s/m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
--- sse_data eval
[
{model => "model-s", choices => [{delta => {role => "assistant"}}],
 echo => {uri => "/v1/chat/completions"}},
{choices => [{delta => {content => "Hel"}}]},
{choices => [{delta => {content => "lo"}}]},
{choices => [{delta => {}, finish_reason => "stop"}]},
"[DONE]",
]
--- grep_error_log eval: qr/aigw test: \w+/
--- grep_error_log_out
aigw test: suspended
aigw test: resumed
--- grep_access_log eval: qr/(MOCK|GW) \S+ \S+/
--- grep_access_log_out eval
qr/^MOCK POST \/v1\/chat\/completions\nGW 200 (0\.[1-9]\d\d|[1-9]\d*\.\d+)\n\z/
--- no_error_log
[error]
aigw test: released



=== TEST 3: the client goes away while suspended: released, the provider never asked, the worker serves the next request
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_test_suspend 300ms;
        aigw_pass;
    }
--- request
POST /v1/chat/completions
{"model":"s/m","messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.1
--- abort
--- ignore_response
--- wait: 0.5
--- client_cmd
curl -sS -H 'Content-Type: application/json' \
    -d '{"model":"a/m","messages":[{"role":"user","content":"next"}]}' \
    http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
--- client_output_like: "uri":"/p2/chat/completions"
--- grep_error_log eval: qr/aigw test: \w+|client prematurely closed connection/
--- grep_error_log_out
aigw test: suspended
client prematurely closed connection
aigw test: released
aigw test: suspended
aigw test: resumed
--- grep_access_log eval: qr/(MOCK|GW) \S+ \S+/
--- grep_access_log_out eval
qr/^GW 499 \S+\nMOCK POST \/p2\/chat\/completions\nGW 200 \S+\n\z/
--- no_error_log
[error]



=== TEST 4: two requests suspended at once both resume
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_test_suspend 300ms;
        aigw_pass;
    }
--- client_cmd
for m in hi there; do
    curl -sS -H 'Content-Type: application/json' \
        -d "{\"model\":\"s/m\",\"messages\":[{\"role\":\"user\",\"content\":\"$m\"}]}" \
        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions &
done
wait
--- client_output_like: ^(?=.*\\"content\\":\\"hi\\")(?=.*\\"content\\":\\"there\\")
--- grep_error_log eval: qr/aigw test: \w+/
--- grep_error_log_out
aigw test: suspended
aigw test: suspended
aigw test: resumed
aigw test: resumed
--- grep_access_log eval: qr/(MOCK|GW) \S+/
--- grep_access_log_out eval
qr/\A(?:(?:MOCK POST|GW 200)\n){4}\z/
--- no_error_log
[error]
aigw test: released



=== TEST 5: a bad body is rejected by the parse stage: the test stage never runs
--- request
POST /v1/chat/completions
{"model":"s/m","messages":
--- error_code: 400
--- response_json
{"error": {"type": "invalid_request_error"}}
--- no_error_log
[error]
aigw test:
--- grep_access_log eval: qr/(MOCK|GW) \S+/
--- grep_access_log_out
GW 400



=== TEST 6: without aigw_test_suspend the stage goes on at once
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
--- request
POST /v1/chat/completions
{"model":"s/m","messages":[{"role":"user","content":"hi"}]}
--- response_json
{"choices": [{"message": {"content": "echo"}}]}
--- no_error_log
[error]
aigw test:
