// Codex CLI (`codex exec`, the @openai/codex npm package with its native
// binary from the platform optionalDependency @openai/codex-linux-x64)
// against the gateway's Responses API: a model provider in config.toml
// with base_url at nginx's /v1 and wire_api = "responses".  The gateway
// serves the model from a native Responses mock (responses=on,
// passthrough), from a Chat-Completions-only mock and from an Anthropic
// mock (translated).  Each test is a tool loop: the model asks for a shell
// command (Codex's exec_command function), Codex runs it and sends the
// function_call_output back, the model answers with text.
// t/170-responses-codex.t.
//
// nginx.conf of the block (see the .t file):
//   nat -> native Responses mock of this script on $TEST_NGINX_RAND_PORT_1
//   oai -> Chat Completions mock on $TEST_NGINX_RAND_PORT_2 (/v1)
//   ant -> Anthropic mock on $TEST_NGINX_RAND_PORT_3
//   models: native/gpt (nat:gpt-5.4), chat/gpt (oai:gpt-5.4),
//           anthropic/claude (ant:claude-sonnet-4-6)
//
// Offline: CODEX_HOME and HOME are a fresh temporary directory with only
// config.toml (no login: the dummy key is in the env_key variable), the
// update check, analytics, feedback and the apps and plugins features (which look up chatgpt.com and api.github.com)
// are off; the only server it connects to is the gateway.

import { spawn } from 'node:child_process';
import {
    existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    assert, test, run, Mock, GW_PORT, envPort, sendSse, oaiChunks, antEvents,
    onExit,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// bin/codex.js finds the native binary in the platform package
function codexBinary() {
    if (process.env.AIGW_CODEX_BIN) {
        return process.env.AIGW_CODEX_BIN;
    }
    const triple = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
    const pkg = { x64: 'linux-x64', arm64: 'linux-arm64' }[process.arch];
    const bin = join(here, 'node_modules', '@openai', `codex-${pkg}`,
                     'vendor', `${triple}-unknown-linux-musl`, 'bin',
                     'codex');
    if (existsSync(bin) && statSync(bin).size > 1024 * 1024) {
        return bin;
    }
    throw new Error(`no Codex binary in t/e2e/node_modules (looked at ${bin})`
                    + ": run 'make deps'");
}

const CODEX = codexBinary();

const nat = await new Mock('responses', envPort('TEST_NGINX_RAND_PORT_1'))
    .start();
const oai = await new Mock('openai', envPort('TEST_NGINX_RAND_PORT_2'))
    .start();
const ant = await new Mock('anthropic', envPort('TEST_NGINX_RAND_PORT_3'))
    .start();

const home = mkdtempSync(join(tmpdir(), 'aigw-codex-home-'));
onExit(() => rmSync(home, { recursive: true, force: true }));

const work = join(home, 'work');
mkdirSync(work);

const WORD = 'kumquat-2718';
writeFileSync(join(work, 'note.txt'), `The secret word is ${WORD}.\n`);

const GW_KEY = 'gw-codex-dummy-key';

writeFileSync(join(home, 'config.toml'), `
model = "native/gpt"
model_provider = "aigw"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
apps = false
plugins = false
remote_plugin = false

[model_providers.aigw]
name = "aigw"
base_url = "http://127.0.0.1:${GW_PORT}/v1"
env_key = "AIGW_CODEX_KEY"
wire_api = "responses"
`);

function codex(args, { timeout = 25000 } = {}) {
    const env = {
        PATH: process.env.PATH,
        HOME: home,
        CODEX_HOME: home,
        TMPDIR: home,
        TERM: 'dumb',
        AIGW_CODEX_KEY: GW_KEY,
        NO_COLOR: '1',
    };
    const argv = ['exec', '--strict-config', '--skip-git-repo-check',
                  '--ephemeral', '--color', 'never', '-s', 'read-only',
                  ...args];
    return new Promise((resolve, reject) => {
        const child = spawn(CODEX, argv, {
            env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`codex ${argv.join(' ')} did not finish in ` +
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

function posts(mock, path) {
    return mock.requests.filter((r) => r.method === 'POST' &&
                                       r.url === path);
}

// what every model turn Codex sends must carry, whatever the provider
function checkCodexRequest(json, what) {
    assert.equal(json.stream, true, `${what}: stream`);
    assert.ok(Array.isArray(json.tools), `${what}: tools`);
}

// Codex's default tool list has the hosted web_search tool and a
// "namespace" tool (multi_agent_v1, the sub-agent functions grouped): a
// native provider takes them as sent; the translation drops web_search
// and flattens the namespace's functions as "<namespace>__<name>"
function flattened(names) {
    return names.filter((n) => /^[A-Za-z0-9_-]+__[A-Za-z0-9_-]+$/.test(n));
}

const PROMPT = 'What is the secret word in note.txt?';
const ANSWER = `The secret word is ${WORD}.`;

function failOthers(...mocks) {
    for (const m of mocks) {
        m.on((req, res) => {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(`{"error":{"message":"the ${m.name} mock must not be ` +
                    'called","type":"server_error"}}');
        });
    }
}


// a Responses stream as OpenAI sends it: one item per turn
function responsesEvents(model, item, usage) {
    let n = 0;
    const resp = { id: `resp_cx${item.id}`, object: 'response',
                   created_at: 1760000000, status: 'in_progress', model,
                   output: [] };
    const ev = (type, data) => ({ event: type, data: {
        type, sequence_number: n++, ...data } });
    const added = item.type === 'message'
        ? { ...item, status: 'in_progress', content: [] }
        : { ...item, status: 'in_progress', arguments: '' };
    const out = [
        ev('response.created', { response: resp }),
        ev('response.in_progress', { response: resp }),
        ev('response.output_item.added', { output_index: 0, item: added }),
    ];
    if (item.type === 'message') {
        const text = item.content[0].text;
        out.push(ev('response.content_part.added', {
            item_id: item.id, output_index: 0, content_index: 0,
            part: { type: 'output_text', text: '', annotations: [] } }));
        for (const d of [text.slice(0, 10), text.slice(10)]) {
            out.push(ev('response.output_text.delta', {
                item_id: item.id, output_index: 0, content_index: 0,
                delta: d, logprobs: [] }));
        }
        out.push(ev('response.output_text.done', {
            item_id: item.id, output_index: 0, content_index: 0, text,
            logprobs: [] }));
        out.push(ev('response.content_part.done', {
            item_id: item.id, output_index: 0, content_index: 0,
            part: item.content[0] }));
    } else {
        out.push(ev('response.function_call_arguments.delta', {
            item_id: item.id, output_index: 0, delta: item.arguments }));
        out.push(ev('response.function_call_arguments.done', {
            item_id: item.id, output_index: 0, arguments: item.arguments }));
    }
    out.push(ev('response.output_item.done', { output_index: 0, item }));
    out.push(ev('response.completed', { response: {
        ...resp, status: 'completed', output: [item],
        usage: { input_tokens: usage.input,
                 input_tokens_details: { cached_tokens: 0 },
                 output_tokens: usage.output,
                 output_tokens_details: { reasoning_tokens: 0 },
                 total_tokens: usage.input + usage.output } } }));
    return out;
}

function callOutput(input, callId) {
    return (input ?? []).find((i) => i.type === 'function_call_output'
                                     && i.call_id === callId);
}


test('native: codex exec through the gateway to a responses=on provider, a tool loop (exec_command)', async () => {
    failOthers(oai, ant);
    nat.on((req, res) => {
        const model = req.json?.model;
        if (!callOutput(req.json?.input, 'call_cx1')) {
            return sendSse(res, responsesEvents(model, {
                type: 'function_call', id: 'fc_cx1', call_id: 'call_cx1',
                name: 'exec_command', status: 'completed',
                arguments: JSON.stringify({ cmd: 'cat note.txt' }),
            }, { input: 3000, output: 20 }));
        }
        return sendSse(res, responsesEvents(model, {
            type: 'message', id: 'msg_cx2', role: 'assistant',
            status: 'completed', content: [{ type: 'output_text',
                                             text: ANSWER,
                                             annotations: [] }],
        }, { input: 3100, output: 9 }));
    });

    const r = await codex([PROMPT]);
    assert.equal(r.code, 0, `codex exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER,
                 `printed answer; stderr: ${r.stderr}`);

    const p = posts(nat, '/v1/responses');
    assert.equal(p.length, 2, 'two model turns');
    for (const [i, q] of p.entries()) {
        checkCodexRequest(q.json, `turn ${i + 1}`);
        assert.equal(q.json.model, 'gpt-5.4', 'the provider model id');
        assert.equal(q.headers.authorization, 'Bearer sk-nat-mock');
        assert.ok(!JSON.stringify(q.headers).includes(GW_KEY),
                  'the gateway key does not reach the provider');
        assert.ok(q.json.tools.some((t) => t.type === 'function'
                                           && t.name === 'exec_command'),
                  'Codex\'s exec_command tool');
        assert.ok(q.json.tools.some((t) => t.type === 'namespace'),
                  'the namespace tool passed through');
        assert.ok(q.json.tools.some((t) => t.type === 'web_search'),
                  'the hosted web_search tool passed through');
        assert.ok(JSON.stringify(q.json.input).includes('note.txt'),
                  'the prompt in input');
    }
    assert.equal(posts(nat, '/v1/chat/completions').length, 0);

    // the second turn: the call as the provider sent it, then its output
    const input = p[1].json.input;
    const call = input.find((i) => i.type === 'function_call');
    assert.ok(call, `a function_call in ${JSON.stringify(input)}`);
    assert.equal(call.call_id, 'call_cx1');
    assert.equal(call.name, 'exec_command');
    assert.deepEqual(JSON.parse(call.arguments), { cmd: 'cat note.txt' });
    const out = callOutput(input, 'call_cx1');
    assert.ok(JSON.stringify(out.output).includes(WORD),
              `the command ran, its output went back: ${out.output}`);
});


test('chat: codex exec -m chat/gpt through the gateway to a Chat Completions provider (translated), a tool loop (exec_command)', async () => {
    failOthers(nat, ant);
    oai.on((req, res) => {
        const msgs = req.json?.messages ?? [];
        const model = req.json?.model;
        if (!msgs.some((m) => m.role === 'tool')) {
            return sendSse(res, oaiChunks(req, {
                model, toolCalls: [{
                    id: 'call_cc1', name: 'exec_command',
                    args: ['{"cmd":', '"cat note.txt"}'],
                }], usage: { prompt: 5000, completion: 21 },
            }));
        }
        return sendSse(res, oaiChunks(req, {
            model, texts: ['The secret word ', `is ${WORD}.`],
            usage: { prompt: 5100, completion: 10 },
        }));
    });

    const r = await codex(['-m', 'chat/gpt', PROMPT]);
    assert.equal(r.code, 0, `codex exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER,
                 `printed answer; stderr: ${r.stderr}`);

    const p = posts(oai, '/v1/chat/completions');
    assert.equal(p.length, 2, 'two model turns');
    for (const [i, q] of p.entries()) {
        checkCodexRequest(q.json, `turn ${i + 1}`);
        assert.equal(q.json.model, 'gpt-5.4', 'the provider model id');
        assert.equal(q.headers.authorization, 'Bearer sk-oai-mock');
        assert.ok(!JSON.stringify(q.headers).includes(GW_KEY),
                  'the gateway key does not reach the provider');
        assert.ok(q.json.tools.every((t) => t.type === 'function'));
        const names = q.json.tools.map((t) => t.function?.name);
        assert.ok(flattened(names).length > 0,
                  `the namespace's functions flattened: ${names}`);
        assert.ok(!JSON.stringify(q.json.tools).includes('web_search'),
                  'the hosted web_search tool dropped');
        const exec = q.json.tools.find((t) =>
            t.function?.name === 'exec_command');
        assert.ok(exec, 'exec_command as a Chat function tool');
        assert.equal(exec.type, 'function');
        assert.equal(exec.function.parameters.properties.cmd.type, 'string');
        assert.ok(JSON.stringify(q.json.messages).includes('note.txt'),
                  'the prompt in messages');
    }

    const msgs = p[1].json.messages;
    const asst = msgs.find((m) => m.role === 'assistant' && m.tool_calls);
    assert.ok(asst, `an assistant turn with the call in ${
        JSON.stringify(msgs)}`);
    assert.equal(asst.tool_calls[0].id, 'call_cc1');
    assert.equal(asst.tool_calls[0].function.name, 'exec_command');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments),
                     { cmd: 'cat note.txt' });
    const tool = msgs.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, 'call_cc1');
    assert.ok(JSON.stringify(tool.content).includes(WORD),
              `the command ran, its output went back: ${tool.content}`);
});


test('anthropic: codex exec -m anthropic/claude through the gateway to an Anthropic provider (translated), a tool loop (exec_command)', async () => {
    failOthers(nat, oai);
    ant.on((req, res) => {
        const msgs = req.json?.messages ?? [];
        const model = req.json?.model;
        const result = msgs.some((m) => Array.isArray(m.content)
            && m.content.some((c) => c.type === 'tool_result'));
        if (!result) {
            return sendSse(res, antEvents({
                model, blocks: [{
                    type: 'tool_use', id: 'toolu_cx1', name: 'exec_command',
                    parts: ['{"cmd":', '"cat note.txt"}'],
                }], usage: { input: 7000, output: 22 },
            }));
        }
        return sendSse(res, antEvents({
            model, blocks: [{ type: 'text',
                              parts: ['The secret word ', `is ${WORD}.`] }],
            usage: { input: 7100, output: 11 },
        }));
    });

    const r = await codex(['-m', 'anthropic/claude', PROMPT]);
    assert.equal(r.code, 0, `codex exited ${r.code} (${r.signal})\n` +
                 `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), ANSWER,
                 `printed answer; stderr: ${r.stderr}`);

    const p = posts(ant, '/v1/messages');
    assert.equal(p.length, 2, 'two model turns');
    for (const [i, q] of p.entries()) {
        checkCodexRequest(q.json, `turn ${i + 1}`);
        assert.equal(q.json.model, 'claude-sonnet-4-6',
                     'the provider model id');
        assert.equal(q.headers['x-api-key'], 'sk-ant-mock');
        assert.ok(!JSON.stringify(q.headers).includes(GW_KEY),
                  'the gateway key does not reach the provider');
        const exec = q.json.tools.find((t) => t.name === 'exec_command');
        assert.ok(exec, 'exec_command as an Anthropic tool');
        assert.equal(exec.input_schema.properties.cmd.type, 'string');
        const names = q.json.tools.map((t) => t.name);
        assert.ok(flattened(names).length > 0,
                  `the namespace's functions flattened: ${names}`);
        assert.ok(!JSON.stringify(q.json.tools).includes('web_search'),
                  'the hosted web_search tool dropped');
        assert.ok(q.json.system, 'Codex\'s instructions as system');
    }

    const msgs = p[1].json.messages;
    const asst = msgs.find((m) => m.role === 'assistant'
        && m.content.some((c) => c.type === 'tool_use'));
    assert.ok(asst, `an assistant turn with the call in ${
        JSON.stringify(msgs)}`);
    const use = asst.content.find((c) => c.type === 'tool_use');
    assert.equal(use.id, 'toolu_cx1');
    assert.equal(use.name, 'exec_command');
    assert.deepEqual(use.input, { cmd: 'cat note.txt' });
    const last = msgs[msgs.length - 1];
    assert.equal(last.role, 'user');
    const tr = last.content.find((c) => c.type === 'tool_result');
    assert.ok(tr, `a tool_result in ${JSON.stringify(last)}`);
    assert.equal(tr.tool_use_id, 'toolu_cx1');
    assert.ok(JSON.stringify(tr.content).includes(WORD),
              'the command ran, its output went back');
});


await run();
