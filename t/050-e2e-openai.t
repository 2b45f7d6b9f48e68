# Real client: the official `openai` npm SDK (t/e2e, installed by
# `make deps`) against the gateway in front of an OpenAI-format mock
# provider.  Each block runs a group of the tests of t/e2e/openai-sdk.mjs;
# the script starts the mock itself on $TEST_NGINX_RAND_PORT_1 and checks
# both what the SDK got and what the provider got.  Nothing listens on
# $TEST_NGINX_RAND_PORT_3/4 (the providers of down/gpt).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/openai') {
    fail("t/e2e/node_modules/openai is missing: run 'make deps' "
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

    aigw_provider oai   format=openai key=sk-oai-mock
                        url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider dead1 format=openai key=sk-dead
                        url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1;
    aigw_provider dead2 format=openai key=sk-dead
                        url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/v1;

    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.5 output=10;
    aigw_model openai/text-embedding-3-small oai:text-embedding-3-small
               input=0.02;
    aigw_model oai/* oai;
    aigw_model down/gpt dead1:gpt dead2:gpt;
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

=== TEST 1: openai SDK: chat.completions.create, streaming with and without include_usage
--- client_cmd
node t/e2e/openai-sdk.mjs chat:
--- client_output_like
# 3/3 passed
--- access_log
AIGW POST /v1/chat/completions 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=0 in=21 out=4
AIGW POST /v1/chat/completions 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=1 in=9 out=4
AIGW POST /v1/chat/completions 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=1 in=17 out=3
--- no_error_log
[error]
[warn]



=== TEST 2: openai SDK: parallel tool calls (stream helper, interleaved deltas), tool round trip
--- client_cmd
node t/e2e/openai-sdk.mjs tools:
--- client_output_like
# 3/3 passed
--- no_error_log
[error]



=== TEST 3: openai SDK: embeddings, models.list, models.retrieve
--- client_cmd
node t/e2e/openai-sdk.mjs embeddings: models:
--- client_output_like
# 2/2 passed
--- no_error_log
[error]



=== TEST 4: openai SDK: error classes (400, 404, 429, 401, 500, 502)
--- client_cmd
node t/e2e/openai-sdk.mjs errors:
--- client_output_like
# 6/6 passed
--- access_log
AIGW POST /v1/chat/completions 502 model=down/gpt
--- no_error_log
[alert]
