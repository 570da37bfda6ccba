//! The TLS layer of a login's connection: rustls on aws-lc-rs with qs-jwt's own certificate
//! verifier, plugged into ureq as the last connector of its chain (ureq's own rustls connector
//! takes no verifier of ours).
//!
//! Why a verifier of our own: QSEoW test sites run on a self-signed certificate
//! (`openssl req -x509`), which says it is a certificate authority. webpki refuses such a
//! certificate as a server's own (`CaUsedAsEndEntity`), even when the user trusts it with
//! `--cacert`. A server that presents the very certificate `--cacert` holds is taken as pinned:
//! the name and the dates are still checked, the chain is not (there is none). Every other
//! certificate goes through webpki as before.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::verbose;

/// The rustls client configuration of one run: verification off (`--insecure`), or the
/// certificate authorities in `roots` and the certificates in `pinned` (`--cacert`'s).
pub(super) fn client_config(
    insecure: bool,
    roots: Vec<CertificateDer<'static>>,
    pinned: Vec<CertificateDer<'static>>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(NoVerification(provider.clone()))
    } else {
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(roots);
        verbose!("{added} certificate authorities trusted, {ignored} unreadable ones left out");
        // An empty store (no system store, no --cacert) builds no verifier: every certificate
        // is then one of an unknown authority, unless it is pinned.
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .ok();
        Arc::new(Verifier {
            webpki,
            pinned,
            provider: provider.clone(),
        })
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    // A client certificate (QSEoW's repository API). rustls' own check that the key is the
    // certificate's (`with_client_auth_cert`, `keys_match`) reads the certificate with webpki,
    // which refuses an X.509 v1 certificate (what `openssl x509 -req` makes without
    // extensions) that TLS can send and curl takes: the key is compared with the
    // certificate's public key here, by the certificate's DER (x509-cert reads every version).
    Ok(Arc::new(match identity {
        Some((chain, key)) => {
            let key = provider.key_provider.load_private_key(key)?;
            if let Some(first) = chain.first()
                && let Some(spki) = key.public_key()
                && certificate_spki(first).is_some_and(|theirs| theirs != spki.as_ref())
            {
                return Err(rustls::Error::InconsistentKeys(
                    rustls::InconsistentKeys::KeyMismatch,
                ));
            }
            let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, key));
            builder.with_client_cert_resolver(Arc::new(ClientIdentity(certified)))
        }
        None => builder.with_no_client_auth(),
    }))
}

/// A certificate's SubjectPublicKeyInfo, as DER; `None` when x509-cert cannot read it.
fn certificate_spki(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    use x509_cert::der::Encode as _;
    let cert = Certificate::from_der(cert.as_ref()).ok()?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// The one client certificate of a run, sent whenever a server asks for one.
#[derive(Debug)]
struct ClientIdentity(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// webpki for certificates signed by a trusted authority; for a certificate that `--cacert`
/// holds itself, the name and the dates.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            verify_pinned(end_entity, server_name, now)?;
            verbose!("the server's certificate is the one --cacert holds (pinned)");
            return Ok(ServerCertVerified::assertion());
        }
        match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A pinned certificate must still be made out to the host, and valid now.
fn verify_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    rustls::client::verify_server_name(&parsed, server_name)?;
    let bad = rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let cert = Certificate::from_der(cert.as_ref()).map_err(|_| bad)?;
    let validity = cert.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration();
    let not_after = validity.not_after.to_unix_duration();
    let at = |d: Duration| UnixTime::since_unix_epoch(d);
    if now.as_secs() > not_after.as_secs() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: at(not_after),
            },
        ));
    }
    if now.as_secs() < not_before.as_secs() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: at(not_before),
            },
        ));
    }
    Ok(())
}

/// `--insecure`: every certificate is taken; the signatures of the handshake are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The connector that wraps the TCP (or proxy CONNECT) transport in TLS with our
/// configuration: ureq's `RustlsConnector`, with the configuration given rather than built.
pub(super) struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish()
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .authority()
            .map(|a| a.host())
            .unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ureq::Error::Tls("the host is not a valid name for TLS"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject as _;

    fn identity(cert: &str, key: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (
            chain,
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
    }

    /// An X.509 v1 client certificate (`openssl x509 -req` without extensions) with its key is
    /// taken: webpki, which rustls' own key check used, refuses v1. Another key is still refused
    /// as not the certificate's.
    #[test]
    fn a_v1_client_certificate_with_its_key_is_taken() {
        let cert = include_str!("../../tests/fixtures/client-v1.pem");
        let key = include_str!("../../tests/fixtures/rsa2048-pkcs1.pem");
        let other = include_str!("../../tests/fixtures/ec-p256-pkcs8.pem");
        assert!(client_config(true, vec![], vec![], Some(identity(cert, key))).is_ok());
        assert!(matches!(
            client_config(true, vec![], vec![], Some(identity(cert, other))),
            Err(rustls::Error::InconsistentKeys(_))
        ));
    }
}
