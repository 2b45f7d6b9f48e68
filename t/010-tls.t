# Gateway core: TLS to providers.  Certificates are verified by default
# (system store), against aigw_ssl_trusted_certificate when given, with SNI
# and the host name checked; aigw_ssl_verify off skips verification.
#
# A throwaway CA and a server certificate for "provider.test" are made
# with the openssl CLI when the file loads, in a temporary directory that
# is removed at the end (no keys in the repository, nothing that expires).
# The provider is the njs echo mock behind "listen ... ssl".
use lib 't/lib';
use Cwd ();
use File::Temp ();
BEGIN { $ENV{TEST_NGINX_FIXTURES} = Cwd::abs_path('t/fixtures/openai') }
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $tls = File::Temp::tempdir('aigw-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub openssl {
    system('openssl', @_) == 0
        or bail_out("openssl @_ failed (is the openssl CLI installed?)");
}

{
    open my $fh, '>', "$tls/server.ext" or die "$tls/server.ext: $!";
    print $fh "basicConstraints = CA:FALSE\n",
              "keyUsage = digitalSignature\n",
              "extendedKeyUsage = serverAuth\n",
              "subjectAltName = DNS:provider.test, DNS:*.provider.test\n";
    close $fh;

    # quiet: openssl chats on stderr, and prove shows it

    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!";

    openssl(qw(req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
               -nodes -days 2 -subj /CN=aigw-test-CA),
            -addext => 'basicConstraints=critical,CA:TRUE',
            -addext => 'keyUsage=critical,keyCertSign,cRLSign',
            -keyout => "$tls/ca.key", -out => "$tls/ca.crt");
    openssl(qw(req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
               -nodes -subj /CN=provider.test),
            -keyout => "$tls/server.key", -out => "$tls/server.csr");
    openssl(qw(x509 -req -days 2 -set_serial 1),
            -in => "$tls/server.csr", -CA => "$tls/ca.crt",
            -CAkey => "$tls/ca.key", -extfile => "$tls/server.ext",
            -out => "$tls/server.crt");

    open STDERR, '>&', $err or die "dup: $!";
}

$ENV{TEST_NGINX_TLS_DIR} = $tls;

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_JS_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    js_import echo from $TEST_NGINX_FIXTURES/echo.js;
    log_format mock 'MOCK $request_uri sni=$ssl_server_name tls=$ssl_protocol host=$http_host conn=$connection/$connection_requests';
    log_format gw 'GW $status attempts=$aigw_attempts';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_TLS_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_TLS_DIR/server.key;
        access_log logs/access.log mock;
        client_body_buffer_size 1m;
        location / { js_content echo.main; }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        access_log logs/access.log gw;
        aigw_pass;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
    $block->set_value(no_error_log => "[error]\n")
        unless $block->{no_error_log} || $block->{error_log};
});

run_tests();

__DATA__

=== TEST 1: trusted CA: the certificate and the host name verify, SNI is the host; the TLS connection is reused
--- http_config
    aigw_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.crt;
    aigw_provider sec url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=provider.test key=sk-tls;
    aigw_model t/m sec:tls-model;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"t/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"t/m","messages":[{"role":"user","content":"y"}]}',
]
--- response_json eval
[
{model => "tls-model", echo => {uri => "/v1/chat/completions",
  headers => {host => "provider.test", authorization => "Bearer sk-tls"},
  body => '{"model":"tls-model","messages":[{"role":"user","content":"x"}]}'}},
{model => "tls-model", echo => {connection_requests => "2"}},
]
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out eval
qr{\A
MOCK\ /v1/chat/completions\ sni=provider\.test\ tls=TLSv1\.[23]\ host=provider\.test\ conn=(\d+)/1\n
GW\ 200\ attempts=sec:200\n
MOCK\ /v1/chat/completions\ sni=provider\.test\ tls=TLSv1\.[23]\ host=provider\.test\ conn=\1/2\n
GW\ 200\ attempts=sec:200\n
\z}x



=== TEST 2: sni= names the certificate, host= the Host header
--- http_config
    aigw_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.crt;
    aigw_provider sec url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=api.gateway.example sni=eu.provider.test key=sk-tls;
    aigw_model t/m sec;
--- request
POST /v1/chat/completions
{"model":"t/m","messages":[{"role":"user","content":"x"}]}
--- response_json
{"model":"m","echo":{"headers":{"host":"api.gateway.example"}}}
--- grep_access_log eval: qr/MOCK \S+ sni=\S+/
--- grep_access_log_out
MOCK /v1/chat/completions sni=eu.provider.test



=== TEST 3: trusted CA but a host name the certificate does not hold: 502 JSON, the log says why
--- http_config
    aigw_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.crt;
    aigw_provider sec url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=wrong.test key=sk-tls;
    aigw_model t/m sec;
--- request
POST /v1/chat/completions
{"model":"t/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"no provider could answer (attempts: sec:error)","type":"server_error"}}
--- error_log
upstream SSL certificate does not match "wrong.test" while SSL handshaking to upstream
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
GW 502 attempts=sec:error



=== TEST 4: no trusted certificate given: the system store does not know the test CA, the handshake fails
--- http_config
    aigw_provider sec url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=provider.test key=sk-tls;
    aigw_model t/m sec;
--- request
POST /v1/chat/completions
{"model":"t/m","messages":[{"role":"user","content":"x"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_json
{"error":{"message":"no provider could answer (attempts: sec:error)","type":"server_error"}}
--- error_log eval
qr/upstream SSL certificate verify error: \(\d+:(unable to get local issuer certificate|self[- ]signed certificate in certificate chain)\) while SSL handshaking to upstream/
--- grep_access_log eval: qr/(MOCK|GW) .*/
--- grep_access_log_out
GW 502 attempts=sec:error



=== TEST 5: aigw_ssl_verify off: an unknown CA and a wrong host name are accepted
--- http_config
    aigw_ssl_verify off;
    aigw_provider sec url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/v1 host=wrong.test key=sk-tls;
    aigw_model t/m sec;
--- request
POST /v1/chat/completions
{"model":"t/m","messages":[{"role":"user","content":"x"}]}
--- response_json
{"model":"m","echo":{"headers":{"host":"wrong.test","authorization":"Bearer sk-tls"}}}
--- grep_access_log eval: qr/(MOCK|GW) \S+ \S+/
--- grep_access_log_out
MOCK /v1/chat/completions sni=wrong.test
GW 200 attempts=sec:200



=== TEST 6: upstream= providers speak TLS by default; verification and SNI follow host=; keepalive reuses the TLS connection
--- http_config
    aigw_ssl_trusted_certificate $TEST_NGINX_TLS_DIR/ca.crt;
    upstream tls_up {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 2;
    }
    aigw_provider up upstream=tls_up host=provider.test key=sk-up;
    aigw_model u/m up:up-model;
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"u/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"u/m","messages":[{"role":"user","content":"y"}]}',
]
--- response_json eval
[
{model => "up-model", echo => {uri => "/v1/chat/completions",
  headers => {host => "provider.test", authorization => "Bearer sk-up"}}},
{model => "up-model", echo => {connection_requests => "2"}},
]
--- grep_access_log eval: qr/MOCK .*/
--- grep_access_log_out eval
qr{\A
MOCK\ /v1/chat/completions\ sni=provider\.test\ tls=TLSv1\.[23]\ host=provider\.test\ conn=(\d+)/1\n
MOCK\ /v1/chat/completions\ sni=provider\.test\ tls=TLSv1\.[23]\ host=provider\.test\ conn=\1/2\n
\z}x
