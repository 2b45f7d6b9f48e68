# Issue 10, items 4 and 8: 402 and reset at the period boundary.  The
# test module's "aigw_test_clock_offset <seconds>" moves the clock of
# limits and budgets; a reload (HUP) sets it past the next boundary while
# the zone and its counters persist: the budget of the new period (day,
# week from Monday, month, all UTC) is fresh, the 402 names the next
# reset, and a total budget never resets; the same for a tpd window.
#
# Model b/m costs $2.50 input, $10 output per 1M tokens; its provider on
# port 1 reports 1000 input and 500 output tokens ($0.0075).
use lib 't/lib';
use Cwd ();
use File::Basename ();
use Time::Local ();

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
use AigwRedis;

repeat_each(1);
workers(2);
master_on();

add_block_preprocessor(sub {
    my $block = shift;

    # a request's accounting is settled in its log phase, after the client
    # has the response: with two workers, the next request waits for it
    $block->set_value(request_gap => '0.05') unless $block->{request_gap};

    $block->set_value(main_config => "    load_module \$TEST_NGINX_ECHO_MODULE;\n"
                      . "    load_module \$TEST_NGINX_AIGW_TEST_MODULE;\n");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    aigw_zone aigw 1m;
    aigw_test_clock_offset 0;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /o/chat/completions {
            return 200 '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}';
        }
    }
    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/o key=k;
    aigw_model b/m po:m input=2.50 output=10;
_EOC_

    $block->set_value(config => <<'_EOC_');
    location /v1/ {
        add_header X-Gen gen-0 always;
        aigw_pass;
    }
    location = /gen {
        return 200 "gen-0\n";
    }
_EOC_

    # req: a request of user "al", its status and what its 402 says about
    # the reset; at OFFSET: reload with the clock moved by OFFSET seconds
    # and wait until only new workers answer

    $block->set_value(client_cmd => <<'_EOC_' . $block->{client_cmd}[0]);
U=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions
R=$TEST_NGINX_SERVER_ROOT
B='{"model":"b/m","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"al"}}}'
G=0
req() {
    curl -sS -o $R/body -w '%{http_code}' -H 'Content-Type: application/json' -d "$B" $U
    grep -oE '[0-9.]+ used|resets at [^"]*|never resets' $R/body | tr '\n' ' ' | sed 's/^/ /; s/ $//'
    echo
}
at() {
    N=$((G + 1))
    sed -i "s/aigw_test_clock_offset -\?[0-9]*;/aigw_test_clock_offset $1;/; s/gen-$G/gen-$N/g" $R/conf/nginx.conf
    kill -HUP $(cat $R/logs/nginx.pid)
    n=0; for i in $(seq 100); do if curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen | grep -q gen-$N; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done; sleep 0.3
    G=$N
    echo "at +$1"
}
NOW=$(date +%s)
_EOC_

    $block->set_value(no_error_log => "[error]\n[alert]\n[crit]\n");
});

sub utc { my @t = gmtime(shift); return sprintf "%04d-%02d-%02dT%02d:%02d:%02dZ", $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0]; }

sub day { my $t = shift; return $t - $t % 86400 + 86400; }

sub week { my $d = int(shift() / 86400); return ($d - ($d + 3) % 7 + 7) * 86400; }

sub month {
    my @t = gmtime(shift);
    my ($y, $m) = ($t[5] + 1900, $t[4] + 1);
    ($y, $m) = $m == 12 ? ($y + 1, 1) : ($y, $m + 1);
    return Time::Local::timegm(0, 0, 0, 1, $m - 1, $y);
}

# the output of: req, req, at (the next boundary + 60 s), req, req
sub expect {
    my ($next) = @_;
    my $b1 = $next->(time);
    my $b2 = $next->($b1 + 60);
    return qr/\A200\n402 0\.007500 used resets at \Q${\ utc($b1)}\E\nat \+\d+\n200\n402 0\.007500 used resets at \Q${\ utc($b2)}\E\n\z/;
}

aigw_redis_mode();

run_tests();

__DATA__

=== TEST 1: a day budget: exhausted, 402 naming the next UTC midnight; past it, the budget is fresh and the next 402 names the midnight after
--- http_config
    aigw_budget user 0.008/day;
--- client_cmd
req; req
at $((86400 - NOW % 86400 + 60))
req; req
--- client_output_like eval
main::expect(\&main::day)



=== TEST 2: a week budget: resets on Monday 00:00 UTC
--- http_config
    aigw_budget user 0.008/week;
--- client_cmd
req; req
D=$((NOW / 86400))
at $(((D - (D + 3) % 7 + 7) * 86400 - NOW + 60))
req; req
--- client_output_like eval
main::expect(\&main::week)



=== TEST 3: a month budget: resets on the 1st, 00:00 UTC
--- http_config
    aigw_budget user 0.008/month;
--- client_cmd
req; req
at $(($(date -u -d "$(date -u -d @$NOW +%Y-%m-01) +1 month" +%s) - NOW + 60))
req; req
--- client_output_like eval
main::expect(\&main::month)



=== TEST 4: a total budget never resets, a year on
--- http_config
    aigw_budget user 0.008/total;
--- client_cmd
req; req
at $((400 * 86400))
req
--- client_output_like: \A200\n402 0\.007500 used never resets\nat \+34560000\n402 0\.007500 used never resets\n\z



=== TEST 5: a tpd window: 1500 tokens used, the next estimate does not fit 1600 (429); past UTC midnight the window is fresh
--- http_config
    aigw_limit user tpd=1600;
--- client_cmd
req; req
at $((86400 - NOW % 86400 + 60))
req; req
--- client_output_like: \A200\n429\nat \+\d+\n200\n429\n\z
