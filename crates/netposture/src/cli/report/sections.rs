//! The report's sections beyond the namespace table: the reachability
//! matrix (its data, for the script), the Services and Ingresses reachable
//! from outside the cluster, and each compliance framework's controls.

use std::io::{self, Write};

use netposture_engine::compliance::ControlStatus;
use netposture_engine::model::TargetPort;
use netposture_engine::posture::ids;
use netposture_engine::{Capability, NamespacePosture};

use super::Report;
use super::escape::{Html, json_in_script};
use super::matrix_data;

pub fn write_matrix(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"matrix\"><h2>Namespace reachability</h2>\n<p class=\"note\">Row: the source namespace; column: the destination. A cell counts the ports (TCP, UDP and SCTP together) on which some pod of the row may open a connection to some pod of the column under the NetworkPolicies; hover for the ports. Cells marked ~ hold ports allowed only through an ipBlock that contains pod IPs, which some CNIs match and others do not. Empty: no pod of the row reaches any pod of the column.</p>"
    )?;
    let enforcement = match report.cni.capable {
        Capability::True => None,
        Capability::False => Some(format!(
            "The CNI ({}) does not enforce NetworkPolicy: every pod reaches every port of every other pod, whatever the cells say.",
            report.cni.name
        )),
        Capability::Unknown => Some(format!(
            "Whether the CNI ({}) enforces NetworkPolicy is unknown: every cell is undetermined (marked ?).",
            report.cni.name
        )),
    };
    if let Some(warning) = enforcement {
        writeln!(out, "<p class=\"warning\">{}</p>", Html(&warning))?;
    }
    if report.layers_present {
        writeln!(
            out,
            "<p class=\"warning\">The cluster has policy layers (AdminNetworkPolicy, Calico or Cilium policies) that the cells leave out; the checks above include them.</p>"
        )?;
    }
    writeln!(
        out,
        "<div id=\"matrix-view\"><noscript>The matrix is drawn by the page's inline script.</noscript></div>"
    )?;
    let data = matrix_data::encode(
        &report.matrix,
        report.cni.capable.as_str(),
        report.layers_present,
    );
    let json = serde_json::to_string(&data).map_err(io::Error::other)?;
    writeln!(
        out,
        "<script type=\"application/json\" id=\"matrix-data\">{}</script>\n</section>",
        json_in_script(&json)
    )
}

pub fn write_exposure(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"exposure\"><h2>Exposed Services and Ingresses</h2>\n<h3>Services reachable from outside the cluster</h3>"
    )?;
    writeln!(
        out,
        "<table id=\"exposed-services\" class=\"grid\"><thead><tr><th>namespace</th><th>service</th><th>exposed as</th><th>ports</th><th>pods</th><th>findings</th></tr></thead><tbody>"
    )?;
    let mut any = false;
    for (namespace, posture) in &report.postures {
        let Some(state) = report.cluster.namespace(namespace) else {
            continue;
        };
        for service in state.services.values().filter(|s| s.is_exposed()) {
            any = true;
            let ports: Vec<String> = service
                .ports
                .iter()
                .map(|port| {
                    let target = match &port.target {
                        TargetPort::Number(number) => number.to_string(),
                        TargetPort::Name(name) => name.clone(),
                    };
                    format!("{}/{} to {target}", port.port, port.protocol)
                })
                .collect();
            let pods = state
                .pods
                .values()
                .filter(|pod| service.selects(pod))
                .count();
            writeln!(
                out,
                "<tr data-namespace=\"{}\" data-service=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{pods}</td><td>{}</td></tr>",
                Html(namespace),
                Html(&service.name),
                Html(namespace),
                Html(&service.name),
                Html(&service.exposure_description()),
                Html(&ports.join(", ")),
                findings(
                    posture,
                    &[ids::EXPOSED_SERVICES, ids::DASHBOARD_EXPOSED],
                    "service",
                    &service.name
                )
            )?;
        }
    }
    if !any {
        writeln!(out, "<tr><td colspan=\"6\">none</td></tr>")?;
    }
    writeln!(out, "</tbody></table>\n<h3>Ingresses</h3>")?;
    writeln!(
        out,
        "<table id=\"ingresses\" class=\"grid\"><thead><tr><th>namespace</th><th>ingress</th><th>class</th><th>hosts without TLS</th><th>backends</th><th>findings</th></tr></thead><tbody>"
    )?;
    any = false;
    for (namespace, posture) in &report.postures {
        let Some(state) = report.cluster.namespace(namespace) else {
            continue;
        };
        for ingress in state.ingresses.values() {
            any = true;
            let backends: Vec<String> = ingress
                .backends
                .iter()
                .map(|backend| format!("{}:{}", backend.service, backend.port))
                .collect();
            writeln!(
                out,
                "<tr data-namespace=\"{}\" data-ingress=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                Html(namespace),
                Html(&ingress.name),
                Html(namespace),
                Html(&ingress.name),
                Html(ingress.class.as_deref().unwrap_or("(default)")),
                Html(&ingress.hosts_without_tls.join(", ")),
                Html(&backends.join(", ")),
                findings(
                    posture,
                    &[ids::INGRESS_TLS, ids::INGRESS_BACKENDS],
                    "ingress",
                    &ingress.name
                )
            )?;
        }
    }
    if !any {
        writeln!(out, "<tr><td colspan=\"6\">none</td></tr>")?;
    }
    writeln!(out, "</tbody></table></section>")
}

/// The evidence lines of `checks` about `kind/name`, as an escaped list;
/// "none" when the checks name nothing about it.
fn findings(posture: &NamespacePosture, checks: &[&str], kind: &str, name: &str) -> String {
    let subject = format!("{kind}/{name}");
    let lines: Vec<String> = checks
        .iter()
        .filter_map(|id| posture.check(id))
        .flat_map(|check| {
            check
                .evidence
                .iter()
                .filter(|line| {
                    line.strip_prefix(&subject)
                        .is_some_and(|rest| rest.starts_with([' ', ':']))
                })
                .map(move |line| format!("<li>{}: {}</li>", Html(&check.id), Html(line)))
        })
        .collect();
    if lines.is_empty() {
        "none".into()
    } else {
        format!("<ul>{}</ul>", lines.concat())
    }
}

pub fn write_compliance(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"compliance\"><h2>Compliance controls</h2>\n<p class=\"note\">A control fails when some namespace fails or warns on one of its checks.</p>"
    )?;
    for (framework, controls) in &report.compliance {
        let failing = controls
            .iter()
            .filter(|c| c.status == ControlStatus::Fail)
            .count();
        writeln!(
            out,
            "<h3>{} <small>{} of {} controls pass</small></h3>",
            Html(framework.name()),
            controls.len() - failing,
            controls.len()
        )?;
        writeln!(
            out,
            "<table class=\"grid compliance\" data-framework=\"{}\"><thead><tr><th>control</th><th>title</th><th>status</th><th>checks</th><th>failing namespaces</th></tr></thead><tbody>",
            Html(framework.name())
        )?;
        for control in controls {
            let status = match control.status {
                ControlStatus::Pass => "Pass",
                ControlStatus::Fail => "Fail",
            };
            let mut failing = control.failing_examples.join(", ");
            if control.failing_namespaces > control.failing_examples.len() {
                failing.push_str(&format!(
                    ", +{} more",
                    control.failing_namespaces - control.failing_examples.len()
                ));
            }
            writeln!(
                out,
                "<tr data-control=\"{}\"><td>{}</td><td>{}</td><td class=\"status-{}\">{status}</td><td>{}</td><td>{} of {}: {}</td></tr>",
                Html(&control.control),
                Html(&control.control),
                Html(&control.title),
                status.to_lowercase(),
                Html(&control.checks.join(", ")),
                control.failing_namespaces,
                control.namespaces,
                Html(&failing)
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }
    writeln!(out, "</section>")
}
