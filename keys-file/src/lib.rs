//! # idpkit-keys-file
//!
//! Signing keys from files, so that every instance pointed at the same directory signs and
//! publishes identically: PKCS#8 PEM (RSA, EC P-256, Ed25519), PKCS#1 RSA PEM, SEC1 EC PEM,
//! an X.509 certificate PEM beside its private key (published with `x5c` and `x5t#S256`), and
//! JWK / JWKS JSON with private members. The `kid` is the RFC 7638 thumbprint unless a JWK
//! names its own, so two processes loading the same file publish the same `kid`.
//!
//! ## The directory
//! A key directory holds key files and a manifest, `keys.json`, that gives each key its
//! rotation state:
//! ```json
//! { "keys": [
//!     { "file": "2026-11.pem", "state": "active" },
//!     { "file": "2027-01.pem", "state": "next" },
//!     { "file": "2026-09.pem", "state": "retiring", "until": "2026-12-15T00:00:00Z" },
//!     { "file": "certificate.crt", "key": "privateKey.key", "alg": "PS256", "state": "active" }
//! ] }
//! ```
//! *next* keys are published but never sign; *active* keys sign (one per algorithm);
//! *retiring* keys are published for verification until `until`, then dropped at the next
//! reload. Without a manifest, every key file in the directory is active, and two keys of one
//! algorithm are an error.
//!
//! ## Rotation without rejected tokens
//! 1. Add the new key as `next`; [`KeyDir::reload`] everywhere (or wait for the reload
//!    interval). Keep it there at least as long as verifiers cache the JWKS.
//! 2. Make it `active` and the old one `retiring` with `until` ≥ now + the longest token
//!    lifetime.
//! 3. After `until`, delete the old entry and file.
//!
//! A reload that finds a broken manifest or key keeps the last good key set and reports the
//! error ([`KeyDir::last_error`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idpkit_core::SigningKey;
use idpkit_core::crypto::{self, der};
use idpkit_core::keys::{RotationError, rotation};
use idpkit_core::{Algorithm, Jwks, KeyError, KeyProvider, KeyRef, KeyState, LocalKeys};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The manifest's file name.
pub const MANIFEST: &str = "keys.json";

/// Why keys could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read (missing, permissions, ...).
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not a usable private key.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// The manifest is inconsistent.
    #[error("{path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(path: &Path, reason: impl Into<String>) -> KeyFileError {
    KeyFileError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    std::fs::read(path).map_err(|source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One entry of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Key file (PEM or JWK/JWKS JSON), or the certificate when `key` is set. Relative to the
    /// directory.
    pub file: String,
    /// The private key file belonging to the certificate in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The algorithm (default: RS256 for RSA, ES256 for P-256, EdDSA for Ed25519).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<Algorithm>,
    /// `use`: `enc` for one of the provider's own encryption keys (JWE: request objects
    /// encrypted to the provider), a PKCS#8 PEM RSA (RSA-OAEP-256) or EC P-256 (ECDH-ES)
    /// key, published with `use: enc`; absent (or `sig`) for a signing key. Encryption
    /// keys follow the same states: *next*, *active* and *retiring* keys are all
    /// published and all decrypt, a retiring one until `until`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// The rotation state.
    pub state: KeyState,
    /// For retiring keys: published until this time.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<OffsetDateTime>,
}

/// The manifest, `keys.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The keys.
    pub keys: Vec<ManifestEntry>,
}

/// A parsed private key, normalised to PKCS#8, with what it was found as.
struct Material {
    pkcs8: Vec<u8>,
    kind: KeyKind,
    kid: Option<String>,
    alg: Option<Algorithm>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    Ed25519,
}

impl KeyKind {
    fn default_alg(self) -> Algorithm {
        match self {
            Self::Rsa => Algorithm::RS256,
            Self::P256 => Algorithm::ES256,
            Self::Ed25519 => Algorithm::EdDSA,
        }
    }

    fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (Self::Rsa, Algorithm::RS256 | Algorithm::PS256)
                | (Self::P256, Algorithm::ES256)
                | (Self::Ed25519, Algorithm::EdDSA)
        )
    }
}

fn kind_of_pkcs8(path: &Path, der: &[u8]) -> Result<KeyKind, KeyFileError> {
    let (alg, param) =
        der::pkcs8_algorithm(der).ok_or_else(|| invalid(path, "not a PKCS#8 private key"))?;
    match alg {
        a if a == der::oid::RSA => Ok(KeyKind::Rsa),
        a if a == der::oid::ED25519 => Ok(KeyKind::Ed25519),
        a if a == der::oid::ED448 => {
            Err(invalid(path, "Ed448 keys are not supported; use Ed25519"))
        }
        a if a == der::oid::EC => match param {
            Some(c) if c == der::oid::P256 => Ok(KeyKind::P256),
            Some(c) => Err(invalid(
                path,
                format!(
                    "unsupported curve {}; only P-256 (ES256) is supported",
                    der::curve_name(c)
                ),
            )),
            None => Err(invalid(path, "EC key without a named curve")),
        },
        _ => Err(invalid(
            path,
            "unsupported key algorithm; use RSA, EC P-256 or Ed25519",
        )),
    }
}

/// Parses every private key in a PEM file.
fn parse_pem(path: &Path, bytes: &[u8]) -> Result<Vec<Material>, KeyFileError> {
    let blocks =
        pem::parse_many(bytes).map_err(|e| invalid(path, format!("not valid PEM: {e}")))?;
    if blocks.is_empty() {
        return Err(invalid(path, "no PEM block found"));
    }
    let mut keys = Vec::new();
    let mut saw_public = false;
    for b in &blocks {
        let der = b.contents();
        match b.tag() {
            "PRIVATE KEY" => keys.push(Material {
                kind: kind_of_pkcs8(path, der)?,
                pkcs8: der.to_vec(),
                kid: None,
                alg: None,
            }),
            "RSA PRIVATE KEY" => {
                if b.headers().get("Proc-Type").is_some() {
                    return Err(invalid(
                        path,
                        "encrypted PEM is not supported; decrypt the key first",
                    ));
                }
                keys.push(Material {
                    pkcs8: der::pkcs8_from_pkcs1(der),
                    kind: KeyKind::Rsa,
                    kid: None,
                    alg: None,
                })
            }
            "EC PRIVATE KEY" => {
                if b.headers().get("Proc-Type").is_some() {
                    return Err(invalid(
                        path,
                        "encrypted PEM is not supported; decrypt the key first",
                    ));
                }
                match der::sec1_curve(der) {
                    Some(c) if c == der::oid::P256 => {}
                    Some(c) => {
                        return Err(invalid(
                            path,
                            format!(
                                "unsupported curve {}; only P-256 (ES256) is supported",
                                der::curve_name(c)
                            ),
                        ));
                    }
                    None => return Err(invalid(path, "SEC1 EC key without a named curve")),
                }
                keys.push(Material {
                    pkcs8: der::pkcs8_from_sec1_p256(der),
                    kind: KeyKind::P256,
                    kid: None,
                    alg: None,
                })
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(
                    path,
                    "encrypted PEM is not supported; decrypt the key first",
                ));
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => saw_public = true,
            other => return Err(invalid(path, format!("unexpected PEM block {other:?}"))),
        }
    }
    if keys.is_empty() && saw_public {
        return Err(invalid(
            path,
            "public key or certificate only; a private key is needed to sign",
        ));
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct JwkPrivate {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn parse_jwk(path: &Path, jwk: &JwkPrivate) -> Result<Material, KeyFileError> {
    let b = |name: &str, v: &Option<String>| -> Result<Vec<u8>, KeyFileError> {
        let v = v.as_deref().ok_or_else(|| {
            invalid(
                path,
                format!("JWK member {name} is missing (a private JWK is needed)"),
            )
        })?;
        URL_SAFE_NO_PAD
            .decode(v.trim_end_matches('='))
            .map_err(|_| invalid(path, format!("JWK member {name} is not base64url")))
    };
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(a) => Some(
            Algorithm::from_name(a)
                .ok_or_else(|| invalid(path, format!("unsupported JWK alg {a:?}")))?,
        ),
    };
    let (pkcs8, kind) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            if jwk.d.is_none() {
                return Err(invalid(
                    path,
                    "public JWK only; the private member d is needed to sign",
                ));
            }
            let parts = [
                b("n", &jwk.n)?,
                b("e", &jwk.e)?,
                b("d", &jwk.d)?,
                b("p", &jwk.p)?,
                b("q", &jwk.q)?,
                b("dp", &jwk.dp)?,
                b("dq", &jwk.dq)?,
                b("qi", &jwk.qi)?,
            ];
            let ints: Vec<Vec<u8>> = parts.iter().map(|p| der::uint(p)).collect();
            let mut all: Vec<&[u8]> = vec![&[0x02, 0x01, 0x00]];
            all.extend(ints.iter().map(Vec::as_slice));
            (der::pkcs8_from_pkcs1(&der::seq(&all)), KeyKind::Rsa)
        }
        ("EC", Some("P-256")) => {
            if jwk.d.is_none() {
                return Err(invalid(
                    path,
                    "public JWK only; the private member d is needed to sign",
                ));
            }
            let sec1 = der::sec1_p256(&b("d", &jwk.d)?, &b("x", &jwk.x)?, &b("y", &jwk.y)?);
            (der::pkcs8_from_sec1_p256(&sec1), KeyKind::P256)
        }
        ("EC", crv) => {
            return Err(invalid(
                path,
                format!(
                    "unsupported curve {}; only P-256 (ES256) is supported",
                    crv.unwrap_or("(none)")
                ),
            ));
        }
        ("OKP", Some("Ed25519")) => {
            if jwk.d.is_none() {
                return Err(invalid(
                    path,
                    "public JWK only; the private member d is needed to sign",
                ));
            }
            (
                der::pkcs8_from_ed25519_seed(&b("d", &jwk.d)?),
                KeyKind::Ed25519,
            )
        }
        (kty, crv) => {
            return Err(invalid(
                path,
                format!("unsupported JWK kty {kty:?} / crv {crv:?}"),
            ));
        }
    };
    Ok(Material {
        pkcs8,
        kind,
        kid: jwk.kid.clone(),
        alg,
    })
}

fn parse_json(path: &Path, bytes: &[u8]) -> Result<Vec<Material>, KeyFileError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(path, format!("not valid JSON: {e}")))?;
    let items = match value.get("keys") {
        Some(serde_json::Value::Array(keys)) => keys.clone(),
        Some(_) => return Err(invalid(path, "\"keys\" must be an array")),
        None => vec![value],
    };
    items
        .iter()
        .map(|v| {
            let jwk: JwkPrivate = serde_json::from_value(v.clone())
                .map_err(|e| invalid(path, format!("not a JWK: {e}")))?;
            parse_jwk(path, &jwk)
        })
        .collect()
}

fn parse_file(path: &Path) -> Result<Vec<Material>, KeyFileError> {
    let bytes = read_file(path)?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim_start().starts_with('{') {
        parse_json(path, &bytes)
    } else {
        parse_pem(path, &bytes)
    }
}

fn certificate_chain(path: &Path) -> Result<Vec<Vec<u8>>, KeyFileError> {
    let bytes = read_file(path)?;
    let blocks =
        pem::parse_many(&bytes).map_err(|e| invalid(path, format!("not valid PEM: {e}")))?;
    let certs: Vec<Vec<u8>> = blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.contents().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(invalid(path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Builds the signing key for one material and algorithm.
fn signing_key(
    path: &Path,
    m: Material,
    alg: Option<Algorithm>,
) -> Result<SigningKey, KeyFileError> {
    let alg = alg.or(m.alg).unwrap_or_else(|| m.kind.default_alg());
    if !m.kind.fits(alg) {
        return Err(invalid(path, format!("{alg} does not fit this key type")));
    }
    let mut key =
        SigningKey::from_pkcs8(alg, &m.pkcs8).map_err(|e| invalid(path, e.to_string()))?;
    if let Some(kid) = m.kid {
        key.set_kid(kid);
    }
    Ok(key)
}

/// The key material of a public JWK, as it appears inside an X.509 SubjectPublicKeyInfo.
fn public_fingerprint(key: &SigningKey) -> Vec<u8> {
    let jwk = key.public_jwk();
    let field = if jwk.kty == "RSA" { &jwk.n } else { &jwk.x };
    field
        .as_deref()
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .unwrap_or_default()
}

fn load_entry(dir: &Path, entry: &ManifestEntry) -> Result<Vec<SigningKey>, KeyFileError> {
    let file = dir.join(&entry.file);
    match &entry.key {
        Some(key_file) => {
            let key_path = dir.join(key_file);
            let certs = certificate_chain(&file)?;
            let mut mats = parse_file(&key_path)?;
            if mats.len() != 1 {
                return Err(invalid(
                    &key_path,
                    "expected exactly one private key beside the certificate",
                ));
            }
            let mut key = signing_key(&key_path, mats.remove(0), entry.alg)?;
            let fp = public_fingerprint(&key);
            if fp.is_empty() || !certs[0].windows(fp.len()).any(|w| w == fp.as_slice()) {
                return Err(invalid(
                    &file,
                    format!("the certificate does not match the private key {key_file}"),
                ));
            }
            key.set_certificate_chain(
                certs.iter().map(|c| STANDARD.encode(c)).collect(),
                URL_SAFE_NO_PAD.encode(crypto::sha256(&certs[0])),
            );
            Ok(vec![key])
        }
        None => parse_file(&file)?
            .into_iter()
            .map(|m| signing_key(&file, m, entry.alg))
            .collect(),
    }
}

fn is_key_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name == MANIFEST || name.starts_with('.') {
        return false;
    }
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("pem" | "key" | "jwk" | "json")
    )
}

/// Loads a key set from a directory (see the crate docs for the manifest).
pub fn load_dir(dir: &Path, now: OffsetDateTime) -> Result<LocalKeys, KeyFileError> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = if manifest_path.exists() {
        let bytes = read_file(&manifest_path)?;
        serde_json::from_slice::<Manifest>(&bytes).map_err(|e| KeyFileError::Manifest {
            path: manifest_path.clone(),
            reason: format!("not a valid manifest: {e}"),
        })?
    } else {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| KeyFileError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_key_file(p))
            .collect();
        files.sort();
        Manifest {
            keys: files
                .iter()
                .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
                .map(|f| ManifestEntry {
                    file: f.to_owned(),
                    key: None,
                    alg: None,
                    key_use: None,
                    state: KeyState::Active,
                    until: None,
                })
                .collect(),
        }
    };
    let mut keys = Vec::new();
    let mut decryption = Vec::new();
    for entry in &manifest.keys {
        if !rotation::is_published(entry.state, entry.until, now) {
            tracing::info!(file = %entry.file, "idpkit-keys-file: retiring key is past its time; no longer published");
            continue;
        }
        match entry.key_use.as_deref() {
            None | Some("sig") => {
                for key in load_entry(dir, entry)? {
                    keys.push((key, entry.state, entry.until));
                }
            }
            Some("enc") => decryption.push((
                decryption_key(&dir.join(&entry.file))?,
                entry.state,
                entry.until,
            )),
            Some(other) => {
                return Err(KeyFileError::Manifest {
                    path: manifest_path,
                    reason: format!("{}: use {other:?}: expected sig or enc", entry.file),
                });
            }
        }
    }
    let manifest_error = |e: RotationError| KeyFileError::Manifest {
        path: manifest_path.clone(),
        reason: match e {
            RotationError::NoActiveKey { .. } => format!("{e} in {}", dir.display()),
            e => e.to_string(),
        },
    };
    let set = LocalKeys::with_schedule(keys).map_err(manifest_error)?;
    if decryption.is_empty() {
        return Ok(set);
    }
    set.with_decryption_keys(decryption).map_err(manifest_error)
}

/// An encryption key file: one PKCS#8 PEM private key (RSA or EC P-256).
fn decryption_key(path: &Path) -> Result<idpkit_core::DecryptionKey, KeyFileError> {
    let bytes = read_file(path)?;
    let pems = pem::parse_many(&bytes).map_err(|e| invalid(path, format!("not valid PEM: {e}")))?;
    match pems.as_slice() {
        [p] if p.tag() == "PRIVATE KEY" => idpkit_core::DecryptionKey::from_pkcs8(p.contents())
            .map_err(|e| invalid(path, format!("not an encryption key: {e}"))),
        _ => Err(invalid(
            path,
            "an encryption key (use enc) is one PKCS#8 PEM private key (BEGIN PRIVATE KEY)",
        )),
    }
}

/// A key directory: a [`KeyProvider`] that can be reloaded without a restart.
pub struct KeyDir {
    dir: PathBuf,
    current: RwLock<Arc<LocalKeys>>,
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for KeyDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDir")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl KeyDir {
    /// Loads the keys in `dir`; an empty directory is an error.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, KeyFileError> {
        let dir = dir.into();
        let keys = load_dir(&dir, OffsetDateTime::now_utc())?;
        Ok(Self {
            dir,
            current: RwLock::new(Arc::new(keys)),
            last_error: Mutex::new(None),
        })
    }

    /// Loads the keys in `dir`, first creating the directory and a key for each of `algs`
    /// (files `signing-<alg>.pem`, mode 0600, and a manifest) when it holds no key yet.
    pub fn open_or_create(
        dir: impl Into<PathBuf>,
        algs: &[Algorithm],
    ) -> Result<Self, KeyFileError> {
        let dir = dir.into();
        create_if_missing(&dir, algs)?;
        Self::open(dir)
    }

    /// Re-reads the directory. On failure the last good key set stays in use and the error
    /// is returned (and kept for [`last_error`](Self::last_error)).
    pub fn reload(&self) -> Result<(), KeyFileError> {
        match load_dir(&self.dir, OffsetDateTime::now_utc()) {
            Ok(keys) => {
                let changed = fingerprint(&self.keys()) != fingerprint(&keys);
                if changed {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                    tracing::info!(dir = %self.dir.display(), "idpkit-keys-file: key set reloaded");
                }
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "idpkit-keys-file: reload failed; keeping the last good key set");
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// The error of the last failed reload, until a reload succeeds.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads every `every` on the current tokio runtime until the returned handle is
    /// aborted or the `KeyDir` is dropped.
    pub fn spawn_reload(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(dir) = weak.upgrade() else { break };
                let _ = tokio::task::spawn_blocking(move || dir.reload()).await;
            }
        })
    }

    fn keys(&self) -> Arc<LocalKeys> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What identifies a key set, so that reloading an unchanged directory keeps the same set
/// (and the published JWKS bytes stay cached).
fn fingerprint(keys: &LocalKeys) -> Vec<(String, String, KeyState)> {
    keys.published()
        .into_iter()
        .map(|(jwk, state)| {
            (
                jwk.kid.clone().unwrap_or_default(),
                serde_json::to_string(jwk).unwrap_or_default(),
                state,
            )
        })
        .collect()
}

#[async_trait]
impl KeyProvider for KeyDir {
    async fn jwks(&self) -> Result<Arc<Jwks>, KeyError> {
        self.keys().jwks().await
    }
    async fn signing_key(&self, alg: Algorithm) -> Result<KeyRef, KeyError> {
        self.keys().signing_key(alg).await
    }
    async fn sign(&self, key: &KeyRef, signing_input: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.keys().sign(key, signing_input).await
    }
    fn algorithms(&self) -> Vec<Algorithm> {
        self.keys().algorithms()
    }
    fn decryption_keys(&self) -> Vec<Arc<idpkit_core::DecryptionKey>> {
        self.keys().decryption_keys()
    }
}

fn create_if_missing(dir: &Path, algs: &[Algorithm]) -> Result<(), KeyFileError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyFileError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let has_keys = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .any(|e| is_key_file(&e.path()) || e.file_name() == MANIFEST);
    if has_keys {
        return Ok(());
    }
    let mut manifest = Manifest::default();
    for alg in algs {
        let (_, pkcs8) = SigningKey::generate(*alg).map_err(|e| invalid(dir, e.to_string()))?;
        let name = format!("signing-{}.pem", alg.as_str().to_ascii_lowercase());
        let path = dir.join(&name);
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
        write_private(&path, pem.as_bytes()).map_err(io(&path))?;
        manifest.keys.push(ManifestEntry {
            file: name,
            key: None,
            alg: Some(*alg),
            key_use: None,
            state: KeyState::Active,
            until: None,
        });
        tracing::warn!(file = %path.display(), "idpkit-keys-file: generated a new signing key");
    }
    let path = dir.join(MANIFEST);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| invalid(&path, e.to_string()))?;
    std::fs::write(&path, json).map_err(io(&path))?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
