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
if (latencyMs > 0) {
  const handlers = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    setTimeout(() => handlers.forEach((handle) => handle.call(server, req, res)), latencyMs);
  });
}
server.listen(port, '127.0.0.1', () => {
  console.log(`Cosmos DB API at https://127.0.0.1:${port}` + (latencyMs ? ` (+${latencyMs} ms)` : ''));
});
