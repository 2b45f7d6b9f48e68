# Observability: the $aigw_* variables of the audit log (escape=json) for
# non-stream, stream, failover and refused requests; the generation id
# (X-AIGW-Generation-Id); content logging off by default, capped when on;
# no gateway or provider key in any log line; X-AIGW-Overhead-Ms;
# GET /v1/logs and GET /v1/generation with their access rule (and the AI
# SDK's getGenerationInfo()).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $Audit = <<'_EOC_';
    log_format audit escape=json '{"gen":"$aigw_generation_id","status":$status,"key":"$aigw_key","user":"$aigw_user","tags":"$aigw_tags","requested":"$aigw_requested_model","model":"$aigw_model","provider":"$aigw_provider","provider_model":"$aigw_provider_model","attempts":"$aigw_attempts","attempt_count":"$aigw_attempt_count","in":"$aigw_input_tokens","out":"$aigw_output_tokens","cached":"$aigw_cached_tokens","cw":"$aigw_cache_write_tokens","rsn":"$aigw_reasoning_tokens","cost":"$aigw_cost","ttft":"$aigw_ttft_ms","provider_ms":"$aigw_provider_ms","overhead":"$aigw_overhead_ms","duration":"$aigw_duration_ms","cache":"$aigw_cache_status","limit":"$aigw_limit","stream":"$aigw_stream","finish":"$aigw_finish_reason","usage":"$aigw_usage_source","req_content":"$aigw_request_content","resp_content":"$aigw_response_content"}';
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    return if $block->{client_cmd};

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    # port 1: providers answering after 50ms, a stream, a 503

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => $Audit . <<'_EOC_' . $http);
    aigw_key team sha256:6ef19604df802e337d1cb32296db9cb248e4f2480a417db57d21dd298722d77e tags=team:growth;
    aigw_key other sha256:fc16a1a80443141c51ea59c6265853c46337e1cbe4812ccdf2a91ec88c0138eb;
    aigw_key ops sha256:96dfc51ab37fd6a87b355bf80606353c12d53ffcea27846b69a53aa6696f32d9 admin;
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=prov-secret-1;
    aigw_provider ps url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/sse key=prov-secret-2;
    aigw_provider down url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e503 key=prov-secret-3;
    aigw_model v/m pv:model-v input=2.50 output=10 cached_input=1.25;
    aigw_model s/m ps:model-s input=2.50 output=10 cached_input=1.25;
    aigw_model f/m down:model-d pv:model-v input=2.50 output=10 cached_input=1.25;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            echo_sleep 0.05;
            echo -n '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":100}}}';
        }
        location /sse/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n';
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
        location /e503/chat/completions {
            return 503 '{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}';
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log audit;
        aigw_auth on;
        aigw_pass;
    }
_EOC_

    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: a non-stream request: every variable, the generation id in a header and the log; no content, no key
--- request
POST /v1/chat/completions
{"model":"v/m","messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"alice","tags":["demo"]}}}
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- response_headers_like
X-AIGW-Generation-Id: ^gen_[0-9A-HJKMNP-TV-Z]{26}$
X-AIGW-Overhead-Ms:
--- grep_access_log eval: qr/.+/
--- grep_access_log_out eval
qr{\A\{"gen":"gen_[0-9A-HJKMNP-TV-Z]{26}","status":200,"key":"team","user":"alice","tags":"team:growth,demo","requested":"v/m","model":"v/m","provider":"pv","provider_model":"model-v","attempts":"pv:200","attempt_count":"1","in":"1000","out":"500","cached":"200","cw":"0","rsn":"100","cost":"0\.007250","ttft":"(?:[5-9]\d|\d{3})","provider_ms":"(?:[5-9]\d|\d{3})","overhead":"\d","duration":"(?:[5-9]\d|\d{3})","cache":"","limit":"","stream":"0","finish":"stop","usage":"provider","req_content":"","resp_content":""\}\n\z}
--- no_error_log eval
[qr/\[error\]/, qr/\[(?:info|notice|warn|error|crit|alert|emerg)\].*(?:sec-team|prov-secret)/]



=== TEST 2: a stream request: stream, finish reason, time to first token before the end
--- request
POST /v1/chat/completions
{"model":"s/m","stream":true,"messages":[{"role":"user","content":"x"}]}
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- response_headers_like
X-AIGW-Generation-Id: ^gen_[0-9A-HJKMNP-TV-Z]{26}$
--- sse_data eval
[qr/"content":"a"/, qr/"finish_reason":"length"/, "[DONE]"]
--- grep_access_log eval: qr/.+/
--- grep_access_log_out eval
qr{\A\{"gen":"gen_[0-9A-HJKMNP-TV-Z]{26}","status":200,"key":"team","user":"","tags":"team:growth","requested":"s/m","model":"s/m","provider":"ps","provider_model":"model-s","attempts":"ps:200","attempt_count":"1","in":"1000","out":"500","cached":"0","cw":"0","rsn":"0","cost":"0\.007500","ttft":"[0-4]?\d","provider_ms":"(?:[5-9]\d|\d{3})","overhead":"\d","duration":"(?:[5-9]\d|\d{3})","cache":"","limit":"","stream":"1","finish":"length","usage":"provider","req_content":"","resp_content":""\}\n\z}



=== TEST 3: failover: the attempts chain and count, the model and provider that answered
--- request
POST /v1/chat/completions
{"model":"f/m","messages":[{"role":"user","content":"x"}]}
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- grep_access_log eval: qr/.+/
--- grep_access_log_out eval
qr{\A\{"gen":"gen_[0-9A-HJKMNP-TV-Z]{26}","status":200,"key":"team","user":"","tags":"team:growth","requested":"f/m","model":"f/m","provider":"pv","provider_model":"model-v","attempts":"down:503,pv:200","attempt_count":"2","in":"1000","out":"500","cached":"200","cw":"0","rsn":"100","cost":"0\.007250","ttft":"(?:[5-9]\d|\d{3})","provider_ms":"(?:[5-9]\d|\d{3})","overhead":"\d","duration":"(?:[5-9]\d|\d{3})","cache":"","limit":"","stream":"0","finish":"stop","usage":"provider","req_content":"","resp_content":""\}\n\z}



=== TEST 4: refused requests: a rate limit (429), a budget (402), an unknown key (401): the limit, no provider, no key
--- http_config
    aigw_limit key rpm=1;
    aigw_key poor sha256:292d075b18c9240a48b848c521422c5f418f7dd16b5c66755fe58d0fb6a43e1f budget=0.000001/day;
--- request eval
["POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}']
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer sec-other",
"Content-Type: application/json\nAuthorization: Bearer sec-other",
"Content-Type: application/json\nAuthorization: Bearer sk-team-b",
"Content-Type: application/json\nAuthorization: Bearer sec-nobody"]
--- error_code eval
[200, 429, 402, 401]
--- grep_access_log eval: qr/"status":4.+/
--- grep_access_log_out eval
qr{\A"status":429,"key":"other","user":"","tags":"","requested":"v/m","model":"v/m","provider":"","provider_model":"","attempts":"","attempt_count":"0","in":"0","out":"0","cached":"0","cw":"0","rsn":"0","cost":"","ttft":"","provider_ms":"0","overhead":"\d+","duration":"\d+","cache":"","limit":"key:rpm","stream":"0","finish":"","usage":"none","req_content":"","resp_content":""\}
"status":402,"key":"poor","user":"","tags":"","requested":"v/m","model":"v/m","provider":"","provider_model":"","attempts":"","attempt_count":"0","in":"0","out":"0","cached":"0","cw":"0","rsn":"0","cost":"","ttft":"","provider_ms":"0","overhead":"\d+","duration":"\d+","cache":"","limit":"key:budget","stream":"0","finish":"","usage":"none","req_content":"","resp_content":""\}
"status":401,"key":"","user":"","tags":"","requested":"v/m","model":"v/m","provider":"","provider_model":"","attempts":"","attempt_count":"0","in":"0","out":"0","cached":"0","cw":"0","rsn":"0","cost":"","ttft":"","provider_ms":"0","overhead":"\d+","duration":"\d+","cache":"","limit":"","stream":"0","finish":"","usage":"none","req_content":"","resp_content":""\}
\z}
--- no_error_log eval
[qr/\[error\]/, qr/\[(?:info|notice|warn|error|crit|alert|emerg)\].*(?:sec-|sk-team|prov-secret)/]



=== TEST 5: aigw_log_content on max=16: the request and the response bodies, cut at 16 bytes, escaped for JSON; keys still never logged
--- config
    location /v1/ {
        access_log logs/access.log audit;
        aigw_auth on;
        aigw_log_content on max=16;
        aigw_pass;
    }
--- request
POST /v1/chat/completions
{"model":"v/m","messages":[{"role":"user","content":"x"}]}
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- grep_access_log eval: qr/"req_content".+/
--- grep_access_log_out
"req_content":"{\"model\":\"v/m\",\"","resp_content":"{\"id\":\"chatcmpl-"}
--- no_error_log eval
[qr/\[error\]/, qr/\[(?:info|notice|warn|error|crit|alert|emerg)\].*(?:sec-team|prov-secret)/]



=== TEST 6: aigw_log_content on: the default cap is 4k
--- config
    location /v1/ {
        access_log logs/access.log audit;
        aigw_auth on;
        aigw_log_content on;
        aigw_pass;
    }
--- request eval
"POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"' . ('y' x 5000) . '"}]}'
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- grep_access_log eval: qr/"req_content":"(?:[^"\\]|\\.)*"/
--- grep_access_log_out eval
my $raw = substr('{"model":"v/m","messages":[{"role":"user","content":"' . ('y' x 5000), 0, 4096);
$raw =~ s/"/\\"/g;
qq{"req_content":"$raw"\n}



=== TEST 7: X-AIGW-Overhead-Ms with aigw_overhead_header on, and not by default
--- config
    location /v1/ {
        aigw_auth on;
        aigw_overhead_header on;
        aigw_pass;
    }
    location /v2/ {
        rewrite ^/v2/(.*)$ /v1/$1 break;
        aigw_auth on;
        aigw_pass;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}',
"POST /v2/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}]}']
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- response_headers_like eval
["X-AIGW-Overhead-Ms: ^[0-9]\$", "X-AIGW-Overhead-Ms:"]



=== TEST 8: GET /v1/logs: newest first, by model, user, tag, status; a key sees its own, an admin key all; limit
--- config
    location /v1/ {
        aigw_auth on;
        aigw_pass;
    }
    location = /v1/logs {
        aigw_logs;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"v/m","messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"alice","tags":["t1"]}}}',
"POST /v1/chat/completions\n" . '{"model":"f/m","messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"bob"}}}',
"POST /v1/chat/completions\n" . '{"model":"v/m","max_tokens":7,"messages":[{"role":"user","content":"x"}],"providerOptions":{"gateway":{"user":"alice"}}}',
"POST /v1/chat/completions\n" . '{"model":"nope/m","messages":[{"role":"user","content":"x"}]}',
"GET /v1/logs",
"GET /v1/logs?user=alice",
"GET /v1/logs?model=f/m",
"GET /v1/logs?tag=t1",
"GET /v1/logs?status=4xx",
"GET /v1/logs?limit=1",
"GET /v1/logs",
"GET /v1/logs?status=abc"]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer sec-team") x 3,
"Content-Type: application/json\nAuthorization: Bearer sec-other",
("Authorization: Bearer sec-team") x 6,
"Authorization: Bearer sec-ops",
"Authorization: Bearer sec-team"]
--- request_gap: 0.1
--- error_code eval
[200, 200, 200, 404, 200, 200, 200, 200, 200, 200, 200, 400]
--- response_json eval
[{}, {}, {}, {},
{"object"=>"list","data"=>[{"model"=>"v/m","user"=>"alice","streamed"=>JSON::PP::false,"finish_reason"=>"stop","status"=>200},{"model"=>"f/m","attempts"=>"down:503,pv:200","attempt_count"=>2,"user"=>"bob"},{"model"=>"v/m","user"=>"alice","tags"=>"team:growth,t1","key"=>"team","total_cost"=>0.00725,"native_tokens_prompt"=>1000,"native_tokens_completion"=>500,"native_tokens_cached"=>200,"native_tokens_reasoning"=>100,"provider_name"=>"pv","provider_model"=>"model-v","id"=>"~/^gen_[0-9A-Z]{26}\$/","cached"=>JSON::PP::false}]},
{"object"=>"list","data"=>[{"model"=>"v/m","tags"=>"team:growth"},{"model"=>"v/m","tags"=>"team:growth,t1"}]},
{"object"=>"list","data"=>[{"model"=>"f/m"}]},
{"object"=>"list","data"=>[{"model"=>"v/m"}]},
{"object"=>"list","data"=>[]},
{"object"=>"list","data"=>[{"model"=>"v/m","tags"=>"team:growth"}]},
{"object"=>"list","data"=>[{"model"=>"nope/m","key"=>"other","status"=>404,"finish_reason"=>"error","provider_name"=>""},{"model"=>"v/m"},{"model"=>"f/m"},{"model"=>"v/m"}]},
{"error"=>{"message"=>"~/status/"}}]



=== TEST 9: a stream request in /v1/logs: streamed, its finish reason, time to first token
--- config
    location /v1/ {
        aigw_auth on;
        aigw_pass;
    }
    location = /v1/logs {
        aigw_logs;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"s/m","stream":true,"messages":[{"role":"user","content":"x"}]}',
"GET /v1/logs"]
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- request_gap: 0.1
--- response_body_like eval
[qr/"finish_reason":"length"/,
qr/\A\{"object":"list","data":\[\{"id":"gen_\w{26}","total_cost":0.0075,"upstream_inference_cost":0.0075,"usage":0.0075,"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","model":"s\/m","is_byok":false,"provider_name":"ps","streamed":true,"finish_reason":"length","latency":[0-4]?\d,"generation_time":(?:[5-9]\d|\d{3}),"native_tokens_prompt":1000,"native_tokens_completion":500,"native_tokens_reasoning":0,"native_tokens_cached":0,"native_tokens_cache_creation":0,"billable_web_search_calls":0,"requested_model":"s\/m","provider_model":"model-s","key":"team","user":"","tags":"team:growth","status":200,"priced":true,"cached":false,"ttft_ms":[0-4]?\d,"provider_ms":(?:[5-9]\d|\d{3}),"overhead_ms":\d,"attempt_count":1,"attempts":"ps:200","usage_source":"provider"\}\]\}\n\z/]



=== TEST 10: GET /v1/generation: unknown id, no id, another key's generation are not found
--- config
    location /v1/ {
        aigw_auth on;
        aigw_pass;
    }
    location = /v1/generation {
        aigw_generation;
    }
--- request eval
["GET /v1/generation?id=gen_01ARZ3NDEKTSV4RRFFQ69G5FAV",
"GET /v1/generation",
"GET /v1/generation?id=gen_01ARZ3NDEKTSV4RRFFQ69G5FAV",
"POST /v1/generation?id=x"]
--- more_headers eval
["Authorization: Bearer sec-team", "Authorization: Bearer sec-team",
"Authorization: Bearer sec-nobody", "Authorization: Bearer sec-team"]
--- error_code eval
[404, 400, 401, 405]
--- response_json eval
[{"error"=>{"message"=>"generation \"gen_01ARZ3NDEKTSV4RRFFQ69G5FAV\" not found"}},
{"error"=>{"message"=>"~/id/"}}, {"error"=>{}}, {"error"=>{}}]



=== TEST 11: @ai-sdk/gateway getGenerationInfo(): by the key that made it and an admin key; another key and an unknown id get 404
--- http_config
    aigw_provider oai format=openai key=sk-oai-mock
                      url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model openai/gpt-4o oai:gpt-4o-2024-08-06 input=2.50 output=10;
    aigw_key team sha256:6ef19604df802e337d1cb32296db9cb248e4f2480a417db57d21dd298722d77e;
    aigw_key other sha256:fc16a1a80443141c51ea59c6265853c46337e1cbe4812ccdf2a91ec88c0138eb;
    aigw_key ops sha256:96dfc51ab37fd6a87b355bf80606353c12d53ffcea27846b69a53aa6696f32d9 admin;
--- config
    location = /v1/generation {
        aigw_generation;
    }
    location / {
        aigw_auth on;
        aigw_pass;
    }
--- client_cmd
node t/e2e/ai-sdk-generation.mjs
--- client_output_like
# 1/1 passed
--- no_error_log
[error]
[warn]



=== TEST 12: the Anthropic surface to an Anthropic provider (passthrough): the finish reason of a response and of a stream
--- http_config
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/n key=prov-secret-4;
    aigw_provider ants format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/s key=prov-secret-5;
    aigw_model a/m ant:model-a input=3 output=15;
    aigw_model a/s ants:model-a input=3 output=15;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        location /n/v1/messages {
            default_type application/json;
            echo -n '{"id":"msg_1","type":"message","role":"assistant","model":"model-a","content":[{"type":"text","text":"a"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}';
        }
        location /s/v1/messages {
            default_type text/event-stream;
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"model-a","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo -n 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n';
            echo -n 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n';
            echo -n 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}\n\n';
            echo -n 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
        }
    }
--- config
    location /v1/ {
        access_log logs/access.log audit;
        aigw_auth off;
        aigw_pass;
    }
--- request eval
["POST /v1/messages\n" . '{"model":"a/m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
"POST /v1/messages\n" . '{"model":"a/s","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}']
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_body_like eval
[qr/"stop_reason":"max_tokens"/, qr/"stop_reason":"tool_use"/]
--- grep_access_log eval: qr/"requested".*"finish":"[^"]*"/
--- grep_access_log_out eval
qr{\A"requested":"a/m","model":"a/m","provider":"ant","provider_model":"model-a","attempts":"ant:200","attempt_count":"1","in":"10","out":"5","cached":"0","cw":"0","rsn":"0","cost":"0\.000105","ttft":"\d+","provider_ms":"\d+","overhead":"\d+","duration":"\d+","cache":"","limit":"","stream":"0","finish":"length"
"requested":"a/s","model":"a/s","provider":"ants","provider_model":"model-a","attempts":"ants:200","attempt_count":"1","in":"10","out":"7","cached":"0","cw":"0","rsn":"0","cost":"0\.000135","ttft":"\d+","provider_ms":"\d+","overhead":"\d+","duration":"\d+","cache":"","limit":"","stream":"1","finish":"tool-calls"
\z}
