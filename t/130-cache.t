# Issue 12: response caching on nginx's upstream cache, driven by the
# client's Cache-Control request header.  The mock provider (start_mock_http)
# logs every request it gets, so "the provider was called once" is checked
# at the provider.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

repeat_each(1);

our $OPENAI = '{"id":"chatcmpl-c1","object":"chat.completion","created":1,"model":"gpt-x",'
    . '"choices":[{"index":0,"message":{"role":"assistant","content":"cached hello"},'
    . '"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}';

our $ANTHROPIC = '{"id":"msg_c1","type":"message","role":"assistant","model":"claude-x",'
    . '"content":[{"type":"text","text":"cached hello"}],"stop_reason":"end_turn",'
    . '"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":7}}';

sub mock {
    my %o = @_;
    start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => sub {
        my $r = shift;
        select(undef, undef, undef, $o{delay}) if $o{delay};
        if ($o{status}) {
            return { status => $o{status}, headers => ['Content-Type' => 'application/json'],
                     body => '{"error":{"message":"down","type":"server_error"}}' };
        }
        my $body = $r->{uri} =~ m{/messages} ? $ANTHROPIC
                 : $r->{uri} =~ m{/embeddings}
                   ? '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}'
                 : $OPENAI;
        return { status => 200, headers => ['Content-Type' => 'application/json'], body => $body };
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
    my ($extra, $cc) = @_;
    $extra //= '';
    return "POST /v1/chat/completions\n{\"model\":\"gpt-x\",\"max_tokens\":20$extra,"
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
