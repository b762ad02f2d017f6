use serde_json::Value;

use super::{LayerPolicy, Note};

pub(super) fn convert(policy: &mut LayerPolicy, _object: &Value) {
    policy
        .notes
        .push(Note::new(None, "Cilium policies are not evaluated yet"));
}
