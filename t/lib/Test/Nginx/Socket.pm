package Test::Nginx::Socket;

=pod

=head1 NAME

Test::Nginx::Socket - the project's own, clean-room implementation of the
OpenResty Test::Nginx::Socket block format (for ngx_http_aigw_module)

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::Nginx::Socket 'no_plan';

    repeat_each(1);
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 'hello'; }
    --- request
    GET /t
    --- response_body: hello
    --- no_error_log
    [error]

=head1 DESCRIPTION

This is B<not> the CPAN distribution Test::Nginx. It is the project's own
implementation, written from the specification in
C<shared/specs/test-harness.md>. Section names and C<TEST_NGINX_*> variables
are the upstream ones on purpose, so a block that uses only upstream sections
also runs under the CPAN module. Blocks are parsed by Test::Base
(C<use Test::Base -base>); everything else uses core Perl only.

For every block the harness: runs the block preprocessors, evaluates the
skip sections, allocates the C<$TEST_NGINX_RAND_PORT_n> ports, resets the
server root, writes C<conf/nginx.conf>, starts nginx in the foreground as a
direct child (C<fork> + C<setpgrp> + C<exec>, C<daemon off>), waits until the
server port is listening, runs C<init>, then for each repetition sends the
requests, runs C<client_cmd>, and checks the response, the logs, the TCP mock,
Redis; finally it stops nginx with SIGQUIT, checks the shutdown log and that
nginx exited cleanly.

=head2 Exported functions

C<run_tests>, C<repeat_each>, C<workers>, C<master_on>, C<master_off>,
C<master_process_enabled>, C<log_level>, C<worker_connections>,
C<no_root_location>, C<env_to_nginx>, C<config_preamble>, C<server_name>,
C<add_block_preprocessor>, C<add_cleanup_handler>,
C<add_test_cleanup_handler>, C<html_dir>, C<server_root>, C<server_port>,
C<server_port_for_client>, C<bail_out>, C<no_long_string> (no-op),
C<check_accum_error_log>, C<no_shuffle> (no-op), C<start_redis>,
C<redis_cmd>, C<redis_stop>, C<redis_start_again>, C<start_redis_extra>,
C<start_mock_http>, plus everything Test::Base / Test::More
export (C<plan>, C<is>, C<ok>, C<like>, C<diag>, C<blocks>, ...).

Not exported but callable from C<init> code:
C<Test::Nginx::Socket::nginx_pid()> (pid of the nginx master, or of the single
process with master off) and C<Test::Nginx::Socket::worker_pids()>.

=head2 Sections that build the configuration

C<main_config>, C<http_config>, C<config> (inherited from the previous block
when absent, as upstream), C<post_main_config>, C<config_preamble>,
C<server_name>, C<log_level>, C<user_files> (C<< >>> path [mtime] >> text form
or C<eval> C<[[name, content, mtime?], ...]>), C<post_setup_server_root>
(Perl), C<init> (Perl, run once after nginx is ready; a C<die> fails the
block), C<suppress_stderr>.

=head2 Sections that build the request

C<request> (string, or C<eval> array of requests, where an element that is an
arrayref is one request split into packets, each a string or
C<< {value => ..., delay_before => secs} >>), C<more_headers> (string or array
per request), C<raw_request> (string or packet array), C<raw_request_middle_delay>,
C<pipelined_requests>, C<shutdown>, C<timeout>, C<abort>, C<wait>,
C<server_addr_for_client>.

=head2 Sections that check the response

C<error_code>, C<error_code_like>, C<response_headers> (C<Name: value>,
C<! Name>), C<response_headers_like> (anchored), C<raw_response_headers_like>,
C<raw_response_headers_unlike>, C<response_body> (string, C<qr//> or array),
C<response_body_like>, C<response_body_unlike>, C<response_body_filters>
(C<md5_hex sha1_hex length uc lc ucfirst lcfirst> or code refs),
C<response_body_json_sort>, C<ignore_response>.

=head2 Sections that check the logs

C<error_log>, C<no_error_log>, C<grep_error_log> + C<grep_error_log_out>,
C<access_log>, C<no_access_log>, C<shutdown_error_log>,
C<no_shutdown_error_log>, plus the automatic strict scan (D9).

=head2 Embedded one-shot TCP server

C<tcp_listen> (port or C<path.sock>), C<tcp_reply> (string, array of strings,
or code ref), C<tcp_reply_delay>, C<tcp_reply_gap> (a pause between
the strings of an array, each then in a write and a segment of its own),
C<tcp_query>, C<tcp_query_len>,
C<tcp_no_close>, C<tcp_shutdown>, C<tcp_query_auto_timeout>. The server
accepts exactly one connection per repetition.

=head2 Skipping and flow control

C<SKIP>, C<ONLY>, C<LAST> (Test::Base), C<skip_eval: [N:] expr>,
C<skip_nginx: N: op x.y.z>, C<skip_nginx2>, C<skip_openssl>, C<todo: N: reason>,
C<must_die[: exit code]>. With C<CI=true> a leftover C<--- ONLY> in the file's
C<__DATA__> fails the file.

=head2 Project extensions (not in upstream Test::Nginx)

=over 4

=item C<response_json>

The body and the expected value (JSON text, or an C<eval> Perl structure) are
compared as a subset: expected object keys must exist and match recursively
(extra actual keys are ignored), arrays must have the same length, numbers
compare numerically, booleans as booleans, C<null> as null. An expected string
C<"~/regex/"> matches a scalar by regex and C<< "<ANY>" >> matches any present
value.

=item C<incomplete_body>

Expect an incomplete body framing (chunked without its last chunk, or fewer
bytes than Content-Length). Without it, an incomplete body fails the request
(unless C<abort>).

=item C<sse_data>, C<sse_events>

C<eval> arrays. The body is parsed as C<text/event-stream> (events separated by
a blank line; lines C<field: value> or C<:comment>; the stream must end with a
blank line). C<sse_data> lists the C<data> payloads in order (multi-line data
joined by C<\n>); each element is an exact string, a C<qr//> or a hash/array
matched as in C<response_json>. C<sse_events> lists the explicit C<event:>
names in order (events without an C<event:> line are not listed).

=item C<stream_min_span: secs>, C<stream_first_byte_max: secs>

Timing of body bytes: the span between the arrival of the first and the last
body byte must be at least I<secs>; the first body byte must arrive within
I<secs> after the request was sent.

=item C<request_gap: secs>

A pause before each request of a block but the first: with several workers, a
request's log phase (where the gateway settles its accounting) runs after the
client has its response, so a next request that must see the settled
counters waits for it.

=item C<grep_access_log> + C<grep_access_log_out>

C<grep_error_log> semantics over the lines C<access.log> got during the
repetition. With C<--- access_log_unordered> (a flag), the lines are compared
in any order: with several workers, a worker logs a request after sending its
response, so the next request's line may come first.

=item C<redis_out>

Lines C<CMD arg... =E<gt> expected>, run against the private Redis started by
C<start_redis()> after the requests. Replies are formatted as: strings and
integers as is, nil as C<(nil)>, errors as C<(error) MSG>, arrays as
C<[a, b]>. An expected C<~/regex/> is a regex. Arguments are split like a
shell would (Text::ParseWords).

=item C<client_cmd>, C<client_exit>, C<client_output_like>, C<client_timeout>

C<client_cmd> is a shell command line (env-expanded) run after nginx is ready
and after the repetition's HTTP requests (if the block has no C<request>,
C<raw_request> or C<pipelined_requests>, no HTTP request is sent and no status
code is checked). It runs with C</bin/sh -c>, cwd = repo root, and all
C<TEST_NGINX_*> variables in its environment (C<TEST_NGINX_SERVER_PORT>,
C<TEST_NGINX_RAND_PORT_n>, C<TEST_NGINX_REDIS_PORT>, ...). Assertion
"client command exited 0" (or the code in C<client_exit: N>); on failure its
stdout and stderr go to C<diag>. C<client_output_like> is a regex (C</s>; a
trailing newline of the section is dropped) over stdout. C<client_timeout>
(default 60 s): on expiry the process group is killed and the assertion
"client command finished within N s" fails.

=item C<start_redis()>, C<redis_cmd(@args)>

C<start_redis> starts a private C<redis-server> on a free 127.0.0.1 port,
exports C<TEST_NGINX_REDIS_PORT>, runs C<FLUSHALL> before each block and kills
the server at the end. When redis-server is missing, blocks that use Redis are
skipped (under C<CI=true> the harness bails out). C<redis_cmd> is a tiny RESP
client; it returns the reply (array replies as array refs) and dies on an
error reply. The server's pid is exported as C<TEST_NGINX_REDIS_PID> (for
C<client_cmd> faults such as C<kill -STOP $TEST_NGINX_REDIS_PID>; the harness
sends SIGCONT before it stops the server).

=item C<redis_stop()>, C<redis_start_again()>, C<start_redis_extra(%opts)>

C<redis_stop> kills the server of C<start_redis> (from C<init> code: a Redis
that goes away mid-test); C<redis_start_again> starts it again on the same
port and directory (call it in the same block: the next block's C<FLUSHALL>
needs it) and updates C<TEST_NGINX_REDIS_PID>. C<start_redis_extra> starts
another redis-server, killed at the end of the file, and returns
C<< {port, pid, dir, ca} >>: C<< password =E<gt> 'pw' >> runs it with
C<requirepass>; C<< tls =E<gt> 1 >> makes a CA and a server certificate for
C<localhost> and C<127.0.0.1> with the C<openssl> CLI in its directory, serves
TLS only (C<--tls-port>, C<--port 0>, no client certificates), sets C<ca> and
exports C<TEST_NGINX_REDIS_TLS_CA>. The caller exports the port.

=item C<start_mock_http(port =E<gt> $p, handler =E<gt> sub {...})>, C<mock_requests_like>, C<mock_request_count>

A forked, multi-connection, keep-alive aware Perl HTTP server on 127.0.0.1.
The handler gets C<< {method, uri, version, headers => {lc name => value}, body} >>
and returns C<< {status, headers => [Name => value, ...], body} >> or
C<< {status, headers, chunks => ["text", 0.2 (a delay), "text", ...], incomplete => 1} >>
(C<incomplete> leaves out the final chunk and closes). Every request is
appended to C<logs/mock_PORT.log> as one line
C<METHOD URI BODY-as-JSON-string>. The port may be a number or
C<'$TEST_NGINX_RAND_PORT_n'> (expanded per block when it is called from
C<init>). The mock is killed at the end of the block when started from C<init>,
otherwise at the end of the file. C<mock_requests_like> is a list of patterns
(one per line, or C<eval> array of strings / C<qr//>), each must match a line
of the block's C<logs/mock_*.log> files; C<mock_request_count: N> checks the
number of recorded requests.

=back

=head1 ENVIRONMENT

C<TEST_NGINX_BINARY> (default: C<nginx> from PATH, then C</usr/sbin/nginx>),
C<TEST_NGINX_LOAD_MODULES> (default C<< <repo>/objs/ngx_http_aigw_module.so >>;
the empty string loads nothing; a missing file bails out with a hint to run
C<make>), C<TEST_NGINX_SERVER_PORT>/C<TEST_NGINX_PORT> (1984),
C<TEST_NGINX_CLIENT_PORT>, C<TEST_NGINX_SERVROOT> (C<$cwd/t/servroot>),
C<TEST_NGINX_TIMEOUT> (3), C<TEST_NGINX_SLEEP> (0.015),
C<TEST_NGINX_LOG_LEVEL> (debug), C<TEST_NGINX_MASTER_PROCESS> (on),
C<TEST_NGINX_EVENT_TYPE>, C<TEST_NGINX_SHUFFLE>, C<TEST_NGINX_RANDOMIZE>
(random server port and server root C<t/servroot_PORT>, removed at the end, so
C<prove -j2> works), C<TEST_NGINX_NO_CLEAN> (leave the last nginx and the mocks
running), C<TEST_NGINX_FAST_SHUTDOWN>, C<TEST_NGINX_VERBOSE>,
C<TEST_NGINX_ERROR_LOG> (append every block's error.log to that file),
C<TEST_NGINX_LD_PRELOAD>. Exported by the harness: C<TEST_NGINX_SERVER_PORT>,
C<TEST_NGINX_PORT>, C<TEST_NGINX_CLIENT_PORT>, C<TEST_NGINX_SERVER_ROOT>,
C<TEST_NGINX_HTML_DIR>, C<TEST_NGINX_RAND_PORT_n> (per block),
C<TEST_NGINX_REDIS_PORT>, C<TEST_NGINX_REDIS_PID>, C<TEST_NGINX_REDIS_TLS_CA>, and C<TEST_NGINX_ECHO_MODULE> /
C<TEST_NGINX_JS_MODULE> when the Debian modules exist.

C<$TEST_NGINX_*> is expanded (an undefined variable bails out) in: main_config,
http_config, config, post_main_config, config_preamble, user_files, request,
raw_request, pipelined_requests, more_headers, response_body(_like/_unlike),
response_headers(_like), response_json, sse_data, tcp_listen, tcp_reply
strings, tcp_query, error_log/no_error_log/access_log/no_access_log/
shutdown_error_log patterns, grep_*_out, redis_out, client_cmd,
mock_requests_like. C<$ServerPort> is replaced in response_body(_like) and
response_headers.

=head1 DEVIATIONS FROM UPSTREAM Test::Nginx (D1-D12)

=over 4

=item D1 Own clean-room package in C<t/lib>, which wins over an installed CPAN copy.

=item D2 Built on C<use Test::Base -base> (lowercase; no Spiffy source filter).

=item D3 Only Test::Base plus core Perl modules; own HTTP parser.

=item D4 nginx always runs with C<daemon off> as a direct child, reaped by C<waitpid>, so exit codes and signals are visible.

=item D5 Default C<master_process on>, C<worker_processes 1> (C<user root;> is written when running as root).

=item D6 nginx is stopped (SIGQUIT) at the end of every block; shutdown checks are attributed to the block.

=item D7 Blocks run in file order (C<TEST_NGINX_SHUFFLE=1> shuffles).

=item D8 C<error_log>, C<no_error_log>, C<grep_error_log> run once per repetition, after the last request, over all lines written during that repetition (the first repetition also sees the startup and C<init> lines).

=item D9 Strict scan: any C<[alert]>, C<[crit]>, C<[emerg]>, C<Sanitizer>, UBSan's C<: runtime error:>, C<exited on signal> or C<Assertion ... failed> line fails the block ("no alert/crit/emerg in error.log"), after each repetition and at shutdown, unless the block's own log patterns mention that level (or the line matches an expected C<error_log> pattern).

=item D10 The default server listens on 127.0.0.1:PORT.

=item D11 C<$TEST_NGINX_*> expansion in more sections (listed above).

=item D12 Missing nginx, module C<.so> or Test::Base bail out; they never C<skip_all>.

=back

Smaller differences: readiness is detected by looking for the listening socket
in C</proc/net/tcp> (no probe connection, so no stray "client closed
connection" log lines); C<$TEST_NGINX_RAND_PORT_n> ports avoid the kernel's
ephemeral port range; a server root that carries the harness's marker file is
wiped entirely between blocks (otherwise only conf/, logs/, html/, *_temp/ and
*_cache/ are removed and the root must then be empty); the server port is
checked to be free before each start; a truncated body is a failure.
Not implemented (spec phase 4): the valgrind, check-leak and HUP modes
(setting C<TEST_NGINX_USE_VALGRIND>, C<TEST_NGINX_CHECK_LEAK> or
C<TEST_NGINX_USE_HUP> bails out rather than being silently ignored), the
per-block ASan C<log_path> rewriting, and C<udp_*> sections. With ASan,
C<TEST_NGINX_LD_PRELOAD> is honoured and sanitizer reports that reach
error.log fail the D9 scan.

=head1 NOTES

=over 4

=item *

With a request array of N requests, every per-request check section must be
an C<eval> array of N elements (C<error_code>, C<error_code_like>,
C<more_headers> and C<ignore_response> may stay scalar). An C<undef> element
skips that check for that request (for C<error_code> it means 200) (handy for C<response_json>, C<sse_data>,
C<stream_min_span> in mixed arrays). For C<sse_data>/C<sse_events> the
per-request form is an array of arrays.

=item *

C<response_json> is type-strict: the number C<1> does not match the string
C<"1">, and C<true> does not match C<1>.

=item *

C<client_cmd>, the TCP server, C<redis_out>, C<mock_requests_like> and all log
checks run once per repetition; C<init> runs once per block.

=item *

C<pipelined_requests>: all requests are written back to back on one
connection (C<Connection: keep-alive> on all but the last), the responses are
split by their framing and checked against element I<i> of each array-valued
check section.

=item *

In C<start_mock_http> chunk lists, a delay must be a Perl number (C<0.2>); a
string (C<"0.2">) is sent as data.

=item *

nginx is stopped gracefully and gets max(C<timeout>, C<TEST_NGINX_TIMEOUT>)
seconds to exit; after that the process group is killed and "nginx exited
cleanly" fails. A mock that keeps a request running (e.g. C<echo_sleep 10>
behind a client that aborted) delays the graceful stop: add
C<worker_shutdown_timeout 500ms;> to C<main_config> in such blocks.

=back

=cut

use strict;
use warnings;

BEGIN {
    # D12: a missing Test::Base must bail out, not die at compile time
    unless (eval { require Test::Base; 1 }) {
        print "Bail out!  Test::Base is not installed (apt-get install libtest-base-perl)\n";
        exit 255;
    }
}

use Test::Base -base;

our $VERSION = '0.10';

use B ();
use Cwd ();
use Digest::MD5 ();
use Digest::SHA ();
use Errno ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP ();
use List::Util ();
use POSIX ();
use Scalar::Util ();
use Socket qw(SOCK_STREAM);
use Text::ParseWords ();
use Time::HiRes ();

our @EXPORT = qw(
    run_tests repeat_each workers master_on master_off master_process_enabled
    log_level worker_connections no_root_location env_to_nginx
    config_preamble server_name add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler html_dir server_root server_port
    server_port_for_client bail_out no_long_string check_accum_error_log
    no_shuffle start_redis redis_cmd start_mock_http
    redis_stop redis_start_again start_redis_extra
);

# ---------------------------------------------------------------------------
# global configuration
# ---------------------------------------------------------------------------

our $RepoRoot = do {
    my $f = Cwd::abs_path(__FILE__) // __FILE__;
    (my $r = $f) =~ s{/t/lib/Test/Nginx/Socket\.pm\z}{};
    $r eq $f ? Cwd::getcwd() : $r;
};

our $RepeatEach         = 1;
our $Workers            = 1;
our $MasterProcessEnabled =
    (($ENV{TEST_NGINX_MASTER_PROCESS} // 'on') =~ /^(?:off|0|no)$/i) ? 0 : 1;
our $LogLevel           = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $WorkerConnections  = 64;
our $NoRootLocation     = 0;
our @EnvToNginx;
our $ConfigPreamble     = '';
our $ServerName         = 'localhost';
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;
our $CheckAccumErrorLog = 0;
our $Timeout            = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep              = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Verbose            = $ENV{TEST_NGINX_VERBOSE};
our $StartupTimeout     = 5;

my $Cwd        = Cwd::getcwd();
my $Randomize  = $ENV{TEST_NGINX_RANDOMIZE};
my @EphemeralRange = do {
    my @r = (32768, 60999);
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my $l = <$fh>;
        @r = split ' ', $l if defined $l && $l =~ /^\s*\d+\s+\d+/;
    }
    @r;
};

our ($ServerPort, $ServerRoot, $ServerRootIsOurs);
our ($NginxBinary, $NginxVersion, $OpenSSLVersion, @LoadModules);

my $NginxPid;              # running nginx (master or single process)
my %RandPorts;             # per block: N => port
my %TcpServers;            # pid => info
my %ClientPids;            # pid => 1 (client_cmd process groups)
my %MockPids;              # pid => { port => , block_scoped => }
my ($RedisPid, $RedisPort, $RedisDir, $RedisMissing);
my $CurrentBlockName = '';
my $InBlock = 0;
my $Finished = 0;
my $LastConfig;

sub _verbose { print STDERR "# [harness] @_\n" if $Verbose }

# ---------------------------------------------------------------------------
# ports and server root (decided at load time so html_dir() etc. work early)
# ---------------------------------------------------------------------------

sub _in_ephemeral { my $p = shift; $p >= $EphemeralRange[0] && $p <= $EphemeralRange[1] }

sub _port_free {
    my $port = shift;
    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
        ReuseAddr => 1, Listen => 1,
    ) or return 0;
    close $s;
    return 1;
}

# ports the Fetch standard calls "bad": Node's fetch (the SDK suites)
# refuses to connect to them
my %FetchBadPorts = map { $_ => 1 } qw(2049 3659 4045 4190 5060 5061 6000
                                       6566 6665 6666 6667 6668 6669 6679
                                       6697 10080);

sub _pick_free_port {
    my %avoid = map { $_ => 1 } grep { defined } @_;
    for (1 .. 2000) {
        my $p = 1988 + int(rand(65534 - 1988 + 1));
        next if $avoid{$p} || $FetchBadPorts{$p} || _in_ephemeral($p);
        return $p if _port_free($p);
    }
    die "could not find a free TCP port on 127.0.0.1\n";
}

if ($Randomize) {
    $ServerPort = _pick_free_port();
} else {
    $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

if (defined $ENV{TEST_NGINX_SERVROOT} && length $ENV{TEST_NGINX_SERVROOT}) {
    $ServerRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT});
} elsif ($Randomize) {
    $ServerRoot = "$Cwd/t/servroot_$ServerPort";
    $ServerRootIsOurs = 1;
} else {
    $ServerRoot = "$Cwd/t/servroot";
}
$ServerRoot =~ s{/+\z}{};

my $MarkerFile = '.test-nginx-servroot';

sub _export_env {
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    $ENV{TEST_NGINX_PORT}        = $ServerPort;
    $ENV{TEST_NGINX_CLIENT_PORT} = server_port_for_client();
    $ENV{TEST_NGINX_SERVER_ROOT} = $ServerRoot;
    $ENV{TEST_NGINX_HTML_DIR}    = html_dir();
}

my $ClientPortFromEnv = $ENV{TEST_NGINX_CLIENT_PORT};
_export_env();

for my $m (['ECHO', 'echo'], ['JS', 'js']) {
    my $f = "/usr/lib/nginx/modules/ngx_http_$m->[1]_module.so";
    $ENV{"TEST_NGINX_$m->[0]_MODULE"} //= $f if -f $f;
}

# ---------------------------------------------------------------------------
# exported configuration API
# ---------------------------------------------------------------------------

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub workers { $Workers = shift if @_; return $Workers }
sub master_on { $MasterProcessEnabled = 1 }
sub master_off { $MasterProcessEnabled = 0 }
sub master_process_enabled { $MasterProcessEnabled = shift ? 1 : 0 if @_; return $MasterProcessEnabled }
sub log_level { $LogLevel = shift if @_; return $LogLevel }
sub worker_connections { $WorkerConnections = shift if @_; return $WorkerConnections }
sub no_root_location { $NoRootLocation = 1 }
sub env_to_nginx { push @EnvToNginx, @_ }
sub config_preamble { $ConfigPreamble = shift if @_; return $ConfigPreamble }
sub server_name { $ServerName = shift if @_; return $ServerName }
sub add_block_preprocessor { push @BlockPreprocessors, shift }
sub add_cleanup_handler { push @CleanupHandlers, shift }
sub add_test_cleanup_handler { push @TestCleanupHandlers, shift }
sub html_dir { return "$ServerRoot/html" }
sub server_root { return $ServerRoot }
sub server_port { return $ServerPort }
sub server_port_for_client {
    return $ClientPortFromEnv if defined $ClientPortFromEnv && length $ClientPortFromEnv;
    return $ServerPort;
}
sub no_long_string { 1 }
sub no_shuffle { 1 }
sub check_accum_error_log { $CheckAccumErrorLog = 1 }

sub nginx_pid { return $NginxPid }

sub worker_pids {
    return () unless $NginxPid;
    return ($NginxPid) unless $MasterProcessEnabled;
    my $deadline = Time::HiRes::time() + 2;
    while (1) {
        my @pids;
        if (opendir my $dh, '/proc') {
            for my $p (grep { /^\d+$/ } readdir $dh) {
                open my $fh, '<', "/proc/$p/stat" or next;
                my $stat = <$fh> // next;
                # pid (comm) state ppid ...
                $stat =~ /\)\s+\S+\s+(\d+)/ or next;
                push @pids, $p if $1 == $NginxPid;
            }
        }
        return sort { $a <=> $b } @pids if @pids || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.01);
    }
}

sub bail_out {
    my $msg = shift;
    _cleanup_all();
    Test::More::BAIL_OUT($msg);
}

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

sub _has { my ($b, $n) = @_; return exists $b->{$n} }
sub _sec { my ($b, $n) = @_; return exists $b->{$n} ? $b->{$n}[0] : undef }

sub _trim { my $s = shift; return $s unless defined $s; $s =~ s/\A\s+//; $s =~ s/\s+\z//; return $s }

sub _dur {
    my $v = _trim(shift);
    return undef unless defined $v && length $v;
    return $1 / 1000 if $v =~ /^([\d.]+)\s*ms$/i;
    return $1 if $v =~ /^([\d.]+)\s*s?$/i;
    die "bad duration value '$v'\n";
}

sub _read_file {
    my ($f, $off) = @_;
    open my $fh, '<:raw', $f or return '';
    if ($off) { seek $fh, $off, 0 }
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub _write_file {
    my ($f, $data) = @_;
    my (undef, $dir) = File::Spec->splitpath($f);
    File::Path::make_path($dir) if length $dir && !-d $dir;
    open my $fh, '>:raw', $f or die "cannot write $f: $!\n";
    print $fh $data;
    close $fh or die "cannot write $f: $!\n";
}

sub _which {
    my $name = shift;
    for my $d (split /:/, $ENV{PATH} // '') {
        next unless length $d;
        return "$d/$name" if -f "$d/$name" && -x _;
    }
    return undef;
}

sub _capture {
    my @cmd = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd
            or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

sub _collapse {
    my $s = shift // '';
    $s =~ s/\s+/ /g;
    $s = substr($s, 0, 100) . '...' if length $s > 100;
    return $s;
}

sub _is_number {
    my $v = shift;
    return 0 if !defined $v || ref $v;
    if (defined &builtin::created_as_number) {
        no warnings;
        return builtin::created_as_number($v) ? 1 : 0;
    }
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK() | B::SVp_NOK())) && !($f & B::SVp_POK()) ? 1 : 0;
}

sub _is_bool { my $v = shift; return ref($v) && (ref($v) eq 'JSON::PP::Boolean' || (Scalar::Util::blessed($v) // '') =~ /Boolean/) }

sub _json { return JSON::PP->new->canonical->allow_nonref->allow_blessed->convert_blessed }

# ---------------------------------------------------------------------------
# $TEST_NGINX_* expansion (D11)
# ---------------------------------------------------------------------------

sub _rand_port {
    my $n = shift;
    return $RandPorts{$n} if $RandPorts{$n};
    my $p = _pick_free_port($ServerPort, values %RandPorts, $RedisPort,
                            map { $_->{port} } values %MockPids);
    $RandPorts{$n} = $p;
    $ENV{"TEST_NGINX_RAND_PORT_$n"} = $p;
    return $p;
}

sub _env_value {
    my $var = shift;
    if ($var =~ /^TEST_NGINX_RAND_PORT_(\d+)$/) {
        return _rand_port($1);
    }
    return $ENV{$var} if defined $ENV{$var};
    bail_out("$CurrentBlockName: undefined environment variable \$$var");
}

sub _expand {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/_env_value($1)/ge;
    return $s;
}

sub _expand_deep {
    my $v = shift;
    my $r = ref $v;
    return _expand($v) unless $r;
    return [ map { _expand_deep($_) } @$v ] if $r eq 'ARRAY';
    return { map { $_ => _expand_deep($v->{$_}) } keys %$v } if $r eq 'HASH';
    return $v;
}

sub _server_port_subst {
    my $s = shift;
    return $s if !defined $s || ref $s;
    my $p = server_port_for_client();
    $s =~ s/\$ServerPortForClient\b/$p/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

# ---------------------------------------------------------------------------
# main loop
# ---------------------------------------------------------------------------

sub _resolve_binary {
    my $b = $ENV{TEST_NGINX_BINARY};
    if (defined $b && length $b) {
        $b = _which($b) // $b unless $b =~ m{/};
        bail_out("TEST_NGINX_BINARY=$ENV{TEST_NGINX_BINARY}: not an executable file")
            unless -f $b && -x _;
        return $b;
    }
    $b = _which('nginx');
    return $b if $b;
    return '/usr/sbin/nginx' if -x '/usr/sbin/nginx';
    bail_out('nginx binary not found (PATH, /usr/sbin/nginx); install nginx or set TEST_NGINX_BINARY');
}

sub _init_run {
    $SIG{PIPE} = 'IGNORE';
    for my $v (qw(TEST_NGINX_USE_VALGRIND TEST_NGINX_CHECK_LEAK TEST_NGINX_USE_HUP
                  TEST_NGINX_USE_STAP)) {
        bail_out("$v is not implemented by this harness yet (spec phase 4)") if $ENV{$v};
    }
    $NginxBinary = _resolve_binary();
    my $v = _capture($NginxBinary, '-V');
    ($NginxVersion) = $v =~ m{nginx version: \S*?/(\d+\.\d+\.\d+)};
    ($OpenSSLVersion) = $v =~ /running with OpenSSL (\d+\.\d+\.\d+\w*)/;
    ($OpenSSLVersion) = $v =~ /built with OpenSSL (\d+\.\d+\.\d+\w*)/ unless $OpenSSLVersion;
    bail_out("cannot determine the nginx version from `$NginxBinary -V`: $v")
        unless $NginxVersion;

    my $mods = exists $ENV{TEST_NGINX_LOAD_MODULES}
        ? $ENV{TEST_NGINX_LOAD_MODULES}
        : "$RepoRoot/objs/ngx_http_aigw_module.so";
    @LoadModules = ();
    for my $m (split ' ', $mods // '') {
        my $abs = File::Spec->rel2abs($m);
        unless (-f $abs) {
            bail_out("module file $abs (TEST_NGINX_LOAD_MODULES) not found: "
                     . "build it first with `make` in $RepoRoot "
                     . "(or set TEST_NGINX_LOAD_MODULES='' to run without it)");
        }
        push @LoadModules, $abs;
    }

    if ($Randomize && !_port_free($ServerPort)) {
        $ServerPort = _pick_free_port();
    }
    _export_env();
    _verbose("nginx $NginxVersion ($NginxBinary), port $ServerPort, servroot $ServerRoot");
}

sub run_tests () {
    my $tb = Test::Builder->new;
    Test::More::plan('no_plan') unless $tb->has_plan;
    $SIG{INT} = $SIG{TERM} = sub { _cleanup_all(); POSIX::_exit(130) };

    _init_run();

    my @blocks = Test::Base::blocks();

    if (($ENV{CI} // '') eq 'true') {
        my $spec = Test::Base::default_object()->spec // '';
        if ($spec =~ /^--- ONLY\b/m) {
            Test::More::ok(0, "$0 - no leftover '--- ONLY' (not allowed when CI=true)");
        }
    }

    @blocks = List::Util::shuffle(@blocks) if $ENV{TEST_NGINX_SHUFFLE};

    for my $i (0 .. $#blocks) {
        _run_block($blocks[$i], $i == $#blocks);
    }
    $Finished = 1;
}

sub _block_skip_reason {
    my ($block) = @_;
    # returns (count, reason) when the block must be skipped
    if (defined(my $s = _sec($block, 'skip_eval'))) {
        my ($n, $expr) = $s =~ /^\s*(\d+)\s*:\s*(.*)\z/s ? ($1, $2) : (1, $s);
        my $r = eval "package main; no strict; $expr";
        bail_out("$CurrentBlockName: skip_eval failed: $@") if $@;
        return ($n, "skip_eval: $expr") if $r;
    }
    for my $kind (qw(skip_nginx skip_nginx2 skip_openssl)) {
        my $s = _sec($block, $kind);
        next unless defined $s;
        my $ver = $kind eq 'skip_openssl' ? $OpenSSLVersion : $NginxVersion;
        $s =~ s/\s+\z//;
        my ($n, $rest) = $s =~ /^\s*(\d+)\s*:\s*(.*)\z/s
            or bail_out("$CurrentBlockName: bad $kind value '$s'");
        my ($cond, $reason) = split /\s*:\s*/, $rest, 2;
        my @parts = split /\s+(and|or)\s+/, $cond;
        my $res = _version_cond($ver, shift @parts);
        while (@parts) {
            my ($op, $c) = splice @parts, 0, 2;
            my $r = _version_cond($ver, $c);
            $res = $op eq 'and' ? ($res && $r) : ($res || $r);
        }
        return ($n, $reason // "$kind: $cond (have " . ($ver // 'unknown') . ')') if $res;
    }
    if ($RedisMissing) {
        my $uses = _has($block, 'redis_out');
        for my $k (keys %$block) {
            next if $k =~ /^_/;
            my $v = $block->{$k}[0];
            $uses = 1 if defined $v && !ref $v
                && $v =~ /TEST_NGINX_REDIS_PORT|redis_cmd/;
        }
        return (1, 'redis-server is not available') if $uses;
    }
    return;
}

sub _vparts { my $v = shift // '0'; my @p = $v =~ /(\d+)/g; return @p }

sub _vcmp {
    my @a = _vparts(shift);
    my @b = _vparts(shift);
    while (@a || @b) {
        my $x = shift(@a) // 0;
        my $y = shift(@b) // 0;
        return $x <=> $y if $x != $y;
    }
    return 0;
}

sub _version_cond {
    my ($have, $cond) = @_;
    $cond =~ /^\s*(<=|>=|==|!=|<|>|eq|ne|lt|gt|le|ge)\s*(\S+)\s*$/
        or bail_out("$CurrentBlockName: bad version condition '$cond'");
    my ($op, $v) = ($1, $2);
    return 0 unless defined $have;
    my $c = _vcmp($have, $v);
    return {
        '<' => $c < 0, '<=' => $c <= 0, '>' => $c > 0, '>=' => $c >= 0,
        '==' => $c == 0, '!=' => $c != 0, lt => $c < 0, le => $c <= 0,
        gt => $c > 0, ge => $c >= 0, eq => $c == 0, ne => $c != 0,
    }->{$op} ? 1 : 0;
}

sub _run_block {
    my ($block, $is_last) = @_;
    my $name = "$0 " . $block->name;
    $CurrentBlockName = $name;

    $_->($block) for @BlockPreprocessors;

    if (my ($n, $reason) = _block_skip_reason($block)) {
        my $tb = Test::Builder->new;
        $tb->skip("$name - $reason") for 1 .. $n;
        return;
    }

    my $tb = Test::Builder->new;
    my $todo;
    if (defined(my $t = _sec($block, 'todo'))) {
        ($todo) = $t =~ /^\s*\d+\s*:\s*(.*?)\s*$/s;
        $todo //= _trim($t) || 'todo';
        $tb->todo_start($todo);
    }

    $InBlock = 1;
    my $ok = eval { _run_block_inner($block, $name, $is_last); 1 };
    my $err = $@;
    if (!$ok) {
        Test::More::ok(0, "$name - harness error");
        Test::More::diag($err);
        _stop_nginx(1);
        _kill_tcp_servers();
    }
    _kill_block_mocks();
    for my $h (@TestCleanupHandlers) {
        eval { $h->($block); 1 } or Test::More::diag("test cleanup handler died: $@");
    }
    $InBlock = 0;
    $tb->todo_end if defined $todo;
    for my $k (keys %RandPorts) { delete $ENV{"TEST_NGINX_RAND_PORT_$k"} }
    %RandPorts = ();
}

sub _run_block_inner {
    my ($block, $name, $is_last) = @_;

    for my $k (keys %RandPorts) { delete $ENV{"TEST_NGINX_RAND_PORT_$k"} }
    %RandPorts = ();

    my $config = _sec($block, 'config');
    if (defined $config) { $LastConfig = $config } else { $config = $LastConfig // '' }

    # startup, with a retry when a picked port got taken in the meantime
    my ($status, $exit);
    my $must_die = _has($block, 'must_die');
    for my $attempt (1 .. 3) {
        if (!_port_free($ServerPort)) {
            if ($Randomize) {
                $ServerPort = _pick_free_port(values %RandPorts);
                _export_env();
            } else {
                bail_out("server port 127.0.0.1:$ServerPort is already in use "
                         . "(a stray nginx? try TEST_NGINX_RANDOMIZE=1)");
            }
        }
        _prepare_server_root($block, $config);
        ($status, $exit) = _start_nginx($block);
        last if $status ne 'exited' || $must_die;
        my $log = _read_file("$ServerRoot/logs/error.log");
        last unless $log =~ /Address already in use/;
        _verbose("address in use, retrying with new ports");
        for my $k (keys %RandPorts) { delete $ENV{"TEST_NGINX_RAND_PORT_$k"} }
        %RandPorts = ();
        $ServerPort = _pick_free_port() if $Randomize;
        _export_env();
    }

    my $errlog = "$ServerRoot/logs/error.log";
    my $acclog = "$ServerRoot/logs/access.log";

    if ($must_die) {
        _finish_must_die($block, $name, $status, $exit);
        _append_error_log($name);
        return;
    }

    if ($status ne 'ready') {
        my $log = _read_file($errlog);
        my @l = grep { /\[(?:emerg|alert|crit)\]/ } split /\n/, $log;
        @l = (split /\n/, $log)[-20 .. -1] unless @l;
        Test::More::ok(0, "$name - nginx started"
                       . ($status eq 'exited' ? " (nginx exited: " . _status_text($exit) . ")"
                                              : " (not listening after ${StartupTimeout}s)"));
        Test::More::diag(join "\n", grep { defined } @l);
        _stop_nginx(1) if $status ne 'exited';
        $NginxPid = undef;
        _append_error_log($name);
        return;
    }

    # init
    if (defined(my $init = _sec($block, 'init'))) {
        my $r = ref $init eq 'CODE'
            ? eval { $init->(); 1 }
            : eval "package main; no strict; $init; 1";
        if (!$r) {
            Test::More::ok(0, "$name - init ok");
            Test::More::diag("init failed: $@");
        }
    }

    my $err_off = 0;
    my $acc_off = 0;
    my $timeout = defined _sec($block, 'timeout') ? _dur(_sec($block, 'timeout')) : $Timeout;

    for my $rep (0 .. $RepeatEach - 1) {
        if ($rep > 0) { _write_user_files($block) }
        my $tcp = _has($block, 'tcp_listen') ? _start_tcp_server($block, $name) : undef;

        _send_requests($block, $name, $rep, $timeout);

        if (_has($block, 'client_cmd')) {
            _run_client_cmd($block, $name, $rep);
        }

        if (defined(my $w = _sec($block, 'wait'))) {
            Time::HiRes::sleep(_dur($w));
        }
        Time::HiRes::sleep($Sleep * 3);

        _check_tcp_server($block, $name, $tcp, $timeout) if $tcp;
        _check_redis_out($block, $name) if _has($block, 'redis_out');
        _check_mock_requests($block, $name) if _has($block, 'mock_requests_like')
                                              || _has($block, 'mock_request_count');

        my $data = _read_file($errlog, $CheckAccumErrorLog ? 0 : $err_off);
        $err_off += length $data unless $CheckAccumErrorLog;
        $err_off = length $data if $CheckAccumErrorLog;
        my @lines = split /\n/, $data;

        my $adata = _read_file($acclog, $acc_off);
        $acc_off += length $adata;
        my @alines = split /\n/, $adata;

        _check_error_logs($block, $name, $rep, \@lines, \@alines);
        _strict_scan($block, $name, \@lines, "(req $rep)", 0);
    }

    if ($ENV{TEST_NGINX_NO_CLEAN} && $is_last) {
        _append_error_log($name);
        Test::More::diag("TEST_NGINX_NO_CLEAN: nginx (pid $NginxPid) left running on "
                         . "127.0.0.1:$ServerPort, server root $ServerRoot");
        return;
    }

    # stop (D6) and shutdown checks
    my $before = $err_off;
    my $stop_wait = List::Util::max($timeout, $Timeout);
    my ($st, $forced) = _stop_nginx(0, $stop_wait);
    if ($forced) {
        Test::More::ok(0, "$name - nginx exited cleanly");
        Test::More::diag("nginx did not exit within ${stop_wait}s after SIG"
                         . ($ENV{TEST_NGINX_FAST_SHUTDOWN} ? 'TERM' : 'QUIT')
                         . "; killed the process group");
    } elsif (defined $st) {
        Test::More::ok($st == 0, "$name - nginx exited cleanly")
            or Test::More::diag("nginx " . _status_text($st));
    }
    my $sdata = _read_file($errlog, $before);
    my @slines = split /\n/, $sdata;
    _check_patterns($block, $name, 'shutdown_error_log', \@slines, 'error.log at shutdown', '', 1);
    _check_patterns($block, $name, 'no_shutdown_error_log', \@slines, 'error.log at shutdown', '', 0);
    _strict_scan($block, $name, \@slines, 'at shutdown', 1);

    _append_error_log($name);
}

sub _status_text {
    my $st = shift;
    return 'status unknown' unless defined $st;
    if ($st & 127) {
        return "was killed by signal " . ($st & 127) . ($st & 128 ? ' (core dumped)' : '');
    }
    return "exited with code " . ($st >> 8);
}

sub _finish_must_die {
    my ($block, $name, $status, $exit) = @_;
    my $want = _trim(_sec($block, 'must_die'));
    if ($status eq 'exited') {
        Test::More::ok(1, "$name - nginx died as expected");
        if (defined $want && length $want) {
            my $code = ($exit & 127) ? 128 + ($exit & 127) : $exit >> 8;
            Test::More::is($code, $want, "$name - nginx exit code");
        }
    } else {
        Test::More::ok(0, "$name - nginx died as expected");
        Test::More::diag("nginx started successfully although the block has --- must_die");
        _stop_nginx(1);
    }
    $NginxPid = undef;
    my @lines = split /\n/, _read_file("$ServerRoot/logs/error.log");
    _check_patterns($block, $name, 'error_log', \@lines, 'error.log', ' (startup)', 1);
    _check_patterns($block, $name, 'no_error_log', \@lines, 'error.log', ' (startup)', 0);
    _strict_scan($block, $name, \@lines, '(startup)', 0, 'emerg');
}

sub _append_error_log {
    my $name = shift;
    my $f = $ENV{TEST_NGINX_ERROR_LOG};
    return unless defined $f && length $f;
    open my $fh, '>>', $f or return;
    print $fh "=== $name\n", _read_file("$ServerRoot/logs/error.log");
    close $fh;
}

# ---------------------------------------------------------------------------
# server root and nginx.conf (section 7)
# ---------------------------------------------------------------------------

sub _reset_server_root {
    my $root = $ServerRoot;
    if (-d $root) {
        if (-e "$root/$MarkerFile") {
            File::Path::remove_tree($root, { safe => 0 });
        } else {
            for my $d (qw(conf logs html), glob("$root/*_temp"), glob("$root/*_cache")) {
                my $p = $d =~ m{^/} ? $d : "$root/$d";
                File::Path::remove_tree($p) if -e $p;
            }
        }
        if (-d $root && !rmdir $root) {
            bail_out("cannot reset the server root $root ($!): it contains files the "
                     . "harness did not create; remove them or choose another TEST_NGINX_SERVROOT");
        }
    }
    File::Path::make_path("$root/conf", "$root/logs", "$root/html");
    _write_file("$root/$MarkerFile", "created by Test::Nginx::Socket (t/lib); safe to delete\n");
    _write_file("$root/html/index.html",
                "<html><head><title>It works!</title></head><body>It works!</body></html>\n");
}

sub _prepare_server_root {
    my ($block, $config) = @_;
    _reset_server_root();
    if (defined(my $code = _sec($block, 'post_setup_server_root'))) {
        my $r = ref $code eq 'CODE' ? eval { $code->(); 1 }
                                    : eval "package main; no strict; $code; 1";
        die "post_setup_server_root failed: $@" unless $r;
    }
    _write_user_files($block);
    _write_file("$ServerRoot/conf/nginx.conf", _build_conf($block, $config));
}

sub _write_user_files {
    my $block = shift;
    my $uf = _sec($block, 'user_files');
    return unless defined $uf;
    my @files;
    if (ref $uf eq 'ARRAY') {
        for my $f (@$uf) {
            die "user_files: each element must be [name, content, mtime?]\n" unless ref $f eq 'ARRAY';
            push @files, [$f->[0], _expand($f->[1] // ''), $f->[2]];
        }
    } else {
        my $cur;
        for my $line (split /^/, $uf) {
            if ($line =~ /^>>>\s+(\S+)(?:\s+(\d{12}(?:\.\d\d)?))?\s*$/) {
                $cur = [$1, '', $2];
                push @files, $cur;
                next;
            }
            die "user_files: content before the first '>>> name' line\n" unless $cur;
            $cur->[1] .= $line;
        }
        $_->[1] = _expand($_->[1]) for @files;
    }
    for my $f (@files) {
        my ($fname, $content, $mtime) = @$f;
        my $path = $fname =~ m{^/} ? $fname : html_dir() . "/$fname";
        _write_file($path, $content);
        if (defined $mtime) {
            my $t = $mtime;
            if (!ref $t && $t =~ /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d\d))?$/) {
                $t = POSIX::mktime($6 // 0, $5, $4, $3, $2 - 1, $1 - 1900);
            }
            utime $t, $t, $path;
        }
    }
}

sub _build_conf {
    my ($block, $config) = @_;
    my $root = $ServerRoot;
    my $main = _expand(_sec($block, 'main_config') // '');
    my $http = _expand(_sec($block, 'http_config') // '');
    my $post = _expand(_sec($block, 'post_main_config') // '');
    $config = _expand($config // '');
    my $preamble = _expand(_sec($block, 'config_preamble') // $ConfigPreamble // '');
    my $sname = _trim(_sec($block, 'server_name')) || $ServerName;
    my $level = _trim(_sec($block, 'log_level')) || $LogLevel;
    my $master = $MasterProcessEnabled;

    my $c = "# $0 " . $block->name . " (generated by t/lib/Test/Nginx/Socket.pm)\n";
    $c .= "load_module $_;\n" for @LoadModules;
    $c .= "worker_processes  $Workers;\n" unless $main =~ /^\s*worker_processes\s/m;
    $c .= "daemon            off;\n";
    $c .= "master_process    " . ($master ? 'on' : 'off') . ";\n";
    $c .= "user              root;\n" if $> == 0 && $master && $main !~ /^\s*user\s/m;
    $c .= "error_log         $root/logs/error.log $level;\n";
    $c .= "pid               $root/logs/nginx.pid;\n";
    my %seen;
    for my $e ('ASAN_OPTIONS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', @EnvToNginx) {
        next if $seen{$e}++;
        $c .= "env $e;\n";
    }
    $c .= "\n# ---- main_config ----\n$main\n" if length $main;
    $c .= "\nevents {\n    accept_mutex       off;\n"
        . "    worker_connections $WorkerConnections;\n";
    $c .= "    use $ENV{TEST_NGINX_EVENT_TYPE};\n" if $ENV{TEST_NGINX_EVENT_TYPE};
    $c .= "}\n\nhttp {\n";
    $c .= "    access_log            $root/logs/access.log;\n";
    my %dirs = (client_body => 'client_body_temp', proxy => 'proxy_temp',
                fastcgi => 'fastcgi_temp', uwsgi => 'uwsgi_temp', scgi => 'scgi_temp');
    for my $k (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http =~ /\b${k}_temp_path\b/;
        $c .= sprintf "    %-21s %s;\n", "${k}_temp_path", "$root/$dirs{$k}";
    }
    $c .= "    default_type          text/plain;\n" unless $http =~ /^\s*default_type\s/m;
    $c .= "    keepalive_timeout     68s;\n" unless $http =~ /^\s*keepalive_timeout\s/m;
    $c .= "\n    # ---- http_config ----\n$http\n" if length $http;
    $c .= "\n    server {\n"
        . "        listen               127.0.0.1:$ServerPort;\n"
        . "        server_name          $sname;\n"
        . "        client_max_body_size 30m;\n";
    $c .= "\n        # ---- config_preamble ----\n$preamble\n" if length $preamble;
    $c .= "\n        # ---- config ----\n$config\n" if length $config;
    if (!$NoRootLocation && $config !~ /\blocation\s+\/\s*\{/) {
        $c .= "\n        location / {\n            root  html;\n            index index.html;\n        }\n";
    }
    $c .= "    }\n}\n";
    $c .= "\n# ---- post_main_config ----\n$post\n" if length $post;
    return $c;
}

# ---------------------------------------------------------------------------
# nginx process lifecycle (section 8)
# ---------------------------------------------------------------------------

sub _port_listening {
    my $port = shift;
    my $hex = sprintf ':%04X', $port;
    my $found_file = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        $found_file = 1;
        while (my $l = <$fh>) {
            my @f = split ' ', $l;
            next unless @f > 3;
            return 1 if $f[3] eq '0A' && substr($f[1], -5) eq $hex;
        }
    }
    return 0 if $found_file;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 0.2);
    if ($s) { close $s; return 1 }
    return 0;
}

sub _start_nginx {
    my ($block) = @_;
    my @cmd = ($NginxBinary, '-p', "$ServerRoot/", '-c', "$ServerRoot/conf/nginx.conf",
               '-e', "$ServerRoot/logs/error.log");
    _verbose("starting: @cmd");
    my $pid = fork;
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        chdir $ServerRoot;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if _has($block, 'suppress_stderr');
        if (my $pre = $ENV{TEST_NGINX_LD_PRELOAD}) {
            $ENV{LD_PRELOAD} = join ' ', grep { defined && length } $pre, $ENV{LD_PRELOAD};
        }
        exec { $cmd[0] } @cmd
            or POSIX::_exit(127);
    }
    $NginxPid = $pid;
    my $must_die = _has($block, 'must_die');
    my $deadline = Time::HiRes::time() + $StartupTimeout;
    my $ready_at;
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            my $st = $?;
            $NginxPid = undef;
            return ('exited', $st);
        }
        my $now = Time::HiRes::time();
        if (!$ready_at && _port_listening($ServerPort)) {
            return ('ready') unless $must_die;
            $ready_at = $now;
        }
        return ('ready') if $ready_at && $now - $ready_at > 0.5;
        return ('timeout') if $now > $deadline;
        Time::HiRes::sleep(0.004);
    }
}

# returns (wait status, forced)
sub _stop_nginx {
    my ($hard, $wait) = @_;
    my $pid = $NginxPid;
    return (undef, 0) unless $pid;
    $wait //= $Timeout;
    my ($st, $forced);
    my $r = waitpid($pid, POSIX::WNOHANG());
    if ($r == $pid) {
        $st = $?;
    } else {
        kill($hard ? 'KILL' : ($ENV{TEST_NGINX_FAST_SHUTDOWN} ? 'TERM' : 'QUIT'), $pid);
        my $deadline = Time::HiRes::time() + $wait;
        while (1) {
            $r = waitpid($pid, POSIX::WNOHANG());
            if ($r == $pid) { $st = $?; last }
            if ($r < 0) { last }
            if (Time::HiRes::time() > $deadline) {
                kill 'KILL', -$pid;
                waitpid($pid, 0);
                $st = $?;
                $forced = 1;
                last;
            }
            Time::HiRes::sleep(0.002);
        }
    }
    kill 'KILL', -$pid;    # orphaned workers of a crashed master, if any
    $NginxPid = undef;
    return ($st, $hard ? 0 : $forced);
}

# ---------------------------------------------------------------------------
# requests (section 9)
# ---------------------------------------------------------------------------

# per-request value of a check section; $natural_array: the section is an
# array by nature (sse_data, sse_events)
sub _per_req {
    my ($block, $sec, $n, $i, $natural_array) = @_;
    return undef unless _has($block, $sec);
    my $v = _sec($block, $sec);
    if ($natural_array) {
        return $v if $n == 1;
        bail_out("$CurrentBlockName: --- $sec must be an array of $n arrays (one per request)")
            unless ref $v eq 'ARRAY' && @$v == $n && !grep { defined $_ && ref $_ ne 'ARRAY' } @$v;
        return $v->[$i];
    }
    if (ref $v eq 'ARRAY') {
        bail_out("$CurrentBlockName: --- $sec has " . scalar(@$v) . " elements but there are $n requests")
            unless @$v == $n;
        return $v->[$i];
    }
    if ($n > 1 && $sec ne 'error_code' && $sec ne 'error_code_like' && $sec ne 'ignore_response'
        && $sec ne 'more_headers' && $sec ne 'incomplete_body') {
        bail_out("$CurrentBlockName: there are $n requests, so --- $sec must be an eval array with $n elements");
    }
    return $v;
}

sub _request_list {
    my $block = shift;
    my @reqs;
    if (_has($block, 'raw_request')) {
        my $v = _expand_deep(_sec($block, 'raw_request'));
        push @reqs, { raw => 1, packets => _packets($block, ref $v eq 'ARRAY' ? $v : [$v]) };
    } elsif (_has($block, 'pipelined_requests')) {
        my $v = _sec($block, 'pipelined_requests');
        bail_out("$CurrentBlockName: --- pipelined_requests must be an eval array")
            unless ref $v eq 'ARRAY';
        push @reqs, { pipelined => [ map { _expand($_) } @$v ] };
    } elsif (_has($block, 'request')) {
        my $v = _sec($block, 'request');
        if (ref $v eq 'ARRAY') {
            push @reqs, { spec => _expand_deep($_) } for @$v;
        } else {
            push @reqs, { spec => _expand($v) };
        }
    }
    return @reqs;
}

sub _packets {
    my ($block, $list) = @_;
    my $mid = _sec($block, 'raw_request_middle_delay');
    $mid = defined $mid ? _dur($mid) : undef;
    my @p;
    my $first = 1;
    for my $e (@$list) {
        my $pk = ref $e eq 'HASH' ? { value => $e->{value} // '', delay_before => $e->{delay_before} }
                                  : { value => $e // '' };
        $pk->{delay_before} //= $mid unless $first;
        $first = 0;
        push @p, $pk;
    }
    return \@p;
}

sub _parse_headers_text {
    my $text = shift;
    my @h;
    for my $l (split /\n/, $text // '') {
        next if $l =~ /^\s*$/ || $l =~ /^\s*#/;
        if ($l =~ /^\s*([^:\s]+)\s*:\s?(.*?)\s*$/) { push @h, [$1, $2] }
        else { push @h, [$l, undef] }
    }
    return @h;
}

# build the wire packets for one `request` spec
sub _build_request {
    my ($block, $spec, $more_headers) = @_;
    my $packets = _packets($block, ref $spec eq 'ARRAY' ? $spec : [$spec]);
    my $text = join '', map { $_->{value} } @$packets;

    my $skip = 0;
    while ($text =~ /\G([ \t]*(?:#[^\n]*)?\n)/gc) { $skip = pos($text) }
    my $nl = index($text, "\n", $skip);
    my $line = $nl < 0 ? substr($text, $skip) : substr($text, $skip, $nl - $skip);
    my $bstart = $nl < 0 ? length $text : $nl + 1;
    $line =~ s/\r\z//;
    my ($method, $uri, $proto) = split ' ', $line;
    $method //= 'GET';
    $uri //= '/';
    $proto //= 'HTTP/1.1';

    my @h = _parse_headers_text($more_headers);
    my %has = map { (lc $_->[0] => 1) } @h;
    my $chunked = grep { lc $_->[0] eq 'transfer-encoding' && ($_->[1] // '') =~ /chunked/i } @h;

    my $body = substr($text, $bstart);
    my ($bs, $be) = ($bstart, length $text);
    my $add_cl = !$has{'content-length'} && !$chunked;
    if ($add_cl) {
        $body =~ /\A(\s*)/;
        my $lead = length $1;
        if ($lead == length $body) {
            ($bs, $be) = ($bstart, $bstart);
        } else {
            $body =~ /(\s*)\z/;
            ($bs, $be) = ($bstart + $lead, length($text) - length($1));
        }
    }
    my $blen = $be - $bs;

    my $hdr = "$method $uri $proto\r\n";
    $hdr .= "Host: " . (_trim(_sec($block, 'server_name')) || $ServerName) . "\r\n" unless $has{host};
    $hdr .= "Connection: close\r\n" unless $has{connection};
    for my $x (@h) {
        $hdr .= defined $x->[1] ? "$x->[0]: $x->[1]\r\n" : "$x->[0]\r\n";
    }
    $hdr .= "Content-Length: $blen\r\n" if $add_cl && $blen > 0;
    $hdr .= "\r\n";

    # map packets onto [header][body slice]
    my @wire;
    my $off = 0;
    my $hdr_sent = 0;
    for my $pk (@$packets) {
        my ($ps, $pe) = ($off, $off + length $pk->{value});
        $off = $pe;
        my $out = '';
        if (!$hdr_sent && $pe >= $bstart) { $out .= $hdr; $hdr_sent = 1 }
        my ($s, $e) = (List::Util::max($ps, $bs), List::Util::min($pe, $be));
        $out .= substr($text, $s, $e - $s) if $e > $s;
        push @wire, { value => $out, delay_before => $pk->{delay_before} };
    }
    push @wire, { value => $hdr } unless $hdr_sent;
    return (\@wire, uc $method);
}

sub _connect {
    my ($addr, $port, $timeout) = @_;
    my $deadline = Time::HiRes::time() + List::Util::max($timeout, 1);
    my $delay = 0.005;
    while (1) {
        my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                      Proto => 'tcp', Timeout => $timeout);
        return $s if $s;
        my $err = "$!";
        return (undef, $err) if Time::HiRes::time() > $deadline;
        return (undef, "$err (nginx is not running)")
            if !$NginxPid || waitpid($NginxPid, POSIX::WNOHANG()) == $NginxPid;
        Time::HiRes::sleep($delay);
        $delay = List::Util::min($delay * 2, 0.2);
    }
}

sub _http_exchange {
    my (%a) = @_;
    my $res = { raw => '', reads => [], timed_out => 0 };
    my ($sock, $err) = _connect($a{addr}, $a{port}, $a{timeout});
    unless ($sock) { $res->{error} = "connect() to $a{addr}:$a{port} failed: $err"; return $res }
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my ($eof, $write_failed) = (0, 0);

    my $read_some = sub {
        my $n = sysread($sock, my $buf, 65536);
        if (!defined $n) {
            return 1 if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
            $res->{read_error} = "$!";
            $eof = 1;
            return 0;
        }
        if ($n == 0) { $eof = 1; return 0 }
        $res->{raw} .= $buf;
        push @{ $res->{reads} }, [Time::HiRes::time(), length $res->{raw}];
        return 1;
    };

  PACKET:
    for my $pk (@{ $a{packets} }) {
        last if $write_failed || $eof;
        if (my $d = $pk->{delay_before}) { Time::HiRes::sleep($d) }
        my $buf = $pk->{value};
        my $off = 0;
        while ($off < length $buf) {
            my ($r, $w) = IO::Select->select($sel, $sel, undef, $a{timeout});
            if (!$r && !$w) { $res->{timed_out} = 1; last PACKET }
            if ($r && @$r) { $read_some->(); last PACKET if $eof }
            if ($w && @$w) {
                my $n = syswrite($sock, $buf, 65536, $off);
                if (!defined $n) {
                    next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                    $res->{write_error} = "$!";
                    $write_failed = 1;
                    last PACKET;
                }
                $off += $n;
            }
        }
    }
    $res->{t_sent} = Time::HiRes::time();
    if (!$res->{timed_out} && defined $a{shutdown}) {
        shutdown($sock, $a{shutdown});
    }
    while (!$eof && !$res->{timed_out}) {
        my @ready = $sel->can_read($a{timeout});
        if (!@ready) { $res->{timed_out} = 1; last }
        $read_some->();
    }
    close $sock;
    return $res;
}

sub _parse_response {
    my ($raw, $is_head, $base) = @_;
    $base //= 0;
    my $r = { headers => {}, body => '', raw_headers => '' };
    my $pos = index($raw, "\r\n\r\n", $base);
    if ($pos < 0) {
        $r->{error} = length($raw) > $base ? 'incomplete response header' : 'empty response';
        $r->{raw_headers} = substr($raw, $base);
        $r->{end} = length $raw;
        return $r;
    }
    my $hdr = substr($raw, $base, $pos - $base);
    my @lines = split /\r\n/, $hdr;
    my $sl = shift(@lines) // '';
    if ($sl !~ m{^HTTP/(\d+\.\d+)\s+(\d{3})(?:\s+(.*))?$}) {
        $r->{error} = "bad status line: $sl";
        $r->{end} = length $raw;
        return $r;
    }
    my $status = $2;
    if ($status =~ /^1/ && $status ne '101') {
        return _parse_response($raw, $is_head, $pos + 4);    # interim response
    }
    $r->{status} = $status;
    $r->{raw_headers} = substr($raw, $base, $pos - $base + 2);
    my $last;
    for my $l (@lines) {
        if ($l =~ /^[ \t]+(.*)$/ && defined $last) {
            $r->{headers}{$last} .= " $1";
            next;
        }
        next unless $l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/;
        my $k = lc $1;
        $r->{headers}{$k} = exists $r->{headers}{$k} ? "$r->{headers}{$k}, $2" : $2;
        $last = $k;
    }
    my $off = $pos + 4;
    $r->{body_start} = $off;
    my $te = $r->{headers}{'transfer-encoding'} // '';
    my $cl = $r->{headers}{'content-length'};
    if ($is_head || $status eq '204' || $status eq '304' || $status eq '101') {
        $r->{end} = $off;
    } elsif ($te =~ /chunked/i) {
        _dechunk($r, $raw, $off);
    } elsif (defined $cl && $cl =~ /^\s*(\d+)/) {
        my $len = $1;
        $r->{body} = substr($raw, $off, $len);
        if (length $r->{body}) {
            $r->{first_off} = $off;
            $r->{last_off} = $off + length($r->{body}) - 1;
        }
        if (length($r->{body}) < $len) {
            $r->{incomplete} = "got " . length($r->{body}) . " body bytes, Content-Length is $len";
        }
        $r->{end} = $off + length $r->{body};
    } else {
        $r->{body} = substr($raw, $off);
        if (length $r->{body}) { $r->{first_off} = $off; $r->{last_off} = length($raw) - 1 }
        $r->{end} = length $raw;
    }
    return $r;
}

sub _dechunk {
    my ($r, $raw, $off) = @_;
    my $body = '';
    my $len = length $raw;
    while (1) {
        my $eol = index($raw, "\r\n", $off);
        if ($eol < 0) { $r->{incomplete} = 'no last chunk found'; last }
        my $line = substr($raw, $off, $eol - $off);
        $line =~ s/;.*//;
        if ($line !~ /^\s*([0-9a-fA-F]{1,15})\s*$/) {
            $r->{invalid} = "invalid chunked body (bad chunk size line '" . _collapse($line) . "')";
            last;
        }
        my $size = hex $1;
        $off = $eol + 2;
        if ($size == 0) {
            my $ok = 0;
            while (1) {
                my $e = index($raw, "\r\n", $off);
                last if $e < 0;
                my $l = substr($raw, $off, $e - $off);
                $off = $e + 2;
                if ($l eq '') { $ok = 1; last }
                push @{ $r->{trailers} }, $l;
            }
            $r->{incomplete} = 'no final CRLF after the last chunk' unless $ok;
            last;
        }
        if ($len - $off < $size) {
            if ($len > $off) {
                $r->{first_off} //= $off;
                $r->{last_off} = $len - 1;
                $body .= substr($raw, $off);
            }
            $off = $len;
            $r->{incomplete} = 'no last chunk found';
            last;
        }
        $r->{first_off} //= $off;
        $r->{last_off} = $off + $size - 1;
        $body .= substr($raw, $off, $size);
        $off += $size;
        if ($len - $off < 2) { $r->{incomplete} = 'no last chunk found'; $off = $len; last }
        if (substr($raw, $off, 2) ne "\r\n") {
            $r->{invalid} = 'invalid chunked body (missing CRLF after chunk data)';
            last;
        }
        $off += 2;
    }
    $r->{body} = $body;
    $r->{end} = $off;
}

sub _time_of_offset {
    my ($reads, $off) = @_;
    return undef unless defined $off;
    for my $rd (@$reads) { return $rd->[0] if $rd->[1] > $off }
    return undef;
}

sub _send_requests {
    my ($block, $name, $rep, $timeout) = @_;
    my @reqs = _request_list($block);
    return unless @reqs;
    my $addr = _trim(_sec($block, 'server_addr_for_client')) || '127.0.0.1';
    my $port = server_port_for_client();
    my $shutdown;
    if (_has($block, 'shutdown')) {
        $shutdown = _trim(_sec($block, 'shutdown'));
        $shutdown = 1 unless defined $shutdown && length $shutdown;
    }

    if ($reqs[0]{pipelined}) {
        my $specs = $reqs[0]{pipelined};
        my $n = @$specs;
        my $wire = '';
        my @methods;
        for my $i (0 .. $n - 1) {
            my $mh = _expand(_per_req($block, 'more_headers', $n, $i)) // '';
            $mh = "Connection: keep-alive\n$mh" if $i < $n - 1 && $mh !~ /^\s*connection\s*:/mi;
            my ($w, $m) = _build_request($block, $specs->[$i], $mh);
            $wire .= join '', map { $_->{value} } @$w;
            push @methods, $m;
        }
        my $res = _http_exchange(addr => $addr, port => $port, timeout => $timeout,
                                 packets => [{ value => $wire }], shutdown => $shutdown);
        my $off = 0;
        for my $i (0 .. $n - 1) {
            my $p = _parse_response($res->{raw}, $methods[$i] eq 'HEAD', $off);
            $off = $p->{end} // length $res->{raw};
            _check_response($block, $name, $rep, $i, $n, $res, $p, $i == $n - 1);
        }
        return;
    }

    my $n = @reqs;
    my $gap = _sec($block, 'request_gap');
    for my $i (0 .. $n - 1) {
        my ($wire, $method);
        Time::HiRes::sleep(_dur($gap)) if $i > 0 && defined $gap;
        if ($reqs[$i]{raw}) {
            $wire = $reqs[$i]{packets};
            my $first = $wire->[0]{value} // '';
            ($method) = $first =~ /^\s*(\S+)/;
            $method = uc($method // 'GET');
        } else {
            my $mh = _expand(_per_req($block, 'more_headers', $n, $i)) // '';
            ($wire, $method) = _build_request($block, $reqs[$i]{spec}, $mh);
        }
        _verbose("request $i: " . _collapse(join '', map { $_->{value} } @$wire));
        my $res = _http_exchange(addr => $addr, port => $port, timeout => $timeout,
                                 packets => $wire, shutdown => $shutdown);
        my $p = _parse_response($res->{raw}, $method eq 'HEAD');
        if (defined $p->{end} && $p->{end} < length $res->{raw} && !$p->{invalid}) {
            Test::More::diag("$name: unexpected extra bytes after the response: "
                             . _collapse(substr($res->{raw}, $p->{end})));
        }
        _check_response($block, $name, $rep, $i, $n, $res, $p, 1);
    }
}

# ---------------------------------------------------------------------------
# response checks (section 5.3 and 5.7)
# ---------------------------------------------------------------------------

my %BodyFilters = (
    md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
    sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
    length   => sub { length $_[0] },
    uc       => sub { uc $_[0] },
    lc       => sub { lc $_[0] },
    ucfirst  => sub { ucfirst $_[0] },
    lcfirst  => sub { lcfirst $_[0] },
);

sub _apply_body_filters {
    my ($block, $body) = @_;
    my $f = _sec($block, 'response_body_filters');
    if (defined $f) {
        my @fs = ref $f eq 'ARRAY' ? @$f : ref $f eq 'CODE' ? ($f) : split ' ', $f;
        for my $x (@fs) {
            my $code = ref $x eq 'CODE' ? $x : $BodyFilters{$x}
                // bail_out("$CurrentBlockName: unknown response_body_filters filter '$x'");
            $body = $code->($body);
        }
    }
    if (_has($block, 'response_body_json_sort')) {
        my $d = eval { JSON::PP->new->allow_nonref->decode($body) };
        $body = JSON::PP->new->canonical->allow_nonref->encode($d) . "\n" if !$@;
    }
    return $body;
}

sub _check_response {
    my ($block, $name, $rep, $i, $n, $res, $p, $last_on_conn) = @_;
    my $tag = "(repeated req $rep, req $i)";
    my $abort = _has($block, 'abort');

    if ($res->{timed_out} && !$abort && $last_on_conn) {
        Test::More::ok(0, "ERROR: client socket timed out - $name");
    }
    return if _has($block, 'ignore_response');

    if ($res->{error}) { Test::More::diag("$name: $res->{error}") }
    elsif ($p->{error} && !($res->{timed_out} && $abort)) {
        Test::More::diag("$name: $p->{error}; received " . length($res->{raw}) . " bytes: "
                         . _collapse($res->{raw}));
    }
    Test::More::diag("$name: write failed: $res->{write_error}") if $res->{write_error} && $Verbose;

    # status
    my $status = $p->{status} // '';
    if (defined(my $like = _per_req($block, 'error_code_like', $n, $i))) {
        $like = _trim($like) unless ref $like;
        Test::More::like($status, ref $like ? $like : qr/$like/, "$name - status code ok");
    } else {
        my $want = _per_req($block, 'error_code', $n, $i);
        $want = 200 unless defined $want;
        $want = _trim($want);
        if (!($res->{timed_out} && $abort && $status eq '' && !_has($block, 'error_code'))) {
            Test::More::is($status, $want, "$name - status code ok");
        }
    }

    # headers
    if (defined(my $rh = _per_req($block, 'response_headers', $n, $i))) {
        my @pairs;
        if (ref $rh eq 'HASH') {
            @pairs = map { [$_, $rh->{$_}] } sort keys %$rh;
        } else {
            for my $l (split /\n/, $rh) {
                next if $l =~ /^\s*$/ || $l =~ /^\s*#/;
                if ($l =~ /^\s*!\s*(\S+)\s*$/) { push @pairs, [$1, undef]; next }
                $l =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/
                    or bail_out("$CurrentBlockName: bad response_headers line '$l'");
                push @pairs, [$1, $2];
            }
        }
        for my $pr (@pairs) {
            my ($h, $v) = @$pr;
            if ($h =~ s/^!\s*// || !defined $v) {
                my $present = $p->{raw_headers} =~ /^\Q$h\E\s*:/mi;
                Test::More::ok(!$present, "$name - header $h not present")
                    or Test::More::diag("got: $h: " . ($p->{headers}{lc $h} // ''));
                next;
            }
            $v = _server_port_subst(_expand($v));
            Test::More::is($p->{headers}{lc $h} // '', $v, "$name - header $h ok");
        }
    }
    if (defined(my $rhl = _per_req($block, 'response_headers_like', $n, $i))) {
        for my $l (split /\n/, $rhl) {
            next if $l =~ /^\s*$/ || $l =~ /^\s*#/;
            $l =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/
                or bail_out("$CurrentBlockName: bad response_headers_like line '$l'");
            my ($h, $re) = ($1, _server_port_subst(_expand($2)));
            my $got = $p->{headers}{lc $h};
            Test::More::like($got // '', qr/^(?:$re)$/s, "$name - header $h like ok")
                or (defined $got or Test::More::diag("header $h is absent"));
        }
    }
    for my $k (qw(raw_response_headers_like raw_response_headers_unlike)) {
        my $re = _per_req($block, $k, $n, $i);
        next unless defined $re;
        $re = qr/$re/s unless ref $re eq 'Regexp';
        if ($k =~ /unlike/) { Test::More::unlike($p->{raw_headers}, $re, "$name - $k ok") }
        else { Test::More::like($p->{raw_headers}, $re, "$name - $k ok") }
    }

    # body
    my $body = $p->{body} // '';
    my $fbody = _apply_body_filters($block, $body);
    my $body_exp = _has($block, 'response_body') ? _per_req($block, 'response_body', $n, $i) : undef;
    if (defined $body_exp) {
        my $exp = $body_exp;
        if (ref $exp eq 'Regexp') {
            Test::More::like($fbody, $exp, "$name - response_body - like $tag");
        } else {
            $exp = _server_port_subst(_expand($exp));
            local $Test::Builder::Level = $Test::Builder::Level + 1;
            Test::Base::is($fbody, $exp, "$name - response_body - response is expected $tag");
        }
    }
    for my $k (qw(response_body_like response_body_unlike)) {
        next unless _has($block, $k);
        my $re = _per_req($block, $k, $n, $i);
        next unless defined $re;
        unless (ref $re eq 'Regexp') {
            $re = _server_port_subst(_expand($re));
            $re = qr/$re/s;
        }
        my $tname = "$name - $k - response is expected (" . _collapse($fbody) . ")";
        if ($k eq 'response_body_like') { Test::More::like($fbody, $re, $tname) }
        else { Test::More::unlike($fbody, $re, $tname) }
    }
    if (_has($block, 'response_json')) {
        my $exp = _per_req($block, 'response_json', $n, $i);
        _check_response_json($name, $exp, $body, $tag) if defined $exp;
    }

    # framing
    my $want_incomplete;
    if (_has($block, 'incomplete_body')) {
        my $v = _sec($block, 'incomplete_body');
        $want_incomplete = ref $v eq 'ARRAY' ? $v->[$i] : 1;
    }
    if ($want_incomplete) {
        Test::More::ok($p->{incomplete}, "$name - response body is incomplete as expected $tag")
            or Test::More::diag("the body framing was complete (" . length($body) . " body bytes)");
    } elsif (($p->{incomplete} || $p->{invalid}) && !$abort && !$res->{error}
             && !(defined $p->{error})) {
        Test::More::ok(0, "$name - response body framing is complete and valid $tag");
        Test::More::diag($p->{invalid} // $p->{incomplete});
    }

    # SSE and timing
    my $sse_exp = _has($block, 'sse_data') ? _per_req($block, 'sse_data', $n, $i, 1) : undef;
    my $sse_ev = _has($block, 'sse_events') ? _per_req($block, 'sse_events', $n, $i, 1) : undef;
    if (defined $sse_exp || defined $sse_ev) {
        my ($events, $perr) = _parse_sse($body);
        if (defined $sse_exp) {
            my $exp = _expand_deep($sse_exp);
            my @data = map { join "\n", @{ $_->{data} } } grep { $_->{data} } @$events;
            my $err = $perr;
            if (!$err) {
                if (ref $exp ne 'ARRAY') { $err = '--- sse_data must be an eval array' }
                elsif (@data != @$exp) {
                    $err = "expected " . scalar(@$exp) . " data payloads, got " . scalar(@data);
                } else {
                    for my $k (0 .. $#data) {
                        my $e = $exp->[$k];
                        my $m;
                        if (ref $e eq 'Regexp') { $m = $data[$k] =~ $e ? undef : "does not match $e" }
                        elsif (ref $e) {
                            my $d = eval { JSON::PP->new->allow_nonref->decode($data[$k]) };
                            $m = $@ ? "is not valid JSON" : _json_subset($e, $d, '$');
                        } else { $m = $data[$k] eq $e ? undef : "expected " . _jstr($e) }
                        if (defined $m) { $err = "data #$k " . _jstr($data[$k]) . ": $m"; last }
                    }
                }
            }
            Test::More::ok(!defined $err, "$name - sse_data ok $tag")
                or Test::More::diag("$err\ndata payloads: " . _jstr(\@data));
        }
        if (defined $sse_ev) {
            my $exp = $sse_ev;
            my @names = map { $_->{event} } grep { defined $_->{event} } @$events;
            my $ok = !$perr && ref $exp eq 'ARRAY' && "@names" eq "@$exp" && @names == @$exp;
            Test::More::ok($ok, "$name - sse_events ok $tag")
                or Test::More::diag(($perr ? "$perr\n" : '') . "got events:      " . _jstr(\@names)
                                    . "\nexpected events: " . _jstr($exp));
        }
    }
    my $t_first = _time_of_offset($res->{reads}, $p->{first_off});
    my $t_last = _time_of_offset($res->{reads}, $p->{last_off});
    if (defined(my $min = _per_req($block, 'stream_min_span', $n, $i))) {
        $min = _dur($min);
        my $span = defined $t_first && defined $t_last ? $t_last - $t_first : 0;
        Test::More::ok($span >= $min, "$name - stream_min_span >= ${min}s $tag")
            or Test::More::diag(sprintf "first to last body byte took %.3fs", $span);
    }
    if (defined(my $max = _per_req($block, 'stream_first_byte_max', $n, $i))) {
        $max = _dur($max);
        my $d = defined $t_first ? $t_first - $res->{t_sent} : undef;
        Test::More::ok(defined $d && $d <= $max, "$name - stream_first_byte_max <= ${max}s $tag")
            or Test::More::diag(defined $d ? sprintf("first body byte after %.3fs", $d)
                                           : "no body byte received");
    }
}

sub _jstr { my $v = shift; my $s = eval { _json()->encode($v) } // "$v"; return $s }

sub _check_response_json {
    my ($name, $exp, $body, $tag) = @_;
    if (!ref $exp) {
        my $txt = _server_port_subst(_expand($exp // ''));
        $exp = eval { JSON::PP->new->allow_nonref->decode($txt) };
        bail_out("$CurrentBlockName: --- response_json is not valid JSON: $@") if $@;
    } else {
        $exp = _expand_deep($exp);
    }
    my $got = eval { JSON::PP->new->allow_nonref->decode($body) };
    my $err = $@ ? "response body is not valid JSON: " . _collapse($body) : _json_subset($exp, $got, '$');
    Test::More::ok(!defined $err, "$name - response_json ok $tag")
        or Test::More::diag($err);
}

# returns undef on match, an explanation otherwise
sub _json_subset {
    my ($exp, $got, $path) = @_;
    my $gs = _jstr($got);
    if (!defined $exp) {
        return defined $got ? "$path: expected null, got $gs" : undef;
    }
    if (_is_bool($exp)) {
        return "$path: expected boolean " . ($exp ? 'true' : 'false') . ", got $gs"
            unless _is_bool($got) && (!!$got == !!$exp);
        return undef;
    }
    if (ref $exp eq 'HASH') {
        return "$path: expected an object, got $gs" unless ref $got eq 'HASH';
        for my $k (sort keys %$exp) {
            my $p = $k =~ /^\w+$/ ? "$path.$k" : "$path\[" . _jstr($k) . "]";
            return "$p: missing" unless exists $got->{$k};
            my $e = _json_subset($exp->{$k}, $got->{$k}, $p);
            return $e if defined $e;
        }
        return undef;
    }
    if (ref $exp eq 'ARRAY') {
        return "$path: expected an array, got $gs" unless ref $got eq 'ARRAY';
        return "$path: expected " . scalar(@$exp) . " elements, got " . scalar(@$got) . ": $gs"
            unless @$exp == @$got;
        for my $k (0 .. $#$exp) {
            my $e = _json_subset($exp->[$k], $got->[$k], "$path\[$k]");
            return $e if defined $e;
        }
        return undef;
    }
    if (ref $exp eq 'Regexp') {
        return "$path: expected a value matching $exp, got $gs"
            unless defined $got && !ref $got && $got =~ $exp;
        return undef;
    }
    if (_is_number($exp)) {
        return "$path: expected number $exp, got $gs"
            unless defined $got && !ref $got && _is_number($got) && $got == $exp;
        return undef;
    }
    return undef if $exp eq '<ANY>';
    if ($exp =~ m{\A~/(.*)/\z}s) {
        my $re = $1;
        return "$path: expected a value matching /$re/, got $gs"
            unless defined $got && !ref $got && $got =~ /$re/;
        return undef;
    }
    return "$path: expected " . _jstr($exp) . ", got $gs"
        unless defined $got && !ref $got && !_is_number($got) && $got eq $exp;
    return undef;
}

sub _parse_sse {
    my $body = shift;
    my (@events, $cur);
    my @lines = split /\r\n|\r|\n/, $body, -1;
    pop @lines if @lines && $lines[-1] eq '';
    my $ended_nl = $body eq '' || $body =~ /(?:\r\n|\r|\n)\z/;
    my $err;
    for my $l (@lines) {
        if ($l eq '') { push @events, $cur if $cur; $cur = undef; next }
        next if $l =~ /^:/;
        my ($f, $v) = $l =~ /^([^:]*):(.*)\z/s ? ($1, $2) : ($l, '');
        $v =~ s/^ //;
        if ($f !~ /^[A-Za-z_-]+$/) { $err //= "malformed event-stream line: " . _jstr($l); next }
        $cur //= {};
        if ($f eq 'data') { push @{ $cur->{data} }, $v }
        elsif ($f eq 'event') { $cur->{event} = $v }
        else { $cur->{$f} = $v }
    }
    if ($cur || !$ended_nl) {
        $err //= 'the event stream does not end with a blank line (last event incomplete)';
        push @events, $cur if $cur;
    }
    return (\@events, $err);
}

# ---------------------------------------------------------------------------
# log checks (section 5.4, D8, D9)
# ---------------------------------------------------------------------------

sub _patterns {
    my ($v) = @_;
    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    if (ref $v eq 'ARRAY') {
        return map { ref $_ ? $_ : _expand($_) } grep { defined && (ref || length) } @$v;
    }
    return map { _expand($_) } grep { /\S/ } split /\n/, $v;
}

sub _pat_str { my $p = shift; return ref $p ? "$p" : $p }

sub _line_match {
    my ($line, $p) = @_;
    return ref $p ? scalar($line =~ $p) : index($line, $p) >= 0;
}

sub _check_patterns {
    my ($block, $name, $sec, $lines, $file, $tag, $positive) = @_;
    return unless _has($block, $sec);
    for my $p (_patterns(_sec($block, $sec))) {
        my @m = grep { _line_match($_, $p) } @$lines;
        my $ps = _pat_str($p);
        if ($positive) {
            Test::More::ok(scalar @m, "$name - pattern \"$ps\" matches a line in $file$tag");
        } elsif (!@m) {
            Test::More::ok(1, "$name - pattern \"$ps\" does not match a line in $file$tag");
        } else {
            Test::More::ok(0, "$name - pattern \"$ps\" should not match any line in $file but matches line \""
                              . $_ . "\"$tag") for @m;
        }
    }
}

sub _grep_lines {
    my ($pat, $lines) = @_;
    my $re;
    if (ref $pat eq 'Regexp') { $re = $pat }
    else {
        (my $s = $pat // '') =~ s/\n\z//;
        $re = qr/\Q$s\E/;
    }
    my $out = '';
    for my $l (@$lines) {
        $out .= substr($l, $-[0], $+[0] - $-[0]) . "\n" if $l =~ $re;
    }
    return $out;
}

sub _check_grep {
    my ($block, $name, $rep, $kind, $lines) = @_;
    my ($ps, $os) = ("grep_${kind}_log", "grep_${kind}_log_out");
    return unless _has($block, $ps) || _has($block, $os);
    bail_out("$CurrentBlockName: --- $ps and --- $os must be used together")
        unless _has($block, $ps) && _has($block, $os);
    my $got = _grep_lines(_sec($block, $ps), $lines);
    my $exp = _sec($block, $os);
    $exp = $exp->[$rep] if ref $exp eq 'ARRAY';
    if ($kind eq 'access' && _has($block, 'access_log_unordered')
        && ref $exp ne 'Regexp')
    {
        # workers write their access log lines after the response, so a
        # next request may be logged first: compare the lines as a set
        my $sort = sub { join '', map { "$_\n" } sort split /\n/, $_[0] };
        $got = $sort->($got);
        $exp = $sort->(_expand($exp // ''));
    }
    if (ref $exp eq 'Regexp') {
        Test::More::like($got, $exp, "$name - $os (req $rep)");
    } else {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        Test::Base::is($got, _expand($exp // ''), "$name - $os (req $rep)");
    }
}

sub _check_error_logs {
    my ($block, $name, $rep, $lines, $alines) = @_;
    _check_patterns($block, $name, 'error_log', $lines, 'error.log', " (req $rep)", 1);
    _check_patterns($block, $name, 'no_error_log', $lines, 'error.log', " (req $rep)", 0);
    _check_grep($block, $name, $rep, 'error', $lines);
    if (_has($block, 'access_log') || _has($block, 'no_access_log')) {
        my @all = split /\n/, _read_file("$ServerRoot/logs/access.log");
        _check_patterns($block, $name, 'access_log', \@all, 'access.log', " (req $rep)", 1);
        _check_patterns($block, $name, 'no_access_log', \@all, 'access.log', " (req $rep)", 0);
    }
    _check_grep($block, $name, $rep, 'access', $alines);
}

my @ScanCategories = (
    [alert     => qr/\[alert\]/,         'alert'],
    [crit      => qr/\[crit\]/,          'crit'],
    [emerg     => qr/\[emerg\]/,         'emerg'],
    [sanitizer => qr/Sanitizer/,         'sanitizer'],
    [ubsan     => qr/: runtime error: /, 'runtime error'],
    [signal    => qr/exited on signal/,  'exited on signal'],
    [assertion => qr/Assertion .* failed/, 'assertion'],
);

sub _strict_scan {
    my ($block, $name, $lines, $tag, $shutdown, @auto_exempt) = @_;
    my @neg = $shutdown ? qw(shutdown_error_log no_shutdown_error_log)
                        : qw(error_log no_error_log);
    my @pos = $shutdown ? qw(shutdown_error_log error_log grep_error_log)
                        : qw(error_log grep_error_log shutdown_error_log);
    my %exempt = map { $_ => 1 } @auto_exempt;
    my @mention;
    for my $s (@neg, @pos) { push @mention, map { lc _pat_str($_) } _patterns(_sec($block, $s)) if _has($block, $s) }
    for my $c (@ScanCategories) {
        $exempt{$c->[0]} = 1 if grep { index($_, $c->[2]) >= 0 } @mention;
    }
    my @expected;
    for my $s (@pos) {
        next unless _has($block, $s);
        my $v = _sec($block, $s);
        push @expected, $s eq 'grep_error_log' ? (ref $v ? $v : qr/\Q@{[ _trim($v) ]}\E/) : _patterns($v);
    }
    my @bad;
    for my $l (@$lines) {
        my @cats = grep { $l =~ $_->[1] } @ScanCategories;
        next unless @cats;
        next if grep { $exempt{$_->[0]} } @cats;
        next if grep { _line_match($l, $_) } @expected;
        push @bad, $l;
    }
    Test::More::ok(!@bad, "$name - no alert/crit/emerg in error.log $tag")
        or Test::More::diag(join "\n", @bad[0 .. List::Util::min($#bad, 19)]);
}

# ---------------------------------------------------------------------------
# one-shot TCP server (section 5.6)
# ---------------------------------------------------------------------------

sub _start_tcp_server {
    my ($block, $name) = @_;
    my $listen = _trim(_expand(_sec($block, 'tcp_listen')));
    my $sock;
    my $path;
    if ($listen =~ /^\d+$/) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen,
                                      Proto => 'tcp', ReuseAddr => 1, Listen => 64);
    } else {
        $path = $listen;
        unlink $path;
        $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 64);
    }
    unless ($sock) {
        Test::More::ok(0, "$name - tcp_listen on $listen");
        Test::More::diag("cannot listen on $listen: $!");
        return undef;
    }
    my $reply = _sec($block, 'tcp_reply');
    $reply = _expand_deep($reply) unless ref $reply eq 'CODE';
    if (!defined $reply && !_has($block, 'tcp_shutdown')) {
        bail_out("$CurrentBlockName: --- tcp_listen needs --- tcp_reply (or --- tcp_shutdown)");
    }
    my $query = _sec($block, 'tcp_query');
    $query = _expand($query) if defined $query;
    my $qlen = _trim(_sec($block, 'tcp_query_len'));
    $qlen = length $query if !defined $qlen && defined $query;
    my $auto = _has($block, 'tcp_query_auto_timeout')
        ? (_dur(_sec($block, 'tcp_query_auto_timeout')) || 0.1) : undef;
    my $delay = defined _sec($block, 'tcp_reply_delay') ? _dur(_sec($block, 'tcp_reply_delay')) : 0;
    my $shut = _sec($block, 'tcp_shutdown');
    $shut = _trim($shut) if defined $shut;
    my $no_close = _has($block, 'tcp_no_close');
    my $gap = defined _sec($block, 'tcp_reply_gap') ? _dur(_sec($block, 'tcp_reply_gap')) : 0;

    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $rd;
        $SIG{PIPE} = 'IGNORE';
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        eval {
            my $c = $sock->accept or POSIX::_exit(1);
            shutdown($c, $shut) if defined $shut && length $shut;
            my $data = '';
            if (defined $qlen && length $qlen) {
                while (length($data) < $qlen) {
                    my $n = sysread($c, my $buf, 65536);
                    last unless $n;
                    $data .= $buf;
                }
            } elsif (defined $auto) {
                my $sel = IO::Select->new($c);
                while ($sel->can_read($auto)) {
                    my $n = sysread($c, my $buf, 65536);
                    last unless $n;
                    $data .= $buf;
                }
            } else {
                sysread($c, $data, 4096);
            }
            syswrite($wr, pack('N', length $data) . $data);
            close $wr;
            Time::HiRes::sleep($delay) if $delay;
            my $r = ref $reply eq 'CODE' ? $reply->($data) : $reply;
            my $first = 1;
            for my $part (ref $r eq 'ARRAY' ? @$r : (defined $r ? $r : ())) {
                Time::HiRes::sleep($gap) if $gap && !$first;
                $first = 0;
                my $off = 0;
                while ($off < length $part) {
                    my $n = syswrite($c, $part, length($part) - $off, $off);
                    last unless $n;
                    $off += $n;
                }
            }
            if ($no_close) { sleep 3600 while 1 }
            close $c;
            close $sock;
            1;
        };
        POSIX::_exit(0);
    }
    close $wr;
    close $sock;
    $TcpServers{$pid} = 1;
    return { pid => $pid, rd => $rd, path => $path };
}

sub _check_tcp_server {
    my ($block, $name, $tcp, $timeout) = @_;
    if (_has($block, 'tcp_query') || _has($block, 'tcp_query_len')) {
        my $buf = '';
        my $sel = IO::Select->new($tcp->{rd});
        my $deadline = Time::HiRes::time() + List::Util::min($timeout, 2);
        while (Time::HiRes::time() < $deadline) {
            last unless $sel->can_read(List::Util::max(0.01, $deadline - Time::HiRes::time()));
            my $n = sysread($tcp->{rd}, my $chunk, 65536);
            last unless $n;
            $buf .= $chunk;
        }
        my $got;
        if (length($buf) >= 4) {
            my $len = unpack 'N', $buf;
            $got = substr($buf, 4, $len);
        }
        if (_has($block, 'tcp_query')) {
            my $q = _expand(_sec($block, 'tcp_query'));
            if (defined $got) {
                local $Test::Builder::Level = $Test::Builder::Level + 1;
                Test::Base::is($got, $q, "$name - tcp_query ok");
            } else {
                Test::More::ok(0, "$name - tcp_query ok");
                Test::More::diag('the tcp_listen server received no connection');
            }
        }
        if (_has($block, 'tcp_query_len')) {
            Test::More::is(defined $got ? length $got : 'no connection',
                           _trim(_sec($block, 'tcp_query_len')), "$name - tcp_query_len ok");
        }
    }
    close $tcp->{rd};
    kill 'KILL', $tcp->{pid};
    waitpid($tcp->{pid}, 0);
    delete $TcpServers{ $tcp->{pid} };
    unlink $tcp->{path} if defined $tcp->{path};
}

sub _kill_tcp_servers {
    for my $pid (keys %TcpServers) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        delete $TcpServers{$pid};
    }
}

# ---------------------------------------------------------------------------
# client_cmd (project extension)
# ---------------------------------------------------------------------------

sub _run_client_cmd {
    my ($block, $name, $rep) = @_;
    my $cmd = _expand(_sec($block, 'client_cmd') // '');
    $cmd =~ s/\s+\z//;
    my $limit = defined _sec($block, 'client_timeout') ? _dur(_sec($block, 'client_timeout')) : 60;
    my $want = _trim(_sec($block, 'client_exit'));
    $want = 0 unless defined $want && length $want;
    my $outf = "$ServerRoot/logs/client_cmd.$rep.out";
    my $errf = "$ServerRoot/logs/client_cmd.$rep.err";
    _verbose("client_cmd: $cmd");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        chdir $RepoRoot;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $outf;
        open STDERR, '>', $errf;
        $SIG{PIPE} = 'DEFAULT';
        exec '/bin/sh', '-c', $cmd
            or POSIX::_exit(127);
    }
    $ClientPids{$pid} = 1;
    my $deadline = Time::HiRes::time() + $limit;
    my ($st, $timed_out);
    while (1) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) { $st = $?; last }
        if (Time::HiRes::time() > $deadline) {
            kill 'TERM', -$pid;
            Time::HiRes::sleep(0.2);
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $timed_out = 1;
            last;
        }
        Time::HiRes::sleep(0.005);
    }
    kill 'KILL', -$pid;    # leftovers in its process group
    delete $ClientPids{$pid};
    my $out = _read_file($outf);
    my $err = _read_file($errf);
    my $dump = "client command: $cmd\n--- stdout ---\n$out\n--- stderr ---\n$err";
    if ($timed_out) {
        Test::More::ok(0, "$name - client command finished within ${limit}s");
        Test::More::diag($dump);
        return;
    }
    my $code = ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    Test::More::ok($code == $want, "$name - client command exited $want")
        or Test::More::diag("exit status: " . _status_text($st) . "\n$dump");
    if (_has($block, 'client_output_like')) {
        my $re = _sec($block, 'client_output_like');
        unless (ref $re eq 'Regexp') { ($re = _expand($re)) =~ s/\n\z//; $re = qr/$re/s }
        Test::More::like($out, $re, "$name - client_output_like");
    }
}

# ---------------------------------------------------------------------------
# Redis (section 11f)
# ---------------------------------------------------------------------------

sub start_redis {
    return $RedisPort if $RedisPid;
    my $bin = _redis_bin() // return undef;
    $RedisDir = File::Temp::tempdir('aigw-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    for my $attempt (1 .. 3) {
        my $port = _pick_free_port($ServerPort);
        my $pid = _spawn_redis($bin, $RedisDir, $port, 0) // next;
        ($RedisPid, $RedisPort) = ($pid, $port);
        $ENV{TEST_NGINX_REDIS_PORT} = $port;
        $ENV{TEST_NGINX_REDIS_PID} = $pid;
        add_block_preprocessor(sub { redis_cmd('FLUSHALL') });
        _verbose("redis-server pid $pid on 127.0.0.1:$port");
        return $port;
    }
    bail_out("redis-server did not start: " . _read_file("$RedisDir/redis.log"));
}

sub _redis_bin {
    my $bin = _which('redis-server') // (-x '/usr/bin/redis-server' ? '/usr/bin/redis-server' : undef);
    unless ($bin) {
        bail_out('redis-server is not installed (apt-get install redis-server)')
            if ($ENV{CI} // '') eq 'true';
        $RedisMissing = 1;
    }
    return $bin;
}

# a redis-server on 127.0.0.1:$port (TLS only with $tls, then its files are
# in $dir); returns its pid once it answers, undef when it did not start
sub _spawn_redis {
    my ($bin, $dir, $port, $tls, @extra) = @_;
    my @listen = $tls
        ? ('--port', 0, '--tls-port', $port, '--tls-cert-file', "$dir/server.crt",
           '--tls-key-file', "$dir/server.key", '--tls-ca-cert-file', "$dir/ca.crt",
           '--tls-auth-clients', 'no')
        : ('--port', $port);
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        chdir $dir;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec $bin, @listen, '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--daemonize', 'no', '--dir', $dir, @extra
            or POSIX::_exit(127);
    }
    my $deadline = Time::HiRes::time() + 5;
    while (Time::HiRes::time() < $deadline) {
        last if waitpid($pid, POSIX::WNOHANG()) == $pid;
        # any reply (NOAUTH too) or, with TLS, an accepted connection
        my $up = $tls
            ? IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                    Proto => 'tcp', Timeout => 1)
            : eval { _redis_call($port, 'PING') };
        return $pid if $up;
        Time::HiRes::sleep(0.01);
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return undef;
}

sub _reap_redis {
    my $pid = shift;
    kill 'CONT', $pid;
    kill 'TERM', $pid;
    my $deadline = Time::HiRes::time() + 2;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (Time::HiRes::time() > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
        Time::HiRes::sleep(0.005);
    }
}

sub redis_stop {
    bail_out('redis_stop: no redis running (call start_redis() first)') unless $RedisPid;
    _reap_redis($RedisPid);
    $RedisPid = undef;
    delete $ENV{TEST_NGINX_REDIS_PID};
}

sub redis_start_again {
    bail_out('redis_start_again: start_redis() first') unless $RedisPort;
    return $RedisPid if $RedisPid;
    my $pid = _spawn_redis(_redis_bin(), $RedisDir, $RedisPort, 0)
        // bail_out("redis-server did not start again on $RedisPort: "
                    . _read_file("$RedisDir/redis.log"));
    $RedisPid = $pid;
    $ENV{TEST_NGINX_REDIS_PID} = $pid;
    return $pid;
}

my @RedisExtra;    # pids of start_redis_extra()

sub start_redis_extra {
    my %o = @_;
    my $bin = _redis_bin() // return undef;
    my $dir = File::Temp::tempdir('aigw-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    if ($o{tls}) {
        open my $fh, '>', "$dir/ext.cnf" or die "$dir/ext.cnf: $!";
        print $fh "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
        close $fh;
        for my $cmd (
            [qw(openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=aigw-test-ca),
             '-keyout', "$dir/ca.key", '-out', "$dir/ca.crt"],
            [qw(openssl req -newkey rsa:2048 -nodes -subj /CN=localhost),
             '-keyout', "$dir/server.key", '-out', "$dir/server.csr"],
            [qw(openssl x509 -req -days 2 -CAcreateserial),
             '-in', "$dir/server.csr", '-CA', "$dir/ca.crt", '-CAkey', "$dir/ca.key",
             '-extfile', "$dir/ext.cnf", '-out', "$dir/server.crt"])
        {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                open STDOUT, '>>', "$dir/openssl.log";
                open STDERR, '>&', \*STDOUT;
                exec @$cmd or POSIX::_exit(127);
            }
            waitpid($pid, 0);
            bail_out("start_redis_extra: '@$cmd' failed: " . _read_file("$dir/openssl.log"))
                if $?;
        }
    }
    my @extra;
    push @extra, '--requirepass', $o{password} if defined $o{password};
    for my $attempt (1 .. 3) {
        my $port = _pick_free_port($ServerPort, $RedisPort // ());
        my $pid = _spawn_redis($bin, $dir, $port, $o{tls}, @extra) // next;
        push @RedisExtra, $pid;
        $ENV{TEST_NGINX_REDIS_TLS_CA} = "$dir/ca.crt" if $o{tls};
        _verbose("extra redis-server pid $pid on 127.0.0.1:$port");
        return { port => $port, pid => $pid, dir => $dir,
                 ($o{tls} ? (ca => "$dir/ca.crt") : ()) };
    }
    bail_out("extra redis-server did not start: " . _read_file("$dir/redis.log"));
}

# returns [type, value]; type: + - : $ *
sub _redis_call {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3)
        or die "cannot connect to redis on 127.0.0.1:$port: $!\n";
    my $req = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = $a // '';
        utf8::encode($b) if utf8::is_utf8($b);
        $req .= '$' . length($b) . "\r\n$b\r\n";
    }
    local $SIG{ALRM} = sub { die "redis: timeout\n" };
    alarm 5;
    print {$s} $req;
    my $r = _resp_read($s);
    alarm 0;
    close $s;
    return $r;
}

sub _resp_read {
    my $s = shift;
    my $line = <$s>;
    die "redis: connection closed\n" unless defined $line;
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return [$t, $v] if $t eq '+' || $t eq '-' || $t eq ':';
    if ($t eq '$') {
        return ['$', undef] if $v < 0;
        my $data = '';
        while (length($data) < $v + 2) {
            my $n = read($s, my $buf, $v + 2 - length $data);
            die "redis: short read\n" unless $n;
            $data .= $buf;
        }
        return ['$', substr($data, 0, $v)];
    }
    if ($t eq '*') {
        return ['*', undef] if $v < 0;
        return ['*', [ map { _resp_read($s) } 1 .. $v ]];
    }
    die "redis: bad reply line '$line'\n";
}

sub _resp_to_perl {
    my $r = shift;
    my ($t, $v) = @$r;
    die "redis error: $v\n" if $t eq '-';
    return $v unless $t eq '*' && defined $v;
    return [ map { _resp_to_perl($_) } @$v ];
}

sub _resp_fmt {
    my $r = shift;
    my ($t, $v) = @$r;
    return "(error) $v" if $t eq '-';
    return '(nil)' unless defined $v;
    return '[' . join(', ', map { _resp_fmt($_) } @$v) . ']' if $t eq '*';
    return $v;
}

sub redis_cmd {
    my @args = @_;
    my $port = $RedisPort // $ENV{TEST_NGINX_REDIS_PORT}
        // die "redis_cmd: no redis running (call start_redis() first)\n";
    return _resp_to_perl(_redis_call($port, @args));
}

sub _check_redis_out {
    my ($block, $name) = @_;
    bail_out("$CurrentBlockName: --- redis_out needs start_redis()") unless $RedisPort;
    my $v = _sec($block, 'redis_out');
    my @lines = ref $v eq 'ARRAY' ? @$v : split /\n/, $v;
    for my $l (@lines) {
        next if $l =~ /^\s*$/ || $l =~ /^\s*#/;
        my ($cmd, $exp) = split /\s+=>\s*/, $l, 2;
        bail_out("$CurrentBlockName: bad redis_out line '$l' (want: CMD args => reply)")
            unless defined $exp;
        $exp = _expand(_trim($exp));
        my @args = Text::ParseWords::shellwords(_expand($cmd));
        my $got = eval { _resp_fmt(_redis_call($RedisPort, @args)) } // "(harness error) $@";
        if ($exp =~ m{\A~/(.*)/\z}s) {
            Test::More::like($got, qr/$1/, "$name - redis_out: " . _trim($cmd));
        } else {
            Test::More::is($got, $exp, "$name - redis_out: " . _trim($cmd));
        }
    }
}

# ---------------------------------------------------------------------------
# forked Perl mock HTTP server (section 11e)
# ---------------------------------------------------------------------------

sub start_mock_http {
    my %a = @_;
    my $port = _expand($a{port} // die "start_mock_http: port => required\n");
    my $handler = $a{handler} // die "start_mock_http: handler => required\n";
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                     Proto => 'tcp', ReuseAddr => 1, Listen => 128)
        or die "start_mock_http: cannot listen on 127.0.0.1:$port: $!\n";
    my $log = $a{log} // "$ServerRoot/logs/mock_$port.log";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $SIG{PIPE} = 'IGNORE';
        $SIG{CHLD} = 'IGNORE';
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        while (1) {
            my $c = $sock->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                close $sock;
                eval { _mock_conn($c, $handler, $log) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $sock;
    $MockPids{$pid} = { port => $port, block_scoped => $InBlock };
    return $pid;
}

sub _mock_read {
    my ($c, $bufref, $need_sub) = @_;
    my $sel = IO::Select->new($c);
    while (1) {
        my $r = $need_sub->();
        return $r if defined $r;
        return undef unless $sel->can_read(30);
        my $n = sysread($c, my $chunk, 65536);
        return undef unless $n;
        $$bufref .= $chunk;
    }
}

sub _mock_conn {
    my ($c, $handler, $log) = @_;
    my $buf = '';
    while (1) {
        my $hend = _mock_read($c, \$buf, sub { my $i = index($buf, "\r\n\r\n"); $i < 0 ? undef : $i });
        return unless defined $hend;
        my $head = substr($buf, 0, $hend);
        $buf = substr($buf, $hend + 4);
        my ($rl, @hl) = split /\r\n/, $head;
        my ($method, $uri, $ver) = split ' ', $rl // '';
        my %h;
        for (@hl) { $h{lc $1} = exists $h{lc $1} ? "$h{lc $1}, $2" : $2 if /^([^:]+):\s*(.*)$/ }
        my $body = '';
        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $e = _mock_read($c, \$buf, sub { my $i = index($buf, "\r\n"); $i < 0 ? undef : $i });
                return unless defined $e;
                my $size = hex substr($buf, 0, $e);
                $buf = substr($buf, $e + 2);
                if ($size == 0) {
                    _mock_read($c, \$buf, sub { my $i = index($buf, "\r\n"); $i < 0 ? undef : $i }) // return;
                    $buf =~ s/^.*?\r\n//s;
                    last;
                }
                _mock_read($c, \$buf, sub { length($buf) >= $size + 2 ? 1 : undef }) // return;
                $body .= substr($buf, 0, $size);
                $buf = substr($buf, $size + 2);
            }
        } elsif (my $cl = $h{'content-length'}) {
            _mock_read($c, \$buf, sub { length($buf) >= $cl ? 1 : undef }) // return;
            $body = substr($buf, 0, $cl);
            $buf = substr($buf, $cl);
        }
        my $req = { method => $method, uri => $uri, version => $ver, headers => \%h, body => $body };
        if (open my $fh, '>>', $log) {
            print $fh "$method $uri ", JSON::PP->new->allow_nonref->encode($body), "\n";
            close $fh;
        }
        my $res = $handler->($req) || { status => 500, body => "no response\n" };
        my $status = $res->{status} // 200;
        my @hdrs = @{ $res->{headers} || [] };
        my $keep = ($ver // '') eq 'HTTP/1.1' && lc($h{connection} // '') ne 'close';
        my $out = "HTTP/1.1 $status " . ($res->{reason} // 'X') . "\r\n";
        while (my ($k, $v) = splice @hdrs, 0, 2) { $out .= "$k: $v\r\n" }
        $out .= "Connection: " . ($keep ? 'keep-alive' : 'close') . "\r\n";
        if ($res->{chunks}) {
            $out .= "Transfer-Encoding: chunked\r\n\r\n";
            syswrite($c, $out);
            for my $ch (@{ $res->{chunks} }) {
                if (_is_number($ch)) {
                    Time::HiRes::sleep($ch);
                    next;
                }
                next unless length $ch;
                syswrite($c, sprintf("%x\r\n%s\r\n", length $ch, $ch));
            }
            if ($res->{incomplete}) { close $c; return }
            syswrite($c, "0\r\n\r\n");
        } else {
            my $b = $res->{body} // '';
            $out .= "Content-Length: " . length($b) . "\r\n\r\n" . $b;
            syswrite($c, $out);
        }
        return unless $keep;
    }
}

sub _check_mock_requests {
    my ($block, $name) = @_;
    my @lines;
    for my $f (sort glob("$ServerRoot/logs/mock_*.log")) {
        push @lines, split /\n/, _read_file($f);
    }
    _check_patterns($block, $name, 'mock_requests_like', \@lines, 'the mock request logs', '', 1);
    if (_has($block, 'mock_request_count')) {
        Test::More::is(scalar @lines, _trim(_sec($block, 'mock_request_count')),
                       "$name - mock_request_count");
    }
}

sub _kill_block_mocks {
    for my $pid (keys %MockPids) {
        next unless $MockPids{$pid}{block_scoped};
        kill 'KILL', -$pid;
        waitpid($pid, 0);
        delete $MockPids{$pid};
    }
}

# ---------------------------------------------------------------------------
# END: stop everything we started, by pid
# ---------------------------------------------------------------------------

my $CleanedUp = 0;
my $OrigPid = $$;

sub _cleanup_all {
    return if $$ != $OrigPid || $CleanedUp++;
    my $keep = $ENV{TEST_NGINX_NO_CLEAN};
    _stop_nginx(1) if $NginxPid && !$keep;
    _kill_tcp_servers();
    for my $pid (keys %ClientPids) { kill 'KILL', -$pid; waitpid($pid, 0) }
    unless ($keep) {
        for my $pid (keys %MockPids) { kill 'KILL', -$pid; waitpid($pid, 0) }
        if ($RedisPid) {
            _reap_redis($RedisPid);
            $RedisPid = undef;
        }
        _reap_redis($_) for splice @RedisExtra;
    }
    for my $h (@CleanupHandlers) { eval { $h->(); 1 } or warn "cleanup handler died: $@" }
    if ($ServerRootIsOurs && !$keep && -e "$ServerRoot/$MarkerFile") {
        File::Path::remove_tree($ServerRoot);
    }
}

END {
    my $code = $?;
    _cleanup_all();
    $? = $code;
}

1;
