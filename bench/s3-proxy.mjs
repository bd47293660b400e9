/**
 * A counting HTTP proxy between one tool and its S3 server: what a tool sends over the wire,
 * measured the same way for every tool, outside the tool.
 *
 * The tool's endpoint is the proxy; each request is forwarded as it is (method, path, query,
 * headers, signature) to the server, and the answer comes back as it is. Bodies stream through
 * in both directions (nothing is buffered, so the proxy's memory does not grow with object
 * sizes), and their bytes are counted as they pass: "uploaded" is request bodies, "downloaded"
 * is response bodies, both as sent on the wire (restic's minio-go signs each 64 KiB chunk of a
 * plain-HTTP upload, so its chunk headers are part of what it uploads). Headers are not
 * counted: each request's are a few hundred bytes, and the request count shows that cost.
 *
 * The counters are a few numbers per method, read and reset per step (`take`); every request
 * is also appended to a log file as one line (step, milliseconds from the step's start to the
 * request, method, status, bytes up, bytes down, milliseconds it took, path), written through a
 * stream.
 *
 * `Expect: 100-continue` ends here: node's server answers it to the tool, and the body is then
 * forwarded at once, so the server never sees the header.
 */
import { createWriteStream } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';

/** Headers of one hop only (RFC 9110 §7.6.1), and `expect`, answered here. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);

function forwardable(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
  return out;
}

/**
 * @typedef {object} Traffic
 * @property {number} requests
 * @property {Record<string, number>} methods requests per HTTP method
 * @property {number} uploaded request body bytes
 * @property {number} downloaded response body bytes
 * @property {number} errors answers with a status of 400 or above, besides 404s
 * @property {number} notFound 404 answers (HEADs of keys that do not exist yet are normal)
 * @property {number} failed requests the proxy could not complete (server or tool gone)
 */

function emptyTraffic() {
  return { requests: 0, methods: {}, uploaded: 0, downloaded: 0, errors: 0, notFound: 0, failed: 0 };
}

/**
 * Start a counting proxy to the server at `target` (`http://127.0.0.1:PORT`).
 * @param {string} target
 * @param {string} logPath where each request's line goes
 * @returns {Promise<{ endpoint: string, step: (name: string) => void, take: () => Traffic, close: () => Promise<void> }>}
 *   `endpoint` for the tool; `step` names the lines logged from now on; `take` returns what
 *   was counted since the last `take` and starts again from zero
 */
export async function startCountingProxy(target, logPath) {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const log = createWriteStream(logPath, { flags: 'a' });
  log.write('step\tat_ms\tmethod\tstatus\tup\tdown\tms\tpath\n');
  let step = '-';
  let stepStart = performance.now();
  let counts = emptyTraffic();

  const server = createServer((req, res) => {
    const t0 = performance.now();
    const c = counts;
    const stepNow = step;
    c.requests++;
    c.methods[req.method] = (c.methods[req.method] ?? 0) + 1;
    let up = 0;
    let down = 0;
    let status = 0;
    let done = false;
    const finish = (failed) => {
      if (done) return;
      done = true;
      if (failed) c.failed++;
      log.write(`${stepNow}\t${(t0 - stepStart).toFixed(0)}\t${req.method}\t${failed ? 'failed' : status}\t${up}\t${down}\t${(performance.now() - t0).toFixed(1)}\t${req.url}\n`);
    };
    req.on('data', (chunk) => {
      up += chunk.length;
      c.uploaded += chunk.length;
    });
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: forwardable(req.headers), agent },
      (answer) => {
        status = answer.statusCode ?? 0;
        if (status === 404) c.notFound++;
        else if (status >= 400) c.errors++;
        res.writeHead(status, forwardable(answer.headers));
        answer.on('data', (chunk) => {
          down += chunk.length;
          c.downloaded += chunk.length;
        });
        answer.on('end', () => finish(false));
        answer.on('error', () => {
          finish(true);
          res.destroy();
        });
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      finish(true);
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        finish(true);
        out.destroy();
      }
    });
    req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    step(name) {
      step = name;
      stepStart = performance.now();
    },
    take() {
      const t = counts;
      counts = emptyTraffic();
      return t;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
      await new Promise((resolve) => log.end(resolve));
    },
  };
}
