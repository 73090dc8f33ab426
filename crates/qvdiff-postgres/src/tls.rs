//! TLS for the `postgres` driver: rustls with the `ring` provider, checking the server's
//! certificate as libpq's `sslmode` asks.
//!
//! | mode | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | `prefer`, `require` | yes | no | no |
//! | `verify-ca` (or `require` with `sslrootcert`) | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! Even when the certificate is not checked, the handshake's signature is: the server must hold
//! the key of the certificate it shows.

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Encrypt, check nothing but the handshake signature (`prefer`, `require`).
    None,
    /// Check the chain up to a trusted root, not the host name (`verify-ca`).
    Chain,
    /// Check the chain and that the certificate names the host (`verify-full`).
    Full,
}

/// The rustls provider qvdiff uses: `ring`, which builds with a C compiler alone (aws-lc-rs,
/// rustls' default, also needs CMake). rustls marks it deprecated only because it lacks the
/// post-quantum key exchange.
///
/// The client offers a key share for its first key-exchange group only; P-256 comes first
/// because it is PostgreSQL's default (`ssl_ecdh_curve = prime256v1` up to version 17, and in
/// version 18's `ssl_groups`): offering X25519 first made such a server ask again
/// (HelloRetryRequest), one more round trip before every connection.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group;
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::SECP256R1, kx_group::X25519, kx_group::SECP384R1],
        ..rustls::crypto::ring::default_provider()
    })
}

/// A rustls client configuration for `verification` against `roots` (unused for
/// [`Verification::None`]).
pub fn client_config(
    verification: Verification,
    roots: RootCertStore,
) -> Result<ClientConfig, rustls::Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::None => Arc::new(HostNameUnchecked {
            chain: None,
            provider,
        }),
        Verification::Chain | Verification::Full => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| rustls::Error::General(e.to_string()))?;
            if verification == Verification::Full {
                webpki
            } else {
                Arc::new(HostNameUnchecked {
                    chain: Some(webpki),
                    provider,
                })
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The verifier of the modes that leave the host name unchecked: the chain up to a trusted root
/// when `chain` is given (libpq's `verify-ca`), no certificate at all otherwise (`require`).
/// The handshake signatures are always checked, with the provider's algorithms (as
/// [`WebPkiServerVerifier`] checks them).
#[derive(Debug)]
struct HostNameUnchecked {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for HostNameUnchecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain before the name, so a name error means the chain is good.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// The driver's TLS connector: one rustls configuration, used for every host of the URL.
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
}

impl MakeRustlsConnect {
    /// A connector using `config`.
    pub fn new(config: ClientConfig) -> MakeRustlsConnect {
        MakeRustlsConnect {
            config: Arc::new(config),
        }
    }
}

impl MakeTlsConnect<Socket> for MakeRustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        // The driver asks before it knows whether TLS will be used: for a Unix socket (no host
        // name) the server declines TLS and `connect` is never called.
        Ok(RustlsConnect {
            config: self.config.clone(),
            server_name: ServerName::try_from(domain)
                .ok()
                .map(|name| name.to_owned()),
            domain: domain.to_string(),
        })
    }
}

/// The connector for one host.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
    domain: String,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        let server_name = self.server_name;
        let domain = self.domain;
        Box::pin(async move {
            let server_name = server_name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("\"{domain}\" is not a host name a TLS certificate can name"),
                )
            })?;
            let stream = connector.connect(server_name, socket).await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

/// An encrypted connection to the server.
pub struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        // The `tls-server-end-point` binding hashes the certificate with the hash of its own
        // signature algorithm; without it SCRAM runs unbound, which every server accepts unless
        // the client asks for `channel_binding=require`.
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_share_is_the_one_postgresql_takes_by_default() {
        // A server with its default `ssl_ecdh_curve` answers an X25519 share with a
        // HelloRetryRequest: a round trip more on every connection.
        let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups[0], rustls::NamedGroup::secp256r1, "{groups:?}");
        assert!(groups.contains(&rustls::NamedGroup::X25519), "{groups:?}");
    }
}
