# Self-test of the harness: every check must be able to FAIL.
#
# Each case writes a small .t file with deliberately wrong expectations into
# a temp dir, runs it with perl as a subprocess (random port, private server
# root) and asserts on its TAP output: exactly the expected assertions of each
# block fail, and nothing else does.
use strict;
use warnings;
use Test::More;
use Cwd ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $Repo = Cwd::getcwd();
die "run this from the repo root\n" unless -f "$Repo/t/lib/Test/Nginx/Socket.pm";

sub run_child {
    my (%a) = @_;
    my $dir = File::Temp::tempdir('harness-fail-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $file = "$dir/child.t";
    my $begin = exists $a{begin} ? $a{begin} : "BEGIN { \$ENV{TEST_NGINX_LOAD_MODULES} = '' }\n";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $begin, "use lib 't/lib';\nuse Test::Nginx::Socket 'no_plan';\n",
              ($a{setup} // ''), "\nrun_tests();\n\n__DATA__\n\n", $a{data};
    close $fh;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        delete $ENV{CI};
        delete $ENV{$_} for grep { /^TEST_NGINX_/ } keys %ENV;
        %ENV = (%ENV, TEST_NGINX_RANDOMIZE => 1, TEST_NGINX_SERVROOT => "$dir/servroot",
                %{ $a{env} || {} });
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/out";
        open STDERR, '>', "$dir/err";
        exec $^X, $file or POSIX::_exit(127);
    }
    my $deadline = time + 60;
    my $st;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) { $st = $?; last }
        if (time > $deadline) { kill 'KILL', -$pid; waitpid($pid, 0); $st = -1; last }
        Time::HiRes::sleep(0.01);
    }
    my $slurp = sub { open my $f, '<', shift or return ''; local $/; <$f> // '' };
    my %res = (status => $st, exit => $st >> 8, out => $slurp->("$dir/out"),
               err => $slurp->("$dir/err"), dir => $dir);
    for my $l (split /\n/, $res{out}) {
        next unless $l =~ /^(not ok|ok) \d+(?: - (.*?))?(\s*# (?:skip|TODO).*)?$/;
        my ($ok, $name, $dir) = ($1 eq 'ok', $2 // '', $3);
        my ($n) = $name =~ /TEST (\d+):/;
        $n //= 0;
        push @{ $res{tests}{$n} }, $name;
        push @{ $res{failed}{$n} }, $name unless $ok || ($dir && $dir =~ /TODO/);
        $res{skipped}++ if $dir && $dir =~ /skip/;
    }
    return \%res;
}

sub dump_child { my $r = shift; diag("child stdout:\n$r->{out}\nchild stderr:\n$r->{err}") }

# $exp: { block number => [qr/failing assertion/, ...] }; every other block
# must have no failure at all.
sub expect_failures {
    my ($label, $r, $exp) = @_;
    my $bad = 0;
    my %blocks = map { $_ => 1 } keys %{ $r->{tests} || {} }, keys %$exp;
    for my $n (sort { $a <=> $b } keys %blocks) {
        my @failed = @{ $r->{failed}{$n} || [] };
        my @want = @{ $exp->{$n} || [] };
        my @unmatched = grep { my $re = $_; !grep { $_ =~ $re } @failed } @want;
        my @extra = grep { my $f = $_; !grep { $f =~ $_ } @want } @failed;
        my $ok = !@unmatched && !@extra && @failed == @want
                 && ($r->{tests}{$n} || !@want);
        $bad++ unless ok($ok, "$label: block $n fails exactly as expected ("
                              . (@want ? join(', ', map { "$_" } @want) : 'no failure') . ")");
        unless ($ok) {
            diag("  expected but not failed: $_") for @unmatched;
            diag("  failed unexpectedly: $_") for @extra;
            diag("  failed: " . scalar(@failed) . ", expected: " . scalar(@want)) if @failed != @want;
        }
    }
    dump_child($r) if $bad;
}

my $common_setup = <<'_EOS_';
repeat_each(1);
_EOS_

# ---------------------------------------------------------------------------
# A: response, log and extension checks with master on
# ---------------------------------------------------------------------------

my $a = run_child(setup => "repeat_each(1);\nstart_redis();\n", data => <<'_EOD_');
=== TEST 1: error_code mismatch
--- config
    location = /t { return 404; }
--- request
GET /t
--- error_code: 200

=== TEST 2: response_body mismatch
--- config
    location = /t { return 200 'abc'; }
--- request
GET /t
--- response_body: abd

=== TEST 3: response_body_like mismatch
--- config
    location = /t { return 200 'abc'; }
--- request
GET /t
--- response_body_like: ^x

=== TEST 4: response_headers value mismatch
--- config
    location = /t { add_header X-A 1; return 200 'x'; }
--- request
GET /t
--- response_headers
X-A: 2
Content-Type: text/plain

=== TEST 5: response_headers ! Name while present
--- config
    location = /t { add_header X-A 1; return 200 'x'; }
--- request
GET /t
--- response_headers
! X-A
! X-B

=== TEST 6: error_log pattern missing
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- error_log
this text never appears in the log

=== TEST 7: no_error_log pattern present
--- request
GET /no-such-file.html
--- error_code: 404
--- no_error_log
[error]
[crit]

=== TEST 8: grep_error_log_out mismatch
--- config
    location = /t { return 200 'x'; }
--- request
GET /t?a=1
--- grep_error_log eval: qr/http args: "[^"]*"/
--- grep_error_log_out
http args: "a=2"

=== TEST 9: access_log pattern missing
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- access_log
"GET /other

=== TEST 10: grep_access_log_out mismatch
--- config
    location = /t { return 200 'x'; }
--- request eval
["GET /t?1", "GET /t?2"]
--- grep_access_log eval: qr{GET /t\?\d}
--- grep_access_log_out
GET /t?2
GET /t?1

=== TEST 11: response_json mismatch
--- config
    location = /j { default_type application/json; return 200 '{"a":{"b":[1,2]},"c":"x"}'; }
--- request
GET /j
--- response_json
{"a":{"b":[1,3]}}

=== TEST 12: sse_data mismatch
--- config
    location = /s { return 200 "data: {\"n\":1}\n\ndata: [DONE]\n\n"; }
--- request
GET /s
--- sse_data eval
[{n => 2}, "[DONE]"]

=== TEST 13: sse_events mismatch
--- config
    location = /s { return 200 "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"; }
--- request
GET /s
--- sse_events eval
["a", "c"]

=== TEST 14: stream_min_span on a buffered (instant) response
--- config
    location = /s { return 200 "data: 1\n\ndata: 2\n\n"; }
--- request
GET /s
--- stream_min_span: 0.2

=== TEST 15: incomplete_body on a complete body
--- config
    location = /t { return 200 'complete'; }
--- request
GET /t
--- incomplete_body

=== TEST 16: client timeout without abort
--- raw_request eval
"GET / HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 200ms

=== TEST 17: must_die but nginx starts fine
--- config
    location = /t { return 200 'x'; }
--- must_die

=== TEST 18: strict scan: an [alert] line fails the block
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- client_cmd
echo "2026/01/01 00:00:00 [alert] 1#1: injected alert" >> $TEST_NGINX_SERVER_ROOT/logs/error.log

=== TEST 19: crash of a worker (SIGSEGV) is caught by the strict scan
--- config
    location = /t { return 200 'x'; }
--- init
my @w = Test::Nginx::Socket::worker_pids();
die "no worker found" unless @w;
kill 'SEGV', @w;
select undef, undef, undef, 0.1;
--- request
GET /t

=== TEST 20: redis_out mismatch
--- init
redis_cmd(qw(SET k 1));
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- redis_out
GET k => 2
GET k => 1

=== TEST 21: client_cmd nonzero exit
--- config
    location = /t { return 200 'x'; }
--- client_cmd: echo "some output"; echo "an error" >&2; exit 4

=== TEST 22: client_output_like mismatch, client_exit mismatch
--- config
    location = /t { return 200 'x'; }
--- client_cmd: echo hello
--- client_exit: 1
--- client_output_like: ^bye

=== TEST 23: client_timeout expires
--- config
    location = /t { return 200 'x'; }
--- client_cmd: sleep 5
--- client_timeout: 300ms

=== TEST 24: response_body_unlike, raw_response_headers_like, response_headers_like, error_code_like
--- config
    location = /t { return 200 'abc'; }
--- request
GET /t
--- error_code_like: ^3
--- response_body_unlike: b
--- raw_response_headers_like: X-Nope
--- raw_response_headers_unlike: ^HTTP
--- response_headers_like
Content-Type: text/html

=== TEST 25: shutdown_error_log missing, no_shutdown_error_log present, no_access_log present
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- shutdown_error_log
never at shutdown
--- no_shutdown_error_log
gracefully shutting down
--- no_access_log
"GET /t

=== TEST 26: init dies
--- init
die "init broke\n";
--- config
    location = /t { return 200 'x'; }
--- request
GET /t

=== TEST 27: nginx fails to start without must_die
--- config
    location = /t { bogus_directive_xyz; }
--- suppress_stderr
--- request
GET /t

=== TEST 28: response_json on a body that is not JSON
--- config
    location = /t { return 200 'not json'; }
--- request
GET /t
--- response_json
{"a":1}

=== TEST 29: mock_requests_like and mock_request_count mismatch
--- config
    location /v1/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => sub { { status => 200, body => "m" } });
--- request
GET /v1/x
--- response_body: m
--- mock_requests_like
POST /v1/x
--- mock_request_count: 2

=== TEST 30: control block: everything passes
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x
--- no_error_log
[error]

=== TEST 31: strict scan: an UndefinedBehaviorSanitizer report fails the block
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- client_cmd
echo "src/x.c:1:2: runtime error: signed integer overflow" >> $TEST_NGINX_SERVER_ROOT/logs/error.log
_EOD_

expect_failures('A', $a, {
    1  => [qr/status code ok/],
    2  => [qr/response_body - response is expected/],
    3  => [qr/response_body_like - response is expected \(abc\)/],
    4  => [qr/header X-A ok/],
    5  => [qr/header X-A not present/],
    6  => [qr/pattern "this text never appears in the log" matches a line in error\.log/],
    7  => [qr/pattern "\[error\]" should not match any line in error\.log but matches line ".*open\(\)/],
    8  => [qr/grep_error_log_out \(req 0\)/],
    9  => [qr/pattern ""GET \/other" matches a line in access\.log/],
    10 => [qr/grep_access_log_out \(req 0\)/],
    11 => [qr/response_json ok/],
    12 => [qr/sse_data ok/],
    13 => [qr/sse_events ok/],
    14 => [qr/stream_min_span >= 0\.2s/],
    15 => [qr/response body is incomplete as expected/],
    16 => [qr/^ERROR: client socket timed out - .*TEST 16:/, qr/status code ok/],
    17 => [qr/nginx died as expected/],
    18 => [qr/no alert\/crit\/emerg in error\.log \(req 0\)/],
    19 => [qr/no alert\/crit\/emerg in error\.log/],
    20 => [qr/redis_out: GET k/],
    21 => [qr/client command exited 0/],
    22 => [qr/client command exited 1/, qr/client_output_like/],
    23 => [qr/client command finished within 0\.3s/],
    24 => [qr/status code ok/, qr/response_body_unlike/, qr/raw_response_headers_like ok/,
           qr/raw_response_headers_unlike ok/, qr/header Content-Type like ok/],
    25 => [qr/pattern "never at shutdown" matches a line in error\.log at shutdown/,
           qr/pattern "gracefully shutting down" should not match/,
           qr/pattern ""GET \/t" should not match any line in access\.log/],
    26 => [qr/init ok/],
    27 => [qr/nginx started \(nginx exited: exited with code 1\)/],
    28 => [qr/response_json ok/],
    29 => [qr/pattern "POST \/v1\/x" matches a line in the mock request logs/, qr/mock_request_count/],
    31 => [qr/no alert\/crit\/emerg in error\.log \(req 0\)/],
});
isnt($a->{exit}, 0, 'A: the failing child exits non-zero');
like($a->{err}, qr/client command: echo "some output".*some output.*an error/s,
     'A: client_cmd failure shows its stdout and stderr');
like($a->{err}, qr/worker process \d+ exited on signal 11/, 'A: the crash line is shown as diag');
like($a->{err}, qr/unknown directive "bogus_directive_xyz"/, 'A: a failed start shows the [emerg] line');
like($a->{err}, qr/\$\.a\.b\[1\]: expected number 3, got 2/, 'A: response_json explains the mismatch');

# ---------------------------------------------------------------------------
# B: master off, tcp server, crash of the single process, truncated bodies
# ---------------------------------------------------------------------------

my $b = run_child(setup => "master_off();\nrepeat_each(2);\n", data => <<'_EOD_');
=== TEST 1: tcp_query and tcp_query_len mismatch
--- config
    location = /foo { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET /bar HTTP/1.0\r\n"
--- tcp_query_len: 3
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
--- request
GET /foo
--- response_body: ok

=== TEST 2: truncated body without incomplete_body; stream_first_byte_max too slow
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply_delay: 300ms
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
--- request
GET /t
--- stream_first_byte_max: 0.1
--- error_log
upstream prematurely closed connection

=== TEST 3: nginx killed by a signal (master off)
--- config
    location = /t { return 200 'x'; }
--- init
kill 'SEGV', Test::Nginx::Socket::nginx_pid();
select undef, undef, undef, 0.1;

=== TEST 4: tcp_query when nothing connects
--- config
    location = /t { return 200 'x'; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query: GET
--- tcp_reply: x
--- timeout: 300ms
--- request
GET /t
_EOD_

expect_failures('B', $b, {
    1 => [qr/tcp_query ok/, qr/tcp_query_len ok/, qr/tcp_query ok/, qr/tcp_query_len ok/],
    2 => [qr/response body framing is complete and valid \(repeated req 0/,
          qr/stream_first_byte_max <= 0\.1s \(repeated req 0/,
          qr/response body framing is complete and valid \(repeated req 1/,
          qr/stream_first_byte_max <= 0\.1s \(repeated req 1/],
    3 => [qr/nginx exited cleanly/],
    4 => [qr/tcp_query ok/, qr/tcp_query ok/],
});
like($b->{err}, qr/nginx was killed by signal 11/, 'B: the crash is explained');
like($b->{err}, qr/got 10 body bytes, Content-Length is 100/, 'B: the truncation is explained');
like($b->{err}, qr/received no connection/, 'B: a missing upstream connection is explained');

# ---------------------------------------------------------------------------
# C: a leftover --- ONLY under CI=true fails the file; without CI it does not
# ---------------------------------------------------------------------------

my $only_data = <<'_EOD_';
=== TEST 1: not run
--- config
    location = /t { return 500; }
--- request
GET /t

=== TEST 2: the only one
--- @ONLY@
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: x
_EOD_

# spelled out here so that the file itself holds no leftover marker
$only_data =~ s/\@ONLY\@/'ON' . 'LY'/e;

my $c1 = run_child(env => { CI => 'true' }, data => $only_data);
isnt($c1->{exit}, 0, 'C: leftover ONLY with CI=true fails the file');
like($c1->{out}, qr/^not ok \d+ - .*no leftover '--- ONLY'/m, 'C: ... with a named assertion');
ok(!$c1->{failed}{2}, 'C: ... while the ONLY block itself passes') or dump_child($c1);
my $c2 = run_child(data => $only_data);
is($c2->{exit}, 0, 'C: without CI=true, ONLY just runs that block') or dump_child($c2);
ok(!$c2->{tests}{1}, 'C: ... and the other block does not run');

# ---------------------------------------------------------------------------
# D: undefined $TEST_NGINX_ variable; missing module (D12)
# ---------------------------------------------------------------------------

my $d = run_child(data => <<'_EOD_');
=== TEST 1: uses an undefined variable
--- config
    location = /t { return 200 '$TEST_NGINX_NO_SUCH_VARIABLE'; }
--- request
GET /t
_EOD_
is($d->{exit}, 255, 'D: an undefined $TEST_NGINX_ variable bails out (exit 255)') or dump_child($d);
like($d->{out}, qr/^Bail out!.*TEST 1: uses an undefined variable: undefined environment variable \$TEST_NGINX_NO_SUCH_VARIABLE/m,
     'D: ... naming the block and the variable');

my $e = run_child(begin => '', env => { TEST_NGINX_LOAD_MODULES => '/nonexistent/objs/ngx_http_aigw_module.so' },
                  data => "=== TEST 1: x\n--- request\nGET /\n");
is($e->{exit}, 255, 'D: a missing module .so bails out') or dump_child($e);
like($e->{out}, qr/^Bail out!.*\/nonexistent\/objs\/ngx_http_aigw_module\.so.*not found.*`make`/m,
     'D: ... with a hint to run make');

# ---------------------------------------------------------------------------
# E: cleanup handlers, TEST_NGINX_ERROR_LOG, TEST_NGINX_NO_CLEAN, skip/todo
# ---------------------------------------------------------------------------

{
    my $tmp = File::Temp::tempdir('harness-misc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $f = run_child(
        env => { TEST_NGINX_ERROR_LOG => "$tmp/all.log", TEST_NGINX_NO_CLEAN => 1 },
        setup => <<"_EOS_",
add_cleanup_handler(sub { open my \$fh, '>', '$tmp/cleanup' or die; print \$fh "file\\n"; close \$fh });
add_test_cleanup_handler(sub { open my \$fh, '>>', '$tmp/cleanup-test' or die; print \$fh shift->name, "\\n"; close \$fh });
_EOS_
        data => <<'_EOD_');
=== TEST 1: skipped by skip_nginx
--- skip_nginx: 2: > 0.1.0
--- request
GET /

=== TEST 2: a todo failure does not fail the file
--- todo: 1: known to fail
--- config
    location = /t { return 200 'x'; }
--- request
GET /t
--- response_body: y

=== TEST 3: last block stays running
--- config
    location = /t { return 200 'still here'; }
--- request
GET /t
--- response_body: still here
_EOD_
    is($f->{exit}, 0, 'E: skips and todo failures keep the file passing') or dump_child($f);
    is($f->{skipped}, 2, 'E: skip_nginx reports N skipped assertions');
    ok(-e "$tmp/cleanup", 'E: add_cleanup_handler ran at the end');
    my $ct = do { local $/; open my $fh, '<', "$tmp/cleanup-test" or die; <$fh> } // '';
    like($ct, qr/TEST 2:.*\n.*TEST 3:/s, 'E: add_test_cleanup_handler ran for each run block');
    my $all = do { local $/; open my $fh, '<', "$tmp/all.log" or die; <$fh> } // '';
    like($all, qr/^=== \S+child\.t TEST 2: .*^=== \S+child\.t TEST 3: /ms,
         'E: TEST_NGINX_ERROR_LOG collects every block\'s error.log');
    my ($pid, $port) = $f->{err} =~ /nginx \(pid (\d+)\) left running on 127\.0\.0\.1:(\d+)/;
    ok($pid && kill(0, $pid), 'E: TEST_NGINX_NO_CLEAN leaves the last nginx running');
    if ($pid) {
        require IO::Socket::INET;
        my $s = IO::Socket::INET->new("127.0.0.1:$port");
        if ($s) {
            print $s "GET /t HTTP/1.0\r\n\r\n";
            local $/;
            like(<$s> // '', qr/still here/, 'E: ... and it still answers');
        } else {
            fail('E: ... and it still answers');
        }
        kill 'KILL', -$pid;    # its own process group (setpgrp in the harness)
    }
}

done_testing();
