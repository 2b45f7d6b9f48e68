// The Vercel AI SDK's gateway provider (@ai-sdk/gateway, createGateway())
// against the gateway's own endpoints (t/050-e2e-ai-sdk-gateway.t):
// getSpendReport() reads GET /v1/report and getCredits() GET /v1/credits
// after requests through the gateway to an OpenAI-format mock, and checks
// the numbers.  The argument picks the tests of a block ("report" in open
// mode, "credits" with gateway keys).
//
// nginx.conf of the blocks (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   models: openai/gpt-4o (oai:gpt-4o-2024-08-06, $2.50 / $10 per 1M)
//   location = /v1/report { aigw_report; }
//   location = /v1/credits { aigw_credits; }   (the "credits" block)
//   keys of the "credits" block: team (secret "sec-team", budget
//   10/total), other ("sec-other"), ops ("sec-ops", admin)

import { generateText } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createGateway } from '@ai-sdk/gateway';
import {
    assert, test, run, Mock, GW, envPort, sendJson, oaiCompletion,
    rawFetch, rejects,
} from './lib.mjs';

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();

const compat = createOpenAICompatible({
    name: 'aigw', baseURL: `${GW}/v1`, apiKey: 'client-key',
    includeUsage: true,
});
const gateway = createGateway({ baseURL: `${GW}/v1/ai`,
                                apiKey: 'client-key' });

const GPT = 'openai/gpt-4o';
const today = new Date().toISOString().slice(0, 10);

// every request: 1000 input and 100 output tokens, $0.0035
function answer(req, res) {
    return sendJson(res, 200, oaiCompletion({
        model: req.json.model, content: 'ok',
        usage: { prompt: 1000, completion: 100 },
    }));
}

test('report: getSpendReport() after requests of the AI SDK and of a tagged user', async () => {
    oai.on(answer);

    for (let i = 0; i < 2; i++) {
        const r = await generateText({ maxRetries: 0, model: compat(GPT),
                                       prompt: 'ping' });
        assert.equal(r.text, 'ok');
    }

    const r = await rawFetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
            model: GPT, messages: [{ role: 'user', content: 'x' }],
            providerOptions: { gateway: { user: 'alice',
                                          tags: ['team:growth'] } },
        }),
    });
    assert.equal(r.status, 200);

    // the default grouping: by day
    let rep = await gateway.getSpendReport({ startDate: today,
                                             endDate: today });
    assert.deepEqual(rep.results, [{
        day: today, totalCost: 0.0105, inputTokens: 3000, outputTokens: 300,
        cachedInputTokens: 0, cacheCreationInputTokens: 0,
        reasoningTokens: 0, requestCount: 3,
    }]);

    rep = await gateway.getSpendReport({ startDate: today, endDate: today,
                                         groupBy: 'model' });
    assert.equal(rep.results.length, 1);
    assert.equal(rep.results[0].model, GPT);
    assert.equal(rep.results[0].totalCost, 0.0105);
    assert.equal(rep.results[0].requestCount, 3);

    rep = await gateway.getSpendReport({ startDate: today, endDate: today,
                                         groupBy: 'provider' });
    assert.deepEqual(rep.results.map((x) => [x.provider, x.requestCount]),
                     [['oai', 3]]);

    rep = await gateway.getSpendReport({ startDate: today, endDate: today,
                                         groupBy: 'credential_type' });
    assert.equal(rep.results[0].credentialType, 'system');

    // filters: the tagged user's one request
    rep = await gateway.getSpendReport({ startDate: today, endDate: today,
                                         groupBy: 'user', userId: 'alice',
                                         model: GPT, provider: 'oai',
                                         tags: ['team:growth', 'x'] });
    assert.deepEqual(rep.results, [{
        user: 'alice', totalCost: 0.0035, inputTokens: 1000,
        outputTokens: 100, cachedInputTokens: 0,
        cacheCreationInputTokens: 0, reasoningTokens: 0, requestCount: 1,
    }]);

    rep = await gateway.getSpendReport({ startDate: today, endDate: today,
                                         groupBy: 'tag' });

    // the costliest first: the two untagged requests, without "tag"
    assert.deepEqual(rep.results.map((x) => [x.tag, x.requestCount]),
                     [[undefined, 2], ['team:growth', 1]]);

    rep = await gateway.getSpendReport({ startDate: '2020-01-01',
                                         endDate: '2020-12-31' });
    assert.deepEqual(rep.results, []);

    // a bad parameter: the client's error, with the gateway's message
    const e = await rejects(gateway.getSpendReport({ startDate: 'today',
                                                     endDate: today }));
    assert.match(e.message, /"start_date" and "end_date" are required/);
    assert.equal(e.statusCode, 400);
});


test('credits: getCredits() and getSpendReport() of gateway keys', async () => {
    oai.on(answer);

    const as = (key) => createOpenAICompatible({
        name: 'aigw', baseURL: `${GW}/v1`, apiKey: key, includeUsage: true,
    });
    const gw = (key) => createGateway({ baseURL: `${GW}/v1/ai`,
                                        apiKey: key });

    for (let i = 0; i < 2; i++) {
        const r = await generateText({ maxRetries: 0,
                                       model: as('sec-team')(GPT),
                                       prompt: 'ping' });
        assert.equal(r.text, 'ok');
    }

    const r = await generateText({ maxRetries: 0,
                                   model: as('sec-other')(GPT),
                                   prompt: 'ping' });
    assert.equal(r.text, 'ok');

    // $10 of budget, two requests of $0.0035 spent
    assert.deepEqual(await gw('sec-team').getCredits(),
                     { balance: '9.993', totalUsed: '0.007' });

    // no budget: no balance; its one request
    assert.deepEqual(await gw('sec-other').getCredits(),
                     { balance: '0', totalUsed: '0.0035' });

    assert.deepEqual(await gw('sec-ops').getCredits(),
                     { balance: '0', totalUsed: '0' });

    let e = await rejects(gw('sec-nobody').getCredits());
    assert.equal(e.statusCode, 401);

    // the report: a key sees its own spend, the admin key everybody's
    // (the client keeps no "key" field of a row: by model)
    let rep = await gw('sec-team').getSpendReport({
        startDate: today, endDate: today, groupBy: 'model' });
    assert.deepEqual(rep.results.map((x) => [x.model, x.totalCost,
                                             x.requestCount]),
                     [[GPT, 0.007, 2]]);

    rep = await gw('sec-ops').getSpendReport({
        startDate: today, endDate: today, groupBy: 'model' });
    assert.deepEqual(rep.results.map((x) => [x.model, x.totalCost,
                                             x.requestCount]),
                     [[GPT, 0.0105, 3]]);

    e = await rejects(gw('sec-nobody').getSpendReport({ startDate: today,
                                                        endDate: today }));
    assert.equal(e.statusCode, 401);
});


await run();
