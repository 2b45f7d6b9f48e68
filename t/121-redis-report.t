# Issue 11, item 6: t/110-report.t on the Redis backend (t/lib/AigwRedis.pm):
# the same blocks, with aigw_redis ... fail=closed in every http_config
use lib 't/lib';
use AigwRedis ();

AigwRedis::run_suite('t/110-report.t');
