//! TLS for database connections, and the plain sentences its failures turn into.
//!
//! Both drivers use rustls with the aws-lc-rs provider that reqwest already links, so the
//! binary carries one TLS stack. tokio-postgres has no rustls glue of its own, so
//! [`PgTls`] implements its `MakeTlsConnect`; mysql_async takes [`my_ssl_opts`].
//!
//! Modes: `require` encrypts without checking the certificate; `verify-ca` checks that a
//! trusted authority signed it; `verify-full` also checks that it names the host. Trusted
//! authorities are the CA certificate given in the config, or else the public web
//! authorities (webpki-roots, compiled in, so the runner image needs no CA bundle).

use anyhow::{Context, Result, bail};
use hakobu_core::config::{Tls, TlsMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The PEM bytes of the configured CA: the text itself, or the file it names.
fn ca_pem(ca: &str) -> Result<Vec<u8>> {
    if ca.contains("-----BEGIN") {
        return Ok(ca.as_bytes().to_vec());
    }
    std::fs::read(ca.trim()).with_context(|| {
        format!(
            "ssl_ca_certificate: cannot read {:?}; give the PEM text (-----BEGIN CERTIFICATE----- ...) or the path of a PEM file",
            ca.trim()
        )
    })
}

/// Certificates of the configured CA, or an error saying what is wrong with the text.
fn ca_certificates(ca: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = ca_pem(ca)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("ssl_ca_certificate: not a valid PEM certificate ({e})"))?;
    if certs.is_empty() {
        bail!(
            "ssl_ca_certificate: no certificate found; expected PEM text starting with -----BEGIN CERTIFICATE-----"
        );
    }
    Ok(certs)
}

fn root_store(tls: &Tls) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_certificate {
        Some(ca) => {
            for cert in ca_certificates(ca)? {
                roots.add(cert).map_err(|e| {
                    anyhow::anyhow!(
                        "ssl_ca_certificate: the certificate cannot be used as an authority ({e})"
                    )
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// Checks the server's certificate as far as the mode asks; handshake signatures are
/// always checked, so even `require` talks to whoever holds the certificate's key.
#[derive(Debug)]
struct ModeVerifier {
    mode: TlsMode,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.mode.verifies() {
            return Ok(ServerCertVerified::assertion());
        }
        let checked = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match checked {
            // webpki checks the chain before the name, so a name error means the chain
            // is trusted: exactly what verify-ca asks.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == TlsMode::VerifyCa => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn client_config(tls: &Tls) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(tls)?), provider.clone())
            .build()
            .context("cannot set up certificate checks")?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ModeVerifier {
            mode: tls.mode,
            webpki,
        }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// tokio-postgres' TLS hook backed by rustls.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTls")
    }
}

impl PgTls {
    /// The connector for `tls` (its mode decides what is checked).
    pub fn new(tls: &Tls) -> Result<Self> {
        Ok(PgTls {
            config: client_config(tls)?,
        })
    }
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, Self::Error> {
        Ok(PgTlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            server_name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

/// One TLS handshake with a PostgreSQL server.
pub struct PgTlsConnect {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<PgTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self.connector.connect(self.server_name, stream).await?;
            Ok(PgTlsStream(stream))
        })
    }
}

/// An encrypted PostgreSQL connection.
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM works without channel binding; binding would need the hash named by the
        // certificate's signature algorithm, which is not worth a certificate parser here.
        ChannelBinding::none()
    }
}

/// mysql_async's TLS options for `tls`; `None` for `disable`.
pub fn my_ssl_opts(
    tls: &Tls,
    host_override: Option<String>,
) -> Result<Option<mysql_async::SslOpts>> {
    if tls.mode == TlsMode::Disable {
        return Ok(None);
    }
    // mysql_async builds its rustls config with the process-wide provider; install ours
    // (a no-op when one is already installed).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut opts = mysql_async::SslOpts::default();
    if let Some(ca) = &tls.ca_certificate {
        // Checked here so a bad certificate is reported as such, not as a handshake error.
        ca_certificates(ca)?;
        opts = opts
            .with_root_certs(vec![ca_pem(ca)?.into()])
            .with_disable_built_in_roots(true);
    }
    if !tls.mode.verifies() {
        opts = opts.with_danger_accept_invalid_certs(true);
    }
    if let Some(name) = host_override {
        opts = opts.with_danger_tls_hostname_override(Some(name));
    }
    Ok(Some(opts))
}

/// Why an encrypted connection failed, in words for whoever configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The server accepts only unencrypted connections.
    NotOffered,
    /// No trusted authority signed the server's certificate.
    NotTrusted,
    /// The certificate is trusted but names other hosts.
    HostMismatch {
        /// The names the certificate lists.
        presented: Vec<String>,
    },
    /// The certificate expired or is not valid yet.
    Expired,
}

/// A TLS failure with its plain-language explanation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TlsFailure {
    /// The kind of failure.
    pub problem: TlsProblem,
    message: String,
}

impl TlsFailure {
    /// Explains `problem` when connecting to `host`.
    pub fn new(problem: TlsProblem, host: &str) -> Self {
        let message = match &problem {
            TlsProblem::NotOffered => "the server does not offer TLS (it accepts only unencrypted connections); enable SSL on the server, or set ssl_mode to prefer or disable".to_owned(),
            TlsProblem::NotTrusted => "certificate not trusted: the server's certificate is not signed by the CA certificate given (or, without one, by a public authority); give the CA that signed it in ssl_ca_certificate, or use ssl_mode: require to encrypt without checking the certificate".to_owned(),
            TlsProblem::HostMismatch { presented } => format!(
                "host name mismatch: the server's certificate is for {}, not {host}; connect with a name the certificate lists, or use ssl_mode: verify-ca to check only who signed it",
                if presented.is_empty() {
                    "no host name".to_owned()
                } else {
                    presented.join(", ")
                }
            ),
            TlsProblem::Expired => "the server's certificate has expired or is not valid yet; renew it on the server (or check this machine's clock)".to_owned(),
        };
        TlsFailure { problem, message }
    }
}

fn problem_of_rustls(e: &rustls::Error) -> Option<TlsProblem> {
    let rustls::Error::InvalidCertificate(cert) = e else {
        return None;
    };
    Some(match cert {
        CertificateError::NotValidForNameContext { presented, .. } => TlsProblem::HostMismatch {
            presented: presented.iter().map(|n| plain_name(n)).collect(),
        },
        CertificateError::NotValidForName => TlsProblem::HostMismatch { presented: vec![] },
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => TlsProblem::Expired,
        _ => TlsProblem::NotTrusted,
    })
}

/// `DnsName("db.example.com")` / `IpAddress(10.0.0.1)` (webpki's debug form) as the bare name.
fn plain_name(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"').to_owned()
}

/// A name the certificate lists that a TLS library accepts as a server name (wildcards
/// get a concrete first label), for checking a trusted certificate against its own name.
pub(crate) fn name_to_check(presented: &[String]) -> Option<String> {
    presented.iter().find_map(|name| {
        let name = match name.strip_prefix("*.") {
            Some(rest) => format!("hakobu.{rest}"),
            None => name.clone(),
        };
        ServerName::try_from(name.clone()).ok().map(|_| name)
    })
}

/// The TLS problem behind a driver error, if it is one.
pub fn problem_of(e: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return problem_of_rustls(r);
        }
        // io::Error::source skips the error it wraps, so look inside explicitly.
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return problem_of_rustls(r);
        }
        if let Some(my) = err.downcast_ref::<mysql_async::Error>() {
            match my {
                mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
                    return Some(TlsProblem::NotOffered);
                }
                mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
                    if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                        return problem_of_rustls(r);
                    }
                }
                mysql_async::Error::Io(mysql_async::IoError::Tls(t)) => {
                    if let Some(r) =
                        std::error::Error::source(t).and_then(|s| s.downcast_ref::<rustls::Error>())
                    {
                        return problem_of_rustls(r);
                    }
                }
                _ => {}
            }
        }
        if let Some(pg) = err.downcast_ref::<tokio_postgres::Error>()
            && pg.to_string().contains("server does not support TLS")
        {
            return Some(TlsProblem::NotOffered);
        }
        cause = err.source();
    }
    None
}
