/**
 * The baseline WebSocket servers the messaging benches compare Meridian with, each started in a
 * bench role process:
 *   - `raw-ws`: ws + bufferutil; a publisher's message is framed once (`Sender.frame`) and the
 *     same bytes are written to every subscriber's socket — the fastest thing ws can do;
 *   - `raw-ws-send`: the same with plain `ws.send` per subscriber (frames per socket);
 *   - `socket.io`: Socket.IO 4 over WebSocket only, `io.to(room).emit` (the adapter encodes once).
 * Subscribers say `r=sub` in the query string; publishers `r=pub`. Optionally a token check at
 * the upgrade (`auth`), so idle-connection numbers compare authenticated connections.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { listen } from './proc.js';
import { Server as SocketIoServer } from 'socket.io';
import * as wsModule from 'ws';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}
/** `Sender.frame` is public in ws but missing from @types/ws. */
const frame = (wsModule as unknown as { Sender: { frame(this: void, data: Buffer, o: FrameOptions): Buffer[] } }).Sender.frame;

export interface StartedServer {
  readonly url: string;
  readonly server?: Server;
  connections(): number;
  close(): Promise<void>;
}


function role(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').searchParams.get('r') ?? 'sub';
}

/**
 * Verify the upgrade's token (`Authorization: Bearer`) when `verify` is given; the user it names
 * is kept with the socket, as an authenticated server would.
 */
export type Verify = (token: string) => Promise<string>;

export async function startRawWs(opts: { frameOnce: boolean; cork?: boolean; verify?: Verify }): Promise<StartedServer> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const subs = new Set<WebSocket>();
  const users = new WeakMap<WebSocket, string>();
  server.on('upgrade', (req, socket, head) => {
    const accept = (user: string): void =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        users.set(ws, user);
        if (role(req) === 'sub') {
          subs.add(ws);
          ws.once('close', () => subs.delete(ws));
        } else ws.on('message', (data: Buffer) => broadcast(data));
      });
    if (opts.verify === undefined) return accept('anonymous');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    opts.verify(token).then(accept, () => {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  });
  // Context for Meridian's own write path: frame once AND cork every socket until the end of the
  // event-loop turn, so a turn's frames leave in one writev per socket.
  const corked = new Set<Socket>();
  const uncorkAll = (): void => {
    for (const s of corked) s.uncork();
    corked.clear();
  };
  const broadcast = opts.cork
    ? (data: Buffer): void => {
        const bytes = Buffer.concat(frame(data, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
        if (corked.size === 0) setImmediate(uncorkAll);
        for (const ws of subs) {
          const s = (ws as unknown as { _socket: Socket })._socket;
          if (!corked.has(s)) {
            s.cork();
            corked.add(s);
          }
          s.write(bytes);
        }
      }
    : opts.frameOnce
    ? (data: Buffer): void => {
        const bytes = Buffer.concat(frame(data, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
        for (const ws of subs) (ws as unknown as { _socket: Socket })._socket.write(bytes);
      }
    : (data: Buffer): void => {
        for (const ws of subs) ws.send(data, { binary: false });
      };
  const url = await listen(server);
  return {
    url,
    server,
    connections: () => subs.size,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export async function startSocketIo(): Promise<StartedServer> {
  const server = createServer();
  const io = new SocketIoServer(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (s) => {
    if (s.handshake.query['r'] === 'sub') void s.join('room');
    else s.on('m', (body: string) => io.to('room').emit('m', body));
  });
  const url = await listen(server);
  return {
    url,
    server,
    connections: () => io.engine.clientsCount,
    close: () => new Promise((r) => void io.close(() => r())),
  };
}
