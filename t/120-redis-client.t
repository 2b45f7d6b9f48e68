# Issue 11, item 1 and the client half of item 4: the Redis client inside
# nginx (aigw_redis), driven through the test hook "aigw_test_redis" of
# t/hooks/ngx_http_aigw_test_module.c: the request body is one command,
# the answer its reply as text ("status:PONG", "integer:3", "nil",
# "error:...", "array:[...]"), 502 "failed" when the call failed, 503
# "declined" when the client declined it (circuit breaker open).
#
# Redis: the harness's private redis-server, one with requirepass and one
# with TLS only (start_redis_extra); faults by SIGSTOP, kill and restart
# on the same port, a garbage server (tcp_listen), a closed port.
use lib 't/lib';
use Cwd ();
use File::Basename ();
use Time::HiRes ();

BEGIN {
    my ($aigw) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                             // 'objs/ngx_http_aigw_module.so');
    $ENV{TEST_NGINX_AIGW_TEST_MODULE} //= defined $aigw
        ? File::Basename::dirname(Cwd::abs_path($aigw))
          . '/ngx_http_aigw_test_module.so'
        : '';

    # two sanitizer builds of modules: see t/hooks/asan.supp

    $ENV{ASAN_OPTIONS} = join ':', grep { length }
        $ENV{ASAN_OPTIONS} // '',
        'suppressions=' . Cwd::abs_path('t/hooks/asan.supp');

    unless (-f $ENV{TEST_NGINX_AIGW_TEST_MODULE}) {
        print "Bail out!  no test module \"$ENV{TEST_NGINX_AIGW_TEST_MODULE}\""
            . " (TEST_NGINX_AIGW_TEST_MODULE): build it with `make`\n";
        exit 255;
    }
}

use Test::Nginx::Socket 'no_plan';

repeat_each(1);

my $pw = start_redis() && start_redis_extra(password => 'p@ss w/rd');
my $tls = $pw && start_redis_extra(tls => 1);

unless ($tls) {
    print "1..0 # SKIP redis-server is not available\n";
    exit 0;
}

$ENV{TEST_NGINX_REDIS_PW_PORT} = $pw->{port};
$ENV{TEST_NGINX_REDIS_TLS_PORT} = $tls->{port};

$ENV{AIGW_TEST_REDIS_PASSWORD} = 'acl-s3cret';
$ENV{AIGW_TEST_REDIS_WRONG} = 'hunter2';

add_block_preprocessor(sub {
    my $block = shift;

    if ($block->{must_die}) {
        $block->set_value(suppress_stderr => 1);
        return;
    }

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config => "    load_module \$TEST_NGINX_AIGW_TEST_MODULE;\n$main");

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location = /r {
        aigw_test_redis;
    }
_EOC_

    $block->set_value(no_error_log => "[error]\n[warn]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

# one command through the hook: "STATUS BODY", and the seconds it took

sub req {
    my ($cmd, $query) = @_;
    $query //= '';
    my $t0 = Time::HiRes::time();
    my $out = qx{curl -s -m 5 -w ' %{http_code}' --data-binary '$cmd' http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/r$query};
    my $t = Time::HiRes::time() - $t0;
    $out =~ s/\n / /;
    my ($body, $code) = $out =~ /\A(.*) (\d+)\z/s;
    return ("$code $body", $t);
}

run_tests();

__DATA__

=== TEST 1: commands and replies of every type; the clock offset of TIME
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- request eval
["POST /r\nPING", "POST /r\nSET k v", "POST /r\nGET k", "POST /r\nINCRBY n 3",
 "POST /r\nGET missing", "POST /r\nRPUSH l a b", "POST /r\nLRANGE l 0 -1",
 "POST /r\nGET"]
--- response_body eval
["status:PONG\n", "status:OK\n", "string:v\n", "integer:3\n", "nil\n",
 "integer:2\n", "array:[string:a, string:b]\n",
 "error:ERR wrong number of arguments for 'get' command\n"]
--- response_headers_like eval
["X-Redis-Clock: -?\\d{1,3}", "", "", "", "", "", "", ""]
--- redis_out
GET k => v
GET n => 3



=== TEST 2: SELECT: the database of the URL
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT/3;
--- request eval
["POST /r\nSET dbkey three", "POST /r\nGET dbkey"]
--- response_body eval
["status:OK\n", "string:three\n"]
--- client_cmd
redis-cli -p $TEST_NGINX_REDIS_PORT -n 3 GET dbkey
--- client_output_like
^three$
--- redis_out
EXISTS dbkey => 0



=== TEST 3: AUTH with an ACL user, its password from password_env=
--- init
redis_cmd(qw(ACL SETUSER aigwuser reset on >acl-s3cret ~* +@all));
--- http_config
    aigw_redis redis://aigwuser@127.0.0.1:$TEST_NGINX_REDIS_PORT password_env=AIGW_TEST_REDIS_PASSWORD;
--- request
POST /r
ACL WHOAMI
--- response_body
string:aigwuser
--- no_error_log
[error]
acl-s3cret



=== TEST 4: AUTH with a password of the URL (percent-decoded)
--- http_config
    aigw_redis redis://:p%40ss%20w%2Frd@127.0.0.1:$TEST_NGINX_REDIS_PW_PORT;
--- request eval
["POST /r\nPING", "POST /r\nSET a 1"]
--- response_body eval
["status:PONG\n", "status:OK\n"]
--- no_error_log
[error]
p@ss



=== TEST 5: a wrong password: the call fails, the breaker opens, logged once, no password
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PW_PORT password_env=AIGW_TEST_REDIS_WRONG probe=10s;
--- request eval
["POST /r\nPING", "POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503, 503]
--- response_body eval
["failed\n", "declined\n", "declined\n"]
--- grep_error_log eval
qr/aigw: redis \S+ is unavailable \([^)]*\): limits follow fail=\w+/
--- grep_error_log_out eval
qr/\Aaigw: redis 127.0.0.1:\d+ is unavailable \(authentication failed\): limits follow fail=local\n\z/
--- no_error_log
hunter2
[alert]



=== TEST 6: the same for an ACL user refused
--- http_config
    aigw_redis redis://nosuchuser:x@127.0.0.1:$TEST_NGINX_REDIS_PORT fail=closed;
--- request eval
["POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503]
--- error_log eval
qr/is unavailable \(authentication failed\): limits follow fail=closed/



=== TEST 7: Redis not listening: the first call fails at once, the breaker declines the next ones without waiting
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_1 timeout=200ms fail=open;
--- client_cmd
start=$(date +%s%N)
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{http_code} ' --data-binary PING \
        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
done
end=$(date +%s%N)
echo
echo ms=$(( (end - start) / 1000000 ))
--- client_output_like
\A50[23] 503 503 503 503 \nms=\d{1,3}\n\z
--- grep_error_log eval
qr/aigw: redis \S+ is unavailable \([^)]*\): limits follow fail=\w+/
--- grep_error_log_out eval
qr/\Aaigw: redis 127.0.0.1:\d+ is unavailable \(connect failed|connection refused\): limits follow fail=open\n\z/
--- no_error_log
[alert]
[crit]



=== TEST 8: a failed probe doubles the interval of the breaker
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_1 probe=200ms;
--- client_cmd
r() {
    curl -s -o /dev/null -w '%{http_code} ' --data-binary PING \
        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
}
r; r
sleep 0.3
r; r
sleep 0.3
r
sleep 0.2
r
--- client_output_like
\A50[23] 503 50[23] 503 503 50[23] \z
--- error_log eval
[qr/is unavailable \((connect failed|connection refused)\)/,
 qr/is still unavailable \([^)]+\), next probe in 400 ms/,
 qr/is still unavailable \([^)]+\), next probe in 800 ms/]



=== TEST 9: SIGSTOP: the call fails after timeout=, the next are declined at once, recovery after probe=
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=150ms probe=400ms;
--- client_cmd
trap 'kill -CONT $TEST_NGINX_REDIS_PID' EXIT
r() {
    curl -s -o /dev/null -w '%{http_code}:%{time_total} ' --data-binary PING \
        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
}
r
kill -STOP $TEST_NGINX_REDIS_PID
r; r
kill -CONT $TEST_NGINX_REDIS_PID
r
sleep 0.5
r; r
--- client_output_like
\A200:\S+ 502:0\.(1[4-9]|2\d|3\d)\d* 503:0\.0\d+ 503:0\.0\d+ 200:\S+ 200:\S+ \z
--- error_log eval
[qr/aigw: redis 127.0.0.1:\d+ is unavailable \(timed out\): limits follow fail=local/,
 qr/aigw: redis 127.0.0.1:\d+ is back/]



=== TEST 10: Redis killed and restarted on the same port: automatic recovery
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT probe=200ms;
--- init
is(join(' ', (req('SET x 1'))[0]), "200 status:OK", 'before the kill');
redis_stop();
like((req('GET x'))[0], qr/\A50[23] /, 'Redis down: failed or declined');
my ($r, $t) = req('GET x');
is($r, "503 declined", 'then declined');
ok($t < 0.1, "declined without waiting ($t s)");
redis_start_again();
Time::HiRes::sleep(0.3);
--- request
POST /r
SET x 2
--- response_body
status:OK
--- error_log eval
[qr/is unavailable \((connect failed|connection refused)\)/, qr/ is back/]



=== TEST 11: a garbage server: failed, then declined
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_1 probe=10s;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HELLO\r\n"
--- tcp_no_close
--- request eval
["POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503]
--- error_log eval
[qr/aigw: redis 127.0.0.1:\d+ protocol error: /,
 qr/is unavailable \(protocol error\)/]



=== TEST 12: a server that answers TIME with a bulk of length -5
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_1 probe=10s;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"\$-5\r\n"
--- tcp_no_close
--- request eval
["POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503]
--- error_log eval
[qr/protocol error: Bulk string length out of range/,
 qr/is unavailable \(protocol error\)/]



=== TEST 13: a server that answers TIME with an integer
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_RAND_PORT_1 probe=10s;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
":1\r\n"
--- tcp_no_close
--- request eval
["POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503]
--- error_log eval
qr/is unavailable \(unexpected reply to TIME\)/



=== TEST 14: a script: EVALSHA, EVAL on NOSCRIPT, again after SCRIPT FLUSH
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
redis_cmd('CONFIG', 'RESETSTAT');
--- request eval
["POST /r?eval=1\nhello", "POST /r?eval=1\nagain", "POST /r\nSCRIPT FLUSH",
 "POST /r?eval=1\nthird"]
--- response_body_like eval
["\\Aarray:\\[string:hello, string:\\d{10}\\]\\n\\z",
 "\\Aarray:\\[string:again, string:\\d{10}\\]\\n\\z",
 "\\Astatus:OK\\n\\z",
 "\\Aarray:\\[string:third, string:\\d{10}\\]\\n\\z"]
--- redis_out
INFO commandstats => ~/cmdstat_evalsha:calls=3,[^\r\n]*failed_calls=2/
INFO commandstats => ~/cmdstat_eval:calls=2,/



=== TEST 15: 50 concurrent requests pipelined on one connection per worker
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- client_cmd
for i in $(seq 50); do
    curl -s --data-binary 'INCR n' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r \
        > /dev/null &
done
wait
redis-cli -p $TEST_NGINX_REDIS_PORT CLIENT LIST | grep -c 'cmd=incr'
redis-cli -p $TEST_NGINX_REDIS_PORT INFO stats | grep total_connections
--- client_output_like
\A1\n
--- redis_out
GET n => 50



=== TEST 16: rediss:// to a TLS redis-server, certificate verified
--- http_config
    aigw_redis rediss://127.0.0.1:$TEST_NGINX_REDIS_TLS_PORT ssl_trusted_certificate=$TEST_NGINX_REDIS_TLS_CA;
--- request eval
["POST /r\nPING", "POST /r\nSET t 1", "POST /r\nGET t"]
--- response_body eval
["status:PONG\n", "status:OK\n", "string:1\n"]



=== TEST 17: rediss:// with a certificate that is not trusted
--- http_config
    aigw_redis rediss://127.0.0.1:$TEST_NGINX_REDIS_TLS_PORT probe=10s;
--- request eval
["POST /r\nPING", "POST /r\nPING"]
--- error_code eval
[502, 503]
--- error_log eval
qr/is unavailable \(certificate not trusted\)/



=== TEST 18: rediss:// with ssl_verify=off
--- http_config
    aigw_redis rediss://127.0.0.1:$TEST_NGINX_REDIS_TLS_PORT ssl_verify=off;
--- request
POST /r
PING
--- response_body
status:PONG



=== TEST 19: a TLS handshake that never ends: calls time out alone while connecting, then the breaker opens
--- http_config
    aigw_redis rediss://127.0.0.1:$TEST_NGINX_RAND_PORT_1 timeout=100ms connect_timeout=600ms probe=10s ssl_verify=off;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
""
--- tcp_no_close
--- client_cmd
r() {
    curl -s -o /dev/null -w '%{http_code}:%{time_total} ' --data-binary PING \
        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
}
r; r
sleep 0.6
r
--- client_output_like
\A502:0\.(0[89]|1\d)\d* 502:0\.(0[89]|1\d)\d* 503:0\.0\d+ \z
--- grep_error_log eval
qr/a call timed out while connecting|is unavailable \([^)]+\)/
--- grep_error_log_out
a call timed out while connecting
a call timed out while connecting
is unavailable (TLS handshake timed out)
--- no_error_log
[alert]



=== TEST 20: a command of 8 MB: written in parts
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=5s;
--- config
    location = /r {
        client_max_body_size 16m;
        client_body_buffer_size 16m;
        aigw_test_redis;
    }
--- request eval
["POST /r\nSET big " . ("x" x (8 * 1024 * 1024)), "POST /r\nSTRLEN big"]
--- response_body eval
["status:OK\n", "integer:8388608\n"]



=== TEST 21: a client that goes away while its call waits
--- http_config
    aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- client_cmd
curl -s -m 0.2 --data-binary 'BLPOP nolist 0.5' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
sleep 0.6
curl -s --data-binary 'PING' http://127.0.0.1:$TEST_NGINX_SERVER_PORT/r
--- client_output_like
status:PONG



=== TEST 22: config errors: an invalid URL
--- http_config
    aigw_redis http://127.0.0.1:6379;
--- must_die
--- error_log
[emerg]
aigw_redis: invalid URL, expected redis://[user:password@]host[:port][/db]



=== TEST 23: config errors: an unset password_env=
--- http_config
    aigw_redis redis://127.0.0.1:6379 password_env=AIGW_TEST_NO_SUCH_VARIABLE;
--- must_die
--- error_log
[emerg]
the environment variable "AIGW_TEST_NO_SUCH_VARIABLE" of "password_env=" is not set



=== TEST 24: config errors: a bad fail=
--- http_config
    aigw_redis redis://127.0.0.1:6379 fail=maybe;
--- must_die
--- error_log
[emerg]
aigw_redis: invalid "fail=maybe", expected fail=local, fail=open or fail=closed



=== TEST 25: config errors: a bad database, a bad time, a password never logged
--- http_config
    aigw_redis redis://u:topsecret@127.0.0.1:6379/x;
--- must_die
--- error_log
[emerg]
invalid database number "x" in the URL
--- no_error_log
topsecret



=== TEST 26: config errors: a bad timeout=
--- http_config
    aigw_redis redis://127.0.0.1 timeout=soon;
--- must_die
--- error_log
[emerg]
aigw_redis: invalid time in "timeout=soon"
