# Self-test of the harness (t/lib/Test/Nginx/Socket.pm), phase 1: core
# nginx only, no aigw module.
BEGIN { $ENV{TEST_NGINX_LOAD_MODULES} = '' }
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
env_to_nginx('AIGW_HARNESS_TEST=1', 'HOME');
worker_connections(128);

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->no_error_log && !defined $block->must_die
        && !defined $block->error_log) {
        $block->set_value(no_error_log => "[error]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: colon form has no trailing newline
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x



=== TEST 2: multi-line body and chomp
--- config
    location = /t { return 200 "a\nb"; }
--- request
GET /t
--- response_body chomp
a
b



=== TEST 3: multi-line response_body ends with exactly one newline
--- config
    location = /t { return 200 "line1\nline2\n"; }
--- request
GET /t
--- response_body
line1
line2



=== TEST 4: 302 with Location, $ServerPort, absent header and empty-value header
--- config
    location = /old { return 302 /new; }
--- request
GET /old
--- error_code: 302
--- response_headers
Location: http://localhost:$ServerPort/new
! X-Foo
X-Not-There:
--- response_headers_like
Location: http://localhost:\d+/new
Content-Type: text/html



=== TEST 5: the default root location serves html/index.html
--- request
GET /
--- response_body_like: It works!
--- response_headers
Content-Type: text/html



=== TEST 6: chunked response through proxy_pass to a mock on a RAND port; debug lines in error_log
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            sub_filter_types *;
            sub_filter 'a' 'A';
            sub_filter_once off;
            return 200 "banana\n";
        }
    }
--- config
    location /proxy {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- request
GET /proxy
--- response_body
bAnAnA
--- response_headers
Transfer-Encoding: chunked
! Content-Length
--- error_log
http proxy header:
http upstream request
--- no_error_log
[error]



=== TEST 7: must_die with an invalid directive
--- config
    location = /t { no_such_directive_here on; }
--- must_die: 1
--- suppress_stderr
--- error_log
[emerg]
unknown directive "no_such_directive_here"



=== TEST 8: skip_eval skips without starting nginx
--- skip_eval: 3: 1
--- config
    this is not even a valid config;
--- request
GET /t
--- response_body: never



=== TEST 9: skip_eval with a false expression runs the block
--- skip_eval: 1: 0
--- config
    location = /t { return 200 'ran'; }
--- request
GET /t
--- response_body: ran



=== TEST 10: request eval array with per-request checks
--- config
    location = /a { return 200 'A'; }
    location = /b { return 404; }
    location = /c { add_header X-C yes; return 201 'C'; }
--- request eval
["GET /a", "GET /b", "GET /c"]
--- more_headers eval
["X-Req: 1", "X-Req: 2", "X-Req: 3"]
--- error_code eval
[200, 404, 201]
--- response_headers eval
["! X-C", "", "X-C: yes"]
--- response_body_like eval
["^A\\z", "404 Not Found", "^C\\z"]
--- no_error_log
[alert]



=== TEST 11: request arrays default the status to 200
--- config
    location /t { return 200 'ok'; }
--- request eval
["GET /t/1", "GET /t/2"]
--- response_body eval
["ok", "ok"]



=== TEST 12: request body: trimmed, Content-Length added, split into delayed packets
--- http_config
    log_format bodylog 'BODY [$request_body] CL=$http_content_length';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 'got it'; }
    }
--- config
    location = /echo {
        access_log logs/access.log bodylog;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request eval
[["POST /echo\n{\"model\"", {value => ":\"m\"}\n\n", delay_before => 0.05}]]
--- response_body: got it
--- access_log
BODY [{\x22model\x22:\x22m\x22}] CL=13



=== TEST 13: more_headers and a plain POST body
--- http_config
    log_format bodylog2 'BODY2 [$request_body] CT=$http_content_type';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 'ok'; }
    }
--- config
    location = /t {
        access_log logs/access.log bodylog2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- more_headers
Content-Type: application/json
# a comment line is ignored
--- request
POST /t
  hello world  
--- response_body: ok
--- access_log
BODY2 [hello world] CT=application/json



=== TEST 14: raw_request is sent as is
--- config
    location = /raw { return 200 "$request_method $http_x_raw"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\nX-Raw: yes\r\n\r\n"
--- response_body: GET yes



=== TEST 15: raw_request as delayed packets
--- config
    location = /raw { return 200 "$http_x_raw"; }
--- raw_request eval
["GET /raw HTTP/1.1\r\nHost: localhost\r\n", {value => "X-Raw: late\r\nConnection: close\r\n\r\n", delay_before => 0.05}]
--- response_body: late



=== TEST 16: $TEST_NGINX_* expansion in config, request and expected values
--- config
    location = /port { return 200 "port=$TEST_NGINX_SERVER_PORT root=$TEST_NGINX_SERVER_ROOT"; }
--- request
GET /port?x=$TEST_NGINX_SERVER_PORT
--- response_body: port=$TEST_NGINX_SERVER_PORT root=$TEST_NGINX_SERVER_ROOT



=== TEST 17: user_files (text form with mtime) and TEST_NGINX_HTML_DIR
--- user_files
>>> data/models.json 201801010000.00
{"models":["a","b"]}
>>> other.txt
other $TEST_NGINX_SERVER_PORT
--- config
    location /data/ { root $TEST_NGINX_HTML_DIR; }
--- request
GET /data/models.json
--- response_body
{"models":["a","b"]}
--- response_headers
Last-Modified: Mon, 01 Jan 2018 00:00:00 GMT



=== TEST 18: user_files eval form
--- user_files eval
[["evald.txt", "from eval\n"]]
--- request
GET /evald.txt
--- response_body
from eval



=== TEST 19: init runs after nginx is ready; post_setup_server_root before the conf
--- post_setup_server_root
open my $fh, '>', "$ENV{TEST_NGINX_HTML_DIR}/post.txt" or die; print $fh "post"; close $fh;
--- init
open my $fh, '>', "$ENV{TEST_NGINX_HTML_DIR}/init.txt" or die; print $fh "init"; close $fh;
--- config
    location = /both { return 200 "ok"; }
--- request eval
["GET /post.txt", "GET /init.txt"]
--- response_body eval
["post", "init"]



=== TEST 20: log_level section
--- log_level: warn
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x
--- no_error_log
[debug]
[info]



=== TEST 21: main_config, post_main_config, server_name and config_preamble sections
--- main_config
    thread_pool harness_pool threads=1;
--- post_main_config
    worker_rlimit_nofile 1024;
--- server_name: example.test
--- config_preamble
    set $pre "preamble";
--- config
    location = /t { return 200 "$server_name $pre"; }
--- request
GET /t
--- response_body: example.test preamble



=== TEST 22: a plain config block
--- config
    location = /inherit { return 200 'inherited'; }
--- request
GET /inherit
--- response_body: inherited



=== TEST 23: config is inherited from the previous block when absent
--- request
GET /inherit
--- response_body: inherited



=== TEST 24: response_body_filters and response_body eval qr
--- config
    location = /t { return 200 'hello'; }
--- request
GET /t
--- response_body_filters: uc
--- response_body eval
qr/^HEL+O$/



=== TEST 25: response_body_filters md5_hex and length
--- config
    location = /t { return 200 'hello'; }
--- request eval
["GET /t", "GET /t"]
--- response_body_filters
md5_hex length
--- response_body eval
["32", "32"]



=== TEST 26: raw_response_headers_like/unlike, response_body_unlike, error_code_like
--- config
    location = /t { add_header X-A 1 always; add_header X-A 2 always; return 418 'teapot'; }
--- request
GET /t
--- error_code_like: ^4\d\d$
--- response_headers
X-A: 1, 2
--- raw_response_headers_like: ^HTTP/1\.1 418 .*\r\nX-A: 1\r\nX-A: 2\r\n
--- raw_response_headers_unlike: X-B
--- response_body_unlike: coffee



=== TEST 27: HEAD request has no body
--- config
    location = /t { return 200 'body'; }
--- request
HEAD /t
--- response_body:
--- response_headers
Content-Length: 4



=== TEST 28: oversized body gets 413 (write errors are not fatal)
--- config
    location = /t { client_max_body_size 1k; return 200 'no'; }
--- request eval
"POST /t\n" . ('x' x 2_000_000)
--- error_code: 413
--- error_log
client intended to send too large body



=== TEST 29: ignore_response and wait
--- config
    location = /t { return 200 'whatever'; }
--- request
GET /t
--- ignore_response
--- wait: 0.05



=== TEST 30: shutdown (half-close) after sending
--- config
    location = /t { return 200 'half'; }
--- request
GET /t
--- shutdown: 1
--- response_body: half



=== TEST 31: settings reach the generated nginx.conf
--- init
my $conf = do { local $/; open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/conf/nginx.conf" or die; <$fh> };
die "no env line\n" unless $conf =~ /^env AIGW_HARNESS_TEST=1;\nenv HOME;$/m;
die "worker_connections\n" unless $conf =~ /worker_connections 128;/;
die "listen\n" unless $conf =~ /listen\s+127\.0\.0\.1:$ENV{TEST_NGINX_SERVER_PORT};/;
die "master\n" unless $conf =~ /master_process\s+on;/;
die "user root\n" if $> == 0 && $conf !~ /^user\s+root;/m;
die "daemon\n" unless $conf =~ /daemon\s+off;/;
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x



=== TEST 32: ONLY-free file: the LAST meta section stops here
--- config
    location = /t { return 200 'last'; }
--- request
GET /t
--- response_body: last
--- LAST



=== TEST 33: never run (after LAST)
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body: never
