//! What a connection calls for each request: the two hooks straight to their handler, every
//! other request to the [`router`](super::router).
//!
//! The hooks are what comes in floods, and the router's way to them (its routing, a boxed
//! route service cloned per call, the extensions it inserts, a future mapped twice) costs a
//! call more than a fifth of the instructions of a no-op push (see BENCHMARKS.md). The router
//! answers the same paths the same way, so in-process tests that call it see what a socket
//! sees; only the way in differs. A hook's path is matched exactly, as the router matches it;
//! any other method on it (`HEAD`, `GET /hook/registry`) goes to the router, which answers 405.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Method, Request};
use axum::response::Response;
use tower::ServiceExt as _;

use super::State;
use super::connections::Activity;
use super::hooks::{self, Hook};

/// A request's answer, boxed: the hook's future and the router's differ.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// One connection's service (see the module's text).
#[derive(Clone)]
pub struct Front {
    state: Arc<State>,
    router: Router,
    peer: SocketAddr,
    activity: Option<Arc<Activity>>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").field("peer", &self.peer).finish()
    }
}

impl Front {
    /// The service for a connection from `peer`; `router` is [`super::router`] of `state`,
    /// built once and shared.
    pub fn new(state: Arc<State>, router: Router, peer: SocketAddr) -> Self {
        Front {
            state,
            router,
            peer,
            activity: None,
        }
    }

    /// Marks a request in flight on `activity` from its head until its answer is ready, so
    /// the connection is not closed as idle while the request is served.
    pub(crate) fn tracking(mut self, activity: Arc<Activity>) -> Self {
        self.activity = Some(activity);
        self
    }

    /// Answers `request`.
    pub fn answer<B>(&self, request: Request<B>) -> Answer
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let busy = self.activity.as_ref().map(Activity::begin);
        let hook = match (request.method(), request.uri().path()) {
            (&Method::POST, "/hook/registry") => Some(Hook::Registry),
            (&Method::GET | &Method::POST, "/hook/trigger") => Some(Hook::Trigger),
            _ => None,
        };
        match hook {
            Some(hook) => {
                let state = Arc::clone(&self.state);
                let peer = self.peer;
                let (parts, body) = request.into_parts();
                Box::pin(async move {
                    let answer = hooks::handle(state, peer, parts, Body::new(body), hook).await;
                    drop(busy);
                    Ok(answer)
                })
            }
            None => {
                let mut request = request.map(Body::new);
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(self.peer));
                let router = self.router.clone();
                Box::pin(async move {
                    let answer = router.oneshot(request).await;
                    drop(busy);
                    answer
                })
            }
        }
    }
}

impl<B> hyper::service::Service<Request<B>> for Front
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<B>) -> Answer {
        self.answer(request)
    }
}
