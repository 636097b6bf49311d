// An MCP client built from the official TypeScript SDK (@modelcontextprotocol/sdk), driven
// by the Rust tests (examples/host/tests/mcp.rs) and usable by hand.
//
//   node mcp_client.mjs --server http://127.0.0.1:8090/mcp \
//        [--redirect http://127.0.0.1:9999/callback] [--client-metadata-url https://…] \
//        [--tool whoami] [--token ACCESS_TOKEN]
//
// Without --token it runs the SDK's own OAuth flow: it connects, gets a 401, discovers the
// authorization server from the server's protected resource metadata (RFC 9728), registers
// (a client ID metadata document when --client-metadata-url is given and the server
// supports them, else dynamic registration, RFC 7591), and sends the user to the
// authorization endpoint (PKCE S256, `resource`). This script cannot open a browser: it
// prints {"event":"authorize","url":…} and reads one line from stdin, the URL the browser
// was redirected to (or just the code). It then exchanges the code (transport.finishAuth),
// reconnects, lists the tools, calls --tool with no arguments and prints
// {"event":"result",…}.
//
// With --token it presents that access token as it is (no OAuth provider) and prints
// {"event":"result",…} or, when the server refuses it, {"event":"refused",…}.
//
// Every line on stdout is one JSON object.

import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

function flags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`usage: --name value pairs; got ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

const args = flags(process.argv.slice(2));
if (!args.server) throw new Error('--server URL is required');
const serverUrl = new URL(args.server);
const redirectUrl = args.redirect ?? 'http://127.0.0.1:9999/callback';
const toolName = args.tool ?? 'whoami';

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function readLine() {
  const { value, done } = await stdinLines.next();
  if (done) throw new Error('stdin closed before the redirect URL came');
  return value.trim();
}

// An in-memory OAuthClientProvider: one user, one authorization server, one run.
class Provider {
  constructor() {
    this.saved = {};
    this.expectedState = randomBytes(16).toString('base64url');
    if (args['client-metadata-url']) this.clientMetadataUrl = args['client-metadata-url'];
  }
  get redirectUrl() { return redirectUrl; }
  get clientMetadata() {
    return {
      client_name: 'idpkit MCP test client (TypeScript SDK)',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return this.expectedState; }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; emit({ event: 'client', client: info }); }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  redirectToAuthorization(url) { emit({ event: 'authorize', url: url.toString() }); }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() {
    if (!this.saved.verifier) throw new Error('no code verifier saved');
    return this.saved.verifier;
  }
  saveDiscoveryState(s) { this.saved.discovery = s; }
  discoveryState() { return this.saved.discovery; }
}

async function callTool(client) {
  const tools = await client.listTools();
  const result = await client.callTool({ name: toolName, arguments: {} });
  return { tools: tools.tools.map((t) => t.name), result };
}

const clientInfo = { name: 'idpkit-mcp-test', version: '1.0.0' };

async function withToken(token) {
  const transport = new StreamableHTTPClientTransport(serverUrl, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client(clientInfo);
  try {
    await client.connect(transport);
  } catch (e) {
    if (e instanceof StreamableHTTPError) {
      emit({ event: 'refused', status: e.code, message: e.message });
      return;
    }
    throw e;
  }
  emit({ event: 'result', ...(await callTool(client)) });
  await client.close();
}

async function withOAuth() {
  const provider = new Provider();
  const first = new Client(clientInfo);
  try {
    await first.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
    throw new Error('the server accepted a connection without a token');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  // The user agent came back to the redirect URI: take the code (and check the state).
  const answer = await readLine();
  let code = answer;
  if (answer.includes('://')) {
    const back = new URL(answer);
    const error = back.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error} ${back.searchParams.get('error_description') ?? ''}`);
    if (back.searchParams.get('state') !== provider.expectedState) throw new Error('state mismatch');
    code = back.searchParams.get('code');
  }
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  await transport.finishAuth(code);
  const client = new Client(clientInfo);
  await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  emit({
    event: 'result',
    ...(await callTool(client)),
    client: provider.saved.client,
    tokens: provider.saved.tokens,
    discovery: {
      authorization_server: provider.saved.discovery?.authorizationServerUrl,
      resource_metadata: provider.saved.discovery?.resourceMetadata,
    },
  });
  await client.close();
}

try {
  if (args.token) await withToken(args.token);
  else await withOAuth();
  process.exit(0);
} catch (e) {
  emit({ event: 'error', message: String(e?.stack ?? e) });
  process.exit(1);
}
