# Issue 15, items 3 to 5 for Bedrock: format=bedrock behind both client
# surfaces (OpenAI /v1/chat/completions, Anthropic /v1/messages),
# streaming included: the Converse body, tools and their results,
# reasoning, usage with cache reads and writes, stop reasons, errors before
# and inside the stream, a bad frame, failover; SigV4 per try (with a
# session token) and Bedrock API keys.
#
# Provider: the Perl mock of t/lib/AigwBedrock.pm on $TEST_NGINX_RAND_PORT_1
# (and _2), which recomputes each request's SigV4 signature, checks the
# path and the body and answers with recorded-shape Converse responses or
# binary event streams; it records what it got in html/bedrock_last.json,
# served by the gateway as GET /bedrock_last.json.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use AigwBedrock;
use JSON::PP ();

our $Secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

BEGIN {
    $ENV{AIGW_T131_AK} = 'AKIDEXAMPLE';
    $ENV{AIGW_T131_SK} = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    $ENV{AIGW_T131_TOKEN} = 'IQoJb3JpZ2luX2VjEXAMPLE//token+/=';
    $ENV{AIGW_T131_BEARER} = 'ABSKQmVkcm9ja0FQSUtleS1example';
    delete $ENV{AIGW_T131_UNSET};
}

our %Creds = (key => 'AKIDEXAMPLE', secret => $Secret, region => 'us-east-1');

sub json { JSON::PP->new->utf8->canonical->encode(shift) }

sub chat { "POST /v1/chat/completions\n" . json({ model => 'br', @_ }) }
sub msgs { "POST /v1/messages\n" . json({ model => "br", max_tokens => 4096, @_ }) }

sub ev { es_event(@_) }

# a stream of text: deltas, stop, usage

our @TextStream = (
    ev(messageStart => { role => 'assistant' }),
    ev(contentBlockDelta => { contentBlockIndex => 0, delta => { text => 'Hel' } }),
    ev(contentBlockDelta => { contentBlockIndex => 0, delta => { text => "lo \"w\"" }, p => 'abcdefgh' }),
    ev(contentBlockStop => { contentBlockIndex => 0 }),
    ev(messageStop => { stopReason => 'end_turn' }),
    ev(metadata => { usage => { inputTokens => 10, outputTokens => 2, totalTokens => 20,
                                cacheReadInputTokens => 5, cacheWriteInputTokens => 3 },
                     metrics => { latencyMs => 80 } }),
);

# reasoning, then text, then a tool call

our @ToolStream = (
    ev(messageStart => { role => 'assistant' }),
    ev(contentBlockDelta => { contentBlockIndex => 0, delta => { reasoningContent => { text => 'Need the' } } }),
    ev(contentBlockDelta => { contentBlockIndex => 0, delta => { reasoningContent => { text => ' tool.' } } }),
    ev(contentBlockDelta => { contentBlockIndex => 0, delta => { reasoningContent => { signature => 'EqQBsig' } } }),
    ev(contentBlockStop => { contentBlockIndex => 0 }),
    ev(contentBlockDelta => { contentBlockIndex => 1, delta => { text => 'Checking.' } }),
    ev(contentBlockStop => { contentBlockIndex => 1 }),
    ev(contentBlockStart => { contentBlockIndex => 2, start => { toolUse => { toolUseId => 'tooluse_1', name => 'get_weather' } } }),
    ev(contentBlockDelta => { contentBlockIndex => 2, delta => { toolUse => { input => '{"city":' } } }),
    ev(contentBlockDelta => { contentBlockIndex => 2, delta => { toolUse => { input => '"Paris"}' } } }),
    ev(contentBlockStop => { contentBlockIndex => 2 }),
    ev(messageStop => { stopReason => 'tool_use' }),
    ev(metadata => { usage => { inputTokens => 30, outputTokens => 12, totalTokens => 42 } }),
);

our $Tools = [ { type => 'function', function => { name => 'get_weather', description => 'Current weather',
                 parameters => { type => 'object', properties => { city => { type => 'string' } } } } } ];

# a bedrock that is busy, an anthropic that is overloaded, an openai that answers

sub mixed_mocks {
    start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
        reply => sub { { status => 429, headers => [ 'Content-Type' => 'application/json' ],
                         body => '{"message":"Too many requests"}' } }));

    start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => sub {
        my $r = shift;

        if ($r->{uri} eq '/v1/messages') {
            return { status => 529, headers => [ 'Content-Type' => 'application/json' ],
                     body => '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' };
        }

        my $j = JSON::PP::decode_json($r->{body});
        return { status => 400, body => "no model\n" } unless $j->{model} eq 'gpt-4.1';

        my $c = sub { 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1",'
                      . $_[0] . "}\n\n" };

        return { status => 200, headers => [ 'Content-Type' => 'text/event-stream' ],
                 chunks => [ $c->('"choices":[{"index":0,"delta":{"role":"assistant","content":"from openai"},"finish_reason":null}]'),
                             $c->('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]'),
                             $c->('"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}'),
                             "data: [DONE]\n\n" ] } if $j->{stream};

        return { status => 200, headers => [ 'Content-Type' => 'application/json' ],
                 body => '{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"from openai"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}' };
    });
}

add_block_preprocessor(sub {
    my $block = shift;

    if ($block->{must_die}) {
        $block->set_value(suppress_stderr => 1);
        return;
    }

    $block->set_value(http_config => <<'_EOC_' . ($block->{providers} ? $block->{providers}[0] : ''))
    log_format br 'BR $status p=$aigw_provider pm=$aigw_provider_model in=$aigw_input_tokens out=$aigw_output_tokens cr=$aigw_cached_tokens cw=$aigw_cache_write_tokens a=$aigw_attempts';
_EOC_
        unless $block->{http_config};

    $block->set_value(config => <<'_EOC_') unless $block->{config};
    location /v1/ {
        aigw_pass;
        access_log logs/access.log br;
    }

    location = /bedrock_last.json {
        root html;
    }
_EOC_

    $block->set_value(more_headers => "Content-Type: application/json\n")
        unless $block->{more_headers};
});

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: OpenAI client, Converse: a signed request with the Converse body, the answer and usage in OpenAI's shape
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_text('Hello from Bedrock', 'end_turn', 11, 7, 4, 2) }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:us.anthropic.claude-3-5-haiku-20241022-v1:0;
--- request eval
[ main::chat(messages => [ { role => 'system', content => 'Be brief.' }, { role => 'user', content => 'hi' } ],
             max_tokens => 50, temperature => 0.2, top_p => 0.9, stop => ['END']),
  "GET /bedrock_last.json" ]
--- response_json eval
[ { object => 'chat.completion', model => 'br',
    choices => [ { index => 0, message => { role => 'assistant', content => 'Hello from Bedrock' },
                   finish_reason => 'stop' } ],
    usage => { prompt_tokens => 17, completion_tokens => 7, total_tokens => 24,
               prompt_tokens_details => { cached_tokens => 4 } } },
  { verdict => 'ok', uri => '/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse',
    headers => { 'content-type' => 'application/json', 'x-amz-date' => '~/^\d{8}T\d{6}Z$/',
                 authorization => '~/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=/' },
    body => { system => [ { text => 'Be brief.' } ],
              messages => [ { role => 'user', content => [ { text => 'hi' } ] } ],
              inferenceConfig => { maxTokens => 50, temperature => 0.2, topP => 0.9, stopSequences => ['END'] } } } ]
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=br pm=us.anthropic.claude-3-5-haiku-20241022-v1:0 in=17 out=7 cr=4 cw=2 a=br:200
--- no_error_log
[error]
[warn]



=== TEST 2: Anthropic client, tool loop: tools, tool_use and tool_result history, signed reasoning replayed, a toolUse answer
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    check => sub {
        my $j = shift;
        my $m = $j->{messages};
        return 'three turns' unless @$m == 3;
        return 'reasoning not replayed'
            unless $m->[1]{content}[0]{reasoningContent}{reasoningText}{signature} eq 'sig1';
        return 'toolUse input' unless $m->[1]{content}[1]{toolUse}{input}{city} eq 'Paris';
        return 'toolResult' unless $m->[2]{content}[0]{toolResult}{toolUseId} eq 'tooluse_0'
                                   && $m->[2]{content}[0]{toolResult}{content}[0]{text} eq '18C';
        return 'toolConfig' unless $j->{toolConfig}{tools}[0]{toolSpec}{inputSchema}{json}{type} eq 'object'
                                   && exists $j->{toolConfig}{toolChoice}{auto};
        return 'thinking' unless $j->{additionalModelRequestFields}{thinking}{budget_tokens} == 2048;
        return '';
    },
    reply => sub {
        { output => { message => { role => 'assistant', content => [
            { reasoningContent => { reasoningText => { text => 'Again.', signature => 'sig2' } } },
            { toolUse => { toolUseId => 'tooluse_2', name => 'get_weather', input => { city => 'Lyon' } } } ] } },
          stopReason => 'tool_use', usage => { inputTokens => 40, outputTokens => 9, totalTokens => 49 } }
    }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:anthropic.claude-sonnet-4-v1:0 reasoning;
--- request eval
main::msgs(thinking => { type => 'enabled', budget_tokens => 2048 }, tool_choice => { type => 'auto' },
    tools => [ { name => 'get_weather', description => 'Current weather',
                 input_schema => { type => 'object', properties => { city => { type => 'string' } } } } ],
    messages => [ { role => 'user', content => 'Weather in Paris?' },
                  { role => 'assistant', content => [
                      { type => 'thinking', thinking => 'Need it.', signature => 'sig1' },
                      { type => 'tool_use', id => 'tooluse_0', name => 'get_weather', input => { city => 'Paris' } } ] },
                  { role => 'user', content => [ { type => 'tool_result', tool_use_id => 'tooluse_0', content => '18C' } ] } ])
--- response_json
{"type":"message","role":"assistant","model":"br","stop_reason":"tool_use",
 "content":[{"type":"thinking","thinking":"Again.","signature":"sig2"},
            {"type":"tool_use","id":"tooluse_2","name":"get_weather","input":{"city":"Lyon"}}],
 "usage":{"input_tokens":40,"output_tokens":9}}
--- no_error_log
[error]
[warn]



=== TEST 3: OpenAI client, ConverseStream: text deltas in chunks, the finish and the usage chunk after the metadata event
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream(map { ($_, 0.02) } @main::TextStream) }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:us.anthropic.claude-3-5-haiku-20241022-v1:0;
--- request eval
main::chat(stream => JSON::PP::true, stream_options => { include_usage => JSON::PP::true },
           messages => [ { role => 'user', content => 'hi' } ])
--- sse_data eval
[ { object => 'chat.completion.chunk', model => 'br', choices => [ { delta => { role => 'assistant' } } ] },
  { choices => [ { delta => { content => 'Hel' } } ] },
  { choices => [ { delta => { content => 'lo "w"' } } ] },
  { choices => [ { delta => {}, finish_reason => 'stop' } ] },
  { choices => [], usage => { prompt_tokens => 18, completion_tokens => 2,
                              prompt_tokens_details => { cached_tokens => 5 } } },
  '[DONE]' ]
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=br pm=us.anthropic.claude-3-5-haiku-20241022-v1:0 in=18 out=2 cr=5 cw=3 a=br:200
--- no_error_log
[error]
[warn]



=== TEST 4: Anthropic client, ConverseStream: reasoning with its signature, text, a tool call with streamed input, usage in message_delta
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream(@main::ToolStream[0 .. 6], 0.05, @main::ToolStream[7 .. 12]) }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:anthropic.claude-sonnet-4-v1:0 reasoning;
--- request eval
main::msgs(stream => JSON::PP::true, messages => [ { role => 'user', content => 'Weather in Paris?' } ],
           tools => [ { name => 'get_weather', input_schema => { type => 'object' } } ])
--- sse_events eval
[ 'message_start', 'ping',
  'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop',
  'content_block_start', 'content_block_delta', 'content_block_stop',
  'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop',
  'message_delta', 'message_stop' ]
--- sse_data eval
[ { type => 'message_start', message => { role => 'assistant', model => 'br' } },
  { type => 'ping' },
  { type => 'content_block_start', index => 0, content_block => { type => 'thinking' } },
  { type => 'content_block_delta', index => 0, delta => { type => 'thinking_delta', thinking => 'Need the' } },
  { type => 'content_block_delta', index => 0, delta => { type => 'thinking_delta', thinking => ' tool.' } },
  { type => 'content_block_delta', index => 0, delta => { type => 'signature_delta', signature => 'EqQBsig' } },
  { type => 'content_block_stop', index => 0 },
  { type => 'content_block_start', index => 1, content_block => { type => 'text' } },
  { type => 'content_block_delta', index => 1, delta => { type => 'text_delta', text => 'Checking.' } },
  { type => 'content_block_stop', index => 1 },
  { type => 'content_block_start', index => 2, content_block => { type => 'tool_use', id => 'tooluse_1', name => 'get_weather' } },
  { type => 'content_block_delta', index => 2, delta => { type => 'input_json_delta', partial_json => '{"city":' } },
  { type => 'content_block_delta', index => 2, delta => { type => 'input_json_delta', partial_json => '"Paris"}' } },
  { type => 'content_block_stop', index => 2 },
  { type => 'message_delta', delta => { stop_reason => 'tool_use' }, usage => { output_tokens => 12 } },
  { type => 'message_stop' } ]
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=br pm=anthropic.claude-sonnet-4-v1:0 in=30 out=12 cr=0 cw=0 a=br:200
--- no_error_log
[error]
[warn]



=== TEST 5: OpenAI client, ConverseStream with a tool call: tool_calls chunks, finish_reason tool_calls; reasoning is not text
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    check => sub { $_[0]{toolConfig}{tools}[0]{toolSpec}{name} eq 'get_weather' ? '' : 'no tools' },
    reply => sub { converse_stream(@main::ToolStream) }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:anthropic.claude-sonnet-4-v1:0;
--- request eval
main::chat(stream => JSON::PP::true, tools => $main::Tools, messages => [ { role => 'user', content => 'Weather?' } ])
--- response_body_like
"content":"Checking\."[\s\S]*"tool_calls":\[\{"index":0,"id":"tooluse_1","type":"function","function":\{"name":"get_weather","arguments":""\}\}\][\s\S]*"arguments":"\{\\"city\\":"[\s\S]*"finish_reason":"tool_calls"[\s\S]*data: \[DONE\]
--- response_body_unlike
Need the
--- no_error_log
[error]
[warn]



=== TEST 6: an exception in the stream after the first text: the OpenAI error chunk, the Anthropic error event; no failover
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream(@main::TextStream[0, 1], 0.05,
                                   es_exception('modelStreamErrorException', 'the model broke')) }));
start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => sub { die "not to be reached\n" });
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider br2 format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1 br2:m2;
--- request eval
[ main::chat(stream => JSON::PP::true, messages => [ { role => 'user', content => 'hi' } ]),
  main::msgs(stream => JSON::PP::true, messages => [ { role => 'user', content => 'hi' } ]) ]
--- response_body_like eval
[ qr/"content":"Hel"[\s\S]*data: \{"error":\{"message":"the model broke","type":"server_error"/,
  qr/"text":"Hel"[\s\S]*event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"the model broke"\}\}/ ]
--- response_body_unlike eval
[ qr/finish_reason":"stop|\[DONE\]/, qr/message_stop/ ]
--- error_log
sent the stream exception "modelStreamErrorException"
--- no_error_log
[warn]



=== TEST 7: a bad CRC in the first frame is an invalid response: the next provider answers
--- init
my $bad = $main::TextStream[0];
substr($bad, -1, 1) = chr(ord(substr($bad, -1, 1)) ^ 1);
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream($bad, @main::TextStream[1 .. 5]) }));
start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream(@main::TextStream) }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider br2 format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1 br2:m2;
--- request eval
main::chat(stream => JSON::PP::true, messages => [ { role => 'user', content => 'first' } ])
--- response_body_like
"content":"Hel"[\s\S]*"content":"lo \\"w\\""[\s\S]*"finish_reason":"stop"[\s\S]*data: \[DONE\]
--- grep_access_log eval
qr/BR .*a=\S+/
--- grep_access_log_out
BR 200 p=br2 pm=m2 in=18 out=2 cr=5 cw=3 a=br:invalid,br2:200
--- error_log
provider "br" sent a frame with a bad message CRC while reading response header
--- no_error_log
[warn]



=== TEST 8: a bad CRC after the stream began: the client's error event ends it, no failover
--- init
my $mid = $main::TextStream[2];
substr($mid, 20, 1) = 'X';
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_stream(@main::TextStream[0, 1], 0.05, $mid, @main::TextStream[3 .. 5]) }));
start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => sub { die "not to be reached\n" });
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider br2 format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1 br2:m2;
--- request eval
main::msgs(stream => JSON::PP::true, messages => [ { role => 'user', content => 'later' } ])
--- response_body_like
"text":"Hel"[\s\S]*event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"the provider's stream broke off"\}\}
--- response_body_unlike
message_stop
--- incomplete_body
--- error_log
sent an invalid event-stream stream: a frame with a bad message CRC
--- no_error_log
[warn]



=== TEST 9: HTTP errors before the stream: 429 ThrottlingException fails over; 400 ValidationException reaches the client in its shape
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub {
        my $t = $_[0]{messages}[0]{content}[0]{text};
        return { status => $t eq 'busy' ? 429 : 400,
                 headers => [ 'Content-Type' => 'application/json',
                              'x-amzn-ErrorType' => ($t eq 'busy' ? 'ThrottlingException' : 'ValidationException')
                                                    . ':http://internal.amazon.com/coral/com.amazon.bedrock/' ],
                 body => main::json({ message => $t eq 'busy' ? 'Too many requests, please wait before trying again.'
                                                              : 'The model returned the following errors: messages: text content blocks must be non-empty' }) };
    }));
start_mock_http(port => '$TEST_NGINX_RAND_PORT_2', handler => bedrock_mock(%main::Creds,
    reply => sub { converse_text('from the second region') }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider br2 format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1;
    aigw_model br-eu br:m1 br2:m2;
--- request eval
[ main::chat(model => 'br-eu', messages => [ { role => 'user', content => 'busy' } ]),
  main::msgs(messages => [ { role => 'user', content => 'invalid' } ]),
  main::chat(messages => [ { role => 'user', content => 'invalid' } ]) ]
--- error_code eval
[200, 400, 400]
--- response_json eval
[ { choices => [ { message => { content => 'from the second region' } } ] },
  { type => 'error', error => { type => 'invalid_request_error', message => '~/text content blocks must be non-empty/' } },
  { error => { type => 'invalid_request_error', message => '~/text content blocks must be non-empty/' } } ]
--- grep_access_log eval
qr/BR \d+ p=\S+ .*a=\S+/
--- grep_access_log_out
BR 200 p=br2 pm=m2 in=11 out=7 cr=0 cw=0 a=br:429,br2:200
BR 400 p=br pm=m1 in=0 out=0 cr=0 cw=0 a=br:400
BR 400 p=br pm=m1 in=0 out=0 cr=0 cw=0 a=br:400



=== TEST 10: Bedrock API key (auth=bearer): Authorization: Bearer, no x-amz-* headers; an ARN model id is one encoded label
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(bearer => $ENV{AIGW_T131_BEARER}));
--- providers
    aigw_provider brk format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  auth=bearer key_env=AIGW_T131_BEARER;
    aigw_model br brk:arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123;
--- request eval
[ main::msgs(messages => [ { role => 'user', content => 'hi' } ]), "GET /bedrock_last.json" ]
--- response_json eval
[ { type => 'message', content => [ { type => 'text', text => 'Hello from Bedrock' } ], stop_reason => 'end_turn' },
  { verdict => 'ok', uri => '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse',
    headers => { authorization => 'Bearer ABSKQmVkcm9ja0FQSUtleS1example' } } ]
--- no_error_log
[error]
[warn]



=== TEST 11: SigV4 with a session token and an ARN model id: the token is sent and signed, the double-encoded path verifies
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds, token => $ENV{AIGW_T131_TOKEN}));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK session_token_env=AIGW_T131_TOKEN;
    aigw_model br br:arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0;
--- request eval
[ main::chat(messages => [ { role => 'user', content => 'hi' } ]), "GET /bedrock_last.json" ]
--- response_json eval
[ { choices => [ { message => { content => 'Hello from Bedrock' } } ] },
  { verdict => 'ok', uri => '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse',
    headers => { 'x-amz-security-token' => 'IQoJb3JpZ2luX2VjEXAMPLE//token+/=',
                 authorization => '~/SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, /' } } ]
--- no_error_log
[error]
[warn]



=== TEST 12: a secret the provider does not know: its 403 is the gateway's credentials error, the secret in no log
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds, secret => 'another-secret'));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1;
--- request eval
main::msgs(messages => [ { role => 'user', content => 'hi' } ])
--- error_code: 502
--- response_json
{"type":"error","error":{"type":"api_error","message":"provider \"br\": credentials rejected (403)"}}
--- error_log
rejected the gateway's credentials (403): mock: the signature does not match
--- no_error_log
wJalrXUtnFEMI
[warn]



=== TEST 13: the region from a bedrock-runtime host (host=), a secret from a file; an optional provider without its credentials is skipped
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds, region => 'eu-west-3',
    check => sub { $_[1]{headers}{host} eq 'bedrock-runtime.eu-west-3.amazonaws.com' ? '' : "host $_[1]{headers}{host}" }));
--- user_files eval
">>> aws_secret\n$main::Secret\n"
--- providers
    aigw_provider gone format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_UNSET secret_key_env=AIGW_T131_SK optional;
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1
                  host=bedrock-runtime.eu-west-3.amazonaws.com
                  access_key_env=AIGW_T131_AK secret_key_file=$TEST_NGINX_HTML_DIR/aws_secret;
    aigw_model br gone:m0 br:m1;
--- request eval
main::chat(messages => [ { role => 'user', content => 'hi' } ])
--- response_json
{"choices":[{"message":{"content":"Hello from Bedrock"}}]}
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=br pm=m1 in=11 out=7 cr=0 cw=0 a=gone:no key,br:200
--- error_log
provider "gone" skipped: no key, the key comes from environment variable AIGW_T131_UNSET



=== TEST 14: an optional provider whose session token variable is unset signs without a token
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK
                  session_token_env=AIGW_T131_UNSET optional;
    aigw_model br br:m1;
--- request eval
[ main::chat(messages => [ { role => 'user', content => 'hi' } ]), "GET /bedrock_last.json" ]
--- response_json eval
[ { choices => [ { message => { content => 'Hello from Bedrock' } } ] },
  { verdict => 'ok', headers => { authorization => '~/SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, /' } } ]
--- response_body_unlike eval
[ qr/^$/, qr/security-token/ ]
--- no_error_log
[error]
[warn]



=== TEST 15: a request's BYOK credential for a SigV4 provider goes as a Bedrock API key, unsigned; the configured credentials stay the next target
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(bearer => 'ABSK-client-own-key'));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1;
    aigw_key max sha256:8341ad2839763984cbd45751ecf4dcea63abc5ff1217f73d4c82212e8514d261 byok;
--- more_headers
Content-Type: application/json
Authorization: Bearer gw-byok-secret
--- request eval
[ main::chat(messages => [ { role => 'user', content => 'hi' } ],
             providerOptions => { gateway => { byok => { br => [ { apiKey => 'ABSK-client-own-key' } ] } } }),
  "GET /bedrock_last.json" ]
--- response_json eval
[ { choices => [ { message => { content => 'Hello from Bedrock' } } ] },
  { verdict => 'ok', headers => { authorization => 'Bearer ABSK-client-own-key' } } ]
--- response_body_unlike eval
[ qr/^$/, qr/x-amz|AKIDEXAMPLE/ ]
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=br pm=m1 in=11 out=7 cr=0 cw=0 a=br:200
--- no_error_log
[error]
[warn]
ABSK-client-own-key



=== TEST 16: additionalModelRequestFields: thinking and top_k from the request, the client's providerOptions.bedrock members win
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    check => sub {
        my $a = $_[0]{additionalModelRequestFields};
        return main::json($a) unless $a->{top_k} == 7 && $a->{anthropic_beta}[0] eq 'context-1m'
                                     && !exists $_[0]{providerOptions};
        return '';
    }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1;
--- request eval
[ main::msgs(top_k => 40, messages => [ { role => 'user', content => 'hi' } ],
             providerOptions => { bedrock => { additionalModelRequestFields => { top_k => 7, anthropic_beta => ['context-1m'] } } }),
  "GET /bedrock_last.json" ]
--- response_json eval
[ { type => 'message' },
  { verdict => 'ok', body => { additionalModelRequestFields => { top_k => 7, anthropic_beta => ['context-1m'] } } } ]
--- response_body_unlike eval
[ qr/^$/, qr/"top_k":40/ ]



=== TEST 17: stop reasons: max_tokens, a stop sequence (Anthropic's stop_sequence), guardrail_intervened, in both shapes
--- init
start_mock_http(port => '$TEST_NGINX_RAND_PORT_1', handler => bedrock_mock(%main::Creds,
    reply => sub {
        my $t = $_[0]{messages}[0]{content}[0]{text};
        my $r = converse_text('cut', $t);
        $r->{additionalModelResponseFields} = { delta => { stop_sequence => 'END' } } if $t eq 'stop_sequence';
        return $r;
    }));
--- providers
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_model br br:m1;
--- request eval
[ map({ main::chat(messages => [ { role => 'user', content => $_ } ]) } qw(max_tokens stop_sequence guardrail_intervened)),
  map({ main::msgs(messages => [ { role => 'user', content => $_ } ]) } qw(max_tokens stop_sequence guardrail_intervened)) ]
--- response_json eval
[ { choices => [ { finish_reason => 'length' } ] }, { choices => [ { finish_reason => 'stop' } ] },
  { choices => [ { finish_reason => 'content_filter' } ] },
  { stop_reason => 'max_tokens' }, { stop_reason => 'stop_sequence', stop_sequence => 'END' },
  { stop_reason => 'refusal' } ]
--- no_error_log
[error]
[warn]



=== TEST 18: failover across formats in one request: bedrock (429), anthropic (529), openai answers an OpenAI client; the order from providerOptions.gateway.order
--- init
main::mixed_mocks();
--- providers
    aigw_provider bedrock format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=sk-ant;
    aigw_provider openai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-oai;
    aigw_model br openai:gpt-4.1 anthropic:claude-sonnet-4-6 bedrock:us.anthropic.claude-sonnet-4-v1:0;
--- request eval
main::chat(providerOptions => { gateway => { order => ['bedrock', 'anthropic', 'openai'] } },
           messages => [ { role => 'user', content => 'hi' } ])
--- response_json
{"choices":[{"message":{"content":"from openai"}}]}
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=openai pm=gpt-4.1 in=5 out=2 cr=0 cw=0 a=bedrock:429,anthropic:529,openai:200



=== TEST 19: the same failover for a streaming Anthropic client
--- init
main::mixed_mocks();
--- providers
    aigw_provider bedrock format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
    aigw_provider anthropic format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2 key=sk-ant;
    aigw_provider openai format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/v1 key=sk-oai;
    aigw_model br openai:gpt-4.1 anthropic:claude-sonnet-4-6 bedrock:us.anthropic.claude-sonnet-4-v1:0;
--- request eval
main::msgs(providerOptions => { gateway => { order => ['bedrock', 'anthropic', 'openai'] } },
           stream => JSON::PP::true, messages => [ { role => 'user', content => 'hi' } ])
--- response_body_like
"text":"from openai"[\s\S]*"stop_reason":"end_turn"[\s\S]*event: message_stop
--- grep_access_log eval
qr/BR .*/
--- grep_access_log_out
BR 200 p=openai pm=gpt-4.1 in=5 out=2 cr=0 cw=0 a=bedrock:429,anthropic:529,openai:200



=== TEST 20: format=bedrock without its credentials
--- http_config
    aigw_provider br format=bedrock url=https://bedrock-runtime.us-east-1.amazonaws.com;
--- must_die
--- error_log
[emerg]
aigw_provider "br" needs access_key_env= or access_key_file=, and secret_key_env= or secret_key_file=, or auth=bearer with a key in



=== TEST 21: auth=sigv4 on a format that does not sign
--- http_config
    aigw_provider o format=openai url=https://api.openai.com/v1 auth=sigv4 region=us-east-1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
--- must_die
--- error_log
[emerg]
aigw_provider "o": auth=sigv4 needs format=bedrock in



=== TEST 22: an unset credential variable of a provider that is not optional
--- http_config
    aigw_provider br format=bedrock url=https://bedrock-runtime.us-east-1.amazonaws.com
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_UNSET;
--- must_die
--- error_log
[emerg]
the AWS credential of aigw_provider "br" from environment variable AIGW_T131_UNSET is not set in



=== TEST 23: no region and a host that does not name one
--- http_config
    aigw_provider br format=bedrock url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1
                  access_key_env=AIGW_T131_AK secret_key_env=AIGW_T131_SK;
--- must_die
--- error_log
[emerg]
aigw_provider "br" needs region= in



=== TEST 24: AWS credentials with auth=bearer
--- http_config
    aigw_provider br format=bedrock url=https://bedrock-runtime.us-east-1.amazonaws.com auth=bearer
                  key_env=AIGW_T131_BEARER access_key_env=AIGW_T131_AK;
--- must_die
--- error_log
[emerg]
aigw_provider "br": AWS credentials are for auth=sigv4 in
