/**
 * Shared helpers of the client and end-to-end suites: polling, and a recorder that keeps what a
 * client receives (messages per conversation, receipts, presence events, statuses) so tests can
 * wait for and assert on it.
 */
import type { MeridianClient, ClientStatus, LostRange, Message } from '../../src/client/mod.js';
import type { PresenceEventFrame, ReceiptFrame, ResumedFrame } from '../../src/protocol/mod.js';

/** Poll `cond` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Recorder {
  readonly messages: Message[] = [];
  readonly receipts: ReceiptFrame[] = [];
  readonly presence: PresenceEventFrame[] = [];
  readonly statuses: ClientStatus[] = [];
  readonly resumed: ResumedFrame[] = [];
  readonly lost: LostRange[] = [];
  readonly errors: Error[] = [];

  constructor(readonly client: MeridianClient) {
    client.on('message', (m) => this.messages.push(m));
    client.on('receipt', (r) => this.receipts.push(r));
    client.on('presence_event', (e) => this.presence.push(e));
    client.on('status', (s) => this.statuses.push(s));
    client.on('resumed', (r) => this.resumed.push(r));
    client.on('lost', (l) => this.lost.push(l));
    client.on('error', (e) => this.errors.push(e));
  }

  in(conversation: string): Message[] {
    return this.messages.filter((m) => m.conversation === conversation);
  }

  seqs(conversation: string): number[] {
    return this.in(conversation).map((m) => m.seq);
  }

  bodies(conversation: string): unknown[] {
    return this.in(conversation).map((m) => m.body);
  }

  async count(conversation: string, n: number, timeoutMs = 10_000): Promise<Message[]> {
    await waitFor(() => this.in(conversation).length >= n, () => `${n} messages in ${conversation} (have ${this.in(conversation).length})`, timeoutMs);
    return this.in(conversation);
  }

  async status(type: ClientStatus['type'], after = 0, timeoutMs = 10_000): Promise<ClientStatus> {
    let found: ClientStatus | undefined;
    await waitFor(() => (found = this.statuses.slice(after).find((s) => s.type === type)) !== undefined, `status ${type}`, timeoutMs);
    return found!;
  }
}
