// The official `openai` and `@anthropic-ai/sdk` clients against the gateway
// in front of a Gemini API mock (format=gemini).  t/150-gemini-e2e.t.
//
// nginx.conf of the block (see the .t file):
//   google -> the Gemini mock of this script on $TEST_NGINX_RAND_PORT_1
//   model google/gemini-3-flash (google:gemini-3-flash)

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { assert, test, run, Mock, GW, envPort, sendJson } from './lib.mjs';

const gem = await new Mock('gemini', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();

const anthropic = new Anthropic({
    apiKey: 'sk-ant-client-key-not-for-providers',
    baseURL: GW, maxRetries: 0, timeout: 10000,
});

const openai = new OpenAI({
    apiKey: 'sk-client-key-not-for-providers',
    baseURL: `${GW}/v1`, maxRetries: 0, timeout: 10000,
});

const MODEL = 'google/gemini-3-flash';
const PATH = '/v1beta/models/gemini-3-flash';
const SIG = 'EqoBCqcBAbcd';

const TOOLS = [{
    name: 'get_weather', description: 'Current weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } },
                    required: ['city'] },
}];

function usage(p, c, t = 0) {
    return { promptTokenCount: p, candidatesTokenCount: c,
             thoughtsTokenCount: t, totalTokenCount: p + c + t };
}

function answer(parts, finishReason = 'STOP', u = usage(10, 5)) {
    return { candidates: [{ content: { role: 'model', parts }, finishReason,
                            index: 0 }],
             usageMetadata: u, modelVersion: 'gemini-3-flash',
             responseId: 'resp-e2e' };
}

// Gemini's SSE: CRLF, one whole response per event, no [DONE]
async function sendGeminiSse(res, chunks) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const c of chunks) {
        res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
        await new Promise((r) => setTimeout(r, 5));
    }
    res.end();
}

function checkRequest(req, method) {
    assert.equal(req.method, 'POST');
    assert.equal(req.url, `${PATH}:${method}` +
                 (method === 'streamGenerateContent' ? '?alt=sse' : ''));
    assert.equal(req.headers['x-goog-api-key'], 'gk-e2e');
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers['x-api-key'], undefined);
    assert.ok(Array.isArray(req.json.contents));
}

test('openai: chat.completions.create', async () => {
    gem.on((req, res) => sendJson(res, 200, answer([{ text: 'Hi there.' }])));

    const r = await openai.chat.completions.create({
        model: MODEL, max_tokens: 64,
        messages: [{ role: 'system', content: 'Be brief.' },
                   { role: 'user', content: 'Hello' }],
    });

    assert.equal(r.choices[0].message.content, 'Hi there.');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 10);
    assert.equal(r.usage.completion_tokens, 5);

    const req = gem.only();
    checkRequest(req, 'generateContent');
    assert.deepEqual(req.json.systemInstruction,
                     { parts: [{ text: 'Be brief.' }] });
    assert.deepEqual(req.json.contents,
                     [{ role: 'user', parts: [{ text: 'Hello' }] }]);
    assert.equal(req.json.generationConfig.maxOutputTokens, 64);
});

test('openai: streaming with include_usage', async () => {
    gem.on((req, res) => sendGeminiSse(res, [
        answer([{ text: 'One, ' }], undefined, usage(4, 2)),
        answer([{ text: 'two.' }, { text: '', thoughtSignature: SIG }], 'STOP',
               usage(4, 5, 7)),
    ]));

    const stream = await openai.chat.completions.create({
        model: MODEL, stream: true, stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Count' }],
    });

    let text = '';
    let finish = null;
    let u = null;
    for await (const chunk of stream) {
        if (chunk.usage) {
            u = chunk.usage;
        }
        for (const c of chunk.choices) {
            text += c.delta.content ?? '';
            finish = c.finish_reason ?? finish;
        }
    }

    assert.equal(text, 'One, two.');
    assert.equal(finish, 'stop');
    assert.equal(u.prompt_tokens, 4);
    assert.equal(u.completion_tokens, 12);
    checkRequest(gem.only(), 'streamGenerateContent');
});

test('anthropic: tool loop with the thought signature round trip', async () => {
    gem.on((req, res) => sendJson(res, 200, answer([
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } },
          thoughtSignature: SIG },
    ], 'STOP', usage(20, 8))));

    const first = await anthropic.messages.create({
        model: MODEL, max_tokens: 256, tools: TOOLS,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });

    assert.equal(first.stop_reason, 'tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'Paris' });
    assert.ok(first.content.some((b) => b.type === 'thinking'
                                        && b.signature === SIG));
    checkRequest(gem.only(), 'generateContent');

    gem.on((req, res) => sendJson(res, 200, answer([
        { text: 'It is 18C in Paris.' }])));

    const second = await anthropic.messages.create({
        model: MODEL, max_tokens: 256, tools: TOOLS,
        messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: first.content },
            { role: 'user', content: [{ type: 'tool_result',
                                        tool_use_id: call.id,
                                        content: '18C' }] },
        ],
    });

    assert.equal(second.content[0].text, 'It is 18C in Paris.');
    assert.equal(second.stop_reason, 'end_turn');

    const req = gem.only();
    checkRequest(req, 'generateContent');
    assert.deepEqual(req.json.contents[1], {
        role: 'model',
        parts: [{ functionCall: { id: call.id, name: 'get_weather',
                                  args: { city: 'Paris' } },
                  thoughtSignature: SIG }],
    });
    assert.deepEqual(req.json.contents[2], {
        role: 'user',
        parts: [{ functionResponse: { id: call.id, name: 'get_weather',
                                      response: { output: '18C' } } }],
    });
});

test('anthropic: messages.stream', async () => {
    gem.on((req, res) => sendGeminiSse(res, [
        answer([{ text: 'Thinking.', thought: true }], undefined),
        answer([{ text: 'Hello ' }], undefined),
        answer([{ text: 'world.' }], 'STOP', usage(6, 3, 2)),
    ]));

    const stream = anthropic.messages.stream({
        model: MODEL, max_tokens: 64,
        messages: [{ role: 'user', content: 'Hi' }],
    });

    let text = '';
    stream.on('text', (t) => { text += t; });
    const msg = await stream.finalMessage();

    assert.equal(text, 'Hello world.');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.content[0].type, 'thinking');
    assert.equal(msg.content[0].thinking, 'Thinking.');
    assert.equal(msg.usage.output_tokens, 5);
    checkRequest(gem.only(), 'streamGenerateContent');
});

test('anthropic: a blocked prompt is a refusal', async () => {
    gem.on((req, res) => sendJson(res, 200, {
        promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
        usageMetadata: usage(3, 0) }));

    const r = await anthropic.messages.create({
        model: MODEL, max_tokens: 64,
        messages: [{ role: 'user', content: 'Something bad' }],
    });

    assert.equal(r.stop_reason, 'refusal');
    assert.deepEqual(r.content, []);
});

test('openai: a Gemini 429 is a RateLimitError', async () => {
    gem.on((req, res) => sendJson(res, 429, { error: {
        code: 429, message: 'Resource has been exhausted.',
        status: 'RESOURCE_EXHAUSTED' } }));

    await assert.rejects(openai.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'Hi' }],
    }), (e) => e instanceof OpenAI.RateLimitError
               && /exhausted/.test(e.message));
});

await run();
