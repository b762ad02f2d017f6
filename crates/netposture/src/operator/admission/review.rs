//! One admission review: the requested change previewed on the index, the
//! posture differences compared, and the configured conditions turned into
//! warnings or a denial. No I/O, so it is tested without a server.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use netposture_engine::diff::{ConditionHit, PostureDiff};
use netposture_engine::layers::{LayerPolicy, layer_kind};
use netposture_engine::whatif::{Change, Preview, preview};
use netposture_engine::{Cluster, Settings};

use super::metrics::Outcome;
use crate::config::{AdmissionRules, Exclusion};

/// The API server truncates longer warnings; longer ones are cut here with a mark.
const WARNING_CHARS: usize = 250;
/// Warnings beyond this many are summed up in one last warning.
const MAX_WARNINGS: usize = 10;

pub const NOT_SYNCED: &str = "netposture: the operator has not finished loading the cluster yet; this change was not checked";

/// What the webhook answers, and what it counts.
pub struct Answer {
    pub response: AdmissionResponse,
    pub outcome: Outcome,
    /// Conditions that gave a warning, once per namespace they hold in.
    pub warned: Vec<String>,
    /// Conditions that refused the change.
    pub denied: Vec<String>,
}

/// What the index needs to answer: read under the operator's lock.
pub struct Inputs<'a> {
    pub cluster: &'a Cluster,
    pub settings: &'a Settings,
    pub exclusion: &'a Exclusion,
    pub rules: &'a AdmissionRules,
}

/// Answers `request` before the index is complete: allowed, saying so.
pub fn not_synced(request: &AdmissionRequest<DynamicObject>) -> Answer {
    let mut response = AdmissionResponse::from(request);
    response.warnings = Some(vec![NOT_SYNCED.to_string()]);
    Answer {
        response,
        outcome: Outcome::NotSynced,
        warned: Vec::new(),
        denied: Vec::new(),
    }
}

pub fn review(request: &AdmissionRequest<DynamicObject>, inputs: &Inputs<'_>) -> Answer {
    let mut answer = Answer {
        response: AdmissionResponse::from(request),
        outcome: Outcome::Allowed,
        warned: Vec::new(),
        denied: Vec::new(),
    };
    let change = match change_of(request) {
        Ok(Some(change)) => change,
        Ok(None) => return answer,
        Err(message) => {
            // Allowed: the API server validates the object itself; netposture only advises.
            answer.response.warnings = Some(vec![format!("netposture: {message}")]);
            answer.outcome = Outcome::Invalid;
            return answer;
        }
    };
    let previews: Vec<Preview> = preview(inputs.cluster, inputs.settings, &change)
        .into_iter()
        .filter(|p| {
            inputs
                .cluster
                .namespace(&p.namespace)
                .is_none_or(|state| !inputs.exclusion.excludes(&p.namespace, state))
        })
        .collect();
    let (before, after): (Vec<_>, Vec<_>) = previews
        .into_iter()
        .map(|p| ((p.namespace.clone(), p.before), (p.namespace, p.after)))
        .unzip();
    let hits = Hits::of(&PostureDiff::of_postures(&before, &after), inputs.rules);
    let bypassed = bypassed(request, inputs.rules);
    let mut warnings: Vec<String> = Vec::new();
    let mut add = |hit: &ConditionHit| {
        let line = truncate(&format!("netposture: {}", hit.reason));
        if !warnings.contains(&line) {
            warnings.push(line);
        }
    };
    hits.deny.iter().chain(&hits.warn).for_each(&mut add);
    answer.warned = hits.warn.iter().map(|h| h.condition.clone()).collect();
    if !hits.deny.is_empty() && bypassed {
        warnings.push(format!(
            "netposture: denial bypassed by the annotation {}",
            inputs
                .rules
                .bypass_annotation
                .as_deref()
                .unwrap_or_default()
        ));
        answer
            .warned
            .extend(hits.deny.iter().map(|h| h.condition.clone()));
    } else if !hits.deny.is_empty() {
        answer.denied = hits.deny.iter().map(|h| h.condition.clone()).collect();
        answer.response = answer
            .response
            .deny(denial(&hits.deny, request, inputs.rules));
        answer.outcome = Outcome::Denied;
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!("netposture: and {more} more warnings"));
    }
    if !warnings.is_empty() {
        if answer.outcome == Outcome::Allowed {
            answer.outcome = Outcome::Warned;
        }
        answer.response.warnings = Some(warnings);
    }
    answer
}

/// The configured conditions that hold, deny first.
struct Hits {
    deny: Vec<ConditionHit>,
    warn: Vec<ConditionHit>,
}

impl Hits {
    fn of(diff: &PostureDiff, rules: &AdmissionRules) -> Self {
        let deny: Vec<ConditionHit> = rules.deny.iter().flat_map(|c| c.hits(diff)).collect();
        // A condition both denied and warned about is said once, as a denial.
        let warn = rules
            .warn
            .iter()
            .filter(|c| !rules.deny.contains(c))
            .flat_map(|c| c.hits(diff))
            .collect();
        Hits { deny, warn }
    }
}

fn denial(
    hits: &[ConditionHit],
    request: &AdmissionRequest<DynamicObject>,
    rules: &AdmissionRules,
) -> String {
    let reasons: Vec<String> = hits
        .iter()
        .map(|h| format!("{}: {}", h.condition, h.reason))
        .collect();
    let bypass = match &rules.bypass_annotation {
        Some(annotation) => format!(
            "to apply it anyway, annotate the {} with {annotation}=\"true\"",
            request.kind.kind
        ),
        None => "the configuration allows no bypass (admission.bypassAnnotation)".to_string(),
    };
    format!(
        "netposture denies this change ({}); {bypass}",
        reasons.join("; ")
    )
}

/// Whether the object (the old one, for a delete) carries the bypass annotation set to "true".
fn bypassed(request: &AdmissionRequest<DynamicObject>, rules: &AdmissionRules) -> bool {
    let Some(annotation) = &rules.bypass_annotation else {
        return false;
    };
    let object = match request.operation {
        Operation::Delete => request.old_object.as_ref(),
        _ => request.object.as_ref(),
    };
    object
        .and_then(|o| o.metadata.annotations.as_ref())
        .and_then(|a| a.get(annotation))
        .is_some_and(|value| value == "true")
}

/// The change the request asks for; `None` for operations and kinds that
/// cannot alter a posture netposture computes from policies.
fn change_of(request: &AdmissionRequest<DynamicObject>) -> Result<Option<Change<'_>>, String> {
    let kind = &request.kind;
    let namespace = request.namespace.as_deref();
    let is_policy = kind.group == "networking.k8s.io" && kind.kind == "NetworkPolicy";
    let layer = layer_kind(&kind.group, &kind.kind);
    if !is_policy && layer.is_none() {
        return Ok(None);
    }
    match request.operation {
        Operation::Delete => Ok(Some(match layer {
            Some(kind) => Change::DeleteLayer {
                kind,
                namespace,
                name: &request.name,
            },
            None => Change::DeletePolicy {
                namespace: namespace.unwrap_or("default"),
                name: &request.name,
            },
        })),
        Operation::Create | Operation::Update => {
            let object = request
                .object
                .as_ref()
                .ok_or_else(|| format!("the {} request carries no object", kind.kind))?;
            let value = serde_json::to_value(object)
                .map_err(|e| format!("the {} could not be read: {e}", kind.kind))?;
            Ok(Some(match layer {
                Some(layer) => Change::PutLayer(LayerPolicy::from_object(
                    layer,
                    namespace,
                    &request.name,
                    &value,
                )),
                None => {
                    let policy: NetworkPolicy = serde_json::from_value(value)
                        .map_err(|e| format!("the NetworkPolicy could not be read: {e}"))?;
                    Change::PutPolicy(policy)
                }
            }))
        }
        Operation::Connect => Ok(None),
    }
}

fn truncate(line: &str) -> String {
    match line.char_indices().nth(WARNING_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}
