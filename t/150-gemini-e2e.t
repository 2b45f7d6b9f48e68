# Real clients: the official `openai` and `@anthropic-ai/sdk` npm SDKs
# (t/e2e, installed by `make deps`) against the gateway in front of a
# Gemini API mock (t/e2e/gemini.mjs starts it on $TEST_NGINX_RAND_PORT_1
# and checks what the SDKs got and what the provider got).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/openai'
        && -d 't/e2e/node_modules/@anthropic-ai/sdk')
{
    fail("t/e2e/node_modules is missing the SDKs: run 'make deps' "
         . "(npm ci in t/e2e)");
    exit 1;
}

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: openai and @anthropic-ai/sdk against format=gemini: chat, streams, the tool loop with thought signatures, a blocked prompt, a 429
--- http_config
    log_format aigw 'AIGW $request_method $request_uri $status '
                    'model=$aigw_model provider=$aigw_provider '
                    'attempts=$aigw_attempts stream=$aigw_stream '
                    'in=$aigw_input_tokens out=$aigw_output_tokens';

    aigw_provider google format=gemini key=gk-e2e
                         url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    aigw_model google/gemini-3-flash google:gemini-3-flash;
--- config
    access_log logs/access.log aigw;

    location / {
        aigw_pass;
    }
--- client_cmd
node t/e2e/gemini.mjs
--- client_output_like
# 6/6 passed
--- access_log
AIGW POST /v1/chat/completions 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=0 in=10 out=5
AIGW POST /v1/chat/completions 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=1 in=4 out=12
AIGW POST /v1/messages 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=0 in=20 out=8
AIGW POST /v1/messages 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=0 in=10 out=5
AIGW POST /v1/messages 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=1 in=6 out=5
AIGW POST /v1/messages 200 model=google/gemini-3-flash provider=google attempts=google:200 stream=0 in=3 out=0
AIGW POST /v1/chat/completions 429 model=google/gemini-3-flash provider=google attempts=google:429 stream=0 in=0 out=0
--- no_error_log
[alert]
[crit]
