# Real client: the AI SDK's gateway provider (@ai-sdk/gateway, installed in
# t/e2e by `make deps`): getSpendReport() against GET /v1/report after
# requests through the gateway.  t/e2e/ai-sdk-gateway.mjs starts the mock
# provider itself on $TEST_NGINX_RAND_PORT_1 (OpenAI, /v1).

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

=== TEST 1: @ai-sdk/gateway getSpendReport(): by day, model, provider, credential type, user with filters, tag; an empty range; a bad date
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.50 output=10;
    aigw_zone aigw 1m;
--- config
    location = /v1/report {
        aigw_report;
    }
    location / {
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-gateway.mjs
--- client_output_like
# 1/1 passed
--- no_error_log
[error]
[warn]
