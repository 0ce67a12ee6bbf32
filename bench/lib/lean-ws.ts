/**
 * A minimal WebSocket client for load generation: the upgrade by hand on a net.Socket, then only
 * frame headers are parsed (server frames are unmasked, so a payload is a view of the chunk it
 * arrived in, copied only when a frame straddles chunks). No per-frame events, buffers or UTF-8
 * checks: receiving 1,000 sockets' worth of small frames costs the client a fraction of what `ws`
 * costs, so in fan-out benches the server, not the client, is what saturates. Text and binary
 * frames go to `onFrame`; pings are answered; a close frame ends the socket. Not a general
 * client: no fragmentation (our servers never fragment small messages), no extensions.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export type FrameHandler = (opcode: number, payload: Buffer) => void;

export class LeanWs {
  #socket: Socket | undefined;
  #rest: Buffer | undefined;
  onFrame: FrameHandler = () => undefined;

  /** Connect and upgrade; `headers` are extra request headers (Authorization, …). */
  open(url: string, opts: { protocols?: readonly string[]; headers?: Readonly<Record<string, string>> } = {}): Promise<this> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(u.port), u.hostname);
      socket.setNoDelay(true);
      this.#socket = socket;
      const lines = [
        `GET ${u.pathname}${u.search} HTTP/1.1`,
        `Host: ${u.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        ...(opts.protocols?.length ? [`Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}`] : []),
        ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ];
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!status.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${status}`));
        }
        socket.on('data', (c: Buffer) => this.#read(c));
        resolve(this);
        if (head.length > end + 4) this.#read(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('connect', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    });
  }

  get bufferedAmount(): number {
    return this.#socket?.writableLength ?? 0;
  }

  /** Send one text frame (masked, as clients must). */
  send(text: string): void {
    const payload = Buffer.from(text);
    const len = payload.length;
    const headLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(headLen + 4 + len);
    frame[0] = 0x81;
    if (len < 126) frame[1] = 0x80 | len;
    else if (len < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = randomBytes(4);
    mask.copy(frame, headLen);
    for (let i = 0; i < len; i++) frame[headLen + 4 + i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.#socket?.write(frame);
  }

  close(): void {
    this.#socket?.destroy();
  }

  #read(chunk: Buffer): void {
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let off = 0;
    while (buf.length - off >= 2) {
      const b0 = buf[off] ?? 0;
      const b1 = buf[off + 1] ?? 0;
      let len = b1 & 0x7f;
      let start = off + 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        start = off + 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        start = off + 10;
      }
      if (buf.length < start + len) break;
      const opcode = b0 & 0x0f;
      const payload = buf.subarray(start, start + len);
      off = start + len;
      if (opcode === 0x9) this.#control(0xa, payload);
      else if (opcode === 0x8) {
        this.close();
        return;
      } else if (opcode === 0x1 || opcode === 0x2) this.onFrame(opcode, payload);
    }
    if (off < buf.length) this.#rest = Buffer.from(buf.subarray(off));
  }

  #control(opcode: number, payload: Buffer): void {
    const frame = Buffer.allocUnsafe(6 + payload.length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | payload.length;
    const mask = randomBytes(4);
    mask.copy(frame, 2);
    for (let i = 0; i < payload.length; i++) frame[6 + i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.#socket?.write(frame);
  }
}
