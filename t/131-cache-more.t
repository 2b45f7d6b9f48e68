# Issue 12, continued: stale-while-revalidate, the cache lock, stream
# requests served from the cache, embeddings, reload, accounting.  The mock provider (start_mock_http)
# logs every request it gets, so "the provider was called once" is checked
# at the provider.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use POSIX ();

repeat_each(1);

our $OPENAI = '{"id":"chatcmpl-c1","object":"chat.completion","created":1,"model":"gpt-x",'
    . '"choices":[{"index":0,"message":{"role":"assistant","content":"cached hello"},'
    . '"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}';

our $ANTHROPIC = '{"id":"msg_c1","type":"message","role":"assistant","model":"claude-x",'
    . '"content":[{"type":"text","text":"cached hello"}],"stop_reason":"end_turn",'
    . '"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":7}}';

our $OC = '{"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":';
our @OPENAI_SSE = (
    "data: $OC" . '[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}' . "\n\n",
    "data: $OC" . '[{"index":0,"delta":{"content":"streamed "},"finish_reason":null}]}' . "\n\n",
    "data: $OC" . '[{"index":0,"delta":{"content":"hello"},"finish_reason":null}]}' . "\n\n",
    "data: $OC" . '[{"index":0,"delta":{},"finish_reason":"stop"}]}' . "\n\n",
    "data: $OC" . '[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}' . "\n\n",
    "data: [DONE]\n\n");

our @ANTHROPIC_SSE = (
    "event: message_start\ndata: " . '{"type":"message_start","message":{"id":"msg_s1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}' . "\n\n",
    "event: content_block_start\ndata: " . '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}' . "\n\n",
    "event: content_block_delta\ndata: " . '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"streamed "}}' . "\n\n",
    "event: content_block_delta\ndata: " . '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}' . "\n\n",
    "event: content_block_stop\ndata: " . '{"type":"content_block_stop","index":0}' . "\n\n",
    "event: message_delta\ndata: " . '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}' . "\n\n",
    "event: message_stop\ndata: " . '{"type":"message_stop"}' . "\n\n");

sub mock {
    my %o = @_;
    start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => sub {
        my $r = shift;
        select(undef, undef, undef, $o{delay}) if $o{delay};
        POSIX::_exit(0) if $r->{body} =~ /"user":"hangup"/;
        if ($o{status} || $r->{body} =~ /"user":"fail"/) {
            return { status => $o{status} // 503, headers => ['Content-Type' => 'application/json'],
                     body => '{"error":{"message":"down","type":"server_error"}}' };
        }
        if ($r->{body} =~ /"stream":true/ && !$o{json}) {
            my @ev = $r->{uri} =~ m{/messages} ? @ANTHROPIC_SSE : @OPENAI_SSE;
            pop @ev, pop @ev if $o{broken};
            return { status => 200, headers => ['Content-Type' => 'text/event-stream'],
                     chunks => [map { ($_, 0.01) } @ev], ($o{broken} ? (incomplete => 1) : ()) };
        }
        my $body = $r->{uri} =~ m{/messages} ? $ANTHROPIC
                 : $r->{uri} =~ m{/embeddings}
                   ? '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}'
                 : $OPENAI;
        return { status => 200, headers => ['Content-Type' => 'application/json',
                                            @{ $o{headers} // [] }], body => $body };
    });
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => <<'_EOC_' . ($block->http_config // ''));
    aigw_cache_path cache levels=1:2 keys_zone=llm:1m use_temp_path=off;
    log_format cache escape=none 'GW $status cache=$aigw_cache_status in=$aigw_input_tokens usage="$aigw_cache_usage"';
    aigw_provider oa format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-oa;
    aigw_provider an format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-an;
    aigw_model gpt-x oa:gpt-x;
    aigw_model claude-x an:claude-x;
    aigw_model oa-for-anthropic oa:gpt-x;
_EOC_

    $block->set_value(config => <<'_EOC_') unless defined $block->config;
    location /v1/ {
        access_log logs/access.log cache;
        aigw_cache llm;
        aigw_pass;
    }
_EOC_

    $block->set_value(init => "main::mock();") unless defined $block->init;
});

sub chat {
    my ($extra, $model) = @_;
    $extra //= '';
    $model //= 'gpt-x';
    return "POST /v1/chat/completions\n{\"model\":\"$model\",\"max_tokens\":20$extra,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
}

sub later {
    my ($req, $secs) = @_;
    return [{ value => $req, delay_before => $secs }];
}

sub messages {
    my ($extra, $model) = @_;
    $extra //= '';
    $model //= 'claude-x';
    return "POST /v1/messages\n{\"model\":\"$model\",\"max_tokens\":20$extra,"
           . "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
}

run_tests();

__DATA__

=== TEST 1: stale-while-revalidate: the stale answer goes out at once while exactly one refresh runs, then the refreshed answer is a HIT
--- init
main::mock(delay => 0.5);
--- more_headers
Content-Type: application/json
Cache-Control: max-age=1, stale-while-revalidate=60
--- request eval
main::chat()
--- response_headers
X-AIGW-Cache: MISS
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}'
req() { curl -s -o /dev/null -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=1, stale-while-revalidate=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r'; }
sleep 2.1
req > a.out & sleep 0.15
req > b.out & req > c.out
wait
sleep 1; req > d.out
cat a.out b.out c.out d.out; rm -f a.out b.out c.out d.out
--- client_output_like
\AX-AIGW-Cache: STALE
X-AIGW-Cache: UPDATING
X-AIGW-Cache: UPDATING
X-AIGW-Cache: HIT
\z
--- mock_request_count: 2



=== TEST 1b: a stream request that finds a stale answer fetches it again at once and stores it (no background refresh for streams); the others meanwhile get the stale one
--- init
main::mock(delay => 0.5);
--- request eval
main::chat(',"stream":true')
--- more_headers
Content-Type: application/json
Cache-Control: max-age=1, stale-while-revalidate=60
--- response_headers
X-AIGW-Cache: MISS
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
req() { curl -s -o /dev/null -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=1, stale-while-revalidate=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r'; }
sleep 2.1
req > a.out & sleep 0.2
req > b.out
wait
req > c.out
cat a.out b.out c.out; rm -f a.out b.out c.out
--- client_output_like
\AX-AIGW-Cache: EXPIRED
X-AIGW-Cache: UPDATING
X-AIGW-Cache: HIT
\z
--- mock_request_count: 2



=== TEST 2: the cache lock: 10 identical concurrent misses make one provider call, the others wait and get the stored answer
--- init
main::mock(delay => 1);
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"messages":[{"role":"user","content":"ten"}]}'
for i in 1 2 3 4 5 6 7 8 9 10; do
  curl -s -o body.$i -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r' > h.$i &
done
wait
cat h.* | sort | uniq -c | sed 's/^ *//'
cat body.* | sort -u | wc -l
rm -f h.* body.*
--- client_output_like
\A9 X-AIGW-Cache: HIT
1 X-AIGW-Cache: MISS
1
\z
--- mock_request_count: 1



=== TEST 3: aigw_cache_lock off: concurrent misses each go to the provider
--- init
main::mock(delay => 1);
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_lock off;
        aigw_pass;
    }
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"messages":[{"role":"user","content":"three"}]}'
for i in 1 2 3; do
  curl -s -o /dev/null -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r' > h.$i &
done
wait
cat h.*; rm -f h.*
--- client_output_like
\AX-AIGW-Cache: MISS
X-AIGW-Cache: MISS
X-AIGW-Cache: MISS
\z
--- mock_request_count: 3



=== TEST 4: aigw_cache_lock_timeout: a waiter gives up after it and asks the provider itself (not stored twice)
--- init
main::mock(delay => 1.5);
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_lock_timeout 500ms;
        aigw_pass;
    }
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"messages":[{"role":"user","content":"lock"}]}'
req() { curl -s -o /dev/null -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r'; }
req > a.out & sleep 0.2
req > b.out
wait
cat a.out b.out; rm -f a.out b.out
--- client_output_like
\AX-AIGW-Cache: MISS
X-AIGW-Cache: MISS
\z
--- mock_request_count: 2



=== TEST 5: embeddings are cached too
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
["POST /v1/embeddings\n{\"model\":\"gpt-x\",\"input\":\"cache me\"}",
 "POST /v1/embeddings\n{\"model\":\"gpt-x\",\"input\":\"cache me\"}",
 "POST /v1/embeddings\n{\"model\":\"gpt-x\",\"input\":\"cache me too\"}"]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: MISS"]
--- response_body eval
['{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}',
 '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}',
 '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}']
--- mock_request_count: 2



=== TEST 6: the cache survives a reload (keys zone in shared memory, answers on disk): the new workers answer from it
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_pass;
    }
    location = /gen { return 200 "gen-1"; }
--- request eval
main::chat()
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- response_headers
X-AIGW-Cache: MISS
--- client_cmd
R=$TEST_NGINX_SERVER_ROOT; B='{"model":"gpt-x","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}'
sed -i 's/gen-1/gen-2/g' $R/conf/nginx.conf && kill -HUP $(cat $R/logs/nginx.pid)
n=0; for i in $(seq 100); do if curl -s http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen | grep -q gen-2; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; fi; sleep 0.1; done
curl -s -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | tr -d '\r' | grep -i '^x-aigw-cache\|cached hello'
--- client_output_like
\AX-AIGW-Cache: HIT
\{"id":"chatcmpl-c1".*"cached hello".*\}\n\z
--- mock_request_count: 1
--- error_log
reconfiguring



=== TEST 7: OpenAI: a stream request whose non-stream twin is cached is answered from the cache as SSE, event by event, usage included
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(),
 main::chat(',"stream":true,"stream_options":{"include_usage":true}')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT\nContent-Type: text/event-stream"]
--- response_body_like eval
[qr/\A\Q$main::OPENAI\E\z/, qr/\A
data:\ \{"id":"chatcmpl-c1","object":"chat.completion.chunk","created":\d+,"model":"gpt-x","choices":\[\{"index":0,"delta":\{"role":"assistant","content":""\},"finish_reason":null\}\]\}\n\n
data:\ \{"id":"chatcmpl-c1","object":"chat.completion.chunk","created":\d+,"model":"gpt-x","choices":\[\{"index":0,"delta":\{"content":"cached\ hello"\},"finish_reason":null\}\]\}\n\n
data:\ \{"id":"chatcmpl-c1","object":"chat.completion.chunk","created":\d+,"model":"gpt-x","choices":\[\{"index":0,"delta":\{\},"finish_reason":"stop"\}\]\}\n\n
data:\ \{"id":"chatcmpl-c1","object":"chat.completion.chunk","created":\d+,"model":"gpt-x","choices":\[\],"usage":\{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":\{"cached_tokens":0\},"completion_tokens_details":\{"reasoning_tokens":0\}\}\}\n\n
data:\ \[DONE\]\n\n
\z/x]
--- mock_request_count: 1
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 200 cache=MISS in=11 usage=""
GW 200 cache=HIT in=0 usage="input=11 output=7 cached=0 cache_write=0 reasoning=0"



=== TEST 8: Anthropic: a stream request served from the cache gets the Messages events, usage included
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::messages(), main::messages(',"stream":true')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT\nContent-Type: text/event-stream"]
--- response_body eval
[$main::ANTHROPIC, 'event: message_start
data: {"type":"message_start","message":{"id":"msg_c1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}}

event: ping
data: {"type":"ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cached hello"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}

event: message_stop
data: {"type":"message_stop"}

']
--- mock_request_count: 1



=== TEST 9: a stream request that misses is streamed from the provider (JSON from a provider that did not stream) and its answer fills the cache for both
--- init
main::mock(json => 1);
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(',"stream":true'), main::chat(',"stream":true'), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: HIT"]
--- response_body_like eval
[qr/\Adata: .*"cached hello".*data: \[DONE\]\n\n\z/s, qr/\Adata: .*"cached hello".*data: \[DONE\]\n\n\z/s,
 qr/\A\{"id":"chatcmpl-c1","object":"chat\.completion",.*"content":"cached hello".*"finish_reason":"stop".*"prompt_tokens":11,"completion_tokens":7/]
--- mock_request_count: 1



=== TEST 9b: OpenAI: a live stream that misses is assembled into the non-stream answer and stored; then a non-stream HIT and a stream HIT; one provider call
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(',"stream":true,"stream_options":{"include_usage":true}'), main::chat(), main::chat(',"stream":true')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: HIT"]
--- response_body_like eval
[qr/\A(?:data: \{[^\n]+\n\n){5}data: \[DONE\]\n\n\z/,
 qr/\A\{"id":"chatcmpl-s1","object":"chat\.completion","created":\d+,"model":"gpt-x","choices":\[\{"index":0,"message":\{"role":"assistant","content":"streamed hello"[^\n]*"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7/,
 qr/\A(?:data: \{[^\n]+\n\n){3}data: \[DONE\]\n\n\z/]
--- mock_request_count: 1
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 200 cache=MISS in=5 usage=""
GW 200 cache=HIT in=0 usage="input=5 output=2 cached=0 cache_write=0 reasoning=0"
GW 200 cache=HIT in=0 usage="input=5 output=2 cached=0 cache_write=0 reasoning=0"



=== TEST 9c: Anthropic: a live stream that misses fills the cache with the Messages answer; translated too (OpenAI client of an Anthropic provider)
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::messages(',"stream":true'), main::messages(),
 main::chat(',"stream":true', 'claude-x'), main::chat('', 'claude-x')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- response_body_like eval
[qr/event: message_stop/,
 qr/\A\{"id":"msg_s1","type":"message","role":"assistant","model":"claude-x","content":\[\{"type":"text","text":"streamed hello"\}\],"stop_reason":"end_turn","stop_sequence":null,"usage":\{"input_tokens":5,.*"output_tokens":2\}\}/,
 qr/data: \[DONE\]/,
 qr/\A\{"id":"msg_s1","object":"chat\.completion",.*"content":"streamed hello".*"finish_reason":"stop".*"prompt_tokens":5,"completion_tokens":2/]
--- mock_request_count: 2



=== TEST 9d: a broken stream (no finish, no end) is never stored; nor a stream the client asked not to store
--- init
main::mock(broken => 1);
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: no-store"]
--- request eval
[main::chat(',"stream":true'), main::chat(',"stream":true'), main::chat(',"stream":true,"temperature":1')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: BYPASS"]
--- incomplete_body
--- response_body_like eval
[qr/"error"/, qr/"error"/, qr/"error"/]
--- mock_request_count: 3
--- ignore_error_log



=== TEST 9f: a stream with no-cache is a refresh: no lookup, its answer is stored
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: no-cache, max-age=60",
 "Content-Type: application/json\nCache-Control: max-age=60"]
--- request eval
[main::chat(), main::chat(',"stream":true'), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: BYPASS", "X-AIGW-Cache: HIT"]
--- response_body_like eval
[qr/"cached hello"/, qr/"streamed "/, qr/"streamed hello"/]
--- mock_request_count: 2



=== TEST 9e: the cache lock holds for a stream: concurrent identical stream requests make one provider call, the others get the stored answer as a stream
--- client_cmd
B='{"model":"gpt-x","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"lock"}]}'
for i in 1 2 3 4; do
  curl -s -o body.$i -D - -H 'Content-Type: application/json' -H 'Cache-Control: max-age=60' -d "$B" http://127.0.0.1:$TEST_NGINX_SERVER_PORT/v1/chat/completions | grep -i '^x-aigw-cache' | tr -d '\r' > h.$i &
done
wait
cat h.* | sort | uniq -c | sed 's/^ *//'
grep -l 'streamed ' body.* | wc -l
rm -f h.* body.*
--- client_output_like
\A3 X-AIGW-Cache: HIT
1 X-AIGW-Cache: MISS
4
\z
--- mock_request_count: 1



=== TEST 10: accounting: a hit costs no tokens and no dollars (the key's budget and spend see one answer), but counts toward the request rate
--- http_config
    aigw_zone acct 1m;
    aigw_key k1 sk-gw-one budget=1/total rpm=4;
    aigw_model priced oa:gpt-x input=1000 output=1000;
--- config
    location = /v1/credits {
        aigw_credits;
    }
    location /v1/ {
        access_log logs/access.log cache;
        aigw_cache llm;
        aigw_pass;
    }
--- request_gap: 0.05
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Authorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one"]
--- request eval
[main::chat('', 'priced'), main::chat('', 'priced'), main::chat(',"stream":true', 'priced'),
 "GET /v1/credits", main::chat('', 'priced'), main::chat('', 'priced')]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_body_like eval
[qr/cached hello/, qr/cached hello/, qr/cached hello/,
 qr/\A\{"balance":"0\.982","total_used":"0\.018"\}\n\z/, qr/cached hello/, qr/rate/]
--- mock_request_count: 1
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 200 cache=MISS in=11 usage=""
GW 200 cache=HIT in=0 usage="input=11 output=7 cached=0 cache_write=0 reasoning=0"
GW 200 cache=HIT in=0 usage="input=11 output=7 cached=0 cache_write=0 reasoning=0"
GW 200 cache=HIT in=0 usage="input=11 output=7 cached=0 cache_write=0 reasoning=0"
GW 429 cache= in=0 usage=""



=== TEST 11: the background refresh of stale-while-revalidate is a provider call and is accounted: the key's spend has both answers
--- http_config
    aigw_zone acct 1m;
    aigw_key k1 sk-gw-one budget=1/total;
    aigw_model priced oa:gpt-x input=1000 output=1000;
--- config
    location = /v1/credits {
        aigw_credits;
    }
    location /v1/ {
        aigw_cache llm;
        aigw_pass;
    }
--- request_gap: 0.05
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=1, stale-while-revalidate=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=1, stale-while-revalidate=60\nAuthorization: Bearer sk-gw-one",
 "Authorization: Bearer sk-gw-one"]
--- request eval
[main::chat('', 'priced'), main::later(main::chat('', 'priced'), 2.1), main::later("GET /v1/credits", 0.5)]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: STALE", ""]
--- response_body_like eval
[qr/cached hello/, qr/cached hello/, qr/\A\{"balance":"0\.964","total_used":"0\.036"\}\n\z/]
--- mock_request_count: 2
