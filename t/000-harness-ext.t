# Self-test of the harness, phase 3 and project extensions: response_json,
# grep_access_log, SSE and stream timing (Debian echo module), Redis,
# client_cmd, pipelined_requests, start_mock_http. No aigw module.
BEGIN { $ENV{TEST_NGINX_LOAD_MODULES} = '' }
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

workers(2);
repeat_each(1);
start_redis();

run_tests();

__DATA__

=== TEST 1: response_json subset match with ~/regex/, <ANY>, numbers, booleans and null
--- config
    location = /j {
        default_type application/json;
        return 200 '{"id":"chatcmpl-123","object":"chat.completion","created":1700000000,"choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"total_tokens":6.0},"flag":true,"nothing":null,"extra":"ignored"}';
    }
--- request
GET /j
--- response_json
{"id":"~/^chatcmpl-\\d+$/","object":"chat.completion","created":"<ANY>",
 "choices":[{"message":{"content":"pong","role":"assistant"}}],
 "usage":{"total_tokens":6},"flag":true,"nothing":null}



=== TEST 2: response_json from an eval Perl structure, per request
--- config
    location = /a { default_type application/json; return 200 '{"n":1,"s":"x"}'; }
    location = /b { default_type application/json; return 200 '[1,"two",{"three":3}]'; }
--- request eval
["GET /a", "GET /b"]
--- response_json eval
[{n => 1, s => "x"}, [1, "two", {three => 3}]]



=== TEST 3: response_body_json_sort
--- config
    location = /j { default_type application/json; return 200 '{"b": 2, "a": [1, 2]}'; }
--- request
GET /j
--- response_body_json_sort
--- response_body
{"a":[1,2],"b":2}



=== TEST 4: grep_access_log for order and counts of upstream calls
--- http_config
    log_format mock 'MOCK $request_method $uri $status';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        location / { return 503; }
    }
--- config
    location /p/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- request eval
["GET /p/a", "GET /p/b"]
--- error_code eval
[503, 503]
--- grep_access_log eval: qr/MOCK \S+ \S+ \d+/
--- grep_access_log_out
MOCK GET /p/a 503
MOCK GET /p/b 503



=== TEST 5: sse_data and sse_events on a static event stream
--- config
    location = /sse {
        default_type text/event-stream;
        return 200 "event: start\ndata: {\"type\":\"start\",\"id\":\"m1\"}\n\n: a comment\n\nevent: delta\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";
    }
--- request
GET /sse
--- sse_data eval
[{type => "start"}, "line1\nline2", qr/^\[DONE\]$/]
--- sse_events eval
["start", "delta"]
--- response_headers
Content-Type: text/event-stream



=== TEST 6: streaming through a non-buffering proxy: stream_min_span and stream_first_byte_max (echo module)
--- skip_eval: 7: !$ENV{TEST_NGINX_ECHO_MODULE}
--- main_config
    load_module $TEST_NGINX_ECHO_MODULE;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            default_type text/event-stream;
            echo 'data: {"n":1}';
            echo '';
            echo_flush;
            echo_sleep 0.15;
            echo 'data: {"n":2}';
            echo '';
            echo_flush;
            echo_sleep 0.15;
            echo 'data: [DONE]';
            echo '';
        }
    }
--- config
    location /stream {
        proxy_buffering off;
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /stream
--- response_headers
Transfer-Encoding: chunked
! Content-Length
--- sse_data eval
[{n => 1}, {n => 2}, "[DONE]"]
--- stream_min_span: 0.25
--- stream_first_byte_max: 0.2
--- no_error_log
[error]



=== TEST 7: Redis: init seeds, redis_out checks, the port is exported
--- init
redis_cmd(qw(SET aigw:test 5));
redis_cmd('RPUSH', 'aigw:list', 'a', 'b c');
--- config
    location = /t { return 200 "redis=$TEST_NGINX_REDIS_PORT"; }
--- request
GET /t
--- response_body: redis=$TEST_NGINX_REDIS_PORT
--- redis_out
GET aigw:test => 5
INCR aigw:test => 6
LRANGE aigw:list 0 -1 => [a, b c]
GET "aigw:missing" => (nil)
PING => ~/^PONG$/



=== TEST 8: Redis is flushed before each block
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- redis_out
GET aigw:test => (nil)
DBSIZE => 0



=== TEST 9: client_cmd without a request: cwd, env export, output check
--- config
    location = /t { return 200 'hello from nginx'; }
--- client_cmd
test -f t/lib/Test/Nginx/Socket.pm || exit 9
test "${TEST_NGINX_SERVER_PORT}" = "$TEST_NGINX_SERVER_PORT" || exit 8
perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new("127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}") or die "connect: $!"; print $s "GET /t HTTP/1.0\r\n\r\n"; print <$s>'
--- client_output_like: ^HTTP/1\.1 200 OK\r\n.*hello from nginx$
--- no_error_log
[error]



=== TEST 10: client_cmd after a request, with an expected exit code and a timeout
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x
--- client_cmd: echo done; exit 3
--- client_exit: 3
--- client_timeout: 5



=== TEST 11: pipelined_requests on one keep-alive connection
--- config
    location = /a { return 200 'A'; }
    location = /b { return 201 'BB'; }
--- pipelined_requests eval
["GET /a", "GET /b", "GET /a"]
--- error_code eval
[200, 201, 200]
--- response_body eval
["A", "BB", "A"]



=== TEST 12: start_mock_http from init: keep-alive upstream, body capture, chunked stream
--- http_config
    upstream mock_ka {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 4;
    }
--- config
    location /v1/ {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_pass http://mock_ka;
    }
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => sub {
    my $r = shift;
    if ($r->{uri} eq '/v1/stream') {
        return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
                 chunks => ["data: a\n\n", 0.15, "data: b\n\n", 0.15, "data: [DONE]\n\n"] };
    }
    return { status => 200, headers => ['Content-Type' => 'application/json'],
             body => JSON::PP->new->canonical->encode({ method => $r->{method}, got => $r->{body},
                                                        key => $r->{headers}{'x-api-key'} }) };
});
--- more_headers
X-Api-Key: k1
--- request eval
["POST /v1/echo\n{\"model\":\"m\"}", "GET /v1/stream"]
--- response_json eval
[{method => "POST", got => '{"model":"m"}', key => "k1"}, undef]
--- sse_data eval
[undef, ["a", "b", "[DONE]"]]
--- stream_min_span eval
[undef, 0.25]
--- mock_requests_like
POST /v1/echo "{\"model\":\"m\"}"
GET /v1/stream
--- mock_request_count: 2
