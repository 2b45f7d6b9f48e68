# Claude Code compatibility (shared/reference/clients.md, sections 1 and
# 3): a synthetic ~78 KB request shaped exactly like Claude Code 2.1.197's
# (t/fixtures/anthropic/claude-code-request.json, made by
# gen-claude-code.py) sent to /v1/messages?beta=true with its headers, as
# a stream and as the non-stream retry, to an Anthropic provider (byte-
# faithful passthrough: md5 of what the mock received) and to an OpenAI
# provider (translated); a multi-MB body; HEAD on the base URL; model
# strings routed by configured slugs.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our ($CC, $CCNoStream, $CCRouted, $CCNoStreamRouted, $Big, $BigRouted, $CCHeaders,
     $Fx, $OpenAITools);

$CC = main::fixture('anthropic/claude-code-request.json');
($CCNoStream = $CC) =~ s/,"stream":true}$/}/ or die "no stream in the fixture";

# the model as the Anthropic provider gets it when the slug names an id
($CCRouted = $CC) =~ s/^\{"model":"claude-opus-4-8"/{"model":"claude-opus-4-8-20260401"/ or die;
($CCNoStreamRouted = $CCNoStream) =~ s/^\{"model":"claude-opus-4-8"/{"model":"claude-opus-4-8-20260401"/
    or die;

# over 3 MB: a long tool output in the history, as long sessions have
($Big = $CC) =~ s/("content":"make: \*\*\* \[Makefile:12: test\] Error 1\\n)/$1 . ("t\/010-smoke.t .. ok\\n" x 160000)/e
    or die;
($BigRouted = $Big) =~ s/^\{"model":"claude-opus-4-8"/{"model":"claude-opus-4-8-20260401"/ or die;

$CCHeaders = <<'_EOH_';
Content-Type: application/json
authorization: Bearer gateway-key-from-claude-code
anthropic-version: 2023-06-01
anthropic-beta: claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24
anthropic-dangerous-direct-browser-access: true
x-app: cli
user-agent: claude-cli/2.1.197 (external, sdk-cli)
x-claude-code-session-id: 3f2e1d0c-b9a8-4765-8432-10fedcba9876
x-stainless-lang: js
x-stainless-package-version: 0.94.0
x-stainless-os: Linux
x-stainless-arch: x64
x-stainless-runtime: node
x-stainless-runtime-version: v26.3.0
x-stainless-retry-count: 0
x-stainless-timeout: 600
accept: application/json
accept-encoding: gzip, deflate, br, zstd
_EOH_

# the fixture parsed as the harness parses response bodies (no UTF-8
# decoding), and its tools as OpenAI function tools
$Fx = JSON::PP->new->decode($CC);
$OpenAITools = [ map { { type => 'function',
                         function => { name => $_->{name}, description => $_->{description},
                                       parameters => $_->{input_schema} } } } @{ $Fx->{tools} } ];

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: the stream to an Anthropic provider: the body the provider gets is the client's but for the model (md5), the events come back byte for byte
--- providers
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=sk-ant-api03-provider;
    aigw_model claude-opus-4-8 anthropic:claude-opus-4-8-20260401;
--- config
    location = /mock_last.json { root html; }
    location / {
        aigw_pass;
        access_log logs/access.log aigw;
    }
--- request eval
["POST /v1/messages?beta=true\n$::CC", "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, ""]
--- response_body_filters eval
[sub { $_[0] =~ /^event:/ ? main::md5($_[0]) : $_[0] }]
--- response_body eval
[main::fixture_md5("anthropic/text.sse"), undef]
--- response_headers eval
[{ "Content-Type" => "text/event-stream", "Content-Encoding" => undef, "X-AIGW-Provider" => "anthropic" }, undef]
--- response_json eval
[undef,
 { uri => "/anthropic/text/v1/messages", args => "",
   bytes => length($::CCRouted), md5 => main::md5($::CCRouted),
   headers => { "x-api-key" => "sk-ant-api03-provider",
                "anthropic-version" => "2023-06-01",
                "anthropic-beta" => "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24",
                "accept-encoding" => "identity", "accept" => "text/event-stream" },
   body => { model => "claude-opus-4-8-20260401", stream => JSON::PP::true } }]
--- response_body_unlike eval
[undef, qr/gateway-key-from-claude-code|"authorization"|x-stainless|x-claude-code|x-app|gzip/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages?beta=true 200 m=claude-opus-4-8 rm=claude-opus-4-8 p=anthropic pm=claude-opus-4-8-20260401 s=anthropic st=1 in=4025 out=15 cr=3000 cw=1000 rs=0 src=provider a=anthropic:200
--- no_error_log
[error]



=== TEST 2: a wildcard slug routes any model string; the id is the model itself: the provider gets the client's exact bytes
--- providers
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude-* anthropic;
--- request eval
["POST /v1/messages?beta=true\n$::CC", "GET /mock_last.json",
 "POST /v1/messages?beta=true\n" . ($::CCNoStream =~ s/"claude-opus-4-8"/"my-custom-model"/r), "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, "", $::CCHeaders, ""]
--- error_code eval
[200, 200, 404, 200]
--- response_json eval
[undef, { md5 => main::fixture_md5("anthropic/claude-code-request.json"), body => { model => "claude-opus-4-8" } },
 { type => "error", error => { type => "not_found_error", message => "~/my-custom-model/" } },
 { md5 => main::fixture_md5("anthropic/claude-code-request.json") }]
--- no_error_log
[error]



=== TEST 3: the non-streaming retry (the same body without stream) passes through too
--- providers
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude-opus-4-8 anthropic:claude-opus-4-8-20260401;
--- request eval
["POST /v1/messages?beta=true\n$::CCNoStream", "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, ""]
--- response_body eval
[main::fixture("anthropic/text.json"), undef]
--- response_json eval
[undef, { md5 => main::md5($::CCNoStreamRouted), headers => { accept => "application/json" } }]
--- response_headers eval
[{ "Content-Type" => "application/json", "Content-Length" => length(main::fixture("anthropic/text.json")) }, undef]
--- no_error_log
[error]



=== TEST 4: HEAD on the base URL (Claude Code's warm-up) is 200
--- config
    location / { aigw_pass; }
--- request eval
["HEAD /", "HEAD /v1/messages?beta=true", "HEAD /abort-after/3"]
--- more_headers
user-agent: Bun/1.4.0
--- error_code eval
[200, 200, 200]
--- no_error_log
[error]



=== TEST 5: the stream to an OpenAI provider: translated (system blocks, the mid-conversation system message, thinking dropped, tool round trip, 24 tools with their schemas), succeeds as Anthropic events
--- providers
    aigw_provider openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=sk-oai;
    aigw_model claude-opus-4-8 openai:gpt-5.4 reasoning;
--- request eval
["POST /v1/messages?beta=true\n$::CC", "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, ""]
--- sse_events eval
[["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
  "content_block_stop", "message_delta", "message_stop"], undef]
--- sse_data eval
[[ { type => "message_start", message => { model => "gpt-5.4-2026-03-01", role => "assistant" } },
   { type => "ping" },
   { type => "content_block_start", index => 0, content_block => { type => "text", text => "" } },
   { type => "content_block_delta", index => 0, delta => { type => "text_delta", text => "Hi" } },
   { type => "content_block_delta", index => 0 },
   { type => "content_block_stop", index => 0 },
   { type => "message_delta", delta => { stop_reason => "end_turn" }, usage => { output_tokens => 9 } },
   { type => "message_stop" } ], undef]
--- response_json eval
my $m = $::Fx->{messages};
my $sys = $::Fx->{system};
[undef,
 { uri => "/translate/openai-text/v1/chat/completions",
   headers => { authorization => "Bearer sk-oai" },
   body => {
     model => "gpt-5.4", max_completion_tokens => 64000, reasoning_effort => "high",
     stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true },
     tools => $::OpenAITools,
     messages => [
       { role => "system", content => [ map { { type => "text", text => $_->{text} } } @$sys ] },
       { role => "user", content => [ map { { type => "text", text => $_->{text} } } @{ $m->[0]{content} } ] },
       { role => "system", content => $m->[1]{content} },
       { role => "assistant", content => undef,
         tool_calls => [ { id => $m->[2]{content}[1]{id}, type => "function",
                           function => { name => "Bash",
                                         arguments => '{"command":"make test 2>&1 | tail -n 40","description":"Run the test suite"}' } } ] },
       { role => "tool", tool_call_id => $m->[2]{content}[1]{id}, content => $m->[3]{content}[0]{content} } ] } }]
--- response_body_unlike eval
[undef, qr/cache_control|signature|"thinking"|context_management|output_config|"metadata":\{"user_id"|"user":"|device_id|anthropic-beta|x-api-key|gateway-key/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/messages?beta=true 200 m=claude-opus-4-8 rm=claude-opus-4-8 p=openai pm=gpt-5.4 s=anthropic st=1 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=openai:200
--- no_error_log
[error]



=== TEST 6: the non-streaming retry to an OpenAI provider: an Anthropic message back
--- providers
    aigw_provider openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-tools/v1 key=sk-oai;
    aigw_model claude-opus-4-8 openai:gpt-5.4;
--- request eval
["POST /v1/messages?beta=true\n$::CCNoStream", "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, ""]
--- response_json eval
[{ type => "message", role => "assistant", stop_reason => "tool_use",
   content => [ { type => "thinking" }, { type => "text", text => "Checking both." },
                { type => "tool_use", id => "call_P", input => { city => "Paris", unit => "c" } },
                { type => "tool_use", id => "call_T", input => { city => "Tokyo", days => [1, 2] } } ] },
 { body => { model => "gpt-5.4", max_tokens => 64000, tools => $::OpenAITools } }]
--- response_body_unlike eval
[undef, qr/"stream"|reasoning_effort/]
--- no_error_log
[error]



=== TEST 7: a multi-MB Claude Code body: passed through byte-faithfully (md5) and translated, streaming and not
--- providers
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_provider openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model claude-opus-4-8 anthropic:claude-opus-4-8-20260401;
    aigw_model gpt openai:gpt-5.4;
--- timeout: 10
--- request eval
["POST /v1/messages?beta=true\n$::Big", "GET /mock_last.json",
 "POST /v1/messages?beta=true\n" . ($::Big =~ s/^\{"model":"claude-opus-4-8"/{"model":"gpt"/r), "GET /mock_last.json",
 "POST /v1/messages?beta=true\n" . ($::Big =~ s/^\{"model":"claude-opus-4-8"/{"model":"gpt"/r =~ s/,"stream":true}$/}/r),
 "GET /mock_last.json"]
--- more_headers eval
[$::CCHeaders, "", $::CCHeaders, "", $::CCHeaders, ""]
--- response_body_filters eval
[sub { $_[0] =~ /^event:/ ? main::md5($_[0]) : $_[0] }]
--- response_body eval
[main::fixture_md5("anthropic/text.sse"), undef, undef, undef, undef, undef]
--- response_json eval
[undef, { bytes => length($::BigRouted), md5 => main::md5($::BigRouted) },
 undef, { body => { model => "gpt-5.4", messages => [ {}, {}, {}, {},
                                                      { role => "tool", content => "~/(?s)^make: \\*\\*\\* \\[Makefile:12: test\\] Error 1\\n(t\\/010-smoke\\.t \\.\\. ok\\n)+.*\\.\\.\\.\\[3200[0-9]{3} chars\\]\$/" } ] } },
 { type => "message", content => [ { type => "text" } ] },
 { body => { model => "gpt-5.4", messages => [ {}, {}, {}, {}, { role => "tool" } ] }, bytes => "<ANY>" }]
--- response_headers eval
[{ "Content-Type" => "text/event-stream" }, undef, { "Content-Type" => "text/event-stream" }, undef,
 { "Content-Type" => "application/json" }, undef]
--- response_body_like eval
[undef, qr/"bytes":\d{7},/, undef, qr/"bytes":\d{7},/, qr/^\{/, qr/"bytes":\d{7},/]
--- sse_events eval
[undef, undef, ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
  "content_block_stop", "message_delta", "message_stop"], undef, undef, undef]
--- no_error_log
[error]
