// The Vercel AI SDK (`ai` with @ai-sdk/openai-compatible, @ai-sdk/openai
// and @ai-sdk/anthropic) against the gateway (t/050-e2e-ai-sdk.t):
// generateText, streamText and tool-call round trips, in front of an
// OpenAI-format mock and an Anthropic-format mock, same format and
// translated.
//
// nginx.conf of the blocks (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   ant -> Anthropic mock of this script on $TEST_NGINX_RAND_PORT_2
//   models: anthropic/claude-sonnet-4.6 (ant:claude-sonnet-4-6),
//           openai/gpt-4o (oai:gpt-4o-2024-08-06)

import { generateText, streamText, stepCountIs, jsonSchema, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import {
    assert, test, run, Mock, GW, envPort, sendJson, sendSse, oaiCompletion,
    oaiChunks, antMessage, antEvents, lastUserText,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();

const compat = createOpenAICompatible({
    name: 'aigw', baseURL: `${GW}/v1`, apiKey: 'client-key',
    includeUsage: true,
});
const openai = createOpenAI({ baseURL: `${GW}/v1`, apiKey: 'client-key' });
const anthropic = createAnthropic({ baseURL: `${GW}/v1`,
                                    apiKey: 'client-key' });

const GPT = 'openai/gpt-4o';
const CLAUDE = 'anthropic/claude-sonnet-4.6';

const common = { maxRetries: 0 };

// a tool the SDK executes; every call is recorded
function weatherTool(calls) {
    return tool({
        description: 'Current weather of a city',
        inputSchema: jsonSchema({
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
        }),
        execute: async ({ city }) => {
            calls.push(city);
            return { city, tempC: city === 'Paris' ? 21 : 9 };
        },
    });
}

// OpenAI mock: first turn asks for the tool (Paris and Oslo in parallel),
// the turn with the tool results answers with their temperatures
function oaiToolHandler(req, res) {
    const msgs = req.json.messages;
    const results = msgs.filter((m) => m.role === 'tool');
    if (results.length) {
        const temps = results.map((m) => {
            const v = JSON.parse(typeof m.content === 'string' ? m.content
                : m.content.map((p) => p.text).join(''));
            return `${v.city} ${v.tempC}C`;
        }).join(', ');
        const answer = `Weather: ${temps}.`;
        if (req.json.stream) {
            return sendSse(res, oaiChunks(req, { model: req.json.model,
                                                 texts: [answer] }));
        }
        return sendJson(res, 200, oaiCompletion({ model: req.json.model,
                                                  content: answer }));
    }
    const toolCalls = [
        { id: 'call_p', name: 'weather', args: ['{"city":', '"Paris"}'] },
        { id: 'call_o', name: 'weather', args: ['{"ci', 'ty":"Oslo"}'] },
    ];
    if (req.json.stream) {
        return sendSse(res, oaiChunks(req, { model: req.json.model,
                                             toolCalls }));
    }
    return sendJson(res, 200, oaiCompletion({
        model: req.json.model,
        toolCalls: toolCalls.map((t) => ({ id: t.id, name: t.name,
                                           arguments: t.args.join('') })),
    }));
}

// Anthropic mock: the same two turns
function antToolHandler(req, res) {
    const msgs = req.json.messages;
    const last = msgs.at(-1);
    const results = Array.isArray(last.content)
        ? last.content.filter((b) => b.type === 'tool_result') : [];
    if (results.length) {
        const temps = results.map((b) => {
            const c = typeof b.content === 'string' ? b.content
                : b.content.map((p) => p.text).join('');
            const v = JSON.parse(c);
            return `${v.city} ${v.tempC}C`;
        }).join(', ');
        const answer = `Weather: ${temps}.`;
        if (req.json.stream) {
            return sendSse(res, antEvents({ model: req.json.model,
                blocks: [{ type: 'text', parts: [answer] }] }));
        }
        return sendJson(res, 200, antMessage({ model: req.json.model,
            content: [{ type: 'text', text: answer }] }));
    }
    const blocks = [
        { type: 'tool_use', id: 'toolu_p', name: 'weather',
          parts: ['{"city":', '"Paris"}'] },
        { type: 'tool_use', id: 'toolu_o', name: 'weather',
          parts: ['{"ci', 'ty":"Oslo"}'] },
    ];
    if (req.json.stream) {
        return sendSse(res, antEvents({ model: req.json.model, blocks }));
    }
    return sendJson(res, 200, antMessage({ model: req.json.model,
        content: blocks.map((b) => ({ type: 'tool_use', id: b.id,
                                      name: b.name,
                                      input: JSON.parse(b.parts.join('')) })),
    }));
}

async function toolRoundTrip(model, mock, handler, stream) {
    mock.on(handler);
    const calls = [];
    const args = {
        ...common, model,
        tools: { weather: weatherTool(calls) },
        stopWhen: stepCountIs(3),
        prompt: 'What is the weather in Paris and Oslo?',
    };

    let text;
    let steps;
    if (stream) {
        const r = streamText(args);
        let streamed = '';
        for await (const t of r.textStream) {
            streamed += t;
        }
        text = await r.text;
        steps = await r.steps;
        assert.equal(streamed, text);
    } else {
        const r = await generateText(args);
        text = r.text;
        steps = r.steps;
    }

    assert.deepEqual(calls, ['Paris', 'Oslo'], 'the SDK ran both tools');
    assert.equal(steps.length, 2);
    assert.equal(steps[0].finishReason, 'tool-calls');
    assert.deepEqual(steps[0].toolCalls.map((c) => [c.toolName, c.input]), [
        ['weather', { city: 'Paris' }],
        ['weather', { city: 'Oslo' }],
    ]);
    assert.equal(text, 'Weather: Paris 21C, Oslo 9C.');
    assert.equal(steps[1].finishReason, 'stop');
    assert.equal(mock.requests.length, 2);
    for (const r of mock.requests) {
        assert.equal(!!r.json.stream, stream);
    }
    return mock.requests;
}


// ---------------------------------------------------------------------
// @ai-sdk/openai-compatible
// ---------------------------------------------------------------------

test('compat: generateText', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: `You said: ${lastUserText(req.json)}`,
        usage: { prompt: 12, completion: 4 },
    })));

    const r = await generateText({
        ...common, model: compat(GPT), system: 'Echo.', prompt: 'ping',
        temperature: 0.1,
    });
    assert.equal(r.text, 'You said: ping');
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, 12);
    assert.equal(r.usage.outputTokens, 4);

    const req = oai.only();
    assert.equal(req.headers.authorization, 'Bearer sk-oai-mock');
    assert.equal(req.json.model, 'gpt-4o-2024-08-06');
    assert.equal(req.json.messages[0].role, 'system');
    assert.equal(req.json.temperature, 0.1);
});


test('compat: streamText with usage', async () => {
    oai.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['Stre', 'amed ', 'text'],
        usage: { prompt: 8, completion: 3 },
    })));

    const r = streamText({ ...common, model: compat(GPT), prompt: 'go' });
    const parts = [];
    for await (const t of r.textStream) {
        parts.push(t);
    }
    assert.equal(parts.join(''), 'Streamed text');
    assert.ok(parts.length >= 2, `text arrives in pieces: ${parts}`);
    assert.equal(await r.finishReason, 'stop');
    const usage = await r.usage;
    assert.equal(usage.inputTokens, 8);
    assert.equal(usage.outputTokens, 3);
    assert.equal(oai.only().json.stream_options?.include_usage, true);
});


test('compat: generateText tool round trip', async () => {
    const reqs = await toolRoundTrip(compat(GPT), oai, oaiToolHandler, false);
    const second = reqs[1].json.messages;
    const asst = second.find((m) => m.role === 'assistant');
    assert.deepEqual(asst.tool_calls.map((c) => c.id), ['call_p', 'call_o']);
    assert.deepEqual(second.filter((m) => m.role === 'tool')
        .map((m) => m.tool_call_id), ['call_p', 'call_o']);
    assert.equal(reqs[0].json.tools[0].function.name, 'weather');
});


test('compat: streamText tool round trip', async () => {
    await toolRoundTrip(compat(GPT), oai, oaiToolHandler, true);
});


test('compat-xlat: streamText tool round trip to an Anthropic provider', async () => {
    const reqs = await toolRoundTrip(compat(CLAUDE), ant, antToolHandler,
                                     true);
    assert.equal(reqs[0].url, '/v1/messages');
    assert.equal(reqs[0].json.tools[0].name, 'weather');
    assert.equal(reqs[0].json.tools[0].input_schema.type, 'object');
    const second = reqs[1].json.messages;
    assert.deepEqual(second.at(-1).content.map((b) => [b.type, b.tool_use_id]),
                     [['tool_result', 'toolu_p'], ['tool_result', 'toolu_o']]);
});


// ---------------------------------------------------------------------
// @ai-sdk/openai (chat completions API, baseURL at the gateway)
// ---------------------------------------------------------------------

test('openai: generateText and streamText through createOpenAI().chat', async () => {
    oai.on((req, res) => {
        if (req.json.stream) {
            return sendSse(res, oaiChunks(req, { model: req.json.model,
                                                 texts: ['a', 'b', 'c'] }));
        }
        return sendJson(res, 200, oaiCompletion({ model: req.json.model,
                                                  content: 'plain' }));
    });

    const g = await generateText({ ...common, model: openai.chat(GPT),
                                   prompt: 'x' });
    assert.equal(g.text, 'plain');

    const s = streamText({ ...common, model: openai.chat(GPT), prompt: 'y' });
    let text = '';
    for await (const t of s.textStream) {
        text += t;
    }
    assert.equal(text, 'abc');
    assert.equal((await s.usage).outputTokens, 7);
    assert.equal(oai.requests.length, 2);
    assert.equal(oai.requests[1].json.stream, true);
});


test('openai: streamText tool round trip', async () => {
    await toolRoundTrip(openai.chat(GPT), oai, oaiToolHandler, true);
});


// ---------------------------------------------------------------------
// @ai-sdk/anthropic (baseURL = gateway /v1)
// ---------------------------------------------------------------------

test('anthropic: generateText and streamText', async () => {
    ant.on((req, res) => {
        if (req.json.stream) {
            return sendSse(res, antEvents({ model: req.json.model,
                blocks: [{ type: 'text', parts: ['Hel', 'lo ', 'stream'] }],
                usage: { input: 10, output: 3 } }));
        }
        return sendJson(res, 200, antMessage({ model: req.json.model,
            content: [{ type: 'text', text: 'Hello plain' }],
            usage: { input: 10, output: 2 } }));
    });

    const g = await generateText({ ...common, model: anthropic(CLAUDE),
                                   prompt: 'hi', maxOutputTokens: 64 });
    assert.equal(g.text, 'Hello plain');
    assert.equal(g.finishReason, 'stop');
    assert.equal(g.usage.inputTokens, 10);
    assert.equal(g.usage.outputTokens, 2);

    const s = streamText({ ...common, model: anthropic(CLAUDE),
                           prompt: 'hi' });
    let text = '';
    for await (const t of s.textStream) {
        text += t;
    }
    assert.equal(text, 'Hello stream');
    assert.equal((await s.usage).outputTokens, 3);

    assert.equal(ant.requests.length, 2);
    const req = ant.requests[0];
    assert.equal(req.url, '/v1/messages');
    assert.equal(req.headers['x-api-key'], 'sk-ant-mock');
    assert.equal(req.json.model, 'claude-sonnet-4-6');
    assert.equal(req.json.max_tokens, 64);
});


test('anthropic: generateText tool round trip', async () => {
    await toolRoundTrip(anthropic(CLAUDE), ant, antToolHandler, false);
});


test('anthropic: streamText tool round trip', async () => {
    await toolRoundTrip(anthropic(CLAUDE), ant, antToolHandler, true);
});


test('anthropic-xlat: streamText tool round trip to an OpenAI provider', async () => {
    const reqs = await toolRoundTrip(anthropic(GPT), oai, oaiToolHandler,
                                     true);
    assert.equal(reqs[0].url, '/v1/chat/completions');
    assert.equal(reqs[0].json.tools[0].function.name, 'weather');
    const second = reqs[1].json.messages;
    assert.deepEqual(second.filter((m) => m.role === 'tool')
        .map((m) => m.tool_call_id), ['call_p', 'call_o']);
});


await run();
