# The spend report, GET /v1/report (aigw_report): what the log phase
# counted per UTC day in the zone, grouped by day, model, provider, user,
# tag, credential type or key, filtered, in the shape @ai-sdk/gateway's
# getSpendReport() validates; bad parameters, other methods, a reload,
# a full zone.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwRedis;
use POSIX qw(strftime);

repeat_each(1);

our $Today = strftime('%Y-%m-%d', gmtime);

# three requests: a/m for alice (tags t1, t2), a/m for bob (t1), b/m for
# alice without tags; a/m costs $0.00725 a request, b/m $0.002

sub chat {
    my ($model, $user, @tags) = @_;
    my $tags = @tags ? ',"tags":[' . join(',', map { "\"$_\"" } @tags) . ']'
                     : '';
    return "POST /v1/chat/completions\n"
           . qq({"model":"$model","messages":[{"role":"user","content":"x"}],)
           . qq("providerOptions":{"gateway":{"user":"$user"$tags}}});
}

sub traffic {
    return (chat('a/m', 'alice', 't1', 't2'), chat('a/m', 'bob', 't1'),
            chat('b/m', 'alice'));
}

sub report {
    my ($query) = @_;
    return "GET /v1/report?start_date=$Today&end_date=$Today$query";
}

sub row {
    my ($cost, $n, %more) = @_;
    return { total_cost => $cost, input_tokens => 1000 * $n,
             output_tokens => 500 * $n, cached_input_tokens => 200 * $n,
             cache_creation_input_tokens => 0,
             reasoning_tokens => 100 * $n, request_count => $n, %more };
}

add_block_preprocessor(sub {
    my $block = shift;

    # a request's accounting is settled in its log phase, after the client
    # has the response: with two workers, the next request waits for it
    $block->set_value(request_gap => '0.05') unless $block->{request_gap};

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}';
        }
    }
    aigw_provider pa url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_provider pb url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model a/m pa:model-v input=2.50 output=10 cached_input=1.25;
    aigw_model b/m pb:model-v input=1 output=2;
_EOC_

    $block->set_value(http_config => $block->{http_config}[0]
                                     . "    aigw_zone aigw 1m;\n")
        unless $block->{http_config}[0] =~ /aigw_zone/;

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location = /v1/report {
        aigw_report;
    }
    location /v1/ {
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n[warn]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

aigw_redis_mode();

run_tests();

__DATA__

=== TEST 1: group_by day (the default) and date_part=day: today's totals
--- request eval
[ main::traffic(), main::report(''), main::report('&group_by=day&date_part=day') ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0165, 3, day => $main::Today) ] },
  { results => [ main::row(0.0165, 3, day => $main::Today) ] } ]
--- response_headers eval
[ undef, undef, undef, { 'Content-Type' => 'application/json' }, undef ]



=== TEST 2: group_by model, provider, user: the costliest first
--- request eval
[ main::traffic(), main::report('&group_by=model'),
  main::report('&group_by=provider'), main::report('&group_by=user') ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0145, 2, model => 'a/m'),
                 main::row(0.002, 1, model => 'b/m') ] },
  { results => [ main::row(0.0145, 2, provider => 'pa'),
                 main::row(0.002, 1, provider => 'pb') ] },
  { results => [ main::row(0.00925, 2, user => 'alice'),
                 main::row(0.00725, 1, user => 'bob') ] } ]



=== TEST 3: group_by tag: a request counts under each of its tags; the untagged ones make a row without "tag"
--- request eval
[ main::traffic(), main::report('&group_by=tag') ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0145, 2, tag => 't1'),
                 main::row(0.00725, 1, tag => 't2'),
                 main::row(0.002, 1) ] } ]
--- response_body_like eval
[ undef, undef, undef, qr/\{"total_cost":0\.002,"input_tokens":1000,/ ]



=== TEST 4: group_by credential_type and key: configured credentials are "system"; no keys (open mode): one row without "key"
--- request eval
[ main::traffic(), main::report('&group_by=credential_type'),
  main::report('&group_by=key') ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0165, 3, credential_type => 'system') ] },
  { results => [ main::row(0.0165, 3) ] } ]
--- response_body_like eval
[ undef, undef, undef, undef, qr/^\{"results":\[\{"total_cost":0\.0165,/ ]



=== TEST 5: filters: user_id, model, provider, tags (any of), credential_type, URL-encoded values
--- request eval
[ main::traffic(), main::report('&group_by=model&user_id=alice'),
  main::report('&group_by=user&model=b%2Fm'),
  main::report('&group_by=user&provider=pa&tags=t2'),
  main::report('&group_by=user&tags=t2%2Cnone,t1'),
  main::report('&credential_type=byok'),
  main::report('&group_by=model&user_id=carol') ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.00725, 1, model => 'a/m'),
                 main::row(0.002, 1, model => 'b/m') ] },
  { results => [ main::row(0.002, 1, user => 'alice') ] },
  { results => [ main::row(0.00725, 1, user => 'alice') ] },
  { results => [ main::row(0.00725, 1, user => 'alice'),
                 main::row(0.00725, 1, user => 'bob') ] },
  { results => [] },
  { results => [] } ]



=== TEST 6: the date range: inclusive, a range without today is empty
--- request eval
[ main::traffic(),
  "GET /v1/report?start_date=2020-01-01&end_date=2099-12-31&group_by=model",
  "GET /v1/report?start_date=2020-01-01&end_date=2020-01-31",
  "GET /v1/report?start_date=2099-01-01&end_date=2099-12-31" ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0145, 2, model => 'a/m'),
                 main::row(0.002, 1, model => 'b/m') ] },
  { results => [] }, { results => [] } ]



=== TEST 7: requests answered without a provider are not spend: a bad request, an unknown model
--- request eval
[ "POST /v1/chat/completions\n{\"model\":\"a/m\"}",
  "POST /v1/chat/completions\n{\"model\":\"x/none\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
  main::report('') ]
--- error_code eval
[ 400, 404, 200 ]
--- response_json eval
[ undef, undef, { results => [] } ]
--- no_error_log
[warn]



=== TEST 8: bad parameters: 400 in the OpenAI error shape; other methods: 405
--- request eval
[ "GET /v1/report",
  "GET /v1/report?start_date=2026-01-01",
  "GET /v1/report?start_date=2026-02-30&end_date=2026-03-01",
  "GET /v1/report?start_date=2026-1-01&end_date=2026-03-01",
  "GET /v1/report?start_date=2026-03-02&end_date=2026-03-01",
  main::report('&group_by=team'),
  main::report('&date_part=hour'),
  main::report('&date_part=week'),
  main::report('&credential_type=mine'),
  "POST /v1/report\n{}",
  "GET /v1/report?start_date=2024-02-29&end_date=2024-02-29" ]
--- error_code eval
[ 400, 400, 400, 400, 400, 400, 400, 400, 400, 405, 200 ]
--- response_json eval
[ ({ error => { type => 'invalid_request_error',
                message => '"start_date" and "end_date" are required, as YYYY-MM-DD' } }) x 4,
  { error => { type => 'invalid_request_error',
               message => '"start_date" is after "end_date"' } },
  { error => { message => '"group_by" must be day, user, model, tag, provider, credential_type or key' } },
  { error => { message => '"date_part" "hour" is not supported: the report keeps daily totals' } },
  { error => { message => '"date_part" must be day' } },
  { error => { message => '"credential_type" must be system or byok' } },
  { error => { message => 'the spend report only answers GET' } },
  { results => [] } ]
--- response_headers eval
[ (undef) x 9, { Allow => 'GET, HEAD' }, undef ]



=== TEST 9: the counters survive a reload (nginx -s reload)
--- config
    location = /gen { return 200 "gen-1"; }
    location = /v1/report {
        aigw_report;
    }
    location /v1/ {
        aigw_pass;
    }
--- request eval
[ main::traffic() ]
--- client_cmd
R=$TEST_NGINX_SERVER_ROOT; sed -i 's/gen-1/gen-2/g' $R/conf/nginx.conf && kill -HUP $(cat $R/logs/nginx.pid) && n=0 && for i in $(seq 100); do if curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen | grep -q gen-2; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done; curl -s "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/report?start_date=2020-01-01&end_date=2099-12-31&group_by=model"
--- client_output_like: \A\{"results":\[\{"model":"a/m","total_cost":0\.0145,"input_tokens":2000,"output_tokens":1000,"cached_input_tokens":400,"cache_creation_input_tokens":0,"reasoning_tokens":200,"request_count":2\},\{"model":"b/m","total_cost":0\.002,.*"request_count":1\}\]\}\n\z



=== TEST 10: a full share: 400 users in a 32k zone (16k for the report), today's rows are never dropped: the rest is lost with one [warn], target health is untouched, the report still answers, no alert
--- redis_skip: the report rows are in Redis: no share of the zone to fill
--- http_config
    aigw_zone tiny 32k;
    aigw_report_retention 2;
--- request eval
[ main::report('') ]
--- response_json eval
[ { results => [] } ]
--- client_cmd
perl -MHTTP::Tiny -e 'my $h = HTTP::Tiny->new; my $ok = 0; for my $i (1 .. 400) { my $r = $h->post("http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/v1/chat/completions", { headers => { "content-type" => "application/json" }, content => qq({"model":"a/m","messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"user-$i-) . ("u" x 200) . qq("}}}) }); $ok++ if $r->{status} == 200 } my $r = $h->get("http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/v1/report?start_date=2020-01-01&end_date=2099-12-31&group_by=user"); my @n = $r->{content} =~ /"request_count":(\d+)/g; my $sum = 0; $sum += $_ for @n; print "ok=$ok status=$r->{status} rows=", scalar(@n), " kept=", ($sum < 400 && $sum > 10 ? "some" : $sum), "\n"'
--- client_output_like: \Aok=400 status=200 rows=\d+ kept=some\n\z
--- grep_error_log eval: qr/the spend report's share of zone "tiny" is used up, it \w+/
--- grep_error_log_out
the spend report's share of zone "tiny" is used up, it loses
--- no_error_log
[error]



=== TEST 11: visibility: a key sees the rows recorded under it, an admin key all of them; a missing or unknown key: 401 in the OpenAI shape
--- http_config
    aigw_key ka sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea;
    aigw_key kb sha256:4d922a846e66117ae609ae86ff0850516bc8a82f913013e771898daa526bfeed;
    aigw_key ops sha256:a70f71ad25b2a01686c3f59abba5d84ade439126e1784549543b686bf2b0dddc admin;
--- request eval
[ main::chat('a/m', 'alice'), main::chat('a/m', 'bob'),
  main::chat('b/m', 'carol'),
  main::report('&group_by=key'), main::report('&group_by=user'),
  main::report('&group_by=key'), main::report('&group_by=key'),
  main::report('&group_by=key'), main::report('&group_by=key'),
  "POST /v1/report\n{}" ]
--- more_headers eval
[ "Content-Type: application/json\nAuthorization: Bearer sec-a",
  "Content-Type: application/json\nx-api-key: sec-a",
  "Content-Type: application/json\nx-ai-gateway-api-key: sec-b",
  "Authorization: Bearer sec-a", "x-api-key: sec-a",
  "x-ai-gateway-api-key: sec-b", "Authorization: Bearer sec-admin",
  "X-None: 1", "Authorization: Bearer sec-c", "X-None: 1" ]
--- error_code eval
[ 200, 200, 200, 200, 200, 200, 200, 401, 401, 405 ]
--- response_json eval
[ undef, undef, undef,
  { results => [ main::row(0.0145, 2, key => 'ka') ] },
  { results => [ main::row(0.00725, 1, user => 'alice'),
                 main::row(0.00725, 1, user => 'bob') ] },
  { results => [ main::row(0.002, 1, key => 'kb') ] },
  { results => [ main::row(0.0145, 2, key => 'ka'),
                 main::row(0.002, 1, key => 'kb') ] },
  { error => { message => 'missing gateway key: send it in Authorization: Bearer, x-api-key or x-ai-gateway-api-key',
               type => 'authentication_error', param => undef,
               code => 'invalid_api_key' } },
  { error => { message => 'invalid gateway key',
               type => 'authentication_error', param => undef,
               code => 'invalid_api_key' } },
  { error => { message => 'the spend report only answers GET',
               type => 'invalid_request_error', param => undef,
               code => undef } } ]
--- no_error_log eval
[ "[error]", "[warn]", qr/^(?!.*http header:).*sec-[abc]/m ]



=== TEST 12: credential_type: "byok" when the client's own credential answered (providerOptions.gateway.byok for that provider; its own Authorization to an Anthropic provider for a byok key in x-ai-gateway-api-key), "system" otherwise
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        default_type application/json;
        location /an/ {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"model-c","content":[{"type":"text","text":"c"}],"stop_reason":"end_turn","usage":{"input_tokens":1000,"output_tokens":500}}';
        }
    }
    aigw_provider pc format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/an key=k;
    aigw_model c/m pc:model-c input=1 output=2;
    aigw_key kbyok sha256:34edb7457d666704f50494a3e17b8596f7922fa4a90010ff052697e3d19228c5 byok;
    aigw_key ka sha256:82df49d14d93651d4db2ed1c68614c4754fbc17d12fec0c0b894cd41e9ddd7ea;
--- request eval
[ "POST /v1/chat/completions\n"
  . '{"model":"a/m","messages":[{"role":"user","content":"x"}],'
  . '"providerOptions":{"gateway":{"byok":{"pa":[{"apiKey":"client-pa"}]}}}}',
  "POST /v1/chat/completions\n"
  . '{"model":"a/m","messages":[{"role":"user","content":"x"}],'
  . '"providerOptions":{"gateway":{"byok":{"pb":[{"apiKey":"client-pb"}]}}}}',
  "POST /v1/messages\n"
  . '{"model":"c/m","max_tokens":10,"messages":[{"role":"user","content":"x"}]}',
  "POST /v1/messages\n"
  . '{"model":"c/m","max_tokens":10,"messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n"
  . '{"model":"a/m","messages":[{"role":"user","content":"x"}]}',
  main::report('&group_by=credential_type'),
  main::report('&group_by=model&credential_type=byok'),
  main::report('&group_by=credential_type') ]
--- more_headers eval
[ "Content-Type: application/json\nAuthorization: Bearer sec-byok",
  "Content-Type: application/json\nAuthorization: Bearer sec-byok",
  "Content-Type: application/json\nx-ai-gateway-api-key: sec-byok\nAuthorization: Bearer client-own",
  "Content-Type: application/json\nx-ai-gateway-api-key: sec-a\nAuthorization: Bearer client-own",
  "Content-Type: application/json\nx-ai-gateway-api-key: sec-byok\nAuthorization: Bearer client-own",
  "Authorization: Bearer sec-byok", "Authorization: Bearer sec-byok",
  "Authorization: Bearer sec-a" ]
--- error_code eval
[ 200, 200, 200, 200, 200, 200, 200, 200 ]
--- response_body_like eval
[ undef, undef, undef, undef, undef,
  qr/\A\{"results":\[\{"credential_type":"system","total_cost":0\.0145,.*"request_count":2\},\{"credential_type":"byok","total_cost":0\.00925,.*"request_count":2\}\]\}\n\z/,
  qr/\A\{"results":\[\{"model":"a\/m","total_cost":0\.00725,.*"request_count":1\},\{"model":"c\/m","total_cost":0\.002,.*"request_count":1\}\]\}\n\z/,
  qr/\A\{"results":\[\{"credential_type":"system","total_cost":0\.002,.*"request_count":1\}\]\}\n\z/ ]
--- no_error_log eval
[ "[error]", "[warn]", qr/^(?!.*http header:).*client-(?:own|pa|pb)/m ]
