// The official `openai` npm SDK's Responses API (client.responses.create,
// client.responses.stream, a tools round trip) against the gateway in
// front of mock providers of each kind (t/170-responses-e2e.t).
//
// nginx.conf of the block (see the .t file):
//   oai -> an OpenAI Chat Completions mock on $TEST_NGINX_RAND_PORT_1
//   ant -> an Anthropic Messages mock on $TEST_NGINX_RAND_PORT_2
//   nat -> a native Responses mock on $TEST_NGINX_RAND_PORT_3
//          (format=openai responses=on)
//   models: chat/gpt (oai:gpt-5.4), anthropic/claude
//           (ant:claude-sonnet-4-6), native/gpt (nat:gpt-5.4)

import OpenAI from 'openai';
import {
    assert, test, run, Mock, GW, envPort, sendJson, sendSse, oaiError,
    oaiCompletion, oaiChunks, antMessage, antEvents, rejects,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();
const nat = await new Mock('responses', envPort('TEST_NGINX_RAND_PORT_3'))
    .start();

const client = new OpenAI({
    apiKey: 'sk-client-key-not-for-providers',
    baseURL: `${GW}/v1`,
    maxRetries: 0,
    timeout: 10000,
});

const TOOLS = [{
    type: 'function', name: 'get_weather', strict: false,
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } },
                  required: ['city'] },
}];


test('create: chat provider: output_text, usage with details, the request translated', async () => {
    oai.on((req, res) => sendJson(res, 200, {
        ...oaiCompletion({ model: req.json.model, content: 'Hello there!',
                           usage: { prompt: 21, completion: 4 } }),
        usage: { prompt_tokens: 21, completion_tokens: 4, total_tokens: 25,
                 prompt_tokens_details: { cached_tokens: 8 },
                 completion_tokens_details: { reasoning_tokens: 2 } },
    }));

    const r = await client.responses.create({
        model: 'chat/gpt',
        instructions: 'You are terse.',
        input: 'Say hello',
        max_output_tokens: 50,
        temperature: 0.2,
    });

    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, 'Hello there!');
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.usage.input_tokens, 21);
    assert.equal(r.usage.input_tokens_details.cached_tokens, 8);
    assert.equal(r.usage.output_tokens, 4);
    assert.equal(r.usage.output_tokens_details.reasoning_tokens, 2);
    assert.equal(r.usage.total_tokens, 25);

    const req = oai.only();
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.headers.authorization, 'Bearer sk-oai-mock');
    assert.equal(req.json.model, 'gpt-5.4');
    assert.equal(req.json.max_tokens, 50);
    assert.deepEqual(req.json.messages, [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello' },
    ]);
});


test('create: anthropic provider: text from Messages, system from instructions', async () => {
    ant.on((req, res) => sendJson(res, 200, antMessage({
        model: 'claude-sonnet-4-6',
        content: [{ type: 'text', text: 'Bonjour.' }],
        usage: { input: 13, output: 5 },
    })));

    const r = await client.responses.create({
        model: 'anthropic/claude', instructions: 'French only.',
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }],
    });

    assert.equal(r.output_text, 'Bonjour.');
    assert.equal(r.usage.input_tokens, 13);
    assert.equal(r.usage.output_tokens, 5);

    const req = ant.only();
    assert.equal(req.url, '/v1/messages');
    assert.deepEqual(req.json.system, [{ type: 'text', text: 'French only.' }]);
    assert.deepEqual(req.json.messages,
                     [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
    assert.ok(req.json.max_tokens > 0, 'Anthropic needs max_tokens');
});


test('stream: responses.stream from a chat provider: deltas, events in order, finalResponse', async () => {
    oai.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['Hel', 'lo, ', 'world'],
        usage: { prompt: 9, completion: 3 },
    })));

    const stream = client.responses.stream({ model: 'chat/gpt',
                                             input: 'Stream please' });
    const types = [];
    let text = '';
    let last = -1;
    for await (const ev of stream) {
        types.push(ev.type);
        assert.equal(ev.sequence_number, last + 1, 'sequence numbers');
        last = ev.sequence_number;
        if (ev.type === 'response.output_text.delta') {
            text += ev.delta;
        }
    }
    const final = await stream.finalResponse();

    assert.equal(text, 'Hello, world');
    assert.equal(final.output_text, 'Hello, world');
    assert.equal(final.status, 'completed');
    assert.equal(final.usage.input_tokens, 9);
    assert.equal(final.usage.output_tokens, 3);
    assert.deepEqual(types.slice(0, 4), [
        'response.created', 'response.in_progress',
        'response.output_item.added', 'response.content_part.added']);
    assert.equal(types.at(-1), 'response.completed');
    assert.equal(types.filter((t) => t === 'response.output_text.delta')
                     .length, 3);

    const req = oai.only();
    assert.equal(req.json.stream, true);
    assert.equal(req.json.stream_options?.include_usage, true);
});


test('stream: responses.stream from an anthropic provider: reasoning summary and text', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: 'claude-sonnet-4-6',
        blocks: [{ type: 'thinking', parts: ['Think ', 'hard.'],
                   signature: 'sig' },
                 { type: 'text', parts: ['Ans', 'wer.'] }],
        usage: { input: 30, output: 12 },
    })));

    const stream = client.responses.stream({ model: 'anthropic/claude',
                                             input: 'Why?' });
    let reasoning = '';
    for await (const ev of stream) {
        if (ev.type === 'response.reasoning_summary_text.delta') {
            reasoning += ev.delta;
        }
    }
    const final = await stream.finalResponse();

    assert.equal(reasoning, 'Think hard.');
    assert.equal(final.output_text, 'Answer.');
    assert.equal(final.output[0].type, 'reasoning');
    assert.equal(final.output[0].summary[0].text, 'Think hard.');
    assert.equal(final.usage.input_tokens, 30);
    assert.equal(final.usage.output_tokens, 12);
    assert.equal(ant.only().json.stream, true);
});


test('tools: round trip through a chat provider: function_call out, function_call_output back', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model,
        toolCalls: [{ id: 'call_w1', name: 'get_weather',
                      arguments: { city: 'Paris' } }],
    })));

    const first = await client.responses.create({
        model: 'chat/gpt', input: 'Weather in Paris?', tools: TOOLS,
        tool_choice: 'auto',
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, 'a function_call item');
    assert.equal(call.call_id, 'call_w1');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });

    let req = oai.only();
    assert.deepEqual(req.json.tools, [{ type: 'function', function: {
        name: 'get_weather', description: 'Current weather of a city',
        parameters: TOOLS[0].parameters } }]);
    assert.equal(req.json.tool_choice, 'auto');

    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'It is 18C in Paris.',
    })));

    const second = await client.responses.create({
        model: 'chat/gpt', tools: TOOLS,
        input: [
            { role: 'user', content: 'Weather in Paris?' },
            ...first.output,
            { type: 'function_call_output', call_id: call.call_id,
              output: '18C' },
        ],
    });
    assert.equal(second.output_text, 'It is 18C in Paris.');

    req = oai.only();
    const [user, assistant, tool] = req.json.messages;
    assert.equal(req.json.messages.length, 3);
    assert.deepEqual(user, { role: 'user', content: 'Weather in Paris?' });
    assert.equal(assistant.role, 'assistant');
    assert.deepEqual(assistant.tool_calls, [{
        id: 'call_w1', type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    assert.deepEqual(tool, { role: 'tool', tool_call_id: 'call_w1',
                             content: '18C' });
});


test('tools: responses.stream with a tool call from an anthropic provider: arguments streamed', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: 'claude-sonnet-4-6',
        blocks: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather',
                   parts: ['{"ci', 'ty": "Tokyo"}'] }],
    })));

    const stream = client.responses.stream({
        model: 'anthropic/claude', input: 'Weather in Tokyo?', tools: TOOLS,
    });
    let args = '';
    let done = null;
    for await (const ev of stream) {
        if (ev.type === 'response.function_call_arguments.delta') {
            args += ev.delta;
        }
        if (ev.type === 'response.function_call_arguments.done') {
            done = ev;
        }
    }
    const final = await stream.finalResponse();

    assert.equal(args, '{"city": "Tokyo"}');
    assert.equal(done.name, 'get_weather');
    const call = final.output.find((o) => o.type === 'function_call');
    assert.equal(call.call_id, 'toolu_1');
    assert.equal(call.arguments, '{"city": "Tokyo"}');
    assert.equal(call.status, 'completed');

    const req = ant.only();
    assert.equal(req.json.tools[0].name, 'get_weather');
    assert.deepEqual(req.json.tools[0].input_schema, TOOLS[0].parameters);
});


test('native: a responses=on provider gets the request as sent (model id replaced), stateful fields too', async () => {
    nat.on((req, res) => sendJson(res, 200, {
        id: 'resp_up1', object: 'response', created_at: 1760000000,
        status: 'completed', model: 'gpt-5.4', error: null,
        incomplete_details: null,
        output: [{ type: 'message', id: 'msg_up1', status: 'completed',
                   role: 'assistant', content: [{ type: 'output_text',
                   text: 'Native answer.', annotations: [] }] }],
        usage: { input_tokens: 40, input_tokens_details: { cached_tokens: 0 },
                 output_tokens: 3,
                 output_tokens_details: { reasoning_tokens: 0 },
                 total_tokens: 43 },
    }));

    const r = await client.responses.create({
        model: 'native/gpt', input: 'continue',
        previous_response_id: 'resp_prev', store: true,
    });
    assert.equal(r.id, 'resp_up1');
    assert.equal(r.output_text, 'Native answer.');

    const req = nat.only();
    assert.equal(req.url, '/v1/responses');
    assert.equal(req.headers.authorization, 'Bearer sk-nat-mock');
    assert.deepEqual(req.json, { model: 'gpt-5.4', input: 'continue',
                                 previous_response_id: 'resp_prev',
                                 store: true });
});


test('native: responses.stream passes the provider events through', async () => {
    nat.on((req, res) => {
        const resp = { id: 'resp_up2', object: 'response', status: 'in_progress',
                       model: 'gpt-5.4', output: [] };
        const item = { type: 'message', id: 'msg_up2', role: 'assistant',
                       status: 'in_progress', content: [] };
        const done = { ...item, status: 'completed', content: [
            { type: 'output_text', text: 'Up!', annotations: [] }] };
        const ev = (n, type, data) => ({ event: type, data: {
            type, sequence_number: n, ...data } });
        return sendSse(res, [
            ev(0, 'response.created', { response: resp }),
            ev(1, 'response.output_item.added', { output_index: 0, item }),
            ev(2, 'response.content_part.added', { item_id: 'msg_up2',
                output_index: 0, content_index: 0,
                part: { type: 'output_text', text: '', annotations: [] } }),
            ev(3, 'response.output_text.delta', { item_id: 'msg_up2',
                output_index: 0, content_index: 0, delta: 'Up!',
                logprobs: [] }),
            ev(4, 'response.output_item.done', { output_index: 0,
                item: done }),
            ev(5, 'response.completed', { response: { ...resp,
                status: 'completed', output: [done],
                usage: { input_tokens: 7, output_tokens: 1,
                         input_tokens_details: { cached_tokens: 0 },
                         output_tokens_details: { reasoning_tokens: 0 },
                         total_tokens: 8 } } }),
        ]);
    });

    const stream = client.responses.stream({ model: 'native/gpt',
                                             input: 'go' });
    const final = await stream.finalResponse();
    assert.equal(final.id, 'resp_up2');
    assert.equal(final.output_text, 'Up!');
    assert.equal(nat.only().json.stream, true);
});


test('errors: stateful fields without a native provider, and a provider 429, as SDK error classes', async () => {
    let e = await rejects(client.responses.create({
        model: 'chat/gpt', input: 'x', previous_response_id: 'resp_1',
    }));
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.error?.param, 'previous_response_id');
    assert.equal(e.error?.type, 'invalid_request_error');

    oai.on((req, res) => oaiError(res, 429, 'Slow down', 'requests',
                                  'rate_limit_exceeded'));
    e = await rejects(client.responses.create({ model: 'chat/gpt',
                                                 input: 'x' }));
    assert.ok(e instanceof OpenAI.RateLimitError, `got ${e}`);
    assert.equal(e.status, 429);
    assert.match(e.message, /Slow down/);
});


await run();
