# format=gemini providers (the Gemini API): OpenAI Chat Completions and
# Anthropic Messages clients, stream and not.  The mock (t/fixtures/
# translate/mock.js) records what the provider received, checked in lock
# step (GET /mock_last.json): the URL, x-goog-api-key, the body's shape;
# it answers with recorded-shape fixtures (t/fixtures/gemini, streams with
# CRLF and no [DONE]).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

my $tools_ant = [ { name => 'get_weather', description => 'Weather',
                    input_schema => { type => 'object',
                                      properties => { city => { type => 'string' } } } } ];

$R{oai_text} = main::json({ model => 'gem', max_tokens => 100, temperature => 0.5,
    top_p => 0.9, stop => ['END'],
    messages => [ { role => 'system', content => 'Be brief.' },
                  { role => 'user', content => [
                      { type => 'text', text => "Describe \"this\"\n" },
                      { type => 'image_url', image_url => { url => 'data:image/png;base64,iVBORw0KGgo=' } } ] } ] });

$R{oai_loop} = main::json({ model => 'gemt', tool_choice => 'required',
    reasoning_effort => 'low',
    tools => [ { type => 'function', function => { name => 'get_weather',
                 parameters => { type => 'object', properties => { city => { type => ['string', 'null'] } } } } } ],
    messages => [ { role => 'user', content => 'Weather in Paris and Tokyo?' },
                  { role => 'assistant', content => undef, tool_calls => [
                      { id => 'c1', type => 'function', function => { name => 'get_weather', arguments => '{"city":"Paris"}' } },
                      { id => 'c2', type => 'function', function => { name => 'get_weather', arguments => '{"city":"Tokyo"}' } } ] },
                  { role => 'tool', tool_call_id => 'c1', content => '18C' },
                  { role => 'tool', tool_call_id => 'c2', content => '22C' } ] });

$R{ant_loop} = main::json({ model => 'gemt', max_tokens => 100, tools => $tools_ant,
    tool_choice => { type => 'tool', name => 'get_weather' },
    messages => [ { role => 'user', content => 'Weather in Paris and Tokyo?' },
                  { role => 'assistant', content => [
                      { type => 'thinking', thinking => 'Two cities.', signature => 'EqoBCqcB' },
                      { type => 'tool_use', id => 'call_a', name => 'get_weather', input => { city => 'Paris' } },
                      { type => 'tool_use', id => 'call_b', name => 'get_weather', input => { city => 'Tokyo' } } ] },
                  { role => 'user', content => [
                      { type => 'tool_result', tool_use_id => 'call_a', content => '18C' },
                      { type => 'tool_result', tool_use_id => 'call_b', is_error => JSON::PP::true,
                        content => [ { type => 'text', text => 'no data' } ] } ] } ] });

$R{ant_stream} = main::json({ model => 'gemt', max_tokens => 100, stream => JSON::PP::true,
    tools => $tools_ant, messages => [ { role => 'user', content => 'Weather?' } ] });

sub ant { main::json({ max_tokens => 50, messages => [ { role => 'user', content => 'hi' } ], @_ }) }
sub oai { main::json({ messages => [ { role => 'user', content => 'hi' } ], @_ }) }

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: OpenAI client, non-stream: the Gemini request (x-goog-api-key, contents, systemInstruction, inlineData, generationConfig) and the answer with thoughts and usage
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n$::R{oai_text}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-secret
--- response_json eval
[{ id => "resp_text_1", object => "chat.completion", model => "gemini-2.5-flash",
   choices => [ { index => 0, finish_reason => "stop",
                  message => { role => "assistant", content => "Hello w\x{f6}rld \"q\"\n",
                               reasoning_content => "Thinking about it." } } ],
   usage => { prompt_tokens => 29, completion_tokens => 115, total_tokens => 144,
              prompt_tokens_details => { cached_tokens => 10 },
              completion_tokens_details => { reasoning_tokens => 100 } } },
 { uri => "/gemini/text/v1beta/models/gemini-2.5-flash:generateContent", args => "",
   headers => { "x-goog-api-key" => "gk-test", "content-type" => "application/json" },
   body => { contents => [ { role => "user", parts => [
                 { text => "Describe \"this\"\n" },
                 { inlineData => { mimeType => "image/png", data => "iVBORw0KGgo=" } } ] } ],
             systemInstruction => { parts => [ { text => "Be brief." } ] },
             generationConfig => { temperature => 0.5, topP => 0.9, maxOutputTokens => 100,
                                   stopSequences => ["END"] } } }]
--- response_body_unlike eval
[undef, qr/client-secret|"authorization"|"model"|"messages"|"role":"system"/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=gem rm=gem p=g pm=gemini-2.5-flash s=openai st=0 in=29 out=115 cr=10 cw=0 rs=100 src=provider a=g:200
--- no_error_log
[error]



=== TEST 2: OpenAI tool loop: functionCall with ids and the placeholder signature on the first call only, functionResponse named after its call, tool_choice required -> ANY, reasoning_effort on Gemini 3 -> thinkingLevel; parallel calls back as tool_calls
--- providers
    aigw_provider gt format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/tools key=gk-test;
    aigw_model gemt gt:gemini-3-pro-preview;
--- request eval
["POST /v1/chat/completions\n$::R{oai_loop}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ model => "gemini-3-pro-preview",
   choices => [ { finish_reason => "tool_calls",
                  message => { content => undef, reasoning_content => "Checking.",
                               tool_calls => [
                                 { id => "~/^call_/", type => "function",
                                   function => { name => "get_weather", arguments => '{"city":"Paris"}' } },
                                 { id => "~/^call_/", type => "function",
                                   function => { name => "get_weather", arguments => '{"city":"Tokyo"}' } } ] } } ],
   usage => { prompt_tokens => 50, completion_tokens => 50, completion_tokens_details => { reasoning_tokens => 30 } } },
 { uri => "/gemini/tools/v1beta/models/gemini-3-pro-preview:generateContent",
   body => {
     contents => [
       { role => "user", parts => [ { text => "Weather in Paris and Tokyo?" } ] },
       { role => "model", parts => [
           { functionCall => { id => "c1", name => "get_weather", args => { city => "Paris" } },
             thoughtSignature => "skip_thought_signature_validator" },
           { functionCall => { id => "c2", name => "get_weather", args => { city => "Tokyo" } } } ] },
       { role => "user", parts => [
           { functionResponse => { id => "c1", name => "get_weather", response => { output => "18C" } } },
           { functionResponse => { id => "c2", name => "get_weather", response => { output => "22C" } } } ] } ],
     tools => [ { functionDeclarations => [ { name => "get_weather",
                  parametersJsonSchema => { type => "object", properties => { city => { type => ["string", "null"] } } } } ] } ],
     toolConfig => { functionCallingConfig => { mode => "ANY" } },
     generationConfig => { thinkingConfig => { thinkingLevel => "low", includeThoughts => JSON::PP::true } } } }]
--- response_body_unlike eval
[undef, qr/"tool_calls"|"tool_call_id"|"parameters"|"thoughtSignature":"skip_thought_signature_validator"\}\]\}\]|Tokyo"\}\},"thoughtSignature/]
--- no_error_log
[error]



=== TEST 3: Anthropic tool loop: the thinking block's signature goes back on the function call it came with, tool results become functionResponse (error as {"error"}), tool_choice tool -> ANY + allowedFunctionNames; the answer's signature comes in a thinking block before the tool_use blocks
--- providers
    aigw_provider gt format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/tools key=gk-test;
    aigw_model gemt gt:gemini-3-pro-preview;
--- request eval
["POST /v1/messages\n$::R{ant_loop}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_json eval
[{ id => "resp_tools_1", type => "message", role => "assistant", model => "gemini-3-pro-preview",
   stop_reason => "tool_use",
   content => [ { type => "thinking", thinking => "Checking.", signature => "EqoBCqcB" },
                { type => "tool_use", id => "~/^call_/", name => "get_weather", input => { city => "Paris" } },
                { type => "tool_use", id => "~/^call_/", name => "get_weather", input => { city => "Tokyo" } } ],
   usage => { input_tokens => 50, output_tokens => 50, cache_read_input_tokens => 0 } },
 { uri => "/gemini/tools/v1beta/models/gemini-3-pro-preview:generateContent",
   body => {
     contents => [
       { role => "user", parts => [ { text => "Weather in Paris and Tokyo?" } ] },
       { role => "model", parts => [
           { functionCall => { id => "call_a", name => "get_weather", args => { city => "Paris" } },
             thoughtSignature => "EqoBCqcB" },
           { functionCall => { id => "call_b", name => "get_weather", args => { city => "Tokyo" } } } ] },
       { role => "user", parts => [
           { functionResponse => { id => "call_a", name => "get_weather", response => { output => "18C" } } },
           { functionResponse => { id => "call_b", name => "get_weather", response => { error => "no data" } } } ] } ],
     tools => [ { functionDeclarations => [ { name => "get_weather", description => "Weather",
                  parametersJsonSchema => { type => "object", properties => { city => { type => "string" } } } } ] } ],
     toolConfig => { functionCallingConfig => { mode => "ANY", allowedFunctionNames => ["get_weather"] } },
     generationConfig => { maxOutputTokens => 100 } } }]
--- response_body_unlike eval
[undef, qr/skip_thought_signature_validator|"thought"|Two cities/]
--- no_error_log
[error]



=== TEST 4: Anthropic stream: thought text and the call's signature in a thinking block, each call a tool_use block with its arguments, stop tool_use from STOP with calls, usage from the last chunk
--- providers
    aigw_provider gt format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/tools key=gk-test;
    aigw_model gemt gt:gemini-3-pro-preview;
--- request eval
["POST /v1/messages\n$::R{ant_stream}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- sse_events eval
[[qw(message_start ping content_block_start content_block_delta content_block_delta content_block_stop
     content_block_start content_block_delta content_block_stop
     content_block_start content_block_delta content_block_stop message_delta message_stop)], undef]
--- sse_data eval
[[ { type => "message_start", message => { id => "r2", model => "gemini-3-pro-preview" } },
   { type => "ping" },
   { type => "content_block_start", index => 0, content_block => { type => "thinking" } },
   { type => "content_block_delta", index => 0, delta => { type => "thinking_delta", thinking => "Two cities." } },
   { type => "content_block_delta", index => 0, delta => { type => "signature_delta", signature => "EqoBCqcB" } },
   { type => "content_block_stop", index => 0 },
   { type => "content_block_start", index => 1, content_block => { type => "tool_use", id => "~/^call_/", name => "get_weather" } },
   { type => "content_block_delta", index => 1, delta => { type => "input_json_delta", partial_json => '{"city":"Paris"}' } },
   { type => "content_block_stop", index => 1 },
   { type => "content_block_start", index => 2, content_block => { type => "tool_use", id => "~/^call_/", name => "get_weather" } },
   { type => "content_block_delta", index => 2, delta => { type => "input_json_delta", partial_json => '{"city":"Tokyo"}' } },
   { type => "content_block_stop", index => 2 },
   { type => "message_delta", delta => { stop_reason => "tool_use" }, usage => { input_tokens => 50, output_tokens => 50 } },
   { type => "message_stop" } ], undef]
--- response_json eval
[undef, { uri => "/gemini/tools/v1beta/models/gemini-3-pro-preview:streamGenerateContent", args => "alt=sse",
          headers => { accept => "text/event-stream", "x-goog-api-key" => "gk-test" },
          body => { contents => [ { role => "user", parts => [ { text => "Weather?" } ] } ] } }]
--- response_body_unlike eval
[undef, qr/"stream"/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=gemt rm=gemt p=gt pm=gemini-3-pro-preview s=anthropic st=1 in=50 out=50 cr=0 cw=0 rs=30 src=provider a=gt:200
--- no_error_log
[error]



=== TEST 5: OpenAI stream: text deltas, the empty part with a signature makes no delta, finish stop, the usage chunk when asked, [DONE]
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
"POST /v1/chat/completions\n" . main::oai(model => 'gem', stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true })
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { id => "r1", object => "chat.completion.chunk", model => "gemini-2.5-flash",
    choices => [ { index => 0, delta => { role => "assistant", content => "" }, finish_reason => undef } ] },
  { id => "r1", choices => [ { index => 0, delta => { content => "There are 3" }, finish_reason => undef } ] },
  { id => "r1", choices => [ { index => 0, delta => { content => " apples." }, finish_reason => undef } ] },
  { id => "r1", choices => [ { index => 0, delta => {}, finish_reason => "stop" } ] },
  { id => "r1", choices => [], usage => { prompt_tokens => 9, completion_tokens => 285, total_tokens => 294 } },
  "[DONE]" ]
--- response_body_unlike: Eo0HCooH
--- no_error_log
[error]



=== TEST 6: finish reasons: a blocked prompt (promptFeedback, no candidates) and SAFETY -> content_filter / refusal; MAX_TOKENS -> length / max_tokens
--- providers
    aigw_provider b format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/blocked key=gk-test;
    aigw_provider s format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/safety key=gk-test;
    aigw_provider l format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/length key=gk-test;
    aigw_model blocked b:gemini-2.5-flash;
    aigw_model safety s:gemini-2.5-flash;
    aigw_model length l:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'blocked'),
 "POST /v1/messages\n" . main::ant(model => 'blocked'),
 "POST /v1/messages\n" . main::ant(model => 'blocked', stream => JSON::PP::true),
 "POST /v1/chat/completions\n" . main::oai(model => 'safety'),
 "POST /v1/chat/completions\n" . main::oai(model => 'length'),
 "POST /v1/messages\n" . main::ant(model => 'length')]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ choices => [ { finish_reason => "content_filter", message => { content => undef } } ], usage => { prompt_tokens => 7 } },
 { stop_reason => "refusal", content => [] },
 undef,
 { choices => [ { finish_reason => "content_filter" } ] },
 { choices => [ { finish_reason => "length", message => { content => "Once upon" } } ] },
 { stop_reason => "max_tokens", content => [ { type => "text", text => "Once upon" } ] }]
--- sse_data eval
[undef, undef,
 [ { type => "message_start" }, { type => "ping" },
   { type => "message_delta", delta => { stop_reason => "refusal" } },
   { type => "message_stop" } ],
 undef, undef, undef]
--- no_error_log
[error]



=== TEST 7: errors: the google.rpc body's message in the client's shape with the provider's status (429, 400 bad key), no failover target left
--- providers
    aigw_provider r format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/gemini/error-rate key=gk-test;
    aigw_provider i format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/400/gemini/error-invalid key=gk-test;
    aigw_model rate r:gemini-2.5-flash;
    aigw_model invalid i:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'rate'),
 "POST /v1/messages\n" . main::ant(model => 'rate'),
 "POST /v1/chat/completions\n" . main::oai(model => 'invalid')]
--- more_headers
Content-Type: application/json
--- error_code eval
[429, 429, 400]
--- response_json eval
[{ error => { message => "~/exceeded your current quota/", type => "~/rate_limit/" } },
 { type => "error", error => { type => "rate_limit_error", message => "~/exceeded your current quota/" } },
 { error => { message => "~/API key not valid|provider/" } }]
--- response_body_unlike eval
[qr/gk-test|RESOURCE_EXHAUSTED"|google\.rpc/, qr/gk-test/, qr/gk-test/]



=== TEST 8: a stream that fails: an error chunk ends it with an error event, a body that ends without a finish reason too
--- providers
    aigw_provider e format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/error-mid key=gk-test;
    aigw_provider c format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/cut key=gk-test;
    aigw_model mid e:gemini-2.5-flash;
    aigw_model cut c:gemini-2.5-flash;
--- request eval
["POST /v1/messages\n" . main::ant(model => 'mid', stream => JSON::PP::true),
 "POST /v1/messages\n" . main::ant(model => 'cut', stream => JSON::PP::true)]
--- more_headers
Content-Type: application/json
--- sse_data eval
[[ { type => "message_start" }, { type => "ping" },
   { type => "content_block_start", index => 0, content_block => { type => "text" } },
   { type => "content_block_delta", index => 0, delta => { text => "Partial" } },
   { type => "error", error => { type => "api_error", message => "Internal error encountered." } } ],
 [ { type => "message_start" }, { type => "ping" },
   { type => "content_block_start", index => 0, content_block => { type => "text" } },
   { type => "content_block_delta", index => 0, delta => { text => "Partial" } },
   { type => "error", error => { message => "the provider's stream ended before it finished" } } ]]
--- response_body_unlike eval
[qr/message_stop/, qr/message_stop/]



=== TEST 9: failover between formats in one request: Gemini 503 then an Anthropic provider; the Anthropic provider down then Gemini (fallback model)
--- providers
    aigw_provider g503 format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/gemini/error-rate key=gk-test;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_provider ant503 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/anthropic/error-overloaded key=k;
    aigw_model first g503:gemini-2.5-flash ant:claude-sonnet-4-6;
    aigw_model claude ant503:claude-sonnet-4-6;
    aigw_model google/gemini-2.5-flash g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'first'),
 "POST /v1/messages\n" . main::ant(model => 'claude', providerOptions => { gateway => { models => ['google/gemini-2.5-flash'] } })]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ model => "claude-sonnet-4-6-20260101", choices => [ { finish_reason => "stop" } ] },
 { model => "gemini-2.5-flash", stop_reason => "end_turn",
   content => [ { type => "thinking" }, { type => "text", text => "Hello w\x{f6}rld \"q\"\n" } ] }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=first rm=first p=ant pm=claude-sonnet-4-6 s=openai st=0 in=312 out=7 cr=200 cw=100 rs=0 src=provider a=g503:503,ant:200
AIGW /v1/messages 200 m=google/gemini-2.5-flash rm=claude p=g pm=gemini-2.5-flash s=anthropic st=0 in=29 out=115 cr=10 cw=0 rs=100 src=provider a=ant503:503,g:200



=== TEST 10: thinking: an Anthropic budget -> thinkingBudget with thoughts, disabled -> thinkingBudget 0 (Gemini 2.5); tool_choice none and auto
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
["POST /v1/messages\n" . main::ant(model => 'gem', max_tokens => 4000, thinking => { type => 'enabled', budget_tokens => 2000 }), "GET /mock_last.json",
 "POST /v1/messages\n" . main::ant(model => 'gem', thinking => { type => 'disabled' },
     tools => [ { name => 'f', input_schema => { type => 'object' } } ], tool_choice => { type => 'none' }), "GET /mock_last.json",
 "POST /v1/chat/completions\n" . main::oai(model => 'gem', tools => [ { type => 'function', function => { name => 'f' } } ], tool_choice => 'auto'), "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { generationConfig => { maxOutputTokens => 4000,
                    thinkingConfig => { thinkingBudget => 2000, includeThoughts => JSON::PP::true } } } },
 undef, { body => { generationConfig => { thinkingConfig => { thinkingBudget => 0 } },
                    toolConfig => { functionCallingConfig => { mode => "NONE" } } } },
 undef, { body => { toolConfig => { functionCallingConfig => { mode => "AUTO" } },
                    tools => [ { functionDeclarations => [ { name => "f" } ] } ] } }]
--- response_body_unlike eval
[undef, qr/"thinking"|"budget_tokens"/, undef, qr/"tool_choice"/, undef, qr/parametersJsonSchema/]
--- no_error_log
[error]
