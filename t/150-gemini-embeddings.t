# /v1/embeddings (the OpenAI surface) to format=gemini providers: one
# string is an embedContent call, an array a batchEmbedContents call with
# each request naming the URL's model; dimensions -> outputDimensionality;
# the vectors come back in the OpenAI list shape.  Vertex AI providers
# serve no embeddings (skipped); token arrays and base64 output cannot be
# translated.  The mock (t/fixtures/translate/mock.js) records what the
# provider received, checked in lock step (GET /mock_last.json).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

$R{one} = main::json({ model => 'emb', input => "hello \"world\"\n\t", dimensions => 3 });
$R{many} = main::json({ model => 'emb', input => ['a', 'b'], encoding_format => 'float' });
$R{tokens} = main::json({ model => 'emb', input => [ [1, 2, 3] ] });
$R{base64} = main::json({ model => 'emb', input => 'a', encoding_format => 'base64' });
$R{empty} = main::json({ model => 'emb', input => [] });
$R{dims} = main::json({ model => 'emb', input => 'a', dimensions => 0 });

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: one string: embedContent with x-goog-api-key, outputDimensionality; the vector as data[0]
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embed key=gk-test;
    aigw_model emb g:gemini-embedding-001;
--- request eval
["POST /v1/embeddings\n$::R{one}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
Authorization: Bearer client-secret
--- response_json eval
[{ object => "list", model => "emb",
   data => [ { object => "embedding", index => 0, embedding => [0.013, -0.02, 0.5] } ],
   usage => { prompt_tokens => 0, total_tokens => 0 } },
 { uri => "/gemini/embed/v1beta/models/gemini-embedding-001:embedContent", args => "",
   headers => { "x-goog-api-key" => "gk-test", "content-type" => "application/json" },
   body => { content => { parts => [ { text => "hello \"world\"\n\t" } ] },
             outputDimensionality => 3 } }]
--- response_body_unlike eval
[undef, qr/client-secret|"authorization"|"model"|"input"|"dimensions"|"requests"/]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out
AIGW /v1/embeddings 200 m=emb rm=emb p=g pm=gemini-embedding-001 s=openai st=0 in=0 out=0 cr=0 cw=0 rs=0 src=none a=g:200
--- no_error_log
[error]



=== TEST 2: an array: batchEmbedContents, one request per input naming models/{id}; data in order with their index
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embedbatch key=gk-test;
    aigw_model emb g:gemini-embedding-001;
--- request eval
["POST /v1/embeddings\n$::R{many}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ object => "list", model => "emb",
   data => [ { object => "embedding", index => 0, embedding => [0.25, -0.5] },
             { object => "embedding", index => 1, embedding => [0.0015, 0] } ] },
 { uri => "/gemini/embedbatch/v1beta/models/gemini-embedding-001:batchEmbedContents",
   body => { requests => [
       { model => "models/gemini-embedding-001", content => { parts => [ { text => "a" } ] } },
       { model => "models/gemini-embedding-001", content => { parts => [ { text => "b" } ] } } ] } }]
--- response_body_unlike eval
[undef, qr/outputDimensionality|encoding_format/]
--- no_error_log
[error]



=== TEST 3: what cannot be translated is a 400 in OpenAI's shape and nothing is sent: token arrays, base64, an empty array, dimensions 0
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embed key=gk-test;
    aigw_model emb g:gemini-embedding-001;
--- request eval
[(map { "POST /v1/embeddings\n$::R{$_}" } qw(tokens base64 empty dims)), "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 400, 404]
--- response_json eval
my $e = sub { { error => { message => $_[0], type => "invalid_request_error" } } };
[ $e->('only text "input" can be translated for this provider'),
  $e->('"encoding_format" other than float cannot be translated for this provider'),
  $e->('"input" must not be empty'),
  $e->('"dimensions" must be a positive integer'), undef ]
--- no_error_log eval
qr/\[error\](?!.*mock_last\.json)/



=== TEST 4: a Vertex AI provider is skipped (no token fetched), the Gemini API one serves; a model served by Vertex alone has no provider for embeddings
--- providers
    aigw_provider vg format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embed project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/token;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embed key=gk-test;
    aigw_model emb vg:gemini-embedding-001 g:gemini-embedding-001;
    aigw_model vonly vg:gemini-embedding-001;
--- request eval
["POST /v1/embeddings\n$::R{one}", "GET /mock_last.json",
 "POST /v1/embeddings\n" . main::json({ model => 'vonly', input => 'a' })]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 400]
--- response_json eval
[{ data => [ { index => 0, embedding => [0.013, -0.02, 0.5] } ] },
 { uri => "/gemini/embed/v1beta/models/gemini-embedding-001:embedContent",
   headers => { "x-goog-api-key" => "gk-test" } },
 { error => { message => "no provider of model \"vonly\" serves /v1/embeddings", type => "invalid_request_error" } }]
--- grep_access_log eval: qr/^AIGW \/v1\/embeddings 200 .*/
--- grep_access_log_out
AIGW /v1/embeddings 200 m=emb rm=emb p=g pm=gemini-embedding-001 s=openai st=0 in=0 out=0 cr=0 cw=0 rs=0 src=none a=g:200
--- no_error_log
aigw: Vertex AI token



=== TEST 5: failover across formats: an OpenAI-format provider's 503, then Gemini translates; a Gemini 429 then an OpenAI-format provider gets the client's body
--- providers
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/translate/openai-error-server/v1 key=sk-o;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embedbatch key=gk-test;
    aigw_provider g429 format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/429/gemini/error-rate key=gk-test;
    aigw_provider o2 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo/v1 key=sk-o;
    aigw_model emb o:text-embedding-3-small g:gemini-embedding-001;
    aigw_model emb2 g429:gemini-embedding-001 o2:text-embedding-3-small;
--- request eval
["POST /v1/embeddings\n$::R{many}", "GET /mock_last.json",
 "POST /v1/embeddings\n" . main::json({ model => 'emb2', input => ['a', 'b'] })]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ data => [ { index => 0, embedding => [0.25, -0.5] }, { index => 1, embedding => [0.0015, 0] } ] },
 { uri => "/gemini/embedbatch/v1beta/models/gemini-embedding-001:batchEmbedContents" },
 { uri => "/x/echo/v1/embeddings",
   body => { model => "text-embedding-3-small", input => ['a', 'b'] } }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out eval
qr/a=o:503,g:200\n.*a=g429:429,o2:200/s
--- no_error_log
[error]



=== TEST 6: a response with fewer vectors than inputs is an invalid response (502 in OpenAI's shape)
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/embedshort key=gk-test;
    aigw_model emb g:gemini-embedding-001;
--- request eval
"POST /v1/embeddings\n$::R{many}"
--- more_headers
Content-Type: application/json
--- error_code: 502
--- response_json eval
{ error => { message => "~/invalid/", type => "server_error" } }
--- error_log
sent 1 embeddings for 2 inputs
