# Vertex AI providers: Gemini on Vertex (format=gemini) and Claude on Vertex
# (format=anthropic) with project=, location=, credentials= (the test
# service account t/fixtures/vertex/sa.json, a test-only key) and
# token_url= pointing at the mock token endpoint (t/fixtures/vertex/
# token.js), which checks the JWT grant (header, claims, RS256 signature
# against the account's public key) and answers ya29.mock-<n>.  The model
# mock (t/fixtures/translate/mock.js) records what the provider received.
#
# TEST 8 runs the token endpoint over TLS: a throwaway CA and a server
# certificate for 127.0.0.1 are made with the openssl CLI when the file
# loads, in a temporary directory removed at the end.
use lib 't/lib';
use File::Temp ();
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our $tls = File::Temp::tempdir('aigw-vertex-XXXXXX', TMPDIR => 1, CLEANUP => 1);

{
    open my $fh, '>', "$tls/server.ext" or die "$tls/server.ext: $!";
    print $fh "basicConstraints = CA:FALSE\n",
              "extendedKeyUsage = serverAuth\n",
              "subjectAltName = IP:127.0.0.1\n";
    close $fh;

    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!";

    for my $cmd (
        [qw(req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
            -nodes -days 2 -subj /CN=aigw-vertex-CA),
         -addext => 'basicConstraints=critical,CA:TRUE',
         -addext => 'keyUsage=critical,keyCertSign,cRLSign',
         -keyout => "$tls/ca.key", -out => "$tls/ca.crt"],
        [qw(req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
            -nodes -subj /CN=127.0.0.1),
         -keyout => "$tls/server.key", -out => "$tls/server.csr"],
        [qw(x509 -req -days 2 -set_serial 1),
         -in => "$tls/server.csr", -CA => "$tls/ca.crt",
         -CAkey => "$tls/ca.key", -extfile => "$tls/server.ext",
         -out => "$tls/server.crt"])
    {
        system('openssl', @$cmd) == 0 or die "openssl @$cmd failed";
    }

    open STDERR, '>&', $err or die "dup: $!";
}

$ENV{TEST_NGINX_TLS_DIR} = $tls;

our $Token = <<'_EOC_';
    js_import tok from $TEST_NGINX_FIXTURES/vertex/token.js;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        set $mock_dir $TEST_NGINX_SERVER_ROOT/html;
        set $mock_fixtures $TEST_NGINX_FIXTURES;
        set $mock_expires 3599;
        location / { js_content tok.check; }
    }
_EOC_

our $Gateway = <<'_EOC_';
    location /v1/ {
        aigw_pass;
        access_log logs/access.log aigw;
    }
    location = /token_count { default_type text/plain; }
    location = /token_last.json { }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $expires = $block->token_expires // 3599;
    (my $t = $Token) =~ s/3599/$expires/;
    $block->set_value('http_config', $t . ($block->http_config // ''));
    $block->set_value('config', $Gateway) unless defined $block->config;
});

sub ant { main::json({ max_tokens => 50, messages => [ { role => 'user', content => 'hi' } ], @_ }) }
sub oai { main::json({ messages => [ { role => 'user', content => 'hi' } ], @_ }) }

our $SA = "$ENV{TEST_NGINX_FIXTURES}/vertex/sa.json";

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: Gemini on Vertex (regional): the path of the publisher's model, a Bearer token from a JWT grant the token endpoint verified, no API key, no function call ids
--- providers
    aigw_provider vg format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text project=aigw-test location=us-central1 credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/token;
    aigw_model vgem vg:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'vgem',
     tools => [ { type => 'function', function => { name => 'f' } } ],
     messages => [ { role => 'user', content => 'hi' },
                   { role => 'assistant', content => undef, tool_calls => [
                       { id => 'c1', type => 'function', function => { name => 'f', arguments => '{}' } } ] },
                   { role => 'tool', tool_call_id => 'c1', content => 'ok' } ]),
 "GET /mock_last.json", "GET /token_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ choices => [ { finish_reason => "stop", message => { content => "Hello w\x{f6}rld \"q\"\n" } } ] },
 { uri => "/gemini/text/v1/projects/aigw-test/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
   headers => { authorization => "Bearer ya29.mock-1" },
   body => { contents => [ { role => "user", parts => [ { text => "hi" } ] },
                           { role => "model", parts => [ { functionCall => { name => "f", args => {} },
                                                           thoughtSignature => "<ANY>" } ] },
                           { role => "user", parts => [ { functionResponse => { name => "f", response => { output => "ok" } } } ] } ] } },
 { header => { alg => "RS256", typ => "JWT", kid => "kid-test-1" },
   claims => { iss => "gateway\@aigw-test.iam.gserviceaccount.com",
               scope => "https://www.googleapis.com/auth/cloud-platform",
               aud => "https://oauth2.googleapis.com/token", iat => "<ANY>", exp => "<ANY>" },
   verified => JSON::PP::true }]
--- response_body_unlike eval
[undef, qr/x-goog-api-key|"id":"c1"/, undef]
--- error_log
aigw: Vertex AI token of gateway@aigw-test.iam.gserviceaccount.com, valid for 3599 s
--- no_error_log
[error]



=== TEST 2: Claude on Vertex (global): rawPredict / streamRawPredict, anthropic_version in the body instead of the model, no anthropic-version header, no x-api-key; an OpenAI client translated the same way; one token for all of them
--- providers
    aigw_provider vc format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/token;
    aigw_model vclaude vc:claude-sonnet-4-5@20250929;
--- request eval
["POST /v1/messages\n" . main::ant(model => 'vclaude', providerOptions => { gateway => { order => ['vc'] } }), "GET /mock_last.json",
 "POST /v1/messages\n" . main::ant(model => 'vclaude', stream => JSON::PP::true), "GET /mock_last.json",
 "POST /v1/chat/completions\n" . main::oai(model => 'vclaude'), "GET /mock_last.json",
 "GET /token_count"]
--- more_headers
Content-Type: application/json
anthropic-version: 2023-06-01
--- response_json eval
[{ id => "msg_01TextNonStream", stop_reason => "end_turn" },
 { uri => "/anthropic/text/v1/projects/aigw-test/locations/global/publishers/anthropic/models/claude-sonnet-4-5\@20250929:rawPredict",
   headers => { authorization => "Bearer ya29.mock-1" },
   body => { anthropic_version => "vertex-2023-10-16", max_tokens => 50,
             messages => [ { role => "user", content => "hi" } ] } },
 undef,
 { uri => "/anthropic/text/v1/projects/aigw-test/locations/global/publishers/anthropic/models/claude-sonnet-4-5\@20250929:streamRawPredict",
   headers => { authorization => "Bearer ya29.mock-1", accept => "text/event-stream" },
   body => { anthropic_version => "vertex-2023-10-16", stream => JSON::PP::true } },
 { choices => [ { message => { content => "~/^Hello/" } } ] },
 { uri => "/anthropic/text/v1/projects/aigw-test/locations/global/publishers/anthropic/models/claude-sonnet-4-5\@20250929:rawPredict",
   body => { anthropic_version => "vertex-2023-10-16", max_tokens => 4096 } },
 undef]
--- response_body_unlike eval
[undef, qr/"model"|anthropic-version|x-api-key|providerOptions/, undef, qr/"model"|anthropic-version/, undef, qr/"model"|anthropic-version/, undef]
--- response_body_like eval
[qr/./, qr/./, qr/message_stop/, qr/./, qr/./, qr/./, qr/^1$/]
--- no_error_log
[error]



=== TEST 3: a token close to its end is refreshed in the background: the request that starts the refresh goes on with the old token, the next one has the new
--- token_expires: 200
--- providers
    aigw_provider vg format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/token;
    aigw_model vgem vg:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'vgem'), "GET /mock_last.json",
 "POST /v1/chat/completions\n" . main::oai(model => 'vgem'), "GET /mock_last.json",
 "POST /v1/chat/completions\n" . main::oai(model => 'vgem'), "GET /mock_last.json",
 "GET /token_count"]
--- request_gap: 0.3
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { uri => "/gemini/text/v1/projects/aigw-test/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
          headers => { authorization => "Bearer ya29.mock-1" } },
 undef, { headers => { authorization => "Bearer ya29.mock-1" } },
 undef, { headers => { authorization => "Bearer ya29.mock-2" } },
 undef]
--- response_body_like eval
[qr/./, qr/./, qr/./, qr/./, qr/./, qr/./, qr/^[23]$/]
--- no_error_log
[error]



=== TEST 4: a token endpoint that refuses (503) or is not there: the Vertex provider is skipped, the request fails over (Gemini API, Anthropic); with no other provider the client gets a 503 in its shape at once
--- providers
    aigw_provider v503 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/503/token;
    aigw_provider vdown format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/token;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_model m1 v503:claude-sonnet-4-5@20250929 g:gemini-2.5-flash;
    aigw_model m2 vdown:gemini-2.5-flash ant:claude-sonnet-4-6;
    aigw_model only v503:claude-sonnet-4-5@20250929;
--- request eval
["POST /v1/messages\n" . main::ant(model => 'm1'),
 "POST /v1/chat/completions\n" . main::oai(model => 'm2'),
 "POST /v1/messages\n" . main::ant(model => 'only')]
--- request_gap: 1.1
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 503]
--- response_json eval
[{ model => "gemini-2.5-flash", stop_reason => "end_turn" },
 { model => "claude-sonnet-4-6-20260101" },
 { type => "error", error => { type => "~/overloaded_error|api_error/" } }]
--- grep_access_log eval: qr/^AIGW .*/
--- grep_access_log_out eval
qr{^AIGW /v1/messages 200 m=m1 .* a=v503:no key,g:200
AIGW /v1/chat/completions 200 m=m2 .* a=vdown:no key,ant:200
AIGW /v1/messages 503 m=only .* a=v503:no key
$}s
--- error_log eval
[qr/the token endpoint 127\.0\.0\.1:\d+ answered 503: "mock says 503"/,
 qr/provider "v503" skipped: no Vertex AI access token/,
 qr/Vertex AI token of gateway\@aigw-test\.iam\.gserviceaccount\.com: cannot connect/]
--- no_error_log
[alert]
[crit]



=== TEST 5: configuration: Vertex needs project=, location= and credentials=; credentials that cannot be read are an error, or a skipped provider with optional
--- http_config
    aigw_provider v format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ project=p credentials=/nonexistent/sa.json;
--- must_die
--- error_log
[emerg]
aigw_provider "v" on Vertex AI needs "project=", "location=" and "credentials="



=== TEST 6: configuration: an unreadable key file
--- http_config
    aigw_provider v format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ project=p location=global credentials=/nonexistent/sa.json;
--- must_die
--- error_log
[emerg]
cannot open credentials "/nonexistent/sa.json"



=== TEST 7: configuration: optional: the provider is skipped (no key), the next one serves
--- providers
    aigw_provider v format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text project=p location=global credentials=/nonexistent/sa.json optional;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model m v:claude-x g:gemini-2.5-flash;
--- request eval
"POST /v1/messages\n" . main::ant(model => 'm')
--- more_headers
Content-Type: application/json
--- response_json
{"model":"gemini-2.5-flash"}
--- error_log
cannot open credentials "/nonexistent/sa.json", the provider is skipped



=== TEST 8: the token endpoint over TLS: the certificate is verified (aigw_ssl_trusted_certificate, an address checked as an address); an untrusted one is a failed fetch and a failover
--- providers
    aigw_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.crt;
    aigw_provider vg format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_4/token;
    aigw_model vgem vg:gemini-2.5-flash;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4 ssl;
        access_log off;
        ssl_certificate $TEST_NGINX_TLS_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_TLS_DIR/server.key;
        set $mock_dir $TEST_NGINX_SERVER_ROOT/html;
        set $mock_fixtures $TEST_NGINX_FIXTURES;
        set $mock_expires 3599;
        location / { js_content tok.check; }
    }
--- request eval
["POST /v1/chat/completions\n" . main::oai(model => 'vgem'), "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ choices => [ { finish_reason => "stop" } ] },
 { uri => "/gemini/text/v1/projects/aigw-test/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
   headers => { authorization => "Bearer ya29.mock-1" } }]
--- no_error_log
[error]



=== TEST 9: an untrusted token endpoint certificate: no token, the provider is skipped
--- providers
    aigw_provider vg format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text project=aigw-test location=global credentials=$TEST_NGINX_FIXTURES/vertex/sa.json token_url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_4/token;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model m vg:gemini-2.5-flash g:gemini-2.5-flash;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4 ssl;
        access_log off;
        ssl_certificate $TEST_NGINX_TLS_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_TLS_DIR/server.key;
        location / { return 500; }
    }
--- request eval
"POST /v1/chat/completions\n" . main::oai(model => 'm')
--- more_headers
Content-Type: application/json
--- response_headers
X-AIGW-Attempts: vg:no key,g:200
--- error_log eval
[qr/token endpoint 127\.0\.0\.1:\d+ certificate verify error/,
 qr/Vertex AI token of gateway\@aigw-test\.iam\.gserviceaccount\.com: certificate not trusted/]
--- no_error_log
[alert]
[crit]
