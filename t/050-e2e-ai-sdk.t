# Real client: the Vercel AI SDK (`ai` 6 with @ai-sdk/openai-compatible,
# @ai-sdk/openai and @ai-sdk/anthropic, installed in t/e2e by `make deps`)
# against the gateway: generateText, streamText and tool-call round trips
# (the SDK executes the tool and sends its result back), same format and
# translated.  t/e2e/ai-sdk.mjs starts the mock providers itself on
# $TEST_NGINX_RAND_PORT_1 (OpenAI, /v1) and $TEST_NGINX_RAND_PORT_2
# (Anthropic).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/ai') {
    fail("t/e2e/node_modules/ai is missing: run 'make deps' "
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

    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06;
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

=== TEST 1: AI SDK, @ai-sdk/openai-compatible: generateText, streamText, tool round trips (also to an Anthropic provider)
--- client_cmd
node t/e2e/ai-sdk.mjs compat: compat-xlat:
--- client_output_like
# 5/5 passed
--- access_log
AIGW POST /v1/chat/completions 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=0 in=12 out=4
AIGW POST /v1/chat/completions 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=1 in=8 out=3
--- no_error_log
[error]
[warn]



=== TEST 2: AI SDK, @ai-sdk/openai (chat API with baseURL): generateText, streamText, tool round trip
--- client_cmd
node t/e2e/ai-sdk.mjs openai:
--- client_output_like
# 2/2 passed
--- no_error_log
[error]
[warn]



=== TEST 3: AI SDK, @ai-sdk/anthropic: generateText, streamText, tool round trips (also to an OpenAI provider)
--- client_cmd
node t/e2e/ai-sdk.mjs anthropic: anthropic-xlat:
--- client_output_like
# 4/4 passed
--- access_log
AIGW POST /v1/messages 200 model=anthropic/claude-sonnet-4.6 provider=ant attempts=ant:200 stream=0 in=10 out=2
AIGW POST /v1/messages 200 model=anthropic/claude-sonnet-4.6 provider=ant attempts=ant:200 stream=1 in=10 out=3
--- no_error_log
[error]
[warn]
