# Issue 10, items 1, 2 and 7: gateway keys (aigw_key, aigw_keys_file,
# aigw_auth), BYOK, and who a request belongs to (user, tags, $aigw_key,
# $aigw_user, $aigw_tags).  Secrets never reach a log.
#
# Provider o (OpenAI mock, port 1) and a (Anthropic mock, port 2) log the
# credential and the body they got.  The gateway's access log says which
# key, user and tags a request had.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

BEGIN {
    delete $ENV{AIGW_T090_UNSET};
    $ENV{AIGW_T090_KEY} = 'secret-three';
}

env_to_nginx('AIGW_T090_KEY');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n"
                      . ($block->main_config // ''));

    if ($block->{must_die}) {
        $block->set_value(suppress_stderr => 1);
        return;
    }

    my $keys = $block->{http_config} ? $block->{http_config}[0] : <<'_EOC_';
    aigw_key k1 secret-one tags=team:x,cost:7 models=gpt/*;
    aigw_key k2 sha256:cebdf378f2d2bd60d3e3693349e8f20f329daf11a276f849996f0a6377e2155b byok;
    aigw_key k3 env=AIGW_T090_KEY;
    aigw_key k4 file=$TEST_NGINX_HTML_DIR/k4.key admin rpm=10 budget=5/day warn=80%;
_EOC_

    $block->set_value(http_config => <<'_EOC_' . $keys);
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock auth=$http_authorization xkey=$http_x_api_key gw=$http_x_ai_gateway_api_key body=$request_body';
    log_format gw escape=none 'GW $status key=$aigw_key user=$aigw_user tags=$aigw_tags';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock O;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.anthropic; }
    }
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-prov-o;
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=sk-prov-a;
    aigw_model gpt/m o;
    aigw_model claude/m a;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ { access_log logs/access.log gw; aigw_pass; }
    location /open/v1/ { access_log logs/access.log gw; aigw_auth off; aigw_pass; }
    location /u/v1/ { access_log logs/access.log gw; aigw_user $http_x_user; aigw_pass; }
_EOC_

    $block->set_value(user_files => ">>> k4.key\nsecret-four\n")
        unless $block->{user_files};
});

sub chat {
    my ($model, $extra) = @_;
    $extra //= '';
    return "POST /v1/chat/completions\n{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]$extra}";
}

sub msg {
    my ($model, $extra) = @_;
    $extra //= '';
    return "POST /v1/messages\n{\"model\":\"$model\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]$extra}";
}

run_tests();

__DATA__

=== TEST 1: no key: 401 in the OpenAI shape, and in the Anthropic shape
--- request eval
[main::chat("gpt/m"), main::msg("claude/m")]
--- more_headers
Content-Type: application/json
--- error_code eval
[401, 401]
--- response_json eval
[{error => {type => "authentication_error", code => "invalid_api_key"}},
 {type => "error", error => {type => "authentication_error"}}]
--- grep_access_log eval: qr/^(?:MOCK|GW).*/
--- grep_access_log_out
GW 401 key= user= tags=
GW 401 key= user= tags=



=== TEST 2: an unknown key: 401, the secret not in the log
--- request eval
main::chat("gpt/m")
--- more_headers
Content-Type: application/json
Authorization: Bearer sk-wrong-guess-77
--- error_code: 401
--- response_json
{"error": {"message": "invalid gateway key", "type": "authentication_error", "code": "invalid_api_key"}}
--- error_log
unknown gateway key
--- no_error_log eval
[qr/^(?!.*http header:).*sk-wrong-guess-77/m, "[alert]", "[crit]"]



=== TEST 3: every key source and secret spec: Bearer (plain), x-api-key (sha256:), x-ai-gateway-api-key (env=), Bearer (file=)
--- request eval
[main::chat("gpt/m"), main::msg("claude/m"), main::msg("claude/m"), main::msg("claude/m")]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer secret-one",
 "Content-Type: application/json\nx-api-key: secret-two",
 "Content-Type: application/json\nx-ai-gateway-api-key: secret-three\nAuthorization: Bearer not-a-key",
 "Content-Type: application/json\nAuthorization: bearer secret-four"]
--- error_code eval
[200, 200, 200, 200]
--- grep_access_log eval: qr/^GW.*/
--- grep_access_log_out
GW 200 key=k1 user= tags=team:x,cost:7
GW 200 key=k2 user= tags=
GW 200 key=k3 user= tags=
GW 200 key=k4 user= tags=
--- error_log
aigw_key "k1" has its secret in plain text
--- no_error_log eval
[qr/^(?!.*http header:).*secret-(?:one|two|three|four)/m, "[alert]", "[crit]"]



=== TEST 4: models=: gpt/* allows gpt/m, not claude/m (403 in both shapes), nor a request fallback outside it
--- request eval
[main::msg("claude/m"), main::chat("claude/m"), main::chat("gpt/m", ',"providerOptions":{"gateway":{"models":["claude/m"]}}')]
--- more_headers
Content-Type: application/json
x-api-key: secret-one
--- error_code eval
[403, 403, 403]
--- response_json eval
[{type => "error", error => {type => "permission_error", message => 'the gateway key "k1" may not use the model "claude/m"'}},
 {error => {type => "permission_error"}},
 {error => {type => "permission_error"}}]
--- grep_access_log eval: qr/^MOCK.*/
--- grep_access_log_out



=== TEST 5: aigw_auth off: open mode, no key needed, $aigw_key empty
--- request eval
["POST /open/v1/chat/completions\n{\"model\":\"gpt/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"]
--- more_headers
Content-Type: application/json
--- error_code: 200
--- grep_access_log eval: qr/^GW.*/
--- grep_access_log_out
GW 200 key= user= tags=



=== TEST 6: GET /v1/models needs a key, and lists the models the key may use
--- request eval
["GET /v1/models", "GET /v1/models", "GET /v1/models/claude/m", "GET /v1/models"]
--- more_headers eval
["", "Authorization: Bearer secret-one", "Authorization: Bearer secret-one", "Authorization: Bearer secret-two"]
--- error_code eval
[401, 200, 404, 200]
--- response_body_like eval
[qr/authentication_error/, qr/\A(?!.*claude).*"gpt\/m"/s, qr/model_not_found/, qr/claude\/m.*gpt\/m|gpt\/m.*claude\/m/s]



=== TEST 7: a byok key in x-ai-gateway-api-key: the client's own Authorization goes to the Anthropic provider; not for other keys or other headers
--- request eval
[main::msg("claude/m"), main::msg("claude/m"), main::msg("claude/m"), main::msg("claude/m"), main::chat("gpt/m")]
--- more_headers eval
["Content-Type: application/json\nx-ai-gateway-api-key: secret-two\nAuthorization: Bearer client-own-token",
 "Content-Type: application/json\nx-ai-gateway-api-key: secret-two\nx-api-key: client-own-xkey",
 "Content-Type: application/json\nx-ai-gateway-api-key: secret-three\nAuthorization: Bearer client-own-token",
 "Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nx-ai-gateway-api-key: secret-two\nAuthorization: Bearer client-own-token"]
--- error_code eval
[200, 200, 200, 200, 200]
--- grep_access_log eval: qr/^MOCK.*/
--- grep_access_log_out eval
qr/\AMOCK A auth=Bearer client-own-token xkey= gw= body=.*\nMOCK A auth= xkey=client-own-xkey gw= body=.*\nMOCK A auth= xkey=sk-prov-a gw= body=.*\nMOCK A auth= xkey=sk-prov-a gw= body=.*\nMOCK O auth=Bearer sk-prov-o xkey= gw= body=.*\n\z/
--- no_error_log eval
[qr/^(?!.*http header:).*client-own/m, "[alert]"]



=== TEST 8: request-scoped BYOK for a byok key: its key goes to that provider, providerOptions never does; other keys get 403
--- request eval
[main::msg("claude/m", ',"providerOptions":{"gateway":{"byok":{"a":[{"apiKey":"sk-req-a"}],"vertex":[{"apiKey":"v"}]}}}'),
 main::chat("claude/m", ',"providerOptions":{"gateway":{"byok":{"a":[{"apiKey":"sk-req-a2"}]}}}'),
 main::msg("claude/m", ',"providerOptions":{"gateway":{"byok":{"a":[{"apiKey":"sk-req-a"}]}}}'),
 main::msg("claude/m", ',"providerOptions":{"gateway":{"byok":{"a":[{"apiKey":"bad\nkey"}]}}}'),
 main::msg("claude/m", ',"providerOptions":{"gateway":{"byok":{"a":"sk"}}}')]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nAuthorization: Bearer secret-three",
 "Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nAuthorization: Bearer secret-two"]
--- error_code eval
[200, 200, 403, 400, 400]
--- grep_access_log eval: qr/^MOCK.*/
--- grep_access_log_out eval
qr/\AMOCK A auth= xkey=sk-req-a gw= body=(?!.*providerOptions)(?!.*sk-req).*\nMOCK A auth= xkey=sk-req-a2 gw= body=(?!.*providerOptions)(?!.*sk-req).*\n\z/
--- no_error_log eval
[qr/^(?!.*http header:).*sk-req/m, "[alert]"]



=== TEST 8b: request-scoped BYOK is tried first, then the provider's configured key: a BYOK key the provider rejects (401) fails over to the configured one on the same provider
--- http_config
    aigw_key k2 sha256:cebdf378f2d2bd60d3e3693349e8f20f329daf11a276f849996f0a6377e2155b byok;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        set $mock B;
        access_log logs/access.log mock;
        location / {
            if ($http_x_api_key = "sk-bad") {
                return 401 '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-bad"}}';
            }
            js_content mock.anthropic;
        }
    }
    aigw_provider b format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=sk-prov-b;
    aigw_model claude/b b;
--- request eval
[main::msg("claude/b", ',"providerOptions":{"gateway":{"byok":{"b":[{"apiKey":"sk-bad"}]}}}'),
 main::msg("claude/b", ',"providerOptions":{"gateway":{"byok":{"b":[{"apiKey":"sk-good"}]}}}'),
 main::msg("claude/b")]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nAuthorization: Bearer secret-two",
 "Content-Type: application/json\nAuthorization: Bearer secret-two"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
[{"X-AIGW-Attempts" => "b:401,b:200"}, {"X-AIGW-Attempts" => "b:200"},
 {"X-AIGW-Attempts" => "b:200"}]
--- grep_access_log eval: qr/^MOCK B auth=\S* xkey=\S+/
--- grep_access_log_out
MOCK B auth= xkey=sk-bad
MOCK B auth= xkey=sk-prov-b
MOCK B auth= xkey=sk-good
MOCK B auth= xkey=sk-prov-b
--- no_error_log
[alert]



=== TEST 8c: a key's models= bounds the fallbacks too: a model the key may not use is never reached through failover
--- http_config
    aigw_key k1 secret-one models=cheap/*;
    aigw_key k2 secret-two;
    aigw_provider pdown url=http://127.0.0.1:1/v1 key=k;
    aigw_model cheap/m pdown:m fallback=gpt/m;
--- request eval
["POST /v1/chat/completions\n{\"model\":\"cheap/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
 "POST /v1/chat/completions\n{\"model\":\"cheap/m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer secret-one",
 "Content-Type: application/json\nAuthorization: Bearer secret-two"]
--- error_code eval
[502, 200]
--- response_headers eval
[{"X-AIGW-Attempts" => "pdown:error"}, {"X-AIGW-Attempts" => "pdown:error,o:200"}]
--- no_error_log
[alert]
[crit]



=== TEST 9: client tags: at most 32, each at most 256 bytes; the key's tags first
--- request eval
[main::chat("gpt/m", ',"providerOptions":{"gateway":{"tags":["a","b\\u0041"]}}'),
 main::chat("gpt/m", ',"providerOptions":{"gateway":{"tags":[' . CORE::join(",", map { "\"t$_\"" } 1..33) . ']}}'),
 main::chat("gpt/m", ',"providerOptions":{"gateway":{"tags":["' . ("x" x 257) . '"]}}'),
 main::chat("gpt/m", ',"providerOptions":{"gateway":{"tags":[' . CORE::join(",", map { "\"t$_\"" } 1..32) . ']}}')]
--- more_headers
Content-Type: application/json
Authorization: Bearer secret-one
--- error_code eval
[200, 400, 400, 200]
--- grep_access_log eval: qr/^GW.*/
--- grep_access_log_out eval
"GW 200 key=k1 user= tags=team:x,cost:7,a,bA\nGW 400 key=k1 user= tags=\nGW 400 key=k1 user= tags=\nGW 200 key=k1 user= tags=team:x,cost:7," . CORE::join(",", map { "t$_" } 1..32) . "\n"



=== TEST 10: the user: providerOptions.gateway.user, OpenAI user, Anthropic metadata.user_id, aigw_user
--- request eval
[main::chat("gpt/m", ',"user":"openai-user","providerOptions":{"gateway":{"user":"gw-user"}}'),
 main::chat("gpt/m", ',"user":"openai-user"'),
 main::msg("claude/m", ',"metadata":{"user_id":"ant-user"}'),
 "POST /u/v1/messages\n{\"model\":\"claude/m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
 "POST /u/v1/messages\n{\"model\":\"claude/m\",\"max_tokens\":5,\"metadata\":{\"user_id\":\"ant-user\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"]
--- more_headers
Content-Type: application/json
Authorization: Bearer secret-two
X-User: header-user
--- error_code eval
[200, 200, 200, 200, 200]
--- grep_access_log eval: qr/^GW.*/
--- grep_access_log_out
GW 200 key=k2 user=gw-user tags=
GW 200 key=k2 user=openai-user tags=
GW 200 key=k2 user=ant-user tags=
GW 200 key=k2 user=header-user tags=
GW 200 key=k2 user=ant-user tags=



=== TEST 11: a duplicate key name
--- http_config
    aigw_key k1 sha256:cebdf378f2d2bd60d3e3693349e8f20f329daf11a276f849996f0a6377e2155b;
    aigw_key k1 env=AIGW_T090_KEY;
--- must_die
--- error_log
[emerg]
duplicate key name "k1" in



=== TEST 12: two keys with the same secret (a sha256: and its plain text)
--- http_config
    aigw_key k1 sha256:cebdf378f2d2bd60d3e3693349e8f20f329daf11a276f849996f0a6377e2155b;
    aigw_key k2 secret-two;
--- must_die
--- error_log
[emerg]
key "k2" has the same secret as key "k1" in



=== TEST 13: a bad sha256:
--- http_config
    aigw_key k1 sha256:cebdf378;
--- must_die
--- error_log
the sha256: secret of key "k1" must be 64 hexadecimal digits in



=== TEST 14: env= of an unset variable
--- http_config
    aigw_key k1 env=AIGW_T090_UNSET;
--- must_die
--- error_log
environment variable "AIGW_T090_UNSET" with the secret of key "k1" is not set in



=== TEST 15: file= that does not exist
--- http_config
    aigw_key k1 file=/nonexistent/k1.key;
--- must_die
--- error_log
cannot open the secret file "/nonexistent/k1.key" of key "k1"



=== TEST 16: a bad budget
--- http_config
    aigw_key k1 secret-one budget=5/year;
--- must_die
--- error_log
invalid budget "budget=5/year": USD/PERIOD with a period of day, week, month or total is expected in



=== TEST 17: an unknown parameter
--- http_config
    aigw_key k1 secret-one rpm=10 colour=blue;
--- must_die
--- error_log
invalid parameter "colour=blue" of key "k1" in



=== TEST 18: an error in a keys file names the file and its line
--- user_files
>>> keys.conf
# team keys
kf1 secret-kf1 tags=a;
kf2 secret-kf2 rpm=0;
--- http_config
    aigw_keys_file $TEST_NGINX_HTML_DIR/keys.conf;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "rpm=0": a positive integer is expected in \S+/keys\.conf:3}



=== TEST 19: a keys file: its keys work, one warning for its plain secrets; after a reload with a new file, the new key works and the removed one does not
--- user_files
>>> keys.conf
# team keys
kf1 secret-kf1 tags=from-file;
kf2 sha256:cebdf378f2d2bd60d3e3693349e8f20f329daf11a276f849996f0a6377e2155b
    models=claude/*;
>>> keys2.conf
kf3 secret-kf3;
--- http_config
    aigw_keys_file $TEST_NGINX_HTML_DIR/keys.conf;
--- config
    location /v1/ { access_log logs/access.log gw; add_header X-Gen gen-1 always; aigw_pass; }
    location = /gen { return 200 "gen-1\n"; }
--- request eval
main::chat("gpt/m")
--- more_headers
Content-Type: application/json
Authorization: Bearer secret-kf1
--- error_code: 200
--- client_cmd
R=$TEST_NGINX_SERVER_ROOT; H=$TEST_NGINX_HTML_DIR; P=$TEST_NGINX_SERVER_PORT; B='{"model":"gpt/m","messages":[{"role":"user","content":"x"}]}'; c() { curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $1" -d "$B" http://127.0.0.1:$P/v1/chat/completions; }; c secret-two; sed -i "s|keys.conf|keys2.conf|; s/gen-1/gen-2/g" $R/conf/nginx.conf && kill -HUP $(cat $R/logs/nginx.pid) && n=0 && for i in $(seq 100); do if curl -s http://127.0.0.1:$P/gen | grep -q gen-2; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done; c secret-kf3; c secret-kf1
--- client_output_like: \A403\n200\n401\n\z
--- grep_access_log eval: qr/^GW.*/
--- grep_access_log_out eval
qr/\AGW 200 key=kf1 user= tags=from-file\nGW 403 key=kf2 user= tags=\nGW 200 key=kf3 user= tags=\nGW 401 key= user= tags=\n\z/
--- error_log
1 key(s) in
have their secret in plain text
--- no_error_log eval
[qr/^(?!.*http header:).*secret-kf/m, "[alert]", "[crit]"]
