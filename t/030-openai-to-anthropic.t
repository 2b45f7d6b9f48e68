# OpenAI Chat Completions clients served by anthropic-format providers:
# the request translated into Anthropic Messages (checked in lock step on
# what the mock received: GET /mock_last.json), the answers and streams
# translated back (fixtures in t/fixtures/anthropic).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

sub chat { main::json({ model => 'claude', @_ }) }

my $user = { role => 'user', content => 'hi' };

$R{system} = chat(
    max_tokens => 300, temperature => 0.2, top_p => 0.9, stop => 'END',
    user => 'user-7', seed => 7, store => JSON::PP::false,
    messages => [
        { role => 'system', content => 'You are terse.' },
        { role => 'developer', content => [ { type => 'text', text => 'Developer rule.' } ] },
        { role => 'user', content => [
            { type => 'text', text => 'Describe' },
            { type => 'image_url', image_url => { url => 'data:image/png;base64,iVBORw0KGgo=' } },
            { type => 'image_url', image_url => { url => 'https://example.com/cat.jpg', detail => 'high' } },
            { type => 'text', text => "and this \x{2603} \"quoted\"\n" },
        ] },
        { role => 'assistant', content => 'A cat.' },
        { role => 'system', content => 'Late system note.' },
        { role => 'user', content => 'More?' },
    ]);

$R{stops} = chat(max_completion_tokens => 77, stop => ['END', "\n\n"],
                 messages => [ $user ]);
$R{default} = chat(messages => [ $user ]);

my $tools = [
    { type => 'function', function => {
        name => 'get_weather', description => 'Get the weather',
        parameters => { type => 'object', additionalProperties => JSON::PP::false,
                        properties => { city => { type => 'string', minLength => 1 },
                                        unit => { enum => ['c', 'f'] } },
                        required => ['city'] } } },
    { type => 'function', function => { name => 'now' } },
];

$R{"tc_$_->[0]"} = chat(messages => [ $user ], tools => $tools, @{$_->[1]})
    for ['auto', [ tool_choice => 'auto' ]],
        ['none', [ tool_choice => 'none' ]],
        ['required', [ tool_choice => 'required' ]],
        ['named', [ tool_choice => { type => 'function', function => { name => 'get_weather' } } ]],
        ['noparallel', [ tool_choice => 'auto', parallel_tool_calls => JSON::PP::false ]],
        ['noparallel_only', [ parallel_tool_calls => JSON::PP::false ]],
        ['none_noparallel', [ tool_choice => 'none', parallel_tool_calls => JSON::PP::false ]],
        ['parallel', [ parallel_tool_calls => JSON::PP::true ]];

$R{toolloop} = chat(
    tools => $tools,
    messages => [
        { role => 'user', content => 'Weather in Paris and Tokyo?' },
        { role => 'assistant', content => 'Checking.', tool_calls => [
            { id => 'call_1', type => 'function',
              function => { name => 'get_weather', arguments => '{"city":"Paris","unit":"c"}' } },
            { id => 'call_2', type => 'function',
              function => { name => 'get_weather', arguments => '{"city": "Tokyo"}' } } ] },
        { role => 'tool', tool_call_id => 'call_1', content => '18C' },
        { role => 'tool', tool_call_id => 'call_2',
          content => [ { type => 'text', text => '22C' }, { type => 'text', text => 'sunny' } ] },
        { role => 'user', content => 'thanks' },
        { role => 'assistant', content => undef, tool_calls => [
            { id => 'call_3', type => 'function',
              function => { name => 'now', arguments => '' } } ] },
        { role => 'tool', tool_call_id => 'call_3', content => '12:00' },
    ]);

$R{think} = chat(model => 'think', reasoning_effort => 'high', max_tokens => 32000,
                 temperature => 0.5, messages => [ $user ]);
$R{think_low} = chat(model => 'think', reasoning_effort => 'low', max_tokens => 1500,
                     messages => [ $user ]);
$R{think_none} = chat(model => 'think', reasoning_effort => 'none', temperature => 0.5,
                      messages => [ $user ]);
$R{think_plain} = chat(reasoning_effort => 'high', temperature => 0.5,
                       messages => [ $user ]);

$R{stream} = chat(stream => JSON::PP::true, messages => [ $user ]);
$R{stream_usage} = chat(stream => JSON::PP::true, messages => [ $user ],
                        stream_options => { include_usage => JSON::PP::true });

# a chat.completion.chunk with this delta and finish_reason
sub chunk {
    my ($id, $delta, $finish, $model) = @_;
    return { id => $id, object => 'chat.completion.chunk', created => '<ANY>',
             model => $model // 'claude-sonnet-4-6-20260101',
             choices => [ { index => 0, delta => $delta, finish_reason => $finish } ] };
}

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: system and developer messages anywhere become the top-level system; multi-part content; base64 and URL images; sampling; stop; user
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant-provider;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::R{system}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-secret
--- response_json eval
[undef,
 { uri => "/anthropic/text/v1/messages",
   headers => { "x-api-key" => "sk-ant-provider", "anthropic-version" => "2023-06-01",
                "content-type" => "application/json" },
   body => {
     model => "claude-sonnet-4-6", max_tokens => 300, temperature => 0.2, top_p => 0.9,
     stop_sequences => ["END"], metadata => { user_id => "user-7" },
     system => [ { type => "text", text => "You are terse." },
                 { type => "text", text => "Developer rule." },
                 { type => "text", text => "Late system note." } ],
     messages => [
       { role => "user", content => [
           { type => "text", text => "Describe" },
           { type => "image", source => { type => "base64", media_type => "image/png", data => "iVBORw0KGgo=" } },
           { type => "image", source => { type => "url", url => "https://example.com/cat.jpg" } },
           { type => "text", text => "and this \xe2\x98\x83 \"quoted\"\n" } ] },
       { role => "assistant", content => [ { type => "text", text => "A cat." } ] },
       { role => "user", content => [ { type => "text", text => "More?" } ] } ] } }]
--- response_body_unlike eval
[undef, qr/client-secret|"authorization"|"seed"|"store"|"user":|"stop":|"developer"|"detail"/]
--- no_error_log
[error]



=== TEST 2: an Anthropic answer as a chat.completion: text, finish_reason, usage with cached tokens
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant-provider;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/chat/completions\n$::R{default}"
--- more_headers
Content-Type: application/json
--- response_json eval
{ id => "msg_01TextNonStream", object => "chat.completion", created => "<ANY>",
  model => "claude-sonnet-4-6-20260101",
  choices => [ { index => 0, finish_reason => "stop",
                 message => { role => "assistant", content => "Hello w\x{f6}rld \xe2\x98\x83 \"quoted\"\nsecond line" } } ],
  usage => { prompt_tokens => 312, completion_tokens => 7, total_tokens => 319,
             prompt_tokens_details => { cached_tokens => 200 } } }
--- response_headers
Content-Type: application/json
X-AIGW-Provider: ant
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=claude rm=claude p=ant pm=claude-sonnet-4-6 s=openai st=0 in=312 out=7 cr=200 cw=100 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 3: max_tokens: max_completion_tokens, stop arrays; the default when absent: aigw_max_tokens, the provider's max_tokens=, else 4096
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_provider ant2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k max_tokens=1500;
    aigw_model claude ant:claude-sonnet-4-6;
    aigw_model claude2 ant2:claude-sonnet-4-6;
--- config
    location /v1/ { aigw_pass; }
    location /small/v1/ { aigw_pass; aigw_max_tokens 2000; }
--- request eval
["POST /v1/chat/completions\n$::R{stops}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{default}", "GET /mock_last.json",
 "POST /small/v1/chat/completions\n$::R{default}", "GET /mock_last.json",
 "POST /small/v1/chat/completions\n" . ($::R{default} =~ s/"claude"/"claude2"/r), "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { max_tokens => 77, stop_sequences => ["END", "\n\n"] } },
 undef, { body => { max_tokens => 4096 } },
 undef, { body => { max_tokens => 2000 } },
 undef, { body => { max_tokens => 1500 } }]
--- no_error_log
[error]



=== TEST 4: tools and tool_choice auto/none/required/named; parallel_tool_calls false -> disable_parallel_tool_use
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
[map { ("POST /v1/chat/completions\n$::R{$_}", "GET /mock_last.json") }
 qw(tc_auto tc_none tc_required tc_named tc_noparallel tc_noparallel_only tc_none_noparallel tc_parallel)]
--- more_headers
Content-Type: application/json
--- response_json eval
my $tools = [ { name => "get_weather", description => "Get the weather",
                input_schema => { type => "object", additionalProperties => JSON::PP::false,
                                  properties => { city => { type => "string", minLength => 1 },
                                                  unit => { enum => ["c", "f"] } },
                                  required => ["city"] } },
              { name => "now", input_schema => { type => "object" } } ];
[undef, { body => { tools => $tools, tool_choice => { type => "auto" } } },
 undef, { body => { tools => $tools, tool_choice => { type => "none" } } },
 undef, { body => { tools => $tools, tool_choice => { type => "any" } } },
 undef, { body => { tools => $tools, tool_choice => { type => "tool", name => "get_weather" } } },
 undef, { body => { tool_choice => { type => "auto", disable_parallel_tool_use => JSON::PP::true } } },
 undef, { body => { tool_choice => { type => "auto", disable_parallel_tool_use => JSON::PP::true } } },
 undef, { body => { tool_choice => { type => "none" } } },
 undef, { body => { tools => $tools } }]
--- response_body_unlike eval
[undef, qr/disable_parallel/, undef, qr/disable_parallel/, undef, qr/disable_parallel/,
 undef, qr/disable_parallel/, undef, undef, undef, undef, undef, qr/disable_parallel/,
 undef, qr/disable_parallel|tool_choice/]
--- no_error_log
[error]



=== TEST 5: assistant tool_calls become tool_use blocks with input objects; tool messages become tool_result blocks of one user turn
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::R{toolloop}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef,
 { body => { messages => [
     { role => "user", content => [ { type => "text", text => "Weather in Paris and Tokyo?" } ] },
     { role => "assistant", content => [
         { type => "text", text => "Checking." },
         { type => "tool_use", id => "call_1", name => "get_weather", input => { city => "Paris", unit => "c" } },
         { type => "tool_use", id => "call_2", name => "get_weather", input => { city => "Tokyo" } } ] },
     { role => "user", content => [
         { type => "tool_result", tool_use_id => "call_1", content => [ { type => "text", text => "18C" } ] },
         { type => "tool_result", tool_use_id => "call_2",
           content => [ { type => "text", text => "22C" }, { type => "text", text => "sunny" } ] },
         { type => "text", text => "thanks" } ] },
     { role => "assistant", content => [
         { type => "tool_use", id => "call_3", name => "now", input => {} } ] },
     { role => "user", content => [
         { type => "tool_result", tool_use_id => "call_3", content => [ { type => "text", text => "12:00" } ] } ] } ] } }]
--- no_error_log
[error]



=== TEST 6: reasoning_effort -> thinking only for models marked reasoning (temperature then left out); never for others
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
    aigw_model think ant:claude-opus-4-8 reasoning;
--- request eval
[map { ("POST /v1/chat/completions\n$::R{$_}", "GET /mock_last.json") }
 qw(think think_low think_none think_plain)]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { model => "claude-opus-4-8", max_tokens => 32000,
                    thinking => { type => "enabled", budget_tokens => 24576 } } },
 undef, { body => { max_tokens => 1500, thinking => { type => "enabled", budget_tokens => 1499 } } },
 undef, { body => { temperature => 0.5 } },
 undef, { body => { model => "claude-sonnet-4-6", temperature => 0.5 } }]
--- response_body_unlike eval
[undef, qr/temperature/, undef, undef, undef, qr/thinking|reasoning/, undef, qr/thinking|reasoning/]
--- no_error_log
[error]



=== TEST 7: thinking, text and parallel tool_use blocks as one assistant message; finish reasons length, stop_sequence, refusal
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/tools key=k;
    aigw_provider len format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/stop-length key=k;
    aigw_provider seq format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/stop-sequence key=k;
    aigw_model claude ant:claude-sonnet-4-6;
    aigw_model len len:claude-sonnet-4-6;
    aigw_model seq seq:claude-sonnet-4-6;
    aigw_provider ref format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/stop-refusal key=k;
    aigw_model ref ref:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::R{default}",
 "POST /v1/chat/completions\n" . ($::R{default} =~ s/"claude"/"len"/r),
 "POST /v1/chat/completions\n" . ($::R{default} =~ s/"claude"/"seq"/r),
 "POST /v1/chat/completions\n" . ($::R{default} =~ s/"claude"/"ref"/r)]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ id => "msg_01ToolsNonStream",
   choices => [ { finish_reason => "tool_calls",
                  message => { role => "assistant", content => "Let me check both.",
                               reasoning_content => "Two cities, two calls.",
                               tool_calls => [
                                 { id => "toolu_01Paris", type => "function",
                                   function => { name => "get_weather", arguments => '{"city":"Paris","unit":"c"}' } },
                                 { id => "toolu_02Tokyo", type => "function",
                                   function => { name => "get_weather", arguments => '{"city":"Tokyo","days":[1,2],"opts":{"x":null}}' } } ] } } ],
   usage => { prompt_tokens => 50, completion_tokens => 80, total_tokens => 130 } },
 { choices => [ { finish_reason => "length", message => { content => "It was the best of" } } ],
   usage => { prompt_tokens => 9, completion_tokens => 5 } },
 { choices => [ { finish_reason => "stop", message => { content => "1, 2, 3, " } } ] },
 { choices => [ { finish_reason => "content_filter", message => { role => "assistant", content => undef } } ] }]
--- no_error_log
[error]



=== TEST 8: Anthropic errors in OpenAI's shape, with the provider's status
--- providers
    aigw_provider bad format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/400/anthropic/error-invalid key=k;
    aigw_provider rate format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/anthropic/error-rate key=k;
    aigw_provider over format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded key=k;
    aigw_model m-bad bad:claude-x;
    aigw_model m-rate rate:claude-x;
    aigw_model m-over over:claude-x;
--- request eval
[map { "POST /v1/chat/completions\n" . ($::R{default} =~ s/"claude"/"$_"/r) } qw(m-bad m-rate m-over)]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 429, 529]
--- response_json eval
[{ error => { message => "messages.1.content.0: unexpected `tool_use_id` found in `tool_result` blocks",
              type => "invalid_request_error", param => undef, code => undef } },
 { error => { message => "Number of request tokens has exceeded your per-minute rate limit",
              type => "rate_limit_error" } },
 { error => { message => "Overloaded", type => "server_error" } }]
--- response_headers eval
[{ "Content-Type" => "application/json", "X-AIGW-Upstream-Request-Id" => "req_mock_error-invalid" }, undef, undef]
--- no_error_log
[alert]



=== TEST 9: stream: Anthropic events -> chat.completion.chunk events and [DONE]; no usage chunk unless asked; usage logged
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::R{stream}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- sse_data eval
[[ main::chunk("msg_01StreamText", { role => "assistant", content => "" }, undef),
   main::chunk("msg_01StreamText", { content => "Hello" }, undef),
   main::chunk("msg_01StreamText", { content => " w\x{f6}rld \xe2\x98\x83 \"q\"\n" }, undef),
   main::chunk("msg_01StreamText", {}, "stop"),
   "[DONE]" ], undef]
--- response_json eval
[undef, { body => { stream => JSON::PP::true, model => "claude-sonnet-4-6" }, headers => { accept => "text/event-stream" } }]
--- response_headers eval
[{ "Content-Type" => "text/event-stream", "Content-Length" => undef }, undef]
--- response_body_unlike eval
[qr/usage|event:/, qr/stream_options|include_usage/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=claude rm=claude p=ant pm=claude-sonnet-4-6 s=openai st=1 in=4025 out=15 cr=3000 cw=1000 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 10: stream: thinking deltas as reasoning_content, signatures dropped, parallel tool calls keep their own indices, usage chunk when asked
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/tools key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/chat/completions\n$::R{stream_usage}"
--- more_headers
Content-Type: application/json
--- sse_data eval
my $id = "msg_01StreamTools";
[ main::chunk($id, { role => "assistant", content => "" }, undef),
  main::chunk($id, { reasoning_content => "Two cities, " }, undef),
  main::chunk($id, { reasoning_content => "two calls." }, undef),
  main::chunk($id, { content => "Let me check both." }, undef),
  main::chunk($id, { tool_calls => [ { index => 0, id => "toolu_01Paris", type => "function",
                                        function => { name => "get_weather", arguments => "" } } ] }, undef),
  main::chunk($id, { tool_calls => [ { index => 0, function => { arguments => '{"city": "Pa' } } ] }, undef),
  main::chunk($id, { tool_calls => [ { index => 0, function => { arguments => 'ris"}' } } ] }, undef),
  main::chunk($id, { tool_calls => [ { index => 1, id => "toolu_02Tokyo", type => "function",
                                        function => { name => "get_weather", arguments => "" } } ] }, undef),
  main::chunk($id, { tool_calls => [ { index => 1, function => { arguments => '{"city":' } } ] }, undef),
  main::chunk($id, { tool_calls => [ { index => 1, function => { arguments => ' "Tokyo"}' } } ] }, undef),
  main::chunk($id, {}, "tool_calls"),
  { id => $id, object => "chat.completion.chunk", choices => [],
    usage => { prompt_tokens => 80, completion_tokens => 88, total_tokens => 168,
               prompt_tokens_details => { cached_tokens => 20 } } },
  "[DONE]" ]
--- response_body_unlike: signature|EqQB
--- no_error_log
[error]



=== TEST 11: stream: events leave the gateway as the provider sends them (echo module provider with delays)
--- providers
    aigw_provider slow format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=k;
    aigw_model claude slow:claude-sonnet-4-6;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /v1/messages {
            default_type text/event-stream;
            echo 'event: message_start';
            echo 'data: {"type":"message_start","message":{"id":"msg_slow","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}';
            echo '';
            echo 'event: content_block_start';
            echo 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}';
            echo '';
            echo 'event: content_block_delta';
            echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"one"}}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'event: content_block_delta';
            echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" two"}}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'event: content_block_stop';
            echo 'data: {"type":"content_block_stop","index":0}';
            echo '';
            echo 'event: message_delta';
            echo 'data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":2}}';
            echo '';
            echo 'event: message_stop';
            echo 'data: {"type":"message_stop"}';
            echo '';
        }
    }
--- request eval
"POST /v1/chat/completions\n$::R{stream_usage}"
--- more_headers
Content-Type: application/json
--- sse_data eval
[ main::chunk("msg_slow", { role => "assistant", content => "" }, undef, "claude-sonnet-4-6") ,
  main::chunk("msg_slow", { content => "one" }, undef, "claude-sonnet-4-6"),
  main::chunk("msg_slow", { content => " two" }, undef, "claude-sonnet-4-6"),
  main::chunk("msg_slow", {}, "length", "claude-sonnet-4-6"),
  { choices => [], usage => { prompt_tokens => 3, completion_tokens => 2, total_tokens => 5 } },
  "[DONE]" ]
--- stream_min_span: 0.35
--- stream_first_byte_max: 0.25
--- no_error_log
[error]



=== TEST 12: stream: an Anthropic error event becomes an OpenAI error chunk, and the stream ends there
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/error-mid key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
"POST /v1/chat/completions\n$::R{stream_usage}"
--- more_headers
Content-Type: application/json
--- sse_data eval
[ main::chunk("msg_01MidError", { role => "assistant", content => "" }, undef),
  main::chunk("msg_01MidError", { content => "Partial" }, undef),
  { error => { message => "Overloaded", type => "server_error", param => undef, code => undef } } ]
--- response_body_unlike: \[DONE\]|finish_reason":"|usage
--- no_error_log
[alert]



=== TEST 13: a stream request the provider refuses: a JSON error in OpenAI's shape, not an event stream
--- providers
    aigw_provider over format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded key=k;
    aigw_model claude over:claude-x;
--- request eval
"POST /v1/chat/completions\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- error_code: 529
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}
--- no_error_log
[alert]
