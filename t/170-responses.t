# The OpenAI Responses API surface (POST /v1/responses): translated to
# Chat Completions providers and to Anthropic providers (what the mock
# received is checked in lock step: GET /mock_last.json), passed through
# to providers that serve it natively (responses=on), answers and streams
# event by event, stateful features, errors.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

sub resp { main::json({ model => 'm', @_ }) }

my $tools = [
    { type => 'function', name => 'get_weather', description => 'Get the weather',
      parameters => { type => 'object', properties => { city => { type => 'string' } },
                      required => ['city'] }, strict => JSON::PP::true },
];

$R{full} = resp(
    instructions => 'Be terse.',
    input => [
        { role => 'developer', content => 'Developer rule.' },
        { type => 'message', role => 'user', content => [
            { type => 'input_text', text => "Weather in Paris? \x{2603}" },
            { type => 'input_image', image_url => 'data:image/png;base64,iVBORw0KGgo=', detail => 'auto' } ] },
        { type => 'reasoning', id => 'rs_1', summary => [], encrypted_content => 'gAAAA' },
        { type => 'message', role => 'assistant', content => [
            { type => 'output_text', text => 'Checking.', annotations => [] } ] },
        { type => 'function_call', call_id => 'call_1', name => 'get_weather',
          arguments => '{"city":"Paris"}' },
        { type => 'function_call', call_id => 'call_2', name => 'get_weather',
          arguments => '{"city":"Lyon"}' },
        { type => 'function_call_output', call_id => 'call_1', output => '18C' },
        { type => 'function_call_output', call_id => 'call_2',
          output => [ { type => 'input_text', text => '20C' } ] },
    ],
    tools => $tools, tool_choice => { type => 'function', name => 'get_weather' },
    parallel_tool_calls => JSON::PP::false,
    max_output_tokens => 300, temperature => 0.2, top_p => 0.9,
    reasoning => { effort => 'high', summary => 'auto' },
    text => { format => { type => 'json_schema', name => 'out', strict => JSON::PP::true,
                          schema => { type => 'object', properties => { t => { type => 'string' } } } } },
    store => JSON::PP::false, include => ['reasoning.encrypted_content'],
    prompt_cache_key => 'sess-42', metadata => { a => 'b' });

{
    my %full = %{ JSON::PP->new->utf8->decode($R{full}) };
    delete $full{text};
    $R{full_ant} = main::json(\%full);
}
$R{schema} = resp(input => 'hi', text => { format => { type => 'json_schema', name => 'o',
                                                      schema => { type => 'object' } } });
$R{plain} = resp(input => 'hi');
$R{stream} = resp(input => 'hi', stream => JSON::PP::true);
$R{stateful} = resp(input => 'hi', previous_response_id => 'resp_prev', store => JSON::PP::true);
$R{store} = resp(input => 'hi', store => JSON::PP::true);
$R{ref} = resp(input => [ { type => 'item_reference', id => 'msg_1' } ]);

$R{custom} = resp(
    input => [
        { role => 'user', content => 'Fix it' },
        { type => 'custom_tool_call', call_id => 'call_c1', name => 'apply_patch',
          input => "*** Begin Patch\n+ \"q\"\n*** End Patch" },
        { type => 'custom_tool_call_output', call_id => 'call_c1', output => 'Done' },
    ],
    tools => [ { type => 'custom', name => 'apply_patch', description => 'Patch files' }, @$tools ],
    tool_choice => { type => 'custom', name => 'apply_patch' });
# Codex's defaults: a hosted web_search tool and a namespace tool
my $ns = { type => 'namespace', name => 'multi_agent', description => 'Sub-agents',
           tools => [ { type => 'function', name => 'spawn_agent', description => 'Spawn',
                        parameters => { type => 'object', properties => { task => { type => 'string' } } } },
                      { type => 'custom', name => 'send_input' } ] };
$R{namespace} = resp(
    input => [
        { role => 'user', content => 'Delegate' },
        { type => 'function_call', call_id => 'call_n1', name => 'spawn_agent',
          namespace => 'multi_agent', arguments => '{"task":"y"}' },
        { type => 'function_call_output', call_id => 'call_n1', output => 'agent 1' },
    ],
    tools => [ { type => 'web_search', external_web_access => JSON::PP::false }, $ns,
               { type => 'file_search', vector_store_ids => ['vs_1'] }, @$tools ]);
$R{namespace_stream} = resp(input => 'Delegate', stream => JSON::PP::true,
    tools => [ { type => 'web_search' }, $ns ]);
$R{forced_hosted} = resp(input => 'hi', tools => [ { type => 'web_search' }, @$tools ],
    tool_choice => { type => 'web_search' });

$R{custom_stream} = resp(input => 'Fix it', stream => JSON::PP::true,
    tools => [ { type => 'custom', name => 'apply_patch' } ]);

# the data of an event: its type and sequence number, and more
my $seq = 0;
sub ev {
    my ($type, %more) = @_;
    return { type => $type, sequence_number => $seq++, %more };
}
sub reset_seq { $seq = 0 }

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: a Chat Completions provider gets the request translated: instructions, developer item, image, function calls joined into one assistant message, their outputs as tool messages, flat tools, tool_choice, json_schema, reasoning
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4 reasoning;
--- request eval
["POST /v1/responses\n$::R{full}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-secret
--- response_json eval
[{ object => "response", status => "completed" },
 { uri => "/translate/openai-text/v1/chat/completions",
   headers => { authorization => "Bearer sk-oai" },
   body => {
     model => "gpt-5.4", max_completion_tokens => 300, temperature => 0.2, top_p => 0.9,
     reasoning_effort => "high", parallel_tool_calls => JSON::PP::false,
     tool_choice => { type => "function", function => { name => "get_weather" } },
     tools => [ { type => "function", function => { name => "get_weather", description => "Get the weather",
                  parameters => { type => "object", properties => { city => { type => "string" } }, required => ["city"] } } } ],
     response_format => { type => "json_schema", json_schema => { name => "out", strict => JSON::PP::true,
                          schema => { type => "object", properties => { t => { type => "string" } } } } },
     messages => [
       { role => "system", content => "Be terse." },
       { role => "system", content => "Developer rule." },
       { role => "user", content => [
           { type => "text", text => "Weather in Paris? \xe2\x98\x83" },
           { type => "image_url", image_url => { url => "data:image/png;base64,iVBORw0KGgo=" } } ] },
       { role => "assistant", content => "Checking.", tool_calls => [
           { id => "call_1", type => "function", function => { name => "get_weather", arguments => '{"city":"Paris"}' } },
           { id => "call_2", type => "function", function => { name => "get_weather", arguments => '{"city":"Lyon"}' } } ] },
       { role => "tool", tool_call_id => "call_1", content => "18C" },
       { role => "tool", tool_call_id => "call_2", content => "20C" } ] } }]
--- response_body_unlike eval
[undef, qr/client-secret|"input"|"instructions"|"store"|"include"|"prompt_cache_key"|encrypted_content|gAAAA|"metadata"/]
--- no_error_log
[error]



=== TEST 2: a Chat Completions answer as a response object: reasoning, message and function_call items, usage with cached and reasoning tokens, the request echoed
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{full}"
--- more_headers
Content-Type: application/json
--- response_json eval
{ id => "resp_chatcmpl-Tools1", object => "response", created_at => "<ANY>", status => "completed",
  model => "gpt-5.4-2026-03-01", error => undef, incomplete_details => undef,
  output => [
    { type => "reasoning", id => "rs_0_chatcmpl-Tools1", summary => [ { type => "summary_text", text => "Two cities." } ] },
    { type => "message", id => "msg_1_chatcmpl-Tools1", status => "completed", role => "assistant",
      content => [ { type => "output_text", text => "Checking both.", annotations => [] } ] },
    { type => "function_call", id => "fc_2_chatcmpl-Tools1", call_id => "call_P", name => "get_weather",
      arguments => '{"city":"Paris","unit":"c"}', status => "completed" },
    { type => "function_call", id => "fc_3_chatcmpl-Tools1", call_id => "call_T", name => "get_weather",
      arguments => '{"city": "Tokyo", "days": [1, 2]}', status => "completed" } ],
  usage => { input_tokens => 200, input_tokens_details => { cached_tokens => 0 },
             output_tokens => 40, output_tokens_details => { reasoning_tokens => 12 }, total_tokens => 240 },
  instructions => "Be terse.", max_output_tokens => 300, temperature => 0.2, top_p => 0.9,
  parallel_tool_calls => JSON::PP::false, store => JSON::PP::false, previous_response_id => undef,
  tool_choice => { type => "function", name => "get_weather" },
  tools => [ { type => "function", name => "get_weather" } ],
  text => { format => { type => "json_schema", name => "out" } }, metadata => { a => "b" } }
--- response_headers
Content-Type: application/json
--- no_error_log
[error]



=== TEST 3: stream from a Chat Completions provider: created, in_progress, the message item opened, text deltas, done events, completed with the whole output and usage; sequence numbers from 0; no [DONE]
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{stream}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- sse_events eval
[["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
  "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
  "response.content_part.done", "response.output_item.done", "response.completed"], undef]
--- sse_data eval
main::reset_seq();
my $id = "msg_0_chatcmpl-Stream1";
my $text = "Hi th\x{e9}re \xe2\x98\x83 \"q\"\n";
my $msg = { type => "message", id => $id, status => "completed", role => "assistant",
            content => [ { type => "output_text", text => $text, annotations => [] } ] };
[[ main::ev("response.created", response => { id => "resp_chatcmpl-Stream1", object => "response",
                                              status => "in_progress", output => [], usage => undef,
                                              model => "gpt-5.4-2026-03-01" }),
   main::ev("response.in_progress", response => { status => "in_progress" }),
   main::ev("response.output_item.added", output_index => 0,
            item => { type => "message", id => $id, status => "in_progress", role => "assistant", content => [] }),
   main::ev("response.content_part.added", item_id => $id, output_index => 0, content_index => 0,
            part => { type => "output_text", text => "" }),
   main::ev("response.output_text.delta", item_id => $id, output_index => 0, content_index => 0, delta => "Hi"),
   main::ev("response.output_text.delta", item_id => $id, output_index => 0, content_index => 0,
            delta => " th\x{e9}re \xe2\x98\x83 \"q\"\n"),
   main::ev("response.output_text.done", item_id => $id, output_index => 0, content_index => 0, text => $text),
   main::ev("response.content_part.done", item_id => $id, output_index => 0, content_index => 0,
            part => { type => "output_text", text => $text }),
   main::ev("response.output_item.done", output_index => 0, item => $msg),
   main::ev("response.completed", response => {
       id => "resp_chatcmpl-Stream1", status => "completed", output => [ $msg ],
       usage => { input_tokens => 120, input_tokens_details => { cached_tokens => 64 },
                  output_tokens => 9, output_tokens_details => { reasoning_tokens => 0 }, total_tokens => 129 } }) ],
 undef]
--- response_json eval
[undef, { body => { stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true },
                    messages => [ { role => "user", content => "hi" } ] } }]
--- response_headers eval
[{ "Content-Type" => "text/event-stream" }, undef]
--- response_body_unlike eval
[qr/\[DONE\]|chat\.completion/, undef]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 200 m=m rm=m p=oai pm=gpt-5.4 s=responses st=1 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
--- no_error_log
[error]



=== TEST 4: stream from a Chat Completions provider with reasoning and two tool calls: a reasoning item, a message, two function_call items with argument deltas
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress",
 "response.output_item.added", "response.reasoning_summary_part.added",
 "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
 "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
 "response.output_item.added", "response.content_part.added", "response.output_text.delta",
 "response.output_text.done", "response.content_part.done", "response.output_item.done",
 "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
 "response.function_call_arguments.done", "response.output_item.done",
 "response.output_item.added", "response.function_call_arguments.delta",
 "response.function_call_arguments.done", "response.output_item.done",
 "response.completed"]
--- sse_data eval
main::reset_seq();
my $r = "chatcmpl-Stream2";
my $fc1 = { type => "function_call", id => "fc_2_$r", call_id => "call_P", name => "get_weather",
            arguments => '{"city":"Paris"}', status => "completed" };
my $fc2 = { type => "function_call", id => "fc_3_$r", call_id => "call_T", name => "get_weather",
            arguments => '{"city": "Tokyo"}', status => "completed" };
[ main::ev("response.created"), main::ev("response.in_progress"),
  main::ev("response.output_item.added", output_index => 0, item => { type => "reasoning", id => "rs_0_$r", summary => [] }),
  main::ev("response.reasoning_summary_part.added", item_id => "rs_0_$r", output_index => 0, summary_index => 0,
           part => { type => "summary_text", text => "" }),
  main::ev("response.reasoning_summary_text.delta", item_id => "rs_0_$r", summary_index => 0, delta => "Two "),
  main::ev("response.reasoning_summary_text.delta", item_id => "rs_0_$r", summary_index => 0, delta => "cities."),
  main::ev("response.reasoning_summary_text.done", item_id => "rs_0_$r", text => "Two cities."),
  main::ev("response.reasoning_summary_part.done", item_id => "rs_0_$r", part => { type => "summary_text", text => "Two cities." }),
  main::ev("response.output_item.done", output_index => 0,
           item => { type => "reasoning", summary => [ { type => "summary_text", text => "Two cities." } ] }),
  main::ev("response.output_item.added", output_index => 1, item => { type => "message", id => "msg_1_$r" }),
  main::ev("response.content_part.added", output_index => 1),
  main::ev("response.output_text.delta", output_index => 1, delta => "Checking both."),
  main::ev("response.output_text.done", output_index => 1, text => "Checking both."),
  main::ev("response.content_part.done", output_index => 1),
  main::ev("response.output_item.done", output_index => 1),
  main::ev("response.output_item.added", output_index => 2,
           item => { type => "function_call", id => "fc_2_$r", call_id => "call_P", name => "get_weather",
                     arguments => "", status => "in_progress" }),
  main::ev("response.function_call_arguments.delta", item_id => "fc_2_$r", output_index => 2, delta => '{"city":'),
  main::ev("response.function_call_arguments.delta", item_id => "fc_2_$r", output_index => 2, delta => '"Paris"}'),
  main::ev("response.function_call_arguments.done", item_id => "fc_2_$r", output_index => 2,
           name => "get_weather", arguments => '{"city":"Paris"}'),
  main::ev("response.output_item.done", output_index => 2, item => $fc1),
  main::ev("response.output_item.added", output_index => 3, item => { type => "function_call", call_id => "call_T" }),
  main::ev("response.function_call_arguments.delta", output_index => 3, delta => '{"city": "Tokyo"}'),
  main::ev("response.function_call_arguments.done", output_index => 3, arguments => '{"city": "Tokyo"}'),
  main::ev("response.output_item.done", output_index => 3, item => $fc2),
  main::ev("response.completed", response => {
      status => "completed", output => [ { type => "reasoning" }, { type => "message" }, $fc1, $fc2 ],
      usage => { input_tokens => 200, input_tokens_details => { cached_tokens => 50 },
                 output_tokens => 40, output_tokens_details => { reasoning_tokens => 12 }, total_tokens => 240 } }) ]
--- no_error_log
[error]



=== TEST 5: an Anthropic provider gets Messages: instructions as system, function calls as tool_use, outputs as tool_result, input_schema
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/tools key=sk-ant;
    aigw_model m ant:claude-sonnet-4-6;
--- request eval
["POST /v1/responses\n$::R{full_ant}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ object => "response", status => "completed",
   output => [ { type => "reasoning", summary => [ { type => "summary_text", text => "Two cities, two calls." } ] },
               { type => "message", content => [ { type => "output_text", text => "Let me check both." } ] },
               { type => "function_call", call_id => "toolu_01Paris", name => "get_weather",
                 arguments => '{"city":"Paris","unit":"c"}' },
               { type => "function_call", call_id => "toolu_02Tokyo", name => "get_weather",
                 arguments => '{"city":"Tokyo","days":[1,2],"opts":{"x":null}}' } ],
   usage => { input_tokens => 50, input_tokens_details => { cached_tokens => 0 }, output_tokens => 80, total_tokens => 130 } },
 { uri => "/anthropic/tools/v1/messages",
   headers => { "x-api-key" => "sk-ant" },
   body => {
     model => "claude-sonnet-4-6", max_tokens => 300, temperature => 0.2, top_p => 0.9,
     system => [ { type => "text", text => "Be terse." }, { type => "text", text => "Developer rule." } ],
     tool_choice => { type => "tool", name => "get_weather", disable_parallel_tool_use => JSON::PP::true },
     tools => [ { name => "get_weather", description => "Get the weather",
                  input_schema => { type => "object", properties => { city => { type => "string" } }, required => ["city"] } } ],
     messages => [
       { role => "user", content => [
           { type => "text", text => "Weather in Paris? \xe2\x98\x83" },
           { type => "image", source => { type => "base64", media_type => "image/png", data => "iVBORw0KGgo=" } } ] },
       { role => "assistant", content => [
           { type => "text", text => "Checking." },
           { type => "tool_use", id => "call_1", name => "get_weather", input => { city => "Paris" } },
           { type => "tool_use", id => "call_2", name => "get_weather", input => { city => "Lyon" } } ] },
       { role => "user", content => [
           { type => "tool_result", tool_use_id => "call_1", content => [ { type => "text", text => "18C" } ] },
           { type => "tool_result", tool_use_id => "call_2", content => [ { type => "text", text => "20C" } ] } ] } ] } }]
--- no_error_log
[error]



=== TEST 6: stream from an Anthropic provider: thinking as a reasoning item, signatures dropped, tool_use blocks as function_call items, usage from message_delta
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/tools key=sk-ant;
    aigw_model m ant:claude-sonnet-4-6;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress",
 "response.output_item.added", "response.reasoning_summary_part.added",
 "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
 "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
 "response.output_item.added", "response.content_part.added", "response.output_text.delta",
 "response.output_text.done", "response.content_part.done", "response.output_item.done",
 "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
 "response.function_call_arguments.done", "response.output_item.done",
 "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
 "response.function_call_arguments.done", "response.output_item.done",
 "response.completed"]
--- response_body_like: "type":"response.completed","sequence_number":25,"response":\{"id":"resp_msg_01StreamTools".*"call_id":"toolu_01Paris","name":"get_weather","arguments":"\{\\"city\\": \\"Paris\\"\}".*"usage":\{"input_tokens":80,"input_tokens_details":\{"cached_tokens":20\},"output_tokens":88,
--- response_body_unlike: signature|EqQB
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 200 m=m rm=m p=ant pm=claude-sonnet-4-6 s=responses st=1 in=80 out=88 cr=20 cw=10 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 7: a native provider (responses=on) gets the request as it came, but for the model id; its answer reaches the client byte for byte; usage is read for accounting; stateful fields pass
--- providers
    aigw_provider nat format=openai responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/text/v1 key=sk-nat;
    aigw_model m nat:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{stateful}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_body eval
[main::fixture("responses/text.json"), undef]
--- response_json eval
[undef, { uri => "/responses/text/v1/responses", headers => { authorization => "Bearer sk-nat" },
          md5 => main::md5('{"input":"hi","model":"gpt-5.4","previous_response_id":"resp_prev","store":true}') }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 200 m=m rm=m p=nat pm=gpt-5.4 s=responses st=0 in=812 out=140 cr=512 cw=0 rs=64 src=provider a=nat:200
--- no_error_log
[error]



=== TEST 8: a native stream passes event by event as it came; usage from response.completed
--- providers
    aigw_provider nat format=openai responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/text/v1 key=sk-nat;
    aigw_model m nat:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- response_body eval
main::fixture("responses/text.sse")
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 200 m=m rm=m p=nat pm=gpt-5.4 s=responses st=1 in=30 out=5 cr=10 cw=0 rs=2 src=provider a=nat:200
--- no_error_log
[error]



=== TEST 9: a native stream that ends before its last event ends with an error event, not a clean-looking end
--- providers
    aigw_provider nat format=openai responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/cut/v1 key=sk-nat;
    aigw_model m nat:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.output_item.added", "error"]
--- sse_data eval
[ { type => "response.created" }, { type => "response.output_item.added" },
  { type => "error", sequence_number => 2, code => "server_error",
    message => "the provider's stream ended before it finished" } ]
--- no_error_log
[alert]



=== TEST 10: stateful fields and item references with no native provider: 400 in the OpenAI error shape, naming the field; nothing reaches a provider
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant;
    aigw_model m oai:gpt-5.4 ant:claude-sonnet-4-6;
--- request eval
["POST /v1/responses\n$::R{stateful}", "POST /v1/responses\n$::R{store}", "POST /v1/responses\n$::R{ref}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400]
--- response_json eval
[{ error => { type => "invalid_request_error", param => "previous_response_id",
              message => "~/previous_response_id.*natively \\(responses=on\\)/" } },
 { error => { type => "invalid_request_error", param => "store" } },
 { error => { type => "invalid_request_error", param => "input" } }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 400 m=m rm=m p=- pm=- s=responses st=0 in=0 out=0 cr=0 cw=0 rs=0 src=none a=-
AIGW /v1/responses 400 m=m rm=m p=- pm=- s=responses st=0 in=0 out=0 cr=0 cw=0 rs=0 src=none a=-
AIGW /v1/responses 400 m=m rm=m p=- pm=- s=responses st=0 in=0 out=0 cr=0 cw=0 rs=0 src=none a=-
--- no_error_log
[error]



=== TEST 11: a stateful request on a model with a native provider after a Chat one: only the native provider is tried
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_provider nat format=openai responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/text/v1 key=sk-nat;
    aigw_model m oai:gpt-5.4 nat:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{stateful}", "POST /v1/responses\n$::R{plain}"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ id => "resp_native1" }, { id => "resp_chatcmpl-Text1", output => [ { type => "message" } ] }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/responses 200 m=m rm=m p=nat pm=gpt-5.4 s=responses st=0 in=812 out=140 cr=512 cw=0 rs=64 src=provider a=nat:200
AIGW /v1/responses 200 m=m rm=m p=oai pm=gpt-5.4 s=responses st=0 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
--- no_error_log
[error]



=== TEST 12: errors in the OpenAI shape with their status: a provider's 429, an unknown model, a bad field, a bad input item, a tool_choice forcing a hosted tool
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{plain}",
 "POST /v1/responses\n" . main::json({ model => 'nope', input => 'hi' }),
 "POST /v1/responses\n" . main::json({ model => 'm', input => 5 }),
 "POST /v1/responses\n" . main::json({ model => 'm', input => [ { type => 'local_shell_call', call_id => 'c', id => 'lsh_1' } ] }),
 "POST /v1/responses\n$::R{forced_hosted}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[429, 404, 400, 400, 400]
--- response_json eval
[{ error => { message => "<ANY>" } },
 { error => { message => "~/nope/" } },
 { error => { type => "invalid_request_error", message => "\"input\" must be a string or an array" } },
 { error => { type => "invalid_request_error", message => "this input item type cannot be translated for this provider" } },
 { error => { type => "invalid_request_error", message => "\"tool_choice\" forces a tool of type \"web_search\" that this provider cannot run" } }]
--- no_error_log
[alert]



=== TEST 13: a Chat provider's stream that fails midway: response.failed with a server_error, no response.completed
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-error-mid/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
 "response.output_text.delta", "response.failed"]
--- sse_data eval
[ {}, {}, {}, {}, { delta => "Partial" },
  { type => "response.failed", sequence_number => 5,
    response => { status => "failed", error => { code => "server_error", message => "The model is overloaded." } } } ]
--- response_body_unlike: response\.completed
--- no_error_log
[alert]



=== TEST 14: a length stop is an incomplete response with its reason
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-length/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{plain}"
--- more_headers
Content-Type: application/json
--- response_json
{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
 "output":[{"type":"message","content":[{"type":"output_text","text":"It was"}]}]}
--- no_error_log
[error]



=== TEST 15: responses=on needs format=openai
--- providers
    aigw_provider ant format=anthropic responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text;
    aigw_model m ant:claude-sonnet-4-6;
--- request
GET /v1/models
--- must_die
--- error_log
"responses=on" needs "format=openai" in aigw_provider "ant"



=== TEST 16: the Responses format is no provider format
--- providers
    aigw_provider r format=responses url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x;
    aigw_model m r:x;
--- request
GET /v1/models
--- must_die
--- error_log
the Responses API is a client surface



=== TEST 17: a Gemini provider gets the json_schema as generationConfig.responseJsonSchema, with the JSON mime type
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model m g:gemini-2.5-flash;
--- request eval
["POST /v1/responses\n" . main::json({ model => 'm', input => 'hi', max_output_tokens => 99,
    text => { format => { type => 'json_schema', name => 'o', schema => { type => 'object' } } } }),
 "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ object => "response", status => "completed", output => [ { type => "reasoning" }, { type => "message" } ] },
 { uri => "/gemini/text/v1beta/models/gemini-2.5-flash:generateContent",
   body => { generationConfig => { maxOutputTokens => 99, responseMimeType => "application/json",
                                   responseJsonSchema => { type => "object" } },
             contents => [ { role => "user", parts => [ { text => "hi" } ] } ] } }]
--- no_error_log
[error]



=== TEST 18: the gateway's own errors on the Responses surface: a missing key (401), a key over its rpm (429 with the x-ratelimit headers), in the OpenAI shape
--- providers
    aigw_zone aigw 1m;
    aigw_key k1 secret-one rpm=1;
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{plain}", "POST /v1/responses\n$::R{plain}", "POST /v1/responses\n$::R{plain}"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json\nAuthorization: Bearer secret-one",
 "Content-Type: application/json\nAuthorization: Bearer secret-one"]
--- error_code eval
[401, 200, 429]
--- response_headers eval
[{ "Content-Type" => "application/json" }, { "x-ratelimit-limit-requests" => 1 },
 { "x-ratelimit-limit-requests" => 1, "x-ratelimit-remaining-requests" => 0 }]
--- response_json eval
[{ error => { type => "~/auth|invalid_request/", message => "<ANY>" } },
 { object => "response", status => "completed" },
 { error => { message => "<ANY>" } }]
--- no_error_log
[alert]



=== TEST 19: a translated request without input is a 400
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n" . main::json({ model => 'm', instructions => 'x' })
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_json
{"error":{"type":"invalid_request_error","message":"missing required field \"input\""}}
--- no_error_log
[alert]



=== TEST 20: a native provider that answers a stream request with a whole response: the client still gets the events
--- providers
    aigw_provider nat format=openai responses=on url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/whole/v1 key=sk-nat;
    aigw_model m nat:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
 "response.output_text.delta", "response.output_text.done", "response.content_part.done",
 "response.output_item.done", "response.completed"]
--- sse_data eval
[ { response => { id => "resp_native1" } }, {}, {}, {}, { delta => "Native h\x{e9}llo" }, {}, {}, {},
  { sequence_number => 8, response => { status => "completed",
    output => [ { type => "message", content => [ { text => "Native h\x{e9}llo" } ] } ],
    usage => { input_tokens => 812, input_tokens_details => { cached_tokens => 512 },
               output_tokens => 140, output_tokens_details => { reasoning_tokens => 64 } } } } ]
--- no_error_log
[error]



=== TEST 21: custom tools (Codex's apply_patch): a function of one string for a Chat provider, their calls and outputs in the history, the call back as a custom_tool_call item
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/custom-chat/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{custom}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ output => [ { type => "custom_tool_call", id => "ctc_0_chatcmpl-Custom1", call_id => "call_patch",
                 name => "apply_patch", input => "*** Begin Patch\n+ \"x\"\n*** End Patch" } ] },
 { body => {
     tool_choice => { type => "function", function => { name => "apply_patch" } },
     tools => [ { type => "function", function => { name => "apply_patch", description => "Patch files",
                  parameters => { type => "object", properties => { input => { type => "string" } },
                                  required => ["input"], additionalProperties => JSON::PP::false } } },
                { type => "function", function => { name => "get_weather" } } ],
     messages => [
       { role => "user", content => "Fix it" },
       { role => "assistant", tool_calls => [ { id => "call_c1", type => "function", function => {
           name => "apply_patch", arguments => '{"input":"*** Begin Patch\n+ \"q\"\n*** End Patch"}' } } ] },
       { role => "tool", tool_call_id => "call_c1", content => "Done" } ] } }]
--- no_error_log
[error]



=== TEST 22: a streamed custom tool call: output_item.added, custom_tool_call_input.done with the input, output_item.done
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/custom-chat/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{custom_stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress", "response.output_item.added",
 "response.custom_tool_call_input.done", "response.output_item.done", "response.completed"]
--- sse_data eval
my $item = { type => "custom_tool_call", id => "ctc_0_chatcmpl-Custom2", call_id => "call_patch",
             name => "apply_patch", input => "*** Begin Patch\n" };
[ {}, {},
  { output_index => 0, item => { %$item, input => "" } },
  { item_id => "ctc_0_chatcmpl-Custom2", output_index => 0, input => "*** Begin Patch\n" },
  { output_index => 0, item => $item },
  { response => { output => [ $item ] } } ]
--- no_error_log
[error]



=== TEST 23: JSON output (text.format) goes to Chat Completions, native and Gemini providers; Anthropic providers are left out, and alone they are a 400
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant;
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model a ant:claude-sonnet-4-6;
    aigw_model m ant:claude-sonnet-4-6 oai:gpt-5.4;
--- request eval
["POST /v1/responses\n" . main::json({ %{ JSON::PP->new->utf8->decode($::R{schema}) }, model => 'a' }),
 "POST /v1/responses\n$::R{schema}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 200, 200]
--- response_json eval
[{ error => { type => "invalid_request_error", message => "~/cannot be translated/" } },
 { id => "resp_chatcmpl-Text1" },
 { uri => "/translate/openai-text/v1/chat/completions",
   body => { response_format => { type => "json_schema", json_schema => { name => "o", schema => { type => "object" } } } } }]
--- no_error_log
[error]



=== TEST 24: Codex's default tools for a Chat provider: hosted tools (web_search, file_search) dropped with an [info] line, a namespace's functions flattened as <namespace>__<name>, a namespaced call in the history joined so, the provider's call back as a function_call in its namespace
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/namespace-chat/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n$::R{namespace}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ status => "completed",
   output => [ { type => "function_call", id => "fc_0_chatcmpl-Ns1", call_id => "call_spawn",
                 name => "spawn_agent", namespace => "multi_agent", arguments => '{"task":"x"}',
                 status => "completed" } ] },
 { body => {
     tools => [ { type => "function", function => { name => "multi_agent__spawn_agent", description => "Spawn",
                  parameters => { type => "object", properties => { task => { type => "string" } } } } },
                { type => "function", function => { name => "multi_agent__send_input",
                  parameters => { type => "object", properties => { input => { type => "string" } },
                                  required => ["input"], additionalProperties => JSON::PP::false } } },
                { type => "function", function => { name => "get_weather" } } ],
     messages => [
       { role => "user", content => "Delegate" },
       { role => "assistant", tool_calls => [ { id => "call_n1", type => "function", function => {
           name => "multi_agent__spawn_agent", arguments => '{"task":"y"}' } } ] },
       { role => "tool", tool_call_id => "call_n1", content => "agent 1" } ] } }]
--- response_body_unlike eval
[undef, qr/web_search|file_search|vs_1|"namespace"/]
--- error_log
tool of type "web_search" dropped: the provider cannot run it
tool of type "file_search" dropped: the provider cannot run it
--- no_error_log
[error]
[warn]



=== TEST 25: a streamed call of a namespace tool's function: output_item.added and done carry the name and the namespace, the arguments as deltas
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/responses/namespace-chat/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
"POST /v1/responses\n$::R{namespace_stream}"
--- more_headers
Content-Type: application/json
--- sse_events eval
["response.created", "response.in_progress", "response.output_item.added",
 "response.function_call_arguments.delta", "response.function_call_arguments.done",
 "response.output_item.done", "response.completed"]
--- sse_data eval
my $item = { type => "function_call", id => "fc_0_chatcmpl-Ns2", call_id => "call_spawn",
             name => "spawn_agent", namespace => "multi_agent", arguments => '{"task":"x"}',
             status => "completed" };
[ {}, {},
  { output_index => 0, item => { %$item, arguments => "", status => "in_progress" } },
  { item_id => "fc_0_chatcmpl-Ns2", delta => '{"task":"x"}' },
  { item_id => "fc_0_chatcmpl-Ns2", arguments => '{"task":"x"}' },
  { output_index => 0, item => $item },
  { response => { output => [ $item ] } } ]
--- error_log
tool of type "web_search" dropped
--- no_error_log
[error]
[warn]



=== TEST 26: a function_call item without call_id or name, and a function_call_output item without call_id: 400 naming what is missing; nothing reaches a provider
--- providers
    aigw_provider oai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model m oai:gpt-5.4;
--- request eval
["POST /v1/responses\n" . '{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}',
 "POST /v1/responses\n" . '{"model":"m","input":[{"type":"function_call","call_id":"c1","arguments":"{}"}]}',
 "POST /v1/responses\n" . '{"model":"m","input":[{"type":"function_call_output","output":"ok"}]}']
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400]
--- response_json eval
[{ error => { type => "invalid_request_error", message => "~/needs \"call_id\" and \"name\"/" } },
 { error => { type => "invalid_request_error", message => "~/needs \"call_id\" and \"name\"/" } },
 { error => { type => "invalid_request_error", message => "~/a tool output item needs \"call_id\"/" } }]
--- grep_access_log eval: qr/^AIGW \S+ \d+/
--- grep_access_log_out
AIGW /v1/responses 400
AIGW /v1/responses 400
AIGW /v1/responses 400
--- no_error_log
[error]
