// node-oidc-provider configured like the idpkit side of bench/compare.py: one confidential
// client (client_secret_basic), client_credentials, JWT access tokens for audience
// `demo-api` with scope `api:read`, one signing key (RS256 or ES256), in-memory storage.
//
// Usage: node server.mjs PORT ALG WORKERS JWK_FILE
// With WORKERS > 1 the node `cluster` module shares the port between workers.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [port, alg, workers, jwkFile] = process.argv.slice(2);
const n = Number(workers);

if (cluster.isPrimary && n > 1) {
  for (let i = 0; i < n; i += 1) cluster.fork();
  cluster.on('exit', () => process.exit(1));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const { default: Provider } = await import('oidc-provider');
  const key = JSON.parse(readFileSync(jwkFile, 'utf8'));
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'bench-client',
      client_secret: 'bench-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
    }],
    jwks: { keys: [{ ...key, alg, use: 'sig' }] },
    scopes: ['api:read'],
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://demo-api.example',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience: 'demo-api',
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  http.createServer(provider.callback()).listen(Number(port), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
