# Issue 5: the plan.  Fallback models after every provider of the primary
# failed (aigw_model fallback=, aigw_fallback_models per location,
# providerOptions.gateway.models per request); providerOptions.gateway
# .order and .only on both surfaces, fallback models included; "only"
# with no eligible provider is a clear 400.
#
# Providers (unless a block says otherwise):
#   a   OpenAI format, always 500 (RAND_PORT_1, /a)
#   a2  Anthropic format, always 500 (RAND_PORT_1, /a2)
#   b   OpenAI format, answers "answer from B" (RAND_PORT_2)
#   c   Anthropic format, answers "answer from C" (RAND_PORT_3)
# 500s neither cool a provider down nor (with failures=1000) open its
# circuit, so every request of a block sees the same plan.
use lib 't/lib';
use Cwd ();
BEGIN { $ENV{TEST_NGINX_FAILOVER_FIXTURES} = Cwd::abs_path('t/fixtures/failover') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_JS_MODULE;\n");

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    js_import mock from $TEST_NGINX_FAILOVER_FIXTURES/mock.js;
    log_format mock escape=none 'MOCK $mock $request_uri body=$request_body';
    log_format gw escape=none 'GW $status model=$aigw_model requested=$aigw_requested_model provider=$aigw_provider pmodel=$aigw_provider_model attempts=$aigw_attempts count=$aigw_attempt_count';
    aigw_health failures=1000;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        set $mock A;
        access_log logs/access.log mock;
        default_type application/json;
        location / { return 500 '{"error":{"message":"boom","type":"server_error"}}'; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        set $mock B;
        access_log logs/access.log mock;
        location / { js_content mock.openai; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        set $mock C;
        access_log logs/access.log mock;
        location / { js_content mock.anthropic; }
    }
    aigw_provider a format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a/v1 key=sk-a;
    aigw_provider a2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/a2 key=sk-a2;
    aigw_provider b format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-b;
    aigw_provider c format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3 key=sk-c;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless defined $block->more_headers;
});

# request helpers: chat("model", 'extra JSON members') and messages(...)
sub chat {
    my ($model, $extra) = @_;
    return "POST /v1/chat/completions\n{\"model\":\"$model\",\"max_tokens\":50,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
           . ($extra ? ",$extra" : "") . "}";
}

sub messages {
    my ($model, $extra) = @_;
    return "POST /v1/messages\n{\"model\":\"$model\",\"max_tokens\":50,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
           . ($extra ? ",$extra" : "") . "}";
}

sub gw_opts { return '"providerOptions":{"gateway":' . shift . '}' }

run_tests();

__DATA__

=== TEST 1: aigw_model fallback=: every provider of the primary fails, the fallback model answers (both surfaces)
--- http_config
    aigw_model f c:claude-f;
    aigw_model g b:gpt-g;
    aigw_model m a:gpt-a a2:claude-a fallback=f;
    aigw_model m2 a2:claude-a a:gpt-a fallback=g;
--- request eval
[main::chat("m"), main::messages("m2")]
--- response_headers eval
["X-AIGW-Provider: c\nX-AIGW-Model: f\nX-AIGW-Attempts: a:500,a2:500,c:200",
 "X-AIGW-Provider: b\nX-AIGW-Model: g\nX-AIGW-Attempts: a2:500,a:500,b:200"]
--- response_json eval
[{object => "chat.completion", choices => [{message => {content => "answer from C"}}]},
 {type => "message", content => [{type => "text", text => "answer from B"}]}]
--- grep_access_log eval: qr/^(?:MOCK|GW) .*/
--- grep_access_log_out eval
qr{\AMOCK A /a/v1/chat/completions body=
MOCK A /a2/v1/messages body=
MOCK C /v1/messages body=\{"model":"claude-f",.*
GW 200 model=f requested=m provider=c pmodel=claude-f attempts=a:500,a2:500,c:200 count=3
MOCK A /a2/v1/messages body=
MOCK A /a/v1/chat/completions body=
MOCK B /v1/chat/completions body=\{"model":"gpt-g",.*
GW 200 model=g requested=m2 provider=b pmodel=gpt-g attempts=a2:500,a:500,b:200 count=3
\z}



=== TEST 2: aigw_fallback_models per location
--- http_config
    aigw_model f c:claude-f;
    aigw_model g b:gpt-g;
    aigw_model m a:gpt-a;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_fallback_models f;
        aigw_pass;
    }
    location /v2/ {
        access_log logs/access.log gw;
        aigw_fallback_models g;
        aigw_pass;
    }
    location /v3/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
--- request eval
[main::chat("m"), main::chat("m") =~ s{/v1/}{/v2/}r, main::chat("m") =~ s{/v1/}{/v3/}r]
--- error_code eval
[200, 200, 500]
--- response_headers eval
["X-AIGW-Model: f\nX-AIGW-Attempts: a:500,c:200",
 "X-AIGW-Model: g\nX-AIGW-Attempts: a:500,b:200",
 "X-AIGW-Model: m\nX-AIGW-Attempts: a:500"]
--- response_json eval
[{choices => [{message => {content => "answer from C"}}]},
 {choices => [{message => {content => "answer from B"}}]},
 {error => {message => "~/boom/"}}]
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 200 model=f requested=m provider=c pmodel=claude-f attempts=a:500,c:200 count=2
GW 200 model=g requested=m provider=b pmodel=gpt-g attempts=a:500,b:200 count=2
GW 500 model=m requested=m provider=a pmodel=gpt-a attempts=a:500 count=1



=== TEST 3: providerOptions.gateway.models: per request, before the model's and the location's fallbacks
--- http_config
    aigw_model f1 a2:claude-f1;
    aigw_model f2 c:claude-f2;
    aigw_model f3 b:gpt-f3;
    aigw_model m a:gpt-a fallback=f1;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_fallback_models f3;
        aigw_pass;
    }
--- request eval
[main::chat("m", main::gw_opts('{"models":["f2"]}')),
 main::chat("m"),
 main::messages("m", main::gw_opts('{"models":["f3","f2"]}')),
 main::chat("m", main::gw_opts('{"models":["nope/none"]}'))]
--- error_code eval
[200, 200, 200, 400]
--- response_headers eval
["X-AIGW-Provider: c\nX-AIGW-Model: f2\nX-AIGW-Attempts: a:500,c:200",
 "X-AIGW-Provider: b\nX-AIGW-Model: f3\nX-AIGW-Attempts: a:500,a2:500,b:200",
 "X-AIGW-Provider: b\nX-AIGW-Model: f3\nX-AIGW-Attempts: a:500,b:200",
 ""]
--- response_json eval
[{choices => [{message => {content => "answer from C"}}]},
 {choices => [{message => {content => "answer from B"}}]},
 {type => "message", content => [{text => "answer from B"}]},
 {error => {type => "invalid_request_error", message => "~/fallback model \"nope\\/none\" in providerOptions\\.gateway\\.models is not configured/"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a/v1/chat/completions
MOCK C /v1/messages
GW 200 model=f2 requested=m provider=c pmodel=claude-f2 attempts=a:500,c:200 count=2
MOCK A /a/v1/chat/completions
MOCK A /a2/v1/messages
MOCK B /v1/chat/completions
GW 200 model=f3 requested=m provider=b pmodel=gpt-f3 attempts=a:500,a2:500,b:200 count=3
MOCK A /a/v1/chat/completions
MOCK B /v1/chat/completions
GW 200 model=f3 requested=m provider=b pmodel=gpt-f3 attempts=a:500,b:200 count=2
GW 400 model=m requested=m provider= pmodel= attempts= count=0



=== TEST 4: providerOptions.gateway.order on both surfaces: those providers first, the rest after
--- http_config
    aigw_model m a:gpt-a b:gpt-b a2:claude-a c:claude-c;
--- request eval
[main::chat("m", main::gw_opts('{"order":["a2","c"]}')),
 main::messages("m", main::gw_opts('{"order":["a2","c"]}')),
 main::chat("m", main::gw_opts('{"order":["c","nobody"]}')),
 main::messages("m", main::gw_opts('{"order":[]}'))]
--- response_headers eval
["X-AIGW-Provider: c\nX-AIGW-Attempts: a2:500,c:200",
 "X-AIGW-Provider: c\nX-AIGW-Attempts: a2:500,c:200",
 "X-AIGW-Provider: c\nX-AIGW-Attempts: c:200",
 "X-AIGW-Provider: b\nX-AIGW-Attempts: a:500,b:200"]
--- response_json eval
[{choices => [{message => {content => "answer from C"}}]},
 {type => "message", content => [{text => "answer from C"}]},
 {choices => [{message => {content => "answer from C"}}]},
 {type => "message", content => [{text => "answer from B"}]}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a2/v1/messages
MOCK C /v1/messages
GW 200 model=m requested=m provider=c pmodel=claude-c attempts=a2:500,c:200 count=2
MOCK A /a2/v1/messages
MOCK C /v1/messages
GW 200 model=m requested=m provider=c pmodel=claude-c attempts=a2:500,c:200 count=2
MOCK C /v1/messages
GW 200 model=m requested=m provider=c pmodel=claude-c attempts=c:200 count=1
MOCK A /a/v1/chat/completions
MOCK B /v1/chat/completions
GW 200 model=m requested=m provider=b pmodel=gpt-b attempts=a:500,b:200 count=2



=== TEST 5: providerOptions.gateway.only on both surfaces: the others are never called
--- http_config
    aigw_model m a:gpt-a b:gpt-b a2:claude-a c:claude-c;
--- request eval
[main::chat("m", main::gw_opts('{"only":["c","a"]}')),
 main::messages("m", main::gw_opts('{"only":["a2","b"]}')),
 main::messages("m", main::gw_opts('{"only":["c"],"order":["b","c"]}'))]
--- response_headers eval
["X-AIGW-Provider: c\nX-AIGW-Attempts: a:500,c:200",
 "X-AIGW-Provider: b\nX-AIGW-Attempts: b:200",
 "X-AIGW-Provider: c\nX-AIGW-Attempts: c:200"]
--- response_json eval
[{choices => [{message => {content => "answer from C"}}]},
 {type => "message", content => [{text => "answer from B"}]},
 {type => "message", content => [{text => "answer from C"}]}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a/v1/chat/completions
MOCK C /v1/messages
GW 200 model=m requested=m provider=c pmodel=claude-c attempts=a:500,c:200 count=2
MOCK B /v1/chat/completions
GW 200 model=m requested=m provider=b pmodel=gpt-b attempts=b:200 count=1
MOCK C /v1/messages
GW 200 model=m requested=m provider=c pmodel=claude-c attempts=c:200 count=1



=== TEST 6: order and only apply to fallback models too
--- http_config
    aigw_model f b:gpt-f c:claude-f;
    aigw_model g b:gpt-g c:claude-g;
    aigw_model m a:gpt-a fallback=f;
--- request eval
[main::chat("m", main::gw_opts('{"only":["a","c"]}')),
 main::messages("m", main::gw_opts('{"order":["c"]}')),
 main::chat("m", main::gw_opts('{"only":["b"]}')),
 main::messages("m", main::gw_opts('{"only":["c"],"models":["g"]}')),
 main::messages("m", main::gw_opts('{"only":["a"]}'))]
--- http_config
    aigw_model f b:gpt-f c:claude-f;
    aigw_model g b:gpt-g c:claude-g;
    aigw_model m a:gpt-a fallback=f;
--- error_code eval
[200, 200, 200, 200, 500]
--- response_headers eval
["X-AIGW-Model: f\nX-AIGW-Provider: c\nX-AIGW-Attempts: a:500,c:200",
 "X-AIGW-Model: f\nX-AIGW-Provider: c\nX-AIGW-Attempts: a:500,c:200",
 "X-AIGW-Model: f\nX-AIGW-Provider: b\nX-AIGW-Attempts: b:200",
 "X-AIGW-Model: g\nX-AIGW-Provider: c\nX-AIGW-Attempts: c:200",
 "X-AIGW-Model: m\nX-AIGW-Provider: a\nX-AIGW-Attempts: a:500"]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
MOCK A /a/v1/chat/completions
MOCK C /v1/messages
GW 200 model=f requested=m provider=c pmodel=claude-f attempts=a:500,c:200 count=2
MOCK A /a/v1/chat/completions
MOCK C /v1/messages
GW 200 model=f requested=m provider=c pmodel=claude-f attempts=a:500,c:200 count=2
MOCK B /v1/chat/completions
GW 200 model=f requested=m provider=b pmodel=gpt-f attempts=b:200 count=1
MOCK C /v1/messages
GW 200 model=g requested=m provider=c pmodel=claude-g attempts=c:200 count=1
MOCK A /a/v1/chat/completions
GW 500 model=m requested=m provider=a pmodel=gpt-a attempts=a:500 count=1



=== TEST 7: "only" with no eligible provider: a clear 400 in the client's shape, no provider called
--- http_config
    aigw_model f b:gpt-f;
    aigw_model m a:gpt-a c:claude-m fallback=f;
--- request eval
[main::chat("m", main::gw_opts('{"only":["a2"]}')),
 main::messages("m", main::gw_opts('{"only":["nobody"]}'))]
--- error_code eval
[400, 400]
--- response_json eval
[{error => {type => "invalid_request_error", message => "~/no provider allowed by providerOptions\\.gateway\\.only serves model \"m\"/"}},
 {type => "error", error => {type => "invalid_request_error", message => "~/no provider allowed by providerOptions\\.gateway\\.only serves model \"m\"/"}}]
--- grep_access_log eval: qr/^(?:MOCK \S+ \S+|GW .*)/
--- grep_access_log_out
GW 400 model=m requested=m provider= pmodel= attempts= count=0
GW 400 model=m requested=m provider= pmodel= attempts= count=0
