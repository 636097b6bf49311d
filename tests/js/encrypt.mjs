// Encrypts a plaintext with the npm `jose` library, for the Rust tests (#17 item 6):
// `node encrypt.mjs PLAINTEXT PUBLIC_JWK_JSON ALG ENC [CTY]`. Prints the compact JWE.
import { CompactEncrypt, importJWK } from 'jose';

const [plaintext, jwkJson, alg, enc, cty] = process.argv.slice(2);
const jwk = JSON.parse(jwkJson);
const key = await importJWK(jwk, alg);
const header = { alg, enc };
if (jwk.kid) header.kid = jwk.kid;
if (cty) header.cty = cty;
const jwe = await new CompactEncrypt(new TextEncoder().encode(plaintext))
  .setProtectedHeader(header)
  .encrypt(key);
console.log(jwe);
