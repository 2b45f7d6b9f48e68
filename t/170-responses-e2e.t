# Real client: the official `openai` npm SDK's Responses API (t/e2e,
# installed by `make deps`) against the gateway in front of a Chat
# Completions mock, an Anthropic mock and a native Responses mock
# (responses=on).  Each block runs a group of the tests of
# t/e2e/responses-sdk.mjs; the script starts the mocks itself and checks
# both what the SDK got and what the providers got.  Codex CLI runs in
# t/170-responses-codex.t.

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
                    'surface=$aigw_surface stream=$aigw_stream '
                    'in=$aigw_input_tokens out=$aigw_output_tokens';

    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    aigw_provider nat format=openai responses=on key=sk-nat-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1;

    aigw_model chat/gpt oai:gpt-5.4;
    aigw_model anthropic/claude ant:claude-sonnet-4-6;
    aigw_model native/gpt nat:gpt-5.4;
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

=== TEST 1: openai SDK: responses.create through a Chat Completions and an Anthropic provider
--- client_cmd
node t/e2e/responses-sdk.mjs create:
--- client_output_like
# 2/2 passed
--- access_log
AIGW POST /v1/responses 200 model=chat/gpt provider=oai surface=responses stream=0 in=21 out=4
AIGW POST /v1/responses 200 model=anthropic/claude provider=ant surface=responses stream=0 in=13 out=5
--- no_error_log
[error]
[warn]



=== TEST 2: openai SDK: responses.stream through a Chat Completions and an Anthropic provider
--- client_cmd
node t/e2e/responses-sdk.mjs stream:
--- client_output_like
# 2/2 passed
--- access_log
AIGW POST /v1/responses 200 model=chat/gpt provider=oai surface=responses stream=1 in=9 out=3
AIGW POST /v1/responses 200 model=anthropic/claude provider=ant surface=responses stream=1 in=30 out=12
--- no_error_log
[error]
[warn]



=== TEST 3: openai SDK: a tools round trip, and a streamed tool call
--- client_cmd
node t/e2e/responses-sdk.mjs tools:
--- client_output_like
# 2/2 passed
--- no_error_log
[error]



=== TEST 4: openai SDK: a native Responses provider, stream and not
--- client_cmd
node t/e2e/responses-sdk.mjs native:
--- client_output_like
# 2/2 passed
--- access_log
AIGW POST /v1/responses 200 model=native/gpt provider=nat surface=responses stream=0 in=40 out=3
AIGW POST /v1/responses 200 model=native/gpt provider=nat surface=responses stream=1 in=7 out=1
--- no_error_log
[error]



=== TEST 5: openai SDK: error classes
--- client_cmd
node t/e2e/responses-sdk.mjs errors:
--- client_output_like
# 1/1 passed
--- no_error_log
[alert]
