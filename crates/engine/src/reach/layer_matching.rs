//! Whether a layer rule matches a connection: its ports, then its peers
//! against the other end (a pod, possibly with an unknown IP, or an address).

use super::Remote;
use crate::layers::{LayerPeer, LayerRule};
use crate::model::{Pod, Protocol};

/// Whether a rule matches a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matching {
    Yes,
    No,
    /// Only a peer netposture cannot evaluate, or a CIDR that may hold the
    /// unknown IP of a pod, could match it.
    Maybe,
}

impl LayerPeer {
    fn matching(&self, remote: &Remote<'_>) -> Matching {
        let definite = |yes: bool| if yes { Matching::Yes } else { Matching::No };
        match (self, remote) {
            (LayerPeer::Everything, _) => Matching::Yes,
            (LayerPeer::Unevaluated, _) => Matching::Maybe,
            (LayerPeer::Nothing, _) => Matching::No,
            (LayerPeer::Pods(set), Remote::Pod(end)) => {
                definite(set.matches(end.namespace, end.namespace_labels, end.pod))
            }
            // Layer CIDRs match pod IPs on every CNI, so a known IP answers
            // definitely; an unknown one may be anywhere in the pod CIDRs
            // (the rule's blocks holding all of them answer yes, see
            // `LayerRule::matching`).
            (LayerPeer::Cidr(block), Remote::Pod(end)) if end.pod.ips.is_empty() => {
                if end.pod_cidrs.overlap(block) {
                    Matching::Maybe
                } else {
                    Matching::No
                }
            }
            (LayerPeer::Cidr(block), Remote::Pod(end)) => {
                definite(end.pod.ips.iter().any(|ip| block.contains(*ip)))
            }
            (LayerPeer::Cidr(block) | LayerPeer::Addresses(block), Remote::Address(ip)) => {
                definite(block.contains(*ip))
            }
            (LayerPeer::AllPods, Remote::Pod(_)) | (LayerPeer::Outside, Remote::Address(_)) => {
                Matching::Yes
            }
            (LayerPeer::AllPods | LayerPeer::Pods(_), Remote::Address(_))
            | (LayerPeer::Outside | LayerPeer::Addresses(_), Remote::Pod(_)) => Matching::No,
        }
    }
}

impl LayerRule {
    pub fn matching(
        &self,
        remote: &Remote<'_>,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
    ) -> Matching {
        let port_ok = self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|p| p.admits(protocol, port, destination));
        if !port_ok {
            return Matching::No;
        }
        if self.peers.is_empty() {
            return Matching::Yes;
        }
        // Yes before Maybe before No, whichever peer gives it.
        let mut found = Matching::No;
        for peer in &self.peers {
            match peer.matching(remote) {
                Matching::Yes => return Matching::Yes,
                Matching::Maybe => found = Matching::Maybe,
                Matching::No => {}
            }
        }
        // A pod whose IP is unknown is surely held when the rule's CIDRs
        // together hold every pod CIDR (`0.0.0.0/0` and `::/0`).
        if let (Matching::Maybe, Remote::Pod(end)) = (found, remote)
            && end.pod.ips.is_empty()
            && end
                .pod_cidrs
                .within(self.peers.iter().filter_map(|p| match p {
                    LayerPeer::Cidr(block) => Some(block),
                    _ => None,
                }))
        {
            return Matching::Yes;
        }
        found
    }
}
