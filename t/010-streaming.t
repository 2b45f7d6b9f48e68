# Gateway core, OpenAI surface: streaming.  SSE passthrough byte for byte
# and event by event, include_usage injected for accounting and its chunk
# hidden from clients that did not ask, usage variables, a provider that
# answers a stream with plain JSON, and streams that end badly.
#
# Providers: the njs echo mock on port 1 (its first chunk carries what it
# received), the echo module on port 2 (exact bytes with real delays), the
# harness's one-shot TCP server for broken streams.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# the exact stream the echo module sends in TEST 1: a comment, CRLF line
# ends, "data:" without a space, unicode escapes, an event name, an event
# of 40 KB sent in two halves, the usage chunk and [DONE]

our $big = 'x' x 20000;

our @exact = (
    ": keep-alive\n\n",
    qq!data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n!,
    qq!data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"H\\u00e9llo \\u2603"},"finish_reason":null}]}\r\n\r\n!,
    qq!data:{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" $big!,
    qq!$big"},"finish_reason":null}]}\n\n!,
    qq!event: delta\nid: 7\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n!,
    qq!data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}\n\n!,
    "data: [DONE]\n\n",
);

# the same as echo module directives: "echo -n" with nginx escapes, in
# pieces that fit nginx's limit on the length of a parameter

sub echo_n {
    my @out;

    for my $s (unpack '(a1000)*', shift) {
        $s =~ s/\\/\\\\/g;
        $s =~ s/'/\\'/g;
        $s =~ s/\n/\\n/g;
        $s =~ s/\r/\\r/g;
        push @out, "echo -n '$s';";
    }

    return join "\n            ", @out;
}

our $exact_conf = join "\n            ",
    echo_n($exact[0]), echo_n($exact[1]), 'echo_flush;', 'echo_sleep 0.25;',
    echo_n($exact[2]), echo_n($exact[3]), 'echo_flush;', 'echo_sleep 0.25;',
    echo_n($exact[4]), echo_n($exact[5]), echo_n($exact[6]), echo_n($exact[7]);

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n"
                      . "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_method $request_uri';
    log_format gw 'GW $status stream=$aigw_stream in=$aigw_input_tokens out=$aigw_output_tokens src=$aigw_usage_source';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_model s/m p1:model-s;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
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

=== TEST 1: SSE passthrough byte for byte, chunked, event by event (echo module with delays)
--- http_config eval
qq{
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
        access_log logs/access.log mock;
        location / {
            default_type text/event-stream;
            $::exact_conf
        }
    }
    aigw_provider sse url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/v1 key=sk-sse;
    aigw_model e/m sse:exact;
}
--- request
POST /v1/chat/completions
{"model":"e/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
Transfer-Encoding: chunked
! Content-Length
Cache-Control: no-cache
X-Accel-Buffering: no
X-AIGW-Provider: sse
X-AIGW-Attempts: sse:200
--- response_body eval
CORE::join '', @::exact
--- stream_min_span: 0.4
--- stream_first_byte_max: 0.2
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
MOCK POST /v1/chat/completions
GW 200 stream=1 in=9 out=4 src=provider



=== TEST 2: include_usage injected when the client did not ask; the usage chunk is hidden, the usage is logged
--- request
POST /v1/chat/completions
{"model":"s/m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
! Content-Length
--- sse_data eval
[
{id => "chatcmpl-echo", model => "model-s",
 choices => [{delta => {role => "assistant", content => ""}}],
 echo => {uri => "/v1/chat/completions",
          headers => {accept => "text/event-stream", "accept-encoding" => "identity",
                      authorization => "Bearer sk-p1"},
          body => '{"model":"model-s","stream":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}'}},
{choices => [{delta => {content => "Hel"}}]},
{choices => [{delta => {content => "lo"}}]},
{choices => [{delta => {}, finish_reason => "stop"}]},
"[DONE]",
]
--- response_body_unlike: "usage"
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
MOCK POST /v1/chat/completions
GW 200 stream=1 in=21 out=13 src=provider



=== TEST 3: include_usage injected into the client's own stream_options (empty, false, other fields, null)
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"stream_options":{},"messages":[{"role":"user","content":"a"}]}',
"POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"b"}]}',
"POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"stream_options":{ "x_extra" : 1 },"messages":[{"role":"user","content":"c"}]}',
"POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"stream_options":null,"messages":[{"role":"user","content":"d"}]}',
]
--- sse_data eval
[
[{echo => {body => '{"model":"model-s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]}'}}, qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]"],
[{echo => {body => '{"model":"model-s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"b"}]}'}}, qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]"],
[{echo => {body => '{"model":"model-s","stream":true,"stream_options":{"include_usage":true, "x_extra" : 1 },"messages":[{"role":"user","content":"c"}]}'}}, qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]"],
[{echo => {body => '{"model":"model-s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"d"}]}'}}, qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]"],
]
--- response_body_unlike eval
[qr/"usage"/, qr/"usage"/, qr/"usage"/, qr/"usage"/]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 stream=1 in=21 out=13 src=provider
GW 200 stream=1 in=21 out=13 src=provider
GW 200 stream=1 in=21 out=13 src=provider
GW 200 stream=1 in=21 out=13 src=provider



=== TEST 4: the client asked for usage: its body goes unchanged and the usage chunk reaches it
--- request
POST /v1/chat/completions
{"model":"s/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- sse_data eval
[
{echo => {body => '{"model":"model-s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'}},
{choices => [{delta => {content => "Hel"}}]},
{choices => [{delta => {content => "lo"}}]},
{choices => [{finish_reason => "stop"}]},
{choices => [], usage => {prompt_tokens => 21, completion_tokens => 13, total_tokens => 34}},
"[DONE]",
]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 stream=1 in=21 out=13 src=provider



=== TEST 5: a provider answering a stream request with plain JSON: the client gets SSE events
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log logs/access.log mock;
        default_type application/json;
        location / {
            return 200 '{"id":"chatcmpl-json","object":"chat.completion","created":5,"model":"json-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';
        }
    }
    aigw_provider pj url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-pj;
    aigw_model j/m pj:json-model;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"j/m","stream":true,"messages":[{"role":"user","content":"hi"}]}',
"POST /v1/chat/completions\n" . '{"model":"j/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}',
]
--- response_headers eval
["Content-Type: text/event-stream\nTransfer-Encoding: chunked\n! Content-Length",
 "Content-Type: text/event-stream\nTransfer-Encoding: chunked\n! Content-Length"]
--- sse_data eval
[
[
{id => "chatcmpl-json", object => "chat.completion.chunk", model => "json-model",
 choices => [{index => 0, delta => {role => "assistant", content => ""}, finish_reason => undef}]},
{id => "chatcmpl-json", choices => [{delta => {content => "Hi there"}, finish_reason => undef}]},
{choices => [{delta => {}, finish_reason => "length"}]},
"[DONE]",
],
[
qr/"role":"assistant"/,
{choices => [{delta => {content => "Hi there"}}]},
{choices => [{finish_reason => "length"}]},
{choices => [], usage => {prompt_tokens => 3, completion_tokens => 2, total_tokens => 5}},
"[DONE]",
],
]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 stream=1 in=3 out=2 src=provider
GW 200 stream=1 in=3 out=2 src=provider



=== TEST 6: a provider stream that ends without [DONE] still ends the client's stream properly
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log logs/access.log mock;
        location / {
            default_type text/event-stream;
            echo -n 'data: {"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"partial"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'data: {"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
        }
    }
    aigw_provider nd url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-nd;
    aigw_model nd/m nd:m;
--- request
POST /v1/chat/completions
{"model":"nd/m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
Transfer-Encoding: chunked
--- sse_data eval
[{choices => [{delta => {content => "partial"}}]},
 {choices => [{finish_reason => "stop"}]},
 "[DONE]"]
--- response_body_unlike: error
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 stream=1 in=0 out=0 src=none



=== TEST 7: a provider that dies mid-stream: the client's stream ends with an error event
--- http_config
    aigw_provider dead url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=sk-dead;
    aigw_model dead/m dead:m;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
do {
    my $e = 'data: {"id":"c3","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}' . "\n\n";
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    . sprintf("%x\r\n%s\r\n", length $e, $e);
}
--- request
POST /v1/chat/completions
{"model":"dead/m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'data: {"id":"c3","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}' . "\n\n"
. 'data: {"error":{"message":"the provider\'s stream broke off","type":"server_error","param":null,"code":null}}' . "\n\n"
--- error_log
upstream prematurely closed connection
aigw: the provider's stream broke off



=== TEST 8: a provider that stalls mid-stream: the read timeout ends the client's stream with an error event
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 200ms;
        aigw_pass;
    }
--- http_config
    aigw_provider stall url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=sk-stall;
    aigw_model stall/m stall:m;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_no_close
--- tcp_reply eval
do {
    my $e = 'data: {"id":"c4","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"slow"},"finish_reason":null}]}' . "\n\n";
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    . sprintf("%x\r\n%s\r\n", length $e, $e);
}
--- request
POST /v1/chat/completions
{"model":"stall/m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- sse_data eval
[{choices => [{delta => {content => "slow"}}]},
 {error => {message => "the provider timed out in the middle of the stream", type => "server_error"}}]
--- error_log
upstream timed out
aigw: the provider timed out in the middle of the stream
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 stream=1 in=0 out=0 src=none
