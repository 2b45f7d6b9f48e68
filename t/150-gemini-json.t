# JSON output (OpenAI response_format) to format=gemini providers:
# json_schema -> generationConfig.responseMimeType application/json and
# responseJsonSchema (the schema as it came), json_object -> the MIME type
# alone.  Providers that cannot write it (Anthropic) are left out of the
# plan, a 400 when none is left; a provider of the client's own format gets
# the body as it came.  The mock (t/fixtures/translate/mock.js) records
# what the provider received (GET /mock_last.json).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

my $schema = { type => 'object', properties => { city => { type => 'string' },
                                                 temp => { type => ['number', 'null'] } },
               required => ['city', 'temp'], additionalProperties => JSON::PP::false };

sub oai { main::json({ messages => [ { role => 'user', content => 'Weather?' } ], @_ }) }

$R{schema} = oai(model => 'gem', temperature => 0.2,
                 response_format => { type => 'json_schema',
                                      json_schema => { name => 'weather', strict => JSON::PP::true,
                                                       schema => $schema } });
$R{object} = oai(model => 'gem', response_format => { type => 'json_object' });
$R{noschema} = oai(model => 'gem', response_format => { type => 'json_schema',
                                                        json_schema => { name => 'free' } });
$R{text} = oai(model => 'gem', response_format => { type => 'text' });
$R{mixed} = oai(model => 'mixed', response_format => { type => 'json_object' });
$R{antonly} = oai(model => 'claude', response_format => { type => 'json_object' });
$R{pass} = oai(model => 'pass', response_format => { type => 'json_schema',
                                                     json_schema => { name => 'weather', schema => $schema } });
$R{bad} = oai(model => 'gem', response_format => { type => 'xml' });
$R{badschema} = oai(model => 'gem', response_format => { type => 'json_schema', json_schema => 'x' });

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: json_schema: responseMimeType application/json and responseJsonSchema beside the other generationConfig members; name and strict are not sent
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n$::R{schema}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ object => "chat.completion", choices => [ { finish_reason => "stop" } ] },
 { uri => "/gemini/text/v1beta/models/gemini-2.5-flash:generateContent",
   body => { contents => [ { role => "user", parts => [ { text => "Weather?" } ] } ],
             generationConfig => {
                 temperature => 0.2, responseMimeType => "application/json",
                 responseJsonSchema => { type => "object",
                                         properties => { city => { type => "string" },
                                                         temp => { type => ["number", "null"] } },
                                         required => ["city", "temp"],
                                         additionalProperties => JSON::PP::false } } } }]
--- response_body_unlike eval
[undef, qr/response_format|"weather"|"strict"|responseSchema"/]
--- no_error_log
[error]



=== TEST 2: json_object, and json_schema without a schema: the MIME type alone; text: nothing
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n$::R{object}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{noschema}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{text}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[undef, { body => { generationConfig => { responseMimeType => "application/json" } } },
 undef, { body => { generationConfig => { responseMimeType => "application/json" } } },
 undef, { body => { contents => [ { role => "user" } ] } }]
--- response_body_unlike eval
[undef, qr/responseJsonSchema|response_format/, undef, qr/responseJsonSchema|"free"/,
 undef, qr/responseMimeType|generationConfig/]
--- no_error_log
[error]



=== TEST 3: an Anthropic provider cannot write JSON output: left out of the plan, the Gemini one serves; a model served by Anthropic alone is a 400 as before
--- providers
    aigw_provider ant format=anthropic url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/anthropic/text key=k;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model mixed ant:claude-sonnet-4-6 g:gemini-2.5-flash;
    aigw_model claude ant:claude-sonnet-4-6;
--- request eval
["POST /v1/chat/completions\n$::R{mixed}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{antonly}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 400]
--- response_json eval
[{ model => "gemini-2.5-flash" },
 { uri => "/gemini/text/v1beta/models/gemini-2.5-flash:generateContent",
   body => { generationConfig => { responseMimeType => "application/json" } } },
 { error => { message => '"response_format" other than text cannot be translated for this provider',
              type => "invalid_request_error" } }]
--- grep_access_log eval: qr/^AIGW .* 200 .*/
--- grep_access_log_out eval
qr/m=mixed .* a=g:200$/m
--- error_log
providers that cannot write JSON output are left out
--- no_error_log
[error]



=== TEST 4: an OpenAI-format provider gets response_format as the client sent it (passthrough), Gemini after it translates it
--- providers
    aigw_provider o format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/x/echo/v1 key=sk-o;
    aigw_provider o503 format=openai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/503/translate/openai-error-server/v1 key=sk-o;
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model pass o:gpt-4.1 g:gemini-2.5-flash;
    aigw_model pass2 o503:gpt-4.1 g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n$::R{pass}",
 "POST /v1/chat/completions\n" . ($::R{pass} =~ s/"pass"/"pass2"/r), "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ uri => "/x/echo/v1/chat/completions",
   body => { model => "gpt-4.1",
             response_format => { type => "json_schema",
                                  json_schema => { name => "weather",
                                                   schema => { required => ["city", "temp"] } } } } },
 { object => "chat.completion" },
 { uri => "/gemini/text/v1beta/models/gemini-2.5-flash:generateContent",
   body => { generationConfig => { responseMimeType => "application/json",
                                   responseJsonSchema => { required => ["city", "temp"] } } } }]
--- no_error_log
[error]



=== TEST 5: an unknown response_format type, a json_schema that is not an object: 400 in OpenAI's shape, nothing sent
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/text key=gk-test;
    aigw_model gem g:gemini-2.5-flash;
--- request eval
["POST /v1/chat/completions\n$::R{bad}", "POST /v1/chat/completions\n$::R{badschema}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 404]
--- response_json eval
[{ error => { message => 'unsupported "response_format"', type => "invalid_request_error" } },
 { error => { message => '"response_format.json_schema" must be an object', type => "invalid_request_error" } },
 undef]
--- no_error_log eval
qr/\[error\](?!.*mock_last\.json)/
