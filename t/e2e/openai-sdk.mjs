// The official `openai` npm SDK against the gateway in front of an
// OpenAI-format mock provider (t/050-e2e-openai.t).
//
// nginx.conf of the block (see the .t file):
//   oai   -> the mock of this script on $TEST_NGINX_RAND_PORT_1
//   dead1, dead2 -> $TEST_NGINX_RAND_PORT_3/4, where nothing listens
//   models: openai/gpt-4o (oai:gpt-4o-2024-08-06),
//           openai/text-embedding-3-small, oai/* (wildcard), down/gpt
//           (dead1 then dead2)

import OpenAI from 'openai';
import {
    assert, test, run, Mock, GW, envPort, sendJson, sendSse, oaiError,
    oaiCompletion, oaiChunks, rejects,
} from './lib.mjs';

const mock = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();

const client = new OpenAI({
    apiKey: 'sk-client-key-not-for-providers',
    baseURL: `${GW}/v1`,
    maxRetries: 0,
    timeout: 10000,
});

const MODEL = 'openai/gpt-4o';
const PROVIDER_MODEL = 'gpt-4o-2024-08-06';

function providerSawGateway(req) {
    assert.equal(req.method, 'POST');
    assert.equal(req.headers.authorization, 'Bearer sk-oai-mock',
                 'the provider gets the provider key, never the client key');
}


test('chat: chat.completions.create: text answer, usage, gateway headers', async () => {
    mock.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'Hello from the mock!',
        usage: { prompt: 21, completion: 4 },
    })));

    const { data, response } = await client.chat.completions.create({
        model: MODEL,
        messages: [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'Say hello' },
        ],
        temperature: 0.2,
        max_completion_tokens: 50,
    }).withResponse();

    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, 'Hello from the mock!');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.deepEqual(
        { p: data.usage.prompt_tokens, c: data.usage.completion_tokens,
          t: data.usage.total_tokens },
        { p: 21, c: 4, t: 25 });
    assert.equal(response.headers.get('x-aigw-provider'), 'oai');
    assert.equal(response.headers.get('x-aigw-model'), MODEL);

    const req = mock.only();
    providerSawGateway(req);
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.json.model, PROVIDER_MODEL);
    assert.equal(req.json.temperature, 0.2);
    assert.equal(req.json.max_completion_tokens, 50);
    assert.deepEqual(req.json.messages, [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello' },
    ]);
    assert.ok(!('stream' in req.json) || req.json.stream === false);
});


test('chat: chat.completions.create stream with stream_options.include_usage', async () => {
    mock.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['Hel', 'lo', ', wor', 'ld!'],
        usage: { prompt: 9, completion: 4 },
    })));

    const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello world' }],
        stream: true,
        stream_options: { include_usage: true },
    });

    let text = '';
    let usage = null;
    let finish = null;
    let chunks = 0;
    for await (const chunk of stream) {
        chunks++;
        assert.equal(chunk.object, 'chat.completion.chunk');
        for (const c of chunk.choices) {
            text += c.delta?.content ?? '';
            finish = c.finish_reason ?? finish;
        }
        if (chunk.usage) {
            assert.equal(chunk.choices.length, 0,
                         'the usage chunk has no choices');
            usage = chunk.usage;
        }
    }

    assert.equal(text, 'Hello, world!');
    assert.equal(finish, 'stop');
    assert.ok(chunks >= 6, `expected the chunks one by one, got ${chunks}`);
    assert.ok(usage, 'a usage chunk was asked for');
    assert.equal(usage.prompt_tokens, 9);
    assert.equal(usage.completion_tokens, 4);
    assert.equal(usage.total_tokens, 13);

    const req = mock.only();
    providerSawGateway(req);
    assert.equal(req.json.stream, true);
    assert.equal(req.json.stream_options?.include_usage, true);
});


test('chat: chat.completions.create stream without include_usage: no usage chunk visible', async () => {
    mock.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['No ', 'usage ', 'here'],
        usage: { prompt: 17, completion: 3 },
    })));

    const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'stream me' }],
        stream: true,
    });

    let text = '';
    const seen = [];
    for await (const chunk of stream) {
        seen.push(chunk);
        text += chunk.choices[0]?.delta?.content ?? '';
    }

    assert.equal(text, 'No usage here');
    for (const chunk of seen) {
        assert.ok(!chunk.usage, 'a chunk carries usage the client did not ' +
                  `ask for: ${JSON.stringify(chunk)}`);
        assert.equal(chunk.choices.length, 1,
                     `a chunk without a choice: ${JSON.stringify(chunk)}`);
    }
    assert.equal(seen.at(-1).choices[0].finish_reason, 'stop');

    // the gateway asked the provider for usage anyway (for accounting)
    const req = mock.only();
    assert.equal(req.json.stream_options?.include_usage, true,
                 'the gateway injects stream_options.include_usage');
});


const WEATHER_TOOLS = [
    {
        type: 'function',
        function: {
            name: 'get_weather',
            description: 'Current weather of a city',
            parameters: {
                type: 'object',
                properties: { city: { type: 'string' },
                              unit: { type: 'string',
                                      enum: ['celsius', 'fahrenheit'] } },
                required: ['city'],
            },
        },
    },
    {
        type: 'function',
        function: {
            name: 'get_time',
            description: 'Local time of a city',
            parameters: {
                type: 'object',
                properties: { city: { type: 'string' } },
                required: ['city'],
            },
        },
    },
];

const PARALLEL_CALLS = [
    { id: 'call_paris', name: 'get_weather',
      args: ['{"ci', 'ty": "Pa', 'ris", "unit"', ': "celsius"}'] },
    { id: 'call_tokyo', name: 'get_weather',
      args: ['{"city"', ': "Tok', 'yo \\"東京\\""}'] },
    { id: 'call_time', name: 'get_time',
      args: ['{', '"city": "Paris"', '}'] },
];


test('tools: chat.completions.stream helper: parallel tool calls with streamed arguments', async () => {
    mock.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, toolCalls: PARALLEL_CALLS,
    })));

    const done = [];
    const stream = client.chat.completions.stream({
        model: MODEL,
        messages: [{ role: 'user',
                     content: 'Weather in Paris and Tokyo, time in Paris?' }],
        tools: WEATHER_TOOLS,
        parallel_tool_calls: true,
    });
    stream.on('tool_calls.function.arguments.done', (ev) => done.push(ev));

    const final = await stream.finalChatCompletion();
    const msg = final.choices[0].message;

    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.tool_calls.length, 3);
    assert.deepEqual(msg.tool_calls.map((t) => [t.id, t.function.name]), [
        ['call_paris', 'get_weather'],
        ['call_tokyo', 'get_weather'],
        ['call_time', 'get_time'],
    ]);
    assert.deepEqual(msg.tool_calls.map((t) => JSON.parse(t.function.arguments)), [
        { city: 'Paris', unit: 'celsius' },
        { city: 'Tokyo "東京"' },
        { city: 'Paris' },
    ]);
    assert.deepEqual(done.map((d) => [d.index, d.name,
                                      JSON.parse(d.arguments)]), [
        [0, 'get_weather', { city: 'Paris', unit: 'celsius' }],
        [1, 'get_weather', { city: 'Tokyo "東京"' }],
        [2, 'get_time', { city: 'Paris' }],
    ]);

    const req = mock.only();
    assert.equal(req.json.stream, true);
    assert.deepEqual(req.json.tools, WEATHER_TOOLS);
    assert.equal(req.json.parallel_tool_calls, true);
});


test('tools: chat.completions.create stream: interleaved parallel tool call deltas, assembled by index', async () => {
    mock.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, toolCalls: PARALLEL_CALLS, interleave: true,
    })));

    const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'three calls at once' }],
        tools: WEATHER_TOOLS,
        stream: true,
    });

    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
        const c = chunk.choices[0];
        finish = c?.finish_reason ?? finish;
        for (const d of c?.delta?.tool_calls ?? []) {
            const t = calls[d.index] ??= { id: '', name: '', args: '' };
            t.id += d.id ?? '';
            t.name += d.function?.name ?? '';
            t.args += d.function?.arguments ?? '';
        }
    }

    assert.equal(finish, 'tool_calls');
    assert.deepEqual(calls.map((t) => [t.id, t.name, JSON.parse(t.args)]), [
        ['call_paris', 'get_weather', { city: 'Paris', unit: 'celsius' }],
        ['call_tokyo', 'get_weather', { city: 'Tokyo "東京"' }],
        ['call_time', 'get_time', { city: 'Paris' }],
    ]);
});


test('tools: chat.completions.create: tool call round trip (non-stream)', async () => {
    mock.on((req, res) => {
        const last = req.json.messages.at(-1);
        if (last.role === 'tool') {
            return sendJson(res, 200, oaiCompletion({
                model: req.json.model,
                content: `It is ${JSON.parse(last.content).tempC} C in Paris.`,
            }));
        }
        return sendJson(res, 200, oaiCompletion({
            model: req.json.model,
            toolCalls: [{ id: 'call_w1', name: 'get_weather',
                          arguments: { city: 'Paris' } }],
        }));
    });

    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({
        model: MODEL, messages, tools: WEATHER_TOOLS, tool_choice: 'auto',
    });
    const call = first.choices[0].message.tool_calls?.[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call?.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

    messages.push(first.choices[0].message);
    messages.push({ role: 'tool', tool_call_id: call.id,
                    content: JSON.stringify({ tempC: 21 }) });
    const second = await client.chat.completions.create({
        model: MODEL, messages, tools: WEATHER_TOOLS,
    });
    assert.equal(second.choices[0].message.content, 'It is 21 C in Paris.');

    assert.equal(mock.requests.length, 2);
    const replay = mock.requests[1].json.messages;
    assert.equal(replay[1].role, 'assistant');
    assert.equal(replay[1].tool_calls[0].id, 'call_w1');
    assert.deepEqual(replay[2], { role: 'tool', tool_call_id: 'call_w1',
                                  content: '{"tempC":21}' });
});


test('embeddings: embeddings.create: float vectors decoded from the default base64', async () => {
    const vectors = [[0.5, -1.25, 3], [0.125, 0, -0.5]];
    mock.on((req, res) => {
        const b64 = req.json.encoding_format === 'base64';
        sendJson(res, 200, {
            object: 'list',
            data: vectors.map((v, index) => ({
                object: 'embedding', index,
                embedding: b64
                    ? Buffer.from(new Float32Array(v).buffer).toString('base64')
                    : v,
            })),
            model: req.json.model,
            usage: { prompt_tokens: 6, total_tokens: 6 },
        });
    });

    const res = await client.embeddings.create({
        model: 'openai/text-embedding-3-small',
        input: ['first text', 'second text'],
    });
    assert.equal(res.data.length, 2);
    assert.deepEqual(res.data.map((d) => Array.from(d.embedding)), vectors);
    assert.equal(res.usage.prompt_tokens, 6);

    const req = mock.only();
    providerSawGateway(req);
    assert.equal(req.url, '/v1/embeddings');
    assert.equal(req.json.model, 'text-embedding-3-small');
    assert.deepEqual(req.json.input, ['first text', 'second text']);
    assert.equal(req.json.encoding_format, 'base64');

    // and with explicit floats
    const res2 = await client.embeddings.create({
        model: 'openai/text-embedding-3-small', input: 'x',
        encoding_format: 'float',
    });
    assert.deepEqual(res2.data[0].embedding, vectors[0]);
});


test('models: models.list and models.retrieve (slug with a slash)', async () => {
    mock.on((req, res) => oaiError(res, 500, 'models must not reach the ' +
                                   'provider', 'server_error'));

    const ids = [];
    for await (const m of client.models.list()) {
        assert.equal(m.object, 'model');
        ids.push(m.id);
    }
    for (const id of ['openai/gpt-4o', 'openai/text-embedding-3-small',
                      'down/gpt']) {
        assert.ok(ids.includes(id), `models.list lacks ${id}: ${ids}`);
    }

    const m = await client.models.retrieve('openai/gpt-4o');
    assert.equal(m.id, 'openai/gpt-4o');
    assert.equal(m.object, 'model');

    const w = await client.models.retrieve('oai/some-new-model');
    assert.equal(w.id, 'oai/some-new-model', 'a wildcard answers with the id');

    const e = await rejects(client.models.retrieve('nope/none'),
                            'models.retrieve of an unknown model');
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e.constructor.name}`);
    assert.equal(e.status, 404);

    assert.equal(mock.requests.length, 0);
});


test('errors: BadRequestError 400 for bad input', async () => {
    mock.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'must not be reached' })));

    const e = await rejects(client.chat.completions.create({
        model: MODEL, messages: 'not an array',
    }));
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /^400 .*messages/);

    const e2 = await rejects(client.chat.completions.create({
        messages: [{ role: 'user', content: 'no model' }],
    }));
    assert.ok(e2 instanceof OpenAI.BadRequestError, `got ${e2.constructor.name}: ${e2.message}`);
    assert.match(e2.message, /model/);

    assert.equal(mock.requests.length, 0);
});


test('errors: NotFoundError 404 for an unknown model', async () => {
    mock.on((req, res) => sendJson(res, 200, {}));

    const e = await rejects(client.chat.completions.create({
        model: 'nope/gpt-9', messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 404);
    assert.match(e.message, /nope\/gpt-9/);
    assert.match(e.message, /\/v1\/models/);
    assert.equal(mock.requests.length, 0);
});


test('errors: RateLimitError 429 from the provider, passed through', async () => {
    mock.on((req, res) => oaiError(res, 429,
        'Rate limit reached for gpt-4o on tokens per min', 'tokens',
        'rate_limit_exceeded', { 'retry-after': '7' }));

    for (const stream of [false, true]) {
        const e = await rejects(client.chat.completions.create({
            model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream,
        }));
        assert.ok(e instanceof OpenAI.RateLimitError, `got ${e.constructor.name}: ${e.message}`);
        assert.equal(e.status, 429);
        assert.match(e.message, /Rate limit reached for gpt-4o/);
        assert.equal(e.code, 'rate_limit_exceeded');
        assert.equal(e.headers.get('retry-after'), '7');
    }
    assert.equal(mock.requests.length, 2);
});


test('errors: a provider 401 is the gateway\'s 502, without the provider\'s text', async () => {
    mock.on((req, res) => oaiError(res, 401,
        'Incorrect API key provided: sk-oai-m***', 'invalid_request_error',
        'invalid_api_key'));

    const e = await rejects(client.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e instanceof OpenAI.InternalServerError, `got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 502);
    assert.match(e.message, /provider "oai": credentials rejected \(401\)/);
    assert.doesNotMatch(e.message, /sk-oai|Incorrect API key/);
});


test('errors: InternalServerError 502 when every provider fails', async () => {
    mock.on((req, res) => sendJson(res, 200, {}));

    for (const stream of [false, true]) {
        const e = await rejects(client.chat.completions.create({
            model: 'down/gpt', messages: [{ role: 'user', content: 'hi' }],
            stream,
        }));
        assert.ok(e instanceof OpenAI.InternalServerError,
                  `got ${e.constructor.name}: ${e.message}`);
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.status, 502);
        assert.match(e.message, /^502 \S/, 'a message, not "(no body)"');
        assert.ok(e.error && typeof e.error.message === 'string',
                  `an OpenAI error object: ${JSON.stringify(e.error)}`);
    }
    assert.equal(mock.requests.length, 0);
});


test('errors: a provider 500 becomes InternalServerError with its message', async () => {
    mock.on((req, res) => oaiError(res, 500, 'The server had an error ' +
                                   'while processing your request.',
                                   'server_error'));

    const e = await rejects(client.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    }));
    assert.ok(e instanceof OpenAI.InternalServerError, `got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 500);
    assert.match(e.message, /The server had an error/);
});


await run();
