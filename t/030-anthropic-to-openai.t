# Anthropic Messages clients served by openai-format providers: the
# request translated into Chat Completions (checked in lock step on what
# the mock received: GET /mock_last.json), answers and streams translated
# into Anthropic's full event sequence (fixtures in t/fixtures/translate).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

sub msgs { main::json({ model => 'gpt', max_tokens => 500, @_ }) }

my $user = { role => 'user', content => 'hi' };
my $cc = { type => 'ephemeral' };

$R{rich} = msgs(
    system => [ { type => 'text', text => 'Sys one.', cache_control => $cc },
                { type => 'text', text => 'Sys two.' } ],
    messages => [
        { role => 'user', content => [
            { type => 'text', text => 'Look', cache_control => $cc },
            { type => 'image', source => { type => 'base64', media_type => 'image/png',
                                           data => 'iVBORw0KGgo=' } },
            { type => 'image', source => { type => 'url', url => 'https://example.com/a.png' } } ] },
        { role => 'system', content => 'Mid-conversation system.' },
        { role => 'assistant', content => [
            { type => 'thinking', thinking => 'hmm', signature => 'c2lnbmF0dXJl' },
            { type => 'redacted_thinking', data => 'cmVkYWN0ZWQ=' },
            { type => 'text', text => 'Calling.' },
            { type => 'tool_use', id => 'toolu_1', name => 'get_weather',
              input => { city => 'Paris', opts => { days => [1, 2] } } },
            { type => 'tool_use', id => 'toolu_2', name => 'now', input => {} } ] },
        { role => 'user', content => [
            { type => 'tool_result', tool_use_id => 'toolu_1', content => '18C',
              is_error => JSON::PP::false },
            { type => 'tool_result', tool_use_id => 'toolu_2', is_error => JSON::PP::true,
              content => [ { type => 'text', text => 'clock is broken' } ], cache_control => $cc },
            { type => 'text', text => "Go on \x{2603} \"now\"\n" } ] },
    ],
    tools => [ { name => 'get_weather', description => 'Weather',
                 input_schema => { type => 'object', '$schema' => 'http://json-schema.org/draft-07/schema#',
                                   properties => { city => { type => 'string', pattern => '^[A-Z]' } },
                                   required => ['city'], additionalProperties => JSON::PP::false },
                 cache_control => $cc },
               { name => 'now', input_schema => { type => 'object', properties => {} } } ],
    tool_choice => { type => 'auto', disable_parallel_tool_use => JSON::PP::true },
    temperature => 0.3, top_p => 0.8, stop_sequences => ['END', 'STOP'],
    metadata => { user_id => 'user-42' },
    context_management => { edits => [ { type => 'clear_thinking_20251015', keep => 'all' } ] },
    service_tier => 'auto');

$R{"tc_$_->[0]"} = msgs(messages => [ $user ], tools => [ { name => 'now', input_schema => { type => 'object' } } ],
                        tool_choice => $_->[1])
    for ['auto', { type => 'auto' }], ['any', { type => 'any' }], ['none', { type => 'none' }],
        ['tool', { type => 'tool', name => 'now' }];

$R{plain} = msgs(messages => [ $user ]);
$R{longuser} = msgs(messages => [ $user ],
                    metadata => { user_id => '{"device_id":"' . ('a' x 64) . '","account_uuid":"","session_id":"s"}' });
$R{think} = msgs(model => 'think', max_tokens => 8000, messages => [ $user ],
                 thinking => { type => 'enabled', budget_tokens => 2000 });
$R{think_high} = msgs(model => 'think', max_tokens => 64000, messages => [ $user ],
                      thinking => { type => 'enabled', budget_tokens => 31999 });
$R{adaptive} = msgs(model => 'think', messages => [ $user ], thinking => { type => 'adaptive' },
                    output_config => { effort => 'high' });
$R{think_plain} = msgs(messages => [ $user ], thinking => { type => 'enabled', budget_tokens => 2000 });
$R{stream} = msgs(messages => [ $user ], stream => JSON::PP::true);

$R{images} = msgs(
    system => 'Be brief.',
    messages => [
        { role => 'user', content => 'shot?' },
        { role => 'assistant', content => [
            { type => 'tool_use', id => 'toolu_A', name => 'screenshot', input => {} },
            { type => 'tool_use', id => 'toolu_B', name => 'screenshot', input => { full => JSON::PP::true } } ] },
        { role => 'user', content => [
            { type => 'tool_result', tool_use_id => 'toolu_A', content => [
                { type => 'image', source => { type => 'base64', media_type => 'image/png', data => 'AAAA' } } ] },
            { type => 'tool_result', tool_use_id => 'toolu_B', content => [
                { type => 'text', text => 'done' },
                { type => 'image', source => { type => 'url', url => 'https://example.com/b.png' } } ] },
            { type => 'text', text => 'what do you see?' } ] },
        { role => 'assistant', content => [ { type => 'thinking', thinking => 'hmm', signature => 'c2ln' } ] },
        { role => 'user', content => 'ok' } ]);

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: system blocks and role:"system" messages; images; thinking dropped; tool_use -> tool_calls; tool_result (with is_error) -> tool messages; tools; sampling
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai-provider;
    aigw_model gpt oai:gpt-5.4;
--- request eval
["POST /v1/messages?beta=true\n$::R{rich}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
x-api-key: client-secret
anthropic-version: 2023-06-01
anthropic-beta: interleaved-thinking-2025-05-14
--- response_json eval
[undef,
 { uri => "/translate/openai-text/v1/chat/completions",
   headers => { authorization => "Bearer sk-oai-provider", "content-type" => "application/json" },
   body => {
     model => "gpt-5.4", max_tokens => 500, temperature => 0.3, top_p => 0.8,
     stop => ["END", "STOP"], user => "user-42", tool_choice => "auto", parallel_tool_calls => JSON::PP::false,
     tools => [ { type => "function", function => { name => "get_weather", description => "Weather",
                   parameters => { type => "object", '$schema' => "http://json-schema.org/draft-07/schema#",
                                   properties => { city => { type => "string", pattern => "^[A-Z]" } },
                                   required => ["city"], additionalProperties => JSON::PP::false } } },
                { type => "function", function => { name => "now", parameters => { type => "object", properties => {} } } } ],
     messages => [
       { role => "system", content => [ { type => "text", text => "Sys one." }, { type => "text", text => "Sys two." } ] },
       { role => "user", content => [
           { type => "text", text => "Look" },
           { type => "image_url", image_url => { url => "data:image/png;base64,iVBORw0KGgo=" } },
           { type => "image_url", image_url => { url => "https://example.com/a.png" } } ] },
       { role => "system", content => "Mid-conversation system." },
       { role => "assistant", content => "Calling.",
         tool_calls => [ { id => "toolu_1", type => "function",
                           function => { name => "get_weather", arguments => '{"city":"Paris","opts":{"days":[1,2]}}' } },
                         { id => "toolu_2", type => "function", function => { name => "now", arguments => "{}" } } ] },
       { role => "tool", tool_call_id => "toolu_1", content => "18C" },
       { role => "tool", tool_call_id => "toolu_2", content => "clock is broken" },
       { role => "user", content => "Go on \xe2\x98\x83 \"now\"\n" } ] } }]
--- response_body_unlike eval
[undef, qr/client-secret|x-api-key|anthropic-|cache_control|thinking|signature|c2lnbmF0dXJl|cmVkYWN0ZWQ|context_management|service_tier|"stream"/]
--- no_error_log
[error]



=== TEST 2: tool_choice auto/any/none/tool -> auto/required/none/function
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
[map { ("POST /v1/messages\n$::R{$_}", "GET /mock_last.json") } qw(tc_auto tc_any tc_none tc_tool)]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { tool_choice => "auto" } }, undef, { body => { tool_choice => "required" } },
 undef, { body => { tool_choice => "none" } },
 undef, { body => { tool_choice => { type => "function", function => { name => "now" } } } }]
--- no_error_log
[error]



=== TEST 3: thinking -> reasoning_effort (and max_completion_tokens) only for models marked reasoning; a user id over 64 bytes is not sent
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
    aigw_model think oai:o5 reasoning;
--- request eval
[map { ("POST /v1/messages\n$::R{$_}", "GET /mock_last.json") } qw(think think_high adaptive think_plain longuser)]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { model => "o5", max_completion_tokens => 8000, reasoning_effort => "low" } },
 undef, { body => { max_completion_tokens => 64000, reasoning_effort => "high" } },
 undef, { body => { max_completion_tokens => 500, reasoning_effort => "high" } },
 undef, { body => { model => "gpt-5.4", max_tokens => 500 } },
 undef, { body => { model => "gpt-5.4" } }]
--- response_body_unlike eval
[undef, qr/"max_tokens"/, undef, undef, undef, undef, undef, qr/reasoning|max_completion_tokens/,
 undef, qr/"user":"|device_id/]
--- no_error_log
[error]



=== TEST 4: a chat.completion as an Anthropic message: text; reasoning as thinking; tool calls as tool_use with input objects; stop reasons; usage
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_provider tools url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=k;
    aigw_provider len url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-length/v1 key=k;
    aigw_provider filt url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-filter/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
    aigw_model tools tools:gpt-5.4;
    aigw_model len len:gpt-5.4;
    aigw_model filt filt:gpt-5.4;
--- request eval
[map { "POST /v1/messages\n" . ($::R{plain} =~ s/"gpt"/"$_"/r) } qw(gpt tools len filt)]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ id => "chatcmpl-Text1", type => "message", role => "assistant", model => "gpt-5.4-2026-03-01",
   content => [ { type => "text", text => "Hi th\x{e9}re \xe2\x98\x83 \"q\"\nbye" } ],
   stop_reason => "end_turn", stop_sequence => undef,
   usage => { input_tokens => 56, cache_read_input_tokens => 64, cache_creation_input_tokens => 0, output_tokens => 9 } },
 { id => "chatcmpl-Tools1", stop_reason => "tool_use",
   content => [ { type => "thinking", thinking => "Two cities." },
                { type => "text", text => "Checking both." },
                { type => "tool_use", id => "call_P", name => "get_weather", input => { city => "Paris", unit => "c" } },
                { type => "tool_use", id => "call_T", name => "get_weather", input => { city => "Tokyo", days => [1, 2] } } ],
   usage => { input_tokens => 200, output_tokens => 40 } },
 { stop_reason => "max_tokens", content => [ { type => "text", text => "It was" } ] },
 { stop_reason => "refusal", content => [ { type => "text", text => "I can not help with that." } ] }]
--- response_headers eval
[{ "Content-Type" => "application/json", "X-AIGW-Provider" => "oai" }, undef, undef, undef]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=gpt rm=gpt p=oai pm=gpt-5.4 s=anthropic st=0 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
AIGW /v1/messages 200 m=tools rm=tools p=tools pm=gpt-5.4 s=anthropic st=0 in=200 out=40 cr=0 cw=0 rs=12 src=provider a=tools:200
AIGW /v1/messages 200 m=len rm=len p=len pm=gpt-5.4 s=anthropic st=0 in=5 out=2 cr=0 cw=0 rs=0 src=provider a=len:200
AIGW /v1/messages 200 m=filt rm=filt p=filt pm=gpt-5.4 s=anthropic st=0 in=5 out=6 cr=0 cw=0 rs=0 src=provider a=filt:200
--- no_error_log
[error]



=== TEST 5: OpenAI errors in Anthropic's shape with the provider's status
--- providers
    aigw_provider bad url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/400/translate/openai-error-invalid/v1 key=k;
    aigw_provider rate url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=k;
    aigw_provider srv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/500/translate/openai-error-server/v1 key=k;
    aigw_model m-bad bad:gpt-5.4;
    aigw_model m-rate rate:gpt-5.4;
    aigw_model m-srv srv:gpt-5.4;
--- request eval
[map { "POST /v1/messages\n" . ($::R{plain} =~ s/"gpt"/"$_"/r) } qw(m-bad m-rate m-srv)]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 429, 500]
--- response_json eval
[{ type => "error", error => { type => "invalid_request_error",
                               message => "Invalid value for 'messages[1].content': expected a string." } },
 { type => "error", error => { type => "rate_limit_error", message => "~/^Rate limit reached/" } },
 { type => "error", error => { type => "api_error", message => "The server had an error while processing your request." } }]
--- response_body_unlike eval
[qr/"param"|"code"/, qr/"param"|"code"/, qr/"param"|"code"/]
--- no_error_log
[alert]



=== TEST 6: stream: chat.completion.chunk events -> message_start, ping, content_block_*, message_delta with usage, message_stop
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
["POST /v1/messages?beta=true\n$::R{stream}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- sse_events eval
[["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
  "content_block_stop", "message_delta", "message_stop"], undef]
--- sse_data eval
[[ { type => "message_start", message => { id => "chatcmpl-Stream1", type => "message", role => "assistant",
                                           model => "gpt-5.4-2026-03-01", content => [], stop_reason => undef,
                                           usage => { input_tokens => 0, output_tokens => 0 } } },
   { type => "ping" },
   { type => "content_block_start", index => 0, content_block => { type => "text", text => "" } },
   { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => "Hi" } },
   { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => " th\x{e9}re \xe2\x98\x83 \"q\"\n" } },
   { type => "content_block_stop", index => 0 },
   { type => "message_delta", delta => { stop_reason => "end_turn", stop_sequence => undef },
     usage => { input_tokens => 56, cache_read_input_tokens => 64, output_tokens => 9 } },
   { type => "message_stop" } ], undef]
--- response_json eval
[undef, { body => { stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true } },
          headers => { accept => "text/event-stream" } }]
--- response_headers eval
[{ "Content-Type" => "text/event-stream" }, undef]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages?beta=true 200 m=gpt rm=gpt p=oai pm=gpt-5.4 s=anthropic st=1 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
--- no_error_log
[error]



=== TEST 7: stream: reasoning_content -> thinking_delta; parallel tool calls -> tool_use blocks with input_json_delta, indices in order
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping",
 "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
 "content_block_start", "content_block_delta", "content_block_stop",
 "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
 "content_block_start", "content_block_delta", "content_block_stop",
 "message_delta", "message_stop"]
--- sse_data eval
[ { type => "message_start", message => { id => "chatcmpl-Stream2" } },
  { type => "ping" },
  { type => "content_block_start", index => 0, content_block => { type => "thinking", thinking => "" } },
  { type => "content_block_delta", index => 0, delta => { type => "thinking_delta", thinking => "Two " } },
  { type => "content_block_delta", index => 0, delta => { type => "thinking_delta", thinking => "cities." } },
  { type => "content_block_stop", index => 0 },
  { type => "content_block_start", index => 1, content_block => { type => "text", text => "" } },
  { type => "content_block_delta", index => 1, delta => { type => "text_delta", text => "Checking both." } },
  { type => "content_block_stop", index => 1 },
  { type => "content_block_start", index => 2, content_block => { type => "tool_use", id => "call_P", name => "get_weather", input => {} } },
  { type => "content_block_delta", index => 2, delta => { type => "input_json_delta", partial_json => '{"city":' } },
  { type => "content_block_delta", index => 2, delta => { type => "input_json_delta", partial_json => '"Paris"}' } },
  { type => "content_block_stop", index => 2 },
  { type => "content_block_start", index => 3, content_block => { type => "tool_use", id => "call_T", name => "get_weather", input => {} } },
  { type => "content_block_delta", index => 3, delta => { type => "input_json_delta", partial_json => '{"city": "Tokyo"}' } },
  { type => "content_block_stop", index => 3 },
  { type => "message_delta", delta => { stop_reason => "tool_use" },
    usage => { input_tokens => 150, cache_read_input_tokens => 50, output_tokens => 40 } },
  { type => "message_stop" } ]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=gpt rm=gpt p=oai pm=gpt-5.4 s=anthropic st=1 in=200 out=40 cr=50 cw=0 rs=12 src=provider a=oai:200
--- no_error_log
[error]



=== TEST 8: stream: an OpenAI error chunk becomes an Anthropic error event
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-error-mid/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "error"]
--- sse_data eval
[ { type => "message_start" }, { type => "ping" },
  { type => "content_block_start", index => 0 },
  { type => "content_block_delta", index => 0, delta => { text => "Partial" } },
  { type => "error", error => { type => "api_error", message => "The model is overloaded." } } ]
--- response_body_unlike: message_stop
--- no_error_log
[alert]



=== TEST 9: stream: a provider answering a stream request with plain JSON still gives the client the full event sequence
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-length/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
 "message_delta", "message_stop"]
--- sse_data eval
[ { type => "message_start", message => { id => "chatcmpl-Len", model => "gpt-5.4" } },
  { type => "ping" },
  { type => "content_block_start", index => 0, content_block => { type => "text", text => "" } },
  { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => "It was" } },
  { type => "content_block_stop", index => 0 },
  { type => "message_delta", delta => { stop_reason => "max_tokens" },
    usage => { input_tokens => 5, output_tokens => 2 } },
  { type => "message_stop" } ]
--- response_headers
Content-Type: text/event-stream
--- no_error_log
[error]



=== TEST 10: images of tool results follow all the tool messages as user messages; a tool message is never null; a thinking-only turn has empty content; a string system
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
["POST /v1/messages\n$::R{images}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef,
 { body => { messages => [
     { role => "system", content => "Be brief." },
     { role => "user", content => "shot?" },
     { role => "assistant", content => undef,
       tool_calls => [ { id => "toolu_A", function => { name => "screenshot", arguments => "{}" } },
                       { id => "toolu_B", function => { name => "screenshot", arguments => '{"full":true}' } } ] },
     { role => "tool", tool_call_id => "toolu_A", content => "" },
     { role => "tool", tool_call_id => "toolu_B", content => "done" },
     { role => "user", content => [ { type => "image_url", image_url => { url => "data:image/png;base64,AAAA" } } ] },
     { role => "user", content => [ { type => "image_url", image_url => { url => "https://example.com/b.png" } } ] },
     { role => "user", content => "what do you see?" },
     { role => "assistant", content => "" },
     { role => "user", content => "ok" } ] } }]
--- no_error_log
[error]



=== TEST 11: stream: two complete tool calls and the finish in one chunk -> two tool_use blocks in order
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools-onechunk/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { type => "message_start", message => { id => "chatcmpl-One" } },
  { type => "ping" },
  { type => "content_block_start", index => 0, content_block => { type => "tool_use", id => "call_A", name => "get_weather", input => {} } },
  { type => "content_block_delta", index => 0, delta => { type => "input_json_delta", partial_json => '{"city":"Paris"}' } },
  { type => "content_block_stop", index => 0 },
  { type => "content_block_start", index => 1, content_block => { type => "tool_use", id => "call_B", name => "now", input => {} } },
  { type => "content_block_delta", index => 1, delta => { type => "input_json_delta", partial_json => '{}' } },
  { type => "content_block_stop", index => 1 },
  { type => "message_delta", delta => { stop_reason => "tool_use" }, usage => { input_tokens => 30, output_tokens => 20 } },
  { type => "message_stop" } ]
--- no_error_log
[error]



=== TEST 12: a stream request the provider refuses: a JSON error in Anthropic's shape, not an event stream
--- providers
    aigw_provider rate url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=k;
    aigw_model gpt rate:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_json
{"type":"error","error":{"type":"rate_limit_error","message":"~/^Rate limit reached/"}}
--- no_error_log
[alert]



=== TEST 13: stream: a refusal streams as text, content_filter as stop_reason refusal
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-filter/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { type => "message_start" }, { type => "ping" },
  { type => "content_block_start", index => 0, content_block => { type => "text" } },
  { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => "I can not " } },
  { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => "help with that." } },
  { type => "content_block_stop", index => 0 },
  { type => "message_delta", delta => { stop_reason => "refusal" } },
  { type => "message_stop" } ]
--- no_error_log
[error]



=== TEST 14: stream: events leave the gateway as the OpenAI provider sends them (echo module provider with delays)
--- providers
    aigw_provider slow url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=k;
    aigw_model gpt slow:gpt-5.4;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /v1/chat/completions {
            default_type text/event-stream;
            echo 'data: {"id":"c-slow","object":"chat.completion.chunk","created":1,"model":"gpt-5.4","choices":[{"index":0,"delta":{"role":"assistant","content":"one"},"finish_reason":null}]}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'data: {"id":"c-slow","object":"chat.completion.chunk","created":1,"model":"gpt-5.4","choices":[{"index":0,"delta":{"content":" two"},"finish_reason":null}]}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'data: {"id":"c-slow","object":"chat.completion.chunk","created":1,"model":"gpt-5.4","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}';
            echo '';
            echo 'data: [DONE]';
            echo '';
        }
    }
--- request eval
"POST /v1/messages\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
 "content_block_stop", "message_delta", "message_stop"]
--- sse_data eval
[ { type => "message_start", message => { id => "c-slow" } }, { type => "ping" },
  { type => "content_block_start" },
  { type => "content_block_delta", delta => { text => "one" } },
  { type => "content_block_delta", delta => { text => " two" } },
  { type => "content_block_stop" },
  { type => "message_delta", delta => { stop_reason => "end_turn" }, usage => { input_tokens => 4, output_tokens => 2 } },
  { type => "message_stop" } ]
--- stream_min_span: 0.35
--- stream_first_byte_max: 0.25
--- no_error_log
[error]
