# Translation details: top_k goes on to OpenAI-format providers (the
# compatible servers that take it honour it, the others say no), and
# streamed tool calls of servers that leave out "index" stay apart.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(no_error_log => "[error]\n[warn]\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: top_k from an Anthropic client reaches an OpenAI-format provider
--- main_config
    load_module $TEST_NGINX_JS_MODULE;
--- http_config
    js_import echo from $TEST_NGINX_HTML_DIR/echo.js;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { js_content echo.handler; }
    }
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m o:gpt;
--- config
    location / { aigw_pass; }
--- user_files
>>> echo.js
function handler(r) {
    var b = JSON.parse(r.requestText);
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({id: 'c', object: 'chat.completion',
        model: 'gpt', choices: [{index: 0, finish_reason: 'stop',
        message: {role: 'assistant', content: 'top_k=' + b.top_k
                  + ' temperature=' + b.temperature}}],
        usage: {prompt_tokens: 1, completion_tokens: 1, total_tokens: 2}}));
}
export default {handler};
--- more_headers
Content-Type: application/json
--- request
POST /v1/messages
{"model":"m","max_tokens":10,"top_k":5,"temperature":0.5,"messages":[{"role":"user","content":"hi"}]}
--- response_json
{"type":"message","content":[{"type":"text","text":"top_k=5 temperature=0.5"}]}



=== TEST 2: streamed tool calls without "index" become separate tool_use blocks
--- main_config
    load_module $TEST_NGINX_ECHO_MODULE;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            default_type text/event-stream;
            echo 'data: {"id":"c","model":"gpt","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"id":"call_a","type":"function","function":{"name":"one","arguments":""}}]}}]}';
            echo '';
            echo 'data: {"id":"c","model":"gpt","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{\\"x\\":1}"}}]}}]}';
            echo '';
            echo 'data: {"id":"c","model":"gpt","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_b","type":"function","function":{"name":"two","arguments":"{}"}}]}}]}';
            echo '';
            echo 'data: {"id":"c","model":"gpt","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}';
            echo '';
            echo 'data: {"id":"c","model":"gpt","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';
            echo '';
            echo 'data: [DONE]';
            echo '';
        }
    }
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m o:gpt;
--- config
    location / { aigw_pass; }
--- more_headers
Content-Type: application/json
--- request
POST /v1/messages
{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}
--- sse_events eval
["message_start", "ping",
 "content_block_start", "content_block_delta", "content_block_stop",
 "content_block_start", "content_block_delta", "content_block_stop",
 "message_delta", "message_stop"]
--- sse_data eval
[{type => "message_start"}, {type => "ping"},
 {type => "content_block_start", index => 0,
  content_block => {type => "tool_use", id => "call_a", name => "one"}},
 {type => "content_block_delta", index => 0,
  delta => {type => "input_json_delta", partial_json => '{"x":1}'}},
 {type => "content_block_stop", index => 0},
 {type => "content_block_start", index => 1,
  content_block => {type => "tool_use", id => "call_b", name => "two"}},
 {type => "content_block_delta", index => 1,
  delta => {type => "input_json_delta", partial_json => '{}'}},
 {type => "content_block_stop", index => 1},
 {type => "message_delta", delta => {stop_reason => "tool_use"},
  usage => {input_tokens => 3, output_tokens => 4}},
 {type => "message_stop"}]



=== TEST 3: stop sequences that are not strings are a 400 naming the field, on both surfaces (translated), checked before any provider is asked
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 500; }
    }
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=k;
    aigw_model om o:gpt;
    aigw_model am a:claude;
--- config
    location / { aigw_pass; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /v1/messages\n{\"model\":\"om\",\"max_tokens\":10,\"stop_sequences\":[\"a\",1],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /v1/chat/completions\n{\"model\":\"am\",\"stop\":[\"a\",{}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"]
--- error_code eval
[400, 400]
--- response_body_like eval
["stop_sequences must hold strings", "\\\\\"stop\\\\\" must hold strings"]
