# Every configuration under conf/ passes "nginx -t" with the module.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $root = abs_path(dirname(__FILE__) . '/..');
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = (split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                          || "$root/objs/ngx_http_aigw_module.so"))[0];

BAIL_OUT("no module at $module: run make") unless -f $module;

my @confs = sort glob("$root/conf/*.conf");
ok(scalar @confs, 'conf/ has example configurations');

for my $conf (@confs) {
    my $prefix = tempdir(CLEANUP => 1);

    mkdir "$prefix/$_" for qw(logs temp modules);
    symlink $module, "$prefix/modules/ngx_http_aigw_module.so"
        or die "symlink: $!";

    my $out = `$nginx -t -p $prefix/ -c $conf -e $prefix/logs/error.log 2>&1`;
    my $rc = $? >> 8;

    is($rc, 0, "nginx -t passes for conf/" . (split m{/}, $conf)[-1])
        or diag($out);
    unlike($out, qr/\[(?:emerg|alert|crit)\]/,
           "no emerg/alert/crit for " . (split m{/}, $conf)[-1]);
}

done_testing();
