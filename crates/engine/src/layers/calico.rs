use serde_json::Value;

use super::{LayerPolicy, Note};

pub(super) fn convert(policy: &mut LayerPolicy, _spec: &Value) {
    policy
        .notes
        .push(Note::new(None, "Calico policies are not evaluated yet"));
}
