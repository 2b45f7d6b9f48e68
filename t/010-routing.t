# Gateway core, OpenAI surface: routing of model slugs to providers and the
# request each provider receives (path, query, headers, body edits, auth).
#
# The provider is an njs mock (t/fixtures/openai/echo.js) in the same nginx:
# it answers a chat completion whose "echo" field holds the method, URI,
# query, headers and body it received, and the gateway passes a same-format
# answer through untouched, so each check sees both sides.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# a body with unknown fields, unicode escapes and odd spacing: everything
# but the model value must reach the provider byte for byte

our $odd_in = <<'_EOB_';
{"model" :"p1/gpt",  "x_custom": {"s":"caf\u00e9 \u2603 \ud83d\ude00 \"q\" \\ \/ \t","n":-1.50e+2,"big":12345678901234567890,"a":[ true,false , null ,{}, []]},"messages":[{"role":"user","content":"h\u00e9\nllo","cache_control":{"type":"ephemeral"}}],"temperature":0.70,"metadata":{ },"zz":"\u0000"   }
_EOB_
chomp $odd_in;
(our $odd_out = $odd_in) =~ s{"p1/gpt"}{"gpt-4o"} or die;

add_block_preprocessor(sub {
    my $block = shift;

    # the njs echo provider on port 1, logging into access.log

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_JS_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_method $request_uri host=$http_host auth=$http_authorization xkey=$http_x_api_key conn=$connection/$connection_requests';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
_EOC_

    # the gateway's answers are checked through the client's eyes, and no
    # gateway request may log an error

    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};

    # the client's own credentials must never reach a provider

    $block->set_value(more_headers => "Content-Type: application/json\n"
                      . "Authorization: Bearer client-secret\n"
                      . "X-Api-Key: client-secret\n"
                      . "Api-Key: client-secret\n"
                      . "Cookie: sid=client-secret\n"
                      . "Accept-Encoding: gzip, br\n")
        unless $block->{more_headers};
    my $req = $block->{request} ? $block->{request}[0] : undef;
    my $n = ref $req eq 'ARRAY' ? @$req : 1;
    $block->set_value(response_body_unlike =>
                      $n > 1 ? [ (qr/client-secret/) x $n ] : qr/client-secret/)
        unless $block->{response_body_unlike};
    my $no = $block->{no_access_log} ? $block->{no_access_log}[0] : '';
    $block->set_value(no_access_log => "client-secret\n$no");
});

run_tests();

__DATA__

=== TEST 1: exact slug: model id replaced, providerOptions removed, key injected, client credentials dropped
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_model p1/gpt p1:gpt-4o;
--- config
    location /v1/ { aigw_pass; }
--- request
POST /v1/chat/completions
{"model":"p1/gpt","messages":[{"role":"user","content":"hi"}],"providerOptions":{"gateway":{"user":"u1","tags":["a"]}}}
--- response_json
{"id":"chatcmpl-echo","model":"gpt-4o","choices":[{"message":{"content":"echo"}}],
 "echo":{"method":"POST","uri":"/v1/chat/completions","args":"",
         "headers":{"host":"127.0.0.1:$TEST_NGINX_RAND_PORT_1",
                    "authorization":"Bearer sk-p1",
                    "accept-encoding":"identity",
                    "content-type":"application/json",
                    "content-length":"62",
                    "accept":"application/json"},
         "body":"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"}}
--- response_headers
Content-Type: application/json
X-AIGW-Provider: p1
X-AIGW-Model: p1/gpt
X-AIGW-Attempts: p1:200
X-AIGW-Upstream-Request-Id: req-echo-1
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK POST /v1/chat/completions host=127\.0\.0\.1:\d+ auth=Bearer sk-p1 xkey=- conn=\d+/1\n\z}



=== TEST 2: providerOptions removed wherever it is, with the commas around it; an escaped slug
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_model p1/gpt p1:gpt-4o;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"providerOptions":{"gateway":{"order":["p1"]}},"model":"p1/gpt","messages":[{"role":"user","content":"a"}]}',
"POST /v1/chat/completions\n" . '{"model":"p1/gpt","providerOptions":{"gateway":{}},"messages":[{"role":"user","content":"b"}]}',
"POST /v1/chat/completions\n" . '{ "model" : "p1/gpt" , "providerOptions" : { "gateway" : null } , "messages" : [{"role":"user","content":"c"}] }',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"d"}],"model":"p1/gpt","providerOptions":{"other":{"x":1}}}',
"POST /v1/chat/completions\n" . '{"model":"p1\\/gpt","messages":[{"role":"user","content":"e"}],"providerOptions":null}',
]
--- response_json eval
[
{echo => {body => '{"model":"gpt-4o","messages":[{"role":"user","content":"a"}]}'}},
{echo => {body => '{"model":"gpt-4o","messages":[{"role":"user","content":"b"}]}'}},
{echo => {body => '{ "model" : "gpt-4o" , "messages" : [{"role":"user","content":"c"}] }'}},
{echo => {body => '{"messages":[{"role":"user","content":"d"}],"model":"gpt-4o"}'}},
{echo => {body => '{"model":"gpt-4o","messages":[{"role":"user","content":"e"}]}'}},
]
--- response_body_unlike eval
[ (qr/providerOptions|client-secret/) x 5 ]



=== TEST 3: unknown fields, unicode escapes and odd spacing survive byte for byte
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_model p1/gpt p1:gpt-4o;
--- config
    location /v1/ { aigw_pass; }
--- request eval
"POST /v1/chat/completions\n$::odd_in"
--- response_json eval
{model => "gpt-4o",
 echo => {body => $::odd_out,
          headers => {"content-length" => length($::odd_out) . ""}}}



=== TEST 4: wildcard slugs pass the id (slug minus its first segment) through; exact slugs and longer prefixes win
--- http_config
    aigw_provider ollama url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ollama/v1;
    aigw_provider big url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/big key=sk-big;
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_model ollama/* ollama;
    aigw_model ollama/big/* big;
    aigw_model ollama/special p1:special-id;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"ollama/llama3.2:3b","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"ollama/library/qwen2:7b","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"ollama/big/one","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"ollama/special","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"ollama/specialist","messages":[{"role":"user","content":"x"}]}',
]
--- response_json eval
[
{model => "llama3.2:3b", echo => {uri => "/ollama/v1/chat/completions",
  body => '{"model":"llama3.2:3b","messages":[{"role":"user","content":"x"}]}'}},
{model => "library/qwen2:7b", echo => {uri => "/ollama/v1/chat/completions"}},
{model => "big/one", echo => {uri => "/big/chat/completions",
  headers => {authorization => "Bearer sk-big"}}},
{model => "special-id", echo => {uri => "/v1/chat/completions",
  headers => {authorization => "Bearer sk-p1"}}},
{model => "specialist", echo => {uri => "/ollama/v1/chat/completions"}},
]
--- response_headers eval
[
"X-AIGW-Provider: ollama\nX-AIGW-Model: ollama/llama3.2:3b",
"X-AIGW-Provider: ollama\nX-AIGW-Model: ollama/library/qwen2:7b",
"X-AIGW-Provider: big\nX-AIGW-Model: ollama/big/one",
"X-AIGW-Provider: p1\nX-AIGW-Model: ollama/special",
"X-AIGW-Provider: ollama\nX-AIGW-Model: ollama/specialist",
]
--- grep_access_log eval: qr/MOCK \S+ \S+ \S+ auth=\S+/
--- grep_access_log_out eval
qr{\A
MOCK\ POST\ /ollama/v1/chat/completions\ host=127\.0\.0\.1:\d+\ auth=-\n
MOCK\ POST\ /ollama/v1/chat/completions\ host=127\.0\.0\.1:\d+\ auth=-\n
MOCK\ POST\ /big/chat/completions\ host=127\.0\.0\.1:\d+\ auth=Bearer\n
MOCK\ POST\ /v1/chat/completions\ host=127\.0\.0\.1:\d+\ auth=Bearer\n
MOCK\ POST\ /ollama/v1/chat/completions\ host=127\.0\.0\.1:\d+\ auth=-\n
\z}x



=== TEST 5: configured provider:model ids, derived ids, slugs without a provider segment
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1;
    aigw_provider p2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/p2 key=sk-p2;
    aigw_model fast p1:gpt-4o-mini;
    aigw_model plain p1;
    aigw_model vendor/x-large p1;
    aigw_model team/m p2:org/model:tag;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"fast","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"plain","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"vendor/x-large","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"team/m","messages":[{"role":"user","content":"x"}]}',
]
--- response_json eval
[
{model => "gpt-4o-mini", echo => {body => '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}'}},
{model => "plain", echo => {body => '{"model":"plain","messages":[{"role":"user","content":"x"}]}'}},
{model => "x-large", echo => {uri => "/v1/chat/completions"}},
{model => "org/model:tag", echo => {uri => "/p2/chat/completions",
  headers => {authorization => "Bearer sk-p2"}}},
]
--- response_headers eval
["X-AIGW-Provider: p1", "X-AIGW-Provider: p1", "X-AIGW-Provider: p1",
 "X-AIGW-Provider: p2\nX-AIGW-Model: team/m"]



=== TEST 6: provider auth: bearer, x-api-key, api-key, a custom header, none, no key
--- http_config
    aigw_provider pb url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=kb;
    aigw_provider px url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=kx auth=x-api-key;
    aigw_provider pa url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=ka auth=api-key;
    aigw_provider ph url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=kh auth=header:X-Goog-Api-Key;
    aigw_provider pn url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=kn auth=none;
    aigw_provider p0 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model b pb;
    aigw_model x px;
    aigw_model a pa;
    aigw_model h ph;
    aigw_model n pn;
    aigw_model z p0;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! } qw(b x a h n z) ]
--- response_json eval
[
{echo => {headers => {authorization => "Bearer kb"}}},
{echo => {headers => {"x-api-key" => "kx"}}},
{echo => {headers => {"api-key" => "ka"}}},
{echo => {headers => {"x-goog-api-key" => "kh"}}},
{echo => {headers => {"accept-encoding" => "identity"}}},
{echo => {headers => {"accept-encoding" => "identity"}}},
]
--- response_body_unlike eval
[
qr/client-secret|"(x-api-key|api-key|x-goog-api-key)"/,
qr/client-secret|"(authorization|api-key|x-goog-api-key)"/,
qr/client-secret|"(authorization|x-api-key|x-goog-api-key)"/,
qr/client-secret|"(authorization|x-api-key|api-key)"/,
qr/client-secret|"(authorization|x-api-key|api-key|x-goog-api-key)"|kn/,
qr/client-secret|"(authorization|x-api-key|api-key|x-goog-api-key)"/,
]



=== TEST 7: Host from url= (host:port), host= override, extra header= values
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p1
                  header=OpenAI-Organization:org-1 "header=X-Title:My App"
                  header=X-Dup:one header=X-Dup:two;
    aigw_provider p2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-p2
                  host=api.example.com;
    aigw_model m1 p1;
    aigw_model m2 p2;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"m1","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"m2","messages":[{"role":"user","content":"x"}]}',
]
--- response_json eval
[
{echo => {headers => {host => '127.0.0.1:$TEST_NGINX_RAND_PORT_1',
                      "openai-organization" => "org-1",
                      "x-title" => "My App", "x-dup" => "one, two",
                      authorization => "Bearer sk-p1"}}},
{echo => {headers => {host => "api.example.com",
                      authorization => "Bearer sk-p2"}}},
]
--- grep_access_log eval: qr/MOCK \S+ \S+ host=\S+/
--- grep_access_log_out
MOCK POST /v1/chat/completions host=127.0.0.1:$TEST_NGINX_RAND_PORT_1
MOCK POST /v1/chat/completions host=api.example.com



=== TEST 8: path= and query=, and a query in the url
--- http_config
    aigw_provider p1 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=k
                  path=/custom/base query=a=1&b=two;
    aigw_provider p2 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v2/?tenant=acme key=k;
    aigw_provider p3 url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ key=k;
    aigw_model m1 p1;
    aigw_model m2 p2;
    aigw_model m3 p3;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! } qw(m1 m2 m3) ]
--- response_json eval
[
{echo => {uri => "/custom/base/chat/completions", args => "a=1&b=two"}},
{echo => {uri => "/v2/chat/completions", args => "tenant=acme"}},
{echo => {uri => "/chat/completions", args => ""}},
]
--- grep_access_log eval: qr/MOCK \S+ \S+/
--- grep_access_log_out
MOCK POST /custom/base/chat/completions?a=1&b=two
MOCK POST /v2/chat/completions?tenant=acme
MOCK POST /chat/completions



=== TEST 9: Azure deployments: $model in the path, api_version, api-key auth
--- http_config
    aigw_provider azure url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/openai/deployments/$model
                  api_version=2024-10-21 auth=api-key key=az-key;
    aigw_model azure/gpt-4o azure:my-deploy;
    aigw_model azure/* azure;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"azure/gpt-4o","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"azure/dep one","messages":[{"role":"user","content":"x"}]}',
]
--- response_json eval
[
{model => "my-deploy",
 echo => {uri => "/openai/deployments/my-deploy/chat/completions",
          args => "api-version=2024-10-21",
          headers => {"api-key" => "az-key"}}},
{model => "dep one",
 echo => {uri => "/openai/deployments/dep one/chat/completions",
          args => "api-version=2024-10-21",
          headers => {"api-key" => "az-key"}}},
]
--- response_body_unlike eval
[qr/client-secret|"authorization"/, qr/client-secret|"authorization"/]
--- grep_access_log eval: qr/MOCK \S+ \S+/
--- grep_access_log_out
MOCK POST /openai/deployments/my-deploy/chat/completions?api-version=2024-10-21
MOCK POST /openai/deployments/dep%20one/chat/completions?api-version=2024-10-21



=== TEST 10: upstream= a named upstream{} with keepalive (tls=off): Host, default /v1 path, connection reuse
--- http_config
    upstream mock_up {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 4;
    }
    aigw_provider up upstream=mock_up tls=off key=sk-up;
    aigw_provider uph upstream=mock_up tls=off key=sk-uph host=api.up.test path=/base;
    aigw_model u/m up:model-u;
    aigw_model uh/m uph:model-uh;
--- config
    location /v1/ { aigw_pass; }
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"u/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"u/m","messages":[{"role":"user","content":"y"}]}',
"POST /v1/chat/completions\n" . '{"model":"uh/m","messages":[{"role":"user","content":"z"}]}',
]
--- response_json eval
[
{model => "model-u", echo => {uri => "/v1/chat/completions",
  headers => {host => "mock_up", authorization => "Bearer sk-up"}}},
{model => "model-u", echo => {uri => "/v1/chat/completions"}},
{model => "model-uh", echo => {uri => "/base/chat/completions",
  headers => {host => "api.up.test", authorization => "Bearer sk-uph"}}},
]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out eval
qr{\A
MOCK\ POST\ /v1/chat/completions\ host=mock_up\ auth=Bearer\ sk-up\ xkey=-\ conn=(\d+)/1\n
MOCK\ POST\ /v1/chat/completions\ host=mock_up\ auth=Bearer\ sk-up\ xkey=-\ conn=\1/2\n
MOCK\ POST\ /base/chat/completions\ host=api\.up\.test\ auth=Bearer\ sk-uph\ xkey=-\ conn=\d+/\d+\n
\z}x
