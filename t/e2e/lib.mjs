// Shared helpers of the real-client suites (t/050-*.t run these scripts
// through the harness's client_cmd section).
//
//   - a tiny sequential test runner on node:assert: every test prints
//     "ok N - name" or "not ok N - name" plus the error; the process exits
//     1 when a test failed (the .t block then fails and shows the output);
//     arguments on the command line select the tests whose names start
//     with one of them;
//   - mock providers: plain node:http servers on 127.0.0.1, one per wire
//     format, started by the script itself on the ports the .t block gave
//     the providers in its nginx.conf ($TEST_NGINX_RAND_PORT_n).  Each test
//     installs a handler; every request the gateway sends is recorded (so
//     a test checks both what the SDK got and what the provider got);
//   - builders of OpenAI and Anthropic responses and SSE streams.
//
// By hand (a gateway on $TEST_NGINX_SERVER_PORT configured as in the .t
// file): TEST_NGINX_SERVER_PORT=... TEST_NGINX_RAND_PORT_1=... \
//   node t/e2e/openai-sdk.mjs [name prefix...]; DEBUG_DUMP=1 prints every
// request a mock gets to stderr.

import assert from 'node:assert/strict';
import http from 'node:http';
import { inspect } from 'node:util';

export { assert };

const env = process.env;

export function envPort(name) {
    const v = env[name];
    if (!v || !/^\d+$/.test(v)) {
        throw new Error(`environment variable ${name} is not set ` +
                        '(run this script through its t/050-*.t file)');
    }
    return Number(v);
}

export const GW_PORT = envPort('TEST_NGINX_SERVER_PORT');
export const GW = `http://127.0.0.1:${GW_PORT}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


// ---------------------------------------------------------------------
// runner
// ---------------------------------------------------------------------

const tests = [];
const cleanups = [];

export function test(name, fn) {
    tests.push({ name, fn });
}

export function onExit(fn) {
    cleanups.push(fn);
}

export async function run() {
    const filters = process.argv.slice(2);
    const chosen = tests.filter((t) =>
        filters.length === 0 || filters.some((f) => t.name.startsWith(f)));

    if (chosen.length === 0) {
        console.error(`no test matches ${JSON.stringify(filters)}`);
        process.exitCode = 2;
        await cleanup();
        return;
    }

    let failed = 0;
    let n = 0;

    for (const t of chosen) {
        n++;
        const started = Date.now();
        try {
            await withTimeout(t.fn(), 30000, t.name);
            console.log(`ok ${n} - ${t.name} (${Date.now() - started} ms)`);
        } catch (e) {
            failed++;
            console.log(`not ok ${n} - ${t.name}`);
            console.log(describe(e).replace(/^/gm, '#   '));
        }
    }

    console.log(`# ${n - failed}/${n} passed`);
    await cleanup();
    process.exitCode = failed ? 1 : 0;
}

async function cleanup() {
    for (const fn of cleanups.reverse()) {
        try { await fn(); } catch { /* ignore */ }
    }
}

function withTimeout(p, ms, name) {
    let timer;
    return Promise.race([
        Promise.resolve(p).finally(() => clearTimeout(timer)),
        new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`${name}: timed out ` +
                                                   `after ${ms} ms`)), ms);
        }),
    ]);
}

function describe(e) {
    if (!(e instanceof Error)) {
        return inspect(e, { depth: 6 });
    }
    let s = e.stack || String(e);
    if (e.status !== undefined) {
        s += `\nstatus: ${e.status}`;
    }
    if (e.error !== undefined) {
        s += `\nerror body: ${inspect(e.error, { depth: 6 })}`;
    }
    if (e.cause) {
        s += `\ncause: ${describe(e.cause)}`;
    }
    return s;
}


// ---------------------------------------------------------------------
// mock providers
// ---------------------------------------------------------------------

export class Mock {
    constructor(name, port) {
        this.name = name;
        this.port = port;
        this.requests = [];
        this.handler = null;
        this.sockets = new Set();
        this.server = http.createServer((req, res) => this.#serve(req, res));
        this.server.on('connection', (s) => {
            this.sockets.add(s);
            s.on('close', () => this.sockets.delete(s));
        });
    }

    start() {
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(this.port, '127.0.0.1', () => {
                onExit(() => this.close());
                resolve(this);
            });
        });
    }

    close() {
        for (const s of this.sockets) {
            s.destroy();
        }
        return new Promise((r) => this.server.close(() => r()));
    }

    // a fresh handler and an empty request log for the next test
    on(handler) {
        this.handler = handler;
        this.requests = [];
        return this;
    }

    // the only request since on(), with its JSON body
    only() {
        assert.equal(this.requests.length, 1,
                     `${this.name} mock: expected exactly one request, got ` +
                     this.requests.map((r) => `${r.method} ${r.url}`)
                         .join(', '));
        return this.requests[0];
    }

    last() {
        assert.ok(this.requests.length > 0,
                  `${this.name} mock: no request reached the provider`);
        return this.requests[this.requests.length - 1];
    }

    #serve(req, res) {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            let json;
            try { json = raw ? JSON.parse(raw) : undefined; } catch { json = undefined; }
            const rec = {
                method: req.method, url: req.url, headers: req.headers,
                raw, json,
            };
            this.requests.push(rec);
            if (process.env.DEBUG_DUMP) {
                console.error(`# ${this.name} got ${req.method} ${req.url} ${raw}`);
            }
            try {
                if (!this.handler) {
                    throw new Error('no handler installed');
                }
                await this.handler(rec, res);
            } catch (e) {
                console.error(`# ${this.name} mock handler failed: ` +
                              describe(e));
                if (!res.headersSent) {
                    res.writeHead(599, { 'content-type': 'text/plain' });
                }
                res.end();
            }
        });
    }
}

export function sendJson(res, status, obj, headers = {}) {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...headers,
    });
    res.end(body);
}

// events: strings (sent as "data: s") or {event, data}; data objects are
// JSON encoded.  delay: ms between events (real chunks on the wire).
export async function sendSse(res, events, { delay = 5, headers = {} } = {}) {
    res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        ...headers,
    });
    for (const ev of events) {
        let text = '';
        let data = ev;
        if (ev && typeof ev === 'object' && 'data' in ev) {
            if (ev.event) {
                text += `event: ${ev.event}\n`;
            }
            data = ev.data;
        }
        text += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
        res.write(text);
        if (delay) {
            await sleep(delay);
        }
    }
    res.end();
}

// the same error body shapes the real providers send
export function oaiError(res, status, message, type, code = null,
                         headers = {}) {
    sendJson(res, status, {
        error: { message, type, param: null, code },
    }, headers);
}

export function antError(res, status, type, message, headers = {}) {
    sendJson(res, status, { type: 'error', error: { type, message } },
             headers);
}


// ---------------------------------------------------------------------
// OpenAI-format responses
// ---------------------------------------------------------------------

let seq = 0;
const nextId = (p) => `${p}${Date.now().toString(36)}${(++seq).toString(36)}`;

export function oaiCompletion({ model, content = null, toolCalls = null,
                                finish = null, usage = {} }) {
    return {
        id: nextId('chatcmpl-mock'),
        object: 'chat.completion',
        created: 1700000000,
        model,
        choices: [{
            index: 0,
            message: {
                role: 'assistant',
                content,
                ...(toolCalls ? {
                    tool_calls: toolCalls.map((t, i) => ({
                        id: t.id ?? `call_${i}`,
                        type: 'function',
                        function: {
                            name: t.name,
                            arguments: typeof t.arguments === 'string'
                                ? t.arguments : JSON.stringify(t.arguments),
                        },
                    })),
                } : {}),
            },
            finish_reason: finish ?? (toolCalls ? 'tool_calls' : 'stop'),
        }],
        usage: {
            prompt_tokens: usage.prompt ?? 11,
            completion_tokens: usage.completion ?? 7,
            total_tokens: (usage.prompt ?? 11) + (usage.completion ?? 7),
        },
    };
}

// a chat.completion.chunk stream: texts are content deltas; toolCalls are
// {id, name, args: [fragments]} streamed interleaved (several in parallel);
// the usage chunk is sent only when the request asked for it, as OpenAI does
export function oaiChunks(req, { model, texts = [], toolCalls = [],
                                 finish = null, usage = {},
                                 interleave = false }) {
    const id = nextId('chatcmpl-mock');
    const base = { id, object: 'chat.completion.chunk', created: 1700000000,
                   model };
    const chunk = (delta, finish_reason = null) => ({
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    });
    const out = [chunk({ role: 'assistant', content: '' })];

    for (const t of texts) {
        out.push(chunk({ content: t }));
    }

    // OpenAI streams parallel calls one after the other: the first delta
    // of a call has its id and name, the next ones argument fragments;
    // interleave: all calls opened first, then fragments round robin
    const open = (t, i) => out.push(chunk({ tool_calls: [{
        index: i, id: t.id, type: 'function',
        function: { name: t.name, arguments: '' },
    }] }));
    const frag = (t, i, k) => out.push(chunk({ tool_calls: [{
        index: i, function: { arguments: t.args[k] },
    }] }));

    if (interleave) {
        toolCalls.forEach(open);
        const longest = Math.max(0, ...toolCalls.map((t) => t.args.length));
        for (let k = 0; k < longest; k++) {
            toolCalls.forEach((t, i) => {
                if (k < t.args.length) {
                    frag(t, i, k);
                }
            });
        }
    } else {
        toolCalls.forEach((t, i) => {
            open(t, i);
            t.args.forEach((_, k) => frag(t, i, k));
        });
    }

    out.push(chunk({}, finish ?? (toolCalls.length ? 'tool_calls' : 'stop')));

    if (req.json?.stream_options?.include_usage) {
        out.push({
            ...base, choices: [],
            usage: {
                prompt_tokens: usage.prompt ?? 11,
                completion_tokens: usage.completion ?? 7,
                total_tokens: (usage.prompt ?? 11) + (usage.completion ?? 7),
            },
        });
    }

    out.push('[DONE]');
    return out;
}


// ---------------------------------------------------------------------
// Anthropic-format responses
// ---------------------------------------------------------------------

// content: [{type:'text',text} | {type:'tool_use',id,name,input} |
//           {type:'thinking',thinking,signature}]
export function antMessage({ model, content, stop = null, usage = {} }) {
    return {
        id: nextId('msg_mock'),
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: stop ?? (content.some((c) => c.type === 'tool_use')
            ? 'tool_use' : 'end_turn'),
        stop_sequence: null,
        usage: {
            input_tokens: usage.input ?? 13,
            output_tokens: usage.output ?? 5,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        },
    };
}

// blocks: {type:'text', parts:[...]} | {type:'thinking', parts:[...],
//         signature} | {type:'tool_use', id, name, parts:[json fragments]}
export function antEvents({ model, blocks, stop = null, usage = {} }) {
    const ev = (event, data) => ({ event, data: { type: event, ...data } });
    const out = [
        ev('message_start', { message: {
            id: nextId('msg_mock'), type: 'message', role: 'assistant',
            model, content: [], stop_reason: null, stop_sequence: null,
            usage: { input_tokens: usage.input ?? 13, output_tokens: 1,
                     cache_creation_input_tokens: 0,
                     cache_read_input_tokens: 0 },
        } }),
        ev('ping', {}),
    ];

    blocks.forEach((b, index) => {
        if (b.type === 'text') {
            out.push(ev('content_block_start',
                        { index, content_block: { type: 'text', text: '' } }));
            for (const t of b.parts) {
                out.push(ev('content_block_delta',
                            { index, delta: { type: 'text_delta', text: t } }));
            }
        } else if (b.type === 'thinking') {
            out.push(ev('content_block_start', { index, content_block: {
                type: 'thinking', thinking: '', signature: '' } }));
            for (const t of b.parts) {
                out.push(ev('content_block_delta', { index, delta: {
                    type: 'thinking_delta', thinking: t } }));
            }
            out.push(ev('content_block_delta', { index, delta: {
                type: 'signature_delta', signature: b.signature } }));
        } else if (b.type === 'tool_use') {
            out.push(ev('content_block_start', { index, content_block: {
                type: 'tool_use', id: b.id, name: b.name, input: {} } }));
            for (const t of b.parts) {
                out.push(ev('content_block_delta', { index, delta: {
                    type: 'input_json_delta', partial_json: t } }));
            }
        }
        out.push(ev('content_block_stop', { index }));
    });

    out.push(ev('message_delta', {
        delta: { stop_reason: stop ?? (blocks.some((b) => b.type === 'tool_use')
            ? 'tool_use' : 'end_turn'), stop_sequence: null },
        usage: { output_tokens: usage.output ?? 5 },
    }));
    out.push(ev('message_stop', {}));
    return out;
}


// ---------------------------------------------------------------------
// misc
// ---------------------------------------------------------------------

// the error a promise rejects with (fails when it resolves)
export async function rejects(p, what = 'the call') {
    try {
        await p;
    } catch (e) {
        return e;
    }
    assert.fail(`${what} succeeded, an error was expected`);
}

export function lastUserText(json) {
    const msgs = json?.messages ?? [];
    for (let i = msgs.length - 1; i >= 0; i--) {
        if (msgs[i].role === 'user') {
            const c = msgs[i].content;
            if (typeof c === 'string') {
                return c;
            }
            return c.filter((p) => p.type === 'text').map((p) => p.text)
                .join('');
        }
    }
    return '';
}

export async function rawFetch(path, init = {}) {
    const res = await fetch(GW + path, init);
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
}
