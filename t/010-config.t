# Gateway core: configuration mistakes stop nginx with one precise [emerg]
# line (one block per mistake), and the keys come from where they are said
# to come from (key=, key_env=, key_file=, optional).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# the variable of the missing key is surely unset; the other one is set

BEGIN {
    delete $ENV{AIGW_T010_UNSET_KEY};
    $ENV{AIGW_T010_KEY} = 'sk-from-env';
}

add_block_preprocessor(sub {
    my $block = shift;

    if ($block->{must_die}) {
        $block->set_value(suppress_stderr => 1);
        return;
    }

    # a provider mock on port 1 that logs the key it got

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format mock 'MOCK $request_uri auth=$http_authorization';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        default_type application/json;
        location / {
            return 200 '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}';
        }
    }
_EOC_

    $block->set_value(config => "    location /v1/ { aigw_pass; }\n")
        unless $block->{config};
    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
});

run_tests();

__DATA__

=== TEST 1: unknown provider format
--- http_config
    aigw_provider p format=cohere url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
--- must_die
--- error_log
[emerg]
unknown provider format "cohere" in aigw_provider "p" in



=== TEST 2: duplicate provider
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v2;
--- must_die
--- error_log
[emerg]
duplicate aigw_provider "p" in



=== TEST 3: duplicate model, also as a wildcard
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model p/* p;
    aigw_model p/m p:one;
    aigw_model p/m p:two;
--- must_die
--- error_log
[emerg]
duplicate aigw_model "p/m" in



=== TEST 4: duplicate wildcard model
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model p/* p;
    aigw_model p/m p;
    aigw_model p/* p;
--- must_die
--- error_log
[emerg]
duplicate aigw_model "p/*" in



=== TEST 5: url with another scheme
--- http_config
    aigw_provider p url=ftp://127.0.0.1/v1;
--- must_die
--- error_log
[emerg]
invalid url "ftp://127.0.0.1/v1" in aigw_provider "p": expected http:// or https:// in



=== TEST 6: url without a scheme
--- http_config
    aigw_provider p url=127.0.0.1:8080/v1;
--- must_die
--- error_log
[emerg]
invalid url "127.0.0.1:8080/v1" in aigw_provider "p": expected http:// or https:// in



=== TEST 7: url and upstream both
--- http_config
    upstream up { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 upstream=up;
--- must_die
--- error_log
[emerg]
aigw_provider "p" needs either "url=" or "upstream=" in



=== TEST 8: neither url nor upstream
--- http_config
    aigw_provider p key=sk-x;
--- must_die
--- error_log
[emerg]
aigw_provider "p" needs either "url=" or "upstream=" in



=== TEST 9: unknown provider in aigw_model
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model m/x p nope:x;
--- must_die
--- error_log
[emerg]
unknown provider "nope" in aigw_model "m/x" (declare aigw_provider first) in



=== TEST 10: provider declared after the model that uses it
--- http_config
    aigw_model m/x late;
    aigw_provider late url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
--- must_die
--- error_log
[emerg]
unknown provider "late" in aigw_model "m/x" (declare aigw_provider first) in



=== TEST 11: invalid price
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model m/x p input=2.50 output=ten;
--- must_die
--- error_log
[emerg]
invalid price "output=ten": expected USD per 1M tokens, e.g. "input=2.50" in



=== TEST 12: negative price
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model m/x p input=-1;
--- must_die
--- error_log
[emerg]
invalid price "input=-1": expected USD per 1M tokens, e.g. "input=2.50" in



=== TEST 13: key_env names a variable that is not set
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key_env=AIGW_T010_UNSET_KEY;
--- must_die
--- error_log
[emerg]
environment variable "AIGW_T010_UNSET_KEY" with the key of aigw_provider "p" is not set in



=== TEST 14: key_file that does not exist
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key_file=/nonexistent/aigw.key;
--- must_die
--- error_log
[emerg]
cannot open key file "/nonexistent/aigw.key" of aigw_provider "p" (2: No such file or directory) in



=== TEST 15: unknown fallback model
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model m/x p fallback=m/y,m/z;
    aigw_model m/y p;
--- must_die
--- error_log
[emerg]
unknown fallback model "m/z" in aigw_model "m/x"



=== TEST 16: bad aigw_next_upstream value
--- config
    location /v1/ {
        aigw_next_upstream error http_418;
        aigw_pass;
    }
--- must_die
--- error_log
[emerg]
invalid value "http_418" in



=== TEST 17: aigw_pass twice
--- config
    location /v1/ {
        aigw_pass;
        aigw_pass;
    }
--- must_die
--- error_log
[emerg]
"aigw_pass" directive is duplicate in



=== TEST 18: invalid auth
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 auth=basic;
--- must_die
--- error_log
[emerg]
invalid auth "basic" in aigw_provider "p" in



=== TEST 19: header= without a name
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 header=:v;
--- must_die
--- error_log
[emerg]
invalid header ":v" in aigw_provider "p", expected Name:Value in



=== TEST 20: unknown aigw_provider parameter
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 timeout=5s;
--- must_die
--- error_log
[emerg]
invalid parameter "timeout=5s" in aigw_provider "p" in



=== TEST 21: "*" inside a slug
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model p/*/x p;
--- must_die
--- error_log
[emerg]
invalid aigw_model slug "p/*/x": "*" is only allowed at the end in



=== TEST 22: a model without providers
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model p/x input=1 output=2;
--- must_die
--- error_log
[emerg]
aigw_model "p/x" has no provider in



=== TEST 23: key_env of a set variable, key_file, optional keys: nginx starts, providers get their keys
--- user_files
>>> aigw.key
  sk-from-file
--- http_config
    aigw_provider env url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/env key_env=AIGW_T010_KEY;
    aigw_provider file url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/file key_file=$TEST_NGINX_HTML_DIR/aigw.key;
    aigw_provider opt url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/opt key_env=AIGW_T010_UNSET_KEY optional;
    aigw_provider optfile url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/optfile optional key_file=/nonexistent/aigw.key;
    aigw_model e/m env;
    aigw_model f/m file;
    aigw_model o/m opt;
    aigw_model of/m optfile;
    aigw_model fo/m opt file;
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! } qw(e/m f/m o/m of/m fo/m) ]
--- error_code eval
[200, 200, 503, 503, 200]
--- response_json eval
[
{choices => [{message => {content => "k"}}]},
{choices => [{message => {content => "k"}}]},
{error => {message => 'no provider is available (attempts: opt:no key)', type => "server_error"}},
{error => {message => 'no provider is available (attempts: optfile:no key)', type => "server_error"}},
{choices => [{message => {content => "k"}}]},
]
--- response_headers eval
["X-AIGW-Provider: env", "X-AIGW-Provider: file", "", "",
 "X-AIGW-Provider: file\nX-AIGW-Attempts: opt:no key,file:200"]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out
MOCK /env/chat/completions auth=Bearer sk-from-env
MOCK /file/chat/completions auth=Bearer sk-from-file
MOCK /file/chat/completions auth=Bearer sk-from-file
--- error_log
aigw: provider "opt" skipped: no key, the key comes from environment variable AIGW_T010_UNSET_KEY
aigw: provider "optfile" skipped: no key, the key comes from file /nonexistent/aigw.key
no live upstreams while connecting to upstream



=== TEST 24: a price above $10000 per 1M tokens (the cost must fit in 64 bits)
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1;
    aigw_model m/x p input=2.50 output=10000.000001;
--- must_die
--- error_log
[emerg]
invalid price "output=10000.000001": at most 10000 USD per 1M tokens in



=== TEST 25: a space in path= would end the request target
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 "path=/v1 x";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has a space in its path or query, write it as %20 in



=== TEST 26: a space in query=
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 "query=a=b c";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has a space in its path or query, write it as %20 in



=== TEST 27: a space in the path of url=
--- http_config
    aigw_provider p "url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 HTTP/1.0";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has a space in its path or query, write it as %20 in



=== TEST 28: a header= name that is not a token
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 "header=X Team:a";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has an invalid header name: only letters, digits and !#$%&'*+-.^_`|~ may be used in



=== TEST 29: an auth=header: name that is not a token
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 "auth=header:X(Key)";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has an invalid header name: only letters, digits and !#$%&'*+-.^_`|~ may be used in



=== TEST 30: a key file over 4096 bytes is not cut short
--- user_files eval
[["aigw.key", "sk-" . ("k" x 4094)]]
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key_file=$TEST_NGINX_HTML_DIR/aigw.key;
--- must_die
--- error_log eval
qr{\[emerg\] .*key file ".*/aigw\.key" of aigw_provider "p" is larger than 4096 bytes in}



=== TEST 31: a key file of 4096 bytes, and header names with token characters, are taken
--- user_files eval
[["aigw.key", "sk-" . ("k" x 4092) . "\n"]]
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key_file=$TEST_NGINX_HTML_DIR/aigw.key "header=X-Team_1.a!:a b";
    aigw_model m p;
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"x"}]}
--- error_code: 200
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out eval
"MOCK /v1/chat/completions auth=Bearer sk-" . ("k" x 4092) . "\n"
--- no_error_log
[emerg]
