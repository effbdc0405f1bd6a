#!/usr/bin/env node
// A WebSocket client on node's `ws` package, driven by the integration tests over stdio.
//
//   node ws_client.js URL [ORIGIN]
//
// stdout, one JSON object per line:
//   {"event":"open"}
//   {"event":"message","data":"<text>","binary":false}
//   {"event":"unexpected-response","status":401,"body":"{...}"}   (the upgrade was refused)
//   {"event":"close","code":1000,"reason":"..."}                    (then the process exits 0)
//   {"event":"error","message":"..."}
// stdin, one JSON command per line:
//   {"cmd":"send","data":"<text>"}   {"cmd":"send_binary","hex":"00ff"}   {"cmd":"close","code":1000,"reason":"bye"}
'use strict';

const readline = require('readline');
const WebSocket = require('ws');

const [url, origin] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: ws_client.js URL [ORIGIN]\n');
  process.exit(2);
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const ws = new WebSocket(url, origin ? { origin } : {});

ws.on('open', () => out({ event: 'open' }));
ws.on('message', (data, isBinary) => {
  out({ event: 'message', data: isBinary ? data.toString('hex') : data.toString('utf8'), binary: isBinary });
});
ws.on('unexpected-response', (req, res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => { body += chunk; });
  res.on('end', () => {
    out({ event: 'unexpected-response', status: res.statusCode, body });
    process.exit(0);
  });
});
ws.on('error', (err) => out({ event: 'error', message: String(err && err.message) }));
ws.on('close', (code, reason) => {
  out({ event: 'close', code, reason: reason.toString('utf8') });
  process.exit(0);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'send') ws.send(cmd.data);
  else if (cmd.cmd === 'send_binary') ws.send(Buffer.from(cmd.hex, 'hex'));
  else if (cmd.cmd === 'close') ws.close(cmd.code, cmd.reason || '');
  else out({ event: 'error', message: 'unknown command ' + cmd.cmd });
});
