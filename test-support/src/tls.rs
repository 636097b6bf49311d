//! An https server for tests: a throwaway CA, a server certificate for `127.0.0.1` and
//! `localhost` signed by it, and an axum router served over rustls on an ephemeral
//! loopback port. Trust the CA with the example host's `--dangerous-extra-root-ca
//! CA_PEM_PATH` (and `--dangerous-allow-loopback-fetch`), or Node's
//! `NODE_EXTRA_CA_CERTS=CA_PEM_PATH`.
//!
//! ```no_run
//! # async fn demo() {
//! let server = idpkit_test_support::tls::https_server(axum::Router::new()).await;
//! let doc = server.url("/client.json"); // https://127.0.0.1:PORT/client.json
//! let ca = &server.ca_pem_path;         // PEM file of the CA
//! # let _ = (doc, ca);
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A running https server; stops when dropped.
pub struct TlsServer {
    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// The listening address.
    pub addr: SocketAddr,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: String,
    /// A file holding [`ca_pem`](Self::ca_pem), removed when the server is dropped.
    pub ca_pem_path: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    /// An absolute URL on the server, e.g. `url("/client.json")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The same URL with the host `localhost` instead of `127.0.0.1`.
    pub fn localhost_url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.addr.port(), path)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh CA and a server certificate for `127.0.0.1`, `::1` and `localhost`: (CA PEM,
/// server certificate DER, server key DER).
pub fn throwaway_ca() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "idpkit test CA (throwaway)");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("server key");
    let cert = leaf.signed_by(&key, &ca).expect("server certificate");
    (
        ca.pem(),
        cert.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

/// Serves `router` over https on `127.0.0.1:0` with a certificate from a fresh
/// [`throwaway_ca`] (HTTP/1.1).
pub async fn https_server(router: axum::Router) -> TlsServer {
    let (ca_pem, cert, key) = throwaway_ca();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_pem_path = dir.path().join("ca.pem");
    std::fs::write(&ca_pem_path, &ca_pem).expect("write CA PEM");
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TlsServer {
        base: format!("https://{addr}"),
        addr,
        ca_pem,
        ca_pem_path,
        _dir: dir,
        task,
    }
}
