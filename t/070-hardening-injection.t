# No header or JSON injection through model names: a requested model with
# control characters (after JSON decoding: \r\n, \u0000, \u007f, \t) is a
# 400 before routing, on both surfaces, streamed or not, also when a
# wildcard model would have taken it; a requested model the gateway writes
# into a synthesized event (the provider left "model" out) is JSON-escaped.
#
# Providers: the fixture mock (t/fixtures/translate/mock.js) on port 1;
# on port 2 fixed answers without "model" (nginx "return").
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our $Wild = <<'_EOC_';
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model x/* oai;
    aigw_model y/* ant;
_EOC_

our @Bad = ('x/a\r\nX-Evil: 1', 'x/a\u0000b', 'x/a\u007f', 'x/\tb', 'x/a\nb');

our $Msgs = '"messages":[{"role":"user","content":"hi"}]';

sub oai { "POST /v1/chat/completions\n{\"model\":\"$_[0]\",$_[1]$::Msgs}" }
sub ant { "POST /v1/messages\n{\"model\":\"$_[0]\",\"max_tokens\":9,$_[1]$::Msgs}" }

our $Oai400 = { error => { type => "invalid_request_error",
                           message => '"model" must not contain control characters' } };
our $Ant400 = { type => "error",
                error => { type => "invalid_request_error",
                           message => '"model" must not contain control characters' } };

# answers without "model"

our $NoModel = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        location /ant/v1/messages {
            default_type text/event-stream;
            return 200 'event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}

event: message_stop
data: {"type":"message_stop"}

';
        }
        location /oai/v1/chat/completions {
            default_type text/event-stream;
            return 200 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}

data: [DONE]

';
        }
    }
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/ant key=k;
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/oai/v1 key=k;
    aigw_model q/* ant;
    aigw_model o/* oai;
_EOC_

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: OpenAI surface: control characters in a wildcard-matched model are a 400, streamed or not; no header is split
--- providers eval: $::Wild
--- request eval
[ (map { main::oai($_, '') } @::Bad), (map { main::oai($_, '"stream":true,') } @::Bad) ]
--- more_headers
Content-Type: application/json
--- error_code eval
[(400) x 10]
--- response_headers eval
[({ "X-Evil" => undef, "X-AIGW-Model" => undef, "Content-Type" => "application/json" }) x 10]
--- response_json eval
[($::Oai400) x 10]
--- no_error_log
[error]



=== TEST 2: Anthropic surface: the same, in Anthropic's error shape
--- providers eval: $::Wild
--- request eval
[ (map { main::ant(s/^x/y/r, '') } @::Bad), (map { main::ant(s/^x/y/r, '"stream":true,') } @::Bad) ]
--- more_headers
Content-Type: application/json
--- error_code eval
[(400) x 10]
--- response_headers eval
[({ "X-Evil" => undef, "X-AIGW-Model" => undef }) x 10]
--- response_json eval
[($::Ant400) x 10]
--- no_error_log
[error]



=== TEST 3: a model with a quote and a backslash (legal) is escaped in events the gateway makes when the provider leaves "model" out
--- providers eval: $::NoModel
--- request eval
[ main::oai('q/a\"b\\\\c', '"stream":true,'),
  main::ant('o/a\"b\\\\c', '"stream":true,') ]
--- more_headers
Content-Type: application/json
--- response_headers eval
[ { "X-AIGW-Model" => 'q/a"b\c' }, { "X-AIGW-Model" => 'o/a"b\c' } ]
--- sse_data eval
[ [ { model => 'q/a"b\c', choices => [ { delta => { role => "assistant" } } ] },
    { model => 'q/a"b\c', choices => [ { delta => { content => "Hi" } } ] },
    { model => 'q/a"b\c', choices => [ { finish_reason => "stop" } ] },
    "[DONE]" ],
  [ { type => "message_start", message => { model => 'o/a"b\c' } },
    { type => "ping" },
    { type => "content_block_start" },
    { type => "content_block_delta", delta => { text => "Hi" } },
    { type => "content_block_stop" },
    { type => "message_delta" },
    { type => "message_stop" } ] ]
--- no_error_log
[error]
