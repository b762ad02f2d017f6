//! Ingress objects (networking.k8s.io/v1) as the checks need them: which
//! hosts are served without TLS, and which Service ports they route to.

use k8s_openapi::api::networking::v1::{Ingress as K8sIngress, IngressBackend};

use crate::convert::Rejected;
use crate::model::ServicePortRef;
use crate::validate::{is_dns_subdomain, port_name_error, port_number_error};

/// Stands for the host of a rule without `host`: every host the controller serves.
pub const ANY_HOST: &str = "*";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingress {
    pub name: String,
    /// `spec.ingressClassName`.
    pub class: Option<String>,
    /// Hosts routed to plain HTTP: no `spec.tls` entry covers them. [`ANY_HOST`] for rules without host.
    pub hosts_without_tls: Vec<String>,
    /// Service backends of the rules and `spec.defaultBackend`, sorted, without repeats.
    pub backends: Vec<Backend>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    pub service: String,
    pub port: ServicePortRef,
}

pub fn ingress(ingress: &K8sIngress) -> Result<Ingress, Rejected> {
    let name = ingress.metadata.name.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if !is_dns_subdomain(&name) {
        errors.push(format!("invalid name {name:?}"));
    }
    let spec = ingress.spec.clone().unwrap_or_default();
    let tls_hosts: Vec<&str> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|tls| tls.hosts.iter().flatten().map(String::as_str))
        .collect();
    // A tls entry without hosts covers the controller's default (wildcard) host.
    let tls_default = spec
        .tls
        .iter()
        .flatten()
        .any(|tls| tls.hosts.as_ref().is_none_or(Vec::is_empty));
    let covered = |host: &str| {
        if host == ANY_HOST {
            return tls_default;
        }
        tls_hosts.iter().any(|tls| covers(tls, host))
    };
    let mut hosts_without_tls = Vec::new();
    let mut backends = Vec::new();
    let mut add_backend = |backend: &IngressBackend, field: String, errors: &mut Vec<String>| {
        // Resource backends (e.g. a storage bucket) reach no pod.
        let Some(service) = &backend.service else {
            return;
        };
        let port = match service.port.as_ref().map(|p| (p.number, p.name.as_deref())) {
            Some((Some(number), None)) => match port_number_error(number) {
                None => ServicePortRef::Number(number as u16),
                Some(e) => return errors.push(format!("{field}.port.number: {e}")),
            },
            Some((None, Some(port))) => match port_name_error(port) {
                None => ServicePortRef::Name(port.to_string()),
                Some(e) => return errors.push(format!("{field}.port.name: {e}")),
            },
            _ => {
                return errors.push(format!(
                    "{field}.port: exactly one of number and name must be set"
                ));
            }
        };
        backends.push(Backend {
            service: service.name.clone(),
            port,
        });
    };
    if let Some(backend) = &spec.default_backend {
        add_backend(backend, "spec.defaultBackend.service".into(), &mut errors);
        if !covered(ANY_HOST) {
            hosts_without_tls.push(ANY_HOST.to_string());
        }
    }
    for (i, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().unwrap_or(ANY_HOST);
        if !covered(host) {
            hosts_without_tls.push(host.to_string());
        }
        let paths = rule.http.iter().flat_map(|http| &http.paths);
        for (j, path) in paths.enumerate() {
            add_backend(
                &path.backend,
                format!("spec.rules[{i}].http.paths[{j}].backend.service"),
                &mut errors,
            );
        }
    }
    if !errors.is_empty() {
        return Err(Rejected {
            kind: "Ingress",
            name,
            reason: errors.join("; "),
        });
    }
    hosts_without_tls.sort();
    hosts_without_tls.dedup();
    backends.sort();
    backends.dedup();
    Ok(Ingress {
        name,
        class: spec.ingress_class_name,
        hosts_without_tls,
        backends,
    })
}

/// Whether a TLS host (`example.com` or `*.example.com`) covers a rule host.
fn covers(tls: &str, host: &str) -> bool {
    if tls == host {
        return true;
    }
    match (tls.strip_prefix("*."), host.split_once('.')) {
        (Some(domain), Some((label, rest))) => label != "*" && rest == domain,
        _ => false,
    }
}
