// A local Direct Line 3.0 for the end-to-end tests: offline-directline, bound to 127.0.0.1.
//   node directline.js <port> <bot messaging endpoint>
// offline-directline serves /directline/...; Web Chat calls /v3/directline/..., so the router
// is mounted twice. Azure's POST /v3/directline/tokens/generate, which offline-directline
// lacks, is stood in for: it answers a token bound to the user id asked for.
'use strict';
const express = require('express');
const { getRouter } = require('offline-directline');

const [port, botUrl] = process.argv.slice(2);
const serviceUrl = `http://127.0.0.1:${port}`;
const app = express();

app.post('/v3/directline/tokens/generate', express.json(), (req, res) => {
  if (!/^Bearer .+/.test(req.get('Authorization') || '')) {
    return res.status(403).json({ error: { code: 'BadArgument', message: 'no secret' } });
  }
  const user = (req.body && req.body.user && req.body.user.id) || 'anonymous';
  res.json({ conversationId: null, token: `local-token-for-${user}`, expires_in: 1800 });
});

const router = getRouter(serviceUrl, botUrl);
app.use('/v3', router);
app.use(router);
app.listen(Number(port), '127.0.0.1', () => console.log(`Direct Line at ${serviceUrl}`));
