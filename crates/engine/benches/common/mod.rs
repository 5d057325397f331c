//! What the listener and registry benches share: a hyper server for the sandbox's front and
//! the baselines, nearest-rank percentiles, milliseconds, and a target's verdict.

use std::convert::Infallible;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Serves `make()`'s service on `listener` until `cancel`; every connection is a task of its
/// own, owned here and stopped when serving stops.
pub async fn serve<S, B>(listener: TcpListener, cancel: CancellationToken, make: impl Fn() -> S)
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors, most likely: let connections close.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), make());
        connections.spawn(async move {
            let _ = connection.await;
        });
    }
    connections.shutdown().await;
}

/// Nearest-rank percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A target's verdict; a smoke run (`--test`: small inputs, often a debug build) judges
/// nothing.
pub fn verdict(test_mode: bool, met: bool) -> &'static str {
    match (test_mode, met) {
        (true, _) => "n/a in a smoke run (see BENCHMARKS.md for the figures)",
        (false, true) => "met",
        (false, false) => "MISSED",
    }
}
