# aigw_metrics: the Prometheus exposition after a known mix of requests
# served by two workers (the series are in the zone), parsed strictly
# (t/lib/AigwProm.pm): HELP and TYPE of every family, label syntax,
# histograms with cumulative buckets up to le="+Inf", _sum and _count.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwProm;

repeat_each(1);
workers(2);

# the samples, one "series value" line each, sorted; bucket lines other
# than +Inf and _sum lines (they depend on timing) are left out; an
# invalid exposition is "INVALID: why"
our $Samples = sub {
    my ($s, $err) = AigwProm::check($_[0]);
    return "INVALID: $err" if $err;
    return join '', map { "$_ $s->{$_}\n" }
                    grep { !/_sum\{/ && (!/_bucket\{/ || /le="\+Inf"/) }
                    sort keys %$s;
};

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    aigw_key team sha256:6ef19604df802e337d1cb32296db9cb248e4f2480a417db57d21dd298722d77e;
    aigw_key lim sha256:fc16a1a80443141c51ea59c6265853c46337e1cbe4812ccdf2a91ec88c0138eb rpm=1;
    aigw_key poor sha256:292d075b18c9240a48b848c521422c5f418f7dd16b5c66755fe58d0fb6a43e1f budget=0.000001/day;
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k1;
    aigw_provider ps url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/sse key=k2;
    aigw_provider down url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e503 key=k3;
    aigw_model v/m pv:model-v input=2.50 output=10 cached_input=1.25;
    aigw_model s/m ps:model-s input=2.50 output=10;
    aigw_model f/m down:model-d pv:model-v input=2.50 output=10 cached_input=1.25;
    aigw_model w/* pv;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}';
        }
        location /sse/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n';
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
        location /e503/chat/completions {
            return 503 '{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}';
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        aigw_auth on;
        aigw_pass;
    }
    location = /metrics {
        aigw_metrics;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the metrics of a known mix: successes, a failover, a stream, a rate limit, a budget, an unknown model, a wildcard model, over two workers
--- request eval
[("POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}') x 3,
"POST /v1/chat/completions\n" . '{"model":"f/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"messages":[{"role":"user","content":"x"}]}',
("POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}') x 3,
"POST /v1/chat/completions\n" . '{"model":"nope/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"w/a","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"w/b","messages":[{"role":"user","content":"x"}]}',
"GET /metrics"]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer sec-team") x 5,
("Content-Type: application/json\nAuthorization: Bearer sec-other") x 2,
"Content-Type: application/json\nAuthorization: Bearer sk-team-b",
("Content-Type: application/json\nAuthorization: Bearer sec-team") x 3,
""]
--- request_gap: 0.1
--- error_code eval
[200, 200, 200, 200, 200, 200, 429, 402, 404, 200, 200, 200]
--- response_body_filters eval
[$::Samples]
--- response_body_like eval
my $samples = <<'_END_';
aigw_attempts_total{model="f/m",outcome="200",provider="pv"} 1
aigw_attempts_total{model="f/m",outcome="503",provider="down"} 1
aigw_attempts_total{model="s/m",outcome="200",provider="ps"} 1
aigw_attempts_total{model="v/m",outcome="200",provider="pv"} 4
aigw_attempts_total{model="w/*",outcome="200",provider="pv"} 2
aigw_budget_blocked_total{budget="key:budget"} 1
aigw_cost_usd_total{model="f/m",provider="pv"} 0.007250
aigw_cost_usd_total{model="s/m",provider="ps"} 0.000075
aigw_cost_usd_total{model="v/m",provider="pv"} 0.029000
aigw_failovers_total{model="f/m"} 1
aigw_overhead_seconds_bucket{le="+Inf",model="f/m"} 1
aigw_overhead_seconds_bucket{le="+Inf",model="s/m"} 1
aigw_overhead_seconds_bucket{le="+Inf",model="unknown"} 1
aigw_overhead_seconds_bucket{le="+Inf",model="v/m"} 6
aigw_overhead_seconds_bucket{le="+Inf",model="w/*"} 2
aigw_overhead_seconds_count{model="f/m"} 1
aigw_overhead_seconds_count{model="s/m"} 1
aigw_overhead_seconds_count{model="unknown"} 1
aigw_overhead_seconds_count{model="v/m"} 6
aigw_overhead_seconds_count{model="w/*"} 2
aigw_rate_limited_total{limit="key:rpm"} 1
aigw_request_duration_seconds_bucket{le="+Inf",model="f/m"} 1
aigw_request_duration_seconds_bucket{le="+Inf",model="s/m"} 1
aigw_request_duration_seconds_bucket{le="+Inf",model="unknown"} 1
aigw_request_duration_seconds_bucket{le="+Inf",model="v/m"} 6
aigw_request_duration_seconds_bucket{le="+Inf",model="w/*"} 2
aigw_request_duration_seconds_count{model="f/m"} 1
aigw_request_duration_seconds_count{model="s/m"} 1
aigw_request_duration_seconds_count{model="unknown"} 1
aigw_request_duration_seconds_count{model="v/m"} 6
aigw_request_duration_seconds_count{model="w/*"} 2
aigw_requests_total{model="f/m",provider="pv",status="2xx"} 1
aigw_requests_total{model="s/m",provider="ps",status="2xx"} 1
aigw_requests_total{model="unknown",provider="none",status="4xx"} 1
aigw_requests_total{model="v/m",provider="none",status="4xx"} 2
aigw_requests_total{model="v/m",provider="pv",status="2xx"} 4
aigw_requests_total{model="w/*",provider="pv",status="2xx"} 2
aigw_target_health{model="model-d",provider="down",state="closed"} 1
aigw_target_health{model="model-d",provider="down",state="cooldown"} 0
aigw_target_health{model="model-d",provider="down",state="open"} 0
aigw_target_health{model="model-s",provider="ps",state="closed"} 1
aigw_target_health{model="model-s",provider="ps",state="cooldown"} 0
aigw_target_health{model="model-s",provider="ps",state="open"} 0
aigw_target_health{model="model-v",provider="pv",state="closed"} 1
aigw_target_health{model="model-v",provider="pv",state="cooldown"} 0
aigw_target_health{model="model-v",provider="pv",state="open"} 0
aigw_tokens_total{kind="cached",model="f/m",provider="pv"} 200
aigw_tokens_total{kind="cached",model="v/m",provider="pv"} 800
aigw_tokens_total{kind="cached",model="w/*",provider="pv"} 400
aigw_tokens_total{kind="input",model="f/m",provider="pv"} 1000
aigw_tokens_total{kind="input",model="s/m",provider="ps"} 10
aigw_tokens_total{kind="input",model="v/m",provider="pv"} 4000
aigw_tokens_total{kind="input",model="w/*",provider="pv"} 2000
aigw_tokens_total{kind="output",model="f/m",provider="pv"} 500
aigw_tokens_total{kind="output",model="s/m",provider="ps"} 5
aigw_tokens_total{kind="output",model="v/m",provider="pv"} 2000
aigw_tokens_total{kind="output",model="w/*",provider="pv"} 1000
aigw_tokens_total{kind="reasoning",model="f/m",provider="pv"} 100
aigw_tokens_total{kind="reasoning",model="v/m",provider="pv"} 400
aigw_tokens_total{kind="reasoning",model="w/*",provider="pv"} 200
aigw_ttft_seconds_bucket{le="+Inf",model="f/m"} 1
aigw_ttft_seconds_bucket{le="+Inf",model="s/m"} 1
aigw_ttft_seconds_bucket{le="+Inf",model="v/m"} 4
aigw_ttft_seconds_bucket{le="+Inf",model="w/*"} 2
aigw_ttft_seconds_count{model="f/m"} 1
aigw_ttft_seconds_count{model="s/m"} 1
aigw_ttft_seconds_count{model="v/m"} 4
aigw_ttft_seconds_count{model="w/*"} 2
_END_
[(qr/./) x 11, qr/\A\Q$samples\E\z/]
--- response_headers_like eval
[("X-AIGW-Generation-Id: ^gen_\\w{26}\$") x 11, "Content-Type: ^text/plain; version=0.0.4\$"]
--- no_error_log
[error]
