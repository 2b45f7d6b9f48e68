# Real client: OpenAI Codex CLI (`codex exec`, npm @openai/codex with its
# native binary from the platform optionalDependency, installed in t/e2e
# by `make deps`) with a config.toml model provider at the gateway's /v1
# (wire_api = "responses"), in front of a native Responses mock
# (responses=on, passthrough), a Chat-Completions-only mock and an
# Anthropic mock (translated).  t/e2e/codex.mjs starts the mocks on
# $TEST_NGINX_RAND_PORT_1..3 and runs codex offline (temporary CODEX_HOME,
# no login, update check, analytics and web search off); each test is a
# tool loop: exec_command, its output back, a final answer.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless ($ENV{AIGW_CODEX_BIN} || -d 't/e2e/node_modules/@openai/codex') {
    fail("t/e2e/node_modules/\@openai/codex is missing: run 'make deps' "
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

    aigw_provider nat format=openai responses=on key=sk-nat-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3;

    aigw_model native/gpt nat:gpt-5.4;
    aigw_model chat/gpt oai:gpt-5.4;
    aigw_model anthropic/claude ant:claude-sonnet-4-6;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    access_log logs/access.log aigw;
    client_body_buffer_size 1m;

    location / {
        aigw_pass;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: codex exec -> gateway -> native Responses provider (responses=on): exec_command tool loop
--- client_cmd
node t/e2e/codex.mjs native:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log
AIGW POST /v1/responses 200 model=native/gpt provider=nat surface=responses stream=1 in=3000 out=20
AIGW POST /v1/responses 200 model=native/gpt provider=nat surface=responses stream=1 in=3100 out=9
--- no_error_log
[error]
[warn]



=== TEST 2: codex exec -m chat/gpt -> gateway -> Chat Completions provider (translated): exec_command tool loop
--- client_cmd
node t/e2e/codex.mjs chat:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log
AIGW POST /v1/responses 200 model=chat/gpt provider=oai surface=responses stream=1 in=5000 out=21
AIGW POST /v1/responses 200 model=chat/gpt provider=oai surface=responses stream=1 in=5100 out=10
--- no_error_log
[error]
[warn]



=== TEST 3: codex exec -m anthropic/claude -> gateway -> Anthropic provider (translated): exec_command tool loop
--- client_cmd
node t/e2e/codex.mjs anthropic:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log
AIGW POST /v1/responses 200 model=anthropic/claude provider=ant surface=responses stream=1 in=7000 out=22
AIGW POST /v1/responses 200 model=anthropic/claude provider=ant surface=responses stream=1 in=7100 out=11
--- no_error_log
[error]
[warn]
