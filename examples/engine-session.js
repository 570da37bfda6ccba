// Opens the Qlik engine with enigma.js and the session `qs-jwt login-* --output session` printed
// (read from standard input), and asks who the engine thinks the user is. Node 18+,
// npm install enigma.js ws. QLIK_CA names a CA certificate file for a server the system does
// not trust (optional).
const fs = require('fs');
const enigma = require('enigma.js');
const schema = require('enigma.js/schemas/12.170.2.json');
const WebSocket = require('ws');

const bundle = JSON.parse(fs.readFileSync(0, 'utf8'));
const ca = process.env.QLIK_CA ? fs.readFileSync(process.env.QLIK_CA) : undefined;
const session = enigma.create({
  schema,
  url: bundle.websocketUrl,
  createSocket: (url) => new WebSocket(url, {
    headers: { Cookie: bundle.cookie },
    origin: bundle.origin,
    ca,
  }),
});

(async () => {
  const global = await session.open();
  console.log(await global.getAuthenticatedUser());
  await session.close();
})().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
