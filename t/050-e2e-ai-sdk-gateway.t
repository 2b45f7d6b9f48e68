# Real client: the AI SDK's gateway provider (@ai-sdk/gateway, installed in
# t/e2e by `make deps`): getSpendReport() against GET /v1/report and
# getCredits() against GET /v1/credits after requests through the gateway.  t/e2e/ai-sdk-gateway.mjs starts the mock
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
node t/e2e/ai-sdk-gateway.mjs report
--- client_output_like
# 1/1 passed
--- no_error_log
[error]
[warn]



=== TEST 2: @ai-sdk/gateway getCredits() of a budgeted key, a key without budget, an admin key; an unknown key; the report of a key and of the admin key
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.50 output=10;
    aigw_zone aigw 1m;
    aigw_key team sha256:6ef19604df802e337d1cb32296db9cb248e4f2480a417db57d21dd298722d77e budget=10/total;
    aigw_key other sha256:fc16a1a80443141c51ea59c6265853c46337e1cbe4812ccdf2a91ec88c0138eb rpm=1000;
    aigw_key ops sha256:96dfc51ab37fd6a87b355bf80606353c12d53ffcea27846b69a53aa6696f32d9 admin;
--- config
    location = /v1/report {
        aigw_report;
    }
    location = /v1/credits {
        aigw_credits;
    }
    location / {
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-gateway.mjs credits
--- client_output_like
# 1/1 passed
--- no_error_log
[error]
[warn]
