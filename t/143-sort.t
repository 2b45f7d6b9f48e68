# Routing by measured performance: providerOptions.gateway.sort ("cost",
# "ttft", "tps") and aigw_sort order a request's targets by configured
# price or by the moving averages of time to first byte and output tokens
# per second kept per (provider, model id) in the zone; targets with fewer
# than 3 answers keep their configured place.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    # slow: the whole answer after 200ms; fast: at once; trickle: its
    # first chunk at once, the rest 300ms later; burst: all after 100ms

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format sort 'SORT $status $aigw_provider $aigw_attempt_count';
    aigw_provider slow url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/slow key=k;
    aigw_provider fast url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fast key=k;
    aigw_provider trickle url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/trickle key=k;
    aigw_provider burst url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/burst key=k;
    aigw_provider down url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e503 key=k;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /slow/chat/completions {
            echo_sleep 0.2;
            echo -n '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}';
        }
        location /fast/chat/completions {
            echo -n '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"f"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}';
        }
        location /trickle/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo_sleep 0.3;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
        location /e503/chat/completions {
            return 503 '{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}';
        }
        location /burst/chat/completions {
            default_type text/event-stream;
            echo_sleep 0.1;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n';
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":500,"total_tokens":510}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

sub req {
    my ($model, $gw, $stream) = @_;
    return "POST /v1/chat/completions\n"
           . qq({"model":"$model",) . ($stream ? '"stream":true,' : '')
           . '"messages":[{"role":"user","content":"x"}]'
           . ($gw ? qq(,"providerOptions":{"gateway":$gw}) : '') . '}';
}

run_tests();

__DATA__

=== TEST 1: sort "ttft": the configured order until both targets have 3 answers, then the faster one first
--- http_config
    aigw_model m/x slow:model-x fast:model-x;
--- config
    location /v1/ {
        access_log logs/access.log sort;
        aigw_sort off;
        aigw_pass;
    }
--- request eval
[main::req('m/x', '{"sort":"ttft"}'),
(main::req('m/x', '{"order":["slow"]}')) x 2,
(main::req('m/x', '{"order":["fast"]}')) x 3,
main::req('m/x', '{"sort":"ttft"}'),
main::req('m/x'),
main::req('m/x', '{"sort":"ttft","order":["slow"]}')]
--- request_gap: 0.05
--- grep_access_log eval: qr/SORT .*/
--- grep_access_log_out
SORT 200 slow 1
SORT 200 slow 1
SORT 200 slow 1
SORT 200 fast 1
SORT 200 fast 1
SORT 200 fast 1
SORT 200 fast 1
SORT 200 slow 1
SORT 200 fast 1



=== TEST 2: "tps" and "ttft" differ: a stream whose first chunk comes at once but trickles, and one that bursts later; aigw_sort as a location default
--- http_config
    aigw_model t/x trickle:model-t burst:model-t;
--- config
    location /v1/ {
        access_log logs/access.log sort;
        aigw_pass;
    }
    location /v2/ {
        rewrite ^/v2/(.*)$ /v1/$1 break;
        access_log logs/access.log sort;
        aigw_sort tps;
        aigw_pass;
    }
--- request eval
[(main::req('t/x', '{"order":["trickle"]}', 1)) x 3,
(main::req('t/x', '{"order":["burst"]}', 1)) x 3,
main::req('t/x', '{"sort":"ttft"}', 1),
main::req('t/x', '{"sort":"tps"}', 1),
main::req('t/x', undef, 1) =~ s{^POST /v1/}{POST /v2/}r,
main::req('t/x', '{"sort":"ttft"}', 1) =~ s{^POST /v1/}{POST /v2/}r]
--- request_gap: 0.05
--- response_body_like eval
[(qr/\[DONE\]/) x 10]
--- grep_access_log eval: qr/SORT .*/
--- grep_access_log_out
SORT 200 trickle 1
SORT 200 trickle 1
SORT 200 trickle 1
SORT 200 burst 1
SORT 200 burst 1
SORT 200 burst 1
SORT 200 trickle 1
SORT 200 burst 1
SORT 200 burst 1
SORT 200 trickle 1



=== TEST 3: sort "cost": the cheaper of the request's models first, by configured price; a target of an unpriced model keeps its place (it fails here: the next one answers)
--- http_config
    aigw_model big/m slow:big input=10 output=30;
    aigw_model small/m fast:small input=1 output=2;
    aigw_model free/m down:free;
--- config
    location /v1/ {
        access_log logs/access.log sort;
        aigw_pass;
    }
    location /v2/ {
        rewrite ^/v2/(.*)$ /v1/$1 break;
        access_log logs/access.log sort;
        aigw_sort cost;
        aigw_pass;
    }
--- request eval
[main::req('big/m', '{"models":["small/m"]}'),
main::req('big/m', '{"models":["small/m"],"sort":"cost"}'),
main::req('big/m', '{"models":["small/m"]}') =~ s{^POST /v1/}{POST /v2/}r,
main::req('free/m', '{"models":["big/m","small/m"]}'),
main::req('free/m', '{"models":["big/m","small/m"],"sort":"cost"}')]
--- grep_access_log eval: qr/SORT .*/
--- grep_access_log_out
SORT 200 slow 1
SORT 200 fast 1
SORT 200 fast 1
SORT 200 slow 2
SORT 200 fast 2



=== TEST 4: an unknown sort is a 400 in the client's shape
--- config
    location /v1/ {
        aigw_pass;
    }
--- http_config
    aigw_model m/x slow:model-x fast:model-x;
--- request eval
main::req('m/x', '{"sort":"latency"}')
--- error_code: 400
--- response_json
{"error":{"message":"\"providerOptions.gateway.sort\" must be \"cost\", \"ttft\" or \"tps\"","type":"invalid_request_error"}}



=== TEST 5: aigw_sort takes cost, ttft, tps or off
--- config
    location /v1/ {
        aigw_sort fastest;
        aigw_pass;
    }
--- must_die
--- error_log
invalid value "fastest", it must be "cost", "ttft", "tps" or "off"
