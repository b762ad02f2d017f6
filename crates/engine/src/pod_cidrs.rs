//! The address ranges pod IPs are taken from. A pod whose IP is not known
//! (a workload's pod template, a Pod not yet given `status.podIPs`) may
//! have any address of them, so an ipBlock overlapping them may hold it.

use std::fmt;

use ipnet::IpNet;

use crate::cluster::Cluster;
use crate::intervals::Intervals;
use crate::ipset::{Family, block_addresses, net_addresses};
use crate::model::IpBlock;
use crate::settings::Settings;

/// Where pod IPs come from when nothing says: the private (RFC 1918),
/// shared (CGNAT, RFC 6598) and unique-local IPv6 (RFC 4193) ranges, which
/// hold the pod networks of the common CNIs and managed clusters.
const ASSUMED: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];

/// How the pod CIDRs became known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodCidrSource {
    /// The `podCIDRs` configuration key.
    Configured,
    /// `spec.podCIDRs` of the cluster's Nodes.
    Nodes,
    /// Neither: the ranges of [`ASSUMED`].
    Assumed,
}

#[derive(Clone, Debug)]
pub struct PodCidrs {
    nets: Vec<IpNet>,
    source: PodCidrSource,
    v4: Intervals,
    v6: Intervals,
}

impl PodCidrs {
    /// The configured CIDRs if any, else those of the Nodes, else the assumed ranges.
    pub fn new(configured: &[IpNet], from_nodes: impl IntoIterator<Item = IpNet>) -> Self {
        let mut from_nodes: Vec<IpNet> = from_nodes.into_iter().collect();
        from_nodes.sort_unstable();
        from_nodes.dedup();
        let (nets, source) = if !configured.is_empty() {
            (configured.to_vec(), PodCidrSource::Configured)
        } else if !from_nodes.is_empty() {
            (from_nodes, PodCidrSource::Nodes)
        } else {
            let assumed = ASSUMED
                .iter()
                .map(|net| net.parse().expect("the assumed ranges are valid CIDRs"))
                .collect();
            (assumed, PodCidrSource::Assumed)
        };
        PodCidrs {
            v4: net_addresses(Family::V4, &nets),
            v6: net_addresses(Family::V6, &nets),
            nets,
            source,
        }
    }

    /// The cluster's: configured in `settings`, else its Nodes'.
    pub fn of(cluster: &Cluster, settings: &Settings) -> Self {
        PodCidrs::new(&settings.pod_cidrs, cluster.node_pod_cidrs())
    }

    /// Nothing known: the assumed ranges.
    pub fn assumed() -> Self {
        PodCidrs::new(&[], [])
    }

    pub fn source(&self) -> PodCidrSource {
        self.source
    }

    /// Whether `block` holds some address of the pod CIDRs: then it may hold
    /// the IP of a pod whose IP is not known.
    pub fn overlap(&self, block: &IpBlock) -> bool {
        // Two CIDRs are nested or disjoint: without excepts, no arithmetic.
        if block.except.is_empty() {
            let cidr = &block.cidr;
            return self
                .nets
                .iter()
                .any(|net| net.contains(&cidr.network()) || cidr.contains(&net.network()));
        }
        block_addresses(Family::V4, block).intersects(&self.v4)
            || block_addresses(Family::V6, block).intersects(&self.v6)
    }

    /// Whether `blocks` together hold every address of the pod CIDRs: then
    /// they hold the IP of every pod, known or not.
    pub fn within<'b>(&self, blocks: impl Iterator<Item = &'b IpBlock> + Clone) -> bool {
        let held = |family: Family| {
            let mut addresses = Intervals::default();
            for block in blocks.clone() {
                addresses.union_with(&block_addresses(family, block));
            }
            addresses
        };
        held(Family::V4).covers(&self.v4) && held(Family::V6).covers(&self.v6)
    }
}

/// `pod CIDRs 10.244.0.0/16 (from Node.spec.podCIDRs)`, as evidence says it.
impl fmt::Display for PodCidrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets: Vec<String> = self.nets.iter().map(ToString::to_string).collect();
        let from = match self.source {
            PodCidrSource::Configured => "configured podCIDRs",
            PodCidrSource::Nodes => "from Node.spec.podCIDRs",
            PodCidrSource::Assumed => {
                "assumed: the private, CGNAT and unique-local ranges, as no podCIDRs are configured or found on Nodes"
            }
        };
        write!(f, "pod CIDRs {} ({from})", nets.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(cidr: &str, except: &[&str]) -> IpBlock {
        IpBlock {
            cidr: cidr.parse().unwrap(),
            except: except.iter().map(|e| e.parse().unwrap()).collect(),
        }
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn configured_cidrs_win_over_nodes_and_nodes_over_the_assumed_ranges() {
        let configured = PodCidrs::new(&nets(&["10.1.0.0/16"]), nets(&["10.2.0.0/24"]));
        assert_eq!(configured.source(), PodCidrSource::Configured);
        assert!(configured.overlap(&block("10.1.2.0/24", &[])));
        assert!(!configured.overlap(&block("10.2.0.0/24", &[])));
        let nodes = PodCidrs::new(&[], nets(&["10.2.0.0/24", "10.2.1.0/24"]));
        assert_eq!(nodes.source(), PodCidrSource::Nodes);
        assert!(nodes.overlap(&block("10.2.1.7/32", &[])));
        assert!(!nodes.overlap(&block("10.1.0.0/16", &[])));
        assert_eq!(PodCidrs::assumed().source(), PodCidrSource::Assumed);
    }

    #[test]
    fn the_assumed_ranges_hold_private_cgnat_and_unique_local_addresses_only() {
        let assumed = PodCidrs::assumed();
        for inside in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "100.64.1.0/24",
            "172.31.0.0/16",
            "fd00::/8",
            "::/0",
        ] {
            assert!(assumed.overlap(&block(inside, &[])), "{inside}");
        }
        for outside in ["8.8.8.8/32", "169.254.0.0/16", "2000::/3", "0.0.0.0/0"] {
            let except: &[&str] = if outside == "0.0.0.0/0" {
                &[
                    "10.0.0.0/8",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                    "100.64.0.0/10",
                ]
            } else {
                &[]
            };
            assert!(!assumed.overlap(&block(outside, except)), "{outside}");
        }
    }

    #[test]
    fn a_block_without_excepts_overlaps_exactly_where_the_address_sets_meet() {
        let cidrs = PodCidrs::new(&nets(&["10.244.0.0/16", "fd00:10::/64"]), []);
        for cidr in [
            "10.244.3.0/24",
            "10.0.0.0/8",
            "10.245.0.0/16",
            "10.244.0.0/16",
            "0.0.0.0/0",
            "10.244.255.255/32",
            "::/0",
            "fd00:10::/96",
            "fd00:11::/64",
            "fd00::/8",
        ] {
            let block = block(cidr, &[]);
            let by_sets = block_addresses(Family::V4, &block).intersects(&cidrs.v4)
                || block_addresses(Family::V6, &block).intersects(&cidrs.v6);
            assert_eq!(cidrs.overlap(&block), by_sets, "{cidr}");
        }
    }

    #[test]
    fn the_evidence_says_where_the_cidrs_come_from() {
        assert_eq!(
            PodCidrs::new(&[], nets(&["10.244.0.0/24"])).to_string(),
            "pod CIDRs 10.244.0.0/24 (from Node.spec.podCIDRs)"
        );
        assert!(PodCidrs::assumed().to_string().contains("assumed"));
    }
}
