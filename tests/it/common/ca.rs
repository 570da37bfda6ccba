//! The tests' one certificate authority and every certificate the stand-ins present or hand
//! out, made at test time with rcgen (ECDSA for the servers, the fixture's RSA key for the
//! QMC's client certificate). A stand-in makes its own `TestCa` when it starts, so a test's
//! `--cacert` trusts that stand-in and no other.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// A certificate authority, as a site's root.pem or a tenant's corporate CA.
pub struct TestCa {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA named `name` (its common name).
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate, what `--cacert` takes.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for 127.0.0.1 and localhost, named `name`, signed by this CA,
    /// presented with the CA's certificate after it.
    pub fn server(&self, name: &str) -> ServerCertificate {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCertificate {
            ca_pem: self.pem.clone(),
            chain: vec![cert.der().clone(), self.der.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// A client certificate for `key`, its common name `name`, signed by this CA (PEM).
    pub fn client_certificate(&self, key: &KeyPair, name: &str) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.signed_by(key, &self.issuer).unwrap().pem()
    }
}

/// What a stand-in presents: its certificate chain and key, and the certificate a client
/// trusts it by (`ca_pem`: the CA's, or for a self-signed one its own).
pub struct ServerCertificate {
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl ServerCertificate {
    /// A self-signed server certificate for `names`, as `openssl req -x509` makes one: it says
    /// it is a certificate authority (CA:TRUE). `ca_pem` is that certificate itself. With
    /// `expired`, it was valid in 2020 only.
    pub fn self_signed(names: &[&str], expired: bool) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "qs-jwt self-signed test server");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// The TLS settings of a server that asks no client certificate.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key())
            .unwrap();
        Arc::new(config)
    }

    /// The TLS settings of a server that demands a client certificate signed by `clients`
    /// (mutual TLS, as QSEoW's repository port).
    pub fn config_for_clients_of(&self, clients: &TestCa) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(clients.der.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key())
            .unwrap();
        Arc::new(config)
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// A client certificate and key that no stand-in's CA signed (PKCS#8, `BEGIN PRIVATE KEY`):
/// what another site's QMC exported.
pub fn foreign_client_certificate() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "QlikClient");
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A certificate for another RSA key than the fixture's: a virtual proxy that holds it refuses
/// tokens signed by the fixture key.
pub fn other_jwt_certificate() -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "another key");
    params.self_signed(&key).unwrap().pem()
}

/// The TLS settings of a server that demands a client certificate signed by the CA `ca_pem`
/// and takes an X.509 v1 one, which rustls' WebPkiClientVerifier (webpki) refuses: QSEoW's
/// repository takes what its QMC exported, and old QMCs export v1 (issue 27). TLS 1.3 only,
/// so that the client's handshake signature is checked over the certificate's public key.
pub fn config_for_v1_clients(
    server: &ServerCertificate,
    ca_pem: &str,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let ca = rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).unwrap();
    let verifier = Arc::new(V1ClientVerifier {
        ca,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(server.chain.clone(), server.key())
        .unwrap();
    Arc::new(config)
}

/// A client certificate is taken when the CA's key verifies its signature and it is within
/// its dates, whatever its version; the handshake's signature is checked with its key.
#[derive(Debug)]
struct V1ClientVerifier {
    ca: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

fn bad_certificate(why: &str) -> rustls::Error {
    rustls::Error::General(format!(
        "the stand-in refuses the client certificate: {why}"
    ))
}

impl rustls::server::danger::ClientCertVerifier for V1ClientVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, ca) = X509Certificate::from_der(&self.ca).unwrap();
        let (_, cert) =
            X509Certificate::from_der(end_entity).map_err(|_| bad_certificate("not X.509"))?;
        cert.verify_signature(Some(ca.public_key()))
            .map_err(|_| bad_certificate("not signed by the site's CA"))?;
        let now = now.as_secs() as i64;
        let validity = cert.validity();
        if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
            return Err(bad_certificate("outside its dates"));
        }
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(bad_certificate("TLS 1.2 is not offered"))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, parsed) =
            X509Certificate::from_der(cert).map_err(|_| bad_certificate("not X.509"))?;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
