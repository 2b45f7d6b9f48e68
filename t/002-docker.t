# docker/: the Dockerfile's shape (stages, no compiler in the runtime
# stage, non-root, HEALTHCHECK, nginx -t at build), compose.yaml's
# services, and the entry point: every template it renders passes
# "nginx -t" with the module, bad environment values are refused, and the
# rendered gateway answers a chat request and its healthcheck.  The image
# itself is built and run by "make docker-test" (docker/test.sh, podman),
# too slow for "make test".

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

my $root = abs_path(dirname(__FILE__) . '/..');
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = (split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                          || "$root/objs/ngx_http_aigw_module.so"))[0];

BAIL_OUT("no module at $module: run make") unless -f $module;

sub slurp {
    open my $fh, '<', shift or die "open: $!";
    local $/;
    return <$fh>;
}

# ---- the Dockerfile ---------------------------------------------------------

my $df = slurp("$root/docker/Dockerfile");
$df =~ s/\\\n/ /g;                        # continuation lines
my @lines = grep { /\S/ && !/^\s*#/ } split /\n/, $df;

my (@stages, $cur);
for my $l (@lines) {
    if ($l =~ /^\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i) {
        $cur = { from => $1, name => $2 // '', lines => [] };
        push @stages, $cur;
        next;
    }
    push @{ $cur->{lines} }, $l if $cur;
}

ok(@stages >= 2, 'Dockerfile: multi-stage (' . scalar(@stages) . ')');
my ($build) = grep { $_->{name} eq 'build' } @stages;
my $final = $stages[-1];

ok($build && grep(/apt-get install.*\bnginx-dev\b/, @{ $build->{lines} }),
   'the build stage builds against Debian\'s nginx-dev');
ok($build && grep(/\bmake build\b/, @{ $build->{lines} }),
   'the build stage runs make build');
is($final->{from}, '${DEBIAN_IMAGE}', 'the runtime stage is the slim base');
like($df, qr/^ARG DEBIAN_IMAGE=debian:bookworm-slim$/m,
     'the base is debian:bookworm-slim');

my @final_install = grep { /apt-get install/ } @{ $final->{lines} };
ok(@final_install, 'the runtime stage installs packages');
unlike("@final_install",
       qr/\b(?:gcc|g\+\+|cc|make|build-essential|[\w.+-]+-dev|dpkg-dev)\b/,
       'no compiler, make or -dev package in the runtime stage');
ok(grep(/apt-get clean|rm -rf \/var\/lib\/apt\/lists/, @{ $final->{lines} }),
   'the runtime stage drops apt\'s lists and cache');
ok(grep(/COPY --from=build .*ngx_http_aigw_module\.so/, @{ $final->{lines} }),
   'the runtime stage takes only the .so from the build stage');

my ($user) = map { /^\s*USER\s+(\S+)/i ? $1 : () } @{ $final->{lines} };
ok(defined $user && $user !~ /^(?:root|0)(?::|$)/,
   'the runtime stage runs as a non-root user (' . ($user // 'none') . ')');
ok(grep(/^\s*RUN\b.*aigw-entrypoint nginx -t/, @{ $final->{lines} }),
   'nginx -t is a build step');
ok(grep(/^\s*HEALTHCHECK\b.*aigw-entrypoint.*healthcheck/,
        @{ $final->{lines} }), 'HEALTHCHECK');
ok(grep(/^\s*ENTRYPOINT\s+\["aigw-entrypoint"\]/, @{ $final->{lines} }),
   'ENTRYPOINT aigw-entrypoint');

# ---- compose.yaml -----------------------------------------------------------

my $compose = slurp("$root/docker/compose.yaml");
my ($services) = $compose =~ /^services:\n(.*)\z/ms;
my @svc = $services =~ /^  (\w[\w-]*):/mg;
is_deeply([sort @svc], [qw(gw1 gw2 lb mock redis)],
          'compose: redis, mock, two nodes and the balancer');
my @ports = $compose =~ /^\s+ports:/mg;
is(scalar @ports, 1, 'compose: one published port');
my @hc = $compose =~ /^\s+healthcheck:/mg;
is(scalar @hc, 4, 'compose: healthchecks (redis, mock, the nodes, lb)');
like($compose, qr{AIGW_REDIS_URL: redis://redis:6379/0},
     'compose: the nodes share the redis service');

# ---- the entry point --------------------------------------------------------

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "socket: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

my $base_env = "AIGW_SHARE=$root/docker AIGW_MODULE=$module"
               . " AIGW_NGINX=$nginx";

sub entry {
    my ($dir, $env, @args) = @_;
    my $cmd = "env $base_env AIGW_RUN_DIR=$dir $env"
              . " $root/docker/entrypoint.sh @args 2>&1";
    my $out = `$cmd`;
    return ($? >> 8, $out);
}

my %envs = (
    'nginx' => "AIGW_PORT=18080 AIGW_ACCESS_LOG=/dev/null"
               . " AIGW_REDIS_URL=redis://127.0.0.1:6379/0"
               . " AIGW_REDIS_FAIL=closed AIGW_REDIS_PASSWORD=secret",
    'mock'  => "AIGW_PORT=18081",
    'lb'    => "AIGW_PORT=18082 'AIGW_UPSTREAMS=127.0.0.1:18080 localhost:18083'",
);

for my $mode (sort keys %envs) {
    my $dir = tempdir(CLEANUP => 1);
    my ($rc, $out) = entry($dir, $envs{$mode} . " 'AIGW_LIMIT=user rpm=3'",
                           $mode, '-t');
    is($rc, 0, "$mode: the rendered configuration passes nginx -t")
        or diag($out);
    like($out, qr/test is successful/, "$mode: nginx -t ran");
    unlike($out, qr/\[(?:emerg|alert|crit)\]/, "$mode: no emerg/alert/crit");
    ok(-f "$dir/nginx.conf", "$mode: nginx.conf rendered");
    my $conf = -f "$dir/nginx.conf" ? slurp("$dir/nginx.conf") : '';
    unlike($conf, qr/\@AIGW_\w+\@/, "$mode: every placeholder is replaced");
    unlike($conf, qr/secret/, "$mode: no password in the file");
}

{
    my $dir = tempdir(CLEANUP => 1);
    my ($rc, $out) = entry($dir, "AIGW_REDIS_URL=redis://r:6379/1"
                           . " AIGW_REDIS_PASSWORD=s3"
                           . " 'AIGW_LIMIT=tag=team:a tpm=100 concurrent=2'",
                           'render');
    is($rc, 0, 'render') or diag($out);
    my $conf = slurp("$dir/nginx.conf");
    like($conf, qr{^\s*aigw_redis  redis://r:6379/1 fail=local password_env=AIGW_REDIS_PASSWORD;$}m,
         'AIGW_REDIS_URL: aigw_redis, the password by name');
    like($conf, qr/^\s*aigw_limit  tag=team:a tpm=100 concurrent=2;$/m,
         'AIGW_LIMIT: aigw_limit');
    like($conf, qr/^\s*listen  8080;$/m, 'AIGW_PORT defaults to 8080');
    like($conf, qr{^\s*access_log  /dev/stdout aigw;$}m,
         'the access log on stdout');
    like($conf, qr/^error_log\s+stderr/m, 'the error log on stderr');
    like($conf, qr/^daemon\s+off;/m, 'nginx in the foreground');
}

{
    my $dir = tempdir(CLEANUP => 1);
    my ($rc, $out) = entry($dir, '', 'render');
    my $conf = slurp("$dir/nginx.conf");
    unlike($conf, qr/^\s*aigw_(?:redis|limit)\b/m,
           'without AIGW_REDIS_URL and AIGW_LIMIT: neither directive');
}

my @bad = (
    [ 'AIGW_PORT=80a',                       qr/AIGW_PORT must be/ ],
    [ 'AIGW_PORT=70000',                     qr/AIGW_PORT must be/ ],
    [ "'AIGW_WORKERS=2;user root'",         qr/AIGW_WORKERS must be/ ],
    [ "'AIGW_REDIS_URL=redis://h;include /etc/passwd'",
                                             qr/AIGW_REDIS_URL must be/ ],
    [ 'AIGW_REDIS_URL=http://h',             qr/AIGW_REDIS_URL must be/ ],
    [ 'AIGW_REDIS_URL=redis://h AIGW_REDIS_FAIL=maybe',
                                             qr/AIGW_REDIS_FAIL must be/ ],
    [ "'AIGW_LIMIT=user rpm=3; aigw_demo'",  qr/AIGW_LIMIT must be/ ],
    [ "'AIGW_LIMIT=user'",                   qr/AIGW_LIMIT must be/ ],
    [ "'AIGW_ACCESS_LOG=/x aigw; include /y'",
                                             qr/AIGW_ACCESS_LOG must be/ ],
);

for my $b (@bad) {
    my $dir = tempdir(CLEANUP => 1);
    my ($rc, $out) = entry($dir, $b->[0], 'render');
    isnt($rc, 0, "refused: $b->[0]");
    like($out, $b->[1], "the message names the variable: $b->[0]");
    ok(!-f "$dir/nginx.conf", "no configuration written: $b->[0]");
}

{
    my $dir = tempdir(CLEANUP => 1);
    my ($rc, $out) = entry($dir, 'AIGW_UPSTREAMS=', 'render', 'lb');
    isnt($rc, 0, 'lb without AIGW_UPSTREAMS is refused');
}

# ---- the rendered gateway answers ---------------------------------------------

{
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    my $env = "AIGW_PORT=$port AIGW_WORKERS=1"
              . " AIGW_ACCESS_LOG=$dir/access.log";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', "$dir/stderr.log";
        open STDOUT, '>&', \*STDERR;
        exec "env $base_env AIGW_RUN_DIR=$dir $env"
             . " $root/docker/entrypoint.sh";
        exit 127;
    }

    my $up;
    for (1 .. 200) {
        $up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
            and last;
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    ok($up, 'the entry point starts nginx in the foreground')
        or diag(-f "$dir/stderr.log" ? slurp("$dir/stderr.log") : '');
    close $up if $up;

    my ($rc, $out) = entry($dir, "AIGW_PORT=$port", 'healthcheck');
    is($rc, 0, 'healthcheck passes while nginx answers') or diag($out);

    my $body = '{"model":"demo/echo","messages":'
               . '[{"role":"user","content":"hello"}]}';
    my $resp = `curl -s -m 5 -H 'X-User: u' -H 'Content-Type: application/json' http://127.0.0.1:$port/v1/chat/completions -d '$body'`;
    like($resp, qr/"content":"echo: hello"/,
         'a chat request through the rendered gateway');

    my $err = `curl -s -m 5 -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' http://127.0.0.1:$port/v1/messages -d '{"model":"nope/x","max_tokens":5,"messages":[{"role":"user","content":"x"}]}'`;
    like($err, qr/"type":"error"/, 'an error in the Anthropic shape');

    kill 'QUIT', $pid;
    waitpid($pid, 0);
    is($? >> 8, 0, 'nginx exits cleanly on QUIT');

    ($rc, $out) = entry($dir, "AIGW_PORT=$port", 'healthcheck');
    isnt($rc, 0, 'healthcheck fails once nginx is gone');

    my $log = slurp("$dir/stderr.log");
    unlike($log, qr/\[(?:emerg|alert|crit)\]/, 'no emerg/alert/crit');
    unlike($log, qr/AddressSanitizer|runtime error:/,
           'no sanitizer report (make sanitize)');
    like(-f "$dir/access.log" ? slurp("$dir/access.log") : '',
         qr/model=demo\/echo/, 'the access log has the request');
}

done_testing();
