//! Who may read `/metrics`: the bearer token is authenticated by the API
//! server (TokenReview), then the user it names is authorized for `get` on the
//! non-resource URL `/metrics` (SubjectAccessReview), as Kubernetes' own
//! components do. Posture metrics map which namespaces are unprotected, so
//! they get the protection reports have. Answers are kept briefly, as the API
//! server's delegated authentication does, so scrapes do not each cost two
//! requests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use tokio::time::Instant;

pub const METRICS_PATH: &str = "/metrics";

/// How long an answer about a token is reused.
const ANSWER_TTL: Duration = Duration::from_secs(10);
/// Tokens remembered at most; beyond it the expired go, then all.
const ANSWERS_KEPT: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// No token, or one the API server does not accept: 401.
    Unauthenticated,
    /// A known user without `get` on `/metrics`: 403.
    Forbidden,
}

/// Asks the API server about a token.
pub trait Reviewer: Send + Sync {
    fn review(&self, token: &str) -> impl Future<Output = Result<Access, kube::Error>> + Send;
}

pub struct ApiReviewer {
    client: kube::Client,
}

impl ApiReviewer {
    pub fn new(client: kube::Client) -> Self {
        ApiReviewer { client }
    }
}

impl Reviewer for ApiReviewer {
    async fn review(&self, token: &str) -> Result<Access, kube::Error> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let status = reviewed.status.unwrap_or_default();
        let (true, Some(user)) = (status.authenticated == Some(true), status.user) else {
            return Ok(Access::Unauthenticated);
        };
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username,
                uid: user.uid,
                groups: user.groups,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(METRICS_PATH.to_owned()),
                    verb: Some("get".to_owned()),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let decided = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await?;
        let allowed = decided.status.is_some_and(|s| s.allowed);
        Ok(if allowed {
            Access::Allowed
        } else {
            Access::Forbidden
        })
    }
}

/// The gate in front of `/metrics`.
pub struct MetricsAuth<R> {
    reviewer: R,
    answers: Mutex<HashMap<String, (Access, Instant)>>,
}

impl<R: Reviewer> MetricsAuth<R> {
    pub fn new(reviewer: R) -> Self {
        MetricsAuth {
            reviewer,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The access an `Authorization` header value grants; an error when the
    /// API server could not be asked.
    pub async fn access(&self, authorization: Option<&str>) -> Result<Access, kube::Error> {
        let Some(token) = authorization.and_then(bearer_token) else {
            return Ok(Access::Unauthenticated);
        };
        let now = Instant::now();
        let remembered = self.lock().get(token).copied();
        if let Some((access, _)) = remembered.filter(|(_, at)| now.duration_since(*at) < ANSWER_TTL)
        {
            return Ok(access);
        }
        let access = self.reviewer.review(token).await?;
        let mut answers = self.lock();
        if answers.len() >= ANSWERS_KEPT {
            answers.retain(|_, (_, at)| now.duration_since(*at) < ANSWER_TTL);
            if answers.len() >= ANSWERS_KEPT {
                answers.clear();
            }
        }
        answers.insert(token.to_owned(), (access, now));
        Ok(access)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Access, Instant)>> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The token of `Bearer <token>` (the scheme's case ignored, RFC 7235).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A reviewer for tests: allows "reader", forbids "stranger", knows no other
/// token; counts how often it was asked.
#[cfg(test)]
pub mod scripted {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Access, Reviewer};

    #[derive(Default)]
    pub struct Scripted {
        pub asked: AtomicUsize,
    }

    impl Reviewer for Scripted {
        async fn review(&self, token: &str) -> Result<Access, kube::Error> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            Ok(match token {
                "reader" => Access::Allowed,
                "stranger" => Access::Forbidden,
                _ => Access::Unauthenticated,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::scripted::Scripted;
    use super::*;

    #[test]
    fn only_a_bearer_token_is_taken() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn no_token_is_unauthenticated_without_asking() {
        let auth = MetricsAuth::new(Scripted::default());
        assert_eq!(auth.access(None).await.unwrap(), Access::Unauthenticated);
        assert_eq!(
            auth.access(Some("Basic x")).await.unwrap(),
            Access::Unauthenticated
        );
        assert_eq!(auth.reviewer.asked.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn each_token_gets_its_own_answer() {
        let auth = MetricsAuth::new(Scripted::default());
        assert_eq!(
            auth.access(Some("Bearer reader")).await.unwrap(),
            Access::Allowed
        );
        assert_eq!(
            auth.access(Some("Bearer stranger")).await.unwrap(),
            Access::Forbidden
        );
        assert_eq!(
            auth.access(Some("Bearer forged")).await.unwrap(),
            Access::Unauthenticated
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_reused_briefly_then_asked_again() {
        let auth = MetricsAuth::new(Scripted::default());
        auth.access(Some("Bearer reader")).await.unwrap();
        auth.access(Some("Bearer reader")).await.unwrap();
        assert_eq!(auth.reviewer.asked.load(Ordering::SeqCst), 1);
        tokio::time::advance(ANSWER_TTL).await;
        auth.access(Some("Bearer reader")).await.unwrap();
        assert_eq!(auth.reviewer.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn remembered_answers_stay_bounded() {
        let auth = MetricsAuth::new(Scripted::default());
        for n in 0..ANSWERS_KEPT + 10 {
            auth.access(Some(&format!("Bearer token-{n}")))
                .await
                .unwrap();
        }
        assert!(auth.lock().len() <= ANSWERS_KEPT);
    }
}
