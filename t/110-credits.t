# GET /v1/credits (aigw_credits): the calling key's balance (what is left
# of its budget in the current period; "0" without a budget) and its
# spend of all time, as decimal USD strings, the shape @ai-sdk/gateway's
# getCredits() validates; 401 without a key, unknown keys and with
# aigw_auth off; 405 for other methods.  aigw_max_output_tokens keeps the
# reservation of a request ($0.005 and a little) below the budgets.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwRedis;

repeat_each(1);

# a/m costs $0.00725 a request, b/m $0.002; kb has no budget and no limit:
# its spend is counted all the same

sub chat {
    my ($model) = @_;
    return "POST /v1/chat/completions\n"
           . qq({"model":"$model","messages":[{"role":"user","content":"x"}]});
}

add_block_preprocessor(sub {
    my $block = shift;

    # a request's accounting is settled in its log phase, after the client
    # has the response: with two workers, the next request waits for it
    $block->set_value(request_gap => '0.05') unless $block->{request_gap};

    my $http = $block->{http_config} ? $block->{http_config}[0] : <<'_EOC_';
    aigw_zone aigw 1m;
    aigw_max_output_tokens 500;
    aigw_key ka sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea budget=1/total;
    aigw_key kb sha256:4d922a846e66117ae609ae86ff0850516bc8a82f913013e771898daa526bfeed;
    aigw_key kd sha256:34edb7457d666704f50494a3e17b8596f7922fa4a90010ff052697e3d19228c5 budget=0.01/day;
    aigw_key ops sha256:a70f71ad25b2a01686c3f59abba5d84ade439126e1784549543b686bf2b0dddc admin;
_EOC_

    $block->set_value(http_config => <<'_EOC_' . $http);
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}';
        }
    }
    aigw_provider pa url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model a/m pa:model-v input=2.50 output=10 cached_input=1.25;
    aigw_model b/m pa:model-v input=1 output=2;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location = /v1/credits {
        aigw_credits;
    }
    location /v1/ {
        aigw_pass;
    }
_EOC_

    $block->set_value(no_error_log => "[error]\n[warn]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

aigw_redis_mode();

run_tests();

__DATA__

=== TEST 1: balance and total_used per key: a total budget, a day budget, no budget ("0"), an admin key without spend
--- request eval
[ main::chat('a/m'), main::chat('a/m'), main::chat('b/m'), main::chat('a/m'),
  "GET /v1/credits", "GET /v1/credits", "GET /v1/credits",
  "GET /v1/credits" ]
--- more_headers eval
[ "Content-Type: application/json\nAuthorization: Bearer sec-a",
  "Content-Type: application/json\nx-api-key: sec-a",
  "Content-Type: application/json\nAuthorization: Bearer sec-b",
  "Content-Type: application/json\nAuthorization: Bearer sec-byok",
  "Authorization: Bearer sec-a", "x-ai-gateway-api-key: sec-b",
  "x-api-key: sec-byok", "Authorization: Bearer sec-admin" ]
--- error_code eval
[ 200, 200, 200, 200, 200, 200, 200, 200 ]
--- response_body eval
[ undef, undef, undef, undef,
  qq({"balance":"0.9855","total_used":"0.0145"}\n),
  qq({"balance":"0","total_used":"0.002"}\n),
  qq({"balance":"0.00275","total_used":"0.00725"}\n),
  qq({"balance":"0","total_used":"0"}\n) ]
--- response_headers eval
[ undef, undef, undef, undef, { 'Content-Type' => 'application/json' },
  undef, undef, undef ]



=== TEST 2: a spent budget: balance "0", total_used keeps counting what was spent
--- http_config
    aigw_zone aigw 1m;
    aigw_max_output_tokens 500;
    aigw_key ka sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea budget=0.008/total;
--- request eval
[ main::chat('a/m'), main::chat('a/m'), "GET /v1/credits" ]
--- more_headers eval
[ "Content-Type: application/json\nAuthorization: Bearer sec-a",
  "Content-Type: application/json\nAuthorization: Bearer sec-a",
  "Authorization: Bearer sec-a" ]
--- error_code eval
[ 200, 402, 200 ]
--- response_body eval
[ undef, undef, qq({"balance":"0.00075","total_used":"0.00725"}\n) ]



=== TEST 3: no key, an unknown key: 401 in the OpenAI shape; other methods: 405 with Allow
--- request eval
[ "GET /v1/credits", "GET /v1/credits", "POST /v1/credits\n{}" ]
--- more_headers eval
[ "X-None: 1", "Authorization: Bearer sec-c",
  "Content-Type: application/json\nAuthorization: Bearer sec-a" ]
--- error_code eval
[ 401, 401, 405 ]
--- response_json eval
[ { error => { message => 'missing gateway key: send it in Authorization: Bearer, x-api-key or x-ai-gateway-api-key',
               type => 'authentication_error', param => undef,
               code => 'invalid_api_key' } },
  { error => { message => 'invalid gateway key',
               type => 'authentication_error', param => undef,
               code => 'invalid_api_key' } },
  { error => { message => 'the credits only answer GET',
               type => 'invalid_request_error', param => undef,
               code => undef } } ]
--- response_headers eval
[ undef, undef, { Allow => 'GET, HEAD' } ]
--- no_error_log eval
[ "[error]", "[warn]", qr/^(?!.*http header:).*sec-[ac]/m ]



=== TEST 4: open mode (aigw_auth off): credits are per gateway key, 401
--- config
    location = /v1/credits {
        aigw_auth off;
        aigw_credits;
    }
--- request
GET /v1/credits
--- more_headers
Authorization: Bearer sec-a
--- error_code: 401
--- response_json
{"error":{"message":"credits are per gateway key, and this location has aigw_auth off","type":"authentication_error","param":null,"code":null}}
