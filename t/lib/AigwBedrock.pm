package AigwBedrock;

# A mock of Amazon Bedrock's Converse API for the t/13*-bedrock*.t suites,
# for start_mock_http: it checks what it receives (the SigV4 signature
# recomputed here from the request as received, or the Bedrock API key;
# the path; the body's shape) and answers with recorded-shape Converse
# responses and ConverseStream event streams (binary frames with their
# CRC32 computed here).  Every request it gets is recorded, with the
# verdict of its checks, in html/bedrock_last.json of the server root,
# which the gateway's own server serves as GET /bedrock_last.json.

use strict;
use warnings;
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);
use JSON::PP ();
use POSIX ();
use Exporter 'import';

our @EXPORT = qw(crc32 es_frame es_event es_exception bedrock_mock
                 sigv4_verify converse_text converse_stream);

my @T = map {
    my $c = $_;
    $c = $c & 1 ? 0xEDB88320 ^ ($c >> 1) : $c >> 1 for 1 .. 8;
    $c;
} 0 .. 255;

sub crc32 {
    my $c = 0xFFFFFFFF;
    $c = $T[($c ^ $_) & 0xff] ^ ($c >> 8) for unpack 'C*', $_[0];
    return $c ^ 0xFFFFFFFF;
}

# a frame of string headers (name => value, ...) and a payload

sub es_frame {
    my ($h, $payload) = @_;
    my $hb = '';
    for (my $i = 0; $i < @$h; $i += 2) {
        $hb .= pack 'C/a* C n/a*', $h->[$i], 7, $h->[$i + 1];
    }
    my $pre = pack 'NN', 16 + length($hb) + length($payload), length $hb;
    $pre .= pack 'N', crc32($pre);
    my $m = $pre . $hb . $payload;
    return $m . pack 'N', crc32($m);
}

my $J = JSON::PP->new->utf8->canonical;

sub es_event {
    my ($type, $data) = @_;
    $data = $J->encode($data) if ref $data;
    return es_frame([':event-type' => $type,
                     ':content-type' => 'application/json',
                     ':message-type' => 'event'], $data);
}

sub es_exception {
    my ($type, $message) = @_;
    return es_frame([':exception-type' => $type,
                     ':content-type' => 'application/json',
                     ':message-type' => 'exception'],
                    $J->encode({ message => $message }));
}

# the SigV4 signature of a request as received: '' or what is wrong

sub sigv4_verify {
    my ($r, %c) = @_;
    my $h = $r->{headers};
    my $auth = $h->{authorization} // return 'no Authorization';

    $auth =~ m{^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/bedrock/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$}
        or return "a malformed Authorization: $auth";
    my ($ak, $date, $region, $signed, $sig) = ($1, $2, $3, $4, $5);

    return "access key $ak" if $ak ne $c{key};
    return "region $region" if $region ne $c{region};

    my $amz = $h->{'x-amz-date'} // return 'no x-amz-date';
    $amz =~ /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/ or return "x-amz-date $amz";
    return 'the scope date is not the x-amz-date' if $1 ne $date;

    my $now = POSIX::strftime('%Y%m%dT%H%M%SZ', gmtime);
    return "x-amz-date $amz is not now ($now)"
        if abs(_secs($amz) - _secs($now)) > 300;

    my %s = map { $_ => 1 } split /;/, $signed;
    for my $need (qw(content-type host x-amz-content-sha256 x-amz-date)) {
        return "$need is not signed" unless $s{$need};
    }

    if (defined $c{token}) {
        return 'the session token is not signed' unless $s{'x-amz-security-token'};
        return 'another session token'
            if ($h->{'x-amz-security-token'} // '') ne $c{token};
    } elsif ($s{'x-amz-security-token'}) {
        return 'a session token without one configured';
    }

    my $payload = sha256_hex($r->{body});
    return 'x-amz-content-sha256 is not the body\'s hash'
        if ($h->{'x-amz-content-sha256'} // '') ne $payload;

    my ($path, $query) = split /\?/, $r->{uri}, 2;
    (my $curi = $path) =~ s{([^A-Za-z0-9\-_.~/])}{sprintf '%%%02X', ord $1}ge;
    my $cq = join '&', sort split /&/, $query // '';

    my $ch = '';
    for my $n (split /;/, $signed) {
        my $v = $h->{$n} // return "the signed header $n is missing";
        $v =~ s/^\s+|\s+$//g;
        $v =~ s/\s+/ /g;
        $ch .= "$n:$v\n";
    }

    my $creq = join "\n", $r->{method}, $curi, $cq, $ch, $signed, $payload;
    my $sts = "AWS4-HMAC-SHA256\n$amz\n$date/$region/bedrock/aws4_request\n"
              . sha256_hex($creq);

    my $k = hmac_sha256($date, "AWS4$c{secret}");
    $k = hmac_sha256($region, $k);
    $k = hmac_sha256('bedrock', $k);
    $k = hmac_sha256('aws4_request', $k);

    return 'the signature does not match' if hmac_sha256_hex($sts, $k) ne $sig;
    return '';
}

sub _secs {
    my ($y, $mo, $d, $h, $mi, $s) = $_[0] =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
    return POSIX::mktime($s, $mi, $h, $d, $mo - 1, $y - 1900);
}

# a Converse answer with text; usage (input, output, cache read, write)

sub converse_text {
    my ($text, $stop, @u) = @_;
    return { output => { message => { role => 'assistant',
                                      content => [ { text => $text } ] } },
             stopReason => $stop // 'end_turn',
             usage => _usage(@u),
             metrics => { latencyMs => 120 } };
}

sub _usage {
    my ($in, $out, $cr, $cw) = @_;
    $in //= 11;
    $out //= 7;
    $cr //= 0;
    $cw //= 0;
    return { inputTokens => $in, outputTokens => $out,
             totalTokens => $in + $out + $cr + $cw,
             cacheReadInputTokens => $cr, cacheWriteInputTokens => $cw };
}

# a ConverseStream reply: a list of frames (or delays) as chunks

sub converse_stream {
    my @frames = @_;
    return { status => 200,
             headers => [ 'Content-Type' => 'application/vnd.amazon.eventstream',
                          'x-amzn-RequestId' => 'req-1' ],
             chunks => \@frames };
}

# the mock: key/secret/region/token for SigV4 or bearer => KEY; check =>
# sub ($json, $req) returning '' or what is wrong; reply => sub ($json,
# $req, $stream) returning a response (a JSON-able answer is encoded)

sub bedrock_mock {
    my %o = @_;

    return sub {
        my $r = shift;
        my $err = '';
        my $json;

        if (defined $o{bearer}) {
            $err = 'not the Bedrock API key'
                if ($r->{headers}{authorization} // '') ne "Bearer $o{bearer}";
            $err ||= 'x-amz-* headers with a Bedrock API key'
                if grep { /^x-amz-/ } keys %{ $r->{headers} };
        } else {
            $err = sigv4_verify($r, %o);
        }

        my ($id, $op) = $r->{uri} =~ m{^/model/([^/]+)/(converse|converse-stream)$};
        $err ||= "unexpected path $r->{uri}" unless $op;

        if (!$err) {
            $json = eval { $J->decode($r->{body}) };
            $err = 'the body is not JSON' unless ref $json eq 'HASH';
        }

        if (!$err) {
            $err = 'a model or stream field in the body'
                if exists $json->{model} || exists $json->{stream};
            $err ||= 'no messages' unless ref $json->{messages} eq 'ARRAY';
            $err ||= $o{check}->($json, $r) // '' if $o{check};
        }

        _record($r, $json, $err);

        if ($err) {
            my $auth = $err =~ /signature|key|Authorization|x-amz|token|region|signed/;
            return { status => $auth ? 403 : 400,
                     headers => [ 'Content-Type' => 'application/json',
                                  'x-amzn-ErrorType' => ($auth ? 'InvalidSignatureException'
                                                               : 'ValidationException')
                                                        . ':http://internal.amazon.com/coral/com.amazon.coral.service/' ],
                     body => $J->encode({ message => "mock: $err" }) };
        }

        my $res = $o{reply} ? $o{reply}->($json, $r, $op eq 'converse-stream')
                            : converse_text('Hello from Bedrock');

        return $res if exists $res->{status};

        return { status => 200, headers => [ 'Content-Type' => 'application/json' ],
                 body => $J->encode($res) };
    };
}

sub _record {
    my ($r, $json, $err) = @_;
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} // return;
    my %h = map { $_ => $r->{headers}{$_} }
            grep { /^(x-amz-|authorization|content-type|accept)/ } keys %{ $r->{headers} };
    if (open my $fh, '>', "$root/html/bedrock_last.json") {
        print $fh $J->encode({ uri => $r->{uri}, headers => \%h, body => $json,
                               verdict => $err || 'ok' });
        close $fh;
    }
}

1;
