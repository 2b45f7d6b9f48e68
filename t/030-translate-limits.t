# What translation cannot carry is a clear 400 in the client's shape, never
# a silent loss (unless a provider of the client's own format can take the
# request); count_tokens without an Anthropic provider is an estimate that
# says so; a provider stream that dies in the middle, or ends before its
# finish reason, ends the client's stream with an error event in the
# client's format, in every direction.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our (%O, %A, $Count);

sub chat { main::json({ model => 'claude', messages => [ { role => 'user', content => 'hi' } ], @_ }) }
sub msgs { main::json({ model => 'gpt', max_tokens => 100,
                        messages => [ { role => 'user', content => 'hi' } ], @_ }) }

%O = (
    n2 => chat(n => 2),
    logprobs => chat(logprobs => JSON::PP::true, top_logprobs => 3),
    schema => chat(response_format => { type => 'json_schema',
                                        json_schema => { name => 'x', schema => { type => 'object' } } }),
    json_object => chat(response_format => { type => 'json_object' }),
    audio => chat(modalities => ['text', 'audio'], audio => { voice => 'alloy', format => 'wav' }),
    custom_tool => chat(tools => [ { type => 'custom', custom => { name => 'grep' } } ]),
    refusal_part => chat(messages => [ { role => 'user', content => 'hi' },
                                       { role => 'assistant', content => [ { type => 'refusal', refusal => 'no' } ] } ]),
    fine => chat(n => 1, logprobs => JSON::PP::false, response_format => { type => 'text' },
                 frequency_penalty => 0, presence_penalty => 0),
    penalty => chat(frequency_penalty => 0.5),
);

%A = (
    web_search => msgs(tools => [ { type => 'web_search_20250305', name => 'web_search', max_uses => 5 } ]),
    mcp => msgs(mcp_servers => [ { type => 'url', url => 'https://mcp.example.com/sse', name => 'x' } ]),
    container => msgs(container => 'container_011'),
    server_tool_use => msgs(messages => [
        { role => 'user', content => 'search' },
        { role => 'assistant', content => [ { type => 'server_tool_use', id => 'srvtoolu_1',
                                              name => 'web_search', input => { query => 'q' } } ] } ]),
    search_result => msgs(messages => [ { role => 'user', content => [
        { type => 'search_result', source => 'https://example.com', title => 't',
          content => [ { type => 'text', text => 'x' } ] } ] } ]),
    doc_text => msgs(messages => [ { role => 'user', content => [
        { type => 'document', source => { type => 'text', media_type => 'text/plain', data => 'plain' } } ] } ]),
    pdf => msgs(messages => [ { role => 'user', content => [
        { type => 'document', source => { type => 'base64', media_type => 'application/pdf', data => 'JVBERi0xLjQK' } },
        { type => 'text', text => 'summarize' } ] } ]),
    custom => msgs(tools => [ { type => 'custom', name => 'now', input_schema => { type => 'object' } } ]),
);

$Count = '{"model":"gpt","messages":[{"role":"user","content":"how many tokens is this?"}],'
    . '"system":"You are terse."}';

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: OpenAI requests an Anthropic provider cannot honour: 400 in OpenAI's shape, nothing sent
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
[(map { "POST /v1/chat/completions\n$::O{$_}" } qw(n2 logprobs schema json_object audio custom_tool refusal_part penalty)),
 "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[(400) x 8, 404]
--- response_json eval
my $e = sub { { error => { message => $_[0], type => "invalid_request_error" } } };
[ $e->('~/"n" other than 1 cannot be translated/'),
  $e->('~/"logprobs" cannot be translated/'),
  $e->('~/"response_format" other than text cannot be translated/'),
  $e->('~/"response_format" other than text cannot be translated/'),
  $e->('~/"(audio|modalities)" cannot be translated/'),
  $e->('~/only tools of type "function" can be translated/'),
  $e->('~/content part type cannot be translated/'),
  $e->('~/"frequency_penalty" cannot be translated/'), undef ]
--- no_error_log eval
qr/\[error\](?!.*mock_last\.json)/



=== TEST 2: what Anthropic's API takes as a default (n=1, logprobs false, text format, zero penalties) is translated
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::O{fine}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ object => "chat.completion" }, { body => { model => "claude-sonnet-4-6" } }]
--- response_body_unlike eval
[undef, qr/logprobs|response_format|penalty|"n"/]
--- no_error_log
[error]



=== TEST 3: Anthropic requests an OpenAI provider cannot honour: 400 in Anthropic's shape (server tools, mcp_servers, container, server blocks)
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
[(map { "POST /v1/messages?beta=true\n$::A{$_}" } qw(web_search mcp container server_tool_use search_result doc_text)),
 "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- error_code eval
[(400) x 6, 404]
--- response_json eval
my $e = sub { { type => "error", error => { type => "invalid_request_error", message => $_[0] } } };
[ $e->('~/server tool "web_search_20250305" cannot be translated/'),
  $e->('~/"mcp_servers" cannot be translated/'),
  $e->('~/"container" cannot be translated/'),
  $e->('~/"server_tool_use" content block cannot be translated/'),
  $e->('~/"search_result" content block cannot be translated/'),
  $e->('~/only base64 documents/'), undef ]
--- no_error_log eval
qr/\[error\](?!.*mock_last\.json)/



=== TEST 4: a base64 PDF document becomes an OpenAI file part; custom tools are ordinary function tools
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
["POST /v1/messages\n$::A{pdf}", "GET /mock_last.json", "POST /v1/messages\n$::A{custom}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { messages => [ { role => "user", content => [
            { type => "file", file => { file_data => "data:application/pdf;base64,JVBERi0xLjQK" } },
            { type => "text", text => "summarize" } ] } ] } },
 undef, { body => { tools => [ { type => "function", function => { name => "now" } } ] } }]
--- no_error_log
[error]



=== TEST 5: when the model also has a provider of the client's format, an untranslatable request goes there only
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k;
    aigw_model gpt oai:gpt-5.4 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n$::A{web_search}"
--- more_headers
Content-Type: application/json
--- response_json eval
{ uri => "/x/echo/v1/messages", body => { model => "claude-sonnet-4-6", tools => [ { type => "web_search_20250305" } ] } }
--- response_headers
X-AIGW-Provider: ant
X-AIGW-Attempts: ant:200
--- error_log
cannot be translated, providers of other formats are left out
--- no_error_log
[error]



=== TEST 6: count_tokens for an OpenAI-format model: an estimate, marked in the body, a header and $aigw_usage_source; no provider called
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
["POST /v1/messages/count_tokens?beta=true\n$::Count", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- error_code eval
[200, 404]
--- response_json eval
[{ input_tokens => int((length($::Count) + 3) / 4), estimated => JSON::PP::true }, undef]
--- response_headers eval
[{ "X-AIGW-Estimated" => "true", "Content-Type" => "application/json" }, undef]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out eval
"AIGW /v1/messages/count_tokens?beta=true 200 m=gpt rm=gpt p=- pm=- s=anthropic st=0 in=" . int((length($::Count) + 3) / 4) . " out=0 cr=0 cw=0 rs=0 src=estimated a=-\n"
--- no_error_log eval
qr/\[error\](?!.*mock_last\.json)/



=== TEST 7: count_tokens for a model with both formats goes to its Anthropic provider
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/count key=k;
    aigw_model gpt oai:gpt-5.4 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages/count_tokens\n$::Count"
--- more_headers
Content-Type: application/json
--- response_body: {"input_tokens":2095}
--- response_headers
X-AIGW-Provider: ant
! X-AIGW-Estimated
--- no_error_log
[error]



=== TEST 8: a provider stream that dies mid-way: Anthropic passthrough ends with an Anthropic error event
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my $r = shift;
    my @ev = split /(?<=\n\n)/, main::fixture('anthropic/text.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev[0 .. 3], 0.05 ], incomplete => 1 };
});
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n" . main::json({ model => "claude", max_tokens => 10, stream => JSON::PP::true,
                                     messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "content_block_start", "ping", "content_block_delta", "error"]
--- sse_data eval
[ { type => "message_start" }, { type => "content_block_start" }, { type => "ping" },
  { type => "content_block_delta", delta => { text => "Hello" } },
  { type => "error", error => { type => "api_error", message => "~/stream broke off/" } } ]
--- response_body_unlike: message_stop|message_delta
--- incomplete_body
--- error_log
the provider's stream broke off
--- no_error_log
[alert]



=== TEST 9: a provider stream that dies mid-way: Anthropic -> OpenAI client ends with an OpenAI error chunk, no [DONE]
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my @ev = split /(?<=\n\n)/, main::fixture('anthropic/text.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev[0 .. 3], 0.05 ], incomplete => 1 };
});
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/chat/completions\n" . main::json({ model => "claude", stream => JSON::PP::true,
                                             stream_options => { include_usage => JSON::PP::true },
                                             messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { object => "chat.completion.chunk", choices => [ { delta => { role => "assistant" } } ] },
  { choices => [ { delta => { content => "Hello" } } ] },
  { error => { type => "server_error", message => "~/stream broke off/" } } ]
--- response_body_unlike: \[DONE\]|usage|finish_reason":"
--- incomplete_body
--- error_log
the provider's stream broke off
--- no_error_log
[alert]



=== TEST 10: a provider stream that dies mid-way: OpenAI -> Anthropic client ends with an Anthropic error event, no message_stop
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my @ev = split /(?<=\n\n)/, main::fixture('translate/openai-tools.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev[0 .. 5], 0.05 ], incomplete => 1 };
});
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n" . main::json({ model => "gpt", max_tokens => 10, stream => JSON::PP::true,
                                     messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
 "content_block_stop", "content_block_start", "content_block_delta",
 "content_block_stop", "content_block_start", "content_block_delta", "error"]
--- sse_data eval
[ { type => "message_start" }, { type => "ping" },
  { type => "content_block_start", index => 0, content_block => { type => "thinking" } },
  { type => "content_block_delta" }, { type => "content_block_delta" },
  { type => "content_block_stop", index => 0 },
  { type => "content_block_start", index => 1, content_block => { type => "text" } },
  { type => "content_block_delta", index => 1 },
  { type => "content_block_stop", index => 1 },
  { type => "content_block_start", index => 2, content_block => { type => "tool_use", id => "call_P" } },
  { type => "content_block_delta", index => 2, delta => { partial_json => '{"city":' } },
  { type => "error", error => { type => "api_error", message => "~/stream broke off/" } } ]
--- response_body_unlike: message_stop|message_delta
--- incomplete_body
--- error_log
the provider's stream broke off
--- no_error_log
[alert]



=== TEST 11: a provider stream that stalls mid-way: the client gets a timeout error event in its format (both directions)
--- main_extra
    worker_shutdown_timeout 300ms;
--- providers
    aigw_provider slow format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=k;
    aigw_provider slowoai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/oai key=k;
    aigw_model claude slow:claude-sonnet-4-6;
    aigw_model gpt slowoai:gpt-5.4;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /v1/messages {
            default_type text/event-stream;
            echo 'event: message_start';
            echo 'data: {"type":"message_start","message":{"id":"msg_stall","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}';
            echo '';
            echo_flush;
            echo_sleep 1;
        }
        location /oai/chat/completions {
            default_type text/event-stream;
            echo 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}';
            echo '';
            echo_flush;
            echo_sleep 1;
        }
    }
--- config
    location /v1/ {
        aigw_pass;
        aigw_read_timeout 300ms;
    }
--- request eval
["POST /v1/chat/completions\n" . main::json({ model => "claude", stream => JSON::PP::true,
                                              messages => [ { role => "user", content => "hi" } ] }),
 "POST /v1/messages\n" . main::json({ model => "gpt", max_tokens => 5, stream => JSON::PP::true,
                                      messages => [ { role => "user", content => "hi" } ] })]
--- more_headers
Content-Type: application/json
--- sse_data eval
[[ { choices => [ { delta => { role => "assistant" } } ] },
   { error => { type => "server_error", message => "~/timed out in the middle of the stream/" } } ],
 [ { type => "message_start", message => { id => "c1" } }, { type => "ping" },
   { type => "content_block_start" }, { type => "content_block_delta", delta => { text => "Hi" } },
   { type => "error", error => { type => "timeout_error", message => "~/timed out in the middle of the stream/" } } ]]
--- response_body_unlike eval
[qr/\[DONE\]/, qr/message_stop/]
--- incomplete_body
--- error_log
timed out in the middle of the stream
--- no_error_log
[alert]



=== TEST 12: failover across formats before the first byte: each try gets the request in its provider's format, the answer in the client's
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded key=k;
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_provider oai_busy url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=k;
    aigw_provider ant_ok format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_provider ant2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded key=k;
    aigw_provider oai_busy2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=k;
    aigw_model m1 ant:claude-sonnet-4-6 oai:gpt-5.4;
    aigw_model m2 oai_busy:gpt-5.4 ant_ok:claude-sonnet-4-6;
    aigw_model m1s ant2:claude-sonnet-4-6 oai:gpt-5.4;
    aigw_model m2s oai_busy2:gpt-5.4 ant_ok:claude-sonnet-4-6;
--- request eval
["POST /v1/messages\n" . main::json({ model => "m1", max_tokens => 10, messages => [ { role => "user", content => "hi" } ] }),
 "GET /mock_last.json",
 "POST /v1/messages\n" . main::json({ model => "m1s", max_tokens => 10, stream => JSON::PP::true, messages => [ { role => "user", content => "hi" } ] }),
 "POST /v1/chat/completions\n" . main::json({ model => "m2", messages => [ { role => "user", content => "hi" } ] }),
 "GET /mock_last.json",
 "POST /v1/chat/completions\n" . main::json({ model => "m2s", stream => JSON::PP::true, messages => [ { role => "user", content => "hi" } ] })]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ type => "message", id => "chatcmpl-Text1", content => [ { type => "text" } ] },
 { uri => "/translate/openai-text/v1/chat/completions", body => { model => "gpt-5.4", max_tokens => 10 } },
 undef,
 { object => "chat.completion", id => "msg_01TextNonStream" },
 { uri => "/anthropic/text/v1/messages", body => { model => "claude-sonnet-4-6", max_tokens => 4096 } },
 undef]
--- sse_events eval
[undef, undef,
 ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
  "content_block_stop", "message_delta", "message_stop"],
 undef, undef, undef]
--- sse_data eval
[undef, undef, undef, undef, undef,
 [ { object => "chat.completion.chunk", id => "msg_01StreamText" }, {}, {}, { choices => [ { finish_reason => "stop" } ] }, "[DONE]" ]]
--- response_headers eval
[{ "X-AIGW-Attempts" => "ant:529,oai:200" }, undef, { "X-AIGW-Attempts" => "ant2:529,oai:200" },
 { "X-AIGW-Attempts" => "oai_busy:429,ant_ok:200" }, undef, { "X-AIGW-Attempts" => "oai_busy2:429,ant_ok:200" }]
--- no_error_log
[error]



=== TEST 13: a provider stream that ends cleanly before its finish: Anthropic -> OpenAI client gets an error chunk, no [DONE]
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my @ev = split /(?<=\n\n)/, main::fixture('anthropic/text.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev[0 .. 3] ] };
});
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/chat/completions\n" . main::json({ model => "claude", stream => JSON::PP::true,
                                             messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { object => "chat.completion.chunk", choices => [ { delta => { role => "assistant" } } ] },
  { choices => [ { delta => { content => "Hello" } } ] },
  { error => { type => "server_error", message => "the provider's stream ended before it finished" } } ]
--- response_body_unlike: \[DONE\]|finish_reason":"
--- error_log
aigw: the provider's stream ended before it finished
--- no_error_log
[alert]



=== TEST 14: a provider stream that ends cleanly before its finish: OpenAI -> Anthropic client gets an error event, no message_stop
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my @ev = split /(?<=\n\n)/, main::fixture('translate/openai-text.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev[0 .. 1] ] };
});
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n" . main::json({ model => "gpt", max_tokens => 10, stream => JSON::PP::true,
                                     messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "error"]
--- sse_data eval
[ { type => "message_start" }, { type => "ping" }, { type => "content_block_start" },
  { type => "content_block_delta", delta => { text => "Hi" } },
  { type => "error", error => { type => "api_error", message => "the provider's stream ended before it finished" } } ]
--- response_body_unlike: message_stop|message_delta
--- error_log
aigw: the provider's stream ended before it finished
--- no_error_log
[alert]



=== TEST 15: an OpenAI-format provider that finishes without "data: [DONE]": the Anthropic client's stream ends normally
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my @ev = grep { !/\[DONE\]/ } split /(?<=\n\n)/, main::fixture('translate/openai-text.sse');
    return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
             chunks => [ @ev ] };
});
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n" . main::json({ model => "gpt", max_tokens => 10, stream => JSON::PP::true,
                                     messages => [ { role => "user", content => "hi" } ] })
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
 "content_block_stop", "message_delta", "message_stop"]
--- sse_data eval
[ {}, {}, {}, {}, {}, {}, { type => "message_delta", delta => { stop_reason => "end_turn" } },
  { type => "message_stop" } ]
--- no_error_log
[error]



=== TEST 16: a tool "type" that is not a string is a 400 that quotes nothing of the request; "type": null is a custom tool
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
[(map { "POST /v1/messages\n" . main::msgs(tools => [ { type => $_, name => 't',
                                                       input_schema => { type => 'object' } } ]) }
      1, 12345, JSON::PP::true, { a => 'b' }, [ 'x' ], undef)]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- error_code eval
[(400) x 5, 200]
--- response_json eval
my $e = { type => "error", error => { type => "invalid_request_error",
                                      message => '~/^tools: a tool\'s "type" must be a string$/' } };
[ ($e) x 5, { type => "message", content => [ { type => "text" } ] } ]
--- no_error_log
[alert]
