# No way to hide usage: every field the gateway reads from a client body
# is matched by its decoded name (JSON escapes in keys) and refused when it
# is given twice, at the top level and nested; an OpenAI-format stream
# always asks its provider for usage, whatever the client wrote, and the
# usage chunk still reaches only clients that asked for it.
#
# Providers: the fixture mock (t/fixtures/translate/mock.js) on port 1,
# which records what it received in /mock_last.json; the OpenAI echo mock
# (t/fixtures/openai/echo.js) on port 2, which streams a usage chunk only
# when its own JSON parser (the last duplicate wins, escapes decoded) sees
# stream_options.include_usage true, and echoes the body it received.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our $Echo = <<'_EOC_';
    js_import echo from $TEST_NGINX_FIXTURES/openai/echo.js;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-p1;
    aigw_model s/m p1:model-s;
_EOC_

our $Msgs = '"messages":[{"role":"user","content":"hi"}]';

sub oai { "POST /v1/chat/completions\n{\"model\":\"s/m\",$_[0],$::Msgs}" }

sub dup400 {
    my $field = shift;
    return { error => { message => "duplicate field \"$field\"",
                        type => "invalid_request_error" } };
}

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: OpenAI passthrough: an escaped include_usage false is forced to true; the usage is counted and hidden from the client
--- providers eval: $::Echo
--- request eval
[ main::oai('"stream":true,"stream_options":{"include\u005fusage":false}'),
  main::oai('"stream":true,"stream_options":{"x":1,"include\u005fusage":null}'),
  main::oai('"stream":true,"stream\u005foptions":{"include_usage":false}'),
  main::oai('"stre\u0061m":true'),
  main::oai('"stream":true,"stream_options":{"include\u005fusage":true}') ]
--- more_headers
Content-Type: application/json
--- sse_data eval
[ [ { echo => { body => '{"model":"model-s","stream":true,"stream_options":{"include\u005fusage":true},"messages":[{"role":"user","content":"hi"}]}' } },
    qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]" ],
  [ { echo => { body => '{"model":"model-s","stream":true,"stream_options":{"x":1,"include\u005fusage":true},"messages":[{"role":"user","content":"hi"}]}' } },
    qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]" ],
  [ { echo => { body => '{"model":"model-s","stream":true,"stream\u005foptions":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}' } },
    qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]" ],
  [ { echo => { body => '{"model":"model-s","stre\u0061m":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}' } },
    qr/"Hel"/, qr/"lo"/, qr/"stop"/, "[DONE]" ],
  [ qr/"echo"/, qr/"Hel"/, qr/"lo"/, qr/"stop"/,
    { choices => [], usage => { prompt_tokens => 21, completion_tokens => 13 } }, "[DONE]" ] ]
--- response_body_unlike eval
[qr/"usage"/, qr/"usage"/, qr/"usage"/, qr/"usage"/, qr/^\x{0}/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=s/m rm=s/m p=p1 pm=model-s s=openai st=1 in=21 out=13 cr=0 cw=0 rs=0 src=provider a=p1:200
AIGW /v1/chat/completions 200 m=s/m rm=s/m p=p1 pm=model-s s=openai st=1 in=21 out=13 cr=0 cw=0 rs=0 src=provider a=p1:200
AIGW /v1/chat/completions 200 m=s/m rm=s/m p=p1 pm=model-s s=openai st=1 in=21 out=13 cr=0 cw=0 rs=0 src=provider a=p1:200
AIGW /v1/chat/completions 200 m=s/m rm=s/m p=p1 pm=model-s s=openai st=1 in=21 out=13 cr=0 cw=0 rs=0 src=provider a=p1:200
AIGW /v1/chat/completions 200 m=s/m rm=s/m p=p1 pm=model-s s=openai st=1 in=21 out=13 cr=0 cw=0 rs=0 src=provider a=p1:200
--- no_error_log
[error]



=== TEST 2: OpenAI passthrough: duplicates, in either order, escaped or not, top-level or nested, are a 400 naming the field
--- providers eval: $::Echo
--- request eval
[ main::oai('"stream":true,"stream_options":{"include_usage":true,"include\u005fusage":false}'),
  main::oai('"stream":true,"stream_options":{"include_usage":false,"include_usage":true}'),
  main::oai('"stream":true,"stream_options":{"include_usage":true,"include_usage":false}'),
  main::oai('"stream":true,"stream_options":{"include_usage":true},"stream\u005foptions":{"include_usage":false}'),
  main::oai('"stream":true,"stre\u0061m":false'),
  main::oai('"mod\u0065l":"s/m","stream":true'),
  main::oai('"providerOptions":{"gateway":{"user":"a","us\u0065r":"b"}}'),
  main::oai('"providerOptions":{"gateway":{"order":["p1"],"order":[]}}'),
  main::oai('"providerOptions":{"gateway":{"tags":["a"],"t\u0061gs":["b"]}}'),
  main::oai('"providerOptions":{"gateway":{"models":[],"models":["s/m"]}}'),
  main::oai('"providerOptions":{"gateway":{"only":[],"\u006fnly":[]}}'),
  main::oai('"max_tokens":5,"max\u005ftokens":1') ]
--- more_headers
Content-Type: application/json
--- error_code eval
[(400) x 12]
--- response_json eval
[ main::dup400("stream_options.include_usage"),
  main::dup400("stream_options.include_usage"),
  main::dup400("stream_options.include_usage"),
  main::dup400("stream_options"),
  main::dup400("stream"),
  main::dup400("model"),
  main::dup400("providerOptions.gateway.user"),
  main::dup400("providerOptions.gateway.order"),
  main::dup400("providerOptions.gateway.tags"),
  main::dup400("providerOptions.gateway.models"),
  main::dup400("providerOptions.gateway.only"),
  main::dup400("max_tokens") ]
--- no_error_log
[error]



=== TEST 3: escaped keys are read by their names: the gateway's options are taken (the user) and removed from the provider's body
--- providers eval: $::Echo
--- http_config
    log_format user 'USER $aigw_user $aigw_input_tokens';
--- config
    location /v1/ {
        aigw_pass;
        access_log logs/access.log user;
    }
--- request eval
main::oai('"providerOptions":{"g\u0061teway":{"\u0075ser":"u-7"}}')
--- more_headers
Content-Type: application/json
--- response_json eval
{ echo => { body => '{"model":"model-s",' . $::Msgs . '}' } }
--- grep_access_log eval: qr/^USER .*/
--- grep_access_log_out
USER u-7 11
--- no_error_log
[error]



=== TEST 4: Anthropic passthrough: an escaped "stream" streams, its usage counted; duplicates are a 400 in Anthropic's shape
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
[ "POST /v1/messages\n" . '{"model":"claude","max_tokens":64,"stre\u0061m":true,' . $::Msgs . '}',
  "POST /v1/messages\n" . '{"model":"claude","max_tokens":64,"stream":false,"stre\u0061m":true,' . $::Msgs . '}',
  "POST /v1/messages\n" . '{"model":"claude","max_tokens":64,"max\u005ftokens":1,' . $::Msgs . '}',
  "POST /v1/messages\n" . '{"mod\u0065l":"claude","model":"x","max_tokens":64,' . $::Msgs . '}' ]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 400, 400, 400]
--- sse_events eval
[ ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
   "content_block_stop", "message_delta", "message_stop"], undef, undef, undef ]
--- response_json eval
[ undef,
  { type => "error", error => { type => "invalid_request_error", message => 'duplicate field "stream"' } },
  { type => "error", error => { type => "invalid_request_error", message => 'duplicate field "max_tokens"' } },
  { type => "error", error => { type => "invalid_request_error", message => 'duplicate field "model"' } } ]
--- grep_access_log eval: qr/^AIGW .* 200 .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=claude rm=claude p=ant pm=claude-sonnet-4-6 s=anthropic st=1 in=4025 out=15 cr=3000 cw=1000 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 5: OpenAI client, Anthropic provider: an escaped include_usage false hides the chunk, the usage is counted; nested duplicates only a translation reads are a 400
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"claude","stream":true,"stream_options":{"include\u005fusage":false},' . $::Msgs . '}',
  "POST /v1/chat/completions\n" . '{"model":"claude","stream":true,"stream_options":{"include_usage":true,"include\u005fusage":false},' . $::Msgs . '}',
  "POST /v1/chat/completions\n" . '{"model":"claude","tools":[{"type":"function","typ\u0065":"x","function":{"name":"f","parameters":{}}}],' . $::Msgs . '}',
  "POST /v1/chat/completions\n" . '{"model":"claude","tool_choice":{"type":"function","function":{"name":"f","name":"g"}},' . $::Msgs . '}',
  "POST /v1/chat/completions\n" . '{"model":"claude","messages":[{"role":"user","role":"system","content":"hi"}]}' ]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 400, 400, 400, 400]
--- sse_data eval
[ [ qr/"role":"assistant"/, qr/"Hello"/, qr/rld/, qr/"stop"/, "[DONE]" ], undef, undef, undef, undef ]
--- response_body_unlike eval
[qr/usage/, qr/^\x{0}/, qr/^\x{0}/, qr/^\x{0}/, qr/^\x{0}/]
--- response_json eval
[ undef,
  main::dup400("stream_options.include_usage"),
  main::dup400("type"),
  main::dup400("name"),
  main::dup400("role") ]
--- grep_access_log eval: qr/^AIGW .* 200 .*/
--- grep_access_log_out
AIGW /v1/chat/completions 200 m=claude rm=claude p=ant pm=claude-sonnet-4-6 s=openai st=1 in=4025 out=15 cr=3000 cw=1000 rs=0 src=provider a=ant:200
--- no_error_log
[error]



=== TEST 6: Anthropic client, OpenAI provider: the provider is asked for usage; metadata.user_id and thinking duplicates are a 400
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model gpt oai:gpt-5.4;
--- request eval
[ "POST /v1/messages\n" . '{"model":"gpt","max_tokens":64,"stre\u0061m":true,' . $::Msgs . '}',
  "GET /mock_last.json",
  "POST /v1/messages\n" . '{"model":"gpt","max_tokens":64,"metadata":{"user_id":"a","user\u005fid":"b"},' . $::Msgs . '}',
  "POST /v1/messages\n" . '{"model":"gpt","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":1024,"type":"disabled"},' . $::Msgs . '}' ]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 400, 400]
--- response_json eval
[ undef,
  { body => { stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true } } },
  { type => "error", error => { type => "invalid_request_error", message => 'duplicate field "user_id"' } },
  { type => "error", error => { type => "invalid_request_error", message => 'duplicate field "type"' } } ]
--- grep_access_log eval: qr/^AIGW \/v1\/messages 200 .*/
--- grep_access_log_out
AIGW /v1/messages 200 m=gpt rm=gpt p=oai pm=gpt-5.4 s=anthropic st=1 in=120 out=9 cr=64 cw=0 rs=0 src=provider a=oai:200
--- no_error_log
[error]
