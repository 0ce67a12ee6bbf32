/**
 * The demo page at `/`: a self-contained HTML page (no build step, no dependencies) that speaks
 * the protocol directly, so a newcomer running `meridian up` can open two tabs on two regions and
 * watch messages and presence cross them. It uses dev auth (`auth { user }`), which only a node
 * started with the dev flag accepts; elsewhere the page says so. GET and HEAD only, public (no
 * rate limit); another method on `/` is no request of this route's (and ends 404).
 */
import type { Route } from './route.js';

export const demo: Route = {
  path: '/',
  methods: ['GET', 'HEAD'],
  otherMethods: 'pass',
  public: true,
  handle(c, { req, res }) {
    const html = demoPage(c.node.opts.region, c.node.opts.node, c.node.auth.dev);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : html);
  },
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function demoPage(region: string, node: string, dev: boolean): string {
  const r = escapeHtml(region);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Meridian · ${r}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:grid;grid-template-columns:320px 1fr;height:100vh}
aside{padding:12px;border-right:1px solid #ddd;overflow:auto;background:#fafafa}
main{display:flex;flex-direction:column;min-height:0}
#log{flex:1;overflow:auto;padding:8px 12px;font-family:ui-monospace,monospace;font-size:12px}
#log div{padding:2px 0;border-bottom:1px solid #f0f0f0;white-space:pre-wrap;word-break:break-all}
.in{color:#05a}.out{color:#888}.err{color:#c00}.msg{color:#000;font-weight:600}.pres{color:#690}
label{display:block;margin-top:8px;font-size:12px;color:#555}input,select,button{font:inherit;padding:4px 6px}
input{width:100%;box-sizing:border-box}button{margin-top:6px;cursor:pointer}
h1{font-size:16px;margin:0 0 4px}small{color:#777}#state{font-weight:600}
</style></head><body>
<aside>
<h1>Meridian · ${r}</h1><small>node ${escapeHtml(node)}</small>
${dev ? '' : '<p class="err">This node is not in dev mode: the demo needs <code>meridian up</code> or <code>meridian region --dev</code>.</p>'}
<p>State: <span id="state">disconnected</span></p>
<label>User</label><input id="user" value="alice">
<button id="connect">Connect</button> <button id="disconnect">Disconnect</button>
<label>Room</label><input id="room" value="lobby">
<button id="join">Join room</button> <button id="leave">Leave</button> <button id="watch">Watch presence</button>
<label>Send to</label><select id="kind"><option value="user">user</option><option value="room">room</option></select>
<input id="to" value="bob" placeholder="user or room">
<label>Message</label><input id="text" value="hello from ${r}">
<button id="send">Send</button>
<label>Presence of user</label><input id="who" value="bob"><button id="query">Query</button>
<p><small>Open this page on another region (another port) as another user: direct messages, room
messages and presence cross regions. Frames are shown as they go over the wire.</small></p>
</aside>
<main><div id="log"></div></main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let ws = null, n = 0, positions = {}, beat = 0;
const id = () => "f" + (++n);
function log(cls, text) {
  const d = document.createElement("div"); d.className = cls; d.textContent = text;
  const l = $("log"); l.appendChild(d); l.scrollTop = l.scrollHeight;
}
function send(frame) {
  if (!ws || ws.readyState !== 1) { log("err", "not connected"); return; }
  const t = JSON.stringify(frame); ws.send(t); log("out", "→ " + t);
}
$("connect").onclick = () => {
  if (ws) ws.close(1000);
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  ws = new WebSocket(url, "meridian.v1");
  $("state").textContent = "connecting";
  ws.onopen = () => send({ type: "auth", id: id(), user: $("user").value });
  ws.onclose = (e) => { $("state").textContent = "closed " + e.code + (e.reason ? " " + e.reason : ""); log("err", "closed " + e.code + " " + e.reason); };
  ws.onmessage = (e) => {
    let f; try { f = JSON.parse(e.data); } catch { log("err", e.data); return; }
    if (f.type === "welcome") {
      $("state").textContent = f.user + " @ " + f.region;
      clearInterval(beat);
      beat = setInterval(() => ws && ws.readyState === 1 && ws.send(JSON.stringify({ type: "heartbeat" })), f.heartbeatMs);
      if (Object.keys(positions).length) send({ type: "resume", id: id(), positions });
    }
    if (f.type === "message") {
      positions[f.conversation] = Math.max(positions[f.conversation] || 0, f.seq);
      log("msg", f.conversation + " #" + f.seq + " " + f.from + " (" + f.region + "): " + JSON.stringify(f.body));
      send({ type: "delivery_ack", conversation: f.conversation, seq: f.seq });
      return;
    }
    if (f.type === "heartbeat") return;
    if (f.type === "migrate") { log("pres", "node draining: moving to " + f.suggestedRegion); }
    log(f.type === "error" ? "err" : f.type.startsWith("presence") ? "pres" : "in", "← " + e.data);
  };
};
$("disconnect").onclick = () => ws && ws.close(1000);
$("join").onclick = () => send({ type: "join", id: id(), room: $("room").value });
$("leave").onclick = () => send({ type: "leave", id: id(), room: $("room").value });
$("watch").onclick = () => send({ type: "subscribe_presence", id: id(), room: $("room").value });
$("query").onclick = () => send({ type: "presence_query", id: id(), user: $("who").value });
$("send").onclick = () => {
  const to = $("kind").value === "user" ? { user: $("to").value } : { room: $("to").value };
  send({ type: "send", id: id(), to, body: { text: $("text").value }, clientMsgId: crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) });
};
</script></body></html>
`;
}
