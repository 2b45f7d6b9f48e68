# Gateway core, OpenAI surface: the endpoints under an aigw_pass location
# (chat completions, models, embeddings, HEAD) and the JSON answers for
# unknown paths, wrong methods and unknown models.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_JS_MODULE;\n$main");

    # the njs echo provider on port 1 and the configuration of this file

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_method $request_uri cl=$content_length';
    log_format gw 'GW $status $aigw_model $aigw_provider $aigw_provider_model in=$aigw_input_tokens out=$aigw_output_tokens cost=$aigw_cost';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
    aigw_provider openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-o;
    aigw_provider ollama url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ollama/v1;
    aigw_model openai/gpt-5.4 openai:gpt-5.4-2026 input=2.50 output=15 cached_input=0.25;
    aigw_model openai/text-embedding-3-small openai input=0.02 output=0;
    aigw_model ollama/* ollama;
    aigw_model local/free ollama:free;
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: GET /v1/models lists the configured slugs with pricing, not the wildcards
--- request
GET /v1/models
--- response_headers
Content-Type: application/json
--- response_json
{"object":"list","data":[
 {"id":"openai/gpt-5.4","object":"model","created":0,"owned_by":"openai",
  "pricing":{"currency":"USD","per":"1M tokens","input":2.5,"output":15,
             "cached_input":0.25}},
 {"id":"openai/text-embedding-3-small","object":"model","owned_by":"openai",
  "pricing":{"input":0.02,"output":0}},
 {"id":"local/free","object":"model","owned_by":"ollama"}]}
--- response_body_unlike: "ollama/|"local/free"[^}]*pricing
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 2: GET /v1/models/{id}: ids with slashes (also %2F), wildcard ids, trailing slash on the list
--- request eval
["GET /v1/models/openai/gpt-5.4", "GET /v1/models/openai%2Fgpt-5.4",
 "GET /v1/models/ollama/library/qwen2:7b", "GET /v1/models/local/free",
 "GET /v1/models/"]
--- response_json eval
[
{id => "openai/gpt-5.4", object => "model", owned_by => "openai",
 pricing => {input => 2.5, output => 15, cached_input => 0.25}},
{id => "openai/gpt-5.4", object => "model"},
{id => "ollama/library/qwen2:7b", object => "model", owned_by => "ollama"},
{id => "local/free", object => "model", owned_by => "ollama"},
{object => "list", data => "<ANY>"},
]
--- response_body_unlike eval
[qr/"data"/, qr/"data"/, qr/pricing/, qr/pricing/, qr/^\{"id"/]



=== TEST 3: GET /v1/models/{id} of an unknown model: 404 model_not_found in the OpenAI error shape
--- request eval
["GET /v1/models/openai/gpt-4", "GET /v1/models/ollam"]
--- error_code eval
[404, 404]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json"]
--- response_json eval
[
{error => {message => 'model "openai/gpt-4" is not configured on this gateway',
           code => "model_not_found", param => "model", type => "<ANY>"}},
{error => {message => 'model "ollam" is not configured on this gateway',
           code => "model_not_found"}},
]



=== TEST 4: POST /v1/chat/completions with an unknown model: 404 model_not_found, no provider call
--- more_headers
Content-Type: application/json
--- request
POST /v1/chat/completions
{"model":"openai/gpt-4","messages":[{"role":"user","content":"x"}]}
--- error_code: 404
--- response_json
{"error":{"message":"~/^model \"openai\/gpt-4\" is not configured on this gateway; GET \/v1\/models lists/",
          "code":"model_not_found","param":"model"}}
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 5: POST /v1/embeddings: passthrough with the model id replaced, usage accounted
--- more_headers
Content-Type: application/json
--- request
POST /v1/embeddings
{"model":"openai/text-embedding-3-small","input":["hello","world"],"encoding_format":"float","dimensions":3}
--- response_json
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5,0.125]}],
 "model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5},
 "echo":{"method":"POST","uri":"/v1/embeddings",
         "headers":{"authorization":"Bearer sk-o","accept":"application/json"},
         "body":"{\"model\":\"text-embedding-3-small\",\"input\":[\"hello\",\"world\"],\"encoding_format\":\"float\",\"dimensions\":3}"}}
--- response_headers
Content-Type: application/json
X-AIGW-Provider: openai
X-AIGW-Model: openai/text-embedding-3-small
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
MOCK POST /v1/embeddings cl=101
GW 200 openai/text-embedding-3-small openai text-embedding-3-small in=5 out=0 cost=0.000000



=== TEST 6: POST /v1/embeddings without "input" is a 400 before any provider call
--- more_headers
Content-Type: application/json
--- request
POST /v1/embeddings
{"model":"openai/text-embedding-3-small"}
--- error_code: 400
--- response_json
{"error":{"message":"missing required field \"input\"","type":"invalid_request_error"}}
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 7: HEAD / and HEAD /v1 (clients warm connections): 200, no body, no provider call
--- config
    location / {
        aigw_pass;
    }
--- request eval
["HEAD /", "HEAD /v1", "HEAD /v1/chat/completions"]
--- response_body eval
["", "", ""]
--- response_headers eval
["Content-Length: 0", "Content-Length: 0", "Content-Length: 0"]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 8: unknown paths: 404 JSON naming the endpoints served
--- config
    location / {
        aigw_pass;
    }
--- request eval
["GET /v1/foo", "POST /v1/completions\n{\"model\":\"local/free\",\"prompt\":\"x\"}", "GET /"]
--- error_code eval
[404, 404, 404]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_json eval
[
{error => {message => qr{^unknown endpoint "/v1/foo": the gateway serves /v1/chat/completions, /v1/messages, /v1/ai/language-model, /v1/responses, /v1/messages/count_tokens, /v1/embeddings, /v1/ai/embedding-model, /v1/images/generations, /v1/ai/image-model and /v1/models$},
           type => "<ANY>"}},
{error => {message => qr{^unknown endpoint "/v1/completions"}}},
{error => {message => qr{^unknown endpoint "/"}}},
]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 9: wrong methods: 405 JSON with an Allow header
--- request eval
["GET /v1/chat/completions", "PUT /v1/embeddings\n{}",
 "POST /v1/models\n{}", "DELETE /v1/models/local/free"]
--- error_code eval
[405, 405, 405, 405]
--- response_headers eval
["Allow: POST\nContent-Type: application/json",
 "Allow: POST\nContent-Type: application/json",
 "Allow: GET, HEAD\nContent-Type: application/json",
 "Allow: GET, HEAD\nContent-Type: application/json"]
--- response_json eval
[
{error => {message => "method GET is not allowed on /v1/chat/completions, use POST",
           type => "invalid_request_error"}},
{error => {message => "method PUT is not allowed on /v1/embeddings, use POST"}},
{error => {message => "method POST is not allowed on /v1/models, use GET, HEAD"}},
{error => {message => "method DELETE is not allowed on /v1/models/local/free, use GET, HEAD"}},
]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out



=== TEST 10: POST /v1/chat/completions non-stream: the provider's answer reaches the client unchanged
--- more_headers
Content-Type: application/json
--- request
POST /v1/chat/completions
{"model":"openai/gpt-5.4","messages":[{"role":"user","content":"hi"}]}
--- response_json
{"id":"chatcmpl-echo","object":"chat.completion","created":1700000000,"model":"gpt-5.4-2026",
 "choices":[{"index":0,"message":{"role":"assistant","content":"echo"},"finish_reason":"stop"}],
 "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18},
 "echo":{"uri":"/v1/chat/completions","body":"{\"model\":\"gpt-5.4-2026\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"}}
--- response_headers
Content-Type: application/json
! Transfer-Encoding
X-AIGW-Attempts: openai:200
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
MOCK POST /v1/chat/completions cl=68
GW 200 openai/gpt-5.4 openai gpt-5.4-2026 in=11 out=7 cost=0.000133



=== TEST 11: a large non-stream answer (2 MB, Content-Length) reaches the client whole
--- more_headers
Content-Type: application/json
--- request
POST /v1/chat/completions
{"model":"openai/gpt-5.4","messages":[{"role":"user","content":"hi"}],"x_pad_response":2097152}
--- response_json eval
{choices => [{message => {content => 'p' x 2097152}}],
 echo => {body => '{"model":"gpt-5.4-2026","messages":[{"role":"user","content":"hi"}],"x_pad_response":2097152}'}}
--- response_headers
! Transfer-Encoding



=== TEST 12: a chunked non-stream answer is de-chunked: the client gets it with a Content-Length
--- main_config
    load_module $TEST_NGINX_ECHO_MODULE;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        default_type application/json;
        location / {
            echo -n '{"id":"chatcmpl-ch","object":"chat.completion",';
            echo_flush;
            echo_sleep 0.05;
            echo -n '"created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"chunked"},"finish_reason":"stop"}],';
            echo_flush;
            echo_sleep 0.05;
            echo -n '"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}';
        }
    }
    aigw_provider chunky url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=k;
    aigw_model chunky/m chunky:m;
--- more_headers
Content-Type: application/json
--- request
POST /v1/chat/completions
{"model":"chunky/m","messages":[{"role":"user","content":"hi"}]}
--- response_body: {"id":"chatcmpl-ch","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"chunked"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}
--- response_headers
! Transfer-Encoding
Content-Length: 236
Content-Type: application/json
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 chunky/m chunky m in=4 out=2 cost=-
