//! The stack's own certificate authority (phase 6): made once and kept in
//! `.million/ca/`, it signs a certificate for each server that speaks TLS
//! (HAProxy at the front door, PostgreSQL, Redis) every time the stack
//! starts, naming the addresses the server is reached at. The app servers
//! trust it for PostgreSQL (`sslrootcert`); a browser or `curl --cacert`
//! trusts it for the front door once told to (the map prints where it is).
//!
//! The authority's key never leaves `.million/ca/` (mode 0700, the key
//! 0600). On real machines a team uses its own authority or a public one;
//! only the file paths in the configs change.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType,
};

/// The authority's name, in every certificate it signs.
const NAME: &str = "million stack local CA";
/// How long the authority is valid.
const AUTHORITY_YEARS: i64 = 10;
/// How long a server certificate is valid (they are made again at each
/// start; 397 days is the longest browsers accept).
const SERVER_DAYS: i64 = 397;

/// A certificate authority whose key is at hand.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    certificate: PathBuf,
}

/// A server's certificate and key, as files.
#[derive(Debug, Clone)]
pub struct Issued {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// The certificate followed by its key, in one file (HAProxy's form).
    pub bundle: PathBuf,
}

impl Authority {
    /// The authority kept in `dir` (`ca.pem`, `ca-key.pem`), made the first
    /// time.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<Self> {
        let certificate = dir.join("ca.pem");
        let key_file = dir.join("ca-key.pem");
        if !certificate.exists() || !key_file.exists() {
            create(dir, &certificate, &key_file)?;
        }
        let pem = std::fs::read_to_string(&key_file)
            .with_context(|| format!("reading {}", key_file.display()))?;
        let key = KeyPair::from_pem(&pem)
            .with_context(|| format!("{} is not a private key", key_file.display()))?;
        Ok(Self {
            issuer: Issuer::new(authority_params(), key),
            certificate,
        })
    }

    /// The authority's certificate: what clients trust.
    pub fn certificate(&self) -> &Path {
        &self.certificate
    }

    /// A new certificate for the server `name`, reached at `addresses` (and
    /// `localhost`), written into `dir` as `{name}.pem`, `{name}-key.pem`
    /// (mode 0600) and `{name}-bundle.pem`.
    pub fn issue(&self, name: &str, addresses: &[IpAddr], dir: &Path) -> anyhow::Result<Issued> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).context("certificate names")?;
        params
            .subject_alt_names
            .extend(addresses.iter().map(|address| SanType::IpAddress(*address)));
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, Duration::days(SERVER_DAYS));
        let key = KeyPair::generate().context("making a key")?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .context("signing a server certificate")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let issued = Issued {
            certificate: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
            bundle: dir.join(format!("{name}-bundle.pem")),
        };
        write(&issued.certificate, &certificate.pem(), 0o644)?;
        write(&issued.key, &key.serialize_pem(), 0o600)?;
        write(
            &issued.bundle,
            &format!("{}{}", certificate.pem(), key.serialize_pem()),
            0o600,
        )?;
        Ok(issued)
    }
}

/// What the authority's certificate says, and signs with.
fn authority_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn create(dir: &Path, certificate: &Path, key_file: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    set_mode(dir, 0o700)?;
    let key = KeyPair::generate().context("making the authority's key")?;
    let mut params = authority_params();
    set_validity(&mut params, Duration::days(365 * AUTHORITY_YEARS));
    // It may vouch only for the stack's own names: localhost, loopback
    // addresses and the namespaces' 10.60.0.0/16. A browser told to trust
    // it trusts nothing else from it, even should its key leak.
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".to_string()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 0], [255, 0, 0, 0])),
            GeneralSubtree::IpAddress(CidrSubnet::V4([10, 60, 0, 0], [255, 255, 0, 0])),
        ],
        excluded_subtrees: Vec::new(),
    });
    let made = params
        .self_signed(&key)
        .context("making the authority's certificate")?;
    write(key_file, &key.serialize_pem(), 0o600)?;
    write(certificate, &made.pem(), 0o644)?;
    Ok(())
}

/// Valid from yesterday (clocks disagree a little) for `length`.
fn set_validity(params: &mut CertificateParams, length: Duration) {
    let date = |when: chrono::DateTime<Utc>| {
        // Months are 1 to 12 and days 1 to 31: they fit.
        rcgen::date_time_ymd(when.year(), when.month() as u8, when.day() as u8)
    };
    let now = Utc::now();
    params.not_before = date(now - Duration::days(1));
    params.not_after = date(now + length);
}

fn write(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    // Made private before anything secret is written into it.
    std::fs::write(path, "").with_context(|| format!("writing {}", path.display()))?;
    set_mode(path, mode)?;
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_made_once_and_signs_for_the_addresses_named() {
        let dir = tempfile::tempdir().unwrap();
        let authority = Authority::open_or_create(&dir.path().join("ca")).unwrap();
        let first = std::fs::read_to_string(authority.certificate()).unwrap();
        let again = Authority::open_or_create(&dir.path().join("ca")).unwrap();
        assert_eq!(
            std::fs::read_to_string(again.certificate()).unwrap(),
            first,
            "kept, not made again"
        );
        let issued = again
            .issue("postgres", &["127.0.2.1".parse().unwrap()], dir.path())
            .unwrap();

        // A TLS client trusting only the authority accepts the server's
        // certificate for 127.0.2.1 and refuses it for any other address.
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier;
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(authority.certificate()).unwrap())
            .unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
            .build()
            .unwrap();
        let leaf = CertificateDer::from_pem_file(&issued.certificate).unwrap();
        let verify = |name: &str| {
            verifier.verify_server_cert(
                &leaf,
                &[],
                &ServerName::try_from(name.to_string()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        assert!(verify("127.0.2.1").is_ok(), "{:?}", verify("127.0.2.1"));
        assert!(verify("localhost").is_ok());
        assert!(verify("127.0.2.2").is_err(), "another address is refused");
        // Even a certificate it signs for a name outside the stack's own is
        // refused: the authority is constrained to them.
        let outside = again
            .issue("elsewhere", &["192.0.2.7".parse().unwrap()], dir.path())
            .unwrap();
        let outside = CertificateDer::from_pem_file(&outside.certificate).unwrap();
        let name = ServerName::try_from("192.0.2.7".to_string()).unwrap();
        assert!(
            verifier
                .verify_server_cert(&outside, &[], &name, &[], UnixTime::now())
                .is_err(),
            "outside the name constraints"
        );

        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("ca").join("ca-key.pem")), 0o600);
        assert_eq!(mode(&dir.path().join("ca")), 0o700);
        assert_eq!(mode(&issued.key), 0o600);
    }
}
