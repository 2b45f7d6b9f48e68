# Issue 5: no failover after the first byte reached the client.  A stream
# whose provider dies (or stalls past aigw_read_timeout) after its first
# event ends with an error event in the client's format; the next
# provider is never called.  As nginx does after an upstream error in
# the middle of a response, the chunked body then ends without its last
# chunk (the connection closes), so nothing looks like a clean end.  (A provider that dies before its first byte
# is retried: t/040-failover-kinds.t TEST 12.)
#
# Provider a: tcp_listen on RAND_PORT_1 (the broken stream); b: a healthy
# OpenAI mock (RAND_PORT_2) that logs "MOCK B" when called.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $OpenAIHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  . "Transfer-Encoding: chunked\r\n\r\n";

# one chunked piece of an SSE stream
sub chunk { my $d = shift; return sprintf("%x\r\n%s\r\n", length $d, $d) }

sub oai_chunk {
    my ($delta, $finish) = @_;
    return "data: {\"id\":\"chatcmpl-a\",\"object\":\"chat.completion.chunk\","
           . "\"created\":1700000000,\"model\":\"gpt-a\",\"choices\":[{\"index\":0,"
           . "\"delta\":$delta,\"finish_reason\":" . ($finish // "null") . "}]}\n\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n");

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock $request_uri';
    log_format gw escape=none 'GW $status provider=$aigw_provider attempts=$aigw_attempts count=$aigw_attempt_count';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock B;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    aigw_provider b format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-b;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 400ms;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n");
});

run_tests();

__DATA__

=== TEST 1: OpenAI passthrough stream, the provider dies after the first events: an error event ends it, no retry
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::OpenAIHead . main::chunk(main::oai_chunk('{"role":"assistant","content":""}'))
. main::chunk(main::oai_chunk('{"content":"partial"}'))
--- request
POST /v1/chat/completions
{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
X-AIGW-Provider: a
X-AIGW-Attempts: a:200
--- sse_data eval
[{choices => [{delta => {role => "assistant"}}]},
 {choices => [{delta => {content => "partial"}}]},
 {error => {type => "server_error", message => "the provider's stream broke off"}}]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out
GW 200 provider=a attempts=a:200 count=1
--- error_log
the provider's stream broke off



=== TEST 2: translated stream (OpenAI provider, Anthropic client), the provider dies: an Anthropic error event, no retry
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::OpenAIHead . main::chunk(main::oai_chunk('{"role":"assistant","content":""}'))
. main::chunk(main::oai_chunk('{"content":"partial"}'))
--- request
POST /v1/messages
{"model":"m","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
X-AIGW-Provider: a
X-AIGW-Attempts: a:200
--- sse_events eval
[qw(message_start ping content_block_start content_block_delta error)]
--- sse_data eval
[{type => "message_start"}, {type => "ping"}, {type => "content_block_start"},
 {type => "content_block_delta", delta => {text => "partial"}},
 {type => "error", error => {type => "api_error", message => "the provider's stream broke off"}}]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out
GW 200 provider=a attempts=a:200 count=1
--- error_log
the provider's stream broke off



=== TEST 3: Anthropic passthrough stream, the provider stalls after its first event: a timeout error event, no retry
--- http_config
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-a;
    aigw_model m a:claude-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
$::OpenAIHead . main::chunk("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_a\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-a\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n")
--- request
POST /v1/messages
{"model":"m","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
X-AIGW-Provider: a
X-AIGW-Attempts: a:200
--- sse_events eval
[qw(message_start error)]
--- sse_data eval
[{type => "message_start", message => {id => "msg_a"}},
 {type => "error", error => {type => "timeout_error", message => "the provider timed out in the middle of the stream"}}]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out
GW 200 provider=a attempts=a:200 count=1
--- error_log
upstream timed out



=== TEST 4: translated stream (Anthropic provider, OpenAI client), the provider dies mid-way: an OpenAI error chunk, no retry
--- http_config
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-a;
    aigw_model m a:claude-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::OpenAIHead . main::chunk("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_a\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-a\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
. "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
. "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"partial\"}}\n\n")
--- request
POST /v1/chat/completions
{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
X-AIGW-Provider: a
X-AIGW-Attempts: a:200
--- sse_data eval
[{choices => [{delta => {role => "assistant"}}]},
 {choices => [{delta => {content => "partial"}}]},
 {error => {type => "server_error", message => "the provider's stream broke off"}}]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out
GW 200 provider=a attempts=a:200 count=1
--- error_log
the provider's stream broke off
