/**
 * Piping of the two proxies that stream (the edge's HTTP proxy, the services proxy): the caller's
 * body to the upstream, the upstream's answer to the caller. Both use plain `pipe` rather than
 * `stream.pipeline`: pipeline allocates an AbortController (and a DOMException with a stack when
 * it ends) per call, a visible share of a proxy's CPU at tens of thousands of requests a second.
 * Who gave up (the caller or the upstream) and what that means for a retry stays with each proxy.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Pipe `req`'s body into `up` once `up`'s connection is established, never before: until then
 * nothing of the body has been consumed and the request can still be sent to another upstream.
 * `onStart` runs when the body starts to flow (from then on a retry would need it again).
 */
export function pipeBodyOnConnect(req: IncomingMessage, up: ClientRequest, onStart: () => void): void {
  up.on('socket', (s: Socket) => {
    const go = (): void => {
      onStart();
      req.pipe(up);
    };
    if (s.connecting) s.once('connect', go);
    else go();
  });
}

/**
 * Stream an upstream answer's body to the caller (the head is already written). A body the
 * upstream cuts short (an error, or closed before its end) cuts the caller's response too, so the
 * caller sees a failed transfer, never a short one passed off as whole. Resolves when the
 * caller's response closes, whether finished or not; a caller gone first destroys the body.
 */
export function relayAnswer(from: Readable, to: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      if (!to.writableFinished) from.destroy();
      resolve();
    };
    // An unheard 'error' would crash the process (undici emits AbortError on a body destroyed early).
    from.on('error', () => to.destroy());
    from.on('close', () => {
      if (!from.readableEnded) to.destroy();
    });
    to.once('close', onClose);
    from.pipe(to);
  });
}
