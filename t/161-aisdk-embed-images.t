# Images and the AI SDK's embedding and image models (issue 14, items 1
# and 3): POST /v1/images/generations (the OpenAI surface) passed through
# to OpenAI-format providers with the model replaced, failover, usage and
# per-image prices (aigw_model image=) in $aigw_cost; POST
# {base}/embedding-model and {base}/image-model of the AI SDK gateway
# protocol translated to OpenAI-format (and, for embeddings, Gemini)
# providers.  The mock (t/fixtures/translate/mock.js) records what the
# provider received, checked in lock step (GET /mock_last.json).  The real
# SDK (embed, embedMany, generateImage): t/160-aisdk-e2e.t.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

$R{img} = main::json({ model => 'img', prompt => "a red \"cat\"\n\x{2603}", n => 2,
                       size => '1024x1024', quality => 'hd', style => 'vivid',
                       response_format => 'b64_json', user => 'u1',
                       providerOptions => { gateway => { user => 'u2' } } });
$R{gpt} = main::json({ model => 'gpt-img', prompt => 'a dog', quality => 'low' });
$R{noprompt} = main::json({ model => 'img', n => 1 });
$R{badn} = main::json({ model => 'img', prompt => 'x', n => 1.5 });
$R{stream} = main::json({ model => 'img', prompt => 'x', stream => JSON::PP::true });

$R{image} = main::json({ prompt => 'a red cat', n => 2, size => '512x512', aspectRatio => '16:9',
                         seed => 42, providerOptions => { openai => { style => 'vivid' } } });
$R{image1} = main::json({ prompt => 'a dog', n => 1 });
$R{edit} = main::json({ prompt => 'a dog', n => 1,
                        files => [ { type => 'file', mediaType => 'image/png', data => 'iVBORw==' } ] });
$R{values} = main::json({ values => ['sunny day', "rainy \"night\""] });
$R{novalues} = main::json({ values => [] });
$R{numbers} = main::json({ values => [1, 2] });

our $Log = <<'_EOC_';
    log_format img 'AIGW $request_uri $status m=$aigw_model p=$aigw_provider '
                   'pm=$aigw_provider_model s=$aigw_surface '
                   'in=$aigw_input_tokens out=$aigw_output_tokens '
                   'a=$aigw_attempts cost=$aigw_cost';
_EOC_

our $Config = <<'_EOC_';
    location ~ ^/v[0-9]/ {
        aigw_pass;
        access_log logs/access.log img;
    }
_EOC_

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: /v1/images/generations: the body passes through with the model replaced and the gateway's options removed; the answer as it came; n images x image= in $aigw_cost
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=sk-oai;
    aigw_model img oai:dall-e-3 image=0.04;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/images/generations\n$::R{img}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-key
--- response_json eval
[{ created => 1700000000,
   data => [ { b64_json => "aW1hZ2Ux", revised_prompt => "a red cat" }, { b64_json => "aW1hZ2Uy/w==" } ] },
 { uri => "/translate/openai-images-b64/v1/images/generations",
   headers => { authorization => "Bearer sk-oai" },
   body => { model => "dall-e-3", prompt => "a red \"cat\"\n\xe2\x98\x83", n => 2, size => "1024x1024",
             quality => "hd", style => "vivid", response_format => "b64_json", user => "u1" } }]
--- response_body_unlike eval
[undef, qr/providerOptions|client-key/]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=img p=oai pm=dall-e-3 s=openai in=0 out=0 a=oai:200 cost=0.080000
--- no_error_log
[error]



=== TEST 2: gpt-image usage (input_tokens, output_tokens) is counted and priced: tokens x input=/output= plus image=
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-gpt/v1 key=sk-oai;
    aigw_model gpt-img oai:gpt-image-1 input=5 output=40 image=0.01;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/images/generations\n$::R{gpt}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ created => 1700000001, data => [ { b64_json => "iVBORw0KGgo=" } ],
   usage => { input_tokens => 50, output_tokens => 272, total_tokens => 322,
              input_tokens_details => { image_tokens => 0, text_tokens => 50 } },
   background => "opaque", output_format => "png", quality => "low", size => "1024x1024" },
 { uri => "/translate/openai-images-gpt/v1/images/generations",
   body => { model => "gpt-image-1", prompt => "a dog", quality => "low" } }]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=gpt-img p=oai pm=gpt-image-1 s=openai in=50 out=272 a=oai:200 cost=0.021130
--- no_error_log
[error]



=== TEST 3: failover: a 503 of the first provider, the second one answers; only OpenAI-format providers are planned (an Anthropic one is skipped)
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/x/v1 key=k;
    aigw_provider bad url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/translate/openai-error-server/v1 key=k;
    aigw_provider good url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=k;
    aigw_model img ant:claude bad:dall-e-2 good:dall-e-3 image=0.04;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/images/generations\n$::R{img}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ created => 1700000000, data => [ { b64_json => "aW1hZ2Ux", revised_prompt => "a red cat" },
                                    { b64_json => "aW1hZ2Uy/w==" } ] },
 { uri => "/translate/openai-images-b64/v1/images/generations",
   body => { model => "dall-e-3", prompt => "a red \"cat\"\n\xe2\x98\x83", n => 2 } }]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=img p=good pm=dall-e-3 s=openai in=0 out=0 a=bad:503,good:200 cost=0.080000
--- no_error_log
[alert]



=== TEST 4: bad image requests are 400s in OpenAI's shape and reach no provider: no prompt, n not an integer, stream; a model only Anthropic serves
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=k;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/x/v1 key=k;
    aigw_model img oai:dall-e-3;
    aigw_model claude ant:claude;
--- request eval
["POST /v1/images/generations\n$::R{noprompt}",
 "POST /v1/images/generations\n$::R{badn}",
 "POST /v1/images/generations\n$::R{stream}",
 "POST /v1/images/generations\n{\"model\":\"claude\",\"prompt\":\"x\"}",
 "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 400, 404]
--- response_json eval
my $e = sub { { error => { message => $_[0], type => "invalid_request_error" } } };
[ $e->('missing required field "prompt" (a string)'),
  $e->('"n" must be an integer'),
  $e->('"stream" is not supported on this endpoint'),
  $e->('no provider of model "claude" serves /v1/images/generations'),
  undef ]
--- no_error_log
[alert]



=== TEST 5: AI SDK image-model: {prompt, n, size} -> an images request asking for b64_json; {images, warnings (aspectRatio, seed), providerMetadata.gateway.cost}
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=sk-oai;
    aigw_model openai/dall-e-3 oai:dall-e-3 image=0.04;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v3/ai/image-model\n$::R{image}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-key
ai-image-model-specification-version: 3
ai-model-id: openai/dall-e-3
--- response_json eval
[{ images => [ "aW1hZ2Ux", "aW1hZ2Uy/w==" ],
   warnings => [ { type => "unsupported", feature => "aspectRatio", details => "use size instead" },
                 { type => "unsupported", feature => "seed" } ],
   providerMetadata => { gateway => { cost => "0.08" } } },
 { uri => "/translate/openai-images-b64/v1/images/generations",
   headers => { authorization => "Bearer sk-oai" },
   body => { model => "dall-e-3", prompt => "a red cat", n => 2, size => "512x512",
             response_format => "b64_json" } }]
--- response_body_unlike eval
[qr/"usage"/, qr/aspectRatio|seed|providerOptions|vivid/]
--- grep_access_log eval: qr/^AIGW \/v3.*/
--- grep_access_log_out
AIGW /v3/ai/image-model 200 m=openai/dall-e-3 p=oai pm=dall-e-3 s=aisdk in=0 out=0 a=oai:200 cost=0.080000
--- no_error_log
[error]



=== TEST 6: AI SDK image-model to gpt-image-1: no response_format (the model refuses it); usage in the SDK's shape; an image given by URL only is a 502, not an empty list
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-gpt/v1 key=k;
    aigw_provider url url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-url/v1 key=k;
    aigw_model openai/gpt-image-1 oai:gpt-image-1;
    aigw_model url/dall-e-2 url:dall-e-2;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/ai/image-model\n$::R{image1}", "GET /mock_last.json", "POST /v1/ai/image-model\n$::R{image1}"]
--- more_headers eval
["Content-Type: application/json\nai-model-id: openai/gpt-image-1", "",
 "Content-Type: application/json\nai-model-id: url/dall-e-2"]
--- error_code eval
[200, 200, 502]
--- response_json eval
[{ images => [ "iVBORw0KGgo=" ], warnings => [],
   usage => { inputTokens => 50, outputTokens => 272, totalTokens => 322 },
   providerMetadata => { gateway => {} } },
 { body => { model => "gpt-image-1", prompt => "a dog", n => 1 } },
 { error => { type => "internal_server_error" } }]
--- response_body_unlike eval
[undef, qr/response_format/, undef]
--- no_error_log
[alert]
[crit]



=== TEST 7: AI SDK embedding-model to an OpenAI-format provider: {values} -> an embeddings request; {embeddings, usage: {tokens}}; the cost
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-embeddings/v1 key=sk-oai;
    aigw_model openai/text-embedding-3-small oai:text-embedding-3-small input=20;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/ai/embedding-model\n$::R{values}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
ai-embedding-model-specification-version: 3
ai-model-id: openai/text-embedding-3-small
--- response_json eval
[{ embeddings => [ [0.1, -0.2], [0.3, 0.04] ], usage => { tokens => 7 },
   providerMetadata => { gateway => { cost => "0.00014" } }, warnings => [] },
 { uri => "/translate/openai-embeddings/v1/embeddings",
   headers => { authorization => "Bearer sk-oai" },
   body => { model => "text-embedding-3-small", input => [ "sunny day", "rainy \"night\"" ],
             encoding_format => "float" } }]
--- no_error_log
[error]



=== TEST 8: AI SDK embedding-model to a Gemini provider: batchEmbedContents; the vectors in order
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embedbatch key=gk-test;
    aigw_model google/gemini-embedding-001 g:gemini-embedding-001;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v4/ai/embedding-model\n$::R{values}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
ai-model-id: google/gemini-embedding-001
--- response_json eval
[{ embeddings => [ [0.25, -0.5], [0.0015, 0] ], usage => { tokens => 0 },
   providerMetadata => { gateway => {} }, warnings => [] },
 { uri => "/gemini/embedbatch/v1beta/models/gemini-embedding-001:batchEmbedContents",
   headers => { "x-goog-api-key" => "gk-test" },
   body => { requests => [
       { model => "models/gemini-embedding-001", content => { parts => [ { text => "sunny day" } ] } },
       { model => "models/gemini-embedding-001", content => { parts => [ { text => "rainy \"night\"" } ] } } ] } }]
--- no_error_log
[error]



=== TEST 9: AI SDK embedding and image errors in the protocol's shape: no ai-model-id, empty values, values not strings, an image edit, a prompt not a string, an unknown model
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=k;
    aigw_model img oai:dall-e-3;
    aigw_model emb oai:text-embedding-3-small;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/ai/embedding-model\n$::R{values}",
 "POST /v1/ai/embedding-model\n$::R{novalues}",
 "POST /v1/ai/embedding-model\n$::R{numbers}",
 "POST /v1/ai/image-model\n$::R{edit}",
 "POST /v1/ai/image-model\n{\"prompt\":[],\"n\":1}",
 "POST /v1/ai/image-model\n$::R{image1}",
 "GET /mock_last.json"]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nai-model-id: emb",
 "Content-Type: application/json\nai-model-id: emb",
 "Content-Type: application/json\nai-model-id: img",
 "Content-Type: application/json\nai-model-id: img",
 "Content-Type: application/json\nai-model-id: nope/none",
 ""]
--- error_code eval
[400, 400, 400, 400, 400, 404, 404]
--- response_json eval
my $e = sub { { error => { message => $_[0], type => "invalid_request_error" } } };
[ $e->('~/missing request header "ai-model-id"/'),
  $e->('missing required field "values" (a non-empty array of strings)'),
  $e->('each of "values" must be a string'),
  $e->('image edits ("files", "mask") are not supported by the gateway'),
  $e->('missing required field "prompt" (a string)'),
  { error => { type => "model_not_found" } },
  undef ]
--- no_error_log
[alert]



=== TEST 10: budgets and the spend report: an image generation reserves n x image= up front (a key's budget=0.10/day takes one of n=2 at $0.04, not a second); the spend report counts $0.08
--- providers
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=sk-oai;
    aigw_model img oai:dall-e-3 image=0.04;
    aigw_zone aigw 1m;
    aigw_key k1 sha256:3b256f451f98330c67236eb5cbc1b61fe284e2c01ece772d555ad736af2ffc9c budget=0.10/day;
--- http_config eval: $::Log
--- config eval: "    location = /v1/report { aigw_report; }\n" . $::Config
--- request_gap: 0.05
--- request eval
use POSIX qw(strftime);
my $today = strftime('%Y-%m-%d', gmtime);
["POST /v1/images/generations\n$::R{img}", "POST /v1/images/generations\n$::R{img}",
 "GET /v1/report?start_date=$today&end_date=$today&group_by=model"]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer k1-secret",
 "Content-Type: application/json\nAuthorization: Bearer k1-secret",
 "Authorization: Bearer k1-secret"]
--- error_code eval
[200, 402, 200]
--- response_json eval
[{ created => 1700000000 },
 { error => { type => "billing_error", message => "~/budget .{0,2}key:budget.{0,2} of \\\$0\\.100000 per day is exhausted: \\\$0\\.080000 used/" } },
 { results => [ { model => "img", total_cost => 0.08, request_count => 1, input_tokens => 0,
                  output_tokens => 0 } ] }]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=img p=oai pm=dall-e-3 s=openai in=0 out=0 a=oai:200 cost=0.080000
AIGW /v1/images/generations 402 m=img p=- pm=- s=openai in=0 out=0 a=- cost=-
--- no_error_log
[alert]
