//! Keeps the serving certificate current. Issued mode: every replica reads
//! one Secret holding the CA and serving certificate; whichever replica
//! finds it missing or near expiry issues a new one (an optimistic write,
//! so two replicas cannot both win), and any replica patches the CA into
//! the ValidatingWebhookConfiguration's `caBundle`. A configuration
//! annotated for cert-manager's CA injector is left to it. Files mode: the
//! certificate comes from a mounted directory (cert-manager), re-read when
//! it changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use super::certs::{self, Issued};
use crate::operator::serving_cert::{CERT_FILE, KEY_FILE, ServingCert, certified_from_pem};

/// How often the Secret (or the files) and the webhook configuration are checked.
const PERIOD: Duration = Duration::from_secs(60);
/// After a failure or a lost race, look again this soon.
const RETRY: Duration = Duration::from_secs(5);
const CA_KEY: &str = "ca.crt";
const NOT_AFTER_ANNOTATION: &str = "netposture.io/not-after";
/// cert-manager's CA injector fills `caBundle` of a configuration carrying this.
pub const CERT_MANAGER_ANNOTATION: &str = "cert-manager.io/inject-ca-from";

pub enum Source {
    Issued {
        client: Client,
        namespace: String,
        secret: String,
        webhook: String,
        hosts: Vec<String>,
    },
    Files(PathBuf),
}

/// Runs forever: installs the current certificate into `serving`.
pub async fn keep(source: Source, serving: Arc<ServingCert>) {
    let mut last = None;
    loop {
        let step = match &source {
            Source::Issued {
                client,
                namespace,
                secret,
                webhook,
                hosts,
            } => {
                let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
                let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
                keep_issued(&secrets, secret, hosts, &webhooks, webhook).await
            }
            Source::Files(dir) => read_files(dir),
        };
        let wait = match step {
            Ok(pair) => {
                if last.as_ref() != Some(&pair) {
                    match certified_from_pem(pair.0.as_bytes(), pair.1.as_bytes()) {
                        Ok(key) => {
                            serving.install(key);
                            tracing::info!("admission webhook serving certificate installed");
                            last = Some(pair);
                        }
                        Err(error) => tracing::warn!(%error, "admission certificate unusable"),
                    }
                }
                if serving.installed() { PERIOD } else { RETRY }
            }
            Err(error) => {
                tracing::warn!(%error, "keeping the admission certificate current");
                RETRY
            }
        };
        tokio::time::sleep(wait).await;
    }
}

fn read_files(dir: &std::path::Path) -> Result<(String, String), String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("reading {}: {e}", dir.join(name).display()))
    };
    Ok((read(CERT_FILE)?, read(KEY_FILE)?))
}

/// One round of issued mode; returns the serving certificate and key PEM.
async fn keep_issued(
    secrets: &Api<Secret>,
    name: &str,
    hosts: &[String],
    webhooks: &Api<ValidatingWebhookConfiguration>,
    webhook: &str,
) -> Result<(String, String), String> {
    let existing = secrets
        .get_opt(name)
        .await
        .map_err(|e| format!("reading Secret {name}: {e}"))?;
    let now = SystemTime::now();
    let current = existing.as_ref().and_then(stored);
    let issued = match current {
        Some(issued) if !certs::due(issued.not_after, now) => issued,
        previous => {
            let mut fresh = certs::issue(hosts, now, certs::VALIDITY)
                .map_err(|e| format!("issuing a certificate: {e}"))?;
            // The old CA stays trusted until it expires, for replicas not yet on the new certificate.
            if let Some(old) = previous.filter(|old| old.not_after > certs::seconds(now)) {
                fresh.ca_pem.push_str(&old.ca_pem);
            }
            write(secrets, name, existing, &fresh).await?;
            tracing::info!(secret = name, "admission certificate issued");
            fresh
        }
    };
    ensure_ca_bundle(webhooks, webhook, &issued.ca_pem).await?;
    Ok((issued.cert_pem, issued.key_pem))
}

/// The certificates a Secret holds, or `None` when any part is missing.
fn stored(secret: &Secret) -> Option<Issued> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    let not_after = secret
        .metadata
        .annotations
        .as_ref()?
        .get(NOT_AFTER_ANNOTATION)?
        .parse()
        .ok()?;
    Some(Issued {
        ca_pem: text(CA_KEY)?,
        cert_pem: text(CERT_FILE)?,
        key_pem: text(KEY_FILE)?,
        not_after,
    })
}

/// Creates the Secret, or replaces the version read: a replica that read
/// an older version loses with a conflict and reads again.
async fn write(
    secrets: &Api<Secret>,
    name: &str,
    existing: Option<Secret>,
    issued: &Issued,
) -> Result<(), String> {
    let data: BTreeMap<String, ByteString> = [
        (CA_KEY, &issued.ca_pem),
        (CERT_FILE, &issued.cert_pem),
        (KEY_FILE, &issued.key_pem),
    ]
    .into_iter()
    .map(|(key, pem)| (key.to_string(), ByteString(pem.as_bytes().to_vec())))
    .collect();
    let mut secret = existing.unwrap_or_default();
    secret.metadata.name = Some(name.to_string());
    secret
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(NOT_AFTER_ANNOTATION.into(), issued.not_after.to_string());
    secret.type_ = Some("kubernetes.io/tls".into());
    secret.data = Some(data);
    let result = if secret.metadata.resource_version.is_some() {
        secrets.replace(name, &PostParams::default(), &secret).await
    } else {
        secrets.create(&PostParams::default(), &secret).await
    };
    result
        .map(|_| ())
        .map_err(|e| format!("writing Secret {name} (another replica may have won): {e}"))
}

/// Puts `ca_pem` into every webhook of the configuration, unless
/// cert-manager injects it. Writes only when some webhook differs.
async fn ensure_ca_bundle(
    webhooks: &Api<ValidatingWebhookConfiguration>,
    name: &str,
    ca_pem: &str,
) -> Result<(), String> {
    let Some(config) = webhooks
        .get_opt(name)
        .await
        .map_err(|e| format!("reading ValidatingWebhookConfiguration {name}: {e}"))?
    else {
        tracing::debug!(name, "no ValidatingWebhookConfiguration to put the CA in");
        return Ok(());
    };
    let annotations = config.metadata.annotations.unwrap_or_default();
    if annotations.contains_key(CERT_MANAGER_ANNOTATION) {
        // cert-manager's CA will not verify the issued certificate served here.
        tracing::warn!(
            name,
            "the webhook configuration is annotated {CERT_MANAGER_ANNOTATION}: its caBundle is left \
             to cert-manager; serve that certificate with --admission-cert-dir"
        );
        return Ok(());
    }
    let list = config.webhooks.unwrap_or_default();
    let stale = list.iter().any(|w| {
        w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) != Some(ca_pem.as_bytes())
    });
    if !stale {
        return Ok(());
    }
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    // Webhooks merge by name, so this touches caBundle and nothing else.
    let patch = json!({
        "webhooks": list.iter().map(|w| json!({
            "name": w.name,
            "clientConfig": {"caBundle": bundle},
        })).collect::<Vec<_>>()
    });
    webhooks
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map_err(|e| format!("patching caBundle of {name}: {e}"))?;
    tracing::info!(
        name,
        "caBundle of the ValidatingWebhookConfiguration updated"
    );
    Ok(())
}
