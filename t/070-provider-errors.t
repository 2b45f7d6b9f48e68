# Provider error hygiene: a provider's 401 or 403 (about the gateway's own
# key) never reaches the client as it is: the client gets a 502 in its own
# shape naming the provider, the provider's message goes to the error log
# with key-like words masked; 401/403 fail over (aigw_next_upstream
# http_401 http_403, on by default).  Client headers reach providers only
# through the aigw_pass_request_headers allowlist.
#
# Providers: the fixture mock (t/fixtures/translate/mock.js) on port 1
# (x/echo records what it received in /mock_last.json); fixed 401/403
# answers quoting a key on port 2 (nginx "return").
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our $Key = 'sk-proj-abcdefghijklmnopqrstuvwxyz123456';

our $Denied = <<"_EOC_";
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
        access_log off;
        default_type application/json;
        location /401/ {
            return 401 '{"error":{"message":"Incorrect API key provided: $Key. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
        }
        location /403/ {
            return 403 '{"type":"error","error":{"type":"permission_error","message":"key sk-ant-api03-SECRETSECRETSECRET-0123 may not use this model; token 0123456789abcdef0123456789abcdef"}}';
        }
        location /503/ {
            return 503 '{"error":{"message":"busy","type":"server_error"}}';
        }
    }
    aigw_provider bad url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/401/v1 key=$Key;
    aigw_provider ant format=anthropic url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/403 key=sk-ant-api03-SECRETSECRETSECRET-0123;
    aigw_provider busy url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/503/v1 key=k;
    aigw_provider good url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/translate/openai-text/v1 key=k;
    aigw_model m bad;
    aigw_model a ant;
    aigw_model fo bad good;
    aigw_model ex busy bad;
_EOC_

our $Msgs = '"messages":[{"role":"user","content":"hi"}]';

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: a 401 to an OpenAI client: 502 naming the provider, nothing of the provider's body; the log has the message, the key masked
--- providers eval: $::Denied
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"m",' . $::Msgs . '}',
  "POST /v1/chat/completions\n" . '{"model":"m","stream":true,' . $::Msgs . '}' ]
--- more_headers
Content-Type: application/json
--- error_code eval
[502, 502]
--- response_headers eval
[({ "Content-Type" => "application/json", "X-AIGW-Attempts" => "bad:401" }) x 2]
--- response_json eval
[({ error => { message => 'provider "bad": credentials rejected (401)' } }) x 2]
--- response_body_unlike eval
[qr/sk-proj|abcdef|Incorrect/, qr/sk-proj|abcdef|Incorrect/]
--- error_log
aigw: provider "bad" rejected the gateway's credentials (401): Incorrect API key provided: sk-p***. You can find your API key at https://platform.openai.com/account/api-keys.
--- no_error_log eval
qr/\[(?:error|warn|notice|info)\].*abcdefghijklmnop/



=== TEST 2: a 403 to an Anthropic client of an Anthropic provider (no translation): 502 in Anthropic's shape; every key-like word masked in the log
--- providers eval: $::Denied
--- request eval
"POST /v1/messages\n" . '{"model":"a","max_tokens":9,' . $::Msgs . '}'
--- more_headers
Content-Type: application/json
--- error_code: 502
--- response_json eval
{ type => "error", error => { message => 'provider "ant": credentials rejected (403)' } }
--- response_body_unlike: SECRET|0123|permission
--- error_log
aigw: provider "ant" rejected the gateway's credentials (403): key sk-a*** may not use this model; token 0123***
--- no_error_log eval
[ qr/\[(?:error|warn|notice|info)\].*SECRETSECRET/,
  qr/\[(?:error|warn|notice|info)\].*0123456789abcdef0123/ ]



=== TEST 3: a 401 fails over to the next provider (a provider-side problem), by default
--- providers eval: $::Denied
--- request eval
"POST /v1/chat/completions\n" . '{"model":"fo",' . $::Msgs . '}'
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers
X-AIGW-Provider: good
X-AIGW-Attempts: bad:401,good:200
--- response_body_unlike: sk-proj
--- error_log
provider "bad" returned 401, trying the next provider
--- no_error_log eval
[ "[error]", qr/\[(?:error|warn|notice|info)\].*abcdefghijklmnop/ ]



=== TEST 4: aigw_next_upstream without http_401: no failover, and still the gateway's 502
--- providers eval: $::Denied
--- config
    location /v1/ {
        aigw_pass;
        aigw_next_upstream error timeout http_503;
    }
--- request eval
"POST /v1/chat/completions\n" . '{"model":"fo",' . $::Msgs . '}'
--- more_headers
Content-Type: application/json
--- error_code: 502
--- response_headers
X-AIGW-Attempts: bad:401
--- response_json eval
{ error => { message => 'provider "bad": credentials rejected (401)' } }
--- no_error_log eval
qr/\[(?:error|warn|notice|info)\].*abcdefghijklmnop/



=== TEST 5: every provider failed, the last with a 401: the exhaustion error does not quote its body
--- providers eval: $::Denied
--- request eval
"POST /v1/chat/completions\n" . '{"model":"ex",' . $::Msgs . '}'
--- more_headers
Content-Type: application/json
--- error_code: 502
--- response_json eval
{ error => { message => 'no provider could answer (attempts: busy:503,bad:401); last error: provider "bad": credentials rejected (401)' } }
--- response_body_unlike: sk-proj|Incorrect
--- no_error_log eval
qr/\[(?:error|warn|notice|info)\].*abcdefghijklmnop/



=== TEST 6: by default anthropic-beta and anthropic-version pass to an Anthropic provider of an Anthropic client; nothing else does
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k;
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo/v1 key=k;
    aigw_model a ant;
    aigw_model o oai;
--- request eval
[ "POST /v1/messages\n" . '{"model":"a","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json",
  "POST /v1/chat/completions\n" . '{"model":"o","messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json" ]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-01-01
anthropic-beta: b1
anthropic-beta: b2
OpenAI-Beta: assistants=v2
X-Custom: 1
--- response_json eval
[ undef,
  { headers => { "anthropic-version" => "2023-01-01", "anthropic-beta" => "b1, b2" } },
  undef,
  { headers => { authorization => "Bearer k" } } ]
--- response_body_unlike eval
[ undef, qr/openai-beta|x-custom/, undef, qr/openai-beta|x-custom|anthropic-/ ]
--- no_error_log
[error]



=== TEST 7: aigw_pass_request_headers off: none pass; anthropic-version is the configured one
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k version=2024-02-02;
    aigw_model a ant;
--- config
    location /v1/ {
        aigw_pass;
        aigw_pass_request_headers off;
    }
--- request eval
[ "POST /v1/messages\n" . '{"model":"a","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json" ]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-01-01
anthropic-beta: b1
--- response_json eval
[ undef, { headers => { "anthropic-version" => "2024-02-02" } } ]
--- response_body_unlike eval
[ undef, qr/anthropic-beta|b1/ ]
--- no_error_log
[error]



=== TEST 8: a custom list, inherited from the server level: exactly those pass, to providers of the client's format; anthropic-* only to Anthropic-format providers, openai-* only to OpenAI-format ones
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo key=k version=2024-02-02;
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo/v1 key=k;
    aigw_model a ant;
    aigw_model o oai;
--- config
    aigw_pass_request_headers OpenAI-Beta x-custom anthropic-beta;
    location /v1/ {
        aigw_pass;
    }
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"o","messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json",
  "POST /v1/messages\n" . '{"model":"a","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json",
  "POST /v1/chat/completions\n" . '{"model":"a","messages":[{"role":"user","content":"hi"}]}',
  "GET /mock_last.json" ]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-01-01
anthropic-beta: b1
OpenAI-Beta: assistants=v2
X-Custom: 1
X-Other: 2
--- response_json eval
[ undef,
  { headers => { "openai-beta" => "assistants=v2", "x-custom" => "1" } },
  undef,
  { headers => { "x-custom" => "1", "anthropic-beta" => "b1", "anthropic-version" => "2024-02-02" } },
  undef,
  { headers => { "anthropic-version" => "2024-02-02" } } ]
--- response_body_unlike eval
[ undef, qr/anthropic-|x-other/, undef, qr/openai-beta|x-other/, undef, qr/openai-beta|anthropic-beta|x-custom|x-other/ ]
--- no_error_log
[error]



=== TEST 9: credentials and framing headers are refused at configuration time
--- config
    location /v1/ {
        aigw_pass;
        aigw_pass_request_headers anthropic-beta Authorization;
    }
--- must_die
--- suppress_stderr: 1
--- error_log
[emerg]
"authorization" is never passed to providers: the gateway sets it



=== TEST 10: x-api-key is refused too
--- config
    location /v1/ {
        aigw_pass;
        aigw_pass_request_headers x-api-key;
    }
--- must_die
--- suppress_stderr: 1
--- error_log
[emerg]
"x-api-key" is never passed to providers



=== TEST 11: Host, at the server level
--- config
    aigw_pass_request_headers Host;
--- must_die
--- suppress_stderr: 1
--- error_log
"host" is never passed to providers



=== TEST 12: Content-Length, at the http level
--- http_config
    aigw_pass_request_headers content-length;
--- must_die
--- suppress_stderr: 1
--- error_log
"content-length" is never passed to providers



=== TEST 13: a name that is not a token
--- config
    aigw_pass_request_headers "a:b";
--- must_die
--- suppress_stderr: 1
--- error_log
invalid header name "a:b"
