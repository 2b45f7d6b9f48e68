# Real client: the Vercel AI SDK (`ai` + @ai-sdk/gateway) speaking its own
# gateway protocol to the gateway (issue 14, item 1): generateText and
# streamText with tools on POST {base}/language-model under /v1/ai, /v3/ai
# and /v4/ai, embed and embedMany on {base}/embedding-model,
# generateImage on {base}/image-model, getAvailableModels() on GET
# {base}/config, file parts, and the SDK's error classes from gateway and
# provider errors.
# t/e2e/ai-sdk-protocol.mjs starts the mock providers itself on
# $TEST_NGINX_RAND_PORT_1 (OpenAI, /v1), $TEST_NGINX_RAND_PORT_2
# (Anthropic) and, in TEST 3, $TEST_NGINX_RAND_PORT_3 (Gemini: image
# output of a Gemini image model through generateImage and result.files).

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

unless (-d 't/e2e/node_modules/@ai-sdk/gateway') {
    fail("t/e2e/node_modules/\@ai-sdk/gateway is missing: run 'make deps' "
         . "(npm ci in t/e2e)");
    exit 1;
}

repeat_each(1);

run_tests();

__DATA__

=== TEST 1: AI SDK gateway protocol, no gateway keys: generateText, streamText with a tool, embed, embedMany, generateImage, a tool round trip, file parts, getAvailableModels(), model/provider errors
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.50 output=10
                             cached_input=1.25;
    aigw_model anthropic/claude-sonnet-4.6 ant:claude-sonnet-4-6 input=3
                                           output=15;
    aigw_model openai/text-embedding-3-small oai:text-embedding-3-small
                                             input=0.02;
    aigw_model openai/dall-e-3 oai:dall-e-3 image=0.04;
    aigw_model openai/gpt-image-1 oai:gpt-image-1 input=5 output=40
                                  image=0.01;
--- config
    location / {
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-protocol.mjs open
--- client_output_like
# 9/9 passed
--- no_error_log
[alert]
[crit]



=== TEST 2: AI SDK gateway protocol with gateway keys: authentication, rpm and budget errors as the SDK's classes
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.50 output=10;
    aigw_zone aigw 1m;
    aigw_key a sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea;
    aigw_key rate sha256:2f756278075706150faf60ffac4228b14ad7d8b5124c18805c476d8799e9e874 rpm=1;
    aigw_key poor sha256:50150c52f3abab42e0bfe6d8da28c980c77ef092570b8605af3925eb5b8cd961 budget=0.001/total;
--- config
    location / {
        aigw_auth on;
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-protocol.mjs keys
--- client_output_like
# 1/1 passed
--- no_error_log
[alert]
[crit]



=== TEST 3: AI SDK gateway protocol to a Gemini image model: generateImage, generateText and streamText whose result.files has the image
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider ant format=anthropic key=sk-ant-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    aigw_provider g format=gemini key=gk-mock
                    url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    aigw_model google/gemini-2.5-flash-image g:gemini-2.5-flash-image
                                             input=0.30 output=30 image=0.039;
--- config
    location / {
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-protocol.mjs gemini
--- client_output_like
# 2/2 passed
--- no_error_log
[alert]
[crit]
