// The official `@anthropic-ai/sdk` against the gateway in front of an
// Anthropic-format mock (passthrough) and of an OpenAI-format mock
// (translated), and the `openai` SDK in front of the Anthropic mock
// (translated the other way).  t/050-e2e-anthropic.t.
//
// nginx.conf of the blocks (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   ant -> Anthropic mock of this script on $TEST_NGINX_RAND_PORT_2
//   models: anthropic/claude-sonnet-4.6 (ant:claude-sonnet-4-6),
//           openai/gpt-4o (oai:gpt-4o-2024-08-06)

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import {
    assert, test, run, Mock, GW, envPort, sendJson, sendSse, oaiError,
    antError, oaiCompletion, oaiChunks, antMessage, antEvents, rejects,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();

// the headers of the SDK's last request (to compare with the provider's)
let sdkSent = null;

const anthropic = new Anthropic({
    apiKey: 'sk-ant-client-key-not-for-providers',
    baseURL: GW,
    maxRetries: 0,
    timeout: 10000,
    fetch: (url, init) => {
        sdkSent = new Headers(init?.headers);
        return fetch(url, init);
    },
});

const openai = new OpenAI({
    apiKey: 'sk-client-key-not-for-providers',
    baseURL: `${GW}/v1`,
    maxRetries: 0,
    timeout: 10000,
});

const CLAUDE = 'anthropic/claude-sonnet-4.6';
const CLAUDE_ID = 'claude-sonnet-4-6';
const GPT = 'openai/gpt-4o';
const GPT_ID = 'gpt-4o-2024-08-06';

const TOOLS = [
    {
        name: 'get_weather',
        description: 'Current weather of a city',
        input_schema: {
            type: 'object',
            properties: { city: { type: 'string' },
                          unit: { type: 'string',
                                  enum: ['celsius', 'fahrenheit'] } },
            required: ['city'],
        },
    },
    {
        name: 'get_time',
        description: 'Local time of a city',
        input_schema: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
        },
    },
];

const OAI_TOOLS = TOOLS.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description,
                parameters: t.input_schema },
}));

// version: the client's anthropic-version (passthrough of what the SDK
// sent), else the gateway's default
function antProviderHeaders(req, version = '2023-06-01') {
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['x-api-key'], 'sk-ant-mock',
                 'the provider gets the provider key');
    assert.ok(!('authorization' in req.headers),
              'no client Authorization reaches the provider');
    assert.equal(req.headers['anthropic-version'], version);
}

function sdkVersion() {
    const v = sdkSent?.get('anthropic-version');
    assert.match(v ?? '', /^\d{4}-\d{2}-\d{2}$/,
                 'the SDK sends an anthropic-version');
    return v;
}

function oaiProviderHeaders(req) {
    assert.equal(req.method, 'POST');
    assert.equal(req.headers.authorization, 'Bearer sk-oai-mock');
    assert.ok(!('x-api-key' in req.headers),
              'no client x-api-key reaches the provider');
}

const text = (msg) => msg.content.filter((b) => b.type === 'text')
    .map((b) => b.text).join('');


// ---------------------------------------------------------------------
// @anthropic-ai/sdk -> gateway -> Anthropic mock (passthrough)
// ---------------------------------------------------------------------

test('ant: messages.create, passthrough of unknown fields and anthropic-beta', async () => {
    ant.on((req, res) => sendJson(res, 200, antMessage({
        model: req.json.model,
        content: [{ type: 'text', text: 'Hi! How can I help?' }],
        usage: { input: 31, output: 8 },
    })));

    const { data: msg, response } = await anthropic.messages.create({
        model: CLAUDE,
        max_tokens: 256,
        system: [{ type: 'text', text: 'Be brief.',
                   cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'say hi' }],
        metadata: { user_id: '{"device_id":"abc","session_id":"s1"}' },
        context_management: { edits: [{ type: 'clear_thinking_20251015',
                                        keep: 'all' }] },
    }, { headers: { 'anthropic-beta': 'context-management-2025-06-27' } })
        .withResponse();

    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(text(msg), 'Hi! How can I help?');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 31);
    assert.equal(msg.usage.output_tokens, 8);
    assert.equal(response.headers.get('x-aigw-provider'), 'ant');

    const req = ant.only();
    antProviderHeaders(req, sdkVersion());
    assert.equal(req.url, '/v1/messages');
    assert.equal(req.headers['anthropic-beta'],
                 'context-management-2025-06-27');
    assert.equal(req.json.model, CLAUDE_ID);
    assert.equal(req.json.max_tokens, 256);
    assert.deepEqual(req.json.system, [{ type: 'text', text: 'Be brief.',
                                         cache_control: { type: 'ephemeral' } }]);
    assert.deepEqual(req.json.context_management, { edits: [{
        type: 'clear_thinking_20251015', keep: 'all' }] });
    assert.equal(req.json.metadata.user_id,
                 '{"device_id":"abc","session_id":"s1"}');
});


test('ant: messages.stream text', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: req.json.model,
        blocks: [{ type: 'text', parts: ['Hello', ', stream', 'ing world'] }],
        usage: { input: 12, output: 6 },
    })));

    const deltas = [];
    const stream = anthropic.messages.stream({
        model: CLAUDE, max_tokens: 100,
        messages: [{ role: 'user', content: 'stream please' }],
    });
    stream.on('text', (d) => deltas.push(d));
    const msg = await stream.finalMessage();

    assert.deepEqual(deltas, ['Hello', ', stream', 'ing world']);
    assert.equal(text(msg), 'Hello, streaming world');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.output_tokens, 6);
    assert.equal(msg.usage.input_tokens, 12);

    const req = ant.only();
    antProviderHeaders(req, sdkVersion());
    assert.equal(req.json.stream, true);
});


test('ant: messages.stream tool use with input_json_delta', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: req.json.model,
        blocks: [
            { type: 'text', parts: ['Let me check.'] },
            { type: 'tool_use', id: 'toolu_01', name: 'get_weather',
              parts: ['', '{"city": "Pa', 'ris", "unit": "cel', 'sius"}'] },
            { type: 'tool_use', id: 'toolu_02', name: 'get_time',
              parts: ['{"city":', ' "Tokyo \\"東京\\""}'] },
        ],
    })));

    const partial = [];
    const stream = anthropic.messages.stream({
        model: CLAUDE, max_tokens: 200, tools: TOOLS,
        messages: [{ role: 'user', content: 'weather in Paris, time in Tokyo' }],
    });
    stream.on('inputJson', (delta) => partial.push(delta));
    const msg = await stream.finalMessage();

    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.id, u.name, u.input]), [
        ['toolu_01', 'get_weather', { city: 'Paris', unit: 'celsius' }],
        ['toolu_02', 'get_time', { city: 'Tokyo "東京"' }],
    ]);
    assert.equal(partial.join(''), '{"city": "Paris", "unit": "celsius"}' +
                 '{"city": "Tokyo \\"東京\\""}');

    assert.deepEqual(ant.only().json.tools, TOOLS);
});


const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxjZHcyNTU6c2lnbmF0dXJl' +
                  'IjB2ZXJ5LWxvbmctb3BhcXVlLXNpZ25hdHVyZS1ieXRlcw==';

test('ant: messages.stream thinking with signature, then a tool round trip replaying it', async () => {
    ant.on((req, res) => {
        const last = req.json.messages.at(-1);
        if (Array.isArray(last.content) &&
            last.content[0]?.type === 'tool_result') {
            return sendSse(res, antEvents({
                model: req.json.model,
                blocks: [{ type: 'text', parts: ['It is 21 C.'] }],
            }));
        }
        return sendSse(res, antEvents({
            model: req.json.model,
            blocks: [
                { type: 'thinking', parts: ['The user wants ', 'the weather.'],
                  signature: SIGNATURE },
                { type: 'tool_use', id: 'toolu_w', name: 'get_weather',
                  parts: ['{"city":"Paris"}'] },
            ],
        }));
    });

    const thinking = [];
    const signatures = [];
    const params = {
        model: CLAUDE, max_tokens: 2048, tools: TOOLS,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'weather in Paris?' }],
    };
    const stream = anthropic.messages.stream(params);
    stream.on('thinking', (d) => thinking.push(d));
    stream.on('signature', (s) => signatures.push(s));
    const msg = await stream.finalMessage();

    assert.deepEqual(thinking, ['The user wants ', 'the weather.']);
    assert.deepEqual(signatures, [SIGNATURE]);
    assert.equal(msg.content[0].type, 'thinking');
    assert.equal(msg.content[0].thinking, 'The user wants the weather.');
    assert.equal(msg.content[0].signature, SIGNATURE);
    assert.equal(msg.content[1].type, 'tool_use');
    assert.deepEqual(msg.content[1].input, { city: 'Paris' });
    assert.deepEqual(ant.only().json.thinking,
                     { type: 'enabled', budget_tokens: 1024 });

    // the next turn replays the thinking block with its signature
    const second = await anthropic.messages.create({
        ...params,
        messages: [
            ...params.messages,
            { role: 'assistant', content: msg.content },
            { role: 'user', content: [{
                type: 'tool_result', tool_use_id: 'toolu_w',
                content: '{"tempC":21}', is_error: false,
                cache_control: { type: 'ephemeral' } }] },
        ],
        stream: true,
    });
    let answer = '';
    for await (const ev of second) {
        if (ev.type === 'content_block_delta' &&
            ev.delta.type === 'text_delta') {
            answer += ev.delta.text;
        }
    }
    assert.equal(answer, 'It is 21 C.');

    const replay = ant.last().json.messages;
    assert.deepEqual(replay[1].content[0], {
        type: 'thinking', thinking: 'The user wants the weather.',
        signature: SIGNATURE,
    });
    assert.deepEqual(replay[2].content[0].cache_control,
                     { type: 'ephemeral' });
});


test('ant: messages.countTokens forwarded to the provider', async () => {
    ant.on((req, res) => sendJson(res, 200, { input_tokens: 42 }));

    const { data, response } = await anthropic.messages.countTokens({
        model: CLAUDE,
        system: 'You are terse.',
        messages: [{ role: 'user', content: 'count me' }],
        tools: TOOLS,
    }).withResponse();

    assert.equal(data.input_tokens, 42);
    assert.equal(response.headers.get('x-aigw-estimated'), null);

    const req = ant.only();
    antProviderHeaders(req, sdkVersion());
    assert.equal(req.url, '/v1/messages/count_tokens');
    assert.equal(req.json.model, CLAUDE_ID);
    assert.deepEqual(req.json.tools, TOOLS);
});


test('ant: errors: NotFoundError, BadRequestError, RateLimitError, AuthenticationError, 529', async () => {
    const e404 = await rejects(anthropic.messages.create({
        model: 'nope/claude-0', max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e404 instanceof Anthropic.NotFoundError, `got ${e404.constructor.name}: ${e404.message}`);
    assert.equal(e404.status, 404);
    assert.equal(e404.error?.type, 'error');
    assert.equal(e404.error?.error?.type, 'not_found_error');
    assert.match(e404.message, /nope\/claude-0/);

    const e400 = await rejects(anthropic.messages.create({
        model: CLAUDE, max_tokens: 10, messages: 'hi',
    }));
    assert.ok(e400 instanceof Anthropic.BadRequestError, `got ${e400.constructor.name}: ${e400.message}`);
    assert.equal(e400.error?.error?.type, 'invalid_request_error');
    assert.match(e400.message, /messages/);
    assert.equal(ant.requests.length, 0);

    ant.on((req, res) => antError(res, 429, 'rate_limit_error',
        'Number of request tokens has exceeded your per-minute rate limit',
        { 'retry-after': '3' }));
    for (const stream of [false, true]) {
        const e = await rejects(anthropic.messages.create({
            model: CLAUDE, max_tokens: 10, stream,
            messages: [{ role: 'user', content: 'hi' }],
        }));
        assert.ok(e instanceof Anthropic.RateLimitError, `got ${e.constructor.name}: ${e.message}`);
        assert.equal(e.status, 429);
        assert.match(e.message, /per-minute rate limit/);
        assert.equal(e.headers.get('retry-after'), '3');
    }

    ant.on((req, res) => antError(res, 401, 'authentication_error',
                                  'invalid x-api-key'));
    const e401 = await rejects(anthropic.messages.create({
        model: CLAUDE, max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
    }));
    // the provider rejected the gateway's own key: not the client's fault,
    // so a 502 naming the provider, never the provider's text
    assert.ok(e401 instanceof Anthropic.InternalServerError, `got ${e401.constructor.name}: ${e401.message}`);
    assert.equal(e401.status, 502);
    assert.match(e401.error?.error?.message, /provider "ant": credentials rejected \(401\)/);
    assert.doesNotMatch(e401.message, /invalid x-api-key/);

    ant.on((req, res) => antError(res, 529, 'overloaded_error', 'Overloaded'));
    const e529 = await rejects(anthropic.messages.create({
        model: CLAUDE, max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e529 instanceof Anthropic.InternalServerError, `got ${e529.constructor.name}: ${e529.message}`);
    assert.equal(e529.status, 529);
    assert.equal(e529.error?.error?.type, 'overloaded_error');
});


// ---------------------------------------------------------------------
// @anthropic-ai/sdk -> gateway -> OpenAI mock (translated)
// ---------------------------------------------------------------------

test('xlat: messages.create translated to chat/completions and back', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'Bonjour!',
        usage: { prompt: 19, completion: 3 },
    })));

    const msg = await anthropic.messages.create({
        model: GPT, max_tokens: 300, temperature: 0.5,
        system: 'Answer in French.',
        messages: [{ role: 'user', content: 'Say hello' }],
        stop_sequences: ['END'],
    });

    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(msg.content.map((b) => [b.type, b.text]),
                     [['text', 'Bonjour!']]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 19);
    assert.equal(msg.usage.output_tokens, 3);

    const req = oai.only();
    oaiProviderHeaders(req);
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.json.model, GPT_ID);
    assert.equal(req.json.temperature, 0.5);
    const maxTokens = req.json.max_completion_tokens ?? req.json.max_tokens;
    assert.equal(maxTokens, 300);
    assert.deepEqual(req.json.stop, ['END']);
    assert.equal(req.json.messages[0].role, 'system');
    assert.match(JSON.stringify(req.json.messages[0].content),
                 /Answer in French\./);
    assert.equal(req.json.messages.at(-1).role, 'user');
    assert.match(JSON.stringify(req.json.messages.at(-1).content),
                 /Say hello/);
});


test('xlat: messages.stream text from an OpenAI stream', async () => {
    oai.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['One', ' two', ' three'],
        usage: { prompt: 14, completion: 3 },
    })));

    const events = [];
    const deltas = [];
    const stream = anthropic.messages.stream({
        model: GPT, max_tokens: 50,
        messages: [{ role: 'user', content: 'count' }],
    });
    stream.on('streamEvent', (ev) => events.push(ev.type));
    stream.on('text', (d) => deltas.push(d));
    const msg = await stream.finalMessage();

    assert.equal(deltas.join(''), 'One two three');
    assert.equal(text(msg), 'One two three');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.output_tokens, 3);
    assert.equal(events[0], 'message_start');
    assert.equal(events.at(-1), 'message_stop');
    for (const t of ['content_block_start', 'content_block_delta',
                     'content_block_stop', 'message_delta']) {
        assert.ok(events.includes(t), `no ${t} in ${events}`);
    }

    const req = oai.only();
    oaiProviderHeaders(req);
    assert.equal(req.json.stream, true);
});


test('xlat: messages.stream tool use from streamed OpenAI tool calls', async () => {
    oai.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model,
        toolCalls: [
            { id: 'call_a', name: 'get_weather',
              args: ['{"city"', ': "Paris", ', '"unit": "celsius"}'] },
            { id: 'call_b', name: 'get_time',
              args: ['{"ci', 'ty": "Tokyo"}'] },
        ],
    })));

    const stream = anthropic.messages.stream({
        model: GPT, max_tokens: 100, tools: TOOLS,
        tool_choice: { type: 'auto' },
        messages: [{ role: 'user', content: 'weather and time' }],
    });
    const partial = [];
    stream.on('inputJson', (d) => partial.push(d));
    const msg = await stream.finalMessage();

    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.id, u.name, u.input]), [
        ['call_a', 'get_weather', { city: 'Paris', unit: 'celsius' }],
        ['call_b', 'get_time', { city: 'Tokyo' }],
    ]);
    assert.ok(partial.length >= 2, 'arguments arrive as input_json_delta');

    const req = oai.only();
    assert.deepEqual(req.json.tools.map((t) => [t.type, t.function.name,
                                                t.function.parameters]),
                     OAI_TOOLS.map((t) => [t.type, t.function.name,
                                           t.function.parameters]));
    assert.equal(req.json.tool_choice, 'auto');
});


test('xlat: tool round trip: tool_result becomes a tool message', async () => {
    oai.on((req, res) => {
        const last = req.json.messages.at(-1);
        if (last.role === 'tool') {
            return sendJson(res, 200, oaiCompletion({
                model: req.json.model, content: 'Sunny, 21 C.' }));
        }
        return sendJson(res, 200, oaiCompletion({
            model: req.json.model,
            toolCalls: [{ id: 'call_x', name: 'get_weather',
                          arguments: { city: 'Paris' } }],
        }));
    });

    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await anthropic.messages.create({
        model: GPT, max_tokens: 100, tools: TOOLS, messages,
    });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.deepEqual([use.id, use.name, use.input],
                     ['call_x', 'get_weather', { city: 'Paris' }]);

    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{
        type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21 C' }] });
    const second = await anthropic.messages.create({
        model: GPT, max_tokens: 100, tools: TOOLS, messages,
    });
    assert.equal(text(second), 'Sunny, 21 C.');

    const sent = oai.last().json.messages;
    const asst = sent.find((m) => m.role === 'assistant');
    assert.equal(asst.tool_calls[0].id, 'call_x');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments),
                     { city: 'Paris' });
    const tool = sent.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, 'call_x');
    assert.match(JSON.stringify(tool.content), /sunny, 21 C/);
});


test('xlat: messages.countTokens estimated by the gateway', async () => {
    oai.on((req, res) => sendJson(res, 500, {}));

    const { data, response } = await anthropic.messages.countTokens({
        model: GPT,
        messages: [{ role: 'user', content: 'x'.repeat(400) }],
    }).withResponse();

    assert.ok(Number.isInteger(data.input_tokens) && data.input_tokens >= 100,
              `an estimate of about 1 token per 4 bytes: ${data.input_tokens}`);
    assert.equal(response.headers.get('x-aigw-estimated'), 'true');
    assert.equal(oai.requests.length, 0);
});


test('xlat: errors from an OpenAI provider in Anthropic classes and shape', async () => {
    oai.on((req, res) => oaiError(res, 429, 'Rate limit reached for gpt-4o',
                                  'requests', 'rate_limit_exceeded'));
    for (const stream of [false, true]) {
        const e = await rejects(anthropic.messages.create({
            model: GPT, max_tokens: 10, stream,
            messages: [{ role: 'user', content: 'hi' }],
        }));
        assert.ok(e instanceof Anthropic.RateLimitError, `got ${e.constructor.name}: ${e.message}`);
        assert.equal(e.error?.type, 'error');
        assert.equal(e.error?.error?.type, 'rate_limit_error');
        assert.match(e.message, /Rate limit reached for gpt-4o/);
    }

    oai.on((req, res) => oaiError(res, 401, 'Incorrect API key provided',
                                  'invalid_request_error', 'invalid_api_key'));
    const e401 = await rejects(anthropic.messages.create({
        model: GPT, max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e401 instanceof Anthropic.InternalServerError, `got ${e401.constructor.name}: ${e401.message}`);
    assert.equal(e401.error?.error?.type, 'api_error');
    assert.match(e401.error?.error?.message, /provider "oai": credentials rejected \(401\)/);
    assert.doesNotMatch(e401.message, /Incorrect API key provided/);

    oai.on((req, res) => oaiError(res, 400, "Invalid value for 'temperature'",
                                  'invalid_request_error'));
    const e400 = await rejects(anthropic.messages.create({
        model: GPT, max_tokens: 10, temperature: 1,
        messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e400 instanceof Anthropic.BadRequestError, `got ${e400.constructor.name}: ${e400.message}`);
    assert.equal(e400.error?.error?.type, 'invalid_request_error');
    assert.match(e400.message, /Invalid value for 'temperature'/);
});


// ---------------------------------------------------------------------
// openai SDK -> gateway -> Anthropic mock (translated)
// ---------------------------------------------------------------------

test('oai2ant: chat.completions.create translated to messages and back', async () => {
    ant.on((req, res) => sendJson(res, 200, antMessage({
        model: req.json.model,
        content: [{ type: 'text', text: 'Hello from Claude.' }],
        usage: { input: 23, output: 5 },
    })));

    const r = await openai.chat.completions.create({
        model: CLAUDE,
        messages: [
            { role: 'system', content: 'Be nice.' },
            { role: 'user', content: 'Hello?' },
        ],
        temperature: 0.3,
    });

    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, 'Hello from Claude.');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 23);
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.total_tokens, 28);

    const req = ant.only();
    antProviderHeaders(req);
    assert.equal(req.url, '/v1/messages');
    assert.equal(req.json.model, CLAUDE_ID);
    assert.ok(Number.isInteger(req.json.max_tokens) && req.json.max_tokens > 0,
              `max_tokens defaulted: ${req.json.max_tokens}`);
    assert.equal(req.json.temperature, 0.3);
    assert.match(JSON.stringify(req.json.system), /Be nice\./);
    assert.equal(req.json.messages.length, 1);
    assert.equal(req.json.messages[0].role, 'user');
    assert.match(JSON.stringify(req.json.messages[0].content), /Hello\?/);
});


test('oai2ant: stream with include_usage from Anthropic events', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: req.json.model,
        blocks: [{ type: 'text', parts: ['Streamed ', 'from ', 'Claude'] }],
        usage: { input: 15, output: 4 },
    })));

    for (const includeUsage of [true, false]) {
        const stream = await openai.chat.completions.create({
            model: CLAUDE, stream: true,
            messages: [{ role: 'user', content: 'stream' }],
            ...(includeUsage ? { stream_options: { include_usage: true } }
                : {}),
        });
        let out = '';
        let usage = null;
        let finish = null;
        for await (const chunk of stream) {
            assert.equal(chunk.object, 'chat.completion.chunk');
            out += chunk.choices[0]?.delta?.content ?? '';
            finish = chunk.choices[0]?.finish_reason ?? finish;
            usage = chunk.usage ?? usage;
        }
        assert.equal(out, 'Streamed from Claude');
        assert.equal(finish, 'stop');
        if (includeUsage) {
            assert.ok(usage, 'a usage chunk');
            assert.equal(usage.prompt_tokens, 15);
            assert.equal(usage.completion_tokens, 4);
        } else {
            assert.equal(usage, null, 'no usage chunk when not asked for');
        }
        assert.equal(ant.last().json.stream, true);
    }
});


test('oai2ant: tools: stream helper assembles tool_use input_json_delta; non-stream tool_calls', async () => {
    ant.on((req, res) => {
        const blocks = [
            { type: 'tool_use', id: 'toolu_p', name: 'get_weather',
              parts: ['{"city": "Par', 'is"}'] },
            { type: 'tool_use', id: 'toolu_t', name: 'get_time',
              parts: ['', '{"city"', ': "Tokyo"}'] },
        ];
        if (req.json.stream) {
            return sendSse(res, antEvents({ model: req.json.model, blocks }));
        }
        return sendJson(res, 200, antMessage({
            model: req.json.model,
            content: blocks.map((b) => ({ type: 'tool_use', id: b.id,
                                          name: b.name,
                                          input: JSON.parse(b.parts.join('')) })),
        }));
    });

    const stream = openai.chat.completions.stream({
        model: CLAUDE, tools: OAI_TOOLS,
        messages: [{ role: 'user', content: 'weather in Paris, time in Tokyo' }],
    });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0].message.tool_calls;
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(calls.map((c) => [c.id, c.function.name,
                                       JSON.parse(c.function.arguments)]), [
        ['toolu_p', 'get_weather', { city: 'Paris' }],
        ['toolu_t', 'get_time', { city: 'Tokyo' }],
    ]);

    const sent = ant.only().json;
    assert.deepEqual(sent.tools.map((t) => [t.name, t.input_schema]),
                     TOOLS.map((t) => [t.name, t.input_schema]));

    const r = await openai.chat.completions.create({
        model: CLAUDE, tools: OAI_TOOLS, tool_choice: 'required',
        messages: [{ role: 'user', content: 'again, not streamed' }],
    });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(r.choices[0].message.tool_calls.map((c) => [
        c.id, c.type, c.function.name, JSON.parse(c.function.arguments)]), [
        ['toolu_p', 'function', 'get_weather', { city: 'Paris' }],
        ['toolu_t', 'function', 'get_time', { city: 'Tokyo' }],
    ]);
    assert.deepEqual(ant.last().json.tool_choice, { type: 'any' });
});


test('oai2ant: errors from an Anthropic provider in OpenAI classes', async () => {
    ant.on((req, res) => antError(res, 429, 'rate_limit_error',
                                  'Too many requests, slow down'));
    const e = await rejects(openai.chat.completions.create({
        model: CLAUDE, messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e instanceof OpenAI.RateLimitError, `got ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, /Too many requests, slow down/);

    ant.on((req, res) => antError(res, 400, 'invalid_request_error',
                                  'messages: roles must alternate'));
    const e400 = await rejects(openai.chat.completions.create({
        model: CLAUDE, messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e400 instanceof OpenAI.BadRequestError, `got ${e400.constructor.name}: ${e400.message}`);
    assert.equal(e400.type, 'invalid_request_error');
    assert.match(e400.message, /roles must alternate/);
});


await run();
