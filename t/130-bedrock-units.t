# Issue 15, item 3: the SigV4 signer and the AWS event stream frame
# decoder against the published vectors (shared/reference/providers.md
# §3.6, §3.7), through the test hooks "aigw_test_sigv4" and
# "aigw_test_eventstream" of t/hooks/ngx_http_aigw_test_module.c: the
# first signs the request its body describes and answers with the
# Authorization value, the second decodes hex frames in reads of a given
# size and answers with one line per frame.
use lib 't/lib';
use Cwd ();
use File::Basename ();

BEGIN {
    my ($aigw) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                             // 'objs/ngx_http_aigw_module.so');
    $ENV{TEST_NGINX_AIGW_TEST_MODULE} //= defined $aigw
        ? File::Basename::dirname(Cwd::abs_path($aigw))
          . '/ngx_http_aigw_test_module.so'
        : '';

    $ENV{ASAN_OPTIONS} = join ':', grep { length }
        $ENV{ASAN_OPTIONS} // '',
        'suppressions=' . Cwd::abs_path('t/hooks/asan.supp');

    unless (-f $ENV{TEST_NGINX_AIGW_TEST_MODULE}) {
        print "Bail out!  no test module \"$ENV{TEST_NGINX_AIGW_TEST_MODULE}\""
            . " (TEST_NGINX_AIGW_TEST_MODULE): build it with `make`\n";
        exit 255;
    }
}

use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $Secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
our $Token = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

# the AWS test suite's request: "method", then the headers to sign

sub suite {
    my ($method, @headers) = @_;
    return "POST /sign\n" . CORE::join '', "method $method\n", "path /\n",
        "region us-east-1\n", "service service\n",
        "date 20150830T123600Z\n", "key AKIDEXAMPLE\n", "secret $Secret\n",
        "header host:example.amazonaws.com\n",
        "header x-amz-date:20150830T123600Z\n",
        map { "header $_\n" } @headers;
}

# the published frames

our %F = (
    empty => '00000010 00000000 05c248eb 7d98c8ff',
    no_headers => '0000001d 00000000 fd528c5a 7b27666f6f273a27626172277d c3653936',
    all_headers => '000000cc000000af0fae64ca0a6576656e742d74797065040000a00c0c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0a626f6f6c2066616c73650109626f6f6c207472756500046279746502cf08627974652062756606001449276d2061206c6974746c6520746561706f74210974696d657374616d70080000000000845fed05696e74313603002a05696e7436340500000000028757b20475756964090102030405060708090a0b0c0d0e0f107b27666f6f273a27626172277daba5f10c',
    bedrock => '000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22726f6c65223a22617373697374616e74227d6fa8c599',
);

# a frame of given lengths, or of string headers and a payload, in hex

sub crc {
    my $c = 0xFFFFFFFF;
    for my $b (unpack 'C*', $_[0]) {
        $c ^= $b;
        $c = $c & 1 ? ($c >> 1) ^ 0xEDB88320 : $c >> 1 for 1 .. 8;
    }
    return $c ^ 0xFFFFFFFF;
}

sub raw_frame {
    my ($total, $hlen, $rest) = @_;
    my $p = pack 'NN', $total, $hlen;
    $p .= pack 'N', crc($p);
    my $m = $p . $rest;
    return unpack 'H*', $m . pack 'N', crc($m);
}

sub hdr { pack('C/a* C n/a*', $_[0], 7, $_[1]) }

sub frame {
    my ($h, $payload) = @_;
    return raw_frame(16 + length($h) + length($payload), length $h,
                     $h . $payload);
}

($F{bedrock_bad_prelude} = $F{bedrock}) =~ s/^(.{16})96/${1}97/;
($F{bedrock_bad_message} = $F{bedrock}) =~ s/99$/98/;
($F{bedrock_bad_payload} = $F{bedrock}) =~ s/726f6c65/726f6c66/;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => "    load_module \$TEST_NGINX_AIGW_TEST_MODULE;\n");

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location = /sign {
        aigw_test_sigv4;
    }

    location = /eventstream {
        aigw_test_eventstream;
    }
_EOC_

    $block->set_value(no_error_log => "[error]\n[warn]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: SigV4 suite get-vanilla: the published signature
--- request eval
main::suite('GET')
--- response_body
payload: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31



=== TEST 2: SigV4 suite post-vanilla
--- request eval
main::suite('POST')
--- response_body
payload: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b



=== TEST 3: SigV4 suite post-sts-header-before: the session token is signed
--- request eval
main::suite('POST', "x-amz-security-token:$::Token")
--- response_body
payload: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead



=== TEST 4: SigV4 of a Converse request: the model id's "%3A" is encoded again in the canonical URI
--- request eval
"POST /sign\n" . CORE::join '', "method POST\n",
    "path /model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse\n",
    "region us-east-1\n", "service bedrock\n", "date 20150830T123600Z\n",
    "key AKIDEXAMPLE\n", "secret $::Secret\n",
    "header content-type:application/json\n",
    "header host:bedrock-runtime.us-east-1.amazonaws.com\n",
    "header x-amz-date:20150830T123600Z\n", "\n",
    '{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}'
--- response_body
payload: 45e583fed2564dc00e823303d7609f8587af7f685b993cb0f998afc0d480b01d
Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=b7810949dc1fbd9947834a0220b4df999dd6b203b9ab18e56b8955ccb5e505b0



=== TEST 5: SigV4: another secret, another signature
--- request eval
my $r = main::suite('POST');
$r =~ s/EXAMPLEKEY/EXAMPLEKEZ/;
$r
--- response_body_like
^payload: e3b0c442\w+\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=(?!5da7c1a2)[0-9a-f]{64}$



=== TEST 6: event stream: the published frames, all at once
--- request eval
"POST /eventstream\n" . CORE::join ' ', @::F{qw(empty no_headers all_headers bedrock)}
--- response_body eval
"event  \n"
. "event  {'foo':'bar'}\n"
. "event  {'foo':'bar'}\n"
. "event messageStart {\"role\":\"assistant\"}\n"



=== TEST 7: event stream: the same frames one byte a read, then two, then seven
--- request eval
my $b = CORE::join ' ', @::F{qw(empty no_headers all_headers bedrock)};
["POST /eventstream?chunk=1\n$b", "POST /eventstream?chunk=2\n$b", "POST /eventstream?chunk=7\n$b"]
--- response_body eval
my $out = "event  \n"
    . "event  {'foo':'bar'}\n"
    . "event  {'foo':'bar'}\n"
    . "event messageStart {\"role\":\"assistant\"}\n";
[$out, $out, $out]



=== TEST 8: event stream: a bad prelude CRC, a bad message CRC, a changed payload are errors, in any read size
--- request eval
[ "POST /eventstream\n$::F{bedrock} $::F{bedrock_bad_prelude}",
  "POST /eventstream?chunk=5\n$::F{bedrock_bad_prelude}",
  "POST /eventstream\n$::F{bedrock_bad_message}",
  "POST /eventstream?chunk=3\n$::F{bedrock_bad_message}",
  "POST /eventstream\n$::F{bedrock_bad_payload}" ]
--- response_body eval
[ "event messageStart {\"role\":\"assistant\"}\nerror: a frame with a bad prelude CRC\n",
  "error: a frame with a bad prelude CRC\n",
  "error: a frame with a bad message CRC\n",
  "error: a frame with a bad message CRC\n",
  "error: a frame with a bad message CRC\n" ]



=== TEST 9: event stream: a frame cut at the end of the body is a truncated frame
--- request eval
my $cut = substr($::F{bedrock}, 0, 100);
[ "POST /eventstream\n$::F{empty} $cut", "POST /eventstream?chunk=4\n$cut",
  "POST /eventstream\n0000" ]
--- response_body eval
[ "event  \nrest: a truncated frame\n", "rest: a truncated frame\n",
  "rest: a truncated frame\n" ]



=== TEST 10: event stream: lengths that do not add up, headers that overrun
--- request eval
# total 15 (below the minimum 16), with a valid prelude CRC; headers_length
# 200 in a 29-byte frame; a string header whose length runs past the headers
[ "POST /eventstream\n" . main::raw_frame(15, 0, ''),
  "POST /eventstream\n" . main::raw_frame(29, 200, "x" x 13),
  "POST /eventstream\n" . main::raw_frame(16 + 6, 6, "\x02:a\x07\x00\x09") ]
--- response_body eval
[ "error: a frame with invalid lengths\n", "error: a frame with invalid lengths\n",
  "error: a frame with invalid headers\n" ]



=== TEST 11: event stream: an exception frame; an error frame with its message in a header
--- request eval
[ "POST /eventstream\n"
  . main::frame(main::hdr(':exception-type', 'throttlingException')
                . main::hdr(':message-type', 'exception'), '{"message":"slow down"}')
  . main::frame(main::hdr(':message-type', 'error') . main::hdr(':error-code', 'InternalFailure')
                . main::hdr(':error-message', 'boom'), '') ]
--- response_body
exception throttlingException {"message":"slow down"}
exception InternalFailure boom



=== TEST 12: the first frame, before a stream is committed: whole and valid, not yet whole, invalid
--- request eval
[ "POST /eventstream?first=1\n$::F{bedrock}",
  "POST /eventstream?first=1\n" . substr($::F{bedrock}, 0, 40),
  "POST /eventstream?first=1\n" . substr($::F{bedrock}, 0, 22),
  "POST /eventstream?first=1\n$::F{bedrock_bad_prelude}",
  "POST /eventstream?first=1\n$::F{bedrock_bad_message}" ]
--- response_body eval
[ "first: ok\n", "first: again\n", "first: again\n",
  "first: error: a frame with a bad prelude CRC\n",
  "first: error: a frame with a bad message CRC\n" ]
