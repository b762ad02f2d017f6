//! The webhook's certificates: a self-signed CA and a serving certificate
//! it signs (issued with rcgen); `serving_cert` hands them to rustls.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// How long issued certificates are valid.
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates are re-issued this long before they expire.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// PEM text of one issue: the CA, and the serving certificate and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// Seconds since the epoch after which neither certificate is valid.
    pub not_after: u64,
}

/// Issues a CA and a serving certificate for `hosts` (DNS names or IP
/// addresses), both valid from `now` for `validity`.
pub fn issue(
    hosts: &[String],
    now: SystemTime,
    validity: Duration,
) -> Result<Issued, rcgen::Error> {
    let not_before = time::OffsetDateTime::from(now - Duration::from_secs(60));
    let not_after_time = now + validity;
    let not_after = time::OffsetDateTime::from(not_after_time);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "netposture admission CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut serving = CertificateParams::new(hosts.to_vec())?;
    let common_name = hosts.first().map_or("netposture-admission", String::as_str);
    serving
        .distinguished_name
        .push(DnType::CommonName, common_name);
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.not_before = not_before;
    serving.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = serving.signed_by(&key, &issuer)?;
    Ok(Issued {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: seconds(not_after_time),
    })
}

pub fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether certificates valid until `not_after` are due for renewal at `now`.
pub fn due(not_after: u64, now: SystemTime) -> bool {
    seconds(now) + RENEW_BEFORE.as_secs() >= not_after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::serving_cert::certified_from_pem;

    #[test]
    fn issued_certificates_load_as_a_serving_key() {
        let hosts = [
            "netposture-admission.netposture-system.svc".into(),
            "127.0.0.1".into(),
        ];
        let issued = issue(&hosts, SystemTime::now(), VALIDITY).unwrap();
        assert!(issued.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(issued.ca_pem, issued.cert_pem);
        certified_from_pem(issued.cert_pem.as_bytes(), issued.key_pem.as_bytes()).unwrap();
        // The key is not the CA's: the serving certificate is not self-signed.
        assert!(certified_from_pem(issued.ca_pem.as_bytes(), issued.key_pem.as_bytes()).is_err());
    }

    #[test]
    fn renewal_is_due_within_the_renewal_window_only() {
        let now = SystemTime::now();
        let valid_a_year = seconds(now + VALIDITY);
        assert!(!due(valid_a_year, now));
        assert!(due(
            seconds(now + RENEW_BEFORE - Duration::from_secs(1)),
            now
        ));
        assert!(due(0, now), "an unreadable expiry renews");
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        assert!(certified_from_pem(b"not pem", b"not pem").is_err());
        let issued = issue(&["a.svc".into()], SystemTime::now(), VALIDITY).unwrap();
        assert!(certified_from_pem(issued.cert_pem.as_bytes(), b"").is_err());
    }
}
