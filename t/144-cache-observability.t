# Observability of the response cache: $aigw_cache_status, the "cached"
# flag of /v1/logs and /v1/generation, aigw_cache_total{result}.  The
# cache itself is another module's (it sets ctx->cache_status); here the
# test stage of t/hooks/ngx_http_aigw_test_module.c stands for it:
# "aigw_test_cache MISS" marks the request and lets it go to the provider,
# "aigw_test_cache HIT" marks it and answers at once, as a hit would.
use lib 't/lib';
use Cwd ();
use File::Basename ();
use AigwProm;

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

our $Cache = sub {
    my ($s, $err) = AigwProm::check($_[0]);
    return "INVALID: $err" if $err;
    return join '', map { "$_ $s->{$_}\n" } grep { /^aigw_(?:cache|requests)_total/ } sort keys %$s;
};

run_tests();

__DATA__

=== TEST 1: a miss and a hit: the log line, /v1/logs, the metrics
--- main_config
    load_module $TEST_NGINX_ECHO_MODULE;
    load_module $TEST_NGINX_AIGW_TEST_MODULE;
--- http_config
    log_format cache escape=json '{"status":$status,"cache":"$aigw_cache_status","provider":"$aigw_provider","attempts":"$aigw_attempt_count","in":"$aigw_input_tokens","cost":"$aigw_cost","finish":"$aigw_finish_reason","gen":"$aigw_generation_id"}';
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model v/m pv:model-v input=2.50 output=10;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}';
        }
    }
--- config
    location /miss/ {
        rewrite ^/miss/(.*)$ /v1/$1 break;
        access_log logs/access.log cache;
        aigw_test_cache MISS;
        aigw_pass;
    }
    location /hit/ {
        rewrite ^/hit/(.*)$ /v1/$1 break;
        access_log logs/access.log cache;
        aigw_test_cache HIT;
        aigw_pass;
    }
    location = /v1/logs { aigw_logs; }
    location = /metrics { aigw_metrics; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /miss/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"POST /hit/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"GET /v1/logs",
"GET /metrics"]
--- request_gap: 0.1
--- response_body_filters eval
[sub { $_[0] =~ /^# HELP/ ? $::Cache->($_[0]) : $_[0] }]
--- response_body_like eval
[qr/"content":"v"/, qr/"chatcmpl-cached"/,
qr/\A\{"object":"list","data":\[\{"id":"gen_\w{26}","total_cost":0,.*"provider_name":"",.*"finish_reason":"stop",.*"cached":true,.*\},\{"id":"gen_\w{26}","total_cost":0.0075,.*"provider_name":"pv",.*"cached":false,.*\}\]\}\n\z/,
qr/\Aaigw_cache_total\{result="hit"\} 1
aigw_cache_total\{result="miss"\} 1
aigw_requests_total\{model="v\/m",provider="none",status="2xx"\} 1
aigw_requests_total\{model="v\/m",provider="pv",status="2xx"\} 1
\z/]
--- grep_access_log eval: qr/\{"status".+/
--- grep_access_log_out eval
qr{\A\{"status":200,"cache":"MISS","provider":"pv","attempts":"1","in":"1000","cost":"0\.007500","finish":"stop","gen":"gen_\w{26}"\}
\{"status":200,"cache":"HIT","provider":"","attempts":"0","in":"0","cost":"","finish":"stop","gen":"gen_\w{26}"\}
\z}
--- no_error_log
[error]
