# Issue 12: response caching on nginx's upstream cache, driven by the
# client's Cache-Control request header.  The mock provider (start_mock_http)
# logs every request it gets, so "the provider was called once" is checked
# at the provider.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use POSIX ();
use Digest::MD5 ();

repeat_each(1);

our $OPENAI = '{"id":"chatcmpl-c1","object":"chat.completion","created":1,"model":"gpt-x",'
    . '"choices":[{"index":0,"message":{"role":"assistant","content":"cached hello"},'
    . '"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}';

our $ANTHROPIC = '{"id":"msg_c1","type":"message","role":"assistant","model":"claude-x",'
    . '"content":[{"type":"text","text":"cached hello"}],"stop_reason":"end_turn",'
    . '"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":7}}';

our $BIG = '{"id":"chatcmpl-big","object":"chat.completion","created":1,"model":"gpt-x",'
    . '"choices":[{"index":0,"message":{"role":"assistant","content":"' . ('0123456789' x 30000)
    . '"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}';

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

=== TEST 1: MISS then HIT, the provider is called once, the same bytes both times
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- response_body eval
[$main::OPENAI, $main::OPENAI]
--- mock_request_count: 1
--- grep_access_log eval: qr/^GW .*/
--- grep_access_log_out
GW 200 cache=MISS in=11 usage=""
GW 200 cache=HIT in=0 usage="input=11 output=7 cached=0 cache_write=0 reasoning=0"



=== TEST 2: Anthropic surface: MISS then HIT, the provider is called once
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::messages(), main::messages()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- response_body eval
[$main::ANTHROPIC, $main::ANTHROPIC]
--- mock_request_count: 1



=== TEST 3: the stored answer is the client's format: an Anthropic client of an OpenAI provider gets its translated answer again on the hit
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::messages('', 'oa-for-anthropic'), main::messages('', 'oa-for-anthropic')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- response_body eval
['{"id":"chatcmpl-c1","type":"message","role":"assistant","model":"gpt-x","content":[{"type":"text","text":"cached hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}' . "\n",
 '{"id":"chatcmpl-c1","type":"message","role":"assistant","model":"gpt-x","content":[{"type":"text","text":"cached hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}' . "\n"]
--- mock_request_count: 1



=== TEST 4: s-maxage wins over max-age: "max-age=0, s-maxage=60" is a 60 s entry, not a refresh
--- more_headers
Content-Type: application/json
Cache-Control: max-age=0, s-maxage=60
--- request eval
[main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- mock_request_count: 1



=== TEST 5: s-maxage wins the other way too: "max-age=60, s-maxage=1" expires after 1 s
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60, s-maxage=1
--- request eval
[main::chat(), main::chat(), main::later(main::chat(), 2.1)]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: EXPIRED"]
--- mock_request_count: 2



=== TEST 6: expiry: max-age=1, then the entry is EXPIRED, fetched again and stored again
--- more_headers
Content-Type: application/json
Cache-Control: max-age=1
--- request eval
[main::chat(), main::chat(), main::later(main::chat(), 2.1), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS\n! Age", "X-AIGW-Cache: HIT", "X-AIGW-Cache: EXPIRED\n! Age", "X-AIGW-Cache: HIT"]
--- response_headers_like eval
["", "Age: [01]", "", "Age: [01]"]
--- mock_request_count: 2



=== TEST 6b: Age counts the seconds since the answer was stored
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(), main::later(main::chat(), 2.1)]
--- response_headers eval
["X-AIGW-Cache: MISS\n! Age", "X-AIGW-Cache: HIT"]
--- response_headers_like eval
["", "Age: [23]"]
--- mock_request_count: 1



=== TEST 7: no-cache skips the lookup and stores the new answer; the next request hits it
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: no-cache, max-age=60",
 "Content-Type: application/json\nCache-Control: max-age=60"]
--- request eval
[main::chat(), main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: BYPASS", "X-AIGW-Cache: HIT"]
--- mock_request_count: 2



=== TEST 8: max-age=0 is a refresh too: no lookup, stored for aigw_cache_max_age
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_max_age 1;
        aigw_pass;
    }
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=0",
 "Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: max-age=60"]
--- request eval
[main::chat(), main::chat(), main::later(main::chat(), 2.1)]
--- response_headers eval
["X-AIGW-Cache: BYPASS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: EXPIRED"]
--- mock_request_count: 2



=== TEST 9: no-store neither reads nor writes
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60",
 "Content-Type: application/json\nCache-Control: no-store, max-age=60",
 "Content-Type: application/json\nCache-Control: no-store",
 "Content-Type: application/json\nCache-Control: max-age=60"]
--- request eval
[main::chat(), main::chat(' ,"temperature":0.5'), main::chat(' ,"temperature":0.5'), main::chat(' ,"temperature":0.5')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: BYPASS", "X-AIGW-Cache: BYPASS", "X-AIGW-Cache: MISS"]
--- mock_request_count: 4



=== TEST 10: nothing asked and no aigw_cache_default: the cache is not involved
--- request eval
[main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: BYPASS", "X-AIGW-Cache: BYPASS"]
--- mock_request_count: 2



=== TEST 11: aigw_cache_default applies when the client sends nothing; the client's own header wins
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_default "max-age=60";
        aigw_pass;
    }
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json\nCache-Control: no-store"]
--- request eval
[main::chat(), main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: BYPASS"]
--- mock_request_count: 2



=== TEST 12: aigw_cache_max_age caps what the client asks for
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_max_age 1s;
        aigw_pass;
    }
--- more_headers
Content-Type: application/json
Cache-Control: max-age=3600
--- request eval
[main::chat(), main::chat(), main::later(main::chat(), 2.1)]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: EXPIRED"]
--- mock_request_count: 2



=== TEST 13: providerOptions.gateway.cacheControl in the body (Vercel's spelling); routing options are not part of the key
--- request eval
[main::chat(',"providerOptions":{"gateway":{"cacheControl":"max-age=60"}}'),
 main::chat(',"providerOptions":{"gateway":{"cacheControl":"max-age=60","order":["oa"]}}')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- mock_request_count: 1



=== TEST 14: every generation parameter is part of the key, stream, user, metadata, stream_options, key order and whitespace are not
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(',"temperature":0.5'),
 main::chat(',"temperature":0.7'),
 main::chat(',"temperature":0.5,"top_p":0.9'),
 main::chat(',"temperature":0.5,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]'),
 main::chat(',"temperature":0.5,"response_format":{"type":"json_object"}'),
 main::chat(',"temperature":0.5', 'claude-x'),
 "POST /v1/chat/completions\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}], \"temperature\" : 0.5,\n \"max_tokens\":20,\"model\":\"gpt-x\",\"user\":\"u2\",\"metadata\":{\"a\":\"b\"}}",
 "POST /v1/chat/completions\n{\"model\":\"gpt-x\",\"max_tokens\":20,\"temperature\":0.5,\"messages\":[{\"role\":\"user\",\"content\":\"h\\u0069\"}]}",
 main::chat(',"temperature":0.5,"stop":["x"]')]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS",
 "X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: HIT",
 "X-AIGW-Cache: MISS"]
--- mock_request_count: 7



=== TEST 15: a provider's Cache-Control, Expires, Set-Cookie and Vary do not decide: the client's request does
--- init
main::mock(headers => ['Cache-Control' => 'no-store, private', 'Expires' => 'Thu, 01 Jan 1970 00:00:00 GMT',
                       'Set-Cookie' => '__cf_bm=x; path=/', 'Vary' => '*', 'X-Accel-Expires' => '0']);
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT\n! Set-Cookie\n! Expires"]
--- mock_request_count: 1



=== TEST 16: only 200 answers are stored: a provider error is passed on and asked again
--- init
main::mock(status => 400);
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(), main::chat()]
--- error_code eval
[400, 400]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS"]
--- mock_request_count: 2



=== TEST 17: scope key (the default): an answer never crosses gateway keys
--- http_config
    aigw_key k1 sk-gw-one;
    aigw_key k2 sk-gw-two;
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-two",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-two"]
--- request eval
[main::chat(), main::chat(), main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: HIT"]
--- mock_request_count: 2



=== TEST 18: scope global shares answers between keys; scope user separates users
--- http_config
    aigw_key k1 sk-gw-one;
    aigw_key k2 sk-gw-two;
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_scope global;
        aigw_pass;
    }
    location /u/ {
        rewrite ^/u(/.*) $1 break;
        aigw_cache llm;
        aigw_cache_scope user;
        aigw_pass;
    }
--- more_headers eval
["Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-two",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-two",
 "Content-Type: application/json\nCache-Control: max-age=60\nAuthorization: Bearer sk-gw-one"]
--- request eval
[main::chat(),
 main::chat(),
 "POST /u/v1/chat/completions\n{\"model\":\"gpt-x\",\"user\":\"alice\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /u/v1/chat/completions\n{\"model\":\"gpt-x\",\"user\":\"bob\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
 "POST /u/v1/chat/completions\n{\"model\":\"gpt-x\",\"user\":\"bob\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT", "X-AIGW-Cache: MISS", "X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- mock_request_count: 3



=== TEST 19: stale-if-error: every provider fails (503 from both, then both hang up) and the stale answer is served
--- http_config
    aigw_provider oa2 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-oa2;
    aigw_model two oa:gpt-x oa2:gpt-x;
    aigw_health cooldown=0;
--- more_headers
Content-Type: application/json
Cache-Control: max-age=1, stale-if-error=60
--- request eval
[main::chat('', 'two'),
 main::later(main::chat(',"user":"fail"', 'two'), 2.1),
 main::chat(',"user":"hangup"', 'two'),
 main::chat(',"user":"fail"', 'gpt-x')]
--- error_code eval
[200, 200, 200, 503]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: STALE", "X-AIGW-Cache: STALE", "X-AIGW-Cache: MISS"]
--- response_body eval
[$main::OPENAI, $main::OPENAI, $main::OPENAI, qr/"down"/]
--- mock_request_count: 6
--- ignore_error_log



=== TEST 20: a large answer (300 KB, more than the pipe's buffers) is stored whole and served whole, with the default use_temp_path
--- http_config
    aigw_cache_path cache2 keys_zone=big:1m;
--- config
    location /v1/ {
        aigw_cache big;
        aigw_pass;
    }
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => sub {
    return { status => 200, headers => ['Content-Type' => 'application/json'], body => $main::BIG };
});
--- more_headers
Content-Type: application/json
Cache-Control: max-age=60
--- request eval
[main::chat(), main::chat()]
--- response_headers eval
["X-AIGW-Cache: MISS", "X-AIGW-Cache: HIT"]
--- response_body_filters: md5_hex
--- response_body eval
[Digest::MD5::md5_hex($main::BIG), Digest::MD5::md5_hex($main::BIG)]
--- mock_request_count: 1



=== TEST 21: nginx -t: aigw_cache naming a zone no aigw_cache_path declares
--- config
    location /v1/ {
        aigw_cache nosuch;
        aigw_pass;
    }
--- init
--- must_die
--- suppress_stderr
--- error_log
[emerg]
zero size shared memory zone "nosuch"



=== TEST 22: nginx -t: an invalid aigw_cache_default
--- config
    location /v1/ {
        aigw_cache llm;
        aigw_cache_default "max-age=soon";
        aigw_pass;
    }
--- init
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid "aigw_cache_default" value "max-age=soon"
