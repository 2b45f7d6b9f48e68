# Real client: Claude Code (`claude -p`, npm @anthropic-ai/claude-code with
# its native binary from the platform optionalDependency, installed in
# t/e2e by `make deps`) with ANTHROPIC_BASE_URL at the gateway, in front
# of an Anthropic-format mock (passthrough), of an OpenAI-format mock and
# of a Gemini API mock (translated).  t/e2e/claude-code.mjs starts the
# mocks on $TEST_NGINX_RAND_PORT_1 (OpenAI, /v1), $TEST_NGINX_RAND_PORT_2
# (Anthropic) and $TEST_NGINX_RAND_PORT_3 (Gemini) and runs claude offline
# (temporary HOME, nonessential traffic off).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless ($ENV{AIGW_CLAUDE_BIN} || -d 't/e2e/node_modules/@anthropic-ai/claude-code') {
    fail("t/e2e/node_modules/\@anthropic-ai/claude-code is missing: run 'make deps' "
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

    aigw_provider google format=gemini key=gk-cc-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3;

    aigw_model claude-* ant;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06;
    aigw_model google/gemini-3-flash google:gemini-3-flash;
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

=== TEST 1: claude -p "say hi" -> gateway -> Anthropic mock
--- client_cmd
node t/e2e/claude-code.mjs anthropic:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log eval
[
    qr{AIGW POST /v1/messages\?beta=true 200 model=claude-\S+ provider=ant attempts=ant:200 stream=1 in=2048 out=9},
]
--- no_error_log
[error]
[warn]



=== TEST 2: claude -p "say hi" --model openai/gpt-4o -> gateway -> OpenAI mock (translated)
--- client_cmd
node t/e2e/claude-code.mjs openai:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log
AIGW POST /v1/messages?beta=true 200 model=openai/gpt-4o provider=oai attempts=oai:200 stream=1 in=3000 out=8
--- no_error_log
[error]
[warn]



=== TEST 3: a byok gateway key in x-ai-gateway-api-key (ANTHROPIC_CUSTOM_HEADERS), Claude Code's own Authorization forwarded
--- http_config
    log_format aigw 'AIGW $request_method $request_uri $status '
                    'key=$aigw_key provider=$aigw_provider';

    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;

    aigw_model claude-* ant;

    aigw_key max sha256:8341ad2839763984cbd45751ecf4dcea63abc5ff1217f73d4c82212e8514d261 byok;
--- client_cmd
node t/e2e/claude-code.mjs byok:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log eval
[
    qr{AIGW POST /v1/messages\?beta=true 200 key=max provider=ant},
]
--- no_error_log eval
["[error]", "[warn]", qr/^(?!.*http header:).*(?:sk-own-max-token|gw-byok-secret)/m]



=== TEST 4: ANTHROPIC_MODEL=google/gemini-3-flash -> gateway -> Gemini mock (translated): a tool loop (Read) with the thought signature round trip
--- client_cmd
node t/e2e/claude-code.mjs gemini:
--- client_output_like
# 1/1 passed
--- client_timeout: 60
--- access_log eval
[
    qr{AIGW POST /v1/messages\?beta=true 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=1 in=4000 out=30},
    qr{AIGW POST /v1/messages\?beta=true 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=1 in=4100 out=7},
]
--- no_error_log
[error]
[warn]
