// Claude Code (`claude -p`, the @anthropic-ai/claude-code npm package with
// its native binary from the platform optionalDependency) against the
// gateway: ANTHROPIC_BASE_URL points at nginx, which serves the model
// from an Anthropic-format mock (passthrough) or from an OpenAI-format
// mock (translated).  t/050-e2e-claude-code.t.
//
// nginx.conf of the block (see the .t file):
//   oai -> OpenAI mock of this script on $TEST_NGINX_RAND_PORT_1 (/v1)
//   ant -> Anthropic mock of this script on $TEST_NGINX_RAND_PORT_2
//   models: claude-* (ant, id passed through), openai/gpt-4o
//           (oai:gpt-4o-2024-08-06)
//
// Offline: HOME is a fresh temporary directory, nonessential traffic and
// the auto-updater are off; the only server it can reach is the gateway.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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


await run();
