// The Vercel AI SDK speaking its own gateway protocol to the gateway
// (t/160-aisdk-e2e.t): `ai` + @ai-sdk/gateway's createGateway({ baseURL })
// and plain-string models through globalThis.AI_SDK_DEFAULT_PROVIDER,
// against POST {base}/language-model (generateText, streamText with
// tools), POST {base}/embedding-model (embed, embedMany), POST
// {base}/image-model (generateImage), GET {base}/config
// (getAvailableModels()) and the protocol's errors, translated to an OpenAI-format mock and an Anthropic-format
// mock, and a Gemini-format mock for image output.  The argument picks
// the tests of a block ("open": no gateway keys; "keys": gateway keys
// with limits; "gemini": google/gemini-2.5-flash-image on
// $TEST_NGINX_RAND_PORT_3, $0.30 / $30 per 1M, $0.039 an image).
//
// nginx.conf of the blocks (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   ant -> Anthropic mock of this script on $TEST_NGINX_RAND_PORT_2
//   models: openai/gpt-4o (oai:gpt-4o-2024-08-06, $2.50 / $10 per 1M,
//           cached $1.25), anthropic/claude-sonnet-4.6
//           (ant:claude-sonnet-4-6, $3 / $15),
//           openai/text-embedding-3-small (oai:text-embedding-3-small,
//           $0.02 per 1M), openai/dall-e-3 (oai:dall-e-3, $0.04 an image),
//           openai/gpt-image-1 (oai:gpt-image-1, $5 / $40 per 1M, $0.01
//           an image)
//   keys of the "keys" block: a ("sec-a"), rate ("sec-rate", rpm=1),
//   poor ("sec-poor", budget=0.001/total)

import { inspect } from 'node:util';
import {
    generateText, streamText, jsonSchema, tool, createGateway, embed,
    embedMany, generateImage,
} from 'ai';
import {
    assert, test, run, Mock, GW, envPort, sendJson, sendSse, oaiCompletion,
    oaiChunks, oaiError, antMessage, rejects, rawFetch,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();

// the "gemini" block: a Gemini-format mock on $TEST_NGINX_RAND_PORT_3
const gem = process.env.TEST_NGINX_RAND_PORT_3
    ? await new Mock('gemini', envPort('TEST_NGINX_RAND_PORT_3')).start()
    : null;

const GPT = 'openai/gpt-4o';
const CLAUDE = 'anthropic/claude-sonnet-4.6';
const common = { maxRetries: 0 };

const gw = (prefix, apiKey = 'client-key') =>
    createGateway({ baseURL: `${GW}${prefix}`, apiKey });

// plain-string model ids resolve through the global default provider
globalThis.AI_SDK_DEFAULT_PROVIDER = gw('/v3/ai');
// warnings are asserted on results, not printed
globalThis.AI_SDK_LOG_WARNINGS = false;

function weatherTool(calls) {
    return tool({
        description: 'Current weather of a city',
        inputSchema: jsonSchema({
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
        }),
        execute: async ({ city }) => {
            calls.push(city);
            return { city, tempC: 21 };
        },
    });
}

test('open: generateText with a plain-string model: text, V3 usage, providerMetadata.gateway (generation id, cost), the request translated', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'Hello there',
        usage: { prompt: 1000, completion: 100 },
    })));

    const r = await generateText({
        ...common, model: GPT, system: 'You are terse.', prompt: 'hi',
        maxOutputTokens: 50, temperature: 0.2, stopSequences: ['END'],
    });

    assert.equal(r.text, 'Hello there');
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, 1000);
    assert.equal(r.usage.outputTokens, 100);
    assert.equal(r.usage.totalTokens, 1100);
    assert.match(r.providerMetadata.gateway.generationId, /^gen_/);
    assert.equal(r.providerMetadata.gateway.cost, '0.0035');

    const got = oai.only();
    assert.equal(got.url, '/v1/chat/completions');
    assert.equal(got.json.model, 'gpt-4o-2024-08-06');
    assert.equal(got.json.max_tokens, 50);
    assert.equal(got.json.temperature, 0.2);
    assert.deepEqual(got.json.stop, ['END']);
    assert.deepEqual(got.json.messages, [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'hi' },
    ]);
});

test('open: /v1/ai, /v3/ai and /v4/ai prefixes; an Anthropic-format provider', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'oai',
    })));
    ant.on((req, res) => sendJson(res, 200, antMessage({
        model: req.json.model, content: [{ type: 'text', text: 'ant' }],
        usage: { input: 20, output: 3 },
    })));

    for (const prefix of ['/v1/ai', '/v3/ai', '/v4/ai']) {
        const g = gw(prefix);
        let r = await generateText({ ...common, model: g(GPT), prompt: 'x' });
        assert.equal(r.text, 'oai', prefix);

        r = await generateText({ ...common, model: g(CLAUDE), prompt: 'x' });
        assert.equal(r.text, 'ant', prefix);
        assert.equal(r.usage.inputTokens, 20);
    }

    assert.equal(ant.last().url, '/v1/messages');
    assert.equal(ant.last().json.model, 'claude-sonnet-4-6');
});

test('open: streamText with a tool: text deltas, tool-input-start/delta/end, tool-call, the tool runs, finish with usage and the gateway metadata', async () => {
    oai.on((req, res) => sendSse(res, oaiChunks(req, {
        model: req.json.model, texts: ['Let me ', 'check.'],
        toolCalls: [{ id: 'call_1', name: 'weather',
                      args: ['{"ci', 'ty":"Pa', 'ris"}'] }],
        usage: { prompt: 1000, completion: 100 },
    })));

    const calls = [];
    const parts = [];
    const r = streamText({
        ...common, model: GPT, prompt: 'weather in Paris?',
        tools: { weather: weatherTool(calls) },
    });

    for await (const p of r.fullStream) {
        parts.push(p);
    }

    assert.equal(await r.text, 'Let me check.');
    const types = parts.map((p) => p.type);
    for (const t of ['start', 'text-start', 'text-delta', 'text-end',
                     'tool-input-start', 'tool-input-delta',
                     'tool-input-end', 'tool-call', 'tool-result',
                     'finish-step', 'finish']) {
        assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    }
    assert.ok(types.indexOf('text-end') < types.indexOf('tool-input-start'));
    assert.ok(types.indexOf('tool-input-end') < types.indexOf('tool-call'));

    const deltas = parts.filter((p) => p.type === 'tool-input-delta')
        .map((p) => p.delta).join('');
    assert.equal(deltas, '{"city":"Paris"}');

    const tc = parts.find((p) => p.type === 'tool-call');
    assert.equal(tc.toolCallId, 'call_1');
    assert.equal(tc.toolName, 'weather');
    assert.deepEqual(tc.input, { city: 'Paris' });
    assert.deepEqual(calls, ['Paris']);

    assert.equal(await r.finishReason, 'tool-calls');
    const usage = await r.usage;
    assert.equal(usage.inputTokens, 1000);
    assert.equal(usage.outputTokens, 100);
    const meta = await r.providerMetadata;
    assert.match(meta.gateway.generationId, /^gen_/);
    assert.equal(meta.gateway.cost, '0.0035');

    const got = oai.only();
    assert.equal(got.json.stream, true);
    assert.equal(got.json.tools[0].function.name, 'weather');
    assert.deepEqual(got.json.tools[0].function.parameters.required,
                     ['city']);
});

test('open: a tool round trip: the assistant tool call and the JSON tool result reach the provider', async () => {
    oai.on((req, res) => {
        const msgs = req.json.messages;
        if (msgs[msgs.length - 1].role === 'tool') {
            return sendJson(res, 200, oaiCompletion({
                model: req.json.model, content: 'It is 21C.',
            }));
        }
        return sendJson(res, 200, oaiCompletion({
            model: req.json.model,
            toolCalls: [{ id: 'call_9', name: 'weather',
                          arguments: { city: 'Paris' } }],
        }));
    });

    const calls = [];
    const { stepCountIs } = await import('ai');
    const r = await generateText({
        ...common, model: GPT, prompt: 'weather?',
        tools: { weather: weatherTool(calls) }, stopWhen: stepCountIs(3),
    });

    assert.equal(r.text, 'It is 21C.');
    assert.equal(r.steps.length, 2);
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    assert.deepEqual(calls, ['Paris']);

    const msgs = oai.last().json.messages;
    const call = msgs.find((m) => m.role === 'assistant');
    assert.equal(call.tool_calls[0].id, 'call_9');
    assert.deepEqual(JSON.parse(call.tool_calls[0].function.arguments),
                     { city: 'Paris' });
    const result = msgs.find((m) => m.role === 'tool');
    assert.equal(result.tool_call_id, 'call_9');
    assert.deepEqual(JSON.parse(result.content),
                     { city: 'Paris', tempC: 21 });
});

test('open: file parts: inline bytes reach the provider as a data URL; an http(s) URL is a 400 GatewayInvalidRequestError', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'a pixel',
    })));

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const r = await generateText({
        ...common, model: GPT,
        messages: [{ role: 'user', content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image', image: png, mediaType: 'image/png' },
        ] }],
    });
    assert.equal(r.text, 'a pixel');
    const content = oai.only().json.messages[0].content;
    assert.deepEqual(content[1], { type: 'image_url',
                                   image_url: { url: 'data:image/png;base64,iVBORw==' } });

    oai.on(() => assert.fail('the provider must not be called'));
    const e = await rejects(generateText({
        ...common, model: GPT,
        messages: [{ role: 'user', content: [
            { type: 'image', image: new URL('https://example.com/a.png') },
        ] }],
    }));
    assert.equal(e.name, 'GatewayInvalidRequestError', String(e));
    assert.equal(e.statusCode, 400);
    assert.match(e.message, /http\(s\) URLs are not fetched by the gateway/);
    assert.equal(oai.requests.length, 0);
});

test('open: embed and embedMany with plain-string models: the vectors, usage tokens, the cost; the texts reach the provider as an embeddings request', async () => {
    oai.on((req, res) => sendJson(res, 200, {
        object: 'list', model: req.json.model,
        data: req.json.input.map((t, i) => ({
            object: 'embedding', index: i, embedding: [i, t.length / 10],
        })),
        usage: { prompt_tokens: 1000, total_tokens: 1000 },
    }));

    const one = await embed({ ...common, model: 'openai/text-embedding-3-small',
                              value: 'sunny day' });
    assert.deepEqual(one.embedding, [0, 0.9]);
    assert.equal(one.usage.tokens, 1000);
    assert.equal(one.providerMetadata.gateway.cost, '0.00002');

    const got = oai.only();
    assert.equal(got.url, '/v1/embeddings');
    assert.equal(got.json.model, 'text-embedding-3-small');
    assert.deepEqual(got.json.input, ['sunny day']);

    const many = await embedMany({
        ...common, model: gw('/v1/ai').embeddingModel('openai/text-embedding-3-small'),
        values: ['a', 'bb', 'ccc "q"'],
    });
    assert.deepEqual(many.embeddings, [[0, 0.1], [1, 0.2], [2, 0.7]]);
    assert.equal(many.usage.tokens, 1000);

    assert.equal(oai.requests.length, 2);
    assert.deepEqual(oai.last().json.input, ['a', 'bb', 'ccc "q"']);
});

test('open: generateImage: base64 images as the SDK\'s files, warnings, the gateway cost; gpt-image usage; the request translated', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2]).toString('base64');
    oai.on((req, res) => sendJson(res, 200, {
        created: 1700000000,
        data: Array.from({ length: req.json.n || 1 },
                         () => ({ b64_json: png })),
        ...(req.json.model === 'gpt-image-1'
            ? { usage: { input_tokens: 100, output_tokens: 1000,
                         total_tokens: 1100 } }
            : {}),
    }));

    const r = await generateImage({
        ...common, model: gw('/v3/ai').imageModel('openai/dall-e-3'),
        prompt: 'a red cat', n: 2, size: '1024x1024', aspectRatio: '1:1',
    });
    assert.equal(r.images.length, 2);
    assert.equal(r.image.base64, png);
    assert.deepEqual([...r.image.uint8Array], [0x89, 0x50, 0x4e, 0x47, 1, 2]);
    assert.equal(r.image.mediaType, 'image/png');
    assert.ok(r.warnings.some((w) => w.feature === 'aspectRatio'),
              inspect(r.warnings));
    assert.equal(r.providerMetadata.gateway.cost, '0.08');

    let got = oai.only();
    assert.equal(got.url, '/v1/images/generations');
    assert.deepEqual(got.json, { model: 'dall-e-3', prompt: 'a red cat', n: 2,
                                 size: '1024x1024',
                                 response_format: 'b64_json' });

    const g = await generateImage({
        ...common, model: gw('/v3/ai').imageModel('openai/gpt-image-1'),
        prompt: 'a dog',
    });
    assert.equal(g.images.length, 1);
    assert.equal(g.usage.inputTokens, 100);
    assert.equal(g.usage.outputTokens, 1000);
    // 100 x $5 + 1000 x $40 per 1M, and one image at $0.01
    assert.equal(g.providerMetadata.gateway.cost, '0.0505');

    assert.equal(oai.requests.length, 2);
    got = oai.last();
    assert.equal(got.json.model, 'gpt-image-1');
    assert.equal(got.json.response_format, undefined);
});

test('open: getAvailableModels(): the configured models with specification, modelType and per-token prices', async () => {
    const { models } = await gw('/v3/ai').getAvailableModels();
    const byId = Object.fromEntries(models.map((m) => [m.id, m]));

    assert.deepEqual(byId[GPT].specification, {
        specificationVersion: 'v3', provider: 'openai', modelId: GPT,
    });
    assert.equal(byId[GPT].modelType, 'language');
    assert.deepEqual(byId[GPT].pricing, {
        input: '0.0000025', output: '0.00001',
        cachedInputTokens: '0.00000125',
    });
    assert.deepEqual(byId[CLAUDE].pricing, {
        input: '0.000003', output: '0.000015',
    });
});

test('open: errors: an unknown model is GatewayModelNotFoundError; a provider 400 is GatewayInvalidRequestError; a provider 429 is GatewayRateLimitError', async () => {
    let e = await rejects(generateText({ ...common, model: 'nope/none',
                                         prompt: 'x' }));
    assert.equal(e.name, 'GatewayModelNotFoundError', String(e));
    assert.equal(e.statusCode, 404);

    oai.on((req, res) => oaiError(res, 400, 'bad things', 'invalid_request_error'));
    e = await rejects(generateText({ ...common, model: GPT, prompt: 'x' }));
    assert.equal(e.name, 'GatewayInvalidRequestError', String(e));
    assert.match(e.message, /bad things/);

    oai.on((req, res) => oaiError(res, 429, 'slow down', 'requests', null,
                                  { 'retry-after': '1' }));
    e = await rejects(generateText({ ...common, model: GPT, prompt: 'x' }));
    assert.equal(e.name, 'GatewayRateLimitError', String(e));
    assert.equal(e.statusCode, 429);
});

test('keys: a missing or unknown key is GatewayAuthenticationError; rpm is GatewayRateLimitError; an exhausted budget is a 402', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'ok',
        usage: { prompt: 1000, completion: 100 },
    })));

    let e = await rejects(generateText({ ...common, model: gw('/v3/ai', 'wrong')(GPT),
                                         prompt: 'x' }));
    // `ai` replaces the class's error by one with its own message
    assert.equal(e.name, 'GatewayAuthenticationError', inspect(e));

    const raw = await rawFetch('/v3/ai/language-model', {
        method: 'POST',
        headers: { 'content-type': 'application/json',
                   'ai-language-model-id': GPT },
        body: JSON.stringify({ prompt: [] }),
    });
    assert.equal(raw.status, 401);
    assert.equal(raw.json.error.type, 'authentication_error');

    const ok = await generateText({ ...common, model: gw('/v3/ai', 'sec-a')(GPT),
                                    prompt: 'x' });
    assert.equal(ok.text, 'ok');

    const rate = gw('/v3/ai', 'sec-rate');
    await generateText({ ...common, model: rate(GPT), prompt: 'x' });
    e = await rejects(generateText({ ...common, model: rate(GPT), prompt: 'x' }));
    assert.equal(e.name, 'GatewayRateLimitError', String(e));
    assert.equal(e.statusCode, 429);
    assert.equal(e.isRetryable, true);

    // the SDK has no class of its own for 402: the type it does not know
    // ("insufficient_funds") gives GatewayInternalServerError, status 402,
    // not retried
    // the request's worst case cost is over the budget: refused up front
    const poor = gw('/v3/ai', 'sec-poor');
    e = await rejects(generateText({ ...common, model: poor(GPT), prompt: 'x' }));
    assert.equal(e.statusCode, 402, String(e));
    assert.equal(e.name, 'GatewayInternalServerError');
    assert.equal(e.isRetryable, false);
    assert.match(e.message, /budget/);
});

// a Gemini image model's answer: text and an image (inlineData)
function geminiImage(png) {
    return {
        candidates: [{
            content: { role: 'model', parts: [
                { text: 'Here is your cat.' },
                { inlineData: { mimeType: 'image/png', data: png },
                  thoughtSignature: 'SIG' },
            ] },
            finishReason: 'STOP', index: 0,
        }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1290,
                         totalTokenCount: 1300 },
        modelVersion: 'gemini-2.5-flash-image', responseId: 'resp_img',
    };
}

test('gemini: generateImage against a Gemini image model: responseModalities ["IMAGE"], the aspect ratio, the image as the SDK\'s file, the cost', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 7, 8]).toString('base64');
    gem.on((req, res) => sendJson(res, 200, geminiImage(png)));

    const r = await generateImage({
        ...common,
        model: gw('/v3/ai').imageModel('google/gemini-2.5-flash-image'),
        prompt: 'a red cat', aspectRatio: '16:9',
    });
    assert.equal(r.images.length, 1);
    assert.equal(r.image.base64, png);
    assert.equal(r.image.mediaType, 'image/png');
    assert.ok(!r.warnings.some((w) => w.feature === 'aspectRatio'),
              inspect(r.warnings));
    // one image at $0.039, 10 x $0.30 + 1290 x $30 per 1M tokens
    assert.equal(r.providerMetadata.gateway.cost, '0.077703');

    const got = gem.only();
    assert.equal(got.url,
                 '/v1beta/models/gemini-2.5-flash-image:generateContent');
    assert.deepEqual(got.json, {
        contents: [{ role: 'user', parts: [{ text: 'a red cat' }] }],
        generationConfig: { responseModalities: ['IMAGE'],
                            imageConfig: { aspectRatio: '16:9' } },
    });
});

test('gemini: generateText and streamText with providerOptions.google.responseModalities: the image in result.files', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 9]).toString('base64');
    const opts = {
        ...common, model: 'google/gemini-2.5-flash-image', prompt: 'Draw a cat',
        providerOptions: { google: { responseModalities: ['TEXT', 'IMAGE'] } },
    };

    gem.on((req, res) => {
        if (/:streamGenerateContent/.test(req.url)) {
            const a = geminiImage(png);
            sendSse(res, [JSON.stringify(a)]);
            return;
        }
        sendJson(res, 200, geminiImage(png));
    });

    const r = await generateText(opts);
    assert.equal(r.text, 'Here is your cat.');
    assert.equal(r.files.length, 1);
    assert.equal(r.files[0].mediaType, 'image/png');
    assert.equal(r.files[0].base64, png);
    assert.deepEqual(gem.only().json.generationConfig,
                     { responseModalities: ['TEXT', 'IMAGE'] });

    gem.on((req, res) => sendSse(res, [JSON.stringify(geminiImage(png))]));
    const s = streamText(opts);
    assert.equal(await s.text, 'Here is your cat.');
    const files = await s.files;
    assert.equal(files.length, 1);
    assert.equal(files[0].mediaType, 'image/png');
    assert.equal(files[0].base64, png);
    const got = gem.only();
    assert.match(got.url, /:streamGenerateContent\?alt=sse$/);
    assert.deepEqual(got.json.generationConfig.responseModalities,
                     ['TEXT', 'IMAGE']);
});

await run();
