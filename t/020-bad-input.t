# Bad input on both client surfaces (project issue 3, item 9).
#
# Every rejected request must get the right status and a clear message in
# the surface's own error shape (OpenAI: {"error":{"message","type","param",
# "code"}}, Anthropic: {"type":"error","error":{"type","message"}}), must
# never reach the provider, and must leave no [alert]/[crit]/crash (strict
# scan) and no leaked connection behind.
#
# Defaults added by the block preprocessor below, unless a block sets them:
#   http_config           the mock provider (logs "MOCK ..." lines into
#                         logs/access.log) + providers po (openai), pa
#                         (anthropic) + models oa/gpt and an/claude
#   config                location /v1/ { aigw_pass; }
#   more_headers          Content-Type: application/json
#   no_access_log         MOCK  (the provider was not called), unless the
#                         block checks the access log itself
#   no_shutdown_error_log open socket

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# request helpers (the eval sections run in another package: call as ::oa)

sub oa { "POST /v1/chat/completions\n$_[0]" }
sub an { "POST /v1/messages\n$_[0]" }

# the two error shapes; the message is a regex, param/code must be present

sub oa_err {
    my ($re, $type) = @_;
    return { error => { message => "~/$re/",
                        type => $type // 'invalid_request_error',
                        param => '<ANY>', code => '<ANY>' } };
}

sub an_err {
    my ($re, $type) = @_;
    return { type => 'error',
             error => { type => $type // 'invalid_request_error',
                        message => "~/$re/" } };
}

# valid bodies, and the same with one more member

our $OA_OK = '{"model":"oa/gpt","messages":[{"role":"user","content":"hi"}]}';
our $AN_OK = '{"model":"an/claude","max_tokens":16,'
             . '"messages":[{"role":"user","content":"hi"}]}';

sub oa_with { my $m = shift; "POST /v1/chat/completions\n"
    . '{"model":"oa/gpt","messages":[{"role":"user","content":"hi"}],'
    . $m . '}' }
sub an_with { my $m = shift; "POST /v1/messages\n"
    . '{"model":"an/claude","max_tokens":16,'
    . '"messages":[{"role":"user","content":"hi"}],' . $m . '}' }

# a message whose content is the given raw string bytes

sub oa_content { "POST /v1/chat/completions\n"
    . '{"model":"oa/gpt","messages":[{"role":"user","content":"'
    . $_[0] . '"}]}' }
sub an_content { "POST /v1/messages\n"
    . '{"model":"an/claude","max_tokens":16,"messages":[{"role":"user",'
    . '"content":"' . $_[0] . '"}]}' }

my $mock = <<'EOF';
    log_format mock 'MOCK $request_method $request_uri $content_length '
                    'c=$request_completion';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        client_max_body_size 10m;
        default_type application/json;

        location /v1/chat/completions {
            return 200 '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';
        }

        location /v1/messages {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}';
        }
    }

    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-po;
    aigw_provider pa format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=sk-pa;
    aigw_model oa/gpt po:gpt-4o;
    aigw_model an/claude pa:claude-x;
EOF

add_block_preprocessor(sub {
    my $block = shift;
    my $has = sub { exists $block->{$_[0]} };

    $block->set_value('http_config', $mock) unless $has->('http_config');
    $block->set_value('config', "    location /v1/ { aigw_pass; }\n")
        unless $has->('config');
    $block->set_value('more_headers', "Content-Type: application/json\n")
        unless $has->('more_headers') || $has->('raw_request');
    $block->set_value('no_access_log', "MOCK\n")
        unless $has->('access_log') || $has->('no_access_log')
               || $has->('grep_access_log');
    $block->set_value('no_shutdown_error_log', "open socket\n")
        unless $has->('no_shutdown_error_log');
});

run_tests();

__DATA__

=== TEST 1: malformed JSON of several kinds
--- request eval
[::oa('{"model" "oa/gpt"}'),
 ::an('{model:"an/claude"}'),
 ::oa(q[{'model':'oa/gpt'}]),
 ::an('{"model":"an/claude",}'),
 ::oa('{"model":"oa/gpt" "messages":[]}'),
 ::an('{"model":"an/claude","max_tokens":016}'),
 ::oa('{"model":"oa/gpt","temperature":NaN}'),
 ::an('{"model":"an/claude","stream":tru}'),
 ::oa("\xef\xbb\xbf" . $main::OA_OK)]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body is not valid JSON: expected ":" after object key at byte 9$'),
 ::an_err('^the request body is not valid JSON: object key must be a string at byte 1$'),
 ::oa_err('not valid JSON: object key must be a string at byte 1$'),
 ::an_err('not valid JSON: object key must be a string at byte 21$'),
 ::oa_err('not valid JSON: expected "," or "}" at byte 18$'),
 ::an_err('not valid JSON: expected "," or "}" at byte 35$'),
 ::oa_err('not valid JSON: unexpected character at byte 32$'),
 ::an_err('not valid JSON: invalid literal at byte 30$'),
 ::oa_err('not valid JSON: unexpected character at byte 0$')]



=== TEST 2: truncated JSON
--- request eval
[::oa('{"model":"oa/gpt","messages":[{"role":"user","content":"hi"}'),
 ::an('{"model":"an/claude","max_tokens":16,"messages":[{"role":"user"'),
 ::oa('{"model":"oa/g'),
 ::an('{"model":"an/claude","max_tokens":'),
 ::oa('{"model":"oa/gpt","temperature":1.'),
 ::an('{"model":"an/claude","messages":[{"role":"user","content":"a\\')]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('not valid JSON: unexpected end of data at byte \d+$'),
 ::an_err('not valid JSON: unexpected end of data at byte \d+$'),
 ::oa_err('not valid JSON: unterminated string at byte 9$'),
 ::an_err('not valid JSON: unexpected end of data at byte 34$'),
 ::oa_err('not valid JSON: invalid number at byte 32$'),
 ::an_err('not valid JSON: unterminated string at byte 58$')]



=== TEST 3: trailing garbage after the object
--- request eval
[::oa($main::OA_OK . ' x'),
 ::an($main::AN_OK . '}'),
 ::oa($main::OA_OK . $main::OA_OK),
 ::an($main::AN_OK . "\n\0")]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('not valid JSON: unexpected data after the value at byte 63$'),
 ::an_err('not valid JSON: unexpected data after the value at byte 81$'),
 ::oa_err('not valid JSON: unexpected data after the value at byte 62$'),
 ::an_err('not valid JSON: unexpected data after the value at byte 82$')]



=== TEST 4: top-level array, string, number, literal
--- request eval
[::oa('[' . $main::OA_OK . ']'),
 ::an('[' . $main::AN_OK . ']'),
 ::oa('"model"'),
 ::an('42'),
 ::oa('null'),
 ::an('true')]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body must be a JSON object$'),
 ::an_err('^the request body must be a JSON object$'),
 ::oa_err('^the request body must be a JSON object$'),
 ::an_err('^the request body must be a JSON object$'),
 ::oa_err('^the request body must be a JSON object$'),
 ::an_err('^the request body must be a JSON object$')]



=== TEST 5: empty body, without and with Content-Length: 0
--- request eval
["POST /v1/chat/completions", "POST /v1/messages",
 "POST /v1/chat/completions", "POST /v1/messages/count_tokens"]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json",
 "Content-Type: application/json\nContent-Length: 0",
 "Content-Type: application/json\nContent-Length: 0"]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body is empty: send a JSON object$'),
 ::an_err('^the request body is empty: send a JSON object$'),
 ::oa_err('^the request body is empty: send a JSON object$'),
 ::an_err('^the request body is empty: send a JSON object$')]



=== TEST 6: whitespace-only body
--- raw_request eval
my $h = "Host: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n";
["POST /v1/chat/completions HTTP/1.1\r\n$h" . "Content-Length: 6\r\n\r\n"
 . " \r\n\t \n"]
--- error_code: 400
--- response_json eval
::oa_err('^the request body is empty: send a JSON object$')



=== TEST 7: whitespace-only body on /v1/messages
--- raw_request eval
my $h = "Host: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n";
["POST /v1/messages HTTP/1.1\r\n$h" . "Content-Length: 3\r\n\r\n   "]
--- error_code: 400
--- response_json eval
::an_err('^the request body is empty: send a JSON object$')



=== TEST 8: "model" of the wrong type
--- request eval
[::oa('{"model":42,"messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":["an/claude"],"max_tokens":16,"messages":[]}'),
 ::oa('{"model":null,"messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":{"id":"an/claude"},"max_tokens":16}')]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^"model" must be a string$'),
 ::an_err('^"model" must be a string$'),
 ::oa_err('^"model" must be a string$'),
 ::an_err('^"model" must be a string$')]



=== TEST 9: "messages" not an array
--- request eval
[::oa('{"model":"oa/gpt","messages":"hi"}'),
 ::an('{"model":"an/claude","max_tokens":16,"messages":{"role":"user"}}'),
 ::oa('{"model":"oa/gpt","messages":{"role":"user","content":"hi"}}'),
 ::an('{"model":"an/claude","max_tokens":16,"messages":1}')]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^"messages" must be an array$'),
 ::an_err('^messages: Input should be an array$'),
 ::oa_err('^"messages" must be an array$'),
 ::an_err('^messages: Input should be an array$')]



=== TEST 10: "stream" not a boolean
--- request eval
[::oa_with('"stream":"true"'), ::an_with('"stream":1'),
 ::oa_with('"stream":{}'), ::an_with('"stream":"false"')]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^"stream" must be a boolean$'),
 ::an_err('^"stream" must be a boolean$'),
 ::oa_err('^"stream" must be a boolean$'),
 ::an_err('^"stream" must be a boolean$')]



=== TEST 11: "max_tokens" float or string
--- request eval
[::oa_with('"max_tokens":1.5'),
 ::an('{"model":"an/claude","max_tokens":16.5,"messages":[{"role":"user","content":"hi"}]}'),
 ::oa_with('"max_tokens":"16"'),
 ::an('{"model":"an/claude","max_tokens":"16","messages":[{"role":"user","content":"hi"}]}'),
 ::oa_with('"max_completion_tokens":1e3'),
 ::an('{"model":"an/claude","max_tokens":true,"messages":[{"role":"user","content":"hi"}]}')]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^"max_tokens" must be an integer$'),
 ::an_err('^max_tokens: Input should be an integer$'),
 ::oa_err('^"max_tokens" must be an integer$'),
 ::an_err('^max_tokens: Input should be an integer$'),
 ::oa_err('^"max_completion_tokens" must be an integer$'),
 ::an_err('^max_tokens: Input should be an integer$')]



=== TEST 12: "temperature" a string, "tools" an object
--- request eval
[::oa_with('"temperature":"0.7"'), ::an_with('"temperature":"hot"'),
 ::oa_with('"tools":{"type":"function"}'),
 ::an_with('"tools":{"name":"get_weather","input_schema":{}}'),
 ::oa_with('"top_p":[1]'), ::an_with('"top_k":2.5')]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^"temperature" must be a number$'),
 ::an_err('^temperature: Input should be a number$'),
 ::oa_err('^"tools" must be an array$'),
 ::an_err('^tools: Input should be an array$'),
 ::oa_err('^"top_p" must be a number$'),
 ::an_err('^top_k: Input should be an integer$')]



=== TEST 13: "stream_options" and its include_usage of the wrong type
--- request eval
[::oa_with('"stream":true,"stream_options":{"include_usage":"yes"}'),
 ::oa_with('"stream":true,"stream_options":{"include_usage":1}'),
 ::oa_with('"stream":true,"stream_options":true')]
--- error_code eval
[400, 400, 400]
--- response_json eval
[::oa_err('^"stream_options.include_usage" must be a boolean$'),
 ::oa_err('^"stream_options.include_usage" must be a boolean$'),
 ::oa_err('^"stream_options" must be an object$')]



=== TEST 14: "providerOptions" not an object
--- request eval
[::oa_with('"providerOptions":"gateway"'),
 ::an_with('"providerOptions":[{"gateway":{}}]'),
 ::oa_with('"providerOptions":{"gateway":"po"}'),
 ::an_with('"providerOptions":{"gateway":[]}')]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^"providerOptions" must be an object$'),
 ::an_err('^"providerOptions" must be an object$'),
 ::oa_err('^"providerOptions.gateway" must be an object$'),
 ::an_err('^"providerOptions.gateway" must be an object$')]



=== TEST 15: providerOptions.gateway.order (and only, models, user, tags) of the wrong type
--- request eval
[::oa_with('"providerOptions":{"gateway":{"order":"po"}}'),
 ::an_with('"providerOptions":{"gateway":{"order":["pa",1]}}'),
 ::oa_with('"providerOptions":{"gateway":{"order":[["po"]]}}'),
 ::an_with('"providerOptions":{"gateway":{"only":{"pa":true}}}'),
 ::oa_with('"providerOptions":{"gateway":{"models":[null]}}'),
 ::an_with('"providerOptions":{"gateway":{"user":7}}'),
 ::oa_with('"providerOptions":{"gateway":{"tags":"team:a"}}')]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^"providerOptions.gateway.order" must be an array of strings$'),
 ::an_err('^"providerOptions.gateway.order" must be an array of strings$'),
 ::oa_err('^"providerOptions.gateway.order" must be an array of strings$'),
 ::an_err('^"providerOptions.gateway.only" must be an array of strings$'),
 ::oa_err('^"providerOptions.gateway.models" must be an array of strings$'),
 ::an_err('^"providerOptions.gateway.user" must be a string$'),
 ::oa_err('^"providerOptions.gateway.tags" must be an array of strings$')]



=== TEST 16: missing or empty "model"
--- request eval
[::oa('{"messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'),
 ::oa('{"model":"","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'),
 ::oa('{}')]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^missing required field "model"$'),
 ::an_err('^missing required field "model"$'),
 ::oa_err('^"model" must not be empty$'),
 ::an_err('^"model" must not be empty$'),
 ::oa_err('^missing required field "model"$')]



=== TEST 17: missing or empty "messages"
--- request eval
[::oa('{"model":"oa/gpt"}'),
 ::an('{"model":"an/claude","max_tokens":16}'),
 ::oa('{"model":"oa/gpt","messages":[]}'),
 ::an('{"model":"an/claude","max_tokens":16,"messages":[]}'),
 ::oa('{"model":"oa/gpt","messages":null}')]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^missing required field "messages"$'),
 ::an_err('^messages: Field required$'),
 ::oa_err('^"messages" must not be empty$'),
 ::an_err('^messages: at least one message is required$'),
 ::oa_err('^missing required field "messages"$')]



=== TEST 18: missing or null "max_tokens" on /v1/messages
--- request eval
[::an('{"model":"an/claude","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"an/claude","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}')]
--- error_code eval
[400, 400]
--- response_json eval
[::an_err('^max_tokens: Field required$'),
 ::an_err('^max_tokens: Field required$')]



=== TEST 19: nesting deeper than the limit inside a message
--- request eval
[::oa('{"model":"oa/gpt","messages":[{"role":"user","content":'
      . ('[' x 200) . (']' x 200) . '}]}'),
 ::an('{"model":"an/claude","max_tokens":16,"messages":[{"role":"user",'
      . '"content":' . ('{"a":' x 200) . '1' . ('}' x 200) . '}]}')]
--- error_code eval
[400, 400]
--- response_json eval
[::oa_err('^the request body is not valid JSON: nesting is deeper than 128 levels at byte 180$'),
 ::an_err('^the request body is not valid JSON: nesting is deeper than 128 levels at byte 699$')]



=== TEST 20: a 2 MB string is accepted and reaches the provider (in memory, and through a temp file)
--- config
    location /v1/chat/ {
        client_body_buffer_size 4m;
        aigw_pass;
    }
    location /v1/ { aigw_pass; }
--- request eval
[::oa_content('x' x (2 * 1024 * 1024)),
 ::an_content('y' x (2 * 1024 * 1024))]
--- error_code eval
[200, 200]
--- response_json eval
[{object => 'chat.completion',
  choices => [{message => {role => 'assistant', content => 'ok'}}]},
 {type => 'message', content => [{type => 'text', text => 'ok'}]}]
--- grep_access_log eval
qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK POST /v1/chat/completions 2097\d{3} c=OK\nMOCK POST /v1/messages 2097\d{3} c=OK\n\z}
--- error_log eval
qr{a client request body is buffered to a temporary file .* request: "POST /v1/messages }
--- no_error_log eval
qr{a client request body is buffered to a temporary file .* request: "POST /v1/chat/completions }



=== TEST 21: invalid UTF-8 (raw bytes, overlong encodings, surrogates, beyond U+10FFFF, truncated)
--- request eval
[::oa_content("a\xffb"),
 ::an_content("a\xc0\xafb"),
 ::oa_content("a\xe0\x80\xafb"),
 ::an_content("a\xed\xa0\x80b"),
 ::oa_content("a\xf4\x90\x80\x80b"),
 ::an_content("a\xe2\x82"),
 ::oa_content("\x80"),
 ::an_content("a\xf0\x9f\x98\x80\xedb")]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body is not valid JSON: invalid UTF-8 in string at byte 57$'),
 ::an_err('^the request body is not valid JSON: invalid UTF-8 in string at byte 76$'),
 ::oa_err('not valid JSON: invalid UTF-8 in string at byte 57$'),
 ::an_err('not valid JSON: invalid UTF-8 in string at byte 76$'),
 ::oa_err('not valid JSON: invalid UTF-8 in string at byte 57$'),
 ::an_err('not valid JSON: invalid UTF-8 in string at byte 76$'),
 ::oa_err('not valid JSON: invalid UTF-8 in string at byte 56$'),
 ::an_err('not valid JSON: invalid UTF-8 in string at byte 80$')]



=== TEST 22: raw NUL and control bytes inside a string are rejected
--- request eval
[::oa_content("a\0b"), ::an_content("a\0b"),
 ::oa_content("a\nb"), ::an_content("a\x1fb")]
--- error_code eval
[400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body is not valid JSON: control character in string at byte 57$'),
 ::an_err('^the request body is not valid JSON: control character in string at byte 76$'),
 ::oa_err('not valid JSON: control character in string at byte 57$'),
 ::an_err('not valid JSON: control character in string at byte 76$')]



=== TEST 23: the escape \u0000 (and valid UTF-8) is accepted and reaches the provider
--- request eval
[::oa_content('a\u0000b \u00e9 ' . "\xc3\xa9 \xf0\x9f\x98\x80"),
 ::an_content('a\u0000b \ud83d\ude00')]
--- error_code eval
[200, 200]
--- response_json eval
[{object => 'chat.completion'}, {type => 'message'}]
--- grep_access_log eval
qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK POST /v1/chat/completions \d+ c=OK\nMOCK POST /v1/messages \d+ c=OK\n\z}



=== TEST 24: invalid escapes
--- request eval
[::oa_content('a\xb'), ::an_content('a\u12"'),
 ::oa_content('\u12G4'), ::an_content(q{a\'b}),
 ::oa('{"mod\el":"oa/gpt"}')]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^the request body is not valid JSON: invalid escape in string at byte 57$'),
 ::an_err('^the request body is not valid JSON: invalid \\\\u escape in string at byte 76$'),
 ::oa_err('not valid JSON: invalid \\\\u escape in string at byte 56$'),
 ::an_err('not valid JSON: invalid escape in string at byte 76$'),
 ::oa_err('not valid JSON: invalid escape in string at byte 5$')]



=== TEST 25: duplicate keys, also through an escaped key
--- request eval
[::oa('{"model":"oa/gpt","model":"an/claude","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"an/claude","max_tokens":16,"mod\u0065l":"oa/gpt","messages":[{"role":"user","content":"hi"}]}'),
 ::oa('{"\u006dodel":"oa/gpt","model":"oa/gpt","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"an/claude","max_tokens":16,"max_tokens":100000,"messages":[{"role":"user","content":"hi"}]}'),
 ::oa_with('"stream":false,"stream":true'),
 ::an_with('"providerOptions":{},"provider\u004fptions":{"gateway":{"order":["x"]}}'),
 ::oa_with('"providerOptions":{"gateway":{},"gateway":{"only":["x"]}}'),
 ::oa_with('"messages":[]')]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400]
--- response_json eval
[::oa_err('^duplicate field "model"$'),
 ::an_err('^duplicate field "model"$'),
 ::oa_err('^duplicate field "model"$'),
 ::an_err('^duplicate field "max_tokens"$'),
 ::oa_err('^duplicate field "stream"$'),
 ::an_err('^duplicate field "providerOptions"$'),
 ::oa_err('^duplicate field "providerOptions.gateway"$'),
 ::oa_err('^duplicate field "messages"$')]



=== TEST 26: unknown model -> 404 model_not_found
--- request eval
[::oa('{"model":"nope/gpt-9","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"claude-nope","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'),
 "POST /v1/messages/count_tokens\n"
 . '{"model":"claude-nope","messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[404, 404, 404]
--- response_json eval
[{error => {message => '~/^model "nope\/gpt-9" is not configured on this gateway; GET \/v1\/models lists the models it serves$/',
            type => 'not_found_error', param => 'model',
            code => 'model_not_found'}},
 ::an_err('^model "claude-nope" is not configured on this gateway; GET /v1/models', 'not_found_error'),
 ::an_err('^model "claude-nope" is not configured', 'not_found_error')]



=== TEST 27: wrong Content-Type -> 415
--- request eval
[::oa($main::OA_OK), ::an($main::AN_OK), ::oa($main::OA_OK),
 ::an($main::AN_OK)]
--- more_headers eval
["Content-Type: text/plain",
 "Content-Type: application/x-www-form-urlencoded",
 "Content-Type: multipart/form-data; boundary=x",
 "Content-Type: application/jsonx"]
--- error_code eval
[415, 415, 415, 415]
--- response_json eval
[::oa_err('^unsupported Content-Type "text/plain": send the request as application/json$'),
 ::an_err('^unsupported Content-Type "application/x-www-form-urlencoded": send the request as application/json$'),
 ::oa_err('^unsupported Content-Type "multipart/form-data; boundary=x"'),
 ::an_err('^unsupported Content-Type "application/jsonx"')]



=== TEST 28: body over client_max_body_size (Content-Length) -> 413 JSON
--- config
    location /v1/ {
        client_max_body_size 1k;
        aigw_pass;
    }
--- request eval
[::oa_content('x' x 2000), ::an_content('x' x 2000),
 "POST /v1/messages/count_tokens\n" . '{"model":"an/claude","messages":[{"role":"user","content":"'
 . ('z' x 2000) . '"}]}']
--- error_code eval
[413, 413, 413]
--- response_json eval
[::oa_err('^request body is too large: the limit is set by client_max_body_size$', 'request_too_large'),
 ::an_err('^request body is too large: the limit is set by client_max_body_size$', 'request_too_large'),
 ::an_err('^request body is too large', 'request_too_large')]
--- error_log
client intended to send too large body



=== TEST 29: chunked body over client_max_body_size -> 413 JSON
--- config
    location /v1/ {
        client_max_body_size 1k;
        aigw_pass;
    }
--- raw_request eval
my $b = '{"model":"oa/gpt","messages":[{"role":"user","content":"'
        . ('x' x 2000) . '"}]}';
["POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
 . "Connection: close\r\nContent-Type: application/json\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n"
 . sprintf("%x\r\n", 600) . substr($b, 0, 600) . "\r\n",
 {value => sprintf("%x\r\n", length($b) - 600) . substr($b, 600) . "\r\n0\r\n\r\n",
  delay_before => 0.05}]
--- error_code: 413
--- response_json eval
::oa_err('^request body is too large: the limit is set by client_max_body_size$', 'request_too_large')
--- error_log
client intended to send too large chunked body



=== TEST 30: chunked body over client_max_body_size on /v1/messages
--- config
    location /v1/ {
        client_max_body_size 1k;
        aigw_pass;
    }
--- raw_request eval
my $b = '{"model":"an/claude","max_tokens":16,"messages":[{"role":"user","content":"'
        . ('x' x 2000) . '"}]}';
["POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
 . "Connection: close\r\nContent-Type: application/json\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n"
 . sprintf("%x\r\n", length $b) . $b . "\r\n0\r\n\r\n"]
--- error_code: 413
--- response_json eval
::an_err('^request body is too large: the limit is set by client_max_body_size$', 'request_too_large')



=== TEST 31: a valid body sent slowly in pieces succeeds (Content-Length and chunked)
--- request eval
[[::oa('{"model":"oa/gpt",'),
  {value => '"messages":[{"role":"user",', delay_before => 0.1},
  {value => '"content":"hi"}]}', delay_before => 0.1}],
 [::an('{"model":"an/claude","max_tokens":16,'),
  {value => '"messages":[{"role":"user","content":"hi"}]}', delay_before => 0.1}]]
--- error_code eval
[200, 200]
--- response_json eval
[{object => 'chat.completion'}, {type => 'message'}]
--- grep_access_log eval
qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK POST /v1/chat/completions \d+ c=OK\nMOCK POST /v1/messages \d+ c=OK\n\z}



=== TEST 32: a valid chunked body sent slowly in pieces succeeds
--- raw_request eval
my $b = '{"model":"oa/gpt","messages":[{"role":"user","content":"hi"}]}';
["POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
 . "Connection: close\r\nContent-Type: application/json\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n"
 . sprintf("%x\r\n", 10) . substr($b, 0, 10) . "\r\n",
 {value => sprintf("%x\r\n", length($b) - 10), delay_before => 0.1},
 {value => substr($b, 10) . "\r\n", delay_before => 0.1},
 {value => "0\r\n\r\n", delay_before => 0.1}]
--- error_code: 200
--- response_json
{"object":"chat.completion","choices":[{"message":{"content":"ok"}}]}
--- access_log
MOCK POST /v1/chat/completions



=== TEST 33: a body that stops coming times out (client_body_timeout), no crash
--- config
    location /v1/ {
        client_body_timeout 200ms;
        aigw_pass;
    }
--- raw_request eval
["POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
 . "Connection: close\r\nContent-Type: application/json\r\n"
 . "Content-Length: 100\r\n\r\n" . '{"model":"oa/gpt",']
--- timeout: 1
--- ignore_response
--- access_log
"POST /v1/chat/completions HTTP/1.1" 408 0
--- no_access_log
MOCK
--- no_error_log
[error]



=== TEST 34: client aborts in the middle of a stream: logged, upstream closed
--- main_config
    load_module $TEST_NGINX_ECHO_MODULE;
    worker_shutdown_timeout 1s;
--- http_config
    log_format mock 'MOCK $request_method $request_uri $status '
                    'c=$request_completion';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;

        location = /v1/chat/completions {
            default_type text/event-stream;
            echo 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}';
            echo '';
            echo_flush;
            echo_sleep 0.4;
            echo 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}';
            echo '';
            echo_flush;
            echo_sleep 0.4;
            echo 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}';
            echo '';
            echo 'data: [DONE]';
            echo '';
        }
    }

    aigw_provider po url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=sk-po;
    aigw_model oa/gpt po:gpt-4o;
--- request eval
::oa('{"model":"oa/gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}')
--- timeout: 250ms
--- abort
--- wait: 1
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body_like eval
qr/\Adata: \{[^\n]*"content":"a"[^\n]*\}\n\n\z/
--- error_log eval
qr/client prematurely closed connection|client closed connection/
--- grep_access_log eval
qr/^MOCK .*/
--- grep_access_log_out eval
qr{\AMOCK POST /v1/chat/completions 200 c=\n\z}



=== TEST 35: pipelined keep-alive requests: rejected early, the next one still parses
--- pipelined_requests eval
[::oa($main::OA_OK), ::oa('{"model":'), "PUT /v1/messages\n$main::AN_OK",
 ::an('{"model":"an/claude","max_tokens":16,"messages":[]}'),
 ::an($main::AN_OK)]
--- more_headers eval
["Content-Type: text/plain", "Content-Type: application/json",
 "Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- error_code eval
[415, 400, 405, 400, 200]
--- response_json eval
[::oa_err('^unsupported Content-Type "text/plain"'),
 ::oa_err('not valid JSON: unexpected end of data'),
 ::an_err('^method PUT is not allowed on /v1/messages, use POST$'),
 ::an_err('^messages: at least one message is required$'),
 {type => 'message', content => [{type => 'text', text => 'ok'}]}]
--- access_log
MOCK POST /v1/messages



=== TEST 36: GET (and others) on a POST endpoint -> 405 + Allow
--- request eval
["GET /v1/chat/completions", "GET /v1/messages",
 "DELETE /v1/messages/count_tokens", "POST /v1/models\n{}",
 "PATCH /v1/chat/completions\n$main::OA_OK"]
--- error_code eval
[405, 405, 405, 405, 405]
--- response_headers eval
[{Allow => 'POST', 'Content-Type' => 'application/json'},
 {Allow => 'POST', 'Content-Type' => 'application/json'},
 {Allow => 'POST'}, {Allow => 'GET, HEAD'}, {Allow => 'POST'}]
--- response_json eval
[::oa_err('^method GET is not allowed on /v1/chat/completions, use POST$'),
 ::an_err('^method GET is not allowed on /v1/messages, use POST$'),
 ::an_err('^method DELETE is not allowed on /v1/messages/count_tokens, use POST$'),
 ::oa_err('^method POST is not allowed on /v1/models, use GET, HEAD$'),
 ::oa_err('^method PATCH is not allowed on /v1/chat/completions, use POST$')]



=== TEST 37: count_tokens with bad JSON and bad fields
--- request eval
["POST /v1/messages/count_tokens\n" . '{"model":"an/claude","messages":[',
 "POST /v1/messages/count_tokens\n" . '[]',
 "POST /v1/messages/count_tokens\n" . '{"model":"an/claude","messages":"hi"}',
 "POST /v1/messages/count_tokens\n" . '{"model":"an/claude"}',
 "POST /v1/messages/count_tokens\n" . '{"model":"an/claude","stream":true,"messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/messages/count_tokens\n" . '{"model":"an/claude","model":"an/claude","messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_json eval
[::an_err('^the request body is not valid JSON: unexpected end of data at byte 33$'),
 ::an_err('^the request body must be a JSON object$'),
 ::an_err('^messages: Input should be an array$'),
 ::an_err('^messages: Field required$'),
 ::an_err('^"stream" is not supported on this endpoint$'),
 ::an_err('^duplicate field "model"$')]



=== TEST 38: the Content-Types clients send for JSON are accepted (none, charset, case, +json)
--- request eval
[::oa($main::OA_OK), ::an($main::AN_OK), ::oa($main::OA_OK),
 ::an($main::AN_OK)]
--- more_headers eval
["", "Content-Type: application/json; charset=utf-8",
 "Content-Type: APPLICATION/JSON", "Content-Type: application/vnd.api+json"]
--- error_code eval
[200, 200, 200, 200]
--- response_json eval
[{object => 'chat.completion'}, {type => 'message'},
 {object => 'chat.completion'}, {type => 'message'}]
--- grep_access_log eval
qr/^MOCK .*/
--- grep_access_log_out eval
qr{\A(?:MOCK POST /v1/chat/completions \d+ c=OK\nMOCK POST /v1/messages \d+ c=OK\n){2}\z}



=== TEST 39: a body shorter than its Content-Length, then the client half-closes
--- raw_request eval
["POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
 . "Connection: close\r\nContent-Type: application/json\r\n"
 . "Content-Length: 200\r\n\r\n" . '{"model":"an/claude","max_tokens":16,']
--- shutdown
--- ignore_response
--- error_log
client prematurely closed connection, client: 127.0.0.1, server: localhost, request: "POST /v1/messages HTTP/1.1"
--- access_log
"POST /v1/messages HTTP/1.1" 400 0
--- no_access_log
MOCK



=== TEST 40: invalid chunked encoding -> 400 JSON
--- request eval
["POST /v1/chat/completions\nzz\r\n{}\r\n0\r\n\r\n",
 "POST /v1/messages\n5\r\n{\"model\":1}\r\n0\r\n\r\n"]
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- error_code eval
[400, 400]
--- response_json eval
[::oa_err('^the request body could not be read: invalid chunked encoding or length$'),
 ::an_err('^the request body could not be read: invalid chunked encoding or length$')]
--- error_log
client sent invalid chunked body



=== TEST 41: an unknown model name is echoed escaped (quotes, backslash, lone surrogate; control characters are a 400, see t/070-hardening-injection.t)
--- request eval
[::oa('{"model":"a\"<b>\\\\\\ud800","messages":[{"role":"user","content":"hi"}]}'),
 ::an('{"model":"x\\\\y","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}')]
--- error_code eval
[404, 404]
--- response_json eval
[{error => {message => "~/^model \"a\"<b>\\\\\xef\xbf\xbd\" is not configured on this gateway/",
            type => 'not_found_error', param => 'model',
            code => 'model_not_found'}},
 ::an_err("^model \"x\\\\y\" is not configured", 'not_found_error')]



=== TEST 42: a huge unknown model name: the message is cut on a UTF-8 boundary
--- request eval
::oa('{"model":"' . ("\xc3\xa9" x 1500) . '","messages":[{"role":"user","content":"hi"}]}')
--- error_code: 404
--- response_json eval
{error => {message => '~/^model "(?:\xc3\xa9){1000,}\.\.\.$/',
           type => 'not_found_error', code => 'model_not_found'}}
--- response_body_filters eval
sub { my $x = shift; utf8::decode($x) ? "valid UTF-8\n" : "invalid UTF-8\n" }
--- response_body
valid UTF-8



=== TEST 43: a bad byte deep in a long string is found at its exact offset (any word alignment)
--- request eval
my @bad = ("\0", "\x1f", "\xff", "\n", "\xc0\x80", "\\q", "\t", "\xed\xbf\xbf");
[map { my $s = ("a\x7f~" x 30) . ('b' x $_) . $bad[$_] . ('c' x 20);
       $_ % 2 ? ::an_content($s) : ::oa_content($s) } 0 .. 7]
--- error_code eval
[(400) x 8]
--- response_json eval
my @what = ('control character', 'control character', 'invalid UTF-8',
            'control character', 'invalid UTF-8', 'invalid escape',
            'control character', 'invalid UTF-8');
[map { my $at = ($_ % 2 ? 75 : 56) + 90 + $_;
       my $re = "^the request body is not valid JSON: $what[$_] in string at byte $at\$";
       $_ % 2 ? ::an_err($re) : ::oa_err($re) } 0 .. 7]
