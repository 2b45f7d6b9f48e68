# Gateway core: keepalive to providers given by url=.  Idle connections are
# reused across requests (also after a chunked stream), kept per provider
# (never handed to another provider on the same address), and dropped when
# the provider closes them or asks to.  The mock logs $connection and
# $connection_requests of every request it gets.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

sub chat {
    my ($model, %o) = @_;
    my $body = qq!{"model":"$model",! . ($o{stream} ? '"stream":true,' : '')
               . '"messages":[{"role":"user","content":"x"}]}';
    my $req = "POST /v1/chat/completions\n$body";
    return $o{delay} ? [{ value => $req, delay_before => $o{delay} }] : $req;
}

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n"
                      . "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format ka 'KA $http_authorization $connection $connection_requests';
    log_format gw 'GW $status $aigw_attempts';
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

=== TEST 1: a url= provider reuses its connection, also after a chunked stream
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log ka;
        client_body_buffer_size 1m;
        location /v1/ {
            if ($http_accept = "text/event-stream") {
                rewrite ^ /chunked-sse last;
            }
            js_content echo.main;
        }
        location = /chunked-sse {
            default_type text/event-stream;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"s"},"finish_reason":"stop"}]}\n\n';
            echo_flush;
            echo -n 'data: [DONE]\n\n';
        }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=one;
    aigw_model m p1;
--- request eval
[::chat("m"), ::chat("m", stream => 1), ::chat("m"), ::chat("m", stream => 1), ::chat("m")]
--- response_headers eval
["Content-Type: application/json", "Transfer-Encoding: chunked",
 "Content-Type: application/json", "Transfer-Encoding: chunked",
 "Content-Type: application/json"]
--- grep_access_log eval: qr/KA .*/
--- grep_access_log_out eval
qr{\A
KA\ Bearer\ one\ (\d+)\ 1\n
KA\ Bearer\ one\ \1\ 2\n
KA\ Bearer\ one\ \1\ 3\n
KA\ Bearer\ one\ \1\ 4\n
KA\ Bearer\ one\ \1\ 5\n
\z}x



=== TEST 2: two providers on the same address never share a connection
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log ka;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=one;
    aigw_provider p2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=two;
    aigw_model m1 p1;
    aigw_model m2 p2;
--- request eval
[::chat("m1"), ::chat("m2"), ::chat("m1"), ::chat("m2"), ::chat("m2"), ::chat("m1")]
--- response_json eval
[ map { { echo => { headers => { authorization => "Bearer $_" } } } } qw(one two one two two one) ]
--- grep_access_log eval: qr/KA .*/
--- grep_access_log_out eval
qr{\A
KA\ Bearer\ one\ (\d+)\ 1\n
KA\ Bearer\ two\ (?!\1\ )(\d+)\ 1\n
KA\ Bearer\ one\ \1\ 2\n
KA\ Bearer\ two\ \2\ 2\n
KA\ Bearer\ two\ \2\ 3\n
KA\ Bearer\ one\ \1\ 3\n
\z}x



=== TEST 3: keepalive=0 turns reuse off
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log ka;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=one keepalive=0;
    aigw_model m p1;
--- request eval
[::chat("m"), ::chat("m"), ::chat("m")]
--- grep_access_log eval: qr/KA .*/
--- grep_access_log_out eval
qr{\A
KA\ Bearer\ one\ (\d+)\ 1\n
KA\ Bearer\ one\ (?!\1\ )(\d+)\ 1\n
KA\ Bearer\ one\ (?!\1\ |\2\ )\d+\ 1\n
\z}x



=== TEST 4: a provider that answers "Connection: close" gets a new connection next time
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log ka;
        keepalive_requests 1;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=one;
    aigw_model m p1;
--- request eval
[::chat("m"), ::chat("m"), ::chat("m")]
--- grep_access_log eval: qr/(KA|GW) .*/
--- grep_access_log_out eval
qr{\A
KA\ Bearer\ one\ (\d+)\ 1\n
GW\ 200\ p1:200\n
KA\ Bearer\ one\ (?!\1\ )(\d+)\ 1\n
GW\ 200\ p1:200\n
KA\ Bearer\ one\ (?!\1\ |\2\ )\d+\ 1\n
GW\ 200\ p1:200\n
\z}x



=== TEST 5: an idle connection the provider closed is dropped, not used
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log ka;
        keepalive_timeout 100ms;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=one;
    aigw_model m p1;
--- request eval
[::chat("m"), ::chat("m"), ::chat("m", delay => 0.4), ::chat("m")]
--- grep_access_log eval: qr/(KA|GW) .*/
--- grep_access_log_out eval
qr{\A
KA\ Bearer\ one\ (\d+)\ 1\n
GW\ 200\ p1:200\n
KA\ Bearer\ one\ \1\ 2\n
GW\ 200\ p1:200\n
KA\ Bearer\ one\ (?!\1\ )(\d+)\ 1\n
GW\ 200\ p1:200\n
KA\ Bearer\ one\ \2\ 2\n
GW\ 200\ p1:200\n
\z}x
