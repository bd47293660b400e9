/**
 * A fault-injecting HTTP proxy between an S3 client and moto: the network and server failures
 * a backup meets, on demand and reproducibly.
 *
 * The client's endpoint is the proxy; each request is passed to `decide`, which returns a
 * fault or nothing (forward it as is). Faults: an S3 error response (500, 503, 429 SlowDown,
 * 403...), a connection reset before the request reaches the server or after the server has
 * acted on it (the client cannot tell whether it happened), a stall (the request is held and
 * never answered: the client's timeout must fire), and a response whose body is cut short (the
 * connection dropped, or the body ended cleanly without its length) or stops half-way. Every request and the fault it got is logged, so a test can show that the
 * faults it meant to inject were injected.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the proxy does to one request. */
export type Fault =
  /** Answer with this status and S3 error code without forwarding. */
  | { kind: 'status'; status: number; code: string }
  /** Close the connection before the request reaches the server. */
  | { kind: 'reset' }
  /** Forward the request, then close the connection instead of passing the answer on. */
  | { kind: 'reset-after' }
  /** Read the request and never answer. */
  | { kind: 'stall' }
  /** Forward, pass the status, headers and the first `fraction` of the body on, then close. */
  | { kind: 'truncate'; fraction?: number }
  /** Forward, pass the status, headers and the first `fraction` of the body on, then hold the connection. */
  | { kind: 'stall-body'; fraction?: number }
  /**
   * Forward, drop the `Content-Length` header and end the response cleanly after the first
   * `fraction` of the body: a short body only its `Content-Range` or checksum can reveal.
   */
  | { kind: 'short-body'; fraction?: number };

/** A request as `decide` sees it. */
export interface ProxiedRequest {
  /** HTTP method. */
  method: string;
  /** Path without the query (`/bucket/key`). */
  path: string;
  /** The query (`partNumber`, `uploadId`, `list-type`...). */
  query: URLSearchParams;
  /** Request headers (lower case). */
  headers: IncomingMessage['headers'];
  /** How many requests the proxy saw before this one. */
  index: number;
}

/** One logged request. */
export interface ProxyLogEntry {
  /** `METHOD /path?query`. */
  request: string;
  /** The fault it got, if any. */
  fault?: Fault['kind'];
}

/** A running proxy. */
export interface FaultProxy {
  /** The URL to give the client as its endpoint. */
  endpoint: string;
  /** Chooses each request's fault; default none. Replace it between tests. */
  decide: (request: ProxiedRequest) => Fault | undefined;
  /** Every request seen, in order. */
  log: ProxyLogEntry[];
  /** Stop listening and drop every connection (held ones included). */
  close(): Promise<void>;
}

function errorBody(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the fault proxy</Message><RequestId>fault</RequestId></Error>`;
}

/** Start a proxy on a free loopback port forwarding to `target` (`http://127.0.0.1:PORT`). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let index = 0;

  const forward = (req: IncomingMessage, onResponse: (res: IncomingMessage) => void, onError: () => void) => {
    const headers = { ...req.headers };
    delete headers.expect;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, onResponse);
    out.on('error', onError);
    req.pipe(out);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const fault = proxy.decide({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, index: index++ });
    proxy.log.push({ request: `${req.method} ${req.url}`, fault: fault?.kind });
    const kill = () => req.socket.destroy();
    switch (fault?.kind) {
      case undefined:
        forward(
          req,
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
          kill,
        );
        return;
      case 'status': {
        req.resume();
        req.once('end', () => {
          const body = errorBody(fault.code);
          res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      case 'reset':
        kill();
        return;
      case 'reset-after':
        forward(req, (up) => up.resume().once('end', kill), kill);
        return;
      case 'stall':
        req.resume();
        return;
      case 'truncate':
      case 'stall-body':
      case 'short-body':
        forward(
          req,
          (up) => {
            const length = Number(up.headers['content-length'] ?? 0);
            const keep = Math.floor(length * (fault.fraction ?? 0.5));
            const headers = { ...up.headers };
            if (fault.kind === 'short-body') delete headers['content-length'];
            res.writeHead(up.statusCode ?? 502, headers);
            let sent = 0;
            up.on('data', (chunk: Buffer) => {
              if (sent >= keep) return;
              const part = chunk.subarray(0, keep - sent);
              sent += part.length;
              res.write(part);
            });
            // Cut the connection once what was kept has been flushed to the client.
            up.once('end', () => {
              if (fault.kind === 'truncate') res.write('', kill);
              else if (fault.kind === 'short-body') res.end();
            });
          },
          kill,
        );
        return;
    }
  };

  const server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: FaultProxy = {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    decide: () => undefined,
    log: [],
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    },
  };
  return proxy;
}
