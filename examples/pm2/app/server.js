// A minimal service for the example: serves the build's `index.html` at
// `/` with the HTTP status written in the build's `status` file (200 when
// absent), so that a test can deploy a release that turns unhealthy.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const dir = path.resolve(process.env.SITE_DIR || 'build');
const port = Number(process.env.PORT || 3000);

function read(name, fallback) {
  try {
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch {
    return fallback;
  }
}

const server = http.createServer((req, res) => {
  // Read on every request: the build output is the release.
  const status = Number(read('status', '200').trim()) || 200;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(read('index.html', 'no build\n'));
});

server.listen(port, '127.0.0.1', () => {
  if (process.send) process.send('ready');
});
process.on('SIGINT', () => server.close(() => process.exit(0)));
