//! What one policy change would do, before it is made: the postures of the
//! namespaces it may alter, as they are and as they would be. The change is
//! applied to a clone of the index, which shares every namespace it does not
//! touch (see [`Cluster`]), so a preview costs the affected namespaces'
//! evaluations, not a copy of the cluster.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::cluster::Cluster;
use crate::evaluate::Evaluator;
use crate::impact::Affected;
use crate::layers::{LayerKind, LayerPolicy};
use crate::posture::NamespacePosture;
use crate::settings::Settings;

/// A change an admission request asks for.
pub enum Change<'a> {
    PutPolicy(NetworkPolicy),
    DeletePolicy {
        namespace: &'a str,
        name: &'a str,
    },
    PutLayer(LayerPolicy),
    DeleteLayer {
        kind: LayerKind,
        namespace: Option<&'a str>,
        name: &'a str,
    },
}

/// One namespace the change may alter.
#[derive(Clone, Debug)]
pub struct Preview {
    pub namespace: String,
    pub before: NamespacePosture,
    pub after: NamespacePosture,
}

impl Change<'_> {
    /// What the change may reach in `cluster` as it stands (before or after).
    fn affected(&self, cluster: &Cluster, settings: &Settings) -> Affected {
        match self {
            Change::PutPolicy(policy) => cluster.affected_by_policy(
                settings,
                policy.metadata.namespace.as_deref().unwrap_or("default"),
                policy.metadata.name.as_deref().unwrap_or_default(),
            ),
            Change::DeletePolicy { namespace, name } => {
                cluster.affected_by_policy(settings, namespace, name)
            }
            Change::PutLayer(policy) => {
                cluster.affected_by_layer(settings, policy.kind, policy.namespace.as_deref())
            }
            Change::DeleteLayer {
                kind, namespace, ..
            } => cluster.affected_by_layer(settings, *kind, *namespace),
        }
    }

    fn apply(&self, cluster: &mut Cluster) {
        match self {
            Change::PutPolicy(policy) => cluster.apply_policy(policy),
            Change::DeletePolicy { namespace, name } => cluster.delete_policy(namespace, name),
            Change::PutLayer(policy) => cluster.apply_layer_policy(policy.clone()),
            Change::DeleteLayer {
                kind,
                namespace,
                name,
            } => cluster.delete_layer_policy(*kind, *namespace, name),
        }
    }
}

/// The declared namespaces `change` may alter, each with its posture now
/// and with the change made, in name order. A change that reaches every
/// namespace (e.g. a policy in the DNS namespace) evaluates them all twice.
pub fn preview(cluster: &Cluster, settings: &Settings, change: &Change<'_>) -> Vec<Preview> {
    let mut changed = cluster.clone();
    change.apply(&mut changed);
    // The object as it was and as it will be: both reach namespaces.
    let affected = change
        .affected(cluster, settings)
        .merge(change.affected(&changed, settings));
    let names = resolve_declared(affected, cluster, &changed);
    let now = Evaluator::new(cluster, settings);
    let then = Evaluator::new(&changed, settings);
    names
        .into_iter()
        .filter_map(|namespace| {
            let before = now.namespace(&namespace)?;
            let after = then.namespace(&namespace)?;
            Some(Preview {
                namespace,
                before,
                after,
            })
        })
        .collect()
}

/// Namespaces with a Namespace object in both indexes: only those have a
/// posture to compare.
fn resolve_declared(affected: Affected, before: &Cluster, after: &Cluster) -> BTreeSet<String> {
    let declared =
        |cluster: &Cluster, name: &str| cluster.namespace(name).is_some_and(|state| state.declared);
    affected
        .resolve(before)
        .into_iter()
        .filter(|name| declared(before, name) && declared(after, name))
        .collect()
}
