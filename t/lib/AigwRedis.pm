package AigwRedis;

# Issue 11, item 6: the limit and budget suites on the Redis backend, and a
# second nginx node for the fleet suite.
#
# Redis mode.  A suite that calls aigw_redis_mode() (after its own block
# preprocessor, before run_tests()) runs unchanged unless the environment
# has TEST_NGINX_AIGW_REDIS=1.  With it, aigw_redis_mode() starts a private
# redis-server (start_redis(): FLUSHALL before each block) and adds
#
#     aigw_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s fail=closed;
#
# to the http_config of every block but the must_die ones (configuration
# errors, no counters): fail=closed, so a broken Redis path is a 503 and
# never a silent pass on the shm counters; timeout=1s, as these suites test
# what the counters do, not a slow Redis (t/123-redis-policies.t does), and
# two suites at once on two cores may keep Redis waiting past 50 ms.  A block whose subject exists
# only in shared memory (a full zone) is skipped in Redis mode by its own
#
#     --- redis_skip: the reason
#
# section; the section is ignored otherwise.
#
# The t/12*-redis-*.t wrappers call run_suite('t/100-limits.t'): the suite
# runs under the wrapper's name, then one more test asserts that nginx ran
# scripts on that Redis (INFO commandstats), so a module that accepts
# aigw_redis but keeps counting in shared memory fails.  A module without
# the aigw_redis directive skips the wrapper (1..0 # SKIP).
#
# Fleet.  start_second_nginx() (from a block's init, or a "--- second_nginx"
# section of a suite that calls fleet_mode()) starts node 2 from the
# block's conf/nginx.conf: its own prefix (servroot/node2: conf, logs, temp
# dirs), its own main port (exported as TEST_NGINX_NODE2_PORT) and without
# the mock server blocks of the http_config (every "server" listening
# elsewhere than the main port): node 2's providers are node 1's mocks.
# Both nodes use the same Redis.  Node 2 is stopped (SIGQUIT, by pid) at
# the end of the block, and its error.log must then be free of
# [alert], [crit] and [emerg] lines.

use strict;
use warnings;

use File::Path ();
use POSIX ();
use Time::HiRes ();

our @ISA = ('Exporter');
our @EXPORT = qw(aigw_redis_mode fleet_mode start_second_nginx
                 stop_second_nginx module_has_redis);
require Exporter;

my ($Node2Pid, $Node2Dir, $Node2Port, $Node2CleanupAdded);

# the aigw_redis directive is in the module the suites load

sub module_has_redis {
    my ($mod) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                            // 'objs/ngx_http_aigw_module.so');
    return 0 unless defined $mod && open my $fh, '<:raw', $mod;
    local $/;
    my $so = <$fh> // '';
    return index($so, "aigw_redis\0") >= 0 ? 1 : 0;
}

sub skip_all_unless_redis {
    my ($what) = @_;
    return if module_has_redis();
    print "1..0 # SKIP the module has no aigw_redis directive"
        . " (the Redis backend is not built in): $what\n";
    exit 0;
}

sub aigw_redis_mode {
    return unless $ENV{TEST_NGINX_AIGW_REDIS};

    Test::Nginx::Socket::start_redis();

    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;

        if (defined(my $why = $block->{redis_skip} && $block->{redis_skip}[0])) {
            $why =~ s/\s+\z//;
            $why =~ s/'/\\'/g;
            $block->set_value(skip_eval => "1: 'Redis mode: $why'");
            return;
        }

        return if $block->{must_die};

        my $http = $block->{http_config} ? $block->{http_config}[0] : '';
        $block->set_value(http_config => $http
            . "    aigw_redis redis://127.0.0.1:\$TEST_NGINX_REDIS_PORT"
            . " timeout=1s fail=closed;\n");
    });

    Test::Nginx::Socket::redis_cmd('CONFIG', 'RESETSTAT');
}

# the number of scripts (EVAL, EVALSHA, FCALL and their _RO forms) Redis ran

sub script_calls {
    my $info = Test::Nginx::Socket::redis_cmd('INFO', 'commandstats') // '';
    my $n = 0;
    while ($info =~ /^cmdstat_(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro):calls=(\d+)/mg) {
        $n += $2;
    }
    return $n;
}

# a wrapper: t/100-limits.t and the others, in Redis mode

sub run_suite {
    my ($file) = @_;

    skip_all_unless_redis($file);
    $ENV{TEST_NGINX_AIGW_REDIS} = 1;

    # "do FILE" compiles the file in the caller's package: main, whose
    # subs the blocks call and whose DATA handle Test::Base reads
    my $r;
    {
        package main;
        $r = do "./$file";
    }
    die "$file: $@" if $@;
    die "$file: $!" unless defined $r;

    return unless $ENV{TEST_NGINX_REDIS_PORT};
    my $n = script_calls();
    Test::More::ok($n > 0, "$0 - the counters were in Redis ($n scripts ran)");
}

# ---------------------------------------------------------------------------
# a second nginx node
# ---------------------------------------------------------------------------

# the server blocks at the top of http {} that listen elsewhere than $port;
# quotes ('...', "...", with \ escapes) and # comments are skipped

sub _drop_other_servers {
    my ($conf, $port) = @_;
    my ($depth, $i, $n, @cut) = (0, 0, length $conf);

    while ($i < $n) {
        my $c = substr $conf, $i, 1;

        if ($c eq '#') {
            my $e = index $conf, "\n", $i;
            $i = $e < 0 ? $n : $e + 1;
            next;
        }

        if ($c eq "'" || $c eq '"') {
            $i++;
            while ($i < $n) {
                my $d = substr $conf, $i, 1;
                if ($d eq '\\') { $i += 2; next }
                $i++;
                last if $d eq $c;
            }
            next;
        }

        if ($c eq '{') { $depth++; $i++; next }
        if ($c eq '}') {
            $depth--;
            if (@cut && $cut[-1][1] < 0 && $depth == 1) {
                $cut[-1][1] = $i + 1;
            }
            $i++;
            next;
        }

        if ($depth == 1 && !(@cut && $cut[-1][1] < 0)
            && substr($conf, $i) =~ /\Aserver\s*\{/
            && ($i == 0 || substr($conf, $i - 1, 1) =~ /[\s;{}]/))
        {
            push @cut, [$i, -1];
            $i += 6;
            next;
        }

        $i++;
    }

    for my $c (reverse @cut) {
        my ($s, $e) = @$c;
        next if $e < 0;
        my $text = substr $conf, $s, $e - $s;
        my @listen = $text =~ /^\s*listen\s+(\S+?)[\s;]/mg;
        next if grep { /:\Q$port\E\z/ } @listen;
        substr($conf, $s, $e - $s) = "# (node 2: a server of node 1 dropped)";
    }

    return $conf;
}

sub start_second_nginx {
    my $root = Test::Nginx::Socket::server_root();
    my $port = Test::Nginx::Socket::server_port();

    stop_second_nginx() if $Node2Pid;

    my $conf = Test::Nginx::Socket::_read_file("$root/conf/nginx.conf");
    die "start_second_nginx: no $root/conf/nginx.conf\n" unless length $conf;

    $Node2Dir = "$root/node2";
    File::Path::remove_tree($Node2Dir);
    File::Path::make_path(map { "$Node2Dir/$_" } qw(conf logs));

    $Node2Port = Test::Nginx::Socket::_pick_free_port(
        $port, map { $ENV{$_} } grep { /^TEST_NGINX_(RAND|REDIS)_PORT/ } keys %ENV);

    $conf = _drop_other_servers($conf, $port);
    $conf =~ s{\Q$root\E/(logs/|(?:client_body|proxy|fastcgi|uwsgi|scgi)_temp)}
              {$Node2Dir/$1}g;
    $conf =~ s{(listen\s+127\.0\.0\.1:)\Q$port\E\b}{$1$Node2Port}
        or die "start_second_nginx: no listen 127.0.0.1:$port in the conf\n";
    $conf =~ s{^(# .*)}{$1 (node 2)};

    Test::Nginx::Socket::_write_file("$Node2Dir/conf/nginx.conf", $conf);

    my @cmd = ($Test::Nginx::Socket::NginxBinary, '-p', "$Node2Dir/",
               '-c', "$Node2Dir/conf/nginx.conf",
               '-e', "$Node2Dir/logs/error.log");
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        chdir $Node2Dir;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', "$Node2Dir/logs/stderr";
        exec { $cmd[0] } @cmd
            or POSIX::_exit(127);
    }
    $Node2Pid = $pid;

    unless ($Node2CleanupAdded++) {
        Test::Nginx::Socket::add_test_cleanup_handler(sub {
            return unless $Node2Pid;
            my $block = shift;
            my @bad = stop_second_nginx();
            Test::More::is(join("\n", @bad), '',
                           "$0 " . $block->name . " - node 2: no alert,"
                           . " crit or emerg in its error.log");
        });
        Test::Nginx::Socket::add_cleanup_handler(sub { stop_second_nginx() });
    }

    my $deadline = Time::HiRes::time() + 5;
    while (1) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            $Node2Pid = undef;
            die "start_second_nginx: node 2 exited: "
                . Test::Nginx::Socket::_read_file("$Node2Dir/logs/error.log");
        }
        last if Test::Nginx::Socket::_port_listening($Node2Port);
        die "start_second_nginx: node 2 does not listen on $Node2Port\n"
            if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.01);
    }

    $ENV{TEST_NGINX_NODE2_PORT} = $Node2Port;
    $ENV{TEST_NGINX_NODE2_ROOT} = $Node2Dir;
    return $Node2Port;
}

# stops node 2 (SIGQUIT, then SIGKILL after 5 s); returns its error.log's
# [alert], [crit] and [emerg] lines

sub stop_second_nginx {
    my $pid = $Node2Pid or return ();
    $Node2Pid = undef;

    kill 'QUIT', $pid;
    my $deadline = Time::HiRes::time() + 5;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (Time::HiRes::time() > $deadline) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            last;
        }
        Time::HiRes::sleep(0.005);
    }
    kill 'KILL', -$pid;    # workers of a master that died, if any

    delete $ENV{TEST_NGINX_NODE2_PORT};
    delete $ENV{TEST_NGINX_NODE2_ROOT};

    my $log = Test::Nginx::Socket::_read_file("$Node2Dir/logs/error.log");
    return grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $log;
}

# "--- second_nginx" (a flag section): node 2 starts before the block's
# init code

sub fleet_mode {
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        return unless $block->{second_nginx};
        my $init = $block->{init} ? $block->{init}[0] : '';
        $block->set_value(init => "AigwRedis::start_second_nginx();\n$init");
    });
}

1;
