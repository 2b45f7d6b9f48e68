#!/usr/bin/perl
#
# Writes the benchmark's request bodies and the mock provider's canned
# responses into DIR:
#
#   DIR/bodies/{oai,ant,sdk}-{small,cc}-{ns,s}-to-{oai,ant}.json
#       client format, size (small ~600 B, cc = Claude-Code-sized ~78 KB),
#       non-stream/stream, target provider format (decides the model slug)
#   DIR/bodies/rsp-{small,cc}-{ns,s}-to-oai.json
#       the OpenAI conversations above as Responses API requests
#   DIR/mock.conf
#       the mock provider's server{} body: locations that return canned
#       OpenAI / Anthropic responses, JSON or SSE
#   DIR/answer.txt
#       the assistant text all those responses carry
#
# Everything is synthetic and deterministic (fixed seed): same bytes on
# every run, so runs are comparable.
#
# usage: gen.pl DIR

use strict;
use warnings;

use JSON::PP;

my $dir = shift or die "usage: $0 DIR\n";

mkdir "$dir/bodies";

my $json = JSON::PP->new->utf8->canonical(1)->allow_nonref;

# JSON objects keep their key order: o(k => v, ...) is an ordered object
# (real clients and providers send "role" before "content", "type" first)

sub o { return bless [@_], 'O'; }

sub enc {
    my ($v) = @_;

    if (ref $v eq 'O') {
        my @kv = @$v;
        my @out;

        while (@kv) {
            my ($k, $x) = splice @kv, 0, 2;
            push @out, $json->encode($k) . ':' . enc($x);
        }

        return '{' . join(',', @out) . '}';
    }

    if (ref $v eq 'ARRAY') {
        return '[' . join(',', map { enc($_) } @$v) . ']';
    }

    return $json->encode($v);
}

# ---------------------------------------------------------------------------
# deterministic filler text (an LCG, not perl's rand: same on every build)

my $seed = 20250219;

sub rnd {
    my ($n) = @_;
    $seed = ($seed * 1103515245 + 12345) % 2147483648;
    return $seed % $n;
}

my @words = qw(
    the a to of and in is for that with on you this be use when tool file
    command output path must should not are will run only if or as from
    user agent task code directory read write edit search result error
    request response model message content block session worktree branch
    commit test build parameter value default string number boolean array
    object schema input returns provided absolute relative pattern match
    lines offset limit timeout background shell process status wait
    description example instead avoid always never prefer important note
    changes existing new create update delete list get stop schedule
    notebook cell markdown python query url fetch page prompt context
);

sub sentence {
    my $n = 6 + rnd(12);
    my @s = map { $words[rnd(scalar @words)] } 1 .. $n;
    $s[0] = ucfirst $s[0];

    # a little punctuation that JSON must escape, as in real prompts
    my $r = rnd(10);
    if ($r == 0) { $s[rnd($n)] = '"' . $s[rnd($n)] . '"'; }
    if ($r == 1) { $s[rnd($n)] = '`' . $s[rnd($n)] . '`'; }
    if ($r == 2) { $s[rnd($n)] = 'C:\\path\\' . $s[rnd($n)]; }
    if ($r == 3) { $s[rnd($n)] = "caf\x{e9}"; }

    return join(' ', @s) . '.';
}

# about LEN characters of paragraphs, bullets and line breaks
sub text {
    my ($len) = @_;
    my $t = '';

    while (length($t) < $len) {
        my $k = rnd(5);

        if ($k == 0) {
            $t .= "\n- " . sentence() . "\n- " . sentence() . "\n";

        } elsif ($k == 1) {
            $t .= "\n\n## " . ucfirst($words[rnd(scalar @words)]) . "\n";

        } else {
            $t .= sentence() . ' ';
        }
    }

    return substr($t, 0, $len);
}

# ---------------------------------------------------------------------------
# Claude Code's tools: 24, name + description + input_schema (JSON Schema
# with the keywords Claude Code uses)

my @tool_names = qw(
    Agent Bash CronCreate CronDelete CronList Edit EnterWorktree
    ExitWorktree NotebookEdit Read ReportFindings ScheduleWakeup
    SendMessage Skill TaskCreate TaskGet TaskList TaskOutput TaskStop
    TaskUpdate WebFetch WebSearch Workflow Write
);

sub schema {
    my ($i) = @_;
    my @props;
    my @req;
    my $np = 2 + rnd(4);

    for my $k (1 .. $np) {
        my $name = $words[rnd(scalar @words)] . "_$k";
        my $kind = ($i + $k) % 7;
        my $p;

        if ($kind == 0) {
            $p = o(type => 'string', description => text(100 + rnd(160)),
                   minLength => 1, maxLength => 4096);
        } elsif ($kind == 1) {
            $p = o(type => 'number', description => text(60 + rnd(100)),
                   minimum => 0, maximum => 600000, default => 120000);
        } elsif ($kind == 2) {
            $p = o(type => 'string', enum => [qw(low medium high max)],
                   description => text(50 + rnd(80)));
        } elsif ($kind == 3) {
            $p = o(type => 'array', maxItems => 64,
                   items => o(type => 'object', properties => o(
                       id => o(type => 'string', pattern => '^[a-z0-9_-]+$'),
                       done => o(type => 'boolean',
                                 default => JSON::PP::false)),
                       required => ['id'],
                       additionalProperties => JSON::PP::false),
                   description => text(80 + rnd(120)));
        } elsif ($kind == 4) {
            $p = o(anyOf => [ o(type => 'string', format => 'uri'),
                              o(const => 'none') ],
                   description => text(60 + rnd(100)));
        } elsif ($kind == 5) {
            $p = o(type => 'integer', exclusiveMinimum => 0,
                   description => text(50 + rnd(60)));
        } else {
            $p = o(type => 'object',
                   propertyNames => o(pattern => '^[A-Z_]+$'),
                   additionalProperties => o(type => 'string'),
                   description => text(60 + rnd(80)));
        }

        push @props, $name => $p;
        push @req, $name if $k <= 2;
    }

    return o(
        '$schema' => 'https://json-schema.org/draft/2020-12/schema',
        type => 'object',
        properties => o(@props),
        required => \@req,
        additionalProperties => JSON::PP::false,
    );
}

# tools as [name, description, schema]; ~63 KB of JSON in all

my @tools;

for my $i (0 .. $#tool_names) {
    push @tools, [ $tool_names[$i], text(1050 + rnd(1000)), schema($i) ];
}

my @system_texts = (
    'x-anthropic-billing-header: cc_version=2.1.197.123; '
        . 'cc_entrypoint=sdk-cli;',
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
    text(5700),
);

my $reminder = "<system-reminder>\n" . text(1800) . "\n</system-reminder>";
my $prompt = 'List the files in the current directory and explain the '
             . 'build system.';
my $agents = "Available agent types for the Agent tool:\n" . text(1400);
my $thinking = text(900);
my $signature = join '', map {
    ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '+', '/')[rnd(64)] } 1 .. 480;
my $tool_input = o(command => 'ls -la', description => 'List files',
                   timeout => 120000);
my $tool_error = "Exit code 2\nls: cannot access '/nonexistent': "
                 . "No such file or directory\n" . text(300);

my $cc_padding = '';    # set below so that the body is ~78 KB
my $ephemeral = o(type => 'ephemeral');

sub ant_cc {
    my ($model, $stream) = @_;

    # key order as Claude Code sends it
    return enc(o(
        model => $model,
        messages => [
            o(role => 'user', content => [
                o(type => 'text', text => $reminder . $cc_padding),
                o(type => 'text', text => $prompt,
                  cache_control => $ephemeral) ]),
            o(role => 'system', content => $agents),
            o(role => 'assistant', content => [
                o(type => 'thinking', thinking => $thinking,
                  signature => $signature),
                o(type => 'tool_use', id => 'toolu_01A09q90qw90lq917835lq9',
                  name => 'Bash', input => $tool_input) ]),
            o(role => 'user', content => [
                o(type => 'tool_result',
                  tool_use_id => 'toolu_01A09q90qw90lq917835lq9',
                  content => $tool_error, is_error => JSON::PP::true,
                  cache_control => $ephemeral) ]) ],
        system => [
            o(type => 'text', text => $system_texts[0]),
            o(type => 'text', text => $system_texts[1],
              cache_control => $ephemeral),
            o(type => 'text', text => $system_texts[2],
              cache_control => $ephemeral) ],
        tools => [ map { o(name => $_->[0], description => $_->[1],
                           input_schema => $_->[2]) } @tools ],
        metadata => o(user_id => '{"device_id":"' . ('5f' x 32)
                      . '","account_uuid":"","session_id":'
                      . '"0b5c3e1a-9d7f-4e2b-8a61-3c2f1d0e9b7a"}'),
        max_tokens => 64000,
        thinking => o(type => 'adaptive'),
        context_management => o(edits => [
            o(type => 'clear_thinking_20251015', keep => 'all') ]),
        output_config => o(effort => 'high'),
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

# the same conversation in OpenAI Chat Completions terms

sub oai_cc {
    my ($model, $stream) = @_;

    return enc(o(
        model => $model,
        messages => [
            o(role => 'system', content => join("\n\n", @system_texts)),
            o(role => 'user', content => [
                o(type => 'text', text => $reminder . $cc_padding),
                o(type => 'text', text => $prompt) ]),
            o(role => 'system', content => $agents),
            o(role => 'assistant', content => undef, tool_calls => [
                o(id => 'call_01A09q90qw90lq917835lq9', type => 'function',
                  function => o(name => 'Bash',
                                arguments => enc($tool_input))) ]),
            o(role => 'tool', tool_call_id => 'call_01A09q90qw90lq917835lq9',
              content => $tool_error) ],
        tools => [ map { o(type => 'function', function => o(
                       name => $_->[0], description => $_->[1],
                       parameters => $_->[2])) } @tools ],
        tool_choice => 'auto',
        max_tokens => 32000,
        reasoning_effort => 'high',
        user => 'bench-user',
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

# the same conversation as a Responses API request

sub rsp_cc {
    my ($model, $stream) = @_;

    return enc(o(
        model => $model,
        instructions => join("\n\n", @system_texts),
        input => [
            o(type => 'message', role => 'user', content => [
                o(type => 'input_text', text => $reminder . $cc_padding),
                o(type => 'input_text', text => $prompt) ]),
            o(type => 'message', role => 'developer', content => $agents),
            o(type => 'function_call',
              call_id => 'call_01A09q90qw90lq917835lq9', name => 'Bash',
              arguments => enc($tool_input)),
            o(type => 'function_call_output',
              call_id => 'call_01A09q90qw90lq917835lq9',
              output => $tool_error) ],
        tools => [ map { o(type => 'function', name => $_->[0],
                           description => $_->[1], parameters => $_->[2],
                           strict => JSON::PP::false) } @tools ],
        tool_choice => 'auto',
        max_output_tokens => 32000,
        reasoning => o(effort => 'high', summary => 'auto'),
        store => JSON::PP::false,
        include => [ 'reasoning.encrypted_content' ],
        prompt_cache_key => 'bench-session',
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

my $small_system = 'You are a helpful assistant. Answer briefly and '
                   . 'precisely; prefer short lists.';
my $small_user = 'Summarize the difference between a process and a '
                 . 'thread in three sentences. ' . text(300);

sub oai_small {
    my ($model, $stream) = @_;

    return enc(o(
        model => $model,
        messages => [ o(role => 'system', content => $small_system),
                      o(role => 'user', content => $small_user) ],
        max_tokens => 256,
        temperature => 0.7,
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

sub rsp_small {
    my ($model, $stream) = @_;

    return enc(o(
        model => $model,
        instructions => $small_system,
        input => $small_user,
        max_output_tokens => 256,
        temperature => 0.7,
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

sub ant_small {
    my ($model, $stream) = @_;

    return enc(o(
        model => $model,
        max_tokens => 256,
        system => $small_system,
        messages => [ o(role => 'user', content => $small_user) ],
        temperature => 0.7,
        stream => $stream ? JSON::PP::true : JSON::PP::false));
}

# the same conversations as AI SDK gateway protocol call options
# (LanguageModelV3: the model and streaming go in request headers)

sub sdk_cc {
    return enc(o(
        maxOutputTokens => 32000,
        tools => [ map { o(type => 'function', name => $_->[0],
                           description => $_->[1], inputSchema => $_->[2]) }
                   @tools ],
        toolChoice => o(type => 'auto'),
        prompt => [
            o(role => 'system', content => join("\n\n", @system_texts)),
            o(role => 'user', content => [
                o(type => 'text', text => $reminder . $cc_padding),
                o(type => 'text', text => $prompt) ]),
            o(role => 'system', content => $agents),
            o(role => 'assistant', content => [
                o(type => 'tool-call',
                  toolCallId => 'call_01A09q90qw90lq917835lq9',
                  toolName => 'Bash', input => $tool_input) ]),
            o(role => 'tool', content => [
                o(type => 'tool-result',
                  toolCallId => 'call_01A09q90qw90lq917835lq9',
                  toolName => 'Bash',
                  output => o(type => 'error-text', value => $tool_error)) ]) ],
        providerOptions => o(gateway => o(user => 'bench-user')),
        headers => o('user-agent' => 'ai/6.0.326')));
}

sub sdk_small {
    return enc(o(
        maxOutputTokens => 256,
        temperature => 0.7,
        prompt => [ o(role => 'system', content => $small_system),
                    o(role => 'user', content => [
                        o(type => 'text', text => $small_user) ]) ],
        headers => o('user-agent' => 'ai/6.0.326')));
}

# pad the Claude Code body to ~78 KB (78,000 +- a few bytes)

my $base = length ant_cc('ant/claude-opus-4-8', 1);
my $tools_len = length enc([ map { o(name => $_->[0], description => $_->[1],
                                     input_schema => $_->[2]) } @tools ]);
$cc_padding = $base < 78000 ? text(78000 - $base) : '';

my %model = (oai => 'oai/gpt-4o-mini', ant => 'ant/claude-opus-4-8',
             antcc => 'antcc/claude-opus-4-8', gem => 'gem/gemini-2.5-flash');

for my $client (qw(oai ant sdk)) {
    for my $size (qw(small cc)) {
        for my $stream (0, 1) {
            for my $target (qw(oai ant antcc gem)) {
                my $m = $model{$target};

                # antcc: Claude Code's own stream, for its own request only
                next if $target eq 'antcc'
                        && ($client ne 'ant' || $size ne 'cc' || !$stream);
                my $body;

                if ($client eq 'oai') {
                    $body = $size eq 'small' ? oai_small($m, $stream)
                                             : oai_cc($m, $stream);
                } elsif ($client eq 'sdk') {
                    $body = $size eq 'small' ? sdk_small() : sdk_cc();
                } else {
                    $body = $size eq 'small' ? ant_small($m, $stream)
                                             : ant_cc($m, $stream);
                }

                # check it is JSON
                $json->decode($body);

                my $f = sprintf "%s/bodies/%s-%s-%s-to-%s.json", $dir, $client,
                                $size, $stream ? 's' : 'ns', $target;
                open my $fh, '>:raw', $f or die "$f: $!\n";
                print $fh $body;
                close $fh;
            }
        }
    }
}

for my $size (qw(small cc)) {
    for my $stream (0, 1) {
        my $m = $model{oai};
        my $body = $size eq 'small' ? rsp_small($m, $stream)
                                    : rsp_cc($m, $stream);

        $json->decode($body);

        my $f = sprintf "%s/bodies/rsp-%s-%s-to-oai.json", $dir, $size,
                        $stream ? 's' : 'ns';
        open my $fh, '>:raw', $f or die "$f: $!\n";
        print $fh $body;
        close $fh;
    }
}

# ---------------------------------------------------------------------------
# the mock's canned responses

my $answer = 'A process is an instance of a running program with its own '
    . 'address space, file descriptors and resources. A thread is a unit '
    . 'of execution inside a process; threads share the address space of '
    . 'their process but have their own stack and registers. Switching '
    . 'between threads is cheaper than between processes.';

# the text in 16 content deltas per stream
my $plen = int(length($answer) / 16) + 1;
my @pieces = ($answer =~ /(.{1,$plen})/gs);
die "pieces\n" unless join('', @pieces) eq $answer && @pieces == 16;

my $oai_usage = o(prompt_tokens => 19873, completion_tokens => 62,
    total_tokens => 19935,
    prompt_tokens_details => o(cached_tokens => 18432, audio_tokens => 0),
    completion_tokens_details => o(reasoning_tokens => 0, audio_tokens => 0,
        accepted_prediction_tokens => 0, rejected_prediction_tokens => 0));

my $oai_json = enc(o(
    id => 'chatcmpl-B9MHDbslfCsjfi8CZF0Ekgwe0yfHE',
    object => 'chat.completion', created => 1741569952,
    model => 'gpt-4o-mini-2024-07-18',
    choices => [ o(index => 0, message => o(role => 'assistant',
        content => $answer, refusal => undef, annotations => []),
        logprobs => undef, finish_reason => 'stop') ],
    usage => $oai_usage,
    service_tier => 'default', system_fingerprint => 'fp_06737a9306'));

sub oai_chunk {
    my ($delta, $finish, $usage) = @_;

    return 'data: ' . enc(o(
        id => 'chatcmpl-B9MHDbslfCsjfi8CZF0Ekgwe0yfHE',
        object => 'chat.completion.chunk', created => 1741569952,
        model => 'gpt-4o-mini-2024-07-18', service_tier => 'default',
        system_fingerprint => 'fp_06737a9306',
        choices => defined $delta ? [ o(index => 0, delta => $delta,
            logprobs => undef, finish_reason => $finish) ] : [],
        ($usage ? (usage => $usage) : ()))) . "\n\n";
}

my $oai_sse = oai_chunk(o(role => 'assistant', content => '',
                          refusal => undef), undef);
$oai_sse .= oai_chunk(o(content => $_), undef) for @pieces;
$oai_sse .= oai_chunk(o(), 'stop');
$oai_sse .= oai_chunk(undef, undef, $oai_usage);
$oai_sse .= "data: [DONE]\n\n";

my $ant_json = enc(o(
    id => 'msg_01XFDUDYJgAACzvnptvVoYEL', type => 'message',
    role => 'assistant', model => 'claude-opus-4-8',
    content => [ o(type => 'text', text => $answer) ],
    stop_reason => 'end_turn', stop_sequence => undef,
    usage => o(input_tokens => 1441, cache_creation_input_tokens => 0,
        cache_read_input_tokens => 18432, output_tokens => 62,
        service_tier => 'standard')));

sub ant_event {
    my ($type, @data) = @_;

    return "event: $type\ndata: " . enc(o(type => $type, @data)) . "\n\n";
}

my $ant_sse = ant_event('message_start', message => o(
    id => 'msg_01XFDUDYJgAACzvnptvVoYEL', type => 'message',
    role => 'assistant', model => 'claude-opus-4-8', content => [],
    stop_reason => undef, stop_sequence => undef,
    usage => o(input_tokens => 1441, cache_creation_input_tokens => 0,
               cache_read_input_tokens => 18432, output_tokens => 1)));
$ant_sse .= ant_event('content_block_start', index => 0,
    content_block => o(type => 'text', text => ''));
$ant_sse .= ant_event('ping');
$ant_sse .= ant_event('content_block_delta', index => 0,
    delta => o(type => 'text_delta', text => $_)) for @pieces;
$ant_sse .= ant_event('content_block_stop', index => 0);
$ant_sse .= ant_event('message_delta', delta => o(stop_reason => 'end_turn',
    stop_sequence => undef), usage => o(output_tokens => 62));
$ant_sse .= ant_event('message_stop');

# Claude Code's streamed answer to its 78 KB request: 29 events, with
# a thinking block (and its signature), the text, and a tool_use block
# whose input arrives as JSON deltas

my $tlen = int(length($answer) / 8) + 1;
my @tpieces = ($answer =~ /(.{1,$tlen})/gs);
die "tpieces\n" unless join('', @tpieces) eq $answer && @tpieces == 8;

my $cc_sse = ant_event('message_start', message => o(
    id => 'msg_01Vb8Y3m2hQpXnZ4cWk7TfRa', type => 'message',
    role => 'assistant', model => 'claude-opus-4-8', content => [],
    stop_reason => undef, stop_sequence => undef,
    usage => o(input_tokens => 4, cache_creation_input_tokens => 1207,
               cache_read_input_tokens => 18432, output_tokens => 2,
               service_tier => 'standard')));
$cc_sse .= ant_event('content_block_start', index => 0,
    content_block => o(type => 'thinking', thinking => '', signature => ''));
$cc_sse .= ant_event('ping');
$cc_sse .= ant_event('content_block_delta', index => 0,
    delta => o(type => 'thinking_delta', thinking => $_))
    for ('The user asks about ', 'processes and threads. ',
         "I should explain \"address space\" first,\n",
         'then the shared state, ', 'then the cost of switching, ',
         'and check the file they named.');
$cc_sse .= ant_event('content_block_delta', index => 0,
    delta => o(type => 'signature_delta', signature => 'EqQBCkgIBxABGAIiQL'
        . 'x3Yp9mZ2c4WJ0bGVhc2Utc2lnbmF0dXJlLWJlbmNoLTAxMjM0NTY3ODk'
        . 'hZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0NTY3ODkwYWJjZGVm'));
$cc_sse .= ant_event('content_block_stop', index => 0);
$cc_sse .= ant_event('content_block_start', index => 1,
    content_block => o(type => 'text', text => ''));
$cc_sse .= ant_event('content_block_delta', index => 1,
    delta => o(type => 'text_delta', text => $_)) for @tpieces;
$cc_sse .= ant_event('content_block_stop', index => 1);
$cc_sse .= ant_event('content_block_start', index => 2,
    content_block => o(type => 'tool_use',
        id => 'toolu_01A09q90qw90lq917835lq9', name => 'Read', input => o()));
$cc_sse .= ant_event('content_block_delta', index => 2,
    delta => o(type => 'input_json_delta', partial_json => $_))
    for ('', '{"file_path": "/ho', 'me/user/src/sched.c"', ', "limit": 200}');
$cc_sse .= ant_event('content_block_stop', index => 2);
$cc_sse .= ant_event('message_delta', delta => o(stop_reason => 'tool_use',
    stop_sequence => undef), usage => o(output_tokens => 187));
$cc_sse .= ant_event('message_stop');
die "cc_sse\n" unless (() = $cc_sse =~ /\n\n/g) == 29;

# an nginx single-quoted string: escape \ and ', keep the rest literal
sub ngx_quote {
    my ($s) = @_;
    $s =~ s/\\/\\\\/g;
    $s =~ s/'/\\'/g;
    $s =~ s/\n/\\n/g;
    die "\$ in a canned response\n" if $s =~ /\$/;
    return "'$s'";
}

# "return 200 TEXT" with TEXT in pieces: an nginx config token is at most
# ~4 KB, so longer texts are set into variables and concatenated
sub ngx_return {
    my ($name, $text) = @_;
    my @parts = ($text =~ /(.{1,2000})/gs);

    return 'return 200 ' . ngx_quote($text) . ';' if @parts == 1;

    my $out = '';
    my $ret = '';

    for my $i (0 .. $#parts) {
        $out .= "set \$${name}_$i " . ngx_quote($parts[$i]) . ";\n    ";
        $ret .= "\$${name}_$i";
    }

    return $out . "return 200 \"$ret\";";
}

# Gemini (format=gemini): generateContent, non-stream only

my $gem_json = enc(o(
    candidates => [ o(content => o(role => 'model',
        parts => [ o(text => $answer) ]), finishReason => 'STOP', index => 0) ],
    usageMetadata => o(promptTokenCount => 19873, candidatesTokenCount => 62,
        totalTokenCount => 19935, cachedContentTokenCount => 18432),
    modelVersion => 'gemini-2.5-flash', responseId => 'resp-bench-1'));

my $conf = <<"END";
# generated by bench/gen.pl: the mock provider's canned responses
# (the gateway asks for SSE with "Accept: text/event-stream")

location = /oai/chat/completions {
    if (\$http_accept ~ event-stream) {
        rewrite ^ /_sse/oai last;
    }
    default_type application/json;
    @{[ ngx_return('oai_json', $oai_json) ]}
}

location = /ant/v1/messages {
    if (\$http_accept ~ event-stream) {
        rewrite ^ /_sse/ant last;
    }
    default_type application/json;
    @{[ ngx_return('ant_json', $ant_json) ]}
}

location = /antcc/v1/messages {
    default_type text/event-stream;
    @{[ ngx_return('cc_sse', $cc_sse) ]}
}

location ~ ^/gem/v1beta/models/[^/]+:generateContent\$ {
    default_type application/json;
    @{[ ngx_return('gem_json', $gem_json) ]}
}

location = /_sse/oai {
    internal;
    default_type text/event-stream;
    @{[ ngx_return('oai_sse', $oai_sse) ]}
}

location = /_sse/ant {
    internal;
    default_type text/event-stream;
    @{[ ngx_return('ant_sse', $ant_sse) ]}
}
END

open my $fh, '>:raw', "$dir/mock.conf" or die "$dir/mock.conf: $!\n";
print $fh $conf;
close $fh;

# what every response must carry as its text, for bench/run's checks
open $fh, '>:raw', "$dir/answer.txt" or die "$dir/answer.txt: $!\n";
print $fh $answer;
close $fh;

printf "bodies: small %d B, Claude-Code-sized %d B (tools %d B); "
       . "mock SSE: openai %d events, anthropic %d events, "
       . "Claude Code %d events\n",
       -s "$dir/bodies/oai-small-ns-to-oai.json",
       -s "$dir/bodies/ant-cc-s-to-ant.json", $tools_len,
       scalar(() = $oai_sse =~ /\n\n/g), scalar(() = $ant_sse =~ /\n\n/g),
       scalar(() = $cc_sse =~ /\n\n/g);
