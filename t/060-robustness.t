# Robustness: what the memory-safety audit found, one block per bug, plus
# the parsers at every byte boundary.
#
# Most providers here are a raw TCP server of this file (raw_server): it
# answers each request with exact bytes, optionally one byte per write
# (TCP_NODELAY, a short pause between writes, so that the gateway reads a
# stream byte by byte), and keeps the connection for the next request
# unless told to close.  Every request it gets is logged as
# "REQ c=<connection number> n=<request number on it> METHOD URI" into
# logs/mock_<port>.log, for mock_requests_like / mock_request_count.
use lib 't/lib';
use strict;
use warnings;
use IO::Socket::INET ();
use IO::Select ();
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use POSIX ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

# url_env= names a variable that points back at this server (see TEST 3)

$ENV{AIGW_T060_URL} = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/env/v1";
$ENV{AIGW_T060_KEY} = 'sk-060-env';
$ENV{AIGW_T060_BAD_URL} = "http://127.0.0.1:1/v1\r\nX-Injected: 1";


# ---- the raw provider -----------------------------------------------------

our %RawPids;

# raw_server(port, sub { my ($req, $conn, $n) = @_; return {...} })
#   the reply: parts => [strings, or { sleep => secs }], bytewise => 1,
#   delay => secs between bytes (0.002), close => 1 (close afterwards),
#   hold => 1 (keep the connection open, answer nothing more)

sub raw_server {
    my ($port, $reply) = @_;

    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      ReuseAddr => 1, Listen => 16)
        or die "raw_server: cannot listen on $port: $!\n";

    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/mock_$port.log";

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $SIG{PIPE} = 'IGNORE';
        $SIG{CHLD} = 'IGNORE';
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        my $conn = 0;
        while (1) {
            my $c = $sock->accept or next;
            $conn++;
            my $k = fork;
            if (defined $k && $k == 0) {
                close $sock;
                eval { raw_conn($c, $conn, $reply, $log) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }

    close $sock;
    $RawPids{$pid} = 1;
    return $pid;
}

sub raw_read {
    my ($c, $buf, $done) = @_;
    my $sel = IO::Select->new($c);
    while (1) {
        my $r = $done->();
        return $r if defined $r;
        return undef unless $sel->can_read(10);
        my $n = sysread($c, my $chunk, 65536);
        return undef unless $n;
        $$buf .= $chunk;
    }
}

sub raw_conn {
    my ($c, $conn, $reply, $log) = @_;
    setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);
    my $buf = '';
    my $n = 0;

    while (1) {
        my $end = raw_read($c, \$buf, sub {
            my $i = index($buf, "\r\n\r\n");
            $i < 0 ? undef : $i });
        return unless defined $end;

        my $head = substr($buf, 0, $end);
        $buf = substr($buf, $end + 4);
        my ($method, $uri) = split ' ', (split /\r\n/, $head)[0];
        my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
        $len //= 0;
        raw_read($c, \$buf, sub { length($buf) >= $len ? 1 : undef })
            // return;
        my $body = substr($buf, 0, $len);
        $buf = substr($buf, $len);
        $n++;

        if (open my $fh, '>>', $log) {
            print $fh "REQ c=$conn n=$n $method $uri\n";
            close $fh;
        }

        my $r = $reply->({ method => $method, uri => $uri, head => $head,
                           body => $body }, $conn, $n);

        for my $part (@{ $r->{parts} }) {
            if (ref $part) {
                Time::HiRes::sleep($part->{sleep});
                next;
            }

            if (!$r->{bytewise}) {
                syswrite($c, $part) // return;
                next;
            }

            for my $i (0 .. length($part) - 1) {
                syswrite($c, substr($part, $i, 1)) // return;
                Time::HiRes::sleep($r->{delay} // 0.002);
            }
        }

        if ($r->{hold}) {
            sleep 3600 while 1;
        }

        return if $r->{close};
    }
}

add_test_cleanup_handler(sub {
    for my $pid (keys %RawPids) {
        kill 'KILL', -$pid;
        waitpid($pid, 0);
    }
    %RawPids = ();
});


# ---- provider answers -----------------------------------------------------

sub openai_json {
    my ($content) = @_;
    return '{"id":"r1","object":"chat.completion","created":1,"model":"m",'
        . '"choices":[{"index":0,"message":{"role":"assistant","content":"'
        . $content . '"},"finish_reason":"stop"}],'
        . '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';
}

sub http {
    my ($status, $body, @headers) = @_;
    my $h = join '', map { "$_\r\n" } @headers;
    return "HTTP/1.1 $status X\r\n${h}Content-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

# an OpenAI stream with CRLF line ends, a comment and multi-line data

our @OpenAIEvents = (
    '{"id":"s1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    '{"id":"s1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}',
    '{"id":"s1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo \u00e9\n"},"finish_reason":null}]}',
    '{"id":"s1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
);

our $OpenAISSE = "data: $OpenAIEvents[0]\r\n\r\n"
    . ": keep-alive\r\n\r\n"
    . "data: $OpenAIEvents[1]\r\n\r\n"
    . "data: $OpenAIEvents[2]\r\n\r\n"
    . "data: $OpenAIEvents[3]\r\n\r\n"
    . "data: [DONE]\r\n\r\n";

# what an OpenAI client gets in passthrough: the blocks as they came

our $OpenAIPassed = $OpenAISSE;

# chunked, in odd pieces: extensions, upper-case hex, a trailer

sub chunked {
    my ($data, @sizes) = @_;
    my $out = '';
    my $k = 0;
    while (length $data) {
        my $n = $sizes[$k++ % @sizes];
        my $c = substr($data, 0, $n, '');
        $out .= ($k % 3 ? sprintf("%X", length $c)
                        : sprintf("%x;ext=%d", length $c, $k))
              . "\r\n$c\r\n";
    }
    return $out . "0\r\nX-Trailer: t\r\n\r\n";
}

sub sse_head {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n";
}

# an Anthropic stream, LF line ends, multi-line data, a ping

our $AnthropicSSE = join '', map { "$_\n\n" }
    'event: message_start' . "\n" . 'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":1}}}',
    'event: content_block_start' . "\n" . 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    'event: ping' . "\n" . 'data: {"type": "ping"}',
    'event: content_block_delta' . "\n" . 'data: {"type":"content_block_delta","index":0,' . "\n" . 'data: "delta":{"type":"text_delta","text":"Hi \u2603"}}',
    'event: content_block_delta' . "\n" . 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}',
    'event: content_block_stop' . "\n" . 'data: {"type":"content_block_stop","index":0}',
    'event: message_delta' . "\n" . 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}',
    'event: message_stop' . "\n" . 'data: {"type":"message_stop"}';


add_block_preprocessor(sub {
    my $block = shift;

    if ($block->{must_die}) {
        $block->set_value(suppress_stderr => 1);
        return;
    }

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format gw 'GW $status $aigw_model $aigw_attempts in=$aigw_input_tokens out=$aigw_output_tokens';
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
});

run_tests();

__DATA__

=== TEST 1: exact slugs are case-sensitive and may hold upper-case letters (they were lower-cased by ngx_hash and never found)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 '{"id":"$uri","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}'; }
    }
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model Qwen/Qwen2.5-Coder-32B-Instruct p;
    aigw_model qwen/lower p;
    aigw_model MixedCase* p:wild;
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! }
  qw(Qwen/Qwen2.5-Coder-32B-Instruct qwen/qwen2.5-coder-32b-instruct qwen/lower Qwen/Lower MixedCaseX mixedcasex) ]
--- error_code eval
[200, 404, 200, 404, 200, 404]
--- response_json eval
[ {model => "m"}, {error => {code => "model_not_found"}}, {model => "m"},
  {error => {code => "model_not_found"}}, {model => "m"},
  {error => {code => "model_not_found"}} ]
--- grep_access_log eval: qr/GW \d+ \S+/
--- grep_access_log_out
GW 200 Qwen/Qwen2.5-Coder-32B-Instruct
GW 404 qwen/qwen2.5-coder-32b-instruct
GW 200 qwen/lower
GW 404 Qwen/Lower
GW 200 MixedCaseX
GW 404 mixedcasex



=== TEST 2: a slug of 300 characters and a provider name of 63 load and route (the models hash refused slugs over its bucket size)
--- http_config eval
my $p = 'p' x 63;
my $slug = 'org/' . ('a' x 296);
<<"_EOC_";
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        location / { return 200 '{"id":"\$uri","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}'; }
    }
    aigw_provider $p url=http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model $slug $p;
    aigw_model short $p:s;
_EOC_
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"org/' . ('a' x 296) . '","messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"short","messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"org/' . ('a' x 295) . '","messages":[{"role":"user","content":"x"}]}' ]
--- error_code eval
[200, 200, 404]
--- response_json eval
[ {id => "/v1/chat/completions"}, {id => "/v1/chat/completions"}, undef ]
--- response_headers eval
[ "X-AIGW-Provider: " . ('p' x 63), "X-AIGW-Model: short", "" ]



=== TEST 3: url_env= wins over url= whatever their order, key_env= is read (getenv() got a name without its NUL)
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
    location /env/ {
        return 200 '{"id":"env $http_authorization","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}';
    }
--- http_config
    aigw_provider before url_env=AIGW_T060_URL url=http://127.0.0.1:1/unused key_env=AIGW_T060_KEY;
    aigw_provider after url=http://127.0.0.1:1/unused url_env=AIGW_T060_URL key=k2;
    aigw_provider unset url_env=AIGW_T060_UNSET url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/env/v1 key=k3;
    aigw_model b before;
    aigw_model a after;
    aigw_model u unset;
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! } qw(b a u) ]
--- response_json eval
[ {id => "env Bearer sk-060-env"}, {id => "env Bearer k2"}, {id => "env Bearer k3"} ]



=== TEST 4: a provider name of 64 characters is refused
--- http_config
    aigw_provider pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp url=http://127.0.0.1:1/v1 key=k;
--- must_die
--- error_log
[emerg]
invalid aigw_provider name



=== TEST 5: an empty key= is refused, not a provider that is always skipped
--- http_config
    aigw_provider p url=http://127.0.0.1:1/v1 key=;
--- must_die
--- error_log
[emerg]
empty key= in aigw_provider "p"



=== TEST 6: empty key= with "optional": the provider is skipped as without a key
--- http_config
    aigw_provider p url=http://127.0.0.1:1/v1 key= optional;
    aigw_model m p;
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"x"}]}
--- error_code: 503
--- response_json
{"error":{"message":"no provider is available (attempts: p:no key)"}}
--- error_log
aigw: provider "p" skipped: no key



=== TEST 7: empty values of other parameters: refused or defaulted, never read out of bounds
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k host= sni= query= version= header=X-Empty: url_env= api_version=;
    aigw_model m p fallback=;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 '{"id":"$http_host $request_uri [$http_x_empty]","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}'; }
    }
--- request
POST /v1/chat/completions
{"model":"m","messages":[{"role":"user","content":"x"}]}
--- response_json eval
{id => '~/^127\.0\.0\.1:\d+ /v1/chat/completions\?api-version= \[\]$/'}



=== TEST 8: a 100 Continue and a 103 Early Hints before the answer (the status line parser kept adding digits to the code)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    return { parts => [ "HTTP/1.1 100 Continue\r\n\r\n",
                        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                        main::http(200, main::openai_json("after 1xx $n")) ] };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- request eval
[ ("POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}]}') x 2 ]
--- response_json eval
[ {choices => [{message => {content => "after 1xx 1"}}]},
  {choices => [{message => {content => "after 1xx 2"}}]} ]
--- mock_requests_like eval
[ qr/^REQ c=1 n=1 POST /, qr/^REQ c=1 n=2 POST / ]
--- mock_request_count: 2



=== TEST 9: a 1xx before a stream, one byte per read
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    return { bytewise => 1, delay => 0.001,
             parts => [ "HTTP/1.1 100 Continue\r\n\r\n", main::sse_head(),
                        main::chunked($main::OpenAISSE, 40, 7, 300) ] };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- request
POST /v1/chat/completions
{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}
--- response_body eval
$main::OpenAIPassed
--- timeout: 30



=== TEST 10: an HTTP/1.0 answer: its connection is not reused (the server keeps it open but would not answer again)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    my $r = main::http(200, main::openai_json("c$c"));
    $r =~ s{^HTTP/1\.1}{HTTP/1.0};
    return { parts => [ $r ], hold => 1 };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 2s;
        aigw_pass;
    }
--- request eval
[ ("POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}]}') x 2 ]
--- response_json eval
[ {choices => [{message => {content => "c1"}}]},
  {choices => [{message => {content => "c2"}}]} ]
--- mock_requests_like eval
[ qr/^REQ c=1 n=1 POST /, qr/^REQ c=2 n=1 POST / ]
--- mock_request_count: 2



=== TEST 11: a stream with more bytes than its Content-Length: the client gets the stream, the connection is not reused
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    my $sse = "data: $main::OpenAIEvents[3]\n\ndata: [DONE]\n\n";
    return { parts => [ "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        . "Content-Length: " . length($sse) . "\r\n\r\n"
                        . $sse . "HTTP/1.1 200 OK\r\n\r\ngarbage" ] };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- request eval
[ ("POST /v1/chat/completions\n" . '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}') x 2 ]
--- response_body eval
[ ("data: $main::OpenAIEvents[3]\n\ndata: [DONE]\n\n") x 2 ]
--- mock_requests_like eval
[ qr/^REQ c=1 n=1 POST /, qr/^REQ c=2 n=1 POST / ]
--- mock_request_count: 2
--- error_log
aigw: provider sent more data than its Content-Length
--- no_error_log
[error]



=== TEST 12: a stream request answered with JSON ended by the connection close: the client gets it as events (it got an empty stream)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    return { parts => [ "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        . "Connection: close\r\n\r\n",
                        main::openai_json("closed") ], close => 1 };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- request
POST /v1/chat/completions
{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}
--- response_headers
Content-Type: text/event-stream
--- sse_data eval
[ {choices => [{delta => {role => "assistant"}}]},
  {choices => [{delta => {content => "closed"}}]},
  {choices => [{finish_reason => "stop"}]},
  "[DONE]" ]



=== TEST 13: the same to an Anthropic client, and a provider error ended by the close reaches a stream client (it got an empty body)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    return { parts => [ "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
                        main::openai_json("closed") ], close => 1 }
        if $req->{uri} =~ m{^/ok/};
    return { parts => [ "HTTP/1.1 400 Bad\r\nContent-Type: application/json\r\n\r\n",
                        '{"error":{"message":"bad thing","type":"invalid_request_error","param":null,"code":null}}' ],
             close => 1 };
});
--- http_config
    aigw_provider ok url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok/v1 key=k;
    aigw_provider bad url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/bad/v1 key=k;
    aigw_model ok ok;
    aigw_model bad bad;
--- request eval
[ "POST /v1/messages\n" . '{"model":"ok","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"bad","stream":true,"messages":[{"role":"user","content":"x"}]}' ]
--- error_code eval
[200, 400]
--- sse_events eval
[ [qw(message_start ping content_block_start content_block_delta content_block_stop message_delta message_stop)], undef ]
--- response_json eval
[ undef, {error => {message => "bad thing", type => "invalid_request_error"}} ]



=== TEST 14: an OpenAI stream (CRLF, a comment, chunk extensions, a trailer) one byte per read, passed through: the same bytes as when it comes whole
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    return { bytewise => ($req->{uri} =~ m{^/bytes/} ? 1 : 0), delay => 0.001,
             parts => [ main::sse_head(), main::chunked($main::OpenAISSE, 40, 7, 300) ] };
});
--- http_config
    aigw_provider whole url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/whole/v1 key=k;
    aigw_provider bytes url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/bytes/v1 key=k;
    aigw_model whole whole;
    aigw_model bytes bytes;
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}! } qw(whole bytes) ]
--- response_body eval
[ $main::OpenAIPassed, $main::OpenAIPassed ]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 whole whole:200 in=3 out=2
GW 200 bytes bytes:200 in=3 out=2
--- timeout: 30



=== TEST 15: the same stream one byte per read, translated for an Anthropic client: the same events as when it comes whole
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    return { bytewise => ($req->{uri} =~ m{^/bytes/} ? 1 : 0), delay => 0.001,
             parts => [ main::sse_head(), main::chunked($main::OpenAISSE, 1, 2, 3, 500) ] };
});
--- http_config
    aigw_provider whole url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/whole/v1 key=k;
    aigw_provider bytes url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/bytes/v1 key=k;
    aigw_model whole whole;
    aigw_model bytes bytes;
--- request eval
[ map { "POST /v1/messages\n" . qq!{"model":"$_","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"x"}]}! } qw(whole bytes) ]
--- sse_events eval
[ ([qw(message_start ping content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop)]) x 2 ]
--- sse_data eval
[ ([ {type => "message_start", message => {id => "s1", model => "m"}},
     {type => "ping"},
     {type => "content_block_start", index => 0, content_block => {type => "text"}},
     {type => "content_block_delta", index => 0, delta => {type => "text_delta", text => "Hel"}},
     {type => "content_block_delta", index => 0, delta => {type => "text_delta", text => "lo \x{e9}\n"}},
     {type => "content_block_stop", index => 0},
     {type => "message_delta", delta => {stop_reason => "end_turn"}, usage => {output_tokens => 2}},
     {type => "message_stop"} ]) x 2 ]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 whole whole:200 in=3 out=2
GW 200 bytes bytes:200 in=3 out=2
--- timeout: 30



=== TEST 16: an Anthropic stream (multi-line data, a ping) one byte per read: passed through, and translated for an OpenAI client
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req, $c, $n) = @_;
    return { bytewise => 1, delay => 0.001,
             parts => [ main::sse_head(), main::chunked($main::AnthropicSSE, 3, 64, 5) ] };
});
--- http_config
    aigw_provider a format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=k;
    aigw_model a a;
--- request eval
[ "POST /v1/messages\n" . '{"model":"a","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}' ]
--- response_body eval
[ $main::AnthropicSSE, undef ]
--- sse_data eval
[ undef,
  [ {id => "msg_1", choices => [{delta => {role => "assistant"}}]},
    {choices => [{delta => {content => "Hi \x{2603}"}}]},
    {choices => [{delta => {content => " there"}}]},
    {choices => [{finish_reason => "stop"}]},
    {usage => {prompt_tokens => 7, completion_tokens => 4}},
    "[DONE]" ] ]
--- grep_access_log eval: qr/GW .*/
--- grep_access_log_out
GW 200 a a:200 in=7 out=4
GW 200 a a:200 in=7 out=4
--- timeout: 30



=== TEST 17: a model id from a client's slug that would add path segments to a $model path is refused (it reached other paths of the provider)
--- http_config
    log_format mock 'MOCK $request_uri';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/access.log mock;
        location / { return 200 '{"id":"$request_uri","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}'; }
    }
    aigw_provider azure url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/openai/deployments/$model api_version=1 auth=api-key key=k;
    aigw_model azure/* azure;
--- request eval
[ map { "POST /v1/chat/completions\n" . qq!{"model":"$_","messages":[{"role":"user","content":"x"}]}! }
  ("azure/gpt-4o.mini", "azure/../../admin", "azure/..", "azure/.", "azure/a\\\\b", "azure/x y?#") ]
--- error_code eval
[200, 400, 400, 400, 400, 200]
--- response_json eval
[ {id => "/openai/deployments/gpt-4o.mini/chat/completions?api-version=1"},
  {error => {message => "~/no provider of model/"}},
  {error => {message => "~/no provider of model/"}},
  {error => {message => "~/no provider of model/"}},
  {error => {message => "~/no provider of model/"}},
  {id => "/openai/deployments/x%20y%3F%23/chat/completions?api-version=1"} ]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out
MOCK /openai/deployments/gpt-4o.mini/chat/completions?api-version=1
MOCK /openai/deployments/x%20y%3F%23/chat/completions?api-version=1
--- error_log
cannot be a segment of the path of provider "azure"



=== TEST 18: an empty chunk-size line in the middle of a stream is an error, not its last chunk (the client got a stream that ended normally)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my $e0 = "data: $main::OpenAIEvents[0]\n\n";
    my $e1 = "data: $main::OpenAIEvents[1]\n\n";
    return { parts => [ main::sse_head(),
                        sprintf("%x\r\n%s\r\n", length $e0, $e0),
                        { sleep => 0.1 },
                        "\r\n",
                        sprintf("%x\r\n%s\r\n", length $e1, $e1),
                        "0\r\n\r\n" ] };
});
--- http_config
    aigw_provider p url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_model m p;
--- request
POST /v1/chat/completions
{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}
--- incomplete_body
--- sse_data eval
[ {choices => [{delta => {role => "assistant"}}]},
  {error => {message => "~/stream broke off/"}} ]
--- error_log
sent an invalid chunked stream



=== TEST 19: "\r\n" in a quoted header= is refused (it added headers to every provider request)
--- http_config
    aigw_provider p url=http://127.0.0.1:1/v1 key=k "header=X-A:b\r\nX-Injected: 1";
--- must_die
--- error_log
[emerg]
aigw_provider "p" has a control character in its url, host, path, query, version or headers



=== TEST 20: the same in the URL that url_env= names
--- http_config
    aigw_provider p url_env=AIGW_T060_BAD_URL url=http://127.0.0.1:1/v1 key=k;
--- must_die
--- error_log
[emerg]
aigw_provider "p" has a control character in its url, host, path, query, version or headers



=== TEST 21: a 204, and an empty event stream, from a provider that keeps the connection: an invalid answer at once, not a wait for the read timeout
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req) = @_;
    return { parts => [ "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n" ], hold => 1 }
        if $req->{uri} =~ m{^/204/};
    return { parts => [ "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 0\r\n\r\n" ], hold => 1 };
});
--- http_config
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/204/v1 key=k;
    aigw_provider b url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/empty/v1 key=k;
    aigw_model a a;
    aigw_model b b;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 60s;
        aigw_pass;
    }
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"a","messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"b","stream":true,"messages":[{"role":"user","content":"x"}]}' ]
--- error_code eval
[502, 502]
--- response_json eval
[ {error => {message => "~/attempts: a:invalid/"}}, {error => {message => "~/attempts: b:invalid/"}} ]
--- timeout: 5
--- error_log
aigw: provider "a" sent an invalid JSON response
aigw: provider "b" sent an invalid JSON response



=== TEST 22: a client that leaves before a hanging provider answers does not clear that target's failures (its circuit opens at the next 500)
--- init
main::raw_server($ENV{TEST_NGINX_RAND_PORT_1}, sub {
    my ($req) = @_;
    my $b = '{"error":{"message":"boom","type":"server_error"}}';
    return { parts => [], hold => 1 } unless $req->{body} =~ /fail/;
    return { parts => ["HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                       . "Content-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b"] };
});
--- http_config
    aigw_health failures=2 open=30s;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 200 '{"id":"b","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"k"},"finish_reason":"stop"}]}'; }
    }
    aigw_provider a url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 key=k;
    aigw_provider b url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=k;
    aigw_model m a b;
--- config
    location /v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 200ms;
        aigw_pass;
    }
    location /slow/v1/ {
        access_log logs/access.log gw;
        aigw_read_timeout 10s;
        aigw_pass;
    }
--- request eval
[ "POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"fail"}]}',
  "POST /slow/v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}]}',
  "POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"fail"}]}',
  "POST /v1/chat/completions\n" . '{"model":"m","messages":[{"role":"user","content":"x"}]}' ]
--- abort
--- timeout: 1
--- response_headers eval
[ "X-AIGW-Attempts: a:500,b:200", undef, "X-AIGW-Attempts: a:500,b:200", "X-AIGW-Attempts: b:200" ]
--- error_log
aigw: provider "a" failed 2 times in a row, its circuit is open
