//! TLS client settings that trust one certificate authority: the stack's
//! own (phase 6), or whichever a deployment names (`sslrootcert`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A rustls client that accepts only servers whose certificate chains to a
/// certificate in `authority` (a PEM file) and names the host connected to.
pub fn client_config(authority: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(authority)
        .with_context(|| format!("reading {}", authority.display()))?;
    for certificate in certificates {
        let certificate =
            certificate.with_context(|| format!("{} is not PEM", authority.display()))?;
        roots
            .add(certificate)
            .with_context(|| format!("a certificate in {} is unusable", authority.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", authority.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS settings")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An answer to [`https_get`].
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every header named `name` (lower case).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `GET url` over HTTPS, verifying the server against `authority`: the
/// stack's health probe, and `million load`'s look at the site it is about
/// to load.
pub async fn https_get(url: &str, authority: &Path) -> anyhow::Result<Answer> {
    https_send("GET", url, None, authority).await
}

/// `method url` over HTTPS with an optional JSON `body`, verifying the
/// server against `authority`. HTTP/1.0 with the connection closed after
/// the answer, so the body is whatever comes before the close.
pub async fn https_send(
    method: &str,
    url: &str,
    body: Option<&str>,
    authority: &Path,
) -> anyhow::Result<Answer> {
    https_request(method, url, &[], body, authority).await
}

/// [`https_send`] over a connection already open to the host `url` names
/// (one opened from inside a network namespace, say).
pub async fn https_send_over(
    tcp: tokio::net::TcpStream,
    method: &str,
    url: &str,
    body: Option<&str>,
    authority: &Path,
) -> anyhow::Result<Answer> {
    https_request_over(tcp, method, url, &[], body, authority).await
}

/// [`https_send`] with extra request `headers` (`Authorization`, say).
pub async fn https_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    authority: &Path,
) -> anyhow::Result<Answer> {
    let (host_port, host, _) = split_https(url)?;
    let port = match host_port.rsplit_once(':') {
        Some((_, port)) => port.parse::<u16>().context("the port")?,
        None => 443,
    };
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host_port}"))?;
    https_request_over(tcp, method, url, headers, body, authority).await
}

/// [`https_request`] over a connection already open to the host `url` names.
pub async fn https_request_over(
    tcp: tokio::net::TcpStream,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    authority: &Path,
) -> anyhow::Result<Answer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host_port, host, path) = split_https(url)?;
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("`{host}` is not a host name"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(authority)?));
    let mut tls = connector
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with {host_port}"))?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host_port}\r\nUser-Agent: million\r\nAccept: */*\r\n"
    );
    for (name, value) in headers {
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
            anyhow::bail!("header {name:?} cannot be sent as it is");
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    // A server that closes without TLS's close_notify still sent its answer.
    if let Err(error) = tls.read_to_end(&mut raw).await
        && raw.is_empty()
    {
        return Err(error).context("reading the answer");
    }
    parse_answer(&raw)
}

/// An `https://` URL's `host:port` (as written), host and path (`/` if none).
fn split_https(url: &str) -> anyhow::Result<(&str, &str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .with_context(|| format!("{url} is not an https:// address"))?;
    let (host_port, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host);
    Ok((host_port, host, path))
}

fn parse_answer(raw: &[u8]) -> anyhow::Result<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("an answer without headers")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .context("an answer without a status")?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}
