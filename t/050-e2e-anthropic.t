# Real clients across the two wire formats: the official @anthropic-ai/sdk
# against the gateway in front of an Anthropic-format mock (passthrough)
# and an OpenAI-format mock (translated), and the `openai` SDK in front of
# the Anthropic mock.  The scripts are t/e2e/anthropic-sdk.mjs (installed
# by `make deps`); they start the mocks themselves on
# $TEST_NGINX_RAND_PORT_1 (OpenAI, /v1) and $TEST_NGINX_RAND_PORT_2
# (Anthropic) and check both what the SDK got and what the provider got.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/@anthropic-ai/sdk') {
    fail("t/e2e/node_modules/\@anthropic-ai/sdk is missing: run 'make deps' "
         . "(npm ci in t/e2e)");
    exit 1;
}

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => <<'_EOC_') unless defined $block->http_config;
    log_format aigw 'AIGW $request_method $request_uri $status '
                    'model=$aigw_model provider=$aigw_provider '
                    'attempts=$aigw_attempts stream=$aigw_stream '
                    'in=$aigw_input_tokens out=$aigw_output_tokens';

    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;

    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6
               input=3 output=15;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.5 output=10;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    access_log logs/access.log aigw;

    location / {
        aigw_pass;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: @anthropic-ai/sdk -> Anthropic mock: create, stream, tool use, thinking, countTokens
--- client_cmd
node t/e2e/anthropic-sdk.mjs "ant: messages"
--- client_output_like
# 5/5 passed
--- access_log
AIGW POST /v1/messages 200 model=anthropic/claude-sonnet-4.6 provider=ant attempts=ant:200 stream=0 in=31 out=8
AIGW POST /v1/messages 200 model=anthropic/claude-sonnet-4.6 provider=ant attempts=ant:200 stream=1 in=12 out=6
--- no_error_log
[error]
[warn]



=== TEST 2: @anthropic-ai/sdk -> Anthropic mock: error classes
--- client_cmd
node t/e2e/anthropic-sdk.mjs "ant: errors"
--- client_output_like
# 1/1 passed
--- error_log
provider "ant" rejected the gateway's credentials (401): invalid x-api-key
--- no_error_log
[alert]
[crit]



=== TEST 3: @anthropic-ai/sdk -> OpenAI mock (translated): create, stream, tools, countTokens estimate
--- client_cmd
node t/e2e/anthropic-sdk.mjs "xlat: messages" "xlat: tool"
--- client_output_like
# 5/5 passed
--- access_log
AIGW POST /v1/messages 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=0 in=19 out=3
AIGW POST /v1/messages 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=1 in=14 out=3
--- no_error_log
[error]
[warn]



=== TEST 4: @anthropic-ai/sdk -> OpenAI mock (translated): error classes
--- client_cmd
node t/e2e/anthropic-sdk.mjs "xlat: errors"
--- client_output_like
# 1/1 passed
--- error_log
provider "oai" rejected the gateway's credentials (401): Incorrect API key provided
--- no_error_log
[alert]
[crit]



=== TEST 5: openai SDK -> Anthropic mock (translated): create, stream, tools, errors
--- client_cmd
node t/e2e/anthropic-sdk.mjs oai2ant:
--- client_output_like
# 4/4 passed
--- access_log
AIGW POST /v1/chat/completions 200 model=anthropic/claude-sonnet-4.6 provider=ant attempts=ant:200 stream=0 in=23 out=5
--- no_error_log
[error]
