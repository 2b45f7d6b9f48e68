# Stream framing: the provider's stream is cut into frames by the framing
# its format names (SSE for OpenAI and Anthropic), whatever the reads.  A
# passthrough stream reaches the client byte for byte when every byte
# comes in a read of its own, and its usage (parsed from the events that
# carry it only) is the same; events that come in one read all arrive.
#
# Provider: the harness's one-shot TCP server, writing its reply in the
# pieces given, with a delay before each.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    . "Connection: close\r\n\r\n";

sub ant_event {
    my ($type, $json) = @_;
    return "event: $type\ndata: $json\n\n";
}

# Anthropic: usage in message_start and message_delta, content events
# between them (one with CRLF line ends, one naming "usage" in its text)

our $ant = join '',
    ant_event('message_start', '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1441,"cache_creation_input_tokens":7,"cache_read_input_tokens":18432,"output_tokens":1}}}'),
    ant_event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
    ant_event('ping', '{"type":"ping"}'),
    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"H\\u00e9llo \\\"usage\\\": 5\"}}\r\n\r\n",
    ant_event('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" \u2603 world"}}'),
    ant_event('content_block_stop', '{"type":"content_block_stop","index":0}'),
    ant_event('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":62}}'),
    ant_event('message_stop', '{"type":"message_stop"}');

# OpenAI: the usage chunk last, content chunks that quote "usage" and
# "error" in their text (escaped, so not keys)

sub oai_chunk {
    return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",$_[0]}\n\n";
}

our $oai = join '',
    oai_chunk('"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]'),
    oai_chunk('"choices":[{"index":0,"delta":{"content":"the \\"usage\\" and \\"error\\" keys"},"finish_reason":null}]'),
    oai_chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]'),
    oai_chunk('"choices":[],"usage":{"prompt_tokens":19873,"completion_tokens":62,"total_tokens":19935}'),
    "data: [DONE]\n\n";

# the whole reply, one byte per write after the header
sub bytewise { return [ $head, split //, $_[0] ] }

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format gw 'GW $status stream=$aigw_stream in=$aigw_input_tokens out=$aigw_output_tokens cached=$aigw_cached_tokens src=$aigw_usage_source';
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-oai;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-ant;
    aigw_model o/m oai:m;
    aigw_model a/m ant:m;
_EOC_

    $block->set_value(config => <<'_EOC_');
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(tcp_listen => '$TEST_NGINX_RAND_PORT_1');
    $block->set_value(tcp_query_auto_timeout => '50ms');
    $block->set_value(more_headers => "Content-Type: application/json\n");
    $block->set_value(no_error_log => "[error]\n[warn]\n");
    $block->set_value(grep_access_log => qr/GW .*/);
});

run_tests();

__DATA__

=== TEST 1: Anthropic passthrough, every byte in a read of its own: byte for byte, usage from message_start and message_delta
--- tcp_reply eval: main::bytewise($::ant)
--- tcp_reply_gap: 1ms
--- request
POST /v1/messages
{"model":"a/m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
--- response_body eval: $::ant
--- grep_access_log_out
GW 200 stream=1 in=19880 out=62 cached=18432 src=provider



=== TEST 2: Anthropic passthrough, the whole stream in one read: every event arrives, the usage is the same
--- tcp_reply eval: [ $::head . $::ant ]
--- request
POST /v1/messages
{"model":"a/m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_body eval: $::ant
--- grep_access_log_out
GW 200 stream=1 in=19880 out=62 cached=18432 src=provider



=== TEST 3: OpenAI passthrough, every byte in a read of its own: byte for byte; "usage" quoted in a content chunk is not usage
--- tcp_reply eval: main::bytewise($::oai)
--- tcp_reply_gap: 1ms
--- request
POST /v1/chat/completions
{"model":"o/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- response_body eval: $::oai
--- grep_access_log_out
GW 200 stream=1 in=19873 out=62 cached=0 src=provider



=== TEST 4: OpenAI passthrough, the whole stream in one read
--- tcp_reply eval: [ $::head . $::oai ]
--- request
POST /v1/chat/completions
{"model":"o/m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- response_body eval: $::oai
--- grep_access_log_out
GW 200 stream=1 in=19873 out=62 cached=0 src=provider
