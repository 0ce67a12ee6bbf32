/**
 * What a close means for the client, from the protocol's ranges (isReconnectClose /
 * isTerminalClose in src/protocol/codes.ts): reconnect with backoff, or stop. TOKEN_EXPIRED is
 * terminal "only with the same token": a client that can fetch a fresh one reconnects. A normal
 * close (1000) or a code of no known range is reconnected too, since the client still wants a
 * connection (it stops only on `close()`).
 */
import { CloseCode, isTerminalClose } from '../protocol/mod.js';

export type CloseAction = 'reconnect' | 'terminal';

export function closeAction(code: number, canRefreshToken: boolean): CloseAction {
  if (code === CloseCode.TOKEN_EXPIRED) return canRefreshToken ? 'reconnect' : 'terminal';
  if (isTerminalClose(code)) return 'terminal';
  // The isReconnectClose range, and also 1000 and codes of no known range: still wanted.
  return 'reconnect';
}

