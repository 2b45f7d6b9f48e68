# aigw_alert: webhook events (budget_warn, budget_exceeded, circuit_open)
# POSTed to a receiver on loopback (an nginx server that logs the body to
# access.log), exactly once per crossing; a failed delivery is logged.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use File::Temp ();

repeat_each(1);

# a throwaway CA and a certificate for 127.0.0.1, for an https:// webhook

our $tls = File::Temp::tempdir('aigw-alert-tls-XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);

sub openssl {
    system('openssl', @_) == 0
        or bail_out("openssl @_ failed (is the openssl CLI installed?)");
}

{
    open my $fh, '>', "$tls/server.ext" or die "$tls/server.ext: $!";
    print $fh "basicConstraints = CA:FALSE\n",
              "extendedKeyUsage = serverAuth\n",
              "subjectAltName = IP:127.0.0.1\n";
    close $fh;

    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!";

    openssl(qw(req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
               -nodes -days 2 -subj /CN=aigw-alert-CA),
            -addext => 'basicConstraints=critical,CA:TRUE',
            -addext => 'keyUsage=critical,keyCertSign,cRLSign',
            -keyout => "$tls/ca.key", -out => "$tls/ca.crt");
    openssl(qw(req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
               -nodes -subj /CN=127.0.0.1),
            -keyout => "$tls/server.key", -out => "$tls/server.csr");
    openssl(qw(x509 -req -days 2 -set_serial 1),
            -in => "$tls/server.csr", -CA => "$tls/ca.crt",
            -CAkey => "$tls/ca.key", -extfile => "$tls/server.ext",
            -out => "$tls/server.crt");

    open STDERR, '>&', $err or die "dup: $!";
}

$ENV{TEST_NGINX_ALERT_TLS_DIR} = $tls;

add_block_preprocessor(sub {
    my $block = shift;

    my $main = $block->{main_config} ? $block->{main_config}[0] : '';
    $block->set_value(main_config =>
        "    load_module \$TEST_NGINX_ECHO_MODULE;\n$main");

    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    $block->set_value(http_config => <<'_EOC_' . $http);
    log_format hook escape=none 'HOOK $request_uri $http_content_type $request_body';
    aigw_provider pv url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok key=k1;
    aigw_provider bad url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/e500 key=k2;
    aigw_model v/m pv:model-v input=2.50 output=10;
    aigw_model c/m bad:model-c;
    aigw_key team sha256:6ef19604df802e337d1cb32296db9cb248e4f2480a417db57d21dd298722d77e budget=1/day warn=50%;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        default_type application/json;
        location /ok/chat/completions {
            return 200 '{"id":"chatcmpl-v","object":"chat.completion","created":1,"model":"model-v","choices":[{"index":0,"message":{"role":"assistant","content":"v"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100000,"completion_tokens":10000,"total_tokens":110000}}';
        }
        location /e500/chat/completions {
            return 500 '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}';
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /hook/ {
            access_log logs/access.log hook;
            echo_read_request_body;
            echo ok;
        }
        location /refuse/ {
            return 403;
        }
    }
_EOC_

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        aigw_auth on;
        aigw_pass;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: budget_warn once when the warn= threshold is crossed, budget_exceeded once for the refusals of the period
--- http_config
    aigw_alert url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/hook/T0k3n events=budget_warn,budget_exceeded;
--- request eval
[("POST /v1/chat/completions\n" . '{"model":"v/m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}') x 6]
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- request_gap: 0.1
--- error_code eval
[200, 200, 200, 402, 402, 402]
--- grep_access_log eval: qr/HOOK .*/
--- grep_access_log_out eval
qr{\AHOOK /hook/T0k3n application/json \{"text":"aigw: budget \\"key:budget\\" crossed its warning: \$0\.7\d{5} of \$1\.000000 used","event":"budget_warn","budget":"key:budget","used_usd":0\.7\d{5},"amount_usd":1\.000000,"time":\d+\}
HOOK /hook/T0k3n application/json \{"text":"aigw: budget \\"key:budget\\" is exhausted: \$1\.050000 of \$1\.000000 used","event":"budget_exceeded","budget":"key:budget","used_usd":1\.050000,"amount_usd":1\.000000,"time":\d+\}
\z}
--- no_error_log eval
[qr/\[error\]/, qr/\[(?:info|notice|warn|error|crit|alert|emerg)\].*T0k3n/]



=== TEST 2: circuit_open once when a target's circuit opens; the other events are not sent when not asked for
--- http_config
    aigw_health failures=2 open=30s;
    aigw_alert url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/hook/c events=circuit_open;
--- request eval
[("POST /v1/chat/completions\n" . '{"model":"c/m","messages":[{"role":"user","content":"x"}]}') x 2,
("POST /v1/chat/completions\n" . '{"model":"v/m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}') x 4]
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- request_gap: 0.1
--- error_code eval
[500, 500, 200, 200, 200, 402]
--- grep_access_log eval: qr/HOOK .*/
--- grep_access_log_out eval
qr{\AHOOK /hook/c application/json \{"text":"aigw: the circuit of provider \\"bad\\" model \\"model-c\\" is open for 30000ms","event":"circuit_open","provider":"bad","model":"model-c","open_ms":30000,"time":\d+\}\n\z}
--- no_error_log
[error]



=== TEST 3: a webhook that refuses, and one that is not there: the failures are logged (without the URL's path), nothing is retried
--- http_config
    aigw_health failures=1 open=30s;
    aigw_alert url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/refuse/S3cr3t events=circuit_open;
    aigw_alert url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/hook/S3cr3t events=circuit_open timeout=1s;
--- request eval
["POST /v1/chat/completions\n" . '{"model":"c/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"v/m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}']
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- request_gap: 0.3
--- error_code eval
[500, 200]
--- grep_error_log eval: qr/aigw: alert .*/
--- grep_error_log_out eval
[qr/\A(?=.*alert circuit_open to 127\.0\.0\.1 refused by the webhook: HTTP\/1\.1 403\n)(?=.*alert circuit_open to 127\.0\.0\.1 send failed\n).{0,200}\z/s]
--- no_error_log eval
[qr/\[(?:info|notice|warn|error|crit|alert|emerg)\].*aigw.*S3cr3t/]



=== TEST 4: an https:// webhook: the certificate is verified against ssl_trusted_certificate=; an untrusted one is not sent to
--- http_config
    aigw_health failures=1 open=30s;
    aigw_alert url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_3/hook/tls events=circuit_open
               ssl_trusted_certificate=$TEST_NGINX_ALERT_TLS_DIR/ca.crt;
    aigw_alert url=https://127.0.0.1:$TEST_NGINX_RAND_PORT_3/hook/untrusted events=circuit_open;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate $TEST_NGINX_ALERT_TLS_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_ALERT_TLS_DIR/server.key;
        location /hook/ {
            access_log logs/access.log hook;
            echo_read_request_body;
            echo ok;
        }
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"c/m","messages":[{"role":"user","content":"x"}]}',
"POST /v1/chat/completions\n" . '{"model":"v/m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}']
--- more_headers
Content-Type: application/json
Authorization: Bearer sec-team
--- request_gap: 0.3
--- error_code eval
[500, 200]
--- grep_access_log eval: qr/HOOK \S+/
--- grep_access_log_out
HOOK /hook/tls
--- grep_error_log eval: qr/aigw: alert .*/
--- grep_error_log_out eval
[qr/\A(?=.*^aigw: alert circuit_open to 127\.0\.0\.1 its certificate is not trusted\n)(?=.*^aigw: alert circuit_open to 127\.0\.0\.1 delivered: HTTP\/1\.1 200\n)(?:[^\n]*\n){2}\z/ms]



=== TEST 5: aigw_alert needs an http:// or https:// url=, known events
--- http_config
    aigw_alert url=ftp://127.0.0.1/x;
--- config
--- must_die
--- error_log
needs an http:// or https:// url=
