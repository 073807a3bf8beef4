// The Cosmos DB API server for the tests and the benchmark, on 127.0.0.1:<port>, over HTTPS.
//   node cosmos.js <port>
// Its CLI answers every request with "Connection: close", which would make every client
// call pay a new TLS handshake; Azure Cosmos DB keeps connections alive, and so does this.
'use strict';
const { createHttpsServer } = require('@vercel/cosmosdb-server');

const port = Number(process.argv[2]);
createHttpsServer({ keepAlive: true }).listen(port, '127.0.0.1', () => {
  console.log(`Cosmos DB API at https://127.0.0.1:${port}`);
});
