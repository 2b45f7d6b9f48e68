# Issue 5: keepalive connections are reused per provider and never handed
# to another provider, even when two providers point to the same address
# (url= providers: the module's own per-provider cache; upstream{}
# providers: one upstream{} with "keepalive" each).  The mock logs its
# $connection with the Host and key each request came with.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n");

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK c=$connection n=$connection_requests host=$http_host auth=$http_authorization$http_x_api_key $request_uri';
    log_format gw escape=none 'GW $status provider=$aigw_provider attempts=$aigw_attempts';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
        location /anthropic/ { js_content mock.anthropic; }
        location /fail/ {
            access_log logs/access.log mock;
            return 503 '{"error":{"message":"busy","type":"server_error"}}';
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n");
});

sub chat {
    my ($model) = @_;
    return "POST /v1/chat/completions\n{\"model\":\"$model\",\"max_tokens\":20,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
}

run_tests();

__DATA__

=== TEST 1: url= providers on the same address: each reuses its own connection, never the other's
--- http_config
    aigw_provider p1 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p1/v1 key=sk-p1;
    aigw_provider p2 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p2/v1 host=p2.test key=sk-p2;
    aigw_provider p3 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic host=p3.test key=sk-p3;
    aigw_model m1 p1:x;
    aigw_model m2 p2:y;
    aigw_model m3 p3:z;
--- request eval
[map { main::chat($_) } qw(m1 m2 m3 m1 m2 m3 m2 m1)]
--- response_headers eval
["X-AIGW-Provider: p1", "X-AIGW-Provider: p2", "X-AIGW-Provider: p3",
 "X-AIGW-Provider: p1", "X-AIGW-Provider: p2", "X-AIGW-Provider: p3",
 "X-AIGW-Provider: p2", "X-AIGW-Provider: p1"]
--- grep_access_log eval: qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK c=(\d+) n=1 host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 /p1/v1/chat/completions
MOCK c=(?!\1\b)(\d+) n=1 host=p2\.test auth=Bearer sk-p2 /p2/v1/chat/completions
MOCK c=(?!\1\b|\2\b)(\d+) n=1 host=p3\.test auth=sk-p3 /anthropic/v1/messages
MOCK c=\1 n=2 host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 /p1/v1/chat/completions
MOCK c=\2 n=2 host=p2\.test auth=Bearer sk-p2 /p2/v1/chat/completions
MOCK c=\3 n=2 host=p3\.test auth=sk-p3 /anthropic/v1/messages
MOCK c=\2 n=3 host=p2\.test auth=Bearer sk-p2 /p2/v1/chat/completions
MOCK c=\1 n=3 host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 /p1/v1/chat/completions
\z}



=== TEST 2: upstream{} providers on the same address, one upstream{} with keepalive each: no sharing
--- http_config
    upstream ka1 { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; keepalive 4; }
    upstream ka2 { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; keepalive 4; }
    aigw_provider u1 format=openai upstream=ka1 tls=off host=u1.test path=/u1/v1 key=sk-u1;
    aigw_provider u2 format=openai upstream=ka2 tls=off host=u2.test path=/u2/v1 key=sk-u2;
    aigw_model m1 u1:x;
    aigw_model m2 u2:y;
--- request eval
[map { main::chat($_) } qw(m1 m2 m1 m2 m2 m1)]
--- response_headers eval
["X-AIGW-Provider: u1", "X-AIGW-Provider: u2", "X-AIGW-Provider: u1",
 "X-AIGW-Provider: u2", "X-AIGW-Provider: u2", "X-AIGW-Provider: u1"]
--- grep_access_log eval: qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK c=(\d+) n=1 host=u1\.test auth=Bearer sk-u1 /u1/v1/chat/completions
MOCK c=(?!\1\b)(\d+) n=1 host=u2\.test auth=Bearer sk-u2 /u2/v1/chat/completions
MOCK c=\1 n=2 host=u1\.test auth=Bearer sk-u1 /u1/v1/chat/completions
MOCK c=\2 n=2 host=u2\.test auth=Bearer sk-u2 /u2/v1/chat/completions
MOCK c=\2 n=3 host=u2\.test auth=Bearer sk-u2 /u2/v1/chat/completions
MOCK c=\1 n=3 host=u1\.test auth=Bearer sk-u1 /u1/v1/chat/completions
\z}



=== TEST 3: failover between two providers on the same address: the second try opens its own connection, later requests reuse per provider
--- http_config
    aigw_health cooldown=0;
    aigw_provider bad format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail/v1 host=bad.test key=sk-bad;
    aigw_provider p1 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p1/v1 key=sk-p1;
    aigw_provider p2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic host=p2.test key=sk-p2;
    aigw_model m1 p1:x;
    aigw_model m bad:w p2:y;
--- request eval
[map { main::chat($_) } qw(m1 m m1 m)]
--- response_headers eval
["X-AIGW-Attempts: p1:200", "X-AIGW-Attempts: bad:503,p2:200",
 "X-AIGW-Attempts: p1:200", "X-AIGW-Attempts: bad:503,p2:200"]
--- grep_access_log eval: qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK c=(\d+) n=1 host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 /p1/v1/chat/completions
MOCK c=(?!\1\b)(\d+) n=1 host=bad\.test auth=Bearer sk-bad /fail/v1/chat/completions
MOCK c=(?!\1\b|\2\b)(\d+) n=1 host=p2\.test auth=sk-p2 /anthropic/v1/messages
MOCK c=\1 n=2 host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 /p1/v1/chat/completions
MOCK c=(?!\1\b|\2\b|\3\b)(\d+) n=1 host=bad\.test auth=Bearer sk-bad /fail/v1/chat/completions
MOCK c=\3 n=2 host=p2\.test auth=sk-p2 /anthropic/v1/messages
\z}



=== TEST 4: a cached connection the provider closes as it is reused: the same provider is tried again on a new connection, no failover
--- init
my $n = 0;   # requests on this connection (each connection has its own child)
start_mock_http(port => '$TEST_NGINX_RAND_PORT_3', handler => sub {
    my $r = shift;
    POSIX::_exit(0) if ++$n == 2;    # the 2nd request of a connection: close, no answer
    return { status => 200, headers => ['Content-Type' => 'application/json'],
             body => '{"id":"chatcmpl-k","object":"chat.completion","created":1,"model":"x",'
                     . '"choices":[{"index":0,"message":{"role":"assistant","content":"answer from K"},'
                     . '"finish_reason":"stop"}]}' };
});
--- http_config
    aigw_provider k format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=sk-k;
    aigw_provider p1 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p1/v1 key=sk-p1;
    aigw_provider ku format=openai upstream=kup tls=off host=ku.test key=sk-ku;
    upstream kup { server 127.0.0.1:$TEST_NGINX_RAND_PORT_3; keepalive 2; }
    aigw_model m k:x p1:y;
    aigw_model mu ku:x p1:y;
--- request eval
[map { main::chat($_) } qw(m m m mu mu mu)]
--- response_headers eval
["X-AIGW-Provider: k\nX-AIGW-Attempts: k:200", "X-AIGW-Provider: k\nX-AIGW-Attempts: k:error,k:200",
 "X-AIGW-Provider: k\nX-AIGW-Attempts: k:error,k:200",
 "X-AIGW-Provider: ku\nX-AIGW-Attempts: ku:200", "X-AIGW-Provider: ku\nX-AIGW-Attempts: ku:error,ku:200",
 "X-AIGW-Provider: ku\nX-AIGW-Attempts: ku:error,ku:200"]
--- response_json eval
[({choices => [{message => {content => "answer from K"}}]}) x 6]
--- mock_request_count: 10
--- grep_access_log eval: qr/^MOCK .*/
--- grep_access_log_out
--- error_log
a cached connection to provider "k" broke, trying it again
a cached connection to provider "ku" broke, trying it again
