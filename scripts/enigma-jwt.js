// The engine proof as enigma.js's JWT example does it (enigma.js docs, "sense-using-jwt"), for
// scripts/bench.sh (ONLY=engine) to measure beside `qs-jwt login-qseow`: the same steps against
// the same stand-in. Signs the JWT with jsonwebtoken, logs in through the virtual proxy with
// it (GET qrs/about, the session cookie back), gets the CSRF token (GET qps/csrftoken), opens
// the WebSocket with ws (the cookie, the server's origin, the token in the query), opens the
// session with enigma.js, asks getAuthenticatedUser and engineVersion, closes it and ends the
// proxy session (DELETE qps/user).
// Usage: NODE_EXTRA_CA_CERTS=ca.pem NODE_PATH=<node_modules> node scripts/enigma-jwt.js \
//          https://host:port/prefix key.pem audience
// Needs enigma.js, ws and jsonwebtoken (npm). Prints the engine's user and version.
const fs = require('fs');
const https = require('https');
const crypto = require('crypto');
const enigma = require('enigma.js');
const schema = require('enigma.js/schemas/12.170.2.json');
const WebSocket = require('ws');
const jwt = require('jsonwebtoken');

const [server, keyFile, audience] = process.argv.slice(2);
const base = new URL(server);
const origin = base.origin;
const agent = new https.Agent({ keepAlive: true });

const token = jwt.sign(
  { userId: 'anna', userDirectory: 'CORP' },
  fs.readFileSync(keyFile),
  { algorithm: 'RS256', audience, expiresIn: '5m' },
);

// One request through the virtual proxy; resolves to the response (its body read).
function request(method, path, headers) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server}/${path}`, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end();
  });
}

(async () => {
  const xrfkey = crypto.randomBytes(8).toString('hex');
  const login = await request('GET', `qrs/about?xrfkey=${xrfkey}`, {
    Authorization: `Bearer ${token}`,
    'X-Qlik-Xrfkey': xrfkey,
  });
  if (login.statusCode !== 200) throw new Error(`login: HTTP ${login.statusCode}`);
  const cookie = (login.headers['set-cookie'] || [])
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('X-Qlik-Session-'));
  if (!cookie) throw new Error('login: no session cookie');
  const csrf = await request('GET', 'qps/csrftoken', { Cookie: cookie });
  const csrfToken = csrf.headers['qlik-csrf-token'];
  if (!csrfToken) throw new Error(`csrf token: HTTP ${csrf.statusCode}`);

  const url = `wss://${base.host}${base.pathname}/app/engineData?qlik-csrf-token=${encodeURIComponent(csrfToken)}`;
  const session = enigma.create({
    schema,
    url,
    createSocket: (u) => new WebSocket(u, { headers: { Cookie: cookie }, origin }),
  });
  const global = await session.open();
  const user = await global.getAuthenticatedUser();
  const version = await global.engineVersion();
  await session.close();
  await request('DELETE', 'qps/user', { Cookie: cookie });
  agent.destroy();
  console.log(`${user} ${version.qComponentVersion}`);
})().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
