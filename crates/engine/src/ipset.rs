//! Sets of IP addresses, one family at a time. Used to decide whether allowed
//! egress covers the public internet, or every address at all.

use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;

use crate::intervals::Intervals;
use crate::model::IpBlock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    fn of(net: &IpNet) -> Self {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    pub fn everything(self) -> Intervals {
        match self {
            Family::V4 => Intervals::from_range(0, u32::MAX as u128),
            Family::V6 => Intervals::from_range(0, u128::MAX),
        }
    }

    /// Public internet space of this family (see [`public_v4`], [`public_v6`]).
    pub fn public(self) -> &'static Intervals {
        static V4: OnceLock<Intervals> = OnceLock::new();
        static V6: OnceLock<Intervals> = OnceLock::new();
        match self {
            Family::V4 => V4.get_or_init(public_v4),
            Family::V6 => V6.get_or_init(public_v6),
        }
    }
}

fn bounds(net: &IpNet) -> (u128, u128) {
    let as_u128 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    };
    (as_u128(net.network()), as_u128(net.broadcast()))
}

/// Addresses of `family` inside the block's `cidr` and outside every `except`.
pub fn block_addresses(family: Family, block: &IpBlock) -> Intervals {
    let mut set = Intervals::default();
    if Family::of(&block.cidr) != family {
        return set;
    }
    set.insert(bounds(&block.cidr));
    for except in block.except.iter().filter(|e| Family::of(e) == family) {
        set.remove(bounds(except));
    }
    set
}

/// Addresses of `family` inside any of `nets`.
pub fn net_addresses(family: Family, nets: &[IpNet]) -> Intervals {
    let mut set = Intervals::default();
    for net in nets.iter().filter(|n| Family::of(n) == family) {
        set.insert(bounds(net));
    }
    set
}

fn nets(list: &[&str]) -> Intervals {
    let mut set = Intervals::default();
    for net in list {
        let net: IpNet = net
            .parse()
            .expect("the reserved range tables hold valid CIDRs");
        set.insert(bounds(&net));
    }
    set
}

/// Public IPv4: everything outside private, loopback, link-local, CGNAT,
/// documentation, benchmarking, multicast and other reserved ranges (IANA
/// special-purpose registry).
fn public_v4() -> Intervals {
    let mut public = Family::V4.everything();
    public.subtract(&nets(&[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]));
    public
}

/// Public IPv6: global unicast `2000::/3` less its special-purpose and
/// documentation blocks.
fn public_v6() -> Intervals {
    let mut public = nets(&["2000::/3"]);
    public.subtract(&nets(&[
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
    ]));
    public
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

    #[test]
    fn all_of_ipv4_except_private_ranges_still_covers_public_space() {
        let set = block_addresses(
            Family::V4,
            &block(
                "0.0.0.0/0",
                &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
            ),
        );
        assert!(set.covers(Family::V4.public()));
    }

    #[test]
    fn one_host_does_not_cover_public_space() {
        let set = block_addresses(Family::V4, &block("203.0.113.7/32", &[]));
        assert!(!set.covers(Family::V4.public()));
    }

    #[test]
    fn private_ranges_only_do_not_cover_public_space() {
        let mut set = block_addresses(Family::V4, &block("10.0.0.0/8", &[]));
        set.union_with(&block_addresses(Family::V4, &block("192.168.0.0/16", &[])));
        assert!(!set.covers(Family::V4.public()));
    }

    #[test]
    fn excepting_a_public_address_uncovers_public_space() {
        let set = block_addresses(Family::V4, &block("0.0.0.0/0", &["8.8.8.8/32"]));
        assert!(!set.covers(Family::V4.public()));
    }

    #[test]
    fn halves_unioned_cover_everything() {
        let mut set = block_addresses(Family::V4, &block("0.0.0.0/1", &[]));
        set.union_with(&block_addresses(Family::V4, &block("128.0.0.0/1", &[])));
        assert_eq!(set, Family::V4.everything());
    }

    #[test]
    fn ipv4_block_contributes_nothing_to_ipv6() {
        let set = block_addresses(Family::V6, &block("0.0.0.0/0", &[]));
        assert_eq!(set, Intervals::default());
        assert!(!set.covers(Family::V6.public()));
    }

    #[test]
    fn global_unicast_ipv6_covers_public_ipv6() {
        let set = block_addresses(Family::V6, &block("2000::/3", &[]));
        assert!(set.covers(Family::V6.public()));
        assert!(!block_addresses(Family::V6, &block("fd00::/8", &[])).covers(Family::V6.public()));
    }
}
