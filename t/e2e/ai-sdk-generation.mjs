// The Vercel AI SDK's gateway provider (@ai-sdk/gateway, createGateway())
// against GET /v1/generation (t/140-observability.t): getGenerationInfo()
// of a request made through the gateway, by the key that made it and by an
// admin key; another key and an unknown id get 404.
//
// nginx.conf of the block (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   models: openai/gpt-4o (oai:gpt-4o-2024-08-06, $2.50 / $10 per 1M)
//   location = /v1/generation { aigw_generation; }
//   keys: team ("sec-team"), other ("sec-other"), ops ("sec-ops", admin)

import { createGateway } from '@ai-sdk/gateway';
import {
    assert, test, run, Mock, GW, envPort, sendJson, oaiCompletion,
    rawFetch, rejects,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();

const gw = (key) => createGateway({ baseURL: `${GW}/v1/ai`, apiKey: key });

const GPT = 'openai/gpt-4o';

test('generation: getGenerationInfo() of a request, by its key, an admin key, another key', async () => {
    oai.on((req, res) => sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'ok',
        usage: { prompt: 1000, completion: 100 },
    })));

    const r = await rawFetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json',
                   authorization: 'Bearer sec-team' },
        body: JSON.stringify({
            model: GPT, messages: [{ role: 'user', content: 'x' }],
            providerOptions: { gateway: { user: 'alice' } },
        }),
    });
    assert.equal(r.status, 200);

    const id = r.headers.get('x-aigw-generation-id');
    assert.match(id, /^gen_[0-9A-HJKMNP-TV-Z]{26}$/);

    // the log phase runs after the response: wait for it
    await new Promise((ok) => setTimeout(ok, 200));

    const info = await gw('sec-team').getGenerationInfo({ id });
    assert.equal(info.id, id);
    assert.equal(info.totalCost, 0.0035);
    assert.equal(info.upstreamInferenceCost, 0.0035);
    assert.equal(info.model, GPT);
    assert.equal(info.providerName, 'oai');
    assert.equal(info.isByok, false);
    assert.equal(info.streamed, false);
    assert.equal(info.finishReason, 'stop');
    assert.equal(info.promptTokens, 1000);
    assert.equal(info.completionTokens, 100);
    assert.equal(info.reasoningTokens, 0);
    assert.equal(info.cachedTokens, 0);
    assert.equal(info.cacheCreationTokens, 0);
    assert.equal(typeof info.latency, 'number');
    assert.ok(info.generationTime >= info.latency);
    assert.ok(!isNaN(Date.parse(info.createdAt)));

    const admin = await gw('sec-ops').getGenerationInfo({ id });
    assert.equal(admin.id, id);

    let e = await rejects(gw('sec-other').getGenerationInfo({ id }));
    assert.equal(e.statusCode, 404);

    e = await rejects(gw('sec-team').getGenerationInfo({
        id: 'gen_01ARZ3NDEKTSV4RRFFQ69G5FAV' }));
    assert.equal(e.statusCode, 404);
});

await run();
