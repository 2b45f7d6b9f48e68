# Self-test of the harness, phase 2: the one-shot TCP server, timeouts,
# log sections, the strict log scan and the crash check. Core nginx only.
# This file runs with master_process off and two repetitions per block.
BEGIN { $ENV{TEST_NGINX_LOAD_MODULES} = '' }
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

master_off();
no_root_location();
repeat_each(2);

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => <<'_EOC_') unless defined $block->http_config;
    proxy_read_timeout 2s;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: tcp_reply string, exact tcp_query and tcp_query_len
--- config
    location = /foo { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET /foo HTTP/1.0\r\nHost: 127.0.0.1:" . '$TEST_NGINX_RAND_PORT_1' . "\r\nConnection: close\r\n\r\n"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Mock: tcp\r\n\r\nhello"
--- request
GET /foo
--- response_body: hello
--- response_headers
X-Mock: tcp
--- no_error_log
[error]



=== TEST 2: tcp_reply as an array of separate sends, with a delay
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply_delay: 50ms
--- tcp_reply eval
["HTTP/1.1 200 OK\r\n", "Content-Length: 6\r\n\r\n", "part1\n"]
--- request
GET /t
--- response_body
part1
--- no_error_log
[error]



=== TEST 3: tcp_reply code ref sees the request; tcp_query_auto_timeout reads the body
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
sub {
    my $req = shift;
    my ($body) = $req =~ /\r\n\r\n(.*)\z/s;
    my ($line) = $req =~ /^([^\r]*)/;
    my $out = "$line|$body";
    return "HTTP/1.1 200 OK\r\nContent-Length: " . length($out) . "\r\n\r\n$out";
}
--- request
POST /t
payload
--- response_body: POST /t HTTP/1.0|payload
--- no_error_log
[error]



=== TEST 4: slow upstream: tcp_reply_delay beyond proxy_read_timeout gives 504
--- config
    location = /t {
        proxy_read_timeout 100ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply_delay: 1s
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
--- request
GET /t
--- error_code: 504
--- error_log
upstream timed out



=== TEST 5: truncated upstream body (Content-Length) -> incomplete_body
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
--- request
GET /t
--- incomplete_body
--- response_body: 0123456789
--- error_log
upstream prematurely closed connection



=== TEST 6: chunked upstream stream that dies without its last chunk -> incomplete_body
--- config
    location = /t {
        proxy_http_version 1.1;
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
. "b\r\ndata: one\n\n\r\n"
--- request
GET /t
--- incomplete_body
--- response_headers
Content-Type: text/event-stream
Transfer-Encoding: chunked
--- response_body eval
"data: one\n\n"
--- error_log
upstream prematurely closed connection



=== TEST 7: tcp_no_close + client timeout with abort
--- config
    location = /t {
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"
--- request
GET /t
--- timeout: 200ms
--- abort
--- response_body: partial



=== TEST 8: tcp_shutdown closes the write side at once -> 502
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_shutdown: 1
--- request
GET /t
--- error_code: 502
--- error_log
upstream prematurely closed connection while reading response header



=== TEST 9: tcp_listen on a UNIX socket
--- config
    location = /t { proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/logs/up.sock:/; }
--- tcp_listen: $TEST_NGINX_SERVER_ROOT/logs/up.sock
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix"
--- request
GET /t
--- response_body: unix



=== TEST 10: grep_error_log with output per repetition
--- config
    location = /t { return 200 'x'; }
--- request
GET /t?a=1
--- grep_error_log eval: qr/http args: "[^"]*"/
--- grep_error_log_out eval
["http args: \"a=1\"\n", qr/^http args: "a=1"\n\z/]



=== TEST 11: access_log and no_access_log
--- http_config
    log_format custom 'CUSTOM $request_method $uri $status';
--- config
    location = /t { access_log logs/access.log custom; return 200 'x'; }
--- request
GET /t
--- access_log
CUSTOM GET /t 200
--- no_access_log
CUSTOM POST



=== TEST 12: shutdown_error_log and no_shutdown_error_log
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- shutdown_error_log
shutting down
--- no_shutdown_error_log
open socket



=== TEST 13: the strict scan is exempt when the block expects the level
--- config
    location = /t { return 200 'x'; }
--- client_cmd
echo "2026/01/01 00:00:00 [alert] 1#1: injected alert for the self-test" >> $TEST_NGINX_SERVER_ROOT/logs/error.log
--- request
GET /t
--- error_log eval
[qr/\[alert\] .*injected alert/]



=== TEST 14: error_log with a qr// and a plain pattern; check_accum-free window per repetition
--- config
    location = /t { return 404; }
--- request
GET /t
--- error_code: 404
--- error_log eval
["http finalize request: 404", qr/http request line: "GET \/t HTTP\/1\.1"/]



=== TEST 15: master_off and no_root_location reach nginx.conf
--- init
my $conf = do { local $/; open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/conf/nginx.conf" or die; <$fh> };
die "master\n" unless $conf =~ /master_process\s+off;/;
die "user\n" if $conf =~ /^user\s/m;
die "root location\n" if $conf =~ /location \/ \{/;
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x
