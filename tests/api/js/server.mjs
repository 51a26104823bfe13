// SPDX-License-Identifier: Apache-2.0
//
// Starts the real build/timbre for the JavaScript suite: a free loopback
// port, a fresh data folder, stderr to a log file, ready once GET /healthz
// answers 200. Stopped with SIGTERM, then SIGKILL after five seconds, by
// its own process handle. TIMBRE_BIN overrides the binary's path.

import { spawn } from 'node:child_process';
import {
    closeSync, mkdtempSync, openSync, readFileSync, rmSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { VoiceIDClient } from '@aws-sdk/client-voice-id';

const here = dirname(fileURLToPath(import.meta.url));
export const BINARY = process.env.TIMBRE_BIN
    ?? resolve(here, '..', '..', '..', 'build', 'timbre');

const HEALTH_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 5000;

function freePort() {
    return new Promise((ok, fail) => {
        const s = net.createServer();
        s.once('error', fail);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

export class Server {
    constructor(flags = []) {
        this.flags = flags.map(String);
        this.dir = mkdtempSync(join(tmpdir(), 'timbre-js-'));
        this.logPath = join(this.dir, 'server.log');
        this.proc = null;
        this.exited = null;
        this.clients = [];
    }

    get endpoint() {
        return `http://127.0.0.1:${this.port}`;
    }

    async start() {
        this.port = await freePort();
        const log = openSync(this.logPath, 'a');
        this.proc = spawn(BINARY, [
            'serve', '--listen', `127.0.0.1:${this.port}`,
            '--data-dir', join(this.dir, 'data'), ...this.flags,
        ], { stdio: ['ignore', log, log] });
        closeSync(log);
        this.exited = new Promise((ok) => this.proc.once('exit', ok));
        await this.waitHealthy();
        return this;
    }

    async waitHealthy() {
        const deadline = Date.now() + HEALTH_TIMEOUT_MS;
        while (Date.now() < deadline) {
            if (this.proc.exitCode !== null) {
                throw new Error(
                    `timbre exited during start-up:\n${this.logTail()}`);
            }
            try {
                const r = await fetch(`${this.endpoint}/healthz`);
                if (r.status === 200) return;
            } catch {
                // not listening yet
            }
            await sleep(50);
        }
        await this.stop();
        throw new Error(`timbre not healthy in time:\n${this.logTail()}`);
    }

    client(opts = {}) {
        const c = new VoiceIDClient({
            endpoint: this.endpoint,
            region: opts.region ?? 'us-east-1',
            credentials: {
                accessKeyId: opts.accessKeyId ?? 'test',
                secretAccessKey: opts.secretAccessKey ?? 'test',
            },
            maxAttempts: 1,
        });
        this.clients.push(c);
        return c;
    }

    logTail(lines = 30) {
        try {
            return readFileSync(this.logPath, 'utf8').split('\n')
                .slice(-lines).join('\n');
        } catch {
            return '(no log)';
        }
    }

    async stop() {
        for (const c of this.clients) c.destroy();
        this.clients = [];
        if (!this.proc || this.proc.exitCode !== null
            || this.proc.signalCode !== null) {
            return;
        }
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.proc.kill('SIGKILL'),
            STOP_GRACE_MS);
        await this.exited;
        clearTimeout(timer);
    }

    async cleanup() {
        await this.stop();
        if (!process.env.TIMBRE_KEEP_TMP) {
            rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

export async function startServer(flags = ['--max-domains', '1000']) {
    return new Server(flags).start();
}
