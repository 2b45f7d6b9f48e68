# Issue 15, item 4: one request fails over across every provider format,
# in the order the client asks (providerOptions.gateway.order: bedrock,
# anthropic, vertex) and then to its fallback model
# (providerOptions.gateway.models: google/gemini-3-flash), on both client
# surfaces, streaming included.
#
# Bedrock: the Perl mock of t/lib/AigwBedrock.pm on port 3, which checks
# the SigV4 signature and answers 429; Anthropic (529), Claude on Vertex
# (503, after a token the mock token endpoint on port 2 granted) and the
# Gemini API (200, t/fixtures/gemini/text) from the fixture mock on port 1.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwBedrock;
require './t/fixtures/translate/common.pl';

BEGIN {
    $ENV{AIGW_T152_AK} = 'AKIDEXAMPLE';
    $ENV{AIGW_T152_SK} = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
}

sub busy_bedrock {
    start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => bedrock_mock(
        key => $ENV{AIGW_T152_AK}, secret => $ENV{AIGW_T152_SK}, region => 'us-east-1',
        reply => sub { { status => 429, headers => [ 'Content-Type' => 'application/json' ],
                         body => '{"message":"Too many requests"}' } }));
}

our $Providers = <<'_EOC_';
    js_import tok from $TEST_NGINX_FIXTURES/vertex/token.js;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        set $mock_dir $TEST_NGINX_SERVER_ROOT/html;
        set $mock_fixtures $TEST_NGINX_FIXTURES;
        set $mock_expires 3599;
        location / { js_content tok.check; }
    }

    aigw_provider bedrock format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 region=us-east-1
                  access_key_env=AIGW_T152_AK secret_key_env=AIGW_T152_SK;
    aigw_provider anthropic format=anthropic key=sk-ant
                  url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/529/anthropic/error-overloaded;
    aigw_provider vertex format=anthropic project=aigw-test location=global
                  url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/anthropic/error-overloaded
                  credentials=$TEST_NGINX_FIXTURES/vertex/sa.json
                  token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/token;
    aigw_provider google format=gemini key=gk-test
                  url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text;

    aigw_model anthropic/claude-sonnet-4-5 vertex:claude-sonnet-4-5@20250929
               anthropic:claude-sonnet-4-5 bedrock:us.anthropic.claude-sonnet-4-5-v1:0;
    aigw_model google/gemini-3-flash google:gemini-3-flash;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $Providers . ($block->http_config // ''));
});

our %Gw = (providerOptions => { gateway => { order => ['bedrock', 'anthropic', 'vertex'],
                                            models => ['google/gemini-3-flash'] } });

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: an OpenAI client: bedrock (429), anthropic (529), vertex (503), then the fallback model on the Gemini API answers
--- init
main::busy_bedrock();
--- request eval
"POST /v1/chat/completions\n" . main::json({ model => 'anthropic/claude-sonnet-4-5', %main::Gw,
    messages => [ { role => 'user', content => 'hi' } ] })
--- more_headers
Content-Type: application/json
--- response_json
{"choices":[{"finish_reason":"stop","message":{"content":"Hello w\u00f6rld \"q\"\n"}}]}
--- grep_access_log eval
qr/AIGW \S+ \d+ m=\S+ .* p=\S+ .* a=\S+/
--- grep_access_log_out eval
qr{^AIGW /v1/chat/completions 200 m=google/gemini-3-flash .* p=google .* a=bedrock:429,anthropic:529,vertex:503,google:200\n\z}
--- no_error_log
[alert]
[crit]



=== TEST 2: an Anthropic client streaming: the same chain, the Gemini answer as Anthropic events
--- init
main::busy_bedrock();
--- request eval
"POST /v1/messages\n" . main::json({ model => 'anthropic/claude-sonnet-4-5', max_tokens => 100, stream => JSON::PP::true, %main::Gw,
    messages => [ { role => 'user', content => 'hi' } ] })
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_body_like
event: message_start[\s\S]*"text":"There are 3"[\s\S]*"stop_reason":"end_turn"[\s\S]*event: message_stop
--- grep_access_log eval
qr/AIGW \S+ \d+ m=\S+ .* p=\S+ .* a=\S+/
--- grep_access_log_out eval
qr{^AIGW /v1/messages 200 m=google/gemini-3-flash .* p=google .* a=bedrock:429,anthropic:529,vertex:503,google:200\n\z}
--- no_error_log
[alert]
[crit]
