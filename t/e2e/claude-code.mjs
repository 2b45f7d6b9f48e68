// Claude Code (`claude -p`, the @anthropic-ai/claude-code npm package with
// its native binary from the platform optionalDependency) against the
// gateway: ANTHROPIC_BASE_URL points at nginx, which serves the model
// from an Anthropic-format mock (passthrough), from an OpenAI-format mock
// or from a Gemini API mock (translated).  t/050-e2e-claude-code.t.
//
// nginx.conf of the block (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   ant -> Anthropic mock of this script on $TEST_NGINX_RAND_PORT_2
//   google -> Gemini API mock of this script on $TEST_NGINX_RAND_PORT_3
//   models: claude-* (ant, id passed through), openai/gpt-4o
//           (oai:gpt-4o-2024-08-06), google/gemini-3-flash
//           (google:gemini-3-flash)
//
// Offline: HOME is a fresh temporary directory, nonessential traffic and
// the auto-updater are off; the only server it can reach is the gateway.

import { spawn } from 'node:child_process';
import {
    existsSync, mkdtempSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    assert, test, run, Mock, GW_PORT, envPort, sendSse, oaiChunks, antEvents,
    onExit,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// bin/claude.exe is a small stub until the postinstall script replaces it
// with the native binary; without postinstall (--ignore-scripts) the
// binary is still in the platform package
function claudeBinary() {
    if (process.env.AIGW_CLAUDE_BIN) {
        return process.env.AIGW_CLAUDE_BIN;
    }
    const nm = join(here, 'node_modules', '@anthropic-ai');
    const candidates = [join(nm, 'claude-code', 'bin', 'claude.exe')];
    const arch = process.arch;
    const musl = process.report?.getReport?.().header?.glibcVersionRuntime
        === undefined;
    candidates.push(join(nm, `claude-code-linux-${arch}${musl ? '-musl' : ''}`,
                         'claude'));
    for (const c of candidates) {
        if (existsSync(c) && statSync(c).size > 1024 * 1024) {
            return c;
        }
    }
    throw new Error('no Claude Code binary in t/e2e/node_modules ' +
                    `(looked at ${candidates.join(', ')}): run 'make deps'`);
}

const CLAUDE = claudeBinary();

const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();
const gem = process.env.TEST_NGINX_RAND_PORT_3
    ? await new Mock('gemini', envPort('TEST_NGINX_RAND_PORT_3')).start()
    : null;

const home = mkdtempSync(join(tmpdir(), 'aigw-claude-home-'));
onExit(() => rmSync(home, { recursive: true, force: true }));

function claude(args, { timeout = 25000, extraEnv = {} } = {}) {
    const env = {
        PATH: process.env.PATH,
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        TMPDIR: home,
        TERM: 'dumb',
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${GW_PORT}`,
        ANTHROPIC_AUTH_TOKEN: 'x',
        ANTHROPIC_API_KEY: '',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        CI: '1',
        ...extraEnv,
    };
    return new Promise((resolve, reject) => {
        const child = spawn(CLAUDE, args, {
            env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`claude ${args.join(' ')} did not finish in ` +
                             `${timeout} ms\nstdout: ${stdout}\n` +
                             `stderr: ${stderr}`));
        }, timeout);
        child.on('error', (e) => { clearTimeout(timer); reject(e); });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

function chatPosts(mock, path) {
    return mock.requests.filter((r) => r.method === 'POST' &&
                                       r.url.startsWith(path));
}


const ANSWER_ANT = 'Hi there from the Anthropic mock!';
const ANSWER_OAI = 'Hello via translated OpenAI mock.';


test('anthropic: claude -p "say hi" through the gateway to an Anthropic provider', async () => {
    ant.on((req, res) => {
        if (req.json?.stream) {
            return sendSse(res, antEvents({
                model: req.json.model,
                blocks: [{ type: 'text',
                           parts: ['Hi there ', 'from the ', 'Anthropic mock!'] }],
                usage: { input: 2048, output: 9 },
            }));
        }
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: {
            type: 'invalid_request_error', message: 'mock: stream expected' } }));
    });

    const r = await claude(['-p', 'say hi']);
    assert.equal(r.code, 0, `claude exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER_ANT,
                 `printed answer; stderr: ${r.stderr}`);

    const posts = chatPosts(ant, '/v1/messages');
    assert.ok(posts.length >= 1, 'the provider got the chat request');
    const main = posts.find((p) => JSON.stringify(p.json.messages)
        .includes('say hi'));
    assert.ok(main, 'a request with the prompt');
    assert.equal(main.url, '/v1/messages', 'no ?beta=true towards the provider');
    assert.equal(main.headers['x-api-key'], 'sk-ant-mock');
    assert.ok(!('authorization' in main.headers),
              'the gateway token does not reach the provider');
    assert.match(main.headers['anthropic-beta'] ?? '', /claude-code-/,
                 'anthropic-beta passed through');
    assert.equal(main.json.stream, true);
    assert.match(main.json.model, /^claude-/);
    assert.ok(Array.isArray(main.json.tools) && main.json.tools.length > 5,
              'the tools went through');
    assert.ok(main.raw.length > 20000, `a large body (${main.raw.length})`);
});


test('byok: a byok gateway key in x-ai-gateway-api-key, Claude Code\'s own token forwarded to the Anthropic provider', async () => {
    ant.on((req, res) => sendSse(res, antEvents({
        model: req.json?.model ?? 'claude',
        blocks: [{ type: 'text', parts: ['Hi there ', 'from the ',
                                         'Anthropic mock!'] }],
        usage: { input: 2048, output: 9 },
    })));

    const r = await claude(['-p', 'say hi'], { extraEnv: {
        ANTHROPIC_AUTH_TOKEN: 'sk-own-max-token',
        ANTHROPIC_CUSTOM_HEADERS: 'x-ai-gateway-api-key: gw-byok-secret',
    } });
    assert.equal(r.code, 0, `claude exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER_ANT,
                 `printed answer; stderr: ${r.stderr}`);

    const main = chatPosts(ant, '/v1/messages').find((p) =>
        JSON.stringify(p.json.messages).includes('say hi'));
    assert.ok(main, 'a request with the prompt');
    assert.equal(main.headers.authorization, 'Bearer sk-own-max-token',
                 'the client\'s own token reached the provider');
    assert.ok(!('x-api-key' in main.headers),
              'not the configured provider key');
    assert.ok(!('x-ai-gateway-api-key' in main.headers),
              'the gateway key does not reach the provider');
});


test('openai: claude -p --model openai/gpt-4o through the gateway to an OpenAI provider (translated)', async () => {
    oai.on((req, res) => {
        if (req.json?.stream) {
            return sendSse(res, oaiChunks(req, {
                model: req.json.model,
                texts: ['Hello ', 'via translated ', 'OpenAI mock.'],
                usage: { prompt: 3000, completion: 8 },
            }));
        }
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'mock: stream expected',
                                          type: 'invalid_request_error' } }));
    });
    ant.on((req, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"api_error",' +
                '"message":"the OpenAI model must not reach the Anthropic ' +
                'provider"}}');
    });

    const r = await claude(['-p', 'say hi', '--model', 'openai/gpt-4o']);
    assert.equal(r.code, 0, `claude exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER_OAI,
                 `printed answer; stderr: ${r.stderr}`);

    const posts = chatPosts(oai, '/v1/chat/completions');
    assert.ok(posts.length >= 1, 'the OpenAI provider got the request');
    const main = posts.find((p) => JSON.stringify(p.json.messages)
        .includes('say hi'));
    assert.ok(main, 'a request with the prompt');
    assert.equal(main.headers.authorization, 'Bearer sk-oai-mock');
    assert.equal(main.json.model, 'gpt-4o-2024-08-06');
    assert.equal(main.json.stream, true);
    assert.ok(Array.isArray(main.json.tools) && main.json.tools.length > 5,
              'the tools were translated');
    for (const t of main.json.tools) {
        assert.equal(t.type, 'function');
        assert.equal(typeof t.function.name, 'string');
        assert.equal(typeof t.function.parameters, 'object');
    }
    assert.equal(main.json.messages[0].role, 'system');
    assert.equal(chatPosts(ant, '/v1/messages').length, 0);
});


// Gemini's SSE: CRLF, one whole response per event, no [DONE]
async function sendGeminiSse(res, chunks) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const c of chunks) {
        res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
        await new Promise((r) => setTimeout(r, 5));
    }
    res.end();
}

function geminiChunk(parts, finishReason, usage) {
    const c = { candidates: [{ content: { role: 'model', parts }, index: 0 }],
                modelVersion: 'gemini-3-flash', responseId: 'resp-cc' };
    if (finishReason) {
        c.candidates[0].finishReason = finishReason;
        c.usageMetadata = usage;
    }
    return c;
}

const GEM_SIG = 'EqoBCqcBcc-signature';
const GEM_WORD = 'pineapple-4711';

test('gemini: ANTHROPIC_MODEL=google/gemini-3-flash, a tool loop (Read) through the gateway to a Gemini provider (translated, the thought signature round trip)', async () => {
    assert.ok(gem, 'TEST_NGINX_RAND_PORT_3 (the Gemini mock) is set');

    const note = join(home, 'note.txt');
    writeFileSync(note, `The secret word is ${GEM_WORD}.\n`);

    gem.on((req, res) => {
        const contents = req.json?.contents ?? [];
        const result = contents.some((c) => (c.parts ?? []).some(
            (p) => p.functionResponse));

        if (!result) {
            return sendGeminiSse(res, [
                geminiChunk([{ text: 'Reading the note.', thought: true }]),
                geminiChunk([{ functionCall: { name: 'Read',
                                               args: { file_path: note } },
                               thoughtSignature: GEM_SIG }], 'STOP',
                            { promptTokenCount: 4000,
                              candidatesTokenCount: 20,
                              thoughtsTokenCount: 10 }),
            ]);
        }

        return sendGeminiSse(res, [
            geminiChunk([{ text: 'The word is ' }]),
            geminiChunk([{ text: `${GEM_WORD}.` }], 'STOP',
                        { promptTokenCount: 4100,
                          candidatesTokenCount: 7 }),
        ]);
    });
    ant.on((req, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"api_error",' +
                '"message":"the Gemini model must not reach the Anthropic ' +
                'provider"}}');
    });

    const r = await claude(['-p', 'What is the secret word in note.txt?'],
                           { extraEnv: {
                               ANTHROPIC_MODEL: 'google/gemini-3-flash' } });
    assert.equal(r.code, 0, `claude exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), `The word is ${GEM_WORD}.`,
                 `printed answer; stderr: ${r.stderr}`);

    const path = '/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse';
    const posts = gem.requests.filter((p) => p.method === 'POST');
    assert.equal(posts.length, 2, 'two model turns');

    for (const p of posts) {
        assert.equal(p.url, path);
        assert.equal(p.headers['x-goog-api-key'], 'gk-cc-mock');
        assert.ok(!('authorization' in p.headers),
                  'the gateway token does not reach the provider');
        assert.ok(!('x-api-key' in p.headers));
        assert.ok(p.json.systemInstruction?.parts?.length >= 1,
                  'the system prompt as systemInstruction');
        const decls = p.json.tools?.[0]?.functionDeclarations ?? [];
        assert.ok(decls.length > 5, 'the tools as functionDeclarations');
        assert.ok(decls.some((d) => d.name === 'Read'
                                    && typeof d.parametersJsonSchema
                                       === 'object'));
        assert.ok(!('model' in p.json) && !('messages' in p.json));
    }

    assert.ok(JSON.stringify(posts[0].json.contents).includes('note.txt'),
              'the prompt in contents');

    // the second turn: the call with its signature, then its result

    const turns = posts[1].json.contents;
    const model = turns.find((c) => c.role === 'model');
    assert.ok(model, `a model turn in ${JSON.stringify(turns)}`);
    const call = model.parts.find((p) => p.functionCall);
    assert.equal(call.functionCall.name, 'Read');
    assert.deepEqual(call.functionCall.args, { file_path: note });
    assert.equal(call.thoughtSignature, GEM_SIG,
                 'the thought signature came back on its call');
    const last = turns[turns.length - 1];
    assert.equal(last.role, 'user');
    const fr = last.parts.find((p) => p.functionResponse);
    assert.ok(fr, `a functionResponse in ${JSON.stringify(last)}`);
    assert.equal(fr.functionResponse.name, 'Read');
    assert.equal(fr.functionResponse.id, call.functionCall.id);
    assert.ok(JSON.stringify(fr.functionResponse.response)
              .includes(GEM_WORD), 'the file went back as the result');

    assert.equal(chatPosts(ant, '/v1/messages').length, 0);
});


await run();
