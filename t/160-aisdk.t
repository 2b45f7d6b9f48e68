# The AI SDK gateway protocol (issue 14, item 1) on the wire: POST
# {base}/language-model with the model and streaming in headers, the
# LanguageModelV3 call options translated into Chat Completions (checked
# on what the mock received: GET /mock_last.json), GenerateResult and V3
# stream parts back, the protocol's error shape and types, file parts with
# http(s) URLs refused, GET {base}/config.  The real SDK: t/160-aisdk-e2e.t.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

$R{rich} = main::json({
    maxOutputTokens => 300, temperature => 0.2, topP => 0.9, seed => 7,
    presencePenalty => 0.1, stopSequences => ['END'],
    tools => [ { type => 'function', name => 'get_weather', description => 'Get weather',
                 inputSchema => { type => 'object', properties => { city => { type => 'string' } },
                                  required => ['city'] } } ],
    toolChoice => { type => 'tool', toolName => 'get_weather' },
    prompt => [
        { role => 'system', content => 'You are terse.' },
        { role => 'user', content => [
            { type => 'text', text => "What is in this image? \"\x{2603}\"" },
            { type => 'file', mediaType => 'image/png', data => 'data:image/png;base64,iVBORw0KGgo=' },
            { type => 'file', mediaType => 'application/pdf', data => 'JVBERi0=' } ] },
        { role => 'assistant', content => [
            { type => 'reasoning', text => 'hmm' },
            { type => 'tool-call', toolCallId => 'call_1', toolName => 'get_weather',
              input => { city => 'Paris' } } ] },
        { role => 'tool', content => [
            { type => 'tool-result', toolCallId => 'call_1', toolName => 'get_weather',
              output => { type => 'json', value => { city => 'Paris', tempC => 21 } } } ] },
    ],
    providerOptions => { gateway => { user => 'user-123' }, openai => { reasoningEffort => 'low' } },
    headers => { 'user-agent' => 'ai/6.0.326' } });

$R{plain} = main::json({ prompt => [ { role => 'user', content => [ { type => 'text', text => 'hi' } ] } ] });

$R{url} = main::json({ prompt => [ { role => 'user', content => [
    { type => 'file', mediaType => 'image/png', data => 'https://example.com/a.png' } ] } ] });

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: language-model, not streamed: call options -> Chat Completions (system, text, data URL image, file, tool call, JSON tool result, tools, toolChoice, sampling); GenerateResult with V3 usage and providerMetadata.gateway
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model openai/gpt-5.4 oai:gpt-5.4 input=2 output=10;
--- request eval
["POST /v3/ai/language-model\n$::R{rich}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-key
ai-gateway-protocol-version: 0.0.1
ai-language-model-specification-version: 3
ai-language-model-id: openai/gpt-5.4
ai-language-model-streaming: false
--- response_json eval
[{ content => [ { type => "text", text => "Hi th\x{e9}re \xe2\x98\x83 \"q\"\nbye" } ],
   finishReason => { unified => "stop", raw => "stop" },
   usage => { inputTokens => { total => 120, noCache => 56, cacheRead => 64, cacheWrite => 0 },
              outputTokens => { total => 9, text => 9, reasoning => 0 } },
   providerMetadata => { gateway => { generationId => "~/^gen_[0-9A-Z]{26}\$/", cost => "0.00033" } },
   warnings => [] },
 { uri => "/translate/openai-text/v1/chat/completions",
   headers => { authorization => "Bearer sk-oai" },
   body => {
     model => "gpt-5.4", max_tokens => 300, temperature => 0.2, top_p => 0.9, stop => ["END"],
     tool_choice => { type => "function", function => { name => "get_weather" } },
     tools => [ { type => "function", function => { name => "get_weather", description => "Get weather",
                  parameters => { type => "object", properties => { city => { type => "string" } },
                                  required => ["city"] } } } ],
     messages => [
       { role => "system", content => "You are terse." },
       { role => "user", content => [
           { type => "text", text => "What is in this image? \"\xe2\x98\x83\"" },
           { type => "image_url", image_url => { url => "data:image/png;base64,iVBORw0KGgo=" } },
           { type => "file", file => { file_data => "data:application/pdf;base64,JVBERi0=" } } ] },
       { role => "assistant", content => undef, tool_calls => [
           { id => "call_1", type => "function", function => { name => "get_weather", arguments => '{"city":"Paris"}' } } ] },
       { role => "tool", tool_call_id => "call_1", content => '{"city":"Paris","tempC":21}' } ] } }]
--- response_body_unlike eval
[undef, qr/providerOptions|reasoningEffort|ai\/6\.0|"seed"|presence|user-123/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v3/ai/language-model 200 m=openai/gpt-5.4 rm=openai/gpt-5.4 p=oai pm=gpt-5.4 s=aisdk st=0 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
--- config
    location /v3/ {
        aigw_pass;
        access_log logs/access.log aigw;
    }
--- no_error_log
[error]



=== TEST 2: language-model, streamed (any location, the suffix decides): reasoning, text, two tool calls as tool-input-start/delta/end + tool-call, finish with V3 usage, generation id and cost
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=k;
    aigw_model gpt oai:gpt-5.4 input=1 output=2 cached_input=0.5;
--- config
    location /gw/ {
        aigw_pass;
    }
--- request eval
["POST /gw/v4/ai/language-model\n$::R{plain}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
ai-language-model-id: gpt
ai-language-model-streaming: true
--- sse_data eval
[[ { type => "stream-start", warnings => [] },
   { type => "response-metadata", id => "chatcmpl-Stream2", modelId => "gpt", timestamp => "~/^\\d{4}-\\d\\d-\\d\\dT/" },
   { type => "reasoning-start", id => "1" },
   { type => "reasoning-delta", id => "1", delta => "Two " },
   { type => "reasoning-delta", id => "1", delta => "cities." },
   { type => "reasoning-end", id => "1" },
   { type => "text-start", id => "2" },
   { type => "text-delta", id => "2", delta => "Checking both." },
   { type => "text-end", id => "2" },
   { type => "tool-input-start", id => "call_P", toolName => "get_weather" },
   { type => "tool-input-delta", id => "call_P", delta => '{"city":' },
   { type => "tool-input-delta", id => "call_P", delta => '"Paris"}' },
   { type => "tool-input-end", id => "call_P" },
   { type => "tool-call", toolCallId => "call_P", toolName => "get_weather", input => '{"city":"Paris"}' },
   { type => "tool-input-start", id => "call_T", toolName => "get_weather" },
   { type => "tool-input-delta", id => "call_T", delta => '{"city": "Tokyo"}' },
   { type => "tool-input-end", id => "call_T" },
   { type => "tool-call", toolCallId => "call_T", toolName => "get_weather", input => '{"city": "Tokyo"}' },
   { type => "finish", finishReason => { unified => "tool-calls", raw => "tool_calls" },
     usage => { inputTokens => { total => 200, noCache => 150, cacheRead => 50, cacheWrite => 0 },
                outputTokens => { total => 40, text => 28, reasoning => 12 } },
     providerMetadata => { gateway => { generationId => "~/^gen_/", cost => "0.000255" } } } ], undef]
--- response_headers eval
[{ "Content-Type" => "text/event-stream" }, undef]
--- response_json eval
[undef, { uri => "/translate/openai-tools/v1/chat/completions",
          body => { stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true },
                    messages => [ { role => "user", content => "hi" } ] } }]
--- no_error_log
[error]



=== TEST 3: a provider error in the middle of a stream: an error part, no finish
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-error-mid/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
"POST /v1/ai/language-model\n$::R{plain}"
--- more_headers
Content-Type: application/json
ai-language-model-id: gpt
ai-language-model-streaming: true
--- config
    location / {
        aigw_pass;
    }
--- sse_data eval
[ { type => "stream-start" }, { type => "response-metadata" },
  { type => "text-start", id => "1" },
  { type => "text-delta", id => "1", delta => "Partial" },
  { type => "error", error => { message => "The model is overloaded.", type => "<ANY>" } } ]
--- response_body_unlike: "finish"
--- no_error_log
[alert]



=== TEST 4: gateway errors in the protocol's shape: no model header, a bad streaming header, no prompt, an http(s) file URL, a tool result without toolCallId (400 invalid_request_error), an unknown model (404 model_not_found)
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- config
    location / {
        aigw_pass;
    }
--- pipelined_requests eval
["POST /v1/ai/language-model\n$::R{plain}",
 "POST /v1/ai/language-model\n$::R{plain}",
 "POST /v1/ai/language-model\n{\"prompt\":\"hi\"}",
 "POST /v1/ai/language-model\n$::R{url}",
 "POST /v1/ai/language-model\n$::R{plain}",
 "POST /v1/ai/language-model\n{\"prompt\":[{\"role\":\"tool\",\"content\":[{\"type\":\"tool-result\",\"toolName\":\"f\",\"output\":{\"type\":\"text\",\"value\":\"ok\"}}]}]}"]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nai-language-model-id: gpt\nai-language-model-streaming: yes",
 "Content-Type: application/json\nai-language-model-id: gpt",
 "Content-Type: application/json\nai-language-model-id: gpt",
 "Content-Type: application/json\nai-language-model-id: nope/none",
 "Content-Type: application/json\nai-language-model-id: gpt"]
--- error_code eval
[400, 400, 400, 400, 404, 400]
--- response_json eval
[{ error => { type => "invalid_request_error", message => "~/missing request header \"ai-language-model-id\"/" } },
 { error => { type => "invalid_request_error", message => "~/must be \"true\" or \"false\"/" } },
 { error => { type => "invalid_request_error", message => "\"prompt\" must be an array" } },
 { error => { type => "invalid_request_error", message => "~/http\\(s\\) URLs are not fetched by the gateway/" } },
 { error => { type => "model_not_found", code => "model_not_found" } },
 { error => { type => "invalid_request_error", message => "~/a tool result has no \"toolCallId\"/" } }]
--- no_error_log
[alert]



=== TEST 5: provider errors in the protocol's shape: 429 rate_limit_exceeded, 500 internal_server_error, 400 invalid_request_error
--- providers
    aigw_provider r429 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/translate/openai-error-rate/v1 key=k;
    aigw_provider r500 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/500/translate/openai-error-server/v1 key=k;
    aigw_provider r400 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/400/translate/openai-error-invalid/v1 key=k;
    aigw_model a r429:gpt-5.4;
    aigw_model b r500:gpt-5.4;
    aigw_model c r400:gpt-5.4;
--- config
    location / {
        aigw_pass;
    }
--- pipelined_requests eval
["POST /v1/ai/language-model\n$::R{plain}",
 "POST /v1/ai/language-model\n$::R{plain}",
 "POST /v1/ai/language-model\n$::R{plain}"]
--- more_headers eval
["Content-Type: application/json\nai-language-model-id: a",
 "Content-Type: application/json\nai-language-model-id: b",
 "Content-Type: application/json\nai-language-model-id: c"]
--- error_code eval
[429, 500, 400]
--- response_json eval
[{ error => { type => "rate_limit_exceeded", message => "<ANY>" } },
 { error => { type => "internal_server_error", message => "<ANY>" } },
 { error => { type => "invalid_request_error", message => "<ANY>" } }]
--- no_error_log
[alert]



=== TEST 6: GET {base}/config: every configured model with specification, modelType and string prices per token
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model openai/gpt-4o oai:gpt-4o input=2.50 output=10 cached_input=1.25 cache_write=3.125;
    aigw_model local oai:small;
--- config
    location / {
        aigw_pass;
    }
--- request
GET /v3/ai/config
--- response_json eval
{ models => [
  { id => "openai/gpt-4o", name => "openai/gpt-4o",
    pricing => { input => "0.0000025", output => "0.00001", input_cache_read => "0.00000125",
                 input_cache_write => "0.000003125" },
    specification => { specificationVersion => "v3", provider => "openai", modelId => "openai/gpt-4o" },
    modelType => "language" },
  { id => "local", name => "local",
    specification => { specificationVersion => "v3", provider => "oai", modelId => "local" },
    modelType => "language" } ] }
--- response_body_unlike: "local","pricing"
--- no_error_log
[error]
