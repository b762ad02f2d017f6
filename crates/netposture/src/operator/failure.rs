//! API failures sorted into the few reasons people act on; the reason is a
//! metric label and readiness text, so it must stay a small fixed set.

use kube_runtime::watcher;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// RBAC denies the operator's identity.
    Forbidden,
    /// The resource is not served: for reports, the CRD is not installed.
    NotFound,
    /// Someone else changed the object first.
    Conflict,
    /// A watch's resourceVersion is too old (410 Gone): relist.
    Expired,
    /// The API server did not answer (restarting, network, timeout).
    Unavailable,
    /// The API server refused the request otherwise.
    Rejected,
}

impl Failure {
    /// Every reason, so counters can start at zero for each.
    pub const ALL: [Failure; 6] = [
        Failure::Forbidden,
        Failure::NotFound,
        Failure::Conflict,
        Failure::Expired,
        Failure::Unavailable,
        Failure::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Forbidden => "forbidden",
            Failure::NotFound => "not-found",
            Failure::Conflict => "conflict",
            Failure::Expired => "expired",
            Failure::Unavailable => "unavailable",
            Failure::Rejected => "rejected",
        }
    }

    pub fn of(error: &kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => match status.code {
                403 => Failure::Forbidden,
                404 => Failure::NotFound,
                409 => Failure::Conflict,
                410 => Failure::Expired,
                429 | 500.. => Failure::Unavailable,
                _ => Failure::Rejected,
            },
            _ => Failure::Unavailable,
        }
    }

    pub fn of_watch(error: &watcher::Error) -> Self {
        match error {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => Failure::of(e),
            watcher::Error::WatchError(status) => Failure::of(&kube::Error::Api(status.clone())),
            watcher::Error::NoResourceVersion => Failure::Rejected,
        }
    }

    /// Failures that will not pass by retrying the same watch: access or the
    /// resource itself is missing, so the watch starts over with a fresh list.
    pub fn needs_relist(self) -> bool {
        matches!(self, Failure::Forbidden | Failure::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn status_codes_map_to_reasons() {
        assert_eq!(Failure::of(&api(403)), Failure::Forbidden);
        assert_eq!(Failure::of(&api(404)), Failure::NotFound);
        assert_eq!(Failure::of(&api(409)), Failure::Conflict);
        assert_eq!(Failure::of(&api(410)), Failure::Expired);
        assert_eq!(Failure::of(&api(503)), Failure::Unavailable);
        assert_eq!(Failure::of(&api(422)), Failure::Rejected);
    }

    #[test]
    fn only_access_and_missing_resources_force_a_relist() {
        let forbidden = watcher::Error::WatchStartFailed(api(403));
        assert!(Failure::of_watch(&forbidden).needs_relist());
        let gone_server = watcher::Error::WatchFailed(api(503));
        assert!(!Failure::of_watch(&gone_server).needs_relist());
    }
}
