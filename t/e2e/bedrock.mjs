// The official clients against the gateway in front of an Amazon Bedrock
// (Converse) mock: the openai and @anthropic-ai/sdk npm SDKs and Claude
// Code (`claude -p`, tool loop included).  t/050-e2e-bedrock.t.
//
// The mock (on $TEST_NGINX_RAND_PORT_1) recomputes every request's SigV4
// signature with node:crypto and answers 403 when it does not match; it
// answers Converse JSON or ConverseStream binary event-stream frames
// (CRC32 computed here).
//
// nginx.conf of the block (see the .t file):
//   br -> this mock, region us-east-1, AKIDEXAMPLE / the example secret
//   models: bedrock/claude, claude-* (br)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
    assert, test, run, Mock, GW, GW_PORT, envPort, sleep, onExit,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const AK = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const REGION = 'us-east-1';


// ---------------------------------------------------------------------
// the Bedrock mock
// ---------------------------------------------------------------------

const CRC = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) {
        c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    }
    return c >>> 0;
});

function crc32(buf) {
    let c = 0xFFFFFFFF;
    for (const b of buf) {
        c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
    }
    return (c ^ 0xFFFFFFFF) >>> 0;
}

function frame(headers, payload) {
    const hb = Buffer.concat(Object.entries(headers).map(([k, v]) => {
        const name = Buffer.from(k);
        const val = Buffer.from(v);
        const h = Buffer.alloc(1 + name.length + 3 + val.length);
        h[0] = name.length;
        name.copy(h, 1);
        h[1 + name.length] = 7;
        h.writeUInt16BE(val.length, 2 + name.length);
        val.copy(h, 4 + name.length);
        return h;
    }));
    const body = Buffer.from(payload);
    const total = 16 + hb.length + body.length;
    const out = Buffer.alloc(total);
    out.writeUInt32BE(total, 0);
    out.writeUInt32BE(hb.length, 4);
    out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
    hb.copy(out, 12);
    body.copy(out, 12 + hb.length);
    out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
    return out;
}

const ev = (type, data) => frame({
    ':event-type': type, ':content-type': 'application/json',
    ':message-type': 'event',
}, JSON.stringify(data));

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

// '' when the request's SigV4 signature is right, else what is wrong
function sigv4(req) {
    const h = req.headers;
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
        .exec(h.authorization ?? '');
    if (!m) {
        return `a malformed Authorization: ${h.authorization}`;
    }
    const [, ak, date, region, signed, sig] = m;
    if (ak !== AK || region !== REGION) {
        return `credential ${ak} ${region}`;
    }
    const amz = h['x-amz-date'] ?? '';
    if (!amz.startsWith(date)) {
        return `x-amz-date ${amz}`;
    }
    const payload = sha(req.raw);
    if (h['x-amz-content-sha256'] !== payload) {
        return 'x-amz-content-sha256 is not the body\'s hash';
    }
    const [path] = req.url.split('?');
    const curi = path.replace(/[^A-Za-z0-9\-_.~/]/g,
        (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
    const names = signed.split(';');
    const ch = names.map((n) => `${n}:${String(h[n] ?? '').trim()}\n`).join('');
    const creq = ['POST', curi, '', ch, signed, payload].join('\n');
    const sts = `AWS4-HMAC-SHA256\n${amz}\n${date}/${region}/bedrock/aws4_request\n${sha(creq)}`;
    let k = hmac(`AWS4${SECRET}`, date);
    k = hmac(k, region);
    k = hmac(k, 'bedrock');
    k = hmac(k, 'aws4_request');
    return hmac(k, sts).toString('hex') === sig ? '' : 'the signature does not match';
}

const bedrock = await new Mock('bedrock', envPort('TEST_NGINX_RAND_PORT_1')).start();

// a handler that checks the signature and the path, then answers with
// reply(req, stream): an object (Converse JSON) or an array of frames
function converse(reply) {
    return async (req, res) => {
        const bad = sigv4(req);
        const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url);
        req.verdict = bad || (m ? 'ok' : `path ${req.url}`);
        if (req.verdict !== 'ok') {
            res.writeHead(403, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ message: `mock: ${req.verdict}` }));
            return;
        }
        const stream = m[2] === 'converse-stream';
        const r = reply(req, stream);
        if (!stream) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(r));
            return;
        }
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
        for (const f of r) {
            res.write(f);
            await sleep(3);
        }
        res.end();
    };
}

// the frames of an answer: [{text}|{reasoning, signature}|{tool, id,
// input}], a stop reason, usage
function frames(blocks, stop, usage = { inputTokens: 21, outputTokens: 9 }) {
    const out = [ev('messageStart', { role: 'assistant' })];
    blocks.forEach((b, i) => {
        if (b.text !== undefined) {
            for (const t of b.text.match(/.{1,6}/gs)) {
                out.push(ev('contentBlockDelta', { contentBlockIndex: i, delta: { text: t } }));
            }
        } else if (b.reasoning !== undefined) {
            out.push(ev('contentBlockDelta', { contentBlockIndex: i,
                delta: { reasoningContent: { text: b.reasoning } } }));
            out.push(ev('contentBlockDelta', { contentBlockIndex: i,
                delta: { reasoningContent: { signature: b.signature } } }));
        } else {
            out.push(ev('contentBlockStart', { contentBlockIndex: i,
                start: { toolUse: { toolUseId: b.id, name: b.tool } } }));
            const s = JSON.stringify(b.input);
            out.push(ev('contentBlockDelta', { contentBlockIndex: i,
                delta: { toolUse: { input: s.slice(0, 5) } } }));
            out.push(ev('contentBlockDelta', { contentBlockIndex: i,
                delta: { toolUse: { input: s.slice(5) } } }));
        }
        out.push(ev('contentBlockStop', { contentBlockIndex: i }));
    });
    out.push(ev('messageStop', { stopReason: stop }));
    out.push(ev('metadata', { usage: { ...usage,
        totalTokens: usage.inputTokens + usage.outputTokens },
        metrics: { latencyMs: 42 } }));
    return out;
}

function message(content, stop, usage = { inputTokens: 21, outputTokens: 9 }) {
    return { output: { message: { role: 'assistant', content } },
             stopReason: stop, usage, metrics: { latencyMs: 42 } };
}

const WEATHER = {
    type: 'function',
    function: { name: 'get_weather', description: 'Current weather',
                parameters: { type: 'object',
                              properties: { city: { type: 'string' } },
                              required: ['city'] } },
};


// ---------------------------------------------------------------------
// openai SDK
// ---------------------------------------------------------------------

const openai = new OpenAI({ baseURL: `${GW}/v1`, apiKey: 'x', maxRetries: 0 });

test('openai: chat.completions.create with tools, then the tool result', async () => {
    bedrock.on(converse((req) => {
        const last = req.json.messages.at(-1).content[0];
        if (last.toolResult) {
            return message([{ text: `It is ${last.toolResult.content[0].text}.` }], 'end_turn');
        }
        return message([{ toolUse: { toolUseId: 'tooluse_a1', name: 'get_weather',
                                     input: { city: 'Paris' } } }], 'tool_use');
    }));

    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await openai.chat.completions.create({
        model: 'bedrock/claude', messages, tools: [WEATHER],
    });
    const call = first.choices[0].message.tool_calls[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.id, 'tooluse_a1');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

    messages.push(first.choices[0].message,
                  { role: 'tool', tool_call_id: call.id, content: '18C' });
    const second = await openai.chat.completions.create({
        model: 'bedrock/claude', messages, tools: [WEATHER],
    });
    assert.equal(second.choices[0].message.content, 'It is 18C.');
    assert.equal(second.usage.prompt_tokens, 21);

    const got = bedrock.last();
    assert.equal(got.verdict, 'ok');
    assert.equal(got.url, '/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse');
    assert.deepEqual(got.json.messages[1].content[0].toolUse,
                     { toolUseId: 'tooluse_a1', name: 'get_weather', input: { city: 'Paris' } });
    assert.equal(got.json.messages[2].content[0].toolResult.toolUseId, 'tooluse_a1');
    assert.equal(got.json.toolConfig.tools[0].toolSpec.name, 'get_weather');
});

test('openai: a stream with text and a tool call, usage last', async () => {
    bedrock.on(converse(() => frames(
        [{ text: 'Let me check.' },
         { tool: 'get_weather', id: 'tooluse_s1', input: { city: 'Lyon' } }],
        'tool_use')));

    const stream = await openai.chat.completions.create({
        model: 'bedrock/claude', stream: true, tools: [WEATHER],
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Weather in Lyon?' }],
    });
    let text = '';
    let args = '';
    let finish = null;
    let usage = null;
    let id = null;
    for await (const c of stream) {
        const d = c.choices[0]?.delta;
        text += d?.content ?? '';
        for (const t of d?.tool_calls ?? []) {
            id ??= t.id;
            args += t.function?.arguments ?? '';
        }
        finish = c.choices[0]?.finish_reason ?? finish;
        usage = c.usage ?? usage;
    }
    assert.equal(text, 'Let me check.');
    assert.equal(id, 'tooluse_s1');
    assert.deepEqual(JSON.parse(args), { city: 'Lyon' });
    assert.equal(finish, 'tool_calls');
    assert.equal(usage.prompt_tokens, 21);
    assert.equal(usage.completion_tokens, 9);
    assert.equal(bedrock.last().url, '/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream');
});


// ---------------------------------------------------------------------
// @anthropic-ai/sdk
// ---------------------------------------------------------------------

const anthropic = new Anthropic({ baseURL: GW, apiKey: 'x', maxRetries: 0 });

test('anthropic: messages.create and messages.stream, reasoning and a tool call', async () => {
    bedrock.on(converse((req, stream) => {
        const blocks = [{ reasoning: 'Weather needs the tool.', signature: 'sig-b1' },
                        { tool: 'get_weather', id: 'tooluse_b1', input: { city: 'Oslo' } }];
        if (stream) {
            return frames(blocks, 'tool_use');
        }
        return message([{ reasoningContent: { reasoningText: { text: blocks[0].reasoning,
                                                               signature: 'sig-b1' } } },
                        { toolUse: { toolUseId: 'tooluse_b1', name: 'get_weather',
                                     input: { city: 'Oslo' } } }], 'tool_use');
    }));

    const params = {
        model: 'bedrock/claude', max_tokens: 4096,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        tools: [{ name: 'get_weather', input_schema: { type: 'object',
                  properties: { city: { type: 'string' } } } }],
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    };

    const m = await anthropic.messages.create(params);
    assert.equal(m.stop_reason, 'tool_use');
    assert.equal(m.content[0].type, 'thinking');
    assert.equal(m.content[0].signature, 'sig-b1');
    assert.deepEqual(m.content[1].input, { city: 'Oslo' });

    const s = await anthropic.messages.stream(params).finalMessage();
    assert.equal(s.stop_reason, 'tool_use');
    assert.equal(s.content[0].type, 'thinking');
    assert.equal(s.content[0].thinking, 'Weather needs the tool.');
    assert.equal(s.content[0].signature, 'sig-b1');
    assert.equal(s.content[1].type, 'tool_use');
    assert.equal(s.content[1].id, 'tooluse_b1');
    assert.deepEqual(s.content[1].input, { city: 'Oslo' });
    assert.equal(s.usage.output_tokens, 9);

    const got = bedrock.last();
    assert.equal(got.verdict, 'ok');
    assert.equal(got.json.additionalModelRequestFields.thinking.budget_tokens, 1024);
});


// ---------------------------------------------------------------------
// Claude Code
// ---------------------------------------------------------------------

function claudeBinary() {
    if (process.env.AIGW_CLAUDE_BIN) {
        return process.env.AIGW_CLAUDE_BIN;
    }
    const nm = join(here, 'node_modules', '@anthropic-ai');
    const musl = process.report?.getReport?.().header?.glibcVersionRuntime
        === undefined;
    const candidates = [
        join(nm, 'claude-code', 'bin', 'claude.exe'),
        join(nm, `claude-code-linux-${process.arch}${musl ? '-musl' : ''}`, 'claude'),
    ];
    return candidates.find((c) => existsSync(c) && statSync(c).size > 1024 * 1024);
}

function claude(args) {
    const home = mkdtempSync(join(tmpdir(), 'aigw-claude-home-'));
    onExit(() => rmSync(home, { recursive: true, force: true }));
    const env = {
        PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'),
        TMPDIR: home, TERM: 'dumb',
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${GW_PORT}`,
        ANTHROPIC_AUTH_TOKEN: 'x', ANTHROPIC_API_KEY: '',
        ANTHROPIC_MODEL: 'bedrock/claude',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1', CI: '1',
    };
    return new Promise((resolve, reject) => {
        const child = spawn(claudeBinary(), args, {
            env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`claude did not finish\nstdout: ${stdout}\nstderr: ${stderr}`));
        }, 25000);
        child.on('error', (e) => { clearTimeout(timer); reject(e); });
        child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

test('claude: claude -p with ANTHROPIC_MODEL=bedrock/claude, a tool loop through Bedrock', async () => {
    if (!claudeBinary()) {
        throw new Error('no Claude Code binary in t/e2e/node_modules: run make deps');
    }

    bedrock.on(converse((req) => {
        const msgs = req.json.messages;
        const text = JSON.stringify(msgs);
        const last = msgs.at(-1).content;
        const result = last.find((b) => b.toolResult);
        if (result) {
            return frames([{ text: 'The tool answered, all done.' }], 'end_turn');
        }
        const tools = req.json.toolConfig?.tools ?? [];
        if (text.includes('list the files') && tools.length > 5) {
            const glob = tools.find((t) => t.toolSpec.name === 'Glob') ?? tools[0];
            return frames([{ tool: glob.toolSpec.name, id: 'tooluse_cc1',
                             input: { pattern: '*.none' } }], 'tool_use');
        }
        return frames([{ text: 'ok' }], 'end_turn');
    }));

    const r = await claude(['-p', 'list the files here']);
    assert.equal(r.code, 0, `claude exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'The tool answered, all done.', `stderr: ${r.stderr}`);

    const posts = bedrock.requests.filter((p) =>
        JSON.stringify(p.json?.messages ?? '').includes('list the files'));
    assert.ok(posts.length >= 2, `the tool loop: ${posts.length} requests`);
    for (const p of bedrock.requests) {
        assert.equal(p.verdict, 'ok', `${p.url}: ${p.verdict}`);
    }
    const first = posts[0];
    assert.ok(first.url.endsWith('/converse-stream'));
    assert.ok(first.json.system.length >= 1, 'the system prompt');
    assert.ok(first.json.toolConfig.tools.length > 5, 'the tools');
    const loop = posts.at(-1).json.messages;
    const use = loop.at(-2).content.find((b) => b.toolUse);
    const res = loop.at(-1).content.find((b) => b.toolResult);
    assert.equal(use.toolUse.toolUseId, 'tooluse_cc1');
    assert.equal(res.toolResult.toolUseId, 'tooluse_cc1');
});


await run();
