# Real clients through format=bedrock: the official `openai` and
# `@anthropic-ai/sdk` npm SDKs and Claude Code (t/e2e, installed by
# `make deps`) against the gateway in front of the Bedrock (Converse) mock
# of t/e2e/bedrock.mjs, which checks every request's SigV4 signature and
# answers Converse JSON or binary ConverseStream frames.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/openai' && -d 't/e2e/node_modules/@anthropic-ai/sdk') {
    fail("t/e2e/node_modules is missing the SDKs: run 'make deps' (npm ci in t/e2e)");
    exit 1;
}

BEGIN {
    $ENV{AIGW_T050_AK} = 'AKIDEXAMPLE';
    $ENV{AIGW_T050_SK} = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
}

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => <<'_EOC_') unless defined $block->http_config;
    log_format aigw 'AIGW $request_method $request_uri $status '
                    'model=$aigw_model provider=$aigw_provider '
                    'attempts=$aigw_attempts stream=$aigw_stream '
                    'in=$aigw_input_tokens out=$aigw_output_tokens';

    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     region=us-east-1
                     access_key_env=AIGW_T050_AK secret_key_env=AIGW_T050_SK;

    aigw_model bedrock/claude br:us.anthropic.claude-sonnet-4-20250514-v1:0 reasoning;
    aigw_model claude-*       br:us.anthropic.claude-3-5-haiku-20241022-v1:0;
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

=== TEST 1: openai SDK: tools and their results, a stream with a tool call
--- client_cmd
node t/e2e/bedrock.mjs openai:
--- client_output_like
# 2/2 passed
--- access_log
AIGW POST /v1/chat/completions 200 model=bedrock/claude provider=br attempts=br:200 stream=0 in=21 out=9
AIGW POST /v1/chat/completions 200 model=bedrock/claude provider=br attempts=br:200 stream=0 in=21 out=9
AIGW POST /v1/chat/completions 200 model=bedrock/claude provider=br attempts=br:200 stream=1 in=21 out=9
--- no_error_log
[error]
[warn]



=== TEST 2: anthropic SDK: messages.create and messages.stream with reasoning and a tool call
--- client_cmd
node t/e2e/bedrock.mjs anthropic:
--- client_output_like
# 1/1 passed
--- access_log
AIGW POST /v1/messages 200 model=bedrock/claude provider=br attempts=br:200 stream=0 in=21 out=9
AIGW POST /v1/messages 200 model=bedrock/claude provider=br attempts=br:200 stream=1 in=21 out=9
--- no_error_log
[error]
[warn]



=== TEST 3: Claude Code with ANTHROPIC_MODEL=bedrock/claude: a tool loop through Bedrock
--- client_cmd
node t/e2e/bedrock.mjs claude:
--- client_output_like
# 1/1 passed
--- client_timeout: 40
--- access_log eval
[ qr{AIGW POST /v1/messages\?beta=true 200 model=bedrock/claude provider=br attempts=br:200 stream=1} ]
--- no_error_log
[error]
[warn]
