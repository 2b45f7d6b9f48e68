# Bounded memory per request (README "Memory per request"): a body of tiny
# JSON values costs a bounded tape (aigw_max_json_tokens, a 413 in the
# client's shape beyond it), the translated body is built once and not per
# try, and a provider's Content-Length does not reserve memory ahead of the
# bytes.  The peak memory of the worker is read from /proc after the
# requests (t/fixtures/memory/peak.pl); the limits are the documented
# bound, K x body + C, for the body of each block.  Under `make sanitize`
# the allocator keeps freed memory, so the peaks are not checked there.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

our $San = ($ENV{TEST_NGINX_BINARY} // '') =~ /objs-san/ ? 1 : 0;

# {"model":...,"messages":[...],"tools":[...{"parameters":{..."enum":[0,0,...]}}]}:
# a tool schema, which a translation records to the last value

sub tiny {
    my ($model, $n) = @_;
    return '{"model":"' . $model . '","messages":[{"role":"user","content":"x"}],'
        . '"tools":[{"type":"function","function":{"name":"f","parameters":'
        . '{"type":"object","properties":{"a":{"type":"integer","enum":['
        . ('0,' x ($n - 1)) . '0]}}}}}]}';
}

sub big_text {
    my ($model, $len) = @_;
    return '{"model":"' . $model . '","messages":[{"role":"user","content":"'
        . ('x' x $len) . '"}]}';
}

our $Anthropic = '{"id":"msg_1","type":"message","role":"assistant","model":"claude",'
    . '"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn",'
    . '"usage":{"input_tokens":1,"output_tokens":1}}';

our $OpenAI = '{"id":"c1","object":"chat.completion","created":1,"model":"gpt",'
    . '"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    . '"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}';

# the peak check, or nothing under the sanitizer

sub peak {
    my ($field, $mb) = @_;
    return $San ? 'true' : "perl t/fixtures/memory/peak.pl $field " . int($mb * 1024);
}

# the documented bound for a body of $mb MB at the default
# aigw_max_json_tokens (4 x body + 128 bytes x 250000), plus 8 MB for the
# idle worker

sub bound {
    my $mb = shift;
    return peak('VmHWM', 4 * $mb + 32 + 8);
}

sub msgs {
    my ($model, $n) = @_;
    return '{"model":"' . $model . '","messages":['
        . join(',', ('{"role":"user","content":"a"}') x $n) . ']}';
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<"_EOC_" . ($block->http_config // ''));
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        access_log off;
        client_max_body_size 64m;
        default_type application/json;
        location /anthropic/v1/messages { return 200 '$Anthropic'; }
        location /openai/v1/chat/completions { return 200 '$OpenAI'; }
    }

    aigw_provider ant format=anthropic url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/anthropic key=k;
    aigw_provider oai format=openai url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/openai/v1 key=k;
    aigw_model claude ant:claude-x;
    aigw_model gpt oai:gpt-x;
_EOC_

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ {
        client_max_body_size    64m;
        client_body_buffer_size 64m;
        aigw_pass;
    }
_EOC_
    }

    $block->set_value('timeout', 60) unless defined $block->timeout;
    $block->set_value('more_headers', "Content-Type: application/json")
        unless defined $block->more_headers;
});

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: 32 MB of tiny values translated to an Anthropic provider: 413 in OpenAI's shape, the worker stays within the bound
--- request eval
"POST /v1/chat/completions\n" . main::tiny('claude', 16 * 1024 * 1024)
--- error_code: 413
--- response_json
{"error": {"message": "~/too many JSON values \\(more than 250000, aigw_max_json_tokens\\)/"}}
--- client_cmd eval
main::bound(32)
--- error_log
more than 250000 JSON values
--- no_error_log
[alert]
[crit]


=== TEST 2: the same through the Anthropic surface to an OpenAI provider: 413 in Anthropic's shape
--- request eval
"POST /v1/messages\n" . main::tiny('gpt', 16 * 1024 * 1024) =~ s/"messages"/"max_tokens":10,"messages"/r
--- error_code: 413
--- response_json
{"type": "error", "error": {"type": "request_too_large",
                            "message": "~/too many JSON values/"}}
--- client_cmd eval
main::bound(32)
--- no_error_log
[alert]
[crit]


=== TEST 3: a tool schema of 240,000 values, under the cap, is translated and served within the bound
--- request eval
"POST /v1/chat/completions\n" . main::tiny('claude', 240000)
--- error_code: 200
--- response_json
{"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
--- client_cmd eval
main::bound(0.5)
--- no_error_log
[alert]
[crit]


=== TEST 4: aigw_max_json_tokens lowers the cap; a passthrough records only the top level, so it is not refused, and targets of the client's format still take what is too large to translate
--- config
    location /v1/ {
        client_max_body_size    64m;
        client_body_buffer_size 64m;
        aigw_max_json_tokens    1000;
        aigw_pass;
    }
--- http_config
    aigw_model both ant:claude-x oai:gpt-x;
    aigw_model both2 oai:gpt-x ant:claude-x;
--- request eval
["POST /v1/chat/completions\n" . main::tiny('claude', 2000),
 "POST /v1/chat/completions\n" . main::tiny('gpt', 2000),
 "POST /v1/chat/completions\n" . main::tiny('both', 2000),
 "POST /v1/chat/completions\n" . main::tiny('both2', 2000)]
--- error_code eval
[413, 200, 200, 200]
--- response_headers eval
["", "X-AIGW-Attempts: oai:200", "X-AIGW-Attempts: oai:200", "X-AIGW-Attempts: oai:200"]
--- response_json eval
[{error => {message => '~/more than 1000, aigw_max_json_tokens/'}},
 ({choices => [{message => {content => 'ok'}}]}) x 3]
--- error_log
providers of other formats are left out: too many JSON values


=== TEST 5: 32 MB of one string translated: served within the bound
--- request eval
"POST /v1/chat/completions\n" . main::big_text('claude', 32 * 1024 * 1024)
--- error_code: 200
--- response_json
{"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
--- client_cmd eval
main::bound(32)


=== TEST 5b: 49,990 messages (249,951 values, at the cap): the canonical form is the costliest per value, still within the bound
--- request eval
"POST /v1/chat/completions\n" . main::msgs('claude', 49990)
--- error_code: 200
--- response_json
{"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
--- client_cmd eval
main::bound(1.5)
--- no_error_log
[alert]
[crit]


=== TEST 6: aigw_max_json_tokens below 64 is a configuration error
--- config
    location /v1/ { aigw_max_json_tokens 10; aigw_pass; }
--- must_die
--- error_log
"aigw_max_json_tokens" must be at least 64


=== TEST 7: a translated body is built once for the tries that send the same bytes: four tries of a 16 MB body stay under 3 x body + 32 MB
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        client_max_body_size 64m;
        default_type application/json;
        location / { return 503 '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'; }
    }

    aigw_provider a1 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/a1 key=k;
    aigw_provider a2 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/a2 key=k;
    aigw_provider a3 format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/a3 key=k;
    aigw_model four a1:claude-x a2:claude-x a3:claude-x ant:claude-x;
--- request eval
"POST /v1/chat/completions\n" . main::big_text('four', 16 * 1024 * 1024)
--- error_code: 200
--- response_headers
X-AIGW-Attempts: a1:503,a2:503,a3:503,ant:200
--- response_json
{"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
--- client_cmd eval
main::peak('VmHWM', 3 * 16 + 32)
--- no_error_log
[alert]
[crit]


=== TEST 8: a provider announcing Content-Length: 1000000000 over aigw_max_response_size: refused before a byte is kept, a 502 in the client's shape
--- config
    location /v1/ {
        aigw_max_response_size 1m;
        aigw_pass;
    }
--- http_config
    aigw_provider big format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model huge big:x;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"id\""
--- request
POST /v1/chat/completions
{"model":"huge","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_json
{"error": {"message": "<ANY>"}}
--- client_cmd eval
main::peak('VmPeak', 64)
--- error_log
a response over aigw_max_response_size
--- no_error_log
[alert]
[crit]


=== TEST 9: a provider announcing 400 MB under aigw_max_response_size that sends 5 bytes and closes: no 400 MB reserved (peak address space)
--- config
    location /v1/ {
        aigw_max_response_size 512m;
        aigw_pass;
    }
--- http_config
    aigw_provider big format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/v1 key=k;
    aigw_model huge big:x;
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_query_auto_timeout: 50ms
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400000000\r\n\r\n{\"id\""
--- request
POST /v1/chat/completions
{"model":"huge","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_json
{"error": {"message": "<ANY>"}}
--- client_cmd eval
main::peak('VmPeak', 100)
--- no_error_log
[alert]
[crit]


=== TEST 10: the values of providerOptions and stream_options, scanned apart, count against aigw_max_json_tokens too
--- config
    location /v1/ {
        client_max_body_size    64m;
        client_body_buffer_size 64m;
        aigw_max_json_tokens    1000;
        aigw_pass;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"gpt","messages":[{"role":"user","content":"x"}],"providerOptions":{"x":['
     . ('0,' x 2000) . '0]}}',
 "POST /v1/chat/completions\n" . '{"model":"gpt","messages":[{"role":"user","content":"x"}],"stream_options":{'
     . CORE::join(',', map { "\"k$_\":0" } 1 .. 1000) . '}}']
--- error_code eval
[413, 400]
--- response_json eval
[{error => {message => '~/more than 1000, aigw_max_json_tokens/'}},
 {error => {message => '"stream_options" has too many members'}}]
--- no_error_log
[alert]
[crit]
