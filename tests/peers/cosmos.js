// The Cosmos DB API server for the tests and the benchmark, on 127.0.0.1:<port>, over HTTPS.
//   node cosmos.js <port> [latency-ms]
// Its CLI answers every request with "Connection: close", which would make every client
// call pay a new TLS handshake; Azure Cosmos DB keeps connections alive, and so does this.
// latency-ms holds every request that long before answering it: the round trip between an
// app and its Cosmos DB account, which loopback does not have.
'use strict';
const { createHttpsServer } = require('@vercel/cosmosdb-server');

const port = Number(process.argv[2]);
const latencyMs = Number(process.argv[3] || 0);
const server = createHttpsServer({ keepAlive: true });
// Node closes a connection idle for 5 s by default, while the bot's client (aiohttp) reuses
// one for 15 s: a request sent as the server closes it fails ("connection reset"). Azure's
// gateway keeps idle connections for minutes, longer than the client, so this does too.
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
// What the benchmark's capacity plan needs: each document request, counted with the bytes
// of the document it carried (written) or returned (read). GET /_counts answers the totals.
const counts = {};
function count(req, res) {
  const path = req.url.split('?')[0];
  if (!/\/docs(\/[^/]+)?\/?$/.test(path)) {
    // Anything else (the account, a database, a container, partition key ranges).
    const route = `${req.method} ${path.replace(/\/+/g, '/').replace(/\/(dbs|colls)\/[^/]+/g, '/$1/*')}`;
    counts.other = counts.other || {};
    counts.other[route] = (counts.other[route] || 0) + 1;
    return;
  }
  const kind = req.method === 'GET' ? 'read'
    : req.method === 'DELETE' ? 'delete'
    : req.headers['x-ms-documentdb-isquery'] ? 'query' : 'write';
  let requestBytes = 0;
  let responseBytes = 0;
  req.on('data', (chunk) => { requestBytes += chunk.length; });
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  res.write = (chunk, ...rest) => { responseBytes += chunk ? Buffer.byteLength(chunk) : 0; return write(chunk, ...rest); };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') responseBytes += Buffer.byteLength(chunk);
    const entry = counts[kind] || (counts[kind] = { requests: 0, documentBytes: [] });
    entry.requests += 1;
    if (res.statusCode < 300) entry.documentBytes.push(kind === 'write' ? requestBytes : responseBytes);
    return end(chunk, ...rest);
  };
}
const handlers = server.listeners('request');
server.removeAllListeners('request');
server.on('request', (req, res) => {
  if (req.url === '/_counts') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(counts));
    return;
  }
  // Counted as it is handled: a listener on the body any earlier would drain it first.
  const handle = () => {
    count(req, res);
    handlers.forEach((handler) => handler.call(server, req, res));
  };
  if (latencyMs > 0) setTimeout(handle, latencyMs);
  else handle();
});
server.listen(port, '127.0.0.1', () => {
  console.log(`Cosmos DB API at https://127.0.0.1:${port}` + (latencyMs ? ` (+${latencyMs} ms)` : ''));
});
