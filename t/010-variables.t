# Gateway core, OpenAI surface: the $aigw_* variables in a log_format, for
# non-stream and stream requests, failover, fallback models and requests
# that never reached a provider; $aigw_cost from the configured prices.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    # providers on port 1: static answers with usage of every kind; the
    # gateway logs every $aigw_* variable

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format all 'AIGW $status model=$aigw_model req=$aigw_requested_model prov=$aigw_provider pm=$aigw_provider_model surface=$aigw_surface stream=$aigw_stream attempts=$aigw_attempts n=$aigw_attempt_count in=$aigw_input_tokens out=$aigw_output_tokens cached=$aigw_cached_tokens cw=$aigw_cache_write_tokens rsn=$aigw_reasoning_tokens src=$aigw_usage_source cost=$aigw_cost ttft=$aigw_ttft_ms user=$aigw_user';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}';
        }
        location /million/chat/completions {
            return 200 '{"id":"chatcmpl-m","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"m"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000000,"completion_tokens":200000,"total_tokens":1200000}}';
        }
        location /sse/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
        location /e503/chat/completions {
            return 503 '{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}';
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log all;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: every variable for a non-stream request; the cost from input, cached input and output prices
--- http_config
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model v/m pv:model-v input=2.50 output=10 cached_input=1.25;
--- request
POST /v1/chat/completions
{"model":"v/m","messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"alice"}}}
--- response_json
{"usage":{"prompt_tokens":1000,"completion_tokens":500}}
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out eval
qr{\AAIGW 200 model=v/m req=v/m prov=pv pm=model-v surface=openai stream=0 attempts=pv:200 n=1 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=0\.007250 ttft=\d+ user=alice\n\z}



=== TEST 2: every variable for a stream request, usage from the final usage chunk (hidden from the client)
--- http_config
    aigw_provider ps url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/sse key=k;
    aigw_model s/m ps:model-s input=2.50 output=10 cached_input=1.25;
--- request
POST /v1/chat/completions
{"model":"s/m","stream":true,"messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"bob"}}}
--- sse_data eval
[qr/"content":"a"/, qr/"finish_reason":"stop"/, "[DONE]"]
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out eval
qr{\AAIGW 200 model=s/m req=s/m prov=ps pm=model-s surface=openai stream=1 attempts=ps:200 n=1 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=0\.007250 ttft=\d+ user=bob\n\z}



=== TEST 3: cost: cached tokens at the input price when no cached price, whole dollars, no price at all
--- http_config
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_provider pm url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/million key=k;
    aigw_model nocache/m pv:model-v input=2.50 output=10;
    aigw_model million/m pm:m input=2.5 output=10.00;
    aigw_model free/m pv:model-v;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"nocache/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"million/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"free/m","messages":[{"role":"user","content":"x"}]}',
]
--- grep_access_log eval: qr/AIGW \d+ model=\S+ .* cost=\S+/
--- grep_access_log_out
AIGW 200 model=nocache/m req=nocache/m prov=pv pm=model-v surface=openai stream=0 attempts=pv:200 n=1 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=0.007500
AIGW 200 model=million/m req=million/m prov=pm pm=m surface=openai stream=0 attempts=pm:200 n=1 in=1000000 out=200000 cached=0 cw=0 rsn=0 src=provider cost=4.500000
AIGW 200 model=free/m req=free/m prov=pv pm=model-v surface=openai stream=0 attempts=pv:200 n=1 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=-



=== TEST 4: failover and a fallback model: $aigw_attempts, $aigw_attempt_count, the model that answered
--- http_config
    aigw_provider down url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e503 key=k;
    aigw_provider up url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_provider down2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e503 key=k;
    aigw_provider up2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model two/m down:d1 up:u1 input=1 output=2;
    aigw_model first/m down2:d2 fallback=second/m input=100 output=100;
    aigw_model second/m up2:u2 input=1 output=1;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"two/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"first/m","messages":[{"role":"user","content":"x"}]}',
]
--- response_headers eval
["X-AIGW-Attempts: down:503,up:200\nX-AIGW-Provider: up\nX-AIGW-Model: two/m",
 "X-AIGW-Attempts: down2:503,up2:200\nX-AIGW-Provider: up2\nX-AIGW-Model: second/m"]
--- grep_access_log eval: qr/AIGW .* src=\S+ cost=\S+/
--- grep_access_log_out
AIGW 200 model=two/m req=two/m prov=up pm=u1 surface=openai stream=0 attempts=down:503,up:200 n=2 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=0.002000
AIGW 200 model=second/m req=first/m prov=up2 pm=u2 surface=openai stream=0 attempts=down2:503,up2:200 n=2 in=1000 out=500 cached=200 cw=0 rsn=100 src=provider cost=0.001500



=== TEST 5: requests that never reached a provider: unknown model, bad JSON, models list
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"nope/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":',
"GET /v1/models",
]
--- error_code eval
[404, 400, 200]
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out
AIGW 404 model=nope/m req=nope/m prov=- pm=- surface=openai stream=0 attempts=- n=0 in=0 out=0 cached=0 cw=0 rsn=0 src=none cost=- ttft=- user=-
AIGW 400 model=- req=- prov=- pm=- surface=openai stream=0 attempts=- n=0 in=0 out=0 cached=0 cw=0 rsn=0 src=none cost=- ttft=- user=-
AIGW 200 model=- req=- prov=- pm=- surface=openai stream=0 attempts=- n=0 in=0 out=0 cached=0 cw=0 rsn=0 src=none cost=- ttft=- user=-



=== TEST 6: usage numbers out of range (negative, above 10^8, beyond int64) are left out; the cost stays exact
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        default_type application/json;
        location /oa/chat/completions {
            return 200 '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":500,"prompt_tokens_details":{"cached_tokens":-9223372036854775807},"completion_tokens_details":{"reasoning_tokens":99999999999999999999}}}';
        }
        location /an/v1/messages {
            return 200 '{"id":"msg","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1000,"cache_creation_input_tokens":9223372036854775807,"cache_read_input_tokens":100000001,"output_tokens":100000000}}';
        }
    }
    aigw_provider oa url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/oa key=k;
    aigw_provider an format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/an key=k;
    aigw_model oa/m oa:m input=10000 output=10 cached_input=1.25;
    aigw_model an/m an:m input=3 output=10000 cache_write=10000;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"oa/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"an/m","messages":[{"role":"user","content":"x"}]}',
]
--- response_json eval
[
undef,
{usage => {prompt_tokens => 1000, completion_tokens => 100000000, total_tokens => 100001000}},
]
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out eval
qr{\AAIGW 200 model=oa/m req=oa/m prov=oa pm=m surface=openai stream=0 attempts=oa:200 n=1 in=0 out=500 cached=0 cw=0 rsn=0 src=provider cost=0\.005000 ttft=\d+ user=-
AIGW 200 model=an/m req=an/m prov=an pm=m surface=openai stream=0 attempts=an:200 n=1 in=1000 out=100000000 cached=0 cw=0 rsn=0 src=provider cost=1000000\.003000 ttft=\d+ user=-\n\z}



=== TEST 9: $aigw_ttft_ms is the time to the first event sent to the client, not to the provider's headers (nor its comment line)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        location /late/chat/completions {
            default_type text/event-stream;
            echo -n ': ping\n\n';
            echo_flush;
            echo_sleep 0.2;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
    }
    aigw_provider late url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/late key=k;
    aigw_model late/m late:m;
--- request
POST /v1/chat/completions
{"model":"late/m","stream":true,"messages":[{"role":"user","content":"x"}]}
--- sse_data eval
[qr/"content":"a"/, "[DONE]"]
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out eval
qr{\AAIGW 200 model=late/m .* ttft=(?:19\d|[2-9]\d\d|\d{4,}) user=-\n\z}



=== TEST 10: $aigw_ttft_ms runs from the start of the request, across the tries: a first try that failed after 300 ms counts
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        default_type application/json;
        location /busy/chat/completions {
            echo_status 503;
            echo_flush;
            echo_sleep 0.3;
            echo -n '{"error":{"message":"busy","type":"server_error"}}';
        }
    }
    aigw_provider busy url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/busy key=k;
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k;
    aigw_model r/m busy:m pv:model-v;
--- request
POST /v1/chat/completions
{"model":"r/m","messages":[{"role":"user","content":"x"}]}
--- response_headers
X-AIGW-Attempts: busy:503,pv:200
--- grep_access_log eval: qr/AIGW .*/
--- grep_access_log_out eval
qr{\AAIGW 200 model=r/m .* attempts=busy:503,pv:200 n=2 .* ttft=(?:29\d|[3-9]\d\d|\d{4,}) user=-\n\z}
