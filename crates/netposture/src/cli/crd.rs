//! `netposture crd`: the NetworkPostureReport CustomResourceDefinition as YAML.

pub fn yaml() -> anyhow::Result<String> {
    Ok(serde_norway::to_string(&netposture_api::crd())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_crd_matches_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../crds/networkpostures.netposture.io.yaml");
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == yaml().unwrap(),
            "{} is stale: run `just crds` (netposture crd > {})",
            path.display(),
            path.display()
        );
    }
}
