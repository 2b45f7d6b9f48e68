# Image output of format=gemini providers (issue 15 item 1, issue 14 item
# 3): POST /v1/images/generations and the AI SDK's image-model as a
# generateContent call with responseModalities ["IMAGE"] (one image a
# call: n > 1 leaves Gemini providers out), the image as data[].b64_json
# or a data URL; chat answers with inlineData images as message.images
# (Chat Completions, stream too), file parts (AI SDK language-model),
# left out for Anthropic clients; "modalities" and
# providerOptions.google.responseModalities ask for images.  The mock
# (t/fixtures/translate/mock.js) records what the provider received,
# checked in lock step (GET /mock_last.json): responseModalities among it.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
require './t/fixtures/translate/common.pl';

our %R;

$R{img} = main::json({ model => 'img', prompt => "a red \"cat\"\n", size => '1792x1024',
                       quality => 'hd' });
$R{url} = main::json({ model => 'img', prompt => 'a cat', response_format => 'url' });
$R{n2} = main::json({ model => 'img', prompt => 'a cat', n => 2 });
$R{n2mix} = main::json({ model => 'mix', prompt => 'a cat', n => 2 });
$R{stream} = main::json({ model => 'img', prompt => 'a cat', stream => JSON::PP::true });
$R{chat} = main::json({ model => 'gimg', modalities => ['text', 'image'],
                        messages => [ { role => 'user', content => 'Draw a cat' } ] });
$R{chat_stream} = main::json({ model => 'gimg', modalities => ['text', 'image'],
                               stream => JSON::PP::true,
                               messages => [ { role => 'user', content => 'Draw a cat' } ] });
$R{chat_plain} = main::json({ model => 'gimg', messages => [ { role => 'user', content => 'Draw a cat' } ] });
$R{chat_audio} = main::json({ model => 'gimg', modalities => ['text', 'audio'],
                              messages => [ { role => 'user', content => 'Hi' } ] });
$R{ant} = main::json({ model => 'gimg', max_tokens => 100,
                       messages => [ { role => 'user', content => 'Draw a cat' } ] });
$R{ant_stream} = main::json({ model => 'gimg', max_tokens => 100, stream => JSON::PP::true,
                              messages => [ { role => 'user', content => 'Draw a cat' } ] });
$R{lm} = main::json({ prompt => [ { role => 'user', content => [ { type => 'text', text => 'Draw a cat' } ] } ],
                      providerOptions => { google => { responseModalities => ['TEXT', 'IMAGE'] } } });
$R{image} = main::json({ prompt => 'a red cat', n => 1, aspectRatio => '16:9' });

our $Log = <<'_EOC_';
    log_format img 'AIGW $request_uri $status m=$aigw_model p=$aigw_provider '
                   'pm=$aigw_provider_model s=$aigw_surface '
                   'in=$aigw_input_tokens out=$aigw_output_tokens '
                   'a=$aigw_attempts cost=$aigw_cost';
_EOC_

our $Config = <<'_EOC_';
    location ~ ^/v[0-9]/ {
        aigw_pass;
        access_log logs/access.log img;
    }
_EOC_

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: /v1/images/generations to Gemini: generateContent with the prompt as user text, responseModalities ["IMAGE"], the size's nearest aspect ratio; the image (not the thought one, not the text) as b64_json; usage; cost = 1 image x image= plus tokens
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model img g:gemini-2.5-flash-image image=0.039 input=0.30 output=30;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/images/generations\n$::R{img}", "GET /mock_last.json"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ data => [ { b64_json => "iVBORw0KGgoAAAA+/w==" } ],
   usage => { input_tokens => 12, output_tokens => 1290, total_tokens => 1302 } },
 { uri => "/gemini/image/v1beta/models/gemini-2.5-flash-image:generateContent", args => "",
   headers => { "x-goog-api-key" => "gk-test" },
   body => { contents => [ { role => "user", parts => [ { text => "a red \"cat\"\n" } ] } ],
             generationConfig => { responseModalities => ["IMAGE"],
                                   imageConfig => { aspectRatio => "16:9" } } } }]
--- response_body_unlike eval
[qr/VEhPVUdIVA|Here is|SIGIMG|"url"/, qr/quality|"model"|"prompt"|candidateCount/]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=img p=g pm=gemini-2.5-flash-image s=openai in=12 out=1290 a=g:200 cost=0.077704
--- no_error_log
[error]



=== TEST 2: response_format url: data URLs; n=2: Gemini providers are left out (one image a call), a model with an OpenAI-format fallback goes there, one with Gemini alone is a 400; no stream; no image (IMAGE_SAFETY) is an invalid response
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_provider ng format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/noimage key=gk-test;
    aigw_provider oai url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/translate/openai-images-b64/v1 key=sk-oai;
    aigw_model img g:gemini-2.5-flash-image;
    aigw_model mix g:gemini-2.5-flash-image oai:dall-e-2;
    aigw_model none ng:gemini-2.5-flash-image;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/images/generations\n$::R{url}",
 "POST /v1/images/generations\n$::R{n2mix}", "GET /mock_last.json",
 "POST /v1/images/generations\n$::R{n2}",
 "POST /v1/images/generations\n$::R{stream}",
 "POST /v1/images/generations\n" . main::json({ model => 'none', prompt => 'x' })]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200, 400, 400, 502]
--- response_json eval
[{ data => [ { url => "data:image/png;base64,iVBORw0KGgoAAAA+/w==" } ] },
 { created => 1700000000 },
 { uri => "/translate/openai-images-b64/v1/images/generations", body => { model => "dall-e-2", n => 2 } },
 { error => { message => "no provider of model \"img\" serves /v1/images/generations",
              type => "invalid_request_error" } },
 { error => { message => "\"stream\" is not supported on this endpoint",
              type => "invalid_request_error" } },
 { error => { type => "server_error" } }]
--- grep_access_log eval: qr/^AIGW \/v1\/images.*/
--- grep_access_log_out
AIGW /v1/images/generations 200 m=img p=g pm=gemini-2.5-flash-image s=openai in=12 out=1290 a=g:200 cost=-
AIGW /v1/images/generations 200 m=mix p=oai pm=dall-e-2 s=openai in=0 out=0 a=oai:200 cost=-
AIGW /v1/images/generations 400 m=img p=- pm=- s=openai in=0 out=0 a=- cost=-
AIGW /v1/images/generations 400 m=img p=- pm=- s=openai in=0 out=0 a=- cost=-
AIGW /v1/images/generations 502 m=none p=ng pm=gemini-2.5-flash-image s=openai in=12 out=0 a=ng:invalid cost=-
--- error_log
provider "g" makes one image a request, left out for "n" above 1
provider "ng" made no image (blocked)
--- no_error_log
[alert]
[crit]



=== TEST 3: Chat Completions, "modalities" ["text","image"] -> responseModalities ["TEXT","IMAGE"]; the answer's image as message.images data URL next to the content; without modalities nothing is asked; audio cannot be translated
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model gimg g:gemini-2.5-flash-image;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/chat/completions\n$::R{chat}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{chat_plain}", "GET /mock_last.json",
 "POST /v1/chat/completions\n$::R{chat_audio}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200, 200, 400]
--- response_json eval
[{ object => "chat.completion",
   choices => [ { index => 0, finish_reason => "stop",
                  message => { role => "assistant", content => "Here is your cat.",
                               images => [ { type => "image_url",
                                             image_url => { url => "data:image/png;base64,iVBORw0KGgoAAAA+/w==" } } ] } } ],
   usage => { prompt_tokens => 12, completion_tokens => 1290 } },
 { uri => "/gemini/image/v1beta/models/gemini-2.5-flash-image:generateContent",
   body => { generationConfig => { responseModalities => ["TEXT", "IMAGE"] } } },
 { choices => [ { message => { images => [ { type => "image_url" } ] } } ] },
 { body => { contents => [ { role => "user", parts => [ { text => "Draw a cat" } ] } ] } },
 { error => { message => "\"modalities\" other than \"text\" and \"image\" cannot be translated for this provider" } }]
--- response_body_unlike eval
[qr/VEhPVUdIVA|SIGIMG/, undef, undef, qr/responseModalities/, undef]
--- no_error_log
[error]



=== TEST 4: Chat Completions stream: text deltas, the image as a delta.images chunk, then the rest
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model gimg g:gemini-2.5-flash-image;
--- request eval
"POST /v1/chat/completions\n$::R{chat_stream}"
--- more_headers
Content-Type: application/json
--- sse_data eval
[ { id => "ri1", choices => [ { index => 0, delta => { role => "assistant", content => "" } } ] },
  { id => "ri1", choices => [ { index => 0, delta => { content => "Here is " }, finish_reason => undef } ] },
  { id => "ri1", choices => [ { index => 0, delta => { content => "your cat." }, finish_reason => undef } ] },
  { id => "ri1", choices => [ { index => 0, delta => { images => [ { type => "image_url",
      image_url => { url => "data:image/jpeg;base64,/9j/4AAQSkZJRg==" } } ] }, finish_reason => undef } ] },
  { id => "ri1", choices => [ { index => 0, delta => { content => "Done." }, finish_reason => undef } ] },
  { id => "ri1", choices => [ { index => 0, delta => {}, finish_reason => "stop" } ] },
  "[DONE]" ]
--- response_body_unlike: SIGIMG
--- no_error_log
[error]



=== TEST 5: Anthropic client: the image is left out with an [info] (Anthropic messages have no image output), the text stays; stream too, no block for it (the text around it in two blocks)
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model gimg g:gemini-2.5-flash-image;
--- request eval
["POST /v1/messages\n$::R{ant}", "POST /v1/messages\n$::R{ant_stream}"]
--- more_headers
Content-Type: application/json
--- response_json eval
[{ type => "message", content => [ { type => "text", text => "Here is your cat." } ],
   stop_reason => "end_turn" }, undef]
--- response_body_unlike eval
[qr/iVBORw0KGgo|"image"/, qr/4AAQSkZJRg|"image"/]
--- response_body_like eval
[qr/Here is your cat/, qr/"text":"Here is ".*"text":"your cat\.".*"text":"Done\.".*message_stop/s]
--- error_log
an image of the provider is left out: Anthropic messages have no image output
--- no_error_log
[error]



=== TEST 6: AI SDK language-model: providerOptions.google.responseModalities -> responseModalities ["TEXT","IMAGE"]; the image as a file content part; in a stream as a file part between text blocks
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model google/gemini-2.5-flash-image g:gemini-2.5-flash-image;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v1/ai/language-model\n$::R{lm}", "GET /mock_last.json", "POST /v1/ai/language-model\n$::R{lm}"]
--- more_headers eval
["Content-Type: application/json\nai-language-model-id: google/gemini-2.5-flash-image\nai-language-model-streaming: false", "",
 "Content-Type: application/json\nai-language-model-id: google/gemini-2.5-flash-image\nai-language-model-streaming: true"]
--- response_json eval
[{ content => [ { type => "text", text => "Here is your cat." },
                { type => "file", mediaType => "image/png", data => "iVBORw0KGgoAAAA+/w==" } ],
   finishReason => { unified => "stop" } },
 { uri => "/gemini/image/v1beta/models/gemini-2.5-flash-image:generateContent",
   body => { generationConfig => { responseModalities => ["TEXT", "IMAGE"] } } },
 undef]
--- response_body_like eval
[qr/^/, qr/^/, qr/"text-delta","id":"1","delta":"your cat\."\}\n\ndata: \{"type":"text-end","id":"1"\}\n\ndata: \{"type":"file","mediaType":"image\/jpeg","data":"\/9j\/4AAQSkZJRg=="\}\n\ndata: \{"type":"text-start","id":"2"\}\n\ndata: \{"type":"text-delta","id":"2","delta":"Done\."\}/]
--- no_error_log
[error]



=== TEST 7: AI SDK image-model to Gemini: the aspect ratio as imageConfig.aspectRatio (no warning), {images:[base64]}, usage, the cost
--- providers
    aigw_provider g format=gemini url=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/gemini/image key=gk-test;
    aigw_model google/gemini-2.5-flash-image g:gemini-2.5-flash-image image=0.039;
--- http_config eval: $::Log
--- config eval: $::Config
--- request eval
["POST /v4/ai/image-model\n$::R{image}", "GET /mock_last.json"]
--- more_headers eval
["Content-Type: application/json\nai-image-model-specification-version: 3\nai-model-id: google/gemini-2.5-flash-image", ""]
--- response_json eval
[{ images => [ "iVBORw0KGgoAAAA+/w==" ], warnings => [],
   usage => { inputTokens => 12, outputTokens => 1290, totalTokens => 1302 },
   providerMetadata => { gateway => { cost => "0.039" } } },
 { uri => "/gemini/image/v1beta/models/gemini-2.5-flash-image:generateContent",
   body => { contents => [ { role => "user", parts => [ { text => "a red cat" } ] } ],
             generationConfig => { responseModalities => ["IMAGE"],
                                   imageConfig => { aspectRatio => "16:9" } } } }]
--- grep_access_log eval: qr/^AIGW \/v4\/ai.*/
--- grep_access_log_out
AIGW /v4/ai/image-model 200 m=google/gemini-2.5-flash-image p=g pm=gemini-2.5-flash-image s=aisdk in=12 out=1290 a=g:200 cost=0.039000
--- no_error_log
[error]
