/**
 * Bench clients for the WebSocket servers (raw ws, Socket.IO, Meridian): `LeanWs` sockets
 * speaking each server's wire format by hand, so the client side costs the same, and little, for
 * every server: no Socket.IO client library, no Meridian client, no `ws` receiver in the way.
 * Each kind knows how to get a socket ready (handshake, auth, join), how to recognise a delivery
 * from its first bytes without parsing it, and how to frame a send.
 */
import { LeanWs } from './lean-ws.js';

export type ServerKind = 'raw-ws' | 'raw-ws-send' | 'raw-ws-corked' | 'socket.io' | 'meridian';

export interface BenchSocket {
  readonly sock: LeanWs;
  /** Frame one message of `body` (a string) for the room. */
  send(body: string): void;
}

export interface ClientOptions {
  readonly kind: ServerKind;
  /** Server base URL, http://host:port. */
  readonly base: string;
  readonly role: 'sub' | 'pub';
  readonly user: string;
  readonly room: string;
  /** Meridian: an auth token (else dev auth with `user`); raw ws: sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** Called for every delivery of a room message. */
  readonly onDelivery?: (payload: Buffer) => void;
  /** Meridian: ready after `welcome`, without joining a room. */
  readonly idle?: boolean;
}

const MERIDIAN_MESSAGE = Buffer.from('{"type":"message"');
let sendSeq = 0;

function startsWith(b: Buffer, prefix: Buffer): boolean {
  return b.length >= prefix.length && b.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Open one socket and resolve once it is ready to receive (joined) or send. */
export async function openClient(o: ClientOptions): Promise<BenchSocket> {
  const base = o.base.replace('http', 'ws');
  const sock = new LeanWs();
  const deliver = o.onDelivery ?? (() => undefined);
  let ready!: () => void;
  let fail!: (e: Error) => void;
  const readyP = new Promise<void>((res, rej) => {
    ready = res;
    fail = rej;
  });
  if (o.kind === 'raw-ws' || o.kind === 'raw-ws-send' || o.kind === 'raw-ws-corked') {
    sock.onFrame = (_op, payload) => deliver(payload);
    await sock.open(`${base}/?r=${o.role}`, o.token === undefined ? {} : { headers: { Authorization: `Bearer ${o.token}` } });
    ready();
  } else if (o.kind === 'socket.io') {
    // Engine.IO 4 over WebSocket: "0{…}" open → "40" connect to "/" → "40{sid}"; "2" ping → "3".
    let connected = false;
    sock.onFrame = (_op, p) => {
      const c = p[0];
      const d = p[1];
      if (c === 0x34 && d === 0x32) deliver(p); // "42[...]": an event
      else if (c === 0x32) sock.send('3');
      else if (c === 0x30) sock.send('40');
      else if (c === 0x34 && d === 0x30 && !connected) {
        connected = true;
        ready();
      }
    };
    await sock.open(`${base}/socket.io/?EIO=4&transport=websocket&r=${o.role}`);
  } else {
    let joined = false;
    sock.onFrame = (_op, p) => {
      if (startsWith(p, MERIDIAN_MESSAGE)) return deliver(p);
      if (joined) return;
      const f = JSON.parse(p.toString()) as { type: string; code?: number; message?: string };
      if (f.type === 'welcome') {
        if (o.role === 'pub' || o.idle === true) {
          joined = true;
          ready();
        } else sock.send(JSON.stringify({ type: 'join', id: 'j', room: o.room }));
      } else if (f.type === 'joined') {
        joined = true;
        ready();
      } else if (f.type === 'error') fail(new Error(`meridian error ${f.code}: ${f.message}`));
    };
    await sock.open(`${base}/ws`, { protocols: ['meridian.v1'] });
    sock.send(JSON.stringify(o.token === undefined ? { type: 'auth', id: 'a', user: o.user } : { type: 'auth', id: 'a', token: o.token }));
  }
  const timer = setTimeout(() => fail(new Error(`${o.kind} socket not ready within 10 s`)), 10_000);
  try {
    await readyP;
  } finally {
    clearTimeout(timer);
  }
  return { sock, send: sender(o, sock) };
}

function sender(o: ClientOptions, sock: LeanWs): (body: string) => void {
  if (o.kind === 'socket.io') return (body) => sock.send(`42${JSON.stringify(['m', body])}`);
  if (o.kind === 'meridian') {
    return (body) => {
      const n = ++sendSeq;
      sock.send(JSON.stringify({ type: 'send', id: `s${n}`, to: { room: o.room }, body, clientMsgId: `${o.user}-${n}` }));
    };
  }
  return (body) => sock.send(body);
}

/** Open `n` sockets, at most `parallel` handshakes at a time. */
export async function openMany(n: number, parallel: number, make: (i: number) => Promise<BenchSocket>): Promise<BenchSocket[]> {
  const out: BenchSocket[] = new Array<BenchSocket>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}
