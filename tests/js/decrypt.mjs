// Decrypts a compact JWE with the npm `jose` library and prints what it carries, for the
// Rust tests (#17 item 6): `node decrypt.mjs JWE PKCS8_PEM_FILE ALG [JWKS_URL]`.
// Prints one JSON line {"header": protected header, "claims": ...}: for a nested JWT
// (cty JWT) the inner JWS is verified against JWKS_URL and its payload printed; otherwise
// the plaintext is parsed as JSON.
import { readFileSync } from 'node:fs';
import { compactDecrypt, createRemoteJWKSet, importPKCS8, jwtVerify } from 'jose';

const [jwe, keyFile, alg, jwksUrl] = process.argv.slice(2);
const key = await importPKCS8(readFileSync(keyFile, 'utf8'), alg);
const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, {
  keyManagementAlgorithms: [alg],
  contentEncryptionAlgorithms: ['A128GCM', 'A256GCM'],
});
const text = new TextDecoder().decode(plaintext);
let claims;
if (protectedHeader.cty === 'JWT') {
  const { payload } = await jwtVerify(text, createRemoteJWKSet(new URL(jwksUrl)));
  claims = payload;
} else {
  claims = JSON.parse(text);
}
console.log(JSON.stringify({ header: protectedHeader, claims }));
