//! Counts taken from every decoded item, so that two decoders that disagree
//! on anything the engine reads (a label lost, a port misread, a string
//! unescaped differently) give different summaries.

use crate::model::{Header, LeanContainer, LeanPod};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub items: u64,
    pub pods: u64,
    /// Bytes of every header name, namespace, kind and apiVersion.
    pub header_bytes: u64,
    pub labels: u64,
    /// Bytes of every label and annotation key and value of the Pods.
    pub label_bytes: u64,
    pub annotations: u64,
    pub containers: u64,
    pub init_containers: u64,
    pub ports: u64,
    /// Sum of container port numbers plus bytes of port names.
    pub port_check: u64,
    pub host_network: u64,
    pub pod_ips: u64,
    /// Bytes of images, commands, args and pod IPs.
    pub other_bytes: u64,
}

fn len(text: &Option<String>) -> u64 {
    text.as_ref().map_or(0, |t| t.len() as u64)
}

impl Summary {
    pub fn add(&mut self, header: &Header, pod: Option<&LeanPod>) {
        self.items += 1;
        self.header_bytes += len(&header.kind)
            + len(&header.api_version)
            + len(&header.name)
            + len(&header.generate_name)
            + len(&header.namespace);
        let Some(pod) = pod else { return };
        self.pods += 1;
        if let Some(metadata) = &pod.metadata {
            self.header_bytes += len(&metadata.name) + len(&metadata.namespace);
            for (map, count) in [
                (&metadata.labels, &mut self.labels),
                (&metadata.annotations, &mut self.annotations),
            ] {
                for (key, value) in map.iter().flatten() {
                    *count += 1;
                    self.label_bytes += (key.len() + value.len()) as u64;
                }
            }
        }
        if let Some(spec) = &pod.spec {
            self.host_network += u64::from(spec.host_network == Some(true));
            for container in spec.containers.iter().flatten() {
                self.containers += 1;
                self.container(container);
            }
            for container in spec.init_containers.iter().flatten() {
                self.init_containers += 1;
                self.container(container);
            }
        }
        if let Some(status) = &pod.status {
            self.other_bytes += len(&status.pod_ip);
            for ip in status.pod_ips.iter().flatten() {
                self.pod_ips += 1;
                self.other_bytes += ip.ip.len() as u64;
            }
        }
    }

    fn container(&mut self, container: &LeanContainer) {
        self.other_bytes +=
            len(&container.name) + len(&container.image) + len(&container.restart_policy);
        for word in container.command.iter().chain(&container.args).flatten() {
            self.other_bytes += word.len() as u64;
        }
        for port in container.ports.iter().flatten() {
            self.ports += 1;
            self.port_check += port.container_port as u64
                + port.host_port.unwrap_or(0) as u64
                + len(&port.name)
                + len(&port.protocol)
                + len(&port.host_ip);
        }
    }
}
