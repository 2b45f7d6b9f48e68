# The Anthropic Messages surface to anthropic-format providers: passthrough
# with byte-level edits (model id, providerOptions), headers, auth, usage
# in $aigw_* variables, streams passed event for event, count_tokens,
# errors in Anthropic's shape.  Mock: t/fixtures/translate/mock.js.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our ($Rich, $RichEdited, $Small, $SmallStream);

# everything a newer client may send, with odd spacing and number forms
$Rich = '{"model":"anthropic/claude-sonnet-4.6","max_tokens":1024,'
    . '"system":[{"type":"text","text":"You are terse.",'
    . '"cache_control":{"type":"ephemeral","ttl":"1h"}}],'
    . '"messages":[{"role":"user","content":[{"type":"text",'
    . '"text":"Weather in Paris?","cache_control":{"type":"ephemeral"}}]},'
    . '{"role":"system","content":"Mid-conversation system note."},'
    . '{"role":"assistant","content":[{"type":"thinking",'
    . '"thinking":"I should call the tool.","signature":"EqQBCkgIBxAB+/=="},'
    . '{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"},'
    . '{"type":"tool_use","id":"toolu_01A","name":"get_weather",'
    . '"input":{"city":"Paris"}}]},'
    . '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A",'
    . '"content":"18C","is_error":false,"cache_control":{"type":"ephemeral"}}]}],'
    . '"tools":[{"name":"get_weather","description":"Weather",'
    . '"input_schema":{"type":"object","properties":{"city":{"type":"string"}},'
    . '"required":["city"]},"cache_control":{"type":"ephemeral"}}],'
    . '"metadata":{"user_id":"{\"device_id\":\"abc\",\"session_id\":\"s-1\"}"},'
    . '"thinking":{"type":"enabled","budget_tokens":2048},'
    . '"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},'
    . '"output_config":{"effort":"medium"},'
    . '"future_field_2027":{"nested":[1,2.50,1e3,{"deep":true}],"unicode":"\u00e9' . "\xe2\x98\x83" . '"},'
    . '"providerOptions":{"gateway":{"user":"u-42"}},  "temperature": 1.0 }';

($RichEdited = $Rich) =~ s/"anthropic\/claude-sonnet-4\.6"/"claude-sonnet-4-6"/;
$RichEdited =~ s/"providerOptions":\{"gateway":\{"user":"u-42"\}\},  //;

$Small = '{"model":"anthropic/claude-sonnet-4.6","max_tokens":64,'
    . '"messages":[{"role":"user","content":"hi"}]}';
($SmallStream = $Small) =~ s/}$/,"stream":true}/;

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: passthrough: byte-faithful but for the model and providerOptions; ?beta=true; headers; provider key
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages?beta=true\n$::Rich"
--- more_headers
Content-Type: application/json
x-api-key: client-secret-key
anthropic-version: 2023-06-01
anthropic-beta: interleaved-thinking-2025-05-14,context-management-2025-06-27
--- response_json eval
{
    method => "POST", uri => "/x/echo/v1/messages", args => "",
    bytes => length($::RichEdited), md5 => main::md5($::RichEdited),
    headers => {
        "x-api-key" => "sk-ant-provider",
        "anthropic-version" => "2023-06-01",
        "anthropic-beta" => "interleaved-thinking-2025-05-14,context-management-2025-06-27",
        "content-type" => "application/json",
        "content-length" => length($::RichEdited) . "",
    },
    body => {
        model => "claude-sonnet-4-6",
        metadata => { user_id => '{"device_id":"abc","session_id":"s-1"}' },
        messages => [ {}, { role => "system" },
                      { content => [ { signature => "EqQBCkgIBxAB+/==" },
                                     { data => "EmwKAhgBEgy3va3pzix/LafPsn4a" },
                                     { input => { city => "Paris" } } ] },
                      { content => [ { is_error => JSON::PP::false,
                                       cache_control => { type => "ephemeral" } } ] } ],
        context_management => { edits => [ { keep => "all" } ] },
        output_config => { effort => "medium" },
        future_field_2027 => { nested => [1, 2.5, 1000, { deep => JSON::PP::true }] },
    },
}
--- response_body_unlike: client-secret|"authorization"|providerOptions|u-42
--- response_headers
Content-Type: application/json
X-AIGW-Provider: ant
X-AIGW-Model: anthropic/claude-sonnet-4.6
X-AIGW-Upstream-Request-Id: req_mock_echo
--- no_error_log
[error]



=== TEST 2: the client may authenticate with Authorization: Bearer; it is not forwarded either
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n$::Small"
--- more_headers
Content-Type: application/json
Authorization: Bearer client-secret-token
anthropic-version: 2023-06-01
--- response_json eval
{ headers => { "x-api-key" => "sk-ant-provider", "anthropic-version" => "2023-06-01" },
  md5 => main::md5($::Small =~ s/anthropic\/claude-sonnet-4\.6/claude-sonnet-4-6/r) }
--- response_body_unlike: client-secret|"authorization"|anthropic-beta
--- no_error_log
[error]



=== TEST 3: no anthropic-version from the client: the provider's configured version; a custom auth header
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=sk-ant-provider version=2024-10-22 header=X-Tenant:t1;
    aigw_provider ant2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k2 auth=bearer;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
    aigw_model other ant2:claude-x;
--- request eval
["POST /v1/messages\n$::Small",
 "POST /v1/messages\n" . ($::Small =~ s/anthropic\/claude-sonnet-4\.6/other/r)]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ headers => { "x-api-key" => "sk-ant-provider", "anthropic-version" => "2024-10-22",
                "x-tenant" => "t1" } },
 { headers => { "authorization" => "Bearer k2", "anthropic-version" => "2023-06-01" },
   body => { model => "claude-x" } }]
--- no_error_log
[error]



=== TEST 4: non-stream response passes through unchanged; usage with cache read/write in $aigw_* variables
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages?beta=true\n$::Small"
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_body eval
main::fixture("anthropic/text.json")
--- response_headers
Content-Type: application/json
X-AIGW-Upstream-Request-Id: req_mock_text
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages?beta=true 200 m=anthropic/claude-sonnet-4.6 rm=anthropic/claude-sonnet-4.6 p=ant pm=claude-sonnet-4-6 s=anthropic st=0 in=312 out=7 cr=200 cw=100 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 5: stream: the full event sequence passes through byte for byte; usage from message_start and message_delta
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages?beta=true\n$::SmallStream"
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_body_filters: md5_hex
--- response_body eval
main::fixture_md5("anthropic/text.sse")
--- sse_events eval
["message_start", "content_block_start", "ping", "content_block_delta",
 "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
X-Accel-Buffering: no
! Content-Length
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages?beta=true 200 m=anthropic/claude-sonnet-4.6 rm=anthropic/claude-sonnet-4.6 p=ant pm=claude-sonnet-4-6 s=anthropic st=1 in=4025 out=15 cr=3000 cw=1000 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 6: stream with thinking, signature and parallel tool_use blocks passes through byte for byte; cumulative message_delta usage
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/tools key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n$::SmallStream"
--- more_headers
Content-Type: application/json
--- response_body_filters: md5_hex
--- response_body eval
main::fixture_md5("anthropic/tools.sse")
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=anthropic/claude-sonnet-4.6 rm=anthropic/claude-sonnet-4.6 p=ant pm=claude-sonnet-4-6 s=anthropic st=1 in=80 out=88 cr=20 cw=10 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 7: a provider error event inside the stream passes through unchanged
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/error-mid key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n$::SmallStream"
--- more_headers
Content-Type: application/json
--- response_body_filters: md5_hex
--- response_body eval
main::fixture_md5("anthropic/error-mid.sse")
--- no_error_log
[alert]



=== TEST 8: count_tokens is forwarded to an Anthropic provider (model replaced, key injected), its answer passed through
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/count key=sk-ant-provider;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
["POST /v1/messages/count_tokens?beta=true\n"
 . '{"model":"anthropic/claude-sonnet-4.6","system":"Be brief.","messages":[{"role":"user","content":"count me"}],"tools":[{"name":"t","input_schema":{"type":"object"}}],"providerOptions":{"gateway":{"user":"u"}}}',
 "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
x-api-key: client-secret-key
anthropic-version: 2023-06-01
anthropic-beta: token-counting-2024-11-01
--- response_body eval
['{"input_tokens":2095}', undef]
--- response_json eval
[undef,
 { method => "POST", uri => "/anthropic/count/v1/messages/count_tokens",
   md5 => main::md5('{"model":"claude-sonnet-4-6","system":"Be brief.","messages":[{"role":"user","content":"count me"}],"tools":[{"name":"t","input_schema":{"type":"object"}}]}'),
   headers => { "x-api-key" => "sk-ant-provider", "anthropic-beta" => "token-counting-2024-11-01" } }]
--- response_headers eval
[{ "X-AIGW-Estimated" => undef, "X-AIGW-Provider" => "ant" }, undef]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages/count_tokens?beta=true 200 m=anthropic/claude-sonnet-4.6 rm=anthropic/claude-sonnet-4.6 p=ant pm=claude-sonnet-4-6 s=anthropic st=0 in=2095 out=0 cr=0 cw=0 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 9: provider errors reach the client in Anthropic's shape with the provider's status (4xx, 429, 529)
--- providers
    aigw_provider bad format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/400/anthropic/error-invalid key=k;
    aigw_provider rate format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/anthropic/error-rate key=k;
    aigw_provider over format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded key=k;
    aigw_model m-bad bad:claude-x;
    aigw_model m-rate rate:claude-x;
    aigw_model m-over over:claude-x;
--- request eval
[map { "POST /v1/messages\n" . ($::Small =~ s/anthropic\/claude-sonnet-4\.6/$_/r) } qw(m-bad m-rate m-over m-over)]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 429, 529, 529]
--- response_body eval
[main::fixture("anthropic/error-invalid.json"), main::fixture("anthropic/error-rate.json"),
 main::fixture("anthropic/error-overloaded.json"), main::fixture("anthropic/error-overloaded.json")]
--- response_headers eval
[{ "Content-Type" => "application/json" }, undef, undef, undef]
--- no_error_log
[alert]



=== TEST 10: gateway-made errors of the Anthropic surface are in Anthropic's shape
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
["POST /v1/messages\n{\"model\":",
 "POST /v1/messages\n{\"model\":\"anthropic/claude-sonnet-4.6\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
 "POST /v1/messages\n{\"model\":\"nope/unknown\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
 "POST /v1/messages?beta=true\n{\"model\":\"anthropic/claude-sonnet-4.6\",\"max_tokens\":5,\"messages\":[]}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 404, 400]
--- response_json eval
[{ type => "error", error => { type => "invalid_request_error", message => "~/not valid JSON/" } },
 { type => "error", error => { type => "invalid_request_error", message => "~/max_tokens/" } },
 { type => "error", error => { type => "not_found_error", message => "~/nope\\/unknown/" } },
 { type => "error", error => { type => "invalid_request_error", message => "~/messages/" } }]
--- no_error_log
[alert]



=== TEST 11: providerOptions is cut out wherever it is (first, middle, last, with whitespace), the model replaced in place
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
    aigw_model claude-sonnet-4-6 ant;
--- request eval
["POST /v1/messages\n" . '{"providerOptions":{"gateway":{"order":["ant"],"tags":["a"]}},"model":"anthropic/claude-sonnet-4.6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
 "POST /v1/messages\n" . '{"model":"anthropic\/claude-sonnet-4.6","max_tokens":5,"messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"u"}}}',
 "POST /v1/messages\n" . "{\n  \"model\" : \"anthropic/claude-sonnet-4.6\" ,\n  \"providerOptions\" : { \"gateway\" : { } } ,\n  \"max_tokens\" : 5,\n  \"messages\":[{\"role\":\"user\",\"content\":\"x\"}]\n}",
 "POST /v1/messages\n" . '{"model":"claude-sonnet-4-6","providerOptions":null,"max_tokens":5,"messages":[{"role":"user","content":"x"}]}']
--- more_headers
Content-Type: application/json
--- response_json eval
[{ md5 => main::md5('{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}') },
 { md5 => main::md5('{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}') },
 { md5 => main::md5("{\n  \"model\" : \"claude-sonnet-4-6\" ,\n  \"max_tokens\" : 5,\n  \"messages\":[{\"role\":\"user\",\"content\":\"x\"}]\n}") },
 { md5 => main::md5('{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}') }]
--- no_error_log
[error]



=== TEST 12: several anthropic-beta header lines all reach the provider
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- request eval
"POST /v1/messages\n$::Small"
--- more_headers
Content-Type: application/json
anthropic-beta: context-1m-2025-08-07
anthropic-beta: interleaved-thinking-2025-05-14,effort-2025-11-24
--- response_json eval
{ headers => { "anthropic-beta" => "context-1m-2025-08-07, interleaved-thinking-2025-05-14,effort-2025-11-24" } }
--- no_error_log
[error]



=== TEST 13: nginx-made errors on the Anthropic surface (413 over client_max_body_size, 502 provider down) are in Anthropic's shape
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4 key=k;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
--- config
    location /v1/ {
        aigw_pass;
        client_max_body_size 100;
    }
--- request eval
["POST /v1/messages?beta=true\n$::Rich", "POST /v1/messages?beta=true\n$::Small"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- error_code eval
[413, 502]
--- response_headers eval
[{ "Content-Type" => "application/json" }, { "Content-Type" => "application/json" }]
--- response_json eval
[{ type => "error", error => { type => "request_too_large", message => "~/client_max_body_size/" } },
 { type => "error", error => { type => "api_error", message => "~/no provider could answer.*ant:error/" } }]
--- no_error_log
[alert]



=== TEST 14: stream passthrough is not buffered: events leave as the provider sends them (echo module provider with delays)
--- providers
    aigw_provider slow format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=k;
    aigw_model anthropic/claude-sonnet-4.6 slow:claude-sonnet-4-6;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /v1/messages {
            default_type text/event-stream;
            echo 'event: message_start';
            echo 'data: {"type":"message_start","message":{"id":"msg_slow","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'event: content_block_start';
            echo 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}';
            echo '';
            echo 'event: content_block_delta';
            echo 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"one"}}';
            echo '';
            echo_flush;
            echo_sleep 0.2;
            echo 'event: content_block_stop';
            echo 'data: {"type":"content_block_stop","index":0}';
            echo '';
            echo 'event: message_delta';
            echo 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}';
            echo '';
            echo 'event: message_stop';
            echo 'data: {"type":"message_stop"}';
            echo '';
        }
    }
--- request eval
"POST /v1/messages\n$::SmallStream"
--- more_headers
Content-Type: application/json
--- sse_events eval
["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
--- stream_min_span: 0.35
--- stream_first_byte_max: 0.25
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=anthropic/claude-sonnet-4.6 rm=anthropic/claude-sonnet-4.6 p=slow pm=claude-sonnet-4-6 s=anthropic st=1 in=3 out=2 cr=0 cw=0 rs=0 src=provider a=slow:200
--- no_error_log
[error]
