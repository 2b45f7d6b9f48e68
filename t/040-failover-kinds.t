# Issue 5: every failure kind on the first provider, with the second one
# answering; no failover on a provider's 400/401/403/404.
#
# Providers of model "m" (unless a block says otherwise):
#   a  the failing one, on $TEST_NGINX_RAND_PORT_1 (what listens there is
#      the block's business: nothing, a TLS server, tcp_listen, a mock)
#   b  OpenAI format, answers "answer from B" (RAND_PORT_2)
#   c  Anthropic format, answers "answer from C" (RAND_PORT_3)
# The mocks log what they received (Host, key, URI, body) as "MOCK ..."
# lines, the gateway logs "GW ..." lines, both into logs/access.log.
use lib 't/lib';
use Cwd ();
use File::Temp ();
my $certdir;
BEGIN {
    $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover');

    # a self-signed certificate nobody trusts, for the TLS failure
    $certdir = File::Temp::tempdir('aigw-040-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost"
           . " -keyout $certdir/key.pem -out $certdir/cert.pem >/dev/null 2>&1") == 0
        or die "openssl req failed\n";
    # and one for "s.test" that the gateway trusts (aigw_ssl_trusted_certificate)
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=s.test"
           . " -addext subjectAltName=DNS:s.test"
           . " -keyout $certdir/s.key -out $certdir/s.pem >/dev/null 2>&1") == 0
        or die "openssl req failed\n";
    $ENV{TEST_NGINX_FAILOVER_CERTS} = $certdir;
}
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n"
                      . ($block->main_config // ''));

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock host=$http_host auth=$http_authorization xkey=$http_x_api_key ver=$http_anthropic_version $request_method $request_uri body=$request_body';
    log_format gw escape=none 'GW $status model=$aigw_model provider=$aigw_provider pmodel=$aigw_provider_model attempts=$aigw_attempts count=$aigw_attempt_count';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock B;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        set $mock C;
        access_log logs/access.log mock;
        location / { js_content mock.anthropic; }
    }
    aigw_provider b format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-b;
    aigw_provider c format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=sk-c;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 300ms;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: connect refused on an OpenAI provider: the Anthropic provider gets a translated body
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"u1"}}}
--- response_headers
X-AIGW-Provider: c
X-AIGW-Model: m
X-AIGW-Attempts: a:error,c:200
--- response_json
{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"answer from C"},"finish_reason":"stop"}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?=.*"max_tokens":50)(?=.*"system":)(?=.*"messages":\[\{"role":"user")(?!.*providerOptions)(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:error,c:200 count=2
\z}
--- error_log
connect() failed (111: Connection refused)



=== TEST 2: connect refused on an Anthropic provider: the OpenAI provider gets a translated body
--- http_config
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-a;
    aigw_model m a:claude-a b:gpt-b;
--- request
POST /v1/messages
{"model":"m","max_tokens":50,"system":"be brief","messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"u1"}}}
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_headers
X-AIGW-Provider: b
X-AIGW-Model: m
X-AIGW-Attempts: a:error,b:200
--- response_json
{"type":"message","role":"assistant","content":[{"type":"text","text":"answer from B"}],"stop_reason":"end_turn"}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK B host=127\.0\.0\.1:\d+ auth=Bearer sk-b xkey= ver= POST /v1/chat/completions body=\{(?=.*"model":"gpt-b")(?=.*"max_tokens":50|.*"max_completion_tokens":50)(?=.*"messages":\[\{"role":"system","content":"be brief"\},\{"role":"user")(?!.*providerOptions)(?!.*claude-a).*\}
GW 200 model=m provider=b pmodel=gpt-b attempts=a:error,b:200 count=2
\z}
--- error_log
connect() failed (111: Connection refused)



=== TEST 3: TLS failure (a self-signed certificate): the next provider answers
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_FAILOVER_CERTS/cert.pem;
        ssl_certificate_key $TEST_NGINX_FAILOVER_CERTS/key.pem;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    aigw_provider a format=openai url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=localhost key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: c
X-AIGW-Attempts: a:error,c:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from C"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:error,c:200 count=2
\z}
--- error_log
upstream SSL certificate verify error



=== TEST 4: slow first byte (over aigw_read_timeout): the next provider answers
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply_delay: 1500ms
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- timeout: 1.2
--- response_headers
X-AIGW-Provider: c
X-AIGW-Attempts: a:timeout,c:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from C"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c").*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:timeout,c:200 count=2
\z}
--- error_log
upstream timed out



=== TEST 5: 429 with Retry-After: the provider cools down for that long, the next one answers
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / {
            add_header Retry-After 7 always;
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: c
X-AIGW-Attempts: a:429,c:200
! Retry-After
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from C"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK A host=127\.0\.0\.1:\d+ auth=Bearer sk-a xkey= ver= POST /v1/chat/completions body=
MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:429,c:200 count=2
\z}
--- error_log
provider "a" returned 429, cooling down for 7000ms



=== TEST 6: 429 without Retry-After: the configured cooldown, the next one answers
--- http_config
    aigw_health cooldown=4s;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / {
            return 429 '{"error":{"message":"slow down","type":"rate_limit_error"}}';
        }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: b
X-AIGW-Attempts: a:429,b:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from B"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK A host=127\.0\.0\.1:\d+ auth=Bearer sk-a xkey= ver= POST /v1/chat/completions body=
MOCK B host=127\.0\.0\.1:\d+ auth=Bearer sk-b xkey= ver= POST /v1/chat/completions body=\{(?=.*"model":"gpt-b")(?!.*gpt-a).*\}
GW 200 model=m provider=b pmodel=gpt-b attempts=a:429,b:200 count=2
\z}
--- error_log
provider "a" returned 429, cooling down for 4000ms



=== TEST 7: 500, 502, 503, 504 and 529: the next provider answers, in either format
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location /s500/ { return 500 '{"error":{"message":"boom","type":"server_error"}}'; }
        location /s502/ { return 502 '{"error":{"message":"bad gateway"}}'; }
        location /s503/ { return 503 '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'; }
        location /s504/ { return 504 'gateway timeout'; }
        location /s529/ { return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'; }
    }
    aigw_provider a500 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s500/v1 key=sk-a;
    aigw_provider a502 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s502/v1 key=sk-a;
    aigw_provider a503 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s503 key=sk-a;
    aigw_provider a504 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s504/v1 key=sk-a;
    aigw_provider a529 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s529 key=sk-a;
    aigw_model m500 a500:x b:gpt-b;
    aigw_model m502 a502:x c:claude-c;
    aigw_model m503 a503:x b:gpt-b;
    aigw_model m504 a504:x c:claude-c;
    aigw_model m529 a529:x b:gpt-b;
--- request eval
[map { "POST /v1/chat/completions\n{\"model\":\"m$_\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" }
 qw(500 502 503 504 529)]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["X-AIGW-Provider: b\nX-AIGW-Model: m500\nX-AIGW-Attempts: a500:500,b:200",
 "X-AIGW-Provider: c\nX-AIGW-Model: m502\nX-AIGW-Attempts: a502:502,c:200",
 "X-AIGW-Provider: b\nX-AIGW-Model: m503\nX-AIGW-Attempts: a503:503,b:200",
 "X-AIGW-Provider: c\nX-AIGW-Model: m504\nX-AIGW-Attempts: a504:504,c:200",
 "X-AIGW-Provider: b\nX-AIGW-Model: m529\nX-AIGW-Attempts: a529:529,b:200"]
--- response_json eval
[map { {object => "chat.completion", choices => [{message => {content => "answer from $_"}}]} } qw(B C B C B)]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+ auth=\S*|GW .*)/
--- grep_access_log_out eval
qr{\AMOCK A host=127.0.0.1:\d+ auth=Bearer
MOCK B host=127.0.0.1:\d+ auth=Bearer
GW 200 model=m500 provider=b pmodel=gpt-b attempts=a500:500,b:200 count=2
MOCK A host=127.0.0.1:\d+ auth=Bearer
MOCK C host=127.0.0.1:\d+ auth=
GW 200 model=m502 provider=c pmodel=claude-c attempts=a502:502,c:200 count=2
MOCK A host=127.0.0.1:\d+ auth=
MOCK B host=127.0.0.1:\d+ auth=Bearer
GW 200 model=m503 provider=b pmodel=gpt-b attempts=a503:503,b:200 count=2
MOCK A host=127.0.0.1:\d+ auth=Bearer
MOCK C host=127.0.0.1:\d+ auth=
GW 200 model=m504 provider=c pmodel=claude-c attempts=a504:504,c:200 count=2
MOCK A host=127.0.0.1:\d+ auth=
MOCK B host=127.0.0.1:\d+ auth=Bearer
GW 200 model=m529 provider=b pmodel=gpt-b attempts=a529:529,b:200 count=2
\z}



=== TEST 8: a garbage response (not HTTP): the next provider answers
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP at all\r\n\r\n"
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: c
X-AIGW-Attempts: a:invalid,c:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from C"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:invalid,c:200 count=2
\z}
--- error_log
provider "a" sent an invalid status line



=== TEST 9: a 200 whose body is not JSON: the next provider answers
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n<html>oops</html>\n"
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: b
X-AIGW-Attempts: a:invalid,b:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from B"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK B host=127\.0\.0\.1:\d+ auth=Bearer sk-b xkey= ver= POST /v1/chat/completions body=\{(?=.*"model":"gpt-b")(?!.*gpt-a).*\}
GW 200 model=m provider=b pmodel=gpt-b attempts=a:invalid,b:200 count=2
\z}
--- error_log
provider "a" sent an invalid JSON response



=== TEST 10: the provider dies after its headers, before the body: the next provider answers
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"id\":\"chatcmpl-a\",\"choices\":["
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: c
X-AIGW-Attempts: a:error,c:200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"answer from C"}}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:error,c:200 count=2
\z}
--- error_log
upstream prematurely closed connection



=== TEST 11: the provider dies in the middle of its headers: the next provider answers
--- http_config
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-a;
    aigw_model m a:claude-a b:gpt-b;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: appl"
--- request
POST /v1/messages
{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
X-AIGW-Provider: b
X-AIGW-Attempts: a:error,b:200
--- response_json
{"type":"message","content":[{"type":"text","text":"answer from B"}]}
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK B host=127\.0\.0\.1:\d+ auth=Bearer sk-b xkey= ver= POST /v1/chat/completions body=\{(?=.*"model":"gpt-b")(?!.*claude-a).*\}
GW 200 model=m provider=b pmodel=gpt-b attempts=a:error,b:200 count=2
\z}
--- error_log
upstream prematurely closed connection



=== TEST 12: a stream whose provider dies after its headers, before the first byte: the next provider streams
--- http_config
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_model m a:gpt-a c:claude-c;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
--- request
POST /v1/chat/completions
{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- response_headers
Content-Type: text/event-stream
X-AIGW-Provider: c
X-AIGW-Attempts: a:error,c:200
--- sse_data eval
[{object => "chat.completion.chunk", choices => [{delta => {role => "assistant"}}]},
 {choices => [{delta => {content => "answer from C"}}]},
 {choices => [{finish_reason => "stop"}]},
 "[DONE]"]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{^MOCK C host=127\.0\.0\.1:\d+ auth= xkey=sk-c ver=2023-06-01 POST /v1/messages body=\{(?=.*"model":"claude-c")(?=.*"stream":true)(?!.*gpt-a).*\}
GW 200 model=m provider=c pmodel=claude-c attempts=a:error,c:200 count=2
\z}
--- error_log
upstream prematurely closed connection



=== TEST 13: a provider's 400 and 404 are returned as they are, the next provider is not called (401 and 403 fail over: t/070-provider-errors.t)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        default_type application/json;
        location /s400/ { return 400 '{"error":{"message":"context_length_exceeded","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}'; }
        location /s404/ { return 404 '{"type":"error","error":{"type":"not_found_error","message":"model: x"}}'; }
    }
    aigw_provider a400 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s400/v1 key=sk-a;
    aigw_provider a404 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/s404 key=sk-a;
    aigw_model m400 a400:x b:gpt-b c:claude-c;
    aigw_model m404 a404:x b:gpt-b c:claude-c;
--- request eval
[map { "POST /v1/chat/completions\n{\"model\":\"m$_\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" }
 qw(400 404)]
--- error_code eval
[400, 404]
--- response_headers eval
["X-AIGW-Provider: a400\nX-AIGW-Attempts: a400:400",
 "X-AIGW-Provider: a404\nX-AIGW-Attempts: a404:404"]
--- response_json eval
[{error => {message => "context_length_exceeded", code => "context_length_exceeded"}},
 {error => {message => "model: x", type => "~/not_found/"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out eval
qr{\AMOCK A host=127.0.0.1:\d+
GW 400 model=m400 provider=a400 pmodel=x attempts=a400:400 count=1
MOCK A host=127.0.0.1:\d+
GW 404 model=m404 provider=a404 pmodel=x attempts=a404:404 count=1
\z}
--- no_error_log
trying the next provider



=== TEST 14: usage is the answering try's, not the failed one's; the time to the first byte runs from the start of the request
--- http_config
    log_format ttft escape=none 'TTFT $aigw_ttft_ms in=$aigw_input_tokens out=$aigw_output_tokens attempts=$aigw_attempts';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 503 '{"error":{"message":"busy","type":"server_error"}}'; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        set $mock D;
        location / { js_content mock.scripted; }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-a;
    aigw_provider d format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/v1 key=sk-d;
    aigw_model m a:gpt-a d:gpt-d;
--- config
    location /v1/ {
        access_log logs/access.log ttft;
        aigw_pass;
    }
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"delay 300"}]}
--- response_headers
X-AIGW-Attempts: a:503,d:200
--- grep_access_log eval: qr/^TTFT .*/
--- grep_access_log_out eval
qr{\ATTFT (?:29\d|[3-9]\d\d|\d{4,}) in=5 out=3 attempts=a:503,d:200\n\z}



=== TEST 15: TLS per try: a provider whose certificate does not verify, then a TLS provider with its own SNI and Host
--- http_config
    aigw_ssl_trusted_certificate $TEST_NGINX_FAILOVER_CERTS/s.pem;
    log_format tls escape=none 'TLS $mock sni=$ssl_server_name host=$http_host auth=$http_authorization $request_uri';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_FAILOVER_CERTS/cert.pem;
        ssl_certificate_key $TEST_NGINX_FAILOVER_CERTS/key.pem;
        set $mock A;
        access_log logs/access.log tls;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4 ssl;
        ssl_certificate $TEST_NGINX_FAILOVER_CERTS/s.pem;
        ssl_certificate_key $TEST_NGINX_FAILOVER_CERTS/s.key;
        set $mock S;
        access_log logs/access.log tls;
        location / { js_content mock.openai; }
    }
    aigw_provider a format=openai url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=localhost key=sk-a;
    aigw_provider s format=openai url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_4/v1 host=s.test key=sk-s;
    aigw_model m a:gpt-a s:gpt-s;
--- request eval
["POST /v1/chat/completions\n{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /v1/chat/completions\n{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"]
--- response_headers eval
["X-AIGW-Provider: s\nX-AIGW-Attempts: a:error,s:200", "X-AIGW-Provider: s\nX-AIGW-Attempts: a:error,s:200"]
--- response_json eval
[{choices => [{message => {content => "answer from S"}}]}, {choices => [{message => {content => "answer from S"}}]}]
--- grep_access_log eval: qr/^(?:TLS|GW) .*/
--- grep_access_log_out
TLS S sni=s.test host=s.test auth=Bearer sk-s /v1/chat/completions
GW 200 model=m provider=s pmodel=gpt-s attempts=a:error,s:200 count=2
TLS S sni=s.test host=s.test auth=Bearer sk-s /v1/chat/completions
GW 200 model=m provider=s pmodel=gpt-s attempts=a:error,s:200 count=2
--- error_log
upstream SSL certificate verify error
