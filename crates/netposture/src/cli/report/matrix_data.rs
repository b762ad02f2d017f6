//! The reachability matrix as the JSON the page's script draws from. A
//! cluster of 2,000 namespaces has 4,000,000 cells but few distinct ones,
//! so each row is a string of fixed-width codes into a list of distinct
//! cells: about 4 MB at that size, decoded only for the cells on screen.

use netposture_engine::connectivity::PortRanges;
use netposture_engine::model::Protocol;
use serde::Serialize;

use super::matrix::{ALL_PORTS, Cell, Matrix};

/// The digits of a cell code: safe in JSON and HTML without escaping.
const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Port ranges written per protocol in a cell's description before the rest are counted.
const RANGES_SHOWN: usize = 8;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixData<'a> {
    pub namespaces: &'a [String],
    /// Characters per cell code in `rows`.
    pub width: usize,
    /// Per source namespace, one code per destination namespace.
    pub rows: Vec<String>,
    pub values: Vec<CellData>,
    pub all_ports: u32,
    /// The CNI's NetworkPolicy capability (`True`, `False`, `Unknown`).
    pub enforcement: &'a str,
    /// Policy layers exist and are left out of the cells.
    pub layers: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CellData {
    /// Ports (over TCP, UDP and SCTP) some pod may open.
    pub allowed: u32,
    /// Further ports allowed only through an ipBlock holding a pod IP.
    pub cni_dependent: u32,
    /// `TCP 80,443; UDP 53`.
    pub ports: String,
    pub cni_ports: String,
}

pub fn encode<'a>(matrix: &'a Matrix, enforcement: &'a str, layers: bool) -> MatrixData<'a> {
    let mut width = 1;
    while 64usize.pow(width as u32) < matrix.values.len() {
        width += 1;
    }
    let size = matrix.namespaces.len();
    let rows = (0..size)
        .map(|source| {
            let mut row = String::with_capacity(size * width);
            for &id in &matrix.cells[source * size..(source + 1) * size] {
                push_code(&mut row, id as usize, width);
            }
            row
        })
        .collect();
    MatrixData {
        namespaces: &matrix.namespaces,
        width,
        rows,
        values: matrix.values.iter().map(cell_data).collect(),
        all_ports: ALL_PORTS,
        enforcement,
        layers,
    }
}

/// `id` in base 64, most significant digit first, `width` digits.
fn push_code(row: &mut String, id: usize, width: usize) {
    for digit in (0..width).rev() {
        row.push(char::from(DIGITS[(id >> (6 * digit)) & 63]));
    }
}

fn cell_data(cell: &Cell) -> CellData {
    CellData {
        allowed: cell.allowed_ports(),
        cni_dependent: cell.cni_dependent_ports(),
        ports: describe(&cell.allowed),
        cni_ports: describe(&cell.cni_dependent),
    }
}

/// `TCP 80,443; UDP all`, protocols without ports left out.
fn describe(ranges: &[PortRanges; 3]) -> String {
    let parts: Vec<String> = Protocol::ALL
        .iter()
        .zip(ranges)
        .filter(|(_, ranges)| !ranges.is_empty())
        .map(|(protocol, ranges)| {
            if ranges[..] == [(1, 65535)] {
                return format!("{protocol} all");
            }
            let mut shown: Vec<String> = ranges
                .iter()
                .take(RANGES_SHOWN)
                .map(crate::output::port_range)
                .collect();
            if ranges.len() > RANGES_SHOWN {
                shown.push(format!("+{} more", ranges.len() - RANGES_SHOWN));
            }
            format!("{protocol} {}", shown.join(","))
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_fixed_width_base_64() {
        let mut row = String::new();
        push_code(&mut row, 0, 2);
        push_code(&mut row, 65, 2);
        push_code(&mut row, 4095, 2);
        assert_eq!(row, "AABB__");
    }

    #[test]
    fn descriptions_name_protocols_and_cap_ranges() {
        let tcp: PortRanges = (1..=10).map(|p| (p * 10, p * 10)).collect();
        let text = describe(&[tcp, vec![(1, 65535)], vec![]]);
        assert_eq!(text, "TCP 10,20,30,40,50,60,70,80,+2 more; UDP all");
    }
}
