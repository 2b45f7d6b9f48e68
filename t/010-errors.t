# Gateway core, OpenAI surface: errors.  Provider errors pass through with
# their status and body; broken, refused and slow providers become JSON
# errors in the OpenAI shape listing the attempts; body size limits answer
# JSON; large and chunked request bodies reach the provider intact.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# a 32 MB request (sent with curl: the harness is slow with such bodies);
# the model slug and its id have the same length

our $big_len = length('{"model":"big/m","messages":[{"role":"user","content":"')
               + 32 * 1024 * 1024 + length('"}],"max_tokens":5}');

sub chunk { sprintf "%x\r\n%s\r\n", length $_[0], $_[0] }

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_JS_MODULE;\n$main");

    # the njs echo provider on port 1; providers that fail on port 2

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_method $request_uri cl=$content_length te=$http_transfer_encoding';
    log_format gw 'GW $status attempts=$aigw_attempts n=$aigw_attempt_count';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log logs/access.log mock;
        client_max_body_size 0;
        default_type application/json;
        location /e400/ {
            return 400 '{"error":{"message":"Invalid value for \'temperature\'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}';
        }
        location /e401/ {
            return 401 '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
        }
        location /e404/ {
            return 404 '{"error":{"message":"The model does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}';
        }
        location /e429a/ {
            add_header Retry-After 7 always;
            return 429 '{"error":{"message":"Rate limit reached (a)","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }
        location /e429b/ {
            add_header Retry-After 9 always;
            return 429 '{"error":{"message":"Rate limit reached (b)","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }
        location /html/ {
            default_type text/html;
            return 409 '<html><body>Conflict</body></html>';
        }
        location /badjson/ {
            return 200 '{"id":"x","choices":[';
        }
        location /gzip/ {
            add_header Content-Encoding gzip;
            return 200 '{"id":"x"}';
        }
        location /ok/ {
            return 200 '{"id":"chatcmpl-big","object":"chat.completion","created":1,"model":"big/m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":8388608,"completion_tokens":1,"total_tokens":8388609}}';
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: provider 400 and 404 pass through with their status and body (also for stream requests); a 401 is the gateway's 502 (t/070-provider-errors.t)
--- http_config
    aigw_provider p400 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e400 key=k;
    aigw_provider p401 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e401 key=k;
    aigw_provider p404 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e404 key=k;
    aigw_model m400 p400;
    aigw_model m401 p401;
    aigw_model m404 p404;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"m400","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"m401","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"m404","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"m400","stream":true,"messages":[{"role":"user","content":"x"}]}',
]
--- error_code eval
[400, 502, 404, 400]
--- response_body eval
[
q!{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}!,
q!{"error":{"message":"provider \"p401\": credentials rejected (401)","type":"server_error","param":null,"code":null}}
!,
q!{"error":{"message":"The model does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}!,
q!{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}!,
]
--- response_headers eval
[
"Content-Type: application/json\nX-AIGW-Attempts: p400:400",
"Content-Type: application/json\nX-AIGW-Attempts: p401:401",
"Content-Type: application/json\nX-AIGW-Attempts: p404:404",
"Content-Type: application/json\nX-AIGW-Attempts: p400:400",
]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 400 attempts=p400:400 n=1
GW 502 attempts=p401:401 n=1
GW 404 attempts=p404:404 n=1
GW 400 attempts=p400:400 n=1
--- error_log
aigw: provider "p401" rejected the gateway's credentials (401): Incorrect API key provided



=== TEST 2: a provider error that is not JSON reaches the client as an OpenAI error
--- http_config
    aigw_provider html url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/html key=k;
    aigw_model h/m html;
--- request
POST /v1/chat/completions
{"model":"h/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 409
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"the provider returned HTTP 409","type":"<ANY>","param":null,"code":null}}
--- response_body_unlike: html



=== TEST 3: provider 429 with Retry-After and no failover left: status, Retry-After and body pass through
--- http_config
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e429a key=k;
    aigw_model one a;
--- request
POST /v1/chat/completions
{"model":"one","messages":[{"role":"user","content":"x"}]}
--- error_code: 429
--- response_headers
Retry-After: 7
Content-Type: application/json
X-AIGW-Attempts: a:429
--- response_body: {"error":{"message":"Rate limit reached (a)","type":"requests","param":null,"code":"rate_limit_exceeded"}}
--- grep_access_log eval: qr/(GW|MOCK) .*/
--- grep_access_log_out
MOCK POST /e429a/chat/completions cl=58 te=-
GW 429 attempts=a:429 n=1



=== TEST 4: provider 429 with failover turned off: no other provider is tried, status, Retry-After and body pass through
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_next_upstream off;
        aigw_pass;
    }
--- http_config
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e429a key=k;
    aigw_provider b url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/e429b key=k;
    aigw_model two a b;
--- request
POST /v1/chat/completions
{"model":"two","messages":[{"role":"user","content":"x"}]}
--- error_code: 429
--- response_headers
Retry-After: 7
X-AIGW-Provider: a
X-AIGW-Attempts: a:429
--- response_body: {"error":{"message":"Rate limit reached (a)","type":"requests","param":null,"code":"rate_limit_exceeded"}}
--- grep_access_log eval: qr/(GW|MOCK) .*/
--- grep_access_log_out
MOCK POST /e429a/chat/completions cl=58 te=-
GW 429 attempts=a:429 n=1



=== TEST 5: nothing listens (connection refused): 502 JSON in the OpenAI shape listing the attempts
--- http_config
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_provider b url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/v1 key=k;
    aigw_model one a;
    aigw_model two a b;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"one","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"two","messages":[{"role":"user","content":"x"}]}',
]
--- error_code eval
[502, 502]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json"]
--- response_json eval
[
{error => {message => "no provider could answer (attempts: a:error)",
           type => "server_error", param => undef, code => undef}},
{error => {message => qr/^no provider could answer \(attempts: (a:error,b:error|b:error,a:error)\)$/,
           type => "server_error"}},
]
--- error_log
connect() failed (111: Connection refused)



=== TEST 6: the provider does not answer in time: 504 JSON naming the timeout
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 200ms;
        aigw_pass;
    }
--- http_config
    aigw_provider slow url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model s/m slow;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_reply_delay: 600ms
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
--- request
POST /v1/chat/completions
{"model":"s/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 504
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"the provider timed out (attempts: slow:timeout)","type":"server_error"}}
--- error_log
upstream timed out
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 504 attempts=slow:timeout n=1



=== TEST 7: garbage instead of HTTP: 502 JSON, the attempt is marked invalid
--- http_config
    aigw_provider junk url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model j/m junk;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
"SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP at all\r\n\r\n"
--- request
POST /v1/chat/completions
{"model":"j/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"no provider could answer (attempts: junk:invalid)","type":"server_error"}}
--- error_log
aigw: provider "junk" sent an invalid status line
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 502 attempts=junk:invalid n=1



=== TEST 8: a status code outside 100-599 is an invalid response, not passed on
--- http_config
    aigw_provider junk url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model j/m junk;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
"HTTP/1.1 600 Odd\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
--- request
POST /v1/chat/completions
{"model":"j/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_json
{"error":{"message":"no provider could answer (attempts: junk:invalid)","type":"server_error"}}
--- error_log
aigw: provider "junk" sent an invalid status code



=== TEST 9: a 200 whose body is not JSON, a compressed body: 502 JSON
--- http_config
    aigw_provider bad url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/badjson key=k;
    aigw_provider gz url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/gzip key=k;
    aigw_model b/m bad;
    aigw_model g/m gz;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"b/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"g/m","messages":[{"role":"user","content":"x"}]}',
]
--- error_code eval
[502, 502]
--- response_json eval
[
{error => {message => "no provider could answer (attempts: bad:invalid)", type => "server_error"}},
{error => {message => "no provider could answer (attempts: gz:invalid)", type => "server_error"}},
]
--- error_log
aigw: provider "bad" sent an invalid JSON response
aigw: provider "gz" sent a compressed body (Content-Encoding)
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 502 attempts=bad:invalid n=1
GW 502 attempts=gz:invalid n=1



=== TEST 10: an answer over aigw_max_response_size: 502 JSON
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_max_response_size 64k;
        aigw_pass;
    }
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p1;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}],"x_pad_response":60000}',
"POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}],"x_pad_response":70000}',
]
--- error_code eval
[200, 502]
--- response_json eval
[
{choices => [{message => {content => 'p' x 60000}}]},
{error => {message => "no provider could answer (attempts: p1:invalid)", type => "server_error"}},
]
--- error_log
aigw: provider "p1" sent a response over aigw_max_response_size
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 attempts=p1:200 n=1
GW 502 attempts=p1:invalid n=1



=== TEST 11: client_max_body_size exceeded (Content-Length): 413 JSON, not HTML
--- config
    location /v1/ {
        client_max_body_size 1k;
        aigw_pass;
    }
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p1;
--- request eval
"POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"' . ('x' x 2048) . '"}]}'
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"request body is too large: the limit is set by client_max_body_size","type":"<ANY>"}}
--- response_body_unlike: html
--- error_log
client intended to send too large body
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 12: client_max_body_size exceeded (chunked): 413 JSON, not HTML
--- config
    location /v1/ {
        client_max_body_size 1k;
        aigw_pass;
    }
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p1;
--- raw_request eval
"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n" . ('x' x 2048) . "\r\n0\r\n\r\n"
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"request body is too large: the limit is set by client_max_body_size","type":"<ANY>"}}
--- response_body_unlike: html
--- error_log
client intended to send too large chunked body
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 13: a 32 MB body reaches the provider whole when client_max_body_size allows it
--- config
    location /v1/ {
        client_max_body_size 40m;
        access_log logs/access.log gw;
        aigw_pass;
    }
--- http_config
    aigw_provider ok url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/ok key=k;
    aigw_model big/m ok:big-m;
--- client_cmd
perl -e 'print q({"model":"big/m","messages":[{"role":"user","content":"), "a" x (32 * 1024 * 1024), q("}],"max_tokens":5})' | curl -sS -H 'Content-Type: application/json' --data-binary @- -w '\nstatus=%{http_code}' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
--- client_output_like: ^\{"id":"chatcmpl-big",.*"content":"ok".*"prompt_tokens":8388608.*\nstatus=200$
--- log_level: info
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out eval
"MOCK POST /ok/chat/completions cl=$::big_len te=-\n"
--- access_log
GW 200 attempts=ok:200 n=1



=== TEST 14: chunked request bodies reach the provider whole, with a Content-Length
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model c/m p1:cm;
--- raw_request eval
["POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
 ::chunk('{"model":"c/m","'),
 {value => ::chunk('messages":[{"role":"user","c'), delay_before => 0.05},
 {value => ::chunk('ontent":"chunk"}') . ::chunk(']}') . "0\r\n\r\n", delay_before => 0.05}]
--- response_json
{"model":"cm","echo":{"headers":{"content-length":"61"},
 "body":"{\"model\":\"cm\",\"messages\":[{\"role\":\"user\",\"content\":\"chunk\"}]}"}}
--- response_body_unlike: transfer-encoding
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out
MOCK POST /v1/chat/completions cl=61 te=-
